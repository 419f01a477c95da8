//! The ssh-agent face (PROTOCOL.md, "The ssh-agent face"): OpenSSH's agent
//! protocol (draft-ietf-sshm-ssh-agent) for the agent's Ed25519 keys, each
//! signature made by the kernel. ssh-agent-lib decodes and encodes the
//! messages; the framing (a u32 length, at most 256 KiB) is here.
//!
//! A private key sent by `ssh-add` goes into the kernel at once and every
//! copy of it in this process is wiped: the message buffer is `Zeroizing`,
//! ssh-key's private key types wipe themselves when dropped, and the stack
//! the decoding ran on is wiped after each message ([`wipe_stack`]).

use crate::config::Policy;
use crate::keys::{AgentKey, Origin};
use crate::listen::{read_by, Conn, THREAD_STACK};
use crate::peer::Peer;
use crate::{log, Shared};
use keyvault::{Algorithm, Caps, KeyId, KeyOptions};
use sha2::{Digest, Sha256};
use ssh_agent_lib::proto::extension::QueryResponse;
use ssh_agent_lib::proto::{
    AddIdentity, AddIdentityConstrained, Extension, Identity, KeyConstraint, PrivateCredential,
    PublicCredential, Request, Response, SignRequest,
};
use ssh_agent_lib::ssh_encoding::{Decode, Encode};
use ssh_key::private::KeypairData;
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{HashAlg, Signature};
use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// OpenSSH's AGENT_MAX_LEN: a longer message closes the connection, as
/// OpenSSH's agent does (its length alone is a protocol error).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// SSH_AGENT_FAILURE, the answer when even encoding an answer failed.
const FAILURE: u8 = 5;
/// A wrong UNLOCK is answered after this long (as OpenSSH's agent), so
/// that guessing the passphrase over the socket is slow.
const UNLOCK_DELAY: Duration = Duration::from_millis(100);
/// How long `$SSH_ASKPASS` may take to answer a confirm; then it is killed
/// and the use refused.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);
/// The extensions this agent answers (the `query` extension's answer).
const EXTENSIONS: [&str; 1] = ["query"];

/// A LOCK passphrase as kept while locked: salted and hashed, never the
/// passphrase itself.
struct LockHash {
    salt: [u8; 16],
    hash: [u8; 32],
}

impl LockHash {
    fn new(pass: &[u8]) -> Result<Self, String> {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
        Ok(Self {
            hash: Self::digest(&salt, pass),
            salt,
        })
    }

    fn digest(salt: &[u8; 16], pass: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(salt)
            .chain_update(pass)
            .finalize()
            .into()
    }

    fn matches(&self, pass: &[u8]) -> bool {
        Self::digest(&self.salt, pass).ct_eq(&self.hash).into()
    }
}

/// What the ssh face keeps besides the agent's key table.
pub struct SshState {
    /// `$SSH_ASKPASS` of the agent's environment at start: asked before
    /// each use of a key added with confirm.
    askpass: Option<PathBuf>,
    /// Set while the agent is locked (LOCK).
    lock: Mutex<Option<LockHash>>,
    /// Keystore and `[[key]]` keys a client removed: no longer offered
    /// here, until the agent restarts (they stay in the vault: the broker
    /// still hands them out).
    hidden: Mutex<HashSet<KeyId>>,
    /// Held while the ssh face changes the key table (add, remove, expire),
    /// so that two clients adding the same key cannot both add it.
    changing: Mutex<()>,
}

/// A lock that a panicking holder cannot poison for everyone else (every
/// change under these is a single assignment or insert).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SshState {
    pub fn new(_policy: &Policy) -> Self {
        let askpass = std::env::var_os("SSH_ASKPASS")
            .filter(|a| !a.is_empty())
            .map(PathBuf::from);
        Self::with_askpass(askpass)
    }

    fn with_askpass(askpass: Option<PathBuf>) -> Self {
        Self {
            askpass,
            lock: Mutex::new(None),
            hidden: Mutex::new(HashSet::new()),
            changing: Mutex::new(()),
        }
    }

    fn is_locked(&self) -> bool {
        locked(&self.lock).is_some()
    }
}

/// May this peer use the ssh-agent socket: the agent's own user, or one of
/// `[ssh] allow_uids`.
fn allowed(shared: &Shared, peer: &Peer) -> bool {
    peer.uid == nix::unistd::getuid().as_raw() || shared.policy.ssh_allow_uids.contains(&peer.uid)
}

/// Serves one ssh-agent connection: messages until the client hangs up.
pub fn serve(shared: &Shared, conn: Conn) {
    let Conn { mut stream, peer } = conn;
    if !allowed(shared, &peer) {
        log!("ssh: refused {peer}: not the agent's user nor in [ssh] allow_uids");
        return;
    }
    let timeout = shared.policy.io_timeout;
    if let Err(e) = stream.set_write_timeout(Some(timeout)) {
        log!("ssh: {peer}: {e}");
        return;
    }
    loop {
        let msg = match read_message(&mut stream, timeout) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                log!("ssh: {peer}: {e}; disconnected");
                return;
            }
        };
        let answer = handle(shared, &peer, &msg);
        drop(msg);
        wipe_stack();
        if let Err(e) = stream.write_all(&answer) {
            log!("ssh: {peer}: writing the answer: {e}; disconnected");
            return;
        }
    }
}

