// SPDX-License-Identifier: GPL-2.0

//! Host build of the module's pure logic (`kmod/pure/`): the same source files
//! the kernel compiles, exposed as a crate so they can be unit-tested, checked
//! against reference crates and fuzzed with `cargo test`.
#![no_std]
// The module builds with rustc 1.85.1 (Debian 13's kernel toolchain), which
// has no `is_multiple_of`; the host's newer clippy suggests it. Here, the host
// crate's root, because the kernel build's clippy would not know the lint.
#![allow(clippy::manual_is_multiple_of)]

pub use keyvault_uapi as abi;

#[path = "mod.rs"]
mod pure;
pub use pure::*;
