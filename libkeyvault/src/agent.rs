//! The keyvault-agent broker protocol (agent/PROTOCOL.md): its messages,
//! and the client side — ask an agent for a vault handle limited to named
//! keys and capabilities ([`Vault::from_agent`]), for a key derived by
//! X25519 agreement ([`exchange`]), or for what this process may have
//! ([`list`]).
//!
//! One request and one answer per connection, each one line of JSON; the
//! answer's first byte carries the handle in `SCM_RIGHTS`.

use crate::share::{received_fds, RECEIVE};
use crate::{Algorithm, Caps, Error, HashAlg, Kdf, KeyId, Vault};
use nix::errno::Errno;
use nix::sys::socket::{recvmsg, MsgFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The protocol version this library speaks (`"v"` in every message).
pub const VERSION: u32 = 1;
/// The longest message line, `\n` included.
pub const MAX_LINE: usize = 65536;
/// The variable that names the agent's broker socket for clients.
pub const SOCKET_ENV: &str = "KEYVAULT_AGENT_SOCK";
/// The broker socket when [`SOCKET_ENV`] is unset (the shipped
/// keyvault-agent.socket's).
pub const DEFAULT_SOCKET: &str = "/run/keyvault/agent.sock";
/// How long a client waits for the agent's answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// `$KEYVAULT_AGENT_SOCK`, or [`DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
}

/// A request, as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// A handle that sees only `keys` and has only `caps`.
    Handle {
        /// Protocol version.
        v: u32,
        /// Key names.
        keys: Vec<String>,
        /// Capability names (`sign`, `getinfo`, ...).
        caps: Vec<String>,
    },
    /// X25519 agreement of key `key` with `peer`, HKDF into a new key of
    /// `alg` that can only decrypt, once; a handle to that key alone.
    Exchange {
        /// Protocol version.
        v: u32,
        /// The X25519 key's name.
        key: String,
        /// The peer's public key, 64 hex digits.
        peer: String,
        /// HKDF salt, hex.
        #[serde(default)]
        salt: String,
        /// HKDF info, hex.
        #[serde(default)]
        info: String,
        /// HKDF hash: `sha256` or `sha512`.
        hash: String,
        /// The new key's algorithm (an AEAD).
        alg: String,
    },
    /// What this client may have.
    List {
        /// Protocol version.
        v: u32,
    },
}

/// A key this client may have, as [`list`] returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// Its name.
    pub name: String,
    /// Its algorithm's name.
    pub alg: String,
    /// The capabilities this client may have on it.
    pub caps: Vec<String>,
}

/// Why the agent said no.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// `policy`, `unknown-key`, `bad-request`, `busy` or `vault`.
    pub kind: String,
    /// For people.
    pub message: String,
    /// With `vault`: the module's errno.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

/// An answer, as sent: `ok` with `keys`+`caps` (a handle was attached) or
/// `available` (a list), or not `ok` with `error`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// Protocol version.
    pub v: u32,
    /// Granted.
    pub ok: bool,
    /// The attached handle's keys, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<BTreeMap<String, u64>>,
    /// The attached handle's capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// For `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<Vec<Listing>>,
    /// When not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Refusal>,
}

/// What went wrong asking an agent.
#[derive(Debug)]
pub enum AgentError {
    /// No agent at that socket (or no permission to connect).
    Connect {
        /// The socket.
        socket: PathBuf,
        /// connect(2)'s error.
        source: std::io::Error,
    },
    /// The agent refused, and said why.
    Refused(Refusal),
    /// The agent's answer broke the protocol (or it hung up, or timed out).
    Protocol(String),
    /// The handle received is not a vault, or the vault refused.
    Vault(Error),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Connect { socket, source } => write!(
                f,
                "no keyvault-agent at {} ({source}); is it running? ${SOCKET_ENV} names another socket",
                socket.display()
            ),
            AgentError::Refused(r) => write!(f, "the agent refused ({}): {}", r.kind, r.message),
            AgentError::Protocol(m) => write!(f, "keyvault-agent protocol: {m}"),
            AgentError::Vault(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AgentError::Connect { source, .. } => Some(source),
            AgentError::Vault(e) => Some(e),
            _ => None,
        }
    }
}

/// One connection to an agent: a request sent, its answer and handle read.
struct Exchange {
    conn: UnixStream,
    answer: Answer,
    fd: Option<OwnedFd>,
}

