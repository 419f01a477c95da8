//! Processes, users and fds: fork and wait, fd passing over SCM_RIGHTS,
//! running as another uid, and the fd table.

use crate::support::*;
use keyvault::Vault;
use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
pub fn become_user(uid: u32, gid: u32, groups: &[u32]) {
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
        let rdev = std::fs::metadata("/dev/keyvault")
            .expect("/dev/keyvault")
            .rdev();
        let node = std::ffi::CString::new(path.clone()).expect("path");
        // SAFETY: a plain syscall with a valid NUL-terminated path.
        let r = unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o600, rdev) };
        assert_eq!(r, 0, "mknod {path}: {}", Errno::last());
        chown(&path, Some(uid), None).unwrap_or_else(|e| panic!("chown {path}: {e}"));
    }
    as_euid(uid, || ok(Vault::open_path(&path)))
}

pub fn in_child(what: &str, child: impl FnOnce() -> i32) {
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

pub fn is_cloexec(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(flags >= 0, "F_GETFD: {}", Errno::last());
    flags & libc::FD_CLOEXEC != 0
}

pub fn status_flags(fd: RawFd) -> i32 {
    // SAFETY: F_GETFL on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", Errno::last());
    flags
}

pub fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair")
}
