//! X25519 keys, GET_PUBKEY, KEYEXCHANGE (X25519 + HKDF), DERIVE (HKDF),
//! key lineage, and Ed25519 (SIGN, VERIFY), through raw ioctls (and
//! libkeyvault's verify methods, which must fail closed).
//!
//! The new keys' bytes never leave the kernel, so a derived or exchanged key
//! is checked by what it computes: its MAC of a fixed message against
//! RustCrypto's HMAC under the bytes the standard says the key must be
//! (RFC 5869 and RFC 7748 values, `hkdf`, `curve25519-dalek`), or its AEAD
//! and CBC ciphertexts against RustCrypto's. Ed25519 is checked against
//! RFC 8032 and `ed25519-dalek`. Every Ed25519 test's name starts with
//! `ed25519_`, and they come last.

use crate::crypto::{assert_untouched, data, hex, CANARY};
use crate::harness::{expect_errno, expect_raw, expect_verification_failure, ok};
use crate::util::*;
use curve25519_dalek::montgomery::MontgomeryPoint;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Vectors

/// RFC 7748 section 6.1.
pub const ALICE_PRIVATE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
pub const ALICE_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
pub const BOB_PRIVATE: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
pub const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
pub const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/// Every encoding of an X25519 u-coordinate whose multiple by any clamped
/// scalar is 0 (the points of order 1, 2, 4 and 8, canonical and with
/// u + p, each also with the ignored top bit set): the 14 public keys of
/// Wycheproof's zero-shared-secret vectors.
pub const LOW_ORDER: [&str; 14] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// An RFC 5869 test case (SHA-256): IKM, salt, info, OKM.
pub struct Rfc5869 {
    pub name: &'static str,
    pub ikm: Vec<u8>,
    pub salt: Vec<u8>,
    pub info: Vec<u8>,
    pub okm: Vec<u8>,
}

/// RFC 5869 appendix A, test cases 1 to 3 (the SHA-256 ones).
pub fn rfc5869() -> [Rfc5869; 3] {
    let range = |a: u8, b: u8| (a..=b).collect::<Vec<u8>>();
    [
        Rfc5869 {
            name: "test case 1",
            ikm: vec![0x0b; 22],
            salt: range(0x00, 0x0c),
            info: range(0xf0, 0xf9),
            okm: hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        },
        Rfc5869 {
            name: "test case 2",
            ikm: range(0x00, 0x4f),
            salt: range(0x60, 0xaf),
            info: range(0xb0, 0xff),
            okm: hex(concat!(
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c",
                "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71",
                "cc30c58179ec3e87c14c01d5c1f3434f1d87"
            )),
        },
        Rfc5869 {
            name: "test case 3",
            ikm: vec![0x0b; 22],
            salt: vec![],
            info: vec![],
            okm: hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
        },
    ]
}

include!("../../kmod/pure/tests/vectors/rfc8032.rs");

/// The message whose MAC identifies an HMAC key.
pub const MSG: &[u8] = b"keyvault: which key is this?";

const SYMMETRIC: [(u32, u32); 7] = [
    (KV_ALG_AES128_GCM, 128),
    (KV_ALG_AES256_GCM, 256),
    (KV_ALG_CHACHA20_POLY1305, 256),
    (KV_ALG_AES128_CBC, 128),
    (KV_ALG_AES256_CBC, 256),
    (KV_ALG_HMAC_SHA256, 256),
    (KV_ALG_HMAC_SHA512, 512),
];

// ---------------------------------------------------------------------------
// Helpers

/// Lower-case hex to a fixed-size array.
pub fn arr<const N: usize>(s: &str) -> [u8; N] {
    hex(s)
        .try_into()
        .unwrap_or_else(|v: Vec<u8>| panic!("{} bytes of hex, expected {N}", v.len()))
}

/// Deterministic pseudo-random 32 bytes.
pub fn rand32(seed: u64) -> [u8; 32] {
    data(32, seed).try_into().unwrap()
}

fn alg(raw: u32) -> Algorithm {
    Algorithm::from_raw(raw).unwrap()
}

/// Unwraps a raw result, naming the case.
#[track_caller]
pub fn must<T>(r: Result<T, Errno>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Asserts a raw result failed with `want`, naming the case.
#[track_caller]
pub fn fails<T: std::fmt::Debug>(r: Result<T, Errno>, want: Errno, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {want}, got Ok({v:?})"),
        Err(e) => assert_eq!(e, want, "{what}: expected {want}, got {e}"),
    }
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

fn with(f: impl FnOnce(&mut KeyOptions)) -> KeyOptions {
    let mut o = KeyOptions::default();
    f(&mut o);
    o
}

fn ttl(ms: u64) -> KeyOptions {
    with(|o| o.ttl = Some(Duration::from_millis(ms)))
}

fn usage(caps: Caps) -> KeyOptions {
    with(|o| o.usage = caps)
}

/// A handle on `v`'s vault with every capability but `cap`.
fn without(v: &Vault, cap: u32) -> Vault {
    ok(v.dup(Caps::from_bits_retain(KV_CAP_ALL & !cap), None))
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

fn pubkey_req(id: KeyId, buf: &mut [u8], cap: usize) -> KvPubkey {
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

fn sign_req(id: KeyId, msg: &[u8], sig: &mut [u8], cap: usize) -> KvSign {
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

fn verify_req(id: KeyId, public: Option<&[u8; 32]>, msg: &[u8], sig: &[u8; 64]) -> KvVerify {
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

/// HKDF (RFC 5869) on the host, RustCrypto's.
pub fn host_hkdf(hash: u32, salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut okm = vec![0u8; len];
    match hash {
        KV_HASH_SHA256 => hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), ikm).expand(info, &mut okm),
        KV_HASH_SHA512 => hkdf::Hkdf::<sha2::Sha512>::new(Some(salt), ikm).expand(info, &mut okm),
        h => panic!("hash {h}"),
    }
    .expect("HKDF output length");
    okm
}

/// HMAC on the host, RustCrypto's.
pub fn host_hmac(alg: u32, key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    match alg {
        KV_ALG_HMAC_SHA256 => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        KV_ALG_HMAC_SHA512 => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        a => panic!("algorithm {a} is no HMAC"),
    }
}

/// Whether the vault key `id` is the HMAC key `want` of `alg`: GETINFO
/// gives the algorithm and size, and its MAC of `MSG` equals RustCrypto's
/// HMAC under `want`.
pub fn hmac_key_is(v: &Vault, id: KeyId, alg: u32, want: &[u8]) -> Result<(), String> {
    let info = getinfo(v, id).map_err(|e| format!("GETINFO: {e}"))?;
    if (info.algorithm, info.key_bits) != (alg, want.len() as u32 * 8) {
        return Err(format!(
            "GETINFO says algorithm {} of {} bits, expected {alg} of {}",
            info.algorithm,
            info.key_bits,
            want.len() * 8
        ));
    }
    let mac = v.mac(id, MSG).map_err(|e| format!("MAC: {e}"))?;
    if mac != host_hmac(alg, want, MSG) {
        return Err("its MAC differs from the expected key's: other key bytes".into());
    }
    Ok(())
}

#[track_caller]
pub fn assert_hmac_key(v: &Vault, id: KeyId, alg: u32, want: &[u8], what: &str) {
    if let Err(e) = hmac_key_is(v, id, alg, want) {
        panic!("{what}: {e}");
    }
}

/// An AEAD encryption on the host: (ciphertext, tag).
fn host_seal(alg: u32, key: &[u8], nonce: &[u8; 12], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let mut buf = pt.to_vec();
    let n = GenericArray::from_slice(nonce);
    let tag = match alg {
        KV_ALG_AES128_GCM => aes_gcm::Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, b"", &mut buf),
        KV_ALG_AES256_GCM => aes_gcm::Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, b"", &mut buf),
        KV_ALG_CHACHA20_POLY1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, b"", &mut buf),
        a => panic!("algorithm {a} is no AEAD"),
    }
    .expect("RustCrypto AEAD");
    (buf, tag.as_slice().try_into().unwrap())
}

/// AES-CBC with PKCS#7 on the host.
fn host_cbc(key: &[u8], iv: &[u8; 16], pt: &[u8]) -> Vec<u8> {
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockEncryptMut, KeyIvInit};
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(pt),
        32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(pt),
        n => panic!("AES key of {n} bytes"),
    }
}

/// Asserts the vault key `id` of a symmetric algorithm is the key `want`:
/// HMAC keys by their MAC, AEAD and CBC keys by a ciphertext.
#[track_caller]
fn assert_key(v: &Vault, id: KeyId, alg_raw: u32, want: &[u8], what: &str) {
    let info = must(getinfo(v, id), what);
    assert_eq!(
        (info.algorithm, info.key_bits),
        (alg_raw, want.len() as u32 * 8),
        "{what}: GETINFO algorithm and size"
    );
    match alg_raw {
        KV_ALG_HMAC_SHA256 | KV_ALG_HMAC_SHA512 => assert_hmac_key(v, id, alg_raw, want, what),
        KV_ALG_AES128_GCM | KV_ALG_AES256_GCM | KV_ALG_CHACHA20_POLY1305 => {
            let nonce = [7u8; 12];
            let (ct, sealed) = v
                .aead_encrypt(id, MSG, b"", Some(&nonce))
                .unwrap_or_else(|e| panic!("{what}: encrypt: {e}"));
            let (want_ct, want_tag) = host_seal(alg_raw, want, &nonce, MSG);
            assert!(
                ct == want_ct && sealed.tag == want_tag,
                "{what}: the ciphertext is not that of the expected key"
            );
        }
        KV_ALG_AES128_CBC | KV_ALG_AES256_CBC => {
            let iv = [9u8; 16];
            let (_, ct) = v
                .cbc_encrypt(id, MSG, Some(&iv), true)
                .unwrap_or_else(|e| panic!("{what}: encrypt: {e}"));
            assert!(
                ct == host_cbc(want, &iv, MSG),
                "{what}: the ciphertext is not that of the expected key"
            );
        }
        a => panic!("{what}: algorithm {a}"),
    }
}

fn import_x25519(v: &Vault, scalar: &[u8; 32]) -> KeyId {
    ok(v.import(Algorithm::X25519, scalar, &KeyOptions::default()))
}

fn import_hmac(v: &Vault, key: &[u8]) -> KeyId {
    let a = if key.len() <= 64 {
        Algorithm::HmacSha256
    } else {
        Algorithm::HmacSha512
    };
    ok(v.import(a, key, &KeyOptions::default()))
}

/// A valid X25519 public key that belongs to no key of the vaults under test.
fn some_peer() -> [u8; 32] {
    MontgomeryPoint::mul_base_clamped(rand32(77)).to_bytes()
}

// ---------------------------------------------------------------------------
// X25519 keys and GET_PUBKEY

