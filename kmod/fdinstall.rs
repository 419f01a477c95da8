// SPDX-License-Identifier: GPL-2.0

//! A new open file description on the vault device, for DUP: an anonymous
//! inode file with the device's own file operations, whose private data is
//! a new [`Handle`] — so ioctl and release work on it exactly as on a file
//! opened through /dev/keyvault, and the module stays pinned while it lives.

use kernel::{
    fs::File,
    prelude::*,
    sync::Arc,
    types::ForeignOwnable, //
};

use crate::vault::Handle;

mod ffi {
    use core::ffi::c_void;

    extern "C" {
        /// `file` is a `struct file *`.
        pub(super) fn kv_install_fd(file: *mut c_void, private: *mut c_void) -> i32;
    }
}

/// Installs a close-on-exec fd in the caller's table whose file holds
/// `handle`, using the file operations of `like` (a keyvault file).
pub(crate) fn install(like: &File, handle: Arc<Handle>) -> Result<i32> {
    let private = handle.into_foreign();
    // SAFETY: `like` is a live keyvault file, so its f_op are the misc
    // device's, which expect private data made by `Arc<Handle>::into_foreign`.
    let fd = unsafe { ffi::kv_install_fd(like.as_ptr().cast(), private) };
    if fd < 0 {
        // SAFETY: on failure the C side did not keep `private`, which came
        // from `into_foreign` above and is reclaimed exactly once here.
        drop(unsafe { Arc::<Handle>::from_foreign(private) });
        return Err(Error::from_errno(fd));
    }
    Ok(fd)
}
