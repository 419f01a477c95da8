//! The workers: threads (of the parent and of the forked child) that each
//! fuzz with their own arena and random stream until the run is over. A
//! step is mostly one fuzzed ioctl (ioctls.rs, requests.rs), sometimes a
//! round trip (roundtrip.rs), now and then fd churn under the other
//! workers' feet: an fd closed or dup'd, a vault rotated, an fd (maybe a
//! restricted DUP) passed to the child. The first worker of each process
//! opens the vaults and seeds them with keys of every algorithm.

use super::fields::*;
use super::ioctls::*;
use super::kcov::Guide;
use super::mem::{Arena, Extra, WorkerStats};
use super::rng::Rng;
use super::{close, lowest_free_fd, send_to_child, World, PARENT_GROUPS};
use keyvault::uapi::*;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// One worker thread's state.
pub struct Worker<'w> {
    pub w: &'w World,
    /// Index in the shared statistics (parent threads, then the child's).
    pub id: usize,
    pub rng: Rng,
    pub a: Arena,
    pub st: &'static WorkerStats,
    /// ioctls not yet added to the shared count.
    pub pending: u64,
    /// The group of the fd picked last.
    pub group: usize,
    pub max_data: u32,
    /// The largest valid data length used (the arena holds it).
    pub big_cap: u32,
    /// Blobs WRAP made, for UNWRAP (kept here, not in the pool: the
    /// worker mutates them).
    pub blobs: Vec<Blob>,
}

/// A blob WRAP made.
#[derive(Clone)]
pub struct Blob {
    pub group: usize,
    /// The wrapping key that made it.
    pub wrapping: u64,
    /// `KV_WRAP_*`.
    pub format: u32,
    /// The algorithm of the key wrapped.
    pub alg: u32,
    pub bytes: Vec<u8>,
}

