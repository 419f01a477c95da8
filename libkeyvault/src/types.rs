//! Typed views of the ABI: key ids, algorithms, capabilities, key info.

use keyvault_uapi as abi;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An opaque key id, valid in the vault that made it. Never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u64);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for KeyId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map(KeyId),
            None => s.parse().map(KeyId),
        }
    }
}

macro_rules! algorithms {
    ($($v:ident = $c:ident, $name:literal;)*) => {
        /// A key type.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Algorithm { $(#[doc = $name] $v,)* }

        impl Algorithm {
            /// Every algorithm.
            pub const ALL: &'static [Algorithm] = &[$(Algorithm::$v),*];

            /// The ABI value (`KV_ALG_*`).
            pub fn to_raw(self) -> u32 {
                match self { $(Algorithm::$v => abi::$c,)* }
            }

            /// From an ABI value.
            pub fn from_raw(v: u32) -> Option<Self> {
                match v { $(abi::$c => Some(Algorithm::$v),)* _ => None }
            }

            /// The name used on the command line (`aes256-gcm`, ...).
            pub fn name(self) -> &'static str {
                match self { $(Algorithm::$v => $name,)* }
            }
        }
    };
}

algorithms! {
    Aes128Gcm = KV_ALG_AES128_GCM, "aes128-gcm";
    Aes256Gcm = KV_ALG_AES256_GCM, "aes256-gcm";
    ChaCha20Poly1305 = KV_ALG_CHACHA20_POLY1305, "chacha20-poly1305";
    Aes128Cbc = KV_ALG_AES128_CBC, "aes128-cbc";
    Aes256Cbc = KV_ALG_AES256_CBC, "aes256-cbc";
    HmacSha256 = KV_ALG_HMAC_SHA256, "hmac-sha256";
    HmacSha512 = KV_ALG_HMAC_SHA512, "hmac-sha512";
    Ed25519 = KV_ALG_ED25519, "ed25519";
    X25519 = KV_ALG_X25519, "x25519";
}

/// The key sizes an algorithm takes, in bits ([`Algorithm::key_bits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyBits {
    /// Smallest key.
    pub min: u32,
    /// Largest key.
    pub max: u32,
    /// The size of a key made with `bits: 0`.
    pub default: u32,
}

impl Algorithm {
    /// The key sizes the module takes for this algorithm (GENKEY's
    /// `bits`, IMPORT's key length); HMAC keys go in steps of 8 bits, from
    /// 128 (shorter keys are weak) to one hash block (longer ones would only
    /// be hashed down, RFC 2104). The module's table is
    /// `kmod/pure/alg.rs`, which a test of its crate checks this one against.
    pub fn key_bits(self) -> KeyBits {
        let fixed = |bits| KeyBits {
            min: bits,
            max: bits,
            default: bits,
        };
        match self {
            Algorithm::Aes128Gcm | Algorithm::Aes128Cbc => fixed(128),
            Algorithm::Aes256Gcm | Algorithm::Aes256Cbc | Algorithm::ChaCha20Poly1305 => fixed(256),
            Algorithm::Ed25519 | Algorithm::X25519 => fixed(256),
            Algorithm::HmacSha256 => KeyBits {
                min: 128,
                max: 512,
                default: 256,
            },
            Algorithm::HmacSha512 => KeyBits {
                min: 128,
                max: abi::KV_MAX_KEY_BYTES * 8,
                default: 512,
            },
        }
    }

    /// Every operation a key of this algorithm can be used for (its
    /// `usage` may be any part of it). An AES-256-GCM key is either a data
    /// key or a wrapping key ([`Caps::WRAPPING`] alone), never both.
    pub fn usages(self) -> Caps {
        match self {
            Algorithm::Aes256Gcm => self.default_usage() | Caps::WRAPPING,
            _ => self.default_usage(),
        }
    }

    /// The usage a key gets when none is asked for: every operation of
    /// [`Algorithm::usages`] but wrapping.
    pub fn default_usage(self) -> Caps {
        match self {
            Algorithm::Aes128Gcm
            | Algorithm::Aes256Gcm
            | Algorithm::ChaCha20Poly1305
            | Algorithm::Aes128Cbc
            | Algorithm::Aes256Cbc => Caps::ENCRYPT | Caps::DECRYPT,
            Algorithm::HmacSha256 | Algorithm::HmacSha512 => Caps::MAC | Caps::DERIVE,
            Algorithm::Ed25519 => Caps::SIGN | Caps::VERIFY,
            Algorithm::X25519 => Caps::EXCHANGE,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!("unknown algorithm '{s}' (one of: {})", names.join(", "))
            })
    }
}

