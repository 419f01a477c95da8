// SPDX-License-Identifier: GPL-2.0

//! Pure logic: depends only on `core` and the ABI, so the very same files are
//! compiled into the module and tested on the host (crate `keyvault-pure`).
//!
//! Like all of `kmod/`, it builds with rustc 1.85.1 (Debian 13's kernel
//! toolchain): hence `x % n != 0`, not `is_multiple_of` (stable since 1.87).

pub mod alg;
pub mod ed25519;
pub mod hkdf;
pub mod kwp;
pub mod padding;
pub mod request;
pub mod wrap;

/// Why a request is refused; each variant is one errno class of the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// `EINVAL`: malformed request, reserved bits set, bad size or type.
    Invalid,
    /// `EMSGSIZE`: input larger than the per-operation limit.
    TooBig,
    /// `EPERM`: a policy fixed earlier (a parent key's child policy) forbids it.
    Denied,
    /// `EBADMSG`: data that should authenticate (a wrapped key) does not.
    BadMessage,
}

/// Overwrites `*x` with `zero` in a way the compiler may not elide: how the
/// pure code wipes secrets (it cannot call the kernel's memzero_explicit).
pub fn wipe<T: Copy>(x: &mut T, zero: T) {
    // SAFETY: `x` is a valid, aligned and exclusive reference to a `T`, and a
    // `T: Copy` has no drop glue that overwriting could skip.
    unsafe { core::ptr::write_volatile(x, zero) };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
