// SPDX-License-Identifier: GPL-2.0

//! A key: immutable material and policy, plus its lifecycle state and usage
//! counters. Shared as `Arc<Key>`: the vault's table holds one reference and
//! every operation in flight holds another, so DESTROY only unlinks the key
//! and the material is wiped (by [`Secret`]'s `Drop`) when the last one goes.

use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            AtomicFlag,
            Full,
            Relaxed, //
        },
        Arc,
    },
    time::{
        BootTime,
        Delta,
        Instant, //
    },
};

use crate::{
    abi::{
        KvKeyinfo,
        KvPolicy,
        KV_MAX_LINEAGE,
        KV_POLICY_NO_CALLER_NONCE,
        KV_STATE_ACTIVE,
        KV_STATE_EXPIRED,
        KV_STATE_REVOKED, //
    },
    crypto::{
        Engine,
        Nonce, //
    },
    pure::alg::Alg,
    quota,
    secret::{
        fill_random,
        Secret, //
    },
    stats,
    trace,
};

/// Where a key is in its lifecycle. Destroyed keys are simply gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Usable.
    Active,
    /// Revoked: permanent.
    Revoked,
    /// Its TTL has passed.
    Expired,
}

/// Where a key comes from: revoking a key revokes everything derived from
/// it. Holds no key material, so a derived key never keeps its parent's
/// secret alive.
struct Lineage {
    revoked: AtomicFlag,
    parent: Option<Arc<Lineage>>,
    depth: u32,
}

impl Lineage {
    /// Whether this key or any ancestor was revoked.
    fn revoked(&self) -> bool {
        let mut node = Some(self);
        while let Some(l) = node {
            if l.revoked.load(Relaxed) {
                return true;
            }
            node = l.parent.as_deref();
        }
        false
    }
}

/// A key in a vault.
pub(crate) struct Key {
    /// The key's id: unique for the module's lifetime, never 0.
    pub(crate) id: u64,
    /// The key type.
    pub(crate) alg: Alg,
    /// The user the key is charged to (`quota`).
    uid: u32,
    /// The policy fixed at creation, with `usage` explicit.
    pub(crate) policy: KvPolicy,
    material: Secret,
    /// Prepared crypto state, made once at creation.
    pub(crate) engine: Engine,
    /// Kernel nonces are this random per-key prefix followed by a 64-bit
    /// big-endian counter: unique by construction, unlike random 96-bit
    /// nonces, which are only safe to about 2^32 messages.
    nonce_prefix: [u8; 4],
    nonce_counter: Atomic<u64>,
    /// Creation on the boot-time clock, which settimeofday cannot move.
    created: Instant<BootTime>,
    /// Creation on the wall clock, for display only.
    created_real_ms: u64,
    /// Expiry on the wall clock, for display (0: never); a derived key shows
    /// no later an expiry than its parent's.
    expires_real_ms: u64,
    ttl: Option<Delta>,
    lineage: Arc<Lineage>,
    /// Set when expiry was first observed (and traced).
    expiry_seen: AtomicFlag,
    uses: Atomic<u64>,
    bytes: Atomic<u64>,
}