bitflags::bitflags! {
    /// Capabilities of a vault handle (and, as a key's usage, the operations
    /// a key may be used for).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Caps: u32 {
        /// Generate keys.
        const GENKEY = abi::KV_CAP_GENKEY;
        /// Destroy keys.
        const DESTROY = abi::KV_CAP_DESTROY;
        /// Revoke keys.
        const REVOKE = abi::KV_CAP_REVOKE;
        /// Encrypt.
        const ENCRYPT = abi::KV_CAP_ENCRYPT;
        /// Decrypt.
        const DECRYPT = abi::KV_CAP_DECRYPT;
        /// Sign.
        const SIGN = abi::KV_CAP_SIGN;
        /// Verify.
        const VERIFY = abi::KV_CAP_VERIFY;
        /// MAC.
        const MAC = abi::KV_CAP_MAC;
        /// Hash.
        const HASH = abi::KV_CAP_HASH;
        /// Key information.
        const GETINFO = abi::KV_CAP_GETINFO;
        /// List keys.
        const LIST = abi::KV_CAP_LIST;
        /// Restrict further.
        const RESTRICT = abi::KV_CAP_RESTRICT;
        /// Derive keys.
        const DERIVE = abi::KV_CAP_DERIVE;
        /// Key exchange.
        const EXCHANGE = abi::KV_CAP_EXCHANGE;
        /// Import keys (raw bytes, or from the kernel keyring).
        const IMPORT = abi::KV_CAP_IMPORT;
        /// Export wrappable keys, encrypted under a wrapping key.
        const WRAP = abi::KV_CAP_WRAP;
        /// Make keys from wrapped blobs.
        const UNWRAP = abi::KV_CAP_UNWRAP;
    }
}

impl Caps {
    /// Use keys, but never create, destroy, revoke or restrict.
    pub const READONLY: Caps = Caps::from_bits_truncate(abi::KV_CAP_READONLY);

    /// The usage of a wrapping key (`KV_USAGE_WRAPPING`): an AES-256-GCM key
    /// with WRAP and/or UNWRAP, and nothing else.
    pub const WRAPPING: Caps = Caps::from_bits_truncate(abi::KV_USAGE_WRAPPING);

    /// Lower-case names of the set bits, `|`-separated (`encrypt|decrypt`).
    pub fn names(self) -> String {
        if self.is_empty() {
            return "none".into();
        }
        if self == Caps::all() {
            return "all".into();
        }
        self.iter_names()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join("|")
    }
}

impl FromStr for Caps {
    type Err = String;
    /// Parses `all`, `readonly`, `none`, `wrapping` (wrap and unwrap), or
    /// names joined by `,` or `|`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut caps = Caps::empty();
        for part in s.split([',', '|']).map(str::trim).filter(|p| !p.is_empty()) {
            caps |= match part.to_ascii_lowercase().as_str() {
                "all" => Caps::all(),
                "readonly" => Caps::READONLY,
                "none" => Caps::empty(),
                "wrapping" => Caps::WRAPPING,
                name => Caps::from_name(&name.to_ascii_uppercase())
                    .ok_or_else(|| format!("unknown capability '{part}'"))?,
            };
        }
        Ok(caps)
    }
}

/// Options for a new key (GENKEY / IMPORT). `Default` is: the algorithm's
/// default size, no TTL, every operation the algorithm supports, no limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// Key size in bits for GENKEY (0: the algorithm's default).
    pub bits: u32,
    /// Lifetime; the key expires after it.
    pub ttl: Option<Duration>,
    /// Operations the key may be used for (empty: all it supports).
    pub usage: Caps,
    /// Refuse caller-chosen nonces/IVs for this key.
    pub no_caller_nonce: bool,
    /// The key may leave the kernel, only encrypted under a wrapping key of
    /// the same vault ([`Vault::wrap`](crate::Vault::wrap)). Fixed at
    /// creation; without it the key never leaves in any form. A derived key
    /// may have it only if its parent has it, a key imported from the
    /// kernel keyring never (`EPERM`).
    pub wrappable: bool,
    /// Most operations (0: unlimited).
    pub max_uses: u64,
    /// Most input bytes (0: unlimited).
    pub max_bytes: u64,
    /// What keys derived from this one (DERIVE, KEYEXCHANGE) may be; fixed
    /// now, only narrowed by its children. Default: unrestricted.
    pub children: ChildPolicy,
}

