//! age's X25519 recipient stanza (age-encryption.org/v1, "X25519 recipient
//! stanza"), identity side, with the agreement and the AEAD done by
//! whatever holds the key ([`Agreement`]: the kernel in the plugin, a
//! software key in the tests):
//!
//! ```text
//! -> X25519 <base64 no-pad ephemeral share, 32 bytes>
//! <body: the 16-byte file key ChaCha20-Poly1305-encrypted, and its 16-byte tag>
//! ```
//!
//! wrap key = HKDF-SHA256(X25519(identity, share), salt = share || our
//! public key, info = "age-encryption.org/v1/X25519"); file key =
//! ChaCha20-Poly1305-open(wrap key, nonce 0^12, no AAD, body).

use age_core::format::{FileKey, Stanza, FILE_KEY_BYTES};
use base64::{prelude::BASE64_STANDARD_NO_PAD, Engine};

/// The stanza type.
pub const TAG: &str = "X25519";
/// The HKDF info of the wrap key.
pub const INFO: &[u8] = b"age-encryption.org/v1/X25519";
/// The body: the encrypted file key and the Poly1305 tag.
const BODY_LEN: usize = FILE_KEY_BYTES + 16;

/// An X25519 key that can answer for a stanza.
pub trait Agreement {
    /// Its public key (half of the HKDF salt).
    fn public_key(&mut self) -> Result<[u8; 32], Failure>;

    /// X25519 with `share`, HKDF-SHA256 with `salt` and [`INFO`] into a
    /// ChaCha20-Poly1305 key, which opens `body` (ciphertext, then tag) with
    /// the zero nonce and no AAD. `Ok(None)`: the tag does not match (the
    /// stanza is for another key).
    fn open(
        &mut self,
        share: &[u8; 32],
        salt: &[u8; 64],
        body: &[u8; BODY_LEN],
    ) -> Result<Option<FileKey>, Failure>;
}

/// Why an [`Agreement`] could not answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The share is unusable (a low-order point: the shared secret would be
    /// all zeros); the stanza is bad, the key may be fine.
    BadShare(String),
    /// The key cannot be used (missing, refused, no vault...).
    Key(String),
}

/// A key that could not be found: every use fails with why.
pub struct Unusable(pub String);

impl Agreement for Unusable {
    fn public_key(&mut self) -> Result<[u8; 32], Failure> {
        Err(Failure::Key(self.0.clone()))
    }

    fn open(
        &mut self,
        _: &[u8; 32],
        _: &[u8; 64],
        _: &[u8; BODY_LEN],
    ) -> Result<Option<FileKey>, Failure> {
        Err(Failure::Key(self.0.clone()))
    }
}

/// A parsed stanza of our type.
struct X25519Stanza {
    share: [u8; 32],
    body: [u8; BODY_LEN],
}

/// `None` for a stanza of another type (ignored, as the spec requires); an
/// error for an `X25519` stanza that breaks the format.
fn parse(stanza: &Stanza) -> Option<Result<X25519Stanza, String>> {
    if stanza.tag != TAG {
        return None;
    }
    Some((|| {
        let [arg] = &stanza.args[..] else {
            return Err(format!(
                "an X25519 stanza has one argument, this one {}",
                stanza.args.len()
            ));
        };
        // The base64 crate's decoder is strict: canonical, unpadded.
        let share = BASE64_STANDARD_NO_PAD
            .decode(arg)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or("the X25519 share is not 32 bytes of unpadded base64")?;
        let body = <[u8; BODY_LEN]>::try_from(&stanza.body[..]).map_err(|_| {
            format!(
                "an X25519 stanza's body is {BODY_LEN} bytes, this one {}",
                stanza.body.len()
            )
        })?;
        Ok(X25519Stanza { share, body })
    })())
}

/// What one file's stanzas gave.
pub enum Outcome {
    /// A stanza opened.
    Key(FileKey),
    /// None is for these identities (age then tries its other identities).
    NotOurs,
    /// Errors: a malformed X25519 stanza (`stanza` is its index), or an
    /// identity that could not be used (`identity`, the index age gave it).
    Failed(Vec<Problem>),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The file key stays unprinted.
            Outcome::Key(_) => f.write_str("Key(..)"),
            Outcome::NotOurs => f.write_str("NotOurs"),
            Outcome::Failed(p) => f.debug_tuple("Failed").field(p).finish(),
        }
    }
}

/// One error, for age.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// Stanza `stanza` of the file.
    Stanza {
        /// Index in the file's stanzas.
        stanza: usize,
        /// Why.
        message: String,
    },
    /// Identity `identity` (age's index).
    Identity {
        /// age's index of the identity.
        identity: usize,
        /// Why.
        message: String,
    },
}

