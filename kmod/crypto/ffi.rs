// SPDX-License-Identifier: GPL-2.0

//! The C side of `crypto/`: glue.c's functions, the only calls into the
//! kernel's crypto library and its small helpers. Each is wrapped once, in
//! the file of `crypto/` that owns the resource or the operation it serves;
//! nothing outside `crypto/` calls these.

use core::ffi::c_void;

extern "C" {
    pub(super) fn kv_aes_gcm_prepare(key: *const u8, key_len: usize) -> *mut c_void;
    pub(super) fn kv_aes_prepare(key: *const u8, key_len: usize) -> *mut c_void;
    pub(super) fn kv_hmac_sha256_prepare(key: *const u8, key_len: usize) -> *mut c_void;
    pub(super) fn kv_hmac_sha512_prepare(key: *const u8, key_len: usize) -> *mut c_void;
    pub(super) fn kv_prepared_free(prepared: *mut c_void);
    pub(super) fn kv_aes_gcm_encrypt(
        key: *const c_void,
        buf: *mut u8,
        len: usize,
        tag: *mut u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
    );
    pub(super) fn kv_aes_gcm_decrypt(
        key: *const c_void,
        buf: *mut u8,
        len: usize,
        tag: *const u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
    ) -> i32;
    pub(super) fn kv_gcm_tfm_new(key: *const u8, key_len: usize) -> *mut c_void;
    pub(super) fn kv_gcm_tfm_free(tfm: *mut c_void);
    pub(super) fn kv_gcm_tfm_crypt(
        tfm: *mut c_void,
        encrypt: bool,
        buf: *mut u8,
        len: usize,
        tag: *mut u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
    ) -> i32;
    pub(super) fn kv_chacha20poly1305_encrypt(
        key: *const u8,
        buf: *mut u8,
        len: usize,
        tag: *mut u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
    );
    pub(super) fn kv_chacha20poly1305_decrypt(
        key: *const u8,
        buf: *mut u8,
        len: usize,
        tag: *const u8,
        ad: *const u8,
        ad_len: usize,
        nonce: *const u8,
    ) -> i32;
    pub(super) fn kv_aes_encrypt_block(key: *const c_void, block: *mut u8);
    pub(super) fn kv_aes_decrypt_block(key: *const c_void, block: *mut u8);
    pub(super) fn kv_aes_cbc_encrypt(key: *const c_void, buf: *mut u8, len: usize, iv: *mut u8);
    pub(super) fn kv_aes_cbc_decrypt(key: *const c_void, buf: *mut u8, len: usize, iv: *mut u8);
    pub(super) fn kv_hmac_sha256(key: *const c_void, data: *const u8, len: usize, out: *mut u8);
    pub(super) fn kv_hmac_sha512(key: *const c_void, data: *const u8, len: usize, out: *mut u8);
    pub(super) fn kv_sha256(data: *const u8, len: usize, out: *mut u8);
    pub(super) fn kv_sha512(data: *const u8, len: usize, out: *mut u8);
    pub(super) fn kv_sha512_parts(ptrs: *const *const u8, lens: *const usize, n: usize, out: *mut u8);
    pub(super) fn kv_hmac_parts(
        sha512: bool,
        key: *const u8,
        key_len: usize,
        ptrs: *const *const u8,
        lens: *const usize,
        n: usize,
        out: *mut u8,
    );
    pub(super) fn kv_x25519(out: *mut u8, scalar: *const u8, point: *const u8) -> bool;
    pub(super) fn kv_x25519_base(out: *mut u8, scalar: *const u8) -> bool;
    pub(super) fn kv_memeq_consttime(a: *const c_void, b: *const c_void, len: usize) -> bool;
    pub(super) fn kv_memzero(p: *mut c_void, len: usize);
}

/// glue.c's AEAD encryption functions: key, in-place buffer, tag out, AAD,
/// 12-byte nonce.
pub(super) type SealFn<K> = unsafe extern "C" fn(*const K, *mut u8, usize, *mut u8, *const u8, usize, *const u8);
/// glue.c's AEAD decryption functions: as [`SealFn`] with the tag in;
/// 0 when the tag matched.
pub(super) type OpenFn<K> = unsafe extern "C" fn(*const K, *mut u8, usize, *const u8, *const u8, usize, *const u8) -> i32;

/// Encrypts `buf` in place with `f` and returns the tag.
///
/// # Safety
///
/// `key` is a key of the kind `f` takes, live for the call.
pub(super) unsafe fn aead_seal<K>(f: SealFn<K>, key: *const K, buf: &mut [u8], aad: &[u8], nonce: &[u8; 12]) -> [u8; 16] {
    let mut tag = [0u8; 16];
    // SAFETY: `key` suits `f` (this function's contract); buf, tag, aad and
    // nonce are valid for their lengths (12-byte nonce, 16-byte tag).
    unsafe { f(key, buf.as_mut_ptr(), buf.len(), tag.as_mut_ptr(), aad.as_ptr(), aad.len(), nonce.as_ptr()) };
    tag
}

/// Decrypts `buf` in place with `f` if `tag` is right; false if not.
///
/// # Safety
///
/// As [`aead_seal`].
pub(super) unsafe fn aead_open<K>(f: OpenFn<K>, key: *const K, buf: &mut [u8], aad: &[u8], nonce: &[u8; 12], tag: &[u8; 16]) -> bool {
    // SAFETY: as in `aead_seal`.
    unsafe { f(key, buf.as_mut_ptr(), buf.len(), tag.as_ptr(), aad.as_ptr(), aad.len(), nonce.as_ptr()) == 0 }
}
