// SPDX-License-Identifier: GPL-2.0

//! Validation of requests, before any key or kernel state is touched.

use super::alg::Alg;
use super::padding;
use super::Reject;
use crate::abi::*;

/// Checks that every reserved word is zero (they exist so the ABI can grow).
pub fn reserved_zero(words: &[u64]) -> Result<(), Reject> {
    if words.iter().all(|w| *w == 0) {
        Ok(())
    } else {
        Err(Reject::Invalid)
    }
}

/// The key length GENKEY makes for `key_bits` (0 = the algorithm's default).
pub fn genkey_len(alg: Alg, key_bits: u32) -> Result<usize, Reject> {
    let sizes = alg.key_sizes();
    if key_bits == 0 {
        return Ok(sizes.default);
    }
    if key_bits % 8 != 0 {
        return Err(Reject::Invalid);
    }
    let len = (key_bits / 8) as usize;
    if len < sizes.min || len > sizes.max {
        return Err(Reject::Invalid);
    }
    Ok(len)
}

/// Checks an IMPORT length for the algorithm.
pub fn import_len(alg: Alg, key_len: u32) -> Result<usize, Reject> {
    let sizes = alg.key_sizes();
    let len = key_len as usize;
    if len < sizes.min || len > sizes.max {
        return Err(Reject::Invalid);
    }
    Ok(len)
}

/// Validates a creation policy and makes its usage explicit: 0 means every
/// operation the algorithm supports; asking for an operation the algorithm
/// cannot do, or an unknown bit, is `Invalid`.
pub fn policy(alg: Alg, p: &KvPolicy) -> Result<KvPolicy, Reject> {
    if p.usage & !KV_USAGE_ALL != 0 || p.flags & !KV_POLICY_FLAGS_ALL != 0 {
        return Err(Reject::Invalid);
    }
    let usage = if p.usage == 0 { alg.usage() } else { p.usage };
    if usage & !alg.usage() != 0 {
        return Err(Reject::Invalid);
    }
    Ok(KvPolicy { usage, ..*p })
}

/// RESTRICT: the capabilities left after keeping only `keep`. Bits outside
/// `KV_CAP_ALL` are `Invalid`; bits the handle does not have stay cleared, so
/// the result can never grow.
pub fn restrict(have: u32, keep: u32) -> Result<u32, Reject> {
    if keep & !KV_CAP_ALL != 0 {
        return Err(Reject::Invalid);
    }
    Ok(have & keep)
}

/// A TTL in milliseconds as nanoseconds, refusing lifetimes that overflow
/// the monotonic clock's `i64` nanoseconds (about 292 years).
pub fn ttl_ns(ttl_ms: u64) -> Result<Option<i64>, Reject> {
    if ttl_ms == 0 {
        return Ok(None);
    }
    let ns = ttl_ms.checked_mul(1_000_000).ok_or(Reject::Invalid)?;
    i64::try_from(ns).map(Some).map_err(|_| Reject::Invalid)
}

/// Checks that only `allowed` flag bits are set.
pub fn flags(flags: u32, allowed: u32) -> Result<(), Reject> {
    if flags & !allowed == 0 {
        Ok(())
    } else {
        Err(Reject::Invalid)
    }
}

/// An input length, refused with `TooBig` past the per-operation limit.
pub fn data_len(len: u32, max: usize) -> Result<usize, Reject> {
    let len = len as usize;
    if len > max {
        Err(Reject::TooBig)
    } else {
        Ok(len)
    }
}

/// The output capacity an AES-CBC request needs (for decryption with
/// padding, an upper bound: the padding is only known after decrypting).
pub fn cbc_out_len(encrypt: bool, padded: bool, in_len: usize) -> Result<usize, Reject> {
    let whole = in_len % padding::BLOCK == 0;
    match (encrypt, padded) {
        (true, true) => padding::padded_len(in_len).ok_or(Reject::TooBig),
        (true, false) if whole => Ok(in_len),
        (false, _) if whole && in_len > 0 => Ok(if padded { in_len - 1 } else { in_len }),
        _ => Err(Reject::Invalid),
    }
}

/// VERIFY_MAC compares `len` bytes: at least `KV_MIN_MAC_VERIFY_SIZE`
/// (shorter tags are forgeable), at most the MAC's full length.
pub fn verify_mac_len(len: u32, full: usize) -> Result<usize, Reject> {
    let len = len as usize;
    if len < KV_MIN_MAC_VERIFY_SIZE as usize || len > full {
        Err(Reject::Invalid)
    } else {
        Ok(len)
    }
}

/// The hash function of a `KV_HASH_*` value: true for SHA-512.
pub fn hash_is_sha512(alg: u32) -> Result<bool, Reject> {
    match alg {
        KV_HASH_SHA256 => Ok(false),
        KV_HASH_SHA512 => Ok(true),
        _ => Err(Reject::Invalid),
    }
}
