//! The identity's key, in the kernel: where it is found, and the
//! [`Agreement`] done with it there (`KV_IOC_KEYEXCHANGE` into a one-use
//! ChaCha20-Poly1305 key, `KV_IOC_AEAD_DECRYPT` of the stanza body, the
//! derived key destroyed). The X25519 secret never reaches this process;
//! only the 16-byte file key does, as age needs it.
//!
//! Where, in this order:
//! 1. the vault handed in `$KEYVAULT_FD` (`kvctl exec --keystore DIR --root R
//!    -- age -d ...`: age passes its environment and the inherited fd to the
//!    plugin), the key's id in `$KEYVAULT_KEY_<NAME>`;
//! 2. otherwise keyvault-agent's broker (`$KEYVAULT_AGENT_SOCK`, or
//!    `/run/keyvault/agent.sock`), which does the exchange for us and hands
//!    over a handle that can only decrypt, once, with the derived key.

use crate::identity::KeyName;
use crate::x25519::{Agreement, Failure, INFO};
use age_core::format::{FileKey, FILE_KEY_BYTES};
use keyvault::agent::{self, AgentError};
use keyvault::{Algorithm, Caps, HashAlg, Kdf, KeyId, KeyOptions, Nonce, Tag, Vault, FD_ENV};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// The derived key's lifetime: it is destroyed at once after use, this
/// bounds it if the plugin dies first.
const DERIVED_TTL: Duration = Duration::from_secs(60);

/// Finds keys by name; holds the `$KEYVAULT_FD` vault once taken (a
/// process may take it once).
#[derive(Default)]
pub struct Finder {
    env_vault: Option<Rc<Vault>>,
}

impl Finder {
    /// The key `name`: in the `$KEYVAULT_FD` vault when that is set and
    /// `$KEYVAULT_KEY_<NAME>` names it, else through the agent. Nothing is
    /// asked of the kernel or the agent yet.
    pub fn find(&mut self, name: &KeyName) -> Result<KernelKey, String> {
        let fd_set = std::env::var_os(FD_ENV).is_some_and(|v| !v.is_empty());
        let var = name.env_var();
        let where_ = match std::env::var(&var) {
            Ok(value) if fd_set => {
                let id = value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("key {name}: ${var} is '{value}', not a key id"))?;
                Where::Vault {
                    vault: self.env_vault()?,
                    id: KeyId(id),
                    var,
                }
            }
            _ => Where::Agent {
                socket: agent::socket_path(),
                // Said when the agent is not there either.
                passed_over: fd_set.then(|| format!("the vault of ${FD_ENV} has no ${var}")),
            },
        };
        Ok(KernelKey {
            name: name.clone(),
            where_,
            public: None,
        })
    }

    fn env_vault(&mut self) -> Result<Rc<Vault>, String> {
        if let Some(v) = &self.env_vault {
            return Ok(v.clone());
        }
        let v = Rc::new(Vault::from_env().map_err(|e| e.to_string())?);
        self.env_vault = Some(v.clone());
        Ok(v)
    }
}

enum Where {
    Vault {
        vault: Rc<Vault>,
        id: KeyId,
        /// `KEYVAULT_KEY_<NAME>`, for messages.
        var: String,
    },
    Agent {
        socket: PathBuf,
        /// Why the `$KEYVAULT_FD` vault was not used, when there is one.
        passed_over: Option<String>,
    },
}

/// A named X25519 key in the kernel.
pub struct KernelKey {
    name: KeyName,
    where_: Where,
    public: Option<[u8; 32]>,
}

impl KernelKey {
    /// Checks that the key is X25519 and reads its public key (both need
    /// GETINFO).
    fn describe(&self, vault: &Vault, id: KeyId, whose: &str) -> Result<[u8; 32], Failure> {
        let name = &self.name;
        let info = vault.info(id).map_err(|e| {
            Failure::Key(match e.kind() {
                keyvault::ErrorKind::KeyNotFound => format!("no key {name}: {whose}: {}", e),
                _ => format!("key {name}: {whose}: {}", e),
            })
        })?;
        if info.algorithm != Some(Algorithm::X25519) {
            return Err(Failure::Key(format!(
                "key {name} is {}, not x25519: it cannot be an age identity",
                info.algorithm.map_or("an unknown algorithm", |a| a.name())
            )));
        }
        vault
            .public_key(id)
            .map_err(|e| Failure::Key(format!("key {name}: {whose}: {}", e)))
    }

