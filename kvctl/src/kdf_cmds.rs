//! New keys from old ones, in the kernel: `derive` (HKDF from a vault key)
//! and `exchange` (X25519 with a peer's public key, then HKDF).

use crate::asym_cmds::{decode_fixed, parse_peer};
use crate::fail::Fail;
use crate::{PolicyArgs, Session};
use keyvault::{Algorithm, HashAlg, Kdf, KeyId, PublicKey};
use std::path::PathBuf;

/// Bytes given as hex (a type of its own: clap would take a `Vec<u8>` as
/// many values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

fn parse_hex(s: &str) -> Result<HexBytes, String> {
    hex::decode(s.trim())
        .map(HexBytes)
        .map_err(|e| format!("bad hex: {e}"))
}

/// The new key's shape and how HKDF makes it (shared by `derive` and `exchange`).
#[derive(clap::Args, Clone, Debug)]
pub struct KdfArgs {
    /// Algorithm of the new key: a symmetric one (AEAD, AES-CBC or HMAC).
    #[arg(long, value_name = "ALG")]
    pub to: Algorithm,
    /// Size of the new key in bits (default: the algorithm's).
    #[arg(long, default_value_t = 0)]
    pub bits: u32,
    /// HKDF hash: sha256 or sha512.
    #[arg(long, default_value = "sha256")]
    pub hash: HashAlg,
    /// HKDF salt, as a string (default: none).
    #[arg(long, value_name = "STR", conflicts_with = "salt_hex")]
    pub salt: Option<String>,
    /// HKDF salt, as hex.
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub salt_hex: Option<HexBytes>,
    /// HKDF info: what the new key is for, as a string (default: none).
    #[arg(long, value_name = "STR", conflicts_with = "info_hex")]
    pub info: Option<String>,
    /// HKDF info, as hex.
    #[arg(long, value_name = "HEX", value_parser = parse_hex)]
    pub info_hex: Option<HexBytes>,
    /// The new key's policy (without --ttl it expires with its parent).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl KdfArgs {
    fn salt(&self) -> &[u8] {
        self.salt
            .as_deref()
            .map(str::as_bytes)
            .or(self.salt_hex.as_ref().map(|h| h.0.as_slice()))
            .unwrap_or_default()
    }

    fn info(&self) -> &[u8] {
        self.info
            .as_deref()
            .map(str::as_bytes)
            .or(self.info_hex.as_ref().map(|h| h.0.as_slice()))
            .unwrap_or_default()
    }

    /// The HKDF parameters, checked for what the kernel would refuse.
    fn kdf(&self) -> Result<Kdf<'_>, String> {
        if matches!(self.to, Algorithm::Ed25519 | Algorithm::X25519) {
            return Err(format!(
                "--to {}: a derived key is symmetric (AEAD, AES-CBC or HMAC); \
                 make {} keys with genkey or import",
                self.to, self.to
            ));
        }
        for (what, bytes) in [("salt", self.salt()), ("info", self.info())] {
            if bytes.len() > Kdf::MAX_INPUT {
                return Err(format!(
                    "the {what} is {} bytes; HKDF here takes at most {}",
                    bytes.len(),
                    Kdf::MAX_INPUT
                ));
            }
        }
        Ok(Kdf {
            hash: self.hash,
            salt: self.salt(),
            info: self.info(),
        })
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct DeriveArgs {
    /// The parent key (one whose usage allows derive, e.g. an HMAC key).
    pub id: KeyId,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(clap::Args, Clone, Debug)]
pub struct ExchangeArgs {
    /// Our X25519 key.
    pub id: KeyId,
    /// The peer's X25519 public key (32 bytes): hex or base64.
    #[arg(
        long,
        value_name = "KEY",
        value_parser = parse_peer,
        conflicts_with = "peer_file",
        required_unless_present = "peer_file"
    )]
    pub peer: Option<PublicKey>,
    /// Read the peer's public key from FILE (32 raw bytes, hex or base64,
    /// as `kvctl pubkey` writes it).
    #[arg(long, value_name = "FILE")]
    pub peer_file: Option<PathBuf>,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

impl Session {
    pub(crate) fn derive(&mut self, a: &DeriveArgs) -> Result<(), Fail> {
        let kdf = a.kdf.kdf()?;
        let opts = a.kdf.policy.options(a.kdf.bits);
        let id = self.vault.derive(a.id, &kdf, a.kdf.to, &opts)?;
        self.made(id)
    }

