//! Who is at the other end of a connection: `SO_PEERCRED` (set by the
//! kernel at connect(), not claimed by the client), and from /proc the
//! executable and the systemd unit of that pid.

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::fmt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// /proc/PID/exe; `None` when unreadable (another user's process seen
    /// by an unprivileged agent, or the process is gone).
    pub exe: Option<PathBuf>,
    /// The systemd unit of its cgroup (`nginx.service`, `user@1000.service`).
    pub unit: Option<String>,
}

impl Peer {
    pub fn of(stream: &UnixStream) -> std::io::Result<Peer> {
        let cred = getsockopt(stream, PeerCredentials)?;
        let pid = cred.pid();
        Ok(Peer {
            pid,
            uid: cred.uid(),
            gid: cred.gid(),
            exe: std::fs::read_link(format!("/proc/{pid}/exe")).ok(),
            unit: std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .ok()
                .and_then(|c| unit_of_cgroup(&c)),
        })
    }
}

/// The systemd unit in a /proc/PID/cgroup text: the last path component
/// that names a unit (`.service`, `.scope`), as systemd's own
/// cg_path_get_unit picks the innermost one (`user@1000.service/app.slice/x.service`
/// gives `x.service`).
pub fn unit_of_cgroup(cgroup: &str) -> Option<String> {
    // cgroup v2: one line "0::/path"; v1: the name=systemd hierarchy.
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| {
            cgroup
                .lines()
                .find_map(|l| l.split_once(":name=systemd:").map(|(_, p)| p))
        })?;
    path.split('/')
        .rev()
        .find(|c| c.ends_with(".service") || c.ends_with(".scope"))
        .map(str::to_string)
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} uid {} gid {}", self.pid, self.uid, self.gid)?;
        if let Some(exe) = &self.exe {
            write!(f, " exe {}", exe.display())?;
        }
        if let Some(unit) = &self.unit {
            write!(f, " unit {unit}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_unit_of_a_cgroup() {
        assert_eq!(
            unit_of_cgroup("0::/system.slice/nginx.service\n").as_deref(),
            Some("nginx.service")
        );
        assert_eq!(
            unit_of_cgroup(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n"
            )
            .as_deref(),
            Some("foo.service")
        );
        assert_eq!(
            unit_of_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n").as_deref(),
            Some("session-3.scope")
        );
        assert_eq!(
            unit_of_cgroup("12:pids:/\n1:name=systemd:/system.slice/cron.service\n").as_deref(),
            Some("cron.service")
        );
        assert_eq!(unit_of_cgroup("0::/\n"), None);
    }

    #[test]
    fn a_socketpair_peer_is_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let p = Peer::of(&a).unwrap();
        assert_eq!(p.pid as u32, std::process::id());
        assert_eq!(p.uid, nix::unistd::getuid().as_raw());
        assert_eq!(p.exe, std::env::current_exe().ok());
    }
}
