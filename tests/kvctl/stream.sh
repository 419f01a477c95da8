#!/usr/bin/env bash
# kvctl with inputs of any size, for real: encrypt/decrypt as KVS1 streams
# past the module's per-operation limit (max_data_bytes, 1 MiB by default),
# only authenticated plaintext out (decrypt -o FILE appears only when all
# of it authenticated), KVE1 envelopes still read, hash past the limit,
# mac refused past it (or --prehash), no progress bar in pipes, and kvctl's
# peak RSS independent of the file size. Inside the test VM:
#
#   scripts/build-userspace &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh stream
#
# Python 3's `cryptography` (the host's /usr/bin/python3) makes the KVE1
# envelope and the HMAC that kvctl's must match.
source "$(dirname "$0")/lib.sh"

in_vault "$@" /usr/bin/python3

py=/usr/bin/python3
# The module runs with its default max_data_bytes, 1 MiB (the messages
# name it as kvctl reads it with LIMITS).
chunk=65536
# size N [C]: the length of the KVS1 stream of N bytes in chunks of C.
size() { local n=$1 c=${2:-$chunk}; local k=$(((n + c - 1) / c)); [ "$k" -gt 0 ] || k=1; echo $((32 + 28 * k + n)); }
big=$tmp/big n=$((5 * 1024 * 1024 + 7))
head -c "$n" /dev/urandom > "$big"

# --- round trips of a multi-MiB file, for each AEAD algorithm.
for alg in aes128-gcm aes256-gcm chacha20-poly1305; do
  k=$(kvctl genkey "$alg")
  run "$alg: encrypt 5 MiB + 7 bytes (5x the limit) to -o FILE" kvctl encrypt "$k" --in "$big" -o "$tmp/big.kvs"
  expect "$alg: a KVS1 stream of 81 chunks" "KVS1 $(size "$n")" "$(head -c 4 "$tmp/big.kvs") $(stat -c %s "$tmp/big.kvs")"
  run "$alg: decrypt it to -o FILE" kvctl decrypt "$k" --in "$tmp/big.kvs" -o "$tmp/big.out"
  expect "$alg: the same bytes back" same "$(cmp -s "$big" "$tmp/big.out" && echo same)"
  expect "$alg: the plaintext file is owner-only" 600 "$(stat -c %a "$tmp/big.out")"
done

k=$(kvctl genkey aes256-gcm)
# shellcheck disable=SC2016 # expanded by that bash
run "stdin to stdout through pipes: encrypt | decrypt" \
  bash -c 'cat "$1" | "$KVCTL" encrypt "$2" | "$KVCTL" decrypt "$2" | cmp - "$1"' _ "$big" "$k"
for n0 in 0 1 $((chunk - 1)) $chunk $((3 * chunk)); do
  head -c "$n0" /dev/urandom > "$tmp/s"
  kvctl encrypt "$k" --in "$tmp/s" -o "$tmp/s.kvs"
  kvctl decrypt "$k" --in "$tmp/s.kvs" -o "$tmp/s.out"
  expect "$n0 bytes: $(size "$n0")-byte stream, same bytes back" "$(size "$n0") same" \
    "$(stat -c %s "$tmp/s.kvs") $(cmp -s "$tmp/s" "$tmp/s.out" && echo same)"
done
head -c $((2 * 1024 * 1024)) /dev/urandom > "$tmp/two"
run "--chunk-size 1M (= the limit), a file of exactly 2 chunks" kvctl encrypt "$k" --chunk-size 1M --in "$tmp/two" -o "$tmp/two.kvs"
expect "2 full chunks of 1 MiB, no empty third" "$(size $((2 << 20)) $((1 << 20)))" "$(stat -c %s "$tmp/two.kvs")"
expect "it decrypts" same "$(kvctl decrypt "$k" --in "$tmp/two.kvs" | cmp -s - "$tmp/two" && echo same)"
{ cat "$tmp/two.kvs"; printf x; } > "$tmp/two.kvs.extra"
refused "--chunk-size above the limit is refused with the limit" "max_data_bytes = 1048576 bytes.*give at most 1048576" \
  kvctl encrypt "$k" --chunk-size 2M --in "$tmp/two" -o "$tmp/toobig.kvs"
