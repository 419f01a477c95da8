// SPDX-License-Identifier: GPL-2.0
/*
 * keyring.c - read the payload of a kernel keyring key into a buffer the
 * Rust side owns (kmod/keyring.rs), for KV_IOC_IMPORT_KEYRING: the same
 * lookup and payload access as AF_ALG's ALG_SET_KEY_BY_KEY_SERIAL
 * (crypto/af_alg.c), with no copy of its own.
 */
#include <linux/err.h>
#include <linux/key-type.h>
#include <linux/key.h>
#include <linux/string.h>
#include <keys/encrypted-type.h>
#include <keys/trusted-type.h>
#include <keys/user-type.h>

#include "glue.h"

/*
 * The payload bytes of an instantiated key of a supported type, or an
 * ERR_PTR: -EKEYREVOKED when the payload is gone (revoked under us),
 * -EOPNOTSUPP for another type. Called with key->sem held for reading.
 * Types are compared by name, as AF_ALG does, so the module needs neither
 * encrypted-keys nor trusted loaded (without them no such key can exist).
 */
static const u8 *payload_locked(struct key *key, unsigned int *len)
{
	const char *type = key->type->name;

	if (!strcmp(type, "user") || !strcmp(type, "logon")) {
		const struct user_key_payload *p = user_key_payload_locked(key);

		if (IS_ERR_OR_NULL(p))
			return ERR_PTR(-EKEYREVOKED);
		*len = p->datalen;
		return p->data;
	}
	if (IS_ENABLED(CONFIG_ENCRYPTED_KEYS) && !strcmp(type, "encrypted")) {
		const struct encrypted_key_payload *p = dereference_key_locked(key);

		if (IS_ERR_OR_NULL(p))
			return ERR_PTR(-EKEYREVOKED);
		*len = p->decrypted_datalen;
		return p->decrypted_data;
	}
	if (IS_ENABLED(CONFIG_TRUSTED_KEYS) && !strcmp(type, "trusted")) {
		const struct trusted_key_payload *p = dereference_key_locked(key);

		if (IS_ERR_OR_NULL(p))
			return ERR_PTR(-EKEYREVOKED);
		*len = p->key_len;
		return p->key;
	}
	return ERR_PTR(-EOPNOTSUPP);
}

/*
 * Copies the payload of the key `serial` names into buf when it fits in
 * `cap` bytes. The key is looked up with the caller's credentials and must
 * be searchable (KEY_NEED_SEARCH), like AF_ALG; lookup_user_key refuses a
 * negative key (-ENOKEY), a revoked or expired one (-EKEYREVOKED,
 * -EKEYEXPIRED) and one the caller may not search (-EACCES). Returns the
 * payload length (copied only if at most cap) or a negative errno.
 */
long kv_keyring_read(s32 serial, u8 *buf, size_t cap)
{
	key_ref_t ref = lookup_user_key(serial, 0, KEY_NEED_SEARCH);
	struct key *key;
	unsigned int len = 0;
	const u8 *data;
	long ret;

	if (IS_ERR(ref))
		return PTR_ERR(ref);
	key = key_ref_to_ptr(ref);
	down_read(&key->sem);
	data = payload_locked(key, &len);
	if (IS_ERR(data)) {
		ret = PTR_ERR(data);
	} else {
		if (len <= cap)
			memcpy(buf, data, len);
		ret = len;
	}
	up_read(&key->sem);
	key_put(key);
	return ret;
}
