//! Coverage guidance from KCOV (the kernel's Documentation/dev-tools/kcov.rst).
//!
//! On a kernel with CONFIG_KCOV, a keyvault.ko built with KCOV_INSTRUMENT
//! (Kbuild; on the debug kernel nothing else is instrumented, see
//! scripts/kconfig/debug.config) calls `__sanitizer_cov_trace_pc` on every
//! edge of its code, C and Rust, and the kernel appends the return address of
//! that call to the trace buffer of the calling task, if that task enabled
//! kcov. So each worker thread, the forked child's too, opens its own kcov
//! fd, maps its own buffer and enables it for itself: a fuzzing step (one
//! `Worker::step`: a request, a round trip, an fd shuffle) then leaves the
//! module code it ran in its own buffer, as PCs, and so edges between
//! consecutive PCs. A step that reached an edge or a PC no step of the run
//! (in either process) reached before keeps its choice sequence (the tape of
//! rng.rs) in the corpus (corpus.rs), which later steps mutate and replay.
//!
//! Without /sys/kernel/debug/kcov (a kernel without CONFIG_KCOV) kv-fuzz
//! runs blind, as before, and says so.

use super::corpus::{self, Corpus};
use super::mem::shared_zeroed;
use super::rng::Rng;
use super::sites::Module;
use super::{Config, World};
use keyvault::uapi::{KvCaps, KV_IOC_GETCAPS};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

const KCOV: &CStr = c"/sys/kernel/debug/kcov";
const KCOV_INIT_TRACE: libc::c_ulong = nix::request_code_read!(b'c', 1, size_of::<libc::c_ulong>());
const KCOV_ENABLE: libc::c_ulong = nix::request_code_none!(b'c', 100);
const KCOV_DISABLE: libc::c_ulong = nix::request_code_none!(b'c', 101);
const KCOV_TRACE_PC: libc::c_ulong = 0;
/// Entries of one thread's trace buffer (8 bytes each, the first is the
/// count). An Ed25519 signature alone is ~10^5 PCs; a trace that fills up
/// just stops growing (the run counts those).
const TRACE_WORDS: usize = 1 << 18;

/// How often a step replays a mutated corpus entry rather than generating
/// afresh, in percent (generation keeps reaching things mutation would not).
const MUTATE_PERCENT: u64 = 60;

/// kcov of the calling thread: enabled from [`Tracer::open`] until drop,
/// which must run on the same thread (so it is not Send).
pub struct Tracer {
    fd: OwnedFd,
    area: *mut AtomicU64,
}

