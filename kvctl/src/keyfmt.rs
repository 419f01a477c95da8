//! Key formats: the private keys `import` reads (raw, hex, base64, PKCS#8
//! PEM/DER, OpenSSH, JWK) and the public key encodings `pubkey` writes and
//! `verify --pubkey` reads (SubjectPublicKeyInfo PEM/DER, OpenSSH, JWK).
//!
//! Pure functions, bytes in and bytes (or a message for the user) out; the
//! files, fds and terminal are the caller's. Every copy of secret bytes
//! made here is `Zeroizing`.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use keyvault::{Algorithm, PublicKey};
use pkcs8::der::asn1::{BitStringRef, OctetStringRef};
use pkcs8::der::{Decode, Document, EncodePem, SecretDocument};
use pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use pkcs8::{LineEnding, ObjectIdentifier, PrivateKeyInfo};
use serde_json::{json, Map, Value};
use ssh_key::private::KeypairData;
use ssh_key::public::{Ed25519PublicKey, KeyData};
use std::ops::RangeInclusive;
use zeroize::Zeroizing;

/// RFC 8410 algorithm identifiers.
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const X25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

/// JWK's base64url (RFC 7515 §2): no padding, but a padded value is
/// accepted rather than refused, since it means the same bytes.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Most bytes of a key file: no key format comes near it, and a larger
/// input (a wrong file, a device) is refused instead of read whole.
pub const MAX_KEY_FILE: usize = 64 << 10;

/// How `import` reads the key.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyFormat {
    /// Recognise PEM (PKCS#8, OpenSSH), JWK and PKCS#8 DER; anything else
    /// is raw bytes, but text that looks like hex or base64, or ends in a
    /// newline, is refused: say which with --format.
    #[default]
    Auto,
    /// The key bytes themselves (Ed25519: the 32-byte seed; X25519: the scalar).
    #[value(alias = "binary")]
    Raw,
    /// Hex (whitespace ignored).
    Hex,
    /// Standard base64 (whitespace ignored).
    Base64,
    /// A PKCS#8 private key, PEM (`BEGIN PRIVATE KEY`) or DER: Ed25519, X25519.
    Pkcs8,
    /// An OpenSSH private key (ssh-ed25519), passphrase-protected or not.
    Openssh,
    /// A JSON Web Key: kty "oct" (its "k") or kty "OKP", crv Ed25519 or X25519 (its "d").
    Jwk,
}

/// A private or secret key read from a file.
pub struct ParsedKey {
    /// The bytes `Vault::import` takes.
    pub secret: Zeroizing<Vec<u8>>,
    /// The public key the file states beside it (PKCS#8 v2, OpenSSH, a
    /// JWK's "x"), which the kernel's must equal.
    pub public: Option<PublicKey>,
    /// What the key was read as (for messages).
    pub format: &'static str,
}

/// Where the passphrase of an encrypted key comes from; asked only when one is.
pub type Passphrase<'a> = &'a mut dyn FnMut() -> Result<Zeroizing<Vec<u8>>, String>;

/// The key sizes of `alg` in bytes (libkeyvault's table, which a test
/// checks against the module's). Only to tell raw bytes from text here; the
/// kernel checks them again.
pub fn key_sizes(alg: Algorithm) -> RangeInclusive<usize> {
    let b = alg.key_bits();
    (b.min as usize / 8)..=(b.max as usize / 8)
}

fn sizes_text(alg: Algorithm) -> String {
    let s = key_sizes(alg);
    if s.start() == s.end() {
        format!("{} bytes", s.start())
    } else {
        format!("{} to {} bytes", s.start(), s.end())
    }
}

fn is_asymmetric(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::Ed25519 | Algorithm::X25519)
}

/// The RFC 8410 name and OID of an asymmetric algorithm.
fn curve(alg: Algorithm) -> Option<(&'static str, ObjectIdentifier)> {
    match alg {
        Algorithm::Ed25519 => Some(("Ed25519", ED25519_OID)),
        Algorithm::X25519 => Some(("X25519", X25519_OID)),
        _ => None,
    }
}

/// Reads `data` as a key of `alg` in `format`.
pub fn parse_private_key(
    alg: Algorithm,
    data: &[u8],
    format: KeyFormat,
    passphrase: Passphrase<'_>,
) -> Result<ParsedKey, String> {
    match format {
        KeyFormat::Auto => auto(alg, data, passphrase),
        KeyFormat::Raw => raw(alg, data),
        KeyFormat::Hex => text(alg, data, Text::Hex),
        KeyFormat::Base64 => text(alg, data, Text::Base64),
        KeyFormat::Pkcs8 => pkcs8(alg, data),
        KeyFormat::Openssh => openssh(alg, data, passphrase),
        KeyFormat::Jwk => jwk(alg, data),
    }
}

