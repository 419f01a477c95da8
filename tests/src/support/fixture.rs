//! Fixtures: one valid request for every crypto ioctl (and, in `Every`, for
//! every ioctl of `KV_IOCTLS`).

use crate::support::*;
use curve25519_dalek::montgomery::MontgomeryPoint;
use keyvault::uapi::*;
use keyvault::{Algorithm, Iv, KeyId, KeyOptions, Nonce, Tag, Vault};
use nix::errno::Errno;
use std::os::fd::AsRawFd;

// ---------------------------------------------------------------------------
// A fixture: one valid request for every crypto ioctl.

pub const FX_AEAD_KEY: [u8; 32] = [0x11; 32];

pub const FX_CBC_KEY: [u8; 16] = [0x22; 16];

pub const FX_HMAC_KEY: [u8; 32] = [0x33; 32];

/// One key per family, imported from fixed material: keys imported with
/// other options accept the fixture's ciphertexts and MAC.
pub struct Keys {
    pub aead: KeyId,
    pub cbc: KeyId,
    pub hmac: KeyId,
}

impl Keys {
    pub fn import(v: &Vault, o: &KeyOptions) -> Self {
        Keys {
            aead: ok(v.import(Algorithm::Aes256Gcm, &FX_AEAD_KEY, o)),
            cbc: ok(v.import(Algorithm::Aes128Cbc, &FX_CBC_KEY, o)),
            hmac: ok(v.import(Algorithm::HmacSha256, &FX_HMAC_KEY, o)),
        }
    }

    pub fn for_cmd(&self, cmd: u32) -> KeyId {
        match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => self.aead,
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => self.cbc,
            _ => self.hmac,
        }
    }

    pub fn all(&self) -> [KeyId; 3] {
        [self.aead, self.cbc, self.hmac]
    }
}

/// Valid inputs for every crypto ioctl.
pub struct Fixture {
    pub keys: Keys,
    pub pt: Vec<u8>,
    pub aad: Vec<u8>,
    pub nonce: Nonce,
    pub aead_ct: Vec<u8>,
    pub aead_tag: Tag,
    pub iv: Iv,
    pub cbc_ct: Vec<u8>,
    pub mac: Vec<u8>,
}

/// The buffers one request may write; the outputs start as the canary.
pub struct Scratch {
    pub out: Vec<u8>,
    pub nonce: Nonce,
    pub tag: Tag,
    pub iv: Iv,
    pub mac: Vec<u8>,
}

impl Fixture {
    /// Imports the keys into `v` and makes a ciphertext and MAC with them.
    pub fn new(v: &Vault) -> Self {
        let keys = Keys::import(v, &KeyOptions::default());
        let pt = data(32, 1);
        let aad = data(8, 2);
        let nonce = array(3);
        let iv = array(4);
        let (aead_ct, sealed) = ok(v.aead_encrypt(keys.aead, &pt, &aad, Some(&nonce)));
        let (_, cbc_ct) = ok(v.cbc_encrypt(keys.cbc, &pt, Some(&iv), true));
        let mac = ok(v.mac(keys.hmac, &pt));
        assert_eq!((cbc_ct.len(), mac.len()), (48, 32));
        Fixture {
            keys,
            pt,
            aad,
            nonce,
            aead_ct,
            aead_tag: sealed.tag,
            iv,
            cbc_ct,
            mac,
        }
    }

    pub fn scratch(&self) -> Scratch {
        let mut mac = canary(64);
        mac[..32].copy_from_slice(&self.mac);
        Scratch {
            out: canary(256),
            nonce: self.nonce,
            tag: self.aead_tag,
            iv: self.iv,
            mac,
        }
    }

    pub fn aead(&self, cmd: u32, s: &mut Scratch) -> KvAead {
        let input = if cmd == KV_IOC_AEAD_ENCRYPT {
            &self.pt
        } else {
            &self.aead_ct
        };
        aead_req(
            self.keys.aead,
            input,
            &mut s.out,
            &self.aad,
            &mut s.nonce,
            &mut s.tag,
        )
    }

