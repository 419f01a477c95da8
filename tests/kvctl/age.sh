#!/usr/bin/env bash
# age-plugin-keyvault with the real age (Debian's age 1.1.1: /usr/bin/age,
# age-keygen), inside the test VM: X25519 identities that live in the
# kernel, found in the vault of `kvctl exec` ($KEYVAULT_FD and
# $KEYVAULT_KEY_<NAME>, a plain key and a keystore key) or through
# keyvault-agent; files made by stock `age -r age1...` decrypt through the
# plugin (binary, armored, 1 MiB); other recipients, tampered headers and
# bodies, low-order shares, missing keys and the agent's refusals fail
# cleanly; the identity is never wrappable and no derived key outlives a
# decryption.
#
#   scripts/build-userspace && make &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh age
source "$(dirname "$0")/lib.sh"

AGE=/usr/bin/age
PLUGIN=$KV_ROOT/target/release/age-plugin-keyvault
in_vault "$@" "$AGE" /usr/bin/age-keygen "$AGENT" "$PLUGIN" "$(command -v keyctl)" "$(command -v setpriv)"
# age finds the plugin on PATH by its name (uid 65534's age too); uid
# 65534 reads files here.
on_path kvctl age-plugin-keyvault || { echo "FAIL setup: the plugin on PATH"; finish 0 1; }
PLUGIN=$tmp/bin/age-plugin-keyvault
tag=kvage$$
root=$(head -c 32 /dev/urandom | keyctl padd logon "$tag:root" @u)
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  keyctl unlink "$root" @u >/dev/null 2>&1; rm -rf "$tmp"
}
trap cleanup EXIT
# no_panic NAME: the last output ($out) shows no crash of the plugin.
no_panic() { if grep -qiE "panick|RUST_BACKTRACE|SIGSEGV" <<< "$out"; then fail "$1" "$out"; else ok "$1"; fi; }
# dec ARGS...: age -d, the plaintext on stdout.
dec() { "$AGE" -d "$@"; }
# same NAME A B: files A and B are equal.
same() { if cmp -s "$2" "$3"; then ok "$1"; else fail "$1" "$2 and $3 differ"; fi; }
nkeys() { kvctl list | wc -l; }

head -c 1000 /dev/urandom > "$tmp/f"
head -c $((1024 * 1024)) /dev/urandom > "$tmp/big"

# --- 1. Under kvctl exec: a key of this script's vault, named by
# $KEYVAULT_KEY_AGE_ID (as `kvctl exec --keystore` names its keys).
run "genkey x25519 in the vault of kvctl exec" kvctl genkey x25519
export KEYVAULT_KEY_AGE_ID=$out
id=$out
expect "the identity's key is not wrappable: it can never leave the kernel" no \
  "$(kvctl info "$id" | grep -q wrappable && echo yes || echo no)"
run "--identity age-id prints the identity file" age-plugin-keyvault --identity age-id
printf '%s\n' "$out" > "$tmp/id.txt"
indent < "$tmp/id.txt"
expect "the file: name, recipient, identity" \
  "# name: age-id|# recipient: age1|AGE-PLUGIN-KEYVAULT-1" \
  "$(sed -n '1p;2s/\(age1\).*/\1/p;3s/\(-1\).*/\1/p' "$tmp/id.txt" | paste -sd'|')"
run "--recipient age-id" age-plugin-keyvault --recipient age-id
rcpt=$out
expect "...is the file's recipient" "# recipient: $rcpt" "$(sed -n 2p "$tmp/id.txt")"
expect "--recipient IDENTITY gives it too (as age-keygen -y)" "$rcpt" \
  "$(age-plugin-keyvault --recipient "$(sed -n 3p "$tmp/id.txt")")"
expect "the identity line carries no secret: the same for the same name, whatever the key" \
  "$(sed -n 3p "$tmp/id.txt")" "$(KEYVAULT_KEY_AGE_ID=$(kvctl genkey x25519) age-plugin-keyvault --identity age-id | sed -n 3p)"
n0=$(nkeys)

