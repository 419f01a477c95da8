// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch: decode the command, check the capability, call the handler.
//!
//! The capability check comes first, before the argument is even read, so a
//! missing capability is always `EPERM`, whatever else is wrong.

use kernel::{
    fs::File,
    prelude::*,
    sync::Arc,
    uaccess::UserPtr, //
};

use crate::{
    abi::*,
    key::Key,
    pure::alg::Alg,
    secret::Scratch,
    trace,
    uapi::{
        user_slice,
        Arg, //
    },
    vault::Handle,
};

mod aead;
mod asym;
mod caps;
mod cbc;
mod kdf;
mod keys;
mod mac;

pub(crate) use crate::uapi::reject;

/// What an operation tells its trace event: filled in by the handler as it
/// learns it, reported by `dispatch` on every exit path.
#[derive(Default)]
pub(crate) struct OpInfo {
    /// The key operated on (0: none or not known yet).
    pub(crate) key_id: u64,
    /// Input length.
    pub(crate) len: u64,
}

type Handler = fn(&Handle, &Arg<'_>, &mut OpInfo) -> Result;

/// The capability an ioctl needs (0: none) and its handler.
fn route(cmd: u32) -> Option<(u32, Handler)> {
    Some(match cmd {
        KV_IOC_GETCAPS => (0, caps::getcaps),
        KV_IOC_RESTRICT => (KV_CAP_RESTRICT, caps::restrict),
        KV_IOC_DUP => (KV_CAP_RESTRICT, caps::dup),
        KV_IOC_GENKEY => (KV_CAP_GENKEY, keys::genkey),
        KV_IOC_IMPORT => (KV_CAP_IMPORT, keys::import),
        KV_IOC_DESTROY => (KV_CAP_DESTROY, keys::destroy),
        KV_IOC_REVOKE => (KV_CAP_REVOKE, keys::revoke),
        KV_IOC_GETINFO => (KV_CAP_GETINFO, keys::getinfo),
        KV_IOC_LIST => (KV_CAP_LIST, keys::list),
        KV_IOC_AEAD_ENCRYPT => (KV_CAP_ENCRYPT, aead::encrypt),
        KV_IOC_AEAD_DECRYPT => (KV_CAP_DECRYPT, aead::decrypt),
        KV_IOC_CBC_ENCRYPT => (KV_CAP_ENCRYPT, cbc::encrypt),
        KV_IOC_CBC_DECRYPT => (KV_CAP_DECRYPT, cbc::decrypt),
        KV_IOC_MAC => (KV_CAP_MAC, mac::mac),
        KV_IOC_VERIFY_MAC => (KV_CAP_MAC, mac::verify),
        KV_IOC_HASH => (KV_CAP_HASH, mac::hash),
        KV_IOC_SIGN => (KV_CAP_SIGN, asym::sign),
        KV_IOC_VERIFY => (KV_CAP_VERIFY, asym::verify),
        KV_IOC_GET_PUBKEY => (KV_CAP_GETINFO, asym::get_pubkey),
        KV_IOC_DERIVE => (KV_CAP_DERIVE, kdf::derive),
        KV_IOC_KEYEXCHANGE => (KV_CAP_EXCHANGE, kdf::exchange),
        _ => return None,
    })
}

/// Runs one ioctl on a handle.
pub(crate) fn dispatch(h: &Handle, file: &File, cmd: u32, arg: UserPtr) -> Result {
    let nr = cmd & 0xff;
    let Some((cap, handler)) = route(cmd) else {
        trace::op(nr, 0, 0, ENOTTY.to_errno());
        return Err(ENOTTY);
    };
    let mut info = OpInfo::default();
    let result = match h.require(cap) {
        Ok(()) => handler(h, &Arg::new(arg, file), &mut info),
        Err(e) => {
            trace::cap_denied(nr, cap, h.caps());
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

/// Copies `len` bytes at a user address into `buf`, a kernel buffer that is
/// wiped when dropped (plaintext and MAC input are secrets too).
fn read_secret(buf: &mut Scratch, ptr: u64, len: usize) -> Result {
    buf.fill(user_slice(ptr, len)?.reader(), len)
}
