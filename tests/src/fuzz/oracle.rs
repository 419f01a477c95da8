//! The errno oracle: what every result may be, by the ABI.
//!
//! Each ioctl is issued through [`Worker::call`], which counts it and
//! reports an errno outside the ABI's set ([`allowed`]) or a return value
//! other than 0. [`Worker::exec`] places a request, issues it and reports a
//! success that cannot be for any ioctl: a nonzero reserved word accepted, a
//! request the kernel could not read (or, for an ioctl that writes it back,
//! not write) accepted. The `check_*` functions report what a success of one
//! ioctl cannot be: values written back outside the ABI, a random tag, MAC or
//! signature accepted, a new fd that is not the one made or leaks. Each
//! report counts as unexpected and makes the run fail.

use super::fields::*;
use super::ioctls::*;
use super::mem::{overlaps, Extra};
use super::mutate::{Loc, Plan};
use super::worker::{as_bytes, hex, Worker};
use super::{close, is_open};
use keyvault::uapi::*;
use nix::errno::Errno;
use std::sync::atomic::Ordering::Relaxed;

/// The errnos the ABI documents (plus EBADF for an fd closed under us and
/// ENOMEM, allowed but counted).
fn allowed(op: usize, e: Errno) -> bool {
    use Errno::*;
    match op {
        // Only the module's own numbers are routed; any other command on a
        // keyvault fd (or a closed one) is ENOTTY (EBADF).
        UNKNOWN => matches!(e, ENOTTY | EBADF),
        GETCAPS => matches!(e, EFAULT | EBADF | ENOMEM),
        _ => matches!(
            e,
            EPERM
                | ENOENT
                | EKEYREVOKED
                | EKEYEXPIRED
                | EINVAL
                | EOPNOTSUPP
                | EFAULT
                | EBADMSG
                | EDQUOT
                | EMSGSIZE
                | ENOSPC
                | EBADF
                | ENOMEM
        ),
    }
}

/// The result of one request.
pub struct Out<T> {
    pub r: Result<(), Errno>,
    /// The request as the kernel read it (after mutation).
    pub input: T,
    /// The request as the kernel wrote it back (success, normal location).
    pub back: Option<T>,
    /// Whether a pointer field was mutated, or bytes flipped blindly.
    pub wild: bool,
}

/// A request that makes a key with HKDF (DERIVE, KEYEXCHANGE).
pub trait Hkdf: Copy {
    fn kdf(&self) -> &KvKdf;
    fn new_key_id(&self) -> u64;
}

impl Hkdf for KvDerive {
    fn kdf(&self) -> &KvKdf {
        &self.kdf
    }
    fn new_key_id(&self) -> u64 {
        self.new_key_id
    }
}

impl Hkdf for KvExchange {
    fn kdf(&self) -> &KvKdf {
        &self.kdf
    }
    fn new_key_id(&self) -> u64 {
        self.new_key_id
    }
}

