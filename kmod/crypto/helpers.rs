// SPDX-License-Identifier: GPL-2.0

//! Small kernel services the secret-handling code needs: wiping that is
//! never optimized away, constant-time comparison, the CSPRNG and the wall
//! clock.

use kernel::{
    alloc::KVVec,
    bindings,
    error::to_result,
    prelude::*, //
};

use super::ffi;

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

/// Fills `buf` from the kernel CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; get_random_bytes
    // may be called from any context and writes exactly that many bytes.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// Waits until the CSPRNG is seeded (at once, after early boot); a signal
/// interrupts the wait (`ERESTARTSYS`). Sleeps: process context only.
pub(crate) fn wait_for_random() -> Result {
    // SAFETY: callable in process context (may sleep); no arguments.
    to_result(unsafe { bindings::wait_for_random_bytes() })
}

/// Milliseconds since the Unix epoch on the wall clock.
pub(crate) fn real_time_ms() -> u64 {
    // SAFETY: ktime_get_real() may be called from any non-NMI context.
    let ns = unsafe { bindings::ktime_get_real() };
    u64::try_from(ns / 1_000_000).unwrap_or(0)
}
