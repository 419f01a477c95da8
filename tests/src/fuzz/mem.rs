//! Memory the fuzzer hands to the kernel, and the statistics shared with
//! the forked child.
//!
//! Every pointer the fuzzer passes is either into a thread's own [`Arena`]
//! (raw mmap memory that no Rust object lives in) or an address that is never
//! mapped in this process (null, kernel half, wrapped, or the arena's own
//! PROT_NONE guard pages): whatever the kernel writes, with whatever length,
//! lands in the arena or faults. Kernel copies run upward, so a write that
//! starts in the read-write area stops at the guard after it.

use super::ioctls::NCMD;
use super::rng::Rng;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub const PAGE: usize = 4096;
const LEAD_GUARD: usize = PAGE;
const TAIL_GUARD: usize = 16 * PAGE;
/// Below this nothing is ever mapped here (mmap_min_addr is 64 KiB; the
/// binary and every mapping lie far above).
const LOW_UNMAPPED: u64 = 1 << 20;
/// The first address past the user half: the kernel refuses it outright.
const USER_END: u64 = 0x0000_8000_0000_0000;

/// One worker's memory: `[guard | read-only page | read-write | guard]`.
pub struct Arena {
    base: *mut u8,
    total: usize,
    /// The PROT_NONE page before everything.
    pub lead_guard: u64,
    /// A page of random bytes the kernel may read but not write.
    pub ro: u64,
    /// The read-write area.
    pub rw: u64,
    pub rw_len: usize,
    /// First byte of the PROT_NONE pages right after the read-write area.
    pub tail_guard: u64,
    cursor: usize,
}

// SAFETY: an Arena is only ever used by the worker thread that made it; the
// raw pointer is the mapping's address, not shared state.
unsafe impl Send for Arena {}

fn protect(addr: *mut u8, len: usize, prot: i32) {
    // SAFETY: the range lies inside a mapping this module made.
    let r = unsafe { libc::mprotect(addr.cast(), len, prot) };
    assert_eq!(r, 0, "mprotect: {}", std::io::Error::last_os_error());
}

impl Arena {
    /// An arena whose read-write area holds at least `rw_len` bytes,
    /// filled with random bytes (so is the read-only page).
    pub fn new(rw_len: usize, rng: &mut Rng) -> Self {
        let rw_len = rw_len.div_ceil(PAGE) * PAGE;
        let total = LEAD_GUARD + PAGE + rw_len + TAIL_GUARD;
        // SAFETY: a fresh anonymous private mapping; the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap arena");
        let base = base.cast::<u8>();
        // SAFETY: offsets inside the mapping just made.
        let (ro, rw) = unsafe { (base.add(LEAD_GUARD), base.add(LEAD_GUARD + PAGE)) };
        protect(ro, PAGE + rw_len, libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: the read-only page and the read-write area are writable
        // now and nothing else refers to them.
        unsafe {
            rng.fill(std::slice::from_raw_parts_mut(ro, PAGE + rw_len));
        }
        protect(ro, PAGE, libc::PROT_READ);
        Arena {
            base,
            total,
            lead_guard: base as u64,
            ro: ro as u64,
            rw: rw as u64,
            rw_len,
            tail_guard: rw as u64 + rw_len as u64,
            cursor: 0,
        }
    }

    /// Whether the kernel, writing upward from `addr` with any length, can
    /// only hit this arena's own mapping or fault: `addr` is in it, low
    /// (never mapped) or not a user address.
    pub fn contains_ptr(&self, addr: u64) -> bool {
        !(LOW_UNMAPPED..USER_END).contains(&addr)
            || (addr >= self.lead_guard && addr - self.lead_guard < self.total as u64)
    }

    /// `addr` if [`Self::contains_ptr`], else folded into this arena's
    /// mapping (guards included) at `addr` modulo its size.
    pub fn confine(&self, addr: u64) -> u64 {
        if self.contains_ptr(addr) {
            addr
        } else {
            self.lead_guard + addr % self.total as u64
        }
    }

    fn check(&self, addr: u64, len: usize) {
        assert!(
            addr >= self.rw
                && addr
                    .checked_add(len as u64)
                    .is_some_and(|end| end <= self.tail_guard),
            "arena access out of the read-write area"
        );
    }

    /// Copies `bytes` to `addr` (inside the read-write area).
    pub fn write(&self, addr: u64, bytes: &[u8]) {
        self.check(addr, bytes.len());
        // SAFETY: in bounds (checked); raw memory no Rust object lives in.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
    }

    /// Fills `len` bytes at `addr` with random bytes.
    pub fn randomize(&self, addr: u64, len: usize, rng: &mut Rng) {
        self.check(addr, len);
        // SAFETY: as in `write`; the slice does not outlive this call.
        rng.fill(unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) });
    }

    /// Fills `len` bytes at `addr` with `byte`.
    pub fn set(&self, addr: u64, len: usize, byte: u8) {
        self.check(addr, len);
        // SAFETY: as in `write`.
        unsafe { std::ptr::write_bytes(addr as *mut u8, byte, len) };
    }

    /// A copy of `len` bytes at `addr` (inside the read-write area).
    pub fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        self.check(addr, len);
        let mut v = vec![0u8; len];
        // SAFETY: in bounds (checked); no ioctl runs during the copy.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, v.as_mut_ptr(), len) };
        v
    }

    /// A value of type `T` read from `addr` (any alignment).
    pub fn get<T: Copy>(&self, addr: u64) -> T {
        self.check(addr, size_of::<T>());
        // SAFETY: in bounds; T is one of the ABI's plain-old-data structs.
        unsafe { std::ptr::read_unaligned(addr as *const T) }
    }

    /// Writes `bytes` into the read-only page at `off`, which stays read-only.
    pub fn write_ro(&self, off: usize, bytes: &[u8]) -> u64 {
        assert!(off + bytes.len() <= PAGE);
        let ro = self.ro as *mut u8;
        protect(ro, PAGE, libc::PROT_READ | libc::PROT_WRITE);
        // SAFETY: inside the (now writable) page.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ro.add(off), bytes.len()) };
        protect(ro, PAGE, libc::PROT_READ);
        self.ro + off as u64
    }

    /// Starts a new request: buffers are then laid out one after another
    /// from a random point.
    pub fn reset(&mut self, rng: &mut Rng) {
        self.cursor = (rng.below(16 * 1024) as usize) & !7;
    }

    /// `len` bytes of the read-write area for one buffer of the current
    /// request (not overlapping the request's other buffers unless the area
    /// wrapped around, which only very large buffers make happen).
    pub fn alloc(&mut self, len: usize, rng: &mut Rng) -> u64 {
        let len = len.min(self.rw_len);
        let mut gap = 8 * rng.below(4) as usize;
        if rng.chance(10) {
            gap += 1 + rng.below(7) as usize; // unaligned
        }
        if self.cursor + gap + len > self.rw_len {
            self.cursor = 0;
            gap = 0;
        }
        let addr = self.rw + (self.cursor + gap) as u64;
        self.cursor += gap + len;
        addr
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(self.base.cast(), self.total) };
    }
}

