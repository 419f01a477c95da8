//! Recording every ioctl's outputs (buffers and the request written back)
//! for the secrets search.

use super::*;
use crate::support::*;
use keyvault::uapi::*;
use keyvault::{KeyId, Vault};
use nix::errno::Errno;

/// Everything the kernel handed back: request structs after each call
/// (which hold only our own pointers and lengths besides what the kernel
/// wrote) and output buffers (pre-filled with FILL).
#[derive(Default)]
pub struct Rec {
    pub out: Vec<u8>,
    pub calls: usize,
}

impl Rec {
    pub fn call<T: Copy>(&mut self, v: &Vault, cmd: u32, req: &mut T) -> Result<(), Errno> {
        let r = ioctl(v, cmd, req).map(drop);
        self.calls += 1;
        self.out.extend_from_slice(&bytes_of(req));
        r
    }

    pub fn keep(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    #[track_caller]
    pub fn import(
        &mut self,
        v: &Vault,
        alg: u32,
        key: &[u8],
        ttl_ms: u64,
        policy: KvPolicy,
    ) -> u64 {
        let mut r = KvImport {
            ttl_ms,
            policy,
            ..import_req(alg, key)
        };
        self.call(v, KV_IOC_IMPORT, &mut r).expect("import");
        r.key_id
    }

    /// AEAD encrypt/decrypt; returns the result and the output buffer.
    #[allow(clippy::too_many_arguments)]
    pub fn aead(
        &mut self,
        v: &Vault,
        cmd: u32,
        key: u64,
        input: &[u8],
        aad: &[u8],
        nonce: &mut [u8; 12],
        tag: &mut [u8; 16],
        flags: u32,
    ) -> (Result<(), Errno>, Vec<u8>) {
        let mut out = vec![FILL; input.len()];
        let mut r = KvAead {
            flags,
            ..aead_req(KeyId(key), input, &mut out, aad, nonce, tag)
        };
        let res = self.call(v, cmd, &mut r);
        self.keep(&out);
        self.keep(nonce);
        self.keep(tag);
        (res, out)
    }

    /// Seals `msg` with a kernel nonce: (nonce, ciphertext, tag).
    #[track_caller]
    pub fn seal(
        &mut self,
        v: &Vault,
        key: u64,
        msg: &[u8],
        aad: &[u8],
    ) -> ([u8; 12], Vec<u8>, [u8; 16]) {
        let (mut nonce, mut tag) = ([FILL; 12], [FILL; 16]);
        let (r, ct) = self.aead(
            v,
            KV_IOC_AEAD_ENCRYPT,
            key,
            msg,
            aad,
            &mut nonce,
            &mut tag,
            KV_AEAD_GEN_NONCE,
        );
        r.expect("seal");
        (nonce, ct, tag)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn cbc(
        &mut self,
        v: &Vault,
        cmd: u32,
        key: u64,
        input: &[u8],
        iv: &mut [u8; 16],
        flags: u32,
        cap: usize,
    ) -> (Result<(), Errno>, Vec<u8>) {
        let mut out = vec![FILL; cap];
        let mut r = cbc_req(KeyId(key), input, &mut out, iv, flags);
        let res = self.call(v, cmd, &mut r);
        self.keep(&out);
        self.keep(iv);
        out.truncate(r.out_len.min(cap as u32) as usize);
        (res, out)
    }

    pub fn mac(
        &mut self,
        v: &Vault,
        key: u64,
        data: &[u8],
        cap: u32,
    ) -> (Result<(), Errno>, Vec<u8>) {
        let mut mac = vec![FILL; 64];
        let mut r = KvMac {
            mac_len: cap,
            ..mac_req(KeyId(key), data, &mut mac)
        };
        let res = self.call(v, KV_IOC_MAC, &mut r);
        self.keep(&mac);
        mac.truncate(r.mac_len.min(64) as usize);
        (res, mac)
    }

    pub fn verify_mac(
        &mut self,
        v: &Vault,
        key: u64,
        data: &[u8],
        mac: &[u8],
    ) -> Result<(), Errno> {
        let mut mac = mac.to_vec();
        self.call(
            v,
            KV_IOC_VERIFY_MAC,
            &mut mac_req(KeyId(key), data, &mut mac),
        )
    }

    pub fn sign(
        &mut self,
        v: &Vault,
        key: u64,
        data: &[u8],
        cap: u32,
    ) -> (Result<(), Errno>, [u8; 64]) {
        let mut sig = [FILL; 64];
        let mut r = sign_req(KeyId(key), data, &mut sig, cap as usize);
        let res = self.call(v, KV_IOC_SIGN, &mut r);
        self.keep(&sig);
        (res, sig)
    }

    pub fn verify(
        &mut self,
        v: &Vault,
        key: u64,
        public: Option<&[u8; 32]>,
        data: &[u8],
        sig: &[u8; 64],
    ) -> Result<(), Errno> {
        self.call(
            v,
            KV_IOC_VERIFY,
            &mut verify_req(KeyId(key), public, data, sig),
        )
    }

    pub fn pubkey(&mut self, v: &Vault, key: u64, cap: u32) -> (Result<(), Errno>, [u8; 32]) {
        let mut p = [FILL; 32];
        let mut r = pubkey_req(KeyId(key), &mut p, cap as usize);
        let res = self.call(v, KV_IOC_GET_PUBKEY, &mut r);
        self.keep(&p);
        (res, p)
    }

    pub fn info(&mut self, v: &Vault, key: u64) -> Result<KvKeyinfo, Errno> {
        let mut r = KvKeyinfo {
            key_id: key,
            ..Default::default()
        };
        self.call(v, KV_IOC_GETINFO, &mut r).map(|()| r)
    }

    pub fn keyref(&mut self, v: &Vault, cmd: u32, key: u64) -> Result<(), Errno> {
        let mut r = KvKeyref {
            key_id: key,
            reserved: 0,
        };
        self.call(v, cmd, &mut r)
    }

    pub fn list(&mut self, v: &Vault) -> Vec<u64> {
        let mut ids = vec![0u64; 64];
        let mut r = KvList {
            ids_ptr: ids.as_mut_ptr() as u64,
            max_ids: 64,
            ..Default::default()
        };
        self.call(v, KV_IOC_LIST, &mut r).expect("list");
        self.keep(
            &ids.iter()
                .flat_map(|i| i.to_ne_bytes())
                .collect::<Vec<u8>>(),
        );
        ids.truncate(r.count as usize);
        ids
    }
}
