// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The keyvault ioctl ABI: the Rust twin of `uapi/keyvault.h`.
//!
//! This file is compiled twice: as the `keyvault-uapi` crate for userspace and
//! into the kernel module (`#[path]` include), so the module and Rust callers
//! cannot disagree. `tests/c_header_agrees.rs` proves the C header identical.
//! Plain data and constants only: no logic, no dependencies beyond `core`.

/// Path of the misc device node.
pub const KV_DEVICE_PATH: &str = "/dev/keyvault";
/// The ioctl type byte (free in Documentation/userspace-api/ioctl/ioctl-number.rst).
pub const KV_IOC_MAGIC: u32 = 0xB9;

/// AES-128 in GCM mode (AEAD).
pub const KV_ALG_AES128_GCM: u32 = 1;
/// AES-256 in GCM mode (AEAD).
pub const KV_ALG_AES256_GCM: u32 = 2;
/// ChaCha20-Poly1305, RFC 8439 (AEAD).
pub const KV_ALG_CHACHA20_POLY1305: u32 = 3;
/// AES-128 in CBC mode.
pub const KV_ALG_AES128_CBC: u32 = 4;
/// AES-256 in CBC mode.
pub const KV_ALG_AES256_CBC: u32 = 5;
/// HMAC with SHA-256.
pub const KV_ALG_HMAC_SHA256: u32 = 6;
/// HMAC with SHA-512.
pub const KV_ALG_HMAC_SHA512: u32 = 7;
/// Ed25519 signatures, RFC 8032.
pub const KV_ALG_ED25519: u32 = 8;
/// X25519 key exchange, RFC 7748.
pub const KV_ALG_X25519: u32 = 9;

/// Hash function SHA-256.
pub const KV_HASH_SHA256: u32 = 1;
/// Hash function SHA-512.
pub const KV_HASH_SHA512: u32 = 2;

/// Ed25519 signature size.
pub const KV_ED25519_SIG_SIZE: u32 = 64;
/// Ed25519 and X25519 public key size.
pub const KV_PUBKEY_SIZE: u32 = 32;
/// AEAD nonce size (AES-GCM, ChaCha20-Poly1305 per RFC 8439).
pub const KV_AEAD_NONCE_SIZE: u32 = 12;
/// AEAD tag size.
pub const KV_AEAD_TAG_SIZE: u32 = 16;
/// AES-CBC IV size.
pub const KV_CBC_IV_SIZE: u32 = 16;
/// Largest digest or MAC (SHA-512).
pub const KV_MAX_DIGEST_SIZE: u32 = 64;
/// Shortest (truncated) MAC that VERIFY_MAC accepts.
pub const KV_MIN_MAC_VERIFY_SIZE: u32 = 16;

/// AEAD flag: the kernel makes the nonce (never repeating for the key) and writes it out.
pub const KV_AEAD_GEN_NONCE: u32 = 1 << 0;
/// Every AEAD flag.
pub const KV_AEAD_FLAGS_ALL: u32 = 0x1;
/// CBC flag: the kernel makes a random IV and writes it out.
pub const KV_CBC_GEN_IV: u32 = 1 << 0;
/// CBC flag: no PKCS#7 padding; the data must be whole blocks.
pub const KV_CBC_NO_PADDING: u32 = 1 << 1;
/// Every CBC flag.
pub const KV_CBC_FLAGS_ALL: u32 = 0x3;

