//! Choosing what a request acts on: an fd of one of the groups, a key of
//! the right algorithm from the pool (made when there is none) or a wrong
//! one (destroyed, revoked, another vault's, random), and keeping the pool
//! up to date as keys are made, evicted, destroyed and fail.

use super::fields::{ALL_ALGS, WRAPPING_ALG};
use super::ioctls::{DESTROY, GENKEY};
use super::push_capped;
use super::worker::Worker;
use keyvault::uapi::*;
use nix::errno::Errno;
use std::sync::atomic::Ordering::Relaxed;

impl Worker<'_> {
    /// An fd of a random group (sets the current group).
    pub fn pick_fd(&mut self, root_percent: u64) -> i32 {
        let w = self.w;
        let n = w.groups.len();
        let g0 = self.rng.below(n as u64) as usize;
        let root = self.rng.chance(root_percent);
        for i in 0..n {
            let g = (g0 + i) % n;
            let slots = &w.groups[g].slots;
            let s = if root {
                0
            } else {
                self.rng.below(slots.len() as u64) as usize
            };
            let first = slots[s].load(Relaxed);
            let fd = if first >= 0 {
                first
            } else {
                slots
                    .iter()
                    .map(|s| s.load(Relaxed))
                    .find(|fd| *fd >= 0)
                    .unwrap_or(-1)
            };
            if fd >= 0 {
                self.group = g;
                return fd;
            }
        }
        self.group = g0;
        -1
    }

    /// A key of one of `algs` from the current group, or (8%, or when there
    /// is none) a wrong one. Returns (id, alg; 0 when wrong).
    pub fn key(&mut self, algs: &[u32]) -> (u64, u32) {
        if self.rng.chance(8) {
            return (self.wild_key(), 0);
        }
        match self.good_key(algs) {
            Some(k) => k,
            None => (self.wild_key(), 0),
        }
    }

    /// A key of one of `algs` from the current group, made if there is none.
    pub fn good_key(&mut self, algs: &[u32]) -> Option<(u64, u32)> {
        let alg = self.rng.pick(algs);
        let w = self.w;
        {
            let pool = w.pool.lock().unwrap();
            let list = &pool.keys[self.group][alg as usize];
            if !list.is_empty() {
                return Some((list[self.rng.below(list.len() as u64) as usize], alg));
            }
        }
        self.make_key(alg).map(|id| (id, alg))
    }

    /// A valid GENKEY of `alg` (default size, no limits) in the current group.
    pub fn make_key(&mut self, alg: u32) -> Option<u64> {
        self.make_key_with(alg, KvPolicy::default())
    }

    /// A valid GENKEY of `alg` (default size) with `policy` in the current
    /// group, kept in the pool.
    pub fn make_key_with(&mut self, alg: u32, policy: KvPolicy) -> Option<u64> {
        let fd = self.w.groups[self.group].slots[0].load(Relaxed);
        if fd < 0 {
            return None;
        }
        let req = KvGenkey {
            algorithm: alg,
            policy,
            ..Default::default()
        };
        let p = self.exact(size_of::<KvGenkey>());
        let o = self.exec(GENKEY, fd, &req, &p);
        let id = o.back?.key_id;
        self.added_policy(alg, id, &policy);
        Some(id)
    }

    /// A wrapping key of the current group (made if there is none), or
    /// (8%) a wrong one.
    pub fn wrapping_key(&mut self) -> u64 {
        if self.rng.chance(8) {
            return self.wild_key();
        }
        let known = {
            let pool = self.w.pool.lock().unwrap();
            let list = &pool.wrapping[self.group];
            (!list.is_empty()).then(|| list[self.rng.below(list.len() as u64) as usize])
        };
        let policy = KvPolicy {
            usage: KV_USAGE_WRAPPING,
            ..Default::default()
        };
        known
            .or_else(|| self.make_key_with(WRAPPING_ALG, policy))
            .unwrap_or_else(|| self.wild_key())
    }

    /// A wrappable key of the current group (made if there is none):
    /// (id, alg); or (10%) any key of the pool, mostly not wrappable.
    pub fn wrappable_key(&mut self) -> (u64, u32) {
        if self.rng.chance(10) {
            return self.key(&ALL_ALGS);
        }
        let known = {
            let pool = self.w.pool.lock().unwrap();
            let list = &pool.wrappable[self.group];
            (!list.is_empty()).then(|| list[self.rng.below(list.len() as u64) as usize])
        };
        if let Some(k) = known {
            return k;
        }
        let alg = self.rng.pick(&ALL_ALGS);
        let policy = KvPolicy {
            flags: KV_POLICY_WRAPPABLE,
            ..Default::default()
        };
        match self.make_key_with(alg, policy) {
            Some(id) => (id, alg),
            None => (self.wild_key(), 0),
        }
    }

    /// Puts a new key of `alg` made with `policy` (as asked) in the
    /// current group's pool: a wrapping key in the wrapping keys, a
    /// wrappable one in the wrappable keys too.
    pub fn added_policy(&mut self, alg: u32, id: u64, policy: &KvPolicy) {
        let wrapping = alg == WRAPPING_ALG && policy.usage & KV_USAGE_WRAPPING != 0;
        if !wrapping {
            self.added(alg, id);
        }
        if wrapping || policy.flags & KV_POLICY_WRAPPABLE != 0 {
            let w = self.w;
            let as_alg = (!wrapping).then_some(alg);
            let evicted = w
                .pool
                .lock()
                .unwrap()
                .add_wrap(self.group, as_alg, id, &mut self.rng);
            self.evicted(evicted);
        }
    }

    /// Puts a new key of `alg` in the current group's pool; the key it
    /// evicts is (mostly) destroyed.
    pub fn added(&mut self, alg: u32, id: u64) {
        let w = self.w;
        let evicted = w
            .pool
            .lock()
            .unwrap()
            .add(self.group, alg, id, &mut self.rng);
        self.evicted(evicted);
    }

    /// Destroys (mostly) a key evicted from the pool.
    fn evicted(&mut self, evicted: Option<u64>) {
        let w = self.w;
        if let Some(old) = evicted {
            if self.rng.chance(70) {
                let fd = w.groups[self.group].slots[0].load(Relaxed);
                let p = self.exact(size_of::<KvKeyref>());
                let req = KvKeyref {
                    key_id: old,
                    reserved: 0,
                };
                self.exec(DESTROY, fd, &req, &p);
            }
        }
    }

    /// Updates the pool after an operation on `id` failed.
    pub fn key_failed(&mut self, id: u64, r: Result<(), Errno>) {
        let keep = match r {
            Err(Errno::ENOENT) => self.rng.chance(60),
            Err(Errno::EKEYREVOKED | Errno::EKEYEXPIRED) => {
                self.w.pool.lock().unwrap().remove(id, false, &mut self.rng);
                return;
            }
            Err(Errno::EDQUOT) => self.rng.chance(50),
            _ => true,
        };
        if !keep {
            self.w.pool.lock().unwrap().remove(id, true, &mut self.rng);
        }
    }

    /// A wrong key id: 0, random, destroyed, revoked, another vault's, of
    /// another algorithm...
    pub fn wild_key(&mut self) -> u64 {
        let roll = self.rng.below(9);
        let r = self.rng.next();
        let w = self.w;
        let pool = w.pool.lock().unwrap();
        let from = |v: &Vec<u64>| {
            if v.is_empty() {
                r % 5000
            } else {
                v[(r % v.len() as u64) as usize]
            }
        };
        match roll {
            0 => 0,
            1 => u64::MAX,
            2 => r,
            3 => from(&pool.dead),
            4 => from(&pool.revoked),
            5 | 6 => {
                let g = (r >> 8) as usize % pool.keys.len();
                let alg = 1 + (r >> 16) as usize % 10;
                // "Algorithm" 10: a wrapping key.
                from(pool.keys[g].get(alg).unwrap_or(&pool.wrapping[g]))
            }
            7 => 1 + r % 50_000,
            _ => from(&pool.dead).wrapping_add(1),
        }
    }

    /// Keeps the public key at `ptr` of a key of `alg` (Ed25519 or X25519)
    /// for VERIFY and KEYEXCHANGE requests.
    pub fn remember_pub(&mut self, alg: u32, ptr: u64) {
        let k: [u8; 32] = self.a.read(ptr, 32).try_into().unwrap();
        let w = self.w;
        let mut pool = w.pool.lock().unwrap();
        let list = if alg == KV_ALG_ED25519 {
            &mut pool.ed_pub
        } else {
            &mut pool.x_pub
        };
        push_capped(list, k, 32, &mut self.rng);
    }

    /// Up to 12 (id, alg) pairs of group `g`.
    pub fn ids_of(&mut self, g: usize) -> Vec<(u64, u32)> {
        let pool = self.w.pool.lock().unwrap();
        let mut ids = Vec::new();
        for (alg, list) in pool.keys[g].iter().enumerate() {
            if let Some(id) = list.first() {
                ids.push((*id, alg as u32));
            }
        }
        ids
    }
}
