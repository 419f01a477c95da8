//! AEAD, AES-CBC, HMAC and hashing through the module: round trips checked
//! against RustCrypto (so the kernel computes the standard algorithms, not
//! merely a self-consistent variant), tampering, key state and policy,
//! quotas, size limits, and hostile requests.

use crate::harness::{expect_errno, expect_verification_failure, ok};
use crate::util::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, HashAlg, Iv, KeyId, KeyOptions, Nonce, Tag, Vault};
use nix::errno::Errno;
use std::collections::HashSet;
use std::time::Duration;

/// The module's default `max_data_bytes`: the largest input of one operation.
pub const MAX: usize = 1 << 20;
/// What output buffers hold before a call; a failed call must leave it there.
pub const CANARY: u8 = 0xa5;

const AEADS: [Algorithm; 3] = [
    Algorithm::Aes128Gcm,
    Algorithm::Aes256Gcm,
    Algorithm::ChaCha20Poly1305,
];
const CBCS: [Algorithm; 2] = [Algorithm::Aes128Cbc, Algorithm::Aes256Cbc];
const SIZES: [usize; 9] = [0, 1, 15, 16, 17, 4095, 4096, 65536, MAX];

/// Every crypto ioctl with the capability it needs.
const CRYPTO: [(u32, u32, &str); 7] = [
    (KV_IOC_AEAD_ENCRYPT, KV_CAP_ENCRYPT, "AEAD_ENCRYPT"),
    (KV_IOC_AEAD_DECRYPT, KV_CAP_DECRYPT, "AEAD_DECRYPT"),
    (KV_IOC_CBC_ENCRYPT, KV_CAP_ENCRYPT, "CBC_ENCRYPT"),
    (KV_IOC_CBC_DECRYPT, KV_CAP_DECRYPT, "CBC_DECRYPT"),
    (KV_IOC_MAC, KV_CAP_MAC, "MAC"),
    (KV_IOC_VERIFY_MAC, KV_CAP_MAC, "VERIFY_MAC"),
    (KV_IOC_HASH, KV_CAP_HASH, "HASH"),
];

/// The crypto ioctls that use a key.
const KEYED: [(u32, &str); 6] = [
    (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT"),
    (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT"),
    (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT"),
    (KV_IOC_CBC_DECRYPT, "CBC_DECRYPT"),
    (KV_IOC_MAC, "MAC"),
    (KV_IOC_VERIFY_MAC, "VERIFY_MAC"),
];

// ---------------------------------------------------------------------------
// Helpers

/// Deterministic pseudo-random bytes; another `seed` gives other bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn array<const N: usize>(seed: u64) -> [u8; N] {
    data(N, seed).try_into().unwrap()
}

/// Lower-case hex to bytes.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn canary(n: usize) -> Vec<u8> {
    vec![CANARY; n]
}

/// Panics if any byte of `buf` is no longer the canary.
#[track_caller]
pub fn assert_untouched(buf: &[u8], what: &str) {
    if let Some(i) = buf.iter().position(|&b| b != CANARY) {
        panic!("{what}: output byte {i} was written");
    }
}

/// Asserts a library call failed with `want`, naming the case.
#[track_caller]
fn expect_err<T: std::fmt::Debug>(r: keyvault::Result<T>, want: Errno, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.errno(), want, "{what}: expected {want}, got {e}"),
    }
}

/// Asserts a raw ioctl failed with `want`, naming the case.
#[track_caller]
fn expect_raw_err(r: Result<i32, Errno>, want: Errno, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v})"),
        Err(e) => assert_eq!(e, want, "{what}: expected {want}, got {e}"),
    }
}

fn key_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::Aes128Gcm | Algorithm::Aes128Cbc => 16,
        _ => 32,
    }
}

/// Imports fresh key material for `alg`; returns the id and the material.
fn new_key(v: &Vault, alg: Algorithm, seed: u64) -> (KeyId, Vec<u8>) {
    let key = data(key_len(alg), seed);
    (ok(v.import(alg, &key, &KeyOptions::default())), key)
}

