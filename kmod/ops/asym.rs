// SPDX-License-Identifier: GPL-2.0

//! GET_PUBKEY (and, with Ed25519, SIGN and VERIFY).

use super::OpInfo;
use kernel::prelude::*;

use crate::{
    abi::*,
    uapi::{
        user_slice,
        Arg, //
    },
    vault::Handle,
};

/// KV_IOC_GET_PUBKEY: public information, so it also answers for revoked
/// and expired keys (like GETINFO).
pub(super) fn get_pubkey(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvPubkey = arg.read()?;
    info.key_id = req.key_id;
    if req.reserved0 != 0 || req.reserved.iter().any(|r| *r != 0) {
        return Err(EINVAL);
    }
    let key = h.key(req.key_id)?;
    let public = key.engine.public_key().ok_or(EOPNOTSUPP)?;
    if (req.pubkey_len as usize) < public.len() {
        req.pubkey_len = KV_PUBKEY_SIZE;
        arg.write(&req)?;
        return Err(ENOSPC);
    }
    user_slice(req.pubkey_ptr, public.len())?.writer().write_slice(public)?;
    req.pubkey_len = KV_PUBKEY_SIZE;
    arg.write(&req)
}
