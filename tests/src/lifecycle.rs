//! A key's and a vault's lifecycle across handles, processes and users:
//! DUP (a new, restricted open file description), handing it to another
//! process (fork, SCM_RIGHTS), revocation, expiry on the boot-time clock,
//! per-key policy, per-user quotas across vaults, and the udev rule that lets
//! an unprivileged group open /dev/keyvault.
//!
//! DUP goes through raw ioctls (not `Vault::dup`) so these tests pin the ABI
//! itself.

use crate::harness::{expect_errno, expect_raw, ok};
use crate::sharing::{recv_fd, send_fd, spawn, wait};
use crate::util::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

const STATS: &str = "/sys/kernel/debug/keyvault/stats";

/// The module-wide count of live keys (debugfs).
pub fn live_keys() -> u64 {
    let text = std::fs::read_to_string(STATS).unwrap_or_else(|e| panic!("{STATS}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("keys:")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'keys:' in {STATS}: {text}"))
}

/// KV_IOC_DUP on a raw fd: the new fd and the capabilities granted.
pub fn dup_fd(fd: RawFd, caps: u32, keys: &[KeyId]) -> Result<(OwnedFd, u32), Errno> {
    let ids: Vec<u64> = keys.iter().map(|k| k.0).collect();
    let mut r = KvDup {
        caps,
        nkeys: ids.len() as u32,
        keys_ptr: if ids.is_empty() {
            0
        } else {
            ids.as_ptr() as u64
        },
        ..Default::default()
    };
    // SAFETY: `r` is the struct KV_IOC_DUP encodes; `ids` outlives the call.
    Errno::result(unsafe { libc::ioctl(fd, KV_IOC_DUP as _, &mut r as *mut KvDup) })?;
    assert!(r.fd >= 0, "DUP succeeded but returned fd {}", r.fd);
    assert_ne!(r.fd, fd, "DUP returned the fd it was called on");
    // SAFETY: the kernel just installed this fd for us; nothing else owns it.
    Ok((unsafe { OwnedFd::from_raw_fd(r.fd) }, r.caps))
}

/// KV_IOC_DUP: a new handle with `caps & current`, limited to `keys` unless empty.
pub fn dup(v: &Vault, caps: Caps, keys: &[KeyId]) -> Result<Vault, Errno> {
    dup_fd(v.as_raw_fd(), caps.bits(), keys).map(|(fd, _)| Vault::from_fd(fd))
}

/// KV_IOC_DERIVE (HKDF-SHA256) of a new key of `alg` from `parent`.
pub fn derive(v: &Vault, parent: KeyId, alg: u32, policy: KvPolicy) -> Result<KeyId, Errno> {
    let (salt, info) = (b"salt", b"keyvault lifecycle");
    let mut r = KvDerive {
        key_id: parent.0,
        kdf: KvKdf {
            hash: KV_HASH_SHA256,
            algorithm: alg,
            salt_ptr: salt.as_ptr() as u64,
            salt_len: salt.len() as u32,
            info_ptr: info.as_ptr() as u64,
            info_len: info.len() as u32,
            policy,
            ..Default::default()
        },
        ..Default::default()
    };
    ioctl(v, KV_IOC_DERIVE, &mut r)?;
    Ok(KeyId(r.new_key_id))
}

/// Runs `f` with effective uid `uid`, then goes back to root. Only in a
/// forked child (the runner itself must stay root), whose real and saved
/// uids stay 0: keys are charged to the euid of the process that makes them.
pub fn as_euid<T>(uid: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: plain syscalls on this (single-threaded, forked) process.
    assert_eq!(
        unsafe { libc::seteuid(uid) },
        0,
        "seteuid({uid}): {}",
        Errno::last()
    );
    let r = f();
    // SAFETY: as above; the saved uid is 0, so this is allowed.
    assert_eq!(
        unsafe { libc::seteuid(0) },
        0,
        "seteuid(0): {}",
        Errno::last()
    );
    r
}

/// Becomes `uid`/`gid` with exactly the supplementary `groups`, for good
/// (real, effective and saved ids). Only in a forked child.
fn become_user(uid: u32, gid: u32, groups: &[u32]) {
    // SAFETY: plain syscalls on this (single-threaded, forked) process; the
    // group list points at `groups.len()` valid gids.
    unsafe {
        assert_eq!(
            libc::setgroups(groups.len(), groups.as_ptr()),
            0,
            "setgroups: {}",
            Errno::last()
        );
        assert_eq!(
            libc::setresgid(gid, gid, gid),
            0,
            "setresgid: {}",
            Errno::last()
        );
        assert_eq!(
            libc::setresuid(uid, uid, uid),
            0,
            "setresuid: {}",
            Errno::last()
        );
    }
}

/// Runs `child` in a forked process and asserts it exits 0 (a failed check
/// in the child panics there, which prints why and exits 101).
/// A vault opened by `uid` (through a device node of its own, as the
/// udev rule would give it one), so its keys are charged to `uid`.
pub fn open_as(uid: u32) -> Vault {
    use std::os::unix::fs::{chown, MetadataExt};
    let path = format!("/tmp/keyvault-uid-{uid}");
    if std::fs::metadata(&path).is_err() {
        let rdev = std::fs::metadata("/dev/keyvault").expect("/dev/keyvault").rdev();
        let node = std::ffi::CString::new(path.clone()).expect("path");
        // SAFETY: a plain syscall with a valid NUL-terminated path.
        let r = unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o600, rdev) };
        assert_eq!(r, 0, "mknod {path}: {}", Errno::last());
        chown(&path, Some(uid), None).unwrap_or_else(|e| panic!("chown {path}: {e}"));
    }
    as_euid(uid, || ok(Vault::open_path(&path)))
}

fn in_child(what: &str, child: impl FnOnce() -> i32) {
    assert_eq!(
        wait(spawn(child)),
        0,
        "{what}: the child's checks failed (see above)"
    );
}

/// The open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn is_cloexec(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(flags >= 0, "F_GETFD: {}", Errno::last());
    flags & libc::FD_CLOEXEC != 0
}

fn status_flags(fd: RawFd) -> i32 {
    // SAFETY: F_GETFL on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", Errno::last());
    flags
}

fn caps_of(bits: u32) -> Caps {
    Caps::from_bits_retain(bits)
}

const PLAIN: &[u8] = b"thirty-two bytes of plaintext!!!";

fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair")
}