fn kcov_ioctl(fd: RawFd, cmd: libc::c_ulong, arg: libc::c_ulong) -> std::io::Result<()> {
    // SAFETY: kcov's ioctls take an integer argument.
    if unsafe { libc::ioctl(fd, cmd as _, arg) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Tracer {
    pub fn open() -> std::io::Result<Tracer> {
        // SAFETY: open(2) of a constant path; the fd is owned below.
        let fd = unsafe { libc::open(KCOV.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        kcov_ioctl(fd.as_raw_fd(), KCOV_INIT_TRACE, TRACE_WORDS as _)?;
        // SAFETY: maps the buffer KCOV_INIT_TRACE sized; the result is checked.
        let area = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                TRACE_WORDS * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if area == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let t = Tracer {
            fd,
            area: area.cast(),
        };
        kcov_ioctl(t.fd.as_raw_fd(), KCOV_ENABLE, KCOV_TRACE_PC)?;
        Ok(t)
    }

    fn words(&self) -> &[AtomicU64] {
        // SAFETY: the mapping is TRACE_WORDS words long and lives as long as
        // self; the kernel writes it only during this thread's syscalls.
        unsafe { std::slice::from_raw_parts(self.area, TRACE_WORDS) }
    }

    /// Empties the trace.
    pub fn reset(&self) {
        self.words()[0].store(0, Relaxed);
    }

    /// The PCs traced since the last reset, and whether the buffer filled up.
    pub fn trace(&self) -> (&[AtomicU64], bool) {
        let w = self.words();
        let n = w[0].load(Relaxed) as usize;
        (&w[1..=n.min(TRACE_WORDS - 1)], n >= TRACE_WORDS - 1)
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // Best effort: closing the fd disables kcov anyway.
        let _ = kcov_ioctl(self.fd.as_raw_fd(), KCOV_DISABLE, 0);
        // SAFETY: unmapping our own mapping, which nothing refers to any more.
        unsafe { libc::munmap(self.area.cast(), TRACE_WORDS * 8) };
    }
}

/// Bits of the edge map, indexed by a hash of the edge's two PCs.
const MAP_BITS: u32 = 20;
const MAP_WORDS: usize = 1 << (MAP_BITS - 6);

/// Run-wide counters in the shared mapping.
#[derive(Clone, Copy)]
enum Counter {
    /// Steps that reached something new (their tapes joined the corpus).
    New,
    /// Traces that filled their buffer.
    Truncated,
    /// Steps traced.
    Steps,
    /// PCs in their traces.
    Pcs,
}
const NCOUNTERS: usize = 4;

/// An executable section of the module, where kcov reports it.
#[derive(Clone)]
struct Range {
    lo: u64,
    len: u64,
    /// Index of its first bit in the exact map.
    bit0: u64,
}

/// What the parent and the child have reached, in a mapping shared across
/// the fork: counters, the hashed edge map, and one bit per byte of the
/// module's code (its PCs, exactly, for the feedback and the report; a PC
/// out of the module, which only a module other than --module makes, only
/// counts through its edges).
#[derive(Clone)]
pub struct Coverage {
    words: &'static [AtomicU64],
    ranges: Vec<Range>,
}

/// Sets bit `i`; true if it was clear.
fn set(bits: &[AtomicU64], i: u64) -> bool {
    let (w, m) = (&bits[(i / 64) as usize], 1u64 << (i % 64));
    w.load(Relaxed) & m == 0 && w.fetch_or(m, Relaxed) & m == 0
}

/// A `MAP_BITS`-bit hash (Fibonacci hashing).
fn hash(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MAP_BITS)
}

impl Coverage {
    /// `ranges`: (first PC, length) of each code section, as kcov reports them.
    fn new(ranges: &[(u64, u64)]) -> Coverage {
        let mut bit0 = 0;
        let ranges: Vec<Range> = ranges
            .iter()
            .map(|&(lo, len)| {
                let r = Range { lo, len, bit0 };
                bit0 += len.div_ceil(64) * 64;
                r
            })
            .collect();
        let n = NCOUNTERS + MAP_WORDS + (bit0 / 64) as usize;
        let p = shared_zeroed(n * 8, "coverage maps");
        // SAFETY: a zeroed shared mapping of n words that is never unmapped;
        // zero bytes are a valid AtomicU64.
        let words = unsafe { std::slice::from_raw_parts(p.cast::<AtomicU64>(), n) };
        Coverage { words, ranges }
    }

    fn counter(&self, c: Counter) -> &AtomicU64 {
        &self.words[c as usize]
    }

    fn add(&self, c: Counter, n: u64) {
        self.counter(c).fetch_add(n, Relaxed);
    }

    /// The bit of `pc` in the exact map.
    fn bit(&self, pc: u64) -> Option<u64> {
        let r = self.ranges.iter().find(|r| pc.wrapping_sub(r.lo) < r.len)?;
        Some(r.bit0 + (pc - r.lo))
    }

    /// Adds a trace; true if it reached an edge or a PC not seen before.
    /// The hot loop of a traced run (an Ed25519 signature is ~10^5 PCs).
    fn absorb(&self, trace: &[AtomicU64]) -> bool {
        let (edges, exact) = self.words[NCOUNTERS..].split_at(MAP_WORDS);
        let mut new = false;
        let mut prev = 0u64;
        for pc in trace {
            let pc = pc.load(Relaxed);
            new |= set(edges, hash(pc ^ prev.rotate_left(29)));
            prev = pc;
            if let Some(i) = self.bit(pc) {
                new |= set(exact, i);
            }
        }
        new
    }

    /// Whether some step ran the module's code at `pc` (as kcov reports it).
    pub fn hit(&self, pc: u64) -> bool {
        let exact = &self.words[NCOUNTERS + MAP_WORDS..];
        self.bit(pc)
            .is_some_and(|i| exact[(i / 64) as usize].load(Relaxed) & 1 << (i % 64) != 0)
    }
}

/// Coverage for one process's workers.
pub struct Feedback {
    cov: Coverage,
    corpus: Corpus,
    /// Whether steps replay the corpus (false: coverage is only measured).
    guided: bool,
}

/// What is set up before the fork: the shared maps, the module's sites,
/// the corpus's seeds.
pub struct Setup {
    cov: Coverage,
    module: Result<Module, String>,
    seeds: Vec<Vec<u64>>,
    guided: bool,
}

/// Whether the module is instrumented and where its code is, checked with a
/// traced GETCAPS on `probe_fd`; None (said why) when there is no coverage.
pub fn setup(cfg: &Config, probe_fd: RawFd) -> Option<Setup> {
    if cfg.blind {
        println!("coverage: off (--blind)");
        return None;
    }
    // SAFETY: access(2) of a constant path.
    if unsafe { libc::access(KCOV.as_ptr(), libc::F_OK) } != 0 {
        println!("coverage: unavailable (no {}: a kernel without CONFIG_KCOV, or debugfs not mounted); fuzzing blind", KCOV.to_string_lossy());
        return None;
    }
    let pcs = match Tracer::open() {
        Ok(t) => {
            let mut caps = KvCaps::default();
            // SAFETY: GETCAPS writes one KvCaps, which `caps` is.
            unsafe { libc::ioctl(probe_fd, KV_IOC_GETCAPS as _, &mut caps) };
            let pcs: Vec<u64> = t.trace().0.iter().map(|p| p.load(Relaxed)).collect();
            pcs
        }
        Err(e) => {
            println!("coverage: unavailable (kcov: {e}); fuzzing blind");
            return None;
        }
    };
    if pcs.is_empty() {
        println!("coverage: unavailable (an ioctl traced no PC: keyvault.ko was built without KCOV_INSTRUMENT); fuzzing blind");
        return None;
    }
    let module = match cfg.module {
        None => Err("no --module".to_string()),
        Some(path) => Module::load(path).and_then(|mut m| m.calibrate(&pcs).map(|()| m)),
    };
    let ranges = module.as_ref().map(|m| m.ranges()).unwrap_or_default();
    match &module {
        Ok(m) => println!("coverage: kcov on; {}", m.describe()),
        Err(e) => println!("coverage: kcov on; no report of keyvault.ko's coverage ({e})"),
    }
    let mut seeds = Vec::new();
    match cfg.corpus {
        Some(dir) if cfg.unguided => println!("coverage: corpus {dir} left alone (--unguided)"),
        Some(dir) => {
            seeds = corpus::load(dir);
            println!("coverage: corpus {dir}: {} seed inputs", seeds.len());
        }
        None => {}
    }
    Some(Setup {
        cov: Coverage::new(&ranges),
        module,
        seeds,
        guided: !cfg.unguided,
    })
}

impl Setup {
    /// The feedback of one process (each has its own corpus).
    pub fn feedback(&self) -> Feedback {
        Feedback {
            cov: self.cov.clone(),
            corpus: Corpus::new(self.seeds.clone()),
            guided: self.guided,
        }
    }

    /// Prints the coverage summary (the parent, once the child is done).
    pub fn report(&self, cfg: &Config) {
        let c = |x| self.cov.counter(x).load(Relaxed);
        println!(
            "coverage: {} steps traced ({} PCs), {} reached something new{}, {} traces filled their buffer",
            c(Counter::Steps),
            c(Counter::Pcs),
            c(Counter::New),
            if self.guided {
                " (kept)"
            } else {
                " (--unguided: not kept)"
            },
            c(Counter::Truncated)
        );
        match &self.module {
            Ok(m) => {
                m.report(&self.cov);
                if let Some(path) = cfg.sites {
                    if let Err(e) = m.write_sites(&self.cov, path) {
                        println!("coverage: {path}: {e}");
                    }
                }
            }
            Err(e) => println!("coverage: keyvault.ko unknown ({e}): no PC or function figures"),
        }
    }
}

/// Saves this process's corpus, if it made one and there is a --corpus.
pub fn save(world: &World) {
    if let (Some(fb), Some(dir)) = (&world.feedback, world.cfg.corpus) {
        if !fb.guided {
            return;
        }
        let name = if world.child { "child" } else { "parent" };
        match fb.corpus.save(dir, name) {
            Ok(n) => println!("coverage: corpus {dir}: {n} inputs saved ({name})"),
            Err(e) => println!("coverage: corpus {dir}: not saved ({name}): {e}"),
        }
    }
}

/// A worker's side of the feedback: its tracer, and when the step being
/// traced started.
pub struct Guide<'w> {
    tracer: Option<Tracer>,
    fb: Option<&'w Feedback>,
    started: Instant,
    /// The world's fd lock: the tracer's fd comes and goes under it, as
    /// every fd of the run does (DUP's checks know where its fd lands).
    fd_lock: &'w Mutex<()>,
}

impl<'w> Guide<'w> {
    /// Enables kcov for the calling thread (a worker's, or main's for the
    /// final close), when there is coverage.
    pub fn new(world: &'w World, id: usize) -> Guide<'w> {
        let mut g = Guide {
            tracer: None,
            fb: None,
            started: Instant::now(),
            fd_lock: &world.fd_lock,
        };
        if let Some(fb) = &world.feedback {
            let _l = world.fd_lock.lock().unwrap();
            match Tracer::open() {
                Ok(t) => (g.tracer, g.fb) = (Some(t), Some(fb)),
                Err(e) => eprintln!("kv-fuzz: thread {id} runs untraced: kcov: {e}"),
            }
        }
        g
    }

    /// Counts what ran since the last step (a worker's setup), keeping no input.
    pub fn absorb(&mut self) {
        if let (Some(t), Some(fb)) = (&self.tracer, self.fb) {
            fb.cov.absorb(t.trace().0);
            t.reset();
        }
    }

    /// Starts tracing a step: from a seed of the corpus, a mutated entry, or
    /// (also when unguided) afresh.
    pub fn start(&mut self, rng: &mut Rng) {
        let (Some(t), Some(fb)) = (&self.tracer, self.fb) else {
            return;
        };
        t.reset();
        if !fb.guided {
            return;
        }
        let replay = match fb.corpus.next_seed() {
            Some(seed) => seed,
            None if rng.chance(MUTATE_PERCENT) => fb.corpus.mutant(rng),
            None => Vec::new(),
        };
        rng.start_tape(replay);
        self.started = Instant::now();
    }

    /// Ends a step: keeps its tape if it reached something new.
    pub fn finish(&mut self, rng: &mut Rng) {
        let (Some(t), Some(fb)) = (&self.tracer, self.fb) else {
            return;
        };
        let tape = rng.take_tape();
        let (trace, truncated) = t.trace();
        fb.cov.add(Counter::Steps, 1);
        fb.cov.add(Counter::Pcs, trace.len() as u64);
        fb.cov.add(Counter::Truncated, u64::from(truncated));
        if fb.cov.absorb(trace) {
            fb.cov.add(Counter::New, 1);
            if fb.guided {
                fb.corpus
                    .add(tape, self.started.elapsed().as_micros() as u64);
            }
        }
    }
}

impl Drop for Guide<'_> {
    fn drop(&mut self) {
        let _l = self.fd_lock.lock().unwrap();
        self.tracer = None;
    }
}
