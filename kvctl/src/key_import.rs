//! `import` of key bytes: where they come from (a file, stdin, an inherited
//! fd: never the command line, which `ps` shows), the passphrase of an
//! encrypted key, and the check that the kernel's public key is the file's.

use crate::fail::Fail;
use crate::keyfmt::{self, KeyFormat, ParsedKey, MAX_KEY_FILE};
use crate::Session;
use crate::{inout, streaming};
use keyvault::{Algorithm, KeyId, KeyOptions};
use std::io::IsTerminal;
use zeroize::Zeroizing;

/// Most bytes of a passphrase read from an fd.
const MAX_PASSPHRASE: usize = 4096;

/// Where `import` reads the key, and how.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySource {
    /// Read the key from FILE (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,
    /// Read the key from file descriptor N, inherited open (e.g. `3< key.pem`,
    /// or `--format hex 3<<< "$hex"`).
    #[arg(long, value_name = "N")]
    pub key_fd: Option<i32>,
    /// What the key is written as.
    #[arg(long, value_enum, default_value_t, conflicts_with = "keyring")]
    pub format: KeyFormat,
    /// Read the passphrase of an encrypted OpenSSH key from file descriptor N
    /// (up to a newline, e.g. `4<<< "$pass"`); without it kvctl asks on the
    /// terminal, if stdin is one.
    #[arg(long, value_name = "N", conflicts_with = "keyring")]
    pub passphrase_fd: Option<i32>,
}

/// The passphrase: from `fd` (one trailing newline dropped), or asked on
/// the terminal.
fn passphrase(fd: Option<i32>) -> Result<Zeroizing<Vec<u8>>, String> {
    let Some(fd) = fd else {
        if !std::io::stdin().is_terminal() {
            return Err("the OpenSSH key is encrypted: give its passphrase with \
                        --passphrase-fd N (e.g. 4<<< \"$pass\"), or run kvctl on a terminal"
                .into());
        }
        return rpassword::prompt_password("Passphrase of the OpenSSH key: ")
            .map(|p| Zeroizing::new(p.into_bytes()))
            .map_err(|e| format!("reading the passphrase: {e}"));
    };
    let mut pass =
        inout::read_fd(fd, MAX_PASSPHRASE + 1).map_err(|e| format!("--passphrase-fd: {e}"))?;
    if pass.len() > MAX_PASSPHRASE {
        return Err(format!(
            "--passphrase-fd: more than {MAX_PASSPHRASE} bytes: not a passphrase"
        ));
    }
    if pass.ends_with(b"\n") {
        pass.pop();
        if pass.ends_with(b"\r") {
            pass.pop();
        }
    }
    Ok(pass)
}

impl Session {
    /// The key bytes of `src`, read and decoded as a key of `alg`.
    fn read_private_key(&self, alg: Algorithm, src: &KeySource) -> Result<ParsedKey, Fail> {
        let (data, name) = match (src.key_fd, src.key_file.as_deref()) {
            (Some(fd), _) => (
                inout::read_fd(fd, MAX_KEY_FILE + 1)?,
                format!("the key on fd {fd}"),
            ),
            (None, file) => {
                let mut inp = self.open(file)?;
                let mut data = Zeroizing::new(Vec::new());
                // All of it, or MAX_KEY_FILE + 1 bytes: more than a key file.
                streaming::read_at_most(&mut inp, MAX_KEY_FILE, &mut data)?;
                (data, inp.name)
            }
        };
        if data.len() > MAX_KEY_FILE {
            return Err(Fail::invalid(format!(
                "{name}: more than {} KiB: not a key file",
                MAX_KEY_FILE >> 10
            )));
        }
        let mut pass = || passphrase(src.passphrase_fd);
        keyfmt::parse_private_key(alg, &data, src.format, &mut pass)
            .map_err(|e| Fail::invalid(format!("{name}: {e}")))
    }

    /// Imports the key of `src` as `alg`; a file that states the public key
    /// too (PKCS#8 v2, OpenSSH, a JWK's "x") must agree with the kernel's,
    /// or nothing is imported.
    pub(crate) fn import_key(
        &self,
        alg: Algorithm,
        src: &KeySource,
        opts: &KeyOptions,
    ) -> Result<KeyId, Fail> {
        let key = self.read_private_key(alg, src)?;
        let id = self.vault.import(alg, &key.secret, opts)?;
        // A handle without getinfo cannot read the public key back: the
        // check is then skipped (the kernel computed it from the key itself).
        if let (Some(stated), Ok(actual)) = (key.public, self.vault.public_key(id)) {
            if stated != actual {
                let _ = self.vault.destroy(id);
                return Err(Fail::invalid(format!(
                    "the public key in the {} file is not the one of its private key: the \
                     file is damaged or was edited; nothing imported",
                    key.format
                )));
            }
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args, Cmd};

    #[test]
    fn a_passphrase_from_an_fd_loses_one_trailing_newline() {
        use std::os::fd::AsRawFd;
        for (written, want) in [
            (&b"pass word\n"[..], &b"pass word"[..]),
            (b"pass\r\n", b"pass"),
            (b"pass\n\n", b"pass\n"),
            (b"pass", b"pass"),
        ] {
            let (r, w) = nix::unistd::pipe().unwrap();
            nix::unistd::write(&w, written).unwrap();
            drop(w);
            assert_eq!(&*passphrase(Some(r.as_raw_fd())).unwrap(), want);
        }
        let (r, w) = nix::unistd::pipe().unwrap();
        std::thread::spawn(move || nix::unistd::write(&w, &[b'x'; MAX_PASSPHRASE + 2]));
        let e = passphrase(Some(r.as_raw_fd())).unwrap_err();
        assert!(e.contains("not a passphrase"), "{e}");
    }

    #[test]
    fn import_names_the_file_and_reaches_the_kernel_only_with_a_key() {
        let s = Session::new(keyvault::Vault::open_path("/dev/null").unwrap(), false);
        let dir = std::env::temp_dir().join(format!("kvctl-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = |name: &str, data: &[u8]| -> String {
            std::fs::write(dir.join(name), data).unwrap();
            dir.join(name).to_string_lossy().into()
        };
        let import = |args: &[&str]| {
            let Cmd::Import { alg, key, .. } = parse_args(args).unwrap() else {
                panic!()
            };
            s.import_key(alg, &key, &KeyOptions::default()).unwrap_err()
        };
        let hex = path("k.hex", format!("{}\n", "ab".repeat(16)).as_bytes());
        let e = import(&["import", "aes128-gcm", "--key-file", &hex]);
        assert!(
            e.starts_with(&format!("{hex}: the key looks like hex")),
            "{e}"
        );
        let e = import(&[
            "import",
            "aes128-gcm",
            "--key-file",
            &hex,
            "--format",
            "hex",
        ]);
        assert!(e.starts_with("keyvault import:"), "{e}");
        let big = path("big", &vec![b'k'; MAX_KEY_FILE + 1]);
        let e = import(&["import", "hmac-sha256", "--key-file", &big]);
        assert!(e.contains("more than 64 KiB: not a key file"), "{e}");
        let e = import(&["import", "hmac-sha256", "--key-fd", "999999"]);
        assert!(e.starts_with("fd 999999 is not open"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
