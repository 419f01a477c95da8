//! Ed25519 and public keys: `sign`, `verify` (64-byte signatures, or SSH
//! signatures: sshsig.rs), and `pubkey` (raw, hex, base64, an OpenSSH
//! `ssh-ed25519` line, SubjectPublicKeyInfo PEM, JWK).

use crate::fail::{Fail, Kind};
use crate::inout::{self, Encoding, IoArgs};
use crate::{keyfmt, sshsig, streaming, Session};
use keyvault::{Algorithm, ErrorKind, KeyId, PublicKey, SignatureBytes};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Why a raw Ed25519 signature of a large input fails, and what to do.
const TOO_LARGE_TO_SIGN: &str = "the input is larger than the kernel's per-operation limit \
     (EMSGSIZE): Ed25519 signs the whole message in one kernel operation; sign it with \
     --format sshsig --namespace NS instead, which signs its SHA-512 (any size)";

/// Decodes exactly N bytes written as hex or base64 (whitespace ignored),
/// or, when `raw_ok` (a file), as the N bytes themselves. The three can
/// not be confused: they have different lengths.
pub fn decode_fixed<const N: usize>(data: &[u8], raw_ok: bool) -> Result<[u8; N], String> {
    if raw_ok && data.len() == N {
        return Ok(data.try_into().expect("N bytes"));
    }
    let hex_len = 2 * N;
    let b64_len = N.div_ceil(3) * 4;
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = match text.len() {
        n if n == hex_len => Encoding::Hex.decode(&text)?,
        n if n == b64_len => Encoding::Base64.decode(&text)?,
        n => {
            let raw = if raw_ok {
                format!("{N} raw bytes, ")
            } else {
                String::new()
            };
            return Err(format!(
                "must be {N} bytes: {raw}{hex_len} hex digits or {b64_len} base64 characters, not {n} {}",
                if raw_ok { "bytes" } else { "characters" }
            ));
        }
    };
    <[u8; N]>::try_from(decoded.as_slice()).map_err(|_| format!("must be {N} bytes"))
}

/// A signature argument: 64 bytes as hex or base64.
fn parse_sig(s: &str) -> Result<SignatureBytes, String> {
    decode_fixed(s.as_bytes(), false)
}

/// An X25519 peer key argument: 32 bytes as hex or base64.
pub fn parse_peer(s: &str) -> Result<PublicKey, String> {
    decode_fixed(s.as_bytes(), false)
}

/// An Ed25519 public key argument: hex, base64, or an OpenSSH line.
fn parse_pubkey(s: &str) -> Result<PublicKey, String> {
    parse_public_key(s.as_bytes(), false)
}

/// An Ed25519 public key: an OpenSSH line, SubjectPublicKeyInfo PEM, hex,
/// base64, or (from a file) the 32 bytes.
fn parse_public_key(data: &[u8], raw_ok: bool) -> Result<PublicKey, String> {
    let start = data.trim_ascii_start();
    if raw_ok && data.len() == 32 {
        return decode_fixed(data, raw_ok);
    }
    if start.starts_with(b"ssh-") {
        let text = std::str::from_utf8(data).map_err(|_| "OpenSSH key: not text")?;
        return keyfmt::public_from_openssh(text);
    }
    if start.starts_with(b"-----BEGIN ") {
        return match keyfmt::public_from_spki(data)? {
            (Algorithm::Ed25519, key) => Ok(key),
            (alg, _) => Err(format!(
                "an {alg} public key: signatures are made by ed25519 keys"
            )),
        };
    }
    decode_fixed(data, raw_ok)
}

