//! Kernel keyring keys for IMPORT_KEYRING: made once at start, before the
//! fork and the threads (so the parent, the child and all their workers
//! share them), in a fresh anonymous session keyring of this process: logon
//! and user keys whose payloads are key sizes of some algorithms (and of
//! none), a revoked one, one that expires a second after start, one its
//! possessor may not search, and a keyring. Each serial's kind says which
//! of the keyring's errnos (ENOKEY, EACCES, EKEYREVOKED, EKEYEXPIRED,
//! EOPNOTSUPP) an IMPORT_KEYRING of it may give, whatever else the request
//! says; the payloads are known, so an imported key is checked against an
//! IMPORT of the same bytes (roundtrip.rs).

use super::fields::fits;
use super::rng::Rng;
use super::worker::Worker;
use nix::errno::Errno;
use std::sync::OnceLock;

#[allow(dead_code)] // kv-vmtests' helpers, shared by path: the fuzzer needs some
#[path = "../support/keyring.rs"]
mod sys;

const KEYCTL_DESCRIBE: libc::c_long = 6;
/// Possessor: view and setattr, not search; user: view.
const PERM_NO_SEARCH: u32 = 0x2100_0000 | 0x0001_0000;

/// What a keyring key is, for IMPORT_KEYRING.
#[derive(Clone)]
pub enum Kind {
    /// A logon or user key with this payload.
    Payload(Vec<u8>),
    /// The same, expiring one second after start.
    Expiring(Vec<u8>),
    Revoked,
    /// Not searchable by its possessor.
    NoSearch,
    /// A keyring: no key payload.
    Keyring,
}

#[derive(Clone)]
pub struct RingKey {
    pub serial: i32,
    pub kind: Kind,
}

static KEYS: OnceLock<Vec<RingKey>> = OnceLock::new();

/// The keyring keys made at start (none if the kernel has no keyrings).
pub fn keys() -> &'static [RingKey] {
    KEYS.get().map_or(&[], |k| k.as_slice())
}

/// add_key(2) into our session keyring; None (said on stderr) if refused.
fn add_key(kind: &str, desc: &str, payload: &[u8]) -> Option<i32> {
    sys::add_key(kind, desc, payload, sys::SESSION_KEYRING)
        .inspect_err(|e| eprintln!("kv-fuzz: add_key {kind} {desc}: {e}"))
        .ok()
}

/// Makes the keys, in a new session keyring. Call before any thread or
/// fork. Returns how many.
pub fn setup(rng: &mut Rng) -> usize {
    if let Err(e) = sys::join_new_session_keyring() {
        eprintln!("kv-fuzz: no session keyring ({e}): IMPORT_KEYRING gets no keyring keys");
        let _ = KEYS.set(Vec::new());
        return 0;
    }
    let mut keys = Vec::new();
    let mut bytes = |n: usize| {
        let mut b = vec![0u8; n];
        rng.fill(&mut b);
        b
    };
    // Key sizes of some algorithms (16: AES-128, HMAC; 32: most; 24, 48:
    // HMAC only; 64, 128: HMAC-SHA512), and of none (1, 15, 129, 200).
    for (i, n) in [16, 32, 64, 128, 24, 48, 32, 1, 15, 129, 200]
        .into_iter()
        .enumerate()
    {
        let p = bytes(n);
        let made = if i < 4 {
            add_key("logon", &format!("kvfuzz:{i}"), &p)
        } else {
            add_key("user", &format!("kvfuzz-{i}"), &p)
        };
        if let Some(serial) = made {
            keys.push(RingKey {
                serial,
                kind: Kind::Payload(p),
            });
        }
    }
    let p = bytes(32);
    if let Some(s) = add_key("user", "kvfuzz-expiring", &p) {
        if sys::set_key_timeout(s, 1).is_ok() {
            keys.push(RingKey {
                serial: s,
                kind: Kind::Expiring(p),
            });
        }
    }
    if let Some(s) = add_key("user", "kvfuzz-revoked", &bytes(32)) {
        if sys::revoke_key(s).is_ok() {
            keys.push(RingKey {
                serial: s,
                kind: Kind::Revoked,
            });
        }
    }
    if let Some(s) = add_key("logon", "kvfuzz:nosearch", &bytes(32)) {
        if sys::set_key_perm(s, PERM_NO_SEARCH).is_ok() {
            keys.push(RingKey {
                serial: s,
                kind: Kind::NoSearch,
            });
        }
    }
    if let Some(s) = add_key("keyring", "kvfuzz-ring", &[]) {
        keys.push(RingKey {
            serial: s,
            kind: Kind::Keyring,
        });
    }
    let n = keys.len();
    let _ = KEYS.set(keys);
    n
}

