//! Why a command failed, told to a person (`kvctl: ...` on stderr) or to a
//! program (`--json`: one `{"error": {...}}` line on stdout), and the exit
//! status that sorts it for a script.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | verification failed: a signature, MAC, AEAD tag or CBC padding is wrong (the "no" answer, like cmp(1)) |
//! | 2 | usage: bad arguments (clap's own status), or a key made in a vault that dies with kvctl |
//! | 3 | no keyvault device: the module is not loaded, or the fd is not a vault |
//! | 4 | permission denied: this handle's capabilities, or the key's policy |
//! | 5 | the key is unknown, revoked or expired |
//! | 6 | a quota is exhausted: the key's max uses/bytes or nonces, the vault's or user's keys |
//! | 7 | the input is larger than the module's per-operation limit |
//! | 8 | invalid input: a bad format, the wrong key type, a malformed file |
//! | 9 | anything else: I/O, out of memory |
//! | 141 | stdout was closed early (`kvctl list \| head -1`): nothing more is written, as if SIGPIPE had killed kvctl |

use crate::Session;
use keyvault::uapi::{self as abi, KvIoctl};
use keyvault::{Caps, ErrorKind, KeyId, KeyInfo, KeyState};
use serde_json::{json, Value};
use std::fmt;

/// What went wrong, finer than the exit status it maps to ([`Kind::exit_code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// What a failed keyvault request means ([`keyvault::Error::kind`]);
    /// kvctl's own checks of its input say it the same way
    /// (`InvalidRequest` for malformed input, `Unsupported` for a key that
    /// cannot do what was asked, ...).
    Vault(ErrorKind),
    /// Bad arguments, or a command that makes no sense where it runs.
    Usage,
    /// Reading or writing a file failed.
    Io,
    /// stdout was closed: stop quietly.
    BrokenPipe,
}

impl Kind {
    /// Malformed input.
    pub const INVALID: Kind = Kind::Vault(ErrorKind::InvalidRequest);

    /// The name in `--json` errors (`"kind"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Vault(k) => match k {
                ErrorKind::VerificationFailed => "verification_failed",
                ErrorKind::NoDevice => "no_device",
                ErrorKind::PermissionDenied => "permission_denied",
                ErrorKind::KeyNotFound => "key_not_found",
                ErrorKind::KeyRevoked => "key_revoked",
                ErrorKind::KeyExpired => "key_expired",
                ErrorKind::QuotaExceeded => "quota_exceeded",
                ErrorKind::NoncesExhausted => "nonces_exhausted",
                ErrorKind::TooLarge => "too_large",
                ErrorKind::Unsupported => "unsupported",
                ErrorKind::InvalidRequest => "invalid_input",
                _ => "other",
            },
            Kind::Usage => "usage",
            Kind::Io => "io",
            Kind::BrokenPipe => "broken_pipe",
        }
    }

    /// kvctl's exit status for it (the table in this module's docs).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Vault(k) => match k {
                ErrorKind::VerificationFailed => 1,
                ErrorKind::NoDevice => 3,
                ErrorKind::PermissionDenied => 4,
                ErrorKind::KeyNotFound | ErrorKind::KeyRevoked | ErrorKind::KeyExpired => 5,
                ErrorKind::QuotaExceeded | ErrorKind::NoncesExhausted => 6,
                ErrorKind::TooLarge => 7,
                ErrorKind::InvalidRequest | ErrorKind::Unsupported => 8,
                _ => 9,
            },
            Kind::Usage => 2,
            Kind::Io => 9,
            // What a shell reports for a process SIGPIPE killed (128 + 13).
            Kind::BrokenPipe => 141,
        }
    }
}

/// A failed command: what kind of failure, what happened, and what to do
/// about it (boxed: it is every command's error, and small on the happy path).
#[derive(Debug)]
pub struct Fail(Box<Detail>);

