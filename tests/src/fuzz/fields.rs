//! What the fuzzer knows about each request struct and each algorithm: a
//! table per struct of its fields (offset, size and what the field holds, so
//! a mutation picks a hostile value of the right kind: a length at a
//! boundary, a pointer, a reserved word, an id...), and the key sizes and
//! operations of every algorithm, for building valid-looking requests.

use keyvault::uapi::*;
use std::mem::offset_of;

/// What a field holds, for choosing hostile values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum K {
    Len,
    Ptr,
    Flags(u32),
    Res,
    KeyId,
    Alg,
    Hash,
    Caps,
    Ttl,
    Bits,
    Count,
    Cursor,
    Usage,
    PFlags,
    Max,
    /// A child policy's algorithm set.
    ChildAlgs,
    /// A kernel keyring key's serial (`key_serial_t`).
    Serial,
    /// A wrapped-key format (`KV_WRAP_*`).
    Format,
    Raw,
}

#[derive(Clone, Copy)]
pub struct F {
    pub off: usize,
    pub size: usize,
    pub k: K,
}

/// A table of fields of `$t`, each `field: Kind` (offset and size from
/// the struct).
macro_rules! table {
    ($t:ty; $($($field:ident).+ : $k:ident $(($m:expr))?),+ $(,)?) => {
        [$(F {
            off: offset_of!($t, $($field).+),
            size: field_size(|s: &$t| &s.$($field).+),
            k: K::$k $(($m))?,
        }),+]
    };
}

const fn field_size<T, U>(_: fn(&T) -> &U) -> usize {
    size_of::<U>()
}

/// A key's creation policy (`$p` in `$t`).
macro_rules! policy_fields {
    ($t:ty, $($p:ident).+) => {
        table![$t; $($p).+.usage: Usage, $($p).+.flags: PFlags,
            $($p).+.max_uses: Max, $($p).+.max_bytes: Max]
    };
}

/// A child policy: what keys derived from a key may be.
macro_rules! child_fields {
    ($t:ty) => {
        table![$t; child.algorithms: ChildAlgs, child.usage: Usage,
            child.max_uses: Count, child.max_bytes: Len]
    };
}

/// The HKDF parameters of a new key (DERIVE, KEYEXCHANGE) but its policy.
macro_rules! kdf_fields {
    ($t:ty) => {
        table![$t; kdf.hash: Hash, kdf.algorithm: Alg, kdf.key_bits: Bits,
            kdf.salt_len: Len, kdf.salt_ptr: Ptr, kdf.info_ptr: Ptr, kdf.info_len: Len,
            kdf.reserved0: Res, kdf.ttl_ms: Ttl]
    };
}

/// One field table from parts (arrays of [`F`]), in order.
macro_rules! fields {
    ($($part:expr),+ $(,)?) => {{
        const PARTS: &[&[F]] = &[$(&$part),+];
        &join::<{ total(PARTS) }>(PARTS)
    }};
}

const fn total(parts: &[&[F]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        n += parts[i].len();
        i += 1;
    }
    n
}

