//! Errors: the errno the kernel returned, which operation, and what it means.

use nix::errno::Errno;
use std::fmt;

/// A failed keyvault operation: which operation, and the errno the kernel
/// (or the C library) returned. [`Error::kind`] sorts it into what a caller
/// acts on; [`Error::explain`] says what it means for keyvault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    errno: Errno,
}

/// What a failed operation means to its caller, from [`Error::kind`].
///
/// ```
/// use keyvault::{ErrorKind, Vault};
/// // /dev/null is not a keyvault device: every request is ENOTTY.
/// let v = Vault::open_path("/dev/null")?;
/// assert_eq!(v.caps().unwrap_err().kind(), ErrorKind::NoDevice);
/// # Ok::<(), keyvault::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A signature, MAC or AEAD tag did not verify, CBC padding was wrong, or
    /// a wrapped blob did not open (`EBADMSG`).
    VerificationFailed,
    /// No keyvault device: the module is not loaded, the path is not
    /// `/dev/keyvault`, or the fd is not a vault (`ENOENT`/`ENODEV`/`ENXIO`
    /// on open, `ENOTTY`).
    NoDevice,
    /// Not permitted (`EPERM`/`EACCES`): this handle lacks the capability,
    /// the key's usage or policy forbids it, or the device's permissions.
    PermissionDenied,
    /// No such key in this vault (or visible through this handle), or no
    /// such kernel keyring key (`ENOENT`, `ENOKEY`).
    KeyNotFound,
    /// The key (or a key it was derived from) was revoked (`EKEYREVOKED`).
    KeyRevoked,
    /// The key's lifetime has ended (`EKEYEXPIRED`).
    KeyExpired,
    /// A quota is exhausted (`EDQUOT`): the vault's or the user's keys or key
    /// bytes, or the key's own max uses/bytes.
    QuotaExceeded,
    /// The input is larger than the module's per-operation limit
    /// (`EMSGSIZE`), see [`Vault::limits`](crate::Vault::limits).
    TooLarge,
    /// The key's 2^32 kernel nonces are used up (`EOVERFLOW`).
    NoncesExhausted,
    /// The key's algorithm cannot do this (`EOPNOTSUPP`).
    Unsupported,
    /// A request the kernel refused as malformed (`EINVAL`, `ENOSPC`,
    /// `EFAULT`).
    InvalidRequest,
    /// Anything else (out of memory, I/O, ...); see [`Error::errno`].
    Other,
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(op: &'static str, errno: Errno) -> Self {
        Self { op, errno }
    }

    /// The errno the kernel returned (a `libc::E*` value).
    pub fn errno(&self) -> i32 {
        self.errno as i32
    }

    /// What the error means to the caller.
    pub fn kind(&self) -> ErrorKind {
        match self.errno {
            _ if self.op == "from-env" => ErrorKind::NoDevice,
            Errno::EBADMSG => ErrorKind::VerificationFailed,
            Errno::ENOENT | Errno::ENODEV | Errno::ENXIO if self.op == "open" => {
                ErrorKind::NoDevice
            }
            Errno::ENOTTY => ErrorKind::NoDevice,
            Errno::EPERM | Errno::EACCES => ErrorKind::PermissionDenied,
            Errno::ENOENT | Errno::ENOKEY => ErrorKind::KeyNotFound,
            Errno::EKEYREVOKED => ErrorKind::KeyRevoked,
            Errno::EKEYEXPIRED => ErrorKind::KeyExpired,
            Errno::EDQUOT => ErrorKind::QuotaExceeded,
            Errno::EMSGSIZE => ErrorKind::TooLarge,
            Errno::EOVERFLOW => ErrorKind::NoncesExhausted,
            Errno::EOPNOTSUPP => ErrorKind::Unsupported,
            Errno::EINVAL | Errno::ENOSPC | Errno::EFAULT => ErrorKind::InvalidRequest,
            _ => ErrorKind::Other,
        }
    }

    /// The operation that failed (e.g. `"genkey"`).
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// Whether this is the kernel's answer "no" to [`Vault::verify`],
    /// [`Vault::verify_with_public_key`] or [`Vault::verify_mac`]: the
    /// signature or MAC does not match (`EBADMSG`). Any other error means
    /// the check could not be made (no such key, no capability, ...).
    ///
    /// [`Vault::verify`]: crate::Vault::verify
    /// [`Vault::verify_with_public_key`]: crate::Vault::verify_with_public_key
    /// [`Vault::verify_mac`]: crate::Vault::verify_mac
    pub fn is_verification_failure(&self) -> bool {
        self.errno == Errno::EBADMSG && matches!(self.op, "verify" | "verify-mac")
    }

    /// What the errno means for keyvault (the ABI's error contract).
    pub fn explain(&self) -> &'static str {
        match self.errno {
            Errno::ENOENT if self.op == "from-env" => {
                "$KEYVAULT_FD is not set: no vault was handed to this process (run it under \
                 `kvctl exec`)"
            }
            Errno::EINVAL if self.op == "from-env" => "$KEYVAULT_FD is not an fd number",
            Errno::EBADF if self.op == "from-env" => {
                "$KEYVAULT_FD names no open fd (the parent closed it, or left it close-on-exec)"
            }
            Errno::ENOTTY if self.op == "from-env" => {
                "$KEYVAULT_FD is not a keyvault fd (/dev/keyvault)"
            }
            Errno::EBUSY if self.op == "from-env" => {
                "the vault in $KEYVAULT_FD was already taken by an earlier Vault::from_env in \
                 this process"
            }
            Errno::EPIPE if self.op == "receive" => {
                "the peer closed the socket without sending a vault"
            }
            Errno::EPROTO if self.op == "receive" => {
                "the message did not carry exactly one fd (any fds it carried were closed)"
            }
            Errno::ENOTTY if self.op == "receive" => {
                "the fd received is not a keyvault fd (/dev/keyvault); it was closed"
            }
            Errno::EPIPE if self.op == "send" => "the peer closed the socket",
            Errno::EPERM if self.op == "derive" || self.op == "exchange" => {
                "not permitted: this vault handle lacks the capability, the key's usage does not \
                 allow it, or the new key is outside what the parent key's child policy allows \
                 (algorithm, usage, max uses/bytes)"
            }
            Errno::EPERM if self.op == "wrap" => {
                "not permitted: the key is not wrappable (it was made without the wrappable \
                 policy, so it can never leave the kernel), the wrapping key's usage does not \
                 include wrap, or this vault handle lacks the wrap capability"
            }
            Errno::EPERM if self.op == "import-keyring" => {
                "not permitted: a key made from the kernel keyring can never be wrappable, or \
                 this vault handle lacks the import capability"
            }
            Errno::EPERM => "this vault handle lacks the capability for the operation",
            Errno::EOVERFLOW => {
                "the key has used all 2^32 of its kernel nonces: make a new key (caller nonces still work)"
            }
            Errno::ENOENT if self.op == "open" => {
                "no /dev/keyvault: is the keyvault module loaded (insmod keyvault.ko)?"
            }
            Errno::EACCES if self.op == "open" => {
                "no permission to open /dev/keyvault (see the README for the udev rule)"
            }
            Errno::ENOKEY => "no such key in the kernel keyring (or a negative one)",
            Errno::EACCES if self.op == "import-keyring" => {
                "the kernel keyring key is not searchable by this process (possess it, e.g. in \
                 the session or user keyring, or grant it search permission)"
            }
            Errno::ENOENT => {
                "no such key in this vault (never existed, destroyed, or not visible through this handle)"
            }
            Errno::EKEYREVOKED if self.op == "import-keyring" => {
                "the kernel keyring key was revoked"
            }
            Errno::EKEYEXPIRED if self.op == "import-keyring" => {
                "the kernel keyring key has expired"
            }
            Errno::EKEYREVOKED => "the key, or a key it was derived from, was revoked",
            Errno::EKEYEXPIRED if self.op == "unwrap" => {
                "the wrapping key's lifetime has ended, or the wrapped key's expiry has passed"
            }
            Errno::EKEYEXPIRED => "the key's lifetime has ended",
            Errno::EINVAL if self.op == "dup" => {
                "invalid request: a handle limited to some keys cannot have genkey, import, \
                 derive or exchange, and takes at most 1024 keys"
            }
            Errno::EINVAL if self.op == "derive" => {
                "invalid request: the new key must be symmetric and of a valid size, salt and \
                 info at most 1024 bytes each, at most 8 generations of derived keys"
            }
            Errno::EINVAL if self.op == "exchange" => {
                "invalid request: a low-order peer public key (no shared secret), or the new \
                 key is not symmetric or of a valid size, or salt/info longer than 1024 bytes"
            }
            Errno::EINVAL if self.op == "wrap" => {
                "invalid request: unknown format, or a key wrapped under itself"
            }
            Errno::EINVAL if self.op == "unwrap" => {
                "invalid request: unknown format or blob version, a blob longer than 4096 bytes, \
                 or (RFC 5649) an algorithm, size or policy the new key cannot have"
            }
            Errno::EINVAL if self.op == "import-keyring" => {
                "invalid request: the keyring key's payload is not a key size of the algorithm, \
                 or a bad policy"
            }
            Errno::EINVAL => {
                "invalid request: unknown algorithm, bad size, bad policy, or a nonzero reserved field"
            }
            Errno::EOPNOTSUPP if self.op == "import-keyring" => {
                "the kernel keyring key is not of a type keyvault reads (logon, user, encrypted, \
                 trusted)"
            }
            Errno::EOPNOTSUPP if self.op == "wrap" || self.op == "unwrap" => {
                "the wrapping key is not an AES-256-GCM key"
            }
            Errno::EOPNOTSUPP => "the key's algorithm cannot do this operation",
            Errno::EFAULT => "a buffer address is not valid",
            Errno::ENOTTY => "not a keyvault device, or a request this module does not know",
            Errno::EBADMSG if self.op.starts_with("cbc") => {
                "bad padding: the key, IV or ciphertext is wrong (AES-CBC cannot tell which)"
            }
            Errno::EBADMSG if self.op == "verify" => {
                "the signature does not verify with this key and message"
            }
            Errno::EBADMSG if self.op == "unwrap" => {
                "the blob does not open under this wrapping key: it was made under another \
                 wrapping key (another root), or it was altered or truncated"
            }
            Errno::EBADMSG => "authentication failed: the data, tag, nonce or AAD is wrong",
            Errno::EDQUOT => "a quota is exhausted (keys or key bytes in this vault)",
            Errno::EMSGSIZE => "the input is larger than the module's per-operation limit",
            Errno::ENOSPC => "the output buffer is too small",
            _ => self.errno.desc(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "keyvault {}: {} ({})",
            self.op,
            self.explain(),
            self.errno
        )
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::other(e)
    }
}

