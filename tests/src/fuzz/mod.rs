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

mod corpus;
mod crash_report;
mod kcov;
mod mem;
mod ops;
mod rng;
mod sites;

use mem::{Extra, Shared, MAX_WORKERS, NCMD, NERR};
use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use rng::Rng;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Vaults the parent keeps open at once.
const PARENT_GROUPS: usize = 3;
/// fd slots per parent vault (slot 0 is the vault's own open).
const PARENT_SLOTS: usize = 6;
/// fd slots per group in the child.
const CHILD_SLOTS: usize = 3;
/// Key ids kept per (group, algorithm).
const POOL_PER_ALG: usize = 12;
/// Dead (destroyed, rotated-out) and revoked/expired ids kept for reuse.
const DEAD_MAX: usize = 64;

const USAGE: &str = "\
usage: kv-fuzz [--seconds N] [--ops N] [--seed S] [--threads T] [--child-threads C] [--quiet]
               [--module KO [--sites FILE]] [--corpus DIR] [--unguided | --blind]
  --seconds N        stop after N seconds (default 120)
  --ops N            stop after about N ioctls (default: no limit); whichever comes first
  --seed S           PRNG seed, decimal or 0x-hex (default: from the clock; printed)
  --threads T        parent worker threads (default 3, at most 12)
  --child-threads C  worker threads of the forked child that fuzzes through fds
                     received over SCM_RIGHTS (default 2; 0: no child)
  --quiet            print only the summary
With kcov (/sys/kernel/debug/kcov, a CONFIG_KCOV kernel), coverage-guided:
  --module KO        keyvault.ko as loaded, for the coverage report (PCs and functions)
  --sites FILE       write each coverage site of KO to FILE: hit or not, where, function
  --corpus DIR       replay the inputs saved in DIR first, save the run's corpus there
  --unguided         measure coverage only: keep no inputs, mutate nothing
  --blind            no kcov at all (as on other kernels)";

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub seconds: u64,
    pub ops: u64,
    pub seed: u64,
    pub threads: usize,
    pub child_threads: usize,
    pub quiet: bool,
    /// The module's max_data_bytes (read from sysfs).
    pub max_data: u32,
    pub module: Option<&'static str>,
    pub corpus: Option<&'static str>,
    pub sites: Option<&'static str>,
    pub unguided: bool,
    pub blind: bool,
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        seconds: 120,
        ops: u64::MAX,
        seed: 0,
        threads: 3,
        child_threads: 2,
        quiet: false,
        max_data: 1 << 20,
        module: None,
        corpus: None,
        sites: None,
        unguided: false,
        blind: false,
    };
    let mut seed = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next()
                .as_deref()
                .and_then(parse_num)
                .ok_or(format!("{name} needs a number"))
        };
        match a.as_str() {
            "--seconds" => c.seconds = val("--seconds")?,
            "--ops" => c.ops = val("--ops")?,
            "--seed" => seed = Some(val("--seed")?),
            "--threads" => c.threads = val("--threads")? as usize,
            "--child-threads" => c.child_threads = val("--child-threads")? as usize,
            "--quiet" => c.quiet = true,
            // Leaked: a Config is Copy, and these live for the whole run.
            "--module" | "--corpus" | "--sites" => {
                let path: &'static str = args.next().ok_or(format!("{a} needs a path"))?.leak();
                match a.as_str() {
                    "--module" => c.module = Some(path),
                    "--corpus" => c.corpus = Some(path),
                    _ => c.sites = Some(path),
                }
            }
            "--unguided" => c.unguided = true,
            "--blind" => c.blind = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if c.threads == 0 || c.threads > 12 || c.child_threads > MAX_WORKERS - c.threads {
        return Err("--threads must be 1..=12 and threads + child threads at most 16".into());
    }
    c.seed = seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
    });
    if let Some(m) = std::fs::read_to_string("/sys/module/keyvault/parameters/max_data_bytes")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        c.max_data = m;
    }
    Ok(c)
}

/// Opens a new vault.
fn open_vault() -> Result<RawFd, Errno> {
    // SAFETY: plain open(2) of a constant path.
    let fd = unsafe { libc::open(c"/dev/keyvault".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    Errno::result(fd)
}

fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: the caller took `fd` out of its slot (under the fd lock),
        // so no one else will close it.
        unsafe { libc::close(fd) };
    }
}

