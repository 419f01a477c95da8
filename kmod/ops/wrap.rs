// SPDX-License-Identifier: GPL-2.0

//! WRAP and UNWRAP: a wrappable key leaves the kernel only encrypted under a
//! wrapping key (an AES-256-GCM key whose usage is WRAP/UNWRAP alone), and
//! comes back from such a blob, or from an RFC 5649 blob made elsewhere.

use super::keys::{new_key, publish};
use super::prelude::*;
use crate::{
    crypto::real_time_ms,
    key::NewKey,
    pure::wrap::{self, Format, Header},
    secret::Secret,
    trace::Origin,
};

fn is_wrapping(alg: Alg) -> bool {
    alg == Alg::Aes256Gcm
}

/// KV_IOC_WRAP.
pub(super) fn wrap(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvWrap = arg.read(info)?;
    let format = reject(Format::from_abi(req.format))?;
    // A key wrapped under itself would be a blob only the blob can open.
    if req.key_id == req.wrapping_key_id {
        return Err(EINVAL);
    }
    let wrapping = key_for(h, req.wrapping_key_id, KV_CAP_WRAP, is_wrapping)?;
    let key = h.key(req.key_id)?;
    key.authorize_export()?;
    arg.require_room(&mut req, |r| &mut r.blob_len, format.blob_len(key.len()))?;
    let charged = wrapping.charge(key.len())?;
    charged.settle((|| {
        let blob = wrapping.wrap(&key, format)?;
        user_slice(req.blob_ptr, blob.len())?.writer().write_slice(blob.bytes())?;
        req.blob_len = blob.len() as u32;
        arg.write(&req)
    })())
}

/// The lifetime left until a native blob's expiry (wall clock ms, 0 =
/// never); `EKEYEXPIRED` once it has passed.
fn ttl_until(expires_ms: u64) -> Result<Option<i64>> {
    if expires_ms == 0 {
        return Ok(None);
    }
    match expires_ms.checked_sub(real_time_ms()) {
        Some(left) if left > 0 => reject(request::ttl_ns(left)),
        _ => Err(EKEYEXPIRED),
    }
}

/// The new key a native blob describes.
fn restored(header: &Header) -> Result<NewKey> {
    Ok(NewKey {
        alg: header.alg,
        policy: header.policy,
        child: header.child,
        ttl_ns: ttl_until(header.expires_ms)?,
        expires_ms: (header.expires_ms != 0).then_some(header.expires_ms),
    })
}

/// KV_IOC_UNWRAP.
pub(super) fn unwrap(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvUnwrap = arg.read(info)?;
    let format = reject(Format::from_abi(req.format))?;
    let len = req.blob_len as usize;
    if len > KV_WRAP_MAX_BLOB as usize {
        return Err(EINVAL);
    }
    // What the new key is: the blob's header says (native), or the request.
    let asked = match format {
        Format::Native => {
            reject(wrap::native_request_clear(req.algorithm, req.ttl_ms, &req.policy, &req.child))?;
            None
        }
        Format::Rfc5649 => Some(new_key(req.algorithm, &req.policy, &req.child, req.ttl_ms)?),
    };
    let wrapping = key_for(h, req.wrapping_key_id, KV_CAP_UNWRAP, is_wrapping)?;
    // A forged blob spends its use, like a failed AEAD_DECRYPT: max_uses
    // bounds forgery attempts too.
    let charged = wrapping.charge(len)?;
    charged.settle((|| {
        // It holds the plaintext key once opened: a Secret.
        let mut blob = Secret::from_user(&mut user_slice(req.blob_ptr, len)?.reader(), len)?;
        let (new, material) = match asked {
            None => {
                let (header, material) = wrapping.unwrap_native(blob.bytes_mut())?;
                (restored(&header)?, material)
            }
            Some(new) => {
                let material = wrapping.unwrap_rfc5649(blob.bytes_mut())?;
                reject(request::import_len(new.alg, material.len() as u32))?;
                (new, material)
            }
        };
        let key = h.vault().insert(new, material, None, Origin::Unwrapped)?;
        req.new_key_id = key.id;
        publish(h, arg, &key, &req)
    })())
}
