// SPDX-License-Identifier: GPL-2.0

//! Crypto that needs no prepared key object: ChaCha20-Poly1305 (its key
//! schedule is the key), SHA-2, HMAC from a raw key (for HKDF), X25519, and
//! the kernel's SHA-512 for the pure Ed25519 code.

use kernel::prelude::*;

use super::{
    ffi,
    Nonce,
    Tag, //
};
use crate::pure::{
    ed25519,
    hkdf, //
};

/// ChaCha20-Poly1305-encrypts `buf` in place with a 32-byte `key`.
pub(super) fn chacha20poly1305_seal(key: &[u8], buf: &mut [u8], aad: &[u8], nonce: &Nonce) -> Result<Tag> {
    if key.len() != 32 {
        return Err(EOPNOTSUPP);
    }
    // SAFETY: the function takes a 32-byte key (checked).
    Ok(unsafe { ffi::aead_seal(ffi::kv_chacha20poly1305_encrypt, key.as_ptr(), buf, aad, nonce) })
}

/// ChaCha20-Poly1305-decrypts `buf` in place if `tag` is right (`EBADMSG`
/// if not).
pub(super) fn chacha20poly1305_open(key: &[u8], buf: &mut [u8], aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result {
    if key.len() != 32 {
        return Err(EOPNOTSUPP);
    }
    // SAFETY: as in `chacha20poly1305_seal`.
    match unsafe { ffi::aead_open(ffi::kv_chacha20poly1305_decrypt, key.as_ptr(), buf, aad, nonce, tag) } {
        true => Ok(()),
        false => Err(EBADMSG),
    }
}

/// Splits up to `N` byte strings into the pointer and length arrays glue.c
/// takes. Callers pass at most 4 parts (HKDF: 3, Ed25519: 3).
fn parts_arrays<const N: usize>(parts: &[&[u8]]) -> ([*const u8; N], [usize; N], usize) {
    let mut ptrs = [core::ptr::null(); N];
    let mut lens = [0usize; N];
    let n = parts.len().min(N);
    for (i, p) in parts.iter().take(n).enumerate() {
        ptrs[i] = p.as_ptr();
        lens[i] = p.len();
    }
    (ptrs, lens, n)
}

/// HMAC-SHA256 with a raw key, for HKDF.
pub(crate) struct HmacSha256;
/// HMAC-SHA512 with a raw key, for HKDF.
pub(crate) struct HmacSha512;

fn hmac_parts(wide: bool, key: &[u8], parts: &[&[u8]], out: &mut [u8; 64]) {
    let (ptrs, lens, n) = parts_arrays::<4>(parts);
    // SAFETY: the first `n` pointers and lengths describe live slices; out
    // has room for 64 bytes; the key is valid for its length.
    unsafe { ffi::kv_hmac_parts(wide, key.as_ptr(), key.len(), ptrs.as_ptr(), lens.as_ptr(), n, out.as_mut_ptr()) };
}

impl hkdf::Hmac for HmacSha256 {
    const LEN: usize = 32;
    fn mac(key: &[u8], parts: &[&[u8]], out: &mut [u8; 64]) {
        hmac_parts(false, key, parts, out);
    }
}

impl hkdf::Hmac for HmacSha512 {
    const LEN: usize = 64;
    fn mac(key: &[u8], parts: &[&[u8]], out: &mut [u8; 64]) {
        hmac_parts(true, key, parts, out);
    }
}

/// The kernel's SHA-512, for the pure Ed25519 code.
pub(crate) struct KernelSha512;

impl ed25519::Sha512 for KernelSha512 {
    fn sha512(parts: &[&[u8]], out: &mut [u8; 64]) {
        let (ptrs, lens, n) = parts_arrays::<4>(parts);
        // SAFETY: the first `n` pointers and lengths describe live slices;
        // out has room for 64 bytes.
        unsafe { ffi::kv_sha512_parts(ptrs.as_ptr(), lens.as_ptr(), n, out.as_mut_ptr()) };
    }
}

/// Ed25519 verification (strict, see `pure::ed25519`).
pub(crate) fn ed25519_verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    ed25519::verify::<KernelSha512>(public, msg, sig)
}

/// The X25519 public key of a 32-byte scalar (clamped by the library).
pub(super) fn x25519_base(scalar: &[u8]) -> Result<[u8; 32]> {
    if scalar.len() != 32 {
        return Err(EINVAL);
    }
    let mut out = [0u8; 32];
    // SAFETY: scalar is 32 bytes, out has room for 32.
    if unsafe { ffi::kv_x25519_base(out.as_mut_ptr(), scalar.as_ptr()) } {
        Ok(out)
    } else {
        Err(EINVAL)
    }
}

/// X25519(`scalar`, `point`) into `out`; `EINVAL` when the shared secret is
/// all zeros (a low-order peer point, RFC 7748 section 6.1).
pub(crate) fn x25519(scalar: &[u8], point: &[u8; 32], out: &mut [u8]) -> Result {
    if scalar.len() != 32 || out.len() != 32 {
        return Err(EINVAL);
    }
    // SAFETY: all three are 32 bytes.
    if unsafe { ffi::kv_x25519(out.as_mut_ptr(), scalar.as_ptr(), point.as_ptr()) } {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// SHA-256 (`wide == false`) or SHA-512 of `data` into `out`; returns the length.
pub(crate) fn sha2(wide: bool, data: &[u8], out: &mut [u8; 64]) -> usize {
    if wide {
        // SAFETY: data is valid for its length; out has room for 64 bytes.
        unsafe { ffi::kv_sha512(data.as_ptr(), data.len(), out.as_mut_ptr()) };
        64
    } else {
        // SAFETY: data is valid for its length; out has room for 32 bytes.
        unsafe { ffi::kv_sha256(data.as_ptr(), data.len(), out.as_mut_ptr()) };
        32
    }
}
