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
#define KV_CAP_IMPORT		(1U << 14)
#define KV_CAP_ALL		0x7FFFU
#define KV_CAP_READONLY		(KV_CAP_ENCRYPT | KV_CAP_DECRYPT | KV_CAP_SIGN | \
				 KV_CAP_VERIFY | KV_CAP_MAC | KV_CAP_HASH | \
				 KV_CAP_GETINFO | KV_CAP_LIST)

/*
 * Per-key usage: the operations a key may ever be used for, as KV_CAP_* bits.
 * 0 at creation means every operation the algorithm supports.
 */
#define KV_USAGE_ALL		(KV_CAP_ENCRYPT | KV_CAP_DECRYPT | KV_CAP_SIGN | \
				 KV_CAP_VERIFY | KV_CAP_MAC | KV_CAP_DERIVE | \
				 KV_CAP_EXCHANGE)

/* Per-key policy flags. */
#define KV_POLICY_NO_CALLER_NONCE	(1U << 0) /* only kernel-made AEAD nonces / CBC IVs */
#define KV_POLICY_FLAGS_ALL		0x1U

/* Key states reported by GETINFO. */
#define KV_STATE_ACTIVE		1
#define KV_STATE_REVOKED	2
#define KV_STATE_EXPIRED	3

/* Limits fixed by the ABI (the module's quotas are module parameters). */
#define KV_MAX_KEY_BYTES	128	/* largest key material: HMAC-SHA512 1024 bits */
#define KV_LIST_MAX		1024	/* most ids one LIST call returns */

/* A key's creation policy: only shrinks, never grows. */
struct kv_policy {
	__u32 usage;		/* KV_CAP_* operation bits, subset of KV_USAGE_ALL; 0 = all */
	__u32 flags;		/* KV_POLICY_* */
	__u64 max_uses;		/* operations allowed, 0 = unlimited */
	__u64 max_bytes;	/* input bytes allowed, 0 = unlimited */
};

/* KV_IOC_GETCAPS (out), KV_IOC_RESTRICT (in: bits to keep; out: the caps now). */
struct kv_caps {
	__u32 caps;
	__u32 reserved;		/* must be 0 */
};

/* KV_IOC_GENKEY: make a random key in the kernel. */
struct kv_genkey {
	__u32 algorithm;	/* in: KV_ALG_* */
	__u32 key_bits;		/* in: 0 = the algorithm's default; out: the key's size */
	__u64 ttl_ms;		/* in: lifetime in milliseconds, 0 = none */
	struct kv_policy policy;	/* in */
	__u64 key_id;		/* out */
	__u64 reserved[2];	/* must be 0 */
};

/* KV_IOC_IMPORT: import raw key material (copied in, never readable again). */
struct kv_import {
	__u32 algorithm;	/* in: KV_ALG_* */
	__u32 key_len;		/* in: bytes at key_ptr */
	__u64 key_ptr;		/* in: user pointer to the key bytes */
	__u64 ttl_ms;		/* in: lifetime in milliseconds, 0 = none */
	struct kv_policy policy;	/* in */
	__u64 key_id;		/* out */
	__u64 reserved[2];	/* must be 0 */
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
	__u64 reserved[4];	/* must be 0 */
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

#define KV_IOC_GETCAPS		_IOR(KV_IOC_MAGIC, 0x01, struct kv_caps)
#define KV_IOC_RESTRICT		_IOWR(KV_IOC_MAGIC, 0x02, struct kv_caps)
#define KV_IOC_GENKEY		_IOWR(KV_IOC_MAGIC, 0x10, struct kv_genkey)
#define KV_IOC_IMPORT		_IOWR(KV_IOC_MAGIC, 0x11, struct kv_import)
#define KV_IOC_DESTROY		_IOW(KV_IOC_MAGIC, 0x12, struct kv_keyref)
#define KV_IOC_REVOKE		_IOW(KV_IOC_MAGIC, 0x13, struct kv_keyref)
#define KV_IOC_GETINFO		_IOWR(KV_IOC_MAGIC, 0x14, struct kv_keyinfo)
#define KV_IOC_LIST		_IOWR(KV_IOC_MAGIC, 0x15, struct kv_list)

#endif /* _UAPI_LINUX_KEYVAULT_H */