/// An AEAD message as bytes: nonce, tag, ciphertext.
fn seal(v: &Vault, k: KeyId) -> Vec<u8> {
    let (ct, sealed) = ok(v.aead_encrypt(k, PLAIN, b"aad", None));
    [&sealed.nonce[..], &sealed.tag[..], &ct[..]].concat()
}

/// Opens a message from [`seal`].
fn open(v: &Vault, k: KeyId, msg: &[u8]) -> keyvault::Result<Vec<u8>> {
    let nonce: [u8; 12] = msg[..12].try_into().unwrap();
    let tag: [u8; 16] = msg[12..28].try_into().unwrap();
    v.aead_decrypt(k, &msg[28..], b"aad", &nonce, &tag)
        .map(|p| p.to_vec())
}

// ---------------------------------------------------------------- DUP

pub fn dup_makes_a_new_cloexec_fd_and_description_with_the_caps_asked_and_the_original_keeps_its_own(
) {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let mut r = KvDup {
        caps: KV_CAP_READONLY | KV_CAP_RESTRICT,
        ..Default::default()
    };
    assert_eq!(ioctl(&v, KV_IOC_DUP, &mut r), Ok(0));
    assert_eq!(
        r.caps,
        KV_CAP_READONLY | KV_CAP_RESTRICT,
        "granted caps written back"
    );
    assert!(r.fd >= 0 && r.fd != v.as_raw_fd(), "fd {}", r.fd);
    // SAFETY: the kernel just installed this fd for us.
    let d = Vault::from_fd(unsafe { OwnedFd::from_raw_fd(r.fd) });
    assert!(is_cloexec(d.as_raw_fd()), "a DUP fd is close-on-exec");
    assert_eq!(ok(d.caps()).bits(), KV_CAP_READONLY | KV_CAP_RESTRICT);
    assert_eq!(ok(v.caps()), Caps::all(), "the original keeps every cap");
    // Same vault: same keys, both ways.
    assert_eq!(ok(d.list()), vec![k]);
    let k2 = ok(v.generate(Algorithm::HmacSha256));
    assert_eq!(ok(d.list()), vec![k, k2]);
    // A new open file description: RESTRICT and file status flags on the
    // dup do not reach the original (unlike dup(2), see sharing.rs).
    assert_eq!(ok(d.restrict(Caps::ENCRYPT)), Caps::ENCRYPT);
    assert_eq!(ok(v.caps()), Caps::all());
    // SAFETY: F_SETFL on an fd we own.
    assert_eq!(
        unsafe { libc::fcntl(d.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) },
        0
    );
    assert_ne!(status_flags(d.as_raw_fd()) & libc::O_NONBLOCK, 0);
    assert_eq!(
        status_flags(v.as_raw_fd()) & libc::O_NONBLOCK,
        0,
        "shared description"
    );
}

pub fn dup_grants_only_caps_the_handle_has_and_dup_of_dup_only_shrinks() {
    let v = ok(Vault::open());
    ok(v.restrict(Caps::READONLY | Caps::RESTRICT | Caps::REVOKE));
    let (d, granted) = dup_fd(v.as_raw_fd(), KV_CAP_ALL, &[]).expect("dup");
    assert_eq!(
        caps_of(granted),
        Caps::READONLY | Caps::RESTRICT | Caps::REVOKE
    );
    let (dd, granted) = dup_fd(
        d.as_raw_fd(),
        KV_CAP_ENCRYPT | KV_CAP_RESTRICT | KV_CAP_GENKEY,
        &[],
    )
    .expect("dup of dup");
    assert_eq!(caps_of(granted), Caps::ENCRYPT | Caps::RESTRICT);
    let dd = Vault::from_fd(dd);
    expect_errno(dd.generate(Algorithm::Aes256Gcm), Errno::EPERM);
    let (_, granted) = dup_fd(dd.as_raw_fd(), 0, &[]).expect("dup with no caps");
    assert_eq!(granted, 0);
}

pub fn dup_needs_the_restrict_capability() {
    let v = ok(Vault::open());
    ok(v.restrict(Caps::all() - Caps::RESTRICT));
    expect_raw(
        dup_fd(v.as_raw_fd(), KV_CAP_READONLY, &[]).map(|_| 0),
        Errno::EPERM,
    );
    let v = ok(Vault::open());
    ok(v.restrict(Caps::READONLY));
    expect_raw(
        dup_fd(v.as_raw_fd(), KV_CAP_READONLY, &[]).map(|_| 0),
        Errno::EPERM,
    );
}

pub fn dup_refuses_unknown_caps_flags_reserved_and_a_nonzero_fd_with_einval_and_makes_no_fd() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let ids = [k.0];
    let fds = open_fds();
    let base = KvDup {
        caps: KV_CAP_READONLY,
        ..Default::default()
    };
    let mut bad = vec![
        KvDup {
            caps: 1 << 15,
            ..base
        },
        KvDup {
            caps: KV_CAP_ALL | 1 << 31,
            ..base
        },
        KvDup { flags: 1, ..base },
        KvDup {
            flags: 1 << 31,
            ..base
        },
        KvDup {
            reserved: [1, 0],
            ..base
        },
        KvDup {
            reserved: [0, u64::MAX],
            ..base
        },
        KvDup { fd: 3, ..base },
        KvDup { fd: -1, ..base },
    ];
    // The same refusals with a key list.
    let limited: Vec<KvDup> = bad
        .iter()
        .map(|r| KvDup {
            nkeys: 1,
            keys_ptr: ids.as_ptr() as u64,
            ..*r
        })
        .collect();
    bad.extend(limited);
    for mut r in bad {
        let before = r;
        expect_raw(ioctl(&v, KV_IOC_DUP, &mut r), Errno::EINVAL);
        assert_eq!(
            (r.caps, r.fd),
            (before.caps, before.fd),
            "a refused DUP writes nothing back"
        );
    }
    assert_eq!(open_fds(), fds, "a refused DUP leaves no fd behind");
    assert_eq!(ok(v.caps()), Caps::all());
}

