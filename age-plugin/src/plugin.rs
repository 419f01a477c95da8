//! age's identity-v1 state machine (run by the age-plugin crate) on our
//! side: identities by key name, each file's stanzas tried with them.

use crate::identity::{name_of_data, KeyName, PLUGIN_NAME};
use crate::kernel::Finder;
use crate::x25519::{unwrap_file, Agreement, Outcome, Problem, Unusable};
use age_core::format::{FileKey, Stanza};
use age_plugin::identity::{Error, IdentityPluginV1};
use age_plugin::{Callbacks, PluginHandler};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;

/// Turns a key name into a key to use (the kernel's, or in tests a
/// software one).
pub trait Find {
    /// The key `name`; an [`Unusable`] one says why it cannot be had.
    fn find(&mut self, name: &KeyName) -> Box<dyn Agreement>;
}

impl Find for Finder {
    fn find(&mut self, name: &KeyName) -> Box<dyn Agreement> {
        match Finder::find(self, name) {
            Ok(key) => Box::new(key),
            Err(message) => Box::new(Unusable(message)),
        }
    }
}

/// The plugin: identity side only (files are encrypted to the plain
/// `age1...` recipient by any age, so no recipient plugin is needed).
pub struct Handler<F>(pub F);

impl<F: Find> PluginHandler for Handler<F> {
    type RecipientV1 = Infallible;
    type IdentityV1 = IdentityPlugin<F>;

    fn identity_v1(self) -> io::Result<Self::IdentityV1> {
        Ok(IdentityPlugin {
            finder: self.0,
            names: Vec::new(),
        })
    }
}

/// identity-v1: the identities age added, by its index.
pub struct IdentityPlugin<F> {
    finder: F,
    names: Vec<(usize, KeyName)>,
}

