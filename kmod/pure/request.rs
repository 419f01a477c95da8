// SPDX-License-Identifier: GPL-2.0

//! Validation of requests, before any key or kernel state is touched.

use super::alg::Alg;
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
    if !key_bits.is_multiple_of(8) {
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
