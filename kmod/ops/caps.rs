// SPDX-License-Identifier: GPL-2.0

//! GETCAPS and RESTRICT: a handle's capability mask, which only shrinks.

use super::OpInfo;
use kernel::prelude::*;

use crate::{
    abi::*,
    fdinstall::NewFd,
    pure::request,
    uapi::{
        reject,
        user_slice,
        Arg, //
    },
    vault::Handle,
};

/// KV_IOC_GETCAPS: needs no capability.
pub(super) fn getcaps(h: &Handle, arg: &Arg<'_>, _info: &mut OpInfo) -> Result {
    arg.write(&KvCaps {
        caps: h.caps(),
        reserved: 0,
    })
}

/// KV_IOC_RESTRICT: keep `caps & current`, report what is left.
pub(super) fn restrict(h: &Handle, arg: &Arg<'_>, _info: &mut OpInfo) -> Result {
    let mut req: KvCaps = arg.read()?;
    if req.reserved != 0 {
        return Err(EINVAL);
    }
    req.caps = h.restrict(req.caps)?;
    arg.write(&req)
}

/// KV_IOC_DUP: a new fd on the same vault with fewer capabilities and,
/// optionally, fewer keys. This handle keeps its own.
pub(super) fn dup(h: &Handle, arg: &Arg<'_>, _info: &mut OpInfo) -> Result {
    let mut req: KvDup = arg.read()?;
    reject(request::reserved_zero(&req.reserved))?;
    if req.flags != 0 || req.fd != 0 {
        return Err(EINVAL);
    }
    let caps = reject(request::restrict(h.caps(), req.caps))?;
    let visible = if req.nkeys == 0 {
        None
    } else {
        // A key-limited handle could not see the keys it made.
        const MAKES_KEYS: u32 = KV_CAP_GENKEY | KV_CAP_IMPORT | KV_CAP_DERIVE | KV_CAP_EXCHANGE;
        if req.nkeys > KV_DUP_MAX_KEYS || caps & MAKES_KEYS != 0 {
            return Err(EINVAL);
        }
        let n = req.nkeys as usize;
        let mut ids = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut reader = user_slice(req.keys_ptr, n * size_of::<u64>())?.reader();
        for _ in 0..n {
            ids.push(reader.read::<u64>()?, GFP_KERNEL)?;
        }
        Some(ids)
    };
    let new = NewFd::new(arg.file(), h.restricted(caps, visible)?)?;
    req.caps = caps;
    req.fd = new.fd();
    // A reply that cannot be written drops `new`: no fd, no file.
    arg.write(&req)?;
    new.install();
    Ok(())
}
