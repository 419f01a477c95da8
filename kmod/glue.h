/* SPDX-License-Identifier: GPL-2.0 */
/*
 * glue.h - the module's C functions, called from Rust: flat shims over
 * kernel library calls that Rust cannot call directly (static inlines,
 * structs whose layout depends on the config), wrapped once, safely, in
 * kmod/crypto/; and the tracepoints, wrapped in kmod/trace.rs.
 */
#ifndef _KEYVAULT_GLUE_H
#define _KEYVAULT_GLUE_H

#include <linux/types.h>

/* Prepared keys live in kmalloc'ed memory owned by the caller's Rust object,
 * freed (and wiped) with kv_prepared_free(). NULL on allocation failure or a
 * bad key length. */
void *kv_aes_gcm_prepare(const u8 *key, size_t key_len);
void *kv_aes_prepare(const u8 *key, size_t key_len);
void *kv_hmac_sha256_prepare(const u8 *key, size_t key_len);
void *kv_hmac_sha512_prepare(const u8 *key, size_t key_len);
void kv_prepared_free(void *prepared);

void kv_aes_gcm_encrypt(const void *key, u8 *buf, size_t len, u8 *tag,
			const u8 *ad, size_t ad_len, const u8 *nonce);
int kv_aes_gcm_decrypt(const void *key, u8 *buf, size_t len, const u8 *tag,
		       const u8 *ad, size_t ad_len, const u8 *nonce);

/* The crypto API's gcm(aes) (synchronous implementations only), for long
 * messages: a transform per key, NULL if none can be made; crypt returns 0,
 * -EBADMSG (decrypt: bad tag) or -ENOMEM. */
void *kv_gcm_tfm_new(const u8 *key, size_t key_len);
void kv_gcm_tfm_free(void *tfm);
int kv_gcm_tfm_crypt(void *tfm, bool encrypt, u8 *buf, size_t len, u8 *tag,
		     const u8 *ad, size_t ad_len, const u8 *nonce);

void kv_chacha20poly1305_encrypt(const u8 *key, u8 *buf, size_t len, u8 *tag,
				 const u8 *ad, size_t ad_len, const u8 *nonce);
int kv_chacha20poly1305_decrypt(const u8 *key, u8 *buf, size_t len,
				const u8 *tag, const u8 *ad, size_t ad_len,
				const u8 *nonce);

/* One AES block in place, with a key from kv_aes_prepare (RFC 5649 wrap). */
void kv_aes_encrypt_block(const void *key, u8 *block);
void kv_aes_decrypt_block(const void *key, u8 *block);

/* kmod/keyring.c: a kernel keyring key's payload (KV_IOC_IMPORT_KEYRING). */
long kv_keyring_read(s32 serial, u8 *buf, size_t cap);

void kv_aes_cbc_encrypt(const void *key, u8 *buf, size_t len, u8 *iv);
void kv_aes_cbc_decrypt(const void *key, u8 *buf, size_t len, u8 *iv);

void kv_hmac_sha256(const void *key, const u8 *data, size_t len, u8 *out);
void kv_hmac_sha512(const void *key, const u8 *data, size_t len, u8 *out);
void kv_sha256(const u8 *data, size_t len, u8 *out);
void kv_sha512(const u8 *data, size_t len, u8 *out);

/* Hash/HMAC over the concatenation of n parts (ptrs[i], lens[i]). */
void kv_sha512_parts(const u8 *const *ptrs, const size_t *lens, size_t n, u8 *out);
void kv_hmac_parts(bool sha512, const u8 *key, size_t key_len,
		   const u8 *const *ptrs, const size_t *lens, size_t n, u8 *out);

/* X25519 (RFC 7748); false when the result is all zeros (low-order point). */
bool kv_x25519(u8 *out, const u8 *scalar, const u8 *point);
bool kv_x25519_base(u8 *out, const u8 *scalar);

bool kv_memeq_consttime(const void *a, const void *b, size_t len);
void kv_memzero(void *p, size_t len);

struct file;
struct file *kv_new_file(struct file *like, void *private);

/* Tracepoints (trace.c): one call per event of trace.h. */
void kv_trace_key_create(u64 key_id, u32 algorithm, u32 bits, u32 how, u64 parent);
void kv_trace_key_destroy(u64 key_id);
void kv_trace_key_revoke(u64 key_id);
void kv_trace_key_expire(u64 key_id);
void kv_trace_op(u32 op, u64 key_id, u64 len, int err);
void kv_trace_cap_denied(u32 op, u32 wanted, u32 have);

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
bool kv_stack_holds(const u8 *needle, size_t len);
#endif

#endif
