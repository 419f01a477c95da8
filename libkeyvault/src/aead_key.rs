//! The RustCrypto [`aead`] traits (0.6) for a vault key, so code written
//! against them (for `aes_gcm::Aes256Gcm`, `chacha20poly1305::ChaCha20Poly1305`,
//! ...) can use a key that never leaves the kernel.

use crate::{Error, KeyId, Result, Vault};
use ::aead::array::typenum::Unsigned;
use ::aead::consts::{U12, U16};
use ::aead::inout::InOutBuf;
use ::aead::{AeadCore, AeadInOut, Buffer, Payload, TagPosition};
use keyvault_uapi as abi;
use nix::errno::Errno;
use std::borrow::Borrow;
use std::sync::Arc;
use zeroize::Zeroizing;

/// A vault AEAD key (AES-128/256-GCM or ChaCha20-Poly1305) behind the
/// RustCrypto [`aead`] traits: [`AeadInOut`], and so [`Aead`](::aead::Aead)
/// through the `aead` crate's blanket impl. 12-byte nonces, 16-byte tags
/// appended to the ciphertext, exactly like `aes_gcm::Aes256Gcm`.
///
/// Each call is one ioctl on the vault; the key's algorithm decides the
/// cipher (a key of another algorithm fails with `EOPNOTSUPP`).
///
/// Nonces: the trait methods take the caller's nonce, which must never
/// repeat for the key (and is refused for a key made with
/// `no_caller_nonce`). The `*_with_kernel_nonce` methods let the kernel
/// choose one that never repeats: the safe default.
///
/// Errors: the trait methods return the opaque [`aead::Error`](::aead::Error);
/// the inherent methods return the [`Error`] the kernel gave (which errno,
/// which operation), which converts into `aead::Error` with `?`.
///
/// Borrowed or owned: `V` is whatever holds the vault, any
/// [`Borrow<Vault>`]: [`Vault::aead_key`] gives an `AeadKey<&Vault>` that
/// borrows it; [`AeadKey::new`] with an [`Arc<Vault>`] (the default `V`, so
/// the type is plainly `AeadKey`) gives one that can be stored in a struct
/// or moved to another thread, and with a [`Vault`] one that owns its
/// handle outright (e.g. a [`Vault::dup`] limited to this key). It is
/// `Send` and `Sync` when `V` is (see [`Vault`] on sharing a handle
/// between threads).
///
/// ```no_run
/// use keyvault::aead::{Aead, Payload};
/// use keyvault::{Algorithm, Vault};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let vault = Vault::open()?;
/// let id = vault.generate(Algorithm::Aes256Gcm)?;
/// let cipher = vault.aead_key(id);
///
/// // The kernel picks the nonce (store it with the ciphertext).
/// let (nonce, ciphertext) = cipher.encrypt_with_kernel_nonce(Payload {
///     msg: b"attack at dawn",
///     aad: b"header",
/// })?;
/// // Decrypting goes through the standard trait, as with aes_gcm.
/// let plaintext = cipher.decrypt(&nonce, Payload { msg: &ciphertext, aad: b"header" })?;
/// assert_eq!(plaintext, b"attack at dawn");
///
/// // Code written against the traits takes it like any other cipher.
/// fn open<A: Aead>(cipher: &A, nonce: &keyvault::aead::Nonce<A>, ct: &[u8]) -> Option<Vec<u8>> {
///     cipher.decrypt(nonce, Payload { msg: ct, aad: b"header" }).ok()
/// }
/// assert_eq!(open(&cipher, &nonce, &ciphertext).as_deref(), Some(&b"attack at dawn"[..]));
/// # Ok(())
/// # }
/// ```
///
/// Owned, in a struct shared by threads:
///
/// ```no_run
/// use keyvault::aead::{Aead, Payload};
/// use keyvault::{AeadKey, Algorithm, Vault};
/// use std::sync::Arc;
///
/// struct Sealer {
///     key: AeadKey, // AeadKey<Arc<Vault>>
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let vault = Arc::new(Vault::open()?);
/// let id = vault.generate(Algorithm::ChaCha20Poly1305)?;
/// let sealer = Arc::new(Sealer { key: AeadKey::new(vault, id) });
/// let worker = {
///     let sealer = Arc::clone(&sealer);
///     std::thread::spawn(move || sealer.key.encrypt_with_kernel_nonce(&b"from a thread"[..]))
/// };
/// let (nonce, ct) = worker.join().expect("the thread")?;
/// assert_eq!(sealer.key.decrypt(&nonce, &ct[..])?, b"from a thread");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AeadKey<V = Arc<Vault>> {
    vault: V,
    key: KeyId,
}

