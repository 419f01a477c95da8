#!/usr/bin/env bash
# libkeyvault's examples (libkeyvault/examples/) against the real module:
# envelope encryption, a threaded signing service owning its vault, and a
# key-limited handle passed to a child over SCM_RIGHTS; and Vault::from_env,
# through `kvctl exec -- EXAMPLE` (the vault and keys kvctl made are the
# example's) and refusals of a $KEYVAULT_FD that is not a vault.
#
#   scripts/build-userspace &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh library
#
# Each check prints `ok   NAME` or `FAIL NAME: why`; the last line is
# `N passed, N failed`.
source "$(dirname "$0")/lib.sh"
unset KEYVAULT_FD
ex=$KV_ROOT/target/release/examples
for need in "$KVCTL" /dev/keyvault "$ex/envelope" "$ex/signing_service" "$ex/fd_passing"; do
  [ -e "$need" ] || { echo "FAIL setup: no $need (scripts/build-userspace builds the examples)"; finish 0 1; }
done
has() { grep -qF -- "$2" <<< "$1"; }
# contains NAME PATTERN: ok when the last run's output ($out) has PATTERN.
contains() { if has "$out" "$2"; then ok "$1"; else fail "$1" "no '$2' in: $out"; fi; }

# --- envelope: seal, store, open; an altered envelope does not.
run "envelope (sample text, new vault)" "$ex/envelope"
indent <<< "$out"
contains "envelope: a new vault" "vault: a new one"
contains "envelope: the wrapped data key is a native blob of a 32-byte key" "wrapped data key 124 bytes"
contains "envelope: opened, the same as the input" "bytes, the same as the input"
contains "envelope: an altered envelope does not open" "an altered envelope does not open: decrypt: keyvault aead-decrypt: authentication failed"
contains "envelope: nor one under another file's name" "under another name it does not open either"
contains "envelope: no data key left" "no data key left in the vault (1 keys, as before)"
head -c 100000 /dev/urandom > "$tmp/report.bin"
run "envelope FILE (100 kB)" "$ex/envelope" "$tmp/report.bin"
contains "envelope FILE: sealed all of it" "sealed 100000 bytes of report.bin into $tmp/report.bin.kvenv"
expect "envelope FILE: FILE.kvenv is kept, 8 + 4 + 124 + 12 + 100000 + 16 bytes" 100164 \
  "$(stat -c %s "$tmp/report.bin.kvenv" 2>&1)"
status "envelope of a missing file fails, naming it" 1 "$ex/envelope" "$tmp/missing"
contains "envelope of a missing file: the message" "$tmp/missing: No such file or directory"

# --- signing_service: threads share one owned SigningKey.
run "signing_service (new vault, 4 threads)" "$ex/signing_service"
indent <<< "$out"
contains "signing_service: 100 signatures, all verify with ed25519-dalek" "4 threads signed 100 requests; all verify with ed25519-dalek"
pub=$(sed -n 's/^public //p' <<< "$out") sig=$(sed -n 's/^hello //p' <<< "$out")
run "signing_service: kvctl verifies its signature of 'hello' with its public key" \
  sh -c "printf hello | \"\$1\" verify --pubkey $pub --sig $sig" _ "$KVCTL"
refused "signing_service: kvctl refuses that signature for another message" "bad signature" \
  sh -c "printf hullo | \"\$1\" verify --pubkey $pub --sig $sig" _ "$KVCTL"

# --- fd_passing: a sign-only handle for one key, to a child.
run "fd_passing (parent and child)" "$ex/fd_passing"
indent <<< "$out"
contains "fd_passing: the child got a sign-only handle" "child: received a vault handle with sign"
contains "fd_passing: the child signed" "child: signed 31 bytes"
contains "fd_passing: the other key is not the child's" "refused (no such key in this vault"
expect "fd_passing: the child is refused genkey, verify and list (EPERM)" 3 \
  "$(grep -cE '^child: (genkey|verify|list): refused \(this vault handle lacks the capability' <<< "$out")"
contains "fd_passing: the parent verifies the child's signature" "parent: the child's signature verifies"

# --- Vault::from_env, through kvctl exec: the example works in kvctl's vault.
# shellcheck disable=SC2016 # expanded by that sh
run "kvctl exec -- signing_service KEY: from_env takes the inherited vault" \
  "$KVCTL" exec -- sh -c 'id=$("$KVCTL" genkey ed25519); echo "pubkey $("$KVCTL" pubkey "$id")"; "$1" "$id"' _ "$ex/signing_service"
indent <<< "$out"
contains "signing_service under kvctl exec: inherited" "vault: inherited through \$KEYVAULT_FD"
expect "signing_service under kvctl exec signs with kvctl's key" \
  "$(sed -n 's/^pubkey //p' <<< "$out")" "$(sed -n 's/^public //p' <<< "$out")"
# shellcheck disable=SC2016
run "kvctl exec --keys KEY --caps sign,getinfo -- signing_service KEY: an owned key on a restricted handle" \
  "$KVCTL" exec -- sh -c 'id=$("$KVCTL" genkey ed25519); "$KVCTL" exec --keys "$id" --caps sign,getinfo -- "$1" "$id"' _ "$ex/signing_service"
contains "signing_service on a restricted handle: 100 signatures" "4 threads signed 100 requests"
# shellcheck disable=SC2016
run "kvctl exec -- envelope with KEYVAULT_MASTER made by kvctl" \
  "$KVCTL" exec -- sh -c 'KEYVAULT_MASTER=$("$KVCTL" genkey aes256-gcm --usage wrap,unwrap) "$1"' _ "$ex/envelope"
contains "envelope under kvctl exec: inherited" "vault: inherited through \$KEYVAULT_FD"
contains "envelope under kvctl exec: opened with kvctl's master key" "bytes, the same as the input"
# shellcheck disable=SC2016
refused "signing_service with a key id that is not in the inherited vault" "no such key in this vault" \
  "$KVCTL" exec -- sh -c '"$1" 999999999' _ "$ex/signing_service"

# --- from_env refuses what is not a vault (kvctl too: it uses from_env).
refused "from_env: \$KEYVAULT_FD=0 (a file) is not a vault" 'KEYVAULT_FD is not a keyvault fd' \
  env KEYVAULT_FD=0 "$ex/signing_service" < /dev/null
refused "from_env: \$KEYVAULT_FD=99 names no open fd" 'KEYVAULT_FD names no open fd' \
  env KEYVAULT_FD=99 "$ex/signing_service"
refused "from_env: \$KEYVAULT_FD=abc is not a number" 'KEYVAULT_FD is not an fd number' \
  env KEYVAULT_FD=abc "$ex/envelope"
# shellcheck disable=SC2016 # a literal $ in the pattern
refused "kvctl: \$KEYVAULT_FD=0 is not a vault, said with its value" 'not a keyvault fd (/dev/keyvault) (ENOTTY.*) ($KEYVAULT_FD=0)' \
  env KEYVAULT_FD=0 "$KVCTL" list < /dev/null

finish "$passed" "$failed"
