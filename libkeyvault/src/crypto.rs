//! Crypto with vault keys: AEAD, AES-CBC, HMAC, and plain hashing.
//! The key bytes stay in the kernel; only data, nonces and tags cross.

use crate::{Error, KeyId, Result, Vault};
use keyvault_uapi as abi;
use nix::errno::Errno;
use std::fmt;
use std::str::FromStr;
use zeroize::{Zeroize, Zeroizing};

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
    #[allow(clippy::len_without_is_empty)] // a digest is never empty
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha512 => 64,
        }
    }

    /// The name used on the command line (`sha256`, `sha512`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlg {
    type Err = String;
    /// Parses `sha256` or `sha512` (any case; `sha-256` too).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(HashAlg::Sha256),
            "sha512" => Ok(HashAlg::Sha512),
            _ => Err(format!("unknown hash '{s}' (sha256 or sha512)")),
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

pub(crate) fn len32(op: &'static str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::new(op, Errno::EMSGSIZE))
}

/// The input and output buffers of one request: two slices, or one slice
/// used in place (the ABI allows `in_ptr == out_ptr`).
#[derive(Clone, Copy)]
struct Io {
    in_ptr: u64,
    in_len: u32,
    out_ptr: u64,
    out_len: u32,
}

impl Io {
    fn split(op: &'static str, input: &[u8], out: &mut [u8]) -> Result<Io> {
        Ok(Io {
            in_ptr: input.as_ptr() as u64,
            in_len: len32(op, input.len())?,
            out_ptr: out.as_mut_ptr() as u64,
            out_len: len32(op, out.len())?,
        })
    }

    fn in_place(op: &'static str, buf: &mut [u8]) -> Result<Io> {
        let len = len32(op, buf.len())?;
        let ptr = buf.as_mut_ptr() as u64;
        Ok(Io {
            in_ptr: ptr,
            in_len: len,
            out_ptr: ptr,
            out_len: len,
        })
    }
}

/// After a failed decryption: the ABI promises that `EBADMSG` writes
/// nothing, but says nothing of other errors, so wipe the output rather than
/// risk leaving part of a plaintext in it.
fn wipe_unless_badmsg(r: Result<()>, out: &mut [u8]) -> Result<()> {
    if let Err(e) = r {
        if e.errno() != libc::EBADMSG {
            out.zeroize();
        }
    }
    r
}

const AEAD_ENCRYPT: &str = "aead-encrypt";
const AEAD_DECRYPT: &str = "aead-decrypt";

impl Vault {
    fn aead_seal(&self, key: KeyId, io: Io, aad: &[u8], nonce: Option<&Nonce>) -> Result<Sealed> {
        let mut sealed = Sealed {
            nonce: nonce.copied().unwrap_or_default(),
            tag: Tag::default(),
        };
        let mut r = abi::KvAead {
            key_id: key.0,
            in_ptr: io.in_ptr,
            out_ptr: io.out_ptr,
            aad_ptr: aad.as_ptr() as u64,
            nonce_ptr: sealed.nonce.as_mut_ptr() as u64,
            tag_ptr: sealed.tag.as_mut_ptr() as u64,
            in_len: io.in_len,
            out_len: io.out_len,
            aad_len: len32(AEAD_ENCRYPT, aad.len())?,
            flags: if nonce.is_none() {
                abi::KV_AEAD_GEN_NONCE
            } else {
                0
            },
            ..Default::default()
        };
        self.ioctl(AEAD_ENCRYPT, abi::KV_IOC_AEAD_ENCRYPT, &mut r)?;
        Ok(sealed)
    }