/// Capability: generate keys.
pub const KV_CAP_GENKEY: u32 = 1 << 0;
/// Capability: destroy keys.
pub const KV_CAP_DESTROY: u32 = 1 << 1;
/// Capability: revoke keys.
pub const KV_CAP_REVOKE: u32 = 1 << 2;
/// Capability: encrypt.
pub const KV_CAP_ENCRYPT: u32 = 1 << 3;
/// Capability: decrypt.
pub const KV_CAP_DECRYPT: u32 = 1 << 4;
/// Capability: sign.
pub const KV_CAP_SIGN: u32 = 1 << 5;
/// Capability: verify signatures.
pub const KV_CAP_VERIFY: u32 = 1 << 6;
/// Capability: compute and verify MACs.
pub const KV_CAP_MAC: u32 = 1 << 7;
/// Capability: hash (no key).
pub const KV_CAP_HASH: u32 = 1 << 8;
/// Capability: query key information and public keys.
pub const KV_CAP_GETINFO: u32 = 1 << 9;
/// Capability: list key ids.
pub const KV_CAP_LIST: u32 = 1 << 10;
/// Capability: restrict this handle's capabilities further.
pub const KV_CAP_RESTRICT: u32 = 1 << 11;
/// Capability: derive keys (HKDF).
pub const KV_CAP_DERIVE: u32 = 1 << 12;
/// Capability: key exchange (X25519).
pub const KV_CAP_EXCHANGE: u32 = 1 << 13;
/// Capability: import keys (raw bytes, or from the kernel keyring).
pub const KV_CAP_IMPORT: u32 = 1 << 14;
/// Capability: export a wrappable key encrypted under a wrapping key (WRAP).
pub const KV_CAP_WRAP: u32 = 1 << 15;
/// Capability: turn a wrapped blob back into a key (UNWRAP).
pub const KV_CAP_UNWRAP: u32 = 1 << 16;
/// Every capability: what a fresh open gets.
pub const KV_CAP_ALL: u32 = 0x1FFFF;
/// Use keys, but never create, destroy, revoke or restrict.
pub const KV_CAP_READONLY: u32 = KV_CAP_ENCRYPT
    | KV_CAP_DECRYPT
    | KV_CAP_SIGN
    | KV_CAP_VERIFY
    | KV_CAP_MAC
    | KV_CAP_HASH
    | KV_CAP_GETINFO
    | KV_CAP_LIST;

/// Every operation a key's usage policy can allow (as `KV_CAP_*` bits).
pub const KV_USAGE_ALL: u32 = KV_CAP_ENCRYPT
    | KV_CAP_DECRYPT
    | KV_CAP_SIGN
    | KV_CAP_VERIFY
    | KV_CAP_MAC
    | KV_CAP_DERIVE
    | KV_CAP_EXCHANGE
    | KV_CAP_WRAP
    | KV_CAP_UNWRAP;
/// The usage of a wrapping key: these bits and no others (an AES-256-GCM
/// key that wraps cannot also encrypt, so AEAD_DECRYPT can never open a blob).
pub const KV_USAGE_WRAPPING: u32 = KV_CAP_WRAP | KV_CAP_UNWRAP;

/// Policy flag: refuse caller-chosen AEAD nonces and CBC IVs for this key
/// (and, inherited, for every key derived from it).
pub const KV_POLICY_NO_CALLER_NONCE: u32 = 1 << 0;
/// Policy flag: the key may leave the kernel, only encrypted under a wrapping
/// key (WRAP). Off by default; a key derived from a key without it cannot
/// have it, nor can a key imported from the kernel keyring.
pub const KV_POLICY_WRAPPABLE: u32 = 1 << 1;
/// Every defined policy flag.
pub const KV_POLICY_FLAGS_ALL: u32 = 0x3;

/// Wrapped-key format: keyvault's own blob (header authenticated with the
/// key by AES-256-GCM; restores algorithm and policy). See [`KvWrap`].
pub const KV_WRAP_NATIVE: u32 = 0;
/// Wrapped-key format: RFC 5649 AES Key Wrap with Padding (the material only;
/// UNWRAP takes algorithm and policy from the request).
pub const KV_WRAP_RFC5649: u32 = 1;
/// Native blob: the format version this ABI defines.
pub const KV_WRAP_VERSION: u32 = 1;
/// Native blob: header length (authenticated as AES-GCM's AAD).
pub const KV_WRAP_HEADER_SIZE: u32 = 64;
/// Native blob: header, nonce and tag, around the key material.
pub const KV_WRAP_OVERHEAD: u32 = KV_WRAP_HEADER_SIZE + KV_AEAD_NONCE_SIZE + KV_AEAD_TAG_SIZE;
/// Longest blob UNWRAP reads (longer: `EINVAL`); a blob of any valid key is shorter.
pub const KV_WRAP_MAX_BLOB: u32 = 4096;

