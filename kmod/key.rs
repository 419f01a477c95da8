// SPDX-License-Identifier: GPL-2.0

//! A key: immutable material and policy, plus its lifecycle state and usage
//! counters. Shared as `Arc<Key>`: the vault's table holds one reference and
//! every operation in flight holds another, so DESTROY only unlinks the key
//! and the material is wiped (by [`Secret`]'s `Drop`) when the last one goes.
//!
//! `Key` is the only type that touches key material and the crypto engines:
//! the handlers ask it to seal, open, sign, MAC or derive, and never see the
//! bytes. Its lifecycle side effects (id, quota charge, counters, trace
//! events) happen in exactly two places: [`Unborn::commit`] and `Drop`.

use core::mem::MaybeUninit;
use kernel::{
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            AtomicFlag,
            Full,
            Relaxed, //
        },
        Arc,
        UniqueArc,
    },
    time::{
        BootTime,
        Delta,
        Instant, //
    },
};

use crate::{
    abi::{
        KvChildPolicy,
        KvKeyinfo,
        KvPolicy,
        KV_MAX_LINEAGE,
        KV_POLICY_NO_CALLER_NONCE,
        KV_POLICY_WRAPPABLE,
        KV_STATE_ACTIVE,
        KV_STATE_EXPIRED,
        KV_STATE_REVOKED, //
    },
    crypto::{
        fill_random,
        real_time_ms,
        x25519,
        Engine,
        HmacSha256,
        HmacSha512,
        Iv,
        Nonce,
        Tag, //
    },
    pure::{
        alg::Alg,
        hkdf::hkdf,
        wrap::{
            Format,
            Header,
            BODY_AT,
            HEADER,
            NONCE_AT, //
        }, //
    },
    quota,
    secret::Secret,
    stats,
    trace::{
        self,
        Origin, //
    },
    uapi::reject,
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
    /// The user the key is charged to (`quota`): the vault's owner.
    owner: quota::Owner,
    /// The policy fixed at creation, with `usage` explicit.
    pub(crate) policy: KvPolicy,
    /// What keys derived from this one may be.
    pub(crate) child: KvChildPolicy,
    material: Secret,
    /// Prepared crypto state, made once at creation.
    engine: Engine,
    /// Kernel nonces are this random per-key prefix followed by a 32-bit
    /// big-endian counter (`nonce`).
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
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

/// Kernel nonces: an 8-byte random prefix per key object and a 4-byte
/// counter. The same material often exists as several objects (imported by
/// every worker, derived or exchanged again with the same inputs); two of
/// them reuse nonces only if their prefixes collide, 2^-64 per pair: for a
/// million copies of one key, under 2^-25 in all (n^2/2^65). The counter
/// gives each object 2^32 nonces, then `EOVERFLOW`.
const NONCE_PREFIX_LEN: usize = 8;
/// The first counter value no nonce may use.
const NONCE_COUNTER_END: u64 = 1 << 32;

/// Where new keys' nonce counters start: 0, except on kernels built for
/// testing (fault injection's debugfs), where the test of counter exhaustion
/// sets it near the end through debugfs.
pub(crate) static NONCE_COUNTER_START: Atomic<u64> = Atomic::new(0);

/// Key ids come from one module-wide counter: never 0, never reused while
/// the module is loaded, so a stale id can never name a newer key (no ABA).
static NEXT_KEY_ID: Atomic<u64> = Atomic::new(1);

/// What a request asks a new key to be, validated.
pub(crate) struct NewKey {
    /// The key type.
    pub(crate) alg: Alg,
    /// Its policy, `usage` explicit.
    pub(crate) policy: KvPolicy,
    /// What keys derived from it may be.
    pub(crate) child: KvChildPolicy,
    /// Its lifetime from now (None: unlimited).
    pub(crate) ttl_ns: Option<i64>,
    /// The wall-clock expiry it shows, when it is a key restored from a
    /// blob (UNWRAP): the blob's, exactly, not now + `ttl_ns` (which the
    /// clock has moved past by the time the key is made).
    pub(crate) expires_ms: Option<u64>,
}

/// Everything a new key needs, allocated and computed, and counted
/// nowhere: dropping it (a quota refused the key) leaves no trace, no
/// counter change and no event.
pub(crate) struct Unborn {
    slot: UniqueArc<MaybeUninit<Key>>,
    quota_slot: quota::Slot,
    new: NewKey,
    material: Secret,
    engine: Engine,
    lineage: Arc<Lineage>,
    created_real_ms: u64,
    expires_real_ms: u64,
    origin: Origin,
    parent_id: u64,
}

impl Unborn {
    /// Material length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.material.len()
    }

    /// The key, charged to `owner` within `limits` (`EDQUOT` past them:
    /// then nothing happened), with a new id, counted and traced. Called
    /// under the vault's lock, after its own quota check, so a key exists
    /// in the counters exactly when it exists in a table.
    pub(crate) fn commit(self, owner: quota::Owner, limits: quota::UserLimits) -> Result<Arc<Key>> {
        let len = self.material.len();
        quota::charge(owner, len, limits, self.quota_slot)?;
        let id = NEXT_KEY_ID.fetch_add(1, Full);
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        fill_random(&mut nonce_prefix);
        stats::key_created(len);
        trace::key_create(id, self.new.alg.to_abi(), (len * 8) as u32, self.origin, self.parent_id);
        // Built in place in its final allocation.
        let key = self.slot.write_init(init!(Key {
            id,
            alg: self.new.alg,
            owner,
            policy: self.new.policy,
            child: self.new.child,
            material: self.material,
            engine: self.engine,
            nonce_prefix,
            nonce_counter: Atomic::new(NONCE_COUNTER_START.load(Relaxed).min(NONCE_COUNTER_END)),
            created: Instant::now(),
            created_real_ms: self.created_real_ms,
            expires_real_ms: self.expires_real_ms,
            ttl: self.new.ttl_ns.map(Delta::from_nanos),
            lineage: self.lineage,
            expiry_seen: AtomicFlag::new(false),
            uses: Atomic::new(0),
            bytes: Atomic::new(0),
        }));
        // An `init!` of plain values cannot fail.
        let Ok(key) = key;
        Ok(key.into())
    }
}

