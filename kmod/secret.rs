// SPDX-License-Identifier: GPL-2.0

//! Secret bytes in kernel memory, and the kernel's random number generator.

use kernel::{
    alloc::KVVec,
    bindings,
    prelude::*,
    uaccess::UserSliceReader, //
};

use crate::crypto::memzero;

/// Secret bytes (key material, plaintext, derived data) in kernel memory,
/// charged to the caller's memory cgroup and wiped when dropped, whatever
/// path drops them. Large buffers fall back to vmalloc.
pub(crate) struct Secret(KVVec<u8>);

impl Secret {
    /// A zeroed secret of `len` bytes.
    pub(crate) fn zeroed(len: usize) -> Result<Self> {
        let mut v = KVVec::with_capacity(len, GFP_KERNEL_ACCOUNT)?;
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

    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, writable (for in-place crypto).
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        memzero(&mut self.0);
    }
}

/// Fills `buf` from the kernel CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; get_random_bytes
    // may be called from any context and writes exactly that many bytes.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}
