//! The keystore: keys that survive a reboot, kept in a directory as native
//! blobs (`NAME.kvblob`) wrapped under a key that exists only in the kernel.
//!
//! That wrapping key is derived, each time it is needed, from a root key in
//! the kernel keyring (on a machine with a TPM, a `trusted` key that only
//! that TPM can load): IMPORT_KEYRING makes the root a vault key (usage
//! derive), and DERIVE makes the wrapping key from it with HKDF-SHA256, no
//! salt, and the info [`WRAPPING_KEY_INFO`] (AES-256-GCM, usage wrap and
//! unwrap). `keystore add` generates a wrappable key in the kernel and
//! writes its blob; `exec --keystore` unwraps every blob into the vault it
//! hands its command. The root, the wrapping key and the stored keys never
//! pass through kvctl's memory: only blobs do.

use crate::fail::Fail;
use crate::inout::print_line;
use crate::keyring::KeyringRef;
use crate::{PolicyArgs, Session};
use keyvault::{
    Algorithm, BlobInfo, Caps, ChildPolicy, HashAlg, Kdf, KeyId, KeyOptions, Vault, WrapFormat,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The HKDF info that makes a keystore's wrapping key from its root (part
/// of the keystore format: another info is another wrapping key).
pub const WRAPPING_KEY_INFO: &str = "keyvault keystore wrapping key v1";
/// The extension of the blob files.
pub const EXT: &str = "kvblob";
/// `kvctl exec --keystore` gives CMD the id of key NAME as
/// `$KEYVAULT_KEY_<NAME>` ([`keyvault::key_env_var`]), and all of them
/// as `$KEYVAULT_KEYS`: `NAME=ID` pairs, space-separated.
pub const KEYS_ENV: &str = "KEYVAULT_KEYS";

/// Where a keystore is and what unlocks it.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct StoreArgs {
    /// The keystore directory: one NAME.kvblob file per key.
    #[arg(long, value_name = "DIR")]
    pub keystore: PathBuf,
    /// The root key in the kernel keyring: a serial, or %TYPE:DESC (e.g.
    /// %trusted:kvroot), searched in the session, user and user-session
    /// keyrings, in that order.
    #[arg(long, value_name = "KEY")]
    pub root: KeyringRef,
    /// What the root's payload is imported as: an HMAC key, HKDF's input
    /// (default: hmac-sha256).
    #[arg(long, value_name = "ALG")]
    pub root_alg: Option<Algorithm>,
}

/// `kvctl exec`'s keystore options: [`StoreArgs`], all optional, given
/// together. (A flattened `Option<StoreArgs>` would make clap ask for
/// --keystore and --root on every `kvctl exec`.)
#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
pub struct ExecStoreArgs {
    /// Load the keystore DIR into the vault first (with --root).
    #[arg(long, value_name = "DIR", requires = "root")]
    pub keystore: Option<PathBuf>,
    /// The keystore's root key in the kernel keyring: a serial, or
    /// %TYPE:DESC (e.g. %trusted:kvroot), searched in the session, user and
    /// user-session keyrings, in that order.
    #[arg(long, value_name = "KEY", requires = "keystore")]
    pub root: Option<KeyringRef>,
    /// What the root's payload is imported as: an HMAC key, HKDF's input
    /// (default: hmac-sha256).
    #[arg(long, value_name = "ALG", requires = "keystore")]
    pub root_alg: Option<Algorithm>,
}

impl ExecStoreArgs {
    /// The keystore to load, if one was given.
    pub fn store(&self) -> Option<StoreArgs> {
        Some(StoreArgs {
            keystore: self.keystore.clone()?,
            root: self.root.clone()?,
            root_alg: self.root_alg,
        })
    }
}

impl StoreArgs {
    fn root_alg(&self) -> Algorithm {
        self.root_alg.unwrap_or(Algorithm::HmacSha256)
    }
}

#[derive(clap::Subcommand, Clone, Debug, PartialEq)]
pub enum KeystoreCmd {
    /// Generate a wrappable key in the kernel and store it, wrapped, as
    /// DIR/NAME.kvblob; prints its public key (Ed25519, X25519).
    ///
    /// The key stays in the current vault too (with $KEYVAULT_FD). The file
    /// is written atomically and never replaces another: remove the old one
    /// first to replace a key.
    Add(AddArgs),
    /// List a keystore's keys, from their blobs' public headers (no root needed).
    List {
        /// The keystore directory.
        #[arg(long, value_name = "DIR")]
        keystore: PathBuf,
    },
}

