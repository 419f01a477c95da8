//! The strings a user handles: the plugin identity
//! (`AGE-PLUGIN-KEYVAULT-1...`, naming a vault key) and the plain age
//! X25519 recipient (`age1...`) of that key's public key.
//!
//! An identity carries no secret: its data is a format version byte and the
//! key's name, and the key itself never leaves the kernel.

use age_core::primitives::{bech32_decode, bech32_encode};
use bech32::Hrp;
use std::fmt;

/// The plugin's name: age runs `age-plugin-keyvault` for identities whose
/// Bech32 HRP is `AGE-PLUGIN-KEYVAULT-`.
pub const PLUGIN_NAME: &str = "keyvault";
/// The identity HRP, lower case (the identity is written upper case).
const IDENTITY_HRP: &str = "age-plugin-keyvault-";
/// The native age X25519 recipient HRP.
const RECIPIENT_HRP: &str = "age";
/// The identity format: version 1 is this byte, then the key name.
const VERSION: u8 = 1;

/// A vault key's name: 1 to 64 letters, digits, `-` and `_`, starting with
/// a letter or digit (the names of `kvctl keystore add` and
/// keyvault-agent's `[[key]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    /// Checks `s` against the naming rule ([`keyvault::check_key_name`]).
    pub fn parse(s: &str) -> Result<KeyName, String> {
        keyvault::check_key_name(s).map(|()| KeyName(s.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The variable through which `kvctl exec` gives this key's id
    /// ([`keyvault::key_env_var`]).
    pub fn env_var(&self) -> String {
        keyvault::key_env_var(&self.0)
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity string of key `name`: Bech32, upper case, as age expects
/// plugin identities.
pub fn encode_identity(name: &KeyName) -> String {
    let mut data = Vec::with_capacity(1 + name.0.len());
    data.push(VERSION);
    data.extend_from_slice(name.0.as_bytes());
    bech32_encode(Hrp::parse_unchecked(IDENTITY_HRP), &data).to_ascii_uppercase()
}

/// The key name in an identity's data (what age-plugin hands
/// `add_identity` once it has checked the Bech32 and taken the HRP off).
pub fn name_of_data(data: &[u8]) -> Result<KeyName, String> {
    match data.split_first() {
        Some((&VERSION, name)) => {
            let name = std::str::from_utf8(name)
                .map_err(|_| "the identity's key name is not UTF-8".to_string())?;
            KeyName::parse(name)
        }
        Some((v, _)) => Err(format!(
            "identity format {v} is not known to this age-plugin-keyvault (it reads {VERSION})"
        )),
        None => Err("the identity is empty".into()),
    }
}

/// Decodes a whole identity string (either case): its key name.
pub fn decode_identity(s: &str) -> Result<KeyName, String> {
    bech32_decode(
        s,
        |e| format!("not a Bech32 string: {e}"),
        |hrp| {
            if hrp.as_str().eq_ignore_ascii_case(IDENTITY_HRP) {
                Ok(())
            } else {
                Err(format!(
                    "not an age-plugin-keyvault identity (its prefix is '{}', not '{}')",
                    hrp.as_str().to_ascii_uppercase(),
                    IDENTITY_HRP.to_ascii_uppercase()
                ))
            }
        },
        |_, bytes| name_of_data(&bytes.collect::<Vec<u8>>()),
    )
}

/// The native age recipient (`age1...`) of an X25519 public key: files
/// encrypted to it by any age open through the plugin.
pub fn encode_recipient(public: &[u8; 32]) -> String {
    bech32_encode(Hrp::parse_unchecked(RECIPIENT_HRP), public)
}

/// The identity file `--identity` prints.
pub fn identity_file(name: &KeyName, public: &[u8; 32]) -> String {
    format!(
        "# name: {name}\n# recipient: {}\n{}\n",
        encode_recipient(public),
        encode_identity(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn name(s: &str) -> KeyName {
        KeyName::parse(s).unwrap()
    }

    #[test]
    fn identity_round_trips_and_is_upper_case() {
        for n in ["a", "age-id", "A_b-9", &"x".repeat(64)] {
            let id = encode_identity(&name(n));
            assert!(id.starts_with("AGE-PLUGIN-KEYVAULT-1"), "{id}");
            assert_eq!(id, id.to_ascii_uppercase());
            assert_eq!(decode_identity(&id).unwrap(), name(n));
            assert_eq!(decode_identity(&id.to_ascii_lowercase()).unwrap(), name(n));
        }
    }

    #[test]
    fn the_age_crate_reads_the_identity_as_a_keyvault_plugin_identity() {
        let id = encode_identity(&name("age-id"));
        let parsed = age::plugin::Identity::from_str(&id).unwrap();
        assert_eq!(parsed.plugin(), PLUGIN_NAME);
        // And so finds the binary by that name.
        assert_eq!(
            format!("age-plugin-{}", parsed.plugin()),
            "age-plugin-keyvault"
        );
    }

    #[test]
    fn a_recipient_is_the_age_crates_x25519_recipient_of_the_public_key() {
        let secret = x25519_dalek::StaticSecret::from([7u8; 32]);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        let ours = encode_recipient(&public);
        let theirs = age::x25519::Identity::from_str(
            &bech32_encode(Hrp::parse_unchecked("age-secret-key-"), &[7u8; 32]).to_uppercase(),
        )
        .unwrap()
        .to_public()
        .to_string();
        assert_eq!(ours, theirs);
        assert!(age::x25519::Recipient::from_str(&ours).is_ok());
    }

    #[test]
    fn another_plugins_identity_or_a_native_key_is_refused_by_hrp() {
        let other = bech32_encode(Hrp::parse_unchecked("age-plugin-yubikey-"), b"\x01age-id");
        let e = decode_identity(&other.to_uppercase()).unwrap_err();
        assert!(e.contains("not an age-plugin-keyvault identity"), "{e}");
        let native = bech32_encode(Hrp::parse_unchecked("age-secret-key-"), &[1u8; 32]);
        assert!(decode_identity(&native.to_uppercase()).is_err());
        // A prefix of our HRP is not ours either.
        let short = bech32_encode(Hrp::parse_unchecked("age-plugin-keyvaul-"), b"\x01a");
        assert!(decode_identity(&short).is_err());
    }

    #[test]
    fn a_corrupted_identity_fails_its_checksum() {
        let id = encode_identity(&name("age-id"));
        let mut chars: Vec<char> = id.chars().collect();
        let last = chars.len() - 3;
        chars[last] = if chars[last] == 'Q' { 'P' } else { 'Q' };
        let bad: String = chars.into_iter().collect();
        assert!(decode_identity(&bad)
            .unwrap_err()
            .contains("not a Bech32 string"));
        // Mixed case is not Bech32.
        let mixed = format!("{}{}", &id[..25], id[25..].to_ascii_lowercase());
        assert!(decode_identity(&mixed).is_err());
    }

    #[test]
    fn bad_names_and_versions_in_the_data_are_refused() {
        for bad in [
            &b"\x01"[..],
            b"\x01-leading-dash",
            b"\x01has space",
            b"\x01dot.name",
            b"\x01../etc",
            b"\x01\xff\xfe",
            b"\x01caf\xc3\xa9",
        ] {
            assert!(name_of_data(bad).is_err(), "{bad:?}");
        }
        let long = [&[VERSION][..], &[b'a'; 65]].concat();
        assert!(name_of_data(&long).unwrap_err().contains("bad key name"));
        assert!(name_of_data(b"").unwrap_err().contains("empty"));
        let e = name_of_data(b"\x02age-id").unwrap_err();
        assert!(e.contains("format 2"), "{e}");
        // A name with no version byte (its first byte is a letter) is an
        // unknown version, not a name missing its first letter.
        assert!(name_of_data(b"age-id").is_err());
        let encoded = bech32_encode(Hrp::parse_unchecked(IDENTITY_HRP), b"\x01bad name");
        assert!(decode_identity(&encoded)
            .unwrap_err()
            .contains("bad key name"));
    }

    #[test]
    fn the_identity_file_names_the_key_and_its_recipient() {
        let file = identity_file(&name("age-id"), &[9u8; 32]);
        let lines: Vec<&str> = file.lines().collect();
        assert_eq!(lines[0], "# name: age-id");
        assert_eq!(
            lines[1],
            format!("# recipient: {}", encode_recipient(&[9u8; 32]))
        );
        assert_eq!(decode_identity(lines[2]).unwrap(), name("age-id"));
        assert_eq!(lines.len(), 3);
    }
}
