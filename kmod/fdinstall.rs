// SPDX-License-Identifier: GPL-2.0

//! A new open file description on the vault device, for DUP: an anonymous
//! inode file with the device's own file operations, whose private data is
//! a new [`Handle`] — so ioctl and release work on it exactly as on a file
//! opened through /dev/keyvault, and the module stays pinned while it lives.
//!
//! In the kernel's reserve → publish → install order (as Rust binder does):
//! the fd number is reserved and the file made first, the caller writes the
//! number out, and only then is the fd installed, which cannot fail. A
//! request whose reply cannot be written leaves no fd behind.

use core::ptr::NonNull;
use kernel::{
    error::from_err_ptr,
    fs::{
        file::{
            flags::O_CLOEXEC,
            FileDescriptorReservation, //
        },
        File,
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
    types::ForeignOwnable, //
};

use crate::vault::Handle;

mod ffi {
    use core::ffi::c_void;

    extern "C" {
        /// `like` is a `struct file *`; returns a `struct file *` or an ERR_PTR.
        pub(super) fn kv_new_file(like: *mut c_void, private: *mut c_void) -> *mut c_void;
    }
}

/// A file of this module's device (opened through /dev/keyvault or made by
/// [`NewFd`]): its file operations are keyvault's and its private data a
/// [`Handle`]. What [`NewFd::new`] copies the file operations of.
#[derive(Clone, Copy)]
pub(crate) struct VaultFile<'a>(&'a File);

impl<'a> VaultFile<'a> {
    /// `file`, known to be a keyvault file.
    ///
    /// # Safety
    ///
    /// `file` is a file of keyvault's misc device (its `f_op` are the
    /// device's, its private data made by `Arc<Handle>::into_foreign`), for
    /// as long as `'a`.
    pub(crate) unsafe fn new(file: &'a File) -> Self {
        Self(file)
    }
}

/// A reserved fd number and the file it will hold; dropped before
/// [`NewFd::install`], both are released.
pub(crate) struct NewFd {
    reservation: FileDescriptorReservation,
    file: ARef<File>,
}

impl NewFd {
    /// Reserves a close-on-exec fd in the caller's table and makes the file
    /// holding `handle`, with the file operations of `like`.
    pub(crate) fn new(like: VaultFile<'_>, handle: Arc<Handle>) -> Result<Self> {
        let reservation = FileDescriptorReservation::get_unused_fd_flags(O_CLOEXEC)?;
        let private = handle.into_foreign();
        // SAFETY: `like` is a live keyvault file (`VaultFile`'s invariant),
        // so its f_op are the misc device's, which expect private data made
        // by `Arc<Handle>::into_foreign`.
        let made = from_err_ptr(unsafe { ffi::kv_new_file(like.0.as_ptr().cast(), private) });
        let file = match made.map(|p| NonNull::new(p.cast::<File>())) {
            // SAFETY: a new file whose one reference we own (anon_inode_getfile);
            // `File` is a transparent wrapper of `struct file`.
            Ok(Some(p)) => unsafe { ARef::from_raw(p) },
            Ok(None) | Err(_) => {
                // SAFETY: the C side did not keep `private`, which came from
                // `into_foreign` above and is reclaimed exactly once here.
                drop(unsafe { Arc::<Handle>::from_foreign(private) });
                return Err(made.err().unwrap_or(ENOMEM));
            }
        };
        Ok(Self { reservation, file })
    }

    /// The fd number the file will have.
    pub(crate) fn fd(&self) -> i32 {
        // At most the fd table's limit, far below i32::MAX.
        self.reservation.reserved_fd() as i32
    }

    /// Installs the file at the reserved number.
    pub(crate) fn install(self) {
        self.reservation.fd_install(self.file);
    }
}