fn with(f: impl FnOnce(&mut KeyOptions)) -> KeyOptions {
    let mut o = KeyOptions::default();
    f(&mut o);
    o
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
fn mac_req(key: KeyId, data: &[u8], mac: &mut [u8]) -> KvMac {
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
fn hash_req(alg: u32, data: &[u8], digest: &mut [u8]) -> KvHash {
    KvHash {
        algorithm: alg,
        data_len: data.len() as u32,
        data_ptr: data.as_ptr() as u64,
        digest_ptr: digest.as_mut_ptr() as u64,
        digest_len: digest.len() as u32,
        ..Default::default()
    }
}

/// The bytes of a request struct.
fn bytes_of<T: Copy>(r: &T) -> Vec<u8> {
    // SAFETY: the ABI structs are plain old data without padding.
    unsafe { std::slice::from_raw_parts((r as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

/// The RustCrypto implementations the module's results must equal.
mod reference {
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use cbc::cipher::block_padding::{NoPadding, Pkcs7};
    use cbc::cipher::{BlockEncryptMut, KeyIvInit};
    use keyvault::{Algorithm, HashAlg};
    use sha2::Digest;

    /// (ciphertext, tag) of an AEAD encryption.
    pub fn aead(
        alg: Algorithm,
        key: &[u8],
        nonce: &[u8; 12],
        aad: &[u8],
        pt: &[u8],
    ) -> (Vec<u8>, [u8; 16]) {
        let mut buf = pt.to_vec();
        let n = GenericArray::from_slice(nonce);
        let tag = match alg {
            Algorithm::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(key)
                .unwrap()
                .encrypt_in_place_detached(n, aad, &mut buf),
            Algorithm::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(key)
                .unwrap()
                .encrypt_in_place_detached(n, aad, &mut buf),
            Algorithm::ChaCha20Poly1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
                .unwrap()
                .encrypt_in_place_detached(n, aad, &mut buf),
            other => unreachable!("{other} is no AEAD"),
        }
        .expect("RustCrypto AEAD");
        (buf, tag.as_slice().try_into().unwrap())
    }

    fn cbc_with<C: BlockEncryptMut + KeyIvInit>(
        key: &[u8],
        iv: &[u8; 16],
        pt: &[u8],
        padding: bool,
    ) -> Vec<u8> {
        let c = C::new_from_slices(key, iv).unwrap();
        if padding {
            c.encrypt_padded_vec_mut::<Pkcs7>(pt)
        } else {
            c.encrypt_padded_vec_mut::<NoPadding>(pt)
        }
    }

    /// AES-CBC ciphertext (PKCS#7, or whole blocks without padding).
    pub fn cbc(key: &[u8], iv: &[u8; 16], pt: &[u8], padding: bool) -> Vec<u8> {
        match key.len() {
            16 => cbc_with::<cbc::Encryptor<aes::Aes128>>(key, iv, pt, padding),
            32 => cbc_with::<cbc::Encryptor<aes::Aes256>>(key, iv, pt, padding),
            n => unreachable!("AES key of {n} bytes"),
        }
    }

    /// The full HMAC.
    pub fn hmac(alg: Algorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        match alg {
            Algorithm::HmacSha256 => {
                let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
                Mac::update(&mut m, data);
                m.finalize().into_bytes().to_vec()
            }
            Algorithm::HmacSha512 => {
                let mut m = <Hmac<sha2::Sha512> as Mac>::new_from_slice(key).unwrap();
                Mac::update(&mut m, data);
                m.finalize().into_bytes().to_vec()
            }
            other => unreachable!("{other} is no HMAC"),
        }
    }

    /// The digest.
    pub fn hash(alg: HashAlg, data: &[u8]) -> Vec<u8> {
        match alg {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

// ---------------------------------------------------------------------------
// A fixture: one valid request for every crypto ioctl.

const FX_AEAD_KEY: [u8; 32] = [0x11; 32];
const FX_CBC_KEY: [u8; 16] = [0x22; 16];
const FX_HMAC_KEY: [u8; 32] = [0x33; 32];

/// One key per family, imported from fixed material: keys imported with
/// other options accept the fixture's ciphertexts and MAC.
struct Keys {
    aead: KeyId,
    cbc: KeyId,
    hmac: KeyId,
}

impl Keys {
    fn import(v: &Vault, o: &KeyOptions) -> Self {
        Keys {
            aead: ok(v.import(Algorithm::Aes256Gcm, &FX_AEAD_KEY, o)),
            cbc: ok(v.import(Algorithm::Aes128Cbc, &FX_CBC_KEY, o)),
            hmac: ok(v.import(Algorithm::HmacSha256, &FX_HMAC_KEY, o)),
        }
    }

    fn for_cmd(&self, cmd: u32) -> KeyId {
        match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => self.aead,
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => self.cbc,
            _ => self.hmac,
        }
    }

    fn all(&self) -> [KeyId; 3] {
        [self.aead, self.cbc, self.hmac]
    }
}

/// Valid inputs for every crypto ioctl.
struct Fixture {
    keys: Keys,
    pt: Vec<u8>,
    aad: Vec<u8>,
    nonce: Nonce,
    aead_ct: Vec<u8>,
    aead_tag: Tag,
    iv: Iv,
    cbc_ct: Vec<u8>,
    mac: Vec<u8>,
}

/// The buffers one request may write; the outputs start as the canary.
struct Scratch {
    out: Vec<u8>,
    nonce: Nonce,
    tag: Tag,
    iv: Iv,
    mac: Vec<u8>,
}

impl Fixture {
    /// Imports the keys into `v` and makes a ciphertext and MAC with them.
    fn new(v: &Vault) -> Self {
        let keys = Keys::import(v, &KeyOptions::default());
        let pt = data(32, 1);
        let aad = data(8, 2);
        let nonce = array(3);
        let iv = array(4);
        let (aead_ct, sealed) = ok(v.aead_encrypt(keys.aead, &pt, &aad, Some(&nonce)));
        let (_, cbc_ct) = ok(v.cbc_encrypt(keys.cbc, &pt, Some(&iv), true));
        let mac = ok(v.mac(keys.hmac, &pt));
        assert_eq!((cbc_ct.len(), mac.len()), (48, 32));
        Fixture {
            keys,
            pt,
            aad,
            nonce,
            aead_ct,
            aead_tag: sealed.tag,
            iv,
            cbc_ct,
            mac,
        }
    }

    fn scratch(&self) -> Scratch {
        let mut mac = canary(64);
        mac[..32].copy_from_slice(&self.mac);
        Scratch {
            out: canary(256),
            nonce: self.nonce,
            tag: self.aead_tag,
            iv: self.iv,
            mac,
        }
    }

    fn aead(&self, cmd: u32, s: &mut Scratch) -> KvAead {
        let input = if cmd == KV_IOC_AEAD_ENCRYPT {
            &self.pt
        } else {
            &self.aead_ct
        };
        aead_req(
            self.keys.aead,
            input,
            &mut s.out,
            &self.aad,
            &mut s.nonce,
            &mut s.tag,
        )
    }

    fn cbc(&self, cmd: u32, s: &mut Scratch) -> KvCbc {
        let input = if cmd == KV_IOC_CBC_ENCRYPT {
            &self.pt
        } else {
            &self.cbc_ct
        };
        cbc_req(self.keys.cbc, input, &mut s.out, &mut s.iv, 0)
    }

    fn mac(&self, cmd: u32, s: &mut Scratch) -> KvMac {
        let n = if cmd == KV_IOC_MAC { 64 } else { 32 };
        mac_req(self.keys.hmac, &self.pt, &mut s.mac[..n])
    }

    fn hash(&self, s: &mut Scratch) -> KvHash {
        hash_req(KV_HASH_SHA256, &self.pt, &mut s.out[..64])
    }

    /// The bytes of the valid request for `cmd`.
    fn request_bytes(&self, cmd: u32, s: &mut Scratch) -> Vec<u8> {
        match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => bytes_of(&self.aead(cmd, s)),
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => bytes_of(&self.cbc(cmd, s)),
            KV_IOC_MAC | KV_IOC_VERIFY_MAC => bytes_of(&self.mac(cmd, s)),
            _ => bytes_of(&self.hash(s)),
        }
    }

    /// Runs the valid request for `cmd` with `key` (ignored by HASH).
    fn call(&self, v: &Vault, cmd: u32, key: KeyId) -> Result<i32, Errno> {
        let mut s = self.scratch();
        match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => {
                let mut r = self.aead(cmd, &mut s);
                r.key_id = key.0;
                ioctl(v, cmd, &mut r)
            }
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => {
                let mut r = self.cbc(cmd, &mut s);
                r.key_id = key.0;
                ioctl(v, cmd, &mut r)
            }
            KV_IOC_MAC | KV_IOC_VERIFY_MAC => {
                let mut r = self.mac(cmd, &mut s);
                r.key_id = key.0;
                ioctl(v, cmd, &mut r)
            }
            KV_IOC_HASH => {
                let mut r = self.hash(&mut s);
                ioctl(v, cmd, &mut r)
            }
            _ => unreachable!("not a crypto ioctl: {cmd:#x}"),
        }
    }

    /// Runs the valid request for `cmd` with the fixture's own key.
    fn call_own(&self, v: &Vault, cmd: u32) -> Result<i32, Errno> {
        self.call(v, cmd, self.keys.for_cmd(cmd))
    }
}

// ---------------------------------------------------------------------------
// Round trips, checked against RustCrypto

/// Encrypts with the vault, compares with RustCrypto, decrypts back.
fn aead_round_trip(
    v: &Vault,
    alg: Algorithm,
    (id, key): (KeyId, &[u8]),
    pt: &[u8],
    aad: &[u8],
    nonce: Option<&Nonce>,
) {
    let what = format!(
        "{alg}, {} bytes, {} bytes of AAD, {} nonce",
        pt.len(),
        aad.len(),
        if nonce.is_some() { "caller" } else { "kernel" }
    );
    let (ct, sealed) = v
        .aead_encrypt(id, pt, aad, nonce)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(ct.len(), pt.len(), "{what}: ciphertext length");
    if let Some(n) = nonce {
        assert_eq!(
            &sealed.nonce, n,
            "{what}: the caller's nonce came back changed"
        );
    }
    let (want_ct, want_tag) = reference::aead(alg, key, &sealed.nonce, aad, pt);
    assert!(
        ct == want_ct,
        "{what}: ciphertext differs from RustCrypto's"
    );
    assert_eq!(
        sealed.tag, want_tag,
        "{what}: tag differs from RustCrypto's"
    );
    let back = v
        .aead_decrypt(id, &ct, aad, &sealed.nonce, &sealed.tag)
        .unwrap_or_else(|e| panic!("{what}: decrypt: {e}"));
    assert!(*back == pt, "{what}: decryption gave other bytes");
}

pub fn aead_round_trips_match_rustcrypto_for_every_algorithm_size_aad_and_nonce_source() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 100 + i as u64);
        for (j, &len) in SIZES.iter().enumerate() {
            let seed = (i * 100 + j * 10) as u64;
            let pt = data(len, seed);
            let aad = data(len % 61 + 1, seed + 1);
            if len == MAX {
                // One 1 MiB round trip per algorithm keeps the VM run short.
                aead_round_trip(&v, alg, (id, &key), &pt, &aad, None);
                continue;
            }
            for (k, aad) in [&[][..], &aad[..]].into_iter().enumerate() {
                let nonce = array(seed + 2 + k as u64);
                aead_round_trip(&v, alg, (id, &key), &pt, aad, Some(&nonce));
                aead_round_trip(&v, alg, (id, &key), &pt, aad, None);
            }
        }
    }
}

/// CBC-encrypts with the vault, compares with RustCrypto, decrypts back.
fn cbc_round_trip(v: &Vault, (id, key): (KeyId, &[u8]), pt: &[u8], iv: Option<&Iv>, padding: bool) {
    let what = format!(
        "AES-{}-CBC, {} bytes, {} IV, {}",
        key.len() * 8,
        pt.len(),
        if iv.is_some() { "caller" } else { "kernel" },
        if padding { "PKCS#7" } else { "no padding" }
    );
    let (iv_used, ct) = v
        .cbc_encrypt(id, pt, iv, padding)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let want_len = if padding {
        (pt.len() / 16 + 1) * 16
    } else {
        pt.len()
    };
    assert_eq!(ct.len(), want_len, "{what}: ciphertext length");
    if let Some(iv) = iv {
        assert_eq!(&iv_used, iv, "{what}: the caller's IV came back changed");
    }
    assert!(
        ct == reference::cbc(key, &iv_used, pt, padding),
        "{what}: ciphertext differs from RustCrypto's"
    );
    let back = v
        .cbc_decrypt(id, &ct, &iv_used, padding)
        .unwrap_or_else(|e| panic!("{what}: decrypt: {e}"));
    assert!(*back == pt, "{what}: decryption gave other bytes");
}

pub fn cbc_round_trips_match_rustcrypto_for_both_key_sizes_with_and_without_padding() {
    let v = ok(Vault::open());
    for (i, alg) in CBCS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 200 + i as u64);
        for (j, &len) in SIZES.iter().enumerate().filter(|&(_, &n)| n < MAX) {
            let seed = (i * 100 + j * 10) as u64;
            let pt = data(len, seed);
            let iv = array(seed + 1);
            for iv in [Some(&iv), None] {
                cbc_round_trip(&v, (id, &key), &pt, iv, true);
                // Decrypt needs at least one block, so no unpadded empty round trip.
                if len % 16 == 0 && len > 0 {
                    cbc_round_trip(&v, (id, &key), &pt, iv, false);
                }
            }
        }
        // One 1 MiB round trip per key size: the input limit also holds for
        // decrypt, so the largest padded plaintext is MAX - 1 (ciphertext MAX).
        if alg == Algorithm::Aes128Cbc {
            cbc_round_trip(&v, (id, &key), &data(MAX - 1, 7), None, true);
        } else {
            cbc_round_trip(&v, (id, &key), &data(MAX, 8), Some(&array(9)), false);
        }
    }
}

pub fn hmac_matches_rfc_4231_and_rustcrypto_for_both_hashes_and_key_lengths() {
    let v = ok(Vault::open());
    // RFC 4231 test case 1.
    let key = [0x0b; 20];
    for (alg, want) in [
        (
            Algorithm::HmacSha256,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            Algorithm::HmacSha512,
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
    ] {
        let id = ok(v.import(alg, &key, &KeyOptions::default()));
        assert_eq!(
            ok(v.mac(id, b"Hi There")),
            hex(want),
            "{alg}: RFC 4231 case 1"
        );
    }
    let sizes = [
        0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 4096, 65536,
    ];
    for (alg, full, key_lens) in [
        (Algorithm::HmacSha256, 32, [16, 32, 64]),
        (Algorithm::HmacSha512, 64, [16, 64, 128]),
    ] {
        for (i, kl) in key_lens.into_iter().enumerate() {
            let key = data(kl, 300 + i as u64);
            let id = ok(v.import(alg, &key, &KeyOptions::default()));
            for (j, len) in sizes.into_iter().enumerate() {
                let what = format!("{alg}, {kl}-byte key, {len} bytes");
                let d = data(len, (i * 100 + j) as u64);
                let mac = v.mac(id, &d).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(mac.len(), full, "{what}: MAC length");
                assert_eq!(
                    mac,
                    reference::hmac(alg, &key, &d),
                    "{what}: differs from RustCrypto"
                );
                v.verify_mac(id, &d, &mac)
                    .unwrap_or_else(|e| panic!("{what}: verify of the full MAC: {e}"));
                v.verify_mac(id, &d, &mac[..16])
                    .unwrap_or_else(|e| panic!("{what}: verify of a 16-byte prefix: {e}"));
            }
            if i == 0 {
                let d = data(MAX, 77);
                let mac = ok(v.mac(id, &d));
                assert_eq!(mac, reference::hmac(alg, &key, &d), "{alg}: 1 MiB of data");
            }
        }
    }
}

pub fn hash_gives_the_standard_sha256_and_sha512_digests() {
    let v = ok(Vault::open());
    for (alg, msg, want) in [
        (
            HashAlg::Sha256,
            &b""[..],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            HashAlg::Sha256,
            &b"abc"[..],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlg::Sha512,
            &b""[..],
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        ),
        (
            HashAlg::Sha512,
            &b"abc"[..],
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ] {
        assert_eq!(ok(v.hash(alg, msg)), hex(want), "{alg:?}({msg:?})");
    }
    // Empty data through a NULL pointer.
    for (alg, raw, want) in [
        (
            HashAlg::Sha256,
            KV_HASH_SHA256,
            reference::hash(HashAlg::Sha256, b""),
        ),
        (
            HashAlg::Sha512,
            KV_HASH_SHA512,
            reference::hash(HashAlg::Sha512, b""),
        ),
    ] {
        let mut digest = canary(64);
        let mut r = hash_req(raw, &[], &mut digest);
        r.data_ptr = 0;
        assert_eq!(
            ioctl(&v, KV_IOC_HASH, &mut r),
            Ok(0),
            "{alg:?} of nothing at NULL"
        );
        assert_eq!(r.digest_len as usize, alg.len());
        assert_eq!(digest[..alg.len()], want[..]);
    }
    for (i, len) in [1, 55, 56, 63, 64, 111, 112, 127, 128, 4096, 65537]
        .into_iter()
        .enumerate()
    {
        let d = data(len, 400 + i as u64);
        for alg in [HashAlg::Sha256, HashAlg::Sha512] {
            assert_eq!(
                ok(v.hash(alg, &d)),
                reference::hash(alg, &d),
                "{alg:?}, {len} bytes"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// AEAD

pub fn aead_success_writes_out_len_equal_to_in_len_and_nothing_past_it() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 500 + i as u64);
        let pt = data(100, 1);
        let aad = data(7, 2);
        let mut nonce: Nonce = array(3);
        let mut tag = Tag::default();
        let mut out = canary(150);
        let mut r = aead_req(id, &pt, &mut out, &aad, &mut nonce, &mut tag);
        assert_eq!(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Ok(0), "{alg}");
        assert_eq!(r.out_len, 100, "{alg}: out_len after encrypt");
        assert_untouched(&out[100..], "encrypt past in_len");
        let (want_ct, want_tag) = reference::aead(alg, &key, &nonce, &aad, &pt);
        assert_eq!((&out[..100], tag), (&want_ct[..], want_tag), "{alg}");

        let ct = out[..100].to_vec();
        let mut back = canary(150);
        let mut r = aead_req(id, &ct, &mut back, &aad, &mut nonce, &mut tag);
        assert_eq!(ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r), Ok(0), "{alg}");
        assert_eq!(r.out_len, 100, "{alg}: out_len after decrypt");
        assert_eq!(back[..100], pt[..], "{alg}");
        assert_untouched(&back[100..], "decrypt past in_len");
    }
}

pub fn aead_output_smaller_than_the_input_is_enospc_with_the_needed_length() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, _) = new_key(&v, alg, 600 + i as u64);
        let pt = data(100, 1);
        let nonce: Nonce = array(3);
        let (ct, sealed) = ok(v.aead_encrypt(id, &pt, b"aad", Some(&nonce)));
        for (cmd, input) in [(KV_IOC_AEAD_ENCRYPT, &pt), (KV_IOC_AEAD_DECRYPT, &ct)] {
            for cap in [99, 1, 0] {
                let what = format!("{alg}, cmd {cmd:#x}, capacity {cap} for 100 bytes");
                let mut out = canary(100);
                let (mut n, mut t) = (sealed.nonce, sealed.tag);
                let mut r = aead_req(id, input, &mut out, b"aad", &mut n, &mut t);
                r.out_len = cap;
                expect_raw_err(ioctl(&v, cmd, &mut r), Errno::ENOSPC, &what);
                assert_eq!(r.out_len, 100, "{what}: the needed length is copied back");
                assert_untouched(&out, &what);
            }
        }
    }
}