pub fn x25519_public_keys_are_rfc_7748s_and_curve25519_dalek_agrees_for_random_scalars() {
    let v = ok(Vault::open());
    for (private, public, who) in [
        (ALICE_PRIVATE, ALICE_PUBLIC, "Alice"),
        (BOB_PRIVATE, BOB_PUBLIC, "Bob"),
    ] {
        let id = import_x25519(&v, &arr(private));
        assert_eq!(
            must(pubkey(&v, id), who),
            arr::<32>(public),
            "{who}'s public key"
        );
    }
    for i in 0..16 {
        let scalar = rand32(1000 + i);
        let want = MontgomeryPoint::mul_base_clamped(scalar).to_bytes();
        let id = import_x25519(&v, &scalar);
        assert_eq!(must(pubkey(&v, id), "GET_PUBKEY"), want, "scalar {i}");
        ok(v.destroy(id));
        // RFC 7748 decodeScalar25519 clamps: the three low bits and the top
        // two bits of the scalar do not matter.
        let mut other = scalar;
        other[0] ^= 0x07;
        other[31] ^= 0xc0;
        let id = import_x25519(&v, &other);
        assert_eq!(
            must(pubkey(&v, id), "GET_PUBKEY"),
            want,
            "scalar {i}, unclamped bits changed"
        );
        ok(v.destroy(id));
    }
    let a = ok(v.generate(Algorithm::X25519));
    let b = ok(v.generate(Algorithm::X25519));
    let (pa, pb) = (must(pubkey(&v, a), "a"), must(pubkey(&v, b), "b"));
    assert_ne!(pa, pb, "two generated keys with one public key");
    assert_ne!(pa, [0; 32]);
}

pub fn x25519_import_takes_exactly_32_bytes_and_genkey_only_256_bits() {
    let v = ok(Vault::open());
    let buf = [0x42u8; 128];
    for len in [0, 1, 16, 31, 33, 64, 128] {
        expect_errno(
            v.import(Algorithm::X25519, &buf[..len], &KeyOptions::default()),
            Errno::EINVAL,
        );
    }
    for bits in [128, 255, 257, 512] {
        expect_errno(
            v.generate_with(Algorithm::X25519, &with(|o| o.bits = bits)),
            Errno::EINVAL,
        );
    }
    assert_eq!(n_keys(&v), 0);
    let id = ok(v.generate_with(Algorithm::X25519, &with(|o| o.bits = 256)));
    assert_eq!(ok(v.info(id)).bits, 256);
}

pub fn get_pubkey_below_32_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing() {
    let v = ok(Vault::open());
    let id = import_x25519(&v, &arr(ALICE_PRIVATE));
    for cap in [0, 1, 31] {
        let mut buf = vec![CANARY; 64];
        let mut r = pubkey_req(id, &mut buf, cap);
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::ENOSPC);
        assert_eq!(r.pubkey_len, 32, "room for {cap}: the needed length");
        assert_untouched(&buf, &format!("room for {cap}"));
    }
    for cap in [32, 33, 64] {
        let mut buf = vec![CANARY; 64];
        let mut r = pubkey_req(id, &mut buf, cap);
        assert_eq!(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Ok(0));
        assert_eq!(r.pubkey_len, 32, "room for {cap}");
        assert_eq!(buf[..32], arr::<32>(ALICE_PUBLIC), "room for {cap}");
        assert_untouched(&buf[32..], &format!("room for {cap}: past the key"));
    }
}

pub fn get_pubkey_of_a_symmetric_key_is_eopnotsupp() {
    let v = ok(Vault::open());
    for (a, _) in SYMMETRIC {
        let id = ok(v.generate(alg(a)));
        let mut buf = vec![CANARY; 32];
        let mut r = pubkey_req(id, &mut buf, 32);
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::EOPNOTSUPP);
        assert_untouched(&buf, &alg(a).to_string());
    }
}

pub fn get_pubkey_of_an_unknown_destroyed_or_foreign_key_is_enoent() {
    let v = ok(Vault::open());
    let gone = ok(v.generate(Algorithm::X25519));
    ok(v.destroy(gone));
    let w = ok(Vault::open());
    let foreign = ok(w.generate(Algorithm::X25519));
    for id in [
        KeyId(0),
        KeyId(0xdead_beef_0000),
        KeyId(u64::MAX),
        gone,
        foreign,
    ] {
        fails(pubkey(&v, id), Errno::ENOENT, &format!("key {id}"));
    }
}

pub fn get_pubkey_with_nonzero_reserved_fields_is_einval() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::X25519));
    for field in 0..3 {
        let mut buf = vec![CANARY; 32];
        let mut r = pubkey_req(id, &mut buf, 32);
        match field {
            0 => r.reserved0 = 1,
            i => r.reserved[i - 1] = 1,
        }
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::EINVAL);
        assert_untouched(&buf, &format!("reserved field {field}"));
    }
}

pub fn get_pubkey_needs_only_the_getinfo_capability() {
    let v = ok(Vault::open());
    let id = import_x25519(&v, &arr(BOB_PRIVATE));
    let no = without(&v, KV_CAP_GETINFO);
    fails(pubkey(&no, id), Errno::EPERM, "without GETINFO");
    expect_raw(ioctl_addr(&no, KV_IOC_GET_PUBKEY, 0), Errno::EPERM);
    let only = ok(v.dup(Caps::GETINFO, None));
    assert_eq!(
        must(pubkey(&only, id), "GETINFO only"),
        arr::<32>(BOB_PUBLIC)
    );
}

pub fn get_pubkey_answers_for_revoked_and_expired_keys() {
    let v = ok(Vault::open());
    let revoked = import_x25519(&v, &arr(ALICE_PRIVATE));
    ok(v.revoke(revoked));
    let expired = ok(v.import(Algorithm::X25519, &arr::<32>(BOB_PRIVATE), &ttl(50)));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ok(v.info(revoked)).state, KeyState::Revoked);
    assert_eq!(ok(v.info(expired)).state, KeyState::Expired);
    assert_eq!(
        must(pubkey(&v, revoked), "revoked"),
        arr::<32>(ALICE_PUBLIC)
    );
    assert_eq!(must(pubkey(&v, expired), "expired"), arr::<32>(BOB_PUBLIC));
}

pub fn get_pubkey_to_a_null_kernel_or_read_only_buffer_is_efault() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::X25519));
    let ro = Mapping::new(4096);
    ro.read_only();
    for addr in [0, KERNEL_ADDR, ro.addr as usize] {
        let mut r = KvPubkey {
            key_id: id.0,
            pubkey_ptr: addr as u64,
            pubkey_len: 32,
            ..Default::default()
        };
        expect_raw(ioctl(&v, KV_IOC_GET_PUBKEY, &mut r), Errno::EFAULT);
    }
}

// ---------------------------------------------------------------------------
// KEYEXCHANGE

pub fn exchange_between_two_vaults_gives_both_sides_the_same_key() {
    let (a, b) = (ok(Vault::open()), ok(Vault::open()));
    let ka = ok(a.generate(Algorithm::X25519));
    let kb = ok(b.generate(Algorithm::X25519));
    let (pa, pb) = (must(pubkey(&a, ka), "A"), must(pubkey(&b, kb), "B"));
    let kdf = Kdf {
        salt: b"salt",
        info: b"session",
        ..HMAC256
    };
    let sa = must(exchange(&a, ka, &pb, &kdf), "A with B's key");
    let sb = must(exchange(&b, kb, &pa, &kdf), "B with A's key");
    let mac = ok(a.mac(sa, MSG));
    assert_eq!(mac, ok(b.mac(sb, MSG)), "the two sides made different keys");
    // Into an AEAD key: what one side seals, the other opens.
    let aead = Kdf {
        info: b"aead",
        ..Kdf::new(KV_HASH_SHA512, KV_ALG_AES256_GCM)
    };
    let ea = must(exchange(&a, ka, &pb, &aead), "A, AES-256-GCM");
    let eb = must(exchange(&b, kb, &pa, &aead), "B, AES-256-GCM");
    let (ct, sealed) = ok(a.aead_encrypt(ea, b"hello Bob", b"aad", None));
    let pt = ok(b.aead_decrypt(eb, &ct, b"aad", &sealed.nonce, &sealed.tag));
    assert!(pt[..] == b"hello Bob"[..]);
    // Another salt, info, hash or peer: another key.
    let other_peer = some_peer();
    for (what, kdf, peer) in [
        (
            "info",
            Kdf {
                info: b"session2",
                ..kdf
            },
            &pa,
        ),
        (
            "salt",
            Kdf {
                salt: b"pepper",
                ..kdf
            },
            &pa,
        ),
        (
            "hash",
            Kdf {
                hash: KV_HASH_SHA512,
                ..kdf
            },
            &pa,
        ),
        ("peer", kdf, &other_peer),
    ] {
        let id = must(exchange(&b, kb, peer, &kdf), what);
        assert_ne!(ok(b.mac(id, MSG)), mac, "another {what} made the same key");
    }
}

pub fn exchange_of_the_rfc_7748_keys_is_hkdf_of_the_standard_shared_secret() {
    let shared = hex(SHARED);
    let (alice, bob, check) = (ok(Vault::open()), ok(Vault::open()), ok(Vault::open()));
    let ka = import_x25519(&alice, &arr(ALICE_PRIVATE));
    let kb = import_x25519(&bob, &arr(BOB_PRIVATE));
    for (hash, a, bits, len) in [
        (KV_HASH_SHA256, KV_ALG_HMAC_SHA256, 0, 32),
        (KV_HASH_SHA512, KV_ALG_HMAC_SHA512, 0, 64),
        (KV_HASH_SHA256, KV_ALG_HMAC_SHA512, 1024, 128),
        (KV_HASH_SHA512, KV_ALG_HMAC_SHA256, 128, 16),
    ] {
        let what = format!("hash {hash} into {} of {len} bytes", alg(a));
        let kdf = Kdf {
            hash,
            alg: a,
            bits,
            salt: b"s",
            info: b"i",
            ..HMAC256
        };
        let want = host_hkdf(hash, b"s", &shared, b"i", len);
        let sa = must(exchange(&alice, ka, &arr(BOB_PUBLIC), &kdf), &what);
        let sb = must(exchange(&bob, kb, &arr(ALICE_PUBLIC), &kdf), &what);
        assert_hmac_key(&alice, sa, a, &want, &format!("Alice, {what}"));
        assert_hmac_key(&bob, sb, a, &want, &format!("Bob, {what}"));
        // The expected bytes imported as a key MAC alike.
        let imported = ok(check.import(alg(a), &want, &KeyOptions::default()));
        assert_eq!(
            ok(check.mac(imported, MSG)),
            ok(alice.mac(sa, MSG)),
            "{what}"
        );
    }
}

pub fn exchange_with_a_low_order_peer_point_is_einval_and_makes_no_key() {
    let v = ok(Vault::open());
    let keys = [
        import_x25519(&v, &arr(ALICE_PRIVATE)),
        ok(v.generate(Algorithm::X25519)),
    ];
    for id in keys {
        for p in LOW_ORDER {
            fails(
                exchange(&v, id, &arr(p), &HMAC256),
                Errno::EINVAL,
                &format!("peer {p}"),
            );
        }
    }
    assert_eq!(n_keys(&v), 2, "a refused exchange left a key");
    must(
        exchange(&v, keys[0], &arr(BOB_PUBLIC), &HMAC256),
        "after the refusals",
    );
}

pub fn exchange_matches_curve25519_dalek_for_random_keys_and_peer_points() {
    let v = ok(Vault::open());
    for i in 0..16u64 {
        let scalar = rand32(2000 + i);
        // Peers: public keys of random scalars, and (odd i) any 32 bytes,
        // which X25519 takes as well (twist points, u >= p, top bit set).
        let peer = if i % 2 == 0 {
            MontgomeryPoint::mul_base_clamped(rand32(3000 + i)).to_bytes()
        } else {
            rand32(4000 + i)
        };
        let shared = MontgomeryPoint(peer).mul_clamped(scalar).to_bytes();
        assert_ne!(shared, [0; 32], "a random point of low order");
        let salt = data(i as usize * 3, i);
        let kdf = Kdf {
            salt: &salt,
            ..HMAC256
        };
        let id = import_x25519(&v, &scalar);
        let new = must(exchange(&v, id, &peer, &kdf), &format!("case {i}"));
        let want = host_hkdf(KV_HASH_SHA256, &salt, &shared, b"", 32);
        assert_hmac_key(&v, new, KV_ALG_HMAC_SHA256, &want, &format!("case {i}"));
        ok(v.destroy(new));
        ok(v.destroy(id));
    }
}

