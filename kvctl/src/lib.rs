//! kvctl: the command-line face of /dev/keyvault.
//!
//! Keys live as long as the vault's fd. One kvctl command on its own opens a
//! fresh vault that dies with it, so to keep keys across commands either run
//! several in one process (`kvctl batch`), or open one vault and hand it to a
//! child (`kvctl exec -- CMD`): every kvctl run inside CMD finds it through
//! `$KEYVAULT_FD`. `kvctl exec --caps CAPS --keys IDS -- CMD` hands CMD a new,
//! restricted handle on the same vault instead (the current one keeps its
//! capabilities and does not reach CMD).
//!
//! Keys made `--wrappable` can leave the kernel encrypted (`wrap`,
//! `unwrap`), and a keystore directory keeps such keys across reboots,
//! wrapped under a key derived from a root in the kernel keyring:
//! `kvctl keystore add` stores one, `kvctl exec --keystore DIR --root KEY`
//! loads them all into the vault it hands CMD.
//!
//! All of kvctl is in this library: the `kvctl` binary only calls [`run`], and
//! `kvctl-docs` makes the man pages and shell completions from the same `Cli`.

mod agent_cmds;
mod algorithms;
mod asym_cmds;
mod crypto_cmds;
pub mod docs;
mod envelope;
pub mod fail;
mod inout;
mod kdf_cmds;
mod key_import;
mod keyfmt;
pub mod keyring;
pub mod keystore;
mod limits;
mod sshsig;
mod streaming;
mod wrap_cmds;

use clap::{Parser, Subcommand};
use fail::{Fail, Kind};
use keyvault::{Algorithm, Caps, KeyId, KeyInfo, KeyOptions, Vault};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::io::BufRead;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};
use zeroize::Zeroizing;

/// The environment variable through which `kvctl exec` passes the vault fd.
const FD_ENV: &str = keyvault::FD_ENV;

/// `kvctl --help`'s epilogue: how keys are kept, and the exit statuses
/// (fail.rs's table).
const AFTER_HELP: &str = "\
Keys live as long as the vault fd. Keep one open across commands with
  kvctl exec -- sh -c 'id=$(kvctl genkey aes256-gcm); kvctl info $id'
or run several commands in one process with `kvctl batch FILE`.

Exit status: 0 ok; 1 verification failed (bad signature, MAC, tag or
padding); 2 usage (bad arguments, or a key made in a vault that dies with
kvctl); 3 no keyvault device (module not loaded, not a vault fd); 4
permission denied (handle capability or key policy); 5 key unknown, revoked
or expired; 6 quota exhausted; 7 input too large; 8 invalid input; 9 other
(I/O, out of memory); 141 stdout closed early.";

#[derive(Parser)]
#[command(
    name = "kvctl",
    version,
    about = "Keys kept in the kernel: generate, use, inspect and share them through /dev/keyvault"
)]
#[command(after_help = AFTER_HELP)]
struct Cli {
    /// Print machine-readable JSON: one object per command (an array for
    /// list, algorithms and keystore list; {"ok":true,...} for destroy,
    /// revoke and restrict); binary outputs (a raw plaintext) stay as they
    /// are. A failure is one line {"error":{"kind","message","hint",
    /// "exit_code","errno","op"}} on stdout, with the exit status.
    #[arg(long, global = true)]
    json: bool,
    /// Make a key (genkey, import, derive, exchange, unwrap) even though no
    /// vault outlives this kvctl (no $KEYVAULT_FD, not in a batch): the key
    /// is destroyed when kvctl exits.
    #[arg(long, global = true)]
    ephemeral: bool,
    /// Write binary output (a raw envelope, plaintext, blob, MAC, signature
    /// or public key) to stdout even when it is a terminal.
    #[arg(long, global = true)]
    force: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone, Debug, Default, PartialEq)]
struct PolicyArgs {
    /// Lifetime, e.g. 90s, 15m, 2h, 500ms.
    #[arg(long, value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Operations the key may be used for, e.g. encrypt,decrypt (default: all it
    /// supports but wrapping); a wrapping key (aes256-gcm) has wrap,unwrap and nothing else.
    #[arg(long)]
    usage: Option<Caps>,
    /// Refuse caller-chosen nonces/IVs for this key.
    #[arg(long)]
    no_caller_nonce: bool,
    /// Let the key leave the kernel, only encrypted under a wrapping key
    /// (`kvctl wrap`); fixed now: without it the key never leaves.
    #[arg(long)]
    wrappable: bool,
    /// Most operations the key may perform.
    #[arg(long, default_value_t = 0)]
    max_uses: u64,
    /// Most input bytes the key may process.
    #[arg(long, default_value_t = 0)]
    max_bytes: u64,
    /// Algorithms keys derived from this one may have, e.g. aes256-gcm,chacha20-poly1305 (default: any).
    #[arg(long, value_delimiter = ',')]
    child_algorithms: Vec<Algorithm>,
    /// Operations keys derived from this one may be used for at most (default: any).
    #[arg(long)]
    child_usage: Option<Caps>,
    /// Most operations each key derived from this one may allow (default: no cap).
    #[arg(long, default_value_t = 0)]
    child_max_uses: u32,
    /// Most input bytes each key derived from this one may allow (default: no cap).
    #[arg(long, default_value_t = 0)]
    child_max_bytes: u32,
}

