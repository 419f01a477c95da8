//! What a process's workers share: the groups of fd slots (each what
//! started as one vault), the pool of key ids they know, the stop flag and
//! deadline; and the fd primitives (open a vault, close, the lowest free
//! fd number) the fd churn and DUP's checks rely on.

use super::kcov;
use super::mem::Shared;
use super::rng::Rng;
use super::Config;
use nix::errno::Errno;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Vaults the parent keeps open at once.
pub const PARENT_GROUPS: usize = 3;
/// fd slots per parent vault (slot 0 is the vault's own open).
pub const PARENT_SLOTS: usize = 6;
/// fd slots per group in the child.
pub const CHILD_SLOTS: usize = 3;
/// Key ids kept per (group, algorithm).
pub const POOL_PER_ALG: usize = 12;
/// Dead (destroyed, rotated-out) and revoked/expired ids kept for reuse.
pub const DEAD_MAX: usize = 64;

/// Opens a new vault.
pub fn open_vault() -> Result<RawFd, Errno> {
    // SAFETY: plain open(2) of a constant path.
    let fd = unsafe { libc::open(c"/dev/keyvault".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    Errno::result(fd)
}

/// Closes `fd` (if any).
pub fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: the caller took `fd` out of its slot (under the fd lock),
        // so no one else will close it.
        unsafe { libc::close(fd) };
    }
}

/// Is `fd` open in this process?
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// A vault opened at start and never closed: what `lowest_free_fd` dups.
pub static PROBE_VAULT: AtomicI32 = AtomicI32::new(-1);

/// The lowest free fd number (where the next new fd will go). The probe is
/// a dup of a keyvault fd, not of stderr: a worker whose fd was closed under
/// it may hit the probe's number in that instant, and must still be talking
/// to a keyvault fd (a tty would answer ENOTTY, outside the ABI).
pub fn lowest_free_fd() -> RawFd {
    // SAFETY: duplicates the probe vault's fd (or fails) and closes the
    // duplicate at once.
    unsafe {
        let fd = libc::fcntl(PROBE_VAULT.load(Relaxed), libc::F_DUPFD_CLOEXEC, 0);
        if fd >= 0 {
            libc::close(fd);
        }
        fd
    }
}

/// A set of fd slots on (what started as) one vault.
pub struct Group {
    pub slots: Vec<AtomicI32>,
}

/// Key ids known to the fuzzer, per group and algorithm.
#[derive(Default)]
pub struct Pool {
    pub keys: Vec<[Vec<u64>; 10]>,
    pub dead: Vec<u64>,
    pub revoked: Vec<u64>,
    /// Public keys read back with GET_PUBKEY: Ed25519, X25519.
    pub ed_pub: Vec<[u8; 32]>,
    pub x_pub: Vec<[u8; 32]>,
    /// Per group: wrapping keys (AES-256-GCM, usage within WRAP|UNWRAP),
    /// which are in no list of `keys`.
    pub wrapping: Vec<Vec<u64>>,
    /// Per group: keys with KV_POLICY_WRAPPABLE (also in `keys`), and
    /// their algorithms.
    pub wrappable: Vec<Vec<(u64, u32)>>,
}

/// Adds `x` to `v`, replacing a random element once `v` holds `cap`.
pub fn push_capped<T>(v: &mut Vec<T>, x: T, cap: usize, rng: &mut Rng) {
    if v.len() < cap {
        v.push(x);
    } else {
        let i = rng.below(v.len() as u64) as usize;
        v[i] = x;
    }
}

impl Pool {
    /// Adds a key; returns an evicted one (to destroy) when the list was full.
    pub fn add(&mut self, group: usize, alg: u32, id: u64, rng: &mut Rng) -> Option<u64> {
        let list = &mut self.keys[group][alg as usize % 10];
        if list.len() < POOL_PER_ALG {
            list.push(id);
            return None;
        }
        let i = rng.below(list.len() as u64) as usize;
        let old = std::mem::replace(&mut list[i], id);
        push_capped(&mut self.dead, old, DEAD_MAX, rng);
        Some(old)
    }

    /// Adds a wrapping key (`wrappable` false) or a wrappable one to
    /// `group`; returns an evicted one (to destroy) when the list was full.
    pub fn add_wrap(
        &mut self,
        group: usize,
        wrappable: Option<u32>,
        id: u64,
        rng: &mut Rng,
    ) -> Option<u64> {
        let old = match wrappable {
            None => {
                let list = &mut self.wrapping[group];
                if list.len() < POOL_PER_ALG {
                    list.push(id);
                    return None;
                }
                let i = rng.below(list.len() as u64) as usize;
                std::mem::replace(&mut list[i], id)
            }
            Some(alg) => {
                let list = &mut self.wrappable[group];
                if list.len() < 2 * POOL_PER_ALG {
                    list.push((id, alg));
                    return None;
                }
                let i = rng.below(list.len() as u64) as usize;
                std::mem::replace(&mut list[i], (id, alg)).0
            }
        };
        self.remove(old, true, rng);
        Some(old)
    }

