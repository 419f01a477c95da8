//! Round trips: valid requests whose results are checked against each
//! other and against the host (sha2, ed25519-dalek). What is sealed opens,
//! with the plaintext back; a tampered tag, MAC or signature is refused and
//! writes nothing; a too-small output buffer fails with ENOSPC, the needed
//! size written back and nothing else; the two sides of an exchange and two
//! identical derivations get the same key. Output buffers carry canaries on
//! both sides: a write past them is reported.

use super::fields::*;
use super::ioctls::*;
use super::mem::Extra;
use super::mutate::Plan;
use super::oracle::Out;
use super::worker::{as_bytes, Worker};
use keyvault::uapi::*;
use nix::errno::Errno;
use std::mem::offset_of;

impl Worker<'_> {
    /// An output buffer with 32-byte canaries on both sides.
    pub fn guarded(&mut self, len: usize) -> u64 {
        let base = self.a.alloc(len + 64, &mut self.rng);
        self.a.set(base, len + 64, 0xa5);
        base + 32
    }

    /// Checks that nothing was written around a [`Self::guarded`] buffer.
    pub fn check_guard(&mut self, op: usize, p: u64, len: usize) {
        self.st.extra(Extra::Canaries);
        let before = self.a.read(p - 32, 32);
        let after = self.a.read(p + len as u64, 32);
        if before.iter().chain(&after).any(|&b| b != 0xa5) {
            self.unexpected(
                op,
                &format!("wrote outside its {len}-byte output buffer"),
                &[],
            );
        }
    }

    pub fn is_untouched(&self, p: u64, len: usize) -> bool {
        self.a.read(p, len).iter().all(|&b| b == 0xa5)
    }

    /// A clean placement of a `T`, fewer than `below` random bytes of input
    /// and a guarded 64-byte output buffer: (placement, length, input, output).
    fn data_in_64_out<T>(&mut self, below: u64) -> (Plan, u32, u64, u64) {
        let p = self.exact(size_of::<T>());
        let len = self.rng.below(below) as u32;
        let data = self.data(len);
        (p, len, data, self.guarded(64))
    }

    /// One round trip of a random kind.
    pub fn roundtrip(&mut self) {
        self.st.extra(Extra::RoundTrips);
        match self.rng.below(10) {
            8 => self.rt_wrap(),
            9 => self.rt_keyring(),
            0 => self.rt_aead(),
            1 => self.rt_cbc(),
            2 => self.rt_mac(),
            3 => self.rt_sign(),
            4 => self.rt_hash(),
            5 => self.rt_capacity(),
            6 => self.rt_exchange(),
            _ => self.rt_derive(),
        }
    }

    /// Counts a check that a round trip got to make.
    pub fn checked(&mut self) {
        self.st.extra(Extra::RoundTripChecks);
    }

    fn rt_aead(&mut self) {
        let fd = self.pick_fd(70);
        let Some((id, _)) = self.good_key(&AEAD_ALGS) else {
            return;
        };
        let p = self.exact(size_of::<KvAead>());
        let len = self.rng.below(300) as u32;
        let aad_len = self.rng.below(40) as u32;
        let pt = self.data(len);
        let aad = self.data(aad_len);
        let ct = self.guarded(len as usize);
        let tag = self.guarded(16);
        let nonce = self.guarded(12);
        self.a.randomize(nonce, 12, &mut self.rng);
        let gen = self.rng.chance(50);
        let mut req = KvAead {
            key_id: id,
            in_ptr: pt,
            out_ptr: ct,
            aad_ptr: aad,
            nonce_ptr: nonce,
            tag_ptr: tag,
            in_len: len,
            out_len: len,
            aad_len,
            flags: if gen { KV_AEAD_GEN_NONCE } else { 0 },
            reserved: [0; 2],
        };
        let o = self.exec(AEAD_ENC, fd, &req, &p);
        self.check_guard(AEAD_ENC, ct, len as usize);
        self.check_guard(AEAD_ENC, tag, 16);
        self.check_guard(AEAD_ENC, nonce, 12);
        if o.r.is_err() {
            self.key_failed(id, o.r);
            return;
        }
        let plain = self.a.read(pt, len as usize);
        if len >= 16 && self.a.read(ct, len as usize) == plain {
            self.unexpected(AEAD_ENC, "the ciphertext is the plaintext", as_bytes(&req));
        }
        let out = self.guarded(len as usize);
        req.in_ptr = ct;
        req.out_ptr = out;
        req.flags = 0;
        let p2 = self.more(size_of::<KvAead>());
        let o = self.exec(AEAD_DEC, fd, &req, &p2);
        self.check_guard(AEAD_DEC, out, len as usize);
        match o.r {
            Ok(()) => {
                self.checked();
                if self.a.read(out, len as usize) != plain {
                    self.unexpected(AEAD_DEC, "did not give the plaintext back", as_bytes(&req));
                }
            }
            Err(Errno::EBADMSG) => {
                self.unexpected(AEAD_DEC, "refused its own ciphertext", as_bytes(&req));
            }
            Err(_) => return,
        }
        // A tampered tag: refused, and nothing written.
        let mut t = self.a.read(tag, 16);
        t[self.rng.below(16) as usize] ^= 1 << self.rng.below(8);
        self.a.write(tag, &t);
        self.a.set(out, len as usize, 0xa5);
        let p3 = self.more(size_of::<KvAead>());
        let o = self.exec(AEAD_DEC, fd, &req, &p3);
        self.checked();
        if o.r.is_ok() {
            self.unexpected(AEAD_DEC, "accepted a tampered tag", as_bytes(&req));
        } else if !self.is_untouched(out, len as usize) {
            self.unexpected(
                AEAD_DEC,
                "wrote plaintext although the tag was wrong",
                as_bytes(&req),
            );
        }
    }

    fn rt_cbc(&mut self) {
        let fd = self.pick_fd(70);
        let Some((id, _)) = self.good_key(&CBC_ALGS) else {
            return;
        };
        let p = self.exact(size_of::<KvCbc>());
        let nopad = self.rng.chance(30);
        let mut len = self.rng.below(300) as u32;
        if nopad {
            len &= !15;
        }
        let need = if nopad { len } else { (len / 16 + 1) * 16 };
        let pt = self.data(len);
        let ct = self.guarded(need as usize);
        let iv = self.guarded(16);
        self.a.randomize(iv, 16, &mut self.rng);
        let mut flags = if nopad { KV_CBC_NO_PADDING } else { 0 };
        if self.rng.chance(50) {
            flags |= KV_CBC_GEN_IV;
        }
        let mut req = KvCbc {
            key_id: id,
            in_ptr: pt,
            out_ptr: ct,
            iv_ptr: iv,
            in_len: len,
            out_len: need,
            flags,
            ..Default::default()
        };
        let o = self.exec(CBC_ENC, fd, &req, &p);
        self.check_guard(CBC_ENC, ct, need as usize);
        self.check_guard(CBC_ENC, iv, 16);
        if o.r.is_err() || need == 0 {
            self.key_failed(id, o.r);
            return;
        }
        let out = self.guarded(need as usize);
        req.in_ptr = ct;
        req.out_ptr = out;
        req.in_len = need;
        req.out_len = need;
        req.flags &= KV_CBC_NO_PADDING;
        let p2 = self.more(size_of::<KvCbc>());
        let o = self.exec(CBC_DEC, fd, &req, &p2);
        self.check_guard(CBC_DEC, out, need as usize);
        match (o.r, o.back) {
            (Ok(()), Some(b)) => {
                self.checked();
                if b.out_len != len
                    || self.a.read(out, len as usize) != self.a.read(pt, len as usize)
                {
                    self.unexpected(CBC_DEC, "did not give the plaintext back", as_bytes(&req));
                }
            }
            (Err(Errno::EBADMSG), _) => {
                self.unexpected(
                    CBC_DEC,
                    "refused its own ciphertext's padding",
                    as_bytes(&req),
                );
            }
            _ => {}
        }
    }

    fn rt_mac(&mut self) {
        let fd = self.pick_fd(70);
        let Some((id, alg)) = self.good_key(&HMAC_ALGS) else {
            return;
        };
        let full: u32 = if alg == KV_ALG_HMAC_SHA256 { 32 } else { 64 };
        let (p, len, data, mac) = self.data_in_64_out::<KvMac>(600);
        let mut req = KvMac {
            key_id: id,
            data_ptr: data,
            mac_ptr: mac,
            data_len: len,
            mac_len: 64,
            reserved: [0; 2],
        };
        let o = self.exec(MAC, fd, &req, &p);
        self.check_guard(MAC, mac, 64);
        let Some(b) = o.back else {
            self.key_failed(id, o.r);
            return;
        };
        if b.mac_len != full
            || !self
                .a
                .read(mac + u64::from(full), 64 - full as usize)
                .iter()
                .all(|&x| x == 0xa5)
        {
            self.unexpected(
                MAC,
                &format!(
                    "mac_len {} (or more bytes written) for a {full}-byte MAC",
                    b.mac_len
                ),
                as_bytes(&req),
            );
            return;
        }
        req.mac_len = if self.rng.chance(50) {
            full
        } else {
            16 + self.rng.below(u64::from(full) - 15) as u32
        };
        let p2 = self.more(size_of::<KvMac>());
        let o = self.exec(VERIFY_MAC, fd, &req, &p2);
        match o.r {
            Ok(()) => self.checked(),
            Err(Errno::EBADMSG) => {
                self.unexpected(VERIFY_MAC, "refused the key's own MAC", as_bytes(&req));
                return;
            }
            Err(_) => return,
        }
        let mut m = self.a.read(mac, 64);
        m[self.rng.below(u64::from(req.mac_len)) as usize] ^= 1 << self.rng.below(8);
        self.a.write(mac, &m);
        let p3 = self.more(size_of::<KvMac>());
        let o = self.exec(VERIFY_MAC, fd, &req, &p3);
        self.checked();
        if o.r.is_ok() {
            self.unexpected(VERIFY_MAC, "accepted a tampered MAC", as_bytes(&req));
        }
    }

    fn rt_sign(&mut self) {
        let fd = self.pick_fd(70);
        let Some((id, _)) = self.good_key(&[KV_ALG_ED25519]) else {
            return;
        };
        let (p, len, data, sig) = self.data_in_64_out::<KvSign>(300);
        let req = KvSign {
            key_id: id,
            data_ptr: data,
            sig_ptr: sig,
            data_len: len,
            sig_len: 64,
            ..Default::default()
        };
        let o = self.exec(SIGN, fd, &req, &p);
        self.check_guard(SIGN, sig, 64);
        if o.r.is_err() {
            self.key_failed(id, o.r);
            return;
        }
        let mut v = KvVerify {
            key_id: id,
            data_ptr: data,
            sig_ptr: sig,
            data_len: len,
            ..Default::default()
        };
        let p2 = self.more(size_of::<KvVerify>());
        if self.exec(VERIFY, fd, &v, &p2).r == Err(Errno::EBADMSG) {
            self.unexpected(VERIFY, "refused the key's own signature", as_bytes(&v));
        }
        let pk = self.guarded(32);
        let g = KvPubkey {
            key_id: id,
            pubkey_ptr: pk,
            pubkey_len: 32,
            ..Default::default()
        };
        let p3 = self.more(size_of::<KvPubkey>());
        let o = self.exec(GET_PUBKEY, fd, &g, &p3);
        self.check_guard(GET_PUBKEY, pk, 32);
        if o.r.is_err() {
            return;
        }
        self.remember_pub(KV_ALG_ED25519, pk);
        v.key_id = 0;
        v.pubkey_ptr = pk;
        let p4 = self.more(size_of::<KvVerify>());
        match self.exec(VERIFY, fd, &v, &p4).r {
            Ok(()) => self.checked(),
            Err(Errno::EBADMSG) => self.unexpected(
                VERIFY,
                "refused a signature under the key's own public key",
                as_bytes(&v),
            ),
            Err(_) => {}
        }
        if self.rng.chance(10) {
            // The signature is a real Ed25519 signature (RFC 8032, strict).
            self.st.extra(Extra::HostChecks);
            let pkb: [u8; 32] = self.a.read(pk, 32).try_into().unwrap();
            let sb: [u8; 64] = self.a.read(sig, 64).try_into().unwrap();
            let msg = self.a.read(data, len as usize);
            let ok = ed25519_dalek::VerifyingKey::from_bytes(&pkb)
                .and_then(|k| k.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sb)))
                .is_ok();
            if !ok {
                self.unexpected(SIGN, "ed25519-dalek rejects the signature", as_bytes(&req));
            }
        }
        let mut s = self.a.read(sig, 64);
        s[self.rng.below(64) as usize] ^= 1 << self.rng.below(8);
        self.a.write(sig, &s);
        let p5 = self.more(size_of::<KvVerify>());
        if self.exec(VERIFY, fd, &v, &p5).r.is_ok() {
            self.unexpected(VERIFY, "accepted a tampered signature", as_bytes(&v));
        }
        self.checked();
    }

    fn rt_hash(&mut self) {
        use sha2::Digest;
        let fd = self.pick_fd(50);
        let (p, len, data, digest) = self.data_in_64_out::<KvHash>(2000);
        let req = KvHash {
            algorithm: 1 + self.rng.below(2) as u32,
            data_len: len,
            data_ptr: data,
            digest_ptr: digest,
            digest_len: 64,
            reserved0: 0,
            reserved: [0; 2],
        };
        let o = self.exec(HASH, fd, &req, &p);
        self.check_guard(HASH, digest, 64);
        let Some(b) = o.back else { return };
        let msg = self.a.read(data, len as usize);
        let want: Vec<u8> = if req.algorithm == KV_HASH_SHA256 {
            sha2::Sha256::digest(&msg).to_vec()
        } else {
            sha2::Sha512::digest(&msg).to_vec()
        };
        self.st.extra(Extra::HostChecks);
        self.checked();
        if b.digest_len as usize != want.len() || self.a.read(digest, want.len()) != want {
            self.unexpected(HASH, "the digest differs from sha2's", as_bytes(&req));
        }
    }

    /// Too-small output buffers: ENOSPC with the needed size written back,
    /// and nothing written to the buffer.
    fn rt_capacity(&mut self) {
        let fd = self.pick_fd(70);
        let which = self.rng.below(5);
        // The key first: making one lays out requests of its own.
        let algs: &[u32] = match which {
            0 => &AEAD_ALGS,
            1 => &HMAC_ALGS,
            2 => &[KV_ALG_ED25519],
            3 => &[],
            _ => &[KV_ALG_ED25519, KV_ALG_X25519],
        };
        let (id, alg) = if algs.is_empty() {
            (0, 0)
        } else {
            match self.good_key(algs) {
                Some(k) => k,
                None => return,
            }
        };
        let p = self.exact(128);
        let out = self.guarded(64);
        let (op, r, want): (usize, Result<(), Errno>, Option<u32>) = match which {
            0 => {
                let len = 2 + self.rng.below(60) as u32;
                let src = self.data(len);
                let nt = self.data(28);
                let req = KvAead {
                    key_id: id,
                    in_ptr: src,
                    out_ptr: out,
                    nonce_ptr: nt,
                    tag_ptr: nt + 12,
                    in_len: len,
                    out_len: len - 1 - self.rng.below(u64::from(len) - 1) as u32,
                    flags: KV_AEAD_GEN_NONCE,
                    ..Default::default()
                };
                let o = self.exec(AEAD_ENC, fd, &req, &p);
                (AEAD_ENC, o.r, Some(len))
            }
            1 => {
                let full: u32 = if alg == KV_ALG_HMAC_SHA256 { 32 } else { 64 };
                let data = self.data(10);
                let req = KvMac {
                    key_id: id,
                    data_ptr: data,
                    mac_ptr: out,
                    data_len: 10,
                    mac_len: self.rng.below(u64::from(full)) as u32,
                    reserved: [0; 2],
                };
                let o = self.exec(MAC, fd, &req, &p);
                (MAC, o.r, Some(full))
            }
            2 => {
                let req = KvSign {
                    key_id: id,
                    data_ptr: self.data(10),
                    sig_ptr: out,
                    data_len: 10,
                    sig_len: self.rng.below(64) as u32,
                    ..Default::default()
                };
                let o = self.exec(SIGN, fd, &req, &p);
                (SIGN, o.r, Some(64))
            }
            3 => {
                let alg = 1 + self.rng.below(2) as u32;
                let full: u32 = if alg == KV_HASH_SHA256 { 32 } else { 64 };
                let data = self.data(10);
                let req = KvHash {
                    algorithm: alg,
                    data_len: 10,
                    data_ptr: data,
                    digest_ptr: out,
                    digest_len: self.rng.below(u64::from(full)) as u32,
                    ..Default::default()
                };
                let o = self.exec(HASH, fd, &req, &p);
                (HASH, o.r, Some(full))
            }
            _ => {
                let req = KvPubkey {
                    key_id: id,
                    pubkey_ptr: out,
                    pubkey_len: self.rng.below(32) as u32,
                    ..Default::default()
                };
                let o = self.exec(GET_PUBKEY, fd, &req, &p);
                (GET_PUBKEY, o.r, Some(32))
            }
        };
        self.check_guard(op, out, 64);
        match r {
            Ok(()) => self.unexpected(op, "succeeded with a too-small output buffer", &[]),
            Err(Errno::ENOSPC) => {
                self.checked();
                // The needed size is written back in the length field.
                let raw = self.a.read(p.loc.addr(), 128);
                let off = match op {
                    AEAD_ENC => offset_of!(KvAead, out_len),
                    MAC => offset_of!(KvMac, mac_len),
                    SIGN => offset_of!(KvSign, sig_len),
                    HASH => offset_of!(KvHash, digest_len),
                    _ => offset_of!(KvPubkey, pubkey_len),
                };
                let got = u32::from_ne_bytes(raw[off..off + 4].try_into().unwrap());
                if Some(got) != want {
                    self.unexpected(
                        op,
                        &format!("ENOSPC reports {got} bytes needed, not {want:?}"),
                        &raw,
                    );
                }
                if !self.is_untouched(out, 64) {
                    self.unexpected(op, "wrote output although it failed with ENOSPC", &raw);
                }
            }
            Err(_) => {}
        }
    }

    /// Two X25519 keys exchange with each other's public keys and derive
    /// the same AES-256-GCM key: what one seals, the other opens.
    fn rt_exchange(&mut self) {
        let fd = self.pick_fd(80);
        let g = self.group;
        if !self.w.own_group(g) {
            return;
        }
        let (Some(a), Some(b)) = (self.make_key(KV_ALG_X25519), self.make_key(KV_ALG_X25519))
        else {
            return;
        };
        self.a.reset(&mut self.rng);
        let mut pubs = [0u64; 2];
        for (i, id) in [a, b].into_iter().enumerate() {
            pubs[i] = self.a.alloc(32, &mut self.rng);
            let req = KvPubkey {
                key_id: id,
                pubkey_ptr: pubs[i],
                pubkey_len: 32,
                ..Default::default()
            };
            let p = self.more(size_of::<KvPubkey>());
            if self.exec(GET_PUBKEY, fd, &req, &p).r.is_err() {
                return;
            }
            self.remember_pub(KV_ALG_X25519, pubs[i]);
        }
        let kdf = self.small_kdf(KV_ALG_AES256_GCM);
        let mut new = [0u64; 2];
        for (i, (id, peer)) in [(a, pubs[1]), (b, pubs[0])].into_iter().enumerate() {
            let req = KvExchange {
                key_id: id,
                peer_ptr: peer,
                kdf,
                ..Default::default()
            };
            let p = self.more(size_of::<KvExchange>());
            match self.exec(EXCHANGE, fd, &req, &p).back {
                Some(r) => new[i] = r.new_key_id,
                None => return,
            }
        }
        self.same_key(fd, KV_ALG_AES256_GCM, new, EXCHANGE);
    }

    /// HKDF parameters of a key of `algorithm`: up to 39 bytes of salt and
    /// of info, no policy.
    fn small_kdf(&mut self, algorithm: u32) -> KvKdf {
        let salt_len = self.rng.below(40) as u32;
        let info_len = self.rng.below(40) as u32;
        KvKdf {
            hash: 1 + self.rng.below(2) as u32,
            algorithm,
            salt_len,
            salt_ptr: self.data(salt_len),
            info_ptr: self.data(info_len),
            info_len,
            ..Default::default()
        }
    }

    /// Two new keys of `alg` that `what` made, kept in the pool, are the
    /// same key.
    fn same_key(&mut self, fd: i32, alg: u32, [k1, k2]: [u64; 2], what: usize) {
        self.added(alg, k1);
        self.added(alg, k2);
        self.twins(fd, alg, k1, k2, what);
    }

    /// Whether keys `k1` and `k2` of `alg` act as one key: what one seals
    /// the other opens (AEAD, CBC), they make the same MAC, they have the
    /// same public key. `what` made `k2`: a difference is reported against
    /// it. False if nothing could be compared (a request failed: a key's
    /// usage or limits, or the world under the round trip).
    pub fn twins(&mut self, fd: i32, alg: u32, k1: u64, k2: u64, what: usize) -> bool {
        let len = self.rng.below(100) as u32;
        let pt = self.data(len);
        let same = match alg {
            1..=3 => {
                let ct = self.a.alloc(len as usize, &mut self.rng);
                let out = self.a.alloc(len as usize, &mut self.rng);
                let nt = self.data(28);
                let mut req = KvAead {
                    key_id: k1,
                    in_ptr: pt,
                    out_ptr: ct,
                    nonce_ptr: nt,
                    tag_ptr: nt + 12,
                    in_len: len,
                    out_len: len,
                    flags: KV_AEAD_GEN_NONCE,
                    ..Default::default()
                };
                let p = self.more(size_of::<KvAead>());
                if self.exec(AEAD_ENC, fd, &req, &p).r.is_err() {
                    return false;
                }
                req.key_id = k2;
                req.in_ptr = ct;
                req.out_ptr = out;
                req.flags = 0;
                let p = self.more(size_of::<KvAead>());
                match self.exec(AEAD_DEC, fd, &req, &p).r {
                    Ok(()) => self.a.read(out, len as usize) == self.a.read(pt, len as usize),
                    Err(Errno::EBADMSG) => false,
                    Err(_) => return false,
                }
            }
            4 | 5 => {
                let need = (len / 16 + 1) * 16;
                let ct = self.a.alloc(need as usize, &mut self.rng);
                let out = self.a.alloc(need as usize, &mut self.rng);
                let iv = self.data(16);
                let mut req = KvCbc {
                    key_id: k1,
                    in_ptr: pt,
                    out_ptr: ct,
                    iv_ptr: iv,
                    in_len: len,
                    out_len: need,
                    flags: KV_CBC_GEN_IV,
                    ..Default::default()
                };
                let p = self.more(size_of::<KvCbc>());
                if self.exec(CBC_ENC, fd, &req, &p).r.is_err() {
                    return false;
                }
                req.key_id = k2;
                req.in_ptr = ct;
                req.out_ptr = out;
                req.in_len = need;
                req.flags = 0;
                let p = self.more(size_of::<KvCbc>());
                match self.exec(CBC_DEC, fd, &req, &p) {
                    Out { back: Some(b), .. } => {
                        b.out_len == len
                            && self.a.read(out, len as usize) == self.a.read(pt, len as usize)
                    }
                    Out {
                        r: Err(Errno::EBADMSG),
                        ..
                    } => false,
                    _ => return false,
                }
            }
            6 | 7 => {
                let mut macs = Vec::new();
                for k in [k1, k2] {
                    let mac = self.a.alloc(64, &mut self.rng);
                    let req = KvMac {
                        key_id: k,
                        data_ptr: pt,
                        mac_ptr: mac,
                        data_len: len,
                        mac_len: 64,
                        reserved: [0; 2],
                    };
                    let p = self.more(size_of::<KvMac>());
                    let Some(b) = self.exec(MAC, fd, &req, &p).back else {
                        return false;
                    };
                    macs.push(self.a.read(mac, b.mac_len.min(64) as usize));
                }
                macs[0] == macs[1]
            }
            _ => {
                let mut pubs = Vec::new();
                for k in [k1, k2] {
                    let pk = self.a.alloc(32, &mut self.rng);
                    let req = KvPubkey {
                        key_id: k,
                        pubkey_ptr: pk,
                        pubkey_len: 32,
                        ..Default::default()
                    };
                    let p = self.more(size_of::<KvPubkey>());
                    if self.exec(GET_PUBKEY, fd, &req, &p).r.is_err() {
                        return false;
                    }
                    pubs.push(self.a.read(pk, 32));
                }
                pubs[0] == pubs[1]
            }
        };
        self.checked();
        if !same {
            self.unexpected(
                what,
                &format!("key {k2} should act as key {k1} (algorithm {alg}) but does not"),
                &[],
            );
        }
        true
    }

    /// The same DERIVE twice gives the same key (deterministic HKDF).
    fn rt_derive(&mut self) {
        let fd = self.pick_fd(80);
        let Some((parent, _)) = self.good_key(&HMAC_ALGS) else {
            return;
        };
        self.a.reset(&mut self.rng);
        let kdf = self.small_kdf(KV_ALG_CHACHA20_POLY1305);
        let mut new = [0u64; 2];
        for n in &mut new {
            let req = KvDerive {
                key_id: parent,
                kdf,
                ..Default::default()
            };
            let p = self.more(size_of::<KvDerive>());
            let o = self.exec(DERIVE, fd, &req, &p);
            match o.back {
                Some(r) => *n = r.new_key_id,
                None => {
                    self.key_failed(parent, o.r);
                    return;
                }
            }
        }
        self.same_key(fd, KV_ALG_CHACHA20_POLY1305, new, DERIVE);
    }
}
