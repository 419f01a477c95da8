//! Test data: deterministic bytes, canaries, key options, and the algorithm
//! lists the tests iterate.

use crate::support::*;
use curve25519_dalek::montgomery::MontgomeryPoint;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, Vault};
use std::time::Duration;

/// The module's default `max_data_bytes`: the largest input of one operation.
pub const MAX: usize = 1 << 20;

/// What output buffers hold before a call; a failed call must leave it there.
pub const CANARY: u8 = 0xa5;

pub const AEADS: [Algorithm; 3] = [
    Algorithm::Aes128Gcm,
    Algorithm::Aes256Gcm,
    Algorithm::ChaCha20Poly1305,
];

pub const CBCS: [Algorithm; 2] = [Algorithm::Aes128Cbc, Algorithm::Aes256Cbc];

pub const SIZES: [usize; 9] = [0, 1, 15, 16, 17, 4095, 4096, 65536, MAX];

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

pub fn array<const N: usize>(seed: u64) -> [u8; N] {
    data(N, seed).try_into().unwrap()
}

/// Lower-case hex to bytes.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn canary(n: usize) -> Vec<u8> {
    vec![CANARY; n]
}

/// Panics if any byte of `buf` is no longer the canary.
#[track_caller]
pub fn assert_untouched(buf: &[u8], what: &str) {
    if let Some(i) = buf.iter().position(|&b| b != CANARY) {
        panic!("{what}: output byte {i} was written");
    }
}

pub fn key_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::Aes128Gcm | Algorithm::Aes128Cbc => 16,
        _ => 32,
    }
}

/// Imports fresh key material for `alg`; returns the id and the material.
pub fn new_key(v: &Vault, alg: Algorithm, seed: u64) -> (KeyId, Vec<u8>) {
    let key = data(key_len(alg), seed);
    (ok(v.import(alg, &key, &KeyOptions::default())), key)
}

pub fn with(f: impl FnOnce(&mut KeyOptions)) -> KeyOptions {
    let mut o = KeyOptions::default();
    f(&mut o);
    o
}

/// The message whose MAC identifies an HMAC key.
pub const MSG: &[u8] = b"keyvault: which key is this?";

pub const SYMMETRIC: [(u32, u32); 7] = [
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

pub fn alg(raw: u32) -> Algorithm {
    Algorithm::from_raw(raw).unwrap()
}

pub fn ttl(ms: u64) -> KeyOptions {
    with(|o| o.ttl = Some(Duration::from_millis(ms)))
}

pub fn usage(caps: Caps) -> KeyOptions {
    with(|o| o.usage = caps)
}

/// A handle on `v`'s vault with every capability but `cap`.
pub fn without(v: &Vault, cap: u32) -> Vault {
    ok(v.dup(Caps::from_bits_retain(KV_CAP_ALL & !cap), None))
}

/// A valid X25519 public key that belongs to no key of the vaults under test.
pub fn some_peer() -> [u8; 32] {
    MontgomeryPoint::mul_base_clamped(rand32(77)).to_bytes()
}

pub fn caps_of(bits: u32) -> Caps {
    Caps::from_bits_retain(bits)
}

pub const PLAIN: &[u8] = b"thirty-two bytes of plaintext!!!";

/// An AEAD message as bytes: nonce, tag, ciphertext.
pub fn seal(v: &Vault, k: KeyId) -> Vec<u8> {
    let (ct, sealed) = ok(v.aead_encrypt(k, PLAIN, b"aad", None));
    [&sealed.nonce[..], &sealed.tag[..], &ct[..]].concat()
}

/// Opens a message from [`seal`].
pub fn open(v: &Vault, k: KeyId, msg: &[u8]) -> keyvault::Result<Vec<u8>> {
    let nonce: [u8; 12] = msg[..12].try_into().unwrap();
    let tag: [u8; 16] = msg[12..28].try_into().unwrap();
    v.aead_decrypt(k, &msg[28..], b"aad", &nonce, &tag)
        .map(|p| p.to_vec())
}
