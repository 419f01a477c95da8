// SPDX-License-Identifier: GPL-2.0

//! One safe type per C resource that holds a key: a key prepared by the
//! kernel library ([`Prepared`], typed by what it was prepared for, so an
//! AES key can never reach an HMAC call) and a crypto API `gcm(aes)`
//! transform ([`GcmTfm`]). Each owns its memory and wipes it when dropped.

use core::{
    ffi::c_void,
    marker::PhantomData,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    prelude::*, //
};

use crate::pure::kwp;

use super::{
    ffi,
    Iv,
    Nonce,
    Tag, //
};

/// What a key is prepared for: the glue.c function that prepares it.
pub(crate) trait Kind {
    /// Makes the prepared key (a new allocation) or returns NULL; only reads
    /// `key_len` bytes at `key`.
    const PREPARE: unsafe extern "C" fn(key: *const u8, key_len: usize) -> *mut c_void;
}

/// AES-GCM: expanded AES round keys and GHASH key powers.
pub(crate) struct AesGcmKind;
/// AES (CBC, both directions): expanded round keys.
pub(crate) struct AesKind;
/// HMAC-SHA256: precomputed inner and outer pads.
pub(crate) struct HmacSha256Kind;
/// HMAC-SHA512: precomputed inner and outer pads.
pub(crate) struct HmacSha512Kind;

impl Kind for AesGcmKind {
    const PREPARE: unsafe extern "C" fn(*const u8, usize) -> *mut c_void = ffi::kv_aes_gcm_prepare;
}
impl Kind for AesKind {
    const PREPARE: unsafe extern "C" fn(*const u8, usize) -> *mut c_void = ffi::kv_aes_prepare;
}
impl Kind for HmacSha256Kind {
    const PREPARE: unsafe extern "C" fn(*const u8, usize) -> *mut c_void = ffi::kv_hmac_sha256_prepare;
}
impl Kind for HmacSha512Kind {
    const PREPARE: unsafe extern "C" fn(*const u8, usize) -> *mut c_void = ffi::kv_hmac_sha512_prepare;
}

/// A key prepared by the kernel library for `K`, in memory owned by this
/// object.
///
/// # Invariants
///
/// `ptr` points to a live allocation made by `K::PREPARE`, initialized for
/// `K`, and never written after preparation.
pub(crate) struct Prepared<K: Kind> {
    ptr: NonNull<c_void>,
    _kind: PhantomData<K>,
}

impl<K: Kind> Prepared<K> {
    /// Prepares `key`; `ENOMEM` (or a bad length, which callers have
    /// excluded) gives no key.
    pub(crate) fn new(key: &[u8]) -> Result<Self> {
        // SAFETY: `key` is valid for reads of `key.len()` bytes; the prepare
        // functions only read it and return a new allocation or NULL.
        let p = unsafe { K::PREPARE(key.as_ptr(), key.len()) };
        // INVARIANT: non-NULL means a key prepared for `K`.
        Ok(Self {
            ptr: NonNull::new(p).ok_or(ENOMEM)?,
            _kind: PhantomData,
        })
    }

    fn as_ptr(&self) -> *const c_void {
        self.ptr.as_ptr()
    }
}

impl Prepared<AesGcmKind> {
    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal(&self, buf: &mut [u8], aad: &[u8], nonce: &Nonce) -> Tag {
        // SAFETY: an AES-GCM key (type invariant), live while `self` is.
        unsafe { ffi::aead_seal(ffi::kv_aes_gcm_encrypt, self.as_ptr(), buf, aad, nonce) }
    }

    /// Decrypts `buf` in place if `tag` is right; `EBADMSG` if not.
    pub(crate) fn open(&self, buf: &mut [u8], aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result {
        // SAFETY: as in `seal`.
        match unsafe { ffi::aead_open(ffi::kv_aes_gcm_decrypt, self.as_ptr(), buf, aad, nonce, tag) } {
            true => Ok(()),
            false => Err(EBADMSG),
        }
    }
}

impl Prepared<AesKind> {
    fn cbc(&self, buf: &mut [u8], iv: &mut Iv, f: unsafe extern "C" fn(*const c_void, *mut u8, usize, *mut u8)) -> Result {
        if buf.len() % 16 != 0 {
            return Err(EINVAL);
        }
        // SAFETY: an AES key for both directions (type invariant); buf is
        // whole blocks; iv is 16 bytes.
        unsafe { f(self.as_ptr(), buf.as_mut_ptr(), buf.len(), iv.as_mut_ptr()) };
        Ok(())
    }

    /// AES-CBC-encrypts whole blocks in place; `iv` ends as the last block.
    pub(crate) fn cbc_encrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        self.cbc(buf, iv, ffi::kv_aes_cbc_encrypt)
    }

    /// AES-CBC-decrypts whole blocks in place.
    pub(crate) fn cbc_decrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        self.cbc(buf, iv, ffi::kv_aes_cbc_decrypt)
    }
}

