//! The broker socket (PROTOCOL.md): one JSON request line, one answer line;
//! a grant carries a DUP of the agent's vault limited to the keys and
//! capabilities asked for, and the agent steps aside.

use crate::config::GRANTABLE;
use crate::keys::{AgentKey, Origin};
use crate::listen::{read_by, Conn};
use crate::{log, policy, Shared};
use keyvault::agent::{Answer, Listing, Refusal, Request, MAX_LINE, VERSION};
use keyvault::{Algorithm, Caps, HashAlg, Kdf, KeyId, KeyOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a key made by `exchange` lives, at most.
const EXCHANGED_TTL: Duration = Duration::from_secs(60);
/// Salt and info of `exchange`, at most (the module's limit).
const KDF_INPUT_MAX: usize = 1024;

/// The answer to a client over the limit.
pub fn busy_line() -> Vec<u8> {
    line(&refused(refusal(
        "busy",
        "too many clients; try again".into(),
        None,
    )))
}

fn refusal(kind: &str, message: String, errno: Option<i32>) -> Refusal {
    Refusal {
        kind: kind.into(),
        message,
        errno,
    }
}

fn refused(error: Refusal) -> Answer {
    Answer {
        v: VERSION,
        ok: false,
        error: Some(error),
        ..Default::default()
    }
}

fn line(a: &Answer) -> Vec<u8> {
    let mut l = serde_json::to_vec(a).expect("an Answer always serializes");
    l.push(b'\n');
    l
}

/// Reads one request line: all of it within `timeout` of the connection,
/// at most MAX_LINE bytes. Fds a client sends along are never taken: a
/// plain read drops them (the kernel releases them, see unix(7)), so a
/// flood of fds costs the agent none.
fn read_request(stream: &mut UnixStream, timeout: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    loop {
        let n = read_by(stream, &mut chunk, deadline, timeout, "request")?;
        if n == 0 {
            return Err("the client hung up before a complete request".into());
        }
        let start = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf[start..].iter().position(|&b| b == b'\n') {
            buf.truncate(start + end);
            return Ok(buf);
        }
        if buf.len() >= MAX_LINE {
            return Err(format!("request longer than {MAX_LINE} bytes"));
        }
    }
}

/// Serves one broker connection.
pub fn serve(shared: &Shared, mut conn: Conn) {
    let timeout = shared.policy.io_timeout;
    let _ = conn.stream.set_write_timeout(Some(timeout));
    let peer = conn.peer.clone();
    let req = match read_request(&mut conn.stream, timeout) {
        Ok(r) => r,
        Err(e) => {
            log!("broker: {peer}: {e}");
            let _ = conn
                .stream
                .write_all(&line(&refused(refusal("bad-request", e, None))));
            return;
        }
    };
    let req: Request = match serde_json::from_slice(&req) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("not a request: {e}");
            log!("broker: {peer}: {msg}");
            let _ = conn
                .stream
                .write_all(&line(&refused(refusal("bad-request", msg, None))));
            return;
        }
    };
    let outcome = match req {
        Request::Handle { v, keys, caps } => {
            check_version(v).and_then(|()| handle(shared, &conn, &keys, &caps))
        }
        Request::Exchange {
            v,
            key,
            peer: public,
            salt,
            info,
            hash,
            alg,
        } => check_version(v)
            .and_then(|()| exchange(shared, &conn, &key, &public, &salt, &info, &hash, &alg)),
        Request::List { v } => check_version(v).and_then(|()| {
            let available = list(shared, &conn);
            let answer = Answer {
                v: VERSION,
                ok: true,
                available: Some(available),
                ..Default::default()
            };
            (&conn.stream)
                .write_all(&line(&answer))
                .map_err(|e| refusal("io", format!("writing the answer: {e}"), None))
                .map(|()| "listed".to_string())
        }),
    };
    match outcome {
        Ok(what) => log!("broker: {peer}: {what}"),
        Err(e) => {
            log!("broker: {peer}: refused ({}): {}", e.kind, e.message);
            let _ = (&conn.stream).write_all(&line(&refused(e)));
        }
    }
}

fn check_version(v: u32) -> Result<(), Refusal> {
    if v == VERSION {
        Ok(())
    } else {
        Err(refusal(
            "bad-request",
            format!("protocol version {v}: this agent speaks {VERSION}"),
            None,
        ))
    }
}

fn vault_refusal(what: &str, e: keyvault::Error) -> Refusal {
    refusal("vault", format!("{what}: {e}"), Some(e.errno()))
}

/// Whether the broker offers this key: not one `ssh-add` sent, which belongs
/// to the ssh-agent face (whoever may use that socket added it, and its
/// confirm constraint is that face's to ask).
fn brokered(k: &AgentKey) -> bool {
    !matches!(k.origin, Origin::SshAdded { .. })
}

/// The named keys' ids, or which name is unknown.
fn ids_of(shared: &Shared, keys: &[String]) -> Result<Vec<(String, KeyId, Algorithm)>, Refusal> {
    keys.iter()
        .map(|n| {
            shared
                .agent
                .by_name(n)
                .filter(brokered)
                .map(|k| (k.name, k.id, k.alg))
                .ok_or_else(|| refusal("unknown-key", format!("the agent has no key '{n}'"), None))
        })
        .collect()
}