pub fn aead_kernel_nonces_are_a_fixed_8_byte_per_key_prefix_and_a_32_bit_counter_from_zero() {
    let v = ok(Vault::open());
    for (i, (alg, n)) in [
        (Algorithm::Aes256Gcm, 1000),
        (Algorithm::Aes128Gcm, 100),
        (Algorithm::ChaCha20Poly1305, 100),
    ]
    .into_iter()
    .enumerate()
    {
        // A second key of the same algorithm counts from zero again.
        for (k, n) in [n, 3].into_iter().enumerate() {
            let (id, _) = new_key(&v, alg, 700 + (i * 10 + k) as u64);
            let mut seen = HashSet::new();
            let mut prefix = None;
            for c in 0..n {
                let (_, sealed) = ok(v.aead_encrypt(id, b"x", b"", None));
                assert!(
                    seen.insert(sealed.nonce),
                    "{alg}: kernel nonce repeated at {c}"
                );
                let p: [u8; 8] = sealed.nonce[..8].try_into().unwrap();
                assert_eq!(
                    *prefix.get_or_insert(p),
                    p,
                    "{alg}: the 8-byte prefix changed at {c}"
                );
                let counter = u64::from(u32::from_be_bytes(sealed.nonce[8..].try_into().unwrap()));
                assert_eq!(counter, c, "{alg}: the counter of kernel nonce number {c}");
            }
        }
    }
}

pub fn aead_empty_plaintext_and_aad_are_valid_even_with_null_pointers() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 800 + i as u64);
        let aad = data(20, 5);
        for aad in [&[][..], &aad[..]] {
            let what = format!("{alg}, empty plaintext at NULL, {} bytes of AAD", aad.len());
            let mut nonce: Nonce = array(6 + aad.len() as u64);
            let mut tag = Tag::default();
            let mut r = aead_req(id, &[], &mut [], aad, &mut nonce, &mut tag);
            r.in_ptr = 0;
            r.out_ptr = 0;
            if aad.is_empty() {
                r.aad_ptr = 0;
            }
            assert_eq!(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Ok(0), "{what}");
            assert_eq!(r.out_len, 0, "{what}");
            assert_eq!(
                tag,
                reference::aead(alg, &key, &nonce, aad, &[]).1,
                "{what}: tag"
            );
            r.flags = 0;
            assert_eq!(
                ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
                Ok(0),
                "{what}: decrypt"
            );
            // And the empty message is authenticated: another tag is refused.
            tag[0] ^= 1;
            expect_raw_err(
                ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
                Errno::EBADMSG,
                &what,
            );
        }
    }
}

pub fn aead_in_place_encryption_and_decryption_give_the_standard_result() {
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 900 + i as u64);
        let pt = data(4101, 1);
        let aad = data(13, 2);
        let mut nonce: Nonce = array(3);
        let mut tag = Tag::default();
        let mut buf = pt.clone();
        let mut r = aead_req(id, &[], &mut [], &aad, &mut nonce, &mut tag);
        (r.in_ptr, r.out_ptr) = (buf.as_mut_ptr() as u64, buf.as_mut_ptr() as u64);
        (r.in_len, r.out_len) = (buf.len() as u32, buf.len() as u32);
        assert_eq!(ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r), Ok(0), "{alg}");
        let (want_ct, want_tag) = reference::aead(alg, &key, &nonce, &aad, &pt);
        assert!(
            buf == want_ct,
            "{alg}: in-place ciphertext differs from RustCrypto's"
        );
        assert_eq!(tag, want_tag, "{alg}");
        // A forged in-place decrypt leaves the ciphertext as it was.
        tag[15] ^= 0x40;
        expect_raw_err(
            ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
            Errno::EBADMSG,
            alg.name(),
        );
        assert!(
            buf == want_ct,
            "{alg}: a failed in-place decrypt changed the buffer"
        );
        tag[15] ^= 0x40;
        assert_eq!(ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r), Ok(0), "{alg}");
        assert!(buf == pt, "{alg}: in-place decryption");
    }
}

/// (what, key, ciphertext, AAD, nonce, tag)
type Tampered = (String, KeyId, Vec<u8>, Vec<u8>, Nonce, Tag);

/// AES-GCM messages from 256 bytes on go through the crypto API's
/// gcm(aes), shorter ones through the library: both sides of that line,
/// page-crossing and long messages, and
/// AAD that is empty, short, crosses a page or is long, give RustCrypto's
/// result, and a tampered long message is EBADMSG with nothing written.
pub fn aes_gcm_matches_rustcrypto_on_both_sides_of_the_crypto_api_threshold_and_rejects_tampering()
{
    let v = ok(Vault::open());
    for (i, alg) in [Algorithm::Aes128Gcm, Algorithm::Aes256Gcm]
        .into_iter()
        .enumerate()
    {
        let (id, key) = new_key(&v, alg, 1500 + i as u64);
        for (j, len) in [255, 256, 257, 4095, 4097, 8191, 70001]
            .into_iter()
            .enumerate()
        {
            let pt = data(len, 1600 + j as u64);
            for (k, aad_len) in [0, 13, 256, 257, 5000].into_iter().enumerate() {
                let aad = data(aad_len, 1700 + k as u64);
                let nonce: Nonce = array(1800 + (j * 10 + k) as u64);
                aead_round_trip(&v, alg, (id, &key), &pt, &aad, Some(&nonce));
            }
            let aad = data(300, 1900);
            let nonce: Nonce = array(1901);
            let (ct, sealed) = ok(v.aead_encrypt(id, &pt, &aad, Some(&nonce)));
            let mut bad_tag = sealed.tag;
            bad_tag[15] ^= 0x80;
            let mut bad_ct = ct.clone();
            bad_ct[len - 1] ^= 1;
            let mut bad_aad = aad.clone();
            bad_aad[299] ^= 4;
            for (what, c, a, t) in [
                ("tag", &ct, &aad, bad_tag),
                ("last ciphertext byte", &bad_ct, &aad, sealed.tag),
                ("last AAD byte", &ct, &bad_aad, sealed.tag),
            ] {
                let what = format!("{alg}, {len} bytes, {what} flipped");
                let mut out = canary(len);
                expect_err(
                    v.aead_decrypt_into(id, c, a, &nonce, &t, &mut out),
                    Errno::EBADMSG,
                    &what,
                );
                assert_untouched(&out, &what);
            }
        }
    }
}

pub fn aead_decrypt_of_a_tampered_tag_aad_nonce_ciphertext_or_length_is_ebadmsg_and_writes_nothing()
{
    let v = ok(Vault::open());
    for (i, alg) in AEADS.into_iter().enumerate() {
        let (id, _) = new_key(&v, alg, 1000 + i as u64);
        let (other, _) = new_key(&v, alg, 1010 + i as u64);
        let pt = data(64, 1);
        let aad = data(20, 2);
        let nonce: Nonce = array(3);
        let (ct, sealed) = ok(v.aead_encrypt(id, &pt, &aad, Some(&nonce)));
        let tag = sealed.tag;
        let flip = |b: &[u8], i: usize, bit: u32| {
            let mut b = b.to_vec();
            b[i] ^= 1 << bit;
            b
        };
        let cat = |a: &[u8], b: &[u8]| [a, b].concat();
        let mut cases: Vec<Tampered> = Vec::new();
        for (byte, bit) in [(0, 0), (7, 3), (15, 7)] {
            let t = flip(&tag, byte, bit).try_into().unwrap();
            cases.push((
                format!("tag byte {byte} bit {bit}"),
                id,
                ct.clone(),
                aad.clone(),
                nonce,
                t,
            ));
        }
        cases.push((
            "all-zero tag".into(),
            id,
            ct.clone(),
            aad.clone(),
            nonce,
            [0; 16],
        ));
        for (what, a) in [
            ("AAD bit flipped", flip(&aad, 0, 0)),
            ("AAD last byte dropped", aad[..19].to_vec()),
            ("AAD left out", vec![]),
            ("AAD one byte longer", cat(&aad, &[0])),
        ] {
            cases.push((what.into(), id, ct.clone(), a, nonce, tag));
        }
        for byte in [0, 4, 11] {
            let n = flip(&nonce, byte, 7).try_into().unwrap();
            cases.push((
                format!("nonce byte {byte}"),
                id,
                ct.clone(),
                aad.clone(),
                n,
                tag,
            ));
        }
        for byte in [0, 31, 63] {
            let c = flip(&ct, byte, 2);
            cases.push((
                format!("ciphertext byte {byte}"),
                id,
                c,
                aad.clone(),
                nonce,
                tag,
            ));
        }
        for (what, c) in [
            ("ciphertext one byte shorter", ct[..63].to_vec()),
            ("ciphertext cut to nothing", vec![]),
            ("ciphertext one byte longer", cat(&ct, &[0])),
            ("ciphertext one block longer", cat(&ct, &[0; 16])),
        ] {
            cases.push((what.into(), id, c, aad.clone(), nonce, tag));
        }
        cases.push((
            "another key".into(),
            other,
            ct.clone(),
            aad.clone(),
            nonce,
            tag,
        ));
        for (what, key, c, a, n, t) in cases {
            let what = format!("{alg}, {what}");
            let mut out = canary(128);
            expect_err(
                v.aead_decrypt_into(key, &c, &a, &n, &t, &mut out),
                Errno::EBADMSG,
                &what,
            );
            assert_untouched(&out, &what);
        }
        let back = ok(v.aead_decrypt(id, &ct, &aad, &nonce, &tag));
        assert_eq!(*back, pt, "{alg}: the untampered message still decrypts");
    }
}