/// How `sign` writes a signature and `verify` reads one.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignFormat {
    /// The 64 bytes of the Ed25519 signature.
    #[value(alias = "binary")]
    Raw,
    /// Lower-case hex.
    Hex,
    /// Standard base64.
    Base64,
    /// An SSH signature (`BEGIN SSH SIGNATURE`, as `ssh-keygen -Y sign`
    /// makes): of the input's SHA-512, so of any size; needs --namespace.
    Sshsig,
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct SignArgs {
    /// The Ed25519 key.
    pub id: KeyId,
    /// How to write the signature. raw, hex and base64 sign the input
    /// itself, in one kernel operation: at most the module's
    /// max_data_bytes (1 MiB by default).
    #[arg(long, value_enum, default_value_t = SignFormat::Hex)]
    pub format: SignFormat,
    /// What an SSH signature is for (e.g. file, git), as `ssh-keygen -Y
    /// sign -n NS`: the verifier must name the same.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub io: IoArgs,
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["id", "pubkey", "pubkey_file"])))]
pub struct VerifyArgs {
    /// The vault Ed25519 key that signed (or give its public key instead).
    pub id: Option<KeyId>,
    /// The signer's Ed25519 public key: hex, base64, or an OpenSSH "ssh-ed25519 ..." line.
    #[arg(long, value_name = "KEY", value_parser = parse_pubkey)]
    pub pubkey: Option<PublicKey>,
    /// Read the signer's public key from FILE (32 raw bytes, hex, base64,
    /// OpenSSH, or PEM `BEGIN PUBLIC KEY`).
    #[arg(long, value_name = "FILE")]
    pub pubkey_file: Option<PathBuf>,
    /// The signature (64 bytes): hex or base64.
    #[arg(
        long,
        value_name = "SIG",
        value_parser = parse_sig,
        conflicts_with = "sig_file",
        required_unless_present = "sig_file"
    )]
    pub sig: Option<SignatureBytes>,
    /// Read the signature from FILE (64 raw bytes, hex, base64, or an SSH
    /// signature: any `kvctl sign` output).
    #[arg(long, value_name = "FILE")]
    pub sig_file: Option<PathBuf>,
    /// The signature's format: sshsig for an SSH signature (in --sig-file);
    /// raw, hex and base64 each read any of the three. Default: what
    /// --sig-file holds.
    #[arg(long, value_enum)]
    pub format: Option<SignFormat>,
    /// The namespace an SSH signature must be for (as `ssh-keygen -Y verify -n NS`).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Read the signed data from FILE (`-` or none: stdin).
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// How `pubkey` writes the public key.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubkeyFormat {
    /// The 32 bytes themselves.
    #[value(alias = "binary")]
    Raw,
    /// Lower-case hex.
    Hex,
    /// Standard base64.
    Base64,
    /// An OpenSSH public key line, `ssh-ed25519 AAAA... [comment]` (Ed25519 keys only).
    Openssh,
    /// SubjectPublicKeyInfo PEM, `BEGIN PUBLIC KEY` (as `openssl pkey -pubout`).
    Pem,
    /// A JSON Web Key, kty OKP (RFC 8037).
    Jwk,
}

