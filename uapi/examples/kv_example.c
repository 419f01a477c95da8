// SPDX-License-Identifier: MIT
/*
 * kv_example.c - keyvault from C, with nothing but <keyvault.h>:
 *   1. open a vault, generate a key in the kernel, look at it, list;
 *   2. AEAD: encrypt with a nonce the kernel makes, decrypt, and see a
 *      tampered tag refused (EBADMSG);
 *   3. Ed25519: sign, verify with the vault key and with the public key;
 *   4. an output buffer too small: the kernel fails with ENOSPC and writes
 *      back the length it needs; allocate that and retry;
 *   5. hand a forked child a DUP of the vault that may only sign, and only
 *      with one key, over a Unix socket (SCM_RIGHTS): it signs, and is
 *      refused everything else;
 *   6. restrict this handle; destroy is refused.
 * Every step prints one line; any surprise exits 1.
 *
 *   cc -Wall -Wextra -Werror -I uapi -o kv_example uapi/examples/kv_example.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keyvault.h"

#define PTR(p) ((__u64)(uintptr_t)(p))

static int fail(const char *what)
{
	fprintf(stderr, "kv_example: %s: %s\n", what, strerror(errno));
	return 1;
}

static int wrong(const char *what)
{
	fprintf(stderr, "kv_example: %s\n", what);
	return 1;
}

/* The ioctl must fail with `want`. */
static int refused(int fd, unsigned long req, void *arg, int want, const char *what)
{
	if (ioctl(fd, req, arg) == 0) {
		fprintf(stderr, "kv_example: %s: allowed, should fail with %s\n",
			what, strerror(want));
		return 1;
	}
	if (errno != want) {
		fprintf(stderr, "kv_example: %s: %s, expected %s\n", what,
			strerror(errno), strerror(want));
		return 1;
	}
	return 0;
}

static int genkey(int fd, __u32 alg, __u64 *id)
{
	struct kv_genkey gen = { .algorithm = alg };
	if (ioctl(fd, KV_IOC_GENKEY, &gen) < 0)
		return fail("KV_IOC_GENKEY");
	*id = gen.key_id;
	return 0;
}

/* Step 2: AES-256-GCM with a kernel nonce (never repeats for the key). */
static int aead(int fd, __u64 key)
{
	static const char msg[] = "attack at dawn";
	static const char aad[] = "header v1";
	unsigned char ct[sizeof(msg)], pt[sizeof(msg)];
	unsigned char nonce[KV_AEAD_NONCE_SIZE], tag[KV_AEAD_TAG_SIZE];
	struct kv_aead enc = {
		.key_id = key, .in_ptr = PTR(msg), .in_len = sizeof(msg),
		.out_ptr = PTR(ct), .out_len = sizeof(ct),
		.aad_ptr = PTR(aad), .aad_len = sizeof(aad) - 1,
		.nonce_ptr = PTR(nonce), .tag_ptr = PTR(tag),
		.flags = KV_AEAD_GEN_NONCE,
	};
	if (ioctl(fd, KV_IOC_AEAD_ENCRYPT, &enc) < 0)
		return fail("KV_IOC_AEAD_ENCRYPT");
	struct kv_aead dec = enc;
	dec.in_ptr = PTR(ct);
	dec.out_ptr = PTR(pt);
	dec.flags = 0;
	if (ioctl(fd, KV_IOC_AEAD_DECRYPT, &dec) < 0)
		return fail("KV_IOC_AEAD_DECRYPT");
	if (dec.out_len != sizeof(msg) || memcmp(pt, msg, sizeof(msg)) != 0)
		return wrong("AEAD: the decryption differs from the plaintext");
	tag[0] ^= 1;
	if (refused(fd, KV_IOC_AEAD_DECRYPT, &dec, EBADMSG, "AEAD decrypt with a tampered tag"))
		return 1;
	printf("aead: %zu bytes sealed with a kernel nonce and opened; a tampered tag is EBADMSG\n",
	       sizeof(msg));
	return 0;
}

