// SPDX-License-Identifier: GPL-2.0

//! AEAD_ENCRYPT and AEAD_DECRYPT: AES-GCM and ChaCha20-Poly1305.

use super::prelude::*;
use crate::{
    crypto::{Nonce, Tag},
    secret::Scratch,
};

/// The checks both directions share; returns (input length, AAD length).
fn lengths(h: &Handle, req: &KvAead, flags_allowed: u32) -> Result<(usize, usize)> {
    reject(request::flags(req.flags, flags_allowed))?;
    Ok((input_len(h, req.in_len)?, input_len(h, req.aad_len)?))
}

/// KV_IOC_AEAD_ENCRYPT.
pub(super) fn encrypt(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvAead = arg.read(info)?;
    let (len, aad_len) = lengths(h, &req, KV_AEAD_FLAGS_ALL)?;
    let key = key_for(h, req.key_id, KV_CAP_ENCRYPT, Alg::is_aead)?;
    let kernel_nonce = req.flags & KV_AEAD_GEN_NONCE != 0;
    if !kernel_nonce && key.kernel_nonces_only() {
        return Err(EPERM);
    }
    arg.require_room(&mut req, |r| &mut r.out_len, len)?;
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut buf = Scratch::new();
        read_secret(&mut buf, req.in_ptr, len)?;
        let mut aad = Scratch::new();
        read_secret(&mut aad, req.aad_ptr, aad_len)?;
        // The nonce last, when nothing but the crypto and the copies out
        // can fail.
        let nonce = if kernel_nonce {
            key.next_nonce()?
        } else {
            let mut n = Nonce::default();
            user_slice(req.nonce_ptr, n.len())?.reader().read_slice(&mut n)?;
            n
        };
        let tag = key.seal(buf.bytes_mut(), aad.bytes(), &nonce)?;
        // Ciphertext now: no need to wipe it.
        buf.make_public();

        // The small outputs first: a bad tag or nonce pointer fails before any
        // ciphertext is written.
        user_slice(req.tag_ptr, tag.len())?.writer().write_slice(&tag)?;
        if kernel_nonce {
            user_slice(req.nonce_ptr, nonce.len())?.writer().write_slice(&nonce)?;
        }
        user_slice(req.out_ptr, len)?.writer().write_slice(buf.bytes())?;
        req.out_len = req.in_len;
        arg.write(&req)
    })())
}

/// KV_IOC_AEAD_DECRYPT: nothing is written unless the tag is right.
pub(super) fn decrypt(h: &Handle, arg: &Arg<'_>, info: &mut OpInfo) -> Result {
    let mut req: KvAead = arg.read(info)?;
    let (len, aad_len) = lengths(h, &req, 0)?;
    let key = key_for(h, req.key_id, KV_CAP_DECRYPT, Alg::is_aead)?;
    arg.require_room(&mut req, |r| &mut r.out_len, len)?;
    let charged = key.charge(len)?;
    charged.settle((|| {
        let mut nonce = Nonce::default();
        user_slice(req.nonce_ptr, nonce.len())?.reader().read_slice(&mut nonce)?;
        let mut tag = Tag::default();
        user_slice(req.tag_ptr, tag.len())?.reader().read_slice(&mut tag)?;
        let mut buf = Scratch::new();
        read_secret(&mut buf, req.in_ptr, len)?;
        let mut aad = Scratch::new();
        read_secret(&mut aad, req.aad_ptr, aad_len)?;
        key.open(buf.bytes_mut(), aad.bytes(), &nonce, &tag)?;

        user_slice(req.out_ptr, len)?.writer().write_slice(buf.bytes())?;
        req.out_len = req.in_len;
        arg.write(&req)
    })())
}