    pub fn cbc(&self, cmd: u32, s: &mut Scratch) -> KvCbc {
        let input = if cmd == KV_IOC_CBC_ENCRYPT {
            &self.pt
        } else {
            &self.cbc_ct
        };
        cbc_req(self.keys.cbc, input, &mut s.out, &mut s.iv, 0)
    }

    pub fn mac(&self, cmd: u32, s: &mut Scratch) -> KvMac {
        let n = if cmd == KV_IOC_MAC { 64 } else { 32 };
        mac_req(self.keys.hmac, &self.pt, &mut s.mac[..n])
    }

    pub fn hash(&self, s: &mut Scratch) -> KvHash {
        hash_req(KV_HASH_SHA256, &self.pt, &mut s.out[..64])
    }

    /// The bytes of the valid request for `cmd`.
    pub fn request_bytes(&self, cmd: u32, s: &mut Scratch) -> Vec<u8> {
        match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => bytes_of(&self.aead(cmd, s)),
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => bytes_of(&self.cbc(cmd, s)),
            KV_IOC_MAC | KV_IOC_VERIFY_MAC => bytes_of(&self.mac(cmd, s)),
            _ => bytes_of(&self.hash(s)),
        }
    }

    /// Runs the valid request for `cmd` with `key` (ignored by HASH).
    pub fn call(&self, v: &Vault, cmd: u32, key: KeyId) -> Result<i32, Errno> {
        let mut s = self.scratch();
        match cmd {
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT => {
                let mut r = self.aead(cmd, &mut s);
                r.key_id = key.0;
                ioctl(v, cmd, &mut r)
            }
            KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT => {
                let mut r = self.cbc(cmd, &mut s);
                r.key_id = key.0;
                ioctl(v, cmd, &mut r)
            }
            KV_IOC_MAC | KV_IOC_VERIFY_MAC => {
                let mut r = self.mac(cmd, &mut s);
                r.key_id = key.0;
                ioctl(v, cmd, &mut r)
            }
            KV_IOC_HASH => {
                let mut r = self.hash(&mut s);
                ioctl(v, cmd, &mut r)
            }
            _ => unreachable!("not a crypto ioctl: {cmd:#x}"),
        }
    }

    /// Runs the valid request for `cmd` with the fixture's own key.
    pub fn call_own(&self, v: &Vault, cmd: u32) -> Result<i32, Errno> {
        self.call(v, cmd, self.keys.for_cmd(cmd))
    }
}

/// Valid requests for every ioctl of `KV_IOCTLS`, over keys made in one
/// vault: the crypto fixture's keys, an Ed25519 key (with a signature of the
/// fixture's plaintext, made while the vault could sign), an X25519 key and
/// a peer point, one spare key each for DESTROY and REVOKE, a wrapping key,
/// a wrappable key and its native blob, and a `logon` keyring key.
pub struct Every {
    pub crypto: Fixture,
    pub ed25519: KeyId,
    pub sig: [u8; 64],
    pub x25519: KeyId,
    pub peer: [u8; 32],
    pub destroy: KeyId,
    pub revoke: KeyId,
    pub wrapping: KeyId,
    pub wrappable: KeyId,
    pub blob: Vec<u8>,
    pub keyring_serial: i32,
}

impl Every {
    /// Makes the keys in `v` (which needs every capability for that).
    pub fn new(v: &Vault) -> Self {
        let crypto = Fixture::new(v);
        let ed25519 = ok(v.generate(Algorithm::Ed25519));
        let sig = sign(v, ed25519, &crypto.pt).expect("SIGN");
        let wrapping = wrapping_key(v);
        let wrappable = import_with(v, KV_ALG_AES256_GCM, &FX_AEAD_KEY, WRAPPABLE).expect("IMPORT");
        let blob = wrap(v, wrapping, wrappable, KV_WRAP_NATIVE).expect("WRAP");
        let keyring_serial =
            add_key("logon", "kv:fixture", &FX_AEAD_KEY, PROCESS_KEYRING).expect("add_key");
        Every {
            crypto,
            ed25519,
            sig,
            x25519: ok(v.generate(Algorithm::X25519)),
            peer: MontgomeryPoint::mul_base_clamped(array(5)).to_bytes(),
            destroy: ok(v.generate(Algorithm::Aes128Gcm)),
            revoke: ok(v.generate(Algorithm::Aes128Gcm)),
            wrapping,
            wrappable,
            blob,
            keyring_serial,
        }
    }

