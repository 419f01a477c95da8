// SPDX-License-Identifier: GPL-2.0 OR MIT

//! keyvault's ioctl ABI for Rust programs: `#[repr(C)]` structs and constants,
//! identical to `keyvault.h` (proven by this crate's tests) and to what the
//! module itself compiles (it includes `abi.rs` directly).
#![no_std]

mod abi;
pub use abi::*;