impl Key {
    /// Everything a new key `new` of `material` needs, allocated; made by
    /// `origin`. A derived key names its `parent`: it never outlives the
    /// parent's expiry and is revoked with it; `EINVAL` past
    /// `KV_MAX_LINEAGE` generations.
    pub(crate) fn prepare(mut new: NewKey, material: Secret, parent: Option<&Key>, origin: Origin) -> Result<Unborn> {
        let depth = parent.map_or(0, |p| p.lineage.depth + 1);
        if depth > KV_MAX_LINEAGE {
            return Err(EINVAL);
        }
        if let Some(left) = parent.and_then(Key::remaining_ns) {
            new.ttl_ns = Some(new.ttl_ns.map_or(left, |t| t.min(left)));
        }
        let created_real_ms = real_time_ms();
        let own_expiry = new.expires_ms.unwrap_or_else(|| {
            new.ttl_ns.map_or(0, |ns| {
                created_real_ms.saturating_add(u64::try_from(ns / 1_000_000).unwrap_or(u64::MAX))
            })
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
        let engine = Engine::new(new.alg, new.policy.usage, material.bytes())?;
        Ok(Unborn {
            slot: UniqueArc::new_uninit(GFP_KERNEL_ACCOUNT)?,
            quota_slot: quota::Slot::new()?,
            new,
            material,
            engine,
            lineage,
            created_real_ms,
            expires_real_ms,
            origin,
            parent_id: parent.map_or(0, |p| p.id),
        })
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
    /// `EDQUOT` once a limit would be passed. The use is given back unless
    /// the operation settles it ([`Use::settle`]).
    pub(crate) fn charge(&self, bytes: usize) -> Result<Use<'_>> {
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
                Ok(_) => return Ok(Use { key: self, bytes, kept: false }),
                Err(now) => done = now,
            }
        }
    }

