//! Safe Rust API for `/dev/keyvault`: cryptographic keys kept in kernel
//! memory, used through opaque ids, never readable by the application.
//!
//! ```no_run
//! use keyvault::{Algorithm, Caps, Vault};
//!
//! let vault = Vault::open()?;                      // a new, empty vault
//! let key = vault.generate(Algorithm::Aes256Gcm)?; // made by the kernel
//! let info = vault.info(key)?;
//! assert_eq!(info.bits, 256);
//! vault.restrict(Caps::READONLY)?;                 // this handle can no longer make keys
//! # Ok::<(), keyvault::Error>(())
//! ```
//!
//! Keys are used through [`Vault`]'s methods (`aead_encrypt`, `cbc_encrypt`,
//! `mac`, `sign`, ...), or through the RustCrypto traits: [`aead`] for AEAD
//! keys with [`Vault::aead_key`] (see [`AeadKey`]), [`signature`] for
//! Ed25519 keys with [`Vault::signing_key`] (see [`SigningKey`]). New keys
//! can be made from old ones in the kernel: [`Vault::derive`] (HKDF) and
//! [`Vault::exchange`] (X25519 + HKDF), both shaped by a [`Kdf`]. A key
//! made [`wrappable`](KeyOptions::wrappable) can leave the kernel encrypted
//! under a wrapping key ([`Vault::wrap`], [`Vault::unwrap`]), and a key can
//! be made from a kernel keyring key without its bytes passing through
//! userspace ([`Vault::import_from_keyring`]). Data larger than one kernel
//! operation is encrypted as a [`stream`] of authenticated chunks (KVS1),
//! in constant memory.
//!
//! A [`Vault`] owns one open file description: the keys live as long as any
//! fd on it (dup, fork and `SCM_RIGHTS` share it), and are destroyed and
//! zeroized by the kernel when the last one closes. [`Vault::dup`] makes
//! another description on the same vault with fewer capabilities (and
//! optionally fewer keys), to hand to a less trusted process: inherited
//! ([`Vault::from_env`] takes the one `kvctl exec` passes in
//! `$KEYVAULT_FD`) or sent over a Unix socket ([`Vault::send`],
//! [`Vault::receive`]). keyvault-agent hands out such handles by key name
//! and policy: [`Vault::from_agent`] asks it (see [`agent`]).
//!
//! A `Vault` is `Send` and `Sync`: share one between threads in an
//! [`Arc`](std::sync::Arc), and give [`AeadKey`] and [`SigningKey`] an
//! `Arc<Vault>` to make keys that own their vault (no lifetime), to keep in
//! a struct or move to a thread.
//!
//! The RustCrypto `digest` traits are not implemented: the kernel hashes a
//! whole message in one request ([`Vault::hash`]), while `digest::Update`
//! feeds it in pieces, which would mean buffering the whole message in
//! userspace and giving a streaming API a size limit it does not have.
//!
//! Examples to run (`cargo build --release --examples -p keyvault`): `envelope`
//! (a kernel-made data key encrypts a file, stored wrapped beside it),
//! `signing_service` (threads signing through one owned [`SigningKey`]),
//! `fd_passing` (a key-limited handle sent to a child process, which signs),
//! `from_agent` (a signing key by name from keyvault-agent).

#![deny(missing_docs)]

use error::errno_of;
use keyvault_uapi as abi;
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;

mod aead_key;
mod asym;
mod crypto;
mod error;
mod kdf;
mod limits;
mod names;
mod share;
mod types;
mod wrap;

pub mod agent;
pub mod stream;