pub fn exchange_with_a_key_that_is_not_x25519_is_eopnotsupp() {
    let v = ok(Vault::open());
    let peer = some_peer();
    for (a, _) in SYMMETRIC {
        let id = ok(v.generate(alg(a)));
        fails(
            exchange(&v, id, &peer, &HMAC256),
            Errno::EOPNOTSUPP,
            &alg(a).to_string(),
        );
    }
    assert_eq!(n_keys(&v), SYMMETRIC.len());
}

pub fn x25519_keys_are_for_exchange_only() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::X25519));
    assert_eq!(ok(v.info(id)).usage, Caps::EXCHANGE);
    ok(v.import(Algorithm::X25519, &rand32(5), &usage(Caps::EXCHANGE)));
    for u in [
        Caps::MAC,
        Caps::DERIVE,
        Caps::SIGN,
        Caps::ENCRYPT,
        Caps::EXCHANGE | Caps::DERIVE,
    ] {
        expect_errno(
            v.import(Algorithm::X25519, &rand32(5), &usage(u)),
            Errno::EINVAL,
        );
    }
    fails(
        derive(&v, id, &HMAC256),
        Errno::EOPNOTSUPP,
        "DERIVE from X25519",
    );
    expect_errno(v.mac(id, MSG), Errno::EOPNOTSUPP);
    expect_errno(v.aead_encrypt(id, MSG, b"", None), Errno::EOPNOTSUPP);
    assert_eq!(n_keys(&v), 2);
}

pub fn exchange_and_derive_into_an_asymmetric_or_unknown_algorithm_size_hash_or_policy_are_einval()
{
    let v = ok(Vault::open());
    let x = ok(v.generate(Algorithm::X25519));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let peer = some_peer();
    let bad_policy = |p: KvPolicy| Kdf {
        policy: p,
        ..HMAC256
    };
    let cases = [
        ("Ed25519", Kdf::new(KV_HASH_SHA256, KV_ALG_ED25519)),
        ("X25519", Kdf::new(KV_HASH_SHA256, KV_ALG_X25519)),
        ("algorithm 0", Kdf::new(KV_HASH_SHA256, 0)),
        ("algorithm 10", Kdf::new(KV_HASH_SHA256, 10)),
        ("algorithm u32::MAX", Kdf::new(KV_HASH_SHA256, u32::MAX)),
        ("hash 0", Kdf::new(0, KV_ALG_HMAC_SHA256)),
        ("hash 3", Kdf::new(3, KV_ALG_HMAC_SHA256)),
        ("hash u32::MAX", Kdf::new(u32::MAX, KV_ALG_HMAC_SHA256)),
        (
            "AES-256 of 128 bits",
            Kdf {
                bits: 128,
                ..Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM)
            },
        ),
        (
            "AES-128 of 256 bits",
            Kdf {
                bits: 256,
                ..Kdf::new(KV_HASH_SHA256, KV_ALG_AES128_CBC)
            },
        ),
        (
            "HMAC-SHA256 of 120 bits",
            Kdf {
                bits: 120,
                ..HMAC256
            },
        ),
        (
            "HMAC-SHA256 of 129 bits",
            Kdf {
                bits: 129,
                ..HMAC256
            },
        ),
        (
            "HMAC-SHA256 of 520 bits",
            Kdf {
                bits: 520,
                ..HMAC256
            },
        ),
        (
            "HMAC-SHA512 of 1032 bits",
            Kdf {
                bits: 1032,
                ..Kdf::new(KV_HASH_SHA512, KV_ALG_HMAC_SHA512)
            },
        ),
        (
            "HMAC-SHA512 of u32::MAX bits",
            Kdf {
                bits: u32::MAX,
                ..Kdf::new(KV_HASH_SHA512, KV_ALG_HMAC_SHA512)
            },
        ),
        (
            "usage SIGN for HMAC",
            bad_policy(KvPolicy {
                usage: KV_CAP_SIGN,
                ..Default::default()
            }),
        ),
        (
            "usage GENKEY",
            bad_policy(KvPolicy {
                usage: KV_CAP_GENKEY,
                ..Default::default()
            }),
        ),
        (
            "unknown usage bit",
            bad_policy(KvPolicy {
                usage: 1 << 20,
                ..Default::default()
            }),
        ),
        (
            "unknown policy flag",
            bad_policy(KvPolicy {
                flags: 1 << 5,
                ..Default::default()
            }),
        ),
        (
            "TTL that overflows",
            Kdf {
                ttl_ms: u64::MAX,
                ..HMAC256
            },
        ),
    ];
    for (what, kdf) in cases {
        fails(
            derive(&v, h, &kdf),
            Errno::EINVAL,
            &format!("DERIVE, {what}"),
        );
        fails(
            exchange(&v, x, &peer, &kdf),
            Errno::EINVAL,
            &format!("KEYEXCHANGE, {what}"),
        );
    }
    assert_eq!(n_keys(&v), 2, "a refused request left a key");
}

pub fn exchange_needs_the_exchange_capability_and_derive_the_derive_capability() {
    let v = ok(Vault::open());
    let x = ok(v.generate(Algorithm::X25519));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let peer = some_peer();
    let no_x = without(&v, KV_CAP_EXCHANGE);
    fails(
        exchange(&no_x, x, &peer, &HMAC256),
        Errno::EPERM,
        "KEYEXCHANGE without EXCHANGE",
    );
    // Checked before the argument is read.
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_x, KV_IOC_KEYEXCHANGE, addr), Errno::EPERM);
    }
    must(derive(&no_x, h, &HMAC256), "DERIVE without EXCHANGE");
    let no_d = without(&v, KV_CAP_DERIVE);
    fails(
        derive(&no_d, h, &HMAC256),
        Errno::EPERM,
        "DERIVE without DERIVE",
    );
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_d, KV_IOC_DERIVE, addr), Errno::EPERM);
    }
    must(
        exchange(&no_d, x, &peer, &HMAC256),
        "KEYEXCHANGE without DERIVE",
    );
    assert_eq!(n_keys(&v), 4);
}

pub fn exchange_and_derive_with_an_unknown_destroyed_or_foreign_key_are_enoent() {
    let v = ok(Vault::open());
    let gone_x = ok(v.generate(Algorithm::X25519));
    let gone_h = ok(v.generate(Algorithm::HmacSha256));
    ok(v.destroy(gone_x));
    ok(v.destroy(gone_h));
    let w = ok(Vault::open());
    let foreign_x = ok(w.generate(Algorithm::X25519));
    let foreign_h = ok(w.generate(Algorithm::HmacSha256));
    let peer = some_peer();
    for id in [KeyId(0), KeyId(0xdead_beef_0000), KeyId(u64::MAX)] {
        fails(
            exchange(&v, id, &peer, &HMAC256),
            Errno::ENOENT,
            &format!("KEYEXCHANGE, key {id}"),
        );
        fails(
            derive(&v, id, &HMAC256),
            Errno::ENOENT,
            &format!("DERIVE, key {id}"),
        );
    }
    fails(
        exchange(&v, gone_x, &peer, &HMAC256),
        Errno::ENOENT,
        "destroyed X25519 key",
    );
    fails(
        exchange(&v, foreign_x, &peer, &HMAC256),
        Errno::ENOENT,
        "another vault's X25519 key",
    );
    fails(
        derive(&v, gone_h, &HMAC256),
        Errno::ENOENT,
        "destroyed HMAC key",
    );
    fails(
        derive(&v, foreign_h, &HMAC256),
        Errno::ENOENT,
        "another vault's HMAC key",
    );
    assert_eq!(n_keys(&v), 0);
}

pub fn exchange_and_derive_with_a_revoked_or_expired_key_are_ekeyrevoked_or_ekeyexpired() {
    let v = ok(Vault::open());
    let peer = some_peer();
    let x_rev = ok(v.generate(Algorithm::X25519));
    let h_rev = ok(v.generate(Algorithm::HmacSha512));
    ok(v.revoke(x_rev));
    ok(v.revoke(h_rev));
    let x_exp = ok(v.generate_with(Algorithm::X25519, &ttl(100)));
    let h_exp = ok(v.generate_with(Algorithm::HmacSha256, &ttl(100)));
    std::thread::sleep(Duration::from_millis(300));
    fails(
        exchange(&v, x_rev, &peer, &HMAC256),
        Errno::EKEYREVOKED,
        "revoked X25519 key",
    );
    fails(
        derive(&v, h_rev, &HMAC256),
        Errno::EKEYREVOKED,
        "revoked HMAC key",
    );
    fails(
        exchange(&v, x_exp, &peer, &HMAC256),
        Errno::EKEYEXPIRED,
        "expired X25519 key",
    );
    fails(
        derive(&v, h_exp, &HMAC256),
        Errno::EKEYEXPIRED,
        "expired HMAC key",
    );
    assert_eq!(n_keys(&v), 4);
}

pub fn exchange_and_derive_count_as_a_use_of_the_key_against_its_max_uses() {
    let v = ok(Vault::open());
    let peer = some_peer();
    let once = with(|o| o.max_uses = 1);
    let x = ok(v.import(Algorithm::X25519, &rand32(11), &once));
    let h = ok(v.import(Algorithm::HmacSha256, &rand32(12), &once));
    must(exchange(&v, x, &peer, &HMAC256), "first KEYEXCHANGE");
    must(derive(&v, h, &HMAC256), "first DERIVE");
    fails(
        exchange(&v, x, &peer, &HMAC256),
        Errno::EDQUOT,
        "second KEYEXCHANGE",
    );
    fails(derive(&v, h, &HMAC256), Errno::EDQUOT, "second DERIVE");
    assert_eq!((ok(v.info(x)).uses, ok(v.info(h)).uses), (1, 1));
    assert_eq!(n_keys(&v), 4);
}

// ---------------------------------------------------------------------------
// DERIVE

pub fn derive_gives_the_rfc_5869_sha256_test_cases_1_to_3() {
    let v = ok(Vault::open());
    for tc in rfc5869() {
        // HMAC-SHA256 keys hold 16 to 64 bytes, HMAC-SHA512 keys up to 128:
        // test case 2's 80-byte IKM is an HMAC-SHA512 key (the parent's
        // algorithm does not choose the HKDF hash), and its 82-byte OKM an
        // HMAC-SHA512 key.
        let parent = import_hmac(&v, &tc.ikm);
        let out = if tc.okm.len() <= 64 {
            KV_ALG_HMAC_SHA256
        } else {
            KV_ALG_HMAC_SHA512
        };
        let kdf = Kdf {
            bits: tc.okm.len() as u32 * 8,
            salt: &tc.salt,
            info: &tc.info,
            ..Kdf::new(KV_HASH_SHA256, out)
        };
        let mut r = derive_req(parent, &kdf);
        assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut r), Ok(0), "{}", tc.name);
        assert_eq!(
            r.kdf.key_bits,
            tc.okm.len() as u32 * 8,
            "{}: key_bits",
            tc.name
        );
        let id = KeyId(r.new_key_id);
        assert_hmac_key(&v, id, out, &tc.okm, tc.name);
        // The OKM imported as a key MACs alike.
        let imported = ok(v.import(alg(out), &tc.okm, &KeyOptions::default()));
        assert_eq!(ok(v.mac(imported, MSG)), ok(v.mac(id, MSG)), "{}", tc.name);
    }
}

