// SPDX-License-Identifier: GPL-2.0

//! Safe Rust over `glue.c`: prepared per-key crypto state and the crypto
//! calls. This file and `glue.c` are the only places that touch the kernel's
//! crypto library; everything above works with slices and `Result`s.

use core::{
    ffi::c_void,
    ptr::NonNull, //
};
use kernel::{
    alloc::KVVec,
    bindings,
    prelude::*,
    sync::SetOnce, //
};

use crate::pure::{
    alg::Alg,
    ed25519,
    hkdf, //
};

/// AEAD nonce.
pub(crate) type Nonce = [u8; 12];
/// AEAD tag.
pub(crate) type Tag = [u8; 16];
/// AES-CBC IV (updated in place to the chaining value).
pub(crate) type Iv = [u8; 16];

mod ffi {
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
}

/// A key prepared by the kernel library (expanded AES round keys, GHASH
/// powers, HMAC pads), in memory owned by this object.
///
/// # Invariants
///
/// `0` points to a live allocation made by one of glue.c's `kv_*_prepare`
/// functions, initialized for the kind of key it was made for, and never
/// written after preparation.
pub(crate) struct PreparedKey(NonNull<c_void>);

impl PreparedKey {
    fn new(prepare: unsafe extern "C" fn(*const u8, usize) -> *mut c_void, key: &[u8]) -> Result<Self> {
        // SAFETY: `key` is valid for reads of `key.len()` bytes; the prepare
        // functions only read it and return a new allocation or NULL.
        let p = unsafe { prepare(key.as_ptr(), key.len()) };
        // INVARIANT: non-NULL means a prepared key of this kind.
        NonNull::new(p).map(Self).ok_or(ENOMEM)
    }

    fn as_ptr(&self) -> *const c_void {
        self.0.as_ptr()
    }
}

impl Drop for PreparedKey {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the allocation is live and ours;
        // kv_prepared_free wipes and frees it (kfree_sensitive).
        unsafe { ffi::kv_prepared_free(self.0.as_ptr()) };
    }
}