#[derive(Debug)]
struct Detail {
    kind: Kind,
    message: String,
    hint: Option<String>,
    /// The library error it came from: its operation and errno.
    source: Option<keyvault::Error>,
    /// A field of the `--json` line besides `"error"` (a verdict's
    /// `"valid": false`: the one line says both).
    field: Option<(&'static str, Value)>,
    /// The message is already as precise as it gets ([`Session::explain`]
    /// leaves it alone).
    precise: bool,
    /// What follows the message whatever explains it (what became of the
    /// output): [`Fail::append`].
    after: Vec<String>,
}

impl Fail {
    /// A failure of `kind` that `message` explains.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Fail(Box::new(Detail {
            kind,
            message: message.into(),
            hint: None,
            source: None,
            field: None,
            precise: false,
            after: Vec::new(),
        }))
    }

    /// Bad arguments (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Fail::new(Kind::Usage, message)
    }

    /// Malformed input (exit status 8).
    pub fn invalid(message: impl Into<String>) -> Self {
        Fail::new(Kind::INVALID, message)
    }

    /// An I/O error on `what` (a file name, "stdout"): a closed stdout is
    /// [`Kind::BrokenPipe`], the rest [`Kind::Io`].
    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Fail::new(Kind::BrokenPipe, format!("{what}: {e}"));
        }
        Fail::new(Kind::Io, format!("{what}: {e}"))
    }

    /// Adds what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// Replaces the message (keeping the kind and the library error).
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self.0.precise = true;
        self
    }

    /// Adds `; more` after the message, also after one that
    /// [`Session::explain`] makes precise later (what became of the output).
    pub fn append(mut self, more: impl fmt::Display) -> Self {
        self.0.after.push(more.to_string());
        self
    }

    /// The message and what follows it.
    fn full_message(&self) -> String {
        std::iter::once(self.0.message.as_str())
            .chain(self.0.after.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Puts `what: ` before the message (a file name, a keyring key).
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.0.message = format!("{what}: {}", self.0.message);
        self
    }

    /// Adds a top-level field to the `--json` error line.
    pub fn field(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.0.field = Some((name, value.into()));
        self
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.0.kind
    }

    /// The library error it came from, if any.
    pub fn source(&self) -> Option<&keyvault::Error> {
        self.0.source.as_ref()
    }

    /// kvctl's exit status for it.
    pub fn exit_code(&self) -> u8 {
        self.0.kind.exit_code()
    }

    /// The `--json` line: `{"error": {"kind", "message", "hint", "exit_code",
    /// "errno", "op"}}` (errno and op are those of the failed keyvault
    /// request, or null).
    pub fn to_json(&self) -> Value {
        let mut line = json!({
            "error": {
                "kind": self.0.kind.name(),
                "message": self.full_message(),
                "hint": self.0.hint,
                "exit_code": self.exit_code(),
                "errno": self.0.source.map(|e| e.errno()),
                "op": self.0.source.map(|e| e.op()),
            }
        });
        if let (Some((name, value)), Some(obj)) = (&self.0.field, line.as_object_mut()) {
            obj.insert((*name).into(), value.clone());
        }
        line
    }

    /// The lines for stderr: `kvctl: MESSAGE` and `kvctl: hint: HINT`.
    pub fn to_text(&self) -> String {
        match &self.0.hint {
            Some(h) => format!("kvctl: {}\nkvctl: hint: {h}", self.full_message()),
            None => format!("kvctl: {}", self.full_message()),
        }
    }
}

/// The tests of the commands check what a failure says as they would a
/// string message.
#[cfg(test)]
impl Fail {
    /// Whether the message contains `pat`.
    pub fn contains(&self, pat: &str) -> bool {
        self.full_message().contains(pat)
    }

    /// Whether the message starts with `pat`.
    pub fn starts_with(&self, pat: &str) -> bool {
        self.0.message.starts_with(pat)
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_message())
    }
}

impl std::error::Error for Fail {}

impl From<keyvault::Error> for Fail {
    fn from(e: keyvault::Error) -> Self {
        let mut f = Fail::new(Kind::Vault(e.kind()), e.to_string());
        f.0.source = Some(e);
        f
    }
}

/// The messages of kvctl's own checks: bad input unless said otherwise.
impl From<String> for Fail {
    fn from(message: String) -> Self {
        Fail::invalid(message)
    }
}

impl From<&str> for Fail {
    fn from(message: &str) -> Self {
        Fail::invalid(message)
    }
}

/// For code that still reports errors as strings: the message, kind lost.
impl From<Fail> for String {
    fn from(f: Fail) -> Self {
        f.full_message()
    }
}