pub fn dup_limited_to_keys_sees_uses_and_lists_only_those() {
    let v = ok(Vault::open());
    let [a, b, c] = [(); 3].map(|_| ok(v.generate(Algorithm::Aes256Gcm)));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let d = dup(
        &v,
        Caps::READONLY | Caps::DESTROY | Caps::REVOKE,
        &[c, a, h],
    )
    .expect("dup");
    assert_eq!(ok(d.caps()), Caps::READONLY | Caps::DESTROY | Caps::REVOKE);
    // The others are ENOENT for every keyed request...
    expect_errno(d.info(b), Errno::ENOENT);
    expect_errno(d.destroy(b), Errno::ENOENT);
    expect_errno(d.revoke(b), Errno::ENOENT);
    expect_errno(d.aead_encrypt(b, PLAIN, b"", None), Errno::ENOENT);
    let msg = seal(&v, b);
    expect_errno(open(&d, b, &msg), Errno::ENOENT);
    // ...and unlisted: the total counts only the keys this handle sees.
    assert_eq!(ok(d.list()), vec![a, c, h]);
    assert_eq!(ok(d.list_page(None, 1)).total, 3);
    // Its own keys work.
    ok(d.info(a));
    let msg = seal(&d, a);
    assert_eq!(
        ok(open(&v, a, &msg)),
        PLAIN,
        "the original opens what the dup sealed"
    );
    ok(d.mac(h, b"data"));
    // b is untouched through the original.
    assert_eq!(ok(v.info(b)).state, KeyState::Active);
    // Destroying through the dup removes the key from the vault.
    ok(d.destroy(c));
    expect_errno(v.info(c), Errno::ENOENT);
    assert_eq!(ok(d.list()), vec![a, h]);
    assert_eq!(ok(d.list_page(None, 16)).total, 2);
    ok(d.revoke(a));
    assert_eq!(ok(v.info(a)).state, KeyState::Revoked);
    // Keys made later through the original are not among its keys.
    let e = ok(v.generate(Algorithm::Aes256Gcm));
    expect_errno(d.info(e), Errno::ENOENT);
    assert_eq!(ok(d.list()), vec![a, h]);
    assert_eq!(ok(v.list()).len(), 4);
}

pub fn dup_limited_to_a_missing_destroyed_foreign_or_invisible_id_is_enoent() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let b = ok(v.generate(Algorithm::Aes256Gcm));
    let gone = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.destroy(gone));
    let other = ok(Vault::open());
    let foreign = ok(other.generate(Algorithm::Aes256Gcm));
    let fds = open_fds();
    for ids in [
        vec![KeyId(0)],
        vec![a, KeyId(u64::MAX)],
        vec![gone],
        vec![a, foreign],
    ] {
        expect_raw(
            dup_fd(v.as_raw_fd(), KV_CAP_READONLY, &ids).map(|_| 0),
            Errno::ENOENT,
        );
    }
    // Through a key-limited handle, the keys it does not see do not exist.
    let limited = dup(&v, Caps::READONLY | Caps::RESTRICT, &[a]).expect("dup");
    expect_raw(
        dup_fd(limited.as_raw_fd(), KV_CAP_READONLY, &[b]).map(|_| 0),
        Errno::ENOENT,
    );
    expect_raw(
        dup_fd(limited.as_raw_fd(), KV_CAP_READONLY, &[a, b]).map(|_| 0),
        Errno::ENOENT,
    );
    assert_eq!(open_fds(), fds + 1, "only the successful DUP made an fd");
    // Repeating an id is harmless.
    let d = dup(&v, Caps::READONLY, &[a, a, a]).expect("dup");
    assert_eq!(ok(d.list()), vec![a]);
}

pub fn dup_limited_to_at_most_1024_keys_and_more_is_einval() {
    let v = ok(Vault::open());
    let ids: Vec<KeyId> = (0..KV_DUP_MAX_KEYS + 1)
        .map(|_| ok(v.generate(Algorithm::Aes128Gcm)))
        .collect();
    let max = KV_DUP_MAX_KEYS as usize;
    let d = dup(&v, Caps::READONLY, &ids[..max]).expect("dup of 1024 keys");
    assert_eq!(ok(d.list()), ids[..max].to_vec());
    expect_errno(d.info(ids[max]), Errno::ENOENT);
    expect_raw(
        dup_fd(v.as_raw_fd(), KV_CAP_READONLY, &ids).map(|_| 0),
        Errno::EINVAL,
    );
    // Refused on the count alone, before the ids are read.
    let mut r = KvDup {
        caps: KV_CAP_READONLY,
        nkeys: u32::MAX,
        keys_ptr: 0,
        ..Default::default()
    };
    expect_raw(ioctl(&v, KV_IOC_DUP, &mut r), Errno::EINVAL);
}

pub fn key_limited_dup_with_genkey_import_derive_or_exchange_is_einval() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::HmacSha256));
    for cap in [KV_CAP_GENKEY, KV_CAP_IMPORT, KV_CAP_DERIVE, KV_CAP_EXCHANGE] {
        expect_raw(
            dup_fd(v.as_raw_fd(), KV_CAP_READONLY | cap, &[a]).map(|_| 0),
            Errno::EINVAL,
        );
        // Without a key list the same caps are fine.
        let (_, granted) = dup_fd(v.as_raw_fd(), KV_CAP_READONLY | cap, &[]).expect("dup");
        assert_eq!(granted, KV_CAP_READONLY | cap);
    }
    expect_raw(
        dup_fd(v.as_raw_fd(), KV_CAP_ALL, &[a]).map(|_| 0),
        Errno::EINVAL,
    );
    // Everything else may go with a key list.
    let rest = KV_CAP_ALL & !(KV_CAP_GENKEY | KV_CAP_IMPORT | KV_CAP_DERIVE | KV_CAP_EXCHANGE);
    let (_, granted) = dup_fd(v.as_raw_fd(), rest, &[a]).expect("dup");
    assert_eq!(granted, rest);
    // The caps are checked after `& current`: asking for GENKEY through a
    // handle that lacks it is not making keys.
    let ro = dup(&v, Caps::READONLY | Caps::RESTRICT, &[]).expect("dup");
    let (_, granted) = dup_fd(ro.as_raw_fd(), KV_CAP_ALL, &[a]).expect("dup");
    assert_eq!(caps_of(granted), Caps::READONLY | Caps::RESTRICT);
}

pub fn dup_of_a_key_limited_handle_with_no_key_list_keeps_the_limit() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::Aes256Gcm));
    let b = ok(v.generate(Algorithm::Aes256Gcm));
    let limited = dup(&v, Caps::READONLY | Caps::RESTRICT, &[a]).expect("dup");
    let again = dup(&limited, Caps::READONLY | Caps::RESTRICT, &[]).expect("dup of dup");
    assert_eq!(ok(again.list()), vec![a]);
    expect_errno(again.info(b), Errno::ENOENT);
    // And a further dup with a list inside the limit.
    let narrower = dup(&again, Caps::READONLY, &[a]).expect("dup of dup of dup");
    assert_eq!(ok(narrower.list()), vec![a]);
}