fn auto(alg: Algorithm, data: &[u8], passphrase: Passphrase<'_>) -> Result<ParsedKey, String> {
    let start = data.trim_ascii_start();
    if start.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----") {
        openssh(alg, data, passphrase)
    } else if start.starts_with(b"-----BEGIN ") {
        pkcs8(alg, data)
    } else if start.starts_with(b"{") {
        jwk(alg, data)
    } else if start.starts_with(b"ssh-") || start.starts_with(b"ecdsa-") {
        Err(
            "an OpenSSH public key: import needs the private key (id_ed25519, not id_ed25519.pub)"
                .into(),
        )
    } else if data.first() == Some(&0x30) && PrivateKeyInfo::from_der(data).is_ok() {
        pkcs8(alg, data)
    } else {
        unambiguous_raw(alg, data)
    }
}

/// Raw bytes, unless they are text that was more likely meant as hex or
/// base64 (it decodes to a key size, or its own length is not one), or
/// text ending in a newline (`echo secret |`): then the user says which.
fn unambiguous_raw(alg: Algorithm, data: &[u8]) -> Result<ParsedKey, String> {
    let is_text = !data.is_empty()
        && data
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if is_text {
        let sizes = key_sizes(alg);
        let fits = |decoded: usize| sizes.contains(&decoded) || !sizes.contains(&data.len());
        let stripped = without_whitespace(data);
        let n = data.len();
        if stripped.len() % 2 == 0
            && stripped.iter().all(u8::is_ascii_hexdigit)
            && fits(stripped.len() / 2)
        {
            return Err(format!(
                "the key looks like hex ({} hex digits, {} bytes): say --format hex to decode \
                 it, or --format raw to import these {n} bytes as they are",
                stripped.len(),
                stripped.len() / 2
            ));
        }
        if let Ok(decoded) = BASE64.decode(&*stripped).map(Zeroizing::new) {
            if fits(decoded.len()) {
                return Err(format!(
                    "the key looks like base64 ({} bytes decoded): say --format base64 to \
                     decode it, or --format raw to import these {n} bytes as they are",
                    decoded.len()
                ));
            }
        }
        if data.last().is_some_and(u8::is_ascii_whitespace) {
            return Err(format!(
                "the key is text ending in a newline or space ({n} bytes with it): write it \
                 without (printf %s, not echo), or say --format raw to import all {n} bytes"
            ));
        }
    }
    raw(alg, data)
}

fn check_size(alg: Algorithm, len: usize, what: &str) -> Result<(), String> {
    if key_sizes(alg).contains(&len) {
        Ok(())
    } else {
        Err(format!(
            "{what} is {len} bytes: an {alg} key is {}",
            sizes_text(alg)
        ))
    }
}

fn raw(alg: Algorithm, data: &[u8]) -> Result<ParsedKey, String> {
    check_size(alg, data.len(), "the key")?;
    Ok(ParsedKey {
        secret: Zeroizing::new(data.to_vec()),
        public: None,
        format: "raw",
    })
}

#[derive(Clone, Copy)]
enum Text {
    Hex,
    Base64,
}

fn without_whitespace(data: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(
        data.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    )
}

fn text(alg: Algorithm, data: &[u8], enc: Text) -> Result<ParsedKey, String> {
    let stripped = without_whitespace(data);
    let mut secret = Zeroizing::new(Vec::new());
    let format = match enc {
        Text::Hex => {
            secret.resize(stripped.len() / 2, 0);
            hex::decode_to_slice(&*stripped, &mut secret)
                .map_err(|e| format!("the key is not hex: {e}"))?;
            "hex"
        }
        Text::Base64 => {
            BASE64
                .decode_vec(&*stripped, &mut secret)
                .map_err(|e| format!("the key is not base64: {e}"))?;
            "base64"
        }
    };
    check_size(alg, secret.len(), &format!("the {format}-decoded key"))?;
    Ok(ParsedKey {
        secret,
        public: None,
        format,
    })
}

/// The RFC 8410 name of a PKCS#8/SPKI algorithm, for messages.
fn oid_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.110" => "X25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.3.101.111" => "X448".into(),
        "1.2.840.113549.1.1.1" => "RSA".into(),
        "1.2.840.10045.2.1" => "EC".into(),
        other => format!("OID {other}"),
    }
}

/// The keyvault algorithm of an RFC 8410 OID, if it has one.
fn oid_alg(oid: ObjectIdentifier) -> Option<Algorithm> {
    [Algorithm::Ed25519, Algorithm::X25519]
        .into_iter()
        .find(|a| curve(*a).is_some_and(|(_, o)| o == oid))
}

