// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters of live vaults, keys, key bytes and users holding
//! keys (the quota table's entries), shown (to root)
//! in `/sys/kernel/debug/keyvault/stats`: what an operator checks for leaks,
//! and how the tests see that closing the last fd really destroys the keys.

use core::fmt;
use kernel::{
    debugfs,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

static VAULTS: Atomic<u64> = Atomic::new(0);
static KEYS: Atomic<u64> = Atomic::new(0);
static KEY_BYTES: Atomic<u64> = Atomic::new(0);

/// A vault was created.
pub(crate) fn vault_created() {
    VAULTS.add(1, Relaxed);
}

/// A vault was freed (its last fd closed).
pub(crate) fn vault_freed() {
    VAULTS.fetch_sub(1, Relaxed);
}

/// A key of `len` bytes was created.
pub(crate) fn key_created(len: usize) {
    KEYS.add(1, Relaxed);
    KEY_BYTES.add(len as u64, Relaxed);
}

/// A key of `len` bytes was freed (and wiped).
pub(crate) fn key_freed(len: usize) {
    KEYS.fetch_sub(1, Relaxed);
    KEY_BYTES.fetch_sub(len as u64, Relaxed);
}

/// The debugfs view of the counters.
pub(crate) struct Stats;

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vaults: {}\nkeys: {}\nkey_bytes: {}\nusers: {}",
            VAULTS.load(Relaxed),
            KEYS.load(Relaxed),
            KEY_BYTES.load(Relaxed),
            crate::quota::users()
        )
    }
}

/// The debugfs directory and its file; removed when dropped.
pub(crate) struct StatsFile {
    _file: Pin<KBox<debugfs::File<Stats>>>,
    _dir: debugfs::Dir,
}

impl StatsFile {
    /// Creates `keyvault/stats` in debugfs.
    pub(crate) fn new() -> Result<Self> {
        let dir = debugfs::Dir::new(c"keyvault");
        let file = KBox::pin_init(dir.read_only_file(c"stats", Stats), GFP_KERNEL)?;
        Ok(Self {
            _file: file,
            _dir: dir,
        })
    }
}