/// Tries every X25519 stanza of one file with every identity. A malformed
/// X25519 stanza makes the file fail before any key is used (a header that
/// breaks the format is not a header to trust). Otherwise the first stanza
/// that opens wins; a stanza whose tag does not match is someone else's;
/// errors (a bad share, a key that cannot be used) are reported only when
/// nothing opened, so one unusable identity does not hide another that works.
pub fn unwrap_file(stanzas: &[Stanza], identities: &mut [(usize, Box<dyn Agreement>)]) -> Outcome {
    let mut ours = Vec::new();
    let mut problems = Vec::new();
    for (i, s) in stanzas.iter().enumerate() {
        match parse(s) {
            Some(Ok(p)) => ours.push((i, p)),
            Some(Err(message)) => problems.push(Problem::Stanza { stanza: i, message }),
            None => {}
        }
    }
    if !problems.is_empty() {
        return Outcome::Failed(problems);
    }
    for (identity, key) in identities.iter_mut() {
        let public = match key.public_key() {
            Ok(p) => p,
            Err(f) => {
                if !ours.is_empty() {
                    problems.push(problem(*identity, None, f));
                }
                continue;
            }
        };
        for (i, s) in &ours {
            let mut salt = [0u8; 64];
            salt[..32].copy_from_slice(&s.share);
            salt[32..].copy_from_slice(&public);
            match key.open(&s.share, &salt, &s.body) {
                Ok(Some(file_key)) => return Outcome::Key(file_key),
                Ok(None) => {}
                Err(Failure::Key(m)) => {
                    // The key failed; its other stanzas would fail the same way.
                    problems.push(problem(*identity, Some(*i), Failure::Key(m)));
                    break;
                }
                Err(f) => problems.push(problem(*identity, Some(*i), f)),
            }
        }
    }
    if problems.is_empty() {
        Outcome::NotOurs
    } else {
        Outcome::Failed(problems)
    }
}