    /// The next kernel nonce: never repeats for this key; `EOVERFLOW` once
    /// its 2^32 are spent. Take it last, right before the crypto that uses
    /// it: a skipped value is harmless, a request failing after it had its
    /// nonce is not an error path that hands it out.
    pub(crate) fn next_nonce(&self) -> Result<Nonce> {
        let mut n = self.nonce_counter.load(Relaxed);
        loop {
            // Stop rather than wrap: a wrapped counter would repeat nonces.
            if n >= NONCE_COUNTER_END {
                return Err(EOVERFLOW);
            }
            match self.nonce_counter.cmpxchg(n, n + 1, Full) {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        let mut nonce = Nonce::default();
        nonce[..NONCE_PREFIX_LEN].copy_from_slice(&self.nonce_prefix);
        // n < 2^32: the low four bytes are all of it.
        nonce[NONCE_PREFIX_LEN..].copy_from_slice(&n.to_be_bytes()[4..]);
        Ok(nonce)
    }

    /// AEAD-encrypts `buf` in place under `nonce`; returns the tag.
    pub(crate) fn seal(&self, buf: &mut [u8], aad: &[u8], nonce: &Nonce) -> Result<Tag> {
        self.engine.seal(self.material.bytes(), buf, aad, nonce)
    }

    /// AEAD-decrypts `buf` in place if `tag` is right; `EBADMSG` if not
    /// (`buf` may then hold unverified plaintext, which the caller wipes).
    pub(crate) fn open(&self, buf: &mut [u8], aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result {
        self.engine.open(self.material.bytes(), buf, aad, nonce, tag)
    }

    /// AES-CBC-encrypts whole blocks in place.
    pub(crate) fn cbc_encrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        self.engine.cbc_encrypt(buf, iv)
    }

    /// AES-CBC-decrypts whole blocks in place.
    pub(crate) fn cbc_decrypt(&self, buf: &mut [u8], iv: &mut Iv) -> Result {
        self.engine.cbc_decrypt(buf, iv)
    }

    /// HMAC of `data` into `out`; returns its length (32 or 64).
    pub(crate) fn mac(&self, data: &[u8], out: &mut [u8; 64]) -> Result<usize> {
        self.engine.mac(data, out)
    }

    /// Ed25519 signature of `msg`.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        self.engine.sign(msg)
    }

    /// The public half of an asymmetric key; `None` for a symmetric one.
    pub(crate) fn public_key(&self) -> Option<[u8; 32]> {
        self.engine.public_key()
    }

    /// HKDF (SHA-512 if `wide`, else SHA-256) with this key's material as
    /// input keying material, into `okm`.
    pub(crate) fn derive_into(&self, wide: bool, salt: &[u8], info: &[u8], okm: &mut [u8]) -> Result {
        hkdf_into(wide, salt, self.material.bytes(), info, okm)
    }

    /// X25519 of this key with `peer`, then HKDF of the shared secret (as in
    /// [`Key::derive_into`]) into `okm`; `EINVAL` for a low-order `peer`.
    pub(crate) fn exchange_into(&self, peer: &[u8; 32], wide: bool, salt: &[u8], info: &[u8], okm: &mut [u8]) -> Result {
        let mut shared = Secret::zeroed(32)?;
        x25519(self.material.bytes(), peer, shared.bytes_mut())?;
        hkdf_into(wide, salt, shared.bytes(), info, okm)
    }

    /// May the key leave the kernel (wrapped) now? `EKEYREVOKED`,
    /// `EKEYEXPIRED`, or `EPERM` when its policy is not `KV_POLICY_WRAPPABLE`.
    pub(crate) fn authorize_export(&self) -> Result {
        self.authorize(0)?;
        if self.policy.flags & KV_POLICY_WRAPPABLE == 0 {
            return Err(EPERM);
        }
        Ok(())
    }

    /// This wrapping key's blob of `key` in `format` (the caller checked
    /// both keys). A native blob takes this key's next kernel nonce.
    pub(crate) fn wrap(&self, key: &Key, format: Format) -> Result<Secret> {
        let len = key.len();
        // The buffer holds the material until it is encrypted: a Secret.
        let mut blob = Secret::zeroed(format.blob_len(len))?;
        match format {
            Format::Native => {
                let header = Header {
                    alg: key.alg,
                    key_len: len,
                    policy: key.policy,
                    child: key.child,
                    expires_ms: key.expires_real_ms,
                };
                let (head, rest) = blob.bytes_mut().split_at_mut(BODY_AT);
                let (body, tag) = rest.split_at_mut(len);
                head[..HEADER].copy_from_slice(&header.encode());
                body.copy_from_slice(key.material.bytes());
                let nonce = self.next_nonce()?;
                head[NONCE_AT..].copy_from_slice(&nonce);
                tag.copy_from_slice(&self.seal(body, &head[..HEADER], &nonce)?);
            }
            Format::Rfc5649 => {
                blob.bytes_mut()[..len].copy_from_slice(key.material.bytes());
                self.engine.kwp_wrap(blob.bytes_mut(), len)?;
            }
        }
        Ok(blob)
    }

    /// Opens a native blob with this wrapping key: what its header says,
    /// and the material. `EBADMSG` unless it authenticates (`blob` may then
    /// hold unverified plaintext: it is the caller's Secret).
    pub(crate) fn unwrap_native(&self, blob: &mut [u8]) -> Result<(Header, Secret)> {
        let header = reject(Header::decode(blob))?;
        let (head, rest) = blob.split_at_mut(BODY_AT);
        let (body, tag) = rest.split_at_mut(header.key_len);
        let mut nonce = Nonce::default();
        nonce.copy_from_slice(&head[NONCE_AT..]);
        let mut t = Tag::default();
        t.copy_from_slice(tag);
        self.open(body, &head[..HEADER], &nonce, &t)?;
        let mut material = Secret::zeroed(header.key_len)?;
        material.bytes_mut().copy_from_slice(body);
        Ok((header, material))
    }

    /// Unwraps an RFC 5649 blob with this wrapping key: the material.
    pub(crate) fn unwrap_rfc5649(&self, blob: &mut [u8]) -> Result<Secret> {
        let len = self.engine.kwp_unwrap(blob)?;
        let mut material = Secret::zeroed(len)?;
        material.bytes_mut().copy_from_slice(&blob[8..8 + len]);
        Ok(material)
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
            child: self.child,
            uses: self.uses.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            ..Default::default()
        }
    }
}

