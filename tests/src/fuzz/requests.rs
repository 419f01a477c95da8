//! The request generators: for each ioctl, a valid-looking request on a
//! key of the right algorithm (or, sometimes, a wrong one), with valid-
//! looking policies, TTLs and data lengths, placed and maybe mutated
//! (mutate.rs), issued and checked (oracle.rs); the pool of keys is kept up
//! to date with what succeeded and failed. Which generator serves which
//! ioctl, and how often, is the table in ioctls.rs.

use super::fields::*;
use super::ioctls::*;
use super::lowest_free_fd;
use super::mem::Extra;
use super::mutate::Plan;
use super::oracle::{Hkdf, Out};
use super::push_capped;
use super::worker::{Blob, Worker, BLOBS_KEPT};
use keyvault::uapi::*;
use nix::errno::Errno;
use std::sync::atomic::Ordering::Relaxed;

impl Worker<'_> {
    /// A valid-looking creation policy for a key of `alg`: mostly none;
    /// sometimes (AES-256-GCM) a wrapping key's, or wrappable.
    pub fn policy(&mut self, alg: u32) -> KvPolicy {
        let wrapping = alg == WRAPPING_ALG && self.rng.chance(15);
        let all = if wrapping {
            KV_USAGE_WRAPPING
        } else {
            default_usage(alg)
        };
        let mut flags = 0;
        if self.rng.chance(8) {
            flags |= KV_POLICY_NO_CALLER_NONCE;
        }
        if self.rng.chance(25) {
            flags |= KV_POLICY_WRAPPABLE;
        }
        KvPolicy {
            usage: match self.rng.below(10) {
                0 => all & self.rng.next() as u32,
                1 => all,
                // Usage 0 is never a wrapping key's.
                _ if wrapping => all,
                _ => 0,
            },
            flags,
            max_uses: if self.rng.chance(10) {
                1 + self.rng.below(64)
            } else {
                0
            },
            max_bytes: if self.rng.chance(5) {
                self.rng.below(1 << 16)
            } else {
                0
            },
        }
    }

    /// A valid-looking TTL: mostly none, sometimes short enough to expire.
    fn ttl(&mut self) -> u64 {
        match self.rng.below(20) {
            0 => 1 + self.rng.below(20),
            1 | 2 => 20 + self.rng.below(3000),
            3 => 1 << 40,
            _ => 0,
        }
    }

    /// A data length for a valid-looking request: mostly small, 1% large.
    fn tlen(&mut self) -> u32 {
        match self.rng.below(1000) {
            0..=9 => {
                let m = self.max_data.min(self.big_cap);
                let big = self.rng.pick(&[m, m.saturating_sub(1), 65536, 262_144]);
                big.min(m)
            }
            // Around the module's on-stack buffer size (kmod/secret.rs INLINE).
            10..=49 => 255 + self.rng.below(3) as u32,
            50..=99 => self.rng.below(4097) as u32,
            _ => self.rng.below(257) as u32,
        }
    }

    /// Counts an op with a large valid data length.
    fn big(&mut self, len: u32) {
        if len >= 65536 {
            self.st.extra(Extra::BigOps);
        }
    }

    /// The start of most requests: an fd (a vault's own `root_percent`% of
    /// the time), a key of one of `algs` (or a wrong one) and the placement
    /// of a `T`.
    fn start<T>(&mut self, root_percent: u64, algs: &[u32]) -> (i32, u64, u32, Plan) {
        let fd = self.pick_fd(root_percent);
        let (id, alg) = self.key(algs);
        (fd, id, alg, self.plan(size_of::<T>()))
    }

    pub fn op_getcaps(&mut self) {
        let fd = self.pick_fd(30);
        let p = self.plan(size_of::<KvCaps>());
        let o = self.exec(GETCAPS, fd, &KvCaps::default(), &p);
        self.check_getcaps(&o);
    }

    pub fn op_limits(&mut self) {
        let fd = self.pick_fd(30);
        let p = self.plan(size_of::<KvLimits>());
        let o = self.exec(LIMITS, fd, &KvLimits::default(), &p);
        self.check_limits(&o);
    }

    pub fn op_restrict(&mut self) {
        // Rarely on a vault's own fd (rotations restore those).
        let fd = if self.w.child && self.rng.chance(75) {
            // The child's own vault; received fds may share the parent's
            // open file descriptions, restricted for both.
            let own = self.w.groups.len() - 1;
            self.group = own;
            let slots = &self.w.groups[own].slots;
            slots[self.rng.below(slots.len() as u64) as usize].load(Relaxed)
        } else if self.rng.chance(5) || self.w.child {
            self.pick_fd(30)
        } else {
            self.pick_fd(0)
        };
        let keep = if self.rng.chance(60) {
            KV_CAP_ALL & !(1 << self.rng.below(NCAPS))
        } else {
            self.rng.next() as u32 & KV_CAP_ALL
        };
        let p = self.plan(size_of::<KvCaps>());
        let req = KvCaps {
            caps: keep,
            reserved: 0,
        };
        let o = self.exec(RESTRICT, fd, &req, &p);
        self.check_restrict(&o);
    }

    /// DUP, with the fd lock held so the new fd's number is known: a DUP
    /// that fails (whatever the errno) must leave no new fd behind.
    pub fn op_dup(&mut self) {
        let w = self.w;
        let _l = w.fd_lock.lock().unwrap();
        let fd = self.pick_fd(30);
        let g = self.group;
        let mut ids = Vec::new();
        let caps = if self.rng.chance(40) {
            for _ in 0..1 + self.rng.below(5) {
                if let Some((id, _)) = self.good_key(&ALL_ALGS) {
                    ids.push(id);
                }
            }
            if self.rng.chance(10) {
                ids.push(self.wild_key());
            }
            (self.rng.next() as u32 | KV_CAP_READONLY) & KV_CAP_ALL & !MAKES_KEYS
        } else {
            match self.rng.below(10) {
                0..=3 => KV_CAP_ALL,
                4..=6 => KV_CAP_ALL & !(1 << self.rng.below(NCAPS)),
                _ => self.rng.next() as u32 & KV_CAP_ALL,
            }
        };
        // Placed after the keys are chosen (making a key lays out requests).
        let p = self.plan(size_of::<KvDup>());
        let keys_ptr = if ids.is_empty() {
            0
        } else {
            let p = self.a.alloc(8 * ids.len(), &mut self.rng);
            let raw: Vec<u8> = ids.iter().flat_map(|i| i.to_ne_bytes()).collect();
            self.a.write(p, &raw);
            p
        };
        let req = KvDup {
            caps,
            nkeys: ids.len() as u32,
            keys_ptr,
            ..Default::default()
        };
        let probe = lowest_free_fd();
        let o = self.exec(DUP, fd, &req, &p);
        if let Some(new) = self.check_dup(&o, probe) {
            let nslots = w.groups[g].slots.len() as u64;
            let slot = 1 + self.rng.below(nslots - 1) as usize;
            w.install(g, slot, new);
        }
    }

    pub fn op_genkey(&mut self) {
        let fd = self.pick_fd(50);
        let alg = 1 + self.rng.below(9) as u32;
        let (min, max, _) = key_sizes(alg);
        let key_bits = match self.rng.below(4) {
            0 | 1 => 0,
            _ => 8 * (min + self.rng.below(u64::from(max - min) + 1) as u32),
        };
        let req = KvGenkey {
            algorithm: alg,
            key_bits,
            ttl_ms: self.ttl(),
            policy: self.policy(alg),
            ..Default::default()
        };
        let p = self.plan(size_of::<KvGenkey>());
        let o = self.exec(GENKEY, fd, &req, &p);
        if let Some((alg, new)) = self.check_genkey(&o) {
            self.added_policy(alg, new, &o.input.policy);
        } else if o.r == Err(Errno::EDQUOT) {
            self.maybe_rotate(5);
        }
    }

    pub fn op_import(&mut self) {
        let fd = self.pick_fd(50);
        let alg = 1 + self.rng.below(9) as u32;
        let (min, max, _) = key_sizes(alg);
        let key_len = min + self.rng.below(u64::from(max - min) + 1) as u32;
        let p = self.plan(size_of::<KvImport>());
        let key_ptr = self.data(key_len);
        let req = KvImport {
            algorithm: alg,
            key_len,
            key_ptr,
            ttl_ms: self.ttl(),
            policy: self.policy(alg),
            ..Default::default()
        };
        let o = self.exec(IMPORT, fd, &req, &p);
        if let Some((alg, new)) = self.check_import(&o) {
            self.added_policy(alg, new, &o.input.policy);
        } else if o.r == Err(Errno::EDQUOT) {
            self.maybe_rotate(5);
        }
    }

    pub fn op_keyref(&mut self, op: usize) {
        let (fd, id, _, p) = self.start::<KvKeyref>(50, &ALL_ALGS);
        let req = KvKeyref {
            key_id: id,
            reserved: 0,
        };
        let o = self.exec(op, fd, &req, &p);
        match o.r {
            Ok(()) => {
                let id = o.input.key_id;
                self.w
                    .pool
                    .lock()
                    .unwrap()
                    .remove(id, op == DESTROY, &mut self.rng);
            }
            r => self.key_failed(id, r),
        }
    }

    pub fn op_getinfo(&mut self) {
        let (fd, id, _, p) = self.start::<KvKeyinfo>(30, &ALL_ALGS);
        let req = KvKeyinfo {
            key_id: id,
            ..Default::default()
        };
        let o = self.exec(GETINFO, fd, &req, &p);
        if let Some(b) = o.back {
            self.check_getinfo(&o.input, &b);
        } else {
            self.key_failed(id, o.r);
        }
    }

    pub fn op_list(&mut self) {
        let fd = self.pick_fd(40);
        let max_ids = match self.rng.below(6) {
            0 => 0,
            1 => 1,
            2 => 1024,
            _ => self.rng.below(64) as u32,
        };
        let cursor = if self.rng.chance(40) {
            0
        } else {
            self.wild_key()
        };
        let p = self.plan(size_of::<KvList>());
        let n = max_ids.min(KV_LIST_MAX) as usize;
        let ids_ptr = self.a.alloc(8 * n, &mut self.rng);
        let req = KvList {
            ids_ptr,
            max_ids,
            cursor,
            ..Default::default()
        };
        let o = self.exec(LIST, fd, &req, &p);
        self.check_list(&o, p.loc.addr());
    }

    pub fn op_aead(&mut self, op: usize) {
        let (fd, id, _, p) = self.start::<KvAead>(50, &AEAD_ALGS);
        let len = self.tlen();
        self.big(len);
        let aad_len = if self.rng.chance(80) {
            self.rng.below(64) as u32
        } else {
            self.tlen()
        };
        let in_ptr = self.data(len);
        let out_ptr = if self.rng.chance(15) {
            in_ptr
        } else {
            self.a.alloc(len as usize, &mut self.rng)
        };
        let aad_ptr = self.data(aad_len);
        let nonce_ptr = self.data(12);
        let tag_ptr = self.data(16);
        let gen = op == AEAD_ENC && self.rng.chance(50);
        let req = KvAead {
            key_id: id,
            in_ptr,
            out_ptr,
            aad_ptr,
            nonce_ptr,
            tag_ptr,
            in_len: len,
            out_len: if self.rng.chance(80) {
                len
            } else {
                len + self.rng.below(64) as u32
            },
            aad_len,
            flags: if gen { KV_AEAD_GEN_NONCE } else { 0 },
            reserved: [0; 2],
        };
        let o = self.exec(op, fd, &req, &p);
        self.check_aead(op, &o, &p);
        if o.back.is_none() {
            self.key_failed(id, o.r);
        }
    }

    pub fn op_cbc(&mut self, op: usize) {
        let (fd, id, _, p) = self.start::<KvCbc>(50, &CBC_ALGS);
        let mut len = self.tlen();
        let mut flags = 0;
        if self.rng.chance(30) {
            flags |= KV_CBC_NO_PADDING;
            len &= !15;
        }
        if op == CBC_DEC {
            len = (len & !15).max(16);
        } else if self.rng.chance(50) {
            flags |= KV_CBC_GEN_IV;
        }
        self.big(len);
        let need = if op == CBC_ENC && flags & KV_CBC_NO_PADDING == 0 {
            (len / 16 + 1) * 16
        } else {
            len
        };
        let in_ptr = self.data(len);
        let out_ptr = if self.rng.chance(15) {
            in_ptr
        } else {
            self.a.alloc(need as usize, &mut self.rng)
        };
        let iv_ptr = self.data(16);
        let req = KvCbc {
            key_id: id,
            in_ptr,
            out_ptr,
            iv_ptr,
            in_len: len,
            out_len: need,
            flags,
            ..Default::default()
        };
        let o = self.exec(op, fd, &req, &p);
        self.check_cbc(op, &o);
        if o.back.is_none() {
            self.key_failed(id, o.r);
        }
    }

    pub fn op_mac(&mut self, op: usize) {
        let (fd, id, alg, p) = self.start::<KvMac>(50, &HMAC_ALGS);
        let len = self.tlen();
        self.big(len);
        let data_ptr = self.data(len);
        let full: u32 = if alg == KV_ALG_HMAC_SHA256 { 32 } else { 64 };
        let mac_len = if op == MAC {
            64
        } else {
            16 + self.rng.below(u64::from(full) - 15) as u32
        };
        let mac_ptr = self.data(64);
        let req = KvMac {
            key_id: id,
            data_ptr,
            mac_ptr,
            data_len: len,
            mac_len,
            reserved: [0; 2],
        };
        let o = self.exec(op, fd, &req, &p);
        self.check_mac(op, &o, &p);
        if o.r.is_err() {
            self.key_failed(id, o.r);
        }
    }

    pub fn op_hash(&mut self) {
        let fd = self.pick_fd(30);
        let p = self.plan(size_of::<KvHash>());
        let len = self.tlen();
        self.big(len);
        let data_ptr = self.data(len);
        let digest_ptr = self.a.alloc(64, &mut self.rng);
        let req = KvHash {
            algorithm: 1 + self.rng.below(2) as u32,
            data_len: len,
            data_ptr,
            digest_ptr,
            digest_len: 64,
            ..Default::default()
        };
        let o = self.exec(HASH, fd, &req, &p);
        self.check_hash(&o);
    }

    pub fn op_sign(&mut self) {
        let (fd, id, _, p) = self.start::<KvSign>(50, &[KV_ALG_ED25519]);
        let len = self.tlen();
        self.big(len);
        let data_ptr = self.data(len);
        let sig_ptr = self.a.alloc(64, &mut self.rng);
        let req = KvSign {
            key_id: id,
            data_ptr,
            sig_ptr,
            data_len: len,
            sig_len: 64,
            reserved: [0; 2],
        };
        let o = self.exec(SIGN, fd, &req, &p);
        self.check_sign(&o);
        if o.back.is_none() {
            self.key_failed(id, o.r);
        }
    }

    pub fn op_verify(&mut self) {
        let fd = self.pick_fd(50);
        let by_id = self.rng.chance(50);
        let (id, _) = if by_id {
            self.key(&[KV_ALG_ED25519])
        } else {
            (0, 0)
        };
        let p = self.plan(size_of::<KvVerify>());
        let pubkey_ptr = if by_id {
            0
        } else {
            let pk = self.a.alloc(32, &mut self.rng);
            let known = {
                let pool = self.w.pool.lock().unwrap();
                (!pool.ed_pub.is_empty())
                    .then(|| pool.ed_pub[self.rng.below(pool.ed_pub.len() as u64) as usize])
            };
            match known {
                Some(k) if self.rng.chance(80) => self.a.write(pk, &k),
                _ => self.a.randomize(pk, 32, &mut self.rng),
            }
            pk
        };
        let len = self.tlen();
        self.big(len);
        let data_ptr = self.data(len);
        let req = KvVerify {
            key_id: id,
            pubkey_ptr,
            data_ptr,
            sig_ptr: self.data(64),
            data_len: len,
            ..Default::default()
        };
        let o = self.exec(VERIFY, fd, &req, &p);
        self.check_verify(&o, &p);
        if by_id {
            self.key_failed(id, o.r);
        }
    }

    pub fn op_pubkey(&mut self) {
        let (fd, id, alg, p) = self.start::<KvPubkey>(40, &[KV_ALG_ED25519, KV_ALG_X25519]);
        let pubkey_ptr = self.a.alloc(32, &mut self.rng);
        let req = KvPubkey {
            key_id: id,
            pubkey_ptr,
            pubkey_len: 32,
            ..Default::default()
        };
        let o = self.exec(GET_PUBKEY, fd, &req, &p);
        if let Some(b) = o.back {
            if self.check_pubkey(&o.input, &b) && !o.wild && !p.mutate && alg != 0 {
                self.remember_pub(alg, pubkey_ptr);
            }
        } else {
            self.key_failed(id, o.r);
        }
    }

    /// A valid-looking KDF: HKDF parameters of a new key.
    fn kdf(&mut self) -> KvKdf {
        let alg = if self.rng.chance(5) {
            self.rng.pick(&[KV_ALG_ED25519, KV_ALG_X25519])
        } else {
            1 + self.rng.below(7) as u32
        };
        let salt_len = self.rng.pick(&[0, 4, 16, 32, 1024]);
        let info_len = self.rng.pick(&[0, 8, 32, 1024]);
        KvKdf {
            hash: 1 + self.rng.below(2) as u32,
            algorithm: alg,
            key_bits: 0,
            salt_len,
            salt_ptr: self.data(salt_len),
            info_ptr: self.data(info_len),
            info_len,
            reserved0: 0,
            ttl_ms: self.ttl(),
            policy: self.policy(alg),
        }
    }

    /// Keeps the key a DERIVE or KEYEXCHANGE (`op`) made from key `id`, or
    /// updates the pool for `id` if it failed.
    fn hkdf_result<T: Hkdf>(&mut self, op: usize, id: u64, o: &Out<T>) {
        match self.check_new_key(op, o) {
            Some((alg, new)) => self.added_policy(alg, new, &o.input.kdf().policy),
            None if o.back.is_none() => self.key_failed(id, o.r),
            None => {}
        }
    }

    pub fn op_derive(&mut self) {
        let (fd, id, _, p) = self.start::<KvDerive>(50, &HMAC_ALGS);
        let req = KvDerive {
            key_id: id,
            kdf: self.kdf(),
            ..Default::default()
        };
        let o = self.exec(DERIVE, fd, &req, &p);
        self.hkdf_result(DERIVE, id, &o);
        if o.r == Err(Errno::EDQUOT) {
            self.maybe_rotate(5);
        }
    }

    pub fn op_exchange(&mut self) {
        let (fd, id, _, p) = self.start::<KvExchange>(50, &[KV_ALG_X25519]);
        let peer_ptr = self.a.alloc(32, &mut self.rng);
        let known = {
            let pool = self.w.pool.lock().unwrap();
            (!pool.x_pub.is_empty())
                .then(|| pool.x_pub[self.rng.below(pool.x_pub.len() as u64) as usize])
        };
        match (known, self.rng.below(10)) {
            (Some(k), 0..=6) => self.a.write(peer_ptr, &k),
            (_, 7) => {
                // Low-order points: u = 0, u = 1 (all-zero shared secret).
                let mut k = [0u8; 32];
                k[0] = self.rng.below(2) as u8;
                self.a.write(peer_ptr, &k);
            }
            _ => self.a.randomize(peer_ptr, 32, &mut self.rng),
        }
        let req = KvExchange {
            key_id: id,
            peer_ptr,
            kdf: self.kdf(),
            ..Default::default()
        };
        let o = self.exec(EXCHANGE, fd, &req, &p);
        self.hkdf_result(EXCHANGE, id, &o);
    }

    pub fn op_import_keyring(&mut self) {
        let fd = self.pick_fd(50);
        let (serial, alg) = self.ring_serial();
        let mut policy = self.policy(alg);
        if !self.rng.chance(5) {
            policy.flags &= !KV_POLICY_WRAPPABLE;
        }
        let req = KvImportKeyring {
            algorithm: alg,
            serial,
            ttl_ms: self.ttl(),
            policy,
            ..Default::default()
        };
        let p = self.plan(size_of::<KvImportKeyring>());
        let o = self.exec(IMPORT_KEYRING, fd, &req, &p);
        if let Some((alg, new)) = self.check_import_keyring(&o) {
            self.added_policy(alg, new, &o.input.policy);
        } else if o.r == Err(Errno::EDQUOT) {
            self.maybe_rotate(5);
        }
    }

    /// A blob's capacity: mostly room for any key's blob, sometimes less
    /// than `need`.
    fn blob_room(&mut self, need: usize) -> u32 {
        if self.rng.chance(10) {
            self.rng.below(need as u64) as u32
        } else {
            KV_WRAP_OVERHEAD + KV_MAX_KEY_BYTES
        }
    }

    pub fn op_wrap(&mut self) {
        let fd = self.pick_fd(50);
        let wrapping = self.wrapping_key();
        let (key, alg) = if self.rng.chance(5) {
            (wrapping, WRAPPING_ALG)
        } else {
            self.wrappable_key()
        };
        let format = if self.rng.chance(4) {
            2 + self.rng.below(3) as u32
        } else {
            self.rng.below(2) as u32
        };
        let need = blob_len(format.min(1), key_sizes(alg).0 as usize);
        let room = self.blob_room(need);
        let p = self.plan(size_of::<KvWrap>());
        let blob_ptr = self.a.alloc(room as usize, &mut self.rng);
        let req = KvWrap {
            wrapping_key_id: wrapping,
            key_id: key,
            blob_ptr,
            blob_len: room,
            format,
            reserved: [0; 2],
        };
        let o = self.exec(WRAP, fd, &req, &p);
        match self.check_wrap(&o) {
            Some(bytes) if !p.mutate && !o.wild && alg != 0 => self.keep_blob(Blob {
                group: self.group,
                wrapping,
                format,
                alg,
                bytes,
            }),
            Some(_) => {}
            None => {
                self.key_failed(wrapping, o.r);
                self.key_failed(key, o.r);
            }
        }
    }

    /// Keeps a blob for UNWRAP.
    pub fn keep_blob(&mut self, b: Blob) {
        push_capped(&mut self.blobs, b, BLOBS_KEPT, &mut self.rng);
    }

    /// A blob of the current group for UNWRAP: one this worker kept, maybe
    /// broken (bit flip, truncated, extended, another wrapping key, another
    /// format), or random bytes. Returns it and whether it was broken.
    fn unwrap_blob(&mut self) -> (Blob, bool) {
        let g = self.group;
        let mine: Vec<usize> = (0..self.blobs.len())
            .filter(|&i| self.blobs[i].group == g)
            .collect();
        if mine.is_empty() || self.rng.chance(10) {
            let len = self.rng.pick(&[0, 7, 8, 16, 24, 40, 92, 108, 140, 4096]);
            let mut bytes = vec![0u8; len];
            self.rng.fill(&mut bytes);
            let b = Blob {
                group: g,
                wrapping: self.wrapping_key(),
                format: self.rng.below(2) as u32,
                alg: 1 + self.rng.below(9) as u32,
                bytes,
            };
            return (b, len > 0);
        }
        let mut b = self.blobs[self.rng.pick(&mine)].clone();
        let n = b.bytes.len();
        let broken = match self.rng.below(12) {
            0 => {
                let i = self.rng.below(n as u64) as usize;
                b.bytes[i] ^= 1 << self.rng.below(8);
                true
            }
            1 => {
                b.bytes.truncate(self.rng.below(n as u64) as usize);
                true
            }
            2 => {
                let mut more = vec![0u8; 1 + self.rng.below(24) as usize];
                self.rng.fill(&mut more);
                b.bytes.extend(more);
                true
            }
            3 => {
                // Another wrapping key: maybe the same material (a twin
                // by UNWRAP or DERIVE), so not "broken" for sure.
                b.wrapping = self.wrapping_key();
                false
            }
            4 => {
                b.format ^= 1;
                false
            }
            _ => false,
        };
        (b, broken)
    }

    pub fn op_unwrap(&mut self) {
        let fd = self.pick_fd(50);
        let (b, broken) = self.unwrap_blob();
        let native = b.format == KV_WRAP_NATIVE;
        let mut req = KvUnwrap {
            wrapping_key_id: b.wrapping,
            blob_len: b.bytes.len() as u32,
            format: if self.rng.chance(3) {
                2 + self.rng.below(3) as u32
            } else {
                b.format
            },
            ..Default::default()
        };
        if !native || self.rng.chance(8) {
            // RFC 5649: the new key's algorithm, policy and TTL (native:
            // not allowed).
            req.algorithm = if self.rng.chance(85) {
                b.alg
            } else {
                1 + self.rng.below(9) as u32
            };
            req.ttl_ms = self.ttl();
            req.policy = self.policy(req.algorithm);
        }
        if self.rng.chance(3) {
            req.blob_len = self.rng.pick(&[KV_WRAP_MAX_BLOB + 1, 65536, u32::MAX]);
        }
        let p = self.plan(size_of::<KvUnwrap>());
        let room = b.bytes.len().max(KV_WRAP_MAX_BLOB as usize + 1);
        req.blob_ptr = self.a.alloc(room, &mut self.rng);
        self.a.write(req.blob_ptr, &b.bytes);
        let o = self.exec(UNWRAP, fd, &req, &p);
        let may_open = !broken || p.mutate || o.wild;
        if let Some((alg, new, policy)) = self.check_unwrap(&o, &b.bytes, may_open) {
            self.added_policy(alg, new, &policy);
        } else if o.r == Err(Errno::EDQUOT) {
            self.maybe_rotate(5);
        } else if o.back.is_none() {
            self.key_failed(b.wrapping, o.r);
        }
    }

    /// A command number with the keyvault magic that is none of the ABI's:
    /// wrong size, wrong direction, unused number.
    pub fn op_unknown(&mut self) {
        let fd = self.pick_fd(30);
        let cmd = loop {
            let known = self.rng.pick(KV_IOCTLS);
            let dir = self.rng.below(4) as u32;
            let size = match self.rng.below(4) {
                0 => self.rng.below(0x4000) as u32,
                1 => {
                    (known.size() as u32)
                        .wrapping_add(self.rng.below(17) as u32)
                        .wrapping_sub(8)
                        & 0x3fff
                }
                2 => known.size() as u32,
                _ => 0,
            };
            let nr = match self.rng.below(3) {
                0 => known.nr(),
                _ => self.rng.below(256) as u32,
            };
            let c = (dir << 30) | (size << 16) | (KV_IOC_MAGIC << 8) | nr;
            if KvIoctl::find(c).is_none() {
                break c;
            }
        };
        let arg = if self.rng.chance(50) {
            self.a.rw + self.rng.below(65536)
        } else {
            self.wild_ptr(
                0,
                &[0; 8],
                &[F {
                    off: 0,
                    size: 8,
                    k: K::Ptr,
                }],
            )
        };
        let r = self.call(UNKNOWN, fd, cmd, arg, &cmd.to_ne_bytes());
        self.check_unknown(r, cmd);
    }
}