pub fn derive_with_hkdf_sha512_and_sha256_matches_rustcrypto_for_every_input_and_output_size() {
    let v = ok(Vault::open());
    // (hash, IKM, salt, info, output bytes)
    let cases: [(u32, usize, usize, usize, usize); 12] = [
        (KV_HASH_SHA512, 16, 0, 0, 64),
        (KV_HASH_SHA512, 64, 64, 16, 128),
        (KV_HASH_SHA512, 100, 128, 200, 65),
        (KV_HASH_SHA512, 128, 1024, 1024, 100),
        (KV_HASH_SHA512, 33, 7, 0, 16),
        (KV_HASH_SHA512, 65, 129, 1, 127),
        (KV_HASH_SHA256, 16, 0, 0, 32),
        (KV_HASH_SHA256, 64, 32, 32, 64),
        (KV_HASH_SHA256, 65, 100, 1024, 128),
        (KV_HASH_SHA256, 128, 1024, 0, 97),
        (KV_HASH_SHA256, 20, 1, 1, 17),
        (KV_HASH_SHA256, 40, 65, 300, 33),
    ];
    for (i, (hash, ikm_len, salt_len, info_len, out_len)) in cases.into_iter().enumerate() {
        let seed = 100 * i as u64;
        let (ikm, salt, info) = (
            data(ikm_len, seed),
            data(salt_len, seed + 1),
            data(info_len, seed + 2),
        );
        let parent = import_hmac(&v, &ikm);
        let out = if out_len <= 64 && i % 3 != 0 {
            KV_ALG_HMAC_SHA256
        } else {
            KV_ALG_HMAC_SHA512
        };
        let kdf = Kdf {
            bits: out_len as u32 * 8,
            salt: &salt,
            info: &info,
            ..Kdf::new(hash, out)
        };
        let what = format!("case {i}: hash {hash}, IKM {ikm_len}, salt {salt_len}, info {info_len}, {out_len} bytes");
        let id = must(derive(&v, parent, &kdf), &what);
        let want = host_hkdf(hash, &salt, &ikm, &info, out_len);
        assert_hmac_key(&v, id, out, &want, &what);
        ok(v.destroy(id));
        ok(v.destroy(parent));
    }
}

pub fn derive_makes_every_symmetric_algorithm_at_its_default_size_and_writes_the_size_back() {
    let v = ok(Vault::open());
    let ikm = data(32, 9);
    let parent = import_hmac(&v, &ikm);
    for (i, (a, default_bits)) in SYMMETRIC.into_iter().enumerate() {
        for bits in [0, default_bits] {
            let kdf = Kdf {
                bits,
                salt: b"salt",
                info: &[i as u8],
                ..Kdf::new(KV_HASH_SHA512, a)
            };
            let mut r = derive_req(parent, &kdf);
            let what = format!("{} asked for {bits} bits", alg(a));
            assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut r), Ok(0), "{what}");
            assert_eq!(
                r.kdf.key_bits, default_bits,
                "{what}: key_bits written back"
            );
            let want = host_hkdf(
                KV_HASH_SHA512,
                b"salt",
                &ikm,
                &[i as u8],
                default_bits as usize / 8,
            );
            assert_key(&v, KeyId(r.new_key_id), a, &want, &what);
        }
    }
    // A size other than the default is kept and reported as asked.
    for (a, bits) in [(KV_ALG_HMAC_SHA256, 384), (KV_ALG_HMAC_SHA512, 136)] {
        let mut r = derive_req(
            parent,
            &Kdf {
                bits,
                ..Kdf::new(KV_HASH_SHA256, a)
            },
        );
        assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut r), Ok(0));
        assert_eq!(r.kdf.key_bits, bits);
        let want = host_hkdf(KV_HASH_SHA256, b"", &ikm, b"", bits as usize / 8);
        assert_key(
            &v,
            KeyId(r.new_key_id),
            a,
            &want,
            &format!("{} of {bits} bits", alg(a)),
        );
    }
}

pub fn derive_is_deterministic_and_another_salt_info_hash_or_parent_gives_another_key() {
    let v = ok(Vault::open());
    let parent = import_hmac(&v, &data(32, 1));
    let other_parent = import_hmac(&v, &data(32, 2));
    let base = Kdf {
        salt: b"salt",
        info: b"info",
        ..HMAC256
    };
    let k1 = must(derive(&v, parent, &base), "first");
    let k2 = must(derive(&v, parent, &base), "second");
    assert_ne!(k1, k2, "two derives, one id");
    let mac = ok(v.mac(k1, MSG));
    assert_eq!(ok(v.mac(k2, MSG)), mac, "the same parameters made two keys");
    for (what, kdf, p) in [
        (
            "info",
            Kdf {
                info: b"inf0",
                ..base
            },
            parent,
        ),
        ("empty info", Kdf { info: b"", ..base }, parent),
        (
            "salt",
            Kdf {
                salt: b"salt2",
                ..base
            },
            parent,
        ),
        ("empty salt", Kdf { salt: b"", ..base }, parent),
        (
            "hash",
            Kdf {
                hash: KV_HASH_SHA512,
                ..base
            },
            parent,
        ),
        ("parent", base, other_parent),
    ] {
        let id = must(derive(&v, p, &kdf), what);
        assert_ne!(ok(v.mac(id, MSG)), mac, "another {what} made the same key");
    }
    // An empty info and an info of one zero byte are different infos.
    let empty = must(derive(&v, parent, &HMAC256), "empty info");
    let zero = must(
        derive(
            &v,
            parent,
            &Kdf {
                info: &[0],
                ..HMAC256
            },
        ),
        "info 00",
    );
    assert_ne!(ok(v.mac(empty, MSG)), ok(v.mac(zero, MSG)));
}

pub fn derive_from_a_key_that_cannot_derive_is_eopnotsupp() {
    let v = ok(Vault::open());
    for (a, _) in SYMMETRIC
        .into_iter()
        .filter(|&(a, _)| a != KV_ALG_HMAC_SHA256 && a != KV_ALG_HMAC_SHA512)
    {
        let id = ok(v.generate(alg(a)));
        fails(
            derive(&v, id, &HMAC256),
            Errno::EOPNOTSUPP,
            &alg(a).to_string(),
        );
    }
    let x = ok(v.generate(Algorithm::X25519));
    fails(derive(&v, x, &HMAC256), Errno::EOPNOTSUPP, "X25519");
    assert_eq!(n_keys(&v), 6);
}

pub fn derive_outside_the_parents_usage_is_eperm() {
    let v = ok(Vault::open());
    let key = data(32, 3);
    let mac_only = ok(v.import(Algorithm::HmacSha256, &key, &usage(Caps::MAC)));
    let derive_only = ok(v.import(Algorithm::HmacSha256, &key, &usage(Caps::DERIVE)));
    fails(
        derive(&v, mac_only, &HMAC256),
        Errno::EPERM,
        "MAC-only parent",
    );
    let child = must(derive(&v, derive_only, &HMAC256), "DERIVE-only parent");
    expect_errno(v.mac(derive_only, MSG), Errno::EPERM);
    // The child has its own policy: by default all an HMAC key can do.
    assert_eq!(ok(v.info(child)).usage, Caps::MAC | Caps::DERIVE);
    ok(v.mac(child, MSG));
}

pub fn derived_keys_take_the_policy_they_are_given() {
    let v = ok(Vault::open());
    let parent = import_hmac(&v, &data(32, 4));
    let limited = Kdf {
        policy: KvPolicy {
            usage: KV_CAP_MAC,
            max_uses: 2,
            ..Default::default()
        },
        ..HMAC256
    };
    let k = must(derive(&v, parent, &limited), "MAC-only, 2 uses");
    let info = ok(v.info(k));
    assert_eq!((info.usage, info.max_uses, info.uses), (Caps::MAC, 2, 0));
    ok(v.mac(k, MSG));
    ok(v.mac(k, MSG));
    expect_errno(v.mac(k, MSG), Errno::EDQUOT);
    fails(
        derive(&v, k, &HMAC256),
        Errno::EPERM,
        "DERIVE from a MAC-only child",
    );
    let aead = Kdf {
        policy: KvPolicy {
            flags: KV_POLICY_NO_CALLER_NONCE,
            ..Default::default()
        },
        ..Kdf::new(KV_HASH_SHA256, KV_ALG_CHACHA20_POLY1305)
    };
    let a = must(derive(&v, parent, &aead), "kernel nonces only");
    assert!(ok(v.info(a)).no_caller_nonce);
    expect_errno(v.aead_encrypt(a, MSG, b"", Some(&[1; 12])), Errno::EPERM);
    ok(v.aead_encrypt(a, MSG, b"", None));
    // Exchanged keys too.
    let x = ok(v.generate(Algorithm::X25519));
    let e = must(
        exchange(&v, x, &some_peer(), &limited),
        "exchanged, MAC-only",
    );
    assert_eq!(ok(v.info(e)).usage, Caps::MAC);
    fails(
        derive(&v, e, &HMAC256),
        Errno::EPERM,
        "DERIVE from a MAC-only exchanged key",
    );
}

// ---------------------------------------------------------------------------
// Lineage

pub fn derived_keys_expire_no_later_than_their_parent() {
    let v = ok(Vault::open());
    let parent = ok(v.import(Algorithm::HmacSha256, &data(32, 5), &ttl(300)));
    let child0 = must(derive(&v, parent, &HMAC256), "TTL 0");
    let child60 = must(
        derive(
            &v,
            parent,
            &Kdf {
                ttl_ms: 60_000,
                ..HMAC256
            },
        ),
        "TTL 60 s",
    );
    let grandchild = must(derive(&v, child0, &HMAC256), "grandchild");
    let short = must(
        derive(
            &v,
            parent,
            &Kdf {
                ttl_ms: 100,
                ..HMAC256
            },
        ),
        "TTL 100 ms",
    );
    ok(v.mac(child0, MSG));
    let p = must(getinfo(&v, parent), "parent");
    assert_ne!(p.expires_ms, 0);
    // Each key's expiry is its own creation time (wall clock, ms, read a
    // moment after its boot-clock creation instant) plus its TTL, both
    // rounded down: allow 1 ms of rounding.
    for (what, id) in [
        ("TTL 0", child0),
        ("TTL 60 s", child60),
        ("grandchild", grandchild),
    ] {
        let c = must(getinfo(&v, id), what);
        assert_ne!(c.expires_ms, 0, "{what}: no expiry");
        assert!(
            c.expires_ms <= p.expires_ms + 1,
            "{what}: expires at {}, after its parent ({})",
            c.expires_ms,
            p.expires_ms
        );
        assert!(
            c.expires_ms + 100 > p.expires_ms,
            "{what}: expires much earlier than its parent"
        );
    }
    let s = must(getinfo(&v, short), "TTL 100 ms");
    assert!(s.expires_ms <= s.created_ms + 100 && s.expires_ms < p.expires_ms);
    std::thread::sleep(Duration::from_millis(500));
    for (what, id) in [
        ("parent", parent),
        ("TTL 0", child0),
        ("TTL 60 s", child60),
        ("grandchild", grandchild),
        ("TTL 100 ms", short),
    ] {
        expect_errno(v.mac(id, MSG), Errno::EKEYEXPIRED);
        assert_eq!(
            must(getinfo(&v, id), what).state,
            KV_STATE_EXPIRED,
            "{what}"
        );
    }
    // A parent without a TTL leaves the child its own, or none.
    let forever = import_hmac(&v, &data(32, 6));
    let none = must(derive(&v, forever, &HMAC256), "no TTL");
    assert_eq!(must(getinfo(&v, none), "no TTL").expires_ms, 0);
    let own = must(
        derive(
            &v,
            forever,
            &Kdf {
                ttl_ms: 60_000,
                ..HMAC256
            },
        ),
        "own TTL",
    );
    let o = must(getinfo(&v, own), "own TTL");
    assert!(o.expires_ms >= o.created_ms + 59_999 && o.expires_ms <= o.created_ms + 60_000);
}