expect "...and leaves no output" absent "$([ -e "$tmp/toobig.kvs" ] && echo present || echo absent)"
for fmt in hex base64; do
  kvctl encrypt "$k" --format "$fmt" --in "$tmp/two" -o "$tmp/two.$fmt"
  expect "--format $fmt: a text stream that decrypt detects" same \
    "$(kvctl decrypt "$k" --in "$tmp/two.$fmt" | cmp -s - "$tmp/two" && echo same)"
done

# --- tampering: decrypt fails, -o FILE is not made (or left as it was).
kvs=$tmp/big.kvs
kvctl encrypt "$k" --aad "v1" --in "$big" -o "$kvs"
c=$((chunk + 28))
mangle() { # mangle NAME PYTHON-EXPR-OF-d: writes $tmp/NAME
  $py -c "import sys; d=open(sys.argv[1],'rb').read(); c=$c; h=32; open(sys.argv[2],'wb').write($2)" "$kvs" "$tmp/$1"
}
mangle cut-boundary 'd[:h+2*c]'
mangle cut-mid 'd[:-1000]'
mangle flipped 'd[:100000]+bytes([d[100000]^1])+d[100001:]'
mangle swapped 'd[:h]+d[h+c:h+2*c]+d[h:h+c]+d[h+2*c:]'
mangle dropped 'd[:h+c]+d[h+2*c:]'
mangle appended 'd+bytes(28)'
mangle header 'd[:20]+bytes([d[20]^1])+d[21:]'
for bad in cut-boundary cut-mid flipped swapped dropped appended header; do
  rm -f "$tmp/plain"
  refused "$bad: decrypt -o FILE fails" "authenticate\|truncated\|after the last chunk" \
    kvctl decrypt "$k" --aad v1 --in "$tmp/$bad" -o "$tmp/plain"
  expect "$bad: ...and FILE was not made, no temporary file left" "absent 0" \
    "$([ -e "$tmp/plain" ] && echo present || echo absent) $(find "$tmp" -name '*.kvctl-tmp' | wc -l)"
done
refused "a stream cut at a chunk boundary says truncated" "the stream ends before its last chunk" \
  kvctl decrypt "$k" --aad v1 --in "$tmp/cut-boundary" -o "$tmp/plain"
refused "bytes appended after a full last chunk are named" "data after the last chunk" \
  kvctl decrypt "$k" --in "$tmp/two.kvs.extra" -o "$tmp/plain"
refused "chunks 0 and 1 swapped: chunk 0 does not authenticate" "chunk 0 does not authenticate" \
  kvctl decrypt "$k" --aad v1 --in "$tmp/swapped" -o "$tmp/plain"
echo "old contents" > "$tmp/plain"
refused "a flipped byte: decrypt over an existing FILE fails" "was not written" \
  kvctl decrypt "$k" --aad v1 --in "$tmp/flipped" -o "$tmp/plain"
expect "...and leaves it as it was" "old contents" "$(cat "$tmp/plain")"
# shellcheck disable=SC2016 # expanded by that bash
refused "to stdout: the error says the output is incomplete" "incomplete and must be discarded" \
  bash -c '"$KVCTL" decrypt "$1" --aad v1 --in "$2" > "$3"' _ "$k" "$tmp/flipped" "$tmp/partial"
expect "...and only authenticated chunks were written (the flip is in chunk 1)" "$chunk" "$(stat -c %s "$tmp/partial")"
refused "another --aad fails at chunk 0" "chunk 0 does not authenticate" kvctl decrypt "$k" --aad v2 --in "$kvs" -o "$tmp/plain"
refused "no --aad fails too" "chunk 0 does not authenticate" kvctl decrypt "$k" --in "$kvs" -o "$tmp/plain"
other=$(kvctl genkey chacha20-poly1305)
refused "a key of another algorithm is named" "key $other is chacha20-poly1305, but the data was encrypted with an aes256-gcm key" \
  kvctl decrypt "$other" --aad v1 --in "$kvs" -o "$tmp/plain"