run "stock age -r age1... encrypts to the key" "$AGE" -r "$rcpt" -o "$tmp/f.age" "$tmp/f"
expect "...a native X25519 stanza" 1 "$(grep -c '^-> X25519 ' "$tmp/f.age")"
run "age -d -i id.txt decrypts through the plugin" dec -i "$tmp/id.txt" -o "$tmp/f.out" "$tmp/f.age"
same "...the plaintext" "$tmp/f" "$tmp/f.out"
run "armored (-a)" "$AGE" -a -r "$rcpt" -o "$tmp/f.asc" "$tmp/f"
expect "...is PEM-armored" "-----BEGIN AGE ENCRYPTED FILE-----" "$(head -1 "$tmp/f.asc")"
run "armored decrypts, from stdin to stdout" sh -c "'$AGE' -d -i '$tmp/id.txt' < '$tmp/f.asc' > '$tmp/f.out2'"
same "...the plaintext" "$tmp/f" "$tmp/f.out2"
run "1 MiB" "$AGE" -r "$rcpt" -o "$tmp/big.age" "$tmp/big"
run "1 MiB decrypts" dec -i "$tmp/id.txt" -o "$tmp/big.out" "$tmp/big.age"
same "...the 1 MiB plaintext" "$tmp/big" "$tmp/big.out"
expect "after three decryptions the vault has no extra key (each derived key destroyed)" "$n0" "$(nkeys)"
expect "...its key count (LIMITS, every key of the vault) is unchanged too" \
  "$(kvctl --json limits | grep -o '"vault":{"keys":[0-9]*')" \
  "$(dec -i "$tmp/id.txt" "$tmp/f.age" > /dev/null; kvctl --json limits | grep -o '"vault":{"keys":[0-9]*')"

# --- 3. Other recipients.
age-keygen -o "$tmp/other.txt" 2> /dev/null
other=$(age-keygen -y "$tmp/other.txt")
"$AGE" -r "$other" -o "$tmp/o.age" "$tmp/f"
refused "a file for another recipient: fails, no identity matched" "no identity matched" \
  dec -i "$tmp/id.txt" "$tmp/o.age"
no_panic "...cleanly (no crash)"
status "...exit status 1" 1 dec -i "$tmp/id.txt" -o "$tmp/o.out" "$tmp/o.age"
"$AGE" -r "$other" -r "$rcpt" -o "$tmp/both.age" "$tmp/f"
run "a file for both recipients decrypts through the plugin" dec -i "$tmp/id.txt" -o "$tmp/both.out" "$tmp/both.age"
same "...the plaintext" "$tmp/f" "$tmp/both.out"
run "...and with the other's key" dec -i "$tmp/other.txt" -o "$tmp/both.out2" "$tmp/both.age"
cat "$tmp/other.txt" "$tmp/id.txt" > "$tmp/ids.txt"
run "an identity file with a native key first, then ours: a file for ours decrypts" \
  dec -i "$tmp/ids.txt" -o "$tmp/f.out3" "$tmp/f.age"
same "...the plaintext" "$tmp/f" "$tmp/f.out3"

# --- 4. Tampering, malformed stanzas, missing keys.
# stanza LINE-SED: f.age with its X25519 stanza line edited.
stanza() { sed "/^-> X25519 /$1" "$tmp/f.age" > "$tmp/t.age"; }
body=$(sed -n '/^-> X25519 /{n;p}' "$tmp/f.age")
if [ "${body:0:1}" = A ]; then flip=B${body:1}; else flip=A${body:1}; fi
sed "s|^$body\$|$flip|" "$tmp/f.age" > "$tmp/t.age"
refused "a tampered stanza body: the tag fails in the kernel, no identity matched" "no identity matched" \
  dec -i "$tmp/id.txt" "$tmp/t.age"
share=$(sed -n 's/^-> X25519 //p' "$tmp/f.age")
other_share=$(sed -n 's/^-> X25519 //p' "$tmp/o.age")
stanza "s|$share|$other_share|"
refused "another file's share: no identity matched" "no identity matched" dec -i "$tmp/id.txt" "$tmp/t.age"
stanza "s|\$| extra|"
refused "an X25519 stanza with two arguments: the plugin rejects the stanza" "one argument, this one 2" \
  dec -i "$tmp/id.txt" "$tmp/t.age"
stanza "s|$share|${share:0:20}|"
refused "a short share: rejected" "not 32 bytes" dec -i "$tmp/id.txt" "$tmp/t.age"
stanza "s|$share|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|"
refused "a low-order share (zero): the kernel refuses it (EINVAL), a stanza error" "low-order" \
  dec -i "$tmp/id.txt" "$tmp/t.age"