    pub fn remove(&mut self, id: u64, dead: bool, rng: &mut Rng) {
        for g in self.keys.iter_mut() {
            for list in g.iter_mut() {
                list.retain(|k| *k != id);
            }
        }
        for list in self.wrapping.iter_mut() {
            list.retain(|k| *k != id);
        }
        for list in self.wrappable.iter_mut() {
            list.retain(|k| k.0 != id);
        }
        let to = if dead {
            &mut self.dead
        } else {
            &mut self.revoked
        };
        push_capped(to, id, DEAD_MAX, rng);
    }

    pub fn retire_group(&mut self, group: usize, rng: &mut Rng) {
        let lists = std::mem::take(&mut self.keys[group]);
        let wrapping = std::mem::take(&mut self.wrapping[group]);
        self.wrappable[group].clear();
        for id in lists.into_iter().flatten().chain(wrapping) {
            push_capped(&mut self.dead, id, DEAD_MAX, rng);
        }
    }
}

/// Everything a process's workers share.
pub struct World {
    pub child: bool,
    pub cfg: Config,
    pub groups: Vec<Group>,
    /// Held by whoever creates or closes fds, so a new fd's number is known.
    pub fd_lock: Mutex<()>,
    pub pool: Mutex<Pool>,
    pub shared: &'static Shared,
    /// Parent: the socket to the child (-1: none).
    pub sock: RawFd,
    pub deadline: Instant,
    /// Coverage guidance (None: no kcov).
    pub feedback: Option<kcov::Feedback>,
}

impl World {
    pub fn new(
        child: bool,
        cfg: Config,
        shared: &'static Shared,
        sock: RawFd,
        feedback: Option<kcov::Feedback>,
    ) -> World {
        let (ngroups, nslots) = if child {
            (PARENT_GROUPS + 1, CHILD_SLOTS)
        } else {
            (PARENT_GROUPS, PARENT_SLOTS)
        };
        World {
            child,
            cfg,
            groups: (0..ngroups)
                .map(|_| Group {
                    slots: (0..nslots).map(|_| AtomicI32::new(-1)).collect(),
                })
                .collect(),
            fd_lock: Mutex::new(()),
            pool: Mutex::new(Pool {
                keys: (0..ngroups).map(|_| Default::default()).collect(),
                wrapping: vec![Vec::new(); ngroups],
                wrappable: vec![Vec::new(); ngroups],
                ..Default::default()
            }),
            shared,
            sock,
            deadline: Instant::now() + Duration::from_secs(cfg.seconds),
            feedback,
        }
    }

    /// The group a process opens vaults for itself: every parent group,
    /// only the last one in the child.
    pub fn own_group(&self, g: usize) -> bool {
        !self.child || g == self.groups.len() - 1
    }

    pub fn stopped(&self) -> bool {
        self.shared.stop.load(Relaxed) != 0
    }

    /// Puts `fd` in `slot` of `group`, closing what was there. Call with
    /// the fd lock held.
    pub fn install(&self, group: usize, slot: usize, fd: RawFd) {
        close(self.groups[group].slots[slot].swap(fd, Relaxed));
    }

    /// Whether `fd` is open but in no slot: what a DUP made (or leaked),
    /// `fd` being the lowest free fd number before it. Call with the fd
    /// lock held.
    pub fn stray(&self, fd: RawFd) -> bool {
        fd >= 0 && is_open(fd) && !self.holds(fd)
    }

    /// Whether `fd` is in some slot. Call with the fd lock held.
    pub fn holds(&self, fd: RawFd) -> bool {
        self.groups
            .iter()
            .any(|g| g.slots.iter().any(|s| s.load(Relaxed) == fd))
    }

    /// Closes every fd of `group` and, in a group of this process's own,
    /// opens a fresh vault in slot 0. Returns the new fd.
    pub fn rotate(&self, group: usize, rng: &mut Rng) -> RawFd {
        let _l = self.fd_lock.lock().unwrap();
        for s in &self.groups[group].slots {
            close(s.swap(-1, Relaxed));
        }
        self.pool.lock().unwrap().retire_group(group, rng);
        if !self.own_group(group) {
            return -1;
        }
        let fd = open_vault().unwrap_or(-1);
        self.groups[group].slots[0].store(fd, Relaxed);
        fd
    }
}