/// Reads one message's body: `Ok(None)` when the client hung up between
/// messages. Between messages the wait has no end (ssh keeps an idle
/// connection to its agent); once the first byte is in, the rest must come
/// within `timeout`. Read straight from the socket (no buffer that would
/// keep a copy) into a buffer wiped when dropped.
fn read_message(
    stream: &mut UnixStream,
    timeout: Duration,
) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    let mut len = [0u8; 4];
    loop {
        match stream.read(&mut len[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
    }
    let deadline = Instant::now() + timeout;
    read_within(stream, &mut len[1..], deadline, timeout)?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_MESSAGE {
        return Err(format!("a message of {n} bytes (at most {MAX_MESSAGE})"));
    }
    let mut body = Zeroizing::new(vec![0u8; n]);
    read_within(stream, &mut body, deadline, timeout)?;
    Ok(Some(body))
}

/// Fills `buf` from the socket by `deadline`.
fn read_within(
    stream: &mut UnixStream,
    buf: &mut [u8],
    deadline: Instant,
    timeout: Duration,
) -> Result<(), String> {
    let mut at = 0;
    while at < buf.len() {
        match read_by(stream, &mut buf[at..], deadline, timeout, "message")? {
            0 => return Err("the client hung up in the middle of a message".into()),
            n => at += n,
        }
    }
    Ok(())
}

/// Zeroes the stack below the caller's frame, where the last message was
/// decoded and handled: moves of a decoded private key (and the SHA-512
/// state ed25519-dalek hashed its seed in, when ssh-key checked the key
/// pair) leave copies in stack slots that no destructor wipes. Half the
/// thread's stack is far more than handling a message takes, and leaves
/// room for the frames above.
#[inline(never)]
fn wipe_stack() {
    let mut area = [0u8; THREAD_STACK / 2];
    area.zeroize();
    std::hint::black_box(&mut area);
}

/// One message in, its framed answer out. Kept out of line so that
/// [`wipe_stack`] (called from the same frame) covers everything it used.
#[inline(never)]
fn handle(shared: &Shared, peer: &Peer, msg: &[u8]) -> Vec<u8> {
    let response = match decode(msg) {
        Ok(request) => answer(shared, peer, request),
        Err(e) => {
            log!("ssh: {peer}: not a message this agent takes: {e}");
            Response::Failure
        }
    };
    frame(&response)
}

/// Decodes a whole message: bytes after it make it garbled too.
fn decode(msg: &[u8]) -> Result<Request, String> {
    let mut rest = msg;
    let request = Request::decode(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the message", rest.len()));
    }
    Ok(request)
}

/// The length-prefixed encoding of an answer.
fn frame(response: &Response) -> Vec<u8> {
    let mut body = Vec::new();
    if response.encode(&mut body).is_err() || body.len() > MAX_MESSAGE {
        body = vec![FAILURE];
    }
    let mut out = Vec::with_capacity(4 + body.len());
    // At most MAX_MESSAGE: fits a u32.
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn answer(shared: &Shared, peer: &Peer, request: Request) -> Response {
    forget_expired(shared);
    if shared.ssh.is_locked() {
        // As OpenSSH's agent: while locked, an empty list and failure for
        // everything but UNLOCK.
        return match request {
            Request::RequestIdentities => Response::IdentitiesAnswer(Vec::new()),
            Request::Unlock(pass) => unlock(shared, peer, Zeroizing::new(pass)),
            _ => Response::Failure,
        };
    }
    match request {
        Request::RequestIdentities => Response::IdentitiesAnswer(identities(shared)),
        Request::SignRequest(r) => sign(shared, peer, r),
        Request::AddIdentity(AddIdentity { credential }) => add(shared, peer, credential, &[]),
        Request::AddIdConstrained(AddIdentityConstrained {
            identity,
            constraints,
        }) => add(shared, peer, identity.credential, &constraints),
        Request::RemoveIdentity(r) => remove(shared, peer, &r.credential),
        Request::RemoveAllIdentities => remove_all(shared, peer),
        Request::Lock(pass) => lock(shared, peer, Zeroizing::new(pass)),
        // Not locked: nothing to unlock.
        Request::Unlock(pass) => {
            drop(Zeroizing::new(pass));
            Response::Failure
        }
        Request::Extension(ext) => extension(ext),
        Request::AddSmartcardKey(_)
        | Request::RemoveSmartcardKey(_)
        | Request::AddSmartcardKeyConstrained(_) => Response::Failure,
    }
}

/// A key the ssh face offers, with its public key.
struct Offered {
    key: AgentKey,
    public: [u8; 32],
}

impl Offered {
    /// What `ssh-add -l` shows: an added key's comment, another key's name.
    fn comment(&self) -> &str {
        match &self.key.origin {
            Origin::SshAdded { comment, .. } if !comment.is_empty() => comment,
            _ => &self.key.name,
        }
    }
}

fn expired(key: &AgentKey, now: Instant) -> bool {
    matches!(key.origin, Origin::SshAdded { expires: Some(at), .. } if at <= now)
}

/// The keys offered here: the Ed25519 keys of the agent (only those of
/// `[ssh] keys` when it is set, and every key added here), less those a
/// client removed and those whose lifetime is over.
fn offered_keys(shared: &Shared) -> Vec<AgentKey> {
    let hidden = locked(&shared.ssh.hidden).clone();
    let now = Instant::now();
    shared
        .agent
        .all()
        .into_iter()
        .filter(|k| k.alg == Algorithm::Ed25519 && !hidden.contains(&k.id) && !expired(k, now))
        .filter(|k| match k.origin {
            Origin::SshAdded { .. } => true,
            _ => shared
                .policy
                .ssh_keys
                .as_ref()
                .is_none_or(|names| names.contains(&k.name)),
        })
        .collect()
}

/// The offered keys with their public keys (from the kernel).
fn offered(shared: &Shared) -> Vec<Offered> {
    offered_keys(shared)
        .into_iter()
        .filter_map(|key| {
            let public = shared.agent.vault.public_key(key.id).ok()?;
            Some(Offered { key, public })
        })
        .collect()
}

/// The offered key whose public key is `credential`.
fn find(shared: &Shared, credential: &PublicCredential) -> Option<Offered> {
    let PublicCredential::Key(KeyData::Ed25519(public)) = credential else {
        return None;
    };
    offered(shared).into_iter().find(|o| o.public == public.0)
}

fn ssh_public(public: [u8; 32]) -> KeyData {
    KeyData::Ed25519(Ed25519PublicKey(public))
}

fn identities(shared: &Shared) -> Vec<Identity> {
    offered(shared)
        .into_iter()
        .map(|o| Identity {
            comment: o.comment().to_string(),
            credential: PublicCredential::Key(ssh_public(o.public)),
        })
        .collect()
}

fn sign(shared: &Shared, peer: &Peer, request: SignRequest) -> Response {
    let Some(key) = find(shared, &request.credential) else {
        return Response::Failure;
    };
    if let Origin::SshAdded { confirm: true, .. } = key.key.origin {
        let fingerprint =
            ssh_key::PublicKey::from(ssh_public(key.public)).fingerprint(HashAlg::Sha256);
        let prompt = format!(
            "Allow use of key {}?\nKey fingerprint {fingerprint}.",
            key.comment()
        );
        let Some(askpass) = &shared.ssh.askpass else {
            log!(
                "ssh: {peer}: refused to sign with {}: confirm, and no SSH_ASKPASS",
                key.key.name
            );
            return Response::Failure;
        };
        if let Err(why) = confirm(askpass, &prompt, CONFIRM_TIMEOUT) {
            log!("ssh: {peer}: refused to sign with {}: {why}", key.key.name);
            return Response::Failure;
        }
    }
    let signature = match shared.agent.vault.sign(key.key.id, &request.data) {
        Ok(s) => s,
        Err(e) => {
            log!("ssh: {peer}: signing with {}: {e}", key.key.name);
            return Response::Failure;
        }
    };
    match Signature::new(ssh_key::Algorithm::Ed25519, signature.to_vec()) {
        Ok(s) => Response::SignResponse(s),
        Err(_) => Response::Failure,
    }
}

/// Asks `askpass` (as OpenSSH's agent does for a confirm key: the prompt
/// as its argument, `SSH_ASKPASS_PROMPT=confirm`): allowed when it exits 0
/// having printed nothing or "yes".
fn confirm(askpass: &Path, prompt: &str, timeout: Duration) -> Result<(), String> {
    let mut child = Command::new(askpass)
        .arg(prompt)
        .env("SSH_ASKPASS_PROMPT", "confirm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", askpass.display()))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not answer within {} s",
                    askpass.display(),
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("{}: {e}", askpass.display())),
        }
    };
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        // The child is gone: this read ends at once.
        let _ = out.by_ref().take(4096).read_to_string(&mut said);
    }
    let said = said.trim();
    if !status.success() {
        return Err(format!("{} said no ({status})", askpass.display()));
    }
    if !said.is_empty() && !said.eq_ignore_ascii_case("yes") {
        return Err(format!("{} answered '{said}', not yes", askpass.display()));
    }
    Ok(())
}