fn ask(socket: &Path, req: &Request) -> Result<Exchange, AgentError> {
    let conn = UnixStream::connect(socket).map_err(|source| AgentError::Connect {
        socket: socket.to_path_buf(),
        source,
    })?;
    let proto = |e: std::io::Error| AgentError::Protocol(e.to_string());
    conn.set_read_timeout(Some(TIMEOUT)).map_err(proto)?;
    conn.set_write_timeout(Some(TIMEOUT)).map_err(proto)?;
    let mut line = serde_json::to_vec(req).map_err(|e| AgentError::Protocol(e.to_string()))?;
    line.push(b'\n');
    (&conn)
        .write_all(&line)
        .map_err(|e| AgentError::Protocol(format!("sending the request: {e}")))?;
    let (text, fd) = read_answer(&conn)?;
    let answer: Answer = serde_json::from_slice(&text)
        .map_err(|e| AgentError::Protocol(format!("the answer is not valid: {e}")))?;
    if answer.v != VERSION {
        return Err(AgentError::Protocol(format!(
            "the agent speaks version {}, this library {VERSION}",
            answer.v
        )));
    }
    if !answer.ok {
        return Err(AgentError::Refused(answer.error.unwrap_or(Refusal {
            kind: "unknown".into(),
            message: "refused without a reason".into(),
            errno: None,
        })));
    }
    Ok(Exchange { conn, answer, fd })
}

/// Reads one answer line and the fds that came with it: the first is
/// kept, any other closed.
fn read_answer(conn: &UnixStream) -> Result<(Vec<u8>, Option<OwnedFd>), AgentError> {
    let mut text = Vec::new();
    let mut fd: Option<OwnedFd> = None;
    let mut cmsg_buf = nix::cmsg_space!([RawFd; crate::share::SCM_MAX_FD]);
    let mut chunk = [0u8; 4096];
    loop {
        let mut iov = [IoSliceMut::new(&mut chunk)];
        let (n, fds) = match recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_buf),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let fds = received_fds(&msg).map_err(AgentError::Vault)?;
                (msg.bytes, fds)
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Err(AgentError::Protocol("no answer within 30 s".into())),
            Err(e) => return Err(AgentError::Protocol(format!("reading the answer: {e}"))),
        };
        for f in fds {
            if fd.is_none() {
                fd = Some(f);
            } // else: dropped, closed
        }
        if n == 0 {
            return Err(AgentError::Protocol(
                "the agent closed the connection without an answer".into(),
            ));
        }
        text.extend_from_slice(&chunk[..n]);
        if let Some(end) = text.iter().position(|&b| b == b'\n') {
            text.truncate(end);
            return Ok((text, fd));
        }
        if text.len() >= MAX_LINE {
            return Err(AgentError::Protocol("the answer is too long".into()));
        }
    }
}

fn vault_of(fd: Option<OwnedFd>) -> Result<Vault, AgentError> {
    let fd = fd.ok_or_else(|| AgentError::Protocol("granted, but no handle came".into()))?;
    crate::share::check_is_vault(RECEIVE, fd.as_fd()).map_err(AgentError::Vault)?;
    Ok(Vault::from_fd(fd))
}

impl Vault {
    /// Asks the keyvault-agent at `socket` for a handle that sees only the
    /// keys `names` and has only `caps`; returns it with each name's id in
    /// it. The agent decides from its policy and this process's
    /// credentials, then steps aside: every operation on the handle is this
    /// process's own ioctl.
    ///
    /// ```no_run
    /// use keyvault::{agent, Caps, Vault};
    ///
    /// let (vault, ids) = Vault::from_agent(agent::socket_path(), &["tls-sign"],
    ///                                      Caps::SIGN | Caps::GETINFO)?;
    /// let signature = vault.sign(ids["tls-sign"], b"hello")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_agent(
        socket: impl AsRef<Path>,
        names: &[&str],
        caps: Caps,
    ) -> Result<(Vault, BTreeMap<String, KeyId>), AgentError> {
        let req = Request::Handle {
            v: VERSION,
            keys: names.iter().map(|n| n.to_string()).collect(),
            caps: caps
                .iter_names()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect(),
        };
        let ex = ask(socket.as_ref(), &req)?;
        let vault = vault_of(ex.fd)?;
        let ids: BTreeMap<String, KeyId> = ex
            .answer
            .keys
            .unwrap_or_default()
            .into_iter()
            .map(|(n, id)| (n, KeyId(id)))
            .collect();
        if let Some(missing) = names.iter().find(|n| !ids.contains_key(**n)) {
            return Err(AgentError::Protocol(format!(
                "no id for key '{missing}' in the answer"
            )));
        }
        Ok((vault, ids))
    }
}

