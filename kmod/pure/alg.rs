// SPDX-License-Identifier: GPL-2.0

//! The algorithm table: key sizes and the operations each key type supports.

use super::Reject;
use crate::abi::*;

/// A key type (`KV_ALG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-128-CBC.
    Aes128Cbc,
    /// AES-256-CBC.
    Aes256Cbc,
    /// HMAC-SHA256.
    HmacSha256,
    /// HMAC-SHA512.
    HmacSha512,
    /// Ed25519.
    Ed25519,
    /// X25519.
    X25519,
}

/// Key sizes an algorithm accepts, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySizes {
    /// Smallest key.
    pub min: usize,
    /// Largest key.
    pub max: usize,
    /// Size GENKEY uses when asked for 0 bits.
    pub default: usize,
}

/// Every algorithm, in ABI order.
pub const ALL_ALGS: [Alg; 9] = [
    Alg::Aes128Gcm,
    Alg::Aes256Gcm,
    Alg::ChaCha20Poly1305,
    Alg::Aes128Cbc,
    Alg::Aes256Cbc,
    Alg::HmacSha256,
    Alg::HmacSha512,
    Alg::Ed25519,
    Alg::X25519,
];

impl Alg {
    /// Decodes a `KV_ALG_*` value; unknown values are `Invalid`.
    pub fn from_abi(v: u32) -> Result<Self, Reject> {
        Ok(match v {
            KV_ALG_AES128_GCM => Alg::Aes128Gcm,
            KV_ALG_AES256_GCM => Alg::Aes256Gcm,
            KV_ALG_CHACHA20_POLY1305 => Alg::ChaCha20Poly1305,
            KV_ALG_AES128_CBC => Alg::Aes128Cbc,
            KV_ALG_AES256_CBC => Alg::Aes256Cbc,
            KV_ALG_HMAC_SHA256 => Alg::HmacSha256,
            KV_ALG_HMAC_SHA512 => Alg::HmacSha512,
            KV_ALG_ED25519 => Alg::Ed25519,
            KV_ALG_X25519 => Alg::X25519,
            _ => return Err(Reject::Invalid),
        })
    }

    /// The `KV_ALG_*` value.
    pub fn to_abi(self) -> u32 {
        match self {
            Alg::Aes128Gcm => KV_ALG_AES128_GCM,
            Alg::Aes256Gcm => KV_ALG_AES256_GCM,
            Alg::ChaCha20Poly1305 => KV_ALG_CHACHA20_POLY1305,
            Alg::Aes128Cbc => KV_ALG_AES128_CBC,
            Alg::Aes256Cbc => KV_ALG_AES256_CBC,
            Alg::HmacSha256 => KV_ALG_HMAC_SHA256,
            Alg::HmacSha512 => KV_ALG_HMAC_SHA512,
            Alg::Ed25519 => KV_ALG_ED25519,
            Alg::X25519 => KV_ALG_X25519,
        }
    }

    /// Accepted key sizes. HMAC keys are at least 128 bits (shorter keys are
    /// refused as weak) and at most one hash block (longer keys would only be
    /// hashed down, RFC 2104).
    pub fn key_sizes(self) -> KeySizes {
        let fixed = |n| KeySizes {
            min: n,
            max: n,
            default: n,
        };
        match self {
            Alg::Aes128Gcm | Alg::Aes128Cbc => fixed(16),
            Alg::Aes256Gcm | Alg::Aes256Cbc | Alg::ChaCha20Poly1305 => fixed(32),
            Alg::Ed25519 | Alg::X25519 => fixed(32),
            Alg::HmacSha256 => KeySizes {
                min: 16,
                max: 64,
                default: 32,
            },
            Alg::HmacSha512 => KeySizes {
                min: 16,
                max: 128,
                default: 64,
            },
        }
    }

    /// The operations (`KV_CAP_*` bits) a key of this type can be used
    /// for: an AES-256-GCM key can be a wrapping key instead (usage
    /// `KV_USAGE_WRAPPING` alone, see `request::policy`).
    pub fn usage(self) -> u32 {
        match self {
            Alg::Aes256Gcm => self.default_usage() | KV_USAGE_WRAPPING,
            _ => self.default_usage(),
        }
    }

    /// What usage 0 means for a new key: every operation of [`Alg::usage`]
    /// but wrapping, which is asked for explicitly.
    pub fn default_usage(self) -> u32 {
        match self {
            Alg::Aes128Gcm | Alg::Aes256Gcm | Alg::ChaCha20Poly1305 => {
                KV_CAP_ENCRYPT | KV_CAP_DECRYPT
            }
            Alg::Aes128Cbc | Alg::Aes256Cbc => KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
            Alg::HmacSha256 | Alg::HmacSha512 => KV_CAP_MAC | KV_CAP_DERIVE,
            Alg::Ed25519 => KV_CAP_SIGN | KV_CAP_VERIFY,
            Alg::X25519 => KV_CAP_EXCHANGE,
        }
    }

    /// An AEAD key (AES-GCM, ChaCha20-Poly1305).
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Alg::Aes128Gcm | Alg::Aes256Gcm | Alg::ChaCha20Poly1305
        )
    }

    /// An AES-CBC key.
    pub fn is_cbc(self) -> bool {
        matches!(self, Alg::Aes128Cbc | Alg::Aes256Cbc)
    }

    /// An HMAC key; its MAC length.
    pub fn mac_len(self) -> Option<usize> {
        match self {
            Alg::HmacSha256 => Some(32),
            Alg::HmacSha512 => Some(64),
            _ => None,
        }
    }

    /// Whether the key has a public half (Ed25519, X25519).
    pub fn is_asymmetric(self) -> bool {
        matches!(self, Alg::Ed25519 | Alg::X25519)
    }
}