/// Asserts `id` is unusable because it (or an ancestor) was revoked.
#[track_caller]
fn assert_revoked(v: &Vault, id: KeyId, what: &str) {
    let info = must(getinfo(v, id), what);
    assert_eq!(info.state, KV_STATE_REVOKED, "{what}: GETINFO state");
    let r = if info.algorithm == KV_ALG_AES256_GCM {
        v.aead_encrypt(id, MSG, b"", None).map(drop)
    } else {
        v.mac(id, MSG).map(drop)
    };
    match r {
        Err(e) if e.errno() == Errno::EKEYREVOKED => {}
        other => panic!("{what}: expected EKEYREVOKED, got {other:?}"),
    }
    if info.algorithm != KV_ALG_AES256_GCM {
        fails(
            derive(v, id, &HMAC256),
            Errno::EKEYREVOKED,
            &format!("DERIVE from the {what}"),
        );
    }
}

pub fn revoking_a_key_revokes_its_children_and_grandchildren_but_not_its_parent() {
    let v = ok(Vault::open());
    let root = import_hmac(&v, &data(32, 7));
    let child = must(derive(&v, root, &HMAC256), "child");
    let grandchild = must(
        derive(
            &v,
            child,
            &Kdf {
                info: b"g",
                ..HMAC256
            },
        ),
        "grandchild",
    );
    let aead_grandchild = must(
        derive(&v, child, &Kdf::new(KV_HASH_SHA256, KV_ALG_AES256_GCM)),
        "AEAD grandchild",
    );
    let sibling = must(
        derive(
            &v,
            root,
            &Kdf {
                info: b"s",
                ..HMAC256
            },
        ),
        "sibling",
    );
    let unrelated = import_hmac(&v, &data(32, 8));
    ok(v.mac(grandchild, MSG));
    ok(v.revoke(root));
    assert_revoked(&v, root, "root");
    assert_revoked(&v, child, "child");
    assert_revoked(&v, grandchild, "grandchild");
    assert_revoked(&v, aead_grandchild, "AEAD grandchild");
    assert_revoked(&v, sibling, "sibling");
    ok(v.mac(unrelated, MSG));

    // Revoking a key in the middle: it and what comes from it, not its
    // parent or its sibling.
    let root = import_hmac(&v, &data(32, 9));
    let mid = must(derive(&v, root, &HMAC256), "middle key");
    let leaf = must(derive(&v, mid, &HMAC256), "leaf");
    let mid_sibling = must(
        derive(
            &v,
            root,
            &Kdf {
                info: b"s",
                ..HMAC256
            },
        ),
        "sibling",
    );
    ok(v.revoke(mid));
    assert_revoked(&v, mid, "middle key");
    assert_revoked(&v, leaf, "leaf");
    ok(v.mac(root, MSG));
    ok(v.mac(mid_sibling, MSG));
    assert_eq!(must(getinfo(&v, root), "root").state, KV_STATE_ACTIVE);
    must(
        derive(&v, root, &HMAC256),
        "DERIVE from the parent of a revoked key",
    );

    // An exchanged key descends from its X25519 key.
    let x = ok(v.generate(Algorithm::X25519));
    let exchanged = must(exchange(&v, x, &some_peer(), &HMAC256), "exchanged");
    let below = must(
        derive(&v, exchanged, &HMAC256),
        "derived from the exchanged key",
    );
    ok(v.mac(below, MSG));
    ok(v.revoke(x));
    assert_revoked(&v, exchanged, "exchanged key");
    assert_revoked(&v, below, "key derived from the exchanged key");
}

pub fn destroying_a_parent_leaves_its_children_usable_and_still_revocable_as_a_line() {
    let v = ok(Vault::open());
    let ikm = data(32, 9);
    let root = import_hmac(&v, &ikm);
    let child = must(derive(&v, root, &HMAC256), "child");
    let grandchild = must(derive(&v, child, &HMAC256), "grandchild");
    let x = ok(v.generate(Algorithm::X25519));
    let exchanged = must(exchange(&v, x, &some_peer(), &HMAC256), "exchanged");
    ok(v.destroy(root));
    ok(v.destroy(x));
    let okm = host_hkdf(KV_HASH_SHA256, b"", &ikm, b"", 32);
    assert_hmac_key(
        &v,
        child,
        KV_ALG_HMAC_SHA256,
        &okm,
        "child after its parent was destroyed",
    );
    ok(v.mac(exchanged, MSG));
    assert_eq!(must(getinfo(&v, child), "child").state, KV_STATE_ACTIVE);
    must(derive(&v, child, &HMAC256), "DERIVE from the child");
    // The line below the destroyed key is intact: revoking the child still
    // revokes the grandchild.
    ok(v.revoke(child));
    expect_errno(v.mac(grandchild, MSG), Errno::EKEYREVOKED);
}

pub fn derivation_goes_at_most_8_generations_deep() {
    let v = ok(Vault::open());
    let root = ok(v.generate(Algorithm::HmacSha256));
    let mut cur = root;
    for generation in 1..=KV_MAX_LINEAGE {
        cur = must(
            derive(&v, cur, &HMAC256),
            &format!("generation {generation}"),
        );
    }
    ok(v.mac(cur, MSG));
    fails(derive(&v, cur, &HMAC256), Errno::EINVAL, "generation 9");
    assert_eq!(n_keys(&v), 9, "the refused generation left a key");
    // An exchanged key is the first generation below its X25519 key.
    let x = ok(v.generate(Algorithm::X25519));
    let mut cur = must(
        exchange(&v, x, &some_peer(), &HMAC256),
        "exchanged, generation 1",
    );
    for generation in 2..=KV_MAX_LINEAGE {
        cur = must(
            derive(&v, cur, &HMAC256),
            &format!("generation {generation} below X25519"),
        );
    }
    fails(
        derive(&v, cur, &HMAC256),
        Errno::EINVAL,
        "generation 9 below X25519",
    );
    assert_eq!(n_keys(&v), 18);
}

// ---------------------------------------------------------------------------
// Quota, hostile requests, no secret output

pub fn derived_and_exchanged_keys_count_against_the_vault_key_quota() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let mut last = None;
    let mut made = 0;
    loop {
        match v.generate(Algorithm::Aes128Gcm) {
            Ok(id) => last = Some(id),
            Err(e) => {
                assert_eq!(e.errno(), Errno::EDQUOT, "{e}");
                break;
            }
        }
        made += 1;
        assert!(made <= 1 << 20, "no quota");
    }
    let full = n_keys(&v);
    fails(
        derive(&v, h, &HMAC256),
        Errno::EDQUOT,
        "DERIVE in a full vault",
    );
    fails(
        exchange(&v, x, &peer, &HMAC256),
        Errno::EDQUOT,
        "KEYEXCHANGE in a full vault",
    );
    ok(v.destroy(last.unwrap()));
    let d = must(derive(&v, h, &HMAC256), "DERIVE after a destroy");
    fails(
        exchange(&v, x, &peer, &HMAC256),
        Errno::EDQUOT,
        "KEYEXCHANGE, full again",
    );
    ok(v.destroy(d));
    must(
        exchange(&v, x, &peer, &HMAC256),
        "KEYEXCHANGE after a destroy",
    );
    assert_eq!(n_keys(&v), full);
}

pub fn derive_and_exchange_with_nonzero_reserved_fields_or_bad_child_policies_are_einval() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    for field in 0..5 {
        let mut d = derive_req(h, &HMAC256);
        let mut e = exchange_req(x, &peer, &HMAC256);
        match field {
            0 => {
                d.kdf.reserved0 = 1;
                e.kdf.reserved0 = 1;
            }
            // A child policy naming no algorithm bit, an asymmetric one, or
            // a capability that is no usage.
            1 => (d.child.algorithms, e.child.algorithms) = (1, 1),
            2 => (d.child.algorithms, e.child.algorithms) = (1 << KV_ALG_ED25519, 1 << KV_ALG_X25519),
            3 => (d.child.usage, e.child.usage) = (KV_CAP_GENKEY, KV_CAP_IMPORT),
            _ => (d.child.algorithms, e.child.algorithms) = (1 << 12, 1 << 31),
        }
        expect_raw(ioctl(&v, KV_IOC_DERIVE, &mut d), Errno::EINVAL);
        expect_raw(ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e), Errno::EINVAL);
        assert_eq!(
            (d.new_key_id, e.new_key_id),
            (0, 0),
            "reserved field {field}: an id came back"
        );
    }
    assert_eq!(n_keys(&v), 2);
}

pub fn derive_and_exchange_take_salt_and_info_of_up_to_1024_bytes_and_refuse_1025_with_einval() {
    let v = ok(Vault::open());
    let ikm = data(32, 10);
    let h = import_hmac(&v, &ikm);
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let big = data(KV_KDF_MAX_INPUT as usize + 1, 11);
    let (max, over) = (&big[..1024], &big[..]);
    for (what, kdf) in [
        (
            "salt of 1025",
            Kdf {
                salt: over,
                ..HMAC256
            },
        ),
        (
            "info of 1025",
            Kdf {
                info: over,
                ..HMAC256
            },
        ),
    ] {
        fails(
            derive(&v, h, &kdf),
            Errno::EINVAL,
            &format!("DERIVE, {what}"),
        );
        fails(
            exchange(&v, x, &peer, &kdf),
            Errno::EINVAL,
            &format!("KEYEXCHANGE, {what}"),
        );
    }
    // Lengths far past the limit are refused before any pointer is read.
    let mut d = derive_req(h, &HMAC256);
    d.kdf.salt_len = u32::MAX;
    expect_raw(ioctl(&v, KV_IOC_DERIVE, &mut d), Errno::EINVAL);
    let mut d = derive_req(h, &HMAC256);
    d.kdf.info_len = u32::MAX;
    expect_raw(ioctl(&v, KV_IOC_DERIVE, &mut d), Errno::EINVAL);
    assert_eq!(n_keys(&v), 2);
    let kdf = Kdf {
        salt: max,
        info: max,
        ..HMAC256
    };
    let id = must(derive(&v, h, &kdf), "salt and info of 1024");
    let want = host_hkdf(KV_HASH_SHA256, max, &ikm, max, 32);
    assert_hmac_key(&v, id, KV_ALG_HMAC_SHA256, &want, "salt and info of 1024");
    must(
        exchange(&v, x, &peer, &kdf),
        "KEYEXCHANGE, salt and info of 1024",
    );
}

pub fn derive_and_exchange_accept_null_salt_and_info_pointers_when_empty() {
    let v = ok(Vault::open());
    let ikm = data(40, 12);
    let h = import_hmac(&v, &ikm);
    let x = import_x25519(&v, &arr(ALICE_PRIVATE));
    let mut d = derive_req(h, &HMAC256);
    (d.kdf.salt_ptr, d.kdf.info_ptr) = (0, 0);
    assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut d), Ok(0));
    let want = host_hkdf(KV_HASH_SHA256, b"", &ikm, b"", 32);
    assert_hmac_key(
        &v,
        KeyId(d.new_key_id),
        KV_ALG_HMAC_SHA256,
        &want,
        "DERIVE, null salt and info",
    );
    let bob: [u8; 32] = arr(BOB_PUBLIC);
    let mut e = exchange_req(x, &bob, &HMAC256);
    (e.kdf.salt_ptr, e.kdf.info_ptr) = (0, 0);
    assert_eq!(ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e), Ok(0));
    let want = host_hkdf(KV_HASH_SHA256, b"", &hex(SHARED), b"", 32);
    assert_hmac_key(
        &v,
        KeyId(e.new_key_id),
        KV_ALG_HMAC_SHA256,
        &want,
        "KEYEXCHANGE, null salt and info",
    );
}

