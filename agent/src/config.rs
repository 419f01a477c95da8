//! The policy file (TOML; PROTOCOL.md documents it): where the sockets are,
//! which keys to load, who may have which handle. Parsed strictly: an
//! unknown field is an error, as a misspelt condition would otherwise
//! silently widen a rule.

use keyvault::check_key_name;
use keyvault::{Algorithm, Caps};
use kvctl::keyring::KeyringRef;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default policy file.
pub const DEFAULT_PATH: &str = "/etc/keyvault/agent.toml";

/// Capabilities a rule may give for keys: what a handle limited to keys may
/// have (the module refuses genkey, import, derive and exchange on one),
/// plus `exchange`, the broker's own exchange request.
pub const GRANTABLE: Caps = Caps::ENCRYPT
    .union(Caps::DECRYPT)
    .union(Caps::SIGN)
    .union(Caps::VERIFY)
    .union(Caps::MAC)
    .union(Caps::HASH)
    .union(Caps::GETINFO)
    .union(Caps::LIST)
    .union(Caps::WRAP)
    .union(Caps::UNWRAP)
    .union(Caps::DESTROY)
    .union(Caps::REVOKE)
    .union(Caps::RESTRICT)
    .union(Caps::EXCHANGE);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub agent: AgentSection,
    pub keystore: Option<KeystoreSection>,
    #[serde(default, rename = "key")]
    pub keys: Vec<KeySection>,
    pub ssh: Option<SshSection>,
    #[serde(default, rename = "allow")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    pub socket: Option<PathBuf>,
    pub ssh_socket: Option<PathBuf>,
    #[serde(default = "default_max_clients")]
    pub max_clients: usize,
    /// Default: a quarter of max_clients (at least 1).
    pub max_clients_per_uid: Option<usize>,
    #[serde(default = "default_io_timeout")]
    pub io_timeout_secs: u64,
}

impl Default for AgentSection {
    fn default() -> Self {
        Self {
            socket: None,
            ssh_socket: None,
            max_clients: default_max_clients(),
            max_clients_per_uid: None,
            io_timeout_secs: default_io_timeout(),
        }
    }
}

fn default_max_clients() -> usize {
    64
}

fn default_io_timeout() -> u64 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreSection {
    pub dir: PathBuf,
    pub root: String,
    pub root_alg: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    pub name: String,
    pub alg: String,
    pub usage: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSection {
    #[serde(default)]
    pub allow_uids: Vec<u32>,
    pub keys: Option<Vec<String>>,
}

/// One `[[allow]]` rule, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: Option<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub gid: Option<u32>,
    pub group: Option<String>,
    pub exe: Option<PathBuf>,
    pub unit: Option<String>,
    pub keys: Vec<String>,
    pub caps: Vec<String>,
}

/// A rule checked and resolved: names to ids, capability names to bits.
#[derive(Clone, Debug, PartialEq)]
pub struct Allow {
    pub name: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub exe: Option<PathBuf>,
    pub unit: Option<String>,
    /// `None`: every key of the agent (`"*"`).
    pub keys: Option<Vec<String>>,
    pub caps: Caps,
}

/// The keystore to load, resolved.
#[derive(Clone, Debug)]
pub struct Keystore {
    pub dir: PathBuf,
    pub root: KeyringRef,
    pub root_alg: Option<Algorithm>,
}

/// A key made at start.
#[derive(Clone, Debug)]
pub struct Generated {
    pub name: String,
    pub alg: Algorithm,
    pub usage: Option<Caps>,
}

/// The whole policy, checked.
#[derive(Clone, Debug)]
pub struct Policy {
    pub socket: Option<PathBuf>,
    pub ssh_socket: Option<PathBuf>,
    pub max_clients: usize,
    pub max_clients_per_uid: usize,
    pub io_timeout: std::time::Duration,
    pub keystore: Option<Keystore>,
    pub generated: Vec<Generated>,
    pub ssh_allow_uids: Vec<u32>,
    /// `None`: every Ed25519 key.
    pub ssh_keys: Option<Vec<String>>,
    pub rules: Vec<Allow>,
}

fn alg(s: &str, what: &str) -> Result<Algorithm, String> {
    s.parse::<Algorithm>()
        .map_err(|e| format!("{what}: unknown algorithm '{s}' ({e})"))
}

