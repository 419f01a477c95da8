// SPDX-License-Identifier: GPL-2.0

//! GETCAPS and RESTRICT: a handle's capability mask, which only shrinks.

use super::prelude::*;
use crate::fdinstall::NewFd;

/// KV_IOC_GETCAPS: needs no capability.
pub(super) fn getcaps(h: &Handle, arg: &Arg<'_>, _info: &mut OpInfo) -> Result {
    arg.write(&KvCaps {
        caps: h.caps(),
        reserved: 0,
    })
}

/// KV_IOC_RESTRICT: keep `caps & current`, report what is left.
pub(super) fn restrict(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvCaps = arg.read(info)?;
    req.caps = h.restrict(req.caps)?;
    arg.write(&req)
}

/// KV_IOC_DUP: a new fd on the same vault with fewer capabilities and,
/// optionally, fewer keys. This handle keeps its own.
pub(super) fn dup(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvDup = arg.read(info)?;
    // The fd is an output.
    if req.fd != 0 {
        return Err(EINVAL);
    }
    let caps = reject(request::restrict(h.caps(), req.caps))?;
    reject(request::dup_keys(req.nkeys, caps))?;
    let visible = if req.nkeys == 0 {
        None
    } else {
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