/// Key names that would be the same environment variable for `kvctl agent
/// exec` (`a-b`, `A_B`) count as the same name.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| {
                if c == b'-' {
                    b'_'
                } else {
                    c.to_ascii_lowercase()
                }
            };
            norm(x) == norm(y)
        })
}

/// Names the policy gives to keys (its `[[allow]]` rules and `[ssh] keys`),
/// whether or not the agent has them: an added key never takes one, so that
/// whoever may use the ssh socket cannot plant a key where a rule expects
/// another (a keystore key that failed to load, say).
fn reserved_names(policy: &Policy) -> Vec<String> {
    policy
        .rules
        .iter()
        .filter_map(|r| r.keys.as_ref())
        .chain(policy.ssh_keys.as_ref())
        .flatten()
        .cloned()
        .collect()
}

/// The name of a key added as `comment`: the comment itself when it is a
/// valid key name that no other key has and the policy does not name,
/// else `ssh-` and the start of the public key's SHA-256 (longer if that is
/// taken too).
fn pick_name(
    keys: &[AgentKey],
    reserved: &[String],
    comment: &str,
    public: &[u8; 32],
    replacing: Option<KeyId>,
) -> Option<String> {
    let digest = hex::encode(Sha256::digest(public));
    let free = |name: &str| {
        !keys
            .iter()
            .any(|k| Some(k.id) != replacing && same_name(&k.name, name))
            && !reserved.iter().any(|r| same_name(r, name))
    };
    let mut candidates = Vec::new();
    if keyvault::check_key_name(comment).is_ok() {
        candidates.push(comment.to_string());
    }
    for n in [8, 16, 64] {
        candidates.push(format!("ssh-{}", &digest[..n]));
    }
    candidates.into_iter().find(|c| free(c))
}

