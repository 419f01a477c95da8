// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch: decode the command, check the capability, call the handler.
//!
//! The capability check comes first, before the argument is even read, so a
//! missing capability is always `EPERM`, whatever else is wrong.

use kernel::{
    ioctl::_IOC_NR,
    sync::Arc,
    uaccess::UserPtr, //
};

use self::prelude::*;
use crate::{
    fdinstall::VaultFile,
    key::Key,
    secret::Scratch,
    trace, //
};

/// What every handler file uses: the ABI, the request protocol, the
/// handle, and the shared steps of this file.
mod prelude {
    pub(super) use super::{
        input_len,
        key_for,
        read_secret, //
    };
    pub(super) use crate::{
        abi::*,
        pure::{
            alg::Alg,
            request, //
        },
        uapi::{
            reject,
            user_slice,
            Arg,
            OpInfo, //
        },
        vault::Handle,
    };
    pub(super) use kernel::prelude::*;
}

mod aead;
mod asym;
mod caps;
mod cbc;
mod kdf;
mod keys;
mod limits;
mod mac;
mod wrap;

type Handler = fn(&Handle, &Arg<'_>, &mut OpInfo) -> Result;

/// The handler of each ioctl of the ABI's list (`kv_ioctl_list!` in
/// `abi.rs`, which also gives its number, request struct and capability).
fn route(cmd: u32) -> Option<Handler> {
    Some(match cmd {
        KV_IOC_GETCAPS => caps::getcaps,
        KV_IOC_RESTRICT => caps::restrict,
        KV_IOC_DUP => caps::dup,
        KV_IOC_LIMITS => limits::limits,
        KV_IOC_GENKEY => keys::genkey,
        KV_IOC_IMPORT => keys::import,
        KV_IOC_DESTROY => keys::destroy,
        KV_IOC_REVOKE => keys::revoke,
        KV_IOC_GETINFO => keys::getinfo,
        KV_IOC_LIST => keys::list,
        KV_IOC_IMPORT_KEYRING => keys::import_keyring,
        KV_IOC_AEAD_ENCRYPT => aead::encrypt,
        KV_IOC_AEAD_DECRYPT => aead::decrypt,
        KV_IOC_CBC_ENCRYPT => cbc::encrypt,
        KV_IOC_CBC_DECRYPT => cbc::decrypt,
        KV_IOC_MAC => mac::mac,
        KV_IOC_VERIFY_MAC => mac::verify,
        KV_IOC_HASH => mac::hash,
        KV_IOC_SIGN => asym::sign,
        KV_IOC_VERIFY => asym::verify,
        KV_IOC_GET_PUBKEY => asym::get_pubkey,
        KV_IOC_DERIVE => kdf::derive,
        KV_IOC_KEYEXCHANGE => kdf::exchange,
        KV_IOC_WRAP => wrap::wrap,
        KV_IOC_UNWRAP => wrap::unwrap,
        _ => return None,
    })
}

// The ABI's numbers are the kernel's encoding of the same direction, number
// and request struct.
macro_rules! numbers_match_the_kernel {
    ($($(#[$doc:meta])* $name:ident = $dir:ident($nr:literal, $req:ty), $cap:expr;)*) => {$(
        const _: () = assert!($name == kernel::ioctl::$dir::<$req>(KV_IOC_MAGIC, $nr));
    )*};
}
crate::kv_ioctl_list!(numbers_match_the_kernel);

/// Runs one ioctl on a handle.
pub(crate) fn dispatch(h: &Handle, file: VaultFile<'_>, cmd: u32, arg: UserPtr) -> Result {
    let nr = _IOC_NR(cmd);
    let (Some(ioctl), Some(handler)) = (KvIoctl::find(cmd), route(cmd)) else {
        trace::op(nr, 0, 0, ENOTTY.to_errno());
        return Err(ENOTTY);
    };
    let mut info = OpInfo::default();
    let result = match h.require(ioctl.cap) {
        Ok(()) => handler(h, &Arg::new(arg, file), &mut info),
        Err(e) => {
            trace::cap_denied(nr, ioctl.cap, h.caps());
            Err(e)
        }
    };
    trace::op(nr, info.key_id, info.len, result.err().map_or(0, |e| e.to_errno()));
    result
}

/// The key an operation `op` (a `KV_CAP_*` bit) runs with, checked in the
/// ABI's order: `ENOENT` unknown id, `EOPNOTSUPP` a key type that cannot do
/// the operation, then the key's state and policy (`Key::authorize`).
fn key_for(h: &Handle, id: u64, op: u32, fits: fn(Alg) -> bool) -> Result<Arc<Key>> {
    let key = h.key(id)?;
    if !fits(key.alg) {
        return Err(EOPNOTSUPP);
    }
    key.authorize(op)?;
    Ok(key)
}

/// An operation's input length `len`, within the vault's limit
/// (`EMSGSIZE` beyond it).
fn input_len(h: &Handle, len: u32) -> Result<usize> {
    reject(request::data_len(len, h.vault().limits().max_data))
}

/// Copies `len` bytes at a user address into `buf`, a kernel buffer that is
/// wiped when dropped (plaintext and MAC input are secrets too).
fn read_secret(buf: &mut Scratch, ptr: u64, len: usize) -> Result {
    buf.fill(user_slice(ptr, len)?.reader(), len)
}
