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
        KV_STATE_ACTIVE,
        KV_STATE_EXPIRED,
        KV_STATE_REVOKED, //
    },
    pure::alg::Alg,
    secret::Secret,
    stats,
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

/// A key in a vault.
pub(crate) struct Key {
    /// The key's id: unique for the module's lifetime, never 0.
    pub(crate) id: u64,
    /// The key type.
    pub(crate) alg: Alg,
    /// The policy fixed at creation, with `usage` explicit.
    pub(crate) policy: KvPolicy,
    material: Secret,
    /// Creation on the boot-time clock, which settimeofday cannot move.
    created: Instant<BootTime>,
    /// Creation on the wall clock, for display only.
    created_real_ms: u64,
    ttl: Option<Delta>,
    revoked: AtomicFlag,
    uses: Atomic<u64>,
    bytes: Atomic<u64>,
}

impl Key {
    /// A new key; `ttl_ns` is its lifetime from now (None: unlimited).
    pub(crate) fn new(
        id: u64,
        alg: Alg,
        material: Secret,
        policy: KvPolicy,
        ttl_ns: Option<i64>,
    ) -> Result<Arc<Self>> {
        let len = material.len();
        let key = Arc::new(
            Key {
                id,
                alg,
                policy,
                material,
                created: Instant::now(),
                created_real_ms: real_time_ms(),
                ttl: ttl_ns.map(Delta::from_nanos),
                revoked: AtomicFlag::new(false),
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
        if self.revoked.load(Relaxed) {
            State::Revoked
        } else if self.ttl.is_some_and(|ttl| self.created.elapsed() >= ttl) {
            State::Expired
        } else {
            State::Active
        }
    }

    /// Revokes the key; true if this call did it (revoking twice is fine).
    pub(crate) fn revoke(&self) -> bool {
        !self.revoked.xchg(true, Relaxed)
    }

    /// GETINFO's view of the key.
    pub(crate) fn info(&self) -> KvKeyinfo {
        let expires_ms = match self.ttl {
            Some(ttl) => self
                .created_real_ms
                .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
            None => 0,
        };
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
            expires_ms,
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
    }
}

/// Milliseconds since the Unix epoch on the wall clock.
fn real_time_ms() -> u64 {
    // SAFETY: ktime_get_real() may be called from any non-NMI context.
    let ns = unsafe { bindings::ktime_get_real() };
    u64::try_from(ns / 1_000_000).unwrap_or(0)
}