fn problem(identity: usize, stanza: Option<usize>, f: Failure) -> Problem {
    match (f, stanza) {
        (Failure::BadShare(message), Some(stanza)) => Problem::Stanza { stanza, message },
        (Failure::BadShare(message) | Failure::Key(message), _) => {
            Problem::Identity { identity, message }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use age::Recipient as _;
    use age_core::secrecy::ExposeSecret;
    use chacha20poly1305::aead::{Aead, KeyInit};
    use chacha20poly1305::ChaCha20Poly1305;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::str::FromStr;
    use x25519_dalek::{PublicKey, StaticSecret};

    /// A software X25519 identity (RustCrypto), doing what the kernel does.
    pub(crate) struct Software {
        pub secret: StaticSecret,
        /// How many times it was asked to open a stanza.
        pub opens: Rc<Cell<usize>>,
    }

    impl Software {
        pub(crate) fn new(seed: u8) -> Self {
            Software {
                secret: StaticSecret::from([seed; 32]),
                opens: Rc::default(),
            }
        }

        pub(crate) fn boxed(self) -> Box<dyn Agreement> {
            Box::new(self)
        }

        pub(crate) fn recipient(&self) -> age::x25519::Recipient {
            let public = PublicKey::from(&self.secret).to_bytes();
            age::x25519::Recipient::from_str(&crate::identity::encode_recipient(&public)).unwrap()
        }
    }

    impl Agreement for Software {
        fn public_key(&mut self) -> Result<[u8; 32], Failure> {
            Ok(PublicKey::from(&self.secret).to_bytes())
        }

        fn open(
            &mut self,
            share: &[u8; 32],
            salt: &[u8; 64],
            body: &[u8; BODY_LEN],
        ) -> Result<Option<FileKey>, Failure> {
            self.opens.set(self.opens.get() + 1);
            let shared = self.secret.diffie_hellman(&PublicKey::from(*share));
            if !shared.was_contributory() {
                return Err(Failure::BadShare("low-order share".into()));
            }
            let mut wrap = [0u8; 32];
            hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), shared.as_bytes())
                .expand(INFO, &mut wrap)
                .unwrap();
            let aead = ChaCha20Poly1305::new(&wrap.into());
            Ok(aead
                .decrypt(&[0u8; 12].into(), &body[..])
                .ok()
                .map(|pt| FileKey::init_with_mut(|k| k.copy_from_slice(&pt))))
        }
    }

    pub(crate) fn file_key(byte: u8) -> FileKey {
        FileKey::init_with_mut(|k| *k = [byte; FILE_KEY_BYTES])
    }

    /// The stanzas the real age crate makes for `recipient` around `key`.
    pub(crate) fn wrapped_by_age(recipient: &age::x25519::Recipient, key: &FileKey) -> Vec<Stanza> {
        recipient.wrap_file_key(key).unwrap().0
    }

    /// A copy (`Stanza` is not `Clone`).
    pub(crate) fn dup(s: &Stanza) -> Stanza {
        Stanza {
            tag: s.tag.clone(),
            args: s.args.clone(),
            body: s.body.clone(),
        }
    }

    fn key_of(o: Outcome) -> [u8; FILE_KEY_BYTES] {
        match o {
            Outcome::Key(k) => *k.expose_secret(),
            other => panic!("no key: {other:?}"),
        }
    }

    #[test]
    fn a_stanza_made_by_the_age_crate_opens_to_its_file_key() {
        let ours = Software::new(1);
        for byte in [0u8, 0x5a, 0xff] {
            let stanzas = wrapped_by_age(&ours.recipient(), &file_key(byte));
            assert_eq!(stanzas.len(), 1);
            assert_eq!(stanzas[0].tag, TAG);
            let mut ids = [(0, Software::new(1).boxed())];
            assert_eq!(key_of(unwrap_file(&stanzas, &mut ids)), [byte; 16]);
        }
    }

    #[test]
    fn the_age_crates_own_identity_agrees() {
        // The same secret as an age identity opens the same stanza to the
        // same key: our derivation is age's, byte for byte.
        use age::Identity as _;
        let ours = Software::new(3);
        let stanzas = wrapped_by_age(&ours.recipient(), &file_key(0x42));
        let age_id = age::x25519::Identity::from_str(
            &age_core::primitives::bech32_encode(
                bech32::Hrp::parse_unchecked("age-secret-key-"),
                &[3u8; 32],
            )
            .to_uppercase(),
        )
        .unwrap();
        let theirs = age_id.unwrap_stanza(&stanzas[0]).unwrap().unwrap();
        let mut ids = [(0, Software::new(3).boxed())];
        assert_eq!(
            key_of(unwrap_file(&stanzas, &mut ids)),
            *theirs.expose_secret()
        );
    }

    #[test]
    fn another_recipients_stanza_is_not_ours_and_not_an_error() {
        let stanzas = wrapped_by_age(&Software::new(2).recipient(), &file_key(1));
        let ours = Software::new(1);
        let opens = ours.opens.clone();
        let mut ids = [(0, ours.boxed())];
        assert!(matches!(unwrap_file(&stanzas, &mut ids), Outcome::NotOurs));
        assert_eq!(opens.get(), 1);
    }

    #[test]
    fn with_several_stanzas_and_identities_the_one_that_opens_wins() {
        let mut stanzas = wrapped_by_age(&Software::new(2).recipient(), &file_key(7));
        stanzas.extend(wrapped_by_age(&Software::new(4).recipient(), &file_key(7)));
        let mut ids = [(0, Software::new(9).boxed()), (1, Software::new(4).boxed())];
        assert_eq!(key_of(unwrap_file(&stanzas, &mut ids)), [7; 16]);
    }

    #[test]
    fn stanzas_of_other_types_are_ignored_even_when_malformed() {
        let mut stanzas = vec![
            Stanza {
                tag: "scrypt".into(),
                args: vec![],
                body: vec![1; 3],
            },
            Stanza {
                tag: "x25519".into(),
                args: vec!["??".into()],
                body: vec![],
            },
            Stanza {
                tag: "piv-p256".into(),
                args: vec!["a".into(), "b".into()],
                body: vec![0; 32],
            },
        ];
        let ours = Software::new(1);
        let opens = ours.opens.clone();
        let mut ids = [(0, ours.boxed())];
        assert!(matches!(unwrap_file(&stanzas, &mut ids), Outcome::NotOurs));
        assert_eq!(opens.get(), 0, "no X25519 stanza, no agreement");
        stanzas.extend(wrapped_by_age(&Software::new(1).recipient(), &file_key(3)));
        assert_eq!(key_of(unwrap_file(&stanzas, &mut ids)), [3; 16]);
    }

    #[test]
    fn a_malformed_x25519_stanza_fails_the_file_before_any_key_is_used() {
        let good = wrapped_by_age(&Software::new(1).recipient(), &file_key(3)).remove(0);
        let share = good.args[0].clone();
        let padded = format!("{share}=");
        let short = BASE64_STANDARD_NO_PAD.encode([1u8; 31]);
        // The last character carries 2 unused bits; set one: the same bytes
        // by a lax decoder, a non-canonical encoding by the spec.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let last = ALPHABET
            .iter()
            .position(|&c| c == *share.as_bytes().last().unwrap())
            .unwrap();
        let lax = format!("{}{}", &share[..42], ALPHABET[last | 1] as char);
        assert_ne!(lax, share);
        let cases: Vec<(Stanza, &str)> = vec![
            (
                Stanza {
                    args: vec![lax],
                    ..dup(&good)
                },
                "unpadded base64",
            ),
            (
                Stanza {
                    args: vec![],
                    ..dup(&good)
                },
                "one argument, this one 0",
            ),
            (
                Stanza {
                    args: vec![share.clone(), share.clone()],
                    ..dup(&good)
                },
                "one argument, this one 2",
            ),
            (
                Stanza {
                    args: vec![padded],
                    ..dup(&good)
                },
                "unpadded base64",
            ),
            (
                Stanza {
                    args: vec![short],
                    ..dup(&good)
                },
                "not 32 bytes",
            ),
            (
                Stanza {
                    args: vec!["!!!!".into()],
                    ..dup(&good)
                },
                "base64",
            ),
            (
                Stanza {
                    body: good.body[..31].to_vec(),
                    ..dup(&good)
                },
                "body is 32 bytes, this one 31",
            ),
            (
                Stanza {
                    body: [&good.body[..], &[0]].concat(),
                    ..dup(&good)
                },
                "this one 33",
            ),
            (
                Stanza {
                    body: vec![],
                    ..dup(&good)
                },
                "this one 0",
            ),
        ];
        for (bad, says) in cases {
            // The good stanza is there too, and first: still the file fails.
            let stanzas = [dup(&good), bad];
            let ours = Software::new(1);
            let opens = ours.opens.clone();
            let mut ids = [(0, ours.boxed())];
            match unwrap_file(&stanzas, &mut ids) {
                Outcome::Failed(p) => {
                    assert!(
                        matches!(&p[..], [Problem::Stanza { stanza: 1, message }] if message.contains(says)),
                        "{says}: {p:?}"
                    );
                }
                other => panic!("{says}: {other:?}"),
            }
            assert_eq!(opens.get(), 0);
        }
    }

    #[test]
    fn a_tampered_body_or_share_does_not_open() {
        let good = wrapped_by_age(&Software::new(1).recipient(), &file_key(3)).remove(0);
        for at in [0, 15, 16, 31] {
            let mut bad = dup(&good);
            bad.body[at] ^= 1;
            let mut ids = [(0, Software::new(1).boxed())];
            assert!(
                matches!(unwrap_file(&[bad], &mut ids), Outcome::NotOurs),
                "body[{at}]"
            );
        }
        let mut share = BASE64_STANDARD_NO_PAD.decode(&good.args[0]).unwrap();
        share[5] ^= 0x10;
        let bad = Stanza {
            args: vec![BASE64_STANDARD_NO_PAD.encode(&share)],
            ..good
        };
        let mut ids = [(0, Software::new(1).boxed())];
        assert!(matches!(unwrap_file(&[bad], &mut ids), Outcome::NotOurs));
    }

    #[test]
    fn a_low_order_share_is_an_error_for_that_stanza_not_a_silent_miss() {
        let good = wrapped_by_age(&Software::new(1).recipient(), &file_key(3)).remove(0);
        // The identity element: X25519 with it is all zeros.
        let zero = Stanza {
            args: vec![BASE64_STANDARD_NO_PAD.encode([0u8; 32])],
            ..dup(&good)
        };
        let mut ids = [(0, Software::new(1).boxed())];
        match unwrap_file(&[dup(&zero)], &mut ids) {
            Outcome::Failed(p) => assert!(
                matches!(&p[..], [Problem::Stanza { stanza: 0, .. }]),
                "{p:?}"
            ),
            other => panic!("{other:?}"),
        }
        // With a good stanza after it, the file still opens.
        assert_eq!(key_of(unwrap_file(&[zero, good], &mut ids)), [3; 16]);
    }

    #[test]
    fn an_unusable_key_is_reported_only_when_nothing_opens() {
        let stanzas = wrapped_by_age(&Software::new(1).recipient(), &file_key(8));
        let broken = || -> Box<dyn Agreement> { Box::new(Unusable("no key gone: ENOENT".into())) };
        let mut ids = [(4, broken())];
        match unwrap_file(&stanzas, &mut ids) {
            Outcome::Failed(p) => assert_eq!(
                p,
                [Problem::Identity {
                    identity: 4,
                    message: "no key gone: ENOENT".into()
                }]
            ),
            other => panic!("{other:?}"),
        }
        // With no X25519 stanza the key is never needed: not an error.
        assert!(matches!(unwrap_file(&[], &mut ids), Outcome::NotOurs));
        // A working identity beside it opens the file, before or after it.
        let mut ids = [(4, broken()), (5, Software::new(1).boxed())];
        assert_eq!(key_of(unwrap_file(&stanzas, &mut ids)), [8; 16]);
        let mut ids = [(5, Software::new(1).boxed()), (4, broken())];
        assert_eq!(key_of(unwrap_file(&stanzas, &mut ids)), [8; 16]);
        // Beside one that is not for this file, the broken one's error shows.
        let mut ids = [(4, broken()), (5, Software::new(2).boxed())];
        assert!(matches!(unwrap_file(&stanzas, &mut ids), Outcome::Failed(p) if p.len() == 1));
    }
}
