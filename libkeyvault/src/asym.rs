//! Ed25519 signatures and public keys with vault keys, and the RustCrypto
//! [`signature`] traits (3.x) for them: the private half never leaves the
//! kernel.

use crate::crypto::len32;
use crate::{Error, KeyId, Result, Vault};
use keyvault_uapi as abi;
use nix::errno::Errno;
use std::borrow::Borrow;
use std::sync::Arc;

/// An Ed25519 signature as bytes (64, RFC 8032 `R || S`).
pub type SignatureBytes = [u8; abi::KV_ED25519_SIG_SIZE as usize];
/// An Ed25519 or X25519 public key (32 bytes).
pub type PublicKey = [u8; abi::KV_PUBKEY_SIZE as usize];

const SIGN: &str = "sign";
const VERIFY: &str = "verify";

impl Vault {
    /// Signs `msg` with the Ed25519 key `key` (deterministic, RFC 8032):
    /// the kernel computes the signature; the handle needs the SIGN
    /// capability and the key the `sign` usage.
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Vault};
    ///
    /// let vault = Vault::open()?;
    /// let key = vault.generate(Algorithm::Ed25519)?;
    /// let sig = vault.sign(key, b"release v1.2")?;
    /// vault.verify(key, b"release v1.2", &sig)?;
    /// // Anyone with the public key can check it, in the kernel or elsewhere.
    /// let public = vault.public_key(key)?;
    /// vault.verify_with_public_key(&public, b"release v1.2", &sig)?;
    /// // A signature that does not verify is an error: `?` would reject it.
    /// let e = vault.verify_with_public_key(&public, b"release v1.3", &sig).unwrap_err();
    /// assert!(e.is_verification_failure());
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn sign(&self, key: KeyId, msg: &[u8]) -> Result<SignatureBytes> {
        let mut sig = [0u8; abi::KV_ED25519_SIG_SIZE as usize];
        let mut r = abi::KvSign {
            key_id: key.0,
            data_ptr: msg.as_ptr() as u64,
            sig_ptr: sig.as_mut_ptr() as u64,
            data_len: len32(SIGN, msg.len())?,
            sig_len: sig.len() as u32,
            ..Default::default()
        };
        self.ioctl(SIGN, abi::KV_IOC_SIGN, &mut r)?;
        if r.sig_len as usize != sig.len() {
            return Err(Error::new(SIGN, Errno::EIO));
        }
        Ok(sig)
    }

    fn verify_raw(
        &self,
        key: KeyId,
        public: Option<&PublicKey>,
        msg: &[u8],
        sig: &SignatureBytes,
    ) -> Result<()> {
        let mut r = abi::KvVerify {
            key_id: key.0,
            pubkey_ptr: public.map_or(0, |p| p.as_ptr() as u64),
            data_ptr: msg.as_ptr() as u64,
            sig_ptr: sig.as_ptr() as u64,
            data_len: len32(VERIFY, msg.len())?,
            ..Default::default()
        };
        self.ioctl(VERIFY, abi::KV_IOC_VERIFY, &mut r)
    }

    /// Checks an Ed25519 signature of `msg` with the vault key `key` (in the
    /// kernel; needs the VERIFY capability). `Ok(())`: it verifies. A
    /// signature that does not is an error (`EBADMSG`, see
    /// [`Error::is_verification_failure`]), so `?` rejects it.
    pub fn verify(&self, key: KeyId, msg: &[u8], sig: &SignatureBytes) -> Result<()> {
        if key.0 == 0 {
            // 0 means "use the public key" in the ABI: not a vault key.
            return Err(Error::new(VERIFY, Errno::ENOENT));
        }
        self.verify_raw(key, None, msg, sig)
    }

    /// Checks an Ed25519 signature of `msg` with anyone's 32-byte public
    /// key (in the kernel; needs the VERIFY capability, no vault key).
    /// `Ok(())`: it verifies. A signature that does not (also for a public
    /// key that is not a valid curve point) is an error (`EBADMSG`, see
    /// [`Error::is_verification_failure`]), so `?` rejects it.
    pub fn verify_with_public_key(
        &self,
        public: &PublicKey,
        msg: &[u8],
        sig: &SignatureBytes,
    ) -> Result<()> {
        self.verify_raw(KeyId(0), Some(public), msg, sig)
    }

    /// The public half of an Ed25519 or X25519 key (32 bytes; needs the
    /// GETINFO capability). A symmetric key fails with `EOPNOTSUPP`.
    pub fn public_key(&self, key: KeyId) -> Result<PublicKey> {
        let mut public = [0u8; abi::KV_PUBKEY_SIZE as usize];
        let mut r = abi::KvPubkey {
            key_id: key.0,
            pubkey_ptr: public.as_mut_ptr() as u64,
            pubkey_len: public.len() as u32,
            ..Default::default()
        };
        const OP: &str = "get-pubkey";
        self.ioctl(OP, abi::KV_IOC_GET_PUBKEY, &mut r)?;
        if r.pubkey_len as usize != public.len() {
            return Err(Error::new(OP, Errno::EIO));
        }
        Ok(public)
    }

    /// The Ed25519 key `key` of this vault, for use through the RustCrypto
    /// [`signature`] traits, borrowing the vault. Nothing is checked until
    /// it is used. For a key that owns its vault, see [`SigningKey::new`].
    pub fn signing_key(&self, key: KeyId) -> SigningKey<&Vault> {
        SigningKey::new(self, key)
    }
}