no_panic "...cleanly"
expect "the refused stanzas left no derived key behind" "$n0" "$(nkeys)"
size=$(stat -c %s "$tmp/f.age")
{ head -c $((size - 100)) "$tmp/f.age"; printf 'X'; tail -c 99 "$tmp/f.age"; } > "$tmp/t.age"
if out=$(dec -i "$tmp/id.txt" "$tmp/t.age" 2>&1); then fail "a tampered payload fails" "decrypted"
elif grep -qF "$(head -c 16 "$tmp/f")" <<< "$out"; then fail "a tampered payload fails" "plaintext shown"
else ok "a tampered payload fails (the file key opened, the payload's tag did not)"; indent <<< "$out"; fi

gone=$(kvctl genkey x25519)
KEYVAULT_KEY_GONE=$gone age-plugin-keyvault --identity gone > "$tmp/gone.txt"
"$AGE" -r "$(KEYVAULT_KEY_GONE=$gone age-plugin-keyvault --recipient gone)" -o "$tmp/g.age" "$tmp/f"
kvctl destroy "$gone"
refused "an identity whose key is gone: a clear error naming it" "no key gone: \$KEYVAULT_KEY_GONE=$gone" \
  env KEYVAULT_KEY_GONE="$gone" "$AGE" -d -i "$tmp/gone.txt" "$tmp/g.age"
refused "--identity of a missing key: the same" "no key gone" \
  env KEYVAULT_KEY_GONE="$gone" age-plugin-keyvault --identity gone
refused "a name the vault does not give, and no agent: both said" \
  "no key nokey: the vault of \$KEYVAULT_FD has no \$KEYVAULT_KEY_NOKEY, and no keyvault-agent at" \
  env KEYVAULT_AGENT_SOCK="$tmp/none.sock" age-plugin-keyvault --recipient nokey
signer=$(kvctl genkey ed25519)
refused "an ed25519 key is not an age identity" "key ed is ed25519, not x25519" \
  env KEYVAULT_KEY_ED="$signer" age-plugin-keyvault --identity ed
refused "a bad name is a usage error" "bad key name" age-plugin-keyvault --identity 'a/b'

# --- kvctl exec --keystore: a key that survives reboots (wrapped under a
# keyring root; so wrappable), each run a new vault.
ks=$tmp/ks
mkdir "$ks"
store() { env -u KEYVAULT_FD -u KEYVAULT_KEY_AGE_ID "$KVCTL" exec --keystore "$ks" --root "%logon:$tag:root" -- "$@"; }
kvctl keystore add --keystore "$ks" --root "%logon:$tag:root" --name age-store x25519 > /dev/null
run "kvctl exec --keystore -- age-plugin-keyvault --identity age-store" store age-plugin-keyvault --identity age-store
printf '%s\n' "$out" > "$tmp/store.txt"
"$AGE" -r "$(sed -n 's/^# recipient: //p' "$tmp/store.txt")" -o "$tmp/s.age" "$tmp/f"
run "kvctl exec --keystore -- age -d (another vault, the key unwrapped into it)" \
  store "$AGE" -d -i "$tmp/store.txt" -o "$tmp/s.out" "$tmp/s.age"
same "...the plaintext" "$tmp/f" "$tmp/s.out"
# shellcheck disable=SC2016 # expanded in the exec'd shell
run "...and that vault then holds only the stored key" \
  store sh -c '"$0" -d -i "$1" "$2" > /dev/null && "$KVCTL" list | wc -l' "$AGE" "$tmp/store.txt" "$tmp/s.age"
expect "...one key" 1 "$out"

# --- 2. Through keyvault-agent.
sock=$tmp/agent.sock
cat > "$tmp/agent.toml" <<EOF
[agent]
socket = "$sock"

[[key]]
name = "age-id"
alg = "x25519"

[[key]]
name = "age-noexch"
alg = "x25519"

[[allow]]
name = "root-age"
uid = 0
keys = ["age-id"]
caps = ["exchange", "getinfo"]

[[allow]]
name = "root-info-only"
uid = 0
keys = ["age-noexch"]
caps = ["getinfo"]

