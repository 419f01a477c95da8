// SPDX-License-Identifier: GPL-2.0

//! The shared ABI (`abi.rs`) as the module uses it: request structs made
//! copyable from and to user memory, and ABI rejections as errnos.

use kernel::{
    fs::File,
    prelude::*,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    abi::*,
    pure::Reject, //
};

macro_rules! plain_old_data {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: #[repr(C)], only integer fields (and arrays/structs of them)
        // with no padding (checked against the C header by keyvault-uapi's
        // tests), so every bit pattern is valid and no byte is uninitialized.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above.
        unsafe impl AsBytes for $t {}
    )*};
}

plain_old_data!(
    KvPolicy, KvChildPolicy, KvCaps, KvDup, KvGenkey, KvImport, KvKeyref, KvKeyinfo, KvList, KvAead, KvCbc, KvMac, KvHash,
    KvSign, KvVerify, KvPubkey, KvKdf, KvDerive, KvExchange,
);

/// A verdict of the pure validation code, with its rejection as an errno.
pub(crate) fn reject<T>(verdict: core::result::Result<T, Reject>) -> Result<T> {
    verdict.map_err(|r| match r {
        Reject::Invalid => EINVAL,
        Reject::Unsupported => EOPNOTSUPP,
        Reject::TooBig => EMSGSIZE,
        Reject::Denied => EPERM,
    })
}

/// An ioctl's argument (the request struct at a user address), and the
/// file it was issued on.
pub(crate) struct Arg<'a> {
    ptr: UserPtr,
    file: &'a File,
}

impl<'a> Arg<'a> {
    /// The argument at `ptr` of an ioctl on `file`.
    pub(crate) fn new(ptr: UserPtr, file: &'a File) -> Self {
        Self { ptr, file }
    }

    /// The file the ioctl was issued on.
    pub(crate) fn file(&self) -> &'a File {
        self.file
    }

    /// Copies the request struct in (`EFAULT` on a bad pointer).
    pub(crate) fn read<T: FromBytes>(&self) -> Result<T> {
        UserSlice::new(self.ptr, size_of::<T>()).reader().read()
    }

    /// Copies the (updated) request struct back out.
    pub(crate) fn write<T: AsBytes>(&self, v: &T) -> Result {
        UserSlice::new(self.ptr, size_of::<T>()).writer().write(v)
    }
}

/// A user buffer named by a `u64` pointer field and a length.
pub(crate) fn user_slice(ptr: u64, len: usize) -> Result<UserSlice> {
    let addr = usize::try_from(ptr).map_err(|_| EFAULT)?;
    Ok(UserSlice::new(UserPtr::from_addr(addr), len))
}
