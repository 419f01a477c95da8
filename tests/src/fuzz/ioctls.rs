//! The ioctls the fuzzer issues: every one of the ABI's list
//! (`KV_IOCTLS`), by construction.
//!
//! An ioctl is known here by its index in `KV_IOCTLS` (its histogram
//! bucket); one bucket past them counts command numbers that are none of
//! them. [`OPS`] gives each ioctl its request's field table, how often it is
//! fuzzed and its request generator, row for row with `KV_IOCTLS`: an ioctl
//! added to the ABI does not compile here until it has its row. Names come
//! from the list, and so do direction and capabilities.

use super::fields::*;
use super::worker::Worker;
use keyvault::uapi::*;

/// The index in `KV_IOCTLS` of command `cmd` (a compile error if there is none).
pub const fn op(cmd: u32) -> usize {
    let mut i = 0;
    while i < KV_IOCTLS.len() {
        if KV_IOCTLS[i].cmd == cmd {
            return i;
        }
        i += 1;
    }
    panic!("not in KV_IOCTLS")
}

pub const GETCAPS: usize = op(KV_IOC_GETCAPS);
pub const RESTRICT: usize = op(KV_IOC_RESTRICT);
pub const DUP: usize = op(KV_IOC_DUP);
pub const LIMITS: usize = op(KV_IOC_LIMITS);
pub const GENKEY: usize = op(KV_IOC_GENKEY);
pub const IMPORT: usize = op(KV_IOC_IMPORT);
pub const DESTROY: usize = op(KV_IOC_DESTROY);
pub const REVOKE: usize = op(KV_IOC_REVOKE);
pub const GETINFO: usize = op(KV_IOC_GETINFO);
pub const LIST: usize = op(KV_IOC_LIST);
pub const IMPORT_KEYRING: usize = op(KV_IOC_IMPORT_KEYRING);
pub const AEAD_ENC: usize = op(KV_IOC_AEAD_ENCRYPT);
pub const AEAD_DEC: usize = op(KV_IOC_AEAD_DECRYPT);
pub const CBC_ENC: usize = op(KV_IOC_CBC_ENCRYPT);
pub const CBC_DEC: usize = op(KV_IOC_CBC_DECRYPT);
pub const MAC: usize = op(KV_IOC_MAC);
pub const VERIFY_MAC: usize = op(KV_IOC_VERIFY_MAC);
pub const HASH: usize = op(KV_IOC_HASH);
pub const SIGN: usize = op(KV_IOC_SIGN);
pub const VERIFY: usize = op(KV_IOC_VERIFY);
pub const GET_PUBKEY: usize = op(KV_IOC_GET_PUBKEY);
pub const DERIVE: usize = op(KV_IOC_DERIVE);
pub const EXCHANGE: usize = op(KV_IOC_KEYEXCHANGE);
pub const WRAP: usize = op(KV_IOC_WRAP);
pub const UNWRAP: usize = op(KV_IOC_UNWRAP);
/// Any other command number with the keyvault magic.
pub const UNKNOWN: usize = KV_IOCTLS.len();
/// Histogram buckets: the ioctls, then [`UNKNOWN`].
pub const NCMD: usize = KV_IOCTLS.len() + 1;

/// The name in the histogram: the ABI's without `KV_IOC_`.
pub fn name(op: usize) -> &'static str {
    KV_IOCTLS.get(op).map_or("unknown cmd", |i| {
        i.name.strip_prefix("KV_IOC_").unwrap_or(i.name)
    })
}

/// Whether `op` writes its request struct back on success (the others may
/// succeed with a read-only request).
pub fn writes_back(op: usize) -> bool {
    KV_IOCTLS[op].writes_request()
}

const fn cap(op: usize) -> u32 {
    KV_IOCTLS[op].cap
}

/// The capabilities of the ioctls that make keys (a key-limited DUP may
/// have none of them).
pub const MAKES_KEYS: u32 =
    cap(GENKEY) | cap(IMPORT) | cap(IMPORT_KEYRING) | cap(DERIVE) | cap(EXCHANGE) | cap(UNWRAP);
/// How many capability bits there are.
pub const NCAPS: u64 = KV_CAP_ALL.count_ones() as u64;
/// What seeding a fresh vault takes (GENKEY and IMPORT).
pub const SEEDS_KEYS: u32 = cap(GENKEY) | cap(IMPORT);