pub fn derive_and_exchange_with_a_bad_salt_info_or_peer_pointer_are_efault_and_leave_no_key() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let page = Straddle::new();
    // 16 bytes of which the last runs into an unmapped page.
    let cut16 = page.fill(&[1; 16], 1) as u64;
    for (what, addr) in [
        ("null", 0u64),
        ("kernel", KERNEL_ADDR as u64),
        ("cut off", cut16),
    ] {
        for field in ["salt", "info"] {
            let mut d = derive_req(h, &HMAC256);
            let mut e = exchange_req(x, &peer, &HMAC256);
            for k in [&mut d.kdf, &mut e.kdf] {
                if field == "salt" {
                    (k.salt_ptr, k.salt_len) = (addr, 16);
                } else {
                    (k.info_ptr, k.info_len) = (addr, 16);
                }
            }
            let case = format!("{what} {field} pointer");
            assert_eq!(
                ioctl(&v, KV_IOC_DERIVE, &mut d),
                Err(Errno::EFAULT),
                "DERIVE, {case}"
            );
            assert_eq!(
                ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e),
                Err(Errno::EFAULT),
                "KEYEXCHANGE, {case}"
            );
        }
    }
    let cut32 = page.fill(&peer, 1) as u64;
    for (what, addr) in [
        ("null", 0u64),
        ("kernel", KERNEL_ADDR as u64),
        ("cut off", cut32),
    ] {
        let mut e = exchange_req(x, &peer, &HMAC256);
        e.peer_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e),
            Err(Errno::EFAULT),
            "{what} peer pointer"
        );
    }
    assert_eq!(n_keys(&v), 2, "a failed request left a key");
}

pub fn derive_and_exchange_whose_result_cannot_be_written_back_leave_no_key() {
    let v = ok(Vault::open());
    let h = ok(v.generate(Algorithm::HmacSha256));
    let x = ok(v.generate(Algorithm::X25519));
    let peer = some_peer();
    let m = Mapping::new(4096);
    let d = m.put(derive_req(h, &HMAC256));
    m.read_only();
    expect_raw(ioctl_addr(&v, KV_IOC_DERIVE, d as usize), Errno::EFAULT);
    let m = Mapping::new(4096);
    let e = m.put(exchange_req(x, &peer, &HMAC256));
    m.read_only();
    expect_raw(
        ioctl_addr(&v, KV_IOC_KEYEXCHANGE, e as usize),
        Errno::EFAULT,
    );
    assert_eq!(
        n_keys(&v),
        2,
        "a key whose id never reached the caller was left"
    );
}

pub fn derive_and_exchange_return_only_the_new_keys_id_and_size() {
    let v = ok(Vault::open());
    let h = import_hmac(&v, &data(32, 13));
    let x = import_x25519(&v, &arr(ALICE_PRIVATE));
    let salt = data(20, 14);
    let info = data(30, 15);
    let kdf = Kdf {
        salt: &salt,
        info: &info,
        ttl_ms: 60_000,
        ..Kdf::new(KV_HASH_SHA512, KV_ALG_AES256_GCM)
    };
    let peer: [u8; 32] = arr(BOB_PUBLIC);
    let before_d = derive_req(h, &kdf);
    let before_e = exchange_req(x, &peer, &kdf);
    let (mut d, mut e) = (before_d, before_e);
    assert_eq!(ioctl(&v, KV_IOC_DERIVE, &mut d), Ok(0));
    assert_eq!(ioctl(&v, KV_IOC_KEYEXCHANGE, &mut e), Ok(0));
    // Only new_key_id and kdf.key_bits change; no pointer to write a secret to
    // exists, and the inputs are as they were.
    let mut want_d = before_d;
    want_d.new_key_id = d.new_key_id;
    want_d.kdf.key_bits = 256;
    assert_eq!(d, want_d, "DERIVE wrote other fields back");
    let mut want_e = before_e;
    want_e.new_key_id = e.new_key_id;
    want_e.kdf.key_bits = 256;
    assert_eq!(e, want_e, "KEYEXCHANGE wrote other fields back");
    assert!(
        salt == data(20, 14) && info == data(30, 15) && peer == arr::<32>(BOB_PUBLIC),
        "an input buffer was written"
    );
    let ids = ok(v.list());
    for (what, id) in [("derived", d.new_key_id), ("exchanged", e.new_key_id)] {
        assert!(
            ids.contains(&KeyId(id)),
            "LIST does not show the {what} key"
        );
        let i = must(getinfo(&v, KeyId(id)), what);
        assert_eq!(
            (i.algorithm, i.key_bits, i.state, i.policy.usage, i.uses),
            (
                KV_ALG_AES256_GCM,
                256,
                KV_STATE_ACTIVE,
                KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
                0
            ),
            "{what}: GETINFO"
        );
        assert!(i.expires_ms > i.created_ms, "{what}: TTL");
        // Nothing reads a symmetric key's bytes out: no public half either.
        fails(
            pubkey(&v, KeyId(id)),
            Errno::EOPNOTSUPP,
            &format!("GET_PUBKEY of the {what} key"),
        );
    }
    assert_ne!(d.new_key_id, e.new_key_id);
}

// ---------------------------------------------------------------------------
// Ed25519 (every test name starts with `ed25519_`)

fn import_ed25519(v: &Vault, seed: &[u8; 32]) -> KeyId {
    ok(v.import(Algorithm::Ed25519, seed, &KeyOptions::default()))
}

fn dalek_sign(seed: &[u8; 32], msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    (key.verifying_key().to_bytes(), key.sign(msg).to_bytes())
}

fn dalek_verify_strict(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    ed25519_dalek::VerifyingKey::from_bytes(public).is_ok_and(|k| {
        k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    })
}

/// The group order L, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The signature with S replaced by S + L: the same value mod L, a
/// non-canonical encoding (malleability), which must not verify.
fn with_s_plus_l(sig: &[u8; 64]) -> [u8; 64] {
    let mut out = *sig;
    let mut carry = 0u16;
    for (o, l) in out[32..].iter_mut().zip(ED25519_L) {
        let sum = *o as u16 + l as u16 + carry;
        *o = sum as u8;
        carry = sum >> 8;
    }
    out
}

pub fn ed25519_rfc_8032_vectors_through_import_get_pubkey_sign_and_verify() {
    let v = ok(Vault::open());
    for (name, seed, public, msg, sig) in RFC8032 {
        let (seed, public, msg, sig) =
            (arr::<32>(seed), arr::<32>(public), hex(msg), arr::<64>(sig));
        let id = import_ed25519(&v, &seed);
        let info = ok(v.info(id));
        assert_eq!(
            (info.algorithm, info.bits),
            (Some(Algorithm::Ed25519), 256),
            "{name}"
        );
        assert_eq!(must(pubkey(&v, id), name), public, "{name}: public key");
        assert_eq!(must(sign(&v, id, &msg), name), sig, "{name}: signature");
        must(
            verify_with_key(&v, id, &msg, &sig),
            &format!("{name}: VERIFY with the key"),
        );
        must(
            verify_with_public(&v, &public, &msg, &sig),
            &format!("{name}: VERIFY with the public key"),
        );
        let mut longer = msg.clone();
        longer.push(0);
        fails(
            verify_with_key(&v, id, &longer, &sig),
            Errno::EBADMSG,
            &format!("{name}: another message"),
        );
        fails(
            verify_with_public(&v, &public, &longer, &sig),
            Errno::EBADMSG,
            &format!("{name}: another message"),
        );
    }
}

pub fn ed25519_generated_keys_make_signatures_that_ed25519_dalek_verifies() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Ed25519));
    let b = ok(v.generate(Algorithm::Ed25519));
    let info = ok(v.info(a));
    assert_eq!((info.algorithm, info.bits), (Some(Algorithm::Ed25519), 256));
    assert_eq!(info.usage, Caps::SIGN | Caps::VERIFY);
    let (pa, pb) = (must(pubkey(&v, a), "a"), must(pubkey(&v, b), "b"));
    assert_ne!(pa, pb, "two generated keys with one public key");
    for len in [0, 1, 64, 1000] {
        let msg = data(len, len as u64);
        let sig = must(sign(&v, a, &msg), "SIGN");
        assert!(
            dalek_verify_strict(&pa, &msg, &sig),
            "{len} bytes: ed25519-dalek refuses the signature"
        );
        assert_eq!(
            must(sign(&v, a, &msg), "SIGN again"),
            sig,
            "Ed25519 is deterministic"
        );
        must(verify_with_key(&v, a, &msg, &sig), "VERIFY");
        fails(
            verify_with_key(&v, b, &msg, &sig),
            Errno::EBADMSG,
            "VERIFY with the other key",
        );
    }
}

pub fn ed25519_public_keys_and_signatures_equal_ed25519_dalek_for_200_random_seeds_and_messages() {
    let v = ok(Vault::open());
    for i in 0..200u64 {
        let seed = rand32(6000 + i);
        let len = match i {
            199 => 65536,
            198 => 4096,
            _ => (i as usize * 37) % 300,
        };
        let msg = data(len, 7000 + i);
        let (public, want) = dalek_sign(&seed, &msg);
        let id = import_ed25519(&v, &seed);
        let what = format!("seed {i}, {len} bytes");
        assert_eq!(must(pubkey(&v, id), &what), public, "{what}: public key");
        assert_eq!(must(sign(&v, id, &msg), &what), want, "{what}: signature");
        must(verify_with_public(&v, &public, &msg, &want), &what);
        ok(v.destroy(id));
    }
}

pub fn ed25519_tampered_signatures_messages_and_keys_are_ebadmsg() {
    let v = ok(Vault::open());
    let seed = rand32(8000);
    let msg = data(32, 8001);
    let id = import_ed25519(&v, &seed);
    let public = must(pubkey(&v, id), "public key");
    let sig = must(sign(&v, id, &msg), "SIGN");
    must(
        verify_with_public(&v, &public, &msg, &sig),
        "the untampered signature",
    );
    let mut accepted = Vec::new();
    for bit in 0..512 {
        let mut bad = sig;
        bad[bit / 8] ^= 1 << (bit % 8);
        match verify_with_public(&v, &public, &msg, &bad) {
            Err(Errno::EBADMSG) => {}
            other => accepted.push(format!("signature bit {bit}: {other:?}")),
        }
    }
    for bit in 0..msg.len() * 8 {
        let mut bad = msg.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        match verify_with_key(&v, id, &bad, &sig) {
            Err(Errno::EBADMSG) => {}
            other => accepted.push(format!("message bit {bit}: {other:?}")),
        }
    }
    assert!(accepted.is_empty(), "tampering not caught: {accepted:?}");
    let longer = [&msg[..], &[0u8]].concat();
    for (what, m) in [
        ("truncated message", &msg[..31]),
        ("empty message", &[][..]),
        ("longer message", &longer[..]),
    ] {
        fails(
            verify_with_public(&v, &public, m, &sig),
            Errno::EBADMSG,
            what,
        );
    }
    let other = import_ed25519(&v, &rand32(8002));
    let other_public = must(pubkey(&v, other), "other public key");
    fails(
        verify_with_key(&v, other, &msg, &sig),
        Errno::EBADMSG,
        "another vault key",
    );
    fails(
        verify_with_public(&v, &other_public, &msg, &sig),
        Errno::EBADMSG,
        "another public key",
    );
    fails(
        verify_with_public(&v, &public, &msg, &with_s_plus_l(&sig)),
        Errno::EBADMSG,
        "S + L",
    );
    fails(
        verify_with_public(&v, &public, &msg, &[0; 64]),
        Errno::EBADMSG,
        "all-zero signature",
    );
    // The identity (small order) as public key, with a signature (R =
    // identity, S = 0) that its cofactorless equation accepts.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut trivial = [0u8; 64];
    trivial[0] = 1;
    fails(
        verify_with_public(&v, &identity, &msg, &trivial),
        Errno::EBADMSG,
        "small-order public key",
    );
}