pub fn an_unlimited_dup_sees_keys_made_later_through_the_original() {
    let v = ok(Vault::open());
    let d = dup(&v, Caps::READONLY, &[]).expect("dup");
    assert!(ok(d.list()).is_empty());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    assert_eq!(ok(d.list()), vec![k]);
    let msg = seal(&d, k);
    assert_eq!(ok(open(&v, k, &msg)), PLAIN);
    ok(v.destroy(k));
    expect_errno(d.info(k), Errno::ENOENT);
}

pub fn closing_the_original_keeps_the_vault_alive_through_a_dup() {
    let keys0 = live_keys();
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let d = dup(&v, Caps::READONLY, &[k]).expect("dup");
    let msg = seal(&v, k);
    drop(v);
    assert_eq!(
        live_keys(),
        keys0 + 2,
        "every key lives while a dup is open"
    );
    assert_eq!(ok(open(&d, k, &msg)), PLAIN);
    assert_eq!(ok(d.list()), vec![k]);
    expect_errno(d.info(h), Errno::ENOENT);
    drop(d);
    assert_eq!(live_keys(), keys0, "the last fd closed: every key is gone");
}

pub fn rmmod_is_refused_while_only_a_dup_fd_is_open() {
    let v = ok(Vault::open());
    let d = dup(&v, Caps::READONLY, &[]).expect("dup");
    drop(v);
    let out = Command::new("rmmod")
        .arg("keyvault")
        .output()
        .expect("rmmod");
    if out.status.success() {
        // Put the module back for the tests that follow, then fail.
        let _ = Command::new("insmod").arg("keyvault.ko").status();
        panic!("rmmod succeeded while a DUP fd was open");
    }
    ok(d.caps());
    ok(d.list());
}

// ------------------------------------------- handing a dup to another process

pub fn a_readonly_dup_over_scm_rights_can_use_and_list_but_not_manage_while_the_original_still_can()
{
    let (s1, s2) = seqpacket_pair();
    // The child is forked before the vault exists: it holds only what it receives.
    let child = spawn(|| {
        let mut payload = [0u8; 8 + 12 + 16 + 32];
        let got = Vault::from_fd(recv_fd(&s2, &mut payload));
        let k = KeyId(u64::from_ne_bytes(payload[..8].try_into().unwrap()));
        assert_eq!(ok(got.caps()), Caps::READONLY);
        assert_eq!(ok(got.list()), vec![k]);
        assert_eq!(ok(got.info(k)).state, KeyState::Active);
        assert_eq!(
            ok(open(&got, k, &payload[8..])),
            PLAIN,
            "decrypts the sender's message"
        );
        let mine = seal(&got, k);
        expect_errno(got.generate(Algorithm::Aes256Gcm), Errno::EPERM);
        expect_errno(
            got.import(Algorithm::Aes256Gcm, &[7; 32], &KeyOptions::default()),
            Errno::EPERM,
        );
        expect_errno(got.destroy(k), Errno::EPERM);
        expect_errno(got.revoke(k), Errno::EPERM);
        expect_errno(got.restrict(Caps::ENCRYPT), Errno::EPERM);
        expect_raw(
            dup_fd(got.as_raw_fd(), KV_CAP_ENCRYPT, &[]).map(|_| 0),
            Errno::EPERM,
        );
        expect_raw(
            dup_fd(got.as_raw_fd(), KV_CAP_ENCRYPT, &[k]).map(|_| 0),
            Errno::EPERM,
        );
        assert_eq!(ok(got.caps()), Caps::READONLY, "nothing changed it");
        send(s2.as_raw_fd(), &mine, MsgFlags::empty()).expect("send");
        0
    });
    // Only the child holds this end now: if it dies, recv below sees EOF.
    drop(s2);
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let d = dup(&v, Caps::READONLY, &[]).expect("dup");
    let payload = [&k.0.to_ne_bytes()[..], &seal(&v, k)].concat();
    send_fd(&s1, d.as_raw_fd(), &payload);
    drop(d);
    let mut back = [0u8; 12 + 16 + 32];
    let n = recv(s1.as_raw_fd(), &mut back, MsgFlags::empty()).expect("recv");
    assert_eq!(wait(child), 0, "the receiver's checks failed (see above)");
    assert_eq!(n, back.len(), "the receiver's message");
    assert_eq!(
        ok(open(&v, k, &back)),
        PLAIN,
        "the sender opens the receiver's message"
    );
    // The sender's original handle can still do everything.
    assert_eq!(ok(v.caps()), Caps::all());
    let k2 = ok(v.generate(Algorithm::Aes256Gcm));
    let k3 = ok(v.import(Algorithm::Aes256Gcm, &[9; 32], &KeyOptions::default()));
    ok(v.revoke(k2));
    ok(v.destroy(k3));
    dup(&v, Caps::READONLY, &[k]).expect("dup");
    ok(v.destroy(k));
    assert_eq!(ok(v.restrict(Caps::READONLY)), Caps::READONLY);
}

pub fn a_readonly_dup_inherited_over_fork_is_denied_management_but_the_parents_original_is_not() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let d = dup(&v, Caps::READONLY, &[]).expect("dup");
    let msg = seal(&v, k);
    let vfd = v.as_raw_fd();
    in_child("fork with a READONLY dup", || {
        // The child gives up the original and keeps only the dup.
        // SAFETY: closing the child's copy of an fd it never uses again (the
        // child leaves with _exit, so its copy of `v` is never dropped).
        unsafe { libc::close(vfd) };
        let got = &d;
        assert_eq!(ok(open(got, k, &msg)), PLAIN);
        seal(got, k);
        assert_eq!(ok(got.list()), vec![k]);
        expect_errno(got.generate(Algorithm::Aes256Gcm), Errno::EPERM);
        expect_errno(got.destroy(k), Errno::EPERM);
        expect_errno(got.revoke(k), Errno::EPERM);
        expect_errno(got.restrict(Caps::empty()), Errno::EPERM);
        expect_raw(
            dup_fd(got.as_raw_fd(), KV_CAP_ENCRYPT, &[]).map(|_| 0),
            Errno::EPERM,
        );
        0
    });
    assert_eq!(ok(v.caps()), Caps::all());
    ok(v.generate(Algorithm::HmacSha256));
    ok(v.revoke(k));
    ok(v.destroy(k));
    assert_eq!(ok(d.list()).len(), 1, "the dup sees the parent's new key");
}