#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct AddArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The key's name (letters, digits, - and _): its file is DIR/NAME.kvblob,
    /// and `kvctl exec --keystore` gives its id as $KEYVAULT_KEY_NAME.
    #[arg(long, value_parser = parse_name)]
    pub name: String,
    /// Algorithm (see `kvctl algorithms`).
    pub alg: Algorithm,
    /// Key size in bits (default: the algorithm's).
    #[arg(long, default_value_t = 0)]
    pub bits: u32,
    /// The key's policy (it is always wrappable: that is how it is stored).
    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
}

/// A key name ([`keyvault::check_key_name`]), as clap's value parser.
pub fn parse_name(s: &str) -> Result<String, String> {
    keyvault::check_key_name(s).map(|()| s.to_string())
}

/// The environment variable that carries key `name`'s id.
pub fn env_name(name: &str) -> String {
    keyvault::key_env_var(name)
}

/// Two names that would share an environment variable (`a-b`, `A_B`).
fn clash<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), Fail> {
    let mut seen: std::collections::HashMap<String, &str> = Default::default();
    for n in names {
        if let Some(other) = seen.insert(env_name(n), n) {
            return Err(Fail::usage(format!(
                "keys '{other}' and '{n}' would both be ${}: rename one",
                env_name(n)
            )));
        }
    }
    Ok(())
}

/// The keystore's blobs, by name: every DIR/NAME.kvblob (hidden files,
/// e.g. an interrupted write's, aside).
fn blobs(dir: &Path) -> Result<Vec<(String, PathBuf)>, Fail> {
    let shown = format!("keystore {}", dir.display());
    let entries = std::fs::read_dir(dir).map_err(|e| Fail::io(&shown, &e))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Fail::io(&shown, &e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(EXT) {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem.starts_with('.') {
            continue;
        }
        let name = parse_name(stem).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push((name, path));
    }
    out.sort();
    Ok(out)
}

/// The keystore's wrapping key in a vault, with the root it came from
/// already gone; destroyed when dropped.
struct Unlocked<'v> {
    vault: &'v Vault,
    wrapping: KeyId,
}

impl Drop for Unlocked<'_> {
    fn drop(&mut self) {
        // A handle without DESTROY keeps it: it is not wrappable, so it
        // still never leaves the kernel.
        let _ = self.vault.destroy(self.wrapping);
    }
}

/// Imports the root from the keyring and derives the wrapping key from it.
fn unlock<'v>(vault: &'v Vault, s: &StoreArgs) -> Result<Unlocked<'v>, Fail> {
    let serial = s.root.serial()?;
    // The root can make nothing but keystore wrapping keys.
    let root_opts = KeyOptions {
        usage: Caps::DERIVE,
        children: ChildPolicy {
            algorithms: vec![Algorithm::Aes256Gcm],
            usage: Caps::WRAPPING,
            ..Default::default()
        },
        ..Default::default()
    };
    let root = vault
        .import_from_keyring(serial, s.root_alg(), &root_opts)
        .map_err(|e| Fail::from(e).context(format!("the root {}", s.root)))?;
    let kdf = Kdf::new(HashAlg::Sha256, WRAPPING_KEY_INFO.as_bytes());
    let opts = KeyOptions {
        usage: Caps::WRAPPING,
        ..Default::default()
    };
    let wrapping = vault.derive(root, &kdf, Algorithm::Aes256Gcm, &opts);
    // A derived key does not need its parent: the root goes at once.
    let _ = vault.destroy(root);
    Ok(Unlocked {
        vault,
        wrapping: wrapping.map_err(|e| Fail::from(e).context("the keystore's wrapping key"))?,
    })
}

/// Unwraps every key of the keystore into `vault`; their names and ids.
/// All or nothing: on an error, the keys already unwrapped are destroyed.
pub fn load(vault: &Vault, s: &StoreArgs) -> Result<Vec<(String, KeyId)>, Fail> {
    let entries = blobs(&s.keystore)?;
    clash(entries.iter().map(|(n, _)| n.as_str()))?;
    let unlocked = unlock(vault, s)?;
    let mut loaded = Vec::new();
    for (name, path) in entries {
        let one = std::fs::read(&path)
            .map_err(|e| Fail::io(path.display(), &e))
            .and_then(|blob| {
                BlobInfo::parse(&blob)
                    .map_err(|e| Fail::invalid(format!("{}: {e}", path.display())))?;
                vault
                    .unwrap(unlocked.wrapping, &blob)
                    .map_err(|e| Fail::from(e).context(path.display()))
            });
        match one {
            Ok(id) => loaded.push((name, id)),
            Err(e) => {
                for (_, id) in loaded {
                    let _ = vault.destroy(id);
                }
                return Err(e);
            }
        }
    }
    Ok(loaded)
}