/// Refuses a key of `found` (named `what`, e.g. "an Ed25519 private key
/// (PKCS#8)") when `alg` was asked for.
fn check_alg(alg: Algorithm, found: Algorithm, what: &str) -> Result<(), String> {
    if alg == found {
        Ok(())
    } else {
        Err(format!(
            "the key is {what}, not {alg}: import it as {found}"
        ))
    }
}

fn key32(bytes: &[u8], what: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    if bytes.len() != 32 {
        return Err(format!("{what} is {} bytes, not 32", bytes.len()));
    }
    Ok(Zeroizing::new(bytes.to_vec()))
}

fn pkcs8(alg: Algorithm, data: &[u8]) -> Result<ParsedKey, String> {
    if !data.trim_ascii_start().starts_with(b"-----BEGIN ") {
        return pkcs8_der(alg, data);
    }
    let text = std::str::from_utf8(data).map_err(|_| "PEM: not text")?;
    let (label, doc) = SecretDocument::from_pem(text.trim()).map_err(|e| format!("PEM: {e}"))?;
    match label {
        "PRIVATE KEY" => pkcs8_der(alg, doc.as_bytes()),
        "ENCRYPTED PRIVATE KEY" => Err(
            "an encrypted PKCS#8 key: kvctl reads unencrypted ones; decrypt it into a pipe, \
             e.g. openssl pkey -in KEY | kvctl import ALG --key-file -"
                .into(),
        ),
        "PUBLIC KEY" => {
            Err("a public key (SubjectPublicKeyInfo): import needs the private key".into())
        }
        other => Err(format!(
            "a PEM '{other}': kvctl reads 'PRIVATE KEY' (PKCS#8) and 'OPENSSH PRIVATE KEY'"
        )),
    }
}

fn pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<ParsedKey, String> {
    let info =
        PrivateKeyInfo::from_der(der).map_err(|e| format!("not a PKCS#8 private key: {e}"))?;
    let oid = info.algorithm.oid;
    let Some(found) = oid_alg(oid) else {
        return Err(format!(
            "a PKCS#8 {} key: keyvault imports Ed25519 and X25519 private keys",
            oid_name(oid)
        ));
    };
    let what = format!("an {} private key (PKCS#8)", oid_name(oid));
    if !is_asymmetric(alg) {
        return Err(format!(
            "the key is {what}, not {alg}: {alg} keys are raw, hex, base64 or JWK (kty oct)"
        ));
    }
    check_alg(alg, found, &what)?;
    if info.algorithm.parameters.is_some() {
        return Err("PKCS#8: an RFC 8410 key has no algorithm parameters".into());
    }
    // RFC 8410 §7: privateKey holds CurvePrivateKey ::= OCTET STRING.
    let inner = OctetStringRef::from_der(info.private_key)
        .map_err(|e| format!("PKCS#8: the private key is not an OCTET STRING: {e}"))?;
    let secret = key32(inner.as_bytes(), "the PKCS#8 private key")?;
    let public = info
        .public_key
        .map(|p| <PublicKey>::try_from(p).map_err(|_| "PKCS#8: the public key is not 32 bytes"))
        .transpose()?;
    Ok(ParsedKey {
        secret,
        public,
        format: "PKCS#8",
    })
}

fn openssh(alg: Algorithm, data: &[u8], passphrase: Passphrase<'_>) -> Result<ParsedKey, String> {
    let text = std::str::from_utf8(data).map_err(|_| "OpenSSH private key: not text")?;
    let mut key = ssh_key::PrivateKey::from_openssh(text.trim())
        .map_err(|e| format!("not an OpenSSH private key: {e}"))?;
    if key.algorithm() != ssh_key::Algorithm::Ed25519 {
        return Err(format!(
            "an OpenSSH {} key: keyvault imports ssh-ed25519 private keys",
            key.algorithm()
        ));
    }
    check_alg(
        alg,
        Algorithm::Ed25519,
        "an OpenSSH ssh-ed25519 private key",
    )?;
    if key.is_encrypted() {
        let pass = passphrase()?;
        key = key
            .decrypt(&*pass)
            .map_err(|e| format!("the OpenSSH key does not open with this passphrase ({e})"))?;
    }
    let KeypairData::Ed25519(pair) = key.key_data() else {
        return Err("OpenSSH: an ssh-ed25519 key without Ed25519 key data".into());
    };
    Ok(ParsedKey {
        secret: Zeroizing::new(Zeroizing::new(pair.private.to_bytes()).to_vec()),
        public: Some(pair.public.0),
        format: "OpenSSH",
    })
}