// ---------------------------------------------------------------------------
// AES-CBC

pub fn cbc_output_is_the_next_whole_block_with_padding_and_the_input_length_without() {
    let v = ok(Vault::open());
    let (id, key) = new_key(&v, Algorithm::Aes256Cbc, 1100);
    let mut iv: Iv = array(1);
    for len in 0..=49 {
        let pt = data(len, len as u64);
        let mut modes = vec![(0, (len / 16 + 1) * 16)];
        if len % 16 == 0 {
            modes.push((KV_CBC_NO_PADDING, len));
        }
        for (flags, want) in modes {
            let what = format!("{len} bytes, flags {flags:#x}");
            let mut out = canary(80);
            let mut r = cbc_req(id, &pt, &mut out, &mut iv, flags);
            assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0), "{what}");
            assert_eq!(r.out_len as usize, want, "{what}: out_len");
            assert_untouched(&out[want..], &what);
            let padding = flags == 0;
            assert_eq!(
                out[..want],
                reference::cbc(&key, &iv, &pt, padding)[..],
                "{what}"
            );
            if want == 0 {
                continue;
            }
            let ct = out[..want].to_vec();
            let mut back = canary(80);
            let mut r = cbc_req(id, &ct, &mut back, &mut iv, flags);
            assert_eq!(
                ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r),
                Ok(0),
                "{what}: decrypt"
            );
            assert_eq!(r.out_len as usize, len, "{what}: decrypt out_len");
            assert_eq!(back[..len], pt[..], "{what}: decrypt");
            assert_untouched(&back[len..], &what);
        }
    }
}

pub fn cbc_without_padding_needs_whole_blocks_and_padded_decrypt_a_nonzero_multiple_of_16() {
    let v = ok(Vault::open());
    let (id, _) = new_key(&v, Algorithm::Aes128Cbc, 1200);
    let mut iv: Iv = array(1);
    let input = data(64, 2);
    for len in [1, 15, 17, 31, 33] {
        let what = format!("encrypt of {len} bytes without padding");
        let mut out = canary(80);
        let mut r = cbc_req(id, &input[..len], &mut out, &mut iv, KV_CBC_NO_PADDING);
        expect_raw_err(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Errno::EINVAL, &what);
        assert_untouched(&out, &what);
    }
    // Nothing to encrypt without padding gives nothing.
    let mut out = canary(16);
    let mut r = cbc_req(id, &[], &mut out, &mut iv, KV_CBC_NO_PADDING);
    assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0));
    assert_eq!(r.out_len, 0);
    assert_untouched(&out, "empty encrypt without padding");
    // ... and decrypts back to nothing: the pair agrees.
    let mut back = canary(16);
    let mut r = cbc_req(id, &[], &mut back, &mut iv, KV_CBC_NO_PADDING);
    assert_eq!(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Ok(0));
    assert_eq!(r.out_len, 0);
    assert_untouched(&back, "empty decrypt without padding");
    for flags in [0, KV_CBC_NO_PADDING] {
        for len in [0, 1, 15, 17, 31, 47] {
            if len == 0 && flags == KV_CBC_NO_PADDING {
                continue;
            }
            let what = format!("decrypt of {len} bytes, flags {flags:#x}");
            let mut out = canary(80);
            let mut r = cbc_req(id, &input[..len], &mut out, &mut iv, flags);
            expect_raw_err(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Errno::EINVAL, &what);
            assert_untouched(&out, &what);
        }
    }
}

/// (what, ioctl, input, flags, too small a capacity, the needed one)
type SpaceCase<'a> = (&'a str, u32, &'a [u8], u32, u32, u32);

pub fn cbc_output_smaller_than_needed_is_enospc_with_the_needed_length() {
    let v = ok(Vault::open());
    let (id, _) = new_key(&v, Algorithm::Aes128Cbc, 1300);
    let iv: Iv = array(1);
    let p16 = data(16, 2);
    let p31 = data(31, 3);
    let p32 = data(32, 4);
    let (_, c16) = ok(v.cbc_encrypt(id, &p16, Some(&iv), true)); // 32 bytes
    let (_, c31) = ok(v.cbc_encrypt(id, &p31, Some(&iv), true)); // 32 bytes
    let (_, c32) = ok(v.cbc_encrypt(id, &p32, Some(&iv), false)); // 32 bytes
    let cases: [SpaceCase; 7] = [
        (
            "encrypt 16 with padding",
            KV_IOC_CBC_ENCRYPT,
            &p16,
            0,
            31,
            32,
        ),
        ("encrypt 0 with padding", KV_IOC_CBC_ENCRYPT, &[], 0, 15, 16),
        (
            "encrypt 31 with padding",
            KV_IOC_CBC_ENCRYPT,
            &p31,
            0,
            0,
            32,
        ),
        (
            "encrypt 32 without padding",
            KV_IOC_CBC_ENCRYPT,
            &p32,
            KV_CBC_NO_PADDING,
            31,
            32,
        ),
        (
            "decrypt 32 with padding",
            KV_IOC_CBC_DECRYPT,
            &c16,
            0,
            30,
            31,
        ),
        (
            "decrypt 32 with padding",
            KV_IOC_CBC_DECRYPT,
            &c31,
            0,
            16,
            31,
        ),
        (
            "decrypt 32 without padding",
            KV_IOC_CBC_DECRYPT,
            &c32,
            KV_CBC_NO_PADDING,
            31,
            32,
        ),
    ];
    for (what, cmd, input, flags, small, need) in cases {
        let mut out = canary(64);
        let mut iv = iv;
        let mut r = cbc_req(id, input, &mut out, &mut iv, flags);
        r.out_len = small;
        expect_raw_err(ioctl(&v, cmd, &mut r), Errno::ENOSPC, what);
        assert_eq!(r.out_len, need, "{what}: the needed length is copied back");
        assert_untouched(&out, what);
        // Exactly the needed capacity is enough.
        r.out_len = need;
        assert_eq!(ioctl(&v, cmd, &mut r), Ok(0), "{what} into {need} bytes");
    }
    // With padding, decrypt only needs in_len - 1: 31 bytes of plaintext fit.
    let mut out = canary(31);
    let mut iv2 = iv;
    let mut r = cbc_req(id, &c31, &mut out, &mut iv2, 0);
    assert_eq!(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Ok(0));
    assert_eq!((r.out_len, &out[..]), (31, &p31[..]));
}

pub fn cbc_bad_padding_is_ebadmsg_and_writes_nothing() {
    let v = ok(Vault::open());
    let (id, _) = new_key(&v, Algorithm::Aes256Cbc, 1400);
    let iv: Iv = array(1);
    let block = |tail: &[u8]| {
        let mut b = data(32, 2);
        b[32 - tail.len()..].copy_from_slice(tail);
        b
    };
    let mut sixteen = [16u8; 16];
    sixteen[3] = 15;
    let bad: [(&str, Vec<u8>); 6] = [
        ("last byte 0", block(&[0])),
        ("last byte 17", block(&[17])),
        ("last byte 255", block(&[255])),
        ("02 02 expected, 03 02 found", block(&[3, 2])),
        ("04 x4 expected, one 05", block(&[4, 5, 4, 4])),
        ("a full block of 16 with one 15", block(&sixteen)),
    ];
    for (what, padded) in bad {
        let (_, ct) = ok(v.cbc_encrypt(id, &padded, Some(&iv), false));
        let mut out = canary(64);
        let mut iv = iv;
        let mut r = cbc_req(id, &ct, &mut out, &mut iv, 0);
        expect_raw_err(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Errno::EBADMSG, what);
        assert_untouched(&out, what);
        // The same ciphertext without padding removal is just data.
        assert_eq!(*ok(v.cbc_decrypt(id, &ct, &iv, false)), padded, "{what}");
    }
    for (tail, keep) in [(&[1u8][..], 31), (&[2, 2][..], 30), (&[16; 16][..], 16)] {
        let padded = block(tail);
        let (_, ct) = ok(v.cbc_encrypt(id, &padded, Some(&iv), false));
        assert_eq!(
            *ok(v.cbc_decrypt(id, &ct, &iv, true)),
            padded[..keep],
            "good padding {tail:?}"
        );
    }
}

pub fn cbc_kernel_ivs_are_random_and_written_back() {
    let v = ok(Vault::open());
    for (i, alg) in CBCS.into_iter().enumerate() {
        let (id, key) = new_key(&v, alg, 1500 + i as u64);
        let pt = data(40, 1);
        let mut ivs = HashSet::new();
        for _ in 0..8 {
            let mut iv = [CANARY; 16];
            let mut out = canary(48);
            let mut r = cbc_req(id, &pt, &mut out, &mut iv, KV_CBC_GEN_IV);
            assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0), "{alg}");
            assert_ne!(iv, [CANARY; 16], "{alg}: no IV was written back");
            assert_ne!(iv, [0; 16], "{alg}: an all-zero IV");
            assert!(ivs.insert(iv), "{alg}: a kernel IV repeated");
            assert_eq!(
                out,
                reference::cbc(&key, &iv, &pt, true),
                "{alg}: with the returned IV"
            );
            assert_eq!(*ok(v.cbc_decrypt(id, &out, &iv, true)), pt, "{alg}");
        }
    }
}

pub fn cbc_in_place_encryption_and_decryption_work() {
    let v = ok(Vault::open());
    let (id, key) = new_key(&v, Algorithm::Aes128Cbc, 1600);
    let pt = data(40, 1);
    let mut iv: Iv = array(2);
    let mut buf = pt.clone();
    buf.resize(64, CANARY);
    let mut r = cbc_req(id, &[], &mut [], &mut iv, 0);
    (r.in_ptr, r.out_ptr) = (buf.as_mut_ptr() as u64, buf.as_mut_ptr() as u64);
    (r.in_len, r.out_len) = (40, 64);
    assert_eq!(ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r), Ok(0));
    assert_eq!(r.out_len, 48);
    assert_eq!(buf[..48], reference::cbc(&key, &iv, &pt, true)[..]);
    assert_untouched(&buf[48..], "in-place encrypt past the padding");
    (r.in_len, r.out_len) = (48, 48);
    assert_eq!(ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r), Ok(0));
    assert_eq!((r.out_len, &buf[..40]), (40, &pt[..]));
}

// ---------------------------------------------------------------------------
// HMAC

