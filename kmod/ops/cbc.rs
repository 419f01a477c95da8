// SPDX-License-Identifier: GPL-2.0

//! CBC_ENCRYPT and CBC_DECRYPT: AES-CBC with PKCS#7 padding or whole blocks.

use super::prelude::*;
use crate::{
    crypto::{fill_random, Iv},
    pure::padding,
    secret::{Scratch, Secret},
};

/// Shared checks; returns (input length, output capacity needed, padded).
fn check(h: &Handle, req: &KvCbc, encrypt: bool) -> Result<(usize, usize, bool)> {
    let allowed = if encrypt { KV_CBC_FLAGS_ALL } else { KV_CBC_NO_PADDING };
    reject(request::flags(req.flags, allowed))?;
    let padded = req.flags & KV_CBC_NO_PADDING == 0;
    let max = request::cbc_max_in(encrypt, padded, h.vault().limits().max_data);
    let len = reject(request::data_len(req.in_len, max))?;
    let need = reject(request::cbc_out_len(encrypt, padded, len))?;
    Ok((len, need, padded))
}

/// KV_IOC_CBC_ENCRYPT.
pub(super) fn encrypt(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvCbc = arg.read(info)?;
    let (len, need, padded) = check(h, &req, true)?;
    let key = key_for(h, req.key_id, KV_CAP_ENCRYPT, Alg::is_cbc)?;
    let kernel_iv = req.flags & KV_CBC_GEN_IV != 0;
    if !kernel_iv && key.kernel_nonces_only() {
        return Err(EPERM);
    }
    arg.require_room(&mut req, |r| &mut r.out_len, need)?;
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut buf = Secret::zeroed(need)?;
        let data = buf.bytes_mut();
        user_slice(req.in_ptr, len)?.reader().read_slice(&mut data[..len])?;
        if padded && !padding::pad(data, len) {
            return Err(EINVAL);
        }
        let mut iv = Iv::default();
        if kernel_iv {
            fill_random(&mut iv);
        } else {
            user_slice(req.iv_ptr, iv.len())?.reader().read_slice(&mut iv)?;
        }
        let mut chain = iv;
        key.cbc_encrypt(data, &mut chain)?;

        if kernel_iv {
            user_slice(req.iv_ptr, iv.len())?.writer().write_slice(&iv)?;
        }
        user_slice(req.out_ptr, need)?.writer().write_slice(buf.bytes())?;
        req.out_len = need as u32;
        arg.write(&req)
    })())
}

/// KV_IOC_CBC_DECRYPT: bad padding is `EBADMSG`, with nothing written.
pub(super) fn decrypt(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvCbc = arg.read(info)?;
    let (len, need, padded) = check(h, &req, false)?;
    let key = key_for(h, req.key_id, KV_CAP_DECRYPT, Alg::is_cbc)?;
    arg.require_room(&mut req, |r| &mut r.out_len, need)?;
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut iv = Iv::default();
        user_slice(req.iv_ptr, iv.len())?.reader().read_slice(&mut iv)?;
        let mut buf = Scratch::new();
        read_secret(&mut buf, req.in_ptr, len)?;
        key.cbc_decrypt(buf.bytes_mut(), &mut iv)?;
        let plain = if padded {
            padding::unpad(buf.bytes()).ok_or(EBADMSG)?
        } else {
            len
        };

        user_slice(req.out_ptr, plain)?.writer().write_slice(&buf.bytes()[..plain])?;
        req.out_len = plain as u32;
        arg.write(&req)
    })())
}
