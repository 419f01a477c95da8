//! Capabilities: GETCAPS, RESTRICT, and denial of every ioctl without its cap.

use crate::harness::{expect_errno, expect_raw, ok};
use crate::util::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyOptions, Vault};
use nix::errno::Errno;

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
        caps: KV_CAP_ALL | 1 << 15,
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

/// Every ioctl that needs a capability, with that capability.
const GATED: [(u32, u32); 7] = [
    (KV_IOC_RESTRICT, KV_CAP_RESTRICT),
    (KV_IOC_GENKEY, KV_CAP_GENKEY),
    (KV_IOC_IMPORT, KV_CAP_IMPORT),
    (KV_IOC_DESTROY, KV_CAP_DESTROY),
    (KV_IOC_REVOKE, KV_CAP_REVOKE),
    (KV_IOC_GETINFO, KV_CAP_GETINFO),
    (KV_IOC_LIST, KV_CAP_LIST),
];

pub fn every_ioctl_is_denied_with_eperm_without_its_capability() {
    for (cmd, cap) in GATED {
        let v = ok(Vault::open());
        ok(v.restrict(Caps::from_bits_retain(KV_CAP_ALL & !cap)));
        // A valid-looking request...
        let mut buf = [0u8; 256];
        expect_raw(ioctl(&v, cmd, &mut buf), Errno::EPERM);
        // ...and a bad pointer: the capability is checked before the argument.
        expect_raw(ioctl_addr(&v, cmd, 0), Errno::EPERM);
        expect_raw(ioctl_addr(&v, cmd, KERNEL_ADDR), Errno::EPERM);
    }
}

pub fn each_capability_removed_alone_leaves_the_others_working() {
    for (cmd, cap) in GATED {
        let v = ok(Vault::open());
        let id = ok(v.generate(Algorithm::Aes256Gcm));
        ok(v.restrict(Caps::from_bits_retain(KV_CAP_ALL & !cap)));
        if cmd != KV_IOC_GETINFO {
            ok(v.info(id));
        }
        if cmd != KV_IOC_LIST {
            ok(v.list());
        }
        if cmd != KV_IOC_GENKEY {
            ok(v.generate(Algorithm::Aes128Gcm));
        }
    }
}

/// This file's tests, in order.
pub fn tests() -> Vec<crate::harness::Test> {
    crate::tests![
        a_fresh_open_has_every_capability,
        restrict_clears_bits_and_getcaps_shows_it,
        restrict_can_never_add_a_bit_back,
        restrict_refuses_unknown_bits_and_reserved_with_einval,
        getcaps_needs_no_capability,
        readonly_keeps_use_but_not_management,
        every_ioctl_is_denied_with_eperm_without_its_capability,
        each_capability_removed_alone_leaves_the_others_working,
    ]
}