    pub(crate) fn exchange(&mut self, a: &ExchangeArgs) -> Result<(), Fail> {
        let kdf = a.kdf.kdf()?;
        let peer = match (a.peer, a.peer_file.as_deref()) {
            (Some(p), _) => p,
            (None, Some(f)) => decode_fixed(&self.read(Some(f))?, true)
                .map_err(|e| format!("the peer's public key in {}: {e}", f.display()))?,
            (None, None) => {
                return Err(Fail::usage(
                    "give the peer's public key with --peer or --peer-file",
                ))
            }
        };
        let opts = a.kdf.policy.options(a.kdf.bits);
        let id = self.vault.exchange(a.id, &peer, &kdf, a.kdf.to, &opts)?;
        self.made(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args as parse, Cmd};
    use keyvault::Caps;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn derive_parses_with_defaults_and_options() {
        let Cmd::Derive(a) = parse(&["derive", "5", "--to", "aes256-gcm"]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.id, a.kdf.to, a.kdf.bits),
            (KeyId(5), Algorithm::Aes256Gcm, 0)
        );
        let kdf = a.kdf.kdf().unwrap();
        assert_eq!(kdf, Kdf::default());
        assert_eq!(a.kdf.policy.options(0), keyvault::KeyOptions::default());

        let Cmd::Derive(a) = parse(&[
            "derive",
            "5",
            "--to",
            "hmac-sha512",
            "--bits",
            "512",
            "--hash",
            "sha512",
            "--salt",
            "v1",
            "--info-hex",
            "00ff",
            "--ttl",
            "1h",
            "--usage",
            "mac",
            "--max-uses",
            "10",
        ])
        .unwrap() else {
            panic!()
        };
        let kdf = a.kdf.kdf().unwrap();
        assert_eq!(
            (kdf.hash, kdf.salt, kdf.info),
            (HashAlg::Sha512, &b"v1"[..], &[0, 0xff][..])
        );
        let opts = a.kdf.policy.options(a.kdf.bits);
        assert_eq!(opts.bits, 512);
        assert_eq!(opts.ttl, Some(Duration::from_secs(3600)));
        assert_eq!((opts.usage, opts.max_uses), (Caps::MAC, 10));

        let Cmd::Derive(a) = parse(&[
            "derive",
            "5",
            "--to",
            "aes128-cbc",
            "--salt-hex",
            "0102",
            "--info",
            "x",
        ])
        .unwrap() else {
            panic!()
        };
        let kdf = a.kdf.kdf().unwrap();
        assert_eq!((kdf.salt, kdf.info), (&[1, 2][..], &b"x"[..]));
    }

    #[test]
    fn derive_refuses_bad_or_conflicting_options() {
        assert!(parse(&["derive", "5"]).is_err());
        assert!(parse(&["derive", "5", "--to", "rot13"]).is_err());
        assert!(parse(&["derive", "5", "--to", "aes256-gcm", "--hash", "md5"]).is_err());
        assert!(parse(&[
            "derive",
            "5",
            "--to",
            "aes256-gcm",
            "--salt",
            "a",
            "--salt-hex",
            "00"
        ])
        .is_err());
        assert!(parse(&[
            "derive",
            "5",
            "--to",
            "aes256-gcm",
            "--info",
            "a",
            "--info-hex",
            "00"
        ])
        .is_err());
        assert!(
            parse(&["derive", "5", "--to", "aes256-gcm", "--info-hex", "0"])
                .unwrap_err()
                .contains("bad hex")
        );
        // Refused before the kernel, with the reason.
        let Cmd::Derive(a) = parse(&["derive", "5", "--to", "x25519"]).unwrap() else {
            panic!()
        };
        assert!(a.kdf.kdf().unwrap_err().contains("symmetric"));
        let long = "a".repeat(Kdf::MAX_INPUT + 1);
        let Cmd::Derive(a) =
            parse(&["derive", "5", "--to", "aes256-gcm", "--info", &long]).unwrap()
        else {
            panic!()
        };
        assert!(a.kdf.kdf().unwrap_err().contains("info is 1025 bytes"));
        let ok = "a".repeat(Kdf::MAX_INPUT);
        let Cmd::Derive(a) = parse(&["derive", "5", "--to", "aes256-gcm", "--salt", &ok]).unwrap()
        else {
            panic!()
        };
        assert!(a.kdf.kdf().is_ok());
    }

    #[test]
    fn exchange_parses_a_peer_key_and_the_kdf() {
        let peer = "09".repeat(32);
        let Cmd::Exchange(a) = parse(&[
            "exchange",
            "2",
            "--peer",
            &peer,
            "--to",
            "chacha20-poly1305",
            "--info",
            "c2s",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!((a.id, a.peer), (KeyId(2), Some([9; 32])));
        assert_eq!(a.kdf.to, Algorithm::ChaCha20Poly1305);
        assert_eq!(a.kdf.kdf().unwrap().info, b"c2s");
        let Cmd::Exchange(a) = parse(&[
            "exchange",
            "2",
            "--peer-file",
            "p.pub",
            "--to",
            "aes256-gcm",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.peer_file.as_deref(), Some(Path::new("p.pub")));
        assert!(parse(&["exchange", "2", "--to", "aes256-gcm"]).is_err());
        assert!(parse(&["exchange", "2", "--peer", &peer]).is_err());
        assert!(
            parse(&["exchange", "2", "--peer", "0909", "--to", "aes256-gcm"])
                .unwrap_err()
                .contains("must be 32 bytes")
        );
        assert!(parse(&[
            "exchange",
            "2",
            "--peer",
            &peer,
            "--peer-file",
            "f",
            "--to",
            "aes256-gcm"
        ])
        .is_err());
    }

    #[test]
    fn derive_and_exchange_reach_the_kernel() {
        let mut s = Session::new(
            keyvault::Vault::open_path("/dev/null").expect("open /dev/null"),
            false,
        );
        let Cmd::Derive(a) = parse(&["derive", "5", "--to", "aes256-gcm"]).unwrap() else {
            panic!()
        };
        assert!(s.derive(&a).unwrap_err().starts_with("keyvault derive:"));
        let Cmd::Exchange(a) = parse(&[
            "exchange",
            "5",
            "--peer",
            &"09".repeat(32),
            "--to",
            "aes256-gcm",
        ])
        .unwrap() else {
            panic!()
        };
        assert!(s
            .exchange(&a)
            .unwrap_err()
            .starts_with("keyvault exchange:"));
        let Cmd::Exchange(a) = parse(&[
            "exchange",
            "5",
            "--peer-file",
            "/nonexistent/p",
            "--to",
            "aes256-gcm",
        ])
        .unwrap() else {
            panic!()
        };
        assert!(s.exchange(&a).unwrap_err().contains("/nonexistent/p"));
        assert_eq!(s.last, None);
    }
}