impl Worker<'_> {
    /// Counts and prints (the first 40 of the run) a result the ABI rules out.
    pub fn unexpected(&mut self, op: usize, what: &str, req: &[u8]) {
        let sh = self.w.shared;
        sh.unexpected.fetch_add(1, Relaxed);
        if sh.reported.fetch_add(1, Relaxed) < 40 {
            eprintln!(
                "UNEXPECTED [{} worker {}] {}: {what}; request {}",
                if self.w.child { "child" } else { "parent" },
                self.id,
                name(op),
                hex(req)
            );
        }
    }

    /// One ioctl, counted; an errno outside the ABI's set is reported.
    pub fn call(
        &mut self,
        op: usize,
        fd: i32,
        cmd: u32,
        arg: u64,
        req: &[u8],
    ) -> Result<(), Errno> {
        // SAFETY: `arg` is this worker's arena memory or an address never
        // mapped in this process (see mem.rs): whatever the kernel writes
        // lands in the arena or faults.
        let r = unsafe { libc::ioctl(fd, cmd as _, arg as *mut libc::c_void) };
        self.pending += 1;
        if r == -1 {
            let e = Errno::last();
            self.st.count(op, e as usize);
            if !allowed(op, e) {
                self.unexpected(op, &format!("errno {e:?} is outside the ABI's set"), req);
            }
            Err(e)
        } else {
            self.st.count(op, 0);
            if r != 0 {
                self.unexpected(op, &format!("returned {r}, not 0"), req);
            }
            Ok(())
        }
    }

    /// Places (and maybe mutates) `req`, issues `op` with it on `fd`, and
    /// checks what every success implies about the request.
    pub fn exec<T: Copy>(&mut self, op: usize, fd: i32, req: &T, plan: &Plan) -> Out<T> {
        let Op { cmd, fields, .. } = OPS[op];
        let size = size_of::<T>();
        let mut buf = [0u8; 128];
        let bytes = &mut buf[..size];
        bytes.copy_from_slice(as_bytes(req));
        let mut wild = false;
        if plan.mutate {
            wild = self.mutate(bytes, fields, plan.loc.addr());
            self.st.extra(Extra::Mutated);
        }
        let reserved_set = fields
            .iter()
            .any(|f| f.k == K::Res && bytes[f.off..f.off + f.size].iter().any(|&x| x != 0));
        match plan.loc {
            Loc::Normal(a) => self.a.write(a, bytes),
            Loc::ReadOnly(a) => {
                self.a.write_ro((a - self.a.ro) as usize, bytes);
            }
            Loc::Straddle(a, n) => self.a.write(a, &bytes[..n]),
            Loc::Bad(_) => {}
        }
        let r = self.call(op, fd, cmd, plan.loc.addr(), bytes);
        // SAFETY: `bytes` holds a T (all bit patterns are valid for the ABI structs).
        let input: T = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) };
        let mut back = None;
        if r.is_ok() {
            if reserved_set {
                self.unexpected(op, "succeeded with a nonzero reserved field", bytes);
            }
            match plan.loc {
                Loc::Normal(a) => back = Some(self.a.get::<T>(a)),
                Loc::ReadOnly(_) if writes_back(op) => {
                    self.unexpected(op, "succeeded with a read-only request struct", bytes)
                }
                Loc::Straddle(..) | Loc::Bad(_) => {
                    self.unexpected(op, "succeeded with an unreadable request struct", bytes)
                }
                Loc::ReadOnly(_) => {}
            }
        }
        Out {
            r,
            input,
            back,
            wild,
        }
    }

    pub fn check_getcaps(&mut self, o: &Out<KvCaps>) {
        if let Some(b) = o.back {
            if b.caps & !KV_CAP_ALL != 0 || b.reserved != 0 {
                self.unexpected(
                    GETCAPS,
                    &format!("reported caps {:#x}, reserved {}", b.caps, b.reserved),
                    &[],
                );
            }
        }
    }

    pub fn check_restrict(&mut self, o: &Out<KvCaps>) {
        if let Some(b) = o.back {
            if b.caps & !(o.input.caps & KV_CAP_ALL) != 0 {
                self.unexpected(
                    RESTRICT,
                    &format!("asked to keep {:#x}, reported {:#x}", o.input.caps, b.caps),
                    as_bytes(&o.input),
                );
            }
        }
    }

    /// A DUP's result, `probe` being the lowest free fd number before it
    /// (taken under the fd lock): the new fd, when it is right, for the
    /// caller to keep. A DUP that fails (whatever the errno; EFAULT
    /// included: DUP makes sure it can write the reply before it installs
    /// the fd) must leave no new fd behind; one left is closed here.
    pub fn check_dup(&mut self, o: &Out<KvDup>, probe: i32) -> Option<i32> {
        let leaked = self.w.stray(probe);
        let b = match (o.r, o.back) {
            (Ok(()), Some(b)) => b,
            (Ok(()), None) => {
                if leaked {
                    close(probe);
                }
                return None;
            }
            (Err(e), _) => {
                if leaked {
                    self.unexpected(
                        DUP,
                        &format!("failed with {e:?} but left fd {probe} open"),
                        as_bytes(&o.input),
                    );
                    close(probe);
                }
                return None;
            }
        };
        let want = o.input.caps & KV_CAP_ALL;
        if b.fd != probe || !is_open(b.fd) {
            self.unexpected(
                DUP,
                &format!("reported fd {}, the new fd is {probe}", b.fd),
                as_bytes(&o.input),
            );
            if leaked {
                close(probe);
            }
            return None;
        }
        // SAFETY: F_GETFD only queries.
        let cloexec = unsafe { libc::fcntl(b.fd, libc::F_GETFD) } & libc::FD_CLOEXEC != 0;
        if !cloexec || b.caps & !want != 0 {
            self.unexpected(
                DUP,
                &format!(
                    "new fd close-on-exec {cloexec}, caps {:#x} for {want:#x}",
                    b.caps
                ),
                as_bytes(&o.input),
            );
        }
        let p2 = self.more(size_of::<KvCaps>());
        let c = self.exec(GETCAPS, b.fd, &KvCaps::default(), &p2);
        if let Some(c) = c.back {
            if c.caps != b.caps {
                self.unexpected(
                    DUP,
                    &format!("granted {:#x} but GETCAPS says {:#x}", b.caps, c.caps),
                    &[],
                );
            }
        }
        Some(b.fd)
    }

    /// The (algorithm, id) of the key a GENKEY made, if it did and it is
    /// plausible (reported if not).
    pub fn check_genkey(&mut self, o: &Out<KvGenkey>) -> Option<(u32, u64)> {
        let (i, b) = (&o.input, o.back?);
        let bits = if i.key_bits == 0 {
            8 * key_sizes(i.algorithm).2
        } else {
            i.key_bits
        };
        if b.key_id == 0 || !(1..=9).contains(&i.algorithm) || b.key_bits != bits {
            let what = format!("made key {} of {} bits", b.key_id, b.key_bits);
            self.unexpected(GENKEY, &what, as_bytes(i));
            return None;
        }
        Some((i.algorithm, b.key_id))
    }

    /// The (algorithm, id) of the key an IMPORT made, if it did and it is
    /// plausible (reported if not).
    pub fn check_import(&mut self, o: &Out<KvImport>) -> Option<(u32, u64)> {
        let b = o.back?;
        if b.key_id == 0 {
            self.unexpected(IMPORT, "made key 0", as_bytes(&o.input));
            return None;
        }
        Some((o.input.algorithm, b.key_id))
    }

    pub fn check_getinfo(&mut self, input: &KvKeyinfo, b: &KvKeyinfo) {
        if b.key_id != input.key_id
            || !(1..=9).contains(&b.algorithm)
            || !(1..=3).contains(&b.state)
            || b.reserved0 != 0
            || b.reserved != [0; 2]
            || b.policy.usage == 0
            || b.policy.usage & !alg_usage(b.algorithm) != 0
            || b.key_bits != 8 * key_sizes(b.algorithm).2 && !(6..=7).contains(&b.algorithm)
        {
            self.unexpected(GETINFO, &format!("reported {b:?}"), as_bytes(input));
        }
    }

    /// LIST's counts, and its ids ascending past the cursor (when they
    /// landed in the arena, apart from the request at `req_addr`).
    pub fn check_list(&mut self, o: &Out<KvList>, req_addr: u64) {
        let Some(b) = o.back else { return };
        let i = o.input;
        let cap = i.max_ids.min(KV_LIST_MAX);
        if b.count > cap || u64::from(b.count) > b.total {
            self.unexpected(
                LIST,
                &format!("count {} total {} for max {}", b.count, b.total, i.max_ids),
                as_bytes(&i),
            );
            return;
        }
        let len = 8 * b.count as usize;
        let in_arena = i.ids_ptr >= self.a.rw
            && i.ids_ptr
                .checked_add(len as u64)
                .is_some_and(|end| end <= self.a.tail_guard);
        if !o.wild && in_arena && !overlaps(i.ids_ptr, len, req_addr, size_of::<KvList>()) {
            let raw = self.a.read(i.ids_ptr, len);
            let ids: Vec<u64> = raw
                .chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
                .collect();
            let mut prev = i.cursor;
            for id in ids {
                if id <= prev {
                    self.unexpected(
                        LIST,
                        &format!(
                            "ids not ascending after cursor {}: {id} after {prev}",
                            i.cursor
                        ),
                        &[],
                    );
                    break;
                }
                prev = id;
            }
        }
    }

    pub fn check_aead(&mut self, op: usize, o: &Out<KvAead>, p: &Plan) {
        let Some(b) = o.back else { return };
        if b.out_len != o.input.in_len {
            self.unexpected(
                op,
                &format!("out_len {} for in_len {}", b.out_len, o.input.in_len),
                as_bytes(&o.input),
            );
        }
        // A random tag (and nothing aliased) cannot authenticate.
        if op == AEAD_DEC && !o.wild && !p.mutate {
            self.unexpected(op, "accepted a random tag", as_bytes(&o.input));
        }
    }

    pub fn check_cbc(&mut self, op: usize, o: &Out<KvCbc>) {
        let Some(b) = o.back else { return };
        let i = o.input;
        let padded = i.flags & KV_CBC_NO_PADDING == 0;
        let ok = if op == CBC_ENC {
            b.out_len
                == if padded {
                    (i.in_len / 16 + 1) * 16
                } else {
                    i.in_len
                }
        } else if padded {
            b.out_len < i.in_len && i.in_len - b.out_len <= 16
        } else {
            b.out_len == i.in_len
        };
        if !ok {
            self.unexpected(
                op,
                &format!("out_len {} for in_len {}", b.out_len, i.in_len),
                as_bytes(&i),
            );
        }
    }

    pub fn check_mac(&mut self, op: usize, o: &Out<KvMac>, p: &Plan) {
        if o.r.is_err() {
            return;
        }
        if op == MAC {
            if let Some(b) = o.back {
                if b.mac_len != 32 && b.mac_len != 64 {
                    self.unexpected(op, &format!("mac_len {}", b.mac_len), as_bytes(&o.input));
                }
            }
        } else if !o.wild && !p.mutate {
            self.unexpected(op, "accepted a random MAC", as_bytes(&o.input));
        }
    }

    pub fn check_hash(&mut self, o: &Out<KvHash>) {
        if let Some(b) = o.back {
            let want = if o.input.algorithm == KV_HASH_SHA256 {
                32
            } else {
                64
            };
            if b.digest_len != want {
                self.unexpected(
                    HASH,
                    &format!("digest_len {}", b.digest_len),
                    as_bytes(&o.input),
                );
            }
        }
    }

    pub fn check_sign(&mut self, o: &Out<KvSign>) {
        if let Some(b) = o.back {
            if b.sig_len != 64 {
                self.unexpected(SIGN, &format!("sig_len {}", b.sig_len), as_bytes(&o.input));
            }
        }
    }

    pub fn check_verify(&mut self, o: &Out<KvVerify>, p: &Plan) {
        if o.r.is_ok() && !o.wild && !p.mutate {
            self.unexpected(VERIFY, "accepted a random signature", as_bytes(&o.input));
        }
    }

    /// Whether the public key GET_PUBKEY reports is plausible (reported if not).
    pub fn check_pubkey(&mut self, input: &KvPubkey, b: &KvPubkey) -> bool {
        if b.pubkey_len != 32 {
            self.unexpected(
                GET_PUBKEY,
                &format!("pubkey_len {}", b.pubkey_len),
                as_bytes(input),
            );
        }
        b.pubkey_len == 32
    }

    /// The (algorithm, id) of the key a DERIVE or KEYEXCHANGE (`op`) made,
    /// if it did and it is plausible (reported if not).
    pub fn check_new_key<T: Hkdf>(&mut self, op: usize, o: &Out<T>) -> Option<(u32, u64)> {
        let (kdf, b) = (o.input.kdf(), o.back?);
        let (new_id, back_bits) = (b.new_key_id(), b.kdf().key_bits);
        let bits_ok = if kdf.key_bits == 0 {
            back_bits == 8 * key_sizes(kdf.algorithm).2
        } else {
            back_bits == kdf.key_bits
        };
        if new_id == 0 || !bits_ok || !(1..=7).contains(&kdf.algorithm) {
            let what = format!("made key {new_id} of {back_bits} bits");
            self.unexpected(op, &what, as_bytes(&o.input));
            return None;
        }
        Some((kdf.algorithm, new_id))
    }

    /// A command number that is none of the ABI's cannot succeed.
    pub fn check_unknown(&mut self, r: Result<(), Errno>, cmd: u32) {
        if r.is_ok() {
            self.unexpected(UNKNOWN, &format!("command {cmd:#x} succeeded"), &[]);
        }
    }
}
