// SPDX-License-Identifier: GPL-2.0

//! ioctl dispatch: decode the command, check the capability, call the handler.
//!
//! The capability check comes first, before the argument is even read, so a
//! missing capability is always `EPERM`, whatever else is wrong.

use kernel::{
    prelude::*,
    uaccess::UserPtr, //
};

use crate::{
    abi::*,
    uapi::Arg,
    vault::Handle, //
};

mod caps;
mod keys;

type Handler = fn(&Handle, &Arg) -> Result;

/// The capability an ioctl needs (0: none) and its handler.
fn route(cmd: u32) -> Option<(u32, Handler)> {
    Some(match cmd {
        KV_IOC_GETCAPS => (0, caps::getcaps),
        KV_IOC_RESTRICT => (KV_CAP_RESTRICT, caps::restrict),
        KV_IOC_GENKEY => (KV_CAP_GENKEY, keys::genkey),
        KV_IOC_IMPORT => (KV_CAP_IMPORT, keys::import),
        KV_IOC_DESTROY => (KV_CAP_DESTROY, keys::destroy),
        KV_IOC_REVOKE => (KV_CAP_REVOKE, keys::revoke),
        KV_IOC_GETINFO => (KV_CAP_GETINFO, keys::getinfo),
        KV_IOC_LIST => (KV_CAP_LIST, keys::list),
        _ => return None,
    })
}

/// Runs one ioctl on a handle.
pub(crate) fn dispatch(h: &Handle, cmd: u32, arg: UserPtr) -> Result {
    let (cap, handler) = route(cmd).ok_or(ENOTTY)?;
    h.require(cap)?;
    handler(h, &Arg::new(arg))
}
