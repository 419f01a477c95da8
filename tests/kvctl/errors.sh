#!/usr/bin/env bash
# kvctl's exit statuses, messages and --json errors against the real module
# (the table in kvctl/src/fail.rs and the README): 1 verification failed,
# 2 usage, 3 no device, 4 permission denied, 5 key unknown/revoked/expired,
# 6 quota, 7 too large, 8 invalid input; no panic on a closed stdout; no
# binary on a terminal. Run inside the test VM with keyvault.ko loaded:
#
#   scripts/build-userspace && make &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh errors
#
# Three parts: without a kept vault (genkey refused, --ephemeral), in a
# vault (this script again, under `kvctl exec`), then without the module
# (rmmod, checks, insmod again). The last line is `N passed, N failed`.
self=$(realpath "$0")
source "$(dirname "$0")/lib.sh"
# says NAME PATTERN: ok when the last command's output ($out) says PATTERN.
says() { if grep -q -- "$2" <<< "$out"; then ok "$1"; else fail "$1" "no '$2' in: $out"; fi; }
python=/usr/bin/python3
[ -x "$python" ] || python=python3
# json_field NAME KEY... : ok when the single line in $out is JSON whose
# ["error"][KEY] (or [KEY] for a top-level KEY) values are the expected ones,
# given as KEY=VALUE (VALUE as Python prints it: True, 5, 'usage').
json_fields() {
  local name=$1; shift
  local got
  if got=$("$python" -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert len(lines) == 1, f"{len(lines)} lines"
o = json.loads(lines[0])
for kv in sys.argv[1:]:
    k, want = kv.split("=", 1)
    v = o[k] if k in o else o["error"][k]
    assert repr(v) == want, f"{k}: {v!r}, expected {want}"
' "$@" <<< "$out" 2>&1); then ok "$name"; else fail "$name" "$got; output: $out"; fi
}

if [ "${1:-}" = --in-vault ]; then
  f=$tmp/msg; echo "release 1.0" > "$f"
  # --- 1: the "no" answers.
  ed=$(kvctl genkey ed25519)
  sig=$(kvctl sign "$ed" --in "$f")
  status "verify of a signature of other data: 1" 1 sh -c "echo other | $KVCTL verify $ed --sig $sig"
  says "...and says bad signature" "bad signature"
  status "verify of the right data: 0" 0 kvctl verify "$ed" --sig "$sig" --in "$f"
  status "verify --json of a bad signature: 1" 1 sh -c "echo other | $KVCTL --json verify $ed --sig $sig"
  json_fields "...one JSON line: valid false and the error" valid=False kind="'verification_failed'" exit_code=1 op="'verify'" errno=74
  hm=$(kvctl genkey hmac-sha256)
  mac=$(kvctl mac "$hm" --in "$f")
  status "verify-mac of a MAC of other data: 1" 1 sh -c "echo other | $KVCTL verify-mac $hm --mac $mac"
  says "...and says MAC mismatch" "MAC mismatch"
  aes=$(kvctl genkey aes256-gcm)
  kvctl encrypt "$aes" --in "$f" --out "$tmp/sealed"
  { head -c -1 "$tmp/sealed"; printf 'X'; } > "$tmp/altered"
  status "decrypt of an altered envelope (AEAD tag): 1" 1 kvctl decrypt "$aes" --in "$tmp/altered"

  # --- 2: usage.
  status "an unknown algorithm: 2" 2 kvctl genkey rot13
  status "--json with a usage error: 2" 2 kvctl --json genkey rot13
  json_fields "...one JSON line, kind usage" kind="'usage'" exit_code=2
  status "batch and exec do not nest in a batch: 2" 2 sh -c "echo 'exec -- true' | $KVCTL batch"

  # --- 4: which permission.
  status "sign through a handle without sign: 4" 4 kvctl exec --caps verify,getinfo -- "$KVCTL" sign "$ed" --in "$f"
  says "...names the sign capability" "lacks the sign capability"
  indent <<< "$out"
  enc_only=$(kvctl genkey aes256-gcm --usage encrypt)
  kvctl encrypt "$enc_only" --in "$f" --out "$tmp/enc_only"
  status "decrypt with a key whose usage is encrypt: 4" 4 kvctl decrypt "$enc_only" --in "$tmp/enc_only"
  says "...names the key's policy" "key $enc_only's policy does not allow decrypt (usage encrypt)"
  indent <<< "$out"
  status "--json of a denied capability: 4" 4 kvctl exec --caps verify,getinfo -- "$KVCTL" --json sign "$ed" --in "$f"
  json_fields "...kind permission_denied, errno EPERM, op sign" kind="'permission_denied'" exit_code=4 errno=1 op="'sign'"

  # --- 5: which key, and what happened to it.
  status "an unknown id: 5" 5 kvctl info 999999
  says "...names the id" "no key 999999 in this vault"
  status "--json of an unknown id: 5" 5 kvctl --json mac 999999 --in "$f"
  json_fields "...kind key_not_found, errno ENOENT" kind="'key_not_found'" exit_code=5 errno=2 op="'mac'"
  rev=$(kvctl genkey hmac-sha256)
  kvctl revoke "$rev"
  status "a revoked key: 5" 5 kvctl mac "$rev" --in "$f"
  says "...says it was revoked" "key $rev was revoked"
  exp=$(kvctl genkey hmac-sha256 --ttl 1s)
  sleep 1.2
  status "an expired key: 5" 5 kvctl mac "$exp" --in "$f"
  says "...says it expired" "key $exp has expired"

  # --- 6: which quota.
  once=$(kvctl genkey hmac-sha256 --max-uses 1)
  status "the first use of a --max-uses 1 key: 0" 0 kvctl mac "$once" --in "$f"
  status "its second use: 6" 6 kvctl mac "$once" --in "$f"
  says "...names the key's max uses" "key $once has used its max uses (1/1)"

  # --- 7: too large.
  head -c $((2 << 20)) /dev/zero > "$tmp/big"
  status "a MAC of 2 MiB: 7" 7 kvctl mac "$hm" --in "$tmp/big"
  says "...names the module's limit" "max_data_bytes"

  # --- 8: malformed input.
  status "decrypt of a file that is no envelope: 8" 8 kvctl decrypt "$aes" --in "$f"
  echo "not a signature" > "$tmp/junk.sig"
  status "verify with a malformed signature file: 8" 8 kvctl verify "$ed" --sig-file "$tmp/junk.sig" --in "$f"
  status "encrypt with an HMAC key (wrong key type): 8" 8 kvctl encrypt "$hm" --in "$f"

  # --- --json for commands that print nothing.
  gone=$(kvctl genkey aes128-gcm)
  run "destroy --json" kvctl --json destroy "$gone"
  json_fields "...says what it destroyed" ok=True destroyed="$gone"
  run "revoke --json" kvctl --json revoke "$aes"
  json_fields "...says what it revoked" ok=True revoked="$aes"

  # --- closed pipes and terminals.
  # shellcheck disable=SC2016 # expanded by that bash
  status "list | head -0: no panic" 0 bash -c '"$KVCTL" list | head -0; s=${PIPESTATUS[0]}; [ "$s" = 0 ] || [ "$s" = 141 ]'
  if grep -q panicked <<< "$out"; then fail "...no panic message" "$out"; else ok "...no panic message"; fi
  if command -v script > /dev/null; then
    t=$(kvctl genkey aes256-gcm)
    kvctl encrypt "$t" --in "$f" --out "$tmp/t.sealed"
    status "encrypt to a terminal is refused: 2" 2 script -qec "$KVCTL encrypt $t --in $f" /dev/null
    says "...says how to write it" "the envelope is binary: write it to a file with --out FILE"
    status "decrypt to a terminal is refused: 2" 2 script -qec "$KVCTL decrypt $t --in $tmp/t.sealed" /dev/null
    status "...with --force it is written" 0 script -qec "$KVCTL --force decrypt $t --in $tmp/t.sealed" /dev/null
    says "...the plaintext is on the terminal" "release 1.0"
    status "encrypt --format base64 to a terminal is text: 0" 0 script -qec "$KVCTL encrypt $t --in $f --format base64" /dev/null
  else
    echo "skip binary-to-terminal checks: no script(1) to fake a terminal"
  fi
  finish "$passed" "$failed"
  exit 0
fi

[ -e /dev/keyvault ] || { echo "FAIL setup: no /dev/keyvault"; finish 0 1; }

# --- Part 1: keys made where no vault outlives kvctl.
status "genkey outside kvctl exec or batch: 2" 2 kvctl genkey aes256-gcm
for way in "kvctl exec -- sh -c" "kvctl batch" "kvctl keystore add" "--ephemeral"; do
  says "...the hint names $way" "$way"
done
indent <<< "$out"
status "import outside: 2" 2 kvctl import aes128-gcm --format hex --key-file - <<< 00112233445566778899aabbccddeeff
run "genkey --ephemeral: 0" kvctl --ephemeral genkey aes256-gcm
expect "...prints an id" yes "$(grep -qE '^[0-9]+$' <<< "$out" && echo yes)"
expect "...and says on stderr that the key is gone" yes "$(grep -q 'destroyed as this kvctl exits' "$tmp/err" && echo yes)"
status "genkey in a batch: 0" 0 sh -c "printf 'genkey aes256-gcm\ninfo @last\n' | $KVCTL batch"
# shellcheck disable=SC2016 # expanded by that bash
status "algorithms | true: no panic" 0 bash -c '"$KVCTL" algorithms | true; s=${PIPESTATUS[0]}; [ "$s" = 0 ] || [ "$s" = 141 ]'
expect "algorithms lists aes256-gcm with its sizes and usages" "aes256-gcm 256 encrypt,decrypt,wrap,unwrap encrypt,decrypt" \
  "$(kvctl algorithms | grep '^aes256-gcm ' | tr -s ' ')"

# --- Part 2: in a vault.
log=$tmp/in-vault.log
"$KVCTL" exec -- bash "$self" --in-vault 2>&1 | tee "$log"
read -r p f < <(run_counts "$log" "${PIPESTATUS[0]}")
passed=$((passed + p)) failed=$((failed + f))

# --- Part 3: no module (last: it comes back as it was).
if rmmod keyvault 2> "$tmp/rmmod"; then
  status "no module: 3" 3 kvctl list
  says "...and says to load it" "is the keyvault module loaded"
  status "no module, --json: 3" 3 kvctl --json caps
  json_fields "...kind no_device, op open" kind="'no_device'" exit_code=3 op="'open'"
  # Small quotas: `kvctl limits` shows the module's parameters, and the
  # refusal names the quota that was hit.
  if insmod "$KV_ROOT/keyvault.ko" max_keys_per_vault=3 max_data_bytes=4096; then
    for _ in 1 2 3 4 5; do [ -e /dev/keyvault ] && break; sleep 0.2; done
    run "limits: the module's parameters" kvctl limits
    indent <<< "$out"
    expect "...keys per vault and input bytes" "0 of 3 (max_keys_per_vault)|4096 (max_data_bytes)" \
      "$(grep -o '0 of 3 (max_keys_per_vault)' <<< "$out")|$(grep -o '4096 (max_data_bytes)' <<< "$out")"
    run "limits --json" kvctl --json limits
    expect "...vault max_keys 3, max_data_bytes 4096" "3 4096" \
      "$("$python" -c 'import json, sys; o = json.load(sys.stdin); print(o["vault"]["max_keys"], o["max_data_bytes"])' <<< "$out" 2>&1)"
    status "a fourth key in a vault of three: 6" 6 sh -c "printf 'genkey hmac-sha256\ngenkey hmac-sha256\ngenkey hmac-sha256\ngenkey hmac-sha256\n' | $KVCTL batch"
    says "...naming the vault's quota" "this vault holds its maximum of 3 keys (max_keys_per_vault)"
    indent <<< "$out"
    head -c 5000 /dev/zero > "$tmp/5000"
    status "a MAC of 5000 bytes under a 4096-byte limit: 7" 7 \
      sh -c "printf 'genkey hmac-sha256\nmac @last --in $tmp/5000\n' | $KVCTL batch"
    says "...naming the limit" "4096"
    indent <<< "$out"
    rmmod keyvault
  else
    fail "insmod keyvault.ko max_keys_per_vault=3 max_data_bytes=4096"
  fi
  if insmod "$KV_ROOT/keyvault.ko"; then ok "the module loads again"; else fail "the module loads again"; fi
  for _ in 1 2 3 4 5; do [ -e /dev/keyvault ] && break; sleep 0.2; done
  status "...and kvctl works again" 0 kvctl --ephemeral genkey ed25519
else
  fail "rmmod keyvault" "$(cat "$tmp/rmmod")"
fi
status "an fd that is not a vault: 3" 3 env KEYVAULT_FD=0 "$KVCTL" caps
finish "$passed" "$failed"