/// The nonce of an [`AeadKey`] (12 bytes, a `hybrid_array::Array`).
pub type AeadNonce = ::aead::Nonce<AeadKey>;
/// The tag of an [`AeadKey`] (16 bytes, a `hybrid_array::Array`).
pub type AeadTag = ::aead::Tag<AeadKey>;

// The trait sizes are the ABI's.
const _: () = assert!(U12::USIZE == abi::KV_AEAD_NONCE_SIZE as usize);
const _: () = assert!(U16::USIZE == abi::KV_AEAD_TAG_SIZE as usize);

impl Vault {
    /// The AEAD key `key` of this vault, for use through the RustCrypto
    /// [`aead`] traits, borrowing the vault. Nothing is checked until it is
    /// used. For a key that owns its vault, see [`AeadKey::new`].
    pub fn aead_key(&self, key: KeyId) -> AeadKey<&Vault> {
        AeadKey::new(self, key)
    }
}

impl<V: Borrow<Vault>> AeadKey<V> {
    /// The AEAD key `key` in the vault `vault` holds: `&Vault`,
    /// `Arc<Vault>`, `Vault`, ... Nothing is checked until it is used.
    ///
    /// ```no_run
    /// use keyvault::{AeadKey, Algorithm, Vault};
    /// use std::sync::Arc;
    ///
    /// let vault = Arc::new(Vault::open()?);
    /// let id = vault.generate(Algorithm::Aes256Gcm)?;
    /// let key: AeadKey = AeadKey::new(Arc::clone(&vault), id); // owns a share of the vault
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn new(vault: V, key: KeyId) -> Self {
        AeadKey { vault, key }
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

    /// Encrypts `buffer` in place with a nonce the kernel makes (never
    /// repeating for the key); returns the nonce and the detached tag.
    pub fn encrypt_in_place_detached_with_kernel_nonce(
        &self,
        associated_data: &[u8],
        buffer: &mut [u8],
    ) -> Result<(AeadNonce, AeadTag)> {
        let sealed = self
            .vault()
            .aead_encrypt_in_place(self.key, buffer, associated_data, None)?;
        Ok((sealed.nonce.into(), sealed.tag.into()))
    }

    /// Encrypts `buffer` in place and appends the tag (as
    /// [`AeadInOut::encrypt_in_place`]), with a nonce the kernel makes;
    /// returns the nonce. A buffer that cannot grow by the tag fails with
    /// `ENOSPC` (after the encryption: its content is then ciphertext).
    pub fn encrypt_in_place_with_kernel_nonce(
        &self,
        associated_data: &[u8],
        buffer: &mut dyn Buffer,
    ) -> Result<AeadNonce> {
        let (nonce, tag) =
            self.encrypt_in_place_detached_with_kernel_nonce(associated_data, buffer.as_mut())?;
        buffer
            .extend_from_slice(&tag)
            .map_err(|_| Error::new("aead-encrypt", Errno::ENOSPC))?;
        Ok(nonce)
    }

    /// Encrypts a message (and AAD: pass a [`Payload`]) with a nonce the
    /// kernel makes; returns the nonce and ciphertext‖tag (as
    /// [`Aead::encrypt`](::aead::Aead::encrypt) would).
    pub fn encrypt_with_kernel_nonce<'msg, 'aad>(
        &self,
        plaintext: impl Into<Payload<'msg, 'aad>>,
    ) -> Result<(AeadNonce, Vec<u8>)> {
        let payload = plaintext.into();
        // Holds a copy of the plaintext until the kernel has encrypted it:
        // wiped if that fails.
        let mut buf = Zeroizing::new(Vec::with_capacity(
            payload.msg.len() + abi::KV_AEAD_TAG_SIZE as usize,
        ));
        buf.extend_from_slice(payload.msg);
        let nonce = self.encrypt_in_place_with_kernel_nonce(payload.aad, &mut *buf)?;
        Ok((nonce, std::mem::take(&mut *buf)))
    }

    /// Decrypts ciphertext‖tag (and AAD: pass a [`Payload`]) into memory
    /// that is wiped on drop. Unlike [`Aead::decrypt`](::aead::Aead::decrypt)
    /// it returns the kernel's error: `EBADMSG` when authentication fails.
    pub fn decrypt_zeroizing<'msg, 'aad>(
        &self,
        nonce: &AeadNonce,
        ciphertext: impl Into<Payload<'msg, 'aad>>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let payload = ciphertext.into();
        let tag_pos = payload
            .msg
            .len()
            .checked_sub(abi::KV_AEAD_TAG_SIZE as usize)
            .ok_or(Error::new("aead-decrypt", Errno::EBADMSG))?;
        let (msg, tag) = payload.msg.split_at(tag_pos);
        let mut out = Zeroizing::new(vec![0u8; msg.len()]);
        self.vault().aead_decrypt_into(
            self.key,
            msg,
            payload.aad,
            nonce.as_ref(),
            tag.try_into().expect("the tag is 16 bytes"),
            &mut out,
        )?;
        Ok(out)
    }
}

impl<V> AeadCore for AeadKey<V> {
    type NonceSize = U12;
    type TagSize = U16;
    const TAG_POSITION: TagPosition = TagPosition::Postfix;
}

// The in/out buffers become one output buffer holding a copy of the input
// (no copy when they are the same memory, as in `encrypt_in_place` and
// `Aead`): the ioctl could take both, but `InOutBuf` gives the pair only as
// raw pointers, and a copy keeps this safe Rust.
impl<V: Borrow<Vault>> AeadInOut for AeadKey<V> {
    /// Encrypts with the caller's `nonce` (which must never repeat for this
    /// key) in one ioctl; returns the tag.
    fn encrypt_inout_detached(
        &self,
        nonce: &::aead::Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
    ) -> ::aead::Result<::aead::Tag<Self>> {
        let sealed = self.vault().aead_encrypt_in_place(
            self.key,
            buffer.into_out_with_copied_in(),
            associated_data,
            Some(&nonce.0),
        )?;
        Ok(sealed.tag.into())
    }

