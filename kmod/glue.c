// SPDX-License-Identifier: GPL-2.0
/*
 * glue.c - the module's only C: thin shims over the kernel crypto library
 * (lib/crypto: prepared-key, synchronous, no scatterlists), the crypto API's
 * gcm(aes) for long AES-GCM messages, and the RFC 8439 ChaCha20-Poly1305
 * construction with a 96-bit nonce, which the library exposes only with a
 * 64-bit one.
 */
#include <crypto/aead.h>
#include <crypto/aes-cbc.h>
#include <crypto/aes-gcm.h>
#include <crypto/algapi.h>
#include <crypto/chacha.h>
#include <crypto/curve25519.h>
#include <crypto/poly1305.h>
#include <crypto/sha2.h>
#include <crypto/utils.h>
#include <linux/anon_inodes.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/unaligned.h>

#include "glue.h"

#define KV_TAG_SIZE 16

void kv_prepared_free(void *prepared)
{
	kfree_sensitive(prepared);
}

void *kv_aes_gcm_prepare(const u8 *key, size_t key_len)
{
	struct aes_gcm_key *k = kmalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);

	if (k && aes_gcm_preparekey(k, key, key_len, KV_TAG_SIZE)) {
		kfree_sensitive(k);
		return NULL;
	}
	return k;
}

void kv_aes_gcm_encrypt(const void *key, u8 *buf, size_t len, u8 *tag,
			const u8 *ad, size_t ad_len, const u8 *nonce)
{
	aes_gcm_encrypt(buf, buf, len, tag, ad, ad_len, nonce, key);
}

int kv_aes_gcm_decrypt(const void *key, u8 *buf, size_t len, const u8 *tag,
		       const u8 *ad, size_t ad_len, const u8 *nonce)
{
	return aes_gcm_decrypt(buf, buf, len, tag, ad, ad_len, nonce, key);
}

/*
 * Long AES-GCM messages go through the crypto API's gcm(aes), which on x86
 * is a fused AES-NI/VAES + PCLMUL implementation, faster per byte than
 * lib/crypto's block-at-a-time aes_gcm_*() (1.6-1.7x in kv-bench). Synchronous
 * implementations only (mask CRYPTO_ALG_ASYNC): the call returns with the
 * work done, no completion to wait for. The transform holds the expanded
 * key; crypto_free_aead() wipes it (kfree_sensitive).
 */
void *kv_gcm_tfm_new(const u8 *key, size_t key_len)
{
	struct crypto_aead *tfm = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);

	if (IS_ERR(tfm))
		return NULL;
	if (crypto_aead_setkey(tfm, key, key_len) ||
	    crypto_aead_setauthsize(tfm, KV_TAG_SIZE)) {
		crypto_free_aead(tfm);
		return NULL;
	}
	return tfm;
}

void kv_gcm_tfm_free(void *tfm)
{
	crypto_free_aead(tfm);
}

/* Scatterlist entries that [buf, buf + len) spans: one per page touched. */
static size_t kv_sg_pages(const void *buf, size_t len)
{
	return len ? DIV_ROUND_UP(offset_in_page(buf) + len, PAGE_SIZE) : 0;
}

/*
 * Appends [buf, buf + len) to the table page by page, starting at entry
 * *i. The buffers are kmalloc'ed, vmalloc'ed (large data, or a task stack
 * with VMAP_STACK), or in the linear map (other stacks).
 */
static void kv_sg_add(struct scatterlist *sg, size_t *i, const u8 *buf,
		      size_t len)
{
	while (len) {
		size_t off = offset_in_page(buf);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		struct page *page = is_vmalloc_addr(buf) ? vmalloc_to_page(buf) :
							   virt_to_page(buf);

		sg_set_page(&sg[(*i)++], page, n, off);
		buf += n;
		len -= n;
	}
}

/*
 * In-place gcm(aes) of buf: [ad | buf | tag] as one scatterlist. Encrypt
 * writes the tag; decrypt checks it and returns -EBADMSG on a mismatch (buf
 * then holds unverified plaintext: the caller wipes it and returns none of
 * it). -ENOMEM if the request cannot be allocated.
 */