pub fn a_key_limited_dup_over_scm_rights_cannot_see_use_or_list_the_other_keys() {
    let (s1, s2) = seqpacket_pair();
    let child = spawn(|| {
        let mut payload = [0u8; 3 * 8];
        let got = Vault::from_fd(recv_fd(&s2, &mut payload));
        let id = |i: usize| {
            KeyId(u64::from_ne_bytes(
                payload[i * 8..i * 8 + 8].try_into().unwrap(),
            ))
        };
        let (a, b, c) = (id(0), id(1), id(2));
        assert_eq!(ok(got.list()), vec![a]);
        assert_eq!(ok(got.list_page(None, 16)).total, 1);
        seal(&got, a);
        ok(got.info(a));
        for other in [b, c] {
            expect_errno(got.info(other), Errno::ENOENT);
            expect_errno(got.aead_encrypt(other, PLAIN, b"", None), Errno::ENOENT);
            expect_errno(got.destroy(other), Errno::ENOENT);
            expect_errno(got.revoke(other), Errno::ENOENT);
        }
        // A further dup cannot widen the view.
        let (wider, _) = dup_fd(got.as_raw_fd(), KV_CAP_READONLY, &[]).expect("dup");
        let wider = Vault::from_fd(wider);
        assert_eq!(ok(wider.list()), vec![a]);
        expect_raw(
            dup_fd(got.as_raw_fd(), KV_CAP_READONLY, &[b]).map(|_| 0),
            Errno::ENOENT,
        );
        0
    });
    drop(s2);
    let v = ok(Vault::open());
    let [a, b, c] = [(); 3].map(|_| ok(v.generate(Algorithm::Aes256Gcm)));
    let d = dup(
        &v,
        Caps::READONLY | Caps::DESTROY | Caps::REVOKE | Caps::RESTRICT,
        &[a],
    )
    .expect("dup");
    let payload = [a.0, b.0, c.0].map(u64::to_ne_bytes).concat();
    send_fd(&s1, d.as_raw_fd(), &payload);
    drop(d);
    assert_eq!(wait(child), 0, "the receiver's checks failed (see above)");
    for k in [a, b, c] {
        assert_eq!(ok(v.info(k)).state, KeyState::Active);
    }
    assert_eq!(ok(v.list()), vec![a, b, c]);
}

// ---------------------------------------------------------------- revoke, expiry

pub fn revocation_is_permanent_for_every_handle_and_keeps_the_key_listed() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let h = ok(v.generate(Algorithm::HmacSha256));
    let child_key = derive(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
    let d = dup(&v, Caps::READONLY, &[k, h, child_key]).expect("dup");
    let msg = seal(&v, k);
    let child_msg = seal(&v, child_key);
    ok(v.revoke(k));
    ok(v.revoke(h));
    for handle in [&v, &d] {
        expect_errno(handle.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYREVOKED);
        expect_errno(open(handle, k, &msg), Errno::EKEYREVOKED);
        expect_errno(handle.mac(h, b"x"), Errno::EKEYREVOKED);
        // A key derived from a revoked key is unusable too.
        expect_errno(open(handle, child_key, &child_msg), Errno::EKEYREVOKED);
        assert_eq!(ok(handle.info(k)).state, KeyState::Revoked);
        assert_eq!(ok(handle.info(child_key)).state, KeyState::Revoked);
        assert_eq!(ok(handle.list()), vec![k, h, child_key]);
    }
    expect_raw(
        derive(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).map(|_| 0),
        Errno::EKEYREVOKED,
    );
    let mut r = KvKeyinfo {
        key_id: k.0,
        ..Default::default()
    };
    assert_eq!(ioctl(&d, KV_IOC_GETINFO, &mut r), Ok(0));
    assert_eq!(r.state, KV_STATE_REVOKED);
    // Nothing brings it back: no time, no other handle, no new dup.
    std::thread::sleep(Duration::from_millis(50));
    let d2 = dup(&v, Caps::all() - Caps::GENKEY, &[]).expect("dup");
    expect_errno(d2.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYREVOKED);
    ok(d2.revoke(k));
    assert_eq!(ok(v.info(k)).state, KeyState::Revoked);
    // Destroy still removes it.
    ok(v.destroy(k));
    expect_errno(d.info(k), Errno::ENOENT);
}

pub fn an_expired_key_fails_operations_with_ekeyexpired_and_stays_listed() {
    let v = ok(Vault::open());
    let short = KeyOptions {
        ttl: Some(Duration::from_millis(1000)),
        ..Default::default()
    };
    let start = Instant::now();
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &short));
    let h = ok(v.generate_with(Algorithm::HmacSha256, &short));
    let msg = seal(&v, k);
    ok(v.mac(h, b"x"));
    // A derived key expires no later than its parent.
    let child_key = derive(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).expect("derive");
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "too slow to test a 1 s TTL"
    );
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(start.elapsed()));
    expect_errno(v.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYEXPIRED);
    expect_errno(open(&v, k, &msg), Errno::EKEYEXPIRED);
    expect_errno(v.mac(h, b"x"), Errno::EKEYEXPIRED);
    expect_errno(
        v.aead_encrypt(child_key, PLAIN, b"", None),
        Errno::EKEYEXPIRED,
    );
    expect_raw(
        derive(&v, h, KV_ALG_AES256_GCM, KvPolicy::default()).map(|_| 0),
        Errno::EKEYEXPIRED,
    );
    for id in [k, h, child_key] {
        assert_eq!(ok(v.info(id)).state, KeyState::Expired);
    }
    assert_eq!(ok(v.list()), vec![k, h, child_key]);
    ok(v.destroy(k));
    expect_errno(v.info(k), Errno::ENOENT);
}

/// Shifts the wall clock for the life of the value, then puts it back
/// (advanced by the time that passed meanwhile, on the boot-time clock).
struct WallClockShift {
    real0: Duration,
    boot0: Duration,
}

fn clock_now(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn set_wall_clock(t: Duration) -> Result<(), Errno> {
    let ts = libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as _,
    };
    // SAFETY: `ts` is a valid timespec; we are root in the VM.
    Errno::result(unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) }).map(drop)
}

impl WallClockShift {
    fn forward(by: Duration) -> Self {
        Self::to(|now| now + by)
    }

    fn back(by: Duration) -> Self {
        Self::to(|now| now - by)
    }

    fn to(f: impl FnOnce(Duration) -> Duration) -> Self {
        let shift = WallClockShift {
            real0: clock_now(libc::CLOCK_REALTIME),
            boot0: clock_now(libc::CLOCK_BOOTTIME),
        };
        set_wall_clock(f(shift.real0)).unwrap_or_else(|e| panic!("clock_settime: {e}"));
        shift
    }
}