// SAFETY: the prepared key is immutable after preparation and the library
// functions only read it, so it may be used from any thread, concurrently.
unsafe impl Send for PreparedKey {}
// SAFETY: as above.
unsafe impl Sync for PreparedKey {}

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
    fn new(key: &[u8]) -> Option<Self> {
        // SAFETY: `key` is valid for reads of `key.len()` bytes.
        let p = unsafe { ffi::kv_gcm_tfm_new(key.as_ptr(), key.len()) };
        // INVARIANT: non-NULL means a keyed gcm(aes) transform.
        NonNull::new(p).map(Self)
    }

    /// In-place encryption (writes `tag`) or decryption (checks `tag`):
    /// 0, `-EBADMSG` or `-ENOMEM`.
    fn crypt(&self, encrypt: bool, buf: &mut [u8], tag: &mut Tag, aad: &[u8], nonce: &Nonce) -> i32 {
        // SAFETY: the transform is keyed (type invariant) and only read by
        // requests, which may run concurrently; every buffer is valid for
        // its length and lives until the synchronous call returns.
        unsafe {
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
        }
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

/// Messages at least this long use the crypto API's `gcm(aes)` (see
/// [`GcmTfm`]); shorter ones the library, which has no per-call setup and
/// no allocation (the message sits on the stack). Under TCG (kv-bench) the
/// two are even at 16-64 bytes; at 1 KiB the crypto API is 1.7x faster,
/// at 1 MiB 1.6x.
const GCM_TFM_MIN_LEN: usize = 256;

/// AES-GCM state: the library's prepared key, and a crypto API transform
/// made on the key's first long message (so keys only ever used for short
/// ones cost no transform). Its memory is the crypto API's (GFP_KERNEL,
/// not charged to a memory cgroup: the kernel has no scoped accounting
/// flag), at most one per AES-GCM key, so bounded by the key quotas.
pub(crate) struct AesGcm {
    lib: PreparedKey,
    /// Set on the first long message: the transform, or None if it could
    /// not be made (remembered, so a failing allocation is not retried on
    /// every long message; the library serves them all).
    tfm: SetOnce<Option<GcmTfm>>,
}

impl AesGcm {
    /// The transform for a long message, made now if this is the first.
    /// `None` (use the library) if it could not be made, or if another
    /// thread is installing one this instant.
    fn tfm(&self, material: &[u8], len: usize) -> Option<&GcmTfm> {
        if len < GCM_TFM_MIN_LEN {
            return None;
        }
        if self.tfm.as_ref().is_none() {
            self.tfm.populate(GcmTfm::new(material));
        }
        self.tfm.as_ref()?.as_ref()
    }
}

/// The per-key crypto state, made once when the key is created, so no
/// operation re-expands a key.
pub(crate) enum Engine {
    /// AES-GCM, prepared.
    AesGcm(AesGcm),
    /// ChaCha20-Poly1305: the key schedule is the key itself.
    ChaCha20Poly1305,
    /// AES-CBC, prepared for both directions.
    AesCbc(PreparedKey),
    /// HMAC-SHA256 with its pads precomputed.
    HmacSha256(PreparedKey),
    /// HMAC-SHA512 with its pads precomputed.
    HmacSha512(PreparedKey),
    /// Ed25519: the expanded secret (clamped scalar, nonce prefix, public
    /// key), computed once from the seed; wiped when dropped.
    Ed25519(KBox<ed25519::ExpandedSecret>),
    /// X25519: the scalar is the material; the public key is kept.
    X25519 {
        /// The public key.
        public: [u8; 32],
    },
}

impl Engine {
    /// Prepares the engine for a key of `alg` with material `key`.
    pub(crate) fn new(alg: Alg, key: &[u8]) -> Result<Self> {
        Ok(match alg {
            Alg::Aes128Gcm | Alg::Aes256Gcm => Engine::AesGcm(AesGcm {
                lib: PreparedKey::new(ffi::kv_aes_gcm_prepare, key)?,
                tfm: SetOnce::new(),
            }),
            Alg::ChaCha20Poly1305 => Engine::ChaCha20Poly1305,
            Alg::Aes128Cbc | Alg::Aes256Cbc => Engine::AesCbc(PreparedKey::new(ffi::kv_aes_prepare, key)?),
            Alg::HmacSha256 => Engine::HmacSha256(PreparedKey::new(ffi::kv_hmac_sha256_prepare, key)?),
            Alg::HmacSha512 => Engine::HmacSha512(PreparedKey::new(ffi::kv_hmac_sha512_prepare, key)?),
            Alg::X25519 => Engine::X25519 {
                public: x25519_base(key)?,
            },
            Alg::Ed25519 => {
                let seed: &[u8; 32] = key.try_into().map_err(|_| EINVAL)?;
                // Expanded where it lives: the secret is never moved.
                let mut secret = KBox::new(ed25519::ExpandedSecret::empty(), GFP_KERNEL_ACCOUNT)?;
                secret.set_seed::<KernelSha512>(seed);
                Engine::Ed25519(secret)
            }
        })
    }

    /// AEAD-encrypts `buf` in place; `material` is the raw key (ChaCha20).
    pub(crate) fn seal(&self, material: &[u8], buf: &mut [u8], aad: &[u8], nonce: &Nonce) -> Result<Tag> {
        let mut tag = Tag::default();
        match self {
            Engine::AesGcm(k) => match k.tfm(material, buf.len()) {
                Some(tfm) => match tfm.crypt(true, buf, &mut tag, aad, nonce) {
                    0 => {}
                    _ => return Err(ENOMEM),
                },
                // SAFETY: the prepared key is an AES-GCM key (type
                // invariant); buf, tag, aad and nonce are valid for their
                // lengths (12-byte nonce).
                None => unsafe {
                    ffi::kv_aes_gcm_encrypt(
                        k.lib.as_ptr(),
                        buf.as_mut_ptr(),
                        buf.len(),
                        tag.as_mut_ptr(),
                        aad.as_ptr(),
                        aad.len(),
                        nonce.as_ptr(),
                    )
                },
            },
            Engine::ChaCha20Poly1305 if material.len() == 32 => {
                // SAFETY: the key is 32 bytes (checked); buffers valid as above.
                unsafe {
                    ffi::kv_chacha20poly1305_encrypt(
                        material.as_ptr(),
                        buf.as_mut_ptr(),
                        buf.len(),
                        tag.as_mut_ptr(),
                        aad.as_ptr(),
                        aad.len(),
                        nonce.as_ptr(),
                    )
                }
            }
            _ => return Err(EOPNOTSUPP),
        }
        Ok(tag)
    }

    /// AEAD-decrypts `buf` in place after checking the tag; `EBADMSG` when
    /// it does not match (`buf` may then hold unverified plaintext: the
    /// caller's scratch buffer wipes it, and none of it is returned).
    pub(crate) fn open(&self, material: &[u8], buf: &mut [u8], aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result {
        let ret = match self {
            Engine::AesGcm(k) => match k.tfm(material, buf.len()) {
                Some(tfm) => {
                    // The call takes a writable tag; decryption only reads it.
                    let mut expected = *tag;
                    match tfm.crypt(false, buf, &mut expected, aad, nonce) {
                        r if r == -(bindings::ENOMEM as i32) => return Err(ENOMEM),
                        r => r,
                    }
                }
                // SAFETY: as in `seal`; the tag is 16 bytes.
                None => unsafe {
                    ffi::kv_aes_gcm_decrypt(
                        k.lib.as_ptr(),
                        buf.as_mut_ptr(),
                        buf.len(),
                        tag.as_ptr(),
                        aad.as_ptr(),
                        aad.len(),
                        nonce.as_ptr(),
                    )
                },
            },
            Engine::ChaCha20Poly1305 if material.len() == 32 => {
                // SAFETY: as in `seal`; the tag is 16 bytes.
                unsafe {
                    ffi::kv_chacha20poly1305_decrypt(
                        material.as_ptr(),
                        buf.as_mut_ptr(),
                        buf.len(),
                        tag.as_ptr(),
                        aad.as_ptr(),
                        aad.len(),
                        nonce.as_ptr(),
                    )
                }
            }
            _ => return Err(EOPNOTSUPP),
        };
        if ret == 0 {
            Ok(())
        } else {
            Err(EBADMSG)
        }
    }

    fn cbc(&self, buf: &mut [u8], iv: &mut Iv, f: unsafe extern "C" fn(*const c_void, *mut u8, usize, *mut u8)) -> Result {
        let Engine::AesCbc(k) = self else {
            return Err(EOPNOTSUPP);
        };
        if buf.len() % 16 != 0 {
            return Err(EINVAL);
        }
        // SAFETY: the prepared key is an AES key for both directions (type
        // invariant); buf is whole blocks; iv is 16 bytes.
        unsafe { f(k.as_ptr(), buf.as_mut_ptr(), buf.len(), iv.as_mut_ptr()) };
        Ok(())
    }

    /// AES-CBC-encrypts whole blocks in place.
    pub(crate) fn cbc_encrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        self.cbc(buf, iv, ffi::kv_aes_cbc_encrypt)
    }

    /// AES-CBC-decrypts whole blocks in place.
    pub(crate) fn cbc_decrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        self.cbc(buf, iv, ffi::kv_aes_cbc_decrypt)
    }

    /// The public key of an asymmetric key.
    pub(crate) fn public_key(&self) -> Option<[u8; 32]> {
        match self {
            Engine::X25519 { public } => Some(*public),
            Engine::Ed25519(secret) => Some(secret.public_key()),
            _ => None,
        }
    }

    /// Ed25519 signature of `msg` (deterministic, RFC 8032).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        match self {
            Engine::Ed25519(secret) => Ok(secret.sign::<KernelSha512>(msg)),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// HMAC of `data` into `out`; returns its length (32 or 64).
    pub(crate) fn hmac(&self, data: &[u8], out: &mut [u8; 64]) -> Result<usize> {
        let (k, f, len): (_, unsafe extern "C" fn(*const c_void, *const u8, usize, *mut u8), _) = match self {
            Engine::HmacSha256(k) => (k, ffi::kv_hmac_sha256, 32),
            Engine::HmacSha512(k) => (k, ffi::kv_hmac_sha512, 64),
            _ => return Err(EOPNOTSUPP),
        };
        // SAFETY: the prepared key matches the function (type invariant);
        // data is valid for its length and out has room for 64 bytes.
        unsafe { f(k.as_ptr(), data.as_ptr(), data.len(), out.as_mut_ptr()) };
        Ok(len)
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
fn x25519_base(scalar: &[u8]) -> Result<[u8; 32]> {
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

/// Equality of two equally long byte strings in time independent of their
/// contents (`crypto_memneq`).
pub(crate) fn memeq_consttime(a: &[u8], b: &[u8]) -> bool {
    // SAFETY: both slices are valid for `min(len)` bytes of reads.
    a.len() == b.len() && unsafe { ffi::kv_memeq_consttime(a.as_ptr().cast(), b.as_ptr().cast(), a.len()) }
}

/// Overwrites `buf` with zeros; never optimized away (`memzero_explicit`).
pub(crate) fn memzero(buf: &mut [u8]) {
    // SAFETY: buf is valid for writes of its length.
    unsafe { ffi::kv_memzero(buf.as_mut_ptr().cast(), buf.len()) };
}

/// Overwrites a vector's whole allocation with zeros, including the bytes
/// past its length that an interrupted copy may have written.
pub(crate) fn memzero_allocation(v: &mut KVVec<u8>) {
    // SAFETY: the allocation behind `v` is valid for writes of `capacity`
    // bytes; zeros are valid `u8`s, and the length is unchanged.
    unsafe { ffi::kv_memzero(v.as_mut_ptr().cast(), v.capacity()) };
}
