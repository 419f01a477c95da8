//! The module's limits (its load-time parameters, which Rust modules do not
//! show in sysfs) and what a vault and its owner use of them (LIMITS).

use crate::{Result, Vault};
use keyvault_uapi as abi;

/// The limits that apply to a vault, and its usage of them now: which
/// quota is exhausted when key creation fails with `EDQUOT`, and how much
/// input one operation may take. The usage is a snapshot: other handles on
/// the vault, and the owner's other vaults, change it at any time.
///
/// ```no_run
/// use keyvault::Vault;
///
/// let vault = Vault::open()?;
/// let l = vault.limits()?;
/// println!("{} of {} keys in this vault", l.vault_keys, l.max_keys_per_vault);
/// println!("{} of {} keys for this user", l.user_keys, l.max_keys_per_user);
/// # Ok::<(), keyvault::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most input bytes of one operation (more: `EMSGSIZE`).
    pub max_data_bytes: u64,
    /// Most keys one vault may hold (more: `EDQUOT`).
    pub max_keys_per_vault: u64,
    /// Most key material bytes one vault may hold (more: `EDQUOT`).
    pub max_key_bytes_per_vault: u64,
    /// Most keys one user may hold across all their vaults (more: `EDQUOT`).
    pub max_keys_per_user: u64,
    /// Most key material bytes one user may hold across all their vaults
    /// (more: `EDQUOT`).
    pub max_key_bytes_per_user: u64,
    /// Keys in this vault (all of them, also those a key-limited handle
    /// from [`Vault::dup`] does not see).
    pub vault_keys: u64,
    /// Key material bytes in this vault.
    pub vault_key_bytes: u64,
    /// Keys charged to the vault's owner (the effective uid that opened
    /// it, whoever made the keys), across all of the owner's vaults.
    pub user_keys: u64,
    /// Key material bytes charged to the vault's owner.
    pub user_key_bytes: u64,
}

impl Limits {
    fn from_raw(r: &abi::KvLimits) -> Self {
        Limits {
            max_data_bytes: r.max_data_bytes,
            max_keys_per_vault: r.max_keys_per_vault,
            max_key_bytes_per_vault: r.max_key_bytes_per_vault,
            max_keys_per_user: r.max_keys_per_user,
            max_key_bytes_per_user: r.max_key_bytes_per_user,
            vault_keys: r.vault_keys,
            vault_key_bytes: r.vault_key_bytes,
            user_keys: r.user_keys,
            user_key_bytes: r.user_key_bytes,
        }
    }
}

impl Vault {
    /// The limits of this vault and its usage of them (see [`Limits`]).
    /// Needs no capability: a handle restricted to nothing can ask.
    pub fn limits(&self) -> Result<Limits> {
        let mut r = abi::KvLimits::default();
        self.ioctl("limits", abi::KV_IOC_LIMITS, &mut r)?;
        Ok(Limits::from_raw(&r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use nix::errno::Errno;

    #[test]
    fn limits_reports_the_kernel_error_under_its_op() {
        let vault = Vault::open_path("/dev/null").expect("open /dev/null");
        assert_eq!(
            vault.limits().unwrap_err(),
            Error::new("limits", Errno::ENOTTY)
        );
    }
}