impl PolicyArgs {
    fn options(&self, bits: u32) -> KeyOptions {
        KeyOptions {
            bits,
            ttl: self.ttl,
            usage: self.usage.unwrap_or(Caps::empty()),
            no_caller_nonce: self.no_caller_nonce,
            wrappable: self.wrappable,
            max_uses: self.max_uses,
            max_bytes: self.max_bytes,
            children: keyvault::ChildPolicy {
                algorithms: self.child_algorithms.clone(),
                usage: self.child_usage.unwrap_or(Caps::empty()),
                max_uses: self.child_max_uses,
                max_bytes: self.child_max_bytes,
            },
        }
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Generate a key in the kernel; prints its id.
    Genkey {
        /// Algorithm (see `kvctl algorithms`).
        alg: Algorithm,
        /// Key size in bits (default: the algorithm's).
        #[arg(long, default_value_t = 0)]
        bits: u32,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Import a key from a file or an inherited fd (never the command line):
    /// raw, hex, base64, PKCS#8 (PEM or DER), OpenSSH or JWK; or a kernel
    /// keyring key's payload, read by the kernel itself; prints the id.
    ///
    /// The algorithm must be what the file says it is (an Ed25519 PKCS#8
    /// key is not an x25519 key). In --format auto, text that looks like
    /// hex or base64, or ends in a newline, is refused when raw bytes are
    /// expected: say --format hex, base64 or raw.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["key_file", "key_fd", "keyring"])))]
    Import {
        /// Algorithm (see `kvctl algorithms`).
        alg: Algorithm,
        #[command(flatten)]
        key: key_import::KeySource,
        /// A kernel keyring key (types logon, user, encrypted, trusted): its
        /// serial, or %TYPE:DESC (e.g. %logon:myapp), searched like keyctl in the
        /// session, user and user-session keyrings, in that order. The key must be
        /// searchable by kvctl; its bytes never reach it. Never --wrappable.
        #[arg(long, value_name = "KEY")]
        keyring: Option<keyring::KeyringRef>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Describe a key (never its bytes).
    Info { id: KeyId },
    /// List the vault's key ids.
    List,
    /// Destroy a key now.
    Destroy { id: KeyId },
    /// Revoke a key: it stays listed but can never be used again.
    Revoke { id: KeyId },
    /// Show this vault handle's capabilities.
    Caps,
    /// Drop capabilities from this vault handle (keeps only CAPS), e.g. readonly.
    Restrict { caps: Caps },
    /// List algorithms: key sizes (bits), the operations their keys can do, and what they do by default.
    Algorithms,
    /// The module's limits (input bytes per operation, keys and key bytes per
    /// vault and per user) and how much of them this vault and user use.
    Limits,
    /// Encrypt with an AEAD or AES-CBC key into an envelope that `decrypt` reads.
    ///
    /// AEAD keys write a KVS1 stream: input of any size, in constant memory,
    /// in chunks (--chunk-size, 64 KiB by default) that each carry a kernel
    /// nonce and a tag, bound to their place in the stream (see the README,
    /// "Streaming envelope (KVS1)").
    ///
    /// AES-CBC keys, and AEAD keys given --nonce, write a one-shot "KVE1"
    /// envelope, up to the module's per-operation limit (max_data_bytes, 1
    /// MiB by default): "KVE1", the key's algorithm and flags (1 byte each),
    /// then nonce (12) + tag (16) + ciphertext, or IV (16) + ciphertext.
    ///
    /// With --out FILE the envelope appears as FILE only when complete.
    Encrypt(crypto_cmds::EncryptArgs),
    /// Decrypt an envelope made by `encrypt` (KVS1 or KVE1); writes the plaintext (raw bytes).
    ///
    /// Nothing unauthenticated reaches the output. With --out FILE the
    /// plaintext goes to a new temporary file (mode 0600) next to FILE,
    /// renamed over FILE only once the whole stream authenticated; on any
    /// failure it is deleted and FILE is left as it was (or absent). To
    /// stdout, a KVS1 stream is written chunk by chunk, each one only after it
    /// authenticated; if a later chunk fails (altered, reordered, truncated),
    /// kvctl exits non-zero and says so: what was written is incomplete and
    /// must be discarded.
    Decrypt(crypto_cmds::DecryptArgs),
    /// HMAC of the input with an HMAC key; prints it (hex by default).
    ///
    /// The HMAC is one kernel operation: inputs above the module's
    /// max_data_bytes are refused; --prehash MACs their digest instead.
    Mac(crypto_cmds::MacArgs),
    /// Check a MAC in the kernel (constant time): exit status 0 if it matches, 1 if not.
    VerifyMac(crypto_cmds::VerifyMacArgs),
    /// SHA-256/512 of the input, computed in the kernel; prints it like sha256sum.
    ///
    /// Inputs above the module's per-operation limit (max_data_bytes) are
    /// hashed by kvctl itself (sha2 crate, streamed): the same digest.
    Hash(crypto_cmds::HashArgs),
    /// Sign the input with an Ed25519 key; prints the signature (hex by default).
    Sign(asym_cmds::SignArgs),
    /// Check an Ed25519 signature (with a vault key or anyone's public key):
    /// exit status 0 if it is valid, 1 if not.
    Verify(asym_cmds::VerifyArgs),
    /// Print the public half of an Ed25519 or X25519 key (hex, raw, base64, or
    /// an OpenSSH line for Ed25519).
    Pubkey(asym_cmds::PubkeyArgs),
    /// Derive a new key from a vault key with HKDF, in the kernel; prints its id.
    ///
    /// The new key never outlives its parent (without --ttl it expires with
    /// it), and revoking the parent makes it unusable too.
    Derive(kdf_cmds::DeriveArgs),
    /// X25519 with a peer's public key, then HKDF into a new key, in the kernel; prints its id.
    ///
    /// The shared secret never leaves the kernel; both sides derive the same
    /// key when they use the same --to, --bits, --hash, --salt and --info.
    Exchange(kdf_cmds::ExchangeArgs),
    /// Export a --wrappable key encrypted under a wrapping key; writes the blob (binary).
    ///
    /// The wrapping key is an aes256-gcm key with usage wrap (and unwrap),
    /// in the same vault: `kvctl genkey aes256-gcm --usage wrap,unwrap`.
    Wrap(wrap_cmds::WrapArgs),
    /// Make a key from a blob made by `wrap` (or an RFC 5649 blob); prints its id.
    Unwrap(wrap_cmds::UnwrapArgs),
    /// Keys that survive a reboot: a directory of blobs wrapped under a key
    /// derived from a root in the kernel keyring (see `kvctl exec --keystore`).
    ///
    /// The wrapping key is HKDF-SHA256 of the root (imported with
    /// IMPORT_KEYRING, never readable), no salt, info "keyvault keystore
    /// wrapping key v1": an aes256-gcm key with usage wrap,unwrap. Each key
    /// is DIR/NAME.kvblob, a native blob.
    Keystore {
        #[command(subcommand)]
        cmd: keystore::KeystoreCmd,
    },
    /// Ask keyvault-agent for keys by name: what it would give (`list`), or a
    /// handle limited to some keys and capabilities for a command (`exec`).
    Agent {
        #[command(subcommand)]
        cmd: agent_cmds::AgentCmd,
    },
    /// Run commands, one per line, on one vault (`-` or no FILE: stdin).
    /// `@last` stands for the id of the last key made; `#` starts a comment.
    Batch {
        file: Option<PathBuf>,
        /// Go on after a failing command (the exit status still reports it).
        #[arg(short, long)]
        keep_going: bool,
    },
    /// Run CMD with a vault fd inherited as $KEYVAULT_FD (the current one, or a new vault).
    ///
    /// With --caps or --keys, CMD gets a new handle on the same vault with
    /// only those capabilities and keys; the current handle keeps its own
    /// and is not passed on.
    ///
    /// With --keystore DIR --root KEY, every DIR/NAME.kvblob is unwrapped
    /// into the vault first (all or none), and CMD finds the id of key NAME
    /// in $KEYVAULT_KEY_NAME (upper case, - as _) and all of them in
    /// $KEYVAULT_KEYS ("NAME=ID NAME=ID ..."). The root and the wrapping key
    /// are destroyed before CMD starts. Keystore keys are wrappable: give CMD
    /// --caps readonly unless it must make or export keys.
    Exec {
        /// Give CMD a handle with only these capabilities, e.g. readonly or sign,getinfo
        /// (default with --keys: all but genkey, import, derive, exchange).
        #[arg(long)]
        caps: Option<Caps>,
        /// Give CMD a handle that sees only these keys (comma-separated ids).
        #[arg(long, value_name = "ID,...", value_delimiter = ',')]
        keys: Option<Vec<KeyId>>,
        #[command(flatten)]
        store: keystore::ExecStoreArgs,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<OsString>,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration '{s}' (e.g. 30s, 5m, 1h, 250ms)"))?;
    let ms = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("bad duration unit in '{s}' (ms, s, m, h, d)")),
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration '{s}' too large"))
}

/// The vault: inherited through $KEYVAULT_FD, or a new one.
fn vault() -> Result<Vault, Fail> {
    match std::env::var_os(FD_ENV) {
        Some(value) => Vault::from_env().map_err(|e| {
            let value = value.to_string_lossy();
            Fail::from(e)
                .message(format!("{e} (${FD_ENV}={value})"))
                .hint(format!(
                    "${FD_ENV} is set by `kvctl exec` for the command it runs: unset it, or run \
                 kvctl inside `kvctl exec`"
                ))
        }),
        None => Ok(Vault::open()?),
    }
}

/// Whether keys made now outlive this kvctl: the vault came from
/// `kvctl exec` ($KEYVAULT_FD).
fn vault_is_kept() -> bool {
    std::env::var_os(FD_ENV).is_some()
}

struct Session {
    vault: Vault,
    json: bool,
    last: Option<KeyId>,
    /// A batch is reading its commands from stdin: no command may read it.
    stdin_is_script: bool,
}

fn info_json(i: &KeyInfo) -> Value {
    let ms = |t: std::time::SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    json!({
        "id": i.id.0,
        "algorithm": i.algorithm.map_or_else(|| i.algorithm_raw.to_string(), |a| a.name().to_string()),
        "bits": i.bits,
        "state": i.state.to_string(),
        "created_ms": ms(i.created),
        "expires_ms": i.expires.map(ms),
        "usage": i.usage.names(),
        "no_caller_nonce": i.no_caller_nonce,
        "wrappable": i.wrappable,
        "max_uses": i.max_uses,
        "max_bytes": i.max_bytes,
        "uses": i.uses,
        "bytes": i.bytes,
    })
}

impl Session {
    fn new(vault: Vault, json: bool) -> Self {
        Session {
            vault,
            json,
            last: None,
            stdin_is_script: false,
        }
    }

    /// A command's input (`None` or `-`: stdin).
    fn read<P: AsRef<Path> + ?Sized>(&self, path: Option<&P>) -> Result<Zeroizing<Vec<u8>>, Fail> {
        self.stdin_free(path)?;
        inout::read_input(path)
    }

    /// Refuses stdin (`None` or `-`) when it is the batch script.
    fn stdin_free<P: AsRef<Path> + ?Sized>(&self, path: Option<&P>) -> Result<(), Fail> {
        if self.stdin_is_script && inout::is_stdin(path) {
            return Err(Fail::usage(
                "stdin is the batch script here: give the input with --in FILE",
            ));
        }
        Ok(())
    }

    /// Prints the command's result: `human` as text, or with --json the
    /// value `json` makes.
    fn print(
        &self,
        human: impl FnOnce() -> String,
        json: impl FnOnce() -> Value,
    ) -> Result<(), Fail> {
        if self.json {
            inout::print_line(json())
        } else {
            inout::print_line(human())
        }
    }

    fn made(&mut self, id: KeyId) -> Result<(), Fail> {
        self.last = Some(id);
        self.print(|| id.to_string(), || json!({ "id": id.0 }))
    }

    /// Runs one command; a failure of the kernel's is made precise
    /// ([`Session::explain`]).
    fn run(&mut self, cmd: Cmd) -> Result<(), Fail> {
        let keys = cmd.keys();
        self.dispatch(cmd).map_err(|f| self.explain(f, &keys))
    }

    fn dispatch(&mut self, cmd: Cmd) -> Result<(), Fail> {
        let v = &self.vault;
        match cmd {
            Cmd::Genkey { alg, bits, policy } => {
                let id = v.generate_with(alg, &policy.options(bits))?;
                self.made(id)?;
            }
            Cmd::Import {
                alg,
                key,
                keyring,
                policy,
            } => {
                let opts = policy.options(0);
                let id = match keyring {
                    Some(k) => v
                        .import_from_keyring(k.serial()?, alg, &opts)
                        .map_err(|e| Fail::from(e).context(&k))?,
                    None => self.import_key(alg, &key, &opts)?,
                };
                self.made(id)?;
            }
            Cmd::Info { id } => {
                let i = v.info(id)?;
                self.print(
                    || {
                        let alg = i
                            .algorithm
                            .map_or_else(|| i.algorithm_raw.to_string(), |a| a.name().into());
                        let mut s = format!(
                            "key {}: {alg}, {} bits, {}, usage {}",
                            i.id,
                            i.bits,
                            i.state,
                            i.usage.names()
                        );
                        if i.wrappable {
                            s += ", wrappable";
                        }
                        if let Some(exp) = i.expires {
                            let left = exp
                                .duration_since(std::time::SystemTime::now())
                                .unwrap_or_default();
                            s += &format!(", expires in {}s", left.as_secs());
                        }
                        if i.max_uses != 0 || i.max_bytes != 0 {
                            s += &format!(
                                ", used {}/{} times, {}/{} bytes",
                                i.uses, i.max_uses, i.bytes, i.max_bytes
                            );
                        }
                        s
                    },
                    || info_json(&i),
                )?;
            }
            Cmd::List => {
                let ids = v.list()?;
                self.print(
                    || {
                        ids.iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join("\n")
                    },
                    || json!(ids.iter().map(|i| i.0).collect::<Vec<_>>()),
                )?;
            }
            Cmd::Destroy { id } => {
                v.destroy(id)?;
                self.done(json!({ "ok": true, "destroyed": id.0 }))?;
            }
            Cmd::Revoke { id } => {
                v.revoke(id)?;
                self.done(json!({ "ok": true, "revoked": id.0 }))?;
            }
            Cmd::Caps => {
                let c = v.caps()?;
                self.print(
                    || c.names(),
                    || json!({ "caps": c.bits(), "names": c.names() }),
                )?;
            }
            Cmd::Restrict { caps } => {
                let c = v.restrict(caps)?;
                self.print(
                    || c.names(),
                    || json!({ "ok": true, "caps": c.bits(), "names": c.names() }),
                )?;
            }
            Cmd::Encrypt(a) => self.encrypt(&a)?,
            Cmd::Decrypt(a) => self.decrypt(&a)?,
            Cmd::Mac(a) => self.mac(&a)?,
            Cmd::VerifyMac(a) => self.verify_mac(&a)?,
            Cmd::Hash(a) => self.hash(&a)?,
            Cmd::Sign(a) => self.sign(&a)?,
            Cmd::Verify(a) => self.verify(&a)?,
            Cmd::Pubkey(a) => self.pubkey(&a)?,
            Cmd::Derive(a) => self.derive(&a)?,
            Cmd::Exchange(a) => self.exchange(&a)?,
            Cmd::Wrap(a) => self.wrap(&a)?,
            Cmd::Unwrap(a) => self.unwrap(&a)?,
            Cmd::Keystore { cmd } => self.keystore(&cmd)?,
            Cmd::Algorithms => algorithms::print(self.json)?,
            Cmd::Limits => {
                let l = v.limits()?;
                self.print(|| limits::table(&l), || limits::json(&l))?;
            }
            Cmd::Agent {
                cmd: cmd @ agent_cmds::AgentCmd::List { .. },
            } => agent_cmds::run(cmd, self.json)?,
            Cmd::Batch { .. } | Cmd::Exec { .. } | Cmd::Agent { .. } => {
                return Err(Fail::usage(
                    "batch, exec and agent exec cannot be nested in a batch",
                ))
            }
        }
        Ok(())
    }

    /// A command that prints nothing on success: with --json, `what` it did.
    fn done(&self, what: Value) -> Result<(), Fail> {
        if self.json {
            inout::print_line(what)?;
        }
        Ok(())
    }
}

impl Cmd {
    /// The keys the command names (for saying which one a failure is about).
    fn keys(&self) -> Vec<KeyId> {
        match self {
            Cmd::Info { id } | Cmd::Destroy { id } | Cmd::Revoke { id } => vec![*id],
            Cmd::Encrypt(a) => vec![a.id],
            Cmd::Decrypt(a) => vec![a.id],
            Cmd::Mac(a) => vec![a.id],
            Cmd::VerifyMac(a) => vec![a.id],
            Cmd::Sign(a) => vec![a.id],
            Cmd::Verify(a) => a.id.into_iter().collect(),
            Cmd::Pubkey(a) => vec![a.id],
            Cmd::Derive(a) => vec![a.id],
            Cmd::Exchange(a) => vec![a.id],
            Cmd::Wrap(a) => vec![a.id, a.wrapping],
            Cmd::Unwrap(a) => vec![a.wrapping],
            _ => Vec::new(),
        }
    }

    /// The name of the command if it makes a key in the current vault
    /// (keystore add makes one too, but keeps it in its keystore).
    fn makes_key(&self) -> Option<&'static str> {
        match self {
            Cmd::Genkey { .. } => Some("genkey"),
            Cmd::Import { .. } => Some("import"),
            Cmd::Derive(_) => Some("derive"),
            Cmd::Exchange(_) => Some("exchange"),
            Cmd::Unwrap(_) => Some("unwrap"),
            _ => None,
        }
    }

    /// What binary data the command writes to stdout, if it does (so
    /// never to a terminal without --force), and its option for a file
    /// instead. With --json only a plaintext stays binary.
    fn binary_to_stdout(&self, json: bool) -> Option<(&'static str, &'static str)> {
        use inout::{is_stdin as stdout, Encoding::Raw};
        let (what, flag, raw, out) = match self {
            Cmd::Decrypt(a) => {
                return stdout(a.io.out.as_deref()).then_some(("the plaintext", "--out"))
            }
            _ if json => return None,
            Cmd::Encrypt(a) => (
                "the envelope",
                "--out",
                a.format == Raw,
                a.io.out.as_deref(),
            ),
            Cmd::Mac(a) => ("the MAC", "--out", a.format == Raw, a.io.out.as_deref()),
            Cmd::Hash(a) => ("the digest", "--out", a.format == Raw, a.io.out.as_deref()),
            Cmd::Sign(a) => (
                "the signature",
                "--out",
                a.format == asym_cmds::SignFormat::Raw,
                a.io.out.as_deref(),
            ),
            Cmd::Pubkey(a) => {
                let raw = a.format == asym_cmds::PubkeyFormat::Raw;
                ("the public key", "--out", raw, a.out.as_deref())
            }
            Cmd::Wrap(a) => ("the blob", "-o", true, a.out.as_deref()),
            _ => return None,
        };
        (raw && stdout(out)).then_some((what, flag))
    }
}

/// What is refused before a command runs: binary output to a terminal.
fn preflight(cmd: &Cmd, json: bool, force: bool) -> Result<(), Fail> {
    match cmd.binary_to_stdout(json) {
        Some((what, flag)) if !force => inout::refuse_binary_to_terminal(what, flag),
        _ => Ok(()),
    }
}

/// Refuses a command that makes a key in a vault that dies with this
/// kvctl: its id would name nothing once kvctl exits.
fn check_kept(cmd: &Cmd, ephemeral: bool, kept: bool) -> Result<(), Fail> {
    match cmd.makes_key() {
        Some(name) if !ephemeral && !kept => Err(Fail::usage(format!(
            "{name} outside a kept vault: the key would be destroyed when this kvctl exits, \
             before anything could use its id"
        ))
        .hint(format!(
            "keep the vault open: kvctl exec -- sh -c 'id=$(kvctl {name} ...); kvctl ... $id'; \
             or run the commands in one process: kvctl batch FILE; to keep a key across \
             reboots: kvctl keystore add --keystore DIR --root KEY --name NAME ALG; or add \
             --ephemeral to make it anyway"
        ))),
        _ => Ok(()),
    }
}

/// Splits a batch line into words (whitespace; '...' and "..." quote).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '#') => break,
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Runs a batch; fails with the kind of its first failing command.
fn batch(s: &mut Session, file: Option<&Path>, keep_going: bool) -> Result<(), Fail> {
    let name = inout::display_name(file);
    let input: Box<dyn BufRead> = match file.filter(|f| !inout::is_stdin(Some(*f))) {
        None => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).map_err(|e| Fail::io(&name, &e))?,
        )),
    };
    s.stdin_is_script = inout::is_stdin(file);
    let mut first: Option<Kind> = None;
    let mut failed = 0;
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Fail::io(&name, &e))?;
        if let Err(e) = batch_line(s, &line) {
            let kind = e.kind();
            report(
                &e.context(format!("line {}: {}", n + 1, line.trim())),
                s.json,
            )?;
            first.get_or_insert(kind);
            failed += 1;
            if kind == Kind::BrokenPipe || !keep_going {
                return Err(Fail::new(kind, format!("batch stopped at line {}", n + 1)));
            }
        }
    }
    match first {
        Some(kind) => Err(Fail::new(kind, format!("{failed} batch command(s) failed"))),
        None => Ok(()),
    }
}

