// SPDX-License-Identifier: GPL-2.0

//! DERIVE (HKDF from a vault key) and KEYEXCHANGE (X25519, then HKDF): both
//! end in a new key in the vault; the secret bytes never leave the kernel.

use super::OpInfo;
use kernel::{
    prelude::*,
    sync::Arc, //
};

use super::{
    key_for,
    keys::{
        new_key,
        publish,
        NewKey, //
    },
    read_secret,
    reject, //
};
use crate::{
    abi::*,
    crypto::{
        x25519,
        HmacSha256,
        HmacSha512, //
    },
    key::Key,
    pure::{
        alg::Alg,
        hkdf::hkdf,
        request, //
    },
    secret::Secret,
    trace::Origin,
    uapi::{
        user_slice,
        Arg, //
    },
    vault::Handle,
};

/// Validated parameters of the new key.
struct Derived {
    key: NewKey,
    len: usize,
    wide: bool,
}

fn check(kdf: &KvKdf) -> Result<Derived> {
    if kdf.reserved0 != 0 || kdf.salt_len > KV_KDF_MAX_INPUT || kdf.info_len > KV_KDF_MAX_INPUT {
        return Err(EINVAL);
    }
    let wide = reject(request::hash_is_sha512(kdf.hash))?;
    let key = new_key(kdf.algorithm, &kdf.policy, kdf.ttl_ms, &[])?;
    // Asymmetric keys are made by GENKEY/IMPORT, where their public halves
    // are computed; HKDF output makes symmetric keys.
    if key.alg.is_asymmetric() {
        return Err(EINVAL);
    }
    let len = reject(request::genkey_len(key.alg, kdf.key_bits))?;
    Ok(Derived { key, len, wide })
}

/// HKDF from `ikm` into a new key derived from `parent`.
fn make_key(
    h: &Handle,
    parent: &Key,
    nk: &Derived,
    kdf: &KvKdf,
    ikm: &[u8],
    origin: Origin,
) -> Result<Arc<Key>> {
    let salt = read_secret(kdf.salt_ptr, kdf.salt_len as usize)?;
    let info = read_secret(kdf.info_ptr, kdf.info_len as usize)?;
    let mut okm = Secret::zeroed(nk.len)?;
    reject(if nk.wide {
        hkdf::<HmacSha512>(salt.bytes(), ikm, info.bytes(), okm.bytes_mut())
    } else {
        hkdf::<HmacSha256>(salt.bytes(), ikm, info.bytes(), okm.bytes_mut())
    })?;
    h.vault()
        .insert(nk.key.alg, okm, nk.key.policy, nk.key.ttl_ns, Some(parent), origin)
}

fn can_derive(alg: Alg) -> bool {
    alg.usage() & KV_CAP_DERIVE != 0
}

/// KV_IOC_DERIVE.
pub(super) fn derive(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvDerive = arg.read()?;
    info.key_id = req.key_id;
    reject(request::reserved_zero(&req.reserved))?;
    let nk = check(&req.kdf)?;
    let parent = key_for(h, req.key_id, KV_CAP_DERIVE, can_derive)?;
    parent.charge(0)?;
    let key = make_key(h, &parent, &nk, &req.kdf, parent.material(), Origin::Derived)?;
    req.kdf.key_bits = (nk.len * 8) as u32;
    req.new_key_id = key.id;
    publish(h, arg, &key, &req)
}

fn is_x25519(alg: Alg) -> bool {
    alg == Alg::X25519
}

/// KV_IOC_KEYEXCHANGE.
pub(super) fn exchange(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvExchange = arg.read()?;
    info.key_id = req.key_id;
    reject(request::reserved_zero(&req.reserved))?;
    let nk = check(&req.kdf)?;
    let ours = key_for(h, req.key_id, KV_CAP_EXCHANGE, is_x25519)?;
    let mut peer = [0u8; 32];
    user_slice(req.peer_ptr, peer.len())?.reader().read_slice(&mut peer)?;
    ours.charge(0)?;
    let mut shared = Secret::zeroed(32)?;
    x25519(ours.material(), &peer, shared.bytes_mut())?;
    let key = make_key(h, &ours, &nk, &req.kdf, shared.bytes(), Origin::Exchanged)?;
    req.kdf.key_bits = (nk.len * 8) as u32;
    req.new_key_id = key.id;
    publish(h, arg, &key, &req)
}
