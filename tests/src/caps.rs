//! Capabilities: GETCAPS, RESTRICT, and denial of every ioctl without its cap.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn a_fresh_open_has_every_capability() {
    let v = ok(Vault::open());
    assert_eq!(ok(v.caps()).bits(), KV_CAP_ALL);
}

pub fn restrict_clears_bits_and_getcaps_shows_it() {
    let v = ok(Vault::open());
    let left = ok(v.restrict(Caps::all() - Caps::REVOKE));
    assert_eq!(left, Caps::all() - Caps::REVOKE);
    assert_eq!(ok(v.caps()), left);
    let id = ok(v.generate(Algorithm::Aes256Gcm));
    expect_errno(v.revoke(id), Errno::EPERM);
}

pub fn restrict_can_never_add_a_bit_back() {
    let v = ok(Vault::open());
    ok(v.restrict(Caps::all() - Caps::GENKEY));
    let left = ok(v.restrict(Caps::all()));
    assert!(!left.contains(Caps::GENKEY));
    assert!(!ok(v.caps()).contains(Caps::GENKEY));
    expect_errno(v.generate(Algorithm::Aes256Gcm), Errno::EPERM);
}

pub fn restrict_refuses_unknown_bits_and_reserved_with_einval() {
    let v = ok(Vault::open());
    let mut r = KvCaps {
        caps: KV_CAP_ALL | 1 << 17,
        reserved: 0,
    };
    expect_raw(ioctl(&v, KV_IOC_RESTRICT, &mut r), Errno::EINVAL);
    let mut r = KvCaps {
        caps: KV_CAP_READONLY,
        reserved: 1,
    };
    expect_raw(ioctl(&v, KV_IOC_RESTRICT, &mut r), Errno::EINVAL);
    assert_eq!(
        ok(v.caps()).bits(),
        KV_CAP_ALL,
        "a refused restrict changes nothing"
    );
}

pub fn getcaps_needs_no_capability() {
    let v = ok(Vault::open());
    assert_eq!(ok(v.restrict(Caps::empty())), Caps::empty());
    assert_eq!(ok(v.caps()), Caps::empty());
    expect_errno(v.restrict(Caps::empty()), Errno::EPERM);
}

pub fn readonly_keeps_use_but_not_management() {
    let v = ok(Vault::open());
    let id = ok(v.generate(Algorithm::Aes256Gcm));
    ok(v.restrict(Caps::READONLY));
    ok(v.info(id));
    assert_eq!(ok(v.list()), vec![id]);
    expect_errno(v.generate(Algorithm::Aes256Gcm), Errno::EPERM);
    expect_errno(
        v.import(Algorithm::Aes256Gcm, &[0; 32], &KeyOptions::default()),
        Errno::EPERM,
    );
    expect_errno(v.destroy(id), Errno::EPERM);
    expect_errno(v.revoke(id), Errno::EPERM);
    expect_errno(v.restrict(Caps::empty()), Errno::EPERM);
}

/// Every ioctl of `KV_IOCTLS` that needs a capability.
fn gated() -> impl Iterator<Item = &'static KvIoctl> {
    KV_IOCTLS.iter().filter(|io| io.cap != 0)
}

pub fn every_ioctl_is_denied_with_eperm_without_its_capability() {
    assert_eq!(
        gated().count(),
        23,
        "every ioctl but GETCAPS and LIMITS needs a capability"
    );
    for io in gated() {
        let v = ok(Vault::open());
        ok(v.restrict(Caps::from_bits_retain(KV_CAP_ALL & !io.cap)));
        // A valid-looking request...
        let mut buf = [0u8; 256];
        assert!(io.size() <= buf.len(), "{}", io.name);
        assert_eq!(
            ioctl(&v, io.cmd, &mut buf),
            Err(Errno::EPERM),
            "{}",
            io.name
        );
        // ...and a bad pointer: the capability is checked before the argument.
        assert_eq!(
            ioctl_addr(&v, io.cmd, 0),
            Err(Errno::EPERM),
            "{} at NULL",
            io.name
        );
        assert_eq!(
            ioctl_addr(&v, io.cmd, KERNEL_ADDR),
            Err(Errno::EPERM),
            "{} at a kernel address",
            io.name
        );
    }
}