[[allow]]
name = "nobody-info"
uid = 65534
keys = ["age-id"]
caps = ["getinfo"]
EOF
log=$tmp/agent.log
if start_agent "$tmp/agent.toml" "$log"; then ok "the agent starts"; else fail "the agent starts" "$(cat "$log")"; finish "$passed" "$failed"; fi
# via CMD...: as a process that was handed no vault.
via() { env -u KEYVAULT_FD -u KEYVAULT_KEY_AGE_ID KEYVAULT_AGENT_SOCK="$sock" "$@"; }
as_nobody() { via setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
agent_keys() { via "$KVCTL" agent exec --key age-id --caps getinfo -- "$KVCTL" --json limits | grep -o '"vault":{"keys":[0-9]*'; }

run "--identity age-id through the agent" via age-plugin-keyvault --identity age-id
printf '%s\n' "$out" > "$tmp/aid.txt"
arcpt=$(sed -n 's/^# recipient: //p' "$tmp/aid.txt")
expect "...its recipient is the agent key's (not this vault's age-id)" yes \
  "$([ -n "$arcpt" ] && [ "$arcpt" != "$rcpt" ] && echo yes)"
# shellcheck disable=SC2016 # expanded by the inner sh
expect "the agent's key is not wrappable" no \
  "$(via "$KVCTL" agent exec --key age-id --caps getinfo -- sh -c '"$KVCTL" info "$KEYVAULT_KEY_AGE_ID"' | grep -q wrappable && echo yes || echo no)"
"$AGE" -r "$arcpt" -o "$tmp/a.age" "$tmp/f"
"$AGE" -a -r "$arcpt" -o "$tmp/a.asc" "$tmp/big"
k0=$(agent_keys)
run "age -d through the agent" via "$AGE" -d -i "$tmp/aid.txt" -o "$tmp/a.out" "$tmp/a.age"
same "...the plaintext" "$tmp/f" "$tmp/a.out"
run "armored, 1 MiB, through the agent" via "$AGE" -d -i "$tmp/aid.txt" -o "$tmp/a.out2" "$tmp/a.asc"
same "...the plaintext" "$tmp/big" "$tmp/a.out2"
grep -q "exchange with key 'age-id' into a one-use chacha20-poly1305 key" "$log" &&
  ok "the agent logs each exchange (after destroying the derived key)" || fail "the agent logs the exchange" "$(tail -3 "$log")"
expect "the agent's vault holds no derived key afterwards" "$k0" "$(agent_keys)"
refused "through the agent, a file for another recipient: no identity matched" "no identity matched" \
  via "$AGE" -d -i "$tmp/aid.txt" "$tmp/o.age"

run "--recipient age-noexch (its rule gives getinfo only)" via age-plugin-keyvault --identity age-noexch
printf '%s\n' "$out" > "$tmp/noexch.txt"
"$AGE" -r "$(sed -n 's/^# recipient: //p' "$tmp/noexch.txt")" -o "$tmp/n.age" "$tmp/f"
refused "a rule without exchange: decryption fails with the agent's refusal" "refused (policy)" \
  via "$AGE" -d -i "$tmp/noexch.txt" "$tmp/n.age"
no_panic "...cleanly"
chmod 644 "$tmp/aid.txt" "$tmp/a.age"
run "uid 65534 may read the recipient (its rule gives getinfo)" as_nobody "$PLUGIN" --recipient age-id
expect "...the same recipient" "$arcpt" "$out"
refused "uid 65534 may not decrypt (its rule lacks exchange): the agent's refusal, in age's error" \
  "uid 65534.*does not give exchange" as_nobody "$AGE" -d -i "$tmp/aid.txt" "$tmp/a.age"
grep -q "refused (policy).*uid 65534" "$log" && ok "...and the agent logged it" || fail "...and the agent logged it" "$(tail -3 "$log")"
refused "uid 65533, no rule at all: refused, saying so" "key age-id: .*no rule of the policy matches .*uid 65533" \
  via setpriv --reuid=65533 --regid=65533 --clear-groups "$AGE" -d -i "$tmp/aid.txt" "$tmp/a.age"
refused "through the agent, a key it does not have: a clear error naming it" "key 'gone'" \
  via "$AGE" -d -i "$tmp/gone.txt" "$tmp/g.age"
expect "after all that, still no derived key in the agent's vault" "$k0" "$(agent_keys)"
kill "$agent"; wait "$agent" 2>/dev/null
refused "the agent stopped: a clear error" "no keyvault-agent at $sock" \
  via "$AGE" -d -i "$tmp/aid.txt" "$tmp/a.age"

finish "$passed" "$failed"
