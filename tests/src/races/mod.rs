//! Races: threads using keys while others destroy or revoke them (keys.rs),
//! create and destroy other keys, dup, pass and close fds (fds.rs). Every
//! result must be a success or the documented errno, nothing may crash or
//! warn in the kernel (the VM run fails on any WARNING/BUG), and once every
//! fd is closed the module's key count is back where it started.
//!
//! Fixed iteration counts keep each race to a few seconds under TCG; each
//! prints what it did. Workers never panic (a panic could leave the others
//! waiting on a barrier): they record anything unexpected, checked after.

mod fds;
mod keys;
pub use fds::*;
pub use keys::*;

use crate::support::*;
use keyvault::uapi::*;
use keyvault::KeyId;
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::{fmt, thread};

/// Results by outcome (`ok`, or the errno's name), and anything unexpected.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, u64>,
    bad: Vec<String>,
}

impl Tally {
    /// Counts `r`; anything but success or one of `allowed` is recorded as bad.
    fn record(&mut self, what: &str, r: Result<(), Errno>, allowed: &[Errno]) -> Result<(), Errno> {
        let name = match r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("{e:?}"),
        };
        *self.counts.entry(name).or_default() += 1;
        if let Err(e) = r {
            if !allowed.contains(&e) {
                self.bad(format!("{what}: {e}"));
            }
        }
        r
    }

    fn bad(&mut self, what: String) {
        if self.bad.len() < 20 {
            self.bad.push(what);
        }
    }

    fn merge(&mut self, other: Tally) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        self.bad.extend(other.bad);
    }

    fn get(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }

    #[track_caller]
    fn assert_clean(&self, race: &str) {
        assert!(
            self.bad.is_empty(),
            "race {race}: unexpected results: {:#?}",
            self.bad
        );
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

fn errno<T>(r: keyvault::Result<T>) -> Result<(), Errno> {
    r.map(drop).map_err(|e| Errno::from_raw(e.errno()))
}

/// Asserts no key outlived its vault's last fd.
#[track_caller]
fn assert_no_leak(race: &str, keys0: u64) {
    assert_eq!(
        live_keys(),
        keys0,
        "race {race}: keys leaked once every fd was closed"
    );
}

/// AEAD encryption on a raw fd (which another thread may close).
fn encrypt_on_fd(fd: RawFd, key: KeyId) -> Result<(), Errno> {
    let mut buf = [0x5au8; 64];
    let mut nonce = [0u8; 12];
    let mut tag = [0u8; 16];
    let mut r = KvAead {
        flags: KV_AEAD_GEN_NONCE,
        ..aead_in_place_req(key, &mut buf, &mut nonce, &mut tag)
    };
    // SAFETY: `r` is KV_IOC_AEAD_ENCRYPT's struct and its buffers live on
    // this stack frame. If `fd` was closed and its number reused, it is
    // reused only by another fd on the same vault (nothing else opens files
    // while the race runs).
    Errno::result(unsafe { libc::ioctl(fd, KV_IOC_AEAD_ENCRYPT as _, &mut r as *mut KvAead) })
        .map(drop)
}

/// Spins until `progress` reaches `target` or every worker is `done`.
fn wait_for(progress: &AtomicUsize, target: usize, done: &AtomicUsize, workers: usize) {
    while progress.load(SeqCst) < target && done.load(SeqCst) < workers {
        thread::yield_now();
    }
}

/// KV_RACE_SCALE (default 1) multiplies each race's rounds: the hardening
/// run (`make stress`) runs them longer on the debug kernel.
fn scale() -> usize {
    std::env::var("KV_RACE_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        destroying_a_key_while_threads_use_it_gives_each_use_success_or_enoent,
        revoking_a_parent_key_while_threads_use_it_and_its_derived_key_gives_success_or_ekeyrevoked,
        creating_destroying_and_listing_other_keys_never_disturbs_threads_using_a_key,
        dup_and_close_of_fds_while_threads_use_them_gives_success_ebadf_or_enoent_after_destroy,
        concurrent_destroys_of_one_key_succeed_exactly_once,
        keys_expiring_while_threads_use_and_destroy_them_give_success_then_only_ekeyexpired,
        passing_dups_over_scm_rights_while_the_sender_destroys_and_closes_leaks_nothing,
    ]
}
