#!/usr/bin/env bash
# The C example (uapi/examples/kv_example.c, which the -dev .deb ships),
# built as its users build it (nothing but <keyvault.h>, warnings are
# errors) and run against the real module: AEAD with a kernel nonce, Ed25519,
# the ENOSPC retry, and a sign-only DUP passed to a forked child over
# SCM_RIGHTS.
#
#   flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh c-example
#
# Each check prints `ok   NAME` or `FAIL NAME: why`; the last line is
# `N passed, N failed`.
source "$(dirname "$0")/lib.sh"
for need in /dev/keyvault "$(command -v "${CC:-cc}")"; do
  [ -e "$need" ] || { echo "FAIL setup: no ${need:-C compiler}"; finish 0 1; }
done
has() { grep -qF -- "$2" <<< "$1"; }
contains() { if has "$out" "$2"; then ok "$1"; else fail "$1" "no '$2' in: $out"; fi; }

run "kv_example.c compiles with -Wall -Wextra -Werror against uapi/keyvault.h alone" \
  "${CC:-cc}" -Wall -Wextra -Werror -I uapi -o "$tmp/kv_example" uapi/examples/kv_example.c
run "kv_example.c compiles as C11 too" \
  "${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -I uapi -o "$tmp/kv_example_c11" uapi/examples/kv_example.c
status "kv_example runs and exits 0" 0 "$tmp/kv_example"
indent <<< "$out"
contains "it made and listed a key" "key id "
contains "AEAD with a kernel nonce round-trips; a tampered tag is EBADMSG" \
  "aead: 15 bytes sealed with a kernel nonce and opened; a tampered tag is EBADMSG"
contains "Ed25519 sign and verify (key and public key); another message is EBADMSG" \
  "ed25519: signed, verified with the key and its public key; another message is EBADMSG"
contains "ENOSPC writes back the needed length (64), the retry succeeds" \
  "enospc: an empty buffer is ENOSPC with 64 bytes needed; the retry wrote 64"
contains "the forked child gets a sign-only handle over SCM_RIGHTS and is refused the rest" \
  "child: got a sign-only handle for one key; signed; another key is ENOENT, genkey and verify EPERM"
contains "the parent verifies the child's signature" "scm_rights: the child's signature verifies"
contains "a restricted handle cannot destroy" "destroy refused (EPERM)"
expect "the parent's lines are printed once (fork duplicated no buffered output)" 1 \
  "$(grep -c '^key id ' <<< "$out")"

finish "$passed" "$failed"
