// SPDX-License-Identifier: GPL-2.0

//! DERIVE (HKDF from a vault key) and KEYEXCHANGE (X25519, then HKDF): both
//! end in a new key in the vault; the secret bytes never leave the kernel.

use super::prelude::*;
use super::keys::publish;
use crate::{
    key::{Key, NewKey},
    secret::{Scratch, Secret},
    trace::Origin,
};

/// Validated parameters of the new key: its algorithm, length, hash and
/// lifetime (its policies are made final by [`child_of`], which knows the
/// parent).
struct Derived {
    alg: Alg,
    len: usize,
    wide: bool,
    ttl_ns: Option<i64>,
}

fn check(kdf: &KvKdf, child: &KvChildPolicy) -> Result<Derived> {
    reject(request::kdf_inputs(kdf.salt_len, kdf.info_len))?;
    let wide = reject(request::hash_is_sha512(kdf.hash))?;
    let alg = reject(Alg::from_abi(kdf.algorithm))?;
    // Asymmetric keys are made by GENKEY/IMPORT, where their public halves
    // are computed; HKDF output makes symmetric keys.
    if alg.is_asymmetric() {
        return Err(EINVAL);
    }
    reject(request::policy(alg, &kdf.policy))?;
    reject(request::child_policy(child))?;
    let ttl_ns = reject(request::ttl_ns(kdf.ttl_ms))?;
    let len = reject(request::genkey_len(alg, kdf.key_bits))?;
    Ok(Derived { alg, len, wide, ttl_ns })
}

/// The new key's policies: what the request asks within what the parent's
/// child policy allows (`EPERM` beyond it).
fn child_of(parent: &Key, d: &Derived, kdf: &KvKdf, child: &KvChildPolicy) -> Result<NewKey> {
    Ok(NewKey {
        alg: d.alg,
        policy: reject(request::derived_policy(d.alg, &kdf.policy, &parent.policy, &parent.child))?,
        child: reject(request::narrowed_child(&parent.child, child))?,
        ttl_ns: d.ttl_ns,
        expires_ms: None,
    })
}

/// The HKDF inputs a request names (they may be secret), in buffers that
/// are filled in place, never moved once full (see [`Scratch::new`]).
struct KdfInputs {
    salt: Scratch,
    info: Scratch,
}

impl KdfInputs {
    fn new() -> Self {
        Self {
            salt: Scratch::new(),
            info: Scratch::new(),
        }
    }

    /// Copies in the salt and info `kdf` names.
    fn fill(&mut self, kdf: &KvKdf) -> Result {
        read_secret(&mut self.salt, kdf.salt_ptr, kdf.salt_len as usize)?;
        read_secret(&mut self.info, kdf.info_ptr, kdf.info_len as usize)
    }
}

fn can_derive(alg: Alg) -> bool {
    alg.usage() & KV_CAP_DERIVE != 0
}

/// KV_IOC_DERIVE.
pub(super) fn derive(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvDerive = arg.read(info)?;
    let d = check(&req.kdf, &req.child)?;
    let parent = key_for(h, req.key_id, KV_CAP_DERIVE, can_derive)?;
    let new = child_of(&parent, &d, &req.kdf, &req.child)?;
    let charged = parent.charge(0)?;
    // The use is kept only if the caller learns of the new key.
    charged.settle((|| {
        let mut inputs = KdfInputs::new();
        inputs.fill(&req.kdf)?;
        let mut okm = Secret::zeroed(d.len)?;
        parent.derive_into(d.wide, inputs.salt.bytes(), inputs.info.bytes(), okm.bytes_mut())?;
        let key = h.vault().insert(new, okm, Some(&parent), Origin::Derived)?;
        req.kdf.key_bits = (d.len * 8) as u32;
        req.new_key_id = key.id;
        publish(h, arg, &key, &req)
    })())
}

fn is_x25519(alg: Alg) -> bool {
    alg == Alg::X25519
}

/// KV_IOC_KEYEXCHANGE.
pub(super) fn exchange(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvExchange = arg.read(info)?;
    let d = check(&req.kdf, &req.child)?;
    let ours = key_for(h, req.key_id, KV_CAP_EXCHANGE, is_x25519)?;
    let new = child_of(&ours, &d, &req.kdf, &req.child)?;
    let charged = ours.charge(0)?;
    charged.settle((|| {
        let mut peer = [0u8; 32];
        user_slice(req.peer_ptr, peer.len())?.reader().read_slice(&mut peer)?;
        let mut inputs = KdfInputs::new();
        inputs.fill(&req.kdf)?;
        let mut okm = Secret::zeroed(d.len)?;
        ours.exchange_into(&peer, d.wide, inputs.salt.bytes(), inputs.info.bytes(), okm.bytes_mut())?;
        let key = h.vault().insert(new, okm, Some(&ours), Origin::Exchanged)?;
        req.kdf.key_bits = (d.len * 8) as u32;
        req.new_key_id = key.id;
        publish(h, arg, &key, &req)
    })())
}