/// RFC 5649 key wrapping (`pure::kwp`) runs on single blocks.
impl kwp::AesBlock for Prepared<AesKind> {
    fn encrypt(&self, block: &mut [u8; 16]) {
        // SAFETY: an AES key for both directions (type invariant); `block`
        // is 16 writable bytes, encrypted in place.
        unsafe { ffi::kv_aes_encrypt_block(self.as_ptr(), block.as_mut_ptr()) }
    }

    fn decrypt(&self, block: &mut [u8; 16]) {
        // SAFETY: as in `encrypt`.
        unsafe { ffi::kv_aes_decrypt_block(self.as_ptr(), block.as_mut_ptr()) }
    }
}

impl Prepared<HmacSha256Kind> {
    /// HMAC-SHA256 of `data` into the first 32 bytes of `out`.
    pub(crate) fn mac(&self, data: &[u8], out: &mut [u8; 64]) -> usize {
        // SAFETY: an HMAC-SHA256 key (type invariant); data is valid for its
        // length and out has room for 32 bytes.
        unsafe { ffi::kv_hmac_sha256(self.as_ptr(), data.as_ptr(), data.len(), out.as_mut_ptr()) };
        32
    }
}

impl Prepared<HmacSha512Kind> {
    /// HMAC-SHA512 of `data` into `out`.
    pub(crate) fn mac(&self, data: &[u8], out: &mut [u8; 64]) -> usize {
        // SAFETY: an HMAC-SHA512 key (type invariant); data is valid for its
        // length and out has room for 64 bytes.
        unsafe { ffi::kv_hmac_sha512(self.as_ptr(), data.as_ptr(), data.len(), out.as_mut_ptr()) };
        64
    }
}

impl<K: Kind> Drop for Prepared<K> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the allocation is live and ours;
        // kv_prepared_free wipes and frees it (kfree_sensitive).
        unsafe { ffi::kv_prepared_free(self.ptr.as_ptr()) };
    }
}

// SAFETY: the prepared key is immutable after preparation and the library
// functions only read it, so it may be used from any thread, concurrently.
unsafe impl<K: Kind> Send for Prepared<K> {}
// SAFETY: as above.
unsafe impl<K: Kind> Sync for Prepared<K> {}

/// A crypto API `gcm(aes)` transform holding one key: on x86 the fused
/// AES-NI/VAES + PCLMUL implementation, faster per byte than the library's
/// block-at-a-time `aes_gcm_*()`, but with a per-call cost (request and
/// scatterlist allocation) that only long messages repay.
///
/// # Invariants
///
/// `0` is a transform made by `kv_gcm_tfm_new` (key and tag size set, never
/// changed after), owned by this object.
pub(crate) struct GcmTfm(NonNull<c_void>);

impl GcmTfm {
    /// A transform for `key`, or `None` if the crypto API cannot make one
    /// (the library path then serves every message).
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        // SAFETY: `key` is valid for reads of `key.len()` bytes.
        let p = unsafe { ffi::kv_gcm_tfm_new(key.as_ptr(), key.len()) };
        // INVARIANT: non-NULL means a keyed gcm(aes) transform.
        NonNull::new(p).map(Self)
    }

    /// In-place encryption (writes `tag`) or decryption (checks `tag`):
    /// `EBADMSG` for a wrong tag, `ENOMEM` if the request could not be made.
    fn crypt(&self, encrypt: bool, buf: &mut [u8], tag: &mut Tag, aad: &[u8], nonce: &Nonce) -> Result {
        // SAFETY: the transform is keyed (type invariant) and only read by
        // requests, which may run concurrently; every buffer is valid for
        // its length and lives until the synchronous call returns.
        let ret = unsafe {
            ffi::kv_gcm_tfm_crypt(
                self.0.as_ptr(),
                encrypt,
                buf.as_mut_ptr(),
                buf.len(),
                tag.as_mut_ptr(),
                aad.as_ptr(),
                aad.len(),
                nonce.as_ptr(),
            )
        };
        match ret {
            0 => Ok(()),
            // Decryption fails closed: an error other than a failed
            // allocation rejects the message.
            r if !encrypt && r != -(bindings::ENOMEM as i32) => Err(EBADMSG),
            // Encryption has no input to reject: its failures are allocations.
            _ => Err(ENOMEM),
        }
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal(&self, buf: &mut [u8], aad: &[u8], nonce: &Nonce) -> Result<Tag> {
        let mut tag = Tag::default();
        self.crypt(true, buf, &mut tag, aad, nonce)?;
        Ok(tag)
    }

    /// Decrypts `buf` in place if `tag` is right; `EBADMSG` if not.
    pub(crate) fn open(&self, buf: &mut [u8], aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result {
        // The call takes a writable tag; decryption only reads it.
        let mut expected = *tag;
        self.crypt(false, buf, &mut expected, aad, nonce)
    }
}

impl Drop for GcmTfm {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the transform is ours and live;
        // freeing it wipes the expanded key.
        unsafe { ffi::kv_gcm_tfm_free(self.0.as_ptr()) };
    }
}

// SAFETY: the transform is immutable once keyed; the crypto API allows
// concurrent requests on one transform from any thread.
unsafe impl Send for GcmTfm {}
// SAFETY: as above.
unsafe impl Sync for GcmTfm {}
