//! The workers: requests for every ioctl, their mutations, and the checks
//! of every result.

use super::kcov::Guide;
use super::mem::{overlaps, Arena, Extra, WorkerStats, PAGE};
use super::rng::Rng;
use super::{close, is_open, lowest_free_fd, send_to_child, World, PARENT_GROUPS};
use keyvault::uapi::*;
use nix::errno::Errno;
use std::mem::offset_of;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

// The ioctls, in histogram order; UNKNOWN is any other command number.
const GETCAPS: usize = 0;
const RESTRICT: usize = 1;
const DUP: usize = 2;
const GENKEY: usize = 3;
const IMPORT: usize = 4;
const DESTROY: usize = 5;
const REVOKE: usize = 6;
const GETINFO: usize = 7;
const LIST: usize = 8;
const AEAD_ENC: usize = 9;
const AEAD_DEC: usize = 10;
const CBC_ENC: usize = 11;
const CBC_DEC: usize = 12;
const MAC: usize = 13;
const VERIFY_MAC: usize = 14;
const HASH: usize = 15;
const SIGN: usize = 16;
const VERIFY: usize = 17;
const GET_PUBKEY: usize = 18;
const DERIVE: usize = 19;
const EXCHANGE: usize = 20;
const UNKNOWN: usize = 21;

pub const NAMES: [&str; 22] = [
    "GETCAPS",
    "RESTRICT",
    "DUP",
    "GENKEY",
    "IMPORT",
    "DESTROY",
    "REVOKE",
    "GETINFO",
    "LIST",
    "AEAD_ENCRYPT",
    "AEAD_DECRYPT",
    "CBC_ENCRYPT",
    "CBC_DECRYPT",
    "MAC",
    "VERIFY_MAC",
    "HASH",
    "SIGN",
    "VERIFY",
    "GET_PUBKEY",
    "DERIVE",
    "KEYEXCHANGE",
    "unknown cmd",
];

const CMDS: [u32; 21] = [
    KV_IOC_GETCAPS,
    KV_IOC_RESTRICT,
    KV_IOC_DUP,
    KV_IOC_GENKEY,
    KV_IOC_IMPORT,
    KV_IOC_DESTROY,
    KV_IOC_REVOKE,
    KV_IOC_GETINFO,
    KV_IOC_LIST,
    KV_IOC_AEAD_ENCRYPT,
    KV_IOC_AEAD_DECRYPT,
    KV_IOC_CBC_ENCRYPT,
    KV_IOC_CBC_DECRYPT,
    KV_IOC_MAC,
    KV_IOC_VERIFY_MAC,
    KV_IOC_HASH,
    KV_IOC_SIGN,
    KV_IOC_VERIFY,
    KV_IOC_GET_PUBKEY,
    KV_IOC_DERIVE,
    KV_IOC_KEYEXCHANGE,
];

/// Ioctls that write their request struct back on success (the others
/// may succeed with a read-only request).
const NO_WRITE_BACK: [usize; 4] = [DESTROY, REVOKE, VERIFY_MAC, VERIFY];

/// How often each ioctl is fuzzed (by repetition).
const WEIGHTED: [usize; 82] = [
    GETCAPS, GETCAPS, GETCAPS, RESTRICT, DUP, DUP, GENKEY, GENKEY, GENKEY, GENKEY, IMPORT, IMPORT,
    IMPORT, IMPORT, DESTROY, DESTROY, REVOKE, GETINFO, GETINFO, GETINFO, GETINFO, LIST, LIST, LIST,
    AEAD_ENC, AEAD_ENC, AEAD_ENC, AEAD_ENC, AEAD_ENC, AEAD_DEC, AEAD_DEC, AEAD_DEC, AEAD_DEC,
    AEAD_DEC, CBC_ENC, CBC_ENC, CBC_ENC, CBC_ENC, CBC_DEC, CBC_DEC, CBC_DEC, CBC_DEC, MAC, MAC,
    MAC, MAC, VERIFY_MAC, VERIFY_MAC, VERIFY_MAC, VERIFY_MAC, HASH, HASH, HASH, SIGN, SIGN, SIGN,
    SIGN, VERIFY, VERIFY, VERIFY, VERIFY, GET_PUBKEY, GET_PUBKEY, GET_PUBKEY, GET_PUBKEY, DERIVE,
    DERIVE, DERIVE, DERIVE, EXCHANGE, EXCHANGE, EXCHANGE, EXCHANGE, UNKNOWN, UNKNOWN, UNKNOWN,
    UNKNOWN, UNKNOWN, GETINFO, LIST, MAC, AEAD_ENC,
];

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

/// What a field holds, for choosing hostile values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum K {
    Len,
    Ptr,
    Flags(u32),
    Res,
    KeyId,
    Alg,
    Hash,
    Caps,
    Ttl,
    Bits,
    Count,
    Cursor,
    Usage,
    PFlags,
    Max,
    /// A child policy's algorithm set.
    ChildAlgs,
    Raw,
}

#[derive(Clone, Copy)]
struct F {
    off: usize,
    size: usize,
    k: K,
}

macro_rules! f {
    ($t:ty, $($field:ident).+, $size:expr, $k:expr) => {
        F { off: offset_of!($t, $($field).+), size: $size, k: $k }
    };
}

/// A child policy (what keys derived from a key may be).
macro_rules! child_fields {
    ($t:ty, $($p:ident).+) => {
        [
            f!($t, $($p).+.algorithms, 4, K::ChildAlgs),
            f!($t, $($p).+.usage, 4, K::Usage),
            f!($t, $($p).+.max_uses, 4, K::Count),
            f!($t, $($p).+.max_bytes, 4, K::Len),
        ]
    };
}

macro_rules! policy_fields {
    ($t:ty, $($p:ident).+) => {
        [
            f!($t, $($p).+.usage, 4, K::Usage),
            f!($t, $($p).+.flags, 4, K::PFlags),
            f!($t, $($p).+.max_uses, 8, K::Max),
            f!($t, $($p).+.max_bytes, 8, K::Max),
        ]
    };
}

