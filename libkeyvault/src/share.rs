//! Handing a vault to another process: an fd inherited through
//! `$KEYVAULT_FD` (as `kvctl exec` passes it), or sent over a Unix socket
//! with `SCM_RIGHTS`. Either way the receiver checks that the fd is a
//! keyvault handle (GETCAPS) before it trusts it.

use crate::{Error, Result, Vault};
use keyvault_uapi as abi;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::ffi::OsStr;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable through which a parent (`kvctl exec`) hands a
/// child its vault: the fd number, in decimal.
pub const FD_ENV: &str = "KEYVAULT_FD";

/// The byte that carries the fd: a stream socket cannot carry ancillary
/// data without at least one byte of data, and a read of zero bytes is the
/// peer closing the socket.
const CARRIER: u8 = b'V';

/// The most fds the kernel passes in one message (`SCM_MAX_FD`): with room
/// for this many, the control data of a message that carries only fds is
/// never truncated, so every fd the kernel installs is seen and closed if
/// unwanted (a truncated one would hide installed fds from us).
pub(crate) const SCM_MAX_FD: usize = 253;

/// Set once the `$KEYVAULT_FD` fd is owned by a [`Vault`]: a second owner of
/// the same fd number would close it twice (and the number may by then be
/// another file's).
static ENV_FD_TAKEN: AtomicBool = AtomicBool::new(false);

const FROM_ENV: &str = "from-env";
const SEND: &str = "send";
pub(crate) const RECEIVE: &str = "receive";

/// Whether `fd` is a keyvault handle: GETCAPS (which needs no capability)
/// succeeds on every keyvault fd. Anything else fails with `ENOTTY` under
/// `op` ([`ErrorKind::NoDevice`](crate::ErrorKind::NoDevice)), whatever the
/// other file's driver answered.
pub(crate) fn check_is_vault(op: &'static str, fd: BorrowedFd<'_>) -> Result<()> {
    let mut caps = abi::KvCaps::default();
    // SAFETY: GETCAPS writes one `KvCaps`, which `caps` is; a file that is
    // not keyvault does not know the request number (keyvault's own magic).
    match unsafe { crate::raw::ioctl(fd, abi::KV_IOC_GETCAPS, &mut caps) } {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::new(op, Errno::ENOTTY)),
    }
}

impl Vault {
    /// The vault this process was handed in `$KEYVAULT_FD` (by `kvctl exec`,
    /// or any parent that clears close-on-exec on a vault fd and names it
    /// there). The fd must be open ([`FD_ENV`] names the variable) and a
    /// keyvault handle; the returned `Vault` owns it, and makes it
    /// close-on-exec so that this process's own children do not inherit it
    /// by accident (hand it on explicitly, e.g. with [`Vault::send`] or
    /// `kvctl exec`).
    ///
    /// Call it at most once per process: the fd has one owner. A second
    /// call fails with `EBUSY` rather than making a second owner; a failed
    /// call takes nothing, so a fd that is not a vault stays open and
    /// untouched. Errors (all [`ErrorKind::NoDevice`](crate::ErrorKind::NoDevice),
    /// under the operation `"from-env"`): `ENOENT` unset, `EINVAL` not a
    /// number, `EBADF` no such open fd, `ENOTTY` not a keyvault fd,
    /// `EBUSY` already taken.
    ///
    /// ```no_run
    /// use keyvault::{ErrorKind, Vault};
    ///
    /// // Run as `kvctl exec -- my-program`: the keys made in that vault are here.
    /// let vault = match Vault::from_env() {
    ///     Ok(v) => v,
    ///     Err(e) if e.kind() == ErrorKind::NoDevice => {
    ///         eprintln!("{e}; opening a new vault");
    ///         Vault::open()?
    ///     }
    ///     Err(e) => return Err(e),
    /// };
    /// println!("{} keys", vault.list()?.len());
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn from_env() -> Result<Vault> {
        Self::from_env_value(std::env::var_os(FD_ENV).as_deref())
    }

