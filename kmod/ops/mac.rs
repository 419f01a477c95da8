// SPDX-License-Identifier: GPL-2.0

//! MAC, VERIFY_MAC (HMAC-SHA256/512 with a vault key) and HASH (no key).

use super::prelude::*;
use crate::{
    crypto::{memeq_consttime, memzero, sha2},
    secret::Scratch,
};

fn is_hmac(alg: Alg) -> bool {
    alg.mac_len().is_some()
}

/// KV_IOC_MAC.
pub(super) fn mac(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvMac = arg.read(info)?;
    let len = input_len(h, req.data_len)?;
    let key = key_for(h, req.key_id, KV_CAP_MAC, is_hmac)?;
    let full = key.alg.mac_len().ok_or(EOPNOTSUPP)?;
    arg.require_room(&mut req, |r| &mut r.mac_len, full)?;
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut data = Scratch::new();
        read_secret(&mut data, req.data_ptr, len)?;
        let mut out = [0u8; 64];
        let n = key.mac(data.bytes(), &mut out)?;
        let r = user_slice(req.mac_ptr, n)?.writer().write_slice(&out[..n]);
        memzero(&mut out);
        r?;
        req.mac_len = n as u32;
        arg.write(&req)
    })())
}

/// KV_IOC_VERIFY_MAC: constant-time comparison; a mismatch is `EBADMSG`.
pub(super) fn verify(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let req: KvMac = arg.read(info)?;
    let len = input_len(h, req.data_len)?;
    // The request's own bounds first; the key's MAC length after the lookup.
    let cmp = reject(request::verify_mac_len(req.mac_len, KV_MAX_DIGEST_SIZE as usize))?;
    let key = key_for(h, req.key_id, KV_CAP_MAC, is_hmac)?;
    let full = key.alg.mac_len().ok_or(EOPNOTSUPP)?;
    if cmp > full {
        return Err(EINVAL);
    }
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut expected = [0u8; 64];
        user_slice(req.mac_ptr, cmp)?.reader().read_slice(&mut expected[..cmp])?;
        let mut data = Scratch::new();
        read_secret(&mut data, req.data_ptr, len)?;
        let mut out = [0u8; 64];
        key.mac(data.bytes(), &mut out)?;
        let same = memeq_consttime(&out[..cmp], &expected[..cmp]);
        memzero(&mut out);
        if same {
            Ok(())
        } else {
            Err(EBADMSG)
        }
    })())
}

/// KV_IOC_HASH.
pub(super) fn hash(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvHash = arg.read(info)?;
    let wide = reject(request::hash_is_sha512(req.algorithm))?;
    let len = input_len(h, req.data_len)?;
    arg.require_room(&mut req, |r| &mut r.digest_len, if wide { 64 } else { 32 })?;

    let mut data = Scratch::new();
    read_secret(&mut data, req.data_ptr, len)?;
    let mut out = [0u8; 64];
    let n = sha2(wide, data.bytes(), &mut out);
    user_slice(req.digest_ptr, n)?.writer().write_slice(&out[..n])?;
    req.digest_len = n as u32;
    arg.write(&req)
}