/// The kind of `serial`: one of ours, or None.
pub fn kind(serial: i32) -> Option<&'static Kind> {
    keys().iter().find(|k| k.serial == serial).map(|k| &k.kind)
}

/// Whether no key has `serial` (keyctl DESCRIBE says ENOKEY).
pub fn absent(serial: i32) -> bool {
    let mut buf = [0u8; 256];
    // SAFETY: keyctl(2) DESCRIBE into a buffer of the length given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            libc::c_long::from(serial),
            buf.as_mut_ptr(),
            buf.len(),
            0,
        )
    };
    r < 0 && Errno::last() == Errno::ENOKEY
}

/// The keyring's own errnos.
pub const RING_ERRNOS: [Errno; 5] = [
    Errno::ENOKEY,
    Errno::EACCES,
    Errno::EKEYREVOKED,
    Errno::EKEYEXPIRED,
    Errno::EOPNOTSUPP,
];

/// Which of [`RING_ERRNOS`] an IMPORT_KEYRING of `serial` may fail with,
/// and whether it may succeed (as algorithm `alg`): the lookup's verdict,
/// whatever the rest of the request. `lookup_user_key`: 0 and below -8 are
/// EINVAL, and so is -6 (group keyrings); -1, -2, -7, -8 (thread, process
/// keyring, request-key authorization, requestor) ENOKEY when the caller
/// has none (this one never makes them); -3, -4, -5 are keyrings.
pub fn verdict(serial: i32, alg: u32) -> (&'static [Errno], bool) {
    use Errno::*;
    match (kind(serial), serial) {
        (Some(Kind::Payload(p)), _) => (&[], fits(alg, p.len())),
        // Expired, then garbage-collected (key_gc_delay, 5 minutes).
        (Some(Kind::Expiring(p)), _) => (&[EKEYEXPIRED, ENOKEY], fits(alg, p.len())),
        (Some(Kind::Revoked), _) => (&[EKEYREVOKED, ENOKEY], false),
        (Some(Kind::NoSearch), _) => (&[EACCES], false),
        (Some(Kind::Keyring), _) | (None, -5..=-3) => (&[EOPNOTSUPP], false),
        (None, -2..=-1 | -8..=-7) => (&[ENOKEY], false),
        (None, -6 | 0) | (None, i32::MIN..=-9) => (&[], false),
        // Someone else's key, or none.
        (None, _) => (&RING_ERRNOS, false),
    }
}

impl Worker<'_> {
    /// A hostile serial: special, ours, next to ours, random.
    pub fn wild_serial(&mut self) -> i32 {
        let r = self.rng.next() as i32;
        match self.rng.below(6) {
            0 => self.rng.pick(&[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]),
            1 => self.rng.pick(&[i32::MIN, i32::MAX, 1]),
            2 | 3 => match keys() {
                [] => r,
                k => k[self.rng.below(k.len() as u64) as usize].serial,
            },
            4 => match keys() {
                [] => r,
                k => k[self.rng.below(k.len() as u64) as usize]
                    .serial
                    .wrapping_add(1),
            },
            _ => r,
        }
    }

    /// A serial and algorithm for IMPORT_KEYRING: mostly one of our
    /// payload keys as an algorithm its size fits.
    pub fn ring_serial(&mut self) -> (i32, u32) {
        let payloads: Vec<(i32, usize)> = keys()
            .iter()
            .filter_map(|k| match &k.kind {
                Kind::Payload(p) | Kind::Expiring(p) => Some((k.serial, p.len())),
                _ => None,
            })
            .collect();
        let alg = 1 + self.rng.below(9) as u32;
        if payloads.is_empty() || self.rng.chance(25) {
            return (self.wild_serial(), alg);
        }
        let (serial, len) = self.rng.pick(&payloads);
        let algs: Vec<u32> = (1..=9).filter(|&a| fits(a, len)).collect();
        if algs.is_empty() || self.rng.chance(15) {
            (serial, alg)
        } else {
            (serial, self.rng.pick(&algs))
        }
    }
}