/// The key can be used.
pub const KV_STATE_ACTIVE: u32 = 1;
/// The key was revoked and can no longer be used.
pub const KV_STATE_REVOKED: u32 = 2;
/// The key's lifetime ended and it can no longer be used.
pub const KV_STATE_EXPIRED: u32 = 3;

/// Largest key material in bytes (HMAC-SHA512 with a 1024-bit key).
pub const KV_MAX_KEY_BYTES: u32 = 128;
/// Most ids one LIST call returns.
pub const KV_LIST_MAX: u32 = 1024;
/// Longest HKDF salt or info.
pub const KV_KDF_MAX_INPUT: u32 = 1024;
/// Most generations of derived keys.
pub const KV_MAX_LINEAGE: u32 = 8;
/// Most keys a restricted handle may be limited to.
pub const KV_DUP_MAX_KEYS: u32 = 1024;
/// Every algorithm a derived key may have, as `KvChildPolicy::algorithms`
/// bits (`1 << KV_ALG_*`): the symmetric ones.
pub const KV_CHILD_ALGS_ALL: u32 = 0xFE;

/// A key's creation policy: only shrinks, never grows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvPolicy {
    /// `KV_CAP_*` operation bits, a subset of [`KV_USAGE_ALL`]; 0 = all.
    pub usage: u32,
    /// `KV_POLICY_*` flags.
    pub flags: u32,
    /// Operations allowed, 0 = unlimited.
    pub max_uses: u64,
    /// Input bytes allowed, 0 = unlimited.
    pub max_bytes: u64,
}

/// What the keys derived from a key (DERIVE, KEYEXCHANGE) may be: fixed when
/// the key is created, inherited by its children (who may only narrow it for
/// their own), so whoever can derive cannot make a twin of a derived key with
/// a wider policy. All zero: no restriction beyond the inherited flags.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvChildPolicy {
    /// Algorithms a child may have, as `1 << KV_ALG_*` bits (a subset of
    /// [`KV_CHILD_ALGS_ALL`]); 0 = any.
    pub algorithms: u32,
    /// Usage (`KV_CAP_*` bits) a child may have at most; 0 = any.
    pub usage: u32,
    /// Most operations a child may allow (its `max_uses`); 0 = no cap.
    pub max_uses: u32,
    /// Most input bytes a child may allow (its `max_bytes`); 0 = no cap.
    pub max_bytes: u32,
}

/// `KV_IOC_GETCAPS` (out) and `KV_IOC_RESTRICT` (in: bits to keep; out: caps now).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvCaps {
    /// `KV_CAP_*` bits.
    pub caps: u32,
    /// Must be 0.
    pub reserved: u32,
}