int kv_gcm_tfm_crypt(void *tfm, bool encrypt, u8 *buf, size_t len, u8 *tag,
		     const u8 *ad, size_t ad_len, const u8 *nonce)
{
	size_t n = kv_sg_pages(ad, ad_len) + kv_sg_pages(buf, len) +
		   kv_sg_pages(tag, KV_TAG_SIZE);
	struct aead_request *req;
	struct scatterlist *sg;
	u8 iv[12];
	size_t i = 0;
	int err;

	sg = kvmalloc_array(n, sizeof(*sg), GFP_KERNEL);
	req = aead_request_alloc(tfm, GFP_KERNEL);
	if (!sg || !req) {
		kvfree(sg);
		aead_request_free(req);
		return -ENOMEM;
	}
	sg_init_table(sg, n);
	kv_sg_add(sg, &i, ad, ad_len);
	kv_sg_add(sg, &i, buf, len);
	kv_sg_add(sg, &i, tag, KV_TAG_SIZE);

	/* The request's IV buffer may be written by the implementation. */
	memcpy(iv, nonce, sizeof(iv));
	aead_request_set_callback(req, 0, NULL, NULL);
	aead_request_set_ad(req, ad_len);
	aead_request_set_crypt(req, sg, sg, encrypt ? len : len + KV_TAG_SIZE,
			       iv);
	err = encrypt ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);

	aead_request_free(req);
	kvfree(sg);
	return err;
}

void *kv_aes_prepare(const u8 *key, size_t key_len)
{
	struct aes_key *k = kmalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);

	if (k && aes_preparekey(k, key, key_len)) {
		kfree_sensitive(k);
		return NULL;
	}
	return k;
}

void kv_aes_encrypt_block(const void *key, u8 *block)
{
	const struct aes_key *k = key;

	aes_encrypt(k, block, block);
}

void kv_aes_decrypt_block(const void *key, u8 *block)
{
	aes_decrypt(key, block, block);
}

void kv_aes_cbc_encrypt(const void *key, u8 *buf, size_t len, u8 *iv)
{
	const struct aes_key *k = key;

	aes_cbc_encrypt(buf, buf, len, iv, k);
}

void kv_aes_cbc_decrypt(const void *key, u8 *buf, size_t len, u8 *iv)
{
	aes_cbc_decrypt(buf, buf, len, iv, key);
}

void *kv_hmac_sha256_prepare(const u8 *key, size_t key_len)
{
	struct hmac_sha256_key *k = kmalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);

	if (k)
		hmac_sha256_preparekey(k, key, key_len);
	return k;
}

void *kv_hmac_sha512_prepare(const u8 *key, size_t key_len)
{
	struct hmac_sha512_key *k = kmalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);

	if (k)
		hmac_sha512_preparekey(k, key, key_len);
	return k;
}

void kv_hmac_sha256(const void *key, const u8 *data, size_t len, u8 *out)
{
	hmac_sha256(key, data, len, out);
}

void kv_hmac_sha512(const void *key, const u8 *data, size_t len, u8 *out)
{
	hmac_sha512(key, data, len, out);
}

void kv_sha256(const u8 *data, size_t len, u8 *out)
{
	sha256(data, len, out);
}

void kv_sha512(const u8 *data, size_t len, u8 *out)
{
	sha512(data, len, out);
}

void kv_sha512_parts(const u8 *const *ptrs, const size_t *lens, size_t n, u8 *out)
{
	struct sha512_ctx ctx;
	size_t i;

	sha512_init(&ctx);
	for (i = 0; i < n; i++)
		sha512_update(&ctx, ptrs[i], lens[i]);
	sha512_final(&ctx, out);
}

void kv_hmac_parts(bool wide, const u8 *key, size_t key_len,
		   const u8 *const *ptrs, const size_t *lens, size_t n, u8 *out)
{
	size_t i;

	if (wide) {
		struct hmac_sha512_ctx ctx;

		hmac_sha512_init_usingrawkey(&ctx, key, key_len);
		for (i = 0; i < n; i++)
			hmac_sha512_update(&ctx, ptrs[i], lens[i]);
		hmac_sha512_final(&ctx, out);
	} else {
		struct hmac_sha256_ctx ctx;

		hmac_sha256_init_usingrawkey(&ctx, key, key_len);
		for (i = 0; i < n; i++)
			hmac_sha256_update(&ctx, ptrs[i], lens[i]);
		hmac_sha256_final(&ctx, out);
	}
}

bool kv_x25519(u8 *out, const u8 *scalar, const u8 *point)
{
	return curve25519(out, scalar, point);
}

bool kv_x25519_base(u8 *out, const u8 *scalar)
{
	return curve25519_generate_public(out, scalar);
}

bool kv_memeq_consttime(const void *a, const void *b, size_t len)
{
	return crypto_memneq(a, b, len) == 0;
}

void kv_memzero(void *p, size_t len)
{
	memzero_explicit(p, len);
}