impl Drop for WallClockShift {
    fn drop(&mut self) {
        let passed = clock_now(libc::CLOCK_BOOTTIME) - self.boot0;
        if let Err(e) = set_wall_clock(self.real0 + passed) {
            eprintln!("    could not restore the wall clock: {e}");
        }
    }
}

pub fn setting_the_wall_clock_an_hour_forward_does_not_expire_a_ten_minute_key() {
    let v = ok(Vault::open());
    let ten_min = KeyOptions {
        ttl: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &ten_min));
    let before = ok(v.info(k));
    {
        let _shift = WallClockShift::forward(Duration::from_secs(3600));
        let info = ok(v.info(k));
        assert_eq!(
            info.state,
            KeyState::Active,
            "expiry follows the boot-time clock"
        );
        assert_eq!(
            (info.created, info.expires),
            (before.created, before.expires),
            "GETINFO's wall-clock times are fixed at creation"
        );
        seal(&v, k);
    }
    assert_eq!(ok(v.info(k)).state, KeyState::Active);
    seal(&v, k);
}

pub fn setting_the_wall_clock_an_hour_back_does_not_keep_a_short_lived_key_alive() {
    let v = ok(Vault::open());
    let short = KeyOptions {
        ttl: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &short));
    {
        let _shift = WallClockShift::back(Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(ok(v.info(k)).state, KeyState::Expired);
        expect_errno(v.aead_encrypt(k, PLAIN, b"", None), Errno::EKEYEXPIRED);
    }
    assert_eq!(ok(v.info(k)).state, KeyState::Expired);
}

// ---------------------------------------------------------------- policy

pub fn getinfo_reports_the_creation_policy_of_imported_and_derived_keys_through_every_handle() {
    let v = ok(Vault::open());
    let policy = KvPolicy {
        usage: KV_CAP_ENCRYPT | KV_CAP_DECRYPT,
        flags: KV_POLICY_NO_CALLER_NONCE,
        max_uses: 5,
        max_bytes: 1000,
    };
    let material = [0x42u8; 32];
    let mut r = KvImport {
        algorithm: KV_ALG_AES256_GCM,
        key_len: 32,
        key_ptr: material.as_ptr() as u64,
        policy,
        ..Default::default()
    };
    assert_eq!(ioctl(&v, KV_IOC_IMPORT, &mut r), Ok(0));
    let imported = KeyId(r.key_id);
    let h = ok(v.import(Algorithm::HmacSha256, &[0x43; 32], &KeyOptions::default()));
    let derived_policy = KvPolicy {
        usage: KV_CAP_ENCRYPT,
        flags: 0,
        max_uses: 0,
        max_bytes: 77,
    };
    let derived = derive(&v, h, KV_ALG_AES128_GCM, derived_policy).expect("derive");
    let d = dup(&v, Caps::READONLY, &[imported, h, derived]).expect("dup");
    for handle in [&v, &d] {
        let getinfo = |k: KeyId| {
            let mut r = KvKeyinfo {
                key_id: k.0,
                ..Default::default()
            };
            assert_eq!(ioctl(handle, KV_IOC_GETINFO, &mut r), Ok(0));
            r
        };
        let r = getinfo(imported);
        assert_eq!(
            (r.algorithm, r.key_bits, r.state),
            (KV_ALG_AES256_GCM, 256, KV_STATE_ACTIVE)
        );
        assert_eq!(r.policy, policy);
        assert_eq!((r.uses, r.bytes), (0, 0));
        assert_eq!((r.child, r.reserved), (KvChildPolicy::default(), [0; 2]));
        let r = getinfo(h);
        assert_eq!(
            r.policy,
            KvPolicy {
                usage: KV_CAP_MAC | KV_CAP_DERIVE,
                ..Default::default()
            },
            "usage 0 is reported as everything the algorithm can do"
        );
        let r = getinfo(derived);
        assert_eq!((r.algorithm, r.key_bits), (KV_ALG_AES128_GCM, 128));
        assert_eq!(r.policy, derived_policy);
    }
    let info = ok(d.info(imported));
    assert_eq!(info.usage, Caps::ENCRYPT | Caps::DECRYPT);
    assert!(info.no_caller_nonce);
    assert_eq!((info.max_uses, info.max_bytes), (5, 1000));
}

/// Every ioctl number the module knows.
const KNOWN_NRS: [u32; 21] = [
    0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
    0x30, 0x31, 0x32, 0x33, 0x34,
];

pub fn a_keys_policy_binds_every_handle_and_process_and_no_ioctl_widens_it() {
    let v = ok(Vault::open());
    let o = KeyOptions {
        usage: Caps::ENCRYPT,
        no_caller_nonce: true,
        max_uses: 3,
        ..Default::default()
    };
    let k = ok(v.generate_with(Algorithm::Aes256Gcm, &o));
    let d = dup(&v, Caps::READONLY, &[k]).expect("dup");
    let policy_before = ok(v.info(k));
    // Refused by the policy, and these do not count as uses.
    for handle in [&v, &d] {
        expect_errno(
            handle.aead_encrypt(k, PLAIN, b"", Some(&[1; 12])),
            Errno::EPERM,
        );
        let (ct, s) = ok(handle.aead_encrypt(k, PLAIN, b"", None));
        expect_errno(
            handle.aead_decrypt(k, &ct, b"", &s.nonce, &s.tag),
            Errno::EPERM,
        );
    }
    // Two uses above; the third in another process; none left for anyone.
    assert_eq!(ok(v.info(k)).uses, 2);
    in_child("a use in a forked child", || {
        ok(d.aead_encrypt(k, PLAIN, b"", None));
        0
    });
    for handle in [&v, &d] {
        expect_errno(handle.aead_encrypt(k, PLAIN, b"", None), Errno::EDQUOT);
    }
    let fresh = dup(&v, Caps::READONLY, &[]).expect("dup");
    expect_errno(fresh.aead_encrypt(k, PLAIN, b"", None), Errno::EDQUOT);
    // No ioctl number outside the ABI's does anything, whatever it is given:
    // here, a request naming the key with every usage and no limits.
    let wide = KvKeyinfo {
        key_id: k.0,
        policy: KvPolicy {
            usage: KV_USAGE_ALL,
            flags: 0,
            max_uses: 0,
            max_bytes: 0,
        },
        ..Default::default()
    };
    let ioc = |dir: u32, nr: u32, size: usize| {
        (dir << 30) | ((size as u32) << 16) | (KV_IOC_MAGIC << 8) | nr
    };
    let mut tried = 0;
    for nr in (0..=0xff).filter(|nr| !KNOWN_NRS.contains(nr)) {
        for (dir, size) in [
            (1, size_of::<KvKeyinfo>()),
            (3, size_of::<KvKeyinfo>()),
            (3, size_of::<KvPolicy>()),
            (1, size_of::<KvKeyref>()),
        ] {
            let mut req = wide;
            expect_raw(ioctl(&v, ioc(dir, nr, size), &mut req), Errno::ENOTTY);
            tried += 1;
        }
    }
    assert!(tried > 900);
    let after = ok(v.info(k));
    assert_eq!(
        (
            after.usage,
            after.no_caller_nonce,
            after.max_uses,
            after.max_bytes,
            after.uses
        ),
        (
            policy_before.usage,
            policy_before.no_caller_nonce,
            policy_before.max_uses,
            policy_before.max_bytes,
            3
        )
    );
}

