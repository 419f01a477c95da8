// SPDX-License-Identifier: GPL-2.0

//! Safe Rust over `glue.c`, the only calls into the kernel's crypto library:
//! - `ffi.rs`: the C declarations, used only inside this directory;
//! - `prepared.rs`: one owning, typed wrapper per C resource holding a key
//!   (library-prepared AES-GCM/AES/HMAC keys, the `gcm(aes)` transform);
//! - `engine.rs`: a key's crypto state and the per-algorithm dispatch
//!   (used by `Key` only);
//! - `primitives.rs`: crypto without a key object (ChaCha20-Poly1305,
//!   SHA-2, HMAC for HKDF, X25519, Ed25519 verification);
//! - `helpers.rs`: wiping, constant-time comparison, the CSPRNG, the clock.
//!
//! Everything above works with slices and `Result`s.

mod engine;
mod ffi;
mod helpers;
mod prepared;
mod primitives;

pub(crate) use engine::Engine;
pub(crate) use helpers::{
    fill_random,
    memeq_consttime,
    memzero,
    memzero_allocation,
    real_time_ms,
    wait_for_random, //
};
pub(crate) use primitives::{
    ed25519_verify,
    sha2,
    x25519,
    HmacSha256,
    HmacSha512, //
};

/// AEAD nonce.
pub(crate) type Nonce = [u8; 12];
/// AEAD tag.
pub(crate) type Tag = [u8; 16];
/// AES-CBC IV (updated in place to the chaining value).
pub(crate) type Iv = [u8; 16];
