//! The round trips of the ioctls that move keys, on a private handle (a
//! DUP no other worker knows, so no one closes or restricts it) where every
//! errno is predicted exactly:
//! - WRAP and UNWRAP: a wrappable key leaves as a blob (native or RFC 5649)
//!   and comes back as a key that does the same crypto, with the policy,
//!   child policy and expiry of the original (native); every way a request
//!   or a blob can be wrong fails with its own errno (a wrong usage or a key
//!   that is not wrappable EPERM, a key under itself, an unknown format or
//!   version, an oversized blob or a native UNWRAP with key fields EINVAL, a
//!   too-small buffer ENOSPC with the size written back, a flipped bit, a
//!   truncated or extended blob, another wrapping key EBADMSG), writing
//!   nothing; when the keys' bytes are known (IMPORT), the blob is opened on
//!   the host (aes-gcm, aes-kw), and a blob the host made (aes-kw) is
//!   UNWRAPped into a key that acts as an IMPORT of the same bytes.
//! - IMPORT_KEYRING: the payload of a keyring key (keyring.rs) becomes a key
//!   that does what an IMPORT of the same bytes does; a payload of no size
//!   of the algorithm is EINVAL, a wrappable policy EPERM, a serial that is
//!   not a key's its keyring errno.

use super::fields::*;
use super::ioctls::*;
use super::keyring::{self, Kind};
use super::mem::Extra;
use super::mutate::Plan;
use super::oracle::native_header;
use super::worker::{as_bytes, Blob, Worker};
use super::{close, lowest_free_fd};
use keyvault::uapi::*;
use nix::errno::Errno;

/// What other workers may do to a round trip's keys (a wild DESTROY or
/// REVOKE), and memory.
const WORLD: [Errno; 3] = [Errno::ENOENT, Errno::EKEYREVOKED, Errno::ENOMEM];
/// The same, for a request that makes a key (the quotas too).
const WORLD_NEW: [Errno; 4] = [
    Errno::ENOENT,
    Errno::EKEYREVOKED,
    Errno::ENOMEM,
    Errno::EDQUOT,
];

/// The capabilities of the private handle a round trip needs.
const TRIP_CAPS: u32 = KV_CAP_GENKEY
    | KV_CAP_IMPORT
    | KV_CAP_DESTROY
    | KV_CAP_REVOKE
    | KV_CAP_GETINFO
    | KV_CAP_WRAP
    | KV_CAP_UNWRAP
    | KV_CAP_ENCRYPT
    | KV_CAP_DECRYPT
    | KV_CAP_MAC;

/// A key a round trip made.
struct TripKey {
    id: u64,
    alg: u32,
    len: usize,
    /// The policy asked for.
    policy: KvPolicy,
    /// Its bytes, when imported.
    bytes: Option<Vec<u8>>,
}

/// RFC 5649 unwrap on the host (the aes-kw crate).
fn kwp_unwrap(kek: &[u8], c: &[u8]) -> Option<Vec<u8>> {
    let kek: [u8; 32] = kek.try_into().ok()?;
    let mut out = vec![0u8; c.len().checked_sub(8)?];
    let key = aes_kw::KekAes256::from(kek)
        .unwrap_with_padding(c, &mut out)
        .ok()?;
    Some(key.to_vec())
}

/// RFC 5649 wrap on the host (the aes-kw crate).
fn kwp_wrap(kek: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    let kek: [u8; 32] = kek.try_into().ok()?;
    let mut out = vec![0u8; blob_len(KV_WRAP_RFC5649, key.len())];
    aes_kw::KekAes256::from(kek)
        .wrap_with_padding(key, &mut out)
        .ok()?;
    Some(out)
}

/// A native blob opened on the host: the key bytes.
fn native_open(kek: &[u8], blob: &[u8]) -> Option<Vec<u8>> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let gcm = aes_gcm::Aes256Gcm::new_from_slice(kek).ok()?;
    let h = KV_WRAP_HEADER_SIZE as usize;
    let nonce = aes_gcm::Nonce::from_slice(&blob[h..h + 12]);
    gcm.decrypt(
        nonce,
        Payload {
            msg: &blob[h + 12..],
            aad: &blob[..h],
        },
    )
    .ok()
}

