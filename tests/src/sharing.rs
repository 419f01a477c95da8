//! Vault isolation and sharing: separate opens, dup, fork, SCM_RIGHTS, close.

use crate::support::*;
use keyvault::uapi::*;
use keyvault::{Algorithm, Caps, KeyId, KeyOptions, KeyState, Vault};
use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use std::os::fd::AsRawFd;
use std::process::Command;

pub fn two_opens_are_separate_vaults() {
    let a = ok(Vault::open());
    let b = ok(Vault::open());
    let ka = ok(a.generate(Algorithm::Aes256Gcm));
    expect_errno(b.info(ka), Errno::ENOENT);
    expect_errno(b.destroy(ka), Errno::ENOENT);
    expect_errno(b.revoke(ka), Errno::ENOENT);
    assert!(ok(b.list()).is_empty());
    ok(b.restrict(Caps::empty()));
    assert_eq!(ok(a.caps()), Caps::all(), "caps belong to one open file");
}

pub fn dup_shares_keys_and_capabilities() {
    let a = ok(Vault::open());
    let b = ok(a.try_clone());
    let k = ok(b.generate(Algorithm::Aes256Gcm));
    assert_eq!(ok(a.list()), vec![k]);
    ok(b.restrict(Caps::READONLY));
    assert_eq!(ok(a.caps()), Caps::READONLY, "same open file description");
}

/// Runs `child` in a forked process and returns its exit code.
fn child_exit_code(child: impl FnOnce() -> i32) -> i32 {
    wait(spawn(child))
}

pub fn fork_shares_the_vault_with_the_child() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let code = child_exit_code(|| {
        if v.info(k).is_err() {
            return 1;
        }
        match v.generate(Algorithm::HmacSha256) {
            Ok(_) => 0,
            Err(_) => 2,
        }
    });
    assert_eq!(code, 0);
    assert_eq!(
        ok(v.list()).len(),
        2,
        "the child's key is in the shared vault"
    );
}

pub fn scm_rights_passes_the_same_vault_and_its_caps() {
    let (s1, s2) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let child = spawn(|| {
        let mut id = [0u8; 8];
        let got = Vault::from_fd(recv_fd(&s2, &mut id));
        let k = KeyId(u64::from_ne_bytes(id));
        let denied = |r: keyvault::Result<()>| r.map_err(|e| Errno::from_raw(e.errno())) == Err(Errno::EPERM);
        let checks = [
            got.info(k).is_ok(),
            got.list().is_ok_and(|l| l == vec![k]),
            got.caps().is_ok_and(|c| c == Caps::READONLY),
            denied(got.generate(Algorithm::Aes256Gcm).map(drop)),
            denied(got.destroy(k)),
            denied(got.revoke(k)),
            denied(got.restrict(Caps::empty()).map(drop)),
        ];
        // Exit code: 0, or 1 + the index of the first failed check.
        checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
    });
    let sender = ok(Vault::open());
    let k = ok(sender.generate(Algorithm::Aes256Gcm));
    ok(sender.restrict(Caps::READONLY));
    send_fd(&s1, sender.as_raw_fd(), &k.0.to_ne_bytes());
    assert_eq!(wait(child), 0, "receiver check failed");
    // The receiver's process is gone; the sender's fd still holds the vault.
    assert_eq!(ok(sender.list()), vec![k]);
}

pub fn keys_outlive_a_closed_fd_while_another_fd_is_open() {
    let a = ok(Vault::open());
    let b = ok(a.try_clone());
    let k = ok(a.generate(Algorithm::Aes256Gcm));
    drop(a);
    ok(b.info(k));
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

/// This file's tests, in order.
pub fn tests() -> Vec<crate::support::harness::Test> {
    crate::tests![
        two_opens_are_separate_vaults,
        dup_shares_keys_and_capabilities,
        fork_shares_the_vault_with_the_child,
        scm_rights_passes_the_same_vault_and_its_caps,
        keys_outlive_a_closed_fd_while_another_fd_is_open,
        closing_the_original_keeps_the_vault_alive_through_a_dup,
        rmmod_is_refused_while_only_a_dup_fd_is_open,
        a_readonly_dup_over_scm_rights_can_use_and_list_but_not_manage_while_the_original_still_can,
        a_readonly_dup_inherited_over_fork_is_denied_management_but_the_parents_original_is_not,
        a_key_limited_dup_over_scm_rights_cannot_see_use_or_list_the_other_keys,
    ]
}