const F_GETCAPS: &[F] = &[f!(KvCaps, caps, 4, K::Raw), f!(KvCaps, reserved, 4, K::Raw)];
const F_RESTRICT: &[F] = &[
    f!(KvCaps, caps, 4, K::Caps),
    f!(KvCaps, reserved, 4, K::Res),
];
const F_DUP: &[F] = &[
    f!(KvDup, caps, 4, K::Caps),
    f!(KvDup, nkeys, 4, K::Count),
    f!(KvDup, keys_ptr, 8, K::Ptr),
    f!(KvDup, fd, 4, K::Res),
    f!(KvDup, flags, 4, K::Res),
    f!(KvDup, reserved, 16, K::Res),
];
const F_GENKEY: &[F] = &{
    let p = policy_fields!(KvGenkey, policy);
    let c = child_fields!(KvGenkey, child);
    [
        f!(KvGenkey, algorithm, 4, K::Alg),
        f!(KvGenkey, key_bits, 4, K::Bits),
        f!(KvGenkey, ttl_ms, 8, K::Ttl),
        p[0],
        p[1],
        p[2],
        p[3],
        f!(KvGenkey, key_id, 8, K::Raw),
        c[0],
        c[1],
        c[2],
        c[3],
    ]
};
const F_IMPORT: &[F] = &{
    let p = policy_fields!(KvImport, policy);
    let c = child_fields!(KvImport, child);
    [
        f!(KvImport, algorithm, 4, K::Alg),
        f!(KvImport, key_len, 4, K::Len),
        f!(KvImport, key_ptr, 8, K::Ptr),
        f!(KvImport, ttl_ms, 8, K::Ttl),
        p[0],
        p[1],
        p[2],
        p[3],
        f!(KvImport, key_id, 8, K::Raw),
        c[0],
        c[1],
        c[2],
        c[3],
    ]
};
const F_KEYREF: &[F] = &[
    f!(KvKeyref, key_id, 8, K::KeyId),
    f!(KvKeyref, reserved, 8, K::Res),
];
const F_KEYINFO: &[F] = &[
    f!(KvKeyinfo, key_id, 8, K::KeyId),
    f!(KvKeyinfo, algorithm, 4, K::Raw),
    f!(KvKeyinfo, state, 4, K::Raw),
    f!(KvKeyinfo, reserved0, 4, K::Res),
    f!(KvKeyinfo, created_ms, 8, K::Raw),
    f!(KvKeyinfo, uses, 8, K::Raw),
    f!(KvKeyinfo, reserved, 16, K::Res),
];
const F_LIST: &[F] = &[
    f!(KvList, ids_ptr, 8, K::Ptr),
    f!(KvList, max_ids, 4, K::Count),
    f!(KvList, count, 4, K::Raw),
    f!(KvList, cursor, 8, K::Cursor),
    f!(KvList, total, 8, K::Raw),
    f!(KvList, reserved, 16, K::Res),
];
const F_AEAD: &[F] = &[
    f!(KvAead, key_id, 8, K::KeyId),
    f!(KvAead, in_ptr, 8, K::Ptr),
    f!(KvAead, out_ptr, 8, K::Ptr),
    f!(KvAead, aad_ptr, 8, K::Ptr),
    f!(KvAead, nonce_ptr, 8, K::Ptr),
    f!(KvAead, tag_ptr, 8, K::Ptr),
    f!(KvAead, in_len, 4, K::Len),
    f!(KvAead, out_len, 4, K::Len),
    f!(KvAead, aad_len, 4, K::Len),
    f!(KvAead, flags, 4, K::Flags(KV_AEAD_FLAGS_ALL)),
    f!(KvAead, reserved, 16, K::Res),
];
const F_CBC: &[F] = &[
    f!(KvCbc, key_id, 8, K::KeyId),
    f!(KvCbc, in_ptr, 8, K::Ptr),
    f!(KvCbc, out_ptr, 8, K::Ptr),
    f!(KvCbc, iv_ptr, 8, K::Ptr),
    f!(KvCbc, in_len, 4, K::Len),
    f!(KvCbc, out_len, 4, K::Len),
    f!(KvCbc, flags, 4, K::Flags(KV_CBC_FLAGS_ALL)),
    f!(KvCbc, reserved0, 4, K::Res),
    f!(KvCbc, reserved, 16, K::Res),
];
const F_MAC: &[F] = &[
    f!(KvMac, key_id, 8, K::KeyId),
    f!(KvMac, data_ptr, 8, K::Ptr),
    f!(KvMac, mac_ptr, 8, K::Ptr),
    f!(KvMac, data_len, 4, K::Len),
    f!(KvMac, mac_len, 4, K::Len),
    f!(KvMac, reserved, 16, K::Res),
];
const F_HASH: &[F] = &[
    f!(KvHash, algorithm, 4, K::Hash),
    f!(KvHash, data_len, 4, K::Len),
    f!(KvHash, data_ptr, 8, K::Ptr),
    f!(KvHash, digest_ptr, 8, K::Ptr),
    f!(KvHash, digest_len, 4, K::Len),
    f!(KvHash, reserved0, 4, K::Res),
    f!(KvHash, reserved, 16, K::Res),
];
const F_SIGN: &[F] = &[
    f!(KvSign, key_id, 8, K::KeyId),
    f!(KvSign, data_ptr, 8, K::Ptr),
    f!(KvSign, sig_ptr, 8, K::Ptr),
    f!(KvSign, data_len, 4, K::Len),
    f!(KvSign, sig_len, 4, K::Len),
    f!(KvSign, reserved, 16, K::Res),
];
const F_VERIFY: &[F] = &[
    f!(KvVerify, key_id, 8, K::KeyId),
    f!(KvVerify, pubkey_ptr, 8, K::Ptr),
    f!(KvVerify, data_ptr, 8, K::Ptr),
    f!(KvVerify, sig_ptr, 8, K::Ptr),
    f!(KvVerify, data_len, 4, K::Len),
    f!(KvVerify, reserved0, 4, K::Res),
    f!(KvVerify, reserved, 16, K::Res),
];
const F_PUBKEY: &[F] = &[
    f!(KvPubkey, key_id, 8, K::KeyId),
    f!(KvPubkey, pubkey_ptr, 8, K::Ptr),
    f!(KvPubkey, pubkey_len, 4, K::Len),
    f!(KvPubkey, reserved0, 4, K::Res),
    f!(KvPubkey, reserved, 16, K::Res),
];
const F_DERIVE: &[F] = &{
    let p = policy_fields!(KvDerive, kdf.policy);
    let c = child_fields!(KvDerive, child);
    [
        f!(KvDerive, key_id, 8, K::KeyId),
        f!(KvDerive, kdf.hash, 4, K::Hash),
        f!(KvDerive, kdf.algorithm, 4, K::Alg),
        f!(KvDerive, kdf.key_bits, 4, K::Bits),
        f!(KvDerive, kdf.salt_len, 4, K::Len),
        f!(KvDerive, kdf.salt_ptr, 8, K::Ptr),
        f!(KvDerive, kdf.info_ptr, 8, K::Ptr),
        f!(KvDerive, kdf.info_len, 4, K::Len),
        f!(KvDerive, kdf.reserved0, 4, K::Res),
        f!(KvDerive, kdf.ttl_ms, 8, K::Ttl),
        p[0],
        p[1],
        p[2],
        p[3],
        f!(KvDerive, new_key_id, 8, K::Raw),
        c[0],
        c[1],
        c[2],
        c[3],
    ]
};
const F_EXCHANGE: &[F] = &{
    let p = policy_fields!(KvExchange, kdf.policy);
    let c = child_fields!(KvExchange, child);
    [
        f!(KvExchange, key_id, 8, K::KeyId),
        f!(KvExchange, peer_ptr, 8, K::Ptr),
        f!(KvExchange, kdf.hash, 4, K::Hash),
        f!(KvExchange, kdf.algorithm, 4, K::Alg),
        f!(KvExchange, kdf.key_bits, 4, K::Bits),
        f!(KvExchange, kdf.salt_len, 4, K::Len),
        f!(KvExchange, kdf.salt_ptr, 8, K::Ptr),
        f!(KvExchange, kdf.info_ptr, 8, K::Ptr),
        f!(KvExchange, kdf.info_len, 4, K::Len),
        f!(KvExchange, kdf.reserved0, 4, K::Res),
        f!(KvExchange, kdf.ttl_ms, 8, K::Ttl),
        p[0],
        p[1],
        p[2],
        p[3],
        f!(KvExchange, new_key_id, 8, K::Raw),
        c[0],
        c[1],
        c[2],
        c[3],
    ]
};

