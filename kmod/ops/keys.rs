// SPDX-License-Identifier: GPL-2.0

//! Key management: GENKEY, IMPORT, IMPORT_KEYRING, DESTROY, REVOKE,
//! GETINFO, LIST.

use super::prelude::*;
use kernel::transmute::AsBytes;
use crate::{
    key::{Key, NewKey},
    keyring,
    secret::Secret,
    trace::Origin,
};

/// Validated creation parameters of GENKEY, IMPORT and an RFC 5649 UNWRAP.
pub(super) fn new_key(algorithm: u32, policy: &KvPolicy, child: &KvChildPolicy, ttl_ms: u64) -> Result<NewKey> {
    let alg = reject(Alg::from_abi(algorithm))?;
    Ok(NewKey {
        alg,
        policy: reject(request::policy(alg, policy))?,
        child: reject(request::child_policy(child))?,
        ttl_ns: reject(request::ttl_ns(ttl_ms))?,
        expires_ms: None,
    })
}

/// Reports a new key's id by writing `req` back; if that fails the caller
/// could never name the key, so it is destroyed again.
pub(super) fn publish<T: AsBytes>(h: &Handle, arg: &Arg<'_>, key: &Key, req: &T) -> Result {
    arg.write(req).inspect_err(|_| {
        let _ = h.vault().remove(key.id);
    })
}

/// KV_IOC_GENKEY: a random key made by the kernel CSPRNG.
pub(super) fn genkey(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvGenkey = arg.read(info)?;
    let nk = new_key(req.algorithm, &req.policy, &req.child, req.ttl_ms)?;
    let len = reject(request::genkey_len(nk.alg, req.key_bits))?;
    let key = h.vault().insert(nk, Secret::random(len)?, None, Origin::Generated)?;
    info.key_id = key.id;
    req.key_id = key.id;
    req.key_bits = (len * 8) as u32;
    publish(h, arg, &key, &req)
}

/// KV_IOC_IMPORT: raw key bytes copied in, never readable again.
pub(super) fn import(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvImport = arg.read(info)?;
    let nk = new_key(req.algorithm, &req.policy, &req.child, req.ttl_ms)?;
    let len = reject(request::import_len(nk.alg, req.key_len))?;
    let material = Secret::from_user(&mut user_slice(req.key_ptr, len)?.reader(), len)?;
    let key = h.vault().insert(nk, material, None, Origin::Imported)?;
    info.key_id = key.id;
    req.key_id = key.id;
    publish(h, arg, &key, &req)
}

/// KV_IOC_IMPORT_KEYRING: a kernel keyring key's payload, read in the
/// kernel (kmod/keyring.c); never wrappable.
pub(super) fn import_keyring(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvImportKeyring = arg.read(info)?;
    let alg = reject(Alg::from_abi(req.algorithm))?;
    let nk = NewKey {
        alg,
        policy: reject(request::keyring_policy(alg, &req.policy))?,
        child: reject(request::child_policy(&req.child))?,
        ttl_ns: reject(request::ttl_ns(req.ttl_ms))?,
        expires_ms: None,
    };
    let material = keyring::read_payload(req.serial)?;
    reject(request::import_len(alg, material.len() as u32))?;
    let key = h.vault().insert(nk, material, None, Origin::Keyring)?;
    info.key_id = key.id;
    req.key_id = key.id;
    publish(h, arg, &key, &req)
}

/// KV_IOC_DESTROY: unlink now; the material is wiped when the last
/// operation using it finishes.
pub(super) fn destroy(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let req: KvKeyref = arg.read(info)?;
    h.remove(req.key_id).map(drop)
}

/// KV_IOC_REVOKE: permanent; revoking twice succeeds.
pub(super) fn revoke(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let req: KvKeyref = arg.read(info)?;
    h.key(req.key_id)?.revoke();
    Ok(())
}

/// KV_IOC_GETINFO.
pub(super) fn getinfo(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let req: KvKeyinfo = arg.read(info)?;
    arg.write(&h.key(req.key_id)?.info())
}

/// KV_IOC_LIST: one page of ids, ascending, after the cursor.
pub(super) fn list(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvList = arg.read(info)?;
    let max = req.max_ids.min(KV_LIST_MAX) as usize;
    let (ids, total) = h.list(req.cursor, max)?;
    user_slice(req.ids_ptr, ids.len() * size_of::<u64>())?
        .writer()
        .write_slice(AsBytes::as_bytes(&*ids))?;
    req.count = ids.len() as u32;
    req.total = total;
    arg.write(&req)
}