/// One line of a batch.
fn batch_line(s: &mut Session, line: &str) -> Result<(), Fail> {
    let mut w = words(line);
    if w.is_empty() {
        return Ok(());
    }
    for word in w.iter_mut() {
        if word == "@last" {
            *word = s
                .last
                .ok_or_else(|| Fail::usage("@last before any key was made"))?
                .to_string();
        }
    }
    let argv = std::iter::once("kvctl".to_string()).chain(w);
    match Cli::try_parse_from(argv) {
        Ok(cli) => {
            preflight(&cli.cmd, s.json || cli.json, cli.force)?;
            s.run(cli.cmd)
        }
        Err(e) => Err(Fail::usage(clap_message(&e))),
    }
}

/// The first line of clap's message, without its `error: `.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// Capabilities that make keys: a handle limited to some keys cannot have them.
const MAKES_KEYS: Caps = Caps::GENKEY
    .union(Caps::IMPORT)
    .union(Caps::DERIVE)
    .union(Caps::EXCHANGE)
    .union(Caps::UNWRAP);

/// The capabilities to ask DUP for, for `exec --caps CAPS --keys IDS`.
fn exec_caps(caps: Option<Caps>, keys: Option<&[KeyId]>) -> Result<Caps, Fail> {
    match (caps, keys) {
        (None, None) => Ok(Caps::all()),
        (None, Some(_)) => Ok(Caps::all() - MAKES_KEYS),
        (Some(c), Some(_)) if c.intersects(MAKES_KEYS) => Err(Fail::usage(format!(
            "a handle limited to --keys cannot make keys: leave {} out of --caps",
            (c & MAKES_KEYS).names().replace('|', ",")
        ))),
        (Some(c), _) => Ok(c),
    }
}

