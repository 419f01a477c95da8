//! The self-describing container `kvctl encrypt` writes and `kvctl decrypt`
//! reads back.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "KVE1" (format version 1)
//!      4     1  algorithm: the key's KV_ALG_* value (1-3 AEAD, 4-5 AES-CBC)
//!      5     1  flags: bit 0 = AES-CBC without PKCS#7 padding; others 0
//!      6        AEAD:    nonce (12) | tag (16) | ciphertext (as long as the plaintext)
//!               AES-CBC: iv (16) | ciphertext (whole 16-byte blocks)
//! ```
//!
//! The AAD is not stored: `decrypt` must be given the same `--aad` again.
//! All of the envelope apart from the ciphertext is public and fixed-size.

use crate::inout::Encoding;
use keyvault::{Algorithm, Iv, KeyId, Nonce, Tag};
use std::fmt;

/// The first bytes of every envelope.
pub const MAGIC: &[u8; 4] = b"KVE1";
/// Magic, algorithm, flags.
pub const HEADER_LEN: usize = 6;
/// Flag bit: AES-CBC without PKCS#7 padding.
pub const FLAG_CBC_NO_PADDING: u8 = 1 << 0;

const BLOCK: usize = 16;

/// The two ways a key can encrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// AES-GCM, ChaCha20-Poly1305: nonce and tag.
    Aead,
    /// AES-CBC: an IV, PKCS#7 padding or none.
    Cbc,
}

impl Kind {
    /// How `alg` encrypts; None when it does not.
    pub fn of(alg: Algorithm) -> Option<Kind> {
        match alg {
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305 => {
                Some(Kind::Aead)
            }
            Algorithm::Aes128Cbc | Algorithm::Aes256Cbc => Some(Kind::Cbc),
            _ => None,
        }
    }
}

/// The per-message values the cipher needs besides the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Params {
    /// AEAD nonce and tag.
    Aead { nonce: Nonce, tag: Tag },
    /// AES-CBC IV; `padding`: PKCS#7 (the default) or none.
    Cbc { iv: Iv, padding: bool },
}

impl Params {
    fn kind(&self) -> Kind {
        match self {
            Params::Aead { .. } => Kind::Aead,
            Params::Cbc { .. } => Kind::Cbc,
        }
    }
}

/// A decoded (or to-be-encoded) envelope; borrows its ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The algorithm of the key that encrypted it.
    pub alg: Algorithm,
    /// Nonce and tag, or IV and padding.
    pub params: Params,
    /// The ciphertext.
    pub ciphertext: &'a [u8],
}

/// Why bytes are not a valid envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Does not start with "KVE".
    BadMagic,
    /// "KVE" and another version than 1.
    Version(u8),
    /// Shorter than the header and the algorithm's fixed fields.
    Truncated { have: usize, need: usize },
    /// An algorithm value this kvctl does not know.
    UnknownAlgorithm(u8),
    /// An algorithm that does not encrypt.
    NotACipher(Algorithm),
    /// Flag bits that are unknown, or not valid for the algorithm.
    BadFlags(u8),
    /// AES-CBC ciphertext that is not whole blocks (or empty with padding).
    CbcLength(usize),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::BadMagic => write!(
                f,
                "not a kvctl envelope (it starts with neither \"KVS1\" nor \"KVE1\"; \
                 is it the output of `kvctl encrypt`?)"
            ),
            EnvelopeError::Version(v) => write!(
                f,
                "envelope version '{}' is not supported (this kvctl reads KVE1)",
                char::from(*v).escape_default()
            ),
            EnvelopeError::Truncated { have, need } => write!(
                f,
                "truncated envelope: {have} bytes, but its header needs at least {need}"
            ),
            EnvelopeError::UnknownAlgorithm(a) => {
                write!(
                    f,
                    "the envelope names algorithm {a}, which this kvctl does not know"
                )
            }
            EnvelopeError::NotACipher(a) => {
                write!(
                    f,
                    "the envelope names {a}, which is not an encryption algorithm"
                )
            }
            EnvelopeError::BadFlags(x) => write!(f, "the envelope has invalid flags {x:#04x}"),
            EnvelopeError::CbcLength(n) => write!(
                f,
                "damaged envelope: {n} bytes of AES-CBC ciphertext is not whole 16-byte blocks"
            ),
        }
    }
}