/// The `KV_IOC_*` request behind a library operation name.
fn ioctl_of(op: &str) -> Option<u32> {
    Some(match op {
        "getcaps" => abi::KV_IOC_GETCAPS,
        "restrict" => abi::KV_IOC_RESTRICT,
        "dup" => abi::KV_IOC_DUP,
        "genkey" => abi::KV_IOC_GENKEY,
        "import" => abi::KV_IOC_IMPORT,
        "import-keyring" => abi::KV_IOC_IMPORT_KEYRING,
        "destroy" => abi::KV_IOC_DESTROY,
        "revoke" => abi::KV_IOC_REVOKE,
        "getinfo" => abi::KV_IOC_GETINFO,
        "list" => abi::KV_IOC_LIST,
        "aead-encrypt" => abi::KV_IOC_AEAD_ENCRYPT,
        "aead-decrypt" => abi::KV_IOC_AEAD_DECRYPT,
        "cbc-encrypt" => abi::KV_IOC_CBC_ENCRYPT,
        "cbc-decrypt" => abi::KV_IOC_CBC_DECRYPT,
        "mac" => abi::KV_IOC_MAC,
        "verify-mac" => abi::KV_IOC_VERIFY_MAC,
        "hash" => abi::KV_IOC_HASH,
        "sign" => abi::KV_IOC_SIGN,
        "verify" => abi::KV_IOC_VERIFY,
        "get-pubkey" => abi::KV_IOC_GET_PUBKEY,
        "derive" => abi::KV_IOC_DERIVE,
        "exchange" => abi::KV_IOC_KEYEXCHANGE,
        "wrap" => abi::KV_IOC_WRAP,
        "unwrap" => abi::KV_IOC_UNWRAP,
        _ => return None,
    })
}

/// The capability a handle needs for operation `op` (from the ABI's ioctl
/// table); for the operations that use a key, the key's usage needs the
/// same bit.
pub fn needed_cap(op: &str) -> Option<Caps> {
    let cap = KvIoctl::find(ioctl_of(op)?)?.cap;
    (cap != 0).then(|| Caps::from_bits_retain(cap))
}

/// Operations whose key's usage must include [`needed_cap`] (the others
/// read public information or make keys).
fn checks_usage(op: &str) -> bool {
    !matches!(
        op,
        "getinfo"
            | "get-pubkey"
            | "list"
            | "genkey"
            | "import"
            | "import-keyring"
            | "destroy"
            | "revoke"
            | "restrict"
            | "dup"
            | "getcaps"
            | "hash"
    )
}

/// Operations that make a key: their quota is the vault's or the user's.
fn makes_key(op: &str) -> bool {
    matches!(
        op,
        "genkey" | "import" | "import-keyring" | "derive" | "exchange" | "unwrap"
    )
}

/// The key's own limit that a use passed, from GETINFO: `Some(message)`
/// when it has used its max uses or (nearly) its max bytes.
pub fn key_limit(i: &KeyInfo) -> Option<String> {
    let id = i.id;
    if i.max_uses != 0 && i.uses >= i.max_uses {
        return Some(format!(
            "key {id} has used its max uses ({}/{})",
            i.uses, i.max_uses
        ));
    }
    if i.max_bytes != 0 {
        return Some(format!(
            "key {id}'s max bytes would be passed: it has processed {} of its {} bytes",
            i.bytes, i.max_bytes
        ));
    }
    None
}

impl Session {
    /// Makes a library failure precise with what the vault can tell:
    /// which capability the handle lacks or which key's policy refused,
    /// which key is unknown, revoked or expired, which quota ran out.
    /// `keys` are the keys the command named.
    pub(crate) fn explain(&self, f: Fail, keys: &[KeyId]) -> Fail {
        let Some(e) = f.0.source else {
            return f;
        };
        if f.0.precise {
            return f;
        }
        let op = e.op();
        match e.kind() {
            ErrorKind::PermissionDenied if op != "open" => self.why_denied(f, op, keys),
            ErrorKind::QuotaExceeded => self.why_quota(f, op, keys),
            k @ (ErrorKind::KeyNotFound | ErrorKind::KeyRevoked | ErrorKind::KeyExpired)
                if op != "import-keyring" =>
            {
                self.which_key(f, k, keys)
            }
            ErrorKind::TooLarge => f
                .message(format!(
                    "keyvault {op}: the input is larger than the module's per-operation limit \
                     ({})",
                    match self.vault.limits() {
                        Ok(l) => format!("max_data_bytes = {} bytes", l.max_data_bytes),
                        Err(_) => "max_data_bytes".into(),
                    }
                ))
                .hint("split the input, or load the module with a larger max_data_bytes (at most 64 MiB)"),
            ErrorKind::NoDevice if op != "open" => f
                .message(format!(
                    "keyvault {op}: the vault fd is not a keyvault device (ENOTTY)"
                ))
                .hint(format!(
                    "${} must be an fd on /dev/keyvault, as `kvctl exec` passes it",
                    crate::FD_ENV
                )),
            _ => f,
        }
    }