/// Whether `[a, a+alen)` and `[b, b+blen)` overlap.
pub fn overlaps(a: u64, alen: usize, b: u64, blen: usize) -> bool {
    a < b.saturating_add(blen as u64) && b < a.saturating_add(alen as u64)
}

/// errno buckets: 0 is success.
pub const NERR: usize = 134;
pub const MAX_WORKERS: usize = 16;

/// Extra counters, per worker.
#[derive(Clone, Copy)]
pub enum Extra {
    RoundTrips,
    RoundTripChecks,
    FdsSent,
    FdsReceived,
    Rotations,
    Closes,
    Dup2s,
    BigOps,
    Canaries,
    HostChecks,
    Mutated,
}
pub const NEXTRA: usize = 11;
pub const EXTRA_NAMES: [&str; NEXTRA] = [
    "round trips",
    "round-trip checks",
    "fds sent to the child",
    "fds received by the child",
    "vault rotations",
    "fd closes",
    "dup(2)s",
    "ops with >= 64 KiB of valid data",
    "canaries checked",
    "host cross-checks (sha2, ed25519)",
    "mutated requests",
];

/// One worker's counters; only that worker writes them.
#[repr(C)]
pub struct WorkerStats {
    pub counts: [[AtomicU64; NERR]; NCMD],
    pub extra: [AtomicU64; NEXTRA],
}

impl WorkerStats {
    pub fn count(&self, cmd: usize, errno: usize) {
        let c = &self.counts[cmd][errno.min(NERR - 1)];
        c.store(c.load(Relaxed) + 1, Relaxed);
    }

    pub fn extra(&self, e: Extra) {
        let c = &self.extra[e as usize];
        c.store(c.load(Relaxed) + 1, Relaxed);
    }
}

/// State shared by the parent and the forked child (a MAP_SHARED mapping
/// made before the fork).
#[repr(C)]
pub struct Shared {
    /// ioctls done so far (workers add in batches), for `--ops`.
    pub ops: AtomicU64,
    /// Set once the run is over.
    pub stop: AtomicU64,
    pub unexpected: AtomicU64,
    /// How many unexpected results were printed in full.
    pub reported: AtomicU64,
    pub workers: [WorkerStats; MAX_WORKERS],
}

/// `len` zeroed bytes shared with the processes forked after this call
/// (page-aligned, never unmapped).
pub fn shared_zeroed(len: usize, what: &str) -> *mut u8 {
    let len = len.div_ceil(PAGE) * PAGE;
    // SAFETY: a fresh anonymous shared mapping; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap {what}");
    p.cast()
}

impl Shared {
    /// A zeroed shared mapping (zero is a valid AtomicU64), never unmapped.
    pub fn new() -> &'static Shared {
        let p = shared_zeroed(size_of::<Shared>(), "shared stats");
        // SAFETY: page-aligned, zeroed, large enough, never unmapped; all
        // fields are atomics, for which zero bytes are a valid value.
        unsafe { &*(p as *const Shared) }
    }
}