impl Key {
    /// A new key; `ttl_ns` is its lifetime from now (None: unlimited).
    /// A derived key names its `parent`: it never outlives the parent's
    /// expiry and is revoked with it; `EINVAL` past `KV_MAX_LINEAGE` generations.
    pub(crate) fn new(
        id: u64,
        alg: Alg,
        material: Secret,
        policy: KvPolicy,
        ttl_ns: Option<i64>,
        parent: Option<&Key>,
        uid: u32,
    ) -> Result<Arc<Self>> {
        let len = material.len();
        let depth = parent.map_or(0, |p| p.lineage.depth + 1);
        if depth > KV_MAX_LINEAGE {
            return Err(EINVAL);
        }
        let ttl_ns = match parent.and_then(Key::remaining_ns) {
            Some(left) => Some(ttl_ns.map_or(left, |t| t.min(left))),
            None => ttl_ns,
        };
        let created_real_ms = real_time_ms();
        let own_expiry = ttl_ns.map_or(0, |ns| {
            created_real_ms.saturating_add(u64::try_from(ns / 1_000_000).unwrap_or(u64::MAX))
        });
        let expires_real_ms = match parent.map(|p| p.expires_real_ms) {
            Some(pe) if pe != 0 && (own_expiry == 0 || pe < own_expiry) => pe,
            _ => own_expiry,
        };
        let lineage = Arc::new(
            Lineage {
                revoked: AtomicFlag::new(false),
                parent: parent.map(|p| p.lineage.clone()),
                depth,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        let engine = Engine::new(alg, material.bytes())?;
        let mut nonce_prefix = [0u8; 4];
        fill_random(&mut nonce_prefix);
        let key = Arc::new(
            Key {
                id,
                alg,
                uid,
                policy,
                material,
                engine,
                nonce_prefix,
                nonce_counter: Atomic::new(0),
                created: Instant::now(),
                created_real_ms,
                expires_real_ms,
                ttl: ttl_ns.map(Delta::from_nanos),
                lineage,
                expiry_seen: AtomicFlag::new(false),
                uses: Atomic::new(0),
                bytes: Atomic::new(0),
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        stats::key_created(len);
        Ok(key)
    }

    /// Material length in bytes (what the vault's byte quota counts).
    pub(crate) fn len(&self) -> usize {
        self.material.len()
    }

    /// The state now: revocation wins over expiry; expiry is evaluated
    /// against the clock on every call, so no operation is needed first.
    pub(crate) fn state(&self) -> State {
        if self.lineage.revoked() {
            State::Revoked
        } else if self.ttl.is_some_and(|ttl| self.created.elapsed() >= ttl) {
            if !self.expiry_seen.xchg(true, Relaxed) {
                trace::key_expire(self.id);
            }
            State::Expired
        } else {
            State::Active
        }
    }

    /// The raw key material, for the crypto calls that take it directly.
    pub(crate) fn material(&self) -> &[u8] {
        self.material.bytes()
    }

    /// May the key be used for `op` (a `KV_CAP_*` bit) now? `EKEYREVOKED`,
    /// `EKEYEXPIRED`, or `EPERM` when its policy does not allow `op`.
    pub(crate) fn authorize(&self, op: u32) -> Result {
        match self.state() {
            State::Active => {}
            State::Revoked => return Err(EKEYREVOKED),
            State::Expired => return Err(EKEYEXPIRED),
        }
        if self.policy.usage & op != op {
            return Err(EPERM);
        }
        Ok(())
    }

    /// Whether the policy refuses caller-chosen nonces and IVs.
    pub(crate) fn kernel_nonces_only(&self) -> bool {
        self.policy.flags & KV_POLICY_NO_CALLER_NONCE != 0
    }

    /// Counts one use of `bytes` input bytes against the policy's limits;
    /// `EDQUOT` once a limit would be passed.
    pub(crate) fn charge(&self, bytes: usize) -> Result {
        let (max_uses, max_bytes) = (self.policy.max_uses, self.policy.max_bytes);
        let bytes = bytes as u64;
        let mut uses = self.uses.load(Relaxed);
        loop {
            if max_uses != 0 && uses >= max_uses {
                return Err(EDQUOT);
            }
            match self.uses.cmpxchg(uses, uses.saturating_add(1), Full) {
                Ok(_) => break,
                Err(now) => uses = now,
            }
        }
        let mut done = self.bytes.load(Relaxed);
        loop {
            let after = done.saturating_add(bytes);
            if max_bytes != 0 && after > max_bytes {
                // Give the use back: this operation does not happen.
                self.uses.fetch_sub(1, Relaxed);
                return Err(EDQUOT);
            }
            match self.bytes.cmpxchg(done, after, Full) {
                Ok(_) => return Ok(()),
                Err(now) => done = now,
            }
        }
    }

    /// The next kernel nonce: never repeats for this key. `EOVERFLOW` after
    /// 2^64 of them, which no key will live to see.
    pub(crate) fn next_nonce(&self) -> Result<Nonce> {
        let mut n = self.nonce_counter.load(Relaxed);
        loop {
            // Saturate rather than wrap: a wrapped counter would repeat nonces.
            let next = n.checked_add(1).ok_or(EOVERFLOW)?;
            match self.nonce_counter.cmpxchg(n, next, Full) {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        let mut nonce = Nonce::default();
        nonce[..4].copy_from_slice(&self.nonce_prefix);
        nonce[4..].copy_from_slice(&n.to_be_bytes());
        Ok(nonce)
    }

    /// Revokes the key; true if this call did it (revoking twice is fine).
    pub(crate) fn revoke(&self) -> bool {
        let first = !self.lineage.revoked.xchg(true, Relaxed);
        if first {
            trace::key_revoke(self.id);
        }
        first
    }

    /// Nanoseconds of life left, if the key has a TTL (0 once expired).
    fn remaining_ns(&self) -> Option<i64> {
        self.ttl.map(|ttl| (ttl.as_nanos() - self.created.elapsed().as_nanos()).max(0))
    }

    /// GETINFO's view of the key.
    pub(crate) fn info(&self) -> KvKeyinfo {
        KvKeyinfo {
            key_id: self.id,
            algorithm: self.alg.to_abi(),
            key_bits: u32::try_from(self.len() * 8).unwrap_or(u32::MAX),
            state: match self.state() {
                State::Active => KV_STATE_ACTIVE,
                State::Revoked => KV_STATE_REVOKED,
                State::Expired => KV_STATE_EXPIRED,
            },
            created_ms: self.created_real_ms,
            expires_ms: self.expires_real_ms,
            policy: self.policy,
            uses: self.uses.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            ..Default::default()
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // The material itself is wiped by `Secret`'s Drop, right after this.
        stats::key_freed(self.len());
        quota::release(self.uid, self.len());
        trace::key_destroy(self.id);
    }
}

/// Milliseconds since the Unix epoch on the wall clock.
fn real_time_ms() -> u64 {
    // SAFETY: ktime_get_real() may be called from any non-NMI context.
    let ns = unsafe { bindings::ktime_get_real() };
    u64::try_from(ns / 1_000_000).unwrap_or(0)
}
