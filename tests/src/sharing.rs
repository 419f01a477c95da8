//! Vault isolation and sharing: separate opens, dup, fork, SCM_RIGHTS, close.

use crate::harness::{expect_errno, ok};
use keyvault::{Algorithm, Caps, KeyId, Vault};
use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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

/// Starts `child` in a forked process.
pub fn spawn(child: impl FnOnce() -> i32) -> Pid {
    // SAFETY: the runner is single-threaded, so no lock is held across fork;
    // the child runs the closure and leaves with _exit, never unwinding out.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    }
}

/// Waits for a child from [`spawn`]; returns its exit code.
pub fn wait(pid: Pid) -> i32 {
    match waitpid(pid, None).expect("waitpid") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("child ended with {other:?}"),
    }
}

/// Runs `child` in a forked process and returns its exit code.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    wait(spawn(child))
}

pub fn fork_shares_the_vault_with_the_child() {
    let v = ok(Vault::open());
    let k = ok(v.generate(Algorithm::Aes256Gcm));
    let code = in_child(|| {
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

/// Sends `payload` with `fd` attached (none: a plain message).
pub fn try_send_fd(sock: &OwnedFd, fd: Option<RawFd>, payload: &[u8]) -> nix::Result<()> {
    let fds: Vec<RawFd> = fd.into_iter().collect();
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(payload)],
        cmsgs,
        MsgFlags::empty(),
        None,
    )
    .map(drop)
}

/// Receives one message into `payload`: its fd, or None if it carried none.
pub fn try_recv_fd(sock: &OwnedFd, payload: &mut [u8]) -> nix::Result<Option<OwnedFd>> {
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(payload)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: SCM_RIGHTS just installed these fds in our table; we
            // take the (single) one.
            return Ok(fds.first().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    Ok(None)
}

/// Sends `payload` with `fd` attached; panics on failure.
pub fn send_fd(sock: &OwnedFd, fd: i32, payload: &[u8]) {
    try_send_fd(sock, Some(fd), payload).expect("sendmsg");
}

/// Receives a message with an fd; panics on failure or a message without one.
pub fn recv_fd(sock: &OwnedFd, payload: &mut [u8]) -> OwnedFd {
    try_recv_fd(sock, payload)
        .expect("recvmsg")
        .expect("no fd received")
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
        let denied = |r: keyvault::Result<()>| r.map_err(|e| e.errno()) == Err(Errno::EPERM);
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

/// This file's tests, in order.
pub fn tests() -> Vec<crate::harness::Test> {
    crate::tests![
        two_opens_are_separate_vaults,
        dup_shares_keys_and_capabilities,
        fork_shares_the_vault_with_the_child,
        scm_rights_passes_the_same_vault_and_its_caps,
        keys_outlive_a_closed_fd_while_another_fd_is_open,
    ]
}