/// `KV_IOC_LIMITS` (out): the limits that apply to this handle's vault
/// (the module's parameters, fixed when it was loaded) and what is used of
/// them now, so a caller can tell which quota an `EDQUOT` is about. The
/// usage is a snapshot: other handles on the vault and other vaults of the
/// same owner change it at any time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvLimits {
    /// Most input bytes of one operation (`max_data_bytes`; more: `EMSGSIZE`).
    pub max_data_bytes: u64,
    /// Most keys one vault may hold (`max_keys_per_vault`; more: `EDQUOT`).
    pub max_keys_per_vault: u64,
    /// Most key material bytes one vault may hold (`max_key_bytes_per_vault`).
    pub max_key_bytes_per_vault: u64,
    /// Most keys one user may hold across all their vaults (`max_keys_per_user`).
    pub max_keys_per_user: u64,
    /// Most key material bytes one user may hold across all their vaults
    /// (`max_key_bytes_per_user`).
    pub max_key_bytes_per_user: u64,
    /// Keys in this vault now (every key, also those a key-limited handle
    /// does not see: the quota counts them all).
    pub vault_keys: u64,
    /// Key material bytes in this vault now.
    pub vault_key_bytes: u64,
    /// Keys charged to the vault's owner (the effective uid that opened the
    /// vault, whoever made the keys), across all of the owner's vaults. A
    /// destroyed key still counts until an operation in flight on it ends.
    pub user_keys: u64,
    /// Key material bytes charged to the vault's owner.
    pub user_key_bytes: u64,
    /// Out: 0 (room for more limits).
    pub reserved: [u64; 4],
}

/// `KV_IOC_DUP`: a new fd on the same vault with fewer capabilities and,
/// optionally, fewer keys.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvDup {
    /// In: wanted capabilities; out: granted (`caps & current`).
    pub caps: u32,
    /// In: 0 = all keys, else the number of ids at `keys_ptr`.
    pub nkeys: u32,
    /// In: user pointer to `u64` key ids.
    pub keys_ptr: u64,
    /// Out: the new fd.
    pub fd: i32,
    /// Must be 0.
    pub flags: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_GENKEY`: make a random key in the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvGenkey {
    /// In: `KV_ALG_*`.
    pub algorithm: u32,
    /// In: 0 = the algorithm's default; out: the key's size.
    pub key_bits: u32,
    /// In: lifetime in milliseconds, 0 = none.
    pub ttl_ms: u64,
    /// In: the key's policy.
    pub policy: KvPolicy,
    /// Out: the new key's id.
    pub key_id: u64,
    /// In: what keys derived from it may be.
    pub child: KvChildPolicy,
}

/// `KV_IOC_IMPORT`: import raw key material.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvImport {
    /// In: `KV_ALG_*`.
    pub algorithm: u32,
    /// In: bytes at `key_ptr`.
    pub key_len: u32,
    /// In: user pointer to the key bytes.
    pub key_ptr: u64,
    /// In: lifetime in milliseconds, 0 = none.
    pub ttl_ms: u64,
    /// In: the key's policy.
    pub policy: KvPolicy,
    /// Out: the new key's id.
    pub key_id: u64,
    /// In: what keys derived from it may be.
    pub child: KvChildPolicy,
}

/// `KV_IOC_DESTROY`, `KV_IOC_REVOKE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvKeyref {
    /// The key.
    pub key_id: u64,
    /// Must be 0.
    pub reserved: u64,
}

