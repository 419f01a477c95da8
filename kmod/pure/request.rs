// SPDX-License-Identifier: GPL-2.0

//! Validation of requests, before any key or kernel state is touched.
//!
//! A rule goes here when it depends only on the request's values, ABI
//! constants and numbers the caller passes (a limit, the handle's
//! capabilities): then it is tested on the host. Reserved words are checked
//! for every request by `uapi.rs`; a rule that needs the key, the vault or
//! user memory belongs in the handler (`ops/`).

use super::alg::Alg;
use super::padding;
use super::Reject;
use crate::abi::*;

/// VERIFY names its public key either by a vault key id or by a pointer to
/// the key's bytes (key id 0), never both.
pub fn verify_key(key_id: u64, pubkey_ptr: u64) -> Result<(), Reject> {
    if key_id != 0 && pubkey_ptr != 0 {
        Err(Reject::Invalid)
    } else {
        Ok(())
    }
}

/// DERIVE and KEYEXCHANGE: salt and info of at most `KV_KDF_MAX_INPUT`.
pub fn kdf_inputs(salt_len: u32, info_len: u32) -> Result<(), Reject> {
    if salt_len > KV_KDF_MAX_INPUT || info_len > KV_KDF_MAX_INPUT {
        Err(Reject::Invalid)
    } else {
        Ok(())
    }
}