/// JOSE "alg" values (RFC 7518, RFC 8037, RFC 9864) and the keyvault
/// algorithm they fit.
fn jose_alg_fits(jose: &str, alg: Algorithm) -> bool {
    use Algorithm::*;
    matches!(
        (jose, alg),
        ("HS256", HmacSha256)
            | ("HS512", HmacSha512)
            | ("A128GCM", Aes128Gcm)
            | ("A256GCM", Aes256Gcm)
            | ("EdDSA" | "Ed25519", Ed25519)
            | (
                "ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A192KW" | "ECDH-ES+A256KW",
                X25519
            )
    )
}

/// A JWK member that must be a string, if present.
fn jwk_str<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("JWK: \"{name}\" is not a string")),
    }
}

/// A secret JWK member ("k", "d"), taken out of the object so that its
/// text is wiped after decoding, and base64url-decoded.
fn jwk_secret(
    jwk: &mut Map<String, Value>,
    name: &str,
    missing: &str,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let text = match jwk.remove(name) {
        Some(Value::String(s)) => Zeroizing::new(s),
        Some(_) => return Err(format!("JWK: \"{name}\" is not a string")),
        None => return Err(missing.into()),
    };
    let mut out = Zeroizing::new(Vec::new());
    BASE64URL
        .decode_vec(text.as_bytes(), &mut out)
        .map_err(|e| format!("JWK: \"{name}\" is not base64url: {e}"))?;
    Ok(out)
}

// JWK is JSON with base64url members (RFC 7517/7518/8037); no maintained
// JOSE crate reads "oct" and "OKP" private keys without pulling a whole JWT
// stack, so serde_json and base64 (already kvctl's) read the four members
// that matter.
fn jwk(alg: Algorithm, data: &[u8]) -> Result<ParsedKey, String> {
    let value: Value = serde_json::from_slice(data).map_err(|e| format!("JWK: not JSON: {e}"))?;
    let Value::Object(mut jwk) = value else {
        return Err("JWK: not a JSON object".into());
    };
    if jwk.contains_key("keys") {
        return Err("a JWK set: give one of its keys (jq '.keys[N]')".into());
    }
    let kty = jwk_str(&jwk, "kty")?.ok_or("JWK: no \"kty\"")?.to_string();
    let check_jose = |jwk: &Map<String, Value>| match jwk_str(jwk, "alg")? {
        Some(jose) if !jose_alg_fits(jose, alg) => {
            Err(format!("the JWK is for alg {jose}, not {alg}"))
        }
        _ => Ok(()),
    };
    match kty.as_str() {
        "oct" => {
            if is_asymmetric(alg) {
                return Err(format!(
                    "the JWK is a symmetric key (kty oct), not {alg}: {alg} keys are kty OKP"
                ));
            }
            check_jose(&jwk)?;
            let secret = jwk_secret(&mut jwk, "k", "JWK: kty oct without \"k\"")?;
            check_size(alg, secret.len(), "the JWK's \"k\"")?;
            Ok(ParsedKey {
                secret,
                public: None,
                format: "JWK",
            })
        }
        "OKP" => {
            let crv = jwk_str(&jwk, "crv")?.ok_or("JWK: kty OKP without \"crv\"")?;
            let found = match crv {
                "Ed25519" => Algorithm::Ed25519,
                "X25519" => Algorithm::X25519,
                other => {
                    return Err(format!(
                        "a JWK of crv {other}: keyvault imports Ed25519 and X25519"
                    ))
                }
            };
            if !is_asymmetric(alg) {
                return Err(format!(
                    "the JWK is an {crv} key (kty OKP), not {alg}: {alg} keys are kty oct"
                ));
            }
            check_alg(alg, found, &format!("an {crv} JWK"))?;
            check_jose(&jwk)?;
            let public = match jwk_str(&jwk, "x")? {
                None => None,
                Some(x) => {
                    let bytes = BASE64URL
                        .decode(x)
                        .map_err(|e| format!("JWK: \"x\" is not base64url: {e}"))?;
                    Some(
                        PublicKey::try_from(bytes.as_slice())
                            .map_err(|_| "JWK: \"x\" is not 32 bytes")?,
                    )
                }
            };
            let d = jwk_secret(
                &mut jwk,
                "d",
                "the JWK has no \"d\": it is a public key, and import needs the private key",
            )?;
            Ok(ParsedKey {
                secret: key32(&d, "the JWK's \"d\"")?,
                public,
                format: "JWK",
            })
        }
        other => Err(format!(
            "a JWK of kty {other}: keyvault imports kty oct and OKP (Ed25519, X25519)"
        )),
    }
}

/// The SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`, RFC 8410) of an
/// Ed25519 or X25519 public key.
pub fn spki_pem(alg: Algorithm, public: &PublicKey) -> Result<String, String> {
    let (_, oid) = curve(alg).ok_or_else(|| format!("{alg} keys have no public key"))?;
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid,
            parameters: None,
        },
        subject_public_key: BitStringRef::from_bytes(public).map_err(|e| e.to_string())?,
    };
    spki.to_pem(LineEnding::LF).map_err(|e| format!("PEM: {e}"))
}

