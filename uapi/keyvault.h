/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * keyvault.h - userspace ABI of /dev/keyvault.
 *
 * Keys live in kernel memory; userspace holds an open file (a vault) and
 * opaque 64-bit key ids. Every request struct has only fixed-width fields,
 * user pointers as __u64, no implicit padding, and reserved fields that must
 * be zero (EINVAL otherwise), so the layout is the same for 32- and 64-bit
 * callers and the ABI can grow.
 *
 * This header and uapi/src/abi.rs (the Rust definitions, also compiled into
 * the module) are proven identical by `cargo test -p keyvault-uapi`.
 */
#ifndef _UAPI_LINUX_KEYVAULT_H
#define _UAPI_LINUX_KEYVAULT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KV_DEVICE_PATH		"/dev/keyvault"
#define KV_IOC_MAGIC		0xB9

/* Algorithms (key types). */
#define KV_ALG_AES128_GCM		1
#define KV_ALG_AES256_GCM		2
#define KV_ALG_CHACHA20_POLY1305	3
#define KV_ALG_AES128_CBC		4
#define KV_ALG_AES256_CBC		5
#define KV_ALG_HMAC_SHA256		6
#define KV_ALG_HMAC_SHA512		7
#define KV_ALG_ED25519			8
#define KV_ALG_X25519			9

/* Hash functions (KV_IOC_HASH). */
#define KV_HASH_SHA256		1
#define KV_HASH_SHA512		2

/* Sizes fixed by the algorithms. */
#define KV_ED25519_SIG_SIZE	64
#define KV_PUBKEY_SIZE		32	/* Ed25519 and X25519 public keys */
#define KV_AEAD_NONCE_SIZE	12	/* AES-GCM and ChaCha20-Poly1305 (RFC 8439) nonces */
#define KV_AEAD_TAG_SIZE	16
#define KV_CBC_IV_SIZE		16
#define KV_MAX_DIGEST_SIZE	64	/* SHA-512, HMAC-SHA512 */
#define KV_MIN_MAC_VERIFY_SIZE	16	/* shortest (truncated) MAC VERIFY_MAC accepts */

/* kv_aead.flags */
#define KV_AEAD_GEN_NONCE	(1U << 0) /* encrypt: the kernel makes a never-repeating nonce and writes it to nonce_ptr */
#define KV_AEAD_FLAGS_ALL	0x1U

/* kv_cbc.flags */
#define KV_CBC_GEN_IV		(1U << 0) /* encrypt: the kernel makes a random IV and writes it to iv_ptr */
#define KV_CBC_NO_PADDING	(1U << 1) /* no PKCS#7: the data must be a multiple of 16 bytes */
#define KV_CBC_FLAGS_ALL	0x3U

/* Capabilities of a vault handle: a fresh open has KV_CAP_ALL; RESTRICT only clears bits. */
#define KV_CAP_GENKEY		(1U << 0)
#define KV_CAP_DESTROY		(1U << 1)
#define KV_CAP_REVOKE		(1U << 2)
#define KV_CAP_ENCRYPT		(1U << 3)
#define KV_CAP_DECRYPT		(1U << 4)
#define KV_CAP_SIGN		(1U << 5)
#define KV_CAP_VERIFY		(1U << 6)
#define KV_CAP_MAC		(1U << 7)
#define KV_CAP_HASH		(1U << 8)
#define KV_CAP_GETINFO		(1U << 9)
#define KV_CAP_LIST		(1U << 10)
#define KV_CAP_RESTRICT		(1U << 11)
#define KV_CAP_DERIVE		(1U << 12)
#define KV_CAP_EXCHANGE		(1U << 13)
#define KV_CAP_IMPORT		(1U << 14) /* IMPORT and IMPORT_KEYRING */
#define KV_CAP_WRAP		(1U << 15)
#define KV_CAP_UNWRAP		(1U << 16)
#define KV_CAP_ALL		0x1FFFFU
#define KV_CAP_READONLY		(KV_CAP_ENCRYPT | KV_CAP_DECRYPT | KV_CAP_SIGN | \
				 KV_CAP_VERIFY | KV_CAP_MAC | KV_CAP_HASH | \
				 KV_CAP_GETINFO | KV_CAP_LIST)