/* Step 3: Ed25519. */
static int sign_verify(int fd, __u64 key)
{
	static const char msg[] = "release v1.2";
	unsigned char sig[KV_ED25519_SIG_SIZE], pub[KV_PUBKEY_SIZE];
	struct kv_sign s = {
		.key_id = key, .data_ptr = PTR(msg), .data_len = sizeof(msg) - 1,
		.sig_ptr = PTR(sig), .sig_len = sizeof(sig),
	};
	if (ioctl(fd, KV_IOC_SIGN, &s) < 0)
		return fail("KV_IOC_SIGN");
	struct kv_verify v = {
		.key_id = key, .data_ptr = PTR(msg), .data_len = sizeof(msg) - 1,
		.sig_ptr = PTR(sig),
	};
	if (ioctl(fd, KV_IOC_VERIFY, &v) < 0)
		return fail("KV_IOC_VERIFY (vault key)");
	struct kv_pubkey p = { .key_id = key, .pubkey_ptr = PTR(pub), .pubkey_len = sizeof(pub) };
	if (ioctl(fd, KV_IOC_GET_PUBKEY, &p) < 0)
		return fail("KV_IOC_GET_PUBKEY");
	struct kv_verify vp = v;
	vp.key_id = 0; /* anyone's public key */
	vp.pubkey_ptr = PTR(pub);
	if (ioctl(fd, KV_IOC_VERIFY, &vp) < 0)
		return fail("KV_IOC_VERIFY (public key)");
	vp.data_len--; /* another message */
	if (refused(fd, KV_IOC_VERIFY, &vp, EBADMSG, "verify of another message"))
		return 1;
	printf("ed25519: signed, verified with the key and its public key; another message is EBADMSG\n");
	return 0;
}

/* Step 4: how long is an HMAC-SHA512? Ask the kernel. */
static int enospc_retry(int fd)
{
	__u64 key;
	if (genkey(fd, KV_ALG_HMAC_SHA512, &key))
		return 1;
	static const char msg[] = "session=42";
	struct kv_mac m = { .key_id = key, .data_ptr = PTR(msg), .data_len = sizeof(msg) - 1 };
	/* No room at all: ENOSPC, and mac_len says how much is needed. */
	if (refused(fd, KV_IOC_MAC, &m, ENOSPC, "MAC into an empty buffer"))
		return 1;
	__u32 need = m.mac_len;
	unsigned char *mac = malloc(need);
	if (!mac)
		return fail("malloc");
	m.mac_ptr = PTR(mac);
	int r = ioctl(fd, KV_IOC_MAC, &m);
	free(mac);
	if (r < 0)
		return fail("KV_IOC_MAC (retry)");
	if (need != 64 || m.mac_len != need)
		return wrong("HMAC-SHA512: the needed length is not 64");
	printf("enospc: an empty buffer is ENOSPC with %u bytes needed; the retry wrote %u\n",
	       need, m.mac_len);
	return 0;
}

