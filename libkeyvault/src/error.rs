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

    /// What the errno means for keyvault (the ABI's error contract).
    pub fn explain(&self) -> &'static str {
        match self.errno {
            Errno::EPERM => "this vault handle lacks the capability for the operation",
            Errno::ENOENT if self.op == "open" => {
                "no /dev/keyvault: is the keyvault module loaded (insmod keyvault.ko)?"
            }
            Errno::EACCES if self.op == "open" => {
                "no permission to open /dev/keyvault (see the README for the udev rule)"
            }
            Errno::ENOENT => "no such key in this vault (never existed, or destroyed)",
            Errno::EKEYREVOKED => "the key was revoked",
            Errno::EKEYEXPIRED => "the key's lifetime has ended",
            Errno::EINVAL => {
                "invalid request: unknown algorithm, bad size, bad policy, or a nonzero reserved field"
            }
            Errno::EOPNOTSUPP => "the key's algorithm cannot do this operation",
            Errno::EFAULT => "a buffer address is not valid",
            Errno::ENOTTY => "not a keyvault device, or a request this module does not know",
            Errno::EBADMSG if self.op.starts_with("cbc") => {
                "bad padding: the key, IV or ciphertext is wrong (AES-CBC cannot tell which)"
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