/// The constraints of ADD_ID_CONSTRAINED: (lifetime, confirm).
fn constraints_of(constraints: &[KeyConstraint]) -> Result<(Option<Duration>, bool), String> {
    let mut lifetime = None;
    let mut confirm = false;
    for c in constraints {
        match c {
            KeyConstraint::Lifetime(_) if lifetime.is_some() => {
                return Err("a second lifetime constraint".into())
            }
            KeyConstraint::Lifetime(0) => return Err("a lifetime of 0 s".into()),
            KeyConstraint::Lifetime(s) => lifetime = Some(Duration::from_secs(u64::from(*s))),
            KeyConstraint::Confirm => confirm = true,
            KeyConstraint::Extension(e) => {
                return Err(format!("the constraint '{}' is not supported", e.name))
            }
        }
    }
    Ok((lifetime, confirm))
}

fn add(
    shared: &Shared,
    peer: &Peer,
    credential: PrivateCredential,
    constraints: &[KeyConstraint],
) -> Response {
    let (keypair, comment) = match credential {
        PrivateCredential::Key {
            privkey: KeypairData::Ed25519(keypair),
            comment,
        } => (keypair, comment),
        PrivateCredential::Key { privkey, comment } => {
            let alg = privkey
                .algorithm()
                .map_or_else(|_| "unknown".to_string(), |a| a.to_string());
            log!("ssh: {peer}: refused to add '{comment}': a {alg} key (only Ed25519 keys go into the kernel)");
            return Response::Failure;
        }
        PrivateCredential::Cert { comment, .. } => {
            log!("ssh: {peer}: refused to add '{comment}': certificates are not supported");
            return Response::Failure;
        }
    };
    let (lifetime, confirm) = match constraints_of(constraints) {
        Ok(c) => c,
        Err(e) => {
            log!("ssh: {peer}: refused to add '{comment}': {e}");
            return Response::Failure;
        }
    };
    if confirm && shared.ssh.askpass.is_none() {
        log!(
            "ssh: {peer}: refused to add '{comment}' with confirm (ssh-add -c): the agent has no \
             SSH_ASKPASS to ask with; start it with SSH_ASKPASS set"
        );
        return Response::Failure;
    }
    let public = keypair.public.0;
    let vault = &shared.agent.vault;
    let _changing = locked(&shared.ssh.changing);
    // The same key again replaces the one added before (OpenSSH: new
    // constraints and comment); one the agent has from elsewhere stays.
    let mut replacing = None;
    for k in shared
        .agent
        .all()
        .iter()
        .filter(|k| k.alg == Algorithm::Ed25519)
    {
        if vault.public_key(k.id).ok() != Some(public) {
            continue;
        }
        if let Origin::SshAdded { .. } = k.origin {
            replacing = Some(k.id);
        } else {
            log!(
                "ssh: {peer}: refused to add '{comment}': it is the agent's key '{}' already",
                k.name
            );
            return Response::Failure;
        }
    }
    let opts = KeyOptions {
        usage: Caps::SIGN | Caps::VERIFY,
        ttl: lifetime,
        ..Default::default()
    };
    let expires = lifetime.map(|l| Instant::now() + l);
    let imported = vault.import(Algorithm::Ed25519, keypair.private.as_ref(), &opts);
    // ssh-key's Ed25519PrivateKey wipes itself when dropped.
    drop(keypair);
    let id = match imported {
        Ok(id) => id,
        Err(e) => {
            log!("ssh: {peer}: adding '{comment}': {e}");
            return Response::Failure;
        }
    };
    if vault.public_key(id).ok() != Some(public) {
        log!("ssh: {peer}: adding '{comment}': the kernel's public key is not the one sent");
        let _ = vault.destroy(id);
        return Response::Failure;
    }
    let Some(name) = pick_name(
        &shared.agent.all(),
        &reserved_names(&shared.policy),
        &comment,
        &public,
        replacing,
    ) else {
        log!("ssh: {peer}: adding '{comment}': no free name");
        let _ = vault.destroy(id);
        return Response::Failure;
    };
    let key = AgentKey {
        name: name.clone(),
        id,
        alg: Algorithm::Ed25519,
        origin: Origin::SshAdded {
            confirm,
            comment: comment.clone(),
            expires,
        },
    };
    let placed = match replacing {
        Some(old) => shared.agent.replace(old, key),
        None => shared.agent.add(key),
    };
    if !placed {
        log!("ssh: {peer}: adding '{comment}': the name '{name}' was taken");
        let _ = vault.destroy(id);
        return Response::Failure;
    }
    if let Some(old) = replacing {
        let _ = vault.destroy(old);
    }
    log!(
        "ssh: {peer}: {} key '{name}' ('{comment}'{}{})",
        if replacing.is_some() {
            "replaced"
        } else {
            "added"
        },
        lifetime.map_or(String::new(), |l| format!(", lifetime {} s", l.as_secs())),
        if confirm { ", confirm" } else { "" },
    );
    Response::Success
}