/// A key made by the agent's X25519 agreement, in a handle that sees only
/// it and can only decrypt with it (once) and describe it. The agent destroys the key when
/// this is dropped (the connection closes) or after 60 s.
pub struct Exchanged {
    /// The handle.
    pub vault: Vault,
    /// The derived key.
    pub key: KeyId,
    /// Kept open: closing it tells the agent the key can go.
    _conn: UnixStream,
}

/// Asks the agent for `KV_IOC_KEYEXCHANGE` of its X25519 key `name` with
/// `peer`, HKDF as `kdf`, into a new `alg` key (see [`Exchanged`]). The rule
/// that grants it must give `exchange` on `name`.
pub fn exchange(
    socket: impl AsRef<Path>,
    name: &str,
    peer: &[u8; 32],
    kdf: &Kdf<'_>,
    alg: Algorithm,
) -> Result<Exchanged, AgentError> {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let req = Request::Exchange {
        v: VERSION,
        key: name.into(),
        peer: hex(peer),
        salt: hex(kdf.salt),
        info: hex(kdf.info),
        hash: match kdf.hash {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha512 => "sha512",
        }
        .into(),
        alg: alg.name().into(),
    };
    let ex = ask(socket.as_ref(), &req)?;
    let vault = vault_of(ex.fd)?;
    let key = ex
        .answer
        .keys
        .as_ref()
        .and_then(|k| k.get("derived"))
        .map(|&id| KeyId(id))
        .ok_or_else(|| AgentError::Protocol("no derived key in the answer".into()))?;
    Ok(Exchanged {
        vault,
        key,
        _conn: ex.conn,
    })
}

/// What this process may have from the agent at `socket`.
pub fn list(socket: impl AsRef<Path>) -> Result<Vec<Listing>, AgentError> {
    let ex = ask(socket.as_ref(), &Request::List { v: VERSION })?;
    Ok(ex.answer.available.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_are_the_documented_json() {
        let r = Request::Handle {
            v: 1,
            keys: vec!["tls-sign".into()],
            caps: vec!["sign".into(), "getinfo".into()],
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"op":"handle","v":1,"keys":["tls-sign"],"caps":["sign","getinfo"]}"#
        );
        let parsed: Request =
            serde_json::from_str(r#"{"v":1,"op":"handle","keys":["a"],"caps":["sign"]}"#).unwrap();
        assert!(matches!(parsed, Request::Handle { .. }));
        for bad in [
            r#"{"v":1,"op":"handle","keys":["a"],"caps":["sign"],"extra":1}"#,
            r#"{"v":1,"op":"steal"}"#,
            r#"{"v":1,"keys":["a"],"caps":["sign"]}"#,
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
        let a: Answer =
            serde_json::from_str(r#"{"v":1,"ok":false,"error":{"kind":"policy","message":"no"}}"#)
                .unwrap();
        assert_eq!(a.error.unwrap().kind, "policy");
        let ok = Answer {
            v: 1,
            ok: true,
            keys: Some([("a".to_string(), 7)].into()),
            caps: Some(vec!["sign".into()]),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"v":1,"ok":true,"keys":{"a":7},"caps":["sign"]}"#
        );
    }

    #[test]
    fn no_agent_is_a_connect_error_naming_the_socket() {
        let e = Vault::from_agent("/nonexistent/agent.sock", &["a"], Caps::SIGN).unwrap_err();
        assert!(matches!(e, AgentError::Connect { .. }));
        assert!(e.to_string().contains("/nonexistent/agent.sock"), "{e}");
    }

    #[test]
    fn an_answer_without_a_handle_or_garbage_is_a_protocol_error() {
        let dir = std::env::temp_dir().join(format!("kv-agent-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("s");
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            for reply in [
                &b"{\"v\":1,\"ok\":true,\"keys\":{\"a\":1},\"caps\":[\"sign\"]}\n"[..],
                b"not json\n",
                b"",
                b"{\"v\":1,\"ok\":false,\"error\":{\"kind\":\"policy\",\"message\":\"uid 5: no rule\"}}\n",
            ] {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 256];
                let _ = std::io::Read::read(&mut s, &mut buf);
                s.write_all(reply).unwrap();
            }
        });
        for says in [
            "no handle came",
            "not valid",
            "without an answer",
            "uid 5: no rule",
        ] {
            let e = Vault::from_agent(&path, &["a"], Caps::SIGN).unwrap_err();
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