/// Key sizes in bytes: (min, max, default).
fn key_sizes(alg: u32) -> (u32, u32, u32) {
    match alg {
        KV_ALG_AES128_GCM | KV_ALG_AES128_CBC => (16, 16, 16),
        KV_ALG_HMAC_SHA256 => (16, 64, 32),
        KV_ALG_HMAC_SHA512 => (16, 128, 64),
        _ => (32, 32, 32),
    }
}

/// The operations a key of `alg` supports (KV_CAP_* bits).
fn alg_usage(alg: u32) -> u32 {
    match alg {
        1..=5 => KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
        6 | 7 => KV_CAP_MAC | KV_CAP_DERIVE,
        8 => KV_CAP_SIGN | KV_CAP_VERIFY,
        _ => KV_CAP_EXCHANGE,
    }
}

const AEAD_ALGS: [u32; 3] = [
    KV_ALG_AES128_GCM,
    KV_ALG_AES256_GCM,
    KV_ALG_CHACHA20_POLY1305,
];
const CBC_ALGS: [u32; 2] = [KV_ALG_AES128_CBC, KV_ALG_AES256_CBC];
const HMAC_ALGS: [u32; 2] = [KV_ALG_HMAC_SHA256, KV_ALG_HMAC_SHA512];
const ALL_ALGS: [u32; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const MAKES_KEYS: u32 = KV_CAP_GENKEY | KV_CAP_IMPORT | KV_CAP_DERIVE | KV_CAP_EXCHANGE;

/// Where the request struct goes.
#[derive(Clone, Copy)]
enum Loc {
    Normal(u64),
    /// In the read-only page: readable, but no write-back.
    ReadOnly(u64),
    /// Cut off by the guard page after `.1` readable bytes.
    Straddle(u64, usize),
    /// Not readable at all.
    Bad(u64),
}

impl Loc {
    fn addr(self) -> u64 {
        match self {
            Loc::Normal(a) | Loc::ReadOnly(a) | Loc::Straddle(a, _) | Loc::Bad(a) => a,
        }
    }
}

struct Plan {
    mutate: bool,
    loc: Loc,
}

/// The result of one request.
struct Out<T> {
    r: Result<(), Errno>,
    /// The request as the kernel read it (after mutation).
    input: T,
    /// The request as the kernel wrote it back (success, normal location).
    back: Option<T>,
    /// Whether a pointer field was mutated, or bytes flipped blindly.
    wild: bool,
}

pub struct Worker<'w> {
    w: &'w World,
    id: usize,
    rng: Rng,
    a: Arena,
    st: &'static WorkerStats,
    pending: u64,
    group: usize,
    max_data: u32,
    big_cap: u32,
}

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

fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a plain-old-data ABI struct (integers only, no padding).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Worker<'_> {
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

    fn unexpected(&mut self, op: usize, what: &str, req: &[u8]) {
        let sh = self.w.shared;
        sh.unexpected.fetch_add(1, Relaxed);
        if sh.reported.fetch_add(1, Relaxed) < 40 {
            eprintln!(
                "UNEXPECTED [{} worker {}] {}: {what}; request {}",
                if self.w.child { "child" } else { "parent" },
                self.id,
                NAMES[op],
                hex(req)
            );
        }
    }

    /// One ioctl, counted; an errno outside the ABI's set is reported.
    fn call(&mut self, op: usize, fd: i32, cmd: u32, arg: u64, req: &[u8]) -> Result<(), Errno> {
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

    // ---- choosing things ----

    /// An fd of a random group (sets the current group).
    fn pick_fd(&mut self, root_percent: u64) -> i32 {
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
    fn key(&mut self, algs: &[u32]) -> (u64, u32) {
        if self.rng.chance(8) {
            return (self.wild_key(), 0);
        }
        match self.good_key(algs) {
            Some(k) => k,
            None => (self.wild_key(), 0),
        }
    }

    /// A key of one of `algs` from the current group, made if there is none.
    fn good_key(&mut self, algs: &[u32]) -> Option<(u64, u32)> {
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
    fn make_key(&mut self, alg: u32) -> Option<u64> {
        let fd = self.w.groups[self.group].slots[0].load(Relaxed);
        if fd < 0 {
            return None;
        }
        let req = KvGenkey {
            algorithm: alg,
            ..Default::default()
        };
        let p = self.exact(size_of::<KvGenkey>());
        let o = self.exec(GENKEY, fd, &req, F_GENKEY, &p);
        let id = o.back?.key_id;
        self.added(alg, id);
        Some(id)
    }

    fn added(&mut self, alg: u32, id: u64) {
        let w = self.w;
        let evicted = w
            .pool
            .lock()
            .unwrap()
            .add(self.group, alg, id, &mut self.rng);
        if let Some(old) = evicted {
            if self.rng.chance(70) {
                let fd = w.groups[self.group].slots[0].load(Relaxed);
                let p = self.exact(size_of::<KvKeyref>());
                let req = KvKeyref {
                    key_id: old,
                    reserved: 0,
                };
                self.exec(DESTROY, fd, &req, F_KEYREF, &p);
            }
        }
    }

    /// Updates the pool after an operation on `id` failed.
    fn key_failed(&mut self, id: u64, r: Result<(), Errno>) {
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
    fn wild_key(&mut self) -> u64 {
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
                let alg = 1 + (r >> 16) as usize % 9;
                from(&pool.keys[g][alg])
            }
            7 => 1 + r % 50_000,
            _ => from(&pool.dead).wrapping_add(1),
        }
    }

    fn policy(&mut self, alg: u32) -> KvPolicy {
        let all = alg_usage(alg);
        KvPolicy {
            usage: match self.rng.below(10) {
                0 => all & self.rng.next() as u32,
                1 => all,
                _ => 0,
            },
            flags: if self.rng.chance(8) {
                KV_POLICY_NO_CALLER_NONCE
            } else {
                0
            },
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

    fn big(&mut self, len: u32) {
        if len >= 65536 {
            self.st.extra(Extra::BigOps);
        }
    }

    // ---- placing and mutating requests ----

    /// A request placement, mutated or not.
    fn plan(&mut self, size: usize) -> Plan {
        let mutate = self.rng.chance(45);
        self.a.reset(&mut self.rng);
        let loc = if mutate && self.rng.chance(12) {
            self.wild_loc(size)
        } else {
            Loc::Normal(self.a.alloc(size, &mut self.rng))
        };
        Plan { mutate, loc }
    }

    /// A clean request in normal memory.
    fn exact(&mut self, size: usize) -> Plan {
        self.a.reset(&mut self.rng);
        self.more(size)
    }

    /// Another clean request, keeping the current request's buffers.
    fn more(&mut self, size: usize) -> Plan {
        Plan {
            mutate: false,
            loc: Loc::Normal(self.a.alloc(size, &mut self.rng)),
        }
    }

    fn wild_loc(&mut self, size: usize) -> Loc {
        let a = &self.a;
        match self.rng.below(7) {
            0 | 1 => Loc::ReadOnly(a.ro + self.rng.below((PAGE - size) as u64)),
            2 | 3 => {
                let short = 1 + self.rng.below(size as u64 - 1) as usize;
                Loc::Straddle(a.tail_guard - (size - short) as u64, size - short)
            }
            4 => Loc::Bad(
                self.rng
                    .pick(&[0, 8, 0xffff_8880_0000_0000, 0xffff_ffff_8100_0000]),
            ),
            5 => Loc::Bad(a.tail_guard + self.rng.below(4 * PAGE as u64)),
            _ => Loc::Bad(
                self.rng
                    .pick(&[a.lead_guard, u64::MAX - 15, 0x8000_0000_0000_0000]),
            ),
        }
    }

    fn wild_len(&mut self) -> u32 {
        let m = self.max_data;
        if self.rng.chance(2) {
            let big = self.rng.pick(&[m, m.saturating_sub(1), 65536, 262_144]);
            return big.min(self.big_cap);
        }
        let small = self.rng.below(256) as u32;
        let mid = self.rng.below(8192) as u32;
        self.rng.pick(&[
            0,
            1,
            15,
            16,
            17,
            31,
            32,
            33,
            63,
            64,
            65,
            255,
            256,
            257,
            1023,
            1024,
            1025,
            4095,
            4096,
            4097,
            m.wrapping_add(1),
            m.wrapping_add(2),
            u32::MAX,
            u32::MAX - 15,
            0x8000_0000,
            0x7fff_ffff,
            small,
            mid,
        ])
    }

    /// A hostile pointer (never one into memory other than the arena).
    fn wild_ptr(&mut self, saddr: u64, b: &[u8], fields: &[F]) -> u64 {
        let a = &self.a;
        let r = self.rng.next();
        match self.rng.below(13) {
            0 => 0,
            1 => self.rng.pick(&[1, 8, 4095, 4096, 0x10000]),
            2 => self.rng.pick(&[
                0xffff_8880_0000_0000,
                0xffff_ffff_8100_0000,
                0xffff_ffff_ff60_0000,
                0xffff_ffff_ffff_f000,
            ]),
            3 => self.rng.pick(&[
                0x0000_8000_0000_0000,
                0x8000_0000_0000_0000,
                0x0000_7fff_ffff_f000,
            ]),
            4 => u64::MAX - r % 64,
            5 => a.tail_guard + r % (8 * PAGE as u64),
            6 => a.lead_guard + r % PAGE as u64,
            7 => a.ro + r % PAGE as u64,
            8 => a.tail_guard - 1 - r % 64,
            9 => saddr,
            10 => {
                // Alias another pointer of the same request.
                let ptrs: Vec<&F> = fields.iter().filter(|f| f.k == K::Ptr).collect();
                let f = ptrs[(r % ptrs.len() as u64) as usize];
                u64::from_ne_bytes(b[f.off..f.off + 8].try_into().unwrap())
            }
            11 => a.rw + r % a.rw_len as u64,
            _ => a.rw + r % 65536,
        }
    }

    fn wild32(&mut self, k: K) -> u32 {
        let r = self.rng.next() as u32;
        match k {
            K::Len | K::Count => self.wild_len(),
            K::Flags(m) => self
                .rng
                .pick(&[0, m, m | 1 << (r % 32), 1 << (r % 32), u32::MAX, r]),
            K::Res => self.rng.pick(&[1, 0x8000_0000, u32::MAX, r | 1]),
            K::Alg => self.rng.pick(&[0, 10, 255, u32::MAX, 1 + r % 9, 0x101]),
            K::Hash => self.rng.pick(&[0, 1, 2, 3, u32::MAX]),
            K::Caps => self.rng.pick(&[
                0,
                KV_CAP_ALL,
                KV_CAP_ALL + 1,
                u32::MAX,
                KV_CAP_READONLY,
                r & KV_CAP_ALL,
            ]),
            K::Bits => self.rng.pick(&[
                0,
                7,
                8,
                64,
                120,
                128,
                129,
                256,
                512,
                1024,
                1032,
                u32::MAX,
                0x8000_0000,
            ]),
            K::Usage => {
                self.rng
                    .pick(&[0, KV_USAGE_ALL, r & KV_USAGE_ALL, 1 << (r % 32), u32::MAX])
            }
            K::PFlags => self.rng.pick(&[0, 1, 2, u32::MAX]),
            K::ChildAlgs => self.rng.pick(&[
                0,
                KV_CHILD_ALGS_ALL,
                1 << KV_ALG_AES256_GCM,
                1 << KV_ALG_AES256_CBC,
                1 << (1 + r % 7),
                1 << (r % 32),
                r,
            ]),
            _ => r,
        }
    }

    fn wild64(&mut self, k: K, saddr: u64, b: &[u8], fields: &[F]) -> u64 {
        let r = self.rng.next();
        match k {
            K::Ptr => self.wild_ptr(saddr, b, fields),
            K::KeyId => self.wild_key(),
            K::Ttl => self.rng.pick(&[
                0,
                1,
                2,
                5,
                20,
                1000,
                u64::MAX,
                9_223_372_036_854,
                9_223_372_036_855,
                u64::MAX / 1_000_000 + 1,
                1 << 63,
            ]),
            K::Cursor => match r % 4 {
                0 => 0,
                1 => u64::MAX,
                2 => self.wild_key(),
                _ => r,
            },
            K::Max => self.rng.pick(&[0, 1, 2, 16, 1 << 20, u64::MAX]),
            K::Res => self.rng.pick(&[1, 1 << 63, u64::MAX, r | 1]),
            _ => r,
        }
    }

    /// Applies 1-3 mutations; returns whether a pointer or raw bytes changed.
    fn mutate(&mut self, b: &mut [u8], fields: &[F], saddr: u64) -> bool {
        let mut wild = false;
        let n = 1 + self.rng.below(3);
        for _ in 0..n {
            let roll = self.rng.below(100);
            if roll < 4 {
                let i = self.rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << self.rng.below(8);
                wild = true;
                continue;
            }
            if roll < 5 {
                self.rng.fill(b);
                wild = true;
                continue;
            }
            let f = self.rng.pick(fields);
            match f.size {
                4 => {
                    let v = self.wild32(f.k);
                    b[f.off..f.off + 4].copy_from_slice(&v.to_ne_bytes());
                }
                8 => {
                    let v = self.wild64(f.k, saddr, b, fields);
                    b[f.off..f.off + 8].copy_from_slice(&v.to_ne_bytes());
                    wild |= f.k == K::Ptr;
                }
                _ => {
                    let at = f.off + 8 * self.rng.below(f.size as u64 / 8) as usize;
                    let v = self.wild64(f.k, saddr, b, fields);
                    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
        wild
    }

    /// Places (and maybe mutates) `req`, issues `op` with it on `fd`, and
    /// checks what every success implies about the request.
    fn exec<T: Copy>(&mut self, op: usize, fd: i32, req: &T, fields: &[F], plan: &Plan) -> Out<T> {
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
        let r = self.call(op, fd, CMDS[op], plan.loc.addr(), bytes);
        // SAFETY: `bytes` holds a T (all bit patterns are valid for the ABI structs).
        let input: T = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) };
        let mut back = None;
        if r.is_ok() {
            if reserved_set {
                self.unexpected(op, "succeeded with a nonzero reserved field", bytes);
            }
            match plan.loc {
                Loc::Normal(a) => back = Some(self.a.get::<T>(a)),
                Loc::ReadOnly(_) if !NO_WRITE_BACK.contains(&op) => {
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

    /// A buffer with random contents.
    fn data(&mut self, len: u32) -> u64 {
        let p = self.a.alloc(len as usize, &mut self.rng);
        let n = (len as usize).min(4096);
        self.a.randomize(p, n, &mut self.rng);
        p
    }

    /// An output buffer with 32-byte canaries on both sides.
    fn guarded(&mut self, len: usize) -> u64 {
        let base = self.a.alloc(len + 64, &mut self.rng);
        self.a.set(base, len + 64, 0xa5);
        base + 32
    }

    /// Checks that nothing was written around a [`Self::guarded`] buffer.
    fn check_guard(&mut self, op: usize, p: u64, len: usize) {
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

    fn is_untouched(&self, p: u64, len: usize) -> bool {
        self.a.read(p, len).iter().all(|&b| b == 0xa5)
    }

    // ---- the ioctls ----

    fn step(&mut self) {
        match self.rng.below(1000) {
            0..=14 => self.manage(),
            15..=134 => self.roundtrip(),
            _ => {
                let op = self.rng.pick(&WEIGHTED);
                self.fuzz(op);
            }
        }
    }

    fn fuzz(&mut self, op: usize) {
        match op {
            GETCAPS => self.op_getcaps(),
            RESTRICT => self.op_restrict(),
            DUP => self.op_dup(),
            GENKEY => self.op_genkey(),
            IMPORT => self.op_import(),
            DESTROY | REVOKE => self.op_keyref(op),
            GETINFO => self.op_getinfo(),
            LIST => self.op_list(),
            AEAD_ENC | AEAD_DEC => self.op_aead(op),
            CBC_ENC | CBC_DEC => self.op_cbc(op),
            MAC | VERIFY_MAC => self.op_mac(op),
            HASH => self.op_hash(),
            SIGN => self.op_sign(),
            VERIFY => self.op_verify(),
            GET_PUBKEY => self.op_pubkey(),
            DERIVE => self.op_derive(),
            EXCHANGE => self.op_exchange(),
            _ => self.op_unknown(),
        }
    }

    fn op_getcaps(&mut self) {
        let fd = self.pick_fd(30);
        let p = self.plan(size_of::<KvCaps>());
        let o = self.exec(GETCAPS, fd, &KvCaps::default(), F_GETCAPS, &p);
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

    fn op_restrict(&mut self) {
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
            KV_CAP_ALL & !(1 << self.rng.below(15))
        } else {
            self.rng.next() as u32 & KV_CAP_ALL
        };
        let p = self.plan(size_of::<KvCaps>());
        let req = KvCaps {
            caps: keep,
            reserved: 0,
        };
        let o = self.exec(RESTRICT, fd, &req, F_RESTRICT, &p);
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

    /// DUP, with the fd lock held so the new fd's number is known: a DUP
    /// that fails (whatever the errno) must leave no new fd behind.
    fn op_dup(&mut self) {
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
                4..=6 => KV_CAP_ALL & !(1 << self.rng.below(15)),
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
        let o = self.exec(DUP, fd, &req, F_DUP, &p);
        let leaked = probe >= 0 && is_open(probe) && !w.holds(probe);
        match o.r {
            Ok(()) => {
                let Some(b) = o.back else {
                    if leaked {
                        close(probe);
                    }
                    return;
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
                    return;
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
                let c = self.exec(GETCAPS, b.fd, &KvCaps::default(), F_GETCAPS, &p2);
                if let Some(c) = c.back {
                    if c.caps != b.caps {
                        self.unexpected(
                            DUP,
                            &format!("granted {:#x} but GETCAPS says {:#x}", b.caps, c.caps),
                            &[],
                        );
                    }
                }
                let nslots = w.groups[g].slots.len() as u64;
                let slot = 1 + self.rng.below(nslots - 1) as usize;
                w.install(g, slot, b.fd);
            }
            // Including EFAULT: DUP makes sure it can write the reply
            // before it installs the fd.
            Err(e) => {
                if leaked {
                    self.unexpected(
                        DUP,
                        &format!("failed with {e:?} but left fd {probe} open"),
                        as_bytes(&o.input),
                    );
                    close(probe);
                }
            }
        }
    }

    fn op_genkey(&mut self) {
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
        let o = self.exec(GENKEY, fd, &req, F_GENKEY, &p);
        match (o.r, o.back) {
            (Ok(()), Some(b)) => {
                let ia = o.input.algorithm;
                let bits = if o.input.key_bits == 0 {
                    8 * key_sizes(ia).2
                } else {
                    o.input.key_bits
                };
                if b.key_id == 0 || !(1..=9).contains(&ia) || b.key_bits != bits {
                    self.unexpected(
                        GENKEY,
                        &format!("made key {} of {} bits", b.key_id, b.key_bits),
                        as_bytes(&o.input),
                    );
                } else {
                    self.added(ia, b.key_id);
                }
            }
            (Err(Errno::EDQUOT), _) => self.maybe_rotate(5),
            _ => {}
        }
    }

    fn op_import(&mut self) {
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
        let o = self.exec(IMPORT, fd, &req, F_IMPORT, &p);
        match (o.r, o.back) {
            (Ok(()), Some(b)) => {
                if b.key_id == 0 {
                    self.unexpected(IMPORT, "made key 0", as_bytes(&o.input));
                } else {
                    self.added(o.input.algorithm, b.key_id);
                }
            }
            (Err(Errno::EDQUOT), _) => self.maybe_rotate(5),
            _ => {}
        }
    }

    fn op_keyref(&mut self, op: usize) {
        let fd = self.pick_fd(50);
        let (id, _) = self.key(&ALL_ALGS);
        let p = self.plan(size_of::<KvKeyref>());
        let req = KvKeyref {
            key_id: id,
            reserved: 0,
        };
        let o = self.exec(op, fd, &req, F_KEYREF, &p);
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

    fn op_getinfo(&mut self) {
        let fd = self.pick_fd(30);
        let (id, _) = self.key(&ALL_ALGS);
        let p = self.plan(size_of::<KvKeyinfo>());
        let req = KvKeyinfo {
            key_id: id,
            ..Default::default()
        };
        let o = self.exec(GETINFO, fd, &req, F_KEYINFO, &p);
        if let Some(b) = o.back {
            if b.key_id != o.input.key_id
                || !(1..=9).contains(&b.algorithm)
                || !(1..=3).contains(&b.state)
                || b.reserved0 != 0
                || b.reserved != [0; 2]
                || b.policy.usage == 0
                || b.policy.usage & !alg_usage(b.algorithm) != 0
                || b.key_bits != 8 * key_sizes(b.algorithm).2 && !(6..=7).contains(&b.algorithm)
            {
                self.unexpected(GETINFO, &format!("reported {b:?}"), as_bytes(&o.input));
            }
        } else {
            self.key_failed(id, o.r);
        }
    }

    fn op_list(&mut self) {
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
        let o = self.exec(LIST, fd, &req, F_LIST, &p);
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
        if !o.wild && in_arena && !overlaps(i.ids_ptr, len, p.loc.addr(), size_of::<KvList>()) {
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

    fn op_aead(&mut self, op: usize) {
        let fd = self.pick_fd(50);
        let (id, _) = self.key(&AEAD_ALGS);
        let p = self.plan(size_of::<KvAead>());
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
        let o = self.exec(op, fd, &req, F_AEAD, &p);
        if let Some(b) = o.back {
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
        } else {
            self.key_failed(id, o.r);
        }
    }

    fn op_cbc(&mut self, op: usize) {
        let fd = self.pick_fd(50);
        let (id, _) = self.key(&CBC_ALGS);
        let p = self.plan(size_of::<KvCbc>());
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
        let o = self.exec(op, fd, &req, F_CBC, &p);
        if let Some(b) = o.back {
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
        } else {
            self.key_failed(id, o.r);
        }
    }

    fn op_mac(&mut self, op: usize) {
        let fd = self.pick_fd(50);
        let (id, alg) = self.key(&HMAC_ALGS);
        let p = self.plan(size_of::<KvMac>());
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
        let o = self.exec(op, fd, &req, F_MAC, &p);
        if o.r.is_ok() {
            if op == MAC {
                if let Some(b) = o.back {
                    if b.mac_len != 32 && b.mac_len != 64 {
                        self.unexpected(op, &format!("mac_len {}", b.mac_len), as_bytes(&o.input));
                    }
                }
            } else if !o.wild && !p.mutate {
                self.unexpected(op, "accepted a random MAC", as_bytes(&o.input));
            }
        } else {
            self.key_failed(id, o.r);
        }
    }

    fn op_hash(&mut self) {
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
        let o = self.exec(HASH, fd, &req, F_HASH, &p);
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

    fn op_sign(&mut self) {
        let fd = self.pick_fd(50);
        let (id, _) = self.key(&[KV_ALG_ED25519]);
        let p = self.plan(size_of::<KvSign>());
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
        let o = self.exec(SIGN, fd, &req, F_SIGN, &p);
        if let Some(b) = o.back {
            if b.sig_len != 64 {
                self.unexpected(SIGN, &format!("sig_len {}", b.sig_len), as_bytes(&o.input));
            }
        } else {
            self.key_failed(id, o.r);
        }
    }

    fn op_verify(&mut self) {
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
        let sig_ptr = self.data(64);
        let req = KvVerify {
            key_id: id,
            pubkey_ptr,
            data_ptr,
            sig_ptr,
            data_len: len,
            ..Default::default()
        };
        let o = self.exec(VERIFY, fd, &req, F_VERIFY, &p);
        if o.r.is_ok() && !o.wild && !p.mutate {
            self.unexpected(VERIFY, "accepted a random signature", as_bytes(&o.input));
        }
        if by_id {
            self.key_failed(id, o.r);
        }
    }

    fn op_pubkey(&mut self) {
        let fd = self.pick_fd(40);
        let (id, alg) = self.key(&[KV_ALG_ED25519, KV_ALG_X25519]);
        let p = self.plan(size_of::<KvPubkey>());
        let pubkey_ptr = self.a.alloc(32, &mut self.rng);
        let req = KvPubkey {
            key_id: id,
            pubkey_ptr,
            pubkey_len: 32,
            ..Default::default()
        };
        let o = self.exec(GET_PUBKEY, fd, &req, F_PUBKEY, &p);
        if let Some(b) = o.back {
            if b.pubkey_len != 32 {
                self.unexpected(
                    GET_PUBKEY,
                    &format!("pubkey_len {}", b.pubkey_len),
                    as_bytes(&o.input),
                );
            } else if !o.wild && !p.mutate && alg != 0 {
                self.remember_pub(alg, pubkey_ptr);
            }
        } else {
            self.key_failed(id, o.r);
        }
    }

    fn remember_pub(&mut self, alg: u32, ptr: u64) {
        let k: [u8; 32] = self.a.read(ptr, 32).try_into().unwrap();
        let w = self.w;
        let mut pool = w.pool.lock().unwrap();
        let list = if alg == KV_ALG_ED25519 {
            &mut pool.ed_pub
        } else {
            &mut pool.x_pub
        };
        super::push_capped(list, k, 32, &mut self.rng);
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

    fn check_new_key(&mut self, op: usize, kdf: &KvKdf, new_id: u64, back_kdf: &KvKdf, req: &[u8]) {
        let bits_ok = if kdf.key_bits == 0 {
            back_kdf.key_bits == 8 * key_sizes(kdf.algorithm).2
        } else {
            back_kdf.key_bits == kdf.key_bits
        };
        if new_id == 0 || !bits_ok || !(1..=7).contains(&kdf.algorithm) {
            self.unexpected(
                op,
                &format!("made key {new_id} of {} bits", back_kdf.key_bits),
                req,
            );
        } else {
            self.added(kdf.algorithm, new_id);
        }
    }

    fn op_derive(&mut self) {
        let fd = self.pick_fd(50);
        let (id, _) = self.key(&HMAC_ALGS);
        let p = self.plan(size_of::<KvDerive>());
        let req = KvDerive {
            key_id: id,
            kdf: self.kdf(),
            ..Default::default()
        };
        let o = self.exec(DERIVE, fd, &req, F_DERIVE, &p);
        if let Some(b) = o.back {
            self.check_new_key(
                DERIVE,
                &o.input.kdf,
                b.new_key_id,
                &b.kdf,
                as_bytes(&o.input),
            );
        } else {
            self.key_failed(id, o.r);
            if o.r == Err(Errno::EDQUOT) {
                self.maybe_rotate(5);
            }
        }
    }

    fn op_exchange(&mut self) {
        let fd = self.pick_fd(50);
        let (id, _) = self.key(&[KV_ALG_X25519]);
        let p = self.plan(size_of::<KvExchange>());
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
        let o = self.exec(EXCHANGE, fd, &req, F_EXCHANGE, &p);
        if let Some(b) = o.back {
            self.check_new_key(
                EXCHANGE,
                &o.input.kdf,
                b.new_key_id,
                &b.kdf,
                as_bytes(&o.input),
            );
        } else {
            self.key_failed(id, o.r);
        }
    }

    /// A command number with the keyvault magic that is none of the ABI's:
    /// wrong size, wrong direction, unused number.
    fn op_unknown(&mut self) {
        let fd = self.pick_fd(30);
        let cmd = loop {
            let known = self.rng.pick(&CMDS);
            let dir = self.rng.below(4) as u32;
            let size = match self.rng.below(4) {
                0 => self.rng.below(0x4000) as u32,
                1 => {
                    ((known >> 16) & 0x3fff)
                        .wrapping_add(self.rng.below(17) as u32)
                        .wrapping_sub(8)
                        & 0x3fff
                }
                2 => (known >> 16) & 0x3fff,
                _ => 0,
            };
            let nr = match self.rng.below(3) {
                0 => known & 0xff,
                _ => self.rng.below(256) as u32,
            };
            let c = (dir << 30) | (size << 16) | (KV_IOC_MAGIC << 8) | nr;
            if !CMDS.contains(&c) {
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
        if self.call(UNKNOWN, fd, cmd, arg, &cmd.to_ne_bytes()).is_ok() {
            self.unexpected(UNKNOWN, &format!("command {cmd:#x} succeeded"), &[]);
        }
    }

    // ---- round trips: valid requests whose results are checked ----

    fn roundtrip(&mut self) {
        self.st.extra(Extra::RoundTrips);
        match self.rng.below(8) {
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

    fn checked(&mut self) {
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
        let o = self.exec(AEAD_ENC, fd, &req, F_AEAD, &p);
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
        let o = self.exec(AEAD_DEC, fd, &req, F_AEAD, &p2);
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
        let o = self.exec(AEAD_DEC, fd, &req, F_AEAD, &p3);
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
        let o = self.exec(CBC_ENC, fd, &req, F_CBC, &p);
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
        let o = self.exec(CBC_DEC, fd, &req, F_CBC, &p2);
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
        let p = self.exact(size_of::<KvMac>());
        let len = self.rng.below(600) as u32;
        let data = self.data(len);
        let mac = self.guarded(64);
        let mut req = KvMac {
            key_id: id,
            data_ptr: data,
            mac_ptr: mac,
            data_len: len,
            mac_len: 64,
            reserved: [0; 2],
        };
        let o = self.exec(MAC, fd, &req, F_MAC, &p);
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
        let o = self.exec(VERIFY_MAC, fd, &req, F_MAC, &p2);
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
        let o = self.exec(VERIFY_MAC, fd, &req, F_MAC, &p3);
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
        let p = self.exact(size_of::<KvSign>());
        let len = self.rng.below(300) as u32;
        let data = self.data(len);
        let sig = self.guarded(64);
        let req = KvSign {
            key_id: id,
            data_ptr: data,
            sig_ptr: sig,
            data_len: len,
            sig_len: 64,
            reserved: [0; 2],
        };
        let o = self.exec(SIGN, fd, &req, F_SIGN, &p);
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
        if self.exec(VERIFY, fd, &v, F_VERIFY, &p2).r == Err(Errno::EBADMSG) {
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
        let o = self.exec(GET_PUBKEY, fd, &g, F_PUBKEY, &p3);
        self.check_guard(GET_PUBKEY, pk, 32);
        if o.r.is_err() {
            return;
        }
        self.remember_pub(KV_ALG_ED25519, pk);
        v.key_id = 0;
        v.pubkey_ptr = pk;
        let p4 = self.more(size_of::<KvVerify>());
        match self.exec(VERIFY, fd, &v, F_VERIFY, &p4).r {
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
        if self.exec(VERIFY, fd, &v, F_VERIFY, &p5).r.is_ok() {
            self.unexpected(VERIFY, "accepted a tampered signature", as_bytes(&v));
        }
        self.checked();
    }

    fn rt_hash(&mut self) {
        use sha2::Digest;
        let fd = self.pick_fd(50);
        let p = self.exact(size_of::<KvHash>());
        let len = self.rng.below(2000) as u32;
        let data = self.data(len);
        let digest = self.guarded(64);
        let alg = 1 + self.rng.below(2) as u32;
        let req = KvHash {
            algorithm: alg,
            data_len: len,
            data_ptr: data,
            digest_ptr: digest,
            digest_len: 64,
            ..Default::default()
        };
        let o = self.exec(HASH, fd, &req, F_HASH, &p);
        self.check_guard(HASH, digest, 64);
        let Some(b) = o.back else { return };
        let msg = self.a.read(data, len as usize);
        let want: Vec<u8> = if alg == KV_HASH_SHA256 {
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
                let o = self.exec(AEAD_ENC, fd, &req, F_AEAD, &p);
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
                let o = self.exec(MAC, fd, &req, F_MAC, &p);
                (MAC, o.r, Some(full))
            }
            2 => {
                let data = self.data(10);
                let req = KvSign {
                    key_id: id,
                    data_ptr: data,
                    sig_ptr: out,
                    data_len: 10,
                    sig_len: self.rng.below(64) as u32,
                    reserved: [0; 2],
                };
                let o = self.exec(SIGN, fd, &req, F_SIGN, &p);
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
                let o = self.exec(HASH, fd, &req, F_HASH, &p);
                (HASH, o.r, Some(full))
            }
            _ => {
                let req = KvPubkey {
                    key_id: id,
                    pubkey_ptr: out,
                    pubkey_len: self.rng.below(32) as u32,
                    ..Default::default()
                };
                let o = self.exec(GET_PUBKEY, fd, &req, F_PUBKEY, &p);
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
            if self.exec(GET_PUBKEY, fd, &req, F_PUBKEY, &p).r.is_err() {
                return;
            }
            self.remember_pub(KV_ALG_X25519, pubs[i]);
        }
        let salt_len = self.rng.below(40) as u32;
        let info_len = self.rng.below(40) as u32;
        let kdf = KvKdf {
            hash: 1 + self.rng.below(2) as u32,
            algorithm: KV_ALG_AES256_GCM,
            salt_len,
            salt_ptr: self.data(salt_len),
            info_ptr: self.data(info_len),
            info_len,
            ..Default::default()
        };
        let mut new = [0u64; 2];
        for (i, (id, peer)) in [(a, pubs[1]), (b, pubs[0])].into_iter().enumerate() {
            let req = KvExchange {
                key_id: id,
                peer_ptr: peer,
                kdf,
                ..Default::default()
            };
            let p = self.more(size_of::<KvExchange>());
            match self.exec(EXCHANGE, fd, &req, F_EXCHANGE, &p).back {
                Some(r) => new[i] = r.new_key_id,
                None => return,
            }
        }
        self.added(KV_ALG_AES256_GCM, new[0]);
        self.added(KV_ALG_AES256_GCM, new[1]);
        self.seal_open(fd, new[0], new[1], EXCHANGE);
    }

    /// Seals with key `k1`, opens with `k2`: must work (same key material).
    fn seal_open(&mut self, fd: i32, k1: u64, k2: u64, what: usize) {
        let len = self.rng.below(100) as u32;
        let pt = self.data(len);
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
            ..Default::default()
        };
        let p = self.more(size_of::<KvAead>());
        if self.exec(AEAD_ENC, fd, &req, F_AEAD, &p).r.is_err() {
            return;
        }
        req.key_id = k2;
        req.in_ptr = ct;
        req.out_ptr = out;
        let p = self.more(size_of::<KvAead>());
        match self.exec(AEAD_DEC, fd, &req, F_AEAD, &p).r {
            Ok(()) => {
                self.checked();
                if self.a.read(out, len as usize) != self.a.read(pt, len as usize) {
                    self.unexpected(what, "the two derived keys disagree", as_bytes(&req));
                }
            }
            Err(Errno::EBADMSG) => {
                self.unexpected(what, "the two sides derived different keys", as_bytes(&req))
            }
            Err(_) => {}
        }
    }

    /// The same DERIVE twice gives the same key (deterministic HKDF).
    fn rt_derive(&mut self) {
        let fd = self.pick_fd(80);
        let Some((parent, _)) = self.good_key(&HMAC_ALGS) else {
            return;
        };
        self.a.reset(&mut self.rng);
        let salt_len = self.rng.below(40) as u32;
        let info_len = self.rng.below(40) as u32;
        let kdf = KvKdf {
            hash: 1 + self.rng.below(2) as u32,
            algorithm: KV_ALG_CHACHA20_POLY1305,
            salt_len,
            salt_ptr: self.data(salt_len),
            info_ptr: self.data(info_len),
            info_len,
            ..Default::default()
        };
        let mut new = [0u64; 2];
        for n in &mut new {
            let req = KvDerive {
                key_id: parent,
                kdf,
                ..Default::default()
            };
            let p = self.more(size_of::<KvDerive>());
            let o = self.exec(DERIVE, fd, &req, F_DERIVE, &p);
            match o.back {
                Some(r) => *n = r.new_key_id,
                None => {
                    self.key_failed(parent, o.r);
                    return;
                }
            }
        }
        self.added(KV_ALG_CHACHA20_POLY1305, new[0]);
        self.added(KV_ALG_CHACHA20_POLY1305, new[1]);
        self.seal_open(fd, new[0], new[1], DERIVE);
    }

    // ---- fds and vaults ----

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

    /// Up to 12 (id, alg) pairs of group `g`.
    fn ids_of(&mut self, g: usize) -> Vec<(u64, u32)> {
        let pool = self.w.pool.lock().unwrap();
        let mut ids = Vec::new();
        for (alg, list) in pool.keys[g].iter().enumerate() {
            if let Some(id) = list.first() {
                ids.push((*id, alg as u32));
            }
        }
        ids
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
        let o = self.exec(DUP, fd, &req, F_DUP, &p);
        let Some(b) = o.back else {
            if probe >= 0 && is_open(probe) && !w.holds(probe) {
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
    fn maybe_rotate(&mut self, percent: u64) {
        let w = self.w;
        let g = if w.child {
            w.groups.len() - 1
        } else {
            self.rng.below(PARENT_GROUPS as u64) as usize
        };
        let fd = w.groups[g].slots[0].load(Relaxed);
        let caps = if fd >= 0 {
            let p = self.exact(size_of::<KvCaps>());
            self.exec(GETCAPS, fd, &KvCaps::default(), F_GETCAPS, &p)
                .back
                .map_or(0, |c| c.caps)
        } else {
            0
        };
        if caps & (KV_CAP_GENKEY | KV_CAP_IMPORT) == KV_CAP_GENKEY | KV_CAP_IMPORT
            && !self.rng.chance(percent)
        {
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
            if let Some(b) = self.exec(IMPORT, fd, &req, F_IMPORT, &p).back {
                self.added(alg, b.key_id);
            }
        }
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
