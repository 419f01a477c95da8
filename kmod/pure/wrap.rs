// SPDX-License-Identifier: GPL-2.0

//! The wrapped-key formats' framing: the native blob's 64-byte header (laid
//! out byte by byte in uapi/keyvault.h) and the sizes of both formats. The
//! crypto (AES-256-GCM for native blobs, RFC 5649 in [`super::kwp`]) is the
//! caller's; this file decides what a blob says and whether it can be one.

use super::{alg::Alg, kwp, request, Reject};
use crate::abi::*;

/// The native blob's magic.
pub const MAGIC: [u8; 4] = *b"KVWK";
/// Header length (the AES-GCM AAD).
pub const HEADER: usize = KV_WRAP_HEADER_SIZE as usize;
/// Where the nonce sits; the ciphertext follows it, then the tag.
pub const NONCE_AT: usize = HEADER;
/// Where the ciphertext starts.
pub const BODY_AT: usize = HEADER + KV_AEAD_NONCE_SIZE as usize;

/// A wrapped-key format (`KV_WRAP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// keyvault's own blob.
    Native,
    /// RFC 5649 AES Key Wrap with Padding.
    Rfc5649,
}

impl Format {
    /// Decodes `KV_WRAP_*`; unknown values are `Invalid`.
    pub fn from_abi(v: u32) -> Result<Self, Reject> {
        match v {
            KV_WRAP_NATIVE => Ok(Format::Native),
            KV_WRAP_RFC5649 => Ok(Format::Rfc5649),
            _ => Err(Reject::Invalid),
        }
    }

    /// The blob length for `key_len` bytes of material.
    pub fn blob_len(self, key_len: usize) -> usize {
        match self {
            Format::Native => KV_WRAP_OVERHEAD as usize + key_len,
            Format::Rfc5649 => kwp::wrapped_len(key_len),
        }
    }
}

/// What a native blob's header says: everything about the key but its
/// material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The key type.
    pub alg: Alg,
    /// Material length in bytes.
    pub key_len: usize,
    /// The key's policy (usage explicit, `KV_POLICY_WRAPPABLE` set).
    pub policy: KvPolicy,
    /// The key's child policy.
    pub child: KvChildPolicy,
    /// Expiry, wall clock ms since the epoch; 0 = never.
    pub expires_ms: u64,
}

impl Header {
    /// The header's 64 bytes.
    pub fn encode(&self) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[0..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&KV_WRAP_VERSION.to_le_bytes());
        h[8..12].copy_from_slice(&self.alg.to_abi().to_le_bytes());
        h[12..16].copy_from_slice(&(self.key_len as u32).to_le_bytes());
        h[16..20].copy_from_slice(&self.policy.usage.to_le_bytes());
        h[20..24].copy_from_slice(&self.policy.flags.to_le_bytes());
        h[24..32].copy_from_slice(&self.policy.max_uses.to_le_bytes());
        h[32..40].copy_from_slice(&self.policy.max_bytes.to_le_bytes());
        h[40..48].copy_from_slice(&self.expires_ms.to_le_bytes());
        let c = &self.child;
        for (i, v) in [c.algorithms, c.usage, c.max_uses, c.max_bytes].into_iter().enumerate() {
            h[48 + 4 * i..52 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        h
    }

    /// Reads the header of the native `blob` (its whole length): `Invalid`
    /// for another format version; `BadMessage` for anything no WRAP could
    /// have made (wrong magic, a length that does not match the header, an
    /// algorithm, size or policy the ABI does not allow). These bytes are not
    /// authenticated yet: the caller trusts them only once the AES-GCM tag
    /// over them verified.
    pub fn decode(blob: &[u8]) -> Result<Self, Reject> {
        if blob.len() < 8 {
            return Err(Reject::BadMessage);
        }
        let u32_at = |o: usize| u32::from_le_bytes([blob[o], blob[o + 1], blob[o + 2], blob[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | u64::from(u32_at(o + 4)) << 32;
        if blob[0..4] != MAGIC {
            return Err(Reject::BadMessage);
        }
        if u32_at(4) != KV_WRAP_VERSION {
            return Err(Reject::Invalid);
        }
        if blob.len() < KV_WRAP_OVERHEAD as usize {
            return Err(Reject::BadMessage);
        }
        let bad = |_| Reject::BadMessage;
        let alg = Alg::from_abi(u32_at(8)).map_err(bad)?;
        let key_len = request::import_len(alg, u32_at(12)).map_err(bad)?;
        if blob.len() != Format::Native.blob_len(key_len) {
            return Err(Reject::BadMessage);
        }
        let asked = KvPolicy {
            usage: u32_at(16),
            flags: u32_at(20),
            max_uses: u64_at(24),
            max_bytes: u64_at(32),
        };
        let policy = request::policy(alg, &asked).map_err(bad)?;
        if policy != asked || policy.flags & KV_POLICY_WRAPPABLE == 0 {
            return Err(Reject::BadMessage);
        }
        let child = request::child_policy(&KvChildPolicy {
            algorithms: u32_at(48),
            usage: u32_at(52),
            max_uses: u32_at(56),
            max_bytes: u32_at(60),
        })
        .map_err(bad)?;
        Ok(Header {
            alg,
            key_len,
            policy,
            child,
            expires_ms: u64_at(40),
        })
    }
}

/// An UNWRAP of a native blob takes everything from the blob: the request's
/// own key fields must be zero (`Invalid`).
pub fn native_request_clear(algorithm: u32, ttl_ms: u64, policy: &KvPolicy, child: &KvChildPolicy) -> Result<(), Reject> {
    if algorithm != 0 || ttl_ms != 0 || *policy != KvPolicy::default() || *child != KvChildPolicy::default() {
        return Err(Reject::Invalid);
    }
    Ok(())
}