    /// [`Vault::from_env`] with the variable's value.
    fn from_env_value(value: Option<&OsStr>) -> Result<Vault> {
        let value = value.ok_or(Error::new(FROM_ENV, Errno::ENOENT))?;
        let fd: RawFd = value
            .to_str()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&fd| fd >= 0)
            .ok_or(Error::new(FROM_ENV, Errno::EINVAL))?;
        let flags = fcntl(fd, FcntlArg::F_GETFD).map_err(|e| Error::new(FROM_ENV, e))?;
        // SAFETY: F_GETFD just found `fd` open; it is borrowed only for the
        // GETCAPS below, while nothing in this function closes it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        check_is_vault(FROM_ENV, borrowed)?;
        if ENV_FD_TAKEN.swap(true, Ordering::AcqRel) {
            return Err(Error::new(FROM_ENV, Errno::EBUSY));
        }
        let cloexec = FdFlag::from_bits_retain(flags) | FdFlag::FD_CLOEXEC;
        if let Err(e) = fcntl(fd, FcntlArg::F_SETFD(cloexec)) {
            ENV_FD_TAKEN.store(false, Ordering::Release);
            return Err(Error::new(FROM_ENV, e));
        }
        // SAFETY: the fd is open, and was handed to this process to own in
        // `$KEYVAULT_FD`; ENV_FD_TAKEN (set above) makes this the only
        // `Vault` that library code ever makes of it.
        Ok(Vault::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends this handle (the same open file: same keys, same capabilities)
    /// over a connected Unix stream socket with `SCM_RIGHTS`, in one
    /// message; [`Vault::receive`] on the other end gets it. This `Vault`
    /// stays usable: to hand over fewer rights, send a [`Vault::dup`]
    /// limited to what the peer needs (a [`Vault::restrict`] on this one
    /// would restrict both ends). Errors: the socket's, under the operation
    /// `"send"` (`EPIPE` when the peer is gone; no `SIGPIPE`).
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Caps, Vault};
    /// use std::os::unix::net::UnixStream;
    ///
    /// let vault = Vault::open()?;
    /// let key = vault.generate(Algorithm::Ed25519)?;
    /// let (parent, child) = UnixStream::pair().expect("socketpair");
    /// vault.dup(Caps::SIGN, Some(&[key]))?.send(&parent)?;
    /// // In another process (or here): a handle that can only sign with `key`.
    /// let signer = Vault::receive(&child)?;
    /// signer.sign(key, b"hello")?;
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn send(&self, sock: &UnixStream) -> Result<()> {
        self.send_with(sock, &[CARRIER])
    }

    /// [`Vault::send`] with `data` (not empty) as the message the handle
    /// rides on, e.g. a protocol's answer: the fd comes with its first byte,
    /// and all of `data` is written (a blocking socket; with a write
    /// timeout set, `EAGAIN` when it expires). Errors as [`Vault::send`]'s,
    /// `EINVAL` for empty `data`.
    pub fn send_with(&self, sock: &UnixStream, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Err(Error::new(SEND, Errno::EINVAL));
        }
        let fds = [self.as_raw_fd()];
        let cmsgs = [ControlMessage::ScmRights(&fds)];
        let mut sent = loop {
            let iov = [IoSlice::new(data)];
            match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
                Ok(0) => return Err(Error::new(SEND, Errno::EIO)),
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::new(SEND, e)),
            }
        };
        // The fd went with the first byte; the rest is plain data.
        while sent < data.len() {
            let iov = [IoSlice::new(&data[sent..])];
            match sendmsg::<()>(sock.as_raw_fd(), &iov, &[], MsgFlags::MSG_NOSIGNAL, None) {
                Ok(0) => return Err(Error::new(SEND, Errno::EIO)),
                Ok(n) => sent += n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::new(SEND, e)),
            }
        }
        Ok(())
    }

    /// Receives a vault handle that [`Vault::send`] (or any sender of one
    /// byte with exactly one fd in `SCM_RIGHTS`) put on a Unix stream
    /// socket. The fd arrives close-on-exec, and must be a keyvault handle.
    /// Any other fd in the message is closed, never leaked. Errors, under
    /// the operation `"receive"`: `EPIPE` the peer closed the socket before
    /// sending, `EPROTO` the message did not carry exactly one fd, `ENOTTY`
    /// ([`ErrorKind::NoDevice`](crate::ErrorKind::NoDevice)) the fd is not a
    /// keyvault handle, else the socket's errno.
    ///
    /// ```no_run
    /// use keyvault::Vault;
    /// use std::os::unix::net::UnixStream;
    ///
    /// // A worker started by a broker that keeps the keys.
    /// let broker = UnixStream::connect("/run/keybroker.sock").expect("connect");
    /// let vault = Vault::receive(&broker)?;
    /// println!("handed a vault with {}", vault.caps()?.names());
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn receive(sock: &UnixStream) -> Result<Vault> {
        let mut byte = [0u8; 1];
        let mut cmsg_buf = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
        let (bytes, mut fds) = loop {
            let mut iov = [IoSliceMut::new(&mut byte)];
            match recvmsg::<()>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_buf),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    // The fds are owned (closed on drop) before anything
                    // can fail.
                    let fds = received_fds(&msg)?;
                    break (msg.bytes, fds);
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::new(RECEIVE, e)),
            }
        };
        if bytes == 0 && fds.is_empty() {
            return Err(Error::new(RECEIVE, Errno::EPIPE));
        }
        if fds.len() != 1 {
            return Err(Error::new(RECEIVE, Errno::EPROTO));
        }
        let fd = fds.remove(0);
        check_is_vault(RECEIVE, fd.as_fd())?;
        Ok(Vault::from_fd(fd))
    }
}

