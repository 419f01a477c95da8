//! kv-fuzz: a structured and random ioctl fuzzer for /dev/keyvault, run in
//! the test VM.
//!
//! Worker threads (and the workers of a forked child, which receives vault
//! fds over SCM_RIGHTS) issue every ioctl of the ABI, starting from
//! valid-looking requests on a pool of keys of every algorithm (random
//! policies and TTLs, revoked, destroyed, derived and exchanged keys, keys of
//! other vaults) and mutating fields (lengths at boundaries, reserved words,
//! flags, ids, algorithms, pointers: null, kernel, unmapped, read-only,
//! page-straddling, aliasing each other or the request itself), plus random
//! command numbers with the keyvault magic, while fds are closed, dup'd,
//! restricted, rotated and passed to the child under the workers' feet.
//!
//! Every result is checked against the ABI: an errno outside its documented
//! set, or a success that cannot be (a reserved word accepted, a forged tag
//! accepted, an unreadable request accepted, a round trip that does not give
//! the plaintext back, an output written past its buffer), is counted as
//! unexpected and printed; the exit status is non-zero if there was any.
//!
//! On a kernel with KCOV (the debug kernel) the fuzzer is coverage-guided
//! (kcov.rs, corpus.rs) and ends with the coverage of keyvault.ko (sites.rs).
//!
//! The files, by concern:
//! - the run: this file (start, fork, end), cli.rs (options), world.rs (what
//!   a process's workers share: fd slots, key pool), child.rs (the forked
//!   child and SCM_RIGHTS), report.rs (the histograms);
//! - the ioctls: ioctls.rs (every ioctl of the ABI's list: its bucket, field
//!   table, weight and generator), fields.rs (field tables, algorithms);
//! - the workers: worker.rs (the loop, fd churn), keys.rs (choosing fds and
//!   keys), requests.rs (a request generator per ioctl), mutate.rs (placing
//!   and mutating requests), oracle.rs (the errno oracle and every success
//!   that cannot be), roundtrip.rs (round trips, writes out of bounds),
//!   wraptrip.rs (the round trips of WRAP, UNWRAP and IMPORT_KEYRING, on a
//!   private handle, every errno predicted); keyring.rs (the kernel keyring
//!   keys IMPORT_KEYRING imports, made at start);
//! - memory and randomness: mem.rs (arenas, shared statistics), rng.rs;
//! - coverage: kcov.rs, corpus.rs, sites.rs; crash_report.rs.

mod child;
mod cli;
mod corpus;
mod crash_report;
mod fields;
mod ioctls;
mod kcov;
mod keyring;
mod keys;
mod mem;
mod mutate;
mod oracle;
mod report;
mod requests;
mod rng;
mod roundtrip;
mod sites;
mod worker;
mod world;
mod wraptrip;

use child::{child_main, send_to_child};
use cli::{parse_args, Config, USAGE};
use mem::Shared;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use report::report;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use world::*;

/// Runs the workers of this process until the stop flag, the deadline or
/// the op budget.
fn run_workers(world: &World, first: usize, n: usize) -> usize {
    let mut panicked = 0;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let id = first + i;
                std::thread::Builder::new()
                    .name(format!("kv-fuzz-{id}"))
                    .spawn_scoped(s, move || worker::worker(world, id))
                    .expect("spawn worker")
            })
            .collect();
        if !world.child {
            // The parent's main thread keeps the time.
            while !world.stopped() {
                if Instant::now() >= world.deadline
                    || world.shared.ops.load(Relaxed) >= world.cfg.ops
                {
                    world.shared.stop.store(1, Relaxed);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        for h in handles {
            if h.join().is_err() {
                panicked += 1;
            }
        }
    });
    panicked
}

pub fn main() -> i32 {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("kv-fuzz: {e}");
            }
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match open_vault() {
        Ok(fd) => PROBE_VAULT.store(fd, Relaxed),
        Err(e) => {
            eprintln!("kv-fuzz: /dev/keyvault: {e}");
            return 2;
        }
    }
    crash_report::install();
    println!(
        "kv-fuzz: seed {:#x} (rerun with --seed {:#x}), {} s, {} ops, {} threads + child {}",
        cfg.seed,
        cfg.seed,
        cfg.seconds,
        if cfg.ops == u64::MAX {
            "unlimited".to_string()
        } else {
            cfg.ops.to_string()
        },
        cfg.threads,
        cfg.child_threads
    );
    let shared = Shared::new();
    // Before any thread or fork: the whole run shares them.
    let ring = keyring::setup(&mut rng::Rng::new(cfg.seed));
    if !cfg.quiet {
        println!("kv-fuzz: {ring} kernel keyring keys for IMPORT_KEYRING");
    }
    let cov = kcov::setup(&cfg, PROBE_VAULT.load(Relaxed));
    let start = Instant::now();

    // Fork the child before any thread or vault exists.
    let (mut sock, mut child) = (None, None);
    if cfg.child_threads > 0 {
        let (ps, cs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .expect("socketpair");
        // SAFETY: no other thread exists yet; the child leaves with _exit.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                drop(ps);
                let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    child_main(cfg, shared, cs, cov.as_ref())
                }))
                .unwrap_or(101);
                // SAFETY: ends the child without the parent's atexit handlers.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child: pid } => {
                drop(cs);
                sock = Some(ps);
                child = Some(pid);
            }
        }
    }

    let world = World::new(
        false,
        cfg,
        shared,
        sock.as_ref().map_or(-1, |s| s.as_raw_fd()),
        cov.as_ref().map(kcov::Setup::feedback),
    );
    let panicked = run_workers(&world, 0, cfg.threads);
    world.shared.stop.store(1, Relaxed);
    let mut child_trouble = None;
    if let (Some(s), Some(pid)) = (&sock, child) {
        send_to_child(s.as_raw_fd(), -1, u32::MAX, &[]);
        match nix::sys::wait::waitpid(pid, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => {}
            other => child_trouble = Some(format!("{other:?}")),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Close everything (the last close of each vault wipes its keys),
    // traced: the user's last key going is code no worker reaches.
    let mut guide = kcov::Guide::new(&world, 0);
    for g in 0..world.groups.len() {
        let _l = world.fd_lock.lock().unwrap();
        for s in &world.groups[g].slots {
            close(s.swap(-1, Relaxed));
        }
    }
    guide.absorb();
    drop(guide);
    let all = report(&cfg, shared, elapsed);
    if let Some(cov) = &cov {
        cov.report(&cfg);
        kcov::save(&world);
    }
    let mut unexpected = shared.unexpected.load(Relaxed);
    if panicked > 0 {
        println!("kv-fuzz: {panicked} parent worker(s) panicked");
        unexpected += panicked as u64;
    }
    if let Some(t) = child_trouble {
        println!("kv-fuzz: the child did not exit cleanly: {t}");
        unexpected += 1;
    }
    println!("fuzz: {all} ioctls, {unexpected} unexpected");
    i32::from(unexpected != 0)
}
