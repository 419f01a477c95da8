// SPDX-License-Identifier: GPL-2.0

//! Per-user quotas: keys and key bytes a user may hold across all of their
//! vaults, so one user cannot exhaust kernel memory by opening many vaults.
//!
//! A key is charged to its vault's owner: the effective uid that opened the
//! vault, captured at open. Not the uid of whoever creates the key: a vault fd
//! passed to (or kept across a setuid into) another uid still charges its
//! opener, so the 65,536 uids of a user namespace give their owner no more
//! than one quota per vault opener. The charge is released when the key's
//! memory is freed.

use kernel::{
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::global_lock,
    task::Kuid, //
};

/// What one user holds.
struct Usage {
    keys: usize,
    bytes: usize,
}

/// Users holding keys, by kuid: O(log n) under one mutex. (`None` until
/// the first charge: a static's value must be const, `RBTree::new` is not.)
struct Users {
    tree: Option<RBTree<u32, Usage>>,
    count: usize,
}

global_lock! {
    // SAFETY: `init` runs in the module initializer, before the device exists
    // and so before any key can be charged.
    unsafe(uninit) static USAGE: Mutex<Users> = Users {
        tree: None,
        count: 0,
    };
}

/// Initializes the table.
///
/// # Safety
///
/// Called exactly once, from the module initializer, before any other
/// function of this module.
pub(crate) unsafe fn init() {
    // SAFETY: called exactly once, before first use (this function's contract).
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

/// The user a vault's keys are charged to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner(u32);

impl Owner {
    /// The owner named by a kuid (the opener's effective uid).
    pub(crate) fn new(uid: Kuid) -> Self {
        Self(uid.into_raw().val)
    }
}

/// Room for a user's entry, allocated before anything is charged, so that
/// [`charge`] never allocates and a refused or failed creation changes
/// nothing.
pub(crate) struct Slot(RBTreeNodeReservation<u32, Usage>);

impl Slot {
    /// Allocates the room.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(RBTreeNodeReservation::new(GFP_KERNEL)?))
    }
}

/// Charges one key of `bytes` to `owner`; `EDQUOT` past the limits. A user
/// gets an entry only with their first charged key (in `slot`), so a
/// refused charge leaves nothing behind (with `max_keys_per_user=0` every
/// charge is refused).
pub(crate) fn charge(owner: Owner, bytes: usize, limits: UserLimits, slot: Slot) -> Result {
    let mut users = USAGE.lock();
    let tree = users.tree.get_or_insert_with(RBTree::new);
    let (keys, held) = tree.get(&owner.0).map_or((0, 0), |u| (u.keys, u.bytes));
    if keys >= limits.max_keys || held.saturating_add(bytes) > limits.max_bytes {
        return Err(EDQUOT);
    }
    match tree.get_mut(&owner.0) {
        Some(u) => {
            u.keys += 1;
            u.bytes += bytes;
        }
        None => {
            tree.insert(slot.0.into_node(owner.0, Usage { keys: 1, bytes }));
            users.count += 1;
        }
    }
    Ok(())
}

/// Releases one key of `bytes` charged to `owner`.
pub(crate) fn release(owner: Owner, bytes: usize) {
    let mut users = USAGE.lock();
    let Some(tree) = users.tree.as_mut() else {
        return;
    };
    let Some(u) = tree.get_mut(&owner.0) else {
        return;
    };
    u.keys = u.keys.saturating_sub(1);
    u.bytes = u.bytes.saturating_sub(bytes);
    if u.keys == 0 {
        // Freed with its node: a user without keys holds no memory (also
        // what lets the module unload leak-free).
        tree.remove(&owner.0);
        users.count -= 1;
    }
}

/// What `owner` holds now: (keys, key bytes).
pub(crate) fn usage(owner: Owner) -> (usize, usize) {
    let users = USAGE.lock();
    users
        .tree
        .as_ref()
        .and_then(|t| t.get(&owner.0))
        .map_or((0, 0), |u| (u.keys, u.bytes))
}

/// Writes each user's holding, `user UID: keys N bytes N`, one per line
/// (debugfs; how the tests see a charge go to the opener and come back).
pub(crate) fn show(f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let users = USAGE.lock();
    write!(f, "users: {}", users.count)?;
    for (uid, u) in users.tree.iter().flat_map(|t| t.iter()) {
        write!(f, "\nuser {uid}: keys {} bytes {}", u.keys, u.bytes)?;
    }
    Ok(())
}