/// Blobs a worker keeps.
pub const BLOBS_KEPT: usize = 16;
/// A worker thread: fuzzes until the run is over.
pub fn worker(world: &World, id: usize) {
    let mut rng = Rng::new(
        world
            .cfg
            .seed
            .wrapping_add((id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    );
    let big_cap = world.cfg.max_data.min(4 << 20);
    let a = Arena::new(big_cap as usize + (256 << 10), &mut rng);
    let mut wk = Worker {
        w: world,
        id,
        rng,
        a,
        st: &world.shared.workers[id],
        pending: 0,
        group: 0,
        max_data: world.cfg.max_data,
        big_cap,
        blobs: Vec::new(),
    };
    let mut guide = Guide::new(world, id);
    if id == 0 || (world.child && id == world.cfg.threads) {
        wk.setup();
    }
    guide.absorb();
    while !wk.done() {
        guide.start(&mut wk.rng);
        wk.step();
        guide.finish(&mut wk.rng);
    }
    world.shared.ops.fetch_add(wk.pending, Relaxed);
}

/// The bytes of an ABI request struct.
pub fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a plain-old-data ABI struct (integers only, no padding).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// `b` in hex, for reports.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Worker<'_> {
    /// Whether the run is over (adds this worker's ioctls to the count
    /// every 64, and stops the run at the deadline or the op budget).
    fn done(&mut self) -> bool {
        let sh = self.w.shared;
        if self.pending >= 64 {
            let total = sh.ops.fetch_add(self.pending, Relaxed) + self.pending;
            self.pending = 0;
            if total >= self.w.cfg.ops || Instant::now() >= self.w.deadline {
                sh.stop.store(1, Relaxed);
            }
        }
        sh.stop.load(Relaxed) != 0
    }

    /// One step: mostly a fuzzed ioctl, sometimes a round trip or fd churn.
    fn step(&mut self) {
        match self.rng.below(1000) {
            0..=14 => self.manage(),
            15..=134 => self.roundtrip(),
            _ => {
                let op = self.rng.pick(&WEIGHTED);
                match OPS.get(op) {
                    Some(o) => (o.fuzz)(self, op),
                    None => self.op_unknown(),
                }
            }
        }
    }

    /// fd churn: close, dup(2), rotate, pass to the child.
    fn manage(&mut self) {
        let w = self.w;
        match self.rng.below(if w.child { 3 } else { 5 }) {
            0 => {
                let _l = w.fd_lock.lock().unwrap();
                let g = self.rng.below(w.groups.len() as u64) as usize;
                let slots = &w.groups[g].slots;
                let s = if w.own_group(g) {
                    1 + self.rng.below(slots.len() as u64 - 1) as usize
                } else {
                    self.rng.below(slots.len() as u64) as usize
                };
                let fd = slots[s].swap(-1, Relaxed);
                if fd >= 0 {
                    close(fd);
                    self.st.extra(Extra::Closes);
                }
            }
            1 => {
                let _l = w.fd_lock.lock().unwrap();
                let fd = self.pick_fd(30);
                if fd < 0 {
                    return;
                }
                let g = self.group;
                // SAFETY: F_DUPFD_CLOEXEC makes a new fd or fails.
                let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
                if new >= 0 {
                    let n = w.groups[g].slots.len() as u64;
                    w.install(g, 1 + self.rng.below(n - 1) as usize, new);
                    self.st.extra(Extra::Dup2s);
                }
            }
            2 => self.maybe_rotate(10),
            3 => {
                let _l = w.fd_lock.lock().unwrap();
                let fd = self.pick_fd(30);
                let g = self.group;
                let ids = self.ids_of(g);
                if fd >= 0 && send_to_child(w.sock, fd, g as u32, &ids) {
                    self.st.extra(Extra::FdsSent);
                }
            }
            _ => self.send_restricted(),
        }
    }

    /// A fresh DUP limited to a few keys, passed to the child and closed here.
    fn send_restricted(&mut self) {
        let w = self.w;
        let _l = w.fd_lock.lock().unwrap();
        let fd = self.pick_fd(100);
        let g = self.group;
        let ids = self.ids_of(g);
        if fd < 0 || ids.is_empty() {
            return;
        }
        let keys: Vec<u8> = ids.iter().flat_map(|(id, _)| id.to_ne_bytes()).collect();
        self.a.reset(&mut self.rng);
        let kp = self.a.alloc(keys.len(), &mut self.rng);
        self.a.write(kp, &keys);
        let caps =
            (self.rng.next() as u32 | KV_CAP_VERIFY | KV_CAP_ENCRYPT) & KV_CAP_ALL & !MAKES_KEYS;
        let req = KvDup {
            caps,
            nkeys: ids.len() as u32,
            keys_ptr: kp,
            ..Default::default()
        };
        let p = self.more(size_of::<KvDup>());
        let probe = lowest_free_fd();
        let o = self.exec(DUP, fd, &req, &p);
        let Some(b) = o.back else {
            if w.stray(probe) {
                close(probe);
            }
            return;
        };
        if send_to_child(w.sock, b.fd, g as u32, &ids) {
            self.st.extra(Extra::FdsSent);
        }
        close(b.fd);
    }

    /// Rotates a group of this process's own whose vault fd lost its
    /// key-making capabilities (or, `percent`% of the time, any).
    pub fn maybe_rotate(&mut self, percent: u64) {
        let w = self.w;
        let g = if w.child {
            w.groups.len() - 1
        } else {
            self.rng.below(PARENT_GROUPS as u64) as usize
        };
        let fd = w.groups[g].slots[0].load(Relaxed);
        let caps = if fd >= 0 {
            let p = self.exact(size_of::<KvCaps>());
            self.exec(GETCAPS, fd, &KvCaps::default(), &p)
                .back
                .map_or(0, |c| c.caps)
        } else {
            0
        };
        if caps & SEEDS_KEYS == SEEDS_KEYS && !self.rng.chance(percent) {
            return;
        }
        w.rotate(g, &mut self.rng);
        self.st.extra(Extra::Rotations);
        self.seed_group(g);
    }

    /// Keys of every algorithm (generated and imported) in a fresh vault.
    fn seed_group(&mut self, g: usize) {
        self.group = g;
        for alg in ALL_ALGS {
            self.make_key(alg);
            let fd = self.w.groups[g].slots[0].load(Relaxed);
            let (min, _, _) = key_sizes(alg);
            let p = self.exact(size_of::<KvImport>());
            let key_ptr = self.data(min);
            let req = KvImport {
                algorithm: alg,
                key_len: min,
                key_ptr,
                policy: self.policy(alg),
                ..Default::default()
            };
            if let Some(b) = self.exec(IMPORT, fd, &req, &p).back {
                self.added_policy(alg, b.key_id, &req.policy);
            }
        }
        // A wrapping key, and a wrappable key of a random algorithm.
        let wrapping = KvPolicy {
            usage: KV_USAGE_WRAPPING,
            ..Default::default()
        };
        self.make_key_with(WRAPPING_ALG, wrapping);
        let wrappable = KvPolicy {
            flags: KV_POLICY_WRAPPABLE,
            ..Default::default()
        };
        let alg = self.rng.pick(&ALL_ALGS);
        self.make_key_with(alg, wrappable);
    }

    /// The first worker of each process opens its vaults and seeds them.
    fn setup(&mut self) {
        let w = self.w;
        if w.child {
            self.seed_group(w.groups.len() - 1);
            return;
        }
        for g in 0..PARENT_GROUPS {
            w.rotate(g, &mut self.rng);
            self.seed_group(g);
            for _ in 0..2 {
                self.group = g;
                self.op_dup();
            }
        }
    }
}
