#!/usr/bin/env bash
# kvctl's wrap, unwrap, import --keyring and keystore commands, for real:
# run inside the test VM with keyvault.ko loaded (keyctl from keyutils on
# the host, whose filesystem the VM sees):
#
#   scripts/build-userspace && make &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh keystore
#
# The root is a `logon` key (and a `user` key for import by serial): the
# test kernel has no TPM, so no `trusted` key. Vault A is this script's
# (it runs itself under `kvctl exec`); vault B, a new `kvctl exec
# --keystore` without $KEYVAULT_FD, is the next boot. Each check prints
# `ok   NAME` or `FAIL NAME: why`; the last line is `N passed, N failed`.
source "$(dirname "$0")/lib.sh"

in_vault "$@" "$(command -v keyctl)"

ks=$tmp/keystore
mkdir "$ks"
tag=kvcheck$$
root_hex=$(random_hex 32) user_hex=$(random_hex 32)
root=$(hex_to_bin "$root_hex" | keyctl padd logon "$tag:root" @u)
other=$(random_hex 32 | { read -r h; hex_to_bin "$h"; } | keyctl padd logon "$tag:other" @u)
user=$(hex_to_bin "$user_hex" | keyctl padd user "$tag-user" @u)
cleanup() { keyctl unlink "$root" @u; keyctl unlink "$other" @u; keyctl unlink "$user" @u; rm -rf "$tmp"; } >/dev/null 2>&1
trap cleanup EXIT
echo "keyring: logon $tag:root = $root, logon $tag:other = $other, user $tag-user = $user"

# --- import --keyring: the kernel reads the payload; the same bytes give the same MAC.
mac() { echo "keyvault" | kvctl mac "$1"; }
run "import --keyring SERIAL (user key)" kvctl import hmac-sha256 --keyring "$user" --usage mac
by_serial=$out
by_hex=$(kvctl import hmac-sha256 --format hex --key-file - --usage mac <<< "$user_hex")
expect "the keyring key's payload is the key (same MAC as its bytes imported)" "$(mac "$by_hex")" "$(mac "$by_serial")"
run "import --keyring %user:DESC" kvctl import hmac-sha256 --keyring "%user:$tag-user" --usage mac
expect "%user:DESC finds the same key" "$(mac "$by_hex")" "$(mac "$out")"
run "import --keyring %logon:DESC" kvctl import hmac-sha256 --keyring "%logon:$tag:root" --usage mac
expect "%logon:DESC is the logon key's payload" \
  "$(mac "$(kvctl import hmac-sha256 --format hex --key-file - --usage mac <<< "$root_hex")")" "$(mac "$out")"
refused "import --keyring --wrappable is EPERM" "never be wrappable" \
  kvctl import hmac-sha256 --keyring "$root" --wrappable
refused "import --keyring of a missing key names the keyrings searched" "no logon key '$tag:missing' in the session, user or user-session keyring" \
  kvctl import hmac-sha256 --keyring "%logon:$tag:missing"
refused "import --keyring of a payload of the wrong size is EINVAL" "not a key size" \
  kvctl import aes128-gcm --keyring "$root"

# --- wrap and unwrap, both formats, in vault A.
w=$(kvctl genkey aes256-gcm --usage wrap,unwrap)
run "wrap: genkey of a wrapping key and a wrappable ed25519 key" kvctl genkey ed25519 --wrappable
signer=$out
expect "info shows wrappable" yes "$(kvctl info "$signer" | grep -q ', wrappable' && echo yes)"
expect "info --json shows wrappable" yes "$(kvctl --json info "$signer" | grep -q '"wrappable":true' && echo yes)"
run "wrap native to -o FILE" kvctl wrap "$signer" --with "$w" -o "$tmp/signer.blob"
expect "a native blob of a 32-byte key is 92 + 32 bytes" 124 "$(stat -c %s "$tmp/signer.blob")"
expect "it starts with the magic KVWK" KVWK "$(head -c 4 "$tmp/signer.blob")"
# shellcheck disable=SC2016 # expanded by that bash
run "wrap native to stdout, a pipe" bash -c '"$KVCTL" wrap "$1" --with "$2" | wc -c' _ "$signer" "$w"
expect "the blob on stdout is the same size" 124 "$out"
if command -v script > /dev/null; then
  refused "wrap refuses to write the blob to a terminal" "the blob is binary: write it to a file with -o FILE" \
    script -qec "$KVCTL wrap $signer --with $w" /dev/null
