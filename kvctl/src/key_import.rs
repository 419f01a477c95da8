//! `import` of key bytes: where they come from (a file, stdin, an inherited
//! fd: never the command line, which `ps` shows), the passphrase of an
//! encrypted key, and the check that the kernel's public key is the file's.

use crate::inout;
use crate::keyfmt::{self, KeyFormat, ParsedKey, MAX_KEY_FILE};
use crate::Session;
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
    pub key_file: Option<String>,
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
    fn read_private_key(&self, alg: Algorithm, src: &KeySource) -> Result<ParsedKey, String> {
        let (data, name) = match (src.key_fd, src.key_file.as_deref()) {
            (Some(fd), _) => (
                inout::read_fd(fd, MAX_KEY_FILE + 1)?,
                format!("the key on fd {fd}"),
            ),
            (None, file) => {
                self.stdin_free(file)?;
                let name = inout::display_name(file).to_string();
                let data = inout::read_at_most(inout::open_input(file)?, MAX_KEY_FILE + 1, &name)?;
                (data, name)
            }
        };
        if data.len() > MAX_KEY_FILE {
            return Err(format!(
                "{name}: more than {} KiB: not a key file",
                MAX_KEY_FILE >> 10
            ));
        }
        let mut pass = || passphrase(src.passphrase_fd);
        keyfmt::parse_private_key(alg, &data, src.format, &mut pass)
            .map_err(|e| format!("{name}: {e}"))
    }

    /// Imports the key of `src` as `alg`; a file that states the public key
    /// too (PKCS#8 v2, OpenSSH, a JWK's "x") must agree with the kernel's,
    /// or nothing is imported.
    pub(crate) fn import_key(
        &self,
        alg: Algorithm,
        src: &KeySource,
        opts: &KeyOptions,
    ) -> Result<KeyId, String> {
        let key = self.read_private_key(alg, src)?;
        let id = self
            .vault
            .import(alg, &key.secret, opts)
            .map_err(|e| e.to_string())?;
        // A handle without getinfo cannot read the public key back: the
        // check is then skipped (the kernel computed it from the key itself).
        if let (Some(stated), Ok(actual)) = (key.public, self.vault.public_key(id)) {
            if stated != actual {
                let _ = self.vault.destroy(id);
                return Err(format!(
                    "the {} key's public key is not the one of its private key: the file is \
                     damaged or was edited; nothing imported",
                    key.format
                ));
            }
        }
        Ok(id)
    }
}