pub fn ed25519_sign_below_64_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing() {
    let v = ok(Vault::open());
    let (name, seed, _, msg, sig) = RFC8032[2];
    let id = import_ed25519(&v, &arr(seed));
    let msg = hex(msg);
    for cap in [0, 1, 63] {
        let mut buf = vec![CANARY; 128];
        let mut r = sign_req(id, &msg, &mut buf, cap);
        expect_raw(ioctl(&v, KV_IOC_SIGN, &mut r), Errno::ENOSPC);
        assert_eq!(r.sig_len, 64, "room for {cap}: the needed length");
        assert_untouched(&buf, &format!("room for {cap}"));
    }
    for cap in [64, 65, 128] {
        let mut buf = vec![CANARY; 128];
        let mut r = sign_req(id, &msg, &mut buf, cap);
        assert_eq!(ioctl(&v, KV_IOC_SIGN, &mut r), Ok(0), "room for {cap}");
        assert_eq!(r.sig_len, 64, "room for {cap}");
        assert_eq!(buf[..64], arr::<64>(sig), "{name}, room for {cap}");
        assert_untouched(&buf[64..], &format!("room for {cap}: past the signature"));
    }
}

pub fn ed25519_import_takes_a_32_byte_seed_and_genkey_only_256_bits() {
    let v = ok(Vault::open());
    let buf = [0x42u8; 128];
    for len in [0, 16, 31, 33, 64] {
        expect_errno(
            v.import(Algorithm::Ed25519, &buf[..len], &KeyOptions::default()),
            Errno::EINVAL,
        );
    }
    for bits in [128, 255, 512] {
        expect_errno(
            v.generate_with(Algorithm::Ed25519, &with(|o| o.bits = bits)),
            Errno::EINVAL,
        );
    }
    assert_eq!(n_keys(&v), 0);
    let id = ok(v.generate_with(Algorithm::Ed25519, &with(|o| o.bits = 256)));
    assert_eq!(ok(v.info(id)).bits, 256);
}

pub fn ed25519_verify_takes_a_key_id_or_a_public_key_not_both_and_reserved_fields_must_be_0() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[1];
    let (public, msg, sig) = (arr::<32>(public), hex(msg), arr::<64>(sig));
    let id = import_ed25519(&v, &arr(seed));
    let mut both = verify_req(id, Some(&public), &msg, &sig);
    expect_raw(ioctl(&v, KV_IOC_VERIFY, &mut both), Errno::EINVAL);
    // Key id 0 and no public key: the public key is read from address 0.
    let mut neither = verify_req(KeyId(0), None, &msg, &sig);
    expect_raw(ioctl(&v, KV_IOC_VERIFY, &mut neither), Errno::EFAULT);
    for field in 0..3 {
        for with_key in [true, false] {
            let mut r = if with_key {
                verify_req(id, None, &msg, &sig)
            } else {
                verify_req(KeyId(0), Some(&public), &msg, &sig)
            };
            match field {
                0 => r.reserved0 = 1,
                i => r.reserved[i - 1] = 1,
            }
            expect_raw(ioctl(&v, KV_IOC_VERIFY, &mut r), Errno::EINVAL);
        }
    }
    for i in 0..2 {
        let mut buf = vec![CANARY; 64];
        let mut r = sign_req(id, &msg, &mut buf, 64);
        r.reserved[i] = 1;
        expect_raw(ioctl(&v, KV_IOC_SIGN, &mut r), Errno::EINVAL);
        assert_untouched(&buf, &format!("SIGN, reserved[{i}]"));
    }
}

pub fn ed25519_an_empty_message_signs_and_verifies_even_with_a_null_data_pointer() {
    let v = ok(Vault::open());
    let (_, seed, public, _, sig) = RFC8032[0];
    let (public, sig) = (arr::<32>(public), arr::<64>(sig));
    let id = import_ed25519(&v, &arr(seed));
    let mut out = [0u8; 64];
    let mut r = sign_req(id, &[], &mut out, 64);
    r.data_ptr = 0;
    assert_eq!(ioctl(&v, KV_IOC_SIGN, &mut r), Ok(0));
    assert_eq!(out, sig, "TEST 1 (empty message)");
    let mut r = verify_req(KeyId(0), Some(&public), &[], &sig);
    r.data_ptr = 0;
    assert_eq!(ioctl(&v, KV_IOC_VERIFY, &mut r), Ok(0));
    let mut r = verify_req(id, None, &[], &sig);
    r.data_ptr = 0;
    assert_eq!(ioctl(&v, KV_IOC_VERIFY, &mut r), Ok(0));
}

pub fn ed25519_sign_and_verify_with_bad_pointers_are_efault() {
    let v = ok(Vault::open());
    let (_, seed, public, _, _) = RFC8032[2];
    let public: [u8; 32] = arr(public);
    let id = import_ed25519(&v, &arr(seed));
    let msg = data(64, 9000);
    let sig = must(sign(&v, id, &msg), "SIGN");
    // The read-only mapping first: made after the straddle, it could land
    // in the straddle's unmapped page.
    let ro = Mapping::new(4096);
    ro.read_only();
    let page = Straddle::new();
    let cut_msg = page.fill(&msg, 1) as u64;
    for (what, addr) in [
        ("null", 0u64),
        ("kernel", KERNEL_ADDR as u64),
        ("cut off", cut_msg),
    ] {
        let mut out = [0u8; 64];
        let mut r = sign_req(id, &msg, &mut out, 64);
        r.data_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_SIGN, &mut r),
            Err(Errno::EFAULT),
            "SIGN, {what} message"
        );
        let mut r = verify_req(KeyId(0), Some(&public), &msg, &sig);
        r.data_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY, &mut r),
            Err(Errno::EFAULT),
            "VERIFY, {what} message"
        );
    }
    for (what, addr) in [
        ("null", 0u64),
        ("kernel", KERNEL_ADDR as u64),
        ("read-only", ro.addr as u64),
    ] {
        let mut out = [0u8; 64];
        let mut r = sign_req(id, &msg, &mut out, 64);
        r.sig_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_SIGN, &mut r),
            Err(Errno::EFAULT),
            "SIGN, {what} signature"
        );
    }
    let cut_sig = page.fill(&sig, 1) as u64;
    for (what, addr) in [
        ("null", 0u64),
        ("kernel", KERNEL_ADDR as u64),
        ("cut off", cut_sig),
    ] {
        let mut r = verify_req(id, None, &msg, &sig);
        r.sig_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY, &mut r),
            Err(Errno::EFAULT),
            "VERIFY, {what} signature"
        );
    }
    let cut_pub = page.fill(&public, 1) as u64;
    for (what, addr) in [("kernel", KERNEL_ADDR as u64), ("cut off", cut_pub)] {
        let mut r = verify_req(KeyId(0), Some(&public), &msg, &sig);
        r.pubkey_ptr = addr;
        assert_eq!(
            ioctl(&v, KV_IOC_VERIFY, &mut r),
            Err(Errno::EFAULT),
            "VERIFY, {what} public key"
        );
    }
}

pub fn ed25519_sign_and_verify_with_a_key_of_another_type_are_eopnotsupp_and_ed25519_keys_do_nothing_else(
) {
    let v = ok(Vault::open());
    let msg = b"message";
    let sig = [0u8; 64];
    for (a, _) in SYMMETRIC {
        let id = ok(v.generate(alg(a)));
        fails(
            sign(&v, id, msg),
            Errno::EOPNOTSUPP,
            &format!("SIGN with {}", alg(a)),
        );
        fails(
            verify_with_key(&v, id, msg, &sig),
            Errno::EOPNOTSUPP,
            &format!("VERIFY with {}", alg(a)),
        );
    }
    let x = ok(v.generate(Algorithm::X25519));
    fails(sign(&v, x, msg), Errno::EOPNOTSUPP, "SIGN with X25519");
    fails(
        verify_with_key(&v, x, msg, &sig),
        Errno::EOPNOTSUPP,
        "VERIFY with X25519",
    );
    let ed = ok(v.generate(Algorithm::Ed25519));
    expect_errno(v.mac(ed, msg), Errno::EOPNOTSUPP);
    expect_errno(v.aead_encrypt(ed, msg, b"", None), Errno::EOPNOTSUPP);
    fails(
        derive(&v, ed, &HMAC256),
        Errno::EOPNOTSUPP,
        "DERIVE from Ed25519",
    );
    fails(
        exchange(&v, ed, &some_peer(), &HMAC256),
        Errno::EOPNOTSUPP,
        "KEYEXCHANGE with Ed25519",
    );
    assert_eq!(n_keys(&v), SYMMETRIC.len() + 2);
}

pub fn ed25519_keys_follow_their_usage_policy() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[1];
    let (seed, public, msg, sig) = (arr::<32>(seed), arr::<32>(public), hex(msg), arr::<64>(sig));
    let sign_only = ok(v.import(Algorithm::Ed25519, &seed, &usage(Caps::SIGN)));
    let verify_only = ok(v.import(Algorithm::Ed25519, &seed, &usage(Caps::VERIFY)));
    assert_eq!(must(sign(&v, sign_only, &msg), "sign-only key"), sig);
    fails(
        verify_with_key(&v, sign_only, &msg, &sig),
        Errno::EPERM,
        "VERIFY with a sign-only key",
    );
    // Its public key, given to VERIFY, needs no key usage.
    assert_eq!(must(pubkey(&v, sign_only), "sign-only key"), public);
    must(
        verify_with_public(&v, &public, &msg, &sig),
        "its public key",
    );
    fails(
        sign(&v, verify_only, &msg),
        Errno::EPERM,
        "SIGN with a verify-only key",
    );
    must(
        verify_with_key(&v, verify_only, &msg, &sig),
        "verify-only key",
    );
    for u in [
        Caps::EXCHANGE,
        Caps::MAC,
        Caps::DERIVE,
        Caps::ENCRYPT,
        Caps::SIGN | Caps::MAC,
    ] {
        expect_errno(
            v.import(Algorithm::Ed25519, &seed, &usage(u)),
            Errno::EINVAL,
        );
    }
    let twice = ok(v.import(Algorithm::Ed25519, &seed, &with(|o| o.max_uses = 2)));
    must(sign(&v, twice, &msg), "use 1");
    must(sign(&v, twice, &msg), "use 2");
    fails(sign(&v, twice, &msg), Errno::EDQUOT, "use 3");
}