    /// EPERM: the handle's capabilities, else the key's usage.
    fn why_denied(&self, f: Fail, op: &str, keys: &[KeyId]) -> Fail {
        let Some(need) = needed_cap(op) else { return f };
        let name = need.names();
        if let Ok(caps) = self.vault.caps() {
            if !caps.contains(need) {
                return f
                    .message(format!(
                        "this vault handle lacks the {name} capability (it has {}): it was \
                         restricted (kvctl restrict) or handed over restricted (kvctl exec \
                         --caps/--keys)",
                        caps.names()
                    ))
                    .hint(format!(
                        "run it with a handle that has {name}: outside that restricted \
                         `kvctl exec`, or give it --caps ...,{name}"
                    ));
            }
        }
        if !checks_usage(op) {
            return f;
        }
        for &id in keys {
            let Ok(i) = self.vault.info(id) else { continue };
            if !i.usage.contains(need) {
                return f
                    .message(format!(
                        "key {id}'s policy does not allow {name} (usage {})",
                        i.usage.names()
                    ))
                    .hint(format!(
                        "a key's usage is fixed when it is made: use a key made with \
                         --usage ...,{name} (or without --usage)"
                    ));
            }
        }
        f
    }

    /// EDQUOT: the key's own max uses/bytes, else the vault's or user's.
    fn why_quota(&self, f: Fail, op: &str, keys: &[KeyId]) -> Fail {
        if !makes_key(op) {
            let limit = keys
                .iter()
                .filter_map(|&id| self.vault.info(id).ok())
                .find_map(|i| key_limit(&i));
            if let Some(m) = limit {
                return f
                    .message(m)
                    .hint("a key's limits are fixed when it is made: make a new key");
            }
        }
        let detail = self.quota_detail();
        f.message(format!("keyvault {op}: {detail}")).hint(
            "destroy keys you no longer need (kvctl destroy), or ask for larger module limits",
        )
    }

    /// Which of the vault's and the user's quotas is exhausted.
    pub(crate) fn quota_detail(&self) -> String {
        match self.vault.limits() {
            Ok(l) => crate::limits::quota_detail(&l),
            Err(_) => {
                "the vault's or your user's key quota (keys or key bytes) is exhausted".into()
            }
        }
    }

    /// ENOENT, EKEYREVOKED, EKEYEXPIRED: which of the command's keys.
    fn which_key(&self, f: Fail, kind: ErrorKind, keys: &[KeyId]) -> Fail {
        for &id in keys {
            let found = match self.vault.info(id) {
                Err(e) => e.kind(),
                Ok(i) if i.state == KeyState::Revoked => ErrorKind::KeyRevoked,
                Ok(i) if i.state == KeyState::Expired => ErrorKind::KeyExpired,
                Ok(_) => continue,
            };
            if found == kind {
                return f
                    .message(key_state_message(kind, id))
                    .hint(key_state_hint(kind));
            }
        }
        match keys {
            [id] => f
                .message(key_state_message(kind, *id))
                .hint(key_state_hint(kind)),
            _ => f.hint(key_state_hint(kind)),
        }
    }
}

fn key_state_message(kind: ErrorKind, id: KeyId) -> String {
    match kind {
        ErrorKind::KeyRevoked => format!("key {id} was revoked (it, or a key it was derived from)"),
        ErrorKind::KeyExpired => format!("key {id} has expired (its --ttl has passed)"),
        _ => format!(
            "no key {id} in this vault (never made here, destroyed, or not visible through \
             this handle)"
        ),
    }
}