/// The algorithm and key of a SubjectPublicKeyInfo, PEM or DER.
pub fn public_from_spki(data: &[u8]) -> Result<(Algorithm, PublicKey), String> {
    let pem;
    let der = if data.trim_ascii_start().starts_with(b"-----BEGIN ") {
        let text = std::str::from_utf8(data).map_err(|_| "PEM: not text")?;
        let (label, doc) = Document::from_pem(text.trim()).map_err(|e| format!("PEM: {e}"))?;
        if label != "PUBLIC KEY" {
            return Err(format!("a PEM '{label}', not a 'PUBLIC KEY'"));
        }
        pem = doc;
        pem.as_bytes()
    } else {
        data
    };
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
    let oid = spki.algorithm.oid;
    let alg = oid_alg(oid).ok_or_else(|| {
        format!(
            "a {} public key: keyvault has Ed25519 and X25519 keys",
            oid_name(oid)
        )
    })?;
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or("SubjectPublicKeyInfo: the key is not whole bytes")?;
    let public =
        PublicKey::try_from(bytes).map_err(|_| "SubjectPublicKeyInfo: not a 32-byte key")?;
    Ok((alg, public))
}

/// The OpenSSH public key line of an Ed25519 key (`ssh-ed25519 AAAA...
/// [comment]`, as in `authorized_keys` and `*.pub`).
pub fn openssh_public(public: &PublicKey, comment: Option<&str>) -> Result<String, String> {
    ssh_key::PublicKey::new(
        KeyData::Ed25519(Ed25519PublicKey(*public)),
        comment.unwrap_or_default(),
    )
    .to_openssh()
    .map_err(|e| format!("OpenSSH public key: {e}"))
}

/// The Ed25519 key of an OpenSSH public key line.
pub fn public_from_openssh(line: &str) -> Result<PublicKey, String> {
    let key =
        ssh_key::PublicKey::from_openssh(line.trim()).map_err(|e| format!("OpenSSH key: {e}"))?;
    match key.key_data() {
        KeyData::Ed25519(k) => Ok(k.0),
        other => Err(format!(
            "an OpenSSH {} key: kvctl checks ssh-ed25519 keys",
            other.algorithm()
        )),
    }
}

