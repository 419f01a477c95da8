//! Crypto with vault keys: AEAD, AES-CBC, HMAC, and plain hashing.
//! The key bytes stay in the kernel; only data, nonces and tags cross.

use crate::{Error, KeyId, Result, Vault};
use keyvault_uapi as abi;
use nix::errno::Errno;
use zeroize::Zeroizing;

/// An AEAD nonce (12 bytes).
pub type Nonce = [u8; abi::KV_AEAD_NONCE_SIZE as usize];
/// An AEAD tag (16 bytes).
pub type Tag = [u8; abi::KV_AEAD_TAG_SIZE as usize];
/// An AES-CBC IV (16 bytes).
pub type Iv = [u8; abi::KV_CBC_IV_SIZE as usize];

/// A hash function for [`Vault::hash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256 (32-byte digest).
    Sha256,
    /// SHA-512 (64-byte digest).
    Sha512,
}

impl HashAlg {
    /// The ABI value (`KV_HASH_*`).
    pub fn to_raw(self) -> u32 {
        match self {
            HashAlg::Sha256 => abi::KV_HASH_SHA256,
            HashAlg::Sha512 => abi::KV_HASH_SHA512,
        }
    }

    /// Digest length in bytes.
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha512 => 64,
        }
    }
}

/// What AEAD encryption returns: the nonce used (the kernel's, or yours),
/// and the tag. The ciphertext went to the output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The nonce; store it with the ciphertext.
    pub nonce: Nonce,
    /// The authentication tag.
    pub tag: Tag,
}

fn len32(op: &'static str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::new(op, Errno::EMSGSIZE))
}

impl Vault {
    /// AEAD-encrypts `plaintext` into `out` (at least as long). With
    /// `nonce: None` the kernel picks a nonce that never repeats for the key.
    pub fn aead_encrypt_into(
        &self,
        key: KeyId,
        plaintext: &[u8],
        aad: &[u8],
        nonce: Option<&Nonce>,
        out: &mut [u8],
    ) -> Result<Sealed> {
        const OP: &str = "aead-encrypt";
        let mut sealed = Sealed {
            nonce: nonce.copied().unwrap_or_default(),
            tag: Tag::default(),
        };
        let mut r = abi::KvAead {
            key_id: key.0,
            in_ptr: plaintext.as_ptr() as u64,
            out_ptr: out.as_mut_ptr() as u64,
            aad_ptr: aad.as_ptr() as u64,
            nonce_ptr: sealed.nonce.as_mut_ptr() as u64,
            tag_ptr: sealed.tag.as_mut_ptr() as u64,
            in_len: len32(OP, plaintext.len())?,
            out_len: len32(OP, out.len())?,
            aad_len: len32(OP, aad.len())?,
            flags: if nonce.is_none() {
                abi::KV_AEAD_GEN_NONCE
            } else {
                0
            },
            ..Default::default()
        };
        self.ioctl(OP, abi::KV_IOC_AEAD_ENCRYPT, &mut r)?;
        Ok(sealed)
    }

    /// AEAD-encrypts `plaintext`; returns the ciphertext (same length) and
    /// the nonce and tag.
    pub fn aead_encrypt(
        &self,
        key: KeyId,
        plaintext: &[u8],
        aad: &[u8],
        nonce: Option<&Nonce>,
    ) -> Result<(Vec<u8>, Sealed)> {
        let mut out = vec![0u8; plaintext.len()];
        let sealed = self.aead_encrypt_into(key, plaintext, aad, nonce, &mut out)?;
        Ok((out, sealed))
    }

    /// AEAD-decrypts `ciphertext` into `out`; a wrong tag, nonce, AAD or
    /// ciphertext fails with `EBADMSG` and leaves `out` untouched.
    pub fn aead_decrypt_into(
        &self,
        key: KeyId,
        ciphertext: &[u8],
        aad: &[u8],
        nonce: &Nonce,
        tag: &Tag,
        out: &mut [u8],
    ) -> Result<()> {
        const OP: &str = "aead-decrypt";
        let mut r = abi::KvAead {
            key_id: key.0,
            in_ptr: ciphertext.as_ptr() as u64,
            out_ptr: out.as_mut_ptr() as u64,
            aad_ptr: aad.as_ptr() as u64,
            nonce_ptr: nonce.as_ptr() as u64,
            tag_ptr: tag.as_ptr() as u64,
            in_len: len32(OP, ciphertext.len())?,
            out_len: len32(OP, out.len())?,
            aad_len: len32(OP, aad.len())?,
            ..Default::default()
        };
        self.ioctl(OP, abi::KV_IOC_AEAD_DECRYPT, &mut r)
    }