pub fn mac_is_the_full_hmac_and_a_larger_buffer_gets_its_length() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32), (Algorithm::HmacSha512, 64)] {
        let key = data(32, 1);
        let id = ok(v.import(alg, &key, &KeyOptions::default()));
        let d = data(77, 2);
        let mut mac = canary(100);
        let mut r = mac_req(id, &d, &mut mac);
        assert_eq!(ioctl(&v, KV_IOC_MAC, &mut r), Ok(0), "{alg}");
        assert_eq!(r.mac_len as usize, full, "{alg}: mac_len");
        assert_eq!(mac[..full], reference::hmac(alg, &key, &d)[..], "{alg}");
        assert_untouched(&mac[full..], alg.name());
        // Empty data, at NULL.
        let mut mac = canary(full);
        let mut r = mac_req(id, &[], &mut mac);
        r.data_ptr = 0;
        assert_eq!(
            ioctl(&v, KV_IOC_MAC, &mut r),
            Ok(0),
            "{alg} of nothing at NULL"
        );
        assert_eq!(mac, reference::hmac(alg, &key, b""), "{alg} of nothing");
        assert_eq!(ok(v.mac(id, b"")), mac, "{alg} of nothing");
        let mut r = mac_req(id, &[], &mut mac);
        r.data_ptr = 0;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY_MAC, &mut r),
            Ok(0),
            "{alg}: verify of nothing"
        );
    }
}

pub fn mac_buffer_smaller_than_the_hmac_is_enospc_with_the_needed_length() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32u32), (Algorithm::HmacSha512, 64)] {
        let id = ok(v.generate(alg));
        for cap in [full - 1, 16, 1, 0] {
            let what = format!("{alg}, capacity {cap}");
            let mut mac = canary(64);
            let mut r = mac_req(id, b"data", &mut mac);
            r.mac_len = cap;
            expect_raw_err(ioctl(&v, KV_IOC_MAC, &mut r), Errno::ENOSPC, &what);
            assert_eq!(r.mac_len, full, "{what}: the needed length is copied back");
            assert_untouched(&mac, &what);
        }
    }
}

pub fn verify_mac_accepts_prefixes_from_16_bytes_and_refuses_other_lengths_with_einval() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32), (Algorithm::HmacSha512, 64)] {
        let id = ok(v.generate(alg));
        let d = data(50, 1);
        let mut mac = ok(v.mac(id, &d));
        mac.resize(200, 0);
        for n in [16, 17, 20, full - 1, full] {
            v.verify_mac(id, &d, &mac[..n])
                .unwrap_or_else(|e| panic!("{alg}: a {n}-byte prefix: {e}"));
        }
        for n in [0, 1, 15, full + 1, 128, 200] {
            expect_err(
                v.verify_mac(id, &d, &mac[..n]),
                Errno::EINVAL,
                &format!("{alg}: {n} bytes"),
            );
        }
    }
}

pub fn verify_mac_of_a_wrong_mac_data_or_key_is_ebadmsg() {
    let v = ok(Vault::open());
    for (alg, full) in [(Algorithm::HmacSha256, 32), (Algorithm::HmacSha512, 64)] {
        let id = ok(v.generate(alg));
        let other = ok(v.generate(alg));
        let d = data(50, 1);
        let mac = ok(v.mac(id, &d));
        let mut d2 = d.clone();
        d2[49] ^= 1;
        let mut cases = vec![
            ("other data", id, d2, mac.clone()),
            ("other key", other, d.clone(), mac.clone()),
            ("data cut short", id, d[..49].to_vec(), mac.clone()),
        ];
        for byte in [0, 15, full - 1] {
            let mut m = mac.clone();
            m[byte] ^= 0x10;
            cases.push(("MAC byte changed", id, d.clone(), m));
        }
        let mut m = mac[..16].to_vec();
        m[15] ^= 1;
        cases.push((
            "16-byte prefix with its last byte changed",
            id,
            d.clone(),
            m,
        ));
        for (what, key, d, mut m) in cases {
            let what = format!("{alg}, {what}");
            let mut r = mac_req(key, &d, &mut m);
            expect_raw_err(ioctl(&v, KV_IOC_VERIFY_MAC, &mut r), Errno::EBADMSG, &what);
            expect_verification_failure(v.verify_mac(key, &d, &m), &what);
        }
    }
}

// ---------------------------------------------------------------------------
// HASH

pub fn hash_buffer_smaller_than_the_digest_is_enospc_and_a_larger_one_gets_its_length() {
    let v = ok(Vault::open());
    for (alg, raw) in [
        (HashAlg::Sha256, KV_HASH_SHA256),
        (HashAlg::Sha512, KV_HASH_SHA512),
    ] {
        let full = alg.len() as u32;
        for cap in [full - 1, 16, 0] {
            let what = format!("{alg:?}, capacity {cap}");
            let mut digest = canary(64);
            let mut r = hash_req(raw, b"abc", &mut digest);
            r.digest_len = cap;
            expect_raw_err(ioctl(&v, KV_IOC_HASH, &mut r), Errno::ENOSPC, &what);
            assert_eq!(
                r.digest_len, full,
                "{what}: the needed length is copied back"
            );
            assert_untouched(&digest, &what);
        }
        let mut digest = canary(100);
        let mut r = hash_req(raw, b"abc", &mut digest);
        assert_eq!(ioctl(&v, KV_IOC_HASH, &mut r), Ok(0), "{alg:?}");
        assert_eq!(r.digest_len, full, "{alg:?}: digest_len");
        assert_eq!(digest[..alg.len()], reference::hash(alg, b"abc")[..]);
        assert_untouched(&digest[alg.len()..], "past the digest");
    }
}

pub fn hash_of_an_unknown_algorithm_is_einval() {
    let v = ok(Vault::open());
    for alg in [0, 3, 4, 100, u32::MAX] {
        let mut digest = canary(64);
        let mut r = hash_req(alg, b"abc", &mut digest);
        expect_raw_err(
            ioctl(&v, KV_IOC_HASH, &mut r),
            Errno::EINVAL,
            &format!("algorithm {alg}"),
        );
        assert_untouched(&digest, "unknown hash");
    }
}

pub fn hash_needs_only_the_hash_capability_and_no_key() {
    let v = ok(Vault::open());
    assert_eq!(ok(v.restrict(Caps::HASH)), Caps::HASH);
    assert_eq!(
        ok(v.hash(HashAlg::Sha256, b"abc")),
        reference::hash(HashAlg::Sha256, b"abc")
    );
    assert_eq!(
        ok(v.hash(HashAlg::Sha512, b"abc")),
        reference::hash(HashAlg::Sha512, b"abc")
    );
}

// ---------------------------------------------------------------------------
// Capabilities, key state, key type, policy

pub fn crypto_ioctls_are_eperm_without_their_capability_even_with_a_bad_argument() {
    for (cmd, cap, name) in CRYPTO {
        let v = ok(Vault::open());
        let fx = Fixture::new(&v);
        assert_eq!(fx.call_own(&v, cmd), Ok(0), "{name} with every capability");
        ok(v.restrict(Caps::from_bits_retain(KV_CAP_ALL & !cap)));
        expect_raw_err(fx.call_own(&v, cmd), Errno::EPERM, name);
        // The capability is checked before the argument is read.
        for addr in [0, KERNEL_ADDR] {
            expect_raw_err(
                ioctl_addr(&v, cmd, addr),
                Errno::EPERM,
                &format!("{name} with the argument at {addr:#x}"),
            );
        }
        // The other crypto ioctls still work.
        for (cmd2, cap2, name2) in CRYPTO {
            if cap2 != cap {
                assert_eq!(
                    fx.call_own(&v, cmd2),
                    Ok(0),
                    "{name2} without {name}'s capability"
                );
            }
        }
    }
}

pub fn crypto_with_an_unknown_destroyed_or_foreign_key_is_enoent() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let gone = Keys::import(&v, &KeyOptions::default());
    for k in gone.all() {
        ok(v.destroy(k));
    }
    let w = ok(Vault::open());
    let foreign = Keys::import(&w, &KeyOptions::default());
    for (cmd, name) in KEYED {
        for key in [
            KeyId(0),
            KeyId(0xdead_beef_0000),
            KeyId(u64::MAX),
            gone.for_cmd(cmd),
            foreign.for_cmd(cmd),
        ] {
            expect_raw_err(
                fx.call(&v, cmd, key),
                Errno::ENOENT,
                &format!("{name}, key {key}"),
            );
        }
    }
}

pub fn crypto_with_a_revoked_key_is_ekeyrevoked() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &KeyOptions::default());
    for id in k.all() {
        ok(v.revoke(id));
    }
    for (cmd, name) in KEYED {
        expect_raw_err(fx.call(&v, cmd, k.for_cmd(cmd)), Errno::EKEYREVOKED, name);
    }
}

pub fn crypto_with_an_expired_key_is_ekeyexpired() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &with(|o| o.ttl = Some(Duration::from_millis(100))));
    std::thread::sleep(Duration::from_millis(300));
    for (cmd, name) in KEYED {
        expect_raw_err(fx.call(&v, cmd, k.for_cmd(cmd)), Errno::EKEYEXPIRED, name);
    }
}

pub fn crypto_with_a_key_of_the_wrong_type_is_eopnotsupp() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let aead = [
        fx.keys.aead,
        ok(v.generate(Algorithm::Aes128Gcm)),
        ok(v.generate(Algorithm::ChaCha20Poly1305)),
    ];
    let cbc = [fx.keys.cbc, ok(v.generate(Algorithm::Aes256Cbc))];
    let hmac = [fx.keys.hmac, ok(v.generate(Algorithm::HmacSha512))];
    for (cmd, name) in KEYED {
        let wrong: Vec<KeyId> = match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => [&cbc[..], &hmac[..]].concat(),
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => [&aead[..], &hmac[..]].concat(),
            _ => [&aead[..], &cbc[..]].concat(),
        };
        for key in wrong {
            let alg = ok(v.info(key)).algorithm.unwrap();
            expect_raw_err(
                fx.call(&v, cmd, key),
                Errno::EOPNOTSUPP,
                &format!("{name} with {alg}"),
            );
        }
    }
}

