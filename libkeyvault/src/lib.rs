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
//! `mac`, ...), or, for AEAD keys, through the RustCrypto [`aead`] traits
//! with [`Vault::aead_key`] (see [`AeadKey`]).
//!
//! A [`Vault`] owns one open file description: the keys live as long as any
//! fd on it (dup, fork and `SCM_RIGHTS` share it), and are destroyed and
//! zeroized by the kernel when the last one closes.

use keyvault_uapi as abi;
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;

mod aead_key;
mod crypto;
mod error;
mod types;

/// The RustCrypto `aead` crate (0.5) that [`AeadKey`] implements, re-exported
/// (as `aes_gcm::aead` is) so callers use the same version of the traits.
pub use ::aead;
pub use aead_key::{AeadKey, AeadNonce, AeadTag};
pub use crypto::{HashAlg, Iv, Nonce, Sealed, Tag};
pub use error::{Error, Result};
pub use keyvault_uapi as uapi;
pub use types::{Algorithm, Caps, KeyId, KeyInfo, KeyOptions, KeyState, ListPage};

/// Raw access to the ioctls, for callers (and tests) that need to pass
/// arbitrary arguments.
pub mod raw {
    use super::*;

    /// `ioctl(fd, cmd, arg)`; returns the ioctl's value or its errno.
    ///
    /// # Safety
    /// `arg` must be what `cmd` expects: the kernel reads and writes through
    /// it (a bad pointer is caught by the kernel as `EFAULT`, but a valid
    /// pointer to the wrong object gets overwritten).
    pub unsafe fn ioctl<T>(
        fd: BorrowedFd<'_>,
        cmd: u32,
        arg: *mut T,
    ) -> std::result::Result<i32, Errno> {
        // SAFETY: forwarded to the caller.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg) };
        Errno::result(r)
    }
}

/// A handle on a vault: one open file description of `/dev/keyvault`.
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
            .map_err(|e| Error::new(op, e))
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
            ..Default::default()
        };
        self.ioctl("import", abi::KV_IOC_IMPORT, &mut r)?;
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

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
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