    /// AEAD-decrypts; the plaintext comes back in memory that is wiped on drop.
    pub fn aead_decrypt(
        &self,
        key: KeyId,
        ciphertext: &[u8],
        aad: &[u8],
        nonce: &Nonce,
        tag: &Tag,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; ciphertext.len()]);
        self.aead_decrypt_into(key, ciphertext, aad, nonce, tag, &mut out)?;
        Ok(out)
    }

    fn cbc(
        &self,
        op: &'static str,
        cmd: u32,
        key: KeyId,
        input: &[u8],
        iv: &mut Iv,
        flags: u32,
        out: &mut [u8],
    ) -> Result<usize> {
        let mut r = abi::KvCbc {
            key_id: key.0,
            in_ptr: input.as_ptr() as u64,
            out_ptr: out.as_mut_ptr() as u64,
            iv_ptr: iv.as_mut_ptr() as u64,
            in_len: len32(op, input.len())?,
            out_len: len32(op, out.len())?,
            flags,
            ..Default::default()
        };
        self.ioctl(op, cmd, &mut r)?;
        Ok(r.out_len as usize)
    }

    /// AES-CBC-encrypts with PKCS#7 padding (`padding: false`: whole blocks
    /// only). With `iv: None` the kernel makes a random IV. Returns the IV
    /// and the ciphertext.
    pub fn cbc_encrypt(
        &self,
        key: KeyId,
        plaintext: &[u8],
        iv: Option<&Iv>,
        padding: bool,
    ) -> Result<(Iv, Vec<u8>)> {
        let mut the_iv = iv.copied().unwrap_or_default();
        let flags = if iv.is_none() { abi::KV_CBC_GEN_IV } else { 0 }
            | if padding { 0 } else { abi::KV_CBC_NO_PADDING };
        let mut out = vec![
            0u8;
            if padding {
                plaintext.len() / 16 * 16 + 16
            } else {
                plaintext.len()
            }
        ];
        let n = self.cbc(
            "cbc-encrypt",
            abi::KV_IOC_CBC_ENCRYPT,
            key,
            plaintext,
            &mut the_iv,
            flags,
            &mut out,
        )?;
        out.truncate(n);
        Ok((the_iv, out))
    }

    /// AES-CBC-decrypts; bad padding fails with `EBADMSG`.
    pub fn cbc_decrypt(
        &self,
        key: KeyId,
        ciphertext: &[u8],
        iv: &Iv,
        padding: bool,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut the_iv = *iv;
        let flags = if padding { 0 } else { abi::KV_CBC_NO_PADDING };
        let mut out = Zeroizing::new(vec![0u8; ciphertext.len()]);
        let n = self.cbc(
            "cbc-decrypt",
            abi::KV_IOC_CBC_DECRYPT,
            key,
            ciphertext,
            &mut the_iv,
            flags,
            &mut out,
        )?;
        out.truncate(n);
        Ok(out)
    }

    /// HMAC of `data` with an HMAC key (32 or 64 bytes).
    pub fn mac(&self, key: KeyId, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; abi::KV_MAX_DIGEST_SIZE as usize];
        let mut r = abi::KvMac {
            key_id: key.0,
            data_ptr: data.as_ptr() as u64,
            mac_ptr: out.as_mut_ptr() as u64,
            data_len: len32("mac", data.len())?,
            mac_len: out.len() as u32,
            ..Default::default()
        };
        self.ioctl("mac", abi::KV_IOC_MAC, &mut r)?;
        out.truncate(r.mac_len as usize);
        Ok(out)
    }

    /// Checks `tag` (the full MAC, or a prefix of at least 16 bytes) against
    /// the HMAC of `data`, in constant time in the kernel. `Ok(false)`: no match.
    pub fn verify_mac(&self, key: KeyId, data: &[u8], tag: &[u8]) -> Result<bool> {
        let mut r = abi::KvMac {
            key_id: key.0,
            data_ptr: data.as_ptr() as u64,
            mac_ptr: tag.as_ptr() as u64,
            data_len: len32("verify-mac", data.len())?,
            mac_len: len32("verify-mac", tag.len())?,
            ..Default::default()
        };
        match self.ioctl("verify-mac", abi::KV_IOC_VERIFY_MAC, &mut r) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Errno::EBADMSG => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A plain hash computed in the kernel (needs only the HASH capability).
    pub fn hash(&self, alg: HashAlg, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; alg.len()];
        let mut r = abi::KvHash {
            algorithm: alg.to_raw(),
            data_len: len32("hash", data.len())?,
            data_ptr: data.as_ptr() as u64,
            digest_ptr: out.as_mut_ptr() as u64,
            digest_len: out.len() as u32,
            ..Default::default()
        };
        self.ioctl("hash", abi::KV_IOC_HASH, &mut r)?;
        out.truncate(r.digest_len as usize);
        Ok(out)
    }
}