/*
 * Per-key usage: the operations a key may ever be used for, as KV_CAP_* bits.
 * 0 at creation means every operation the algorithm supports.
 */
#define KV_USAGE_ALL		(KV_CAP_ENCRYPT | KV_CAP_DECRYPT | KV_CAP_SIGN | \
				 KV_CAP_VERIFY | KV_CAP_MAC | KV_CAP_DERIVE | \
				 KV_CAP_EXCHANGE | KV_CAP_WRAP | KV_CAP_UNWRAP)
/*
 * A wrapping key is an AES-256-GCM key whose usage is WRAP and/or UNWRAP and
 * nothing else (EINVAL otherwise), so no AEAD_DECRYPT can open its blobs;
 * usage 0 never includes them.
 */
#define KV_USAGE_WRAPPING	(KV_CAP_WRAP | KV_CAP_UNWRAP)

/* Per-key policy flags. */
#define KV_POLICY_NO_CALLER_NONCE	(1U << 0) /* only kernel-made AEAD nonces / CBC IVs; inherited by derived keys */
/*
 * The key may leave the kernel, only as a WRAP blob under a wrapping key of
 * the same vault. Off by default and fixed at creation: a key without it
 * never leaves in any form; a derived key may have it only if its parent has
 * it (EPERM), a key imported from the kernel keyring never (EPERM).
 */
#define KV_POLICY_WRAPPABLE		(1U << 1)
#define KV_POLICY_FLAGS_ALL		0x3U

/*
 * Wrapped-key formats (kv_wrap.format, kv_unwrap.format).
 *
 * KV_WRAP_NATIVE, version 1: KV_WRAP_OVERHEAD + key_len bytes, integers
 * little-endian:
 *   0  4  magic "KVWK"
 *   4  4  format version (1; another: UNWRAP fails with EINVAL)
 *   8  4  algorithm (KV_ALG_*)
 *  12  4  key_len: bytes of key material
 *  16  4  policy.usage
 *  20  4  policy.flags (KV_POLICY_WRAPPABLE always set)
 *  24  8  policy.max_uses
 *  32  8  policy.max_bytes
 *  40  8  expires_ms: the key's expiry, wall clock ms since the epoch, 0 = never
 *  48 16  child policy: algorithms, usage, max_uses, max_bytes (4 x u32)
 *  64 12  nonce: the wrapping key's kernel nonce (never repeats for it)
 *  76  n  AES-256-GCM ciphertext of the key material (n = key_len)
 *  76+n 16 tag; the AAD is bytes 0..63, the header.
 * UNWRAP restores algorithm, policy, child policy and expiry exactly (the
 * key lives until expires_ms; past it: EKEYEXPIRED, nothing created). Any
 * altered byte, a truncated or extended blob, or another wrapping key:
 * EBADMSG, nothing created. The blob reveals the header fields and nothing
 * else. (The limits max_uses/max_bytes count per key object: each UNWRAP of
 * one blob makes a new object with fresh counters.)
 *
 * KV_WRAP_RFC5649: AES Key Wrap with Padding (RFC 5649) of the material with
 * the wrapping key, as OpenSSL, PKCS#11 CKM_AES_KEY_WRAP_KWP and the cloud
 * KMSes make it: 8 * (ceil(key_len / 8) + 1) bytes. It carries no policy:
 * UNWRAP takes algorithm, policy, child policy and TTL from the request.
 */
