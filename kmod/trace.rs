// SPDX-License-Identifier: GPL-2.0

//! keyvault's tracepoints (`keyvault:*`, defined in trace.h, instantiated in
//! trace.c). Each call is a C function whose body is the tracepoint's static
//! branch: off, it costs a call and a not-taken jump.

/// How a key came to be (`how` of `keyvault_key_create`).
#[derive(Clone, Copy)]
pub(crate) enum Origin {
    /// GENKEY.
    Generated = 0,
    /// IMPORT.
    Imported = 1,
    /// DERIVE.
    Derived = 2,
    /// KEYEXCHANGE.
    Exchanged = 3,
    /// UNWRAP.
    Unwrapped = 4,
    /// IMPORT_KEYRING.
    Keyring = 5,
}

mod ffi {
    extern "C" {
        pub(super) fn kv_trace_key_create(key_id: u64, algorithm: u32, bits: u32, how: u32, parent: u64);
        pub(super) fn kv_trace_key_destroy(key_id: u64);
        pub(super) fn kv_trace_key_revoke(key_id: u64);
        pub(super) fn kv_trace_key_expire(key_id: u64);
        pub(super) fn kv_trace_op(op: u32, key_id: u64, len: u64, err: i32);
        pub(super) fn kv_trace_cap_denied(op: u32, wanted: u32, have: u32);
    }
}

/// `keyvault_key_create`.
pub(crate) fn key_create(key_id: u64, algorithm: u32, bits: u32, how: Origin, parent: u64) {
    // SAFETY: a plain C function taking integers; callable from any context.
    unsafe { ffi::kv_trace_key_create(key_id, algorithm, bits, how as u32, parent) }
}

/// `keyvault_key_destroy`: the key's material was wiped.
pub(crate) fn key_destroy(key_id: u64) {
    // SAFETY: as above.
    unsafe { ffi::kv_trace_key_destroy(key_id) }
}

/// `keyvault_key_revoke`.
pub(crate) fn key_revoke(key_id: u64) {
    // SAFETY: as above.
    unsafe { ffi::kv_trace_key_revoke(key_id) }
}

/// `keyvault_key_expire`: the first time the key was seen expired.
pub(crate) fn key_expire(key_id: u64) {
    // SAFETY: as above.
    unsafe { ffi::kv_trace_key_expire(key_id) }
}

/// `keyvault_op`: an ioctl ended with `err` (0 or a negative errno).
pub(crate) fn op(op: u32, key_id: u64, len: u64, err: i32) {
    // SAFETY: as above.
    unsafe { ffi::kv_trace_op(op, key_id, len, err) }
}

/// `keyvault_cap_denied`.
pub(crate) fn cap_denied(op: u32, wanted: u32, have: u32) {
    // SAFETY: as above.
    unsafe { ffi::kv_trace_cap_denied(op, wanted, have) }
}