fn exec(
    v: Vault,
    caps: Option<Caps>,
    keys: Option<&[KeyId]>,
    store: Option<&keystore::StoreArgs>,
    cmd: &[OsString],
) -> Result<(), Fail> {
    let key_env = match store {
        Some(s) => keystore::env(&keystore::load(&v, s)?),
        None => Vec::new(),
    };
    let v = if caps.is_none() && keys.is_none() {
        v
    } else {
        let dup = v.dup(exec_caps(caps, keys)?, keys)?;
        // The current handle may have been inherited without close-on-exec:
        // close it, so that CMD gets only the restricted one.
        drop(v);
        dup
    };
    exec_with(v, key_env, cmd)
}

/// Runs `cmd` (replacing this process) with `v` as its `$KEYVAULT_FD` and
/// the environment `key_env` (the keys' ids by name).
fn exec_with(v: Vault, key_env: Vec<(String, String)>, cmd: &[OsString]) -> Result<(), Fail> {
    let Some((program, args)) = cmd.split_first() else {
        return Err(Fail::usage("exec needs a command to run"));
    };
    let fd = v.into_fd();
    // Let the fd survive exec: clear FD_CLOEXEC.
    nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(|e| {
        Fail::new(
            Kind::Vault(keyvault::ErrorKind::Other),
            format!("fcntl: {e}"),
        )
    })?;
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(program)
        .args(args)
        .env(FD_ENV, fd.as_raw_fd().to_string())
        .envs(key_env)
        .exec();
    Err(Fail::io(Path::new(program).display(), &err))
}