pub fn crypto_outside_the_key_usage_is_eperm() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let imp = |alg, key: &[u8], usage| ok(v.import(alg, key, &with(|o| o.usage = usage)));
    for (enc, dec, alg, key) in [
        (
            KV_IOC_AEAD_ENCRYPT,
            KV_IOC_AEAD_DECRYPT,
            Algorithm::Aes256Gcm,
            &FX_AEAD_KEY[..],
        ),
        (
            KV_IOC_CBC_ENCRYPT,
            KV_IOC_CBC_DECRYPT,
            Algorithm::Aes128Cbc,
            &FX_CBC_KEY[..],
        ),
    ] {
        let enc_only = imp(alg, key, Caps::ENCRYPT);
        let dec_only = imp(alg, key, Caps::DECRYPT);
        assert_eq!(
            fx.call(&v, enc, enc_only),
            Ok(0),
            "{alg}: encrypt with an encrypt-only key"
        );
        expect_raw_err(
            fx.call(&v, dec, enc_only),
            Errno::EPERM,
            &format!("{alg}: decrypt, encrypt-only key"),
        );
        expect_raw_err(
            fx.call(&v, enc, dec_only),
            Errno::EPERM,
            &format!("{alg}: encrypt, decrypt-only key"),
        );
        assert_eq!(
            fx.call(&v, dec, dec_only),
            Ok(0),
            "{alg}: decrypt with a decrypt-only key"
        );
    }
    let derive_only = imp(Algorithm::HmacSha256, &FX_HMAC_KEY, Caps::DERIVE);
    let mac_only = imp(Algorithm::HmacSha256, &FX_HMAC_KEY, Caps::MAC);
    for cmd in [KV_IOC_MAC, KV_IOC_VERIFY_MAC] {
        expect_raw_err(
            fx.call(&v, cmd, derive_only),
            Errno::EPERM,
            "HMAC key for DERIVE only",
        );
        assert_eq!(fx.call(&v, cmd, mac_only), Ok(0), "HMAC key for MAC only");
    }
}

pub fn no_caller_nonce_keys_refuse_caller_nonces_and_ivs_with_eperm_but_take_the_kernels() {
    let v = ok(Vault::open());
    let o = with(|o| o.no_caller_nonce = true);
    for (i, alg) in AEADS.into_iter().enumerate() {
        let id = ok(v.import(alg, &data(key_len(alg), 1700 + i as u64), &o));
        let mut out = canary(3);
        expect_err(
            v.aead_encrypt_into(id, b"msg", b"aad", Some(&[1; 12]), &mut out),
            Errno::EPERM,
            &format!("{alg} with a caller nonce"),
        );
        assert_untouched(&out, alg.name());
        let (ct, sealed) = ok(v.aead_encrypt(id, b"msg", b"aad", None));
        // Decrypt takes the nonce from the caller, as it must.
        assert_eq!(
            *ok(v.aead_decrypt(id, &ct, b"aad", &sealed.nonce, &sealed.tag)),
            b"msg"
        );
        assert_eq!(
            ok(v.info(id)).uses,
            2,
            "{alg}: the refused encrypt is not counted"
        );
    }
    for (i, alg) in CBCS.into_iter().enumerate() {
        let id = ok(v.import(alg, &data(key_len(alg), 1710 + i as u64), &o));
        for padding in [true, false] {
            expect_err(
                v.cbc_encrypt(id, &[7; 32], Some(&[1; 16]), padding),
                Errno::EPERM,
                &format!("{alg} with a caller IV"),
            );
            let (iv, ct) = ok(v.cbc_encrypt(id, &[7; 32], None, padding));
            assert_eq!(*ok(v.cbc_decrypt(id, &ct, &iv, padding)), [7; 32]);
        }
    }
}

pub fn max_uses_allows_exactly_that_many_operations_then_edquot() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &with(|o| o.max_uses = 3));
    // AEAD: a failed decrypt uses up a use too (no unlimited forgery attempts).
    assert_eq!(fx.call(&v, KV_IOC_AEAD_ENCRYPT, k.aead), Ok(0));
    let bad = [0u8; 16];
    expect_errno(
        v.aead_decrypt(k.aead, &fx.aead_ct, &fx.aad, &fx.nonce, &bad),
        Errno::EBADMSG,
    );
    assert_eq!(fx.call(&v, KV_IOC_AEAD_DECRYPT, k.aead), Ok(0));
    for cmd in [KV_IOC_AEAD_ENCRYPT, KV_IOC_AEAD_DECRYPT] {
        expect_raw_err(fx.call(&v, cmd, k.aead), Errno::EDQUOT, "AEAD after 3 uses");
    }
    // CBC.
    for cmd in [KV_IOC_CBC_ENCRYPT, KV_IOC_CBC_DECRYPT, KV_IOC_CBC_ENCRYPT] {
        assert_eq!(fx.call(&v, cmd, k.cbc), Ok(0));
    }
    for cmd in [KV_IOC_CBC_ENCRYPT, KV_IOC_CBC_DECRYPT] {
        expect_raw_err(fx.call(&v, cmd, k.cbc), Errno::EDQUOT, "CBC after 3 uses");
    }
    // HMAC: a failed verify counts.
    assert_eq!(fx.call(&v, KV_IOC_MAC, k.hmac), Ok(0));
    expect_verification_failure(v.verify_mac(k.hmac, &fx.pt, &[0; 32]), "a wrong MAC");
    assert_eq!(fx.call(&v, KV_IOC_VERIFY_MAC, k.hmac), Ok(0));
    for cmd in [KV_IOC_MAC, KV_IOC_VERIFY_MAC] {
        expect_raw_err(fx.call(&v, cmd, k.hmac), Errno::EDQUOT, "HMAC after 3 uses");
    }
    for id in k.all() {
        assert_eq!(ok(v.info(id)).uses, 3, "refused operations are not counted");
    }
    // A key with one use.
    let once = ok(v.import(
        Algorithm::Aes256Gcm,
        &FX_AEAD_KEY,
        &with(|o| o.max_uses = 1),
    ));
    assert_eq!(fx.call(&v, KV_IOC_AEAD_DECRYPT, once), Ok(0));
    expect_raw_err(
        fx.call(&v, KV_IOC_AEAD_DECRYPT, once),
        Errno::EDQUOT,
        "after 1 use",
    );
}

pub fn max_bytes_allows_operations_while_the_total_input_fits_then_edquot() {
    let v = ok(Vault::open());
    // AEAD (no AAD, so only plaintext and ciphertext count).
    let id = ok(v.import(
        Algorithm::Aes256Gcm,
        &FX_AEAD_KEY,
        &with(|o| o.max_bytes = 100),
    ));
    ok(v.aead_encrypt(id, &[1; 60], b"", None));
    expect_errno(v.aead_encrypt(id, &[1; 41], b"", None), Errno::EDQUOT);
    let (ct, s) = ok(v.aead_encrypt(id, &[1; 40], b"", None));
    ok(v.aead_encrypt(id, b"", b"", None)); // 100 + 0 <= 100
    expect_errno(v.aead_encrypt(id, &[1], b"", None), Errno::EDQUOT);
    expect_errno(
        v.aead_decrypt(id, &ct, b"", &s.nonce, &s.tag),
        Errno::EDQUOT,
    );
    let info = ok(v.info(id));
    assert_eq!((info.uses, info.bytes), (3, 100), "AEAD uses and bytes");
    // CBC: ciphertext bytes count on decrypt.
    let id = ok(v.import(
        Algorithm::Aes128Cbc,
        &FX_CBC_KEY,
        &with(|o| o.max_bytes = 64),
    ));
    let (iv, ct) = ok(v.cbc_encrypt(id, &[2; 48], None, false));
    expect_errno(v.cbc_encrypt(id, &[2; 17], None, true), Errno::EDQUOT);
    ok(v.cbc_encrypt(id, &[2; 16], None, false));
    expect_errno(v.cbc_decrypt(id, &ct, &iv, false), Errno::EDQUOT);
    let info = ok(v.info(id));
    assert_eq!((info.uses, info.bytes), (2, 64), "CBC uses and bytes");
    // HMAC.
    let id = ok(v.import(
        Algorithm::HmacSha256,
        &FX_HMAC_KEY,
        &with(|o| o.max_bytes = 64),
    ));
    let mac = ok(v.mac(id, &[3; 64]));
    ok(v.verify_mac(
        id,
        b"",
        &reference::hmac(Algorithm::HmacSha256, &FX_HMAC_KEY, b""),
    ));
    expect_errno(v.mac(id, &[3]), Errno::EDQUOT);
    expect_errno(v.verify_mac(id, &[3; 64], &mac), Errno::EDQUOT);
    let info = ok(v.info(id));
    assert_eq!((info.uses, info.bytes), (2, 64), "HMAC uses and bytes");
}

pub fn getinfo_counts_every_operation_that_passed_the_checks_even_a_failed_decrypt() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let k = Keys::import(&v, &KeyOptions::default());
    let count = |id| {
        let i = ok(v.info(id));
        (i.uses, i.bytes)
    };
    // AEAD: 32 bytes of plaintext, 32 of ciphertext.
    assert_eq!(count(k.aead), (0, 0));
    assert_eq!(fx.call(&v, KV_IOC_AEAD_ENCRYPT, k.aead), Ok(0));
    assert_eq!(count(k.aead), (1, 32));
    assert_eq!(fx.call(&v, KV_IOC_AEAD_DECRYPT, k.aead), Ok(0));
    assert_eq!(count(k.aead), (2, 64));
    expect_errno(
        v.aead_decrypt(k.aead, &fx.aead_ct, &fx.aad, &fx.nonce, &[1; 16]),
        Errno::EBADMSG,
    );
    assert_eq!(
        count(k.aead),
        (3, 96),
        "a decrypt that failed authentication counts"
    );
    // Requests refused by a check do not count.
    let mut s = fx.scratch();
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.key_id = k.aead.0;
    r.reserved[1] = 1;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EINVAL,
        "reserved",
    );
    r.reserved[1] = 0;
    r.flags = KV_AEAD_GEN_NONCE;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EINVAL,
        "GEN_NONCE on decrypt",
    );
    assert_eq!(count(k.aead), (3, 96), "refused requests are not counted");
    // CBC: 32 in, 48 back, then 32 more of bad padding.
    assert_eq!(fx.call(&v, KV_IOC_CBC_ENCRYPT, k.cbc), Ok(0));
    assert_eq!(fx.call(&v, KV_IOC_CBC_DECRYPT, k.cbc), Ok(0));
    assert_eq!(count(k.cbc), (2, 80));
    let (iv, ct) = ok(v.cbc_encrypt(fx.keys.cbc, &[0; 32], None, false));
    expect_errno(v.cbc_decrypt(k.cbc, &ct, &iv, true), Errno::EBADMSG);
    assert_eq!(count(k.cbc), (3, 112), "a decrypt with bad padding counts");
    // HMAC: 32 bytes each.
    assert_eq!(fx.call(&v, KV_IOC_MAC, k.hmac), Ok(0));
    assert_eq!(fx.call(&v, KV_IOC_VERIFY_MAC, k.hmac), Ok(0));
    expect_verification_failure(v.verify_mac(k.hmac, &fx.pt, &[0; 32]), "a wrong MAC");
    assert_eq!(count(k.hmac), (3, 96), "a failed verify counts");
}

// ---------------------------------------------------------------------------
// Malformed requests

/// A named change that spoils a valid request.
type Spoil<T> = (String, Box<dyn Fn(&mut T)>);

