// SPDX-License-Identifier: GPL-2.0

//! Per-user quotas: keys and key bytes a user may hold across all of their
//! vaults, so one user cannot exhaust kernel memory by opening many vaults.
//! A key is charged to the user who created it, when it is created, and
//! released when its memory is freed.

use kernel::{
    prelude::*,
    sync::global_lock,
    task::Kuid, //
};

/// What one user holds.
struct Usage {
    uid: u32,
    keys: usize,
    bytes: usize,
}

global_lock! {
    // SAFETY: `init` runs in the module initializer, before the device exists
    // and so before any key can be charged.
    unsafe(uninit) static USAGE: Mutex<KVec<Usage>> = KVec::new();
}

/// Initializes the table; called once, from the module initializer.
pub(crate) fn init() {
    // SAFETY: called exactly once, before first use (see `USAGE`).
    unsafe { USAGE.init() };
}

/// The limits per user (module parameters).
#[derive(Clone, Copy)]
pub(crate) struct UserLimits {
    /// Most keys.
    pub(crate) max_keys: usize,
    /// Most key bytes.
    pub(crate) max_bytes: usize,
}

/// The current task's effective uid, as the kernel sees it globally.
pub(crate) fn current_uid() -> u32 {
    Kuid::current_euid().into_raw().val
}

/// Charges one key of `bytes` to `uid`; `EDQUOT` past the limits. A user
/// gets an entry only with their first charged key, so a refused charge
/// leaves nothing behind (with `max_keys_per_user=0` every charge is refused).
pub(crate) fn charge(uid: u32, bytes: usize, limits: UserLimits) -> Result {
    let mut table = USAGE.lock();
    let slot = table.iter().position(|u| u.uid == uid);
    let (keys, held) = slot.map_or((0, 0), |i| (table[i].keys, table[i].bytes));
    if keys >= limits.max_keys || held.saturating_add(bytes) > limits.max_bytes {
        return Err(EDQUOT);
    }
    match slot {
        Some(i) => {
            table[i].keys += 1;
            table[i].bytes += bytes;
        }
        None => table.push(
            Usage {
                uid,
                keys: 1,
                bytes,
            },
            GFP_KERNEL,
        )?,
    }
    Ok(())
}

/// How many users hold keys (shown in debugfs, so tests see entries go).
pub(crate) fn users() -> usize {
    USAGE.lock().len()
}

/// Releases one key of `bytes` charged to `uid`.
pub(crate) fn release(uid: u32, bytes: usize) {
    let mut table = USAGE.lock();
    if let Some(i) = table.iter().position(|u| u.uid == uid) {
        let u = &mut table[i];
        u.keys = u.keys.saturating_sub(1);
        u.bytes = u.bytes.saturating_sub(bytes);
        if u.keys == 0 {
            // `i` is in bounds, so this cannot fail.
            let _ = table.remove(i);
            if table.is_empty() {
                // Give the memory back: a table nobody uses must hold no
                // allocation (also what lets the module unload leak-free).
                *table = KVec::new();
            }
        }
    }
}