/// One counted use of a key. A request that fails gives it back when this
/// drops (README: a failed request leaves no state behind), except a failed
/// verification: [`Use::settle`] keeps those, so `max_uses` also bounds
/// forgery and padding-oracle attempts.
#[must_use]
pub(crate) struct Use<'a> {
    key: &'a Key,
    bytes: u64,
    kept: bool,
}

impl Use<'_> {
    /// The operation's outcome, keeping the use if it ran: success, or a
    /// verification that failed (`EBADMSG`).
    pub(crate) fn settle<T>(mut self, outcome: Result<T>) -> Result<T> {
        self.kept = matches!(outcome, Ok(_)) || outcome.as_ref().err() == Some(&EBADMSG);
        outcome
    }
}

impl Drop for Use<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.key.uses.fetch_sub(1, Relaxed);
            self.key.bytes.fetch_sub(self.bytes, Relaxed);
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // The material itself is wiped by `Secret`'s Drop, right after this.
        stats::key_freed(self.len());
        quota::release(self.owner, self.len());
        trace::key_destroy(self.id);
    }
}

/// HKDF with the hash `wide` selects, from `ikm` into `okm`.
fn hkdf_into(wide: bool, salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result {
    reject(if wide {
        hkdf::<HmacSha512>(salt, ikm, info, okm)
    } else {
        hkdf::<HmacSha256>(salt, ikm, info, okm)
    })
}