    /// Decrypts in one ioctl. When authentication fails the kernel writes
    /// nothing: the output still holds the ciphertext. On any other failure
    /// it is zeroed, never left with part of a plaintext.
    fn decrypt_inout_detached(
        &self,
        nonce: &::aead::Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
        tag: &::aead::Tag<Self>,
    ) -> ::aead::Result<()> {
        self.vault().aead_decrypt_in_place(
            self.key,
            buffer.into_out_with_copied_in(),
            associated_data,
            &nonce.0,
            &tag.0,
        )?;
        Ok(())
    }
}

/// The kernel's error, made opaque (as the `aead` traits want it).
impl From<Error> for ::aead::Error {
    fn from(_: Error) -> Self {
        ::aead::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::aead::{Aead, KeyInit};
    use aes_gcm::Aes256Gcm;

    /// A vault handle on a device that is not keyvault: every ioctl fails
    /// with ENOTTY, which is enough to exercise the error paths on a host.
    fn not_a_vault() -> Vault {
        Vault::open_path("/dev/null").expect("open /dev/null")
    }

    fn seal<A: Aead>(cipher: &A, nonce: &::aead::Nonce<A>, msg: &[u8]) -> ::aead::Result<Vec<u8>> {
        cipher.encrypt(nonce, Payload { msg, aad: b"aad" })
    }

    #[test]
    fn sizes_are_those_of_aes_gcm_and_the_abi() {
        assert_eq!(<AeadKey as AeadCore>::NonceSize::USIZE, 12);
        assert_eq!(<AeadKey as AeadCore>::TagSize::USIZE, 16);
        assert_eq!(<AeadKey as AeadCore>::TAG_POSITION, TagPosition::Postfix);
        // The same nonce and tag types as aes-gcm: a drop-in replacement.
        let n: ::aead::Nonce<AeadKey> = aes_gcm::Nonce::default();
        let t: ::aead::Tag<AeadKey> = aes_gcm::Tag::default();
        let _: AeadNonce = n;
        let _: AeadTag = t;
    }

    /// Code written for a 12-byte-nonce AEAD, in place.
    fn seal_in_place<A>(cipher: &A, nonce: &::aead::Nonce<A>, msg: &[u8]) -> ::aead::Result<Vec<u8>>
    where
        A: AeadInOut<NonceSize = U12, TagSize = U16>,
    {
        let mut buf = msg.to_vec();
        cipher.encrypt_in_place(nonce, b"", &mut buf)?;
        Ok(buf)
    }

    #[test]
    fn a_vault_key_and_aes_gcm_are_interchangeable_behind_the_traits() {
        let vault = not_a_vault();
        let gcm = Aes256Gcm::new(&[1u8; 32].into());
        let key = vault.aead_key(KeyId(1));
        let nonce = [9u8; 12].into();
        // aes-gcm works on the host; the vault key reaches the (wrong) device.
        assert_eq!(seal_in_place(&gcm, &nonce, b"hello").unwrap().len(), 5 + 16);
        assert!(seal_in_place(&key, &nonce, b"hello").is_err());
        assert_eq!(seal(&gcm, &nonce, b"m").unwrap().len(), 17);
        assert!(seal(&key, &nonce, b"m").is_err());
        assert!(key.decrypt(&nonce, &[0u8; 17][..]).is_err());
    }

    #[test]
    fn failures_carry_the_kernel_error_or_become_aead_error() {
        let vault = not_a_vault();
        let key = vault.aead_key(KeyId(0x42));
        assert_eq!(key.id(), KeyId(0x42));
        let e = key.encrypt_with_kernel_nonce(&b"secret"[..]).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("aead-encrypt", libc::ENOTTY));
        let e = key
            .decrypt_zeroizing(&AeadNonce::default(), &[0u8; 20][..])
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("aead-decrypt", libc::ENOTTY));
        // Shorter than a tag: refused before any ioctl.
        let e = key
            .decrypt_zeroizing(&AeadNonce::default(), &[0u8; 15][..])
            .unwrap_err();
        assert_eq!(e.errno(), libc::EBADMSG);
        let _: ::aead::Error = e.into();
        assert!(key.decrypt(&AeadNonce::default(), &[0u8; 15][..]).is_err());
    }