static int send_fd(int sock, int fd)
{
	char byte = 'V'; /* a stream socket carries SCM_RIGHTS with data only */
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* One fd, close-on-exec; -1 if the message carried no fd (or several:
 * then every one is closed). */
static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	int fd = -1, n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n++ == 0)
				fd = got;
			else
				close(got);
		}
	}
	if (n != 1 || (msg.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The child: a handle that can only sign, only with `key`. */
static int child(int sock, __u64 key, __u64 other)
{
	int fd = recv_fd(sock);
	if (fd < 0)
		return wrong("child: no vault fd received");
	struct kv_caps caps = { 0 };
	if (ioctl(fd, KV_IOC_GETCAPS, &caps) < 0)
		return fail("child: KV_IOC_GETCAPS");
	if (caps.caps != KV_CAP_SIGN)
		return wrong("child: the handle has more than KV_CAP_SIGN");
	static const char msg[] = "job 7";
	unsigned char sig[KV_ED25519_SIG_SIZE];
	struct kv_sign s = {
		.key_id = key, .data_ptr = PTR(msg), .data_len = sizeof(msg) - 1,
		.sig_ptr = PTR(sig), .sig_len = sizeof(sig),
	};
	if (ioctl(fd, KV_IOC_SIGN, &s) < 0)
		return fail("child: KV_IOC_SIGN");
	struct kv_sign s2 = s;
	s2.key_id = other;
	struct kv_genkey gen = { .algorithm = KV_ALG_ED25519 };
	struct kv_verify v = {
		.key_id = key, .data_ptr = PTR(msg), .data_len = sizeof(msg) - 1,
		.sig_ptr = PTR(sig),
	};
	if (refused(fd, KV_IOC_SIGN, &s2, ENOENT, "child: sign with a key not given") ||
	    refused(fd, KV_IOC_GENKEY, &gen, EPERM, "child: genkey") ||
	    refused(fd, KV_IOC_VERIFY, &v, EPERM, "child: verify"))
		return 1;
	if (write(sock, sig, sizeof(sig)) != (ssize_t)sizeof(sig))
		return fail("child: write the signature");
	printf("child: got a sign-only handle for one key; signed; another key is ENOENT, genkey and verify EPERM\n");
	close(fd);
	return 0;
}

/* Step 5: DUP limited to signing with `key`, passed to a forked child. */
static int pass_to_child(int fd, __u64 key, __u64 other)
{
	struct kv_dup dup = { .caps = KV_CAP_SIGN, .nkeys = 1, .keys_ptr = PTR(&key) };
	if (ioctl(fd, KV_IOC_DUP, &dup) < 0)
		return fail("KV_IOC_DUP");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("socketpair");
	fflush(stdout); /* the child must not print the parent's buffered lines again */
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		/* A real child would exec, with nothing but the socket. */
		close(sv[0]);
		close(dup.fd);
		close(fd);
		int r = child(sv[1], key, other);
		fflush(stdout);
		_exit(r);
	}
	close(sv[1]);
	if (send_fd(sv[0], dup.fd) < 0)
		return fail("sendmsg SCM_RIGHTS");
	close(dup.fd); /* in flight or received: the child's now */
	unsigned char sig[KV_ED25519_SIG_SIZE];
	ssize_t got = read(sv[0], sig, sizeof(sig));
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");
	close(sv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return wrong("the child failed");
	if (got != (ssize_t)sizeof(sig))
		return wrong("no signature from the child");
	static const char msg[] = "job 7";
	struct kv_verify v = {
		.key_id = key, .data_ptr = PTR(msg), .data_len = sizeof(msg) - 1,
		.sig_ptr = PTR(sig),
	};
	if (ioctl(fd, KV_IOC_VERIFY, &v) < 0)
		return fail("KV_IOC_VERIFY of the child's signature");
	printf("scm_rights: the child's signature verifies with key %llu\n", (unsigned long long)key);
	return 0;
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
	    info.state != KV_STATE_ACTIVE)
		return wrong("unexpected key info");

	__u64 ids[8];
	struct kv_list list = { .ids_ptr = PTR(ids), .max_ids = 8 };
	if (ioctl(fd, KV_IOC_LIST, &list) < 0)
		return fail("KV_IOC_LIST");
	printf("%u of %llu keys listed\n", list.count, (unsigned long long)list.total);

	__u64 signer, other;
	if (aead(fd, gen.key_id) || genkey(fd, KV_ALG_ED25519, &signer) ||
	    genkey(fd, KV_ALG_ED25519, &other) || sign_verify(fd, signer) ||
	    enospc_retry(fd) || pass_to_child(fd, signer, other))
		return 1;

	/* Hand out a weaker handle: this fd can now only use keys. */
	struct kv_caps caps = { .caps = KV_CAP_READONLY };
	if (ioctl(fd, KV_IOC_RESTRICT, &caps) < 0)
		return fail("KV_IOC_RESTRICT");
	struct kv_keyref ref = { .key_id = gen.key_id };
	if (refused(fd, KV_IOC_DESTROY, &ref, EPERM, "DESTROY without KV_CAP_DESTROY"))
		return 1;
	printf("restricted to 0x%x: destroy refused (EPERM)\n", caps.caps);

	close(fd); /* the last fd: the kernel destroys and wipes the key */
	return 0;
}