/// Is `fd` open in this process?
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// A vault opened at start and never closed: what `lowest_free_fd` dups.
static PROBE_VAULT: AtomicI32 = AtomicI32::new(-1);

/// The lowest free fd number (where the next new fd will go). The probe is
/// a dup of a keyvault fd, not of stderr: a worker whose fd was closed under
/// it may hit the probe's number in that instant, and must still be talking
/// to a keyvault fd (a tty would answer ENOTTY, outside the ABI).
fn lowest_free_fd() -> RawFd {
    // SAFETY: duplicates the probe vault's fd (or fails) and closes the
    // duplicate at once.
    unsafe {
        let fd = libc::fcntl(PROBE_VAULT.load(Relaxed), libc::F_DUPFD_CLOEXEC, 0);
        if fd >= 0 {
            libc::close(fd);
        }
        fd
    }
}

/// A set of fd slots on (what started as) one vault.
pub struct Group {
    pub slots: Vec<AtomicI32>,
}

/// Key ids known to the fuzzer, per group and algorithm.
#[derive(Default)]
pub struct Pool {
    pub keys: Vec<[Vec<u64>; 10]>,
    pub dead: Vec<u64>,
    pub revoked: Vec<u64>,
    /// Public keys read back with GET_PUBKEY: Ed25519, X25519.
    pub ed_pub: Vec<[u8; 32]>,
    pub x_pub: Vec<[u8; 32]>,
}

fn push_capped<T>(v: &mut Vec<T>, x: T, cap: usize, rng: &mut Rng) {
    if v.len() < cap {
        v.push(x);
    } else {
        let i = rng.below(v.len() as u64) as usize;
        v[i] = x;
    }
}

impl Pool {
    /// Adds a key; returns an evicted one (to destroy) when the list was full.
    pub fn add(&mut self, group: usize, alg: u32, id: u64, rng: &mut Rng) -> Option<u64> {
        let list = &mut self.keys[group][alg as usize % 10];
        if list.len() < POOL_PER_ALG {
            list.push(id);
            return None;
        }
        let i = rng.below(list.len() as u64) as usize;
        let old = std::mem::replace(&mut list[i], id);
        push_capped(&mut self.dead, old, DEAD_MAX, rng);
        Some(old)
    }

    pub fn remove(&mut self, id: u64, dead: bool, rng: &mut Rng) {
        for g in self.keys.iter_mut() {
            for list in g.iter_mut() {
                list.retain(|k| *k != id);
            }
        }
        let to = if dead {
            &mut self.dead
        } else {
            &mut self.revoked
        };
        push_capped(to, id, DEAD_MAX, rng);
    }

    pub fn retire_group(&mut self, group: usize, rng: &mut Rng) {
        let lists = std::mem::take(&mut self.keys[group]);
        for id in lists.into_iter().flatten() {
            push_capped(&mut self.dead, id, DEAD_MAX, rng);
        }
    }
}

/// Everything a process's workers share.
pub struct World {
    pub child: bool,
    pub cfg: Config,
    pub groups: Vec<Group>,
    /// Held by whoever creates or closes fds, so a new fd's number is known.
    pub fd_lock: Mutex<()>,
    pub pool: Mutex<Pool>,
    pub shared: &'static Shared,
    /// Parent: the socket to the child (-1: none).
    pub sock: RawFd,
    pub deadline: Instant,
    /// Coverage guidance (None: no kcov).
    pub feedback: Option<kcov::Feedback>,
}

impl World {
    fn new(
        child: bool,
        cfg: Config,
        shared: &'static Shared,
        sock: RawFd,
        feedback: Option<kcov::Feedback>,
    ) -> World {
        let (ngroups, nslots) = if child {
            (PARENT_GROUPS + 1, CHILD_SLOTS)
        } else {
            (PARENT_GROUPS, PARENT_SLOTS)
        };
        World {
            child,
            cfg,
            groups: (0..ngroups)
                .map(|_| Group {
                    slots: (0..nslots).map(|_| AtomicI32::new(-1)).collect(),
                })
                .collect(),
            fd_lock: Mutex::new(()),
            pool: Mutex::new(Pool {
                keys: (0..ngroups).map(|_| Default::default()).collect(),
                ..Default::default()
            }),
            shared,
            sock,
            deadline: Instant::now() + Duration::from_secs(cfg.seconds),
            feedback,
        }
    }