const fn join<const N: usize>(parts: &[&[F]]) -> [F; N] {
    let mut out = [F {
        off: 0,
        size: 0,
        k: K::Raw,
    }; N];
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[n] = parts[i][j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

pub const F_GETCAPS: &[F] = &table![KvCaps; caps: Raw, reserved: Raw];
pub const F_RESTRICT: &[F] = &table![KvCaps; caps: Caps, reserved: Res];
/// Output only: the kernel reads none of it.
pub const F_LIMITS: &[F] = &table![KvLimits; max_data_bytes: Raw, max_keys_per_vault: Raw,
    max_key_bytes_per_vault: Raw, max_keys_per_user: Raw, max_key_bytes_per_user: Raw,
    vault_keys: Raw, vault_key_bytes: Raw, user_keys: Raw, user_key_bytes: Raw, reserved: Raw];
pub const F_DUP: &[F] = &table![KvDup; caps: Caps, nkeys: Count, keys_ptr: Ptr, fd: Res,
    flags: Res, reserved: Res];
pub const F_GENKEY: &[F] = fields![
    table![KvGenkey; algorithm: Alg, key_bits: Bits, ttl_ms: Ttl],
    policy_fields!(KvGenkey, policy),
    table![KvGenkey; key_id: Raw],
    child_fields!(KvGenkey),
];
pub const F_IMPORT: &[F] = fields![
    table![KvImport; algorithm: Alg, key_len: Len, key_ptr: Ptr, ttl_ms: Ttl],
    policy_fields!(KvImport, policy),
    table![KvImport; key_id: Raw],
    child_fields!(KvImport),
];
pub const F_IMPORT_KEYRING: &[F] = fields![
    table![KvImportKeyring; algorithm: Alg, serial: Serial, ttl_ms: Ttl],
    policy_fields!(KvImportKeyring, policy),
    table![KvImportKeyring; key_id: Raw],
    child_fields!(KvImportKeyring),
    table![KvImportKeyring; reserved: Res],
];
pub const F_KEYREF: &[F] = &table![KvKeyref; key_id: KeyId, reserved: Res];
pub const F_KEYINFO: &[F] = &table![KvKeyinfo; key_id: KeyId, algorithm: Raw, state: Raw,
    reserved0: Res, created_ms: Raw, uses: Raw, reserved: Res];
pub const F_LIST: &[F] = &table![KvList; ids_ptr: Ptr, max_ids: Count, count: Raw,
    cursor: Cursor, total: Raw, reserved: Res];
pub const F_AEAD: &[F] = &table![KvAead; key_id: KeyId, in_ptr: Ptr, out_ptr: Ptr,
    aad_ptr: Ptr, nonce_ptr: Ptr, tag_ptr: Ptr, in_len: Len, out_len: Len, aad_len: Len,
    flags: Flags(KV_AEAD_FLAGS_ALL), reserved: Res];
pub const F_CBC: &[F] = &table![KvCbc; key_id: KeyId, in_ptr: Ptr, out_ptr: Ptr, iv_ptr: Ptr,
    in_len: Len, out_len: Len, flags: Flags(KV_CBC_FLAGS_ALL), reserved0: Res, reserved: Res];
pub const F_MAC: &[F] = &table![KvMac; key_id: KeyId, data_ptr: Ptr, mac_ptr: Ptr,
    data_len: Len, mac_len: Len, reserved: Res];
pub const F_HASH: &[F] = &table![KvHash; algorithm: Hash, data_len: Len, data_ptr: Ptr,
    digest_ptr: Ptr, digest_len: Len, reserved0: Res, reserved: Res];
pub const F_SIGN: &[F] = &table![KvSign; key_id: KeyId, data_ptr: Ptr, sig_ptr: Ptr,
    data_len: Len, sig_len: Len, reserved: Res];
pub const F_VERIFY: &[F] = &table![KvVerify; key_id: KeyId, pubkey_ptr: Ptr, data_ptr: Ptr,
    sig_ptr: Ptr, data_len: Len, reserved0: Res, reserved: Res];
pub const F_PUBKEY: &[F] = &table![KvPubkey; key_id: KeyId, pubkey_ptr: Ptr, pubkey_len: Len,
    reserved0: Res, reserved: Res];
pub const F_DERIVE: &[F] = fields![
    table![KvDerive; key_id: KeyId],
    kdf_fields!(KvDerive),
    policy_fields!(KvDerive, kdf.policy),
    table![KvDerive; new_key_id: Raw],
    child_fields!(KvDerive),
];
pub const F_EXCHANGE: &[F] = fields![
    table![KvExchange; key_id: KeyId, peer_ptr: Ptr],
    kdf_fields!(KvExchange),
    policy_fields!(KvExchange, kdf.policy),
    table![KvExchange; new_key_id: Raw],
    child_fields!(KvExchange),
];
pub const F_WRAP: &[F] = &table![KvWrap; wrapping_key_id: KeyId, key_id: KeyId,
    blob_ptr: Ptr, blob_len: Len, format: Format, reserved: Res];
pub const F_UNWRAP: &[F] = fields![
    table![KvUnwrap; wrapping_key_id: KeyId, blob_ptr: Ptr, blob_len: Len, format: Format,
        algorithm: Alg, reserved0: Res, ttl_ms: Ttl],
    policy_fields!(KvUnwrap, policy),
    child_fields!(KvUnwrap),
    table![KvUnwrap; new_key_id: Raw, reserved: Res],
];

/// Key sizes in bytes: (min, max, default).
pub fn key_sizes(alg: u32) -> (u32, u32, u32) {
    match alg {
        KV_ALG_AES128_GCM | KV_ALG_AES128_CBC => (16, 16, 16),
        KV_ALG_HMAC_SHA256 => (16, 64, 32),
        KV_ALG_HMAC_SHA512 => (16, 128, 64),
        _ => (32, 32, 32),
    }
}

/// Whether a key of `len` bytes can be a key of `alg`.
pub fn fits(alg: u32, len: usize) -> bool {
    let (min, max, _) = key_sizes(alg);
    (1..=9).contains(&alg) && (min as usize..=max as usize).contains(&len)
}

/// The operations a key of `alg` supports (KV_CAP_* bits): AES-256-GCM
/// keys may instead be wrapping keys ([`WRAPPING_ALG`]).
pub fn alg_usage(alg: u32) -> u32 {
    match alg {
        WRAPPING_ALG => default_usage(alg) | KV_USAGE_WRAPPING,
        _ => default_usage(alg),
    }
}

/// What usage 0 means for a key of `alg`: all it supports but wrapping.
pub fn default_usage(alg: u32) -> u32 {
    match alg {
        1..=5 => KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
        6 | 7 => KV_CAP_MAC | KV_CAP_DERIVE,
        8 => KV_CAP_SIGN | KV_CAP_VERIFY,
        _ => KV_CAP_EXCHANGE,
    }
}

/// The one algorithm of wrapping keys (usage within `KV_USAGE_WRAPPING`).
pub const WRAPPING_ALG: u32 = KV_ALG_AES256_GCM;

/// The length of a blob of `format` for `key_len` bytes of key.
pub fn blob_len(format: u32, key_len: usize) -> usize {
    if format == KV_WRAP_NATIVE {
        KV_WRAP_OVERHEAD as usize + key_len
    } else {
        8 + key_len.div_ceil(8) * 8
    }
}

pub const AEAD_ALGS: [u32; 3] = [
    KV_ALG_AES128_GCM,
    KV_ALG_AES256_GCM,
    KV_ALG_CHACHA20_POLY1305,
];
pub const CBC_ALGS: [u32; 2] = [KV_ALG_AES128_CBC, KV_ALG_AES256_CBC];
pub const HMAC_ALGS: [u32; 2] = [KV_ALG_HMAC_SHA256, KV_ALG_HMAC_SHA512];
pub const ALL_ALGS: [u32; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