// ---------------------------------------------------------------- per-user quotas

const QUOTA_UID: u32 = 4242;
const OTHER_UID: u32 = 4243;
const MAX_KEYS_PER_VAULT: usize = 4096;
const MAX_KEYS_PER_USER: usize = 16384;
const MAX_KEY_BYTES_PER_VAULT: usize = 262_144;
const MAX_KEY_BYTES_PER_USER: usize = 1_048_576;

fn hmac_bits(bits: u32) -> KeyOptions {
    KeyOptions {
        bits,
        ..Default::default()
    }
}

/// Fills `vaults` (as the current euid) with `per_vault` keys of `opts` each.
fn fill(vaults: &[Vault], per_vault: usize, alg: Algorithm, opts: &KeyOptions) {
    for (i, v) in vaults.iter().enumerate() {
        for n in 0..per_vault {
            v.generate_with(alg, opts)
                .unwrap_or_else(|e| panic!("vault {i}, key {n}: {e}"));
        }
    }
}

pub fn a_user_may_hold_16384_keys_across_vaults_then_edquot_until_some_are_freed() {
    let vault_count = MAX_KEYS_PER_USER / MAX_KEYS_PER_VAULT;
    assert_eq!(vault_count, 4);
    let small = hmac_bits(128); // 16 bytes: the byte quota is far away
    in_child("the per-user key quota", || {
        // Keys are charged to the vault's opener: these vaults are uid 4242's
        // (and `other` uid 4243's), whoever makes the keys.
        let mut vaults: Vec<Vault> = (0..vault_count).map(|_| open_as(QUOTA_UID)).collect();
        let fresh = open_as(QUOTA_UID);
        let other = open_as(OTHER_UID);
        as_euid(QUOTA_UID, || {
            fill(&vaults, MAX_KEYS_PER_VAULT, Algorithm::HmacSha256, &small);
            // The user's 16385th key, in an empty vault.
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha256, &small),
                Errno::EDQUOT,
            );
            expect_errno(
                fresh.import(Algorithm::Aes128Gcm, &[1; 16], &KeyOptions::default()),
                Errno::EDQUOT,
            );
            assert_eq!(ok(fresh.list_page(None, 1)).total, 0);
        });
        // Other users are not affected: another uid, and root.
        as_euid(OTHER_UID, || {
            ok(other.generate_with(Algorithm::HmacSha256, &small))
        });
        ok(other.generate_with(Algorithm::HmacSha256, &small));
        as_euid(QUOTA_UID, || {
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha256, &small),
                Errno::EDQUOT,
            );
            // Destroying one key frees one.
            let one = ok(vaults[0].list_page(None, 1)).ids[0];
            ok(vaults[0].destroy(one));
            ok(fresh.generate_with(Algorithm::HmacSha256, &small));
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha256, &small),
                Errno::EDQUOT,
            );
        });
        // Closing a vault frees all of its keys' charge.
        vaults.truncate(vault_count - 1);
        as_euid(QUOTA_UID, || {
            for n in 0..100 {
                fresh
                    .generate_with(Algorithm::HmacSha256, &small)
                    .unwrap_or_else(|e| panic!("key {n} after a close: {e}"));
            }
        });
        drop(vaults);
        as_euid(QUOTA_UID, || {
            let v = &fresh;
            let left = MAX_KEYS_PER_VAULT - ok(v.list_page(None, 1)).total as usize;
            fill(std::slice::from_ref(v), left, Algorithm::HmacSha256, &small);
        });
        0
    });
}

pub fn a_user_may_hold_1_mib_of_key_bytes_across_vaults_then_edquot() {
    let big = hmac_bits(1024); // 128 bytes
    let per_vault = MAX_KEY_BYTES_PER_VAULT / 128;
    let vault_count = MAX_KEY_BYTES_PER_USER / MAX_KEY_BYTES_PER_VAULT;
    assert_eq!((per_vault, vault_count), (2048, 4));
    in_child("the per-user key byte quota", || {
        let mut vaults: Vec<Vault> = (0..vault_count).map(|_| open_as(QUOTA_UID)).collect();
        let fresh = open_as(QUOTA_UID);
        let other = open_as(OTHER_UID);
        as_euid(QUOTA_UID, || {
            fill(&vaults, per_vault, Algorithm::HmacSha512, &big);
            // 8192 keys, 1 MiB: not even a 16-byte key fits any more.
            expect_errno(
                fresh.generate_with(Algorithm::HmacSha512, &big),
                Errno::EDQUOT,
            );
            expect_errno(fresh.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
        });
        as_euid(OTHER_UID, || {
            ok(other.generate_with(Algorithm::HmacSha512, &big))
        });
        ok(other.generate_with(Algorithm::HmacSha512, &big));
        vaults.pop();
        let another = open_as(QUOTA_UID);
        as_euid(QUOTA_UID, || {
            fill(
                std::slice::from_ref(&fresh),
                per_vault,
                Algorithm::HmacSha512,
                &big,
            );
            expect_errno(another.generate(Algorithm::Aes128Gcm), Errno::EDQUOT);
        });
        0
    });
}

// ---------------------------------------------------------------- udev, non-root

const UDEV_RULE: &str = include_str!("../../udev/99-keyvault.rules");
const RULE_PATH: &str = "/etc/udev/rules.d/99-keyvault.rules";
const GROUP_MEMBER_UID: u32 = 4242;
const OUTSIDER_UID: u32 = 4243;

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false)
}

/// The gid of a group in /etc/group.
fn group_gid(name: &str) -> Option<u32> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