/// The RustCrypto `aead` crate (0.6) that [`AeadKey`] implements, re-exported
/// (as `aes_gcm::aead` is) so callers use the same version of the traits.
pub use ::aead;
/// The RustCrypto `ed25519` crate (3.x), whose [`ed25519::Signature`]
/// [`SigningKey`] signs and verifies, re-exported.
pub use ::ed25519;
/// The RustCrypto `signature` crate (3.x) that [`SigningKey`] implements,
/// re-exported so callers use the same version of the traits.
pub use ::signature;
pub use aead_key::{AeadKey, AeadNonce, AeadTag};
pub use asym::{PublicKey, SignatureBytes, SigningKey};
pub use crypto::{HashAlg, Iv, Nonce, Sealed, Tag};
pub use error::{Error, ErrorKind, Result};
pub use kdf::Kdf;
pub use keyvault_uapi as uapi;
pub use limits::Limits;
pub use names::{check_key_name, key_env_var, KEY_ENV_PREFIX, KEY_NAME_MAX};
pub use share::FD_ENV;
pub use types::{
    Algorithm, Caps, ChildPolicy, KeyBits, KeyId, KeyInfo, KeyOptions, KeyState, ListPage,
};
pub use wrap::{BlobError, BlobInfo, WrapFormat};

/// Raw access to the ioctls, for callers (and tests) that need to pass
/// arbitrary arguments.
pub mod raw {
    use super::*;

    /// `ioctl(fd, cmd, arg)`; returns the ioctl's value, or its errno as an
    /// [`std::io::Error`] (`raw_os_error()`).
    ///
    /// # Safety
    /// `arg` must be what `cmd` expects: the kernel reads and writes through
    /// it (a bad pointer is caught by the kernel as `EFAULT`, but a valid
    /// pointer to the wrong object gets overwritten).
    pub unsafe fn ioctl<T>(fd: BorrowedFd<'_>, cmd: u32, arg: *mut T) -> std::io::Result<i32> {
        // SAFETY: forwarded to the caller.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg) };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }
}

/// A handle on a vault: one open file description of `/dev/keyvault`.
///
/// # Threads
///
/// A `Vault` is `Send` and `Sync` (it is an [`OwnedFd`]), so one handle can
/// serve many threads through an [`Arc`](std::sync::Arc). That is sound for
/// the kernel too: every method is a self-contained ioctl (or a few) whose
/// buffers belong to the call, and the kernel does not serialize ioctls on
/// one file: the module runs concurrent requests on one handle in parallel
/// and keeps what they share consistent itself (`kmod/vault.rs`,
/// `kmod/key.rs`): the key table behind a mutex, the handle's capabilities,
/// each key's nonce counter and use counters atomic, and the prepared cipher
/// state read-only during a request. So threads never see each other's
/// data, a kernel nonce is never handed out twice, and a key destroyed by
/// one thread finishes the operations other threads have in flight.
/// [`Vault::restrict`] affects every thread (and every fd) sharing the
/// handle at once.
#[derive(Debug)]
pub struct Vault {
    fd: OwnedFd,
}

impl Vault {
    /// Opens `/dev/keyvault`: a new, empty vault with every capability.
    pub fn open() -> Result<Self> {
        Self::open_path(abi::KV_DEVICE_PATH)
    }

