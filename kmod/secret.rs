// SPDX-License-Identifier: GPL-2.0

//! Secret bytes in kernel memory, and the kernel's random number generator.

use kernel::{
    bindings,
    prelude::*,
    uaccess::UserSliceReader, //
};

/// Secret bytes (key material) in kernel memory, charged to the caller's
/// memory cgroup and zeroized when dropped, whatever path drops them.
pub(crate) struct Secret(KVec<u8>);

impl Secret {
    /// A zeroed secret of `len` bytes.
    fn zeroed(len: usize) -> Result<Self> {
        let mut v = KVec::with_capacity(len, GFP_KERNEL_ACCOUNT)?;
        v.resize(len, 0, GFP_KERNEL_ACCOUNT)?;
        Ok(Self(v))
    }

    /// `len` bytes from the kernel CSPRNG.
    pub(crate) fn random(len: usize) -> Result<Self> {
        let mut s = Self::zeroed(len)?;
        fill_random(&mut s.0);
        Ok(s)
    }

    /// `len` bytes copied from userspace. A fault wipes what was copied.
    pub(crate) fn from_user(reader: &mut UserSliceReader, len: usize) -> Result<Self> {
        let mut s = Self::zeroed(len)?;
        reader.read_slice(&mut s.0)?;
        Ok(s)
    }

    /// The secret's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize(&mut self.0);
    }
}

/// Overwrites `buf` with zeros in a way the compiler cannot elide
/// (the `memzero_explicit` of C).
pub(crate) fn zeroize(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference to a byte.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Fills `buf` from the kernel CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; get_random_bytes
    // may be called from any context and writes exactly that many bytes.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}
