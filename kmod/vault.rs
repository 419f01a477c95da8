// SPDX-License-Identifier: GPL-2.0

//! Vaults and handles.
//!
//! A [`Vault`] is a key table with its quotas. A [`Handle`] is what one open
//! file description holds: the vault and this handle's capability mask. dup,
//! fork and SCM_RIGHTS share the open file description, hence the handle.

use kernel::{
    new_mutex,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNodeReservation, //
    },
    sync::{
        atomic::{
            Atomic,
            Full,
            Relaxed, //
        },
        Arc,
        Mutex,
    },
};

use crate::{
    abi::KV_CAP_ALL,
    key::{
        Key,
        NewKey, //
    },
    quota,
    pure::request,
    secret::Secret,
    stats,
    trace::Origin,
    uapi::reject,
};

/// Quotas of one vault (module parameters at open time).
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// Per-user quotas of whoever creates keys in it.
    pub(crate) user: quota::UserLimits,
    /// Most input bytes of one operation.
    pub(crate) max_data: usize,
    /// Most keys.
    pub(crate) max_keys: u32,
    /// Most key material bytes.
    pub(crate) max_key_bytes: u32,
}

struct Table {
    keys: RBTree<u64, Arc<Key>>,
    count: usize,
    key_bytes: usize,
}

/// A key table and its quotas.
#[pin_data(PinnedDrop)]
pub(crate) struct Vault {
    #[pin]
    table: Mutex<Table>,
    limits: Limits,
    /// Who its keys are charged to: the opener.
    owner: quota::Owner,
}

#[pinned_drop]
impl PinnedDrop for Vault {
    fn drop(self: Pin<&mut Self>) {
        // The table's keys are dropped right after: each is wiped when its
        // last reference (the table's, or an operation's) goes.
        stats::vault_freed();
    }
}

impl Vault {
    /// Adds a key `new` made of `material` by `origin` (derived from
    /// `parent`, if given); fails with `EDQUOT` past a quota. Everything is
    /// allocated first and committed under the lock, so a refused or failed
    /// creation changes no counter and emits no event.
    pub(crate) fn insert(&self, new: NewKey, material: Secret, parent: Option<&Key>, origin: Origin) -> Result<Arc<Key>> {
        let unborn = Key::prepare(new, material, parent, origin)?;
        let len = unborn.len();
        let node = RBTreeNodeReservation::new(GFP_KERNEL_ACCOUNT)?;

        let mut t = self.table.lock();
        if t.count >= self.limits.max_keys as usize
            || t.key_bytes + len > self.limits.max_key_bytes as usize
        {
            return Err(EDQUOT);
        }
        let key = unborn.commit(self.owner, self.limits.user)?;
        t.count += 1;
        t.key_bytes += len;
        t.keys.insert(node.into_node(key.id, key.clone()));
        Ok(key)
    }

    /// The vault's limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Who its keys are charged to.
    pub(crate) fn owner(&self) -> quota::Owner {
        self.owner
    }

    /// What it holds now: (keys, key bytes), every key of the table.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let t = self.table.lock();
        (t.count, t.key_bytes)
    }

    /// The key with this id, or `ENOENT`.
    pub(crate) fn get(&self, id: u64) -> Result<Arc<Key>> {
        self.table.lock().keys.get(&id).cloned().ok_or(ENOENT)
    }

    /// Unlinks the key; operations in flight keep their reference, and the
    /// material is wiped when the last one drops. `ENOENT` if it is gone,
    /// so of two concurrent DESTROYs exactly one succeeds.
    pub(crate) fn remove(&self, id: u64) -> Result<Arc<Key>> {
        let key = {
            let mut t = self.table.lock();
            let key = t.keys.remove(&id).ok_or(ENOENT)?;
            t.count -= 1;
            t.key_bytes -= key.len();
            key
        };
        Ok(key)
    }

    /// Up to `max` ids greater than `after`, ascending, and the key count.
    pub(crate) fn list(&self, after: u64, max: usize) -> Result<(KVec<u64>, u64)> {
        let mut ids = KVec::with_capacity(max, GFP_KERNEL)?;
        let t = self.table.lock();
        let mut next = after.checked_add(1);
        while let Some(from) = next {
            if ids.len() == max {
                break;
            }
            let Some(cursor) = t.keys.cursor_lower_bound(&from) else {
                break;
            };
            let id = *cursor.current().0;
            // Capacity was reserved above: this push cannot allocate.
            ids.push(id, GFP_NOWAIT)?;
            next = id.checked_add(1);
        }
        let total = t.count as u64;
        Ok((ids, total))
    }
}

/// One open file description's view of a vault: the vault, this handle's
/// capabilities and, for a handle made by DUP with a key list, the only keys
/// it can see.
pub(crate) struct Handle {
    vault: Arc<Vault>,
    caps: Atomic<u32>,
    /// Sorted, deduplicated ids; None: every key of the vault.
    visible: Option<KVec<u64>>,
}

