//! The forked child: it fuzzes vaults it only knows through fds the parent
//! passes over SCM_RIGHTS (with some of their key ids), next to one vault
//! of its own.

use super::mem::{Extra, Shared, MAX_WORKERS};
use super::rng::Rng;
use super::{close, kcov, run_workers, Config, World, CHILD_SLOTS, PARENT_GROUPS};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A message to the child: group, then (id, alg) pairs; group u32::MAX: stop.
const MSG_IDS: usize = 12;

fn encode_msg(group: u32, ids: &[(u64, u32)]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + 12 * ids.len());
    m.extend_from_slice(&group.to_ne_bytes());
    m.extend_from_slice(&(ids.len() as u32).to_ne_bytes());
    for (id, alg) in ids.iter().take(MSG_IDS) {
        m.extend_from_slice(&id.to_ne_bytes());
        m.extend_from_slice(&alg.to_ne_bytes());
    }
    m
}

fn decode_msg(m: &[u8]) -> Option<(u32, Vec<(u64, u32)>)> {
    let u32_at = |o: usize| Some(u32::from_ne_bytes(m.get(o..o + 4)?.try_into().ok()?));
    let group = u32_at(0)?;
    let n = (u32_at(4)? as usize).min(MSG_IDS);
    let mut ids = Vec::new();
    for i in 0..n {
        let o = 8 + 12 * i;
        let id = u64::from_ne_bytes(m.get(o..o + 8)?.try_into().ok()?);
        ids.push((id, u32_at(o + 8)?));
    }
    Some((group, ids))
}

/// Sends `fd` and some key ids of `group` to the child; false if the
/// socket is full (never blocks).
pub fn send_to_child(sock: RawFd, fd: RawFd, group: u32, ids: &[(u64, u32)]) -> bool {
    let payload = encode_msg(group, ids);
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        sock,
        &[IoSlice::new(&payload)],
        if fd >= 0 { &cmsg[..] } else { &[] },
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .is_ok()
}

/// The child's receiving thread: new fds go to their group's slots, their
/// key ids to the pool.
fn child_receiver(world: &World, sock: &OwnedFd, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut payload = vec![0u8; 512];
    loop {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 50) };
        if world.stopped() {
            return;
        }
        if n <= 0 {
            continue;
        }
        if pfd.revents & libc::POLLIN == 0 {
            return; // the parent is gone
        }
        let _l = world.fd_lock.lock().unwrap();
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut payload)];
        let Ok(msg) = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        ) else {
            continue;
        };
        let len = msg.bytes;
        let mut got = -1;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for (i, fd) in fds.into_iter().enumerate() {
                        if i == 0 {
                            got = fd;
                        } else {
                            close(fd);
                        }
                    }
                }
            }
        }
        if len == 0 {
            close(got);
            return; // EOF
        }
        let Some((group, ids)) = decode_msg(&payload[..len]) else {
            close(got);
            continue;
        };
        if group == u32::MAX {
            close(got);
            return;
        }
        let g = (group as usize) % PARENT_GROUPS;
        if got >= 0 {
            let slot = rng.below(CHILD_SLOTS as u64) as usize;
            world.install(g, slot, got);
            world.shared.workers[MAX_WORKERS - 1].extra(Extra::FdsReceived);
        }
        let mut pool = world.pool.lock().unwrap();
        for (id, alg) in ids {
            pool.add(g, alg, id, &mut rng);
        }
    }
}

/// The child process: its own vault, a thread receiving fds, its workers.
pub fn child_main(
    cfg: Config,
    shared: &'static Shared,
    sock: OwnedFd,
    cov: Option<&kcov::Setup>,
) -> i32 {
    let world = World::new(true, cfg, shared, -1, cov.map(kcov::Setup::feedback));
    let own = world.groups.len() - 1;
    let mut rng = Rng::new(cfg.seed ^ 0xc41d);
    world.rotate(own, &mut rng);
    let mut panicked = 0;
    std::thread::scope(|s| {
        let recv = s.spawn(|| child_receiver(&world, &sock, cfg.seed ^ 0x5ec));
        panicked = run_workers(&world, cfg.threads, cfg.child_threads);
        let _ = recv.join();
    });
    kcov::save(&world);
    if panicked > 0 {
        eprintln!("kv-fuzz child: {panicked} worker(s) panicked");
        return 3;
    }
    0
}