    #[test]
    fn a_failed_decryption_leaves_no_plaintext_behind() {
        let vault = not_a_vault();
        let key = vault.aead_key(KeyId(1));
        // Not EBADMSG (where the kernel writes nothing): the ABI does not say
        // what was written, so the buffer is wiped.
        let mut buf = *b"ciphertext-ish bytes";
        let r = key.decrypt_inout_detached(
            &AeadNonce::default(),
            b"",
            InOutBuf::from(&mut buf[..]),
            &AeadTag::default(),
        );
        assert!(r.is_err());
        assert_eq!(buf, [0u8; 20]);
        // Separate buffers: the input is untouched, the output wiped.
        let input = *b"ciphertext-ish bytes";
        let mut output = [0xAAu8; 20];
        let inout = InOutBuf::new(&input, &mut output).expect("same lengths");
        let r = key.decrypt_inout_detached(&AeadNonce::default(), b"", inout, &AeadTag::default());
        assert!(r.is_err());
        assert_eq!((input, output), (*b"ciphertext-ish bytes", [0u8; 20]));
        let mut out = [0xAAu8; 4];
        let e = vault
            .aead_decrypt_into(KeyId(1), b"abcd", b"", &[0; 12], &[0; 16], &mut out)
            .unwrap_err();
        assert_eq!(e.errno(), libc::ENOTTY);
        assert_eq!(out, [0u8; 4]);
    }
}