impl std::error::Error for EnvelopeError {}

fn take<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("length checked")
}

impl<'a> Envelope<'a> {
    /// The header and fixed fields before the ciphertext.
    pub fn overhead(kind: Kind) -> usize {
        HEADER_LEN
            + match kind {
                Kind::Aead => Nonce::default().len() + Tag::default().len(),
                Kind::Cbc => Iv::default().len(),
            }
    }

    /// The envelope's bytes.
    ///
    /// # Panics
    /// If `params` are not those of `alg` (a bug in the caller).
    pub fn encode(&self) -> Vec<u8> {
        let kind = self.params.kind();
        assert_eq!(
            Kind::of(self.alg),
            Some(kind),
            "params do not fit {}",
            self.alg
        );
        let mut out = Vec::with_capacity(Self::overhead(kind) + self.ciphertext.len());
        out.extend_from_slice(MAGIC);
        out.push(self.alg.to_raw() as u8);
        match &self.params {
            Params::Aead { nonce, tag } => {
                out.push(0);
                out.extend_from_slice(nonce);
                out.extend_from_slice(tag);
            }
            Params::Cbc { iv, padding } => {
                out.push(if *padding { 0 } else { FLAG_CBC_NO_PADDING });
                out.extend_from_slice(iv);
            }
        }
        out.extend_from_slice(self.ciphertext);
        out
    }

    /// Parses an envelope (the ciphertext is borrowed from `bytes`).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if !bytes.starts_with(&MAGIC[..3]) {
            return Err(EnvelopeError::BadMagic);
        }
        match bytes.get(3) {
            Some(&v) if v != MAGIC[3] => return Err(EnvelopeError::Version(v)),
            _ => {}
        }
        if bytes.len() < HEADER_LEN {
            return Err(EnvelopeError::Truncated {
                have: bytes.len(),
                need: HEADER_LEN,
            });
        }
        let alg = Algorithm::from_raw(u32::from(bytes[4]))
            .ok_or(EnvelopeError::UnknownAlgorithm(bytes[4]))?;
        let kind = Kind::of(alg).ok_or(EnvelopeError::NotACipher(alg))?;
        let flags = bytes[5];
        let need = Self::overhead(kind);
        if bytes.len() < need {
            return Err(EnvelopeError::Truncated {
                have: bytes.len(),
                need,
            });
        }
        let ciphertext = &bytes[need..];
        let params = match kind {
            Kind::Aead => {
                if flags != 0 {
                    return Err(EnvelopeError::BadFlags(flags));
                }
                Params::Aead {
                    nonce: take(bytes, HEADER_LEN),
                    tag: take(bytes, HEADER_LEN + Nonce::default().len()),
                }
            }
            Kind::Cbc => {
                if flags & !FLAG_CBC_NO_PADDING != 0 {
                    return Err(EnvelopeError::BadFlags(flags));
                }
                let padding = flags & FLAG_CBC_NO_PADDING == 0;
                // PKCS#7 always adds at least one byte, so at least a block.
                if ciphertext.len() % BLOCK != 0 || (padding && ciphertext.is_empty()) {
                    return Err(EnvelopeError::CbcLength(ciphertext.len()));
                }
                Params::Cbc {
                    iv: take(bytes, HEADER_LEN),
                    padding,
                }
            }
        };
        Ok(Envelope {
            alg,
            params,
            ciphertext,
        })
    }

    /// Checks that key `id`, of algorithm `key_alg`, is the kind of key that
    /// made this envelope (the kernel would only say "authentication failed").
    pub fn check_key(&self, id: KeyId, key_alg: Algorithm) -> Result<(), String> {
        if key_alg == self.alg {
            return Ok(());
        }
        Err(format!(
            "key {id} is {key_alg}, but the data was encrypted with {} {} key",
            if self.alg.name().starts_with('a') {
                "an"
            } else {
                "a"
            },
            self.alg
        ))
    }
}

