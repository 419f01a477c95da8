//! Contender 1b, keyvault through raw ioctls (`keyvault::raw::ioctl` with
//! the ABI structs filled by hand), to show what libkeyvault costs on top;
//! and the null ioctl (GETCAPS) of the floor model.

use keyvault::raw;
use keyvault::uapi as abi;
use std::os::fd::BorrowedFd;

fn call<T>(fd: BorrowedFd<'_>, what: &str, cmd: u32, arg: &mut T) -> Result<(), String> {
    // SAFETY: every caller passes the struct that `cmd` encodes.
    unsafe { raw::ioctl(fd, cmd, arg as *mut T) }
        .map(drop)
        .map_err(|e| format!("{what}: {e}"))
}

/// KV_IOC_GETCAPS: no capability, no key, no data: the syscall itself.
pub fn null(fd: BorrowedFd<'_>) -> Result<(), String> {
    let mut r = abi::KvCaps::default();
    call(fd, "getcaps", abi::KV_IOC_GETCAPS, &mut r)
}

/// One AEAD request with a caller nonce and empty AAD; `tag` is the tag's
/// address (written by encryption, read by decryption).
fn aead(
    fd: BorrowedFd<'_>,
    (what, cmd): (&str, u32),
    key: u64,
    (nonce, tag): (&[u8; 12], u64),
    input: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    let mut r = abi::KvAead {
        key_id: key,
        in_ptr: input.as_ptr() as u64,
        out_ptr: out.as_mut_ptr() as u64,
        aad_ptr: 0,
        nonce_ptr: nonce.as_ptr() as u64,
        tag_ptr: tag,
        in_len: input.len() as u32,
        out_len: out.len() as u32,
        ..Default::default()
    };
    call(fd, what, cmd, &mut r)
}

/// AEAD_ENCRYPT with a caller nonce, empty AAD.
pub fn seal(
    fd: BorrowedFd<'_>,
    key: u64,
    nonce: &[u8; 12],
    input: &[u8],
    out: &mut [u8],
    tag: &mut [u8; 16],
) -> Result<(), String> {
    let cmd = ("aead-encrypt", abi::KV_IOC_AEAD_ENCRYPT);
    aead(fd, cmd, key, (nonce, tag.as_mut_ptr() as u64), input, out)
}

/// AEAD_DECRYPT, empty AAD.
pub fn open(
    fd: BorrowedFd<'_>,
    key: u64,
    nonce: &[u8; 12],
    tag: &[u8; 16],
    input: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    let cmd = ("aead-decrypt", abi::KV_IOC_AEAD_DECRYPT);
    aead(fd, cmd, key, (nonce, tag.as_ptr() as u64), input, out)
}

pub fn mac(fd: BorrowedFd<'_>, key: u64, data: &[u8], out: &mut [u8; 32]) -> Result<(), String> {
    let mut r = abi::KvMac {
        key_id: key,
        data_ptr: data.as_ptr() as u64,
        mac_ptr: out.as_mut_ptr() as u64,
        data_len: data.len() as u32,
        mac_len: 32,
        ..Default::default()
    };
    call(fd, "mac", abi::KV_IOC_MAC, &mut r)
}

pub fn sha256(fd: BorrowedFd<'_>, data: &[u8], out: &mut [u8; 32]) -> Result<(), String> {
    let mut r = abi::KvHash {
        algorithm: abi::KV_HASH_SHA256,
        data_len: data.len() as u32,
        data_ptr: data.as_ptr() as u64,
        digest_ptr: out.as_mut_ptr() as u64,
        digest_len: 32,
        ..Default::default()
    };
    call(fd, "hash", abi::KV_IOC_HASH, &mut r)
}

pub fn sign(fd: BorrowedFd<'_>, key: u64, msg: &[u8], sig: &mut [u8; 64]) -> Result<(), String> {
    let mut r = abi::KvSign {
        key_id: key,
        data_ptr: msg.as_ptr() as u64,
        sig_ptr: sig.as_mut_ptr() as u64,
        data_len: msg.len() as u32,
        sig_len: 64,
        ..Default::default()
    };
    call(fd, "sign", abi::KV_IOC_SIGN, &mut r)
}

/// VERIFY with a vault key (`key` != 0) or a caller public key.
pub fn verify(
    fd: BorrowedFd<'_>,
    key: u64,
    public: Option<&[u8; 32]>,
    msg: &[u8],
    sig: &[u8; 64],
) -> Result<(), String> {
    let mut r = abi::KvVerify {
        key_id: key,
        pubkey_ptr: public.map_or(0, |p| p.as_ptr() as u64),
        data_ptr: msg.as_ptr() as u64,
        sig_ptr: sig.as_ptr() as u64,
        data_len: msg.len() as u32,
        ..Default::default()
    };
    call(fd, "verify", abi::KV_IOC_VERIFY, &mut r)
}

/// KEYEXCHANGE into a new AES-256-GCM key (HKDF-SHA256, no salt, `info`).
pub fn exchange(fd: BorrowedFd<'_>, key: u64, peer: &[u8; 32], info: &[u8]) -> Result<u64, String> {
    let mut r = abi::KvExchange {
        key_id: key,
        peer_ptr: peer.as_ptr() as u64,
        kdf: abi::KvKdf {
            hash: abi::KV_HASH_SHA256,
            algorithm: abi::KV_ALG_AES256_GCM,
            info_ptr: info.as_ptr() as u64,
            info_len: info.len() as u32,
            ..Default::default()
        },
        ..Default::default()
    };
    call(fd, "keyexchange", abi::KV_IOC_KEYEXCHANGE, &mut r)?;
    Ok(r.new_key_id)
}

pub fn destroy(fd: BorrowedFd<'_>, key: u64) -> Result<(), String> {
    let mut r = abi::KvKeyref {
        key_id: key,
        reserved: 0,
    };
    call(fd, "destroy", abi::KV_IOC_DESTROY, &mut r)
}