fn parse_caps(names: &[String]) -> Result<Caps, Refusal> {
    let caps =
        crate::config::caps_of(names, "caps").map_err(|e| refusal("bad-request", e, None))?;
    if caps.is_empty() {
        return Err(refusal("bad-request", "caps is empty".into(), None));
    }
    let handle_caps = GRANTABLE - Caps::EXCHANGE;
    if !(caps - handle_caps).is_empty() {
        return Err(refusal(
            "bad-request",
            format!(
                "a handle limited to keys cannot have {} (it may have {}; for X25519 agreement \
                 use the exchange request)",
                (caps - handle_caps).names(),
                handle_caps.names()
            ),
            None,
        ));
    }
    Ok(caps)
}

fn handle(
    shared: &Shared,
    conn: &Conn,
    keys: &[String],
    caps: &[String],
) -> Result<String, Refusal> {
    let caps = parse_caps(caps)?;
    if keys.is_empty() || keys.len() > 1024 {
        return Err(refusal("bad-request", "keys: 1 to 1024 names".into(), None));
    }
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    // Policy first: a peer no rule matches learns nothing about key names.
    let rule = policy::decide(&shared.policy.rules, &conn.peer, &names, caps)
        .map_err(|m| refusal("policy", m, None))?;
    let found = ids_of(shared, keys)?;
    let ids: Vec<KeyId> = found.iter().map(|(_, id, _)| *id).collect();
    let dup = shared
        .agent
        .vault
        .dup(caps, Some(&ids))
        .map_err(|e| vault_refusal("making the handle", e))?;
    let answer = Answer {
        v: VERSION,
        ok: true,
        keys: Some(found.iter().map(|(n, id, _)| (n.clone(), id.0)).collect()),
        caps: Some(
            caps.iter_names()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect(),
        ),
        ..Default::default()
    };
    dup.send_with(&conn.stream, &line(&answer))
        .map_err(|e| vault_refusal("sending the handle", e))?;
    Ok(format!(
        "handle for {} with {} (rule '{}')",
        names.join(", "),
        caps.names(),
        rule.name
    ))
}

fn unhex(s: &str, what: &str, max: usize) -> Result<Vec<u8>, Refusal> {
    if s.len() > 2 * max {
        return Err(refusal(
            "bad-request",
            format!("{what}: at most {max} bytes"),
            None,
        ));
    }
    hex::decode(s).map_err(|e| refusal("bad-request", format!("{what}: not hex ({e})"), None))
}

#[allow(clippy::too_many_arguments)]
fn exchange(
    shared: &Shared,
    conn: &Conn,
    key: &str,
    public: &str,
    salt: &str,
    info: &str,
    hash: &str,
    alg: &str,
) -> Result<String, Refusal> {
    let bad = |m: String| refusal("bad-request", m, None);
    let public: [u8; 32] = unhex(public, "peer", 32)?
        .try_into()
        .map_err(|_| bad("peer: an X25519 public key is 32 bytes".into()))?;
    let salt = unhex(salt, "salt", KDF_INPUT_MAX)?;
    let info = unhex(info, "info", KDF_INPUT_MAX)?;
    let hash: HashAlg = hash.parse().map_err(|e| bad(format!("hash: {e}")))?;
    let alg: Algorithm = alg.parse().map_err(|e| bad(format!("alg: {e}")))?;
    if !alg.usages().contains(Caps::DECRYPT) || alg == Algorithm::Aes256Cbc {
        return Err(bad(format!("alg: {} is not an AEAD", alg.name())));
    }
    policy::decide(&shared.policy.rules, &conn.peer, &[key], Caps::EXCHANGE)
        .map_err(|m| refusal("policy", m, None))?;
    let (_, id, key_alg) = ids_of(shared, &[key.to_string()])?.remove(0);
    if key_alg != Algorithm::X25519 {
        return Err(bad(format!(
            "key '{key}' is {}, not x25519",
            key_alg.name()
        )));
    }
    let vault = &shared.agent.vault;
    let kdf = Kdf::new(hash, &info).with_salt(&salt);
    let opts = KeyOptions {
        usage: Caps::DECRYPT,
        max_uses: 1,
        ttl: Some(EXCHANGED_TTL),
        ..Default::default()
    };
    let derived = vault
        .exchange(id, &public, &kdf, alg, &opts)
        .map_err(|e| vault_refusal("the exchange", e))?;
    // From here the derived key is destroyed whatever happens.
    let sent = vault
        .dup(Caps::DECRYPT | Caps::GETINFO, Some(&[derived]))
        .and_then(|dup| {
            let answer = Answer {
                v: VERSION,
                ok: true,
                keys: Some([("derived".to_string(), derived.0)].into()),
                caps: Some(vec!["decrypt".into(), "getinfo".into()]),
                ..Default::default()
            };
            dup.send_with(&conn.stream, &line(&answer))
        })
        .map_err(|e| vault_refusal("sending the handle", e));
    if sent.is_ok() {
        // Until the client hangs up (or the key's lifetime is over).
        let _ = conn.stream.set_read_timeout(Some(EXCHANGED_TTL));
        let mut sink = [0u8; 256];
        while matches!((&conn.stream).read(&mut sink), Ok(n) if n > 0) {}
    }
    let _ = vault.destroy(derived);
    sent.map(|()| {
        format!(
            "exchange with key '{key}' into a one-use {} key",
            alg.name()
        )
    })
}

fn list(shared: &Shared, conn: &Conn) -> Vec<Listing> {
    shared
        .agent
        .all()
        .into_iter()
        .filter(brokered)
        .filter_map(|k| {
            let caps = policy::caps_on(&shared.policy.rules, &conn.peer, &k.name);
            (!caps.is_empty()).then(|| Listing {
                name: k.name,
                alg: k.alg.name().into(),
                caps: caps
                    .iter_names()
                    .map(|(n, _)| n.to_ascii_lowercase())
                    .collect(),
            })
        })
        .collect()
}