/// Takes a key away from the ssh face: one added here is destroyed, any
/// other is hidden until the agent restarts. The caller holds `changing`.
fn forget(shared: &Shared, key: &AgentKey) {
    match key.origin {
        Origin::SshAdded { .. } => {
            shared.agent.remove(key.id);
            let _ = shared.agent.vault.destroy(key.id);
        }
        _ => {
            locked(&shared.ssh.hidden).insert(key.id);
        }
    }
}

/// Forgets the added keys whose lifetime is over (the kernel has expired
/// them already).
fn forget_expired(shared: &Shared) {
    let now = Instant::now();
    if !shared.agent.all().iter().any(|k| expired(k, now)) {
        return;
    }
    let _changing = locked(&shared.ssh.changing);
    for k in shared.agent.all().iter().filter(|k| expired(k, now)) {
        forget(shared, k);
        log!("ssh: key '{}' reached the end of its lifetime", k.name);
    }
}

fn remove(shared: &Shared, peer: &Peer, credential: &PublicCredential) -> Response {
    let _changing = locked(&shared.ssh.changing);
    let Some(key) = find(shared, credential) else {
        return Response::Failure;
    };
    forget(shared, &key.key);
    log!("ssh: {peer}: removed key '{}'", key.key.name);
    Response::Success
}

fn remove_all(shared: &Shared, peer: &Peer) -> Response {
    let _changing = locked(&shared.ssh.changing);
    let keys = offered_keys(shared);
    for k in &keys {
        forget(shared, k);
    }
    log!("ssh: {peer}: removed all keys ({})", keys.len());
    Response::Success
}

fn lock(shared: &Shared, peer: &Peer, pass: Zeroizing<String>) -> Response {
    let mut lock = locked(&shared.ssh.lock);
    if lock.is_some() {
        return Response::Failure;
    }
    match LockHash::new(pass.as_bytes()) {
        Ok(h) => {
            *lock = Some(h);
            log!("ssh: {peer}: locked");
            Response::Success
        }
        Err(e) => {
            log!("ssh: {peer}: lock: {e}");
            Response::Failure
        }
    }
}

fn unlock(shared: &Shared, peer: &Peer, pass: Zeroizing<String>) -> Response {
    {
        let mut lock = locked(&shared.ssh.lock);
        if lock.as_ref().is_some_and(|h| h.matches(pass.as_bytes())) {
            *lock = None;
            log!("ssh: {peer}: unlocked");
            return Response::Success;
        }
    }
    log!("ssh: {peer}: unlock: wrong passphrase");
    std::thread::sleep(UNLOCK_DELAY);
    Response::Failure
}

