//! The raw-request layer: one raw call (`ioctl`, `ioctl_addr`) and one builder per
//! request struct (a valid request over the caller's buffers), and the raw
//! calls the tests share (DERIVE, KEYEXCHANGE, GET_PUBKEY, SIGN, VERIFY, DUP).

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{raw, Algorithm, Caps, Iv, KeyId, KeyOptions, Nonce, Tag, Vault};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A raw ioctl with a typed argument.
pub fn ioctl<T>(v: &Vault, cmd: u32, arg: &mut T) -> Result<i32, Errno> {
    // SAFETY: the tests pass the struct the command encodes, or deliberately
    // a wrong one whose every byte the kernel may overwrite.
    errno(unsafe { raw::ioctl(v.as_fd(), cmd, arg as *mut T) })
}

/// A raw ioctl with an arbitrary address (bad pointers on purpose).
pub fn ioctl_addr(v: &Vault, cmd: u32, addr: usize) -> Result<i32, Errno> {
    // SAFETY: the address is either unmapped/invalid (the kernel must return
    // EFAULT) or owned by the test.
    errno(unsafe { raw::ioctl(v.as_fd(), cmd, addr as *mut u8) })
}

/// The library's raw call reports a std I/O error; the tests compare errnos.
fn errno(r: std::io::Result<i32>) -> Result<i32, Errno> {
    r.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// An address that is never mapped in userspace (kernel half).
pub const KERNEL_ADDR: usize = 0xffff_8880_0000_0000;

/// Addresses a pointer field is refused with EFAULT for: null, the kernel
/// half, and the test's own `other` (cut off by an unmapped page, or
/// read-only).
pub fn bad_addrs(other: (&'static str, u64)) -> [(&'static str, u64); 3] {
    [("null", 0), ("kernel", KERNEL_ADDR as u64), other]
}

/// A raw AEAD request over the given buffers (capacity: all of `out`).
pub fn aead_req(
    key: KeyId,
    input: &[u8],
    out: &mut [u8],
    aad: &[u8],
    nonce: &mut Nonce,
    tag: &mut Tag,
) -> KvAead {
    KvAead {
        key_id: key.0,
        in_ptr: input.as_ptr() as u64,
        out_ptr: out.as_mut_ptr() as u64,
        aad_ptr: aad.as_ptr() as u64,
        nonce_ptr: nonce.as_mut_ptr() as u64,
        tag_ptr: tag.as_mut_ptr() as u64,
        in_len: input.len() as u32,
        out_len: out.len() as u32,
        aad_len: aad.len() as u32,
        ..Default::default()
    }
}

/// A raw AEAD request that works on `buf` in place (no AAD).
pub fn aead_in_place_req(key: KeyId, buf: &mut [u8], nonce: &mut Nonce, tag: &mut Tag) -> KvAead {
    let r = aead_req(key, &[], buf, &[], nonce, tag);
    KvAead {
        in_ptr: r.out_ptr,
        in_len: r.out_len,
        aad_ptr: 0,
        ..r
    }
}

/// A raw CBC request over the given buffers (capacity: all of `out`).
pub fn cbc_req(key: KeyId, input: &[u8], out: &mut [u8], iv: &mut Iv, flags: u32) -> KvCbc {
    KvCbc {
        key_id: key.0,
        in_ptr: input.as_ptr() as u64,
        out_ptr: out.as_mut_ptr() as u64,
        iv_ptr: iv.as_mut_ptr() as u64,
        in_len: input.len() as u32,
        out_len: out.len() as u32,
        flags,
        ..Default::default()
    }
}

/// A raw MAC / VERIFY_MAC request (mac_len: all of `mac`).
pub fn mac_req(key: KeyId, data: &[u8], mac: &mut [u8]) -> KvMac {
    KvMac {
        key_id: key.0,
        data_ptr: data.as_ptr() as u64,
        mac_ptr: mac.as_mut_ptr() as u64,
        data_len: data.len() as u32,
        mac_len: mac.len() as u32,
        ..Default::default()
    }
}

/// A raw HASH request (capacity: all of `digest`).
pub fn hash_req(alg: u32, data: &[u8], digest: &mut [u8]) -> KvHash {
    KvHash {
        algorithm: alg,
        data_len: data.len() as u32,
        data_ptr: data.as_ptr() as u64,
        digest_ptr: digest.as_mut_ptr() as u64,
        digest_len: digest.len() as u32,
        ..Default::default()
    }
}

/// A raw IMPORT request of `key` as `alg` (no TTL, no policy).
pub fn import_req(alg: u32, key: &[u8]) -> KvImport {
    KvImport {
        algorithm: alg,
        key_len: key.len() as u32,
        key_ptr: key.as_ptr() as u64,
        ..Default::default()
    }
}

/// A raw IMPORT_KEYRING request of keyring key `serial` as `alg`.
pub fn keyring_req(alg: u32, serial: i32) -> KvImportKeyring {
    KvImportKeyring {
        algorithm: alg,
        serial,
        ..Default::default()
    }
}

/// KV_IOC_IMPORT_KEYRING of `serial` as `alg` with `policy`.
pub fn import_keyring(v: &Vault, alg: u32, serial: i32, policy: KvPolicy) -> Result<KeyId, Errno> {
    let mut r = KvImportKeyring {
        policy,
        ..keyring_req(alg, serial)
    };
    ioctl(v, KV_IOC_IMPORT_KEYRING, &mut r).map(|_| KeyId(r.key_id))
}

/// A raw WRAP request of `key` under `wrapping` into `blob`.
pub fn wrap_req(wrapping: KeyId, key: KeyId, blob: &mut [u8], format: u32) -> KvWrap {
    KvWrap {
        wrapping_key_id: wrapping.0,
        key_id: key.0,
        blob_ptr: blob.as_mut_ptr() as u64,
        blob_len: blob.len() as u32,
        format,
        ..Default::default()
    }
}

/// KV_IOC_WRAP: the blob.
pub fn wrap(v: &Vault, wrapping: KeyId, key: KeyId, format: u32) -> Result<Vec<u8>, Errno> {
    let mut blob = vec![0u8; KV_WRAP_MAX_BLOB as usize];
    let mut r = wrap_req(wrapping, key, &mut blob, format);
    ioctl(v, KV_IOC_WRAP, &mut r)?;
    blob.truncate(r.blob_len as usize);
    Ok(blob)
}

/// A raw native UNWRAP request of `blob` under `wrapping`.
pub fn unwrap_req(wrapping: KeyId, blob: &[u8]) -> KvUnwrap {
    KvUnwrap {
        wrapping_key_id: wrapping.0,
        blob_ptr: blob.as_ptr() as u64,
        blob_len: blob.len() as u32,
        format: KV_WRAP_NATIVE,
        ..Default::default()
    }
}

/// KV_IOC_UNWRAP of a native blob: the new key.
pub fn unwrap(v: &Vault, wrapping: KeyId, blob: &[u8]) -> Result<KeyId, Errno> {
    let mut r = unwrap_req(wrapping, blob);
    ioctl(v, KV_IOC_UNWRAP, &mut r).map(|_| KeyId(r.new_key_id))
}

/// KV_IOC_UNWRAP of an RFC 5649 blob as a key of `alg` with `policy`.
pub fn unwrap_rfc5649(v: &Vault, wrapping: KeyId, blob: &[u8], alg: u32, policy: KvPolicy) -> Result<KeyId, Errno> {
    let mut r = KvUnwrap {
        format: KV_WRAP_RFC5649,
        algorithm: alg,
        policy,
        ..unwrap_req(wrapping, blob)
    };
    ioctl(v, KV_IOC_UNWRAP, &mut r).map(|_| KeyId(r.new_key_id))
}

/// An IMPORT of `key` as `alg` with `policy` (raw, so any policy flag).
pub fn import_with(v: &Vault, alg: u32, key: &[u8], policy: KvPolicy) -> Result<KeyId, Errno> {
    let mut r = KvImport {
        policy,
        ..import_req(alg, key)
    };
    ioctl(v, KV_IOC_IMPORT, &mut r).map(|_| KeyId(r.key_id))
}

/// A wrapping key: AES-256-GCM made in the kernel, usage WRAP|UNWRAP.
pub fn wrapping_key(v: &Vault) -> KeyId {
    let mut r = KvGenkey {
        algorithm: KV_ALG_AES256_GCM,
        policy: KvPolicy {
            usage: KV_USAGE_WRAPPING,
            ..Default::default()
        },
        ..Default::default()
    };
    ioctl(v, KV_IOC_GENKEY, &mut r).expect("GENKEY of a wrapping key");
    KeyId(r.key_id)
}

/// The policy that only adds `KV_POLICY_WRAPPABLE`.
pub const WRAPPABLE: KvPolicy = KvPolicy {
    usage: 0,
    flags: KV_POLICY_WRAPPABLE,
    max_uses: 0,
    max_bytes: 0,
};

/// A raw DUP request limited to `ids` (no pointer when empty).
pub fn dup_req(caps: u32, ids: &[u64]) -> KvDup {
    KvDup {
        caps,
        nkeys: ids.len() as u32,
        keys_ptr: if ids.is_empty() {
            0
        } else {
            ids.as_ptr() as u64
        },
        ..Default::default()
    }
}

/// The bytes of a request struct.
pub fn bytes_of<T: Copy>(r: &T) -> Vec<u8> {
    // SAFETY: the ABI structs are plain old data without padding.
    unsafe { std::slice::from_raw_parts((r as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

/// How many keys the vault lists.
pub fn n_keys(v: &Vault) -> usize {
    ok(v.list()).len()
}

/// GETINFO through the raw struct.
pub fn getinfo(v: &Vault, id: KeyId) -> Result<KvKeyinfo, Errno> {
    let mut r = KvKeyinfo {
        key_id: id.0,
        ..Default::default()
    };
    ioctl(v, KV_IOC_GETINFO, &mut r).map(|_| r)
}

/// The parameters of a new key made by DERIVE or KEYEXCHANGE (`kv_kdf`
/// with slices instead of pointers).
#[derive(Clone, Copy, Debug)]
pub struct Kdf<'a> {
    pub hash: u32,
    pub alg: u32,
    pub bits: u32,
    pub salt: &'a [u8],
    pub info: &'a [u8],
    pub ttl_ms: u64,
    pub policy: KvPolicy,
}

impl<'a> Kdf<'a> {
    /// HKDF with `hash` into a key of `alg`, default size, no salt or info.
    pub const fn new(hash: u32, alg: u32) -> Self {
        Kdf {
            hash,
            alg,
            bits: 0,
            salt: &[],
            info: &[],
            ttl_ms: 0,
            policy: KvPolicy {
                usage: 0,
                flags: 0,
                max_uses: 0,
                max_bytes: 0,
            },
        }
    }

    /// The ABI struct; its pointers borrow `self`'s slices.
    pub fn raw(&self) -> KvKdf {
        KvKdf {
            hash: self.hash,
            algorithm: self.alg,
            key_bits: self.bits,
            salt_len: self.salt.len() as u32,
            salt_ptr: self.salt.as_ptr() as u64,
            info_ptr: self.info.as_ptr() as u64,
            info_len: self.info.len() as u32,
            reserved0: 0,
            ttl_ms: self.ttl_ms,
            policy: self.policy,
        }
    }
}

/// HKDF-SHA256 into an HMAC-SHA256 key of the default size.
pub const HMAC256: Kdf<'static> = Kdf::new(KV_HASH_SHA256, KV_ALG_HMAC_SHA256);

pub fn derive_req(parent: KeyId, kdf: &Kdf<'_>) -> KvDerive {
    KvDerive {
        key_id: parent.0,
        kdf: kdf.raw(),
        ..Default::default()
    }
}

/// KV_IOC_DERIVE; the new key's id.
pub fn derive(v: &Vault, parent: KeyId, kdf: &Kdf<'_>) -> Result<KeyId, Errno> {
    let mut r = derive_req(parent, kdf);
    ioctl(v, KV_IOC_DERIVE, &mut r)?;
    assert_ne!(r.new_key_id, 0, "DERIVE succeeded with new key id 0");
    Ok(KeyId(r.new_key_id))
}

pub fn exchange_req(ours: KeyId, peer: &[u8; 32], kdf: &Kdf<'_>) -> KvExchange {
    KvExchange {
        key_id: ours.0,
        peer_ptr: peer.as_ptr() as u64,
        kdf: kdf.raw(),
        ..Default::default()
    }
}

/// KV_IOC_KEYEXCHANGE; the new key's id.
pub fn exchange(v: &Vault, ours: KeyId, peer: &[u8; 32], kdf: &Kdf<'_>) -> Result<KeyId, Errno> {
    let mut r = exchange_req(ours, peer, kdf);
    ioctl(v, KV_IOC_KEYEXCHANGE, &mut r)?;
    assert_ne!(r.new_key_id, 0, "KEYEXCHANGE succeeded with new key id 0");
    Ok(KeyId(r.new_key_id))
}

pub fn pubkey_req(id: KeyId, buf: &mut [u8], cap: usize) -> KvPubkey {
    KvPubkey {
        key_id: id.0,
        pubkey_ptr: buf.as_mut_ptr() as u64,
        pubkey_len: cap as u32,
        ..Default::default()
    }
}

/// KV_IOC_GET_PUBKEY into a 32-byte buffer.
pub fn pubkey(v: &Vault, id: KeyId) -> Result<[u8; 32], Errno> {
    let mut out = [0u8; 32];
    let mut r = pubkey_req(id, &mut out, 32);
    ioctl(v, KV_IOC_GET_PUBKEY, &mut r)?;
    assert_eq!(r.pubkey_len, KV_PUBKEY_SIZE, "pubkey_len written back");
    Ok(out)
}

pub fn sign_req(id: KeyId, msg: &[u8], sig: &mut [u8], cap: usize) -> KvSign {
    KvSign {
        key_id: id.0,
        data_ptr: msg.as_ptr() as u64,
        sig_ptr: sig.as_mut_ptr() as u64,
        data_len: msg.len() as u32,
        sig_len: cap as u32,
        ..Default::default()
    }
}

/// KV_IOC_SIGN into a 64-byte buffer.
pub fn sign(v: &Vault, id: KeyId, msg: &[u8]) -> Result<[u8; 64], Errno> {
    let mut sig = [0u8; 64];
    let mut r = sign_req(id, msg, &mut sig, 64);
    ioctl(v, KV_IOC_SIGN, &mut r)?;
    assert_eq!(r.sig_len, KV_ED25519_SIG_SIZE, "sig_len written back");
    Ok(sig)
}

pub fn verify_req(id: KeyId, public: Option<&[u8; 32]>, msg: &[u8], sig: &[u8; 64]) -> KvVerify {
    KvVerify {
        key_id: id.0,
        pubkey_ptr: public.map_or(0, |p| p.as_ptr() as u64),
        data_ptr: msg.as_ptr() as u64,
        sig_ptr: sig.as_ptr() as u64,
        data_len: msg.len() as u32,
        ..Default::default()
    }
}

/// KV_IOC_VERIFY with a vault key.
pub fn verify_with_key(v: &Vault, id: KeyId, msg: &[u8], sig: &[u8; 64]) -> Result<(), Errno> {
    ioctl(v, KV_IOC_VERIFY, &mut verify_req(id, None, msg, sig)).map(drop)
}

/// KV_IOC_VERIFY with key id 0 and a caller's public key.
pub fn verify_with_public(
    v: &Vault,
    public: &[u8; 32],
    msg: &[u8],
    sig: &[u8; 64],
) -> Result<(), Errno> {
    ioctl(
        v,
        KV_IOC_VERIFY,
        &mut verify_req(KeyId(0), Some(public), msg, sig),
    )
    .map(drop)
}

pub fn import_x25519(v: &Vault, scalar: &[u8; 32]) -> KeyId {
    ok(v.import(Algorithm::X25519, scalar, &KeyOptions::default()))
}

pub fn import_hmac(v: &Vault, key: &[u8]) -> KeyId {
    let a = if key.len() <= 64 {
        Algorithm::HmacSha256
    } else {
        Algorithm::HmacSha512
    };
    ok(v.import(a, key, &KeyOptions::default()))
}

// ---------------------------------------------------------------------------
// Ed25519 (every test name starts with `ed25519_`)

pub fn import_ed25519(v: &Vault, seed: &[u8; 32]) -> KeyId {
    ok(v.import(Algorithm::Ed25519, seed, &KeyOptions::default()))
}

/// KV_IOC_DUP on a raw fd: the new fd and the capabilities granted.
pub fn dup_fd(fd: RawFd, caps: u32, keys: &[KeyId]) -> Result<(OwnedFd, u32), Errno> {
    let ids: Vec<u64> = keys.iter().map(|k| k.0).collect();
    let mut r = dup_req(caps, &ids);
    // SAFETY: `r` is the struct KV_IOC_DUP encodes; `ids` outlives the call.
    Errno::result(unsafe { libc::ioctl(fd, KV_IOC_DUP as _, &mut r as *mut KvDup) })?;
    assert!(r.fd >= 0, "DUP succeeded but returned fd {}", r.fd);
    assert_ne!(r.fd, fd, "DUP returned the fd it was called on");
    // SAFETY: the kernel just installed this fd for us; nothing else owns it.
    Ok((unsafe { OwnedFd::from_raw_fd(r.fd) }, r.caps))
}

/// KV_IOC_DUP: a new handle with `caps & current`, limited to `keys` unless empty.
pub fn dup(v: &Vault, caps: Caps, keys: &[KeyId]) -> Result<Vault, Errno> {
    dup_fd(v.as_raw_fd(), caps.bits(), keys).map(|(fd, _)| Vault::from_fd(fd))
}

/// KV_IOC_DERIVE (HKDF-SHA256) of a new key of `alg` from `parent`.
pub fn derive_with(v: &Vault, parent: KeyId, alg: u32, policy: KvPolicy) -> Result<KeyId, Errno> {
    let kdf = Kdf {
        salt: b"salt",
        info: b"keyvault lifecycle",
        policy,
        ..Kdf::new(KV_HASH_SHA256, alg)
    };
    derive(v, parent, &kdf)
}