/// How `data` holding an envelope (KVE1, or a KVS1 stream) is encoded:
/// binary, or hex or base64 of one; None when it does not start like an
/// envelope in any of them.
pub fn detect_encoding(data: &[u8]) -> Option<Encoding> {
    if data.starts_with(&MAGIC[..3]) || data.starts_with(b"KVS") {
        return Some(Encoding::Raw);
    }
    let start = data.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &data[start..];
    // "KVE" is 4b5645 in hex, and S1ZF in base64; "KVS" 4b5653 and S1ZT.
    let hex = |p: &[u8]| text.len() >= 6 && text[..6].eq_ignore_ascii_case(p);
    if hex(b"4b5645") || hex(b"4b5653") {
        Some(Encoding::Hex)
    } else if text.starts_with(b"S1ZF") || text.starts_with(b"S1ZT") {
        Some(Encoding::Base64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aead_env(ct: &[u8]) -> Envelope<'_> {
        Envelope {
            alg: Algorithm::Aes256Gcm,
            params: Params::Aead {
                nonce: [0x11; 12],
                tag: [0x22; 16],
            },
            ciphertext: ct,
        }
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = aead_env(b"xyz").encode();
        let mut want = b"KVE1\x02\x00".to_vec();
        want.extend([0x11; 12]);
        want.extend([0x22; 16]);
        want.extend(b"xyz");
        assert_eq!(bytes, want);

        let cbc = Envelope {
            alg: Algorithm::Aes128Cbc,
            params: Params::Cbc {
                iv: [0x33; 16],
                padding: false,
            },
            ciphertext: &[0x44; 32],
        };
        let bytes = cbc.encode();
        assert_eq!(&bytes[..6], b"KVE1\x04\x01");
        assert_eq!(&bytes[6..22], &[0x33; 16]);
        assert_eq!(bytes.len(), 6 + 16 + 32);
    }

    #[test]
    fn every_cipher_round_trips() {
        for &alg in Algorithm::ALL {
            let params = match Kind::of(alg) {
                Some(Kind::Aead) => Params::Aead {
                    nonce: [1; 12],
                    tag: [2; 16],
                },
                Some(Kind::Cbc) => Params::Cbc {
                    iv: [3; 16],
                    padding: alg == Algorithm::Aes256Cbc,
                },
                None => continue,
            };
            for ct in [&[][..], &[9; 16][..], &[8; 48][..]] {
                if params
                    == (Params::Cbc {
                        iv: [3; 16],
                        padding: true,
                    })
                    && ct.is_empty()
                {
                    continue;
                }
                let env = Envelope {
                    alg,
                    params,
                    ciphertext: ct,
                };
                let bytes = env.encode();
                assert_eq!(
                    bytes.len(),
                    Envelope::overhead(Kind::of(alg).unwrap()) + ct.len()
                );
                assert_eq!(Envelope::decode(&bytes), Ok(env), "{alg}");
            }
        }
    }

    #[test]
    fn truncated_envelopes_are_refused() {
        let bytes = aead_env(b"").encode();
        assert_eq!(bytes.len(), 34);
        for n in 0..bytes.len() {
            let err = Envelope::decode(&bytes[..n]).unwrap_err();
            match n {
                0..=2 => assert_eq!(err, EnvelopeError::BadMagic, "{n}"),
                3..=5 => assert_eq!(err, EnvelopeError::Truncated { have: n, need: 6 }),
                _ => assert_eq!(err, EnvelopeError::Truncated { have: n, need: 34 }),
            }
        }
        // Exactly the fixed part: an empty message, which is valid for AEAD.
        assert!(Envelope::decode(&bytes).is_ok());
        // AES-CBC: the IV alone is cut short, and padded data needs a block.
        let mut cbc = b"KVE1\x05\x00".to_vec();
        cbc.extend([0; 15]);
        assert_eq!(
            Envelope::decode(&cbc),
            Err(EnvelopeError::Truncated { have: 21, need: 22 })
        );
        cbc.push(0);
        assert_eq!(Envelope::decode(&cbc), Err(EnvelopeError::CbcLength(0)));
        cbc.extend([0; 17]);
        assert_eq!(Envelope::decode(&cbc), Err(EnvelopeError::CbcLength(17)));
    }

    #[test]
    fn bad_magic_version_algorithm_and_flags_are_refused() {
        let good = aead_env(b"data").encode();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            Envelope::decode(&v).map(|_| ()).unwrap_err()
        };
        assert_eq!(with(0, b'X'), EnvelopeError::BadMagic);
        assert_eq!(with(3, b'2'), EnvelopeError::Version(b'2'));
        assert_eq!(with(4, 0), EnvelopeError::UnknownAlgorithm(0));
        assert_eq!(with(4, 200), EnvelopeError::UnknownAlgorithm(200));
        assert_eq!(
            with(4, Algorithm::HmacSha256.to_raw() as u8),
            EnvelopeError::NotACipher(Algorithm::HmacSha256)
        );
        assert_eq!(with(5, 1), EnvelopeError::BadFlags(1));
        assert_eq!(with(5, 0x80), EnvelopeError::BadFlags(0x80));
        assert!(Envelope::decode(b"plain text, not an envelope").is_err());
        // Every message is readable.
        for e in [with(0, 0), with(3, 0), with(4, 9), with(5, 2)] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn a_key_of_another_algorithm_is_named_in_the_error() {
        let env = aead_env(b"");
        assert!(env.check_key(KeyId(7), Algorithm::Aes256Gcm).is_ok());
        let e = env.check_key(KeyId(7), Algorithm::Aes128Gcm).unwrap_err();
        assert_eq!(
            e,
            "key 7 is aes128-gcm, but the data was encrypted with an aes256-gcm key"
        );
        let e = env
            .check_key(KeyId(7), Algorithm::ChaCha20Poly1305)
            .unwrap_err();
        assert!(e.contains("key 7 is chacha20-poly1305"), "{e}");
        assert!(env.check_key(KeyId(7), Algorithm::Aes256Cbc).is_err());
    }

    #[test]
    fn the_encoding_of_an_envelope_is_detected() {
        let bytes = aead_env(b"some ciphertext").encode();
        for enc in [Encoding::Hex, Encoding::Base64] {
            let text = enc.text(&bytes).unwrap();
            assert_eq!(detect_encoding(text.as_bytes()), Some(enc));
            assert_eq!(
                detect_encoding(format!("\n {text}\n").as_bytes()),
                Some(enc)
            );
        }
        let upper = Encoding::Hex.text(&bytes).unwrap().to_uppercase();
        assert_eq!(detect_encoding(upper.as_bytes()), Some(Encoding::Hex));
        assert_eq!(detect_encoding(&bytes), Some(Encoding::Raw));
        assert_eq!(detect_encoding(b"KVS1\x02"), Some(Encoding::Raw));
        assert_eq!(detect_encoding(b"4B5653"), Some(Encoding::Hex));
        assert_eq!(detect_encoding(b"4b56"), None, "too short to tell");
        assert_eq!(detect_encoding(b"4b56533102000000"), Some(Encoding::Hex));
        assert_eq!(detect_encoding(b"S1ZTMQIAAAA="), Some(Encoding::Base64));
        assert_eq!(detect_encoding(b"hello"), None);
        assert_eq!(detect_encoding(b"  "), None);
        assert_eq!(detect_encoding(b""), None);
    }

    #[test]
    fn kinds_follow_the_algorithm() {
        assert_eq!(Kind::of(Algorithm::ChaCha20Poly1305), Some(Kind::Aead));
        assert_eq!(Kind::of(Algorithm::Aes128Cbc), Some(Kind::Cbc));
        assert_eq!(Kind::of(Algorithm::HmacSha512), None);
        assert_eq!(Kind::of(Algorithm::Ed25519), None);
    }
}