    /// Runs a valid request of `io` on `v` (a new fd from DUP is closed; a
    /// new key from GENKEY, IMPORT, IMPORT_KEYRING, DERIVE, KEYEXCHANGE or
    /// UNWRAP stays in `v`).
    pub fn call(&self, v: &Vault, io: &KvIoctl) -> Result<i32, Errno> {
        let pt = &self.crypto.pt;
        let mut out = [0u8; 64];
        match io.cmd {
            KV_IOC_GETCAPS => ioctl(v, io.cmd, &mut KvCaps::default()),
            KV_IOC_RESTRICT => {
                let mut r = KvCaps {
                    caps: KV_CAP_ALL,
                    ..Default::default()
                };
                ioctl(v, io.cmd, &mut r)
            }
            KV_IOC_DUP => dup_fd(v.as_raw_fd(), KV_CAP_ALL, &[]).map(|_| 0),
            KV_IOC_LIMITS => ioctl(v, io.cmd, &mut KvLimits::default()),
            KV_IOC_GENKEY => {
                let mut r = KvGenkey {
                    algorithm: KV_ALG_AES256_GCM,
                    ..Default::default()
                };
                ioctl(v, io.cmd, &mut r)
            }
            KV_IOC_IMPORT => {
                let mut r = import_req(KV_ALG_AES256_GCM, &FX_AEAD_KEY);
                ioctl(v, io.cmd, &mut r)
            }
            KV_IOC_DESTROY | KV_IOC_REVOKE => {
                let id = if io.cmd == KV_IOC_DESTROY {
                    self.destroy
                } else {
                    self.revoke
                };
                let mut r = KvKeyref {
                    key_id: id.0,
                    ..Default::default()
                };
                ioctl(v, io.cmd, &mut r)
            }
            KV_IOC_GETINFO => {
                let mut r = KvKeyinfo {
                    key_id: self.crypto.keys.aead.0,
                    ..Default::default()
                };
                ioctl(v, io.cmd, &mut r)
            }
            KV_IOC_LIST => {
                let mut ids = [0u64; 8];
                let mut r = KvList {
                    ids_ptr: ids.as_mut_ptr() as u64,
                    max_ids: ids.len() as u32,
                    ..Default::default()
                };
                ioctl(v, io.cmd, &mut r)
            }
            KV_IOC_AEAD_ENCRYPT | KV_IOC_AEAD_DECRYPT | KV_IOC_CBC_ENCRYPT | KV_IOC_CBC_DECRYPT
            | KV_IOC_MAC | KV_IOC_VERIFY_MAC | KV_IOC_HASH => self.crypto.call_own(v, io.cmd),
            KV_IOC_SIGN => ioctl(v, io.cmd, &mut sign_req(self.ed25519, pt, &mut out, 64)),
            KV_IOC_VERIFY => ioctl(
                v,
                io.cmd,
                &mut verify_req(self.ed25519, None, pt, &self.sig),
            ),
            KV_IOC_GET_PUBKEY => ioctl(v, io.cmd, &mut pubkey_req(self.x25519, &mut out, 32)),
            KV_IOC_DERIVE => ioctl(v, io.cmd, &mut derive_req(self.crypto.keys.hmac, &HMAC256)),
            KV_IOC_KEYEXCHANGE => ioctl(
                v,
                io.cmd,
                &mut exchange_req(self.x25519, &self.peer, &HMAC256),
            ),
            KV_IOC_IMPORT_KEYRING => ioctl(
                v,
                io.cmd,
                &mut keyring_req(KV_ALG_AES256_GCM, self.keyring_serial),
            ),
            KV_IOC_WRAP => {
                let mut blob = [0u8; 128];
                ioctl(v, io.cmd, &mut wrap_req(self.wrapping, self.wrappable, &mut blob, KV_WRAP_NATIVE))
            }
            KV_IOC_UNWRAP => ioctl(v, io.cmd, &mut unwrap_req(self.wrapping, &self.blob)),
            _ => panic!("{}: no valid request in support::fixture::Every", io.name),
        }
    }
}