/// A vault Ed25519 key behind the RustCrypto [`signature`] traits:
/// [`Signer`](signature::Signer) and [`Verifier`](signature::Verifier) of
/// [`ed25519::Signature`], the signature type `ed25519-dalek` and other
/// Ed25519 implementations use. Each call is one ioctl on the vault.
///
/// Errors: the trait methods return the opaque [`signature::Error`], whose
/// [`source`](std::error::Error::source) is the kernel's [`Error`] (which
/// errno, which operation); a signature that does not verify is an error
/// without a source. The inherent methods of [`Vault`] ([`Vault::sign`],
/// [`Vault::verify`]) return the kernel's errors directly.
///
/// Borrowed or owned, as [`AeadKey`](crate::AeadKey): `V` is any
/// [`Borrow<Vault>`]; [`Vault::signing_key`] borrows, [`SigningKey::new`]
/// with an [`Arc<Vault>`] (the default `V`: plainly `SigningKey`) or a
/// [`Vault`] owns. `Send` and `Sync` when `V` is (see [`Vault`]).
///
/// ```no_run
/// use keyvault::ed25519::Signature;
/// use keyvault::signature::{Signer, Verifier};
/// use keyvault::{Algorithm, Vault};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let vault = Vault::open()?;
/// let id = vault.generate(Algorithm::Ed25519)?;
/// let key = vault.signing_key(id);
///
/// let sig: Signature = key.try_sign(b"message")?;
/// key.verify(b"message", &sig)?;
/// assert!(key.verify(b"another message", &sig).is_err());
///
/// // Code written against the traits takes it like an ed25519_dalek::SigningKey.
/// fn sign_release<S: Signer<Signature>>(signer: &S, tarball: &[u8]) -> Signature {
///     signer.sign(tarball)
/// }
/// let sig = sign_release(&key, b"tarball");
/// vault.verify_with_public_key(&key.public_key()?, b"tarball", &sig.to_bytes())?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SigningKey<V = Arc<Vault>> {
    vault: V,
    key: KeyId,
}

impl<V: Borrow<Vault>> SigningKey<V> {
    /// The Ed25519 key `key` in the vault `vault` holds: `&Vault`,
    /// `Arc<Vault>`, `Vault`, ... Nothing is checked until it is used.
    ///
    /// ```no_run
    /// use keyvault::signature::Signer;
    /// use keyvault::{Algorithm, SigningKey, Vault};
    /// use std::sync::Arc;
    ///
    /// struct Notary {
    ///     key: SigningKey, // SigningKey<Arc<Vault>>: no lifetime to carry
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let vault = Arc::new(Vault::open()?);
    /// let id = vault.generate(Algorithm::Ed25519)?;
    /// let notary = Notary { key: SigningKey::new(vault, id) };
    /// let sig: keyvault::ed25519::Signature = notary.key.try_sign(b"deed")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(vault: V, key: KeyId) -> Self {
        SigningKey { vault, key }
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.key
    }

    /// The vault the key is in.
    pub fn vault(&self) -> &Vault {
        self.vault.borrow()
    }

    /// Gives back what holds the vault.
    pub fn into_inner(self) -> V {
        self.vault
    }

    /// The key's 32-byte public half (as `ed25519_dalek::VerifyingKey::to_bytes`).
    pub fn public_key(&self) -> Result<PublicKey> {
        self.vault().public_key(self.key)
    }
}

impl<V: Borrow<Vault>> signature::Signer<ed25519::Signature> for SigningKey<V> {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<ed25519::Signature, signature::Error> {
        let sig = self.vault().sign(self.key, msg)?;
        Ok(ed25519::Signature::from_bytes(&sig))
    }
}