/// The public JWK (RFC 8037: kty OKP) of an Ed25519 or X25519 key.
pub fn jwk_public(alg: Algorithm, public: &PublicKey) -> Result<Value, String> {
    let (crv, _) = curve(alg).ok_or_else(|| format!("{alg} keys have no public key"))?;
    Ok(json!({ "kty": "OKP", "crv": crv, "x": BASE64URL.encode(public) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    use rand_core::OsRng;

    fn no_passphrase() -> Result<Zeroizing<Vec<u8>>, String> {
        panic!("no passphrase was expected")
    }

    fn parse(alg: Algorithm, data: &[u8], format: KeyFormat) -> Result<ParsedKey, String> {
        parse_private_key(alg, data, format, &mut no_passphrase)
    }

    fn refused(alg: Algorithm, data: &[u8], format: KeyFormat) -> String {
        parse(alg, data, format).err().expect("refused")
    }

    fn ed25519() -> ed25519_dalek::SigningKey {
        let mut seed = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut seed);
        ed25519_dalek::SigningKey::from_bytes(&seed)
    }

    /// An X25519 key's PKCS#8 DER, built with the `pkcs8` crate (x25519-dalek has no PKCS#8).
    fn x25519_pkcs8(secret: &x25519_dalek::StaticSecret) -> Vec<u8> {
        use pkcs8::der::Encode;
        let inner = OctetStringRef::new(secret.as_bytes())
            .unwrap()
            .to_der()
            .unwrap();
        PrivateKeyInfo {
            algorithm: AlgorithmIdentifierRef {
                oid: X25519_OID,
                parameters: None,
            },
            private_key: &inner,
            public_key: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn ed25519_pkcs8_pem_and_der_give_the_seed_and_public_key() {
        let sk = ed25519();
        let der = sk.to_pkcs8_der().unwrap();
        let pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
        for (data, format) in [
            (der.as_bytes(), KeyFormat::Auto),
            (der.as_bytes(), KeyFormat::Pkcs8),
            (pem.as_bytes(), KeyFormat::Auto),
            (pem.as_bytes(), KeyFormat::Pkcs8),
        ] {
            let k = parse(Algorithm::Ed25519, data, format).unwrap();
            assert_eq!(&*k.secret, sk.as_bytes());
            assert_eq!(k.format, "PKCS#8");
        }
        // v2 (OneAsymmetricKey) with the public key beside it.
        let pair = ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: sk.to_bytes(),
            public_key: Some(ed25519_dalek::pkcs8::PublicKeyBytes(
                sk.verifying_key().to_bytes(),
            )),
        };
        let v2 = pair.to_pkcs8_der().unwrap();
        let k = parse(Algorithm::Ed25519, v2.as_bytes(), KeyFormat::Auto).unwrap();
        assert_eq!(k.public, Some(sk.verifying_key().to_bytes()));
    }

    #[test]
    fn x25519_pkcs8_is_read_and_a_curve_mismatch_names_both() {
        let secret = x25519_dalek::StaticSecret::random_from_rng(OsRng);
        let der = x25519_pkcs8(&secret);
        let k = parse(Algorithm::X25519, &der, KeyFormat::Auto).unwrap();
        assert_eq!(&*k.secret, secret.as_bytes());
        let e = refused(Algorithm::Ed25519, &der, KeyFormat::Auto);
        assert!(
            e.contains("X25519 private key") && e.contains("not ed25519"),
            "{e}"
        );
        let pem = ed25519().to_pkcs8_pem(LineEnding::LF).unwrap();
        let e = refused(Algorithm::X25519, pem.as_bytes(), KeyFormat::Auto);
        assert!(
            e.contains("Ed25519 private key (PKCS#8), not x25519: import it as ed25519"),
            "{e}"
        );
        let e = refused(Algorithm::HmacSha256, pem.as_bytes(), KeyFormat::Auto);
        assert!(e.contains("not hmac-sha256"), "{e}");
    }

    #[test]
    fn pem_that_is_not_a_plain_private_key_is_refused_by_name() {
        let public = ed25519()
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let e = refused(Algorithm::Ed25519, public.as_bytes(), KeyFormat::Auto);
        assert!(e.contains("a public key"), "{e}");
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = refused(Algorithm::Ed25519, enc.as_bytes(), KeyFormat::Auto);
        assert!(e.contains("encrypted PKCS#8"), "{e}");
        let e = refused(
            Algorithm::Ed25519,
            b"-----BEGIN PRIVATE KEY-----\n!!\n",
            KeyFormat::Auto,
        );
        assert!(e.starts_with("PEM:"), "{e}");
        let e = refused(
            Algorithm::Ed25519,
            b"\x30\x03\x02\x01\x00",
            KeyFormat::Pkcs8,
        );
        assert!(e.contains("not a PKCS#8 private key"), "{e}");
    }

    fn openssh_key(sk: &ed25519_dalek::SigningKey) -> ssh_key::PrivateKey {
        let pair = ssh_key::private::Ed25519Keypair::from_seed(sk.as_bytes());
        ssh_key::PrivateKey::new(KeypairData::Ed25519(pair), "test@host").unwrap()
    }

    #[test]
    fn openssh_private_keys_open_with_and_without_a_passphrase() {
        let sk = ed25519();
        let key = openssh_key(&sk);
        let plain = key.to_openssh(LineEnding::LF).unwrap();
        let k = parse(Algorithm::Ed25519, plain.as_bytes(), KeyFormat::Auto).unwrap();
        assert_eq!(&*k.secret, sk.as_bytes());
        assert_eq!(k.public, Some(sk.verifying_key().to_bytes()));

        let locked = key
            .encrypt(&mut OsRng, "hunter2")
            .unwrap()
            .to_openssh(LineEnding::LF)
            .unwrap();
        let mut asked = 0;
        let mut pass = || {
            asked += 1;
            Ok(Zeroizing::new(b"hunter2".to_vec()))
        };
        let k = parse_private_key(
            Algorithm::Ed25519,
            locked.as_bytes(),
            KeyFormat::Openssh,
            &mut pass,
        )
        .unwrap();
        assert_eq!(&*k.secret, sk.as_bytes());
        assert_eq!(asked, 1);
        let mut wrong = || Ok(Zeroizing::new(b"hunter3".to_vec()));
        let e = parse_private_key(
            Algorithm::Ed25519,
            locked.as_bytes(),
            KeyFormat::Auto,
            &mut wrong,
        )
        .err()
        .unwrap();
        assert!(e.contains("does not open with this passphrase"), "{e}");
        let mut none = || Err("no passphrase given".to_string());
        let e = parse_private_key(
            Algorithm::Ed25519,
            locked.as_bytes(),
            KeyFormat::Auto,
            &mut none,
        )
        .err()
        .unwrap();
        assert_eq!(e, "no passphrase given");
        // The algorithm is checked before the passphrase is asked for.
        let e = refused(Algorithm::X25519, locked.as_bytes(), KeyFormat::Auto);
        assert!(e.contains("ssh-ed25519 private key, not x25519"), "{e}");
        let e = refused(
            Algorithm::Ed25519,
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
            KeyFormat::Auto,
        );
        assert!(e.contains("not an OpenSSH private key"), "{e}");
    }

    #[test]
    fn jwks_of_kty_oct_and_okp_are_read_and_checked() {
        let sk = ed25519();
        let d = BASE64URL.encode(sk.as_bytes());
        let x = BASE64URL.encode(sk.verifying_key().as_bytes());
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","alg":"EdDSA"}}"#);
        let k = parse(Algorithm::Ed25519, jwk.as_bytes(), KeyFormat::Auto).unwrap();
        assert_eq!(&*k.secret, sk.as_bytes());
        assert_eq!(k.public, Some(sk.verifying_key().to_bytes()));
        let e = refused(Algorithm::X25519, jwk.as_bytes(), KeyFormat::Jwk);
        assert!(
            e.contains("an Ed25519 JWK, not x25519: import it as ed25519"),
            "{e}"
        );
        let odd = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}","alg":"ECDH-ES"}}"#);
        let e = refused(Algorithm::Ed25519, odd.as_bytes(), KeyFormat::Jwk);
        assert!(e.contains("for alg ECDH-ES, not ed25519"), "{e}");
        let no_alg = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{d}"}}"#);
        let e = refused(Algorithm::X25519, no_alg.as_bytes(), KeyFormat::Jwk);
        assert!(e.contains("an Ed25519 JWK, not x25519"), "{e}");
        let public = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#);
        let e = refused(Algorithm::Ed25519, public.as_bytes(), KeyFormat::Jwk);
        assert!(e.contains("no \"d\""), "{e}");

        let xs = x25519_dalek::StaticSecret::random_from_rng(OsRng);
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"X25519","d":"{}"}}"#,
            BASE64URL.encode(xs.as_bytes())
        );
        let k = parse(Algorithm::X25519, jwk.as_bytes(), KeyFormat::Auto).unwrap();
        assert_eq!(&*k.secret, xs.as_bytes());

        let secret = [7u8; 32];
        let k64 = BASE64URL.encode(secret);
        let oct = format!(r#"{{"kty":"oct","k":"{k64}","alg":"HS256"}}"#);
        let k = parse(Algorithm::HmacSha256, oct.as_bytes(), KeyFormat::Auto).unwrap();
        assert_eq!(&*k.secret, &secret);
        let e = refused(Algorithm::HmacSha512, oct.as_bytes(), KeyFormat::Auto);
        assert!(e.contains("for alg HS256, not hmac-sha512"), "{e}");
        let e = refused(
            Algorithm::Aes128Gcm,
            format!(r#"{{"kty":"oct","k":"{k64}"}}"#).as_bytes(),
            KeyFormat::Jwk,
        );
        assert!(e.contains("32 bytes: an aes128-gcm key is 16 bytes"), "{e}");
        let e = refused(Algorithm::Ed25519, oct.as_bytes(), KeyFormat::Jwk);
        assert!(e.contains("kty oct"), "{e}");
        for (bad, says) in [
            ("[1]", "not a JSON object"),
            ("{", "not JSON"),
            (r#"{"keys":[]}"#, "JWK set"),
            (r#"{"kty":"RSA"}"#, "kty RSA"),
            (r#"{"kty":"oct","k":"!!"}"#, "not base64url"),
            (r#"{"kty":"oct","k":7}"#, "not a string"),
            (r#"{"kty":"OKP","crv":"Ed448","d":"AA"}"#, "crv Ed448"),
        ] {
            let e = refused(Algorithm::HmacSha256, bad.as_bytes(), KeyFormat::Jwk);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn hex_base64_and_raw_give_the_same_bytes() {
        let key: Vec<u8> = (0..32).collect();
        let hex = format!("{}\n", hex::encode(&key));
        let b64 = format!("{}\n", BASE64.encode(&key));
        for (data, format) in [
            (hex.as_bytes(), KeyFormat::Hex),
            (b64.as_bytes(), KeyFormat::Base64),
            (&key[..], KeyFormat::Raw),
            (&key[..], KeyFormat::Auto),
        ] {
            let k = parse(Algorithm::HmacSha256, data, format).unwrap();
            assert_eq!(&*k.secret, &key, "{format:?}");
        }
        let e = refused(Algorithm::Aes128Gcm, hex.as_bytes(), KeyFormat::Hex);
        assert_eq!(
            e,
            "the hex-decoded key is 32 bytes: an aes128-gcm key is 16 bytes"
        );
        assert!(refused(Algorithm::HmacSha256, b"zz", KeyFormat::Hex).contains("not hex"));
        assert!(refused(Algorithm::HmacSha256, b"@@@@", KeyFormat::Base64).contains("not base64"));
        let e = refused(Algorithm::HmacSha256, b"short", KeyFormat::Raw);
        assert_eq!(
            e,
            "the key is 5 bytes: an hmac-sha256 key is 16 to 64 bytes"
        );
    }

    #[test]
    fn text_that_looks_like_hex_or_base64_is_refused_in_auto_mode() {
        let key: Vec<u8> = (0..32).collect();
        let hex = hex::encode(&key);
        for data in [hex.clone(), format!("{hex}\n")] {
            let e = refused(Algorithm::HmacSha256, data.as_bytes(), KeyFormat::Auto);
            assert!(
                e.contains("looks like hex") && e.contains("--format hex"),
                "{e}"
            );
            // For a 32-byte-only algorithm, 64 characters are not a raw size.
            let e = refused(Algorithm::Aes256Gcm, data.as_bytes(), KeyFormat::Auto);
            assert!(e.contains("--format raw"), "{e}");
        }
        let b64 = format!("{}\n", BASE64.encode(&key));
        let e = refused(Algorithm::HmacSha512, b64.as_bytes(), KeyFormat::Auto);
        assert!(e.contains("looks like base64 (32 bytes decoded)"), "{e}");
        let e = refused(
            Algorithm::HmacSha256,
            b"a shared secret, typed\n",
            KeyFormat::Auto,
        );
        assert!(
            e.contains("ending in a newline") && e.contains("printf %s"),
            "{e}"
        );
        // Said explicitly, they are what they are.
        let k = parse(
            Algorithm::HmacSha256,
            b"a shared secret, typed\n",
            KeyFormat::Raw,
        )
        .unwrap();
        assert_eq!(k.secret.len(), 23);
        let k = parse(Algorithm::HmacSha256, hex.as_bytes(), KeyFormat::Raw).unwrap();
        assert_eq!(&*k.secret, hex.as_bytes());
        // Text that is neither, of a raw key size, is a raw key.
        let k = parse(
            Algorithm::HmacSha256,
            b"a shared secret, typed",
            KeyFormat::Auto,
        )
        .unwrap();
        assert_eq!(&*k.secret, b"a shared secret, typed");
        // 32 hex digits are 16 bytes, not an Ed25519 key: the 32 characters are the seed.
        let seed = "0123456789abcdef0123456789abcdef";
        let k = parse(Algorithm::Ed25519, seed.as_bytes(), KeyFormat::Auto).unwrap();
        assert_eq!(&*k.secret, seed.as_bytes());
        let e = refused(
            Algorithm::Ed25519,
            b"ssh-ed25519 AAAAC3Nz me",
            KeyFormat::Auto,
        );
        assert!(e.contains("OpenSSH public key"), "{e}");
    }

    #[test]
    fn public_keys_round_trip_through_spki_openssh_and_jwk() {
        let sk = ed25519();
        let public = sk.verifying_key().to_bytes();
        let pem = spki_pem(Algorithm::Ed25519, &public).unwrap();
        assert_eq!(
            pem,
            sk.verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
        );
        assert_eq!(
            public_from_spki(pem.as_bytes()),
            Ok((Algorithm::Ed25519, public))
        );
        let der = sk.verifying_key().to_public_key_der().unwrap();
        assert_eq!(
            public_from_spki(der.as_bytes()),
            Ok((Algorithm::Ed25519, public))
        );

        let xs = x25519_dalek::StaticSecret::random_from_rng(OsRng);
        let xp = x25519_dalek::PublicKey::from(&xs).to_bytes();
        let pem = spki_pem(Algorithm::X25519, &xp).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEA"),
            "{pem}"
        );
        assert_eq!(
            public_from_spki(pem.as_bytes()),
            Ok((Algorithm::X25519, xp))
        );
        assert!(spki_pem(Algorithm::HmacSha256, &xp).is_err());
        assert!(public_from_spki(b"\x30\x00").is_err());

        let reference = openssh_key(&sk).public_key().to_openssh().unwrap();
        let line = openssh_public(&public, Some("test@host")).unwrap();
        assert_eq!(line, reference);
        assert_eq!(public_from_openssh(&line), Ok(public));
        assert!(openssh_public(&public, None).unwrap().split(' ').count() == 2);
        assert!(public_from_openssh("ssh-ed25519 AAAA").is_err());

        let jwk = jwk_public(Algorithm::X25519, &xp).unwrap();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "X25519");
        assert_eq!(BASE64URL.decode(jwk["x"].as_str().unwrap()).unwrap(), xp);
        assert!(!jwk["x"].as_str().unwrap().contains('='));
    }
}
