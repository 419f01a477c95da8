//! Helpers shared by the integration tests.

use keyvault::{raw, Vault};
use nix::errno::Errno;
use std::os::fd::AsFd;

/// A raw ioctl with a typed argument.
pub fn ioctl<T>(v: &Vault, cmd: u32, arg: &mut T) -> Result<i32, Errno> {
    // SAFETY: the tests pass the struct the command encodes, or deliberately
    // a wrong one whose every byte the kernel may overwrite.
    unsafe { raw::ioctl(v.as_fd(), cmd, arg as *mut T) }
}

/// A raw ioctl with an arbitrary address (bad pointers on purpose).
pub fn ioctl_addr(v: &Vault, cmd: u32, addr: usize) -> Result<i32, Errno> {
    // SAFETY: the address is either unmapped/invalid (the kernel must return
    // EFAULT) or owned by the test.
    unsafe { raw::ioctl(v.as_fd(), cmd, addr as *mut u8) }
}

/// An address that is never mapped in userspace (kernel half).
pub const KERNEL_ADDR: usize = 0xffff_8880_0000_0000;

/// An anonymous mapping, unmapped on drop.
pub struct Mapping {
    pub addr: *mut u8,
    pub len: usize,
}

impl Mapping {
    /// `len` bytes of zeroed, read-write memory.
    pub fn new(len: usize) -> Self {
        // SAFETY: anonymous private mapping; the result is checked.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(addr, libc::MAP_FAILED, "mmap");
        Mapping {
            addr: addr.cast(),
            len,
        }
    }

    /// Makes the mapping read-only.
    pub fn read_only(&self) {
        // SAFETY: the range is this mapping.
        assert_eq!(
            unsafe { libc::mprotect(self.addr.cast(), self.len, libc::PROT_READ) },
            0
        );
    }

    /// Stores a value at the start of the mapping.
    pub fn put<T: Copy>(&self, v: T) -> *mut T {
        assert!(std::mem::size_of::<T>() <= self.len);
        let p = self.addr.cast::<T>();
        // SAFETY: in bounds, mmap memory is page-aligned, and it is writable
        // until `read_only` is called.
        unsafe { p.write(v) };
        p
    }

    /// The address just past the end.
    pub fn end(&self) -> usize {
        self.addr as usize + self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}

/// A two-page mapping whose second page is unmapped: a value placed so it
/// straddles the boundary is partly unreadable.
pub struct Straddle {
    map: Mapping,
}

impl Straddle {
    pub fn new() -> Self {
        let two = Mapping::new(2 * 4096);
        // SAFETY: unmapping the second page of our own mapping.
        unsafe { libc::munmap(two.addr.add(4096).cast(), 4096) };
        let addr = two.addr;
        std::mem::forget(two);
        Straddle {
            map: Mapping { addr, len: 4096 },
        }
    }

    /// Address of `n` bytes that end `short` bytes past the readable page.
    pub fn tail(&self, n: usize, short: usize) -> usize {
        self.map.end() - n + short
    }

    /// Fills the readable page's tail with `bytes` ending at the boundary
    /// minus `short`.
    pub fn fill(&self, bytes: &[u8], short: usize) -> usize {
        let start = self.tail(bytes.len(), short);
        let readable = bytes.len() - short;
        // SAFETY: [start, start+readable) lies inside the readable page.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, readable) };
        start
    }
}