#define KV_WRAP_NATIVE		0
#define KV_WRAP_RFC5649		1
#define KV_WRAP_VERSION		1
#define KV_WRAP_HEADER_SIZE	64
#define KV_WRAP_OVERHEAD	(KV_WRAP_HEADER_SIZE + KV_AEAD_NONCE_SIZE + KV_AEAD_TAG_SIZE)
#define KV_WRAP_MAX_BLOB	4096	/* longest blob UNWRAP reads (EINVAL beyond) */

/* Key states reported by GETINFO. */
#define KV_STATE_ACTIVE		1
#define KV_STATE_REVOKED	2
#define KV_STATE_EXPIRED	3

/* Limits fixed by the ABI (the module's quotas are module parameters). */
#define KV_MAX_KEY_BYTES	128	/* largest key material: HMAC-SHA512 1024 bits */
#define KV_LIST_MAX		1024	/* most ids one LIST call returns */
#define KV_KDF_MAX_INPUT	1024	/* longest HKDF salt or info */
#define KV_MAX_LINEAGE		8	/* most generations of derived keys */
#define KV_DUP_MAX_KEYS		1024	/* most keys a restricted handle may be limited to */
#define KV_CHILD_ALGS_ALL	0xFEU	/* kv_child_policy.algorithms: every symmetric (1U << KV_ALG_*) */

/* A key's creation policy: only shrinks, never grows. */
struct kv_policy {
	__u32 usage;		/* KV_CAP_* operation bits, subset of KV_USAGE_ALL; 0 = all */
	__u32 flags;		/* KV_POLICY_* */
	__u64 max_uses;		/* operations allowed, 0 = unlimited */
	__u64 max_bytes;	/* input bytes allowed, 0 = unlimited */
};

/*
 * What the keys derived from a key (DERIVE, KEYEXCHANGE) may be: fixed when
 * the key is created, inherited by its children (who may only narrow it for
 * their own), so whoever can derive cannot make a twin of a derived key with
 * a wider policy (EPERM). All zero: no restriction beyond the inherited flags.
 */
struct kv_child_policy {
	__u32 algorithms;	/* (1U << KV_ALG_*) bits, subset of KV_CHILD_ALGS_ALL; 0 = any */
	__u32 usage;		/* KV_CAP_* a child may have at most; 0 = any */
	__u32 max_uses;		/* most operations a child may allow; 0 = no cap */
	__u32 max_bytes;	/* most input bytes a child may allow; 0 = no cap */
};

/* KV_IOC_GETCAPS (out), KV_IOC_RESTRICT (in: bits to keep; out: the caps now). */
struct kv_caps {
	__u32 caps;
	__u32 reserved;		/* must be 0 */
};

/*
 * KV_IOC_DUP: a new fd (close-on-exec) on the same vault, with a new open
 * file description and so its own capabilities: `caps & current`, reported
 * back. With nkeys > 0 the new handle sees only those keys (others are
 * ENOENT and unlisted); such a handle cannot make keys, so its caps may not
 * include GENKEY, IMPORT, DERIVE or EXCHANGE (EINVAL). This handle keeps
 * its own capabilities.
 */
