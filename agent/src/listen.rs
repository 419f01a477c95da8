//! The agent's sockets: bound from the policy's paths or passed by systemd
//! (socket activation), and the accept loop that gives each connection a
//! thread of its own, at most `max_clients` at a time.

use crate::log;
use crate::peer::Peer;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The stack of each connection's thread (the ssh face wipes the lower
/// half of it after each message: see ssh.rs).
pub const THREAD_STACK: usize = 256 * 1024;

/// sd_listen_fds(3): the first passed fd.
const SD_LISTEN_FDS_START: RawFd = 3;

/// The sockets systemd passed, by FileDescriptorName (`broker`, `ssh`), or
/// none when this process was not socket-activated. The variables are
/// removed so that children do not see them.
pub fn activated() -> Result<Vec<(String, UnixListener)>, String> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").ok();
    for v in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(v);
    }
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(Vec::new());
    };
    if pid.parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(Vec::new());
    }
    let n: RawFd = fds
        .parse()
        .map_err(|_| format!("LISTEN_FDS={fds}: not a number"))?;
    let names: Vec<String> = names
        .as_deref()
        .unwrap_or("")
        .split(':')
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for i in 0..n.clamp(0, 16) {
        let fd = SD_LISTEN_FDS_START + i;
        // SAFETY: systemd passed fds 3..3+LISTEN_FDS to this pid (checked
        // above) for it to own; each is taken once, here.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(|e| format!("socket-activation fd {fd}: {e}"))?;
        let name = names.get(i as usize).cloned().unwrap_or_default();
        out.push((name, UnixListener::from(owned)));
    }
    Ok(out)
}

/// Binds a socket at `path` with `mode`, making its directory (0755) if
/// needed. A socket file left by an agent that is gone (nothing accepts on
/// it) is replaced; one where an agent answers is an error (two agents
/// would fight over it).
pub fn bind(path: &Path, mode: u32) -> Result<UnixListener, String> {
    let shown = path.display();
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(format!("{shown}: exists and is not a socket"));
        }
        match UnixStream::connect(path) {
            Ok(_) => return Err(format!("{shown}: another agent is listening there")),
            Err(_) => std::fs::remove_file(path).map_err(|e| format!("{shown}: {e}"))?,
        }
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("{shown}: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(listener)
}

/// One read(2) from a client that must return by `deadline`: `Ok(0)` when
/// the client hung up, else how many bytes came; a late one is the error
/// "no complete WHAT within N s" (`timeout` is what the deadline came from).
/// The broker's request lines and the ssh face's messages are read with it.
pub fn read_by(
    stream: &mut UnixStream,
    buf: &mut [u8],
    deadline: Instant,
    timeout: Duration,
    what: &str,
) -> Result<usize, String> {
    let late = || format!("no complete {what} within {} s", timeout.as_secs());
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(late())
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// One accepted connection and who made it.
pub struct Conn {
    pub stream: UnixStream,
    pub peer: Peer,
}

/// How many connections are being served: over every socket, and per uid
/// (so that one local user cannot take every slot and starve the others).
#[derive(Clone)]
pub struct Limit(Arc<LimitInner>);

struct LimitInner {
    max: usize,
    max_per_uid: usize,
    active: Mutex<Active>,
}

#[derive(Default)]
struct Active {
    total: usize,
    per_uid: HashMap<u32, usize>,
}

impl Limit {
    pub fn new(max: usize, max_per_uid: usize) -> Self {
        Self(Arc::new(LimitInner {
            max,
            max_per_uid,
            active: Mutex::default(),
        }))
    }

    fn active(&self) -> MutexGuard<'_, Active> {
        self.0.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a connection of `uid`, or which limit is reached.
    fn take(&self, uid: u32) -> Result<Slot, String> {
        let mut a = self.active();
        if a.total >= self.0.max {
            return Err(format!("{} clients already", self.0.max));
        }
        let mine = a.per_uid.entry(uid).or_default();
        if *mine >= self.0.max_per_uid {
            return Err(format!(
                "uid {uid} has {} connections already",
                self.0.max_per_uid
            ));
        }
        *mine += 1;
        a.total += 1;
        Ok(Slot {
            limit: self.clone(),
            uid,
        })
    }
}

/// A connection's place under the limits, given back when dropped.
struct Slot {
    limit: Limit,
    uid: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut a = self.limit.active();
        a.total -= 1;
        if let Some(n) = a.per_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                a.per_uid.remove(&self.uid);
            }
        }
    }
}

/// Accepts connections on `listener` forever, each served by `serve` on a
/// thread of its own. When a limit is reached, `busy` (if any) is written to
/// the new connection, which is then closed; the agent never waits for a
/// client, so one that never reads cannot stall it.
pub fn serve_forever(
    face: &'static str,
    listener: UnixListener,
    limit: Limit,
    busy: Option<Vec<u8>>,
    serve: Arc<dyn Fn(Conn) + Send + Sync>,
) {
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE/ENFILE/ENOMEM: pause rather than spin.
                log!("{face}: accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let peer = match Peer::of(&stream) {
            Ok(p) => p,
            Err(e) => {
                log!("{face}: SO_PEERCRED: {e}");
                continue;
            }
        };
        let slot = match limit.take(peer.uid) {
            Ok(slot) => slot,
            Err(why) => {
                log!("{face}: {peer}: refused a connection: {why}");
                if let Some(msg) = &busy {
                    let _ = stream.set_nonblocking(true);
                    let _ = (&stream).write_all(msg);
                }
                continue;
            }
        };
        let serve = serve.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{face}-{}", peer.pid))
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let _slot = slot;
                serve(Conn { stream, peer });
            });
        if let Err(e) = spawned {
            log!("{face}: no thread for a client: {e}");
        }
    }
}

/// The socket files this agent made, removed when it stops.
#[derive(Default)]
pub struct Made(pub Vec<PathBuf>);

impl Made {
    pub fn remove_all(&self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_uid_cannot_take_every_slot_and_slots_come_back() {
        let limit = Limit::new(3, 2);
        let a1 = limit.take(1000).unwrap();
        let _a2 = limit.take(1000).unwrap();
        let e = limit.take(1000).err().unwrap();
        assert!(e.contains("uid 1000 has 2 connections"), "{e}");
        let _b = limit.take(33).unwrap();
        let e = limit.take(0).err().unwrap();
        assert!(e.contains("3 clients already"), "{e}");
        drop(a1);
        assert!(limit.take(1000).is_ok(), "a slot comes back when dropped");
        assert_eq!(
            limit.active().total,
            3 - 1,
            "the taken one above was dropped at once"
        );
    }
}