pub fn each_capability_removed_alone_leaves_the_others_working() {
    for cap in gated().map(|io| io.cap) {
        let v = ok(Vault::open());
        let id = ok(v.generate(Algorithm::Aes256Gcm));
        let every = Every::new(&v);
        ok(v.restrict(Caps::from_bits_retain(KV_CAP_ALL & !cap)));
        if cap != KV_CAP_GETINFO {
            ok(v.info(id));
        }
        if cap != KV_CAP_LIST {
            ok(v.list());
        }
        if cap != KV_CAP_GENKEY {
            ok(v.generate(Algorithm::Aes128Gcm));
        }
        // Every ioctl, with a valid request: refused if it needs the removed
        // capability, done otherwise.
        for io in KV_IOCTLS {
            let r = every.call(&v, io);
            if io.cap == cap {
                assert_eq!(r, Err(Errno::EPERM), "{} without {cap:#x}", io.name);
            } else {
                assert!(r.is_ok(), "{} without {cap:#x}: {r:?}", io.name);
            }
        }
    }
}

// ---------------------------------------------------------------- DUP

pub fn dup_makes_a_new_cloexec_fd_and_description_with_the_caps_asked_and_the_original_keeps_its_own(
) {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let mut r = dup_req(KV_CAP_READONLY | KV_CAP_RESTRICT, &[]);
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
    let base = dup_req(KV_CAP_READONLY, &[]);
    let mut bad = vec![
        KvDup {
            caps: 1 << 17,
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
        nkeys: u32::MAX,
        ..dup_req(KV_CAP_READONLY, &[])
    };
    expect_raw(ioctl(&v, KV_IOC_DUP, &mut r), Errno::EINVAL);
}

pub fn key_limited_dup_with_genkey_import_derive_exchange_or_unwrap_is_einval() {
    let v = ok(Vault::open());
    let a = ok(v.generate(Algorithm::HmacSha256));
    for cap in [KV_CAP_GENKEY, KV_CAP_IMPORT, KV_CAP_DERIVE, KV_CAP_EXCHANGE, KV_CAP_UNWRAP] {
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
    let rest = KV_CAP_ALL & !(KV_CAP_GENKEY | KV_CAP_IMPORT | KV_CAP_DERIVE | KV_CAP_EXCHANGE | KV_CAP_UNWRAP);
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

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        a_fresh_open_has_every_capability,
        restrict_clears_bits_and_getcaps_shows_it,
        restrict_can_never_add_a_bit_back,
        restrict_refuses_unknown_bits_and_reserved_with_einval,
        getcaps_needs_no_capability,
        readonly_keeps_use_but_not_management,
        every_ioctl_is_denied_with_eperm_without_its_capability,
        each_capability_removed_alone_leaves_the_others_working,
        dup_makes_a_new_cloexec_fd_and_description_with_the_caps_asked_and_the_original_keeps_its_own,
        dup_grants_only_caps_the_handle_has_and_dup_of_dup_only_shrinks,
        dup_needs_the_restrict_capability,
        dup_refuses_unknown_caps_flags_reserved_and_a_nonzero_fd_with_einval_and_makes_no_fd,
        dup_limited_to_keys_sees_uses_and_lists_only_those,
        dup_limited_to_a_missing_destroyed_foreign_or_invisible_id_is_enoent,
        dup_limited_to_at_most_1024_keys_and_more_is_einval,
        key_limited_dup_with_genkey_import_derive_exchange_or_unwrap_is_einval,
        dup_of_a_key_limited_handle_with_no_key_list_keeps_the_limit,
        an_unlimited_dup_sees_keys_made_later_through_the_original,
    ]
}