/// The errno of an I/O error from the C library (EIO when it has none).
pub(crate) fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyvault_uapi as abi;

    #[test]
    fn explanations_name_the_abi_limits_and_the_operation() {
        let explain = |op, errno| Error::new(op, errno).explain();
        let limit = |n: u32| n.to_string();
        assert!(explain("dup", Errno::EINVAL).contains(&limit(abi::KV_DUP_MAX_KEYS)));
        assert!(explain("derive", Errno::EINVAL).contains(&limit(abi::KV_KDF_MAX_INPUT)));
        assert!(explain("derive", Errno::EINVAL).contains(&limit(abi::KV_MAX_LINEAGE)));
        assert!(explain("exchange", Errno::EINVAL).contains("low-order"));
        assert!(explain("verify", Errno::EBADMSG).contains("signature"));
        assert!(explain("derive", Errno::EPERM).contains("child policy"));
        assert!(explain("aead-encrypt", Errno::EOVERFLOW).contains("2^32"));
        assert!(explain("aead-decrypt", Errno::EBADMSG).contains("authentication"));
        assert!(explain("wrap", Errno::EPERM).contains("not wrappable"));
        assert!(explain("unwrap", Errno::EBADMSG).contains("another wrapping key"));
        assert!(explain("unwrap", Errno::EINVAL).contains(&limit(abi::KV_WRAP_MAX_BLOB)));
        assert!(explain("import-keyring", Errno::EPERM).contains("never be wrappable"));
        assert!(explain("import-keyring", Errno::EOPNOTSUPP).contains("logon, user"));
        assert!(explain("import-keyring", Errno::ENOKEY).contains("keyring"));
        let e = Error::new("sign", Errno::EPERM);
        assert_eq!(
            e.to_string(),
            "keyvault sign: this vault handle lacks the capability for the operation (EPERM: Operation not permitted)"
        );
    }

    #[test]
    fn kinds_sort_errnos_into_what_a_caller_acts_on() {
        let kind = |op, errno| Error::new(op, errno).kind();
        assert_eq!(kind("open", Errno::ENOENT), ErrorKind::NoDevice);
        assert_eq!(kind("genkey", Errno::ENOTTY), ErrorKind::NoDevice);
        assert_eq!(kind("sign", Errno::ENOENT), ErrorKind::KeyNotFound);
        assert_eq!(
            kind("import-keyring", Errno::ENOKEY),
            ErrorKind::KeyNotFound
        );
        assert_eq!(
            kind("verify", Errno::EBADMSG),
            ErrorKind::VerificationFailed
        );
        assert_eq!(
            kind("aead-decrypt", Errno::EBADMSG),
            ErrorKind::VerificationFailed
        );
        assert_eq!(kind("sign", Errno::EPERM), ErrorKind::PermissionDenied);
        assert_eq!(kind("open", Errno::EACCES), ErrorKind::PermissionDenied);
        assert_eq!(kind("mac", Errno::EKEYREVOKED), ErrorKind::KeyRevoked);
        assert_eq!(kind("mac", Errno::EKEYEXPIRED), ErrorKind::KeyExpired);
        assert_eq!(kind("genkey", Errno::EDQUOT), ErrorKind::QuotaExceeded);
        assert_eq!(kind("hash", Errno::EMSGSIZE), ErrorKind::TooLarge);
        assert_eq!(
            kind("aead-encrypt", Errno::EOVERFLOW),
            ErrorKind::NoncesExhausted
        );
        assert_eq!(kind("sign", Errno::EOPNOTSUPP), ErrorKind::Unsupported);
        assert_eq!(kind("genkey", Errno::EINVAL), ErrorKind::InvalidRequest);
        assert_eq!(kind("genkey", Errno::ENOMEM), ErrorKind::Other);
        assert_eq!(Error::new("x", Errno::EPERM).errno(), libc::EPERM);
    }

    #[test]
    fn only_ebadmsg_from_a_verify_is_a_verification_failure() {
        for op in ["verify", "verify-mac"] {
            assert!(Error::new(op, Errno::EBADMSG).is_verification_failure());
            for errno in [Errno::EPERM, Errno::ENOENT, Errno::EINVAL, Errno::ENOTTY] {
                assert!(
                    !Error::new(op, errno).is_verification_failure(),
                    "{op} {errno}"
                );
            }
        }
        // Decryption that fails authentication is EBADMSG too, but not a verify.
        for op in ["aead-decrypt", "cbc-decrypt"] {
            assert!(!Error::new(op, Errno::EBADMSG).is_verification_failure());
        }
    }
}