/*
 * RFC 8439 section 2.8: ChaCha20 with block counter 0 makes the one-time
 * Poly1305 key, the data is en/decrypted from counter 1 on, and the tag is
 * Poly1305 over AAD || pad16 || ciphertext || pad16 || le64 lengths.
 */
static const u8 kv_pad0[16];

static void kv_chacha20_init(struct chacha_state *state,
			     struct poly1305_desc_ctx *poly, const u8 *key,
			     const u8 *nonce)
{
	u32 k[CHACHA_KEY_WORDS];
	u8 iv[CHACHA_IV_SIZE];
	u8 block0[POLY1305_KEY_SIZE] = {};
	int i;

	for (i = 0; i < CHACHA_KEY_WORDS; i++)
		k[i] = get_unaligned_le32(key + 4 * i);
	memset(iv, 0, 4);		/* block counter 0 */
	memcpy(iv + 4, nonce, 12);	/* 96-bit nonce */
	chacha_init(state, k, iv);
	chacha20_crypt(state, block0, block0, sizeof(block0));
	poly1305_init(poly, block0);
	memzero_explicit(k, sizeof(k));
	memzero_explicit(block0, sizeof(block0));
}

static void kv_poly1305_padded(struct poly1305_desc_ctx *poly, const u8 *data,
			       size_t len)
{
	poly1305_update(poly, data, len);
	if (len & 0xf)
		poly1305_update(poly, kv_pad0, 0x10 - (len & 0xf));
}

static void kv_poly1305_finish(struct poly1305_desc_ctx *poly, size_t ad_len,
			       size_t len, u8 *tag)
{
	__le64 lens[2] = { cpu_to_le64(ad_len), cpu_to_le64(len) };

	poly1305_update(poly, (u8 *)lens, sizeof(lens));
	poly1305_final(poly, tag);
}

void kv_chacha20poly1305_encrypt(const u8 *key, u8 *buf, size_t len, u8 *tag,
				 const u8 *ad, size_t ad_len, const u8 *nonce)
{
	struct chacha_state state;
	struct poly1305_desc_ctx poly;

	kv_chacha20_init(&state, &poly, key, nonce);
	kv_poly1305_padded(&poly, ad, ad_len);
	chacha20_crypt(&state, buf, buf, len);
	kv_poly1305_padded(&poly, buf, len);
	kv_poly1305_finish(&poly, ad_len, len, tag);
	chacha_zeroize_state(&state);
}

int kv_chacha20poly1305_decrypt(const u8 *key, u8 *buf, size_t len,
				const u8 *tag, const u8 *ad, size_t ad_len,
				const u8 *nonce)
{
	struct chacha_state state;
	struct poly1305_desc_ctx poly;
	u8 want[KV_TAG_SIZE];
	int ret = -EBADMSG;

	kv_chacha20_init(&state, &poly, key, nonce);
	kv_poly1305_padded(&poly, ad, ad_len);
	/* Authenticate before decrypting anything. */
	kv_poly1305_padded(&poly, buf, len);
	kv_poly1305_finish(&poly, ad_len, len, want);
	if (!crypto_memneq(want, tag, KV_TAG_SIZE)) {
		chacha20_crypt(&state, buf, buf, len);
		ret = 0;
	}
	chacha_zeroize_state(&state);
	memzero_explicit(want, sizeof(want));
	return ret;
}

/* A new file with the f_op of `like` (the keyvault misc device) and the given
 * private data; its release() frees the data on the last close. An ERR_PTR
 * on failure (the private data is then not kept). */
struct file *kv_new_file(struct file *like, void *private)
{
	return anon_inode_getfile("[keyvault]", like->f_op, private, O_RDWR);
}

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/*
 * Test hook of kernels built for testing (debugfs keyvault/stack_holds):
 * whether `needle` occurs in the dead part of the current task's stack,
 * below this function's frame, where the frames of the task's earlier,
 * deeper calls (an ioctl that just signed, encrypted or derived) lie. Not
 * instrumented: dead stack may still carry KASAN's redzone poison.
 */
__no_sanitize_address __no_sanitize_coverage noinline bool kv_stack_holds(const u8 *needle, size_t len)
{
	const u8 *lo = task_stack_page(current);
	const u8 *hi = __builtin_frame_address(0);
	const u8 *p;
	size_t i;

	if (!len)
		return false;
	for (p = lo; p + len <= hi; p++) {
		for (i = 0; i < len && p[i] == needle[i]; i++)
			;
		if (i == len)
			return true;
	}
	return false;
}
#endif