#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct PubkeyArgs {
    /// The Ed25519 or X25519 key.
    pub id: KeyId,
    /// How to write the public key.
    #[arg(long, value_enum, default_value_t = PubkeyFormat::Hex)]
    pub format: PubkeyFormat,
    /// The comment at the end of an OpenSSH line (e.g. user@host).
    #[arg(long, value_name = "STR")]
    pub comment: Option<String>,
    /// Write the public key to FILE (none: stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl Session {
    pub(crate) fn sign(&self, a: &SignArgs) -> Result<(), Fail> {
        let enc = match a.format {
            SignFormat::Sshsig => return self.sign_sshsig(a),
            _ if a.namespace.is_some() => {
                return Err("--namespace is for SSH signatures (--format sshsig)".into())
            }
            SignFormat::Raw => Encoding::Raw,
            SignFormat::Hex => Encoding::Hex,
            SignFormat::Base64 => Encoding::Base64,
        };
        // Never more than the kernel takes: a larger input is refused
        // without being read whole.
        let mut inp = self.open(a.io.input.as_deref())?;
        let too_large = || Fail::new(Kind::Vault(ErrorKind::TooLarge), TOO_LARGE_TO_SIGN);
        let data = streaming::read_for_one_op(&mut inp, streaming::max_data_bytes(&self.vault))?
            .ok_or_else(too_large)?;
        let sig = self.vault.sign(a.id, &data).map_err(|e| {
            if e.kind() == ErrorKind::TooLarge {
                too_large()
            } else {
                e.into()
            }
        })?;
        self.emit_bytes(
            a.io.out.as_deref(),
            &sig,
            enc,
            Encoding::Hex,
            str::to_string,
            |text, enc| json!({ "signature": text, "encoding": enc.name() }),
        )
    }

    pub(crate) fn verify(&self, a: &VerifyArgs) -> Result<(), Fail> {
        let input = a.input.as_deref();
        let files = [a.sig_file.as_deref(), a.pubkey_file.as_deref()];
        let stdin_uses = usize::from(inout::is_stdin(input))
            + files
                .into_iter()
                .flatten()
                .filter(|f| inout::is_stdin(Some(f)))
                .count();
        if stdin_uses > 1 {
            return Err(Fail::usage(
                "only one of the input, --sig-file and --pubkey-file can be stdin",
            ));
        }
        let public = match (a.pubkey, a.pubkey_file.as_deref()) {
            (Some(p), _) => Some(p),
            (None, Some(f)) => Some(
                parse_public_key(&self.read(Some(f))?, true)
                    .map_err(|e| format!("the public key in {}: {e}", f.display()))?,
            ),
            (None, None) => None,
        };
        let sig_text = a
            .sig_file
            .as_deref()
            .map(|f| self.read(Some(f)))
            .transpose()?;
        let armored = sig_text.as_deref().is_some_and(|t| sshsig::is_armored(t));
        match (a.format, &sig_text) {
            (Some(SignFormat::Sshsig), None) => {
                return Err("an SSH signature is read from --sig-file FILE".into())
            }
            (Some(SignFormat::Sshsig), Some(text)) => return self.verify_sshsig(a, text, public),
            (None, Some(text)) if armored => return self.verify_sshsig(a, text, public),
            _ if a.namespace.is_some() => {
                return Err("--namespace is for SSH signatures (--format sshsig)".into())
            }
            _ => {}
        }
        let sig = match (a.sig, a.sig_file.as_deref(), &sig_text) {
            (Some(sig), _, _) => sig,
            (None, Some(f), Some(text)) => decode_fixed(text, true)
                .map_err(|e| format!("the signature in {}: {e}", f.display()))?,
            _ => return Err("give the signature with --sig or --sig-file".into()),
        };
        let data = self.read(input)?;
        let (check, signer) = match (public, a.id) {
            (Some(p), _) => (
                self.vault.verify_with_public_key(&p, &data, &sig),
                format!("public key {}", hex::encode(p)),
            ),
            (None, Some(id)) => (self.vault.verify(id, &data, &sig), format!("key {id}")),
            (None, None) => return Err(Fail::usage("give a key id, --pubkey or --pubkey-file")),
        };
        inout::verdict(self.json, "valid", check, || {
            format!(
                "bad signature: not a signature of {} by {signer}",
                &inout::display_name(input)
            )
        })
    }

    pub(crate) fn pubkey(&self, a: &PubkeyArgs) -> Result<(), Fail> {
        let out = a.out.as_deref();
        if a.comment.is_some() && a.format != PubkeyFormat::Openssh {
            return Err(Fail::usage("--comment is for --format openssh"));
        }
        if a.format == PubkeyFormat::Openssh {
            let alg = self.key_alg(a.id)?;
            if alg != Algorithm::Ed25519 {
                return Err(Fail::invalid(format!(
                    "key {} is {alg}: --format openssh is for ed25519 keys (OpenSSH has no {alg} keys)",
                    a.id
                )));
            }
        }
        let public = self.vault.public_key(a.id)?;
        let (text, field) = match a.format {
            PubkeyFormat::Raw => return self.emit_pubkey(out, &public, Encoding::Raw),
            PubkeyFormat::Hex => return self.emit_pubkey(out, &public, Encoding::Hex),
            PubkeyFormat::Base64 => return self.emit_pubkey(out, &public, Encoding::Base64),
            PubkeyFormat::Openssh => (
                keyfmt::openssh_public(&public, a.comment.as_deref())? + "\n",
                "openssh",
            ),
            PubkeyFormat::Pem => (keyfmt::spki_pem(self.key_alg(a.id)?, &public)?, "pem"),
            PubkeyFormat::Jwk => {
                let jwk = keyfmt::jwk_public(self.key_alg(a.id)?, &public)?;
                return inout::write_output(out, format!("{jwk}\n").as_bytes(), false);
            }
        };
        let text = if self.json {
            format!(
                "{}\n",
                json!({ field: text.trim_end(), "pubkey": hex::encode(public) })
            )
        } else {
            text
        };
        inout::write_output(out, text.as_bytes(), false)
    }

    fn emit_pubkey(
        &self,
        out: Option<&Path>,
        public: &PublicKey,
        enc: Encoding,
    ) -> Result<(), Fail> {
        self.emit_bytes(
            out,
            public,
            enc,
            Encoding::Hex,
            str::to_string,
            |text, enc| json!({ "pubkey": text, "encoding": enc.name() }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args as parse, Cli, Cmd};
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine;
    use clap::Parser;
    use std::path::Path;

    fn openssh_line(key: &PublicKey, comment: Option<&str>) -> String {
        keyfmt::openssh_public(key, comment).unwrap()
    }

    /// The SSH wire format of an Ed25519 public key (RFC 8709), written out
    /// to check ssh-key's: string "ssh-ed25519", string(32-byte key),
    /// lengths big-endian u32.
    fn ssh_wire(key: &PublicKey) -> Vec<u8> {
        let mut wire = vec![0, 0, 0, 0x0b];
        wire.extend_from_slice(b"ssh-ed25519");
        wire.extend_from_slice(&[0, 0, 0, 0x20]);
        wire.extend_from_slice(key);
        wire
    }

    // RFC 8032, 7.1, TEST 1.
    const TEST1_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const TEST1_OPENSSH: &str =
        "AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";

    fn test1() -> PublicKey {
        hex::decode(TEST1_PUBLIC).unwrap().try_into().unwrap()
    }

    #[test]
    fn the_openssh_encoding_is_the_ssh_wire_format_in_base64() {
        let key = test1();
        let expected = BASE64.encode(ssh_wire(&key));
        assert_eq!(expected, TEST1_OPENSSH);
        assert_eq!(
            openssh_line(&key, None),
            format!("ssh-ed25519 {TEST1_OPENSSH}")
        );
        assert_eq!(
            openssh_line(&key, Some("me@host")),
            format!("ssh-ed25519 {expected} me@host")
        );
        assert_eq!(
            openssh_line(&key, Some("")),
            format!("ssh-ed25519 {expected}")
        );
    }

    #[test]
    fn public_keys_are_read_in_every_form_we_write() {
        let key = test1();
        let line = openssh_line(&key, Some("a comment"));
        assert_eq!(parse_pubkey(&line), Ok(key));
        assert_eq!(parse_pubkey(&format!("  {line}\n")), Ok(key));
        assert_eq!(parse_pubkey(TEST1_PUBLIC), Ok(key));
        assert_eq!(parse_pubkey(&BASE64.encode(key)), Ok(key));
        assert_eq!(parse_public_key(&key, true), Ok(key));
        assert_eq!(
            parse_public_key(format!("{TEST1_PUBLIC}\n").as_bytes(), true),
            Ok(key)
        );
        // 32 raw bytes only from a file.
        assert!(parse_public_key(&key, false).is_err());
        assert!(parse_pubkey("ssh-ed25519").is_err());
        assert!(parse_pubkey("ssh-rsa AAAAB3NzaC1yc2E").is_err());
        let e = parse_pubkey(&format!("ssh-ed25519 {}", BASE64.encode(b"short"))).unwrap_err();
        assert!(e.starts_with("OpenSSH key:"), "{e}");
        let mut wire = ssh_wire(&key);
        wire[7] = b'X';
        assert!(parse_pubkey(&format!("ssh-ed25519 {}", BASE64.encode(&wire))).is_err());
        let e = parse_pubkey("abcd").unwrap_err();
        assert!(e.contains("64 hex digits or 44 base64"), "{e}");
    }

    #[test]
    fn signatures_are_hex_base64_or_raw_bytes_from_a_file() {
        let sig: SignatureBytes = std::array::from_fn(|i| i as u8);
        assert_eq!(parse_sig(&hex::encode(sig)), Ok(sig));
        assert_eq!(parse_sig(&BASE64.encode(sig)), Ok(sig));
        let wrapped = format!("{}\n{}\n", &hex::encode(sig)[..64], &hex::encode(sig)[64..]);
        assert_eq!(decode_fixed::<64>(wrapped.as_bytes(), true), Ok(sig));
        assert_eq!(decode_fixed::<64>(&sig, true), Ok(sig));
        assert!(decode_fixed::<64>(&sig, false).is_err());
        let e = parse_sig("00").unwrap_err();
        assert!(e.contains("must be 64 bytes"), "{e}");
        assert!(parse_sig(&"zz".repeat(64)).unwrap_err().contains("bad hex"));
        assert_eq!(parse_peer(&"11".repeat(32)), Ok([0x11; 32]));
        assert!(parse_peer(&openssh_line(&test1(), None)).is_err());
    }

    #[test]
    fn sign_verify_and_pubkey_parse() {
        let Cmd::Sign(a) = parse(&["sign", "3"]).unwrap() else {
            panic!()
        };
        assert_eq!((a.id, a.format), (KeyId(3), SignFormat::Hex));
        assert_eq!(a.namespace, None);
        assert_eq!(a.io, IoArgs::default());
        let Cmd::Sign(a) =
            parse(&["sign", "3", "--in", "m", "--out", "s", "--format", "base64"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.format, SignFormat::Base64);
        assert_eq!(
            (a.io.input.as_deref(), a.io.out.as_deref()),
            (Some(Path::new("m")), Some(Path::new("s")))
        );
        let Cmd::Sign(a) =
            parse(&["sign", "3", "--format", "sshsig", "--namespace", "file"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (a.format, a.namespace.as_deref()),
            (SignFormat::Sshsig, Some("file"))
        );

        let sig = "ab".repeat(64);
        let Cmd::Verify(a) = parse(&["verify", "3", "--sig", &sig, "--in", "m"]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.id, a.sig, a.pubkey),
            (Some(KeyId(3)), Some([0xab; 64]), None)
        );
        assert_eq!(a.input.as_deref(), Some(Path::new("m")));
        let Cmd::Verify(a) =
            parse(&["verify", "--pubkey", TEST1_PUBLIC, "--sig-file", "s"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((a.id, a.pubkey), (None, Some(test1())));
        assert_eq!(a.sig_file.as_deref(), Some(Path::new("s")));
        let Cmd::Verify(a) = parse(&["verify", "--pubkey-file", "k.pub", "--sig", &sig]).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.pubkey_file.as_deref(), Some(Path::new("k.pub")));
        // Exactly one signer, exactly one signature.
        assert!(parse(&["verify", "--sig", &sig]).is_err());
        assert!(parse(&["verify", "3", "--pubkey", TEST1_PUBLIC, "--sig", &sig]).is_err());
        assert!(parse(&[
            "verify",
            "--pubkey",
            TEST1_PUBLIC,
            "--pubkey-file",
            "f",
            "--sig",
            &sig
        ])
        .is_err());
        assert!(parse(&["verify", "3"]).is_err());
        assert!(parse(&["verify", "3", "--sig", &sig, "--sig-file", "s"]).is_err());
        assert!(parse(&["verify", "3", "--sig", "abcd"])
            .unwrap_err()
            .contains("must be 64 bytes"));

        let Cmd::Pubkey(a) = parse(&["pubkey", "0x10"]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.id, a.format, a.comment),
            (KeyId(16), PubkeyFormat::Hex, None)
        );
        let Cmd::Pubkey(a) = parse(&[
            "pubkey",
            "4",
            "--format",
            "openssh",
            "--comment",
            "ci@build",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.format, PubkeyFormat::Openssh);
        assert_eq!(a.comment.as_deref(), Some("ci@build"));
        for (name, format) in [("pem", PubkeyFormat::Pem), ("jwk", PubkeyFormat::Jwk)] {
            let Cmd::Pubkey(a) = parse(&["pubkey", "4", "--format", name]).unwrap() else {
                panic!()
            };
            assert_eq!(a.format, format);
        }
        assert!(parse(&["pubkey", "4", "--format", "der"]).is_err());
    }

    #[test]
    fn batch_lines_parse_into_the_signature_commands() {
        let line =
            format!("verify --pubkey 'ssh-ed25519 {TEST1_OPENSSH} me' --sig-file s.sig --in m");
        let cli =
            Cli::try_parse_from(std::iter::once("kvctl".to_string()).chain(crate::words(&line)))
                .unwrap();
        let Cmd::Verify(a) = cli.cmd else { panic!() };
        assert_eq!(a.pubkey, Some(test1()));
    }

    fn session(json: bool) -> Session {
        Session::new(
            keyvault::Vault::open_path("/dev/null").expect("open /dev/null"),
            json,
        )
    }

    #[test]
    fn errors_come_from_the_right_step() {
        let s = session(false);
        let dir = std::env::temp_dir().join(format!("kvctl-asym-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, data: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            p.to_str().unwrap().to_string()
        };
        let msg = file("msg", b"message");
        let sig = "00".repeat(64);

        let Cmd::Sign(a) = parse(&["sign", "1", "--in", &msg]).unwrap() else {
            panic!()
        };
        assert!(s.sign(&a).unwrap_err().starts_with("keyvault sign:"));

        let Cmd::Verify(a) = parse(&["verify", "1", "--sig", &sig, "--in", &msg]).unwrap() else {
            panic!()
        };
        assert!(s.verify(&a).unwrap_err().starts_with("keyvault verify:"));
        let Cmd::Verify(a) = parse(&[
            "verify",
            "--pubkey",
            TEST1_PUBLIC,
            "--sig",
            &sig,
            "--in",
            &msg,
        ])
        .unwrap() else {
            panic!()
        };
        assert!(s.verify(&a).unwrap_err().starts_with("keyvault verify:"));
        let bad = file("bad.sig", b"not a signature");
        let Cmd::Verify(a) = parse(&["verify", "1", "--sig-file", &bad, "--in", &msg]).unwrap()
        else {
            panic!()
        };
        let e = s.verify(&a).unwrap_err();
        assert!(
            e.contains("the signature in") && e.contains("must be 64 bytes"),
            "{e}"
        );
        let raw_sig = file("raw.sig", &[0u8; 64]);
        let pubkey = file(
            "k.pub",
            format!("{}\n", openssh_line(&test1(), None)).as_bytes(),
        );
        let Cmd::Verify(a) = parse(&[
            "verify",
            "--pubkey-file",
            &pubkey,
            "--sig-file",
            &raw_sig,
            "--in",
            &msg,
        ])
        .unwrap() else {
            panic!()
        };
        // Both files decode: the kernel is reached.
        assert!(s.verify(&a).unwrap_err().starts_with("keyvault verify:"));
        let Cmd::Verify(a) = parse(&["verify", "1", "--sig-file", "-"]).unwrap() else {
            panic!()
        };
        assert!(s.verify(&a).unwrap_err().contains("can be stdin"));

        let Cmd::Pubkey(a) = parse(&["pubkey", "1"]).unwrap() else {
            panic!()
        };
        assert!(s
            .pubkey(&a)
            .unwrap_err()
            .starts_with("keyvault get-pubkey:"));
        // OpenSSH needs the key's algorithm first.
        let Cmd::Pubkey(a) = parse(&["pubkey", "1", "--format", "openssh"]).unwrap() else {
            panic!()
        };
        assert!(s.pubkey(&a).unwrap_err().starts_with("keyvault getinfo:"));
        let Cmd::Pubkey(a) = parse(&["pubkey", "1", "--comment", "x"]).unwrap() else {
            panic!()
        };
        assert!(s.pubkey(&a).unwrap_err().contains("--format openssh"));

        // SSH signatures: the options, the namespace, the signer, then the kernel.
        let sshsig = file(
            "m.sig",
            crate::sshsig::armor(&test1(), "file", &[0; 64])
                .unwrap()
                .as_bytes(),
        );
        let other = "11".repeat(32);
        let made_by = format!("made by the key {TEST1_PUBLIC}, not by public key {other}");
        let cases: &[(&[&str], &str)] = &[
            (
                &["sign", "1", "--namespace", "f"],
                "--namespace is for SSH signatures",
            ),
            (&["sign", "1", "--format", "sshsig"], "needs --namespace"),
            (
                &["sign", "1", "--format", "sshsig", "--namespace", "f"],
                "keyvault get-pubkey:",
            ),
            (
                &["verify", "1", "--format", "sshsig", "--sig", &sig],
                "read from --sig-file",
            ),
            (
                &["verify", "1", "--namespace", "f", "--sig", &sig],
                "--namespace is for SSH",
            ),
            (
                &[
                    "verify",
                    "1",
                    "--sig-file",
                    &bad,
                    "--format",
                    "sshsig",
                    "--namespace",
                    "f",
                ],
                "not an SSH signature",
            ),
            // Found without --format.
            (&["verify", "1", "--sig-file", &sshsig], "needs --namespace"),
            (
                &["verify", "1", "--sig-file", &sshsig, "--namespace", "git"],
                "for namespace 'file', not 'git'",
            ),
            (
                &["verify", "1", "--sig-file", &sshsig, "--namespace", "file"],
                "keyvault get-pubkey:",
            ),
            (
                &[
                    "verify",
                    "--pubkey",
                    &other,
                    "--sig-file",
                    &sshsig,
                    "--namespace",
                    "file",
                ],
                &made_by,
            ),
            (
                &[
                    "verify",
                    "--pubkey",
                    TEST1_PUBLIC,
                    "--sig-file",
                    &sshsig,
                    "--namespace",
                    "file",
                ],
                "keyvault verify:",
            ),
        ];
        for (args, says) in cases {
            let args = [args, &["--in", &msg][..]].concat();
            let e = match parse(&args).unwrap() {
                Cmd::Sign(a) => s.sign(&a).unwrap_err(),
                Cmd::Verify(a) => s.verify(&a).unwrap_err(),
                _ => panic!(),
            };
            assert!(e.contains(says), "{args:?}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