impl<F: Find> IdentityPluginV1 for IdentityPlugin<F> {
    fn add_identity(&mut self, index: usize, plugin_name: &str, bytes: &[u8]) -> Result<(), Error> {
        if plugin_name != PLUGIN_NAME {
            // Reached through a link under another plugin's name.
            return Err(Error::Identity {
                index,
                message: format!(
                    "age-plugin-keyvault reads keyvault identities, not {plugin_name}"
                ),
            });
        }
        let name = name_of_data(bytes).map_err(|message| Error::Identity { index, message })?;
        self.names.push((index, name));
        Ok(())
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<Error>>>> {
        // Found once for all files; nothing is asked of the kernel or the
        // agent until a file has an X25519 stanza.
        let mut keys: Vec<(usize, Box<dyn Agreement>)> = self
            .names
            .iter()
            .map(|(index, name)| (*index, self.finder.find(name)))
            .collect();
        let mut out = HashMap::new();
        for (file_index, stanzas) in files.iter().enumerate() {
            match unwrap_file(stanzas, &mut keys) {
                Outcome::Key(key) => {
                    out.insert(file_index, Ok(key));
                }
                // No entry: age hears "not unwrapped" and tries its other identities.
                Outcome::NotOurs => {}
                Outcome::Failed(problems) => {
                    let errors = problems
                        .into_iter()
                        .map(|p| match p {
                            Problem::Stanza { stanza, message } => Error::Stanza {
                                file_index,
                                stanza_index: stanza,
                                message,
                            },
                            Problem::Identity { identity, message } => Error::Identity {
                                index: identity,
                                message,
                            },
                        })
                        .collect();
                    out.insert(file_index, Err(errors));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::encode_identity;
    use crate::x25519::tests::{file_key, wrapped_by_age, Software};
    use age_core::secrecy::{ExposeSecret, SecretString};

    /// Keys by name from a table; a name not in it is missing.
    struct Table(Vec<(&'static str, u8)>);

    impl Find for Table {
        fn find(&mut self, name: &KeyName) -> Box<dyn Agreement> {
            match self.0.iter().find(|(n, _)| *n == name.as_str()) {
                Some((_, seed)) => Software::new(*seed).boxed(),
                None => Box::new(Unusable(format!("no key {name}: not in the table"))),
            }
        }
    }

    /// age's side of the callbacks: never used by this plugin.
    struct NoUi;

    impl Callbacks<Error> for NoUi {
        fn message(&mut self, _: &str) -> age_core::plugin::Result<()> {
            panic!("the plugin has nothing to say")
        }
        fn confirm(&mut self, _: &str, _: &str, _: Option<&str>) -> age_core::plugin::Result<bool> {
            panic!("the plugin asks nothing")
        }
        fn request_public(&mut self, _: &str) -> age_core::plugin::Result<String> {
            panic!("the plugin asks nothing")
        }
        fn request_secret(&mut self, _: &str) -> age_core::plugin::Result<SecretString> {
            panic!("the plugin asks for no secret")
        }
        fn error(&mut self, _: Error) -> age_core::plugin::Result<()> {
            panic!("errors are returned, not sent")
        }
    }

    fn plugin(table: Vec<(&'static str, u8)>) -> IdentityPlugin<Table> {
        match Handler(Table(table)).identity_v1() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    /// What age-plugin hands add_identity for an identity string.
    fn data_of(name: &str) -> Vec<u8> {
        let id = encode_identity(&KeyName::parse(name).unwrap());
        age_core::primitives::bech32_decode(
            &id,
            |_| (),
            |_| Ok(()),
            |_, bytes| Ok::<_, ()>(bytes.collect()),
        )
        .unwrap()
    }

    fn describe(e: &Error) -> String {
        match e {
            Error::Identity { index, message } => format!("identity {index}: {message}"),
            Error::Stanza {
                file_index,
                stanza_index,
                message,
            } => {
                format!("file {file_index} stanza {stanza_index}: {message}")
            }
            Error::Internal { message } => format!("internal: {message}"),
        }
    }

    #[test]
    fn files_encrypted_by_the_age_crate_to_the_keys_recipient_unwrap() {
        let mut p = plugin(vec![("age-id", 1), ("other", 2)]);
        assert!(p.add_identity(0, PLUGIN_NAME, &data_of("other")).is_ok());
        assert!(p.add_identity(1, PLUGIN_NAME, &data_of("age-id")).is_ok());
        let files = vec![
            wrapped_by_age(&Software::new(1).recipient(), &file_key(0x11)),
            wrapped_by_age(&Software::new(3).recipient(), &file_key(0x22)),
            wrapped_by_age(&Software::new(2).recipient(), &file_key(0x33)),
        ];
        let out = p.unwrap_file_keys(files, NoUi).unwrap();
        let key = |i: usize| match &out[&i] {
            Ok(k) => *k.expose_secret(),
            Err(e) => panic!("{}", e.iter().map(describe).collect::<Vec<_>>().join("; ")),
        };
        assert_eq!(key(0), [0x11; 16]);
        assert_eq!(key(2), [0x33; 16]);
        assert!(!out.contains_key(&1), "a file for nobody here has no entry");
    }

    #[test]
    fn a_bad_identity_is_refused_when_added() {
        let mut p = plugin(vec![]);
        for (data, says) in [
            (vec![1, b'.', b'x'], "bad key name"),
            (vec![9, b'a'], "format 9"),
            (vec![], "empty"),
        ] {
            match p.add_identity(3, PLUGIN_NAME, &data) {
                Err(e @ Error::Identity { index: 3, .. }) => assert!(describe(&e).contains(says)),
                Err(e) => panic!("{}", describe(&e)),
                Ok(()) => panic!("{says}: accepted"),
            }
        }
        match p.add_identity(0, "yubikey", &data_of("age-id")) {
            Err(e) => assert!(describe(&e).contains("not yubikey")),
            Ok(()) => panic!("another plugin's name was accepted"),
        }
        assert!(p.names.is_empty());
    }

    #[test]
    fn a_missing_key_is_an_error_for_a_file_it_might_open_only() {
        let mut p = plugin(vec![]);
        assert!(p.add_identity(0, PLUGIN_NAME, &data_of("gone")).is_ok());
        let files = vec![
            wrapped_by_age(&Software::new(1).recipient(), &file_key(1)),
            vec![Stanza {
                tag: "scrypt".into(),
                args: vec!["x".into(), "10".into()],
                body: vec![0; 32],
            }],
        ];
        let out = p.unwrap_file_keys(files, NoUi).unwrap();
        match &out[&0] {
            Err(e) => assert_eq!(
                e.iter().map(describe).collect::<Vec<_>>(),
                ["identity 0: no key gone: not in the table"]
            ),
            Ok(_) => panic!("opened without a key"),
        }
        assert!(!out.contains_key(&1));
    }

    #[test]
    fn a_malformed_stanza_is_reported_against_its_file_and_index() {
        let mut p = plugin(vec![("age-id", 1)]);
        assert!(p.add_identity(0, PLUGIN_NAME, &data_of("age-id")).is_ok());
        let mut bad = wrapped_by_age(&Software::new(1).recipient(), &file_key(1));
        bad[0].body.pop();
        let good = wrapped_by_age(&Software::new(1).recipient(), &file_key(2));
        let grease = Stanza {
            tag: "grease".into(),
            args: vec![],
            body: vec![],
        };
        let second: Vec<Stanza> = std::iter::once(grease).chain(bad).collect();
        let out = p.unwrap_file_keys(vec![good, second], NoUi).unwrap();
        assert!(out[&0].is_ok());
        match &out[&1] {
            Err(e) => {
                let said: Vec<_> = e.iter().map(describe).collect();
                assert_eq!(said.len(), 1);
                assert!(said[0].starts_with("file 1 stanza 1: "), "{said:?}");
            }
            Ok(_) => panic!("a malformed header opened"),
        }
    }
}