/// Group "keyvault", made if missing: groupadd, or a line in /etc/group.
fn keyvault_group() -> u32 {
    if let Some(gid) = group_gid("keyvault") {
        return gid;
    }
    let made = Command::new("groupadd")
        .args(["--system", "keyvault"])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        let gid = (900..1000)
            .find(|g| {
                !std::fs::read_to_string("/etc/group")
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.split(':').nth(2) == Some(&g.to_string()))
            })
            .expect("a free system gid");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open("/etc/group")
            .expect("/etc/group");
        writeln!(f, "keyvault:x:{gid}:").expect("append to /etc/group");
    }
    group_gid("keyvault").expect("group keyvault after creating it")
}

pub fn the_udev_rule_opens_the_device_to_group_keyvault_whose_members_get_private_vaults() {
    assert!(
        on_path("udevadm"),
        "udevadm is not on PATH in the VM: cannot install and test udev/99-keyvault.rules"
    );
    let ping = Command::new("udevadm")
        .args(["control", "--ping"])
        .output()
        .expect("udevadm");
    assert!(
        ping.status.success(),
        "udevd is not running in the VM (udevadm control --ping: {})",
        String::from_utf8_lossy(&ping.stderr).trim()
    );
    let gid = keyvault_group();
    std::fs::create_dir_all("/etc/udev/rules.d").expect("mkdir /etc/udev/rules.d");
    std::fs::write(RULE_PATH, UDEV_RULE).unwrap_or_else(|e| panic!("{RULE_PATH}: {e}"));
    run("udevadm", &["control", "--reload"]);
    run(
        "udevadm",
        &[
            "trigger",
            "--action=add",
            "--subsystem-match=misc",
            "--sysname-match=keyvault",
        ],
    );
    run("udevadm", &["settle", "--timeout=30"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mode, node_gid) = loop {
        let md = std::fs::metadata("/dev/keyvault").expect("/dev/keyvault");
        let now = (md.mode() & 0o7777, md.gid());
        if now == (0o660, gid) || Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (mode, node_gid),
        (0o660, gid),
        "/dev/keyvault is mode {mode:o} gid {node_gid} after the udev rule (want 660, keyvault = {gid}); is udevd running?"
    );

    // Root's vault and key, which the others must not reach.
    let root_vault = ok(Vault::open());
    let root_key = ok(root_vault.generate(Algorithm::Aes256Gcm));
    let root_fd = root_vault.as_raw_fd();
    in_child("a member of group keyvault", || {
        // SAFETY: the child's own copy of root's fd: an unprivileged process
        // would not have it.
        unsafe { libc::close(root_fd) };
        become_user(GROUP_MEMBER_UID, GROUP_MEMBER_UID, &[gid]);
        let a = ok(Vault::open());
        let b = ok(Vault::open());
        assert_eq!(ok(a.caps()), Caps::all());
        let ka = ok(a.generate(Algorithm::Aes256Gcm));
        let msg = seal(&a, ka);
        assert_eq!(ok(open(&a, ka, &msg)), PLAIN);
        // Two opens are two vaults.
        expect_errno(b.info(ka), Errno::ENOENT);
        expect_errno(b.aead_encrypt(ka, PLAIN, b"", None), Errno::ENOENT);
        expect_errno(b.destroy(ka), Errno::ENOENT);
        assert!(ok(b.list()).is_empty());
        // Another user's key id means nothing here.
        for v in [&a, &b] {
            expect_errno(v.info(root_key), Errno::ENOENT);
            expect_errno(v.aead_encrypt(root_key, PLAIN, b"", None), Errno::ENOENT);
            expect_errno(v.revoke(root_key), Errno::ENOENT);
            expect_errno(v.destroy(root_key), Errno::ENOENT);
        }
        // And a dup works for the unprivileged user too.
        let d = dup(&a, Caps::READONLY, &[ka]).expect("dup as a group member");
        assert_eq!(ok(open(&d, ka, &msg)), PLAIN);
        0
    });
    in_child("a user outside group keyvault", || {
        // SAFETY: as above.
        unsafe { libc::close(root_fd) };
        become_user(OUTSIDER_UID, OUTSIDER_UID, &[]);
        expect_errno(Vault::open(), Errno::EACCES);
        0
    });
    // Root's key is untouched, and root still opens the node.
    assert_eq!(ok(root_vault.info(root_key)).state, KeyState::Active);
    ok(ok(Vault::open()).generate(Algorithm::Aes128Gcm));
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::harness::Test> {
    crate::tests![
        dup_makes_a_new_cloexec_fd_and_description_with_the_caps_asked_and_the_original_keeps_its_own,
        dup_grants_only_caps_the_handle_has_and_dup_of_dup_only_shrinks,
        dup_needs_the_restrict_capability,
        dup_refuses_unknown_caps_flags_reserved_and_a_nonzero_fd_with_einval_and_makes_no_fd,
        dup_limited_to_keys_sees_uses_and_lists_only_those,
        dup_limited_to_a_missing_destroyed_foreign_or_invisible_id_is_enoent,
        dup_limited_to_at_most_1024_keys_and_more_is_einval,
        key_limited_dup_with_genkey_import_derive_or_exchange_is_einval,
        dup_of_a_key_limited_handle_with_no_key_list_keeps_the_limit,
        an_unlimited_dup_sees_keys_made_later_through_the_original,
        closing_the_original_keeps_the_vault_alive_through_a_dup,
        rmmod_is_refused_while_only_a_dup_fd_is_open,
        a_readonly_dup_over_scm_rights_can_use_and_list_but_not_manage_while_the_original_still_can,
        a_readonly_dup_inherited_over_fork_is_denied_management_but_the_parents_original_is_not,
        a_key_limited_dup_over_scm_rights_cannot_see_use_or_list_the_other_keys,
        revocation_is_permanent_for_every_handle_and_keeps_the_key_listed,
        an_expired_key_fails_operations_with_ekeyexpired_and_stays_listed,
        setting_the_wall_clock_an_hour_forward_does_not_expire_a_ten_minute_key,
        setting_the_wall_clock_an_hour_back_does_not_keep_a_short_lived_key_alive,
        getinfo_reports_the_creation_policy_of_imported_and_derived_keys_through_every_handle,
        a_keys_policy_binds_every_handle_and_process_and_no_ioctl_widens_it,
        a_user_may_hold_16384_keys_across_vaults_then_edquot_until_some_are_freed,
        a_user_may_hold_1_mib_of_key_bytes_across_vaults_then_edquot,
        the_udev_rule_opens_the_device_to_group_keyvault_whose_members_get_private_vaults,
    ]
}