fn key_state_hint(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::KeyRevoked | ErrorKind::KeyExpired => {
            "it can never be used again: make a new key".into()
        }
        _ => format!(
            "kvctl list shows this vault's keys; a key made outside `kvctl exec` or \
             `kvctl batch` (no ${}) was destroyed when that kvctl exited",
            crate::FD_ENV
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_1_for_verification_and_2_for_usage() {
        let codes = [
            (Kind::Vault(ErrorKind::VerificationFailed), 1),
            (Kind::Usage, 2),
            (Kind::Vault(ErrorKind::NoDevice), 3),
            (Kind::Vault(ErrorKind::PermissionDenied), 4),
            (Kind::Vault(ErrorKind::KeyNotFound), 5),
            (Kind::Vault(ErrorKind::KeyRevoked), 5),
            (Kind::Vault(ErrorKind::KeyExpired), 5),
            (Kind::Vault(ErrorKind::QuotaExceeded), 6),
            (Kind::Vault(ErrorKind::NoncesExhausted), 6),
            (Kind::Vault(ErrorKind::TooLarge), 7),
            (Kind::INVALID, 8),
            (Kind::Vault(ErrorKind::Unsupported), 8),
            (Kind::Io, 9),
            (Kind::Vault(ErrorKind::Other), 9),
            (Kind::BrokenPipe, 141),
        ];
        for (k, code) in codes {
            assert_eq!(k.exit_code(), code, "{k:?}");
            assert!(k.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        // Names are distinct.
        let names: std::collections::HashSet<_> = codes.iter().map(|(k, _)| k.name()).collect();
        assert_eq!(names.len(), codes.len());
    }

    /// A library error with `errno` from `op`, made the way the library
    /// makes them: a request on /dev/null is ENOTTY, other errnos come from
    /// io::Error.
    fn lib_error(op_on_null: impl FnOnce(&keyvault::Vault) -> keyvault::Error) -> keyvault::Error {
        op_on_null(&keyvault::Vault::open_path("/dev/null").unwrap())
    }

    #[test]
    fn library_errors_keep_their_kind_errno_and_op() {
        let e = lib_error(|v| v.sign(keyvault::KeyId(1), b"m").unwrap_err());
        let f = Fail::from(e);
        assert_eq!(
            (f.kind(), f.exit_code()),
            (Kind::Vault(ErrorKind::NoDevice), 3)
        );
        let j = f.to_json();
        assert_eq!(j["error"]["kind"], "no_device");
        assert_eq!(j["error"]["exit_code"], 3);
        assert_eq!(j["error"]["errno"], libc::ENOTTY);
        assert_eq!(j["error"]["op"], "sign");
        assert!(j["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("keyvault sign:"));
        let e = keyvault::Vault::open_path("/nonexistent/keyvault").unwrap_err();
        assert_eq!(Fail::from(e).exit_code(), 3);
    }

    #[test]
    fn strings_are_invalid_input_and_io_errors_say_which() {
        let f = Fail::from(format!("bad hex: {}", 1));
        assert_eq!((f.kind(), f.exit_code()), (Kind::INVALID, 8));
        assert_eq!(String::from(f), "bad hex: 1");
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(Fail::io("stdout", &pipe).kind(), Kind::BrokenPipe);
        let missing = std::io::Error::from_raw_os_error(libc::ENOENT);
        let f = Fail::io("in.txt", &missing);
        assert_eq!((f.kind(), f.exit_code()), (Kind::Io, 9));
        assert!(f.to_string().starts_with("in.txt: No such file"), "{f}");
    }

    #[test]
    fn text_and_json_carry_the_hint_and_extra_fields() {
        let f = Fail::usage("no vault").hint("use kvctl exec");
        assert_eq!(f.to_text(), "kvctl: no vault\nkvctl: hint: use kvctl exec");
        let j = f.to_json();
        assert_eq!(j["error"]["hint"], "use kvctl exec");
        assert_eq!(j["error"]["errno"], Value::Null);
        let f = Fail::new(Kind::Vault(ErrorKind::VerificationFailed), "bad signature")
            .field("valid", false)
            .context("m.txt");
        let j: Value = serde_json::from_str(&f.to_json().to_string()).unwrap();
        assert_eq!(j["valid"], false);
        assert_eq!(j["error"]["exit_code"], 1);
        assert_eq!(j["error"]["message"], "m.txt: bad signature");
        assert_eq!(Fail::invalid("x").to_text(), "kvctl: x");
    }
}