/// Capability names (as `kvctl`'s: `sign`, `getinfo`, ...) to bits.
pub fn caps_of(names: &[String], what: &str) -> Result<Caps, String> {
    let mut caps = Caps::empty();
    for n in names {
        let c: Caps = n
            .parse()
            .map_err(|e| format!("{what}: bad capability '{n}' ({e})"))?;
        caps |= c;
    }
    Ok(caps)
}

fn uid_of(user: &str, what: &str) -> Result<u32, String> {
    match nix::unistd::User::from_name(user) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(format!("{what}: no user '{user}'")),
        Err(e) => Err(format!("{what}: looking up user '{user}': {e}")),
    }
}

fn gid_of(group: &str, what: &str) -> Result<u32, String> {
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("{what}: no group '{group}'")),
        Err(e) => Err(format!("{what}: looking up group '{group}': {e}")),
    }
}

impl Policy {
    /// Reads and checks the policy file.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks a policy's text: every name, algorithm and capability is
    /// known, every rule gives at least one key and one capability.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if c.agent.max_clients == 0 || c.agent.max_clients > 4096 {
            return Err("agent.max_clients: 1 to 4096".into());
        }
        let per_uid = c
            .agent
            .max_clients_per_uid
            .unwrap_or((c.agent.max_clients / 4).max(1));
        if per_uid == 0 || per_uid > c.agent.max_clients {
            return Err("agent.max_clients_per_uid: 1 to max_clients".into());
        }
        if c.agent.io_timeout_secs == 0 || c.agent.io_timeout_secs > 3600 {
            return Err("agent.io_timeout_secs: 1 to 3600".into());
        }
        let keystore = match c.keystore {
            None => None,
            Some(k) => Some(Keystore {
                dir: k.dir,
                root: k.root.parse().map_err(|e| format!("keystore.root: {e}"))?,
                root_alg: k
                    .root_alg
                    .as_deref()
                    .map(|a| alg(a, "keystore.root_alg"))
                    .transpose()?,
            }),
        };
        let mut generated = Vec::new();
        for (i, k) in c.keys.iter().enumerate() {
            let what = format!("key[{i}]");
            check_key_name(&k.name).map_err(|e| format!("{what}.name: {e}"))?;
            let name = k.name.clone();
            if generated.iter().any(|g: &Generated| g.name == name) {
                return Err(format!("{what}: a second key named '{name}'"));
            }
            generated.push(Generated {
                name,
                alg: alg(&k.alg, &format!("{what}.alg"))?,
                usage: k
                    .usage
                    .as_deref()
                    .map(|u| caps_of(u, &format!("{what}.usage")))
                    .transpose()?,
            });
        }
        let ssh = c.ssh.unwrap_or_default();
        if let Some(keys) = &ssh.keys {
            for k in keys {
                check_key_name(k).map_err(|e| format!("ssh.keys: {e}"))?;
            }
        }
        let mut rules = Vec::new();
        for (i, r) in c.rules.into_iter().enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("allow[{i}]"));
            let what = format!("rule '{name}'");
            let uid = match (r.uid, &r.user) {
                (Some(_), Some(_)) => return Err(format!("{what}: uid or user, not both")),
                (u, None) => u,
                (None, Some(user)) => Some(uid_of(user, &what)?),
            };
            let gid = match (r.gid, &r.group) {
                (Some(_), Some(_)) => return Err(format!("{what}: gid or group, not both")),
                (g, None) => g,
                (None, Some(group)) => Some(gid_of(group, &what)?),
            };
            if r.keys.is_empty() {
                return Err(format!(
                    "{what}: keys is empty (name keys, or \"*\" for all)"
                ));
            }
            let keys = if r.keys.iter().any(|k| k == "*") {
                if r.keys.len() != 1 {
                    return Err(format!("{what}: \"*\" stands alone in keys"));
                }
                None
            } else {
                for k in &r.keys {
                    check_key_name(k).map_err(|e| format!("{what}: {e}"))?;
                }
                Some(r.keys)
            };
            let caps = caps_of(&r.caps, &what)?;
            if caps.is_empty() {
                return Err(format!("{what}: caps is empty"));
            }
            let extra = caps - GRANTABLE;
            if !extra.is_empty() {
                return Err(format!(
                    "{what}: {} cannot be given with a handle limited to keys (grantable: {})",
                    extra.names(),
                    GRANTABLE.names()
                ));
            }
            if let Some(exe) = &r.exe {
                if !exe.is_absolute() {
                    return Err(format!("{what}: exe must be an absolute path"));
                }
            }
            rules.push(Allow {
                name,
                uid,
                gid,
                exe: r.exe,
                unit: r.unit,
                keys,
                caps,
            });
        }
        Ok(Policy {
            socket: c.agent.socket,
            ssh_socket: c.agent.ssh_socket,
            max_clients: c.agent.max_clients,
            max_clients_per_uid: per_uid,
            io_timeout: std::time::Duration::from_secs(c.agent.io_timeout_secs),
            keystore,
            generated,
            ssh_allow_uids: ssh.allow_uids,
            ssh_keys: ssh.keys,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[agent]
socket = "/run/kv/agent.sock"
ssh_socket = "/run/kv/ssh.sock"
max_clients = 8

[keystore]
dir = "/var/lib/keyvault/keys"
root = "%trusted:kvroot"

[[key]]
name = "session"
alg = "ed25519"

[ssh]
allow_uids = [1000]
keys = ["session"]

[[allow]]
name = "web"
uid = 33
exe = "/usr/sbin/nginx"
keys = ["session"]
caps = ["sign", "getinfo"]

[[allow]]
uid = 0
keys = ["*"]
caps = ["sign", "exchange"]
"#;

    #[test]
    fn a_full_policy_is_read() {
        let p = Policy::parse(FULL).unwrap();
        assert_eq!(p.socket.as_deref(), Some(Path::new("/run/kv/agent.sock")));
        assert_eq!(p.max_clients, 8);
        assert_eq!(p.max_clients_per_uid, 2, "a quarter by default");
        assert_eq!(p.io_timeout.as_secs(), 10);
        let ks = p.keystore.unwrap();
        assert_eq!(ks.root.to_string(), "%trusted:kvroot");
        assert_eq!(p.generated[0].alg, Algorithm::Ed25519);
        assert_eq!(p.ssh_allow_uids, [1000]);
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.rules[0].name, "web");
        assert_eq!(p.rules[0].caps, Caps::SIGN | Caps::GETINFO);
        assert_eq!(p.rules[1].name, "allow[1]");
        assert_eq!(p.rules[1].keys, None);
    }

    #[test]
    fn mistakes_are_refused_with_where() {
        for (text, says) in [
            ("[agent]\nsokcet = \"/x\"", "unknown field"),
            (
                "[[allow]]\nuid = 1\nkeys = [\"a\"]\ncaps = [\"sign\"]\nexe = \"x\"",
                "absolute",
            ),
            (
                "[[allow]]\nuid = 1\nkeys = []\ncaps = [\"sign\"]",
                "keys is empty",
            ),
            (
                "[[allow]]\nuid = 1\nkeys = [\"a\"]\ncaps = []",
                "caps is empty",
            ),
            (
                "[[allow]]\nuid = 1\nkeys = [\"a\"]\ncaps = [\"genkey\"]",
                "cannot be given",
            ),
            (
                "[[allow]]\nuid = 1\nkeys = [\"a\"]\ncaps = [\"fly\"]",
                "bad capability 'fly'",
            ),
            (
                "[[allow]]\nuid = 1\nuser = \"root\"\nkeys = [\"a\"]\ncaps = [\"sign\"]",
                "not both",
            ),
            (
                "[[allow]]\nuid = 1\nkeys = [\"*\", \"a\"]\ncaps = [\"sign\"]",
                "stands alone",
            ),
            (
                "[[allow]]\nuid = 1\nkeys = [\"a/b\"]\ncaps = [\"sign\"]",
                "bad key name",
            ),
            (
                "[[key]]\nname = \"a\"\nalg = \"rot13\"",
                "unknown algorithm",
            ),
            (
                "[[key]]\nname = \"a\"\nalg = \"ed25519\"\n[[key]]\nname = \"a\"\nalg = \"x25519\"",
                "second key",
            ),
            ("[agent]\nmax_clients = 0", "max_clients"),
            (
                "[agent]\nmax_clients = 8\nmax_clients_per_uid = 9",
                "max_clients_per_uid",
            ),
            (
                "[keystore]\ndir = \"/k\"\nroot = \"%nope\"",
                "keystore.root",
            ),
        ] {
            let e = Policy::parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