/// The `query` extension; any other is unknown here, and the draft has
/// SSH_AGENT_FAILURE for that (EXTENSION_FAILURE is for a known one that
/// failed).
fn extension(ext: Extension) -> Response {
    if ext.name != "query" {
        return Response::Failure;
    }
    if !ext.details.as_ref().is_empty() {
        return Response::ExtensionFailure;
    }
    let list = QueryResponse {
        extensions: EXTENSIONS.iter().map(|e| e.to_string()).collect(),
    };
    match Extension::new_message(list) {
        Ok(e) => Response::ExtensionResponse(e),
        Err(_) => Response::ExtensionFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Agent;
    use keyvault::Vault;
    use ssh_agent_lib::proto::RemoveIdentity;
    use ssh_agent_lib::ssh_encoding::Encode;
    use ssh_key::private::Ed25519Keypair;
    use ssh_key::Mpint;
    use std::fs::File;
    use std::os::fd::OwnedFd;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;
    use std::thread::JoinHandle;

    /// An agent with no keys whose vault is /dev/null: every vault call
    /// fails (ENOTTY), which is all these tests need (the framing and the
    /// dispatch; the kernel's part is tests/kvctl/ssh.sh, in the VM).
    fn agent(policy: &str, askpass: Option<PathBuf>) -> Arc<Shared> {
        let policy = Policy::parse(policy).unwrap();
        let null: OwnedFd = File::open("/dev/null").unwrap().into();
        Arc::new(Shared {
            agent: Agent::new(Vault::from_fd(null), Vec::new()),
            ssh: SshState::with_askpass(askpass),
            policy,
        })
    }

    const POLICY: &str = "[agent]\nio_timeout_secs = 1\n";

    fn me() -> Peer {
        Peer {
            pid: std::process::id() as i32,
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            ..Default::default()
        }
    }

    /// A client connected to `serve` on a thread of its own.
    fn connect(shared: &Arc<Shared>, peer: Peer) -> (UnixStream, JoinHandle<()>) {
        let (client, server) = UnixStream::pair().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let shared = shared.clone();
        let served = std::thread::spawn(move || {
            serve(
                &shared,
                Conn {
                    stream: server,
                    peer,
                },
            )
        });
        (client, served)
    }

    fn send(c: &mut UnixStream, body: &[u8]) {
        let mut m = (body.len() as u32).to_be_bytes().to_vec();
        m.extend_from_slice(body);
        c.write_all(&m).unwrap();
    }

    fn receive(c: &mut UnixStream) -> Vec<u8> {
        let mut len = [0u8; 4];
        c.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        c.read_exact(&mut body).unwrap();
        body
    }

    fn encoded(r: &Request) -> Vec<u8> {
        let mut m = Vec::new();
        r.encode(&mut m).unwrap();
        m
    }

    fn call(c: &mut UnixStream, r: &Request) -> Response {
        send(c, &encoded(r));
        Response::decode(&mut &receive(c)[..]).unwrap()
    }

    /// True when the agent closed the connection instead of answering (EOF,
    /// or ECONNRESET when it left bytes unread).
    fn closed(c: &mut UnixStream) -> bool {
        let mut b = [0u8; 1];
        match c.read(&mut b) {
            Ok(0) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    }

    fn keypair(seed: u8) -> Ed25519Keypair {
        Ed25519Keypair::from_seed(&[seed; 32])
    }

    fn add_request(seed: u8, comment: &str, constraints: Vec<KeyConstraint>) -> Request {
        let credential = PrivateCredential::Key {
            privkey: KeypairData::Ed25519(keypair(seed)),
            comment: comment.into(),
        };
        if constraints.is_empty() {
            Request::AddIdentity(AddIdentity { credential })
        } else {
            Request::AddIdConstrained(AddIdentityConstrained {
                identity: AddIdentity { credential },
                constraints,
            })
        }
    }

    fn sign_request(seed: u8) -> Request {
        Request::SignRequest(SignRequest {
            credential: PublicCredential::Key(ssh_public(keypair(seed).public.0)),
            data: b"session".to_vec(),
            flags: 0,
        })
    }

    #[test]
    fn an_agent_without_keys_lists_none_and_signs_nothing() {
        let shared = agent(POLICY, None);
        let (mut c, _) = connect(&shared, me());
        assert_eq!(
            call(&mut c, &Request::RequestIdentities),
            Response::IdentitiesAnswer(vec![])
        );
        assert_eq!(call(&mut c, &sign_request(1)), Response::Failure);
        let remove = Request::RemoveIdentity(RemoveIdentity {
            credential: PublicCredential::Key(ssh_public(keypair(1).public.0)),
        });
        assert_eq!(call(&mut c, &remove), Response::Failure);
        assert_eq!(
            call(&mut c, &Request::RemoveAllIdentities),
            Response::Success
        );
    }

    #[test]
    fn garbage_is_answered_failure_and_the_connection_goes_on() {
        let shared = agent(POLICY, None);
        let (mut c, _) = connect(&shared, me());
        let truncated_sign = &encoded(&sign_request(1))[..20];
        let with_trailing_bytes = [11u8, 0];
        let rsa1_remove_all = [9u8];
        for garbage in [
            &[][..],
            &[200u8][..],
            &[0xff; 100][..],
            truncated_sign,
            &with_trailing_bytes,
            &rsa1_remove_all,
        ] {
            send(&mut c, garbage);
            assert_eq!(receive(&mut c), [FAILURE], "{garbage:?}");
        }
        assert_eq!(
            call(&mut c, &Request::RequestIdentities),
            Response::IdentitiesAnswer(vec![])
        );
    }

    #[test]
    fn a_message_of_exactly_256_kib_is_read_one_byte_more_disconnects() {
        let shared = agent(POLICY, None);
        let (mut c, served) = connect(&shared, me());
        send(&mut c, &vec![0xee; MAX_MESSAGE]);
        assert_eq!(receive(&mut c), [FAILURE]);
        // The length alone: the agent must not wait for (or allocate) a body.
        c.write_all(&(MAX_MESSAGE as u32 + 1).to_be_bytes())
            .unwrap();
        assert!(closed(&mut c));
        served.join().unwrap();
        let (mut c, _) = connect(&shared, me());
        c.write_all(&u32::MAX.to_be_bytes()).unwrap();
        assert!(closed(&mut c));
    }

    #[test]
    fn a_message_that_stalls_or_trickles_past_io_timeout_is_cut_off() {
        let shared = agent(POLICY, None);
        let (mut c, served) = connect(&shared, me());
        let started = Instant::now();
        c.write_all(&[0, 0]).unwrap();
        assert!(closed(&mut c));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "{took:?}"
        );
        served.join().unwrap();

        // A byte every 300 ms never completes 10 bytes within the 1 s.
        let (mut c, served) = connect(&shared, me());
        let started = Instant::now();
        let message = [0, 0, 0, 6, 11, 1, 2, 3, 4, 5];
        let mut cut = false;
        for b in message {
            if c.write_all(&[b]).is_err() {
                cut = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        assert!(cut || closed(&mut c), "the trickle was answered");
        assert!(started.elapsed() < Duration::from_secs(4));
        served.join().unwrap();
    }

    #[test]
    fn an_idle_connection_between_messages_is_kept() {
        let shared = agent(POLICY, None);
        let (mut c, _) = connect(&shared, me());
        assert_eq!(
            call(&mut c, &Request::RequestIdentities),
            Response::IdentitiesAnswer(vec![])
        );
        std::thread::sleep(Duration::from_millis(1600));
        assert_eq!(
            call(&mut c, &Request::RequestIdentities),
            Response::IdentitiesAnswer(vec![])
        );
    }

    #[test]
    fn another_user_is_closed_on_unless_allowed() {
        let stranger = Peer {
            uid: nix::unistd::getuid().as_raw().wrapping_add(4242),
            ..me()
        };
        let shared = agent(POLICY, None);
        let (mut c, served) = connect(&shared, stranger.clone());
        send(&mut c, &[11]);
        assert!(closed(&mut c));
        served.join().unwrap();

        let policy = format!("{POLICY}[ssh]\nallow_uids = [{}]\n", stranger.uid);
        let shared = agent(&policy, None);
        let (mut c, _) = connect(&shared, stranger);
        assert_eq!(
            call(&mut c, &Request::RequestIdentities),
            Response::IdentitiesAnswer(vec![])
        );
    }

    #[test]
    fn locked_the_agent_lists_nothing_and_refuses_all_but_the_right_unlock() {
        let shared = agent(POLICY, Some("/bin/true".into()));
        let (mut c, _) = connect(&shared, me());
        assert_eq!(
            call(&mut c, &Request::Unlock("pw".into())),
            Response::Failure,
            "not locked"
        );
        assert_eq!(call(&mut c, &Request::Lock("pw".into())), Response::Success);
        assert_eq!(
            call(&mut c, &Request::Lock("other".into())),
            Response::Failure,
            "locked already"
        );
        assert_eq!(
            call(&mut c, &Request::RequestIdentities),
            Response::IdentitiesAnswer(vec![])
        );
        assert_eq!(call(&mut c, &sign_request(1)), Response::Failure);
        assert_eq!(
            call(&mut c, &Request::RemoveAllIdentities),
            Response::Failure
        );
        let query = Request::Extension(Extension {
            name: "query".into(),
            details: Vec::new().into(),
        });
        assert_eq!(call(&mut c, &query), Response::Failure);
        let started = Instant::now();
        assert_eq!(
            call(&mut c, &Request::Unlock("pW".into())),
            Response::Failure
        );
        assert!(
            started.elapsed() >= UNLOCK_DELAY,
            "a wrong unlock is slowed down"
        );
        assert_eq!(call(&mut c, &Request::Unlock("".into())), Response::Failure);
        assert!(shared.ssh.is_locked());
        assert_eq!(
            call(&mut c, &Request::Unlock("pw".into())),
            Response::Success
        );
        assert!(!shared.ssh.is_locked());
        assert_eq!(
            call(&mut c, &Request::RemoveAllIdentities),
            Response::Success
        );
    }

    #[test]
    fn the_lock_keeps_a_salted_hash_compared_in_full() {
        let a = LockHash::new(b"correct horse").unwrap();
        let b = LockHash::new(b"correct horse").unwrap();
        assert!(a.matches(b"correct horse") && b.matches(b"correct horse"));
        for wrong in [
            &b""[..],
            b"correct hors",
            b"correct horse ",
            b"Correct horse",
        ] {
            assert!(!a.matches(wrong), "{wrong:?}");
        }
        assert_ne!(a.salt, b.salt);
        assert_ne!(
            a.hash, b.hash,
            "the same passphrase hashes differently under another salt"
        );
        let unsalted: [u8; 32] = Sha256::digest(b"correct horse").into();
        assert_ne!(a.hash, unsalted);
    }

    #[test]
    fn query_lists_query_and_other_extensions_fail() {
        let shared = agent(POLICY, None);
        let (mut c, _) = connect(&shared, me());
        let ext = |name: &str, details: &[u8]| {
            Request::Extension(Extension {
                name: name.into(),
                details: details.to_vec().into(),
            })
        };
        let Response::ExtensionResponse(answer) = call(&mut c, &ext("query", b"")) else {
            panic!("query: no extension response");
        };
        let list = answer.parse_message::<QueryResponse>().unwrap().unwrap();
        assert_eq!(list.extensions, ["query"]);
        assert_eq!(
            call(&mut c, &ext("query", b"x")),
            Response::ExtensionFailure
        );
        assert_eq!(
            call(&mut c, &ext("session-bind@openssh.com", b"\0\0\0\0")),
            Response::Failure
        );
    }

    #[test]
    fn adds_that_cannot_be_kept_in_the_kernel_are_refused() {
        let shared = agent(POLICY, None);
        let (mut c, _) = connect(&shared, me());
        // A DSA key (any non-Ed25519 key): decoded, then refused.
        let mut dsa = vec![17u8];
        "ssh-dss".encode(&mut dsa).unwrap();
        for v in [0x17u8, 0x0b, 0x02, 0x05, 0x03] {
            Mpint::from_positive_bytes(&[v])
                .unwrap()
                .encode(&mut dsa)
                .unwrap();
        }
        "dsa".encode(&mut dsa).unwrap();
        let Ok(Request::AddIdentity(AddIdentity {
            credential: PrivateCredential::Key { privkey, .. },
        })) = decode(&dsa)
        else {
            panic!("the DSA add does not decode");
        };
        assert!(privkey.dsa().is_some());
        send(&mut c, &dsa);
        assert_eq!(receive(&mut c), [FAILURE]);
        // Confirm with no SSH_ASKPASS in the agent's environment.
        assert_eq!(
            call(&mut c, &add_request(1, "c", vec![KeyConstraint::Confirm])),
            Response::Failure
        );
        // A constraint extension (ssh-add -h's destination constraints).
        let restrict = KeyConstraint::Extension(Extension {
            name: "restrict-destination-v00@openssh.com".into(),
            details: Vec::new().into(),
        });
        assert_eq!(
            call(&mut c, &add_request(1, "r", vec![restrict])),
            Response::Failure
        );
        // An Ed25519 key the vault (here /dev/null) does not take.
        assert_eq!(
            call(&mut c, &add_request(1, "k", vec![])),
            Response::Failure
        );
        assert!(shared.agent.all().is_empty());
    }

    #[test]
    fn constraints_are_a_lifetime_and_confirm_at_most_once_each() {
        use KeyConstraint::*;
        assert_eq!(constraints_of(&[]), Ok((None, false)));
        assert_eq!(
            constraints_of(&[Lifetime(3), Confirm]),
            Ok((Some(Duration::from_secs(3)), true))
        );
        assert!(constraints_of(&[Lifetime(3), Lifetime(4)]).is_err());
        assert!(constraints_of(&[Lifetime(0)]).is_err());
        let ext = Extension(ssh_agent_lib::proto::Extension {
            name: "sk-provider@openssh.com".into(),
            details: Vec::new().into(),
        });
        assert!(constraints_of(&[Confirm, ext])
            .unwrap_err()
            .contains("sk-provider"));
    }

    #[test]
    fn an_added_key_is_named_by_its_comment_when_that_is_a_free_key_name() {
        let public = [7u8; 32];
        let digest = hex::encode(Sha256::digest(public));
        let key = |name: &str, id: u64| AgentKey {
            name: name.into(),
            id: KeyId(id),
            alg: Algorithm::Ed25519,
            origin: Origin::Generated,
        };
        let short = format!("ssh-{}", &digest[..8]);
        let name = |keys: &[AgentKey], comment: &str, replacing: Option<u64>| {
            pick_name(keys, &[], comment, &public, replacing.map(KeyId)).unwrap()
        };
        assert_eq!(name(&[], "laptop", None), "laptop");
        assert_eq!(name(&[], "me@host", None), short);
        assert_eq!(name(&[], "", None), short);
        assert_eq!(name(&[key("laptop", 1)], "laptop", None), short);
        assert_eq!(name(&[key("LAPTOP_1", 1)], "laptop-1", None), short);
        assert_eq!(name(&[key("laptop", 1)], "laptop", Some(1)), "laptop");
        let taken = [key("laptop", 1), key(&short, 2)];
        assert_eq!(
            name(&taken, "laptop", None),
            format!("ssh-{}", &digest[..16])
        );
    }

    #[test]
    fn an_added_key_never_takes_a_name_the_policy_gives() {
        let policy = Policy::parse(
            "[ssh]\nkeys = [\"deploy\"]\n[[allow]]\nuid = 1\nkeys = [\"tls-sign\"]\ncaps = [\"sign\"]\n\
             [[allow]]\nuid = 2\nkeys = [\"*\"]\ncaps = [\"getinfo\"]\n",
        )
        .unwrap();
        let reserved = reserved_names(&policy);
        assert_eq!(reserved, ["tls-sign", "deploy"]);
        for planted in ["tls-sign", "TLS_SIGN", "deploy"] {
            let got = pick_name(&[], &reserved, planted, &[7; 32], None).unwrap();
            assert!(got.starts_with("ssh-"), "{planted} -> {got}");
        }
        assert_eq!(
            pick_name(&[], &reserved, "laptop", &[7; 32], None).unwrap(),
            "laptop"
        );
    }

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn confirm_asks_askpass_with_the_prompt_and_takes_only_a_clear_yes() {
        let dir = std::env::temp_dir().join(format!("kv-ssh-confirm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let seen = dir.join("seen");
        let t = Duration::from_secs(5);
        let ok = script(
            &dir,
            "ok",
            &format!(
                "printf '%s|%s' \"$SSH_ASKPASS_PROMPT\" \"$1\" > {}",
                seen.display()
            ),
        );
        assert_eq!(confirm(&ok, "Allow use of key k?", t), Ok(()));
        assert_eq!(
            std::fs::read_to_string(&seen).unwrap(),
            "confirm|Allow use of key k?"
        );
        assert!(confirm(&script(&dir, "yes", "echo YES"), "p", t).is_ok());
        assert!(confirm(&script(&dir, "no", "exit 1"), "p", t)
            .unwrap_err()
            .contains("said no"));
        assert!(confirm(&script(&dir, "says-no", "echo no"), "p", t)
            .unwrap_err()
            .contains("not yes"));
        assert!(confirm(&dir.join("missing"), "p", t).is_err());
        let started = Instant::now();
        let slow = script(&dir, "slow", "exec sleep 30");
        assert!(confirm(&slow, "p", Duration::from_millis(300))
            .unwrap_err()
            .contains("did not answer"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a hung askpass is killed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn answers_are_framed_with_their_length() {
        let f = frame(&Response::Success);
        assert_eq!(f, [0, 0, 0, 1, 6]);
        let f = frame(&Response::IdentitiesAnswer(vec![Identity {
            credential: PublicCredential::Key(ssh_public([1; 32])),
            comment: "kv-ed".into(),
        }]));
        assert_eq!(
            u32::from_be_bytes(f[..4].try_into().unwrap()) as usize,
            f.len() - 4
        );
        let Response::IdentitiesAnswer(ids) = Response::decode(&mut &f[4..]).unwrap() else {
            panic!("not an identities answer");
        };
        assert_eq!(ids[0].comment, "kv-ed");
        assert_eq!(
            ids[0].credential,
            PublicCredential::Key(ssh_public([1; 32]))
        );
    }
}
