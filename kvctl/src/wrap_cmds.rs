//! Keys that leave the kernel encrypted: `wrap` (a wrappable key as a blob
//! under a wrapping key) and `unwrap` (a blob back into a key). The key
//! bytes are encrypted and decrypted in the kernel: kvctl handles only blobs.

use crate::inout::{self, Encoding};
use crate::{PolicyArgs, Session};
use keyvault::ErrorKind;
use keyvault::{Algorithm, BlobInfo, Caps, KeyId, WrapFormat};
use serde_json::json;

#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct WrapArgs {
    /// The key to export: one made with --wrappable.
    pub id: KeyId,
    /// The wrapping key: AES-256-GCM with usage wrap (genkey aes256-gcm --usage wrap,unwrap).
    #[arg(long = "with", value_name = "W")]
    pub wrapping: KeyId,
    /// native: keyvault's blob, which restores the key's algorithm, policy and
    /// expiry; rfc5649: AES key wrap with padding of the key bytes alone (OpenSSL,
    /// PKCS#11, cloud KMSes).
    #[arg(long, value_name = "FORMAT", default_value_t = WrapFormat::Native)]
    pub format: WrapFormat,
    /// Write the blob to FILE (none: stdout, which must not be a terminal: the blob is binary).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<String>,
}

#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct UnwrapArgs {
    /// The file with the blob (`-`: stdin).
    pub blob: String,
    /// The wrapping key: AES-256-GCM with usage unwrap, of the same material as the one that wrapped.
    #[arg(long = "with", value_name = "W")]
    pub wrapping: KeyId,
    /// The blob's format (see `kvctl wrap --help`).
    #[arg(long, value_name = "FORMAT", default_value_t = WrapFormat::Native)]
    pub format: WrapFormat,
    /// rfc5649: the key's algorithm (a native blob records its own).
    #[arg(long)]
    pub alg: Option<Algorithm>,
    /// rfc5649: the new key's policy (a native blob restores its own).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl Session {
    pub(crate) fn wrap(&self, a: &WrapArgs) -> Result<(), String> {
        let out = a.out.as_deref();
        if !self.json && inout::is_stdin(out) {
            inout::refuse_binary_to_terminal("the blob")?;
        }
        let blob = self
            .vault
            .wrap(a.wrapping, a.id, a.format)
            .map_err(|e| self.why_not_wrapped(a, e))?;
        self.emit_bytes(
            out,
            &blob,
            Encoding::Raw,
            Encoding::Base64,
            str::to_string,
            |text, enc| json!({ "blob": text, "encoding": enc.name(), "format": a.format.name() }),
        )
    }

    /// The wrap error, made precise when it is EPERM and GETINFO can say
    /// which rule refused it.
    fn why_not_wrapped(&self, a: &WrapArgs, e: keyvault::Error) -> String {
        if e.kind() == ErrorKind::PermissionDenied {
            if let Ok(info) = self.vault.info(a.id) {
                if !info.wrappable {
                    return format!(
                        "key {} is not wrappable: it was made without --wrappable, so it can \
                         never leave the kernel ({})",
                        a.id,
                        nix::errno::Errno::from_raw(e.errno())
                    );
                }
            }
            if let Ok(w) = self.vault.info(a.wrapping) {
                if !w.usage.contains(Caps::WRAP) {
                    return format!(
                        "key {} is not a wrapping key: its usage is {}, not wrap ({})",
                        a.wrapping,
                        w.usage.names(),
                        nix::errno::Errno::from_raw(e.errno())
                    );
                }
            }
        }
        e.to_string()
    }

    pub(crate) fn unwrap(&mut self, a: &UnwrapArgs) -> Result<(), String> {
        let rfc5649_alg = match (a.format, a.alg) {
            (WrapFormat::Native, None) if a.policy == PolicyArgs::default() => None,
            (WrapFormat::Native, _) => {
                return Err("a native blob restores its own algorithm and policy: \
                            --alg and the policy options are for --format rfc5649"
                    .into())
            }
            (WrapFormat::Rfc5649, Some(alg)) => Some(alg),
            (WrapFormat::Rfc5649, None) => {
                return Err(
                    "--format rfc5649 needs --alg: the blob holds only the key bytes".into(),
                )
            }
        };
        let blob = self.read(Some(&a.blob))?;
        let name = inout::display_name(Some(&a.blob));
        let id = match rfc5649_alg {
            None => {
                BlobInfo::parse(&blob).map_err(|e| {
                    format!("{name}: {e} (an RFC 5649 blob needs --format rfc5649 --alg ALG)")
                })?;
                self.vault.unwrap(a.wrapping, &blob)
            }
            Some(alg) => self
                .vault
                .unwrap_rfc5649(a.wrapping, &blob, alg, &a.policy.options(0)),
        }
        .map_err(|e| format!("{name}: {e}"))?;
        self.made(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args as parse, Cmd};

    #[test]
    fn wrap_takes_a_key_a_wrapping_key_a_format_and_a_file() {
        let Ok(Cmd::Wrap(a)) = parse(&["wrap", "5", "--with", "3", "-o", "b.kvblob"]) else {
            panic!("wrap")
        };
        assert_eq!(
            (a.id, a.wrapping, a.format),
            (KeyId(5), KeyId(3), WrapFormat::Native)
        );
        assert_eq!(a.out.as_deref(), Some("b.kvblob"));
        let Ok(Cmd::Wrap(a)) = parse(&["wrap", "5", "--with", "3", "--format", "rfc5649"]) else {
            panic!("wrap rfc5649")
        };
        assert_eq!((a.format, a.out), (WrapFormat::Rfc5649, None));
        assert!(parse(&["wrap", "5"]).is_err(), "--with is required");
        assert!(parse(&["wrap", "5", "--with", "3", "--format", "pem"]).is_err());
    }

    #[test]
    fn unwrap_takes_an_algorithm_and_a_policy_for_rfc5649_only() {
        let Ok(Cmd::Unwrap(a)) = parse(&[
            "unwrap",
            "--with",
            "3",
            "--format",
            "rfc5649",
            "--alg",
            "aes128-gcm",
            "--usage",
            "encrypt",
            "--wrappable",
            "k.bin",
        ]) else {
            panic!("unwrap")
        };
        assert_eq!(
            (a.alg, a.blob.as_str()),
            (Some(Algorithm::Aes128Gcm), "k.bin")
        );
        let opts = a.policy.options(0);
        assert!(opts.wrappable && opts.usage == Caps::ENCRYPT);

        let v = keyvault::Vault::open_path("/dev/null").unwrap();
        let mut s = Session::new(v, false);
        let Ok(Cmd::Unwrap(a)) = parse(&["unwrap", "--with", "3", "--alg", "ed25519", "x"]) else {
            panic!("unwrap native")
        };
        let e = s.unwrap(&a).unwrap_err();
        assert!(e.contains("--format rfc5649"), "{e}");
        let Ok(Cmd::Unwrap(a)) = parse(&["unwrap", "--with", "3", "--format", "rfc5649", "x"])
        else {
            panic!("unwrap rfc5649")
        };
        let e = s.unwrap(&a).unwrap_err();
        assert!(e.contains("needs --alg"), "{e}");
        let a = UnwrapArgs {
            blob: "/dev/null".into(),
            format: WrapFormat::Native,
            ..a
        };
        let e = s.unwrap(&a).unwrap_err();
        assert!(e.contains("not a keyvault native blob"), "{e}");
    }
}