struct kv_dup {
	__u32 caps;		/* in: wanted; out: granted */
	__u32 nkeys;		/* in: 0 = all keys, else the count at keys_ptr */
	__u64 keys_ptr;		/* in: __u64 key ids */
	__s32 fd;		/* out: the new fd */
	__u32 flags;		/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_LIMITS (out; needs no capability): the limits that apply to this
 * handle's vault (the module parameters, fixed at load) and what is used of
 * them now, so a caller can tell which quota an EDQUOT is about. The usage
 * is a snapshot: other handles on the vault and other vaults of the same
 * owner change it at any time.
 */
struct kv_limits {
	__u64 max_data_bytes;		/* most input bytes of one operation (more: EMSGSIZE) */
	__u64 max_keys_per_vault;	/* most keys one vault may hold (more: EDQUOT) */
	__u64 max_key_bytes_per_vault;	/* most key material bytes one vault may hold */
	__u64 max_keys_per_user;	/* most keys one user may hold across all their vaults */
	__u64 max_key_bytes_per_user;	/* most key material bytes one user may hold, all vaults */
	__u64 vault_keys;		/* keys in this vault now (also those this handle does not see) */
	__u64 vault_key_bytes;		/* key material bytes in this vault now */
	__u64 user_keys;		/* keys charged to the vault's owner (euid at open), all vaults */
	__u64 user_key_bytes;		/* key material bytes charged to the vault's owner */
	__u64 reserved[4];		/* out: 0 (room for more limits) */
};

/* KV_IOC_GENKEY: make a random key in the kernel. */
struct kv_genkey {
	__u32 algorithm;	/* in: KV_ALG_* */
	__u32 key_bits;		/* in: 0 = the algorithm's default; out: the key's size */
	__u64 ttl_ms;		/* in: lifetime in milliseconds, 0 = none */
	struct kv_policy policy;	/* in */
	__u64 key_id;		/* out */
	struct kv_child_policy child;	/* in: what keys derived from it may be */
};

/* KV_IOC_IMPORT: import raw key material (copied in, never readable again). */
struct kv_import {
	__u32 algorithm;	/* in: KV_ALG_* */
	__u32 key_len;		/* in: bytes at key_ptr */
	__u64 key_ptr;		/* in: user pointer to the key bytes */
	__u64 ttl_ms;		/* in: lifetime in milliseconds, 0 = none */
	struct kv_policy policy;	/* in */
	__u64 key_id;		/* out */
	struct kv_child_policy child;	/* in: what keys derived from it may be */
};

/* KV_IOC_DESTROY, KV_IOC_REVOKE. */
struct kv_keyref {
	__u64 key_id;
	__u64 reserved;		/* must be 0 */
};

/* KV_IOC_GETINFO. */
struct kv_keyinfo {
	__u64 key_id;		/* in */
	__u32 algorithm;	/* out: KV_ALG_* */
	__u32 key_bits;		/* out */
	__u32 state;		/* out: KV_STATE_* (expiry is evaluated now, no op needed) */
	__u32 reserved0;	/* must be 0 */
	__u64 created_ms;	/* out: wall clock, ms since the Unix epoch */
	__u64 expires_ms;	/* out: wall clock, ms since the Unix epoch, 0 = never */
	struct kv_policy policy;	/* out: the key's policy (usage made explicit) */
	__u64 uses;		/* out: operations performed so far */
	__u64 bytes;		/* out: input bytes processed so far */
	struct kv_child_policy child;	/* out: what keys derived from it may be */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_LIST: ids in ascending order, starting after `cursor` (0 = from the
 * first). `count` ids are written to ids_ptr (at most min(max_ids, KV_LIST_MAX));
 * `total` is the number of keys in the vault; pass the last id returned as the
 * next cursor until count == 0.
 */
struct kv_list {
	__u64 ids_ptr;		/* in: user pointer to __u64[max_ids] */
	__u32 max_ids;		/* in */
	__u32 count;		/* out */
	__u64 cursor;		/* in */
	__u64 total;		/* out */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_AEAD_ENCRYPT / KV_IOC_AEAD_DECRYPT: AES-GCM, ChaCha20-Poly1305.
 * The ciphertext is as long as the plaintext; the 16-byte tag is separate.
 * Encrypt reads the nonce from nonce_ptr, or with KV_AEAD_GEN_NONCE writes the
 * kernel's nonce there. Decrypt reads nonce and tag; a wrong tag, AAD, nonce
 * or ciphertext fails with EBADMSG and nothing is written. out_len: in, the
 * capacity at out_ptr; out, the bytes written (or needed, with ENOSPC).
 */
struct kv_aead {
	__u64 key_id;
	__u64 in_ptr;		/* plaintext (encrypt) or ciphertext (decrypt) */
	__u64 out_ptr;		/* ciphertext (encrypt) or plaintext (decrypt); may equal in_ptr */
	__u64 aad_ptr;		/* additional authenticated data */
	__u64 nonce_ptr;	/* KV_AEAD_NONCE_SIZE bytes */
	__u64 tag_ptr;		/* KV_AEAD_TAG_SIZE bytes: out (encrypt), in (decrypt) */
	__u32 in_len;
	__u32 out_len;
	__u32 aad_len;
	__u32 flags;		/* KV_AEAD_* */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_CBC_ENCRYPT / KV_IOC_CBC_DECRYPT: AES-CBC with PKCS#7 padding (or
 * KV_CBC_NO_PADDING). Encrypt needs room for in_len rounded up to the next
 * whole block (one more block when already whole); decrypt for in_len - 1
 * (in_len without padding). Bad padding fails with EBADMSG, nothing written.
 */
struct kv_cbc {
	__u64 key_id;
	__u64 in_ptr;
	__u64 out_ptr;
	__u64 iv_ptr;		/* KV_CBC_IV_SIZE bytes; written with KV_CBC_GEN_IV */
	__u32 in_len;
	__u32 out_len;		/* in: capacity; out: bytes written (or needed, with ENOSPC) */
	__u32 flags;		/* KV_CBC_* */
	__u32 reserved0;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_MAC: HMAC of data_len bytes; mac_len in: capacity, out: 32 or 64.
 * KV_IOC_VERIFY_MAC: compares (in constant time) the first mac_len bytes of
 * the HMAC with mac_ptr; mac_len from KV_MIN_MAC_VERIFY_SIZE to the full
 * length. A mismatch fails with EBADMSG.
 */
struct kv_mac {
	__u64 key_id;
	__u64 data_ptr;
	__u64 mac_ptr;
	__u32 data_len;
	__u32 mac_len;
	__u64 reserved[2];	/* must be 0 */
};

/* KV_IOC_HASH: no key. digest_len in: capacity; out: 32 or 64. */
struct kv_hash {
	__u32 algorithm;	/* KV_HASH_* */
	__u32 data_len;
	__u64 data_ptr;
	__u64 digest_ptr;
	__u32 digest_len;
	__u32 reserved0;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * Ed25519 (RFC 8032). KV_IOC_SIGN: deterministic signature with a vault key;
 * sig_len in: capacity, out: 64. KV_IOC_VERIFY: with a vault key (key_id),
 * or with a caller's 32-byte public key (key_id 0, pubkey_ptr); a signature
 * that does not verify fails with EBADMSG.
 */
struct kv_sign {
	__u64 key_id;
	__u64 data_ptr;
	__u64 sig_ptr;
	__u32 data_len;
	__u32 sig_len;
	__u64 reserved[2];	/* must be 0 */
};

struct kv_verify {
	__u64 key_id;		/* a vault Ed25519 key, or 0 to use pubkey_ptr */
	__u64 pubkey_ptr;	/* KV_PUBKEY_SIZE bytes when key_id is 0, else must be 0 */
	__u64 data_ptr;
	__u64 sig_ptr;		/* KV_ED25519_SIG_SIZE bytes */
	__u32 data_len;
	__u32 reserved0;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/* KV_IOC_GET_PUBKEY: the public half of an Ed25519 or X25519 key. */
struct kv_pubkey {
	__u64 key_id;
	__u64 pubkey_ptr;
	__u32 pubkey_len;	/* in: capacity; out: 32 */
	__u32 reserved0;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * How DERIVE and KEYEXCHANGE make their new key: HKDF (RFC 5869) with the
 * chosen hash, salt and info, straight into a new key of `algorithm` and
 * `key_bits` in the same vault. The derived bytes never leave the kernel.
 * The new key expires no later than its parent, and is unusable
 * (EKEYREVOKED) once its parent (or any ancestor) is revoked.
 */
struct kv_kdf {
	__u32 hash;		/* KV_HASH_* */
	__u32 algorithm;	/* KV_ALG_* of the new key (symmetric) */
	__u32 key_bits;		/* in: 0 = the algorithm's default; out: the new key's size */
	__u32 salt_len;		/* at most KV_KDF_MAX_INPUT */
	__u64 salt_ptr;
	__u64 info_ptr;
	__u32 info_len;		/* at most KV_KDF_MAX_INPUT */
	__u32 reserved0;	/* must be 0 */
	__u64 ttl_ms;		/* the new key's lifetime, 0 = the parent's */
	struct kv_policy policy;	/* the new key's policy */
};

/* KV_IOC_DERIVE: HKDF with a vault key (usage DERIVE) as input keying material. */
struct kv_derive {
	__u64 key_id;
	struct kv_kdf kdf;
	__u64 new_key_id;	/* out */
	struct kv_child_policy child;	/* in: what keys derived from the new key may be, within the parent's */
};

/*
 * KV_IOC_KEYEXCHANGE: X25519 (RFC 7748) of a vault key with a peer's public
 * key; the shared secret is the HKDF input and never leaves the kernel. A
 * low-order peer key (all-zero shared secret) fails with EINVAL.
 */
struct kv_exchange {
	__u64 key_id;
	__u64 peer_ptr;		/* KV_PUBKEY_SIZE bytes */
	struct kv_kdf kdf;
	__u64 new_key_id;	/* out */
	struct kv_child_policy child;	/* in: what keys derived from the new key may be, within the parent's */
};

/*
 * KV_IOC_IMPORT_KEYRING: a new key from the payload of a kernel keyring key
 * (keyctl types logon, user, encrypted, trusted) found by serial with the
 * caller's credentials, as AF_ALG's ALG_SET_KEY_BY_KEY_SERIAL does: the key
 * must be searchable by the caller (KEY_NEED_SEARCH: possessed, or granted
 * search by its permissions; read permission is not needed, since the bytes
 * never reach the caller). The keyring's own errnos: ENOKEY (no such or
 * negative key), EACCES (not searchable), EKEYREVOKED, EKEYEXPIRED;
 * EOPNOTSUPP for another key type; EINVAL for a payload that is not a key
 * size of `algorithm`. The payload is read under the key's semaphore and
 * every temporary copy wiped. Needs KV_CAP_IMPORT.
 */
struct kv_import_keyring {
	__u32 algorithm;	/* in: KV_ALG_* */
	__s32 serial;		/* in: key_serial_t */
	__u64 ttl_ms;		/* in: lifetime in milliseconds, 0 = none */
	struct kv_policy policy;	/* in: never KV_POLICY_WRAPPABLE (EPERM) */
	__u64 key_id;		/* out */
	struct kv_child_policy child;	/* in: what keys derived from it may be */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_WRAP: key_id (policy KV_POLICY_WRAPPABLE, else EPERM) encrypted
 * under wrapping_key_id (AES-256-GCM, usage KV_CAP_WRAP), in `format`.
 * Wrapping a key under itself is EINVAL; a revoked or expired key or
 * wrapping key, EKEYREVOKED / EKEYEXPIRED. Counts one use of the wrapping
 * key (key_len bytes).
 */
struct kv_wrap {
	__u64 wrapping_key_id;	/* in */
	__u64 key_id;		/* in: the key to export */
	__u64 blob_ptr;		/* in: where the blob goes */
	__u32 blob_len;		/* in: capacity; out: bytes written (or needed, with ENOSPC) */
	__u32 format;		/* in: KV_WRAP_* */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * KV_IOC_UNWRAP: a new key from a blob under wrapping_key_id (usage
 * KV_CAP_UNWRAP). Native blobs restore what their header says: algorithm,
 * ttl_ms, policy and child must be 0 (EINVAL). RFC 5649 blobs carry only the
 * material: those fields say what the new key is, as for IMPORT. A blob that
 * does not authenticate fails with EBADMSG (one use of the wrapping key is
 * spent, as for a failed AEAD_DECRYPT) and nothing is created.
 */
struct kv_unwrap {
	__u64 wrapping_key_id;	/* in */
	__u64 blob_ptr;		/* in */
	__u32 blob_len;		/* in: at most KV_WRAP_MAX_BLOB */
	__u32 format;		/* in: KV_WRAP_* */
	__u32 algorithm;	/* in (RFC 5649): KV_ALG_* */
	__u32 reserved0;	/* must be 0 */
	__u64 ttl_ms;		/* in (RFC 5649): lifetime in milliseconds, 0 = none */
	struct kv_policy policy;	/* in (RFC 5649) */
	struct kv_child_policy child;	/* in (RFC 5649) */
	__u64 new_key_id;	/* out */
	__u64 reserved[2];	/* must be 0 */
};

#define KV_IOC_GETCAPS		_IOR(KV_IOC_MAGIC, 0x01, struct kv_caps)
#define KV_IOC_RESTRICT		_IOWR(KV_IOC_MAGIC, 0x02, struct kv_caps)
#define KV_IOC_DUP		_IOWR(KV_IOC_MAGIC, 0x03, struct kv_dup)
#define KV_IOC_LIMITS		_IOR(KV_IOC_MAGIC, 0x04, struct kv_limits)
#define KV_IOC_GENKEY		_IOWR(KV_IOC_MAGIC, 0x10, struct kv_genkey)
#define KV_IOC_IMPORT		_IOWR(KV_IOC_MAGIC, 0x11, struct kv_import)
#define KV_IOC_DESTROY		_IOW(KV_IOC_MAGIC, 0x12, struct kv_keyref)
#define KV_IOC_REVOKE		_IOW(KV_IOC_MAGIC, 0x13, struct kv_keyref)
#define KV_IOC_GETINFO		_IOWR(KV_IOC_MAGIC, 0x14, struct kv_keyinfo)
#define KV_IOC_LIST		_IOWR(KV_IOC_MAGIC, 0x15, struct kv_list)
#define KV_IOC_IMPORT_KEYRING	_IOWR(KV_IOC_MAGIC, 0x16, struct kv_import_keyring)
#define KV_IOC_AEAD_ENCRYPT	_IOWR(KV_IOC_MAGIC, 0x20, struct kv_aead)
#define KV_IOC_AEAD_DECRYPT	_IOWR(KV_IOC_MAGIC, 0x21, struct kv_aead)
#define KV_IOC_CBC_ENCRYPT	_IOWR(KV_IOC_MAGIC, 0x22, struct kv_cbc)
#define KV_IOC_CBC_DECRYPT	_IOWR(KV_IOC_MAGIC, 0x23, struct kv_cbc)
#define KV_IOC_MAC		_IOWR(KV_IOC_MAGIC, 0x24, struct kv_mac)
#define KV_IOC_VERIFY_MAC	_IOW(KV_IOC_MAGIC, 0x25, struct kv_mac)
#define KV_IOC_HASH		_IOWR(KV_IOC_MAGIC, 0x26, struct kv_hash)
#define KV_IOC_SIGN		_IOWR(KV_IOC_MAGIC, 0x30, struct kv_sign)
#define KV_IOC_VERIFY		_IOW(KV_IOC_MAGIC, 0x31, struct kv_verify)
#define KV_IOC_GET_PUBKEY	_IOWR(KV_IOC_MAGIC, 0x32, struct kv_pubkey)
#define KV_IOC_DERIVE		_IOWR(KV_IOC_MAGIC, 0x33, struct kv_derive)
#define KV_IOC_KEYEXCHANGE	_IOWR(KV_IOC_MAGIC, 0x34, struct kv_exchange)
#define KV_IOC_WRAP		_IOWR(KV_IOC_MAGIC, 0x40, struct kv_wrap)
#define KV_IOC_UNWRAP		_IOWR(KV_IOC_MAGIC, 0x41, struct kv_unwrap)

#endif /* _UAPI_LINUX_KEYVAULT_H */
