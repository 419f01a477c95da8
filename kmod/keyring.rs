// SPDX-License-Identifier: GPL-2.0

//! The kernel keyring as a source of key material (IMPORT_KEYRING): the one
//! safe wrapper around kmod/keyring.c, which looks a key up by serial with
//! the caller's credentials and copies its payload under the key's semaphore.

use core::ffi::c_long;
use kernel::prelude::*;

use crate::{abi::KV_MAX_KEY_BYTES, secret::Secret};

extern "C" {
    fn kv_keyring_read(serial: i32, buf: *mut u8, cap: usize) -> c_long;
}

/// The payload of the keyring key `serial`, straight into kernel memory
/// that is wiped when dropped. Errors are the keyring's (`ENOKEY`,
/// `EACCES`, `EKEYREVOKED`, `EKEYEXPIRED`), `EOPNOTSUPP` for a key type
/// without a key payload, `EINVAL` for a payload longer than any key.
pub(crate) fn read_payload(serial: i32) -> Result<Secret> {
    let cap = KV_MAX_KEY_BYTES as usize;
    let mut payload = Secret::zeroed(cap)?;
    // SAFETY: `payload` is `cap` writable bytes; the C side writes at most
    // `cap` of them and keeps no pointer.
    let n = unsafe { kv_keyring_read(serial, payload.bytes_mut().as_mut_ptr(), cap) };
    let len = usize::try_from(n).map_err(|_| Error::from_errno(n as i32))?;
    if len > cap {
        return Err(EINVAL);
    }
    payload.truncate(len);
    Ok(payload)
}