/// What keys derived from a key may be (the ABI's `kv_child_policy`): a
/// child asking for another algorithm, a wider usage or larger limits is
/// refused with `EPERM`; a child asking for none gets the most allowed.
/// Empty sets and zero caps mean "no restriction".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChildPolicy {
    /// Algorithms a child may have (empty: any symmetric one).
    pub algorithms: Vec<Algorithm>,
    /// Operations a child may be used for at most (empty: any).
    pub usage: Caps,
    /// Most operations a child may allow (0: no cap).
    pub max_uses: u32,
    /// Most input bytes a child may allow (0: no cap).
    pub max_bytes: u32,
}

impl ChildPolicy {
    pub(crate) fn to_raw(&self) -> abi::KvChildPolicy {
        abi::KvChildPolicy {
            algorithms: self
                .algorithms
                .iter()
                .fold(0, |m, a| m | 1u32.checked_shl(a.to_raw()).unwrap_or(0)),
            usage: self.usage.bits(),
            max_uses: self.max_uses,
            max_bytes: self.max_bytes,
        }
    }

    pub(crate) fn from_raw(r: &abi::KvChildPolicy) -> Self {
        ChildPolicy {
            algorithms: Algorithm::ALL
                .iter()
                .copied()
                .filter(|a| r.algorithms & 1u32.checked_shl(a.to_raw()).unwrap_or(0) != 0)
                .collect(),
            usage: Caps::from_bits_truncate(r.usage),
            max_uses: r.max_uses,
            max_bytes: r.max_bytes,
        }
    }
}

impl KeyOptions {
    pub(crate) fn ttl_ms(&self) -> u64 {
        self.ttl.map_or(0, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        })
    }

    pub(crate) fn policy(&self) -> abi::KvPolicy {
        abi::KvPolicy {
            usage: self.usage.bits(),
            flags: flag(self.no_caller_nonce, abi::KV_POLICY_NO_CALLER_NONCE)
                | flag(self.wrappable, abi::KV_POLICY_WRAPPABLE),
            max_uses: self.max_uses,
            max_bytes: self.max_bytes,
        }
    }
}

fn flag(on: bool, bit: u32) -> u32 {
    if on {
        bit
    } else {
        0
    }
}

/// A key's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Active,
    /// Revoked (permanent).
    Revoked,
    /// Past its TTL.
    Expired,
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Expired => "expired",
        })
    }
}

/// What GETINFO tells about a key (never its material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key.
    pub id: KeyId,
    /// Its algorithm (None: one this library does not know).
    pub algorithm: Option<Algorithm>,
    /// Raw algorithm value.
    pub algorithm_raw: u32,
    /// Size in bits.
    pub bits: u32,
    /// State now.
    pub state: KeyState,
    /// Creation (wall clock).
    pub created: SystemTime,
    /// Expiry (wall clock), if it has a TTL.
    pub expires: Option<SystemTime>,
    /// Operations allowed.
    pub usage: Caps,
    /// Kernel nonces only.
    pub no_caller_nonce: bool,
    /// May leave the kernel as a wrapped blob.
    pub wrappable: bool,
    /// Most operations (0: unlimited).
    pub max_uses: u64,
    /// Most input bytes (0: unlimited).
    pub max_bytes: u64,
    /// Operations so far.
    pub uses: u64,
    /// Input bytes so far.
    pub bytes: u64,
    /// What keys derived from it may be.
    pub children: ChildPolicy,
}

impl KeyInfo {
    pub(crate) fn from_raw(r: &abi::KvKeyinfo) -> Self {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        KeyInfo {
            id: KeyId(r.key_id),
            algorithm: Algorithm::from_raw(r.algorithm),
            algorithm_raw: r.algorithm,
            bits: r.key_bits,
            state: match r.state {
                abi::KV_STATE_REVOKED => KeyState::Revoked,
                abi::KV_STATE_EXPIRED => KeyState::Expired,
                _ => KeyState::Active,
            },
            created: at(r.created_ms),
            expires: (r.expires_ms != 0).then(|| at(r.expires_ms)),
            usage: Caps::from_bits_truncate(r.policy.usage),
            no_caller_nonce: r.policy.flags & abi::KV_POLICY_NO_CALLER_NONCE != 0,
            wrappable: r.policy.flags & abi::KV_POLICY_WRAPPABLE != 0,
            max_uses: r.policy.max_uses,
            max_bytes: r.policy.max_bytes,
            uses: r.uses,
            bytes: r.bytes,
            children: ChildPolicy::from_raw(&r.child),
        }
    }
}

/// One page of LIST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    /// Ids after the cursor, ascending.
    pub ids: Vec<KeyId>,
    /// Keys in the vault.
    pub total: u64,
}
