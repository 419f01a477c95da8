//! `kvctl limits`: the module's limits (its load-time parameters, read with
//! the LIMITS ioctl: Rust modules do not show them in sysfs) and this vault's
//! and this user's usage of them; and the words errors use to name which
//! limit was hit.

use keyvault::Limits;
use serde_json::{json, Value};

/// `used/max` with the parameter that sets `max`.
fn of(used: u64, max: u64, param: &str) -> String {
    format!("{used} of {max} ({param})")
}

/// The human table of `kvctl limits`.
pub fn table(l: &Limits) -> String {
    let rows = [
        (
            "input bytes per operation",
            format!("{} (max_data_bytes)", l.max_data_bytes),
        ),
        (
            "keys in this vault",
            of(l.vault_keys, l.max_keys_per_vault, "max_keys_per_vault"),
        ),
        (
            "key bytes in this vault",
            of(
                l.vault_key_bytes,
                l.max_key_bytes_per_vault,
                "max_key_bytes_per_vault",
            ),
        ),
        (
            "keys of this user",
            of(l.user_keys, l.max_keys_per_user, "max_keys_per_user"),
        ),
        (
            "key bytes of this user",
            of(
                l.user_key_bytes,
                l.max_key_bytes_per_user,
                "max_key_bytes_per_user",
            ),
        ),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The JSON object of `kvctl --json limits`.
pub fn json(l: &Limits) -> Value {
    json!({
        "max_data_bytes": l.max_data_bytes,
        "vault": {
            "keys": l.vault_keys, "max_keys": l.max_keys_per_vault,
            "key_bytes": l.vault_key_bytes, "max_key_bytes": l.max_key_bytes_per_vault,
        },
        "user": {
            "keys": l.user_keys, "max_keys": l.max_keys_per_user,
            "key_bytes": l.user_key_bytes, "max_key_bytes": l.max_key_bytes_per_user,
        },
    })
}

/// Which of the vault's and the user's quotas a refused key creation hit
/// (EDQUOT; the key's own max uses/bytes are checked before this). A quota
/// of bytes is named with what is left: the new key did not fit in it.
pub fn quota_detail(l: &Limits) -> String {
    if l.vault_keys >= l.max_keys_per_vault {
        format!(
            "this vault holds its maximum of {} keys (max_keys_per_vault)",
            l.max_keys_per_vault
        )
    } else if l.user_keys >= l.max_keys_per_user {
        format!(
            "your user holds its maximum of {} keys across all its vaults (max_keys_per_user)",
            l.max_keys_per_user
        )
    } else {
        let vault_left = l.max_key_bytes_per_vault.saturating_sub(l.vault_key_bytes);
        let user_left = l.max_key_bytes_per_user.saturating_sub(l.user_key_bytes);
        if vault_left <= user_left {
            format!(
                "the new key does not fit in this vault's key bytes: {} of {} used \
                 (max_key_bytes_per_vault)",
                l.vault_key_bytes, l.max_key_bytes_per_vault
            )
        } else {
            format!(
                "the new key does not fit in your user's key bytes: {} of {} used across \
                 all its vaults (max_key_bytes_per_user)",
                l.user_key_bytes, l.max_key_bytes_per_user
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(vault: (u64, u64), user: (u64, u64)) -> Limits {
        let mut l = Limits::default();
        l.max_data_bytes = 1 << 20;
        l.max_keys_per_vault = 4;
        l.max_key_bytes_per_vault = 100;
        l.max_keys_per_user = 8;
        l.max_key_bytes_per_user = 200;
        (l.vault_keys, l.vault_key_bytes) = vault;
        (l.user_keys, l.user_key_bytes) = user;
        l
    }

    #[test]
    fn the_quota_named_is_the_one_exhausted() {
        let d = quota_detail(&limits((4, 64), (4, 64)));
        assert!(d.contains("maximum of 4 keys (max_keys_per_vault)"), "{d}");
        let d = quota_detail(&limits((2, 32), (8, 128)));
        assert!(
            d.contains("maximum of 8 keys across all its vaults (max_keys_per_user)"),
            "{d}"
        );
        let d = quota_detail(&limits((3, 96), (5, 160)));
        assert!(d.contains("this vault's key bytes: 96 of 100"), "{d}");
        let d = quota_detail(&limits((1, 32), (7, 190)));
        assert!(d.contains("your user's key bytes: 190 of 200"), "{d}");
    }

    #[test]
    fn the_table_and_json_show_usage_against_each_limit() {
        let l = limits((3, 96), (5, 160));
        let t = table(&l);
        assert!(
            t.contains("keys in this vault         3 of 4 (max_keys_per_vault)"),
            "{t}"
        );
        assert!(
            t.contains("input bytes per operation  1048576 (max_data_bytes)"),
            "{t}"
        );
        let j = json(&l);
        assert_eq!(j["vault"]["key_bytes"], 96);
        assert_eq!(j["user"]["max_keys"], 8);
        assert_eq!(j["max_data_bytes"], 1 << 20);
    }
}
