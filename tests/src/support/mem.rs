//! Memory for hostile pointers: anonymous mappings and a page boundary with
//! nothing mapped behind it.

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
    pub map: Mapping,
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
