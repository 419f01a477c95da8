// SPDX-License-Identifier: GPL-2.0

//! RFC 5649 AES Key Wrap with Padding with a wrapping key's material: the
//! pure algorithm (`pure::kwp`) over the kernel library's AES, prepared for
//! the one call (wrapping is rare; a wrapping key keeps no AES schedule
//! beyond its AES-GCM one) and wiped when it returns.

use kernel::prelude::*;

use super::prepared::{AesKind, Prepared};
use crate::{pure::kwp, uapi::reject};

/// Wraps the `len` key bytes at the start of `buf` (exactly
/// `kwp::wrapped_len(len)` long) in place under `kek`.
pub(crate) fn kwp_wrap(kek: &[u8], buf: &mut [u8], len: usize) -> Result {
    reject(kwp::wrap(&Prepared::<AesKind>::new(kek)?, buf, len))
}

/// Unwraps `buf` in place under `kek`; the key is then `buf[8..8 + len]`.
/// `EBADMSG` if it does not authenticate, `EINVAL` for an impossible length.
pub(crate) fn kwp_unwrap(kek: &[u8], buf: &mut [u8]) -> Result<usize> {
    reject(kwp::unwrap(&Prepared::<AesKind>::new(kek)?, buf))
}