    /// The group a process opens vaults for itself: every parent group,
    /// only the last one in the child.
    pub fn own_group(&self, g: usize) -> bool {
        !self.child || g == self.groups.len() - 1
    }

    pub fn stopped(&self) -> bool {
        self.shared.stop.load(Relaxed) != 0
    }

    /// Puts `fd` in `slot` of `group`, closing what was there. Call with
    /// the fd lock held.
    pub fn install(&self, group: usize, slot: usize, fd: RawFd) {
        close(self.groups[group].slots[slot].swap(fd, Relaxed));
    }

    /// Whether `fd` is in some slot. Call with the fd lock held.
    pub fn holds(&self, fd: RawFd) -> bool {
        self.groups
            .iter()
            .any(|g| g.slots.iter().any(|s| s.load(Relaxed) == fd))
    }

    /// Closes every fd of `group` and, in a group of this process's own,
    /// opens a fresh vault in slot 0. Returns the new fd.
    pub fn rotate(&self, group: usize, rng: &mut Rng) -> RawFd {
        let _l = self.fd_lock.lock().unwrap();
        for s in &self.groups[group].slots {
            close(s.swap(-1, Relaxed));
        }
        self.pool.lock().unwrap().retire_group(group, rng);
        if !self.own_group(group) {
            return -1;
        }
        let fd = open_vault().unwrap_or(-1);
        self.groups[group].slots[0].store(fd, Relaxed);
        fd
    }
}

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
                    .spawn_scoped(s, move || ops::worker(world, id))
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

fn child_main(
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

fn errno_name(e: usize) -> String {
    if e == 0 {
        "ok".into()
    } else {
        format!("{:?}", Errno::from_raw(e as i32))
    }
}

/// Prints the histograms; returns the total ioctl count.
fn report(cfg: &Config, shared: &Shared, elapsed: f64) -> u64 {
    let mut totals = [[0u64; NERR]; NCMD];
    let mut extras = [0u64; mem::NEXTRA];
    for ws in &shared.workers {
        for (c, row) in ws.counts.iter().enumerate() {
            for (e, n) in row.iter().enumerate() {
                totals[c][e] += n.load(Relaxed);
            }
        }
        for (x, n) in ws.extra.iter().enumerate() {
            extras[x] += n.load(Relaxed);
        }
    }
    let all: u64 = totals.iter().flatten().sum();
    println!("per ioctl (count by result):");
    for (c, row) in totals.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let mut parts: Vec<(usize, u64)> = row
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(e, n)| (e, *n))
            .collect();
        parts.sort_by_key(|&(e, n)| (e != 0, std::cmp::Reverse(n)));
        let text: Vec<String> = parts
            .iter()
            .map(|(e, n)| format!("{}={n}", errno_name(*e)))
            .collect();
        println!("  {:<13} {total:>9}  {}", ops::NAMES[c], text.join(" "));
    }
    let mut by_errno = [0u64; NERR];
    for row in &totals {
        for (e, n) in row.iter().enumerate() {
            by_errno[e] += n;
        }
    }
    let mut parts: Vec<(usize, u64)> = by_errno
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(e, n)| (e, *n))
        .collect();
    parts.sort_by_key(|&(e, n)| (e != 0, std::cmp::Reverse(n)));
    let text: Vec<String> = parts
        .iter()
        .map(|(e, n)| format!("{}={n}", errno_name(*e)))
        .collect();
    println!("per errno: {}", text.join(" "));
    let text: Vec<String> = mem::EXTRA_NAMES
        .iter()
        .zip(extras)
        .map(|(name, n)| format!("{name}: {n}"))
        .collect();
    println!("also: {}", text.join(", "));
    println!(
        "kv-fuzz: {all} ioctls in {elapsed:.1} s: {:.0} ioctls/s (seed {:#x}, {} parent + {} child threads, max_data {})",
        all as f64 / elapsed.max(0.001),
        cfg.seed,
        cfg.threads,
        cfg.child_threads,
        cfg.max_data
    );
    all
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