impl Handle {
    /// A handle on a new, empty vault owned by `owner`, with every capability.
    pub(crate) fn new_vault(limits: Limits, owner: quota::Owner) -> Result<Arc<Self>> {
        let vault = Arc::pin_init(
            pin_init!(Vault {
                table <- new_mutex!(Table {
                    keys: RBTree::new(),
                    count: 0,
                    key_bytes: 0,
                }),
                limits,
                owner,
            }),
            GFP_KERNEL_ACCOUNT,
        )?;
        // Balanced by the vault's drop, which also runs if the handle
        // cannot be allocated.
        stats::vault_created();
        Ok(Arc::new(
            Handle {
                vault,
                caps: Atomic::new(KV_CAP_ALL),
                visible: None,
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// A new handle on the same vault with `caps` (already a subset of this
    /// handle's) and, if given, only the keys in `visible` that this handle
    /// sees (`ENOENT` for any other).
    pub(crate) fn restricted(&self, caps: u32, visible: Option<KVec<u64>>) -> Result<Arc<Self>> {
        let visible = match visible {
            Some(mut ids) => {
                // Insertion sort of at most KV_DUP_MAX_KEYS ids, on a rare
                // ioctl: core's `sort_unstable` as rustc 1.85.1 (Debian 13's
                // kernel toolchain) compiles it makes objtool warn "falls
                // through to next function" in every DKMS build.
                for i in 1..ids.len() {
                    let mut j = i;
                    while j > 0 && ids[j - 1] > ids[j] {
                        ids.swap(j - 1, j);
                        j -= 1;
                    }
                }
                let mut unique = KVec::with_capacity(ids.len(), GFP_KERNEL_ACCOUNT)?;
                for &id in ids.iter() {
                    if unique.last() != Some(&id) {
                        self.key(id)?;
                        unique.push(id, GFP_KERNEL_ACCOUNT)?;
                    }
                }
                Some(unique)
            }
            None => match &self.visible {
                Some(mine) => {
                    let mut copy = KVec::with_capacity(mine.len(), GFP_KERNEL_ACCOUNT)?;
                    copy.extend_from_slice(mine, GFP_KERNEL_ACCOUNT)?;
                    Some(copy)
                }
                None => None,
            },
        };
        Ok(Arc::new(
            Handle {
                vault: self.vault.clone(),
                caps: Atomic::new(caps),
                visible,
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    /// Whether this handle can see key `id`.
    fn sees(&self, id: u64) -> bool {
        self.visible.as_ref().is_none_or(|v| v.binary_search(&id).is_ok())
    }

    /// The key with this id, if this handle can see it; else `ENOENT`.
    pub(crate) fn key(&self, id: u64) -> Result<Arc<Key>> {
        if !self.sees(id) {
            return Err(ENOENT);
        }
        self.vault.get(id)
    }

    /// DESTROY through this handle (`ENOENT` for keys it cannot see).
    pub(crate) fn remove(&self, id: u64) -> Result<Arc<Key>> {
        if !self.sees(id) {
            return Err(ENOENT);
        }
        self.vault.remove(id)
    }

    /// LIST through this handle: up to `max` visible ids after `after`, and
    /// how many keys it sees.
    pub(crate) fn list(&self, after: u64, max: usize) -> Result<(KVec<u64>, u64)> {
        let Some(visible) = &self.visible else {
            return self.vault.list(after, max);
        };
        let mut ids = KVec::with_capacity(max, GFP_KERNEL)?;
        let mut total = 0u64;
        for &id in visible.iter() {
            if self.vault.get(id).is_err() {
                continue;
            }
            total += 1;
            if id > after && ids.len() < max {
                // Capacity was reserved above: this push cannot allocate.
                ids.push(id, GFP_NOWAIT)?;
            }
        }
        Ok((ids, total))
    }

    /// The vault this handle opens.
    pub(crate) fn vault(&self) -> &Vault {
        &self.vault
    }

    /// This handle's capabilities.
    pub(crate) fn caps(&self) -> u32 {
        self.caps.load(Relaxed)
    }

    /// `EPERM` unless the handle holds every bit of `cap`.
    pub(crate) fn require(&self, cap: u32) -> Result {
        if self.caps() & cap == cap {
            Ok(())
        } else {
            Err(EPERM)
        }
    }

    /// Keeps only `keep` of the capabilities; returns what is left.
    pub(crate) fn restrict(&self, keep: u32) -> Result<u32> {
        let mut have = self.caps();
        loop {
            let new = reject(request::restrict(have, keep))?;
            match self.caps.cmpxchg(have, new, Full) {
                Ok(_) => return Ok(new),
                Err(current) => have = current,
            }
        }
    }
}