/// Tells a failure: `kvctl: ...` on stderr, or with --json its object on
/// stdout. A closed stdout is told nothing (there is no one to tell).
fn report(f: &Fail, json: bool) -> Result<(), Fail> {
    match f.kind() {
        Kind::BrokenPipe => Ok(()),
        _ if json => inout::print_line(f.to_json()),
        _ => {
            use std::io::Write;
            // Nowhere left to report a failure to write stderr.
            let _ = writeln!(std::io::stderr(), "{}", f.to_text());
            Ok(())
        }
    }
}

/// Runs the parsed command line.
fn run_cli(cli: Cli) -> Result<(), Fail> {
    preflight(&cli.cmd, cli.json, cli.force)?;
    check_kept(&cli.cmd, cli.ephemeral, vault_is_kept())?;
    if let Cmd::Algorithms = cli.cmd {
        return algorithms::print(cli.json);
    }
    if let Cmd::Agent { cmd } = cli.cmd {
        return agent_cmds::run(cmd, cli.json);
    }
    let vault = vault()?;
    match cli.cmd {
        Cmd::Exec {
            caps,
            keys,
            store,
            cmd,
        } => exec(vault, caps, keys.as_deref(), store.store().as_ref(), &cmd),
        Cmd::Batch { file, keep_going } => batch(
            &mut Session::new(vault, cli.json),
            file.as_deref(),
            keep_going,
        ),
        cmd => {
            let mut s = Session::new(vault, cli.json);
            s.run(cmd)?;
            if let (true, Some(id)) = (cli.ephemeral && !vault_is_kept(), s.last) {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "kvctl: note: key {id} is destroyed as this kvctl exits (--ephemeral)"
                );
            }
            Ok(())
        }
    }
}