pub fn crypto_requests_with_nonzero_reserved_fields_or_unknown_flags_are_einval() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    for (cmd, name) in [
        (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT"),
        (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT"),
    ] {
        let mut cases: Vec<Spoil<KvAead>> = Vec::new();
        for i in 0..2 {
            cases.push((
                format!("reserved[{i}]"),
                Box::new(move |r: &mut KvAead| r.reserved[i] = 1),
            ));
        }
        for f in [1 << 1, 1 << 7, 1 << 31, !KV_AEAD_FLAGS_ALL] {
            cases.push((
                format!("flags {f:#x}"),
                Box::new(move |r: &mut KvAead| r.flags = f),
            ));
        }
        if cmd == KV_IOC_AEAD_DECRYPT {
            cases.push((
                "GEN_NONCE".into(),
                Box::new(|r: &mut KvAead| r.flags = KV_AEAD_GEN_NONCE),
            ));
        }
        for (what, spoil) in cases {
            let what = format!("{name}, {what}");
            let mut s = fx.scratch();
            let mut r = fx.aead(cmd, &mut s);
            spoil(&mut r);
            expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EINVAL, &what);
            assert_untouched(&s.out, &what);
        }
    }
    for (cmd, name) in [
        (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT"),
        (KV_IOC_CBC_DECRYPT, "CBC_DECRYPT"),
    ] {
        let mut cases: Vec<Spoil<KvCbc>> = vec![(
            "reserved0".into(),
            Box::new(|r: &mut KvCbc| r.reserved0 = 1),
        )];
        for i in 0..2 {
            cases.push((
                format!("reserved[{i}]"),
                Box::new(move |r: &mut KvCbc| r.reserved[i] = 1),
            ));
        }
        for f in [1 << 2, 1 << 8, 1 << 31, !KV_CBC_FLAGS_ALL] {
            cases.push((
                format!("flags {f:#x}"),
                Box::new(move |r: &mut KvCbc| r.flags = f),
            ));
        }
        if cmd == KV_IOC_CBC_DECRYPT {
            cases.push((
                "GEN_IV".into(),
                Box::new(|r: &mut KvCbc| r.flags = KV_CBC_GEN_IV),
            ));
            cases.push((
                "GEN_IV | NO_PADDING".into(),
                Box::new(|r: &mut KvCbc| r.flags = KV_CBC_GEN_IV | KV_CBC_NO_PADDING),
            ));
        }
        for (what, spoil) in cases {
            let what = format!("{name}, {what}");
            let mut s = fx.scratch();
            let mut r = fx.cbc(cmd, &mut s);
            spoil(&mut r);
            expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EINVAL, &what);
            assert_untouched(&s.out, &what);
            assert_eq!(s.iv, fx.iv, "{what}: the IV was overwritten");
        }
    }
    for (cmd, name) in [(KV_IOC_MAC, "MAC"), (KV_IOC_VERIFY_MAC, "VERIFY_MAC")] {
        for i in 0..2 {
            let mut s = fx.scratch();
            let mut r = fx.mac(cmd, &mut s);
            r.reserved[i] = 1;
            expect_raw_err(
                ioctl(&v, cmd, &mut r),
                Errno::EINVAL,
                &format!("{name}, reserved[{i}]"),
            );
            assert_untouched(&s.mac[32..], name);
        }
    }
    for i in 0..3 {
        let mut s = fx.scratch();
        let mut r = fx.hash(&mut s);
        match i {
            0 => r.reserved0 = 1,
            _ => r.reserved[i - 1] = 1,
        }
        expect_raw_err(
            ioctl(&v, KV_IOC_HASH, &mut r),
            Errno::EINVAL,
            &format!("HASH, reserved field {i}"),
        );
        assert_untouched(&s.out, "HASH");
    }
}

pub fn inputs_over_max_data_bytes_are_emsgsize() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let big = data(MAX + 16, 1);
    let mut out = canary(MAX + 32);
    let over = (MAX + 1) as u32;
    for (cmd, name) in [
        (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT"),
        (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT"),
    ] {
        for (in_len, aad_len) in [
            (over, 0),
            (0, over),
            (over, over),
            (u32::MAX, 0),
            (0, u32::MAX),
        ] {
            let what = format!("{name}, in_len {in_len}, aad_len {aad_len}");
            let (mut nonce, mut tag) = (fx.nonce, fx.aead_tag);
            let mut r = aead_req(fx.keys.aead, &big, &mut out, &big, &mut nonce, &mut tag);
            (r.in_len, r.aad_len, r.out_len) = (in_len, aad_len, in_len.max(16));
            expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EMSGSIZE, &what);
        }
    }
    assert_untouched(&out, "AEAD over the limit");
    for (cmd, flags, in_len, name) in [
        (KV_IOC_CBC_ENCRYPT, 0, over, "CBC_ENCRYPT"),
        (
            KV_IOC_CBC_ENCRYPT,
            KV_CBC_NO_PADDING,
            over + 15,
            "CBC_ENCRYPT without padding",
        ),
        (
            KV_IOC_CBC_ENCRYPT,
            KV_CBC_NO_PADDING,
            u32::MAX - 15,
            "CBC_ENCRYPT without padding",
        ),
        // With padding, the ciphertext of MAX bytes (MAX + 16) is the most.
        (KV_IOC_CBC_DECRYPT, 0, over + 31, "CBC_DECRYPT"),
        (
            KV_IOC_CBC_DECRYPT,
            KV_CBC_NO_PADDING,
            over + 15,
            "CBC_DECRYPT without padding",
        ),
        (KV_IOC_CBC_DECRYPT, 0, u32::MAX - 15, "CBC_DECRYPT"),
    ] {
        let what = format!("{name}, in_len {in_len}");
        let mut iv = fx.iv;
        let mut r = cbc_req(fx.keys.cbc, &big, &mut out, &mut iv, flags);
        r.in_len = in_len;
        r.out_len = in_len.saturating_add(16);
        expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EMSGSIZE, &what);
    }
    assert_untouched(&out, "CBC over the limit");
    for (cmd, n, name) in [
        (KV_IOC_MAC, 64, "MAC"),
        (KV_IOC_VERIFY_MAC, 32, "VERIFY_MAC"),
    ] {
        for data_len in [over, u32::MAX] {
            let mut mac = fx.scratch().mac;
            let mut r = mac_req(fx.keys.hmac, &big, &mut mac[..n]);
            r.data_len = data_len;
            expect_raw_err(
                ioctl(&v, cmd, &mut r),
                Errno::EMSGSIZE,
                &format!("{name}, data_len {data_len}"),
            );
        }
    }
    for alg in [KV_HASH_SHA256, KV_HASH_SHA512] {
        for data_len in [over, u32::MAX] {
            let mut digest = canary(64);
            let mut r = hash_req(alg, &big, &mut digest);
            r.data_len = data_len;
            expect_raw_err(
                ioctl(&v, KV_IOC_HASH, &mut r),
                Errno::EMSGSIZE,
                &format!("HASH {alg}, data_len {data_len}"),
            );
            assert_untouched(&digest, "HASH over the limit");
        }
    }
}

pub fn inputs_of_exactly_max_data_bytes_are_accepted() {
    let v = ok(Vault::open());
    let big = data(MAX, 2);
    // AEAD with MAX bytes of AAD (MAX of plaintext: see the round trips).
    let (id, key) = new_key(&v, Algorithm::Aes128Gcm, 1800);
    let nonce: Nonce = array(3);
    let (ct, s) = ok(v.aead_encrypt(id, b"sixteen bytes...", &big, Some(&nonce)));
    let want = reference::aead(
        Algorithm::Aes128Gcm,
        &key,
        &nonce,
        &big,
        b"sixteen bytes...",
    );
    assert_eq!((ct.clone(), s.tag), want, "AEAD with 1 MiB of AAD");
    assert_eq!(
        *ok(v.aead_decrypt(id, &ct, &big, &nonce, &s.tag)),
        b"sixteen bytes..."
    );
    // CBC with padding: MAX bytes encrypt to MAX + 16, and that ciphertext
    // decrypts (the limit bounds the plaintext: nothing keyvault makes is
    // refused by its inverse); so do MAX - 1 and MAX bytes without padding
    // (whole blocks).
    let (id, _) = new_key(&v, Algorithm::Aes128Cbc, 1801);
    for len in [MAX - 1, MAX] {
        let (iv, ct) = ok(v.cbc_encrypt(id, &big[..len], None, true));
        assert_eq!(ct.len(), (len / 16 + 1) * 16);
        assert_eq!(*ok(v.cbc_decrypt(id, &ct, &iv, true)), big[..len], "CBC of {len} bytes back");
    }
    let (iv, ct) = ok(v.cbc_encrypt(id, &big, None, false));
    assert_eq!(*ok(v.cbc_decrypt(id, &ct, &iv, false)), big, "CBC without padding of MAX bytes back");
    // MAC and VERIFY_MAC.
    let key = data(64, 4);
    let id = ok(v.import(Algorithm::HmacSha512, &key, &KeyOptions::default()));
    let mac = ok(v.mac(id, &big));
    assert_eq!(
        mac,
        reference::hmac(Algorithm::HmacSha512, &key, &big),
        "HMAC-SHA512 of 1 MiB"
    );
    ok(v.verify_mac(id, &big, &mac));
    // HASH (SHA-256: see the MAC above for SHA-512's compression).
    assert_eq!(
        ok(v.hash(HashAlg::Sha256, &big)),
        reference::hash(HashAlg::Sha256, &big)
    );
}

// ---------------------------------------------------------------------------
// Bad pointers