/// `KV_IOC_GETINFO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvKeyinfo {
    /// In: the key.
    pub key_id: u64,
    /// Out: `KV_ALG_*`.
    pub algorithm: u32,
    /// Out: key size in bits.
    pub key_bits: u32,
    /// Out: `KV_STATE_*`, expiry evaluated at the time of the call.
    pub state: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Out: creation time, wall clock, ms since the Unix epoch.
    pub created_ms: u64,
    /// Out: expiry time, wall clock, ms since the Unix epoch, 0 = never.
    pub expires_ms: u64,
    /// Out: the key's policy, with `usage` made explicit.
    pub policy: KvPolicy,
    /// Out: operations performed so far.
    pub uses: u64,
    /// Out: input bytes processed so far.
    pub bytes: u64,
    /// Out: what keys derived from it may be.
    pub child: KvChildPolicy,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_LIST`: ids in ascending order after `cursor`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvList {
    /// In: user pointer to `u64[max_ids]`.
    pub ids_ptr: u64,
    /// In: capacity of the array.
    pub max_ids: u32,
    /// Out: ids written.
    pub count: u32,
    /// In: list ids greater than this (0 = from the first).
    pub cursor: u64,
    /// Out: keys in the vault.
    pub total: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_AEAD_ENCRYPT` / `KV_IOC_AEAD_DECRYPT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvAead {
    /// The key.
    pub key_id: u64,
    /// Plaintext (encrypt) or ciphertext (decrypt).
    pub in_ptr: u64,
    /// Ciphertext (encrypt) or plaintext (decrypt); may equal `in_ptr`.
    pub out_ptr: u64,
    /// Additional authenticated data.
    pub aad_ptr: u64,
    /// `KV_AEAD_NONCE_SIZE` bytes: in, or out with `KV_AEAD_GEN_NONCE`.
    pub nonce_ptr: u64,
    /// `KV_AEAD_TAG_SIZE` bytes: out (encrypt), in (decrypt).
    pub tag_ptr: u64,
    /// Input length.
    pub in_len: u32,
    /// In: capacity at `out_ptr`; out: bytes written (or needed, with `ENOSPC`).
    pub out_len: u32,
    /// AAD length.
    pub aad_len: u32,
    /// `KV_AEAD_*`.
    pub flags: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_CBC_ENCRYPT` / `KV_IOC_CBC_DECRYPT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvCbc {
    /// The key.
    pub key_id: u64,
    /// Input.
    pub in_ptr: u64,
    /// Output; may equal `in_ptr`.
    pub out_ptr: u64,
    /// `KV_CBC_IV_SIZE` bytes: in, or out with `KV_CBC_GEN_IV`.
    pub iv_ptr: u64,
    /// Input length.
    pub in_len: u32,
    /// In: capacity at `out_ptr`; out: bytes written (or needed, with `ENOSPC`).
    pub out_len: u32,
    /// `KV_CBC_*`.
    pub flags: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_MAC` / `KV_IOC_VERIFY_MAC`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvMac {
    /// The key.
    pub key_id: u64,
    /// Data.
    pub data_ptr: u64,
    /// MAC: out (MAC), in (VERIFY_MAC).
    pub mac_ptr: u64,
    /// Data length.
    pub data_len: u32,
    /// MAC: capacity in, length out; VERIFY_MAC: length of the MAC to compare.
    pub mac_len: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_HASH`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvHash {
    /// `KV_HASH_*`.
    pub algorithm: u32,
    /// Data length.
    pub data_len: u32,
    /// Data.
    pub data_ptr: u64,
    /// Digest out.
    pub digest_ptr: u64,
    /// In: capacity; out: digest length (or needed, with `ENOSPC`).
    pub digest_len: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_SIGN`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvSign {
    /// The Ed25519 key.
    pub key_id: u64,
    /// Message.
    pub data_ptr: u64,
    /// Signature out.
    pub sig_ptr: u64,
    /// Message length.
    pub data_len: u32,
    /// In: capacity; out: 64 (or needed, with `ENOSPC`).
    pub sig_len: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_VERIFY`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvVerify {
    /// A vault Ed25519 key, or 0 to use `pubkey_ptr`.
    pub key_id: u64,
    /// 32-byte public key when `key_id` is 0; else must be 0.
    pub pubkey_ptr: u64,
    /// Message.
    pub data_ptr: u64,
    /// 64-byte signature.
    pub sig_ptr: u64,
    /// Message length.
    pub data_len: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_GET_PUBKEY`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvPubkey {
    /// An Ed25519 or X25519 key.
    pub key_id: u64,
    /// Public key out.
    pub pubkey_ptr: u64,
    /// In: capacity; out: 32 (or needed, with `ENOSPC`).
    pub pubkey_len: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// How DERIVE and KEYEXCHANGE make their new key (HKDF).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvKdf {
    /// `KV_HASH_*`.
    pub hash: u32,
    /// `KV_ALG_*` of the new key (symmetric).
    pub algorithm: u32,
    /// In: 0 = default; out: the new key's size.
    pub key_bits: u32,
    /// Salt length (at most `KV_KDF_MAX_INPUT`).
    pub salt_len: u32,
    /// Salt.
    pub salt_ptr: u64,
    /// Info.
    pub info_ptr: u64,
    /// Info length (at most `KV_KDF_MAX_INPUT`).
    pub info_len: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// The new key's lifetime in ms, 0 = the parent's.
    pub ttl_ms: u64,
    /// The new key's policy.
    pub policy: KvPolicy,
}

/// `KV_IOC_DERIVE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvDerive {
    /// The input key (usage DERIVE).
    pub key_id: u64,
    /// The new key.
    pub kdf: KvKdf,
    /// Out: the new key's id.
    pub new_key_id: u64,
    /// In: what keys derived from the new key may be, within what its
    /// parent allows.
    pub child: KvChildPolicy,
}

/// `KV_IOC_KEYEXCHANGE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvExchange {
    /// Our X25519 key.
    pub key_id: u64,
    /// The peer's 32-byte public key.
    pub peer_ptr: u64,
    /// The new key.
    pub kdf: KvKdf,
    /// Out: the new key's id.
    pub new_key_id: u64,
    /// In: what keys derived from the new key may be, within what its
    /// parent allows.
    pub child: KvChildPolicy,
}

