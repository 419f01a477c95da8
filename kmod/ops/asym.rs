// SPDX-License-Identifier: GPL-2.0

//! GET_PUBKEY, and Ed25519 SIGN and VERIFY.

use super::prelude::*;
use crate::{
    crypto::ed25519_verify,
    secret::Scratch,
};

/// KV_IOC_GET_PUBKEY: public information, so it also answers for revoked
/// and expired keys (like GETINFO).
pub(super) fn get_pubkey(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvPubkey = arg.read(info)?;
    let public = h.key(req.key_id)?.public_key().ok_or(EOPNOTSUPP)?;
    arg.require_room(&mut req, |r| &mut r.pubkey_len, public.len())?;
    user_slice(req.pubkey_ptr, public.len())?.writer().write_slice(&public)?;
    req.pubkey_len = KV_PUBKEY_SIZE;
    arg.write(&req)
}

fn is_ed25519(alg: Alg) -> bool {
    alg == Alg::Ed25519
}

/// KV_IOC_SIGN: deterministic Ed25519 signature with a vault key.
pub(super) fn sign(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvSign = arg.read(info)?;
    let len = input_len(h, req.data_len)?;
    let key = key_for(h, req.key_id, KV_CAP_SIGN, is_ed25519)?;
    arg.require_room(&mut req, |r| &mut r.sig_len, KV_ED25519_SIG_SIZE as usize)?;
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut msg = Scratch::new();
        read_secret(&mut msg, req.data_ptr, len)?;
        let sig = key.sign(msg.bytes())?;
        user_slice(req.sig_ptr, sig.len())?.writer().write_slice(&sig)?;
        req.sig_len = KV_ED25519_SIG_SIZE;
        arg.write(&req)
    })())
}

/// KV_IOC_VERIFY: with a vault key, or with the caller's public key (key
/// id 0); a signature that does not verify is `EBADMSG`.
pub(super) fn verify(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let req: KvVerify = arg.read(info)?;
    reject(request::verify_key(req.key_id, req.pubkey_ptr))?;
    let len = input_len(h, req.data_len)?;
    let check = |public: Option<[u8; 32]>| -> Result {
        let public = match public {
            Some(p) => p,
            None => {
                let mut p = [0u8; 32];
                user_slice(req.pubkey_ptr, p.len())?.reader().read_slice(&mut p)?;
                p
            }
        };
        let mut sig = [0u8; 64];
        user_slice(req.sig_ptr, sig.len())?.reader().read_slice(&mut sig)?;
        let mut msg = Scratch::new();
        read_secret(&mut msg, req.data_ptr, len)?;
        if ed25519_verify(&public, msg.bytes(), &sig) {
            Ok(())
        } else {
            Err(EBADMSG)
        }
    };
    if req.key_id == 0 {
        return check(None);
    }
    let key = key_for(h, req.key_id, KV_CAP_VERIFY, is_ed25519)?;
    let public = key.public_key().ok_or(EOPNOTSUPP)?;
    let charged = key.charge(len)?;
    charged.settle(check(Some(public)))
}