/// Every fd in the message's `SCM_RIGHTS`, owned.
pub(crate) fn received_fds<S>(msg: &nix::sys::socket::RecvMsg<'_, '_, S>) -> Result<Vec<OwnedFd>> {
    // Truncated control data cannot be walked (nix refuses): it cannot
    // happen for fds alone (see SCM_MAX_FD), only with control messages
    // this socket did not ask for.
    let cmsgs = msg
        .cmsgs()
        .map_err(|_| Error::new(RECEIVE, Errno::EPROTO))?;
    let mut fds = Vec::new();
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            // SAFETY: the kernel installed each of these fds in this process
            // for this message; nothing else knows of them yet.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::fs::File;
    use std::path::{Path, PathBuf};

    /// A file of this test's own, so that counting the fds open on it is
    /// not disturbed by the other tests' threads.
    fn scratch(name: &str) -> (PathBuf, File) {
        let path = std::env::temp_dir().join(format!("keyvault-{name}-{}", std::process::id()));
        let file = File::create(&path).expect("scratch file");
        (path, file)
    }

    /// How many fds of this process are open on `path`.
    fn open_on(path: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .expect("/proc/self/fd")
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target == path)
            .count()
    }

    fn send_fds(sock: &UnixStream, fds: &[RawFd], payload: &[u8]) {
        let cmsgs = [ControlMessage::ScmRights(fds)];
        let cmsgs = if fds.is_empty() { &[][..] } else { &cmsgs[..] };
        sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(payload)],
            cmsgs,
            MsgFlags::empty(),
            None,
        )
        .expect("sendmsg");
    }

    #[test]
    fn send_with_carries_a_message_and_refuses_an_empty_one() {
        let (path, file) = scratch("send-with");
        let (a, b) = UnixStream::pair().expect("socketpair");
        let v = Vault::from_fd(file.into());
        let e = v.send_with(&a, b"").unwrap_err();
        assert_eq!((e.op(), e.errno()), (SEND, libc::EINVAL));
        v.send_with(&a, b"answer\n").expect("send_with");
        let mut got = [0u8; 16];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut got)];
        let msg = recvmsg::<()>(b.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
            .expect("recvmsg");
        let fds = received_fds(&msg).expect("fds");
        assert_eq!(
            (msg.bytes, fds.len()),
            (7, 1),
            "the whole message, one fd on it"
        );
        assert_eq!(&got[..7], b"answer\n");
        drop(fds);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn a_received_fd_that_is_not_a_vault_is_no_device_and_closed() {
        let (path, file) = scratch("not-a-vault");
        let (a, b) = UnixStream::pair().expect("socketpair");
        Vault::from_fd(file.into()).send(&a).expect("send");
        // The sender's Vault is dropped: the only fd on the file is in flight.
        assert_eq!(open_on(&path), 0);
        let e = Vault::receive(&b).unwrap_err();
        assert_eq!(
            (e.op(), e.errno(), e.kind()),
            (RECEIVE, libc::ENOTTY, ErrorKind::NoDevice)
        );
        assert_eq!(open_on(&path), 0, "the received fd leaked");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn a_message_with_two_fds_or_none_is_refused_and_nothing_leaks() {
        let (path, file) = scratch("two-fds");
        let (a, b) = UnixStream::pair().expect("socketpair");
        let second = file.try_clone().expect("dup");
        send_fds(&a, &[file.as_raw_fd(), second.as_raw_fd()], &[CARRIER]);
        assert_eq!(open_on(&path), 2);
        let e = Vault::receive(&b).unwrap_err();
        assert_eq!((e.op(), e.errno()), (RECEIVE, libc::EPROTO));
        assert_eq!(open_on(&path), 2, "the two received fds leaked");

        send_fds(&a, &[], &[CARRIER]);
        let e = Vault::receive(&b).unwrap_err();
        assert_eq!((e.op(), e.errno()), (RECEIVE, libc::EPROTO));
        drop((file, second));
        assert_eq!(open_on(&path), 0);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn receive_from_a_closed_socket_is_epipe_and_send_to_one_does_not_kill() {
        let (a, b) = UnixStream::pair().expect("socketpair");
        drop(a);
        let e = Vault::receive(&b).unwrap_err();
        assert_eq!((e.op(), e.errno()), (RECEIVE, libc::EPIPE));
        let vault = Vault::open_path("/dev/null").expect("/dev/null");
        let e = vault.send(&b).unwrap_err();
        assert_eq!((e.op(), e.errno()), (SEND, libc::EPIPE));
    }

    #[test]
    fn the_received_fd_is_close_on_exec() {
        let (path, file) = scratch("cloexec");
        let (a, b) = UnixStream::pair().expect("socketpair");
        send_fds(&a, &[file.as_raw_fd()], &[CARRIER]);
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut buf = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
        let msg = recvmsg::<()>(
            b.as_raw_fd(),
            &mut iov,
            Some(&mut buf),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .expect("recvmsg");
        let fds = received_fds(&msg).expect("fds");
        assert_eq!(fds.len(), 1);
        let flags = fcntl(fds[0].as_raw_fd(), FcntlArg::F_GETFD).expect("F_GETFD");
        assert!(FdFlag::from_bits_retain(flags).contains(FdFlag::FD_CLOEXEC));
        drop((fds, file));
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn from_env_checks_the_value_and_takes_only_a_vault() {
        let errno = |v: Option<&str>| {
            let e = Vault::from_env_value(v.map(OsStr::new)).unwrap_err();
            assert_eq!((e.op(), e.kind()), (FROM_ENV, ErrorKind::NoDevice), "{v:?}");
            e.errno()
        };
        assert_eq!(errno(None), libc::ENOENT);
        assert_eq!(errno(Some("")), libc::EINVAL);
        assert_eq!(errno(Some("three")), libc::EINVAL);
        assert_eq!(errno(Some("-1")), libc::EINVAL);
        // Past RLIMIT_NOFILE's hard maximum: never an open fd.
        assert_eq!(errno(Some("2147483647")), libc::EBADF);

        let (path, file) = scratch("from-env");
        // As a parent hands it over: inheritable.
        fcntl(file.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty())).expect("F_SETFD");
        let fd = file.as_raw_fd().to_string();
        assert_eq!(errno(Some(&fd)), libc::ENOTTY);
        // Not taken: still open, its flags untouched, and no claim left behind.
        assert_eq!(open_on(&path), 1);
        let flags = fcntl(file.as_raw_fd(), FcntlArg::F_GETFD).expect("F_GETFD");
        assert_eq!(FdFlag::from_bits_retain(flags), FdFlag::empty());
        assert!(!ENV_FD_TAKEN.load(Ordering::Acquire));
        drop(file);
        std::fs::remove_file(path).ok();
    }
}