k2=$(kvctl genkey aes256-gcm)
refused "another key of the same algorithm fails at chunk 0" "chunk 0 does not authenticate" \
  kvctl decrypt "$k2" --aad v1 --in "$kvs" -o "$tmp/plain"

# --- KVE1 (the envelope kvctl wrote before KVS1) still decrypts.
key_hex=$(random_hex 32)
kve=$(kvctl import aes256-gcm --format hex --key-file - <<< "$key_hex")
$py - "$key_hex" "$tmp/old.kve" <<'EOF'
import os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
nonce = os.urandom(12)
sealed = AESGCM(bytes.fromhex(sys.argv[1])).encrypt(nonce, b"sealed by the old kvctl", b"hdr")
# KVE1: magic, KV_ALG_AES256_GCM (2), flags 0, nonce, tag, ciphertext.
open(sys.argv[2], "wb").write(b"KVE1\x02\x00" + nonce + sealed[-16:] + sealed[:-16])
EOF
expect "a KVE1 envelope (made from its documented layout) decrypts" "sealed by the old kvctl" \
  "$(kvctl decrypt "$kve" --aad hdr --in "$tmp/old.kve")"
base64 -w 64 "$tmp/old.kve" > "$tmp/old.b64"
expect "...in base64 too" "sealed by the old kvctl" "$(kvctl decrypt "$kve" --aad hdr --in "$tmp/old.b64")"
run "encrypt --nonce still writes a one-shot KVE1 envelope" kvctl encrypt "$k" --nonce "$(random_hex 12)" --in "$tmp/s" -o "$tmp/n.kve"
expect "...that decrypts" same "$(kvctl decrypt "$k" --in "$tmp/n.kve" | cmp -s - "$tmp/s" && echo same)"
expect "...KVE1 it is" KVE1 "$(head -c 4 "$tmp/n.kve")"
refused "encrypt --nonce above the limit says how to stream" "leave --nonce out" \
  kvctl encrypt "$k" --nonce "$(random_hex 12)" --in "$tmp/two"
cbc=$(kvctl genkey aes256-cbc)
head -c 1000 /dev/urandom > "$tmp/small"
kvctl encrypt "$cbc" --in "$tmp/small" -o "$tmp/small.kve"
expect "AES-CBC: one-shot KVE1 up to the limit, round trip" same \
  "$(kvctl decrypt "$cbc" --in "$tmp/small.kve" | cmp -s - "$tmp/small" && echo same)"
refused "AES-CBC above the limit: the limit, and that an AEAD key streams any size" "max_data_bytes = 1048576 bytes.*AEAD key" \
  kvctl encrypt "$cbc" --in "$tmp/two"

# --- hash past the limit (userspace SHA-2), mac refused past it, --prehash.
head -c $((3 * 1024 * 1024)) /dev/urandom > "$tmp/three"
expect "hash of a 3 MiB file is sha256sum's" "$(sha256sum "$tmp/three")" "$(kvctl hash --in "$tmp/three")"
expect "hash --alg sha512 of it is sha512sum's" "$(sha512sum "$tmp/three" | cut -d' ' -f1)" \
  "$(kvctl hash --alg sha512 --in "$tmp/three" | cut -d' ' -f1)"
expect "hash from stdin too" "$(sha256sum < "$tmp/three" | cut -d' ' -f1)" "$(kvctl hash < "$tmp/three" | cut -d' ' -f1)"
expect "hash of a small file (in the kernel) is sha256sum's" "$(sha256sum "$tmp/small")" "$(kvctl hash --in "$tmp/small")"
mac_hex=$(random_hex 32)
m=$(kvctl import hmac-sha256 --format hex --key-file - <<< "$mac_hex")
refused "mac above the limit is refused with the limit and the remedies" "max_data_bytes = 1048576 bytes.*64 MiB.*--prehash" \
  kvctl mac "$m" --in "$tmp/three"