/// The environment that tells CMD the loaded keys' ids.
pub fn env(loaded: &[(String, KeyId)]) -> Vec<(String, String)> {
    let all: Vec<String> = loaded.iter().map(|(n, id)| format!("{n}={id}")).collect();
    loaded
        .iter()
        .map(|(n, id)| (env_name(n), id.to_string()))
        .chain([(KEYS_ENV.to_string(), all.join(" "))])
        .collect()
}

/// Writes `bytes` to a new file `path` (owner-only), atomically and never
/// over an existing file: a temporary file, synced, then hard-linked into
/// place (link(2) fails on an existing name, where rename(2) would replace it).
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Fail> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let (Some(dir), Some(file)) = (path.parent(), path.file_name()) else {
        return Err(Fail::usage(format!("{shown}: not a file path")));
    };
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written.map_err(|e| Fail::io(&shown, &e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Fail::io(dir.display(), &e))
}

impl Session {
    pub(crate) fn keystore(&mut self, cmd: &KeystoreCmd) -> Result<(), Fail> {
        match cmd {
            KeystoreCmd::Add(a) => self.keystore_add(a),
            KeystoreCmd::List { keystore } => self.keystore_list(keystore),
        }
    }

    fn keystore_add(&mut self, a: &AddArgs) -> Result<(), Fail> {
        let dir = &a.store.keystore;
        let path = dir.join(format!("{}.{EXT}", a.name));
        let existing = blobs(dir)?;
        if path.exists() {
            return Err(Fail::usage(format!(
                "{}: exists; remove it first to replace that key",
                path.display()
            )));
        }
        clash(
            existing
                .iter()
                .map(|(n, _)| n.as_str())
                .chain([a.name.as_str()]),
        )?;
        let v = &self.vault;
        let unlocked = unlock(v, &a.store)?;
        let opts = KeyOptions {
            wrappable: true,
            ..a.policy.options(a.bits)
        };
        let id = v.generate_with(a.alg, &opts)?;
        let stored = v
            .wrap(unlocked.wrapping, id, WrapFormat::Native)
            .map_err(Fail::from)
            .and_then(|blob| write_new(&path, &blob));
        if let Err(e) = stored {
            let _ = v.destroy(id);
            return Err(e);
        }
        drop(unlocked);
        let public = match a.alg {
            Algorithm::Ed25519 | Algorithm::X25519 => Some(v.public_key(id)?),
            _ => None,
        };
        self.last = Some(id);
        if self.json {
            print_line(json!({
                "name": a.name,
                "file": path.display().to_string(),
                "id": id.0,
                "algorithm": a.alg.name(),
                "pubkey": public.map(hex::encode),
            }))?;
        } else if let Some(p) = public {
            print_line(hex::encode(p))?;
        }
        Ok(())
    }