/// Whether the raw command line asks for --json (for the errors clap
/// finds before there is a `Cli` to ask).
fn wants_json(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

/// kvctl's `main`: parses the command line, runs the command, and turns a
/// failure into its message and exit status (see fail.rs).
pub fn run() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let json = wants_json(&args);
    let result = match Cli::try_parse_from(&args) {
        Ok(cli) => run_cli(cli),
        Err(e) if !e.use_stderr() => {
            // --help, --version: not failures.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if json => {
            Err(Fail::usage(clap_message(&e)).hint("kvctl --help, or kvctl COMMAND --help"))
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(Kind::Usage.exit_code());
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // A failure to report the failure changes nothing: its status stands.
            let _ = report(&f, json);
            ExitCode::from(f.exit_code())
        }
    }
}

/// The command that `kvctl ARGS...` parses to (for the subcommand tests).
#[cfg(test)]
fn parse_args(args: &[&str]) -> Result<Cmd, String> {
    Cli::try_parse_from(std::iter::once("kvctl").chain(args.iter().copied()))
        .map(|c| c.cmd)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn batch_lines_split_into_words_with_quotes_and_comments() {
        assert_eq!(
            words("genkey aes256-gcm --ttl 5m # comment"),
            ["genkey", "aes256-gcm", "--ttl", "5m"]
        );
        assert_eq!(
            words("  import aes128-gcm --key-file 'my key'  "),
            ["import", "aes128-gcm", "--key-file", "my key"]
        );
        assert_eq!(words(r#"restrict "" "#), ["restrict", ""]);
        assert!(words("   # only a comment").is_empty());
    }

    #[test]
    fn the_command_line_parses_algorithms_caps_and_ids() {
        let cli = Cli::try_parse_from([
            "kvctl",
            "genkey",
            "hmac-sha512",
            "--bits",
            "1024",
            "--usage",
            "mac",
        ])
        .unwrap();
        match cli.cmd {
            Cmd::Genkey { alg, bits, policy } => {
                assert_eq!((alg, bits), (Algorithm::HmacSha512, 1024));
                assert_eq!(policy.options(bits).usage, Caps::MAC);
            }
            _ => panic!("wrong command"),
        }
        let cli = Cli::try_parse_from(["kvctl", "--json", "info", "0x10"]).unwrap();
        assert!(cli.json);
        assert!(matches!(cli.cmd, Cmd::Info { id: KeyId(16) }));
        assert!(Cli::try_parse_from(["kvctl", "genkey", "rot13"]).is_err());
        assert!(Cli::try_parse_from(["kvctl", "restrict", "genkey,bogus"]).is_err());
        let cli = Cli::try_parse_from(["kvctl", "restrict", "readonly"]).unwrap();
        assert!(matches!(cli.cmd, Cmd::Restrict { caps } if caps == Caps::READONLY));
        let cli =
            Cli::try_parse_from(["kvctl", "exec", "--caps", "readonly", "--", "sh", "-c", "x"])
                .unwrap();
        assert!(matches!(cli.cmd, Cmd::Exec { ref cmd, .. } if cmd == &["sh", "-c", "x"]));
    }

    #[test]
    fn exec_takes_caps_and_keys_for_a_restricted_handle() {
        let cli = Cli::try_parse_from([
            "kvctl", "exec", "--caps", "readonly", "--keys", "3,0x4", "--keys", "9", "--", "w",
            "--keys", "1",
        ])
        .unwrap();
        let Cmd::Exec {
            caps, keys, cmd, ..
        } = cli.cmd
        else {
            panic!("wrong command")
        };
        assert_eq!(caps, Some(Caps::READONLY));
        assert_eq!(keys, Some(vec![KeyId(3), KeyId(4), KeyId(9)]));
        assert_eq!(cmd, ["w", "--keys", "1"]);
        let cli = Cli::try_parse_from(["kvctl", "exec", "sh"]).unwrap();
        assert!(matches!(
            cli.cmd,
            Cmd::Exec {
                caps: None,
                keys: None,
                ..
            }
        ));
        assert!(Cli::try_parse_from(["kvctl", "exec", "--keys", "x", "--", "sh"]).is_err());
        assert!(Cli::try_parse_from(["kvctl", "exec", "--keys", "3"]).is_err());

        let ids = [KeyId(3)];
        assert_eq!(
            exec_caps(Some(Caps::READONLY), None).ok(),
            Some(Caps::READONLY)
        );
        assert_eq!(
            exec_caps(Some(Caps::READONLY), Some(&ids)).ok(),
            Some(Caps::READONLY)
        );
        let limited = exec_caps(None, Some(&ids)).unwrap();
        assert!(!limited.intersects(MAKES_KEYS));
        assert!(limited.contains(Caps::READONLY | Caps::REVOKE | Caps::RESTRICT));
        let e = exec_caps(Some(Caps::all()), Some(&ids)).unwrap_err();
        assert!(e.contains("genkey,derive,exchange,import,unwrap"), "{e}");
        assert_eq!(exec_caps(Some(Caps::all()), None).ok(), Some(Caps::all()));
    }

    #[test]
    fn exec_with_caps_dups_rather_than_restricting_the_shared_handle() {
        // On /dev/null DUP fails, and the failure is DUP's (RESTRICT would
        // have changed the handle every holder of the fd shares).
        let v = Vault::open_path("/dev/null").unwrap();
        let e = exec(v, Some(Caps::READONLY), None, None, &["true".into()]).unwrap_err();
        assert!(e.starts_with("keyvault dup:"), "{e}");
        let v = Vault::open_path("/dev/null").unwrap();
        let e = exec(
            v,
            Some(Caps::GENKEY),
            Some(&[KeyId(1)]),
            None,
            &["true".into()],
        )
        .unwrap_err();
        assert!(e.contains("cannot make keys"), "{e}");
    }

    #[test]
    fn import_needs_a_key_source() {
        assert!(Cli::try_parse_from(["kvctl", "import", "aes128-gcm"]).is_err());
        // One source only: a file, an fd, or the keyring; never the key itself.
        for (one, other) in [
            (["--key-file", "f"], ["--keyring", "1"]),
            (["--key-fd", "3"], ["--keyring", "1"]),
            (["--key-file", "f"], ["--key-fd", "3"]),
            (["--keyring", "1"], ["--format", "hex"]),
            (["--keyring", "1"], ["--passphrase-fd", "4"]),
        ] {
            let mut args = vec!["kvctl", "import", "aes128-gcm"];
            args.extend(one);
            args.extend(other);
            assert!(Cli::try_parse_from(args).is_err(), "{one:?} {other:?}");
        }
        let e = parse_args(&["import", "aes128-gcm", "--hex", "00"]).unwrap_err();
        assert!(e.contains("unexpected argument '--hex'"), "{e}");
        let Cmd::Import { key, .. } = parse_args(&[
            "import",
            "ed25519",
            "--key-fd",
            "3",
            "--format",
            "openssh",
            "--passphrase-fd",
            "4",
        ])
        .unwrap() else {
            panic!("import --key-fd")
        };
        assert_eq!(
            (key.key_fd, key.format, key.passphrase_fd),
            (Some(3), keyfmt::KeyFormat::Openssh, Some(4))
        );
        let cli = Cli::try_parse_from([
            "kvctl",
            "import",
            "hmac-sha256",
            "--keyring",
            "%logon:app",
            "--usage",
            "derive",
        ])
        .unwrap();
        let Cmd::Import {
            keyring: Some(k), ..
        } = cli.cmd
        else {
            panic!("import --keyring")
        };
        assert_eq!(k.to_string(), "%logon:app");
    }

    #[test]
    fn policies_take_wrappable_and_the_wrapping_usage() {
        let cli = Cli::try_parse_from(["kvctl", "genkey", "aes256-gcm", "--usage", "wrap,unwrap"])
            .unwrap();
        let Cmd::Genkey { policy, .. } = cli.cmd else {
            panic!("genkey")
        };
        assert_eq!(policy.options(0).usage, Caps::WRAPPING);
        assert!(!policy.options(0).wrappable);
        let cli = Cli::try_parse_from(["kvctl", "genkey", "ed25519", "--wrappable"]).unwrap();
        let Cmd::Genkey { policy, .. } = cli.cmd else {
            panic!("genkey")
        };
        assert!(policy.options(0).wrappable);
    }
}
