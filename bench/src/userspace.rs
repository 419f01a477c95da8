//! Contender 4, in-process userspace crypto (RustCrypto): no isolation at
//! all, the key is in the process's memory. It is the limit, and also what
//! the key agent (contender 3) computes with, so the two differ only by the
//! transport.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use ed25519_dalek::{Signer, Verifier};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The HKDF info every X25519 contender uses (keyvault's `Kdf` too).
pub const X25519_INFO: &[u8] = b"kv-bench x25519";

/// The key bytes every contender is given (imported into keyvault, added
/// to the kernel keyring for AF_ALG, held by the agent, used in-process),
/// so they all compute the same function and can be cross-checked.
#[derive(Clone)]
pub struct Keys {
    pub aes: [u8; 32],
    pub chacha: [u8; 32],
    pub hmac: [u8; 32],
    pub ed25519_seed: [u8; 32],
    pub x25519: [u8; 32],
}

impl Keys {
    pub fn random() -> Self {
        let mut b = [0u8; 160];
        getrandom::getrandom(&mut b).expect("getrandom");
        let part = |i: usize| -> [u8; 32] { b[i * 32..(i + 1) * 32].try_into().unwrap() };
        Keys {
            aes: part(0),
            chacha: part(1),
            hmac: part(2),
            ed25519_seed: part(3),
            x25519: part(4),
        }
    }
}

/// An AEAD for [`InProc::seal`] / [`InProc::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadAlg {
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// Prepared (keyed) userspace state: expanded AES keys, the HMAC inner and
/// outer states, the Ed25519 and X25519 secrets.
pub struct InProc {
    aes: Aes256Gcm,
    chacha: ChaCha20Poly1305,
    hmac: Hmac<Sha256>,
    ed: ed25519_dalek::SigningKey,
    x: x25519_dalek::StaticSecret,
}

impl InProc {
    pub fn new(k: &Keys) -> Self {
        InProc {
            aes: Aes256Gcm::new(&k.aes.into()),
            chacha: ChaCha20Poly1305::new(&k.chacha.into()),
            hmac: <Hmac<Sha256> as Mac>::new_from_slice(&k.hmac).expect("hmac key"),
            ed: ed25519_dalek::SigningKey::from_bytes(&k.ed25519_seed),
            x: x25519_dalek::StaticSecret::from(k.x25519),
        }
    }

    /// Encrypts `pt` into `out[..pt.len()]` (copy, then in place) and
    /// returns the tag. Empty AAD, like every AEAD row.
    pub fn seal(&self, alg: AeadAlg, nonce: &[u8; 12], pt: &[u8], out: &mut [u8]) -> [u8; 16] {
        let buf = &mut out[..pt.len()];
        buf.copy_from_slice(pt);
        let tag = match alg {
            AeadAlg::Aes256Gcm => self.aes.encrypt_in_place_detached(nonce.into(), b"", buf),
            AeadAlg::ChaCha20Poly1305 => {
                self.chacha
                    .encrypt_in_place_detached(nonce.into(), b"", buf)
            }
        };
        tag.expect("AEAD encrypt").into()
    }

    /// Decrypts `ct` into `out[..ct.len()]`; false if the tag is wrong.
    pub fn open(
        &self,
        alg: AeadAlg,
        nonce: &[u8; 12],
        ct: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> bool {
        let buf = &mut out[..ct.len()];
        buf.copy_from_slice(ct);
        match alg {
            AeadAlg::Aes256Gcm => {
                self.aes
                    .decrypt_in_place_detached(nonce.into(), b"", buf, tag.into())
            }
            AeadAlg::ChaCha20Poly1305 => {
                self.chacha
                    .decrypt_in_place_detached(nonce.into(), b"", buf, tag.into())
            }
        }
        .is_ok()
    }

    /// HMAC-SHA256 from the prepared (keyed) state.
    pub fn hmac(&self, data: &[u8]) -> [u8; 32] {
        let mut m = self.hmac.clone();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    pub fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.ed.sign(msg).to_bytes()
    }

    pub fn ed25519_public(&self) -> [u8; 32] {
        self.ed.verifying_key().to_bytes()
    }

    /// Ed25519 verification with a public key (parsing it is part of the cost).
    pub fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
            return false;
        };
        vk.verify(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    }

    pub fn x25519_public(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.x).to_bytes()
    }

    /// X25519 with the peer, then HKDF-SHA256 (no salt, [`X25519_INFO`])
    /// into a new AES-256-GCM key, as keyvault's KEYEXCHANGE does; the key
    /// bytes are returned for the cross-check, the prepared cipher for use.
    pub fn exchange(&self, peer: &[u8; 32]) -> Option<([u8; 32], Aes256Gcm)> {
        let shared = self.x.diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
        if !shared.was_contributory() {
            return None;
        }
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(None, shared.as_bytes())
            .expand(X25519_INFO, &mut okm)
            .ok()?;
        Some((okm, Aes256Gcm::new(&okm.into())))
    }
}

/// AES-256-GCM with a raw key (for the X25519 cross-check).
pub fn aes_seal_with(key: &Aes256Gcm, nonce: &[u8; 12], buf: &mut [u8]) -> [u8; 16] {
    key.encrypt_in_place_detached(nonce.into(), b"", buf)
        .expect("AEAD encrypt")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_rejects_a_bad_tag() {
        let p = InProc::new(&Keys::random());
        for alg in [AeadAlg::Aes256Gcm, AeadAlg::ChaCha20Poly1305] {
            let pt = b"sixty-four bytes of plaintext, more or less, for the test";
            let mut ct = vec![0u8; pt.len()];
            let tag = p.seal(alg, &[7; 12], pt, &mut ct);
            let mut back = vec![0u8; pt.len()];
            assert!(p.open(alg, &[7; 12], &ct, &tag, &mut back));
            assert_eq!(&back[..], &pt[..]);
            let mut bad = tag;
            bad[0] ^= 1;
            assert!(!p.open(alg, &[7; 12], &ct, &bad, &mut back));
        }
    }

    #[test]
    fn signatures_verify_and_exchange_is_symmetric() {
        let a = InProc::new(&Keys::random());
        let b = InProc::new(&Keys::random());
        let sig = a.sign(b"msg");
        assert!(InProc::verify(&a.ed25519_public(), b"msg", &sig));
        assert!(!InProc::verify(&a.ed25519_public(), b"msh", &sig));
        let (ka, _) = a.exchange(&b.x25519_public()).unwrap();
        let (kb, _) = b.exchange(&a.x25519_public()).unwrap();
        assert_eq!(ka, kb);
        assert!(a.exchange(&[0; 32]).is_none());
    }
}
