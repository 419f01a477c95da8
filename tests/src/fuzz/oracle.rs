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
use super::keyring::{self, RING_ERRNOS};
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
        GETCAPS | LIMITS => matches!(e, EFAULT | EBADF | ENOMEM),
        // No vault key is named; the keyring's own errnos (keyring.rs).
        IMPORT_KEYRING => {
            matches!(
                e,
                EPERM | EINVAL | EOPNOTSUPP | EFAULT | EDQUOT | EBADF | ENOMEM
            ) || RING_ERRNOS.contains(&e)
        }
        WRAP => on_keys(e) || e == ENOSPC,
        UNWRAP => on_keys(e) || e == EBADMSG,
        _ => on_keys(e) || matches!(e, EBADMSG | EMSGSIZE | ENOSPC),
    }
}

/// What any ioctl on keys may fail with: a capability or usage missing, a
/// key unknown, revoked, expired or of another type, a request invalid or
/// unreadable, a limit reached, the fd closed under us, memory.
fn on_keys(e: Errno) -> bool {
    use Errno::*;
    matches!(
        e,
        EPERM
            | ENOENT
            | EKEYREVOKED
            | EKEYEXPIRED
            | EINVAL
            | EOPNOTSUPP
            | EFAULT
            | EDQUOT
            | EBADF
            | ENOMEM
    )
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

    /// What LIMITS reports: the max_data_bytes the run was configured with
    /// (which came from LIMITS too), no usage past its limit (both are
    /// checked under the lock that creation takes) and zero reserved words.
    pub fn check_limits(&mut self, o: &Out<KvLimits>) {
        if let Some(b) = o.back {
            if b.max_data_bytes != u64::from(self.max_data)
                || b.vault_keys > b.max_keys_per_vault
                || b.vault_key_bytes > b.max_key_bytes_per_vault
                || b.user_keys > b.max_keys_per_user
                || b.user_key_bytes > b.max_key_bytes_per_user
                || b.reserved != [0; 4]
            {
                self.unexpected(LIMITS, &format!("reported {b:?}"), &[]);
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

    /// The (algorithm, id) of the key an IMPORT_KEYRING made, if it did and
    /// could (reported if not); and whether a failure is one the serial's
    /// lookup can give (keyring.rs: whatever else the request says, a
    /// serial's keyring errnos are known).
    pub fn check_import_keyring(&mut self, o: &Out<KvImportKeyring>) -> Option<(u32, u64)> {
        let i = &o.input;
        let (ring, can) = keyring::verdict(i.serial, i.algorithm);
        let what = match (o.r, o.back) {
            (Err(e), _) if RING_ERRNOS.contains(&e) && !ring.contains(&e) => {
                format!("{e:?} for serial {}", i.serial)
            }
            (Ok(()), Some(b)) if b.key_id == 0 => "made key 0".into(),
            (Ok(()), _) if i.policy.flags & KV_POLICY_WRAPPABLE != 0 => {
                "made a keyring key wrappable".into()
            }
            (Ok(()), _) if !can => format!(
                "imported serial {} as algorithm {}, which cannot be",
                i.serial, i.algorithm
            ),
            (Ok(()), back) => return back.map(|b| (i.algorithm, b.key_id)),
            _ => return None,
        };
        self.unexpected(IMPORT_KEYRING, &what, as_bytes(i));
        None
    }

    /// Whether `len` bytes at `ptr` are this arena's to read back.
    fn readable(&self, ptr: u64, len: usize) -> bool {
        ptr >= self.a.rw
            && ptr
                .checked_add(len as u64)
                .is_some_and(|end| end <= self.a.tail_guard)
    }

    /// The blob a WRAP made, if it did (read back when the pointer was not
    /// mutated): its length fits its format, and a native header says what
    /// a wrappable key is (reported if not).
    pub fn check_wrap(&mut self, o: &Out<KvWrap>) -> Option<Vec<u8>> {
        let (i, b) = (&o.input, o.back?);
        let len = b.blob_len as usize;
        let bad = if i.key_id == i.wrapping_key_id {
            Some("wrapped a key under itself".to_string())
        } else if i.format > KV_WRAP_RFC5649 {
            Some(format!("format {}", i.format))
        } else if !(16..=KV_MAX_KEY_BYTES as usize).any(|k| blob_len(i.format, k) == len) {
            Some(format!("blob_len {len} for format {}", i.format))
        } else {
            None
        };
        if let Some(what) = bad {
            self.unexpected(WRAP, &what, as_bytes(i));
            return None;
        }
        if o.wild || !self.readable(i.blob_ptr, len) {
            return Some(Vec::new());
        }
        let blob = self.a.read(i.blob_ptr, len);
        if i.format == KV_WRAP_NATIVE {
            if let Err(what) = native_header(&blob) {
                self.unexpected(WRAP, &format!("native blob: {what}"), &blob);
            }
        }
        Some(blob)
    }

    /// The (algorithm, id, policy) of the key an UNWRAP made, if it did and
    /// could: from a blob that was not broken (`may_open`), in a known
    /// format, of at most KV_WRAP_MAX_BLOB, a native one with no key fields
    /// in the request (reported if not).
    pub fn check_unwrap(
        &mut self,
        o: &Out<KvUnwrap>,
        blob: &[u8],
        may_open: bool,
    ) -> Option<(u32, u64, KvPolicy)> {
        let (i, b) = (&o.input, o.back?);
        let native = i.format == KV_WRAP_NATIVE;
        let what = if !may_open {
            "accepted a broken blob"
        } else if i.format > KV_WRAP_RFC5649 || i.blob_len > KV_WRAP_MAX_BLOB {
            "accepted an unknown format or an oversized blob"
        } else if native
            && (i.algorithm != 0
                || i.ttl_ms != 0
                || i.policy != KvPolicy::default()
                || i.child != KvChildPolicy::default())
        {
            "accepted a native blob with key fields in the request"
        } else if b.new_key_id == 0 {
            "made key 0"
        } else if !native {
            return Some((i.algorithm, b.new_key_id, i.policy));
        } else {
            let h = native_header(blob).ok()?;
            return Some((h.0, b.new_key_id, h.1));
        };
        self.unexpected(UNWRAP, what, as_bytes(i));
        None
    }

    /// Checks that `r` is `want`, or an errno of `world` (what other
    /// workers may do under a round trip: destroy or revoke a key, or the
    /// kernel run out of memory); reports anything else. Returns whether it
    /// was `want`.
    pub fn expect(
        &mut self,
        op: usize,
        r: Result<(), Errno>,
        want: Result<(), Errno>,
        world: &[Errno],
        what: &str,
        req: &[u8],
    ) -> bool {
        if r == want {
            self.st.extra(Extra::RoundTripChecks);
            return true;
        }
        if let Err(e) = r {
            if world.contains(&e) {
                return false;
            }
        }
        let show =
            |r: Result<(), Errno>| r.map_or_else(|e| format!("{e:?}"), |()| "success".into());
        self.unexpected(
            op,
            &format!("{what}: {} where {} was due", show(r), show(want)),
            req,
        );
        false
    }

    /// A command number that is none of the ABI's cannot succeed.
    pub fn check_unknown(&mut self, r: Result<(), Errno>, cmd: u32) {
        if r.is_ok() {
            self.unexpected(UNKNOWN, &format!("command {cmd:#x} succeeded"), &[]);
        }
    }
}

/// What a native blob's header says (uapi/keyvault.h): (algorithm,
/// policy, expires_ms, child policy as 4 x u32); or what is wrong with it.
pub fn native_header(b: &[u8]) -> Result<(u32, KvPolicy, u64, [u32; 4]), String> {
    if b.len() < KV_WRAP_OVERHEAD as usize {
        return Err(format!("{} bytes", b.len()));
    }
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let (alg, key_len) = (u32_at(8), u32_at(12) as usize);
    let policy = KvPolicy {
        usage: u32_at(16),
        flags: u32_at(20),
        max_uses: u64_at(24),
        max_bytes: u64_at(32),
    };
    if &b[..4] != b"KVWK" || u32_at(4) != KV_WRAP_VERSION {
        Err("magic or version".into())
    } else if !fits(alg, key_len) || b.len() != blob_len(KV_WRAP_NATIVE, key_len) {
        Err(format!(
            "algorithm {alg}, key_len {key_len} in {} bytes",
            b.len()
        ))
    } else if policy.flags & KV_POLICY_WRAPPABLE == 0
        || policy.usage == 0
        || policy.usage & !alg_usage(alg) != 0
    {
        Err(format!("policy {policy:?}"))
    } else {
        Ok((alg, policy, u64_at(40), [48, 52, 56, 60].map(u32_at)))
    }
}
