// SPDX-License-Identifier: MIT
/*
 * kv_example.c - keyvault from C, with nothing but <keyvault.h>:
 * open a vault, generate a key in the kernel, look at it, list, destroy.
 *
 *   cc -I uapi -o kv_example uapi/examples/kv_example.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "keyvault.h"

static int fail(const char *what)
{
	fprintf(stderr, "kv_example: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	int fd = open(KV_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail("open " KV_DEVICE_PATH);

	/* Generate an AES-256-GCM key: the bytes never leave the kernel. */
	struct kv_genkey gen = { .algorithm = KV_ALG_AES256_GCM };
	if (ioctl(fd, KV_IOC_GENKEY, &gen) < 0)
		return fail("KV_IOC_GENKEY");
	printf("key id %llu (%u bits)\n", (unsigned long long)gen.key_id, gen.key_bits);

	struct kv_keyinfo info = { .key_id = gen.key_id };
	if (ioctl(fd, KV_IOC_GETINFO, &info) < 0)
		return fail("KV_IOC_GETINFO");
	if (info.algorithm != KV_ALG_AES256_GCM || info.key_bits != 256 ||
	    info.state != KV_STATE_ACTIVE) {
		fprintf(stderr, "kv_example: unexpected key info\n");
		return 1;
	}

	__u64 ids[8];
	struct kv_list list = { .ids_ptr = (__u64)(unsigned long)ids, .max_ids = 8 };
	if (ioctl(fd, KV_IOC_LIST, &list) < 0)
		return fail("KV_IOC_LIST");
	printf("%u of %llu keys listed\n", list.count, (unsigned long long)list.total);

	/* Hand out a weaker handle: this fd can now only use keys. */
	struct kv_caps caps = { .caps = KV_CAP_READONLY };
	if (ioctl(fd, KV_IOC_RESTRICT, &caps) < 0)
		return fail("KV_IOC_RESTRICT");
	struct kv_keyref ref = { .key_id = gen.key_id };
	if (ioctl(fd, KV_IOC_DESTROY, &ref) == 0 || errno != EPERM) {
		fprintf(stderr, "kv_example: DESTROY should need KV_CAP_DESTROY\n");
		return 1;
	}
	printf("restricted to 0x%x: destroy refused (EPERM)\n", caps.caps);

	close(fd); /* the last fd: the kernel destroys and wipes the key */
	return 0;
}