pub fn ed25519_sign_and_verify_need_their_capabilities() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[2];
    let (public, msg, sig) = (arr::<32>(public), hex(msg), arr::<64>(sig));
    let id = import_ed25519(&v, &arr(seed));
    let no_sign = without(&v, KV_CAP_SIGN);
    fails(sign(&no_sign, id, &msg), Errno::EPERM, "SIGN without SIGN");
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_sign, KV_IOC_SIGN, addr), Errno::EPERM);
    }
    must(
        verify_with_key(&no_sign, id, &msg, &sig),
        "VERIFY without SIGN",
    );
    let no_verify = without(&v, KV_CAP_VERIFY);
    fails(
        verify_with_key(&no_verify, id, &msg, &sig),
        Errno::EPERM,
        "VERIFY (key) without VERIFY",
    );
    fails(
        verify_with_public(&no_verify, &public, &msg, &sig),
        Errno::EPERM,
        "VERIFY (public key) without VERIFY",
    );
    for addr in [0, KERNEL_ADDR] {
        expect_raw(ioctl_addr(&no_verify, KV_IOC_VERIFY, addr), Errno::EPERM);
    }
    assert_eq!(must(sign(&no_verify, id, &msg), "SIGN without VERIFY"), sig);
    let only_verify = ok(v.dup(Caps::VERIFY, None));
    must(
        verify_with_public(&only_verify, &public, &msg, &sig),
        "a VERIFY-only handle",
    );
    must(
        verify_with_key(&only_verify, id, &msg, &sig),
        "a VERIFY-only handle, with the key",
    );
}

pub fn ed25519_revoked_or_expired_keys_cannot_sign_or_verify_but_keep_their_public_key() {
    let v = ok(Vault::open());
    let (_, seed, public, msg, sig) = RFC8032[4];
    let (seed, public, msg, sig) = (arr::<32>(seed), arr::<32>(public), hex(msg), arr::<64>(sig));
    let revoked = import_ed25519(&v, &seed);
    ok(v.revoke(revoked));
    let expired = ok(v.import(Algorithm::Ed25519, &seed, &ttl(100)));
    std::thread::sleep(Duration::from_millis(300));
    for (what, id, want) in [
        ("revoked", revoked, Errno::EKEYREVOKED),
        ("expired", expired, Errno::EKEYEXPIRED),
    ] {
        fails(sign(&v, id, &msg), want, &format!("SIGN, {what}"));
        fails(
            verify_with_key(&v, id, &msg, &sig),
            want,
            &format!("VERIFY, {what}"),
        );
        assert_eq!(must(pubkey(&v, id), what), public, "{what}: GET_PUBKEY");
    }
    must(
        verify_with_public(&v, &public, &msg, &sig),
        "VERIFY with the public key of a revoked key",
    );
}

pub fn ed25519_libkeyvault_verify_rejects_a_forgery_as_a_verification_failure() {
    use keyvault::ed25519::Signature;
    use keyvault::signature::Verifier;
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::Ed25519));
    let other = ok(v.generate(Algorithm::Ed25519));
    let public = ok(v.public_key(id));
    let msg = data(100, 8100);
    let sig = ok(v.sign(id, &msg));
    let mut forged = sig;
    forged[0] ^= 1;
    ok(v.verify(id, &msg, &sig));
    ok(v.verify_with_public_key(&public, &msg, &sig));
    expect_verification_failure(v.verify(id, &msg, &forged), "forged, with the key");
    expect_verification_failure(
        v.verify_with_public_key(&public, &msg, &forged),
        "forged, with the public key",
    );
    expect_verification_failure(v.verify(other, &msg, &sig), "another key");
    // A check that could not be made is an error too, but not a verdict.
    let no_verify = without(&v, KV_CAP_VERIFY);
    let e = no_verify.verify(id, &msg, &sig).unwrap_err();
    assert_eq!(e.errno(), Errno::EPERM);
    assert!(!e.is_verification_failure(), "EPERM taken for a forgery");

    // Through the RustCrypto trait: a forgery is an error without a source,
    // a check that could not be made one whose source is the kernel's error.
    let key = v.signing_key(id);
    key.verify(&msg, &Signature::from_bytes(&sig))
        .expect("the trait accepts the good signature");
    let e = key
        .verify(&msg, &Signature::from_bytes(&forged))
        .expect_err("the trait accepts a forgery");
    assert!(std::error::Error::source(&e).is_none(), "forgery: {e:?}");
    let e = no_verify
        .signing_key(id)
        .verify(&msg, &Signature::from_bytes(&sig))
        .expect_err("the trait verifies without VERIFY");
    assert!(std::error::Error::source(&e).is_some(), "EPERM: {e:?}");
}

/// This file's tests, in order (the Ed25519 ones last; asym_wycheproof's
/// Ed25519 test follows them).
pub fn tests() -> Vec<crate::harness::Test> {
    crate::tests![
        x25519_public_keys_are_rfc_7748s_and_curve25519_dalek_agrees_for_random_scalars,
        x25519_import_takes_exactly_32_bytes_and_genkey_only_256_bits,
        get_pubkey_below_32_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing,
        get_pubkey_of_a_symmetric_key_is_eopnotsupp,
        get_pubkey_of_an_unknown_destroyed_or_foreign_key_is_enoent,
        get_pubkey_with_nonzero_reserved_fields_is_einval,
        get_pubkey_needs_only_the_getinfo_capability,
        get_pubkey_answers_for_revoked_and_expired_keys,
        get_pubkey_to_a_null_kernel_or_read_only_buffer_is_efault,
        exchange_between_two_vaults_gives_both_sides_the_same_key,
        exchange_of_the_rfc_7748_keys_is_hkdf_of_the_standard_shared_secret,
        exchange_with_a_low_order_peer_point_is_einval_and_makes_no_key,
        exchange_matches_curve25519_dalek_for_random_keys_and_peer_points,
        exchange_with_a_key_that_is_not_x25519_is_eopnotsupp,
        x25519_keys_are_for_exchange_only,
        exchange_and_derive_into_an_asymmetric_or_unknown_algorithm_size_hash_or_policy_are_einval,
        exchange_needs_the_exchange_capability_and_derive_the_derive_capability,
        exchange_and_derive_with_an_unknown_destroyed_or_foreign_key_are_enoent,
        exchange_and_derive_with_a_revoked_or_expired_key_are_ekeyrevoked_or_ekeyexpired,
        exchange_and_derive_count_as_a_use_of_the_key_against_its_max_uses,
        derive_gives_the_rfc_5869_sha256_test_cases_1_to_3,
        derive_with_hkdf_sha512_and_sha256_matches_rustcrypto_for_every_input_and_output_size,
        derive_makes_every_symmetric_algorithm_at_its_default_size_and_writes_the_size_back,
        derive_is_deterministic_and_another_salt_info_hash_or_parent_gives_another_key,
        derive_from_a_key_that_cannot_derive_is_eopnotsupp,
        derive_outside_the_parents_usage_is_eperm,
        derived_keys_take_the_policy_they_are_given,
        derived_keys_expire_no_later_than_their_parent,
        revoking_a_key_revokes_its_children_and_grandchildren_but_not_its_parent,
        destroying_a_parent_leaves_its_children_usable_and_still_revocable_as_a_line,
        derivation_goes_at_most_8_generations_deep,
        derived_and_exchanged_keys_count_against_the_vault_key_quota,
        derive_and_exchange_with_nonzero_reserved_fields_or_bad_child_policies_are_einval,
        derive_and_exchange_take_salt_and_info_of_up_to_1024_bytes_and_refuse_1025_with_einval,
        derive_and_exchange_accept_null_salt_and_info_pointers_when_empty,
        derive_and_exchange_with_a_bad_salt_info_or_peer_pointer_are_efault_and_leave_no_key,
        derive_and_exchange_whose_result_cannot_be_written_back_leave_no_key,
        derive_and_exchange_return_only_the_new_keys_id_and_size,
        ed25519_rfc_8032_vectors_through_import_get_pubkey_sign_and_verify,
        ed25519_generated_keys_make_signatures_that_ed25519_dalek_verifies,
        ed25519_public_keys_and_signatures_equal_ed25519_dalek_for_200_random_seeds_and_messages,
        ed25519_tampered_signatures_messages_and_keys_are_ebadmsg,
        ed25519_sign_below_64_bytes_of_room_is_enospc_with_the_needed_length_and_writes_nothing,
        ed25519_import_takes_a_32_byte_seed_and_genkey_only_256_bits,
        ed25519_verify_takes_a_key_id_or_a_public_key_not_both_and_reserved_fields_must_be_0,
        ed25519_an_empty_message_signs_and_verifies_even_with_a_null_data_pointer,
        ed25519_sign_and_verify_with_bad_pointers_are_efault,
        ed25519_sign_and_verify_with_a_key_of_another_type_are_eopnotsupp_and_ed25519_keys_do_nothing_else,
        ed25519_keys_follow_their_usage_policy,
        ed25519_sign_and_verify_need_their_capabilities,
        ed25519_revoked_or_expired_keys_cannot_sign_or_verify_but_keep_their_public_key,
        ed25519_libkeyvault_verify_rejects_a_forgery_as_a_verification_failure,
    ]
}

/// The vectors above, checked on the host against the reference crates, so
/// a transcription error shows here and not as a module failure in the VM.
#[cfg(test)]
mod host {
    use super::*;

    #[test]
    fn rfc_7748_vectors_agree_with_curve25519_dalek() {
        for (private, public) in [(ALICE_PRIVATE, ALICE_PUBLIC), (BOB_PRIVATE, BOB_PUBLIC)] {
            assert_eq!(
                MontgomeryPoint::mul_base_clamped(arr(private)).to_bytes(),
                arr::<32>(public)
            );
        }
        let shared = MontgomeryPoint(arr(BOB_PUBLIC)).mul_clamped(arr(ALICE_PRIVATE));
        assert_eq!(shared.to_bytes(), arr::<32>(SHARED));
    }

    #[test]
    fn low_order_points_give_a_zero_shared_secret() {
        for p in LOW_ORDER {
            for seed in 0..4 {
                let out = MontgomeryPoint(arr(p)).mul_clamped(rand32(seed));
                assert_eq!(out.to_bytes(), [0; 32], "{p}");
            }
        }
    }

    #[test]
    fn rfc_5869_vectors_agree_with_the_hkdf_crate() {
        for tc in rfc5869() {
            let okm = host_hkdf(KV_HASH_SHA256, &tc.salt, &tc.ikm, &tc.info, tc.okm.len());
            assert_eq!(okm, tc.okm, "{}", tc.name);
        }
    }

    #[test]
    fn rfc_8032_vectors_agree_with_ed25519_dalek() {
        for (name, seed, public, msg, sig) in RFC8032 {
            let (p, s) = dalek_sign(&arr(seed), &hex(msg));
            assert_eq!(p, arr::<32>(public), "{name}");
            assert_eq!(s, arr::<64>(sig), "{name}");
            assert!(dalek_verify_strict(&p, &hex(msg), &s));
        }
    }

    #[test]
    fn s_plus_l_and_the_trivial_signature_are_refused_by_strict_verification() {
        let (public, sig) = dalek_sign(&rand32(1), b"m");
        assert!(dalek_verify_strict(&public, b"m", &sig));
        assert!(!dalek_verify_strict(&public, b"m", &with_s_plus_l(&sig)));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut trivial = [0u8; 64];
        trivial[0] = 1;
        assert!(!dalek_verify_strict(&identity, b"m", &trivial));
        // ... which the lax, cofactorless check without point checks accepts:
        // the module must be the strict kind.
        let k = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
        use ed25519_dalek::Verifier;
        assert!(k
            .verify(b"m", &ed25519_dalek::Signature::from_bytes(&trivial))
            .is_ok());
    }
}
