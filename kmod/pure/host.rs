// SPDX-License-Identifier: GPL-2.0

//! Host build of the module's pure logic (`kmod/pure/`): the same source files
//! the kernel compiles, exposed as a crate so they can be unit-tested, checked
//! against reference crates and fuzzed with `cargo test`.
#![no_std]

pub use keyvault_uapi as abi;

#[path = "mod.rs"]
mod pure;
pub use pure::*;