/// DUP with a key list of `nkeys` ids (0: no list) for a handle with
/// `caps`: at most `KV_DUP_MAX_KEYS`, and a key-limited handle may not make
/// keys (it could never see them).
pub fn dup_keys(nkeys: u32, caps: u32) -> Result<(), Reject> {
    const MAKES_KEYS: u32 = KV_CAP_GENKEY | KV_CAP_IMPORT | KV_CAP_DERIVE | KV_CAP_EXCHANGE | KV_CAP_UNWRAP;
    if nkeys != 0 && (nkeys > KV_DUP_MAX_KEYS || caps & MAKES_KEYS != 0) {
        Err(Reject::Invalid)
    } else {
        Ok(())
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
/// operation the algorithm supports but wrapping ([`Alg::default_usage`]);
/// asking for an operation the algorithm cannot do, an unknown bit, or
/// wrapping together with anything else, is `Invalid`.
pub fn policy(alg: Alg, p: &KvPolicy) -> Result<KvPolicy, Reject> {
    if p.usage & !KV_USAGE_ALL != 0 || p.flags & !KV_POLICY_FLAGS_ALL != 0 {
        return Err(Reject::Invalid);
    }
    let usage = if p.usage == 0 { alg.default_usage() } else { p.usage };
    if usage & !alg.usage() != 0 || !wrapping_alone(usage) {
        return Err(Reject::Invalid);
    }
    Ok(KvPolicy { usage, ..*p })
}

/// A wrapping key wraps and unwraps and does nothing else: with ENCRYPT or
/// DECRYPT as well, AEAD_DECRYPT of a blob's body would hand out the wrapped
/// key, and AEAD_ENCRYPT could forge blobs.
fn wrapping_alone(usage: u32) -> bool {
    usage & KV_USAGE_WRAPPING == 0 || usage & !KV_USAGE_WRAPPING == 0
}

/// A key whose material came from the kernel keyring cannot be wrappable:
/// its keyring type (logon, encrypted, trusted) promises that the bytes are
/// never readable outside the kernel (`Denied`).
pub fn keyring_policy(alg: Alg, p: &KvPolicy) -> Result<KvPolicy, Reject> {
    let p = policy(alg, p)?;
    if p.flags & KV_POLICY_WRAPPABLE != 0 {
        return Err(Reject::Denied);
    }
    Ok(p)
}

/// Validates a child policy (what keys derived from a new key may be).
pub fn child_policy(c: &KvChildPolicy) -> Result<KvChildPolicy, Reject> {
    if c.algorithms & !KV_CHILD_ALGS_ALL != 0 || c.usage & !KV_USAGE_ALL != 0 {
        return Err(Reject::Invalid);
    }
    Ok(*c)
}

/// Policy flags a derived key always has when its parent has them: a
/// restriction on the parent's material binds every key made from it.
pub const INHERITED_FLAGS: u32 = KV_POLICY_NO_CALLER_NONCE;

/// The policy of a key of `alg` derived from a parent whose policy is
/// `parent` and whose child policy is `allowed`, when the request asks for
/// `asked` (validated with [`policy`] already). Zero fields ask for the most
/// the parent allows: usage 0 is every operation of `alg` the child policy
/// permits (wrapping only when asked for), max uses/bytes 0 the child
/// policy's cap. Anything wider than the child policy is `Denied`, and so is
/// `KV_POLICY_WRAPPABLE` under a parent without it (the bytes of a key that
/// never leaves the kernel must not leave as its child's); the parent's
/// [`INHERITED_FLAGS`] are added.
pub fn derived_policy(
    alg: Alg,
    asked: &KvPolicy,
    parent: &KvPolicy,
    allowed: &KvChildPolicy,
) -> Result<KvPolicy, Reject> {
    if allowed.algorithms != 0 && allowed.algorithms & (1 << alg.to_abi()) == 0 {
        return Err(Reject::Denied);
    }
    let permitted = if allowed.usage == 0 { alg.usage() } else { alg.usage() & allowed.usage };
    let usage = if asked.usage == 0 { permitted & alg.default_usage() } else { asked.usage };
    if usage == 0 || usage & !permitted != 0 {
        return Err(Reject::Denied);
    }
    if asked.flags & KV_POLICY_WRAPPABLE != 0 && parent.flags & KV_POLICY_WRAPPABLE == 0 {
        return Err(Reject::Denied);
    }
    Ok(KvPolicy {
        usage,
        flags: asked.flags | (parent.flags & INHERITED_FLAGS),
        max_uses: capped(asked.max_uses, allowed.max_uses)?,
        max_bytes: capped(asked.max_bytes, allowed.max_bytes)?,
    })
}

/// A limit (0 = unlimited) under a cap (0 = none): 0 becomes the cap, more
/// than the cap is `Denied`.
fn capped(asked: u64, cap: u32) -> Result<u64, Reject> {
    let cap = u64::from(cap);
    match (asked, cap) {
        (_, 0) => Ok(asked),
        (0, _) => Ok(cap),
        (a, c) if a <= c => Ok(a),
        _ => Err(Reject::Denied),
    }
}

/// The child policy of a derived key: its parent's, narrowed by what the
/// request asks for (validated with [`child_policy`]); never wider. Sets
/// with nothing in common are `Denied` (0 would mean "any").
pub fn narrowed_child(parent: &KvChildPolicy, asked: &KvChildPolicy) -> Result<KvChildPolicy, Reject> {
    let set = |p: u32, a: u32| match (p, a) {
        (0, x) | (x, 0) => Ok(x),
        (p, a) if p & a != 0 => Ok(p & a),
        _ => Err(Reject::Denied),
    };
    let cap = |p: u32, a: u32| match (p, a) {
        (0, x) | (x, 0) => x,
        (p, a) => p.min(a),
    };
    Ok(KvChildPolicy {
        algorithms: set(parent.algorithms, asked.algorithms)?,
        usage: set(parent.usage, asked.usage)?,
        max_uses: cap(parent.max_uses, asked.max_uses),
        max_bytes: cap(parent.max_bytes, asked.max_bytes),
    })
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

/// The longest input of an AES-CBC request under the per-operation limit
/// `max_data`, which bounds the plaintext: a padded decryption takes the
/// ciphertext of `max_data` plaintext bytes, so every ciphertext that
/// CBC_ENCRYPT makes, CBC_DECRYPT takes back.
pub fn cbc_max_in(encrypt: bool, padded: bool, max_data: usize) -> usize {
    if !encrypt && padded {
        padding::padded_len(max_data).unwrap_or(max_data)
    } else {
        max_data
    }
}

/// The output capacity an AES-CBC request needs (for decryption with
/// padding, an upper bound: the padding is only known after decrypting).
pub fn cbc_out_len(encrypt: bool, padded: bool, in_len: usize) -> Result<usize, Reject> {
    let whole = in_len % padding::BLOCK == 0;
    match (encrypt, padded) {
        (true, true) => padding::padded_len(in_len).ok_or(Reject::TooBig),
        (true, false) if whole => Ok(in_len),
        (false, false) if whole => Ok(in_len),
        (false, true) if whole && in_len > 0 => Ok(in_len - 1),
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
