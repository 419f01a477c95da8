// SPDX-License-Identifier: GPL-2.0

//! GETCAPS and RESTRICT: a handle's capability mask, which only shrinks.

use super::OpInfo;
use kernel::prelude::*;

use crate::{
    abi::KvCaps,
    uapi::Arg,
    vault::Handle, //
};

/// KV_IOC_GETCAPS: needs no capability.
pub(super) fn getcaps(h: &Handle, arg: &Arg, _info: &mut OpInfo) -> Result {
    arg.write(&KvCaps {
        caps: h.caps(),
        reserved: 0,
    })
}

/// KV_IOC_RESTRICT: keep `caps & current`, report what is left.
pub(super) fn restrict(h: &Handle, arg: &Arg, _info: &mut OpInfo) -> Result {
    let mut req: KvCaps = arg.read()?;
    if req.reserved != 0 {
        return Err(EINVAL);
    }
    req.caps = h.restrict(req.caps)?;
    arg.write(&req)
}