refused "verify-mac above the limit too" "max_data_bytes = 1048576 bytes" \
  kvctl verify-mac "$m" --mac "$(random_hex 32)" --in "$tmp/three"
run "mac --prehash sha256 of 3 MiB" kvctl mac "$m" --prehash sha256 --in "$tmp/three"
pre=$out
want=$($py - "$mac_hex" "$tmp/three" <<'EOF'
import hashlib, hmac, sys
d = hashlib.sha256(open(sys.argv[2], "rb").read()).digest()
print(hmac.new(bytes.fromhex(sys.argv[1]), b"kvctl-prehash-v1:sha256:" + d, "sha256").hexdigest())
EOF
)
expect "it is HMAC(key, \"kvctl-prehash-v1:sha256:\" || SHA-256(input)), as documented" "$want" "$pre"
run "verify-mac --prehash sha256 accepts it" kvctl verify-mac "$m" --prehash sha256 --mac "$pre" --in "$tmp/three"
status "verify-mac --prehash sha512 does not" 1 kvctl verify-mac "$m" --prehash sha512 --mac "$pre" --in "$tmp/three"
status "nor verify-mac --prehash of another input" 1 kvctl verify-mac "$m" --prehash sha256 --mac "$pre" --in "$tmp/two"

# --- no progress bar in pipes; one on a terminal with --progress.
kvctl encrypt "$k" --in "$big" -o "$tmp/quiet.kvs" 2> "$tmp/stderr"
expect "no progress bar when stderr is not a terminal (8 MiB+ or not)" 0 "$(stat -c %s "$tmp/stderr")"
cat "$big" "$big" > "$tmp/ten"
kvctl encrypt "$k" --in "$tmp/ten" -o "$tmp/ten.kvs" 2> "$tmp/stderr"
expect "...even for 10 MiB" 0 "$(stat -c %s "$tmp/stderr")"
if command -v script > /dev/null; then
  # shellcheck disable=SC2016 # expanded by the inner sh
  shown=$(env -u KEYVAULT_FD script -qec "$KVCTL exec -- sh -c 'k=\$($KVCTL genkey aes256-gcm); $KVCTL encrypt \$k --progress --in $big -o $tmp/tty.kvs'" /dev/null 2>&1)
  expect "--progress on a terminal draws a bar" yes "$(grep -q 'encrypting' <<< "$shown" && echo yes)"
fi

# --- peak RSS: the same for 5 and 50 MiB.
if [ -x /usr/bin/time ]; then
  for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$big"; done > "$tmp/fifty"
  rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
  e5=$(rss "$KVCTL" encrypt "$k" --in "$big" -o "$tmp/r5.kvs")
  e50=$(rss "$KVCTL" encrypt "$k" --in "$tmp/fifty" -o "$tmp/r50.kvs")
  d5=$(rss "$KVCTL" decrypt "$k" --in "$tmp/r5.kvs" -o "$tmp/r5")
  d50=$(rss "$KVCTL" decrypt "$k" --in "$tmp/r50.kvs" -o "$tmp/r50")
  # shellcheck disable=SC2016 # expanded by that bash
  p50=$(rss bash -c '"$KVCTL" decrypt "$1" --in "$2" | cat > /dev/null' _ "$k" "$tmp/r50.kvs")
  echo "peak RSS (KiB): encrypt 5 MiB $e5, 50 MiB $e50; decrypt 5 MiB $d5, 50 MiB $d50; decrypt 50 MiB to a pipe (bash) $p50"
  expect "50 MiB decrypt to a file is the same bytes" same "$(cmp -s "$tmp/fifty" "$tmp/r50" && echo same)"
  expect "encrypt's peak RSS does not grow with the file (50 MiB within 1 MiB of 5 MiB's)" yes \
    "$([ $((e50 - e5)) -lt 1024 ] && echo yes)"
  expect "decrypt's neither" yes "$([ $((d50 - d5)) -lt 1024 ] && echo yes)"
  expect "and it is small (under 16 MiB)" yes "$([ "$e50" -lt 16384 ] && [ "$d50" -lt 16384 ] && echo yes)"
fi

finish "$passed" "$failed"