    fn aead_open(&self, key: KeyId, io: Io, aad: &[u8], nonce: &Nonce, tag: &Tag) -> Result<()> {
        let mut r = abi::KvAead {
            key_id: key.0,
            in_ptr: io.in_ptr,
            out_ptr: io.out_ptr,
            aad_ptr: aad.as_ptr() as u64,
            nonce_ptr: nonce.as_ptr() as u64,
            tag_ptr: tag.as_ptr() as u64,
            in_len: io.in_len,
            out_len: io.out_len,
            aad_len: len32(AEAD_DECRYPT, aad.len())?,
            ..Default::default()
        };
        self.ioctl(AEAD_DECRYPT, abi::KV_IOC_AEAD_DECRYPT, &mut r)
    }

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
        let io = Io::split(AEAD_ENCRYPT, plaintext, out)?;
        self.aead_seal(key, io, aad, nonce)
    }

    /// AEAD-encrypts `buf` in place: on success it holds the ciphertext (same
    /// length). With `nonce: None` the kernel picks a nonce that never
    /// repeats for the key.
    pub fn aead_encrypt_in_place(
        &self,
        key: KeyId,
        buf: &mut [u8],
        aad: &[u8],
        nonce: Option<&Nonce>,
    ) -> Result<Sealed> {
        let io = Io::in_place(AEAD_ENCRYPT, buf)?;
        self.aead_seal(key, io, aad, nonce)
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
    /// ciphertext fails with `EBADMSG` and leaves `out` untouched. (Any other
    /// error zeroes `out`: the ABI does not say what was written then.)
    pub fn aead_decrypt_into(
        &self,
        key: KeyId,
        ciphertext: &[u8],
        aad: &[u8],
        nonce: &Nonce,
        tag: &Tag,
        out: &mut [u8],
    ) -> Result<()> {
        let io = Io::split(AEAD_DECRYPT, ciphertext, out)?;
        let r = self.aead_open(key, io, aad, nonce, tag);
        wipe_unless_badmsg(r, out)
    }

    /// AEAD-decrypts `buf` in place: on success it holds the plaintext (same
    /// length). A wrong tag, nonce, AAD or ciphertext fails with `EBADMSG`
    /// and the kernel writes nothing, so `buf` still holds the ciphertext;
    /// any other error zeroes `buf`, so it never holds part of a plaintext.
    pub fn aead_decrypt_in_place(
        &self,
        key: KeyId,
        buf: &mut [u8],
        aad: &[u8],
        nonce: &Nonce,
        tag: &Tag,
    ) -> Result<()> {
        let io = Io::in_place(AEAD_DECRYPT, buf)?;
        let r = self.aead_open(key, io, aad, nonce, tag);
        wipe_unless_badmsg(r, buf)
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
        io: Io,
        iv: &mut Iv,
        flags: u32,
    ) -> Result<usize> {
        let mut r = abi::KvCbc {
            key_id: key.0,
            in_ptr: io.in_ptr,
            out_ptr: io.out_ptr,
            iv_ptr: iv.as_mut_ptr() as u64,
            in_len: io.in_len,
            out_len: io.out_len,
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
        const OP: &str = "cbc-encrypt";
        let io = Io::split(OP, plaintext, &mut out)?;
        let n = self.cbc(OP, abi::KV_IOC_CBC_ENCRYPT, key, io, &mut the_iv, flags)?;
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
        const OP: &str = "cbc-decrypt";
        let io = Io::split(OP, ciphertext, &mut out)?;
        let n = self.cbc(OP, abi::KV_IOC_CBC_DECRYPT, key, io, &mut the_iv, flags)?;
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
    /// the HMAC of `data`, in constant time in the kernel. `Ok(())`: it
    /// matches. A tag that does not is an error (`EBADMSG`, see
    /// [`Error::is_verification_failure`]), so `?` rejects it.
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Vault};
    ///
    /// let vault = Vault::open()?;
    /// let key = vault.generate(Algorithm::HmacSha256)?;
    /// let tag = vault.mac(key, b"session=42")?;
    /// vault.verify_mac(key, b"session=42", &tag)?;
    /// let e = vault.verify_mac(key, b"session=43", &tag).unwrap_err();
    /// assert!(e.is_verification_failure());
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn verify_mac(&self, key: KeyId, data: &[u8], tag: &[u8]) -> Result<()> {
        let mut r = abi::KvMac {
            key_id: key.0,
            data_ptr: data.as_ptr() as u64,
            mac_ptr: tag.as_ptr() as u64,
            data_len: len32("verify-mac", data.len())?,
            mac_len: len32("verify-mac", tag.len())?,
            ..Default::default()
        };
        self.ioctl("verify-mac", abi::KV_IOC_VERIFY_MAC, &mut r)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_mac_reports_the_kernel_error_under_the_op_a_mismatch_is_recognised_by() {
        let vault = Vault::open_path("/dev/null").expect("open /dev/null");
        let e = vault.verify_mac(KeyId(1), b"m", &[0; 16]).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("verify-mac", libc::ENOTTY));
        assert!(!e.is_verification_failure());
        // The kernel's answer to a wrong tag, from this same call.
        assert!(Error::new(e.op(), Errno::EBADMSG).is_verification_failure());
    }
}
