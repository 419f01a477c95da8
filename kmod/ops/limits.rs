// SPDX-License-Identifier: GPL-2.0

//! LIMITS: the module parameters as a vault's quotas, and its usage of them.
//!
//! Rust module parameters are not in sysfs, so this ioctl is how userspace
//! learns them, and which quota an `EDQUOT` was about.

use super::prelude::*;
use crate::quota;

/// KV_IOC_LIMITS: needs no capability. The vault's and its owner's usage
/// are each read under their own lock, taken one after the other (never
/// nested) and dropped before the copy out.
pub(super) fn limits(h: &Handle, arg: &Arg<'_>, _info: &mut OpInfo) -> Result {
    let vault = h.vault();
    let limits = vault.limits();
    let (vault_keys, vault_key_bytes) = vault.usage();
    let (user_keys, user_key_bytes) = quota::usage(vault.owner());
    // usize is at most 64 bits on every kernel target: `as u64` is lossless.
    arg.write(&KvLimits {
        max_data_bytes: limits.max_data as u64,
        max_keys_per_vault: limits.max_keys.into(),
        max_key_bytes_per_vault: limits.max_key_bytes.into(),
        max_keys_per_user: limits.user.max_keys as u64,
        max_key_bytes_per_user: limits.user.max_bytes as u64,
        vault_keys: vault_keys as u64,
        vault_key_bytes: vault_key_bytes as u64,
        user_keys: user_keys as u64,
        user_key_bytes: user_key_bytes as u64,
        reserved: [0; 4],
    })
}