/// How the fuzzer treats one ioctl.
pub struct Op {
    pub cmd: u32,
    /// Its request struct's fields.
    pub fields: &'static [F],
    /// How often it is fuzzed, relative to the others.
    pub weight: usize,
    /// Makes a valid-looking request, maybe mutates it, issues and checks it.
    pub fuzz: fn(&mut Worker<'_>, usize),
}

macro_rules! ops {
    ($($cmd:ident, $fields:ident, $weight:literal, $fuzz:expr;)*) => {
        [$(Op { cmd: $cmd, fields: $fields, weight: $weight, fuzz: $fuzz }),*]
    };
}

/// Every ioctl, row for row with `KV_IOCTLS`.
pub const OPS: &[Op] = &ops! {
    KV_IOC_GETCAPS, F_GETCAPS, 3, |w, _| w.op_getcaps();
    KV_IOC_RESTRICT, F_RESTRICT, 1, |w, _| w.op_restrict();
    KV_IOC_DUP, F_DUP, 2, |w, _| w.op_dup();
    KV_IOC_LIMITS, F_LIMITS, 2, |w, _| w.op_limits();
    KV_IOC_GENKEY, F_GENKEY, 4, |w, _| w.op_genkey();
    KV_IOC_IMPORT, F_IMPORT, 4, |w, _| w.op_import();
    KV_IOC_DESTROY, F_KEYREF, 2, |w, op| w.op_keyref(op);
    KV_IOC_REVOKE, F_KEYREF, 1, |w, op| w.op_keyref(op);
    KV_IOC_GETINFO, F_KEYINFO, 5, |w, _| w.op_getinfo();
    KV_IOC_LIST, F_LIST, 4, |w, _| w.op_list();
    KV_IOC_IMPORT_KEYRING, F_IMPORT_KEYRING, 3, |w, _| w.op_import_keyring();
    KV_IOC_AEAD_ENCRYPT, F_AEAD, 6, |w, op| w.op_aead(op);
    KV_IOC_AEAD_DECRYPT, F_AEAD, 5, |w, op| w.op_aead(op);
    KV_IOC_CBC_ENCRYPT, F_CBC, 4, |w, op| w.op_cbc(op);
    KV_IOC_CBC_DECRYPT, F_CBC, 4, |w, op| w.op_cbc(op);
    KV_IOC_MAC, F_MAC, 5, |w, op| w.op_mac(op);
    KV_IOC_VERIFY_MAC, F_MAC, 4, |w, op| w.op_mac(op);
    KV_IOC_HASH, F_HASH, 3, |w, _| w.op_hash();
    KV_IOC_SIGN, F_SIGN, 4, |w, _| w.op_sign();
    KV_IOC_VERIFY, F_VERIFY, 4, |w, _| w.op_verify();
    KV_IOC_GET_PUBKEY, F_PUBKEY, 4, |w, _| w.op_pubkey();
    KV_IOC_DERIVE, F_DERIVE, 4, |w, _| w.op_derive();
    KV_IOC_KEYEXCHANGE, F_EXCHANGE, 4, |w, _| w.op_exchange();
    KV_IOC_WRAP, F_WRAP, 4, |w, _| w.op_wrap();
    KV_IOC_UNWRAP, F_UNWRAP, 4, |w, _| w.op_unwrap();
};

const _: () = {
    assert!(
        OPS.len() == KV_IOCTLS.len(),
        "an ioctl of KV_IOCTLS has no row in OPS"
    );
    let mut i = 0;
    while i < OPS.len() {
        assert!(
            OPS[i].cmd == KV_IOCTLS[i].cmd,
            "OPS is not in KV_IOCTLS's order"
        );
        i += 1;
    }
};

/// How often unknown command numbers are tried, relative to the ioctls.
const UNKNOWN_WEIGHT: usize = 5;

const fn total_weight() -> usize {
    let (mut n, mut i) = (UNKNOWN_WEIGHT, 0);
    while i < OPS.len() {
        n += OPS[i].weight;
        i += 1;
    }
    n
}

/// Every op [`Op::weight`] times, and [`UNKNOWN`]: a uniform pick is the mix.
pub const WEIGHTED: [usize; total_weight()] = {
    let mut w = [UNKNOWN; total_weight()];
    let (mut n, mut i) = (0, 0);
    while i < OPS.len() {
        let mut k = 0;
        while k < OPS[i].weight {
            w[n] = i;
            n += 1;
            k += 1;
        }
        i += 1;
    }
    w
};
