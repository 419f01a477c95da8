// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters of live vaults, keys, key bytes and users holding
//! keys (the quota table's entries, with what each holds), shown (to root)
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
            "vaults: {}\nkeys: {}\nkey_bytes: {}\n",
            VAULTS.load(Relaxed),
            KEYS.load(Relaxed),
            KEY_BYTES.load(Relaxed),
        )?;
        crate::quota::show(f)
    }
}

/// `nonce_counter_start`, a test hook: where the nonce counters of keys
/// made from now on start (see `key::NONCE_COUNTER_START`), so a test can
/// reach the end of a key's 2^32 nonces. Only on kernels built for testing
/// (with fault injection's debugfs), never on a distribution's.
#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
struct NonceCounterStart;

#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
impl debugfs::Reader for NonceCounterStart {
    fn read_from_slice(&self, reader: &mut kernel::uaccess::UserSliceReader) -> Result {
        crate::key::NONCE_COUNTER_START.read_from_slice(reader)
    }
}

/// `stack_holds`, a test hook: a write of 8 to 64 bytes fails with `EEXIST`
/// if they occur in the dead part of the writer's kernel stack, where its
/// previous ioctl's frames lie (the secrets audit: no Ed25519 scalar,
/// signing nonce or plaintext left behind). Only on kernels built for
/// testing, like `NonceCounterStart`.
#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
struct StackHolds;

#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
impl debugfs::Reader for StackHolds {
    fn read_from_slice(&self, reader: &mut kernel::uaccess::UserSliceReader) -> Result {
        mod ffi {
            extern "C" {
                pub(super) fn kv_stack_holds(needle: *const u8, len: usize) -> bool;
            }
        }
        let len = reader.len();
        if !(8..=64).contains(&len) {
            return Err(EINVAL);
        }
        // In this frame, above the scanned part; nothing deeper runs before
        // the scan (an allocation would overwrite the dead stack).
        let mut needle = [0u8; 64];
        reader.read_slice(&mut needle[..len])?;
        // SAFETY: `needle` is valid for reads of `len` bytes; the function
        // only reads it and the current task's own stack.
        if unsafe { ffi::kv_stack_holds(needle.as_ptr(), len) } {
            Err(EEXIST)
        } else {
            Ok(())
        }
    }
}

/// The debugfs directory and its files; removed when dropped.
pub(crate) struct StatsFile {
    _file: Pin<KBox<debugfs::File<Stats>>>,
    #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
    _nonce_start: Pin<KBox<debugfs::File<NonceCounterStart>>>,
    #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
    _stack_holds: Pin<KBox<debugfs::File<StackHolds>>>,
    _dir: debugfs::Dir,
}

impl StatsFile {
    /// Creates `keyvault/stats` in debugfs (and the test hooks).
    pub(crate) fn new() -> Result<Self> {
        let dir = debugfs::Dir::new(c"keyvault");
        let file = KBox::pin_init(dir.read_only_file(c"stats", Stats), GFP_KERNEL)?;
        Ok(Self {
            _file: file,
            #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
            _nonce_start: KBox::pin_init(
                dir.write_only_file(c"nonce_counter_start", NonceCounterStart),
                GFP_KERNEL,
            )?,
            #[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
            _stack_holds: KBox::pin_init(dir.write_only_file(c"stack_holds", StackHolds), GFP_KERNEL)?,
            _dir: dir,
        })
    }
}