impl<V: Borrow<Vault>> signature::Verifier<ed25519::Signature> for SigningKey<V> {
    fn verify(
        &self,
        msg: &[u8],
        signature: &ed25519::Signature,
    ) -> std::result::Result<(), signature::Error> {
        self.vault()
            .verify(self.key, msg, &signature.to_bytes())
            .map_err(verifier_error)
    }
}

/// A signature that does not verify becomes an error without a source, so
/// that a caller of the trait can tell it from a check that could not be
/// made (whose source is the kernel's error).
fn verifier_error(e: Error) -> signature::Error {
    if e.is_verification_failure() {
        signature::Error::new()
    } else {
        e.into()
    }
}

/// The kernel's error, as the source of an opaque [`signature::Error`].
impl From<Error> for signature::Error {
    fn from(e: Error) -> Self {
        signature::Error::from_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signature::{Signer, Verifier};
    use std::os::fd::AsRawFd;

    /// A vault handle on a device that is not keyvault: every ioctl fails
    /// with ENOTTY, which is enough to exercise the wiring on a host.
    fn not_a_vault() -> Vault {
        Vault::open_path("/dev/null").expect("open /dev/null")
    }

    fn kernel_error(e: &signature::Error) -> Error {
        *std::error::Error::source(e)
            .expect("a source")
            .downcast_ref::<Error>()
            .expect("the kernel's error")
    }

    /// Code written for any Ed25519 signer and verifier.
    fn round_trip<K>(
        key: &K,
        msg: &[u8],
    ) -> std::result::Result<ed25519::Signature, signature::Error>
    where
        K: Signer<ed25519::Signature> + Verifier<ed25519::Signature>,
    {
        let sig = key.try_sign(msg)?;
        key.verify(msg, &sig)?;
        Ok(sig)
    }

    // RFC 8032, 7.1, TEST 1.
    const SEED: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];

    #[test]
    fn a_vault_key_and_ed25519_dalek_are_interchangeable_behind_the_traits() {
        let dalek = ed25519_dalek::SigningKey::from_bytes(&SEED);
        let sig = round_trip(&dalek, b"").unwrap();
        // RFC 8032 TEST 1's signature starts e5564300.
        assert_eq!(&sig.to_bytes()[..4], &[0xe5, 0x56, 0x43, 0x00]);
        assert_eq!(
            dalek.verifying_key().to_bytes().len(),
            abi::KV_PUBKEY_SIZE as usize
        );

        let vault = not_a_vault();
        let key = vault.signing_key(KeyId(7));
        assert_eq!(key.id(), KeyId(7));
        assert_eq!(key.vault().as_raw_fd(), vault.as_raw_fd());
        let e = round_trip(&key, b"").unwrap_err();
        assert_eq!(kernel_error(&e), Error::new(SIGN, Errno::ENOTTY));
        let e = key.verify(b"", &sig).unwrap_err();
        assert_eq!(kernel_error(&e), Error::new(VERIFY, Errno::ENOTTY));
    }

    #[test]
    fn the_inherent_methods_report_the_kernel_error() {
        let vault = not_a_vault();
        let e = vault.sign(KeyId(1), b"m").unwrap_err();
        assert_eq!((e.op(), e.errno()), ("sign", libc::ENOTTY));
        let e = vault.verify(KeyId(1), b"m", &[0; 64]).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("verify", libc::ENOTTY));
        let e = vault
            .verify_with_public_key(&[0; 32], b"m", &[0; 64])
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("verify", libc::ENOTTY));
        assert!(!e.is_verification_failure());
        // The kernel's answer to a bad signature, from these same calls.
        assert!(Error::new(e.op(), Errno::EBADMSG).is_verification_failure());
        let e = vault.public_key(KeyId(1)).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("get-pubkey", libc::ENOTTY));
        assert_eq!(
            vault
                .signing_key(KeyId(1))
                .public_key()
                .unwrap_err()
                .errno(),
            libc::ENOTTY
        );
        // Key id 0 would mean "the caller's public key": refused before the kernel.
        let e = vault.verify(KeyId(0), b"m", &[0; 64]).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("verify", libc::ENOENT));
    }

    #[test]
    fn through_the_verifier_trait_a_mismatch_is_an_error_without_a_source() {
        let e = verifier_error(Error::new(VERIFY, Errno::EBADMSG));
        assert!(std::error::Error::source(&e).is_none());
        let e = verifier_error(Error::new(VERIFY, Errno::EPERM));
        assert_eq!(kernel_error(&e), Error::new(VERIFY, Errno::EPERM));
        let e: signature::Error = Error::new(SIGN, Errno::EPERM).into();
        assert_eq!(kernel_error(&e).errno(), libc::EPERM);
    }
}