/// A wrap round trip: the wrapping key, the key, what GETINFO says of it,
/// the format.
#[derive(Clone, Copy)]
struct Trip<'a> {
    w: &'a TripKey,
    k: &'a TripKey,
    kinfo: &'a KvKeyinfo,
    format: u32,
}

impl Worker<'_> {
    /// A private handle on the vault of a random group: a DUP with every
    /// capability (no other worker knows it, so its capabilities stay
    /// what DUP granted, and no one closes it). None if it lacks
    /// [`TRIP_CAPS`].
    fn private_fd(&mut self) -> Option<i32> {
        let w = self.w;
        let _l = w.fd_lock.lock().unwrap();
        let fd = self.pick_fd(80);
        let req = KvDup {
            caps: KV_CAP_ALL,
            ..Default::default()
        };
        let p = self.exact(size_of::<KvDup>());
        let probe = lowest_free_fd();
        let o = self.exec(DUP, fd, &req, &p);
        let new = self.check_dup(&o, probe)?;
        if o.back.map_or(0, |b| b.caps) & TRIP_CAPS != TRIP_CAPS {
            close(new);
            return None;
        }
        Some(new)
    }

    fn close_private(&mut self, fd: i32) {
        let _l = self.w.fd_lock.lock().unwrap();
        close(fd);
    }

    /// A key made on `fd` for a round trip: imported (its bytes known) or
    /// generated, of a random size of `alg`.
    fn trip_key(
        &mut self,
        fd: i32,
        alg: u32,
        policy: KvPolicy,
        child: KvChildPolicy,
        ttl_ms: u64,
    ) -> Option<TripKey> {
        let (min, max, _) = key_sizes(alg);
        let len = (min + self.rng.below(u64::from(max - min) + 1) as u32) as usize;
        let p = self.more(128);
        let (o, bytes) = if self.rng.chance(50) {
            let key_ptr = self.data(len as u32);
            let req = KvImport {
                algorithm: alg,
                key_len: len as u32,
                key_ptr,
                ttl_ms,
                policy,
                child,
                ..Default::default()
            };
            let o = self.exec(IMPORT, fd, &req, &p);
            (o.back.map(|b| b.key_id), Some(self.a.read(key_ptr, len)))
        } else {
            let req = KvGenkey {
                algorithm: alg,
                key_bits: 8 * len as u32,
                ttl_ms,
                policy,
                child,
                ..Default::default()
            };
            (self.exec(GENKEY, fd, &req, &p).back.map(|b| b.key_id), None)
        };
        Some(TripKey {
            id: o?,
            alg,
            len,
            policy,
            bytes,
        })
    }

    /// A wrapping key of `usage` (within KV_USAGE_WRAPPING) made on `fd`.
    fn wrapping_on(&mut self, fd: i32, usage: u32) -> Option<TripKey> {
        let policy = KvPolicy {
            usage,
            ..Default::default()
        };
        self.trip_key(fd, WRAPPING_ALG, policy, KvChildPolicy::default(), 0)
    }

    /// Destroys a key a round trip made only to be refused with.
    fn drop_key(&mut self, fd: i32, id: u64) {
        let p = self.more(size_of::<KvKeyref>());
        let req = KvKeyref {
            key_id: id,
            reserved: 0,
        };
        self.exec(DESTROY, fd, &req, &p);
    }

    /// GETINFO of `id` on `fd`.
    fn info(&mut self, fd: i32, id: u64) -> Option<KvKeyinfo> {
        let p = self.more(size_of::<KvKeyinfo>());
        let req = KvKeyinfo {
            key_id: id,
            ..Default::default()
        };
        let o = self.exec(GETINFO, fd, &req, &p);
        if let Some(b) = &o.back {
            self.check_getinfo(&o.input, b);
        }
        o.back
    }

    /// A valid policy of a wrappable key of `alg` for a round trip: mostly
    /// every usage and no limits (so the twins can be compared).
    fn trip_policy(&mut self, alg: u32) -> KvPolicy {
        let mut p = KvPolicy {
            flags: KV_POLICY_WRAPPABLE,
            ..Default::default()
        };
        if self.rng.chance(20) {
            p.usage = default_usage(alg) & self.rng.next() as u32;
        }
        if self.rng.chance(20) {
            p.flags |= KV_POLICY_NO_CALLER_NONCE;
        }
        if self.rng.chance(20) {
            p.max_uses = 1000 + self.rng.below(1000);
        }
        if self.rng.chance(20) {
            p.max_bytes = 1 << 30;
        }
        p
    }

    pub fn rt_wrap(&mut self) {
        let Some(fd) = self.private_fd() else {
            return;
        };
        self.wrap_trip(fd);
        self.close_private(fd);
    }

    fn wrap_trip(&mut self, fd: i32) -> Option<()> {
        let g = self.group;
        let w = self.wrapping_on(fd, KV_USAGE_WRAPPING)?;
        let alg = self.rng.pick(&ALL_ALGS);
        let policy = self.trip_policy(alg);
        let child = if self.rng.chance(20) {
            KvChildPolicy {
                algorithms: self.rng.next() as u32 & KV_CHILD_ALGS_ALL,
                usage: self.rng.next() as u32 & KV_USAGE_ALL,
                max_uses: self.rng.below(100) as u32,
                max_bytes: self.rng.below(10_000) as u32,
            }
        } else {
            KvChildPolicy::default()
        };
        let ttl = if self.rng.chance(15) { 1 << 40 } else { 0 };
        let k = self.trip_key(fd, alg, policy, child, ttl)?;
        let kinfo = self.info(fd, k.id)?;
        let format = self.rng.below(2) as u32;
        self.wrap_wrong(fd, &w, &k, format);
        let t = Trip {
            w: &w,
            k: &k,
            kinfo: &kinfo,
            format,
        };
        let blob = self.wrap_right(fd, &t)?;
        if let (Some(wb), Some(kb)) = (&w.bytes, &k.bytes) {
            self.st.extra(Extra::HostChecks);
            let opened = if format == KV_WRAP_NATIVE {
                native_open(wb, &blob)
            } else {
                kwp_unwrap(wb, &blob)
            };
            if opened.as_ref() != Some(kb) {
                self.unexpected(
                    WRAP,
                    &format!(
                        "the host does not open the blob (format {format}) to the key's bytes"
                    ),
                    &blob,
                );
            }
        }
        if let (Some(wb), true) = (&w.bytes, self.rng.chance(30)) {
            self.host_blob(fd, w.id, wb, alg);
        }
        self.unwrap_wrong(fd, &w, &k, format, &blob);
        let new = self.unwrap_right(fd, &t, &blob);
        // The keys join the pool, the blob the worker's.
        self.group = g;
        self.added_policy(WRAPPING_ALG, w.id, &w.policy);
        self.added_policy(k.alg, k.id, &k.policy);
        if let Some((alg, id, policy)) = new {
            self.added_policy(alg, id, &policy);
        }
        self.keep_blob(Blob {
            group: g,
            wrapping: w.id,
            format,
            alg,
            bytes: blob,
        });
        Some(())
    }

    /// An RFC 5649 blob the host made under the wrapping key `w` (of
    /// bytes `wb`) of random key bytes for `alg`: UNWRAP takes it, and the
    /// key acts as an IMPORT of the same bytes.
    fn host_blob(&mut self, fd: i32, w: u64, wb: &[u8], alg: u32) -> Option<()> {
        let (min, max, _) = key_sizes(alg);
        let mut key = vec![0u8; (min + self.rng.below(u64::from(max - min) + 1) as u32) as usize];
        self.rng.fill(&mut key);
        let blob = kwp_wrap(wb, &key)?;
        self.st.extra(Extra::HostChecks);
        let req = self.unwrap_req(w, KV_WRAP_RFC5649, &blob, alg, KvPolicy::default());
        let what = "an RFC 5649 blob of the host's";
        let new = self
            .must_work(UNWRAP, fd, &req, &WORLD_NEW, what)?
            .new_key_id;
        let key_ptr = self.a.alloc(key.len(), &mut self.rng);
        self.a.write(key_ptr, &key);
        let imp = KvImport {
            algorithm: alg,
            key_len: key.len() as u32,
            key_ptr,
            ..Default::default()
        };
        let p = self.more(size_of::<KvImport>());
        if let Some(b) = self.exec(IMPORT, fd, &imp, &p).back {
            self.twins(fd, alg, b.key_id, new, UNWRAP);
            self.drop_key(fd, b.key_id);
        }
        self.drop_key(fd, new);
        Some(())
    }

    /// A WRAP request of `k` under `w` into a guarded buffer of `room`.
    fn wrap_req(&mut self, w: u64, k: u64, format: u32, room: usize) -> KvWrap {
        KvWrap {
            wrapping_key_id: w,
            key_id: k,
            blob_ptr: self.guarded(room),
            blob_len: room as u32,
            format,
            reserved: [0; 2],
        }
    }

    /// One WRAP that must fail, with its errno; the buffer untouched.
    fn wrap_wrong(&mut self, fd: i32, w: &TripKey, k: &TripKey, format: u32) -> Option<()> {
        let need = blob_len(format, k.len);
        let mut extra = None;
        let mut req = self.wrap_req(w.id, k.id, format, need);
        let (want, what) = match self.rng.below(7) {
            0 => {
                req.format = self.rng.pick(&[2, 3, 0x100, u32::MAX]);
                (Errno::EINVAL, "an unknown format")
            }
            1 => {
                req.key_id = w.id;
                (Errno::EINVAL, "a key under itself")
            }
            2 => {
                req.blob_len = self.rng.below(need as u64) as u32;
                (Errno::ENOSPC, "a too-small buffer")
            }
            3 => {
                // (The key: `w`, not `k` itself, which would be EINVAL.)
                req.wrapping_key_id = k.id;
                req.key_id = w.id;
                if k.alg == WRAPPING_ALG {
                    (Errno::EPERM, "a wrapping key without WRAP usage")
                } else {
                    (Errno::EOPNOTSUPP, "a wrapping key of another algorithm")
                }
            }
            4 => {
                let plain = KvPolicy {
                    flags: k.policy.flags & !KV_POLICY_WRAPPABLE,
                    ..k.policy
                };
                let other = self.trip_key(fd, k.alg, plain, KvChildPolicy::default(), 0)?;
                req.key_id = other.id;
                extra = Some(other.id);
                (Errno::EPERM, "a key that is not wrappable")
            }
            5 => {
                let other = self.wrapping_on(fd, KV_CAP_UNWRAP)?;
                req.wrapping_key_id = other.id;
                extra = Some(other.id);
                (Errno::EPERM, "a wrapping key with UNWRAP usage only")
            }
            _ => {
                let other = self.trip_key(fd, k.alg, k.policy, KvChildPolicy::default(), 0)?;
                let p = self.more(size_of::<KvKeyref>());
                let r = KvKeyref {
                    key_id: other.id,
                    reserved: 0,
                };
                self.exec(REVOKE, fd, &r, &p).back?;
                req.key_id = other.id;
                extra = Some(other.id);
                (Errno::EKEYREVOKED, "a revoked key")
            }
        };
        let p = self.more(size_of::<KvWrap>());
        let o = self.exec(WRAP, fd, &req, &p);
        let got = self.expect(WRAP, o.r, Err(want), &WORLD, what, as_bytes(&req));
        let room = (req.blob_len as usize).min(need);
        self.check_guard(WRAP, req.blob_ptr, room);
        if !self.is_untouched(req.blob_ptr, room) {
            self.unexpected(
                WRAP,
                &format!("wrote a blob although it failed ({what})"),
                as_bytes(&req),
            );
        }
        if got && want == Errno::ENOSPC {
            let back: KvWrap = self.a.get(p.loc.addr());
            if back.blob_len as usize != need {
                self.unexpected(
                    WRAP,
                    &format!("ENOSPC reports {} bytes needed, not {need}", back.blob_len),
                    as_bytes(&req),
                );
            }
        } else {
            self.unchanged(WRAP, &p, &req, what);
        }
        self.drop_extra(fd, extra);
        Some(())
    }

    /// Reports a failed request (at `p`) that was written back.
    fn unchanged<T: Copy + PartialEq>(&mut self, op: usize, p: &Plan, req: &T, what: &str) {
        if self.a.get::<T>(p.loc.addr()) != *req {
            let msg = format!("wrote its request back although it failed ({what})");
            self.unexpected(op, &msg, as_bytes(req));
        }
    }

    /// Issues `req` (`op`, on `fd`, clean) that must succeed, but for an
    /// errno of `world`; what it wrote back if it did.
    fn must_work<T: Copy>(
        &mut self,
        op: usize,
        fd: i32,
        req: &T,
        world: &[Errno],
        what: &str,
    ) -> Option<T> {
        let p = self.more(size_of::<T>());
        let o = self.exec(op, fd, req, &p);
        let ok = self.expect(op, o.r, Ok(()), world, what, as_bytes(req));
        o.back.filter(|_| ok)
    }

    /// Destroys the key a wrong request was made with, if any.
    fn drop_extra(&mut self, fd: i32, extra: Option<u64>) {
        if let Some(id) = extra {
            self.drop_key(fd, id);
        }
    }

    /// The WRAP of `k` under `w` that must work: the blob, of the length
    /// its format says, a native header saying what GETINFO says of `k`.
    fn wrap_right(&mut self, fd: i32, t: &Trip<'_>) -> Option<Vec<u8>> {
        let Trip {
            w,
            k,
            kinfo,
            format,
        } = *t;
        let need = blob_len(format, k.len);
        let room = need + self.rng.below(17) as usize;
        let req = self.wrap_req(w.id, k.id, format, room);
        let b = self.must_work(WRAP, fd, &req, &WORLD, "a wrappable key");
        self.check_guard(WRAP, req.blob_ptr, room);
        let b = b?;
        if b.blob_len as usize != need
            || !self.is_untouched(req.blob_ptr + need as u64, room - need)
        {
            self.unexpected(
                WRAP,
                &format!("blob_len {} (or more written) for {need} bytes", b.blob_len),
                as_bytes(&req),
            );
            return None;
        }
        let blob = self.a.read(req.blob_ptr, need);
        if format == KV_WRAP_NATIVE {
            let said = native_header(&blob);
            let want = (
                k.alg,
                kinfo.policy,
                kinfo.expires_ms,
                [
                    kinfo.child.algorithms,
                    kinfo.child.usage,
                    kinfo.child.max_uses,
                    kinfo.child.max_bytes,
                ],
            );
            if said.as_ref() != Ok(&want) {
                self.unexpected(
                    WRAP,
                    &format!("native header {said:?}, GETINFO says {want:?}"),
                    &blob,
                );
                return None;
            }
        }
        Some(blob)
    }

    /// An UNWRAP request of `blob` under `w`: native with no key fields,
    /// RFC 5649 as algorithm `alg` with `policy`.
    fn unwrap_req(
        &mut self,
        w: u64,
        format: u32,
        blob: &[u8],
        alg: u32,
        policy: KvPolicy,
    ) -> KvUnwrap {
        let blob_ptr = self.a.alloc(blob.len().max(1), &mut self.rng);
        self.a.write(blob_ptr, blob);
        let mut req = KvUnwrap {
            wrapping_key_id: w,
            blob_ptr,
            blob_len: blob.len() as u32,
            format,
            ..Default::default()
        };
        if format == KV_WRAP_RFC5649 {
            req.algorithm = alg;
            req.policy = policy;
        }
        req
    }

    /// One UNWRAP that must fail, with its errno, writing nothing back.
    fn unwrap_wrong(
        &mut self,
        fd: i32,
        w: &TripKey,
        k: &TripKey,
        format: u32,
        blob: &[u8],
    ) -> Option<()> {
        let native = format == KV_WRAP_NATIVE;
        let mut bytes = blob.to_vec();
        let mut extra = None;
        // RFC 5649: a length no wrapping has is EINVAL (kmod/pure/kwp.rs).
        let kwp_len = |n: usize| {
            if n < 16 || !n.is_multiple_of(8) || n > 8 + KV_MAX_KEY_BYTES as usize {
                Errno::EINVAL
            } else {
                Errno::EBADMSG
            }
        };
        // A native blob of another length than its header says: EBADMSG.
        let resized = |n: usize| if native { Errno::EBADMSG } else { kwp_len(n) };
        let mut wrapping = w.id;
        let mut alg = k.alg;
        let mut policy = k.policy;
        let mut fmt = format;
        let mut oversize = None;
        let (want, what) = match self.rng.below(10) {
            0 => {
                let i = self.rng.below(bytes.len() as u64) as usize;
                bytes[i] ^= 1 << self.rng.below(8);
                if native && (4..8).contains(&i) {
                    (Errno::EINVAL, "a native blob of another version")
                } else {
                    (Errno::EBADMSG, "a flipped bit")
                }
            }
            1 => {
                bytes.truncate(self.rng.below(bytes.len() as u64) as usize);
                (resized(bytes.len()), "a truncated blob")
            }
            2 => {
                let mut more = vec![0u8; 1 + self.rng.below(24) as usize];
                self.rng.fill(&mut more);
                bytes.extend(more);
                (resized(bytes.len()), "an extended blob")
            }
            3 => {
                let other = self.wrapping_on(fd, KV_USAGE_WRAPPING)?;
                wrapping = other.id;
                extra = Some(other.id);
                (Errno::EBADMSG, "another wrapping key")
            }
            4 => {
                if native {
                    fmt = KV_WRAP_RFC5649;
                    policy = KvPolicy::default();
                    (kwp_len(bytes.len()), "a native blob as RFC 5649")
                } else {
                    policy.usage = 1 << 31;
                    (Errno::EINVAL, "a policy of unknown usage")
                }
            }
            5 => {
                oversize = Some(self.rng.pick(&[KV_WRAP_MAX_BLOB + 1, 1 << 20, u32::MAX]));
                (Errno::EINVAL, "a blob longer than KV_WRAP_MAX_BLOB")
            }
            6 => {
                fmt = self.rng.pick(&[2, 3, 0x100, u32::MAX]);
                (Errno::EINVAL, "an unknown format")
            }
            7 => {
                wrapping = k.id;
                if k.alg == WRAPPING_ALG {
                    (Errno::EPERM, "a wrapping key without UNWRAP usage")
                } else {
                    (Errno::EOPNOTSUPP, "a wrapping key of another algorithm")
                }
            }
            8 if native => (Errno::EINVAL, "a native blob with key fields"),
            8 => {
                alg = (1..=9).find(|&a| !fits(a, k.len)).unwrap_or(0);
                policy = KvPolicy::default();
                (
                    Errno::EINVAL,
                    "RFC 5649 key bytes of another size than the algorithm's",
                )
            }
            _ => {
                // A blob of a wrapping key that may only WRAP.
                let only = self.wrapping_on(fd, KV_CAP_WRAP)?;
                extra = Some(only.id);
                let req = self.wrap_req(only.id, k.id, format, blob_len(format, k.len));
                let p = self.more(size_of::<KvWrap>());
                let b = self.exec(WRAP, fd, &req, &p).back?;
                bytes = self.a.read(req.blob_ptr, b.blob_len as usize);
                wrapping = only.id;
                (Errno::EPERM, "a wrapping key with WRAP usage only")
            }
        };
        let mut req = self.unwrap_req(wrapping, fmt, &bytes, alg, policy);
        if let Some(n) = oversize {
            req.blob_len = n;
        }
        if what == "a native blob with key fields" {
            match self.rng.below(4) {
                0 => req.algorithm = k.alg,
                1 => req.ttl_ms = 1 + self.rng.below(1000),
                2 => req.policy.usage = default_usage(k.alg),
                _ => req.child.max_uses = 1,
            }
        }
        let p = self.more(size_of::<KvUnwrap>());
        let o = self.exec(UNWRAP, fd, &req, &p);
        self.expect(UNWRAP, o.r, Err(want), &WORLD, what, as_bytes(&req));
        match o.back {
            Some(b) => self.drop_key(fd, b.new_key_id),
            None => self.unchanged(UNWRAP, &p, &req, what),
        }
        self.drop_extra(fd, extra);
        Some(())
    }

    /// The UNWRAP of `k`'s blob that must work: a new key, as GETINFO says
    /// `k` is (native) or as asked (RFC 5649), that does what `k` does.
    /// Returns its (algorithm, id, policy asked).
    fn unwrap_right(&mut self, fd: i32, t: &Trip<'_>, blob: &[u8]) -> Option<(u32, u64, KvPolicy)> {
        let Trip {
            w,
            k,
            kinfo,
            format,
        } = *t;
        let native = format == KV_WRAP_NATIVE;
        // RFC 5649: mostly as `k`, sometimes another algorithm of its size
        // or another policy.
        let mut alg = k.alg;
        let mut policy = k.policy;
        if !native && self.rng.chance(20) {
            let algs: Vec<u32> = (1..=9).filter(|&a| fits(a, k.len)).collect();
            alg = self.rng.pick(&algs);
            policy = self.trip_policy(alg);
        }
        let req = self.unwrap_req(w.id, format, blob, alg, policy);
        let id = self
            .must_work(UNWRAP, fd, &req, &WORLD_NEW, "its own blob")?
            .new_key_id;
        if id == 0 || id == k.id {
            self.unexpected(UNWRAP, &format!("made key {id}"), as_bytes(&req));
            return None;
        }
        let info = self.info(fd, id)?;
        let (want_policy, want_exp, want_child) = if native {
            (kinfo.policy, kinfo.expires_ms, kinfo.child)
        } else {
            let usage = if policy.usage == 0 {
                default_usage(alg)
            } else {
                policy.usage
            };
            (KvPolicy { usage, ..policy }, 0, KvChildPolicy::default())
        };
        if info.algorithm != alg
            || info.key_bits as usize != 8 * k.len
            || info.policy != want_policy
            || info.expires_ms != want_exp
            || info.child != want_child
            || info.state != KV_STATE_ACTIVE
            || info.uses != 0
        {
            self.unexpected(
                UNWRAP,
                &format!("made {info:?} from the blob of {kinfo:?}"),
                as_bytes(&req),
            );
            return None;
        }
        if alg == k.alg && self.rng.chance(70) {
            self.twins(fd, alg, k.id, id, UNWRAP);
        }
        Some((alg, id, policy))
    }

    pub fn rt_keyring(&mut self) {
        let payloads: Vec<(i32, Vec<u8>)> = keyring::keys()
            .iter()
            .filter_map(|k| match &k.kind {
                Kind::Payload(p) if (1..=9).any(|a| fits(a, p.len())) => {
                    Some((k.serial, p.clone()))
                }
                _ => None,
            })
            .collect();
        if payloads.is_empty() {
            return;
        }
        let Some(fd) = self.private_fd() else {
            return;
        };
        self.keyring_wrong(fd, &payloads);
        let (serial, bytes) = payloads[self.rng.below(payloads.len() as u64) as usize].clone();
        self.keyring_trip(fd, serial, &bytes);
        self.close_private(fd);
    }

    /// An IMPORT_KEYRING request of `serial` as `alg`.
    fn ring_req(&mut self, serial: i32, alg: u32) -> KvImportKeyring {
        KvImportKeyring {
            algorithm: alg,
            serial,
            ..Default::default()
        }
    }

    /// One IMPORT_KEYRING that must fail, with its errno.
    fn keyring_wrong(&mut self, fd: i32, payloads: &[(i32, Vec<u8>)]) {
        let (serial, bytes) = payloads[self.rng.below(payloads.len() as u64) as usize].clone();
        let good: Vec<u32> = (1..=9).filter(|&a| fits(a, bytes.len())).collect();
        let bad: Vec<u32> = (1..=9).filter(|&a| !fits(a, bytes.len())).collect();
        let (req, want, what) = match self.rng.below(4) {
            0 if !bad.is_empty() => {
                let alg = self.rng.pick(&bad);
                (
                    self.ring_req(serial, alg),
                    vec![Errno::EINVAL],
                    "a payload of another size",
                )
            }
            0 | 1 => {
                let alg = self.rng.pick(&good);
                let mut req = self.ring_req(serial, alg);
                req.policy.flags = KV_POLICY_WRAPPABLE;
                (req, vec![Errno::EPERM], "a wrappable keyring key")
            }
            2 => {
                let others: Vec<i32> = keyring::keys()
                    .iter()
                    .filter(|k| matches!(k.kind, Kind::Revoked | Kind::NoSearch | Kind::Keyring))
                    .map(|k| k.serial)
                    .collect();
                if others.is_empty() {
                    return;
                }
                let s = self.rng.pick(&others);
                let alg = self.rng.pick(&good);
                (
                    self.ring_req(s, alg),
                    keyring::verdict(s, alg).0.to_vec(),
                    "a key of no payload",
                )
            }
            _ => {
                let s = if self.rng.chance(50) {
                    self.rng
                        .pick(&[0, -1, -2, -3, -4, -5, -6, -7, -8, -9, i32::MIN])
                } else {
                    let s = (self.rng.next() as i32).wrapping_abs().max(1);
                    if !keyring::absent(s) {
                        return;
                    }
                    s
                };
                let alg = self.rng.pick(&good);
                let want = match keyring::verdict(s, alg).0 {
                    [] => vec![Errno::EINVAL],
                    w if s > 0 => w[..1].to_vec(),
                    w => w.to_vec(),
                };
                (self.ring_req(s, alg), want, "a serial of no key")
            }
        };
        let p = self.exact(size_of::<KvImportKeyring>());
        let o = self.exec(IMPORT_KEYRING, fd, &req, &p);
        let mut world = want[1..].to_vec();
        world.extend(WORLD);
        let r = o.r;
        self.expect(
            IMPORT_KEYRING,
            r,
            Err(want[0]),
            &world,
            what,
            as_bytes(&req),
        );
        match o.back {
            Some(b) => self.drop_key(fd, b.key_id),
            None => self.unchanged(IMPORT_KEYRING, &p, &req, what),
        }
    }

    /// The keyring key `serial` of payload `bytes` imported, and the same
    /// bytes imported: twins, and the keyring's is not wrappable.
    fn keyring_trip(&mut self, fd: i32, serial: i32, bytes: &[u8]) -> Option<()> {
        let algs: Vec<u32> = (1..=9).filter(|&a| fits(a, bytes.len())).collect();
        let alg = self.rng.pick(&algs);
        let mut req = self.ring_req(serial, alg);
        if self.rng.chance(20) {
            req.policy.flags = KV_POLICY_NO_CALLER_NONCE;
        }
        let what = "a payload of a key size";
        let ring = self
            .must_work(IMPORT_KEYRING, fd, &req, &WORLD_NEW, what)?
            .key_id;
        let info = self.info(fd, ring)?;
        if info.algorithm != alg
            || info.key_bits as usize != 8 * bytes.len()
            || info.policy.flags & KV_POLICY_WRAPPABLE != 0
        {
            self.unexpected(IMPORT_KEYRING, &format!("made {info:?}"), as_bytes(&req));
        }
        let key_ptr = self.a.alloc(bytes.len(), &mut self.rng);
        self.a.write(key_ptr, bytes);
        let imp = KvImport {
            algorithm: alg,
            key_len: bytes.len() as u32,
            key_ptr,
            policy: req.policy,
            ..Default::default()
        };
        let p = self.more(size_of::<KvImport>());
        let twin = self.exec(IMPORT, fd, &imp, &p).back.map(|b| b.key_id);
        if let Some(twin) = twin {
            self.twins(fd, alg, twin, ring, IMPORT_KEYRING);
        }
        if self.rng.chance(30) {
            // Never leaves: WRAP refuses it.
            let w = self.wrapping_on(fd, KV_USAGE_WRAPPING)?;
            let wreq = self.wrap_req(w.id, ring, KV_WRAP_NATIVE, 256);
            let p = self.more(size_of::<KvWrap>());
            let r = self.exec(WRAP, fd, &wreq, &p).r;
            self.expect(
                WRAP,
                r,
                Err(Errno::EPERM),
                &WORLD,
                "a keyring key",
                as_bytes(&wreq),
            );
            self.added_policy(WRAPPING_ALG, w.id, &w.policy);
        }
        self.added_policy(alg, ring, &req.policy);
        if let Some(t) = twin {
            self.added_policy(alg, t, &req.policy);
        }
        Some(())
    }
}
