// SPDX-License-Identifier: GPL-2.0

//! Pure logic: depends only on `core` and the ABI, so the very same files are
//! compiled into the module and tested on the host (crate `keyvault-pure`).

pub mod alg;
pub mod ed25519;
pub mod hkdf;
pub mod padding;
pub mod request;

/// Why a request is refused; each variant is one errno class of the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// `EINVAL`: malformed request, reserved bits set, bad size or type.
    Invalid,
    /// `EOPNOTSUPP`: the algorithm cannot do that.
    Unsupported,
    /// `EMSGSIZE`: input larger than the per-operation limit.
    TooBig,
}