fi
run "unwrap native" kvctl unwrap --with "$w" "$tmp/signer.blob"
unwrapped=$out
expect "the unwrapped key has the same public key" "$(kvctl pubkey "$signer")" "$(kvctl pubkey "$unwrapped")"
expect "the unwrapped key keeps its policy (ed25519, wrappable)" yes \
  "$(kvctl info "$unwrapped" | grep -q 'ed25519, 256 bits, active, usage sign|verify, wrappable' && echo yes)"
run "unwrap native from stdin" kvctl unwrap --with "$w" - < "$tmp/signer.blob"

aes=$(kvctl genkey aes128-gcm --wrappable)
echo -n "attack at dawn" | kvctl encrypt "$aes" --out "$tmp/sealed128"
run "wrap rfc5649" kvctl wrap "$aes" --with "$w" --format rfc5649 -o "$tmp/aes.kwp"
expect "an RFC 5649 blob of a 16-byte key is 8 * (2 + 1) bytes" 24 "$(stat -c %s "$tmp/aes.kwp")"
refused "unwrap rfc5649 needs --alg" "needs --alg" kvctl unwrap --with "$w" --format rfc5649 "$tmp/aes.kwp"
refused "unwrap native of an RFC 5649 blob says so" "not a keyvault native blob" kvctl unwrap --with "$w" "$tmp/aes.kwp"
run "unwrap rfc5649 --alg aes128-gcm --usage decrypt" \
  kvctl unwrap --with "$w" --format rfc5649 --alg aes128-gcm --usage decrypt "$tmp/aes.kwp"
expect "the RFC 5649 key decrypts what the original encrypted" "attack at dawn" \
  "$(kvctl decrypt "$out" --in "$tmp/sealed128")"
expect "its policy is the request's" yes "$(kvctl info "$out" | grep -q 'usage decrypt$' && echo yes)"

plain=$(kvctl genkey ed25519)
refused "wrap of a key made without --wrappable is EPERM" "key $plain is not wrappable: it was made without --wrappable" \
  kvctl wrap "$plain" --with "$w"
refused "wrap with a key that is not a wrapping key is EPERM" "is not a wrapping key" \
  kvctl wrap "$signer" --with "$(kvctl genkey aes256-gcm)"
w2=$(kvctl genkey aes256-gcm --usage wrap,unwrap)
refused "unwrap under another wrapping key fails (EBADMSG)" "does not open under this wrapping key" \
  kvctl unwrap --with "$w2" "$tmp/signer.blob"
{ head -c 100 "$tmp/signer.blob"; printf 'X'; tail -c 23 "$tmp/signer.blob"; } > "$tmp/tampered.blob"
refused "unwrap of an altered blob fails (EBADMSG)" "EBADMSG" kvctl unwrap --with "$w" "$tmp/tampered.blob"
head -c 100 "$tmp/signer.blob" > "$tmp/short.blob"
refused "unwrap of a truncated blob fails before the kernel" "truncated or extended" kvctl unwrap --with "$w" "$tmp/short.blob"
refused "a native unwrap takes no policy" "restores its own" kvctl unwrap --with "$w" --usage sign "$tmp/signer.blob"
refused "a keys-limited exec handle cannot unwrap either" "cannot make keys" \
  kvctl exec --keys "$w" --caps unwrap -- true

# --- the keystore: add in vault A, load in vault B (the next boot).
root_ref="%logon:$tag:root"
run "keystore add ed25519 prints its public key" \
  kvctl keystore add --keystore "$ks" --root "$root_ref" --name signer ed25519
created_pub=$out
expect "the public key is 64 hex digits" 64 "${#created_pub}"
run "keystore add aes256-gcm (--json: its id in this vault)" \
  kvctl --json keystore add --keystore "$ks" --root "$root" --name data aes256-gcm --usage encrypt,decrypt