    fn keystore_list(&self, dir: &Path) -> Result<(), Fail> {
        let mut rows = Vec::new();
        for (name, path) in blobs(dir)? {
            let blob = std::fs::read(&path).map_err(|e| Fail::io(path.display(), &e))?;
            rows.push((name, BlobInfo::parse(&blob)));
        }
        if self.json {
            let items: Vec<_> = rows
                .iter()
                .map(|(name, info)| match info {
                    Ok(i) => json!({
                        "name": name,
                        "env": env_name(name),
                        "algorithm": i.algorithm.map_or_else(|| i.algorithm_raw.to_string(), |a| a.name().into()),
                        "bits": i.key_len * 8,
                        "usage": i.usage.names(),
                        "expires_ms": i.expires.map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)),
                    }),
                    Err(e) => json!({ "name": name, "error": e.to_string() }),
                })
                .collect();
            return print_line(json!(items));
        }
        for (name, info) in rows {
            match info {
                Ok(i) => {
                    let alg = i
                        .algorithm
                        .map_or_else(|| i.algorithm_raw.to_string(), |a| a.name().into());
                    let mut line = format!(
                        "{name}: {alg}, {} bits, usage {}",
                        i.key_len * 8,
                        i.usage.names()
                    );
                    if let Some(t) = i.expires {
                        let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                        line += &format!(", expires at {ms} ms since the epoch");
                    }
                    print_line(line)?;
                }
                Err(e) => print_line(format!("{name}: {e}"))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_args as parse, Cmd};

    #[test]
    fn key_names_are_file_and_environment_names() {
        for good in ["signer", "db-2", "A_b", "7"] {
            assert_eq!(parse_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "-x", "_x", "a.b", "a/b", "é", &"x".repeat(65)] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
        assert_eq!(env_name("db-2"), "KEYVAULT_KEY_DB_2");
        assert!(clash(["a-b", "c"]).is_ok());
        let e = clash(["a-b", "A_B"]).unwrap_err().to_string();
        assert!(e.contains("$KEYVAULT_KEY_A_B"), "{e}");
        let env = env(&[("signer".into(), KeyId(5)), ("db-2".into(), KeyId(6))]);
        assert_eq!(
            env,
            [
                ("KEYVAULT_KEY_SIGNER".into(), "5".into()),
                ("KEYVAULT_KEY_DB_2".into(), "6".into()),
                ("KEYVAULT_KEYS".into(), "signer=5 db-2=6".into()),
            ]
        );
    }

    #[test]
    fn a_blob_is_written_once_and_listed_by_name() {
        let dir = std::env::temp_dir().join(format!("kvctl-keystore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.kvblob");
        write_new(&path, b"first").unwrap();
        let e = write_new(&path, b"second").unwrap_err().to_string();
        assert!(e.contains("exists"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0);
        std::fs::write(dir.join("b.kvblob"), b"").unwrap();
        std::fs::write(dir.join(".c.kvblob.1.tmp"), b"").unwrap();
        std::fs::write(dir.join("notes.txt"), b"").unwrap();
        let names: Vec<String> = blobs(&dir).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        std::fs::write(dir.join("bad name.kvblob"), b"").unwrap();
        assert!(blobs(&dir)
            .unwrap_err()
            .to_string()
            .contains("bad key name"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(blobs(&dir)
            .unwrap_err()
            .to_string()
            .starts_with("keystore "));
    }

    #[test]
    fn keystore_add_and_exec_take_a_directory_and_a_root() {
        let Ok(Cmd::Keystore {
            cmd: KeystoreCmd::Add(a),
        }) = parse(&[
            "keystore",
            "add",
            "--keystore",
            "/k",
            "--root",
            "%trusted:kvroot",
            "--name",
            "signer",
            "ed25519",
        ])
        else {
            panic!("keystore add")
        };
        assert_eq!(a.store.keystore, Path::new("/k"));
        assert_eq!(a.store.root, "%trusted:kvroot".parse().unwrap());
        assert_eq!(a.store.root_alg(), Algorithm::HmacSha256);
        assert_eq!((a.name.as_str(), a.alg), ("signer", Algorithm::Ed25519));
        assert!(parse(&[
            "keystore",
            "add",
            "--keystore",
            "/k",
            "--name",
            "x",
            "ed25519"
        ])
        .is_err());
        assert!(parse(&[
            "keystore",
            "add",
            "--keystore",
            "/k",
            "--root",
            "1",
            "--name",
            "a.b",
            "ed25519"
        ])
        .is_err());

        let Ok(Cmd::Exec { store, cmd, .. }) = parse(&[
            "exec",
            "--keystore",
            "/k",
            "--root",
            "42",
            "--root-alg",
            "hmac-sha512",
            "--",
            "env",
        ]) else {
            panic!("exec --keystore")
        };
        let store = store.store().expect("a keystore");
        assert_eq!(store.root, KeyringRef::Serial(42));
        assert_eq!(store.root_alg(), Algorithm::HmacSha512);
        assert_eq!(cmd, ["env"]);
        let Ok(Cmd::Exec { store, .. }) = parse(&["exec", "--", "env"]) else {
            panic!("exec without a keystore")
        };
        assert_eq!(store.store(), None);
        assert!(
            parse(&["exec", "--keystore", "/k", "--", "env"]).is_err(),
            "no root"
        );
        assert!(
            parse(&["exec", "--root", "42", "--", "env"]).is_err(),
            "no keystore"
        );
        assert!(parse(&["exec", "--root-alg", "hmac-sha256", "--", "env"]).is_err());
    }
}
