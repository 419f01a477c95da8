// SPDX-License-Identifier: GPL-2.0

//! Secret bytes in kernel memory: key material ([`Secret`]) and the
//! per-operation buffers of data copied in from userspace ([`Scratch`]).

use kernel::{
    alloc::KVVec,
    prelude::*,
    uaccess::UserSliceReader, //
};

use crate::crypto::{
    fill_random,
    memzero,
    memzero_allocation, //
};

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

    /// Keeps the first `len` bytes; the rest is wiped first (`Drop` wipes
    /// only what the secret still holds).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.0.len() {
            memzero(&mut self.0[len..]);
            self.0.truncate(len);
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        memzero(&mut self.0);
    }
}

/// How many bytes an operation's buffer holds on the stack before it needs
/// the heap: small messages, the common case, allocate nothing.
const INLINE: usize = 256;

/// A per-operation buffer for data copied in from userspace (plaintext, AAD,
/// MAC input, ...): on the stack up to `INLINE` bytes, else on the heap
/// (vmalloc for large sizes), never zero-filled first (the copy from user
/// memory fills it), and wiped when dropped unless declared public.
pub(crate) struct Scratch {
    inline: [u8; INLINE],
    heap: Option<KVVec<u8>>,
    len: usize,
    public: bool,
}

impl Scratch {
    /// An empty buffer. Filled in place ([`Scratch::fill`]) rather than
    /// returned full: moving a filled buffer would leave a copy of its
    /// bytes in the old stack slot, which no `Drop` sees.
    pub(crate) fn new() -> Self {
        Scratch {
            inline: [0; INLINE],
            heap: None,
            len: 0,
            public: false,
        }
    }

    /// Fills the buffer with `len` bytes read from `reader`.
    pub(crate) fn fill(&mut self, mut reader: UserSliceReader, len: usize) -> Result {
        if len <= INLINE {
            self.len = len;
            reader.read_slice(&mut self.inline[..len])
        } else {
            // Owned by `self` before the copy, so a fault still wipes
            // whatever part was copied (Drop wipes the whole allocation).
            let v = self.heap.insert(KVVec::with_capacity(len, GFP_KERNEL_ACCOUNT)?);
            self.len = len;
            reader.read_all(v, GFP_KERNEL_ACCOUNT)
        }
    }

    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.heap {
            Some(v) => v,
            None => &self.inline[..self.len],
        }
    }

    /// The bytes, writable (for in-place crypto).
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.heap {
            Some(v) => v,
            None => &mut self.inline[..self.len],
        }
    }

    /// The contents are no longer secret (e.g. they are ciphertext now):
    /// skip the wipe.
    pub(crate) fn make_public(&mut self) {
        self.public = true;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.public {
            return;
        }
        match &mut self.heap {
            Some(v) => memzero_allocation(v),
            None => memzero(&mut self.inline[..self.len]),
        }
    }
}