data=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' <<< "$out")
echo -n "kept across reboots" | kvctl encrypt "$data" --out "$tmp/sealed"
expect "the keystore has signer.kvblob and data.kvblob" "data.kvblob signer.kvblob" "$(cd "$ks" && echo *)"
expect "the blob files are owner-only" 600 "$(stat -c %a "$ks/signer.kvblob")"
run "keystore list reads the headers (no root)" kvctl keystore list --keystore "$ks"
expect "keystore list shows both keys" \
  "data: aes256-gcm, 256 bits, usage encrypt|decrypt|signer: ed25519, 256 bits, usage sign|verify" \
  "$(paste -sd'|' <<< "$out")"
refused "keystore add never replaces a key" "exists; remove it first" \
  kvctl keystore add --keystore "$ks" --root "$root_ref" --name signer ed25519
refused "keystore add refuses names that would share a variable" "would both be \$KEYVAULT_KEY_DATA" \
  kvctl keystore add --keystore "$ks" --root "$root_ref" --name DATA aes256-gcm
expect "the refused adds wrote nothing" "data.kvblob signer.kvblob" "$(cd "$ks" && echo *)"

vault_b() { env -u KEYVAULT_FD "$KVCTL" exec --keystore "$ks" --root "$@"; }
# shellcheck disable=SC2016 # expanded by the shell in vault B
b_script='
  echo "keys=$KEYVAULT_KEYS"
  echo "count=$($KVCTL list | wc -l)"
  echo "pub=$($KVCTL pubkey "$KEYVAULT_KEY_SIGNER")"
  echo "sig=$(printf "release 1.0" | $KVCTL sign "$KEYVAULT_KEY_SIGNER")"
  echo "plain=$($KVCTL decrypt "$KEYVAULT_KEY_DATA" --in "$1")"
  echo "info=$($KVCTL info "$KEYVAULT_KEY_DATA")"'
run "exec --keystore loads the keystore into a new vault (B)" vault_b "$root_ref" -- bash -c "$b_script" b "$tmp/sealed"
b=$out
field() { sed -n "s/^$1=//p" <<< "$b"; }
indent <<< "$b"
expect "vault B: \$KEYVAULT_KEYS names both keys" 2 "$(field keys | tr ' ' '\n' | grep -cE '^(data|signer)=[0-9]+$')"
expect "vault B holds the two keys only (root and wrapping key destroyed)" 2 "$(field count)"
expect "vault B: the ed25519 key has the public key it had at creation" "$created_pub" "$(field pub)"
run "vault B's signature verifies with the public key printed at creation" \
  sh -c "printf 'release 1.0' | $KVCTL verify --pubkey $created_pub --sig $(field sig)"
expect "vault B: the aes256-gcm key decrypts what vault A encrypted" "kept across reboots" "$(field plain)"
expect "vault B: the key keeps its policy" yes "$(field info | grep -q 'usage encrypt|decrypt, wrappable' && echo yes)"
# shellcheck disable=SC2016 # expanded by the shell in vault B
run "exec --keystore --root SERIAL, with --caps" \
  vault_b "$root" --caps sign,getinfo,list -- sh -c '$KVCTL caps; $KVCTL pubkey $KEYVAULT_KEY_SIGNER'
expect "the restricted handle has the keys and only those caps" "sign|getinfo|list $created_pub" "${out//$'\n'/ }"
refused "exec --keystore with the wrong root fails clearly, CMD not run" "data.kvblob: .*does not open under this wrapping key" \
  vault_b "%logon:$tag:other" -- echo CMD-RAN
refused "exec --keystore with a missing root names it" "no logon key '$tag:gone'" \
  vault_b "%logon:$tag:gone" -- echo CMD-RAN
cp "$tmp/tampered.blob" "$ks/zz.kvblob"
refused "one bad blob: exec --keystore loads nothing" "zz.kvblob: .*EBADMSG" vault_b "$root_ref" -- echo CMD-RAN

finish "$passed" "$failed"