    fn agent_failure(&self, socket: &std::path::Path, e: AgentError) -> Failure {
        let name = &self.name;
        let at = socket.display();
        match e {
            AgentError::Refused(r) if r.kind == "vault" && r.errno == Some(libc::EINVAL) => {
                Failure::BadShare(format!(
                    "the X25519 share is a low-order point (keyvault-agent: {})",
                    r.message
                ))
            }
            AgentError::Refused(r) if r.kind == "unknown-key" => Failure::Key(format!(
                "no key {name}: keyvault-agent at {at}: {}",
                r.message
            )),
            // It names the socket itself.
            e @ AgentError::Connect { .. } => Failure::Key(match &self.where_ {
                Where::Agent {
                    passed_over: Some(why),
                    ..
                } => format!("no key {name}: {why}, and {e}"),
                _ => format!("key {name}: {e}"),
            }),
            e => Failure::Key(format!("key {name}: keyvault-agent at {at}: {e}")),
        }
    }
}

/// The stanza body, split: ciphertext and tag.
fn split(body: &[u8; FILE_KEY_BYTES + 16]) -> ([u8; FILE_KEY_BYTES], Tag) {
    let mut ct = [0u8; FILE_KEY_BYTES];
    let mut tag = Tag::default();
    ct.copy_from_slice(&body[..FILE_KEY_BYTES]);
    tag.copy_from_slice(&body[FILE_KEY_BYTES..]);
    (ct, tag)
}

/// age's nonce for the wrap key: zero (each wrap key is used once).
const ZERO_NONCE: Nonce = [0u8; 12];

/// Decrypts the file key with `key` of `vault`: `Ok(None)` when the tag
/// does not match.
fn decrypt(
    vault: &Vault,
    key: KeyId,
    body: &[u8; FILE_KEY_BYTES + 16],
) -> Result<Option<FileKey>, keyvault::Error> {
    let (ct, tag) = split(body);
    match vault.aead_decrypt(key, &ct, b"", &ZERO_NONCE, &tag) {
        Ok(pt) => Ok(Some(FileKey::init_with_mut(|k| k.copy_from_slice(&pt)))),
        Err(e) if e.kind() == keyvault::ErrorKind::VerificationFailed => Ok(None),
        Err(e) => Err(e),
    }
}

impl Agreement for KernelKey {
    fn public_key(&mut self) -> Result<[u8; 32], Failure> {
        if let Some(p) = self.public {
            return Ok(p);
        }
        let public = match &self.where_ {
            Where::Vault { vault, id, var } => self.describe(
                vault,
                *id,
                &format!("${var}={} in the vault of ${FD_ENV}", id.0),
            )?,
            Where::Agent { socket, .. } => {
                let (vault, ids) = Vault::from_agent(socket, &[self.name.as_str()], Caps::GETINFO)
                    .map_err(|e| self.agent_failure(socket, e))?;
                // from_agent checks that every name asked for has an id.
                let id = *ids.get(self.name.as_str()).ok_or_else(|| {
                    Failure::Key(format!("key {}: no id in the agent's answer", self.name))
                })?;
                self.describe(
                    &vault,
                    id,
                    &format!("keyvault-agent at {}", socket.display()),
                )?
            }
        };
        self.public = Some(public);
        Ok(public)
    }

    fn open(
        &mut self,
        share: &[u8; 32],
        salt: &[u8; 64],
        body: &[u8; FILE_KEY_BYTES + 16],
    ) -> Result<Option<FileKey>, Failure> {
        let kdf = Kdf::new(HashAlg::Sha256, INFO).with_salt(salt);
        let name = &self.name;
        match &self.where_ {
            Where::Vault { vault, id, .. } => {
                let opts = KeyOptions {
                    usage: Caps::DECRYPT,
                    max_uses: 1,
                    ttl: Some(DERIVED_TTL),
                    ..Default::default()
                };
                let derived = vault
                    .exchange(*id, share, &kdf, Algorithm::ChaCha20Poly1305, &opts)
                    .map_err(|e| match e.errno() {
                        // Our KDF and algorithm are valid: EINVAL is the share.
                        libc::EINVAL => Failure::BadShare(format!(
                            "the X25519 share is a low-order point: {}",
                            e
                        )),
                        _ => Failure::Key(format!("key {name}: {}", e)),
                    })?;
                let opened = decrypt(vault, derived, body);
                // The key is spent (one use); if this handle cannot destroy,
                // its lifetime ends it.
                let _ = vault.destroy(derived);
                opened.map_err(|e| Failure::Key(format!("key {name}: {}", e)))
            }
            Where::Agent { socket, .. } => {
                let ex = agent::exchange(
                    socket,
                    name.as_str(),
                    share,
                    &kdf,
                    Algorithm::ChaCha20Poly1305,
                )
                .map_err(|e| self.agent_failure(socket, e))?;
                // Dropping `ex` hangs up: the agent destroys the derived key.
                decrypt(&ex.vault, ex.key, body)
                    .map_err(|e| Failure::Key(format!("key {name}: {}", e)))
            }
        }
    }
}
