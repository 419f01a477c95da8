// SPDX-License-Identifier: GPL-2.0

//! The shared ABI (`abi.rs`) as the module uses it, and the one protocol
//! every request follows: the request struct is copied in ([`Arg::read`]),
//! its key id and input length go to the trace event, its reserved words
//! must be zero (`EINVAL`), and an output that does not fit is reported by
//! writing the needed length back with `ENOSPC` ([`Arg::require_room`]).

use kernel::{
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
    fdinstall::VaultFile,
    pure::Reject, //
};

/// What the module reads of every request struct, the same way for all.
pub(crate) trait Request: FromBytes + AsBytes {
    /// Whether every word the ABI reserves (documented "must be 0") is 0.
    fn reserved_clear(&self) -> bool;
    /// The key it names (0: none or not known yet), for its trace event.
    fn key_id(&self) -> u64 {
        0
    }
    /// Its input length, for its trace event.
    fn in_len(&self) -> u32 {
        0
    }
}

/// Whether a field is all zero bytes.
fn zero<T: AsBytes + ?Sized>(v: &T) -> bool {
    v.as_bytes().iter().all(|&b| b == 0)
}

/// `request!(Struct, reserved [fields], key field, len field)`: the struct
/// is plain old data, and implements [`Request`] with these fields.
macro_rules! request {
    ($t:ty, reserved [$($($r:ident).+),*] $(, key $k:ident)? $(, len $l:ident)?) => {
        plain_old_data!($t);
        impl Request for $t {
            fn reserved_clear(&self) -> bool {
                true $(&& zero(&self.$($r).+))*
            }
            $(fn key_id(&self) -> u64 {
                self.$k
            })?
            $(fn in_len(&self) -> u32 {
                self.$l
            })?
        }
    };
}

macro_rules! plain_old_data {
    ($t:ty) => {
        // SAFETY: #[repr(C)], only integer fields (and arrays/structs of them)
        // with no padding (checked against the C header by keyvault-uapi's
        // tests), so every bit pattern is valid and no byte is uninitialized.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above.
        unsafe impl AsBytes for $t {}
    };
}

plain_old_data!(KvPolicy);
plain_old_data!(KvChildPolicy);
plain_old_data!(KvKdf);
// Only written (LIMITS is `_IOR`): no reserved words to check.
plain_old_data!(KvLimits);
request!(KvCaps, reserved [reserved]);
request!(KvDup, reserved [flags, reserved]);
request!(KvGenkey, reserved []);
request!(KvImport, reserved [], len key_len);
request!(KvKeyref, reserved [reserved], key key_id);
request!(KvKeyinfo, reserved [reserved0, reserved], key key_id);
request!(KvList, reserved [reserved]);
request!(KvAead, reserved [reserved], key key_id, len in_len);
request!(KvCbc, reserved [reserved0, reserved], key key_id, len in_len);
request!(KvMac, reserved [reserved], key key_id, len data_len);
request!(KvHash, reserved [reserved0, reserved], len data_len);
request!(KvSign, reserved [reserved], key key_id, len data_len);
request!(KvVerify, reserved [reserved0, reserved], key key_id, len data_len);
request!(KvPubkey, reserved [reserved0, reserved], key key_id);
request!(KvDerive, reserved [kdf.reserved0], key key_id);
request!(KvExchange, reserved [kdf.reserved0], key key_id);
request!(KvImportKeyring, reserved [reserved]);
request!(KvWrap, reserved [reserved], key wrapping_key_id);
request!(KvUnwrap, reserved [reserved0, reserved], key wrapping_key_id, len blob_len);

/// A verdict of the pure validation code, with its rejection as an errno.
pub(crate) fn reject<T>(verdict: core::result::Result<T, Reject>) -> Result<T> {
    verdict.map_err(|r| match r {
        Reject::Invalid => EINVAL,
        Reject::TooBig => EMSGSIZE,
        Reject::Denied => EPERM,
        Reject::BadMessage => EBADMSG,
    })
}

/// What an operation tells its trace event: filled in from the request as
/// it is read (and by handlers that learn a new key's id), reported by
/// `ops::dispatch` on every exit path.
#[derive(Default)]
pub(crate) struct OpInfo {
    /// The key operated on (0: none or not known yet).
    pub(crate) key_id: u64,
    /// Input length.
    pub(crate) len: u64,
}

/// An ioctl's argument (the request struct at a user address), and the
/// file it was issued on.
pub(crate) struct Arg<'a> {
    ptr: UserPtr,
    file: VaultFile<'a>,
}

impl<'a> Arg<'a> {
    /// The argument at `ptr` of an ioctl on `file`.
    pub(crate) fn new(ptr: UserPtr, file: VaultFile<'a>) -> Self {
        Self { ptr, file }
    }

    /// The file the ioctl was issued on.
    pub(crate) fn file(&self) -> VaultFile<'a> {
        self.file
    }

    /// Copies the request struct in (`EFAULT` on a bad pointer), tells
    /// `info` its key and input length, and refuses set reserved words
    /// (`EINVAL`).
    pub(crate) fn read<T: Request>(&self, info: &mut OpInfo) -> Result<T> {
        let req: T = UserSlice::new(self.ptr, size_of::<T>()).reader().read()?;
        info.key_id = req.key_id();
        info.len = req.in_len().into();
        if !req.reserved_clear() {
            return Err(EINVAL);
        }
        Ok(req)
    }

    /// Copies the (updated) request struct back out.
    pub(crate) fn write<T: AsBytes>(&self, v: &T) -> Result {
        UserSlice::new(self.ptr, size_of::<T>()).writer().write(v)
    }

    /// The output capacity in `req`'s field `room` must hold `need` bytes
    /// before any work is done; otherwise the needed length is written back
    /// there and the ioctl fails with `ENOSPC`.
    pub(crate) fn require_room<T: AsBytes>(&self, req: &mut T, room: fn(&mut T) -> &mut u32, need: usize) -> Result {
        if *room(req) as usize >= need {
            return Ok(());
        }
        *room(req) = u32::try_from(need).map_err(|_| EMSGSIZE)?;
        self.write(req)?;
        Err(ENOSPC)
    }
}

/// A user buffer named by a `u64` pointer field and a length.
pub(crate) fn user_slice(ptr: u64, len: usize) -> Result<UserSlice> {
    let addr = usize::try_from(ptr).map_err(|_| EFAULT)?;
    Ok(UserSlice::new(UserPtr::from_addr(addr), len))
}
