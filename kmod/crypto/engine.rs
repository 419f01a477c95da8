// SPDX-License-Identifier: GPL-2.0

//! The per-key crypto state ([`Engine`]), made once when a key is created so
//! no operation re-expands a key, and the dispatch of each operation to the
//! implementation for the key's algorithm. Only `Key` holds an engine.

use kernel::{
    prelude::*,
    sync::SetOnce, //
};

use super::{
    prepared::{
        AesGcmKind,
        AesKind,
        GcmTfm,
        HmacSha256Kind,
        HmacSha512Kind,
        Prepared, //
    },
    primitives::{
        chacha20poly1305_open,
        chacha20poly1305_seal,
        x25519_base,
        KernelSha512, //
    },
    Iv,
    Nonce,
    Tag,
};
use crate::{
    abi::KV_USAGE_WRAPPING,
    pure::{
        alg::Alg,
        ed25519,
        kwp, //
    },
    uapi::reject,
};

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
    lib: Prepared<AesGcmKind>,
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

/// The per-key crypto state.
pub(crate) enum Engine {
    /// AES-GCM, prepared.
    AesGcm(AesGcm),
    /// ChaCha20-Poly1305: the key schedule is the key itself.
    ChaCha20Poly1305,
    /// AES-CBC, prepared for both directions.
    AesCbc(Prepared<AesKind>),
    /// HMAC-SHA256 with its pads precomputed.
    HmacSha256(Prepared<HmacSha256Kind>),
    /// HMAC-SHA512 with its pads precomputed.
    HmacSha512(Prepared<HmacSha512Kind>),
    /// Ed25519: the expanded secret (clamped scalar, nonce prefix, public
    /// key), computed once from the seed; wiped when dropped.
    Ed25519(KBox<ed25519::ExpandedSecret>),
    /// A wrapping key (AES-256-GCM, usage WRAP/UNWRAP only): prepared once
    /// for native blobs (AES-GCM; blobs are short, so the library's, never a
    /// `gcm(aes)` transform) and for RFC 5649 (AES both ways).
    Wrapping {
        /// Native blobs.
        gcm: Prepared<AesGcmKind>,
        /// RFC 5649 blobs.
        aes: Prepared<AesKind>,
    },
    /// X25519: the scalar is the material; the public key is kept.
    X25519 {
        /// The public key.
        public: [u8; 32],
    },
}

impl Engine {
    /// Prepares the engine for a key of `alg` with material `key`, whose
    /// policy allows `usage` (a wrapping key's differs from an AEAD key's).
    pub(crate) fn new(alg: Alg, usage: u32, key: &[u8]) -> Result<Self> {
        if usage & KV_USAGE_WRAPPING != 0 {
            // `request::policy` lets only AES-256-GCM keys wrap.
            return Ok(Engine::Wrapping {
                gcm: Prepared::new(key)?,
                aes: Prepared::new(key)?,
            });
        }
        Ok(match alg {
            Alg::Aes128Gcm | Alg::Aes256Gcm => Engine::AesGcm(AesGcm {
                lib: Prepared::new(key)?,
                tfm: SetOnce::new(),
            }),
            Alg::ChaCha20Poly1305 => Engine::ChaCha20Poly1305,
            Alg::Aes128Cbc | Alg::Aes256Cbc => Engine::AesCbc(Prepared::new(key)?),
            Alg::HmacSha256 => Engine::HmacSha256(Prepared::new(key)?),
            Alg::HmacSha512 => Engine::HmacSha512(Prepared::new(key)?),
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
        match self {
            Engine::AesGcm(k) => match k.tfm(material, buf.len()) {
                Some(tfm) => tfm.seal(buf, aad, nonce),
                None => Ok(k.lib.seal(buf, aad, nonce)),
            },
            Engine::Wrapping { gcm, .. } => Ok(gcm.seal(buf, aad, nonce)),
            Engine::ChaCha20Poly1305 => chacha20poly1305_seal(material, buf, aad, nonce),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// AEAD-decrypts `buf` in place after checking the tag; `EBADMSG` when
    /// it does not match (`buf` may then hold unverified plaintext: the
    /// caller's scratch buffer wipes it, and none of it is returned).
    pub(crate) fn open(&self, material: &[u8], buf: &mut [u8], aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result {
        match self {
            Engine::AesGcm(k) => match k.tfm(material, buf.len()) {
                Some(tfm) => tfm.open(buf, aad, nonce, tag),
                None => k.lib.open(buf, aad, nonce, tag),
            },
            Engine::Wrapping { gcm, .. } => gcm.open(buf, aad, nonce, tag),
            Engine::ChaCha20Poly1305 => chacha20poly1305_open(material, buf, aad, nonce, tag),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// RFC 5649: wraps the `len` key bytes at the start of `buf` (exactly
    /// `kwp::wrapped_len(len)` long) in place.
    pub(crate) fn kwp_wrap(&self, buf: &mut [u8], len: usize) -> Result {
        match self {
            Engine::Wrapping { aes, .. } => reject(kwp::wrap(aes, buf, len)),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// RFC 5649: unwraps `buf` in place; the key is then `buf[8..8 + len]`.
    /// `EBADMSG` if it does not authenticate, `EINVAL` for an impossible length.
    pub(crate) fn kwp_unwrap(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            Engine::Wrapping { aes, .. } => reject(kwp::unwrap(aes, buf)),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// AES-CBC-encrypts whole blocks in place.
    pub(crate) fn cbc_encrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        match self {
            Engine::AesCbc(k) => k.cbc_encrypt(buf, iv),
            _ => Err(EOPNOTSUPP),
        }
    }

    /// AES-CBC-decrypts whole blocks in place.
    pub(crate) fn cbc_decrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        match self {
            Engine::AesCbc(k) => k.cbc_decrypt(buf, iv),
            _ => Err(EOPNOTSUPP),
        }
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
    pub(crate) fn mac(&self, data: &[u8], out: &mut [u8; 64]) -> Result<usize> {
        match self {
            Engine::HmacSha256(k) => Ok(k.mac(data, out)),
            Engine::HmacSha512(k) => Ok(k.mac(data, out)),
            _ => Err(EOPNOTSUPP),
        }
    }
}
