//! Errors: the errno the kernel returned, which operation, and what it means.

use nix::errno::Errno;
use std::fmt;

/// A failed keyvault operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    errno: Errno,
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(op: &'static str, errno: Errno) -> Self {
        Self { op, errno }
    }

    /// The errno the kernel returned.
    pub fn errno(&self) -> Errno {
        self.errno
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