type Field<T> = (&'static str, fn(&mut T) -> &mut u64);

pub fn every_crypto_pointer_field_that_is_null_or_in_the_kernel_is_efault() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let aead: [Field<KvAead>; 5] = [
        ("in_ptr", |r| &mut r.in_ptr),
        ("out_ptr", |r| &mut r.out_ptr),
        ("aad_ptr", |r| &mut r.aad_ptr),
        ("nonce_ptr", |r| &mut r.nonce_ptr),
        ("tag_ptr", |r| &mut r.tag_ptr),
    ];
    let cbc: [Field<KvCbc>; 3] = [
        ("in_ptr", |r| &mut r.in_ptr),
        ("out_ptr", |r| &mut r.out_ptr),
        ("iv_ptr", |r| &mut r.iv_ptr),
    ];
    let mac: [Field<KvMac>; 2] = [
        ("data_ptr", |r| &mut r.data_ptr),
        ("mac_ptr", |r| &mut r.mac_ptr),
    ];
    let hash: [Field<KvHash>; 2] = [
        ("data_ptr", |r| &mut r.data_ptr),
        ("digest_ptr", |r| &mut r.digest_ptr),
    ];
    for bad in [0u64, KERNEL_ADDR as u64] {
        for (cmd, name, flags) in [
            (KV_IOC_AEAD_ENCRYPT, "AEAD_ENCRYPT", 0),
            (
                KV_IOC_AEAD_ENCRYPT,
                "AEAD_ENCRYPT with GEN_NONCE",
                KV_AEAD_GEN_NONCE,
            ),
            (KV_IOC_AEAD_DECRYPT, "AEAD_DECRYPT", 0),
        ] {
            for (field, get) in aead {
                let what = format!("{name}, {field} = {bad:#x}");
                let mut s = fx.scratch();
                let mut r = fx.aead(cmd, &mut s);
                r.flags = flags;
                *get(&mut r) = bad;
                expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EFAULT, &what);
                if cmd == KV_IOC_AEAD_DECRYPT {
                    assert_untouched(&s.out, &what);
                }
            }
        }
        for (cmd, name, flags) in [
            (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT", 0),
            (KV_IOC_CBC_ENCRYPT, "CBC_ENCRYPT with GEN_IV", KV_CBC_GEN_IV),
            (KV_IOC_CBC_DECRYPT, "CBC_DECRYPT", 0),
            (
                KV_IOC_CBC_DECRYPT,
                "CBC_DECRYPT without padding",
                KV_CBC_NO_PADDING,
            ),
        ] {
            for (field, get) in cbc {
                let what = format!("{name}, {field} = {bad:#x}");
                let mut s = fx.scratch();
                let mut r = fx.cbc(cmd, &mut s);
                r.flags = flags;
                *get(&mut r) = bad;
                expect_raw_err(ioctl(&v, cmd, &mut r), Errno::EFAULT, &what);
                if cmd == KV_IOC_CBC_DECRYPT {
                    assert_untouched(&s.out, &what);
                }
            }
        }
        for (cmd, name) in [(KV_IOC_MAC, "MAC"), (KV_IOC_VERIFY_MAC, "VERIFY_MAC")] {
            for (field, get) in mac {
                let mut s = fx.scratch();
                let mut r = fx.mac(cmd, &mut s);
                *get(&mut r) = bad;
                expect_raw_err(
                    ioctl(&v, cmd, &mut r),
                    Errno::EFAULT,
                    &format!("{name}, {field} = {bad:#x}"),
                );
            }
        }
        for (field, get) in hash {
            let mut s = fx.scratch();
            let mut r = fx.hash(&mut s);
            *get(&mut r) = bad;
            expect_raw_err(
                ioctl(&v, KV_IOC_HASH, &mut r),
                Errno::EFAULT,
                &format!("HASH, {field} = {bad:#x}"),
            );
        }
    }
}

pub fn crypto_ioctls_with_a_null_kernel_or_cut_off_request_struct_are_efault() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    for (cmd, _, name) in CRYPTO {
        for addr in [0, 8, KERNEL_ADDR, usize::MAX - 4095] {
            expect_raw_err(
                ioctl_addr(&v, cmd, addr),
                Errno::EFAULT,
                &format!("{name} at {addr:#x}"),
            );
        }
        // A valid request whose last 8 bytes lie on an unmapped page.
        let mut s = fx.scratch();
        let bytes = fx.request_bytes(cmd, &mut s);
        let st = Straddle::new();
        let addr = st.fill(&bytes, 8);
        expect_raw_err(
            ioctl_addr(&v, cmd, addr),
            Errno::EFAULT,
            &format!("{name} cut off"),
        );
        assert_untouched(&s.out, name);
    }
}

pub fn crypto_outputs_to_read_only_memory_and_inputs_running_into_unmapped_pages_are_efault() {
    let v = ok(Vault::open());
    let fx = Fixture::new(&v);
    let ro = Mapping::new(4096);
    ro.read_only();
    let ro_addr = ro.addr as u64;
    // Outputs into a read-only page.
    for cmd in [KV_IOC_AEAD_ENCRYPT, KV_IOC_AEAD_DECRYPT] {
        let mut s = fx.scratch();
        let mut r = fx.aead(cmd, &mut s);
        r.out_ptr = ro_addr;
        expect_raw_err(
            ioctl(&v, cmd, &mut r),
            Errno::EFAULT,
            &format!("AEAD {cmd:#x} into read-only memory"),
        );
    }
    let mut s = fx.scratch();
    let mut r = fx.aead(KV_IOC_AEAD_ENCRYPT, &mut s);
    r.tag_ptr = ro_addr;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r),
        Errno::EFAULT,
        "AEAD tag into read-only memory",
    );
    r.tag_ptr = s.tag.as_mut_ptr() as u64;
    (r.flags, r.nonce_ptr) = (KV_AEAD_GEN_NONCE, ro_addr);
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_ENCRYPT, &mut r),
        Errno::EFAULT,
        "kernel nonce into read-only memory",
    );
    for cmd in [KV_IOC_CBC_ENCRYPT, KV_IOC_CBC_DECRYPT] {
        let mut s = fx.scratch();
        let mut r = fx.cbc(cmd, &mut s);
        r.out_ptr = ro_addr;
        expect_raw_err(
            ioctl(&v, cmd, &mut r),
            Errno::EFAULT,
            &format!("CBC {cmd:#x} into read-only memory"),
        );
    }
    let mut s = fx.scratch();
    let mut r = fx.cbc(KV_IOC_CBC_ENCRYPT, &mut s);
    (r.flags, r.iv_ptr) = (KV_CBC_GEN_IV, ro_addr);
    expect_raw_err(
        ioctl(&v, KV_IOC_CBC_ENCRYPT, &mut r),
        Errno::EFAULT,
        "kernel IV into read-only memory",
    );
    let mut s = fx.scratch();
    let mut r = fx.mac(KV_IOC_MAC, &mut s);
    r.mac_ptr = ro_addr;
    expect_raw_err(
        ioctl(&v, KV_IOC_MAC, &mut r),
        Errno::EFAULT,
        "MAC into read-only memory",
    );
    let mut s = fx.scratch();
    let mut r = fx.hash(&mut s);
    r.digest_ptr = ro_addr;
    expect_raw_err(
        ioctl(&v, KV_IOC_HASH, &mut r),
        Errno::EFAULT,
        "digest into read-only memory",
    );

    // Inputs whose last byte is on an unmapped page; decrypt writes nothing.
    let st = Straddle::new();
    let mut s = fx.scratch();
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.in_ptr = st.fill(&fx.aead_ct, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EFAULT,
        "AEAD ciphertext cut off",
    );
    assert_untouched(&s.out, "AEAD ciphertext cut off");
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.aad_ptr = st.fill(&fx.aad, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EFAULT,
        "AAD cut off",
    );
    assert_untouched(&s.out, "AAD cut off");
    let mut r = fx.aead(KV_IOC_AEAD_DECRYPT, &mut s);
    r.tag_ptr = st.fill(&fx.aead_tag, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_AEAD_DECRYPT, &mut r),
        Errno::EFAULT,
        "tag cut off",
    );
    assert_untouched(&s.out, "tag cut off");
    let mut s = fx.scratch();
    let mut r = fx.cbc(KV_IOC_CBC_DECRYPT, &mut s);
    r.in_ptr = st.fill(&fx.cbc_ct, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_CBC_DECRYPT, &mut r),
        Errno::EFAULT,
        "CBC ciphertext cut off",
    );
    assert_untouched(&s.out, "CBC ciphertext cut off");
    for cmd in [KV_IOC_MAC, KV_IOC_VERIFY_MAC] {
        let mut s = fx.scratch();
        let mut r = fx.mac(cmd, &mut s);
        r.data_ptr = st.fill(&fx.pt, 1) as u64;
        expect_raw_err(
            ioctl(&v, cmd, &mut r),
            Errno::EFAULT,
            &format!("MAC {cmd:#x} data cut off"),
        );
    }
    let mut s = fx.scratch();
    let mut r = fx.hash(&mut s);
    r.data_ptr = st.fill(&fx.pt, 1) as u64;
    expect_raw_err(
        ioctl(&v, KV_IOC_HASH, &mut r),
        Errno::EFAULT,
        "HASH data cut off",
    );
    assert_untouched(&s.out, "HASH data cut off");
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::harness::Test> {
    crate::tests![
        aead_round_trips_match_rustcrypto_for_every_algorithm_size_aad_and_nonce_source,
        cbc_round_trips_match_rustcrypto_for_both_key_sizes_with_and_without_padding,
        hmac_matches_rfc_4231_and_rustcrypto_for_both_hashes_and_key_lengths,
        hash_gives_the_standard_sha256_and_sha512_digests,
        aead_success_writes_out_len_equal_to_in_len_and_nothing_past_it,
        aead_output_smaller_than_the_input_is_enospc_with_the_needed_length,
        aead_kernel_nonces_are_a_fixed_8_byte_per_key_prefix_and_a_32_bit_counter_from_zero,
        aead_empty_plaintext_and_aad_are_valid_even_with_null_pointers,
        aead_in_place_encryption_and_decryption_give_the_standard_result,
        aes_gcm_matches_rustcrypto_on_both_sides_of_the_crypto_api_threshold_and_rejects_tampering,
        aead_decrypt_of_a_tampered_tag_aad_nonce_ciphertext_or_length_is_ebadmsg_and_writes_nothing,
        cbc_output_is_the_next_whole_block_with_padding_and_the_input_length_without,
        cbc_without_padding_needs_whole_blocks_and_padded_decrypt_a_nonzero_multiple_of_16,
        cbc_output_smaller_than_needed_is_enospc_with_the_needed_length,
        cbc_bad_padding_is_ebadmsg_and_writes_nothing,
        cbc_kernel_ivs_are_random_and_written_back,
        cbc_in_place_encryption_and_decryption_work,
        mac_is_the_full_hmac_and_a_larger_buffer_gets_its_length,
        mac_buffer_smaller_than_the_hmac_is_enospc_with_the_needed_length,
        verify_mac_accepts_prefixes_from_16_bytes_and_refuses_other_lengths_with_einval,
        verify_mac_of_a_wrong_mac_data_or_key_is_ebadmsg,
        hash_buffer_smaller_than_the_digest_is_enospc_and_a_larger_one_gets_its_length,
        hash_of_an_unknown_algorithm_is_einval,
        hash_needs_only_the_hash_capability_and_no_key,
        crypto_ioctls_are_eperm_without_their_capability_even_with_a_bad_argument,
        crypto_with_an_unknown_destroyed_or_foreign_key_is_enoent,
        crypto_with_a_revoked_key_is_ekeyrevoked,
        crypto_with_an_expired_key_is_ekeyexpired,
        crypto_with_a_key_of_the_wrong_type_is_eopnotsupp,
        crypto_outside_the_key_usage_is_eperm,
        no_caller_nonce_keys_refuse_caller_nonces_and_ivs_with_eperm_but_take_the_kernels,
        max_uses_allows_exactly_that_many_operations_then_edquot,
        max_bytes_allows_operations_while_the_total_input_fits_then_edquot,
        getinfo_counts_every_operation_that_passed_the_checks_even_a_failed_decrypt,
        crypto_requests_with_nonzero_reserved_fields_or_unknown_flags_are_einval,
        inputs_over_max_data_bytes_are_emsgsize,
        inputs_of_exactly_max_data_bytes_are_accepted,
        every_crypto_pointer_field_that_is_null_or_in_the_kernel_is_efault,
        crypto_ioctls_with_a_null_kernel_or_cut_off_request_struct_are_efault,
        crypto_outputs_to_read_only_memory_and_inputs_running_into_unmapped_pages_are_efault,
    ]
}
