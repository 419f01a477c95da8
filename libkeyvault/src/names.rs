//! Key names: how keyvault's tools name keys (kvctl's keystore files,
//! keyvault-agent's keys, age-plugin-keyvault's identities), and the
//! environment variable in which `kvctl exec` and `kvctl agent exec` give a
//! program a named key's id. One rule, so that a name valid for one is
//! valid for all.

/// The longest key name.
pub const KEY_NAME_MAX: usize = 64;
/// What [`key_env_var`] puts before the name.
pub const KEY_ENV_PREFIX: &str = "KEYVAULT_KEY_";

/// Checks a key name: 1 to [`KEY_NAME_MAX`] letters, digits, `-` and `_`,
/// starting with a letter or digit (so that it is a file name, and, mapped
/// by [`key_env_var`], an environment variable's name).
///
/// ```
/// assert!(keyvault::check_key_name("db-2").is_ok());
/// assert!(keyvault::check_key_name("../etc").is_err());
/// ```
pub fn check_key_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= KEY_NAME_MAX
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad key name '{}': 1 to {KEY_NAME_MAX} letters, digits, - and _, starting with a \
             letter or digit",
            s.escape_debug()
        ))
    }
}

/// The environment variable that carries key `name`'s id:
/// `KEYVAULT_KEY_` and the name in upper case, `-` as `_`
/// (`db-2` → `KEYVAULT_KEY_DB_2`).
pub fn key_env_var(name: &str) -> String {
    format!(
        "{KEY_ENV_PREFIX}{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_file_and_environment_names() {
        for good in ["signer", "db-2", "A_b", "7", &"x".repeat(64)] {
            assert_eq!(check_key_name(good), Ok(()), "{good}");
        }
        for bad in ["", "-x", "_x", "a.b", "a/b", "a b", "é", &"x".repeat(65)] {
            let e = check_key_name(bad).unwrap_err();
            assert!(e.starts_with("bad key name"), "{bad}: {e}");
        }
        assert!(check_key_name("a\nb").unwrap_err().contains("'a\\nb'"));
        assert_eq!(key_env_var("db-2"), "KEYVAULT_KEY_DB_2");
    }
}