/// `KV_IOC_IMPORT_KEYRING`: a new key from the payload of a kernel keyring
/// key (types `logon`, `user`, `encrypted`, `trusted`), looked up with the
/// caller's credentials (search permission); the bytes never pass through
/// userspace.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvImportKeyring {
    /// In: `KV_ALG_*`; the payload must be one of its key sizes.
    pub algorithm: u32,
    /// In: the keyring key's serial (`key_serial_t`).
    pub serial: i32,
    /// In: lifetime in milliseconds, 0 = none.
    pub ttl_ms: u64,
    /// In: the key's policy (never `KV_POLICY_WRAPPABLE`).
    pub policy: KvPolicy,
    /// Out: the new key's id.
    pub key_id: u64,
    /// In: what keys derived from it may be.
    pub child: KvChildPolicy,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_WRAP`: key `key_id` (policy `KV_POLICY_WRAPPABLE`) encrypted
/// under the wrapping key `wrapping_key_id` (AES-256-GCM, usage
/// `KV_CAP_WRAP`), as a blob of `format`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvWrap {
    /// In: the wrapping key.
    pub wrapping_key_id: u64,
    /// In: the key to export.
    pub key_id: u64,
    /// In: where the blob goes.
    pub blob_ptr: u64,
    /// In: capacity at `blob_ptr`; out: the blob's length (or the length
    /// needed, with `ENOSPC`).
    pub blob_len: u32,
    /// In: `KV_WRAP_*`.
    pub format: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

/// `KV_IOC_UNWRAP`: a new key from a blob, under the wrapping key
/// `wrapping_key_id` (usage `KV_CAP_UNWRAP`). A native blob restores its
/// algorithm, policy, child policy and expiry: `algorithm`, `ttl_ms`,
/// `policy` and `child` must then be 0. An RFC 5649 blob holds only the
/// material: they say what the key is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvUnwrap {
    /// In: the wrapping key.
    pub wrapping_key_id: u64,
    /// In: the blob.
    pub blob_ptr: u64,
    /// In: the blob's length (at most `KV_WRAP_MAX_BLOB`).
    pub blob_len: u32,
    /// In: `KV_WRAP_*`.
    pub format: u32,
    /// In (RFC 5649): `KV_ALG_*` of the new key.
    pub algorithm: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// In (RFC 5649): lifetime in milliseconds, 0 = none.
    pub ttl_ms: u64,
    /// In (RFC 5649): the new key's policy.
    pub policy: KvPolicy,
    /// In (RFC 5649): what keys derived from it may be.
    pub child: KvChildPolicy,
    /// Out: the new key's id.
    pub new_key_id: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

// The encoding of include/uapi/asm-generic/ioctl.h (x86, arm64, riscv...),
// under the names the kernel's `kernel::ioctl` uses, so the list below reads
// the same in both (the module asserts that both encodings agree).
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}
#[allow(non_snake_case)]
const fn _IOR<T>(ty: u32, nr: u32) -> u32 {
    ioc(IOC_READ, ty, nr, core::mem::size_of::<T>())
}
#[allow(non_snake_case)]
const fn _IOW<T>(ty: u32, nr: u32) -> u32 {
    ioc(IOC_WRITE, ty, nr, core::mem::size_of::<T>())
}
#[allow(non_snake_case)]
const fn _IOWR<T>(ty: u32, nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, core::mem::size_of::<T>())
}

/// The ioctls, one line each: name = direction(number, request struct),
/// the handle capability it needs (0: none). The only list of them: it is
/// handed to `$m`, which generates from it the `KV_IOC_*` numbers and
/// [`KV_IOCTLS`] (here), the module's check of every number against
/// `kernel::ioctl`, and, through [`KV_IOCTLS`], the C header's agreement
/// test and the tests and the fuzzer that go through every ioctl. The shape
/// of DRM's `declare_drm_ioctls!`, without the handler: the module's
/// `route()` adds that column. A new ioctl is one line here.
#[macro_export]
macro_rules! kv_ioctl_list {
    ($m:ident) => {
        $m! {
            /// Read this handle's capabilities. Needs no capability.
            KV_IOC_GETCAPS = _IOR(0x01, KvCaps), 0;
            /// Clear capabilities of this handle (keeps `caps & current`).
            KV_IOC_RESTRICT = _IOWR(0x02, KvCaps), KV_CAP_RESTRICT;
            /// A restricted new fd on the same vault.
            KV_IOC_DUP = _IOWR(0x03, KvDup), KV_CAP_RESTRICT;
            /// The module's limits and this vault's and its owner's use of
            /// them. Needs no capability.
            KV_IOC_LIMITS = _IOR(0x04, KvLimits), 0;
            /// Generate a key.
            KV_IOC_GENKEY = _IOWR(0x10, KvGenkey), KV_CAP_GENKEY;
            /// Import a key.
            KV_IOC_IMPORT = _IOWR(0x11, KvImport), KV_CAP_IMPORT;
            /// Destroy a key.
            KV_IOC_DESTROY = _IOW(0x12, KvKeyref), KV_CAP_DESTROY;
            /// Revoke a key (permanent).
            KV_IOC_REVOKE = _IOW(0x13, KvKeyref), KV_CAP_REVOKE;
            /// Describe a key.
            KV_IOC_GETINFO = _IOWR(0x14, KvKeyinfo), KV_CAP_GETINFO;
            /// List key ids.
            KV_IOC_LIST = _IOWR(0x15, KvList), KV_CAP_LIST;
            /// Import a kernel keyring key's payload.
            KV_IOC_IMPORT_KEYRING = _IOWR(0x16, KvImportKeyring), KV_CAP_IMPORT;
            /// AEAD encrypt.
            KV_IOC_AEAD_ENCRYPT = _IOWR(0x20, KvAead), KV_CAP_ENCRYPT;
            /// AEAD decrypt.
            KV_IOC_AEAD_DECRYPT = _IOWR(0x21, KvAead), KV_CAP_DECRYPT;
            /// AES-CBC encrypt.
            KV_IOC_CBC_ENCRYPT = _IOWR(0x22, KvCbc), KV_CAP_ENCRYPT;
            /// AES-CBC decrypt.
            KV_IOC_CBC_DECRYPT = _IOWR(0x23, KvCbc), KV_CAP_DECRYPT;
            /// HMAC.
            KV_IOC_MAC = _IOWR(0x24, KvMac), KV_CAP_MAC;
            /// HMAC verify (constant time).
            KV_IOC_VERIFY_MAC = _IOW(0x25, KvMac), KV_CAP_MAC;
            /// Hash (no key).
            KV_IOC_HASH = _IOWR(0x26, KvHash), KV_CAP_HASH;
            /// Ed25519 sign.
            KV_IOC_SIGN = _IOWR(0x30, KvSign), KV_CAP_SIGN;
            /// Ed25519 verify.
            KV_IOC_VERIFY = _IOW(0x31, KvVerify), KV_CAP_VERIFY;
            /// Public half of an Ed25519 or X25519 key.
            KV_IOC_GET_PUBKEY = _IOWR(0x32, KvPubkey), KV_CAP_GETINFO;
            /// HKDF into a new key.
            KV_IOC_DERIVE = _IOWR(0x33, KvDerive), KV_CAP_DERIVE;
            /// X25519 + HKDF into a new key.
            KV_IOC_KEYEXCHANGE = _IOWR(0x34, KvExchange), KV_CAP_EXCHANGE;
            /// Export a wrappable key, encrypted under a wrapping key.
            KV_IOC_WRAP = _IOWR(0x40, KvWrap), KV_CAP_WRAP;
            /// A new key from a wrapped blob.
            KV_IOC_UNWRAP = _IOWR(0x41, KvUnwrap), KV_CAP_UNWRAP;
        }
    };
}

/// One ioctl as [`kv_ioctl_list!`] declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvIoctl {
    /// Its C name, e.g. `"KV_IOC_GENKEY"`.
    pub name: &'static str,
    /// The command number (direction, size, type byte, number).
    pub cmd: u32,
    /// Its request struct's Rust name, e.g. `"KvGenkey"` (C: `struct kv_genkey`).
    pub request: &'static str,
    /// The `KV_CAP_*` bit a handle needs for it; 0: none.
    pub cap: u32,
}

impl KvIoctl {
    /// The ioctl number within the type (`_IOC_NR`).
    pub const fn nr(&self) -> u32 {
        self.cmd & 0xff
    }

    /// The request struct's size (`_IOC_SIZE`).
    pub const fn size(&self) -> usize {
        ((self.cmd >> 16) & 0x3fff) as usize
    }

    /// Whether the kernel reads the request (`_IOC_WRITE`).
    pub const fn reads_request(&self) -> bool {
        (self.cmd >> 30) & IOC_WRITE != 0
    }

    /// Whether the kernel writes the request back (`_IOC_READ`).
    pub const fn writes_request(&self) -> bool {
        (self.cmd >> 30) & IOC_READ != 0
    }
}

/// Where `cmd` stands in [`KV_IOCTLS`] (evaluated at compile time).
const fn position(cmd: u32) -> usize {
    let mut i = 0;
    while KV_IOCTLS[i].cmd != cmd {
        i += 1;
    }
    i
}

macro_rules! declare_ioctls {
    ($($(#[$doc:meta])* $name:ident = $dir:ident($nr:literal, $req:ty), $cap:expr;)*) => {
        $(
            $(#[$doc])*
            pub const $name: u32 = $dir::<$req>(KV_IOC_MAGIC, $nr);
        )*
        /// Every ioctl, in number order.
        pub const KV_IOCTLS: &[KvIoctl] = &[$(KvIoctl {
            name: stringify!($name),
            cmd: $name,
            request: stringify!($req),
            cap: $cap,
        }),*];

        impl KvIoctl {
            /// The ioctl with command number `cmd`, if there is one: a
            /// `match` (the module looks up every ioctl it is given).
            pub const fn find(cmd: u32) -> Option<&'static KvIoctl> {
                match cmd {
                    $($name => Some(&KV_IOCTLS[const { position($name) }]),)*
                    _ => None,
                }
            }
        }
    };
}
kv_ioctl_list!(declare_ioctls);