    /// Opens a keyvault device node at `path`.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        use nix::fcntl::{open, OFlag};
        use nix::sys::stat::Mode;
        let fd = open(
            path.as_ref(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::new("open", e))?;
        // SAFETY: `open` just returned this fd and nothing else owns it.
        Ok(Vault {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Wraps an fd that is already open on the device (inherited, received
    /// over `SCM_RIGHTS`, ...).
    pub fn from_fd(fd: OwnedFd) -> Self {
        Vault { fd }
    }

    /// Gives up the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// A second fd on the same vault (same keys, same capabilities).
    pub fn try_clone(&self) -> Result<Self> {
        Ok(Vault {
            fd: self
                .fd
                .try_clone()
                .map_err(|e| Error::new("dup", errno_of(&e)))?,
        })
    }

    fn ioctl<T>(&self, op: &'static str, cmd: u32, arg: &mut T) -> Result<()> {
        // SAFETY: every call site passes the struct that `cmd` encodes.
        unsafe { raw::ioctl(self.fd.as_fd(), cmd, arg as *mut T) }
            .map(drop)
            .map_err(|e| Error::new(op, errno_of(&e)))
    }

    /// This handle's capabilities.
    pub fn caps(&self) -> Result<Caps> {
        let mut r = abi::KvCaps::default();
        self.ioctl("getcaps", abi::KV_IOC_GETCAPS, &mut r)?;
        Ok(Caps::from_bits_retain(r.caps))
    }

    /// Keeps only `keep` of this handle's capabilities (it can never gain
    /// any); returns what is left. Every fd sharing this open file is affected.
    pub fn restrict(&self, keep: Caps) -> Result<Caps> {
        let mut r = abi::KvCaps {
            caps: keep.bits(),
            reserved: 0,
        };
        self.ioctl("restrict", abi::KV_IOC_RESTRICT, &mut r)?;
        Ok(Caps::from_bits_retain(r.caps))
    }

    /// A new handle on the same vault (same keys) with its own, fewer
    /// capabilities: `caps` & this handle's (see [`Vault::caps`] on the new
    /// one for what it got). This handle keeps its own capabilities. Needs
    /// the RESTRICT capability.
    ///
    /// With `keys: Some(ids)`, the new handle sees only those keys: the
    /// others are `ENOENT` through it and it does not list them. Such a
    /// handle cannot make keys, so `caps` may not include GENKEY, IMPORT,
    /// DERIVE or EXCHANGE (`EINVAL`); every id must be a key this handle
    /// sees (`ENOENT`), at most `KV_DUP_MAX_KEYS` of them, and not none
    /// (`Some(&[])` is `EINVAL`: the ABI would read it as "all keys").
    ///
    /// The new fd is close-on-exec, like every fd this library opens; a
    /// child that is to inherit it must clear that (see `kvctl exec`).
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Caps, Vault};
    ///
    /// let vault = Vault::open()?;
    /// let signing = vault.generate(Algorithm::Ed25519)?;
    /// let other = vault.generate(Algorithm::Aes256Gcm)?;
    /// // A handle for a worker: it may sign with one key, and do nothing else.
    /// let worker = vault.dup(Caps::SIGN, Some(&[signing]))?;
    /// assert_eq!(worker.caps()?, Caps::SIGN);
    /// worker.sign(signing, b"job 1")?;
    /// let e = worker.sign(other, b"job 2").unwrap_err();
    /// assert_eq!(e.errno(), libc::ENOENT); // not one of its keys
    /// assert!(vault.caps()?.contains(Caps::GENKEY)); // this handle is unchanged
    /// // Hand it over: worker.into_fd(), sent with SCM_RIGHTS or inherited.
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn dup(&self, caps: Caps, keys: Option<&[KeyId]>) -> Result<Vault> {
        const OP: &str = "dup";
        let ids: Vec<u64> = keys.unwrap_or_default().iter().map(|k| k.0).collect();
        if keys.is_some() && ids.is_empty() {
            return Err(Error::new(OP, Errno::EINVAL));
        }
        let mut r = abi::KvDup {
            caps: caps.bits(),
            nkeys: u32::try_from(ids.len()).map_err(|_| Error::new(OP, Errno::EINVAL))?,
            keys_ptr: if ids.is_empty() {
                0
            } else {
                ids.as_ptr() as u64
            },
            ..Default::default()
        };
        self.ioctl(OP, abi::KV_IOC_DUP, &mut r)?;
        if r.fd < 0 {
            return Err(Error::new(OP, Errno::EIO));
        }
        // SAFETY: the kernel just installed this fd for us (close-on-exec);
        // nothing else owns it.
        Ok(Vault {
            fd: unsafe { OwnedFd::from_raw_fd(r.fd) },
        })
    }

    /// Generates a key of the algorithm's default size in the kernel.
    pub fn generate(&self, alg: Algorithm) -> Result<KeyId> {
        self.generate_with(alg, &KeyOptions::default())
    }

    /// Generates a key with options (size, TTL, policy).
    pub fn generate_with(&self, alg: Algorithm, opts: &KeyOptions) -> Result<KeyId> {
        let mut r = abi::KvGenkey {
            algorithm: alg.to_raw(),
            key_bits: opts.bits,
            ttl_ms: opts.ttl_ms(),
            policy: opts.policy(),
            child: opts.children.to_raw(),
            ..Default::default()
        };
        self.ioctl("genkey", abi::KV_IOC_GENKEY, &mut r)?;
        Ok(KeyId(r.key_id))
    }

    /// Imports raw key bytes. The kernel copies them; wipe your copy after
    /// (e.g. keep it in a `zeroize::Zeroizing`).
    pub fn import(&self, alg: Algorithm, key: &[u8], opts: &KeyOptions) -> Result<KeyId> {
        let mut r = abi::KvImport {
            algorithm: alg.to_raw(),
            key_len: u32::try_from(key.len()).map_err(|_| Error::new("import", Errno::EINVAL))?,
            key_ptr: key.as_ptr() as u64,
            ttl_ms: opts.ttl_ms(),
            policy: opts.policy(),
            child: opts.children.to_raw(),
            ..Default::default()
        };
        self.ioctl("import", abi::KV_IOC_IMPORT, &mut r)?;
        Ok(KeyId(r.key_id))
    }

    /// A new key of `alg` from the payload of the kernel keyring key
    /// `serial` (`key_serial_t`; types `logon`, `user`, `encrypted`,
    /// `trusted`), which must be searchable by this process (possessed, or
    /// search granted by its permissions; read permission is not needed).
    /// The kernel copies the payload straight into the new key: its bytes
    /// never reach userspace. Needs the IMPORT capability; the payload must
    /// be a key size of `alg` (`EINVAL`), and the key can never be
    /// [`wrappable`](KeyOptions::wrappable) (`EPERM`). The keyring's own
    /// errors come back: `ENOKEY`, `EACCES`, `EKEYREVOKED`, `EKEYEXPIRED`,
    /// and `EOPNOTSUPP` for another key type.
    ///
    /// ```no_run
    /// use keyvault::{Algorithm, Caps, KeyOptions, Vault};
    ///
    /// let vault = Vault::open()?;
    /// # let serial = 123_456_789; // from `keyctl add trusted kvroot "new 32" @u`
    /// let opts = KeyOptions { usage: Caps::DERIVE, ..Default::default() };
    /// let root = vault.import_from_keyring(serial, Algorithm::HmacSha256, &opts)?;
    /// # Ok::<(), keyvault::Error>(())
    /// ```
    pub fn import_from_keyring(
        &self,
        serial: i32,
        alg: Algorithm,
        opts: &KeyOptions,
    ) -> Result<KeyId> {
        let mut r = abi::KvImportKeyring {
            algorithm: alg.to_raw(),
            serial,
            ttl_ms: opts.ttl_ms(),
            policy: opts.policy(),
            child: opts.children.to_raw(),
            ..Default::default()
        };
        self.ioctl("import-keyring", abi::KV_IOC_IMPORT_KEYRING, &mut r)?;
        Ok(KeyId(r.key_id))
    }

    /// Destroys a key now (operations in flight finish first; the kernel
    /// wipes the material when the last one does).
    pub fn destroy(&self, key: KeyId) -> Result<()> {
        let mut r = abi::KvKeyref {
            key_id: key.0,
            reserved: 0,
        };
        self.ioctl("destroy", abi::KV_IOC_DESTROY, &mut r)
    }

    /// Revokes a key: permanent; it stays listed but can no longer be used.
    pub fn revoke(&self, key: KeyId) -> Result<()> {
        let mut r = abi::KvKeyref {
            key_id: key.0,
            reserved: 0,
        };
        self.ioctl("revoke", abi::KV_IOC_REVOKE, &mut r)
    }

    /// Describes a key.
    pub fn info(&self, key: KeyId) -> Result<KeyInfo> {
        let mut r = abi::KvKeyinfo {
            key_id: key.0,
            ..Default::default()
        };
        self.ioctl("getinfo", abi::KV_IOC_GETINFO, &mut r)?;
        Ok(KeyInfo::from_raw(&r))
    }

    /// One page of key ids after `cursor` (None: from the first), at most
    /// `max` (the kernel caps a page at `KV_LIST_MAX`).
    pub fn list_page(&self, cursor: Option<KeyId>, max: u32) -> Result<ListPage> {
        let mut ids = vec![0u64; max.min(abi::KV_LIST_MAX) as usize];
        let mut r = abi::KvList {
            ids_ptr: ids.as_mut_ptr() as u64,
            max_ids: ids.len() as u32,
            cursor: cursor.map_or(0, |k| k.0),
            ..Default::default()
        };
        self.ioctl("list", abi::KV_IOC_LIST, &mut r)?;
        ids.truncate(r.count as usize);
        Ok(ListPage {
            ids: ids.into_iter().map(KeyId).collect(),
            total: r.total,
        })
    }

    /// Every key id in the vault, ascending.
    pub fn list(&self) -> Result<Vec<KeyId>> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_page(cursor, abi::KV_LIST_MAX)?;
            let Some(last) = page.ids.last().copied() else {
                return Ok(all);
            };
            all.extend(page.ids);
            cursor = Some(last);
        }
    }
}

impl AsFd for Vault {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Vault {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl IntoRawFd for Vault {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl From<OwnedFd> for Vault {
    fn from(fd: OwnedFd) -> Self {
        Vault::from_fd(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn vaults_and_key_handles_can_be_shared_between_threads() {
        assert_send_sync::<Vault>();
        assert_send_sync::<AeadKey>();
        assert_send_sync::<AeadKey<&Vault>>();
        assert_send_sync::<AeadKey<Vault>>();
        assert_send_sync::<SigningKey>();
        assert_send_sync::<SigningKey<&Vault>>();
        assert_send_sync::<SigningKey<Vault>>();
        assert_send_sync::<Error>();
    }

    #[test]
    fn key_handles_borrow_share_or_own_their_vault() {
        let vault = Arc::new(Vault::open_path("/dev/null").expect("/dev/null"));
        let fd = vault.as_raw_fd();
        let borrowed: AeadKey<&Vault> = vault.aead_key(KeyId(1));
        let shared: AeadKey = AeadKey::new(Arc::clone(&vault), KeyId(2));
        assert_eq!(
            (borrowed.vault().as_raw_fd(), shared.vault().as_raw_fd()),
            (fd, fd)
        );
        assert_eq!(Arc::strong_count(&vault), 2);
        // Owned keys outlive the scope that made them, and move to threads.
        let signer: SigningKey = SigningKey::new(Arc::clone(&vault), KeyId(3));
        let e = std::thread::spawn(move || signer.public_key().unwrap_err())
            .join()
            .expect("thread");
        assert_eq!((e.op(), e.errno()), ("get-pubkey", libc::ENOTTY));
        drop(shared);
        assert_eq!(Arc::strong_count(&vault), 1);
        let own = SigningKey::new(vault.try_clone().expect("dup"), KeyId(4));
        assert_ne!(own.vault().as_raw_fd(), fd);
        let _: Vault = own.into_inner();
    }

    #[test]
    fn dup_reaches_the_kernel_but_never_with_an_empty_key_list() {
        let vault = Vault::open_path("/dev/null").expect("open /dev/null");
        let e = vault.dup(Caps::READONLY, None).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("dup", libc::ENOTTY));
        let e = vault
            .dup(Caps::SIGN, Some(&[KeyId(3), KeyId(4)]))
            .unwrap_err();
        assert_eq!(e.errno(), libc::ENOTTY);
        // Would mean "every key" to the kernel: refused here.
        let e = vault.dup(Caps::SIGN, Some(&[])).unwrap_err();
        assert_eq!((e.op(), e.errno()), ("dup", libc::EINVAL));
    }

    #[test]
    fn import_from_keyring_reports_the_kernel_error_under_its_op() {
        let vault = Vault::open_path("/dev/null").expect("open /dev/null");
        let opts = KeyOptions::default();
        let e = vault
            .import_from_keyring(42, Algorithm::HmacSha256, &opts)
            .unwrap_err();
        assert_eq!((e.op(), e.errno()), ("import-keyring", libc::ENOTTY));
    }
}
