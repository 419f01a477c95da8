#!/usr/bin/env bash
# keyvault-agent's broker, for real, inside the test VM: keys loaded from a
# keystore (a logon-key root) and made at start, handed out by name as DUP
# handles over SCM_RIGHTS by the policy (uid, exe), used by `kvctl agent
# exec`; refusals that say why; the exchange request checked against
# Python's X25519+HKDF; socket activation; and the clients the agent must
# survive (tests/kvctl/agent_client.py): many at once, more than it takes,
# stalled, trickling, huge, fd-flooding, never reading; restarts, kill -9.
# It must never crash and never leak an fd.
#
#   scripts/build-userspace && make &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh agent
source "$(dirname "$0")/lib.sh"

# Debian's python3, with python3-cryptography (scripts/deps).
client() { /usr/bin/python3 "$KV_ROOT/tests/kvctl/agent_client.py" "$@"; }
for need in "$AGENT" "$KVCTL" /dev/keyvault "$(command -v keyctl)" "$(command -v setpriv)"; do
  [ -e "$need" ] || { echo "FAIL setup: no ${need:-such command}"; finish 0 1; }
done
# The socket must be reachable by uid 65534 too; kvctl on PATH for the
# commands agent exec runs.
on_path kvctl || { echo "FAIL setup: kvctl on PATH"; finish 0 1; }
tag=kvagent$$
root=$(head -c 32 /dev/urandom | keyctl padd logon "$tag:root" @u)
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  keyctl unlink "$root" @u >/dev/null 2>&1; rm -rf "$tmp"
}
trap cleanup EXIT

# A keystore key, stored under the root (as `kvctl keystore add` makes it).
ks=$tmp/keys
mkdir "$ks"
stored_pub=$(kvctl keystore add --keystore "$ks" --root "%logon:$tag:root" --name stored ed25519 2>/dev/null)
expect "a keystore key to load" 64 "${#stored_pub}"

sock=$tmp/agent.sock
cat > "$tmp/agent.toml" <<EOF
[agent]
socket = "$sock"
io_timeout_secs = 2
max_clients = 64
max_clients_per_uid = 64

[keystore]
dir = "$ks"
root = "%logon:$tag:root"

[[key]]
name = "gen-sign"
alg = "ed25519"

[[key]]
name = "gen-aead"
alg = "aes256-gcm"

[[key]]
name = "gen-x"
alg = "x25519"

[[allow]]
name = "root-signer"
uid = 0
keys = ["stored", "gen-sign"]
caps = ["sign", "verify", "getinfo"]

[[allow]]
name = "root-info"
uid = 0
keys = ["*"]
caps = ["getinfo"]

[[allow]]
name = "kvctl-aead"
uid = 0
exe = "$(realpath "$KVCTL")"
keys = ["gen-aead"]
caps = ["encrypt", "decrypt", "getinfo"]

[[allow]]
name = "root-x"
uid = 0
keys = ["gen-x"]
caps = ["exchange"]

[[allow]]
name = "unit-hash"
unit = "kvcheck.service"
keys = ["gen-aead"]
caps = ["hash"]

[[allow]]
name = "nobody-verify"
uid = 65534
keys = ["gen-sign"]
caps = ["verify", "getinfo"]
EOF

nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

run "--check accepts the policy" "$AGENT" --config "$tmp/agent.toml" --check
printf '[agent]\nsocket = "/x"\n[[allow]]\nuid = 0\nkeys = ["a"]\ncaps = ["genkey"]\n' > "$tmp/bad.toml"
refused "--check refuses a rule giving genkey, saying why" "genkey cannot be given" \
  "$AGENT" --config "$tmp/bad.toml" --check
printf '[agent]\nsokcet = "/x"\n' > "$tmp/typo.toml"
refused "--check refuses a misspelt field" "unknown field" "$AGENT" --config "$tmp/typo.toml" --check

log=$tmp/agent.log
if start_agent "$tmp/agent.toml" "$log"; then ok "the agent starts"; else fail "the agent starts" "$(cat "$log")"; finish "$passed" "$failed"; fi
expect "it loaded the keystore key and made three" "ready: 4 keys (stored, gen-sign, gen-aead, gen-x)" \
  "$(grep -o 'ready: [^,]*, [^,]*, [^,]*, [^)]*)' "$log")"
expect "the socket is 0666 (the policy decides, from SO_PEERCRED)" 666 "$(stat -c %a "$sock")"
fds0=$(nfds "$agent")
export KEYVAULT_AGENT_SOCK=$sock

# --- list and exec: a handle limited to the keys and caps asked for.
run "agent list" kvctl agent list
expect "list: what root may have, by name" \
  "stored: ed25519, sign,verify,getinfo|gen-sign: ed25519, sign,verify,getinfo|gen-aead: aes256-gcm, encrypt,decrypt,getinfo|gen-x: x25519, getinfo,exchange" \
  "$(paste -sd'|' <<< "$out")"
# shellcheck disable=SC2016 # expanded by the inner sh
run "agent exec: sign with the keystore key by name" kvctl agent exec --key stored,gen-sign --caps sign,getinfo -- \
  sh -c 'echo hello | kvctl sign "$KEYVAULT_KEY_STORED" --format hex; kvctl caps; echo "$KEYVAULT_KEYS"'
sig=$(sed -n 1p <<< "$out")
expect "the handle has exactly the caps asked for" "sign|getinfo" "$(sed -n 2p <<< "$out")"
expect "\$KEYVAULT_KEYS names both keys" 2 "$(sed -n 3p <<< "$out" | wc -w)"
run "the signature is the keystore key's (checked with its public key)" \
  sh -c "echo hello | '$KVCTL' verify --pubkey '$stored_pub' --sig '$sig'"
echo hello > "$tmp/hello"
run "Rust: Vault::from_agent (libkeyvault/examples/from_agent.rs) signs by name" \
  "$KV_ROOT/target/release/examples/from_agent" stored < "$tmp/hello"
expect "...the same Ed25519 signature as through kvctl agent exec" "$sig" "$out"
status "Rust: from_agent of a key the policy does not give: refused" 1 \
  "$KV_ROOT/target/release/examples/from_agent" gen-aead < "$tmp/hello"
grep -q "the agent refused (policy)" <<< "$out" && ok "...saying so" || fail "...saying so" "$out"
# shellcheck disable=SC2016
status "the handle cannot list (no list cap): exit 4" 4 kvctl agent exec --key gen-sign --caps sign -- sh -c 'kvctl list'
# shellcheck disable=SC2016
status "the handle cannot make keys: exit 4" 4 kvctl agent exec --key gen-sign --caps sign -- sh -c 'kvctl --ephemeral genkey ed25519'
aead_id=$(kvctl agent exec --key gen-aead --caps getinfo -- sh -c 'echo "$KEYVAULT_KEY_GEN_AEAD"')
# shellcheck disable=SC2016
status "the handle does not see the other keys: exit 5" 5 kvctl agent exec --key gen-sign --caps getinfo -- sh -c "kvctl info $aead_id"
# shellcheck disable=SC2016
run "exe rule: kvctl may encrypt and decrypt with gen-aead" kvctl agent exec --key gen-aead --caps encrypt,decrypt,getinfo -- \
  sh -c 'echo secret | kvctl encrypt "$KEYVAULT_KEY_GEN_AEAD" | kvctl decrypt "$KEYVAULT_KEY_GEN_AEAD"'
expect "...and gets the plaintext back" secret "$out"

# --- refusals say why, with kvctl's exit statuses.
status "a cap no rule gives: exit 4" 4 kvctl agent exec --key stored --caps decrypt -- true
grep -q "rule 'root-signer'.*does not give decrypt" <<< "$out" && ok "...naming the rule and the cap" || fail "...naming the rule and the cap" "$out"
status "a key no rule gives: exit 4" 4 kvctl agent exec --key gen-x --caps sign -- true
status "a key the agent does not have: exit 5" 5 kvctl agent exec --key nope --caps getinfo -- true
grep -q "the agent has no key 'nope'" <<< "$out" && ok "...saying so" || fail "...saying so" "$out"
status "genkey in a key-limited handle: refused as invalid (exit 8)" 8 kvctl agent exec --key stored --caps genkey -- true
KV_RUN_WITH_FD=true status "the exe condition: python3 is not kvctl, refused" 1 \
  client "$sock" request '{"v":1,"op":"handle","keys":["gen-aead"],"caps":["encrypt"]}'
grep -q '"kind": "policy"' <<< "$out" && ok "...as policy" || fail "...as policy" "$out"
# shellcheck disable=SC2016
run "uid 65534 (no access to /dev/keyvault) gets what its rule gives" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$KVCTL" agent exec --key gen-sign --caps verify -- sh -c 'kvctl caps'
expect "...a verify-only handle" verify "$out"
status "uid 65534 may not sign: exit 4" 4 setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$KVCTL" agent exec --key gen-sign --caps sign -- true
grep -q "refused (policy).*uid 65534" "$log" && ok "the agent logs refusals with the peer's uid" || fail "the agent logs refusals" "$(tail -3 "$log")"
grep -q "handle for stored, gen-sign with sign|getinfo (rule 'root-signer')" "$log" && ok "...and grants with the rule" || fail "...and grants with the rule" "$(tail -3 "$log")"
# The unit condition: a process in the cgroup .../kvcheck.service is that
# unit's (as systemd places a service's processes).
cg=/sys/fs/cgroup
[ -e "$cg/cgroup.procs" ] || mount -t cgroup2 none "$cg"
if mkdir -p "$cg/kvcheck.slice/kvcheck.service"; then
  # shellcheck disable=SC2016
  run "unit rule: a process of kvcheck.service gets its handle" sh -c \
    "echo \$\$ > $cg/kvcheck.slice/kvcheck.service/cgroup.procs && exec '$KVCTL' agent exec --key gen-aead --caps hash -- '$KVCTL' caps"
  expect "...with hash" hash "$out"
  status "the same request from outside the unit: refused" 4 kvctl agent exec --key gen-aead --caps hash -- true
  grep -q "unit kvcheck.service" "$log" && ok "the log names the peer's unit" || fail "the log names the peer's unit" "$(tail -3 "$log")"
else
  fail "unit rule" "no cgroup2 at $cg"
fi
status "no agent: exit 3 naming the socket" 3 kvctl agent list --socket "$tmp/none.sock"
for bad in 'not json' '{"v":2,"op":"list"}' '{"v":1,"op":"steal"}' '{"v":1,"op":"list","x":1}' \
           '{"v":1,"op":"handle","keys":[],"caps":["sign"]}' '{"v":1,"op":"handle","keys":["stored"],"caps":["fly"]}' \
           '{"v":1,"op":"handle","keys":["stored"],"caps":[]}'; do
  status "bad request $bad: refused" 1 client "$sock" request "$bad"
  grep -q '"kind": "bad-request"' <<< "$out" || fail "...as bad-request" "$out"
done

# --- exchange: X25519 + HKDF by the agent, the derived key decrypts once, then dies.
gen_x_pub=$(kvctl agent exec --key gen-x --caps getinfo -- sh -c 'kvctl pubkey "$KEYVAULT_KEY_GEN_X" --format hex')
expect "gen-x's public key through a getinfo handle" 64 "${#gen_x_pub}"
run "exchange: the derived key is HKDF(X25519) exactly, one use, destroyed with the connection" \
  client "$sock" exchange gen-x "$gen_x_pub" "$KVCTL"
status "exchange with a key the rule does not give exchange on: refused" 1 client "$sock" request \
  "{\"v\":1,\"op\":\"exchange\",\"key\":\"gen-sign\",\"peer\":\"$gen_x_pub\",\"hash\":\"sha256\",\"alg\":\"chacha20-poly1305\"}"
status "exchange with a low-order peer: the module refuses (vault, EINVAL)" 1 client "$sock" request \
  "{\"v\":1,\"op\":\"exchange\",\"key\":\"gen-x\",\"peer\":\"$(printf '%064d' 0)\",\"hash\":\"sha256\",\"alg\":\"chacha20-poly1305\"}"
grep -q '"errno": 22' <<< "$out" && ok "...with the errno" || fail "...with the errno" "$out"
status "exchange into a non-AEAD: bad request" 1 client "$sock" request \
  "{\"v\":1,\"op\":\"exchange\",\"key\":\"gen-x\",\"peer\":\"$gen_x_pub\",\"hash\":\"sha256\",\"alg\":\"hmac-sha256\"}"

# --- clients the agent must survive.
run "40 clients at once are all granted" client "$sock" concurrent 40 stored,gen-sign
run "a client that stalls mid-request is dropped after io_timeout (2 s); others are served meanwhile" client "$sock" slow 2
run "a request written one byte at a time is served" client "$sock" trickle
run "a 10 MiB request is refused as too long" client "$sock" huge
run "requests carrying 250 fds each, 20 times: served" client "$sock" fd-flood 20
run "50 clients that never read their handle: others served" client "$sock" never-read 50
sleep 0.5
expect "after all that the agent holds the fds it started with" "$fds0" "$(nfds "$agent")"
kill -0 "$agent" 2>/dev/null && ok "the agent is still running" || fail "the agent is still running" "$(tail "$log")"

# The limits: a second agent that takes 6 connections, 3 per uid (with a
# 30 s io_timeout, so that idle ones stay for the test).
sed -e "s|^socket = .*|socket = \"$tmp/small.sock\"|" -e 's/^io_timeout_secs = 2/io_timeout_secs = 30/' \
    -e 's/^max_clients = 64/max_clients = 6/' -e 's/^max_clients_per_uid = 64/max_clients_per_uid = 3/' \
  "$tmp/agent.toml" > "$tmp/small.toml"
cp "$KV_ROOT/tests/kvctl/agent_client.py" "$tmp/bin/"   # for uid 65534 and 65533
# hold AS_UID N WANT: N idle connections of AS_UID, one more expected to be
# told WANT (busy|none), then held 10 s; prints "holding" once they are.
hold() {
  setpriv --reuid="$1" --regid="$1" --clear-groups /usr/bin/python3 "$tmp/bin/agent_client.py" \
    "$tmp/small.sock" hold "$2" 10 "$3"
}
if start_agent "$tmp/small.toml" "$tmp/small.log"; then
  hold 65534 3 busy > "$tmp/hold1" 2>&1 &
  h1=$!
  for _ in $(seq 50); do grep -q holding "$tmp/hold1" && break; sleep 0.1; done
  expect "max_clients_per_uid: uid 65534's fourth connection is told busy" holding "$(cat "$tmp/hold1")"
  run "...while root is still served" kvctl agent list --socket "$tmp/small.sock"
  hold 0 3 none > "$tmp/hold2" 2>&1 &
  h2=$!
  for _ in $(seq 50); do grep -q holding "$tmp/hold2" && break; sleep 0.1; done
  run "max_clients: with 6 held, a third uid is told busy" hold 65533 0 busy
  wait "$h1" "$h2"
  grep -q "refused a connection: uid 65534 has 3 connections already" "$tmp/small.log" \
    && ok "...the log says which limit" || fail "...the log says which limit" "$(tail -3 "$tmp/small.log")"
  grep -q "refused a connection: 6 clients already" "$tmp/small.log" \
    && ok "...both limits" || fail "...both limits" "$(tail -3 "$tmp/small.log")"
  run "once they leave, served again" kvctl agent list --socket "$tmp/small.sock"
  kill "$agent"
else
  fail "a second agent with small limits" "$(cat "$tmp/small.log")"
fi

# --- restart: a handle outlives the agent; a new agent replaces the socket.
agent_main=$(pgrep -f "keyvault-agent --config $tmp/agent.toml" | head -1)
# shellcheck disable=SC2016
kvctl agent exec --key gen-sign --caps sign -- sh -c "touch $tmp/got; sleep 2; echo x | kvctl sign \$KEYVAULT_KEY_GEN_SIGN >/dev/null && echo signed" > "$tmp/held" 2>&1 &
held=$!
for _ in $(seq 100); do [ -e "$tmp/got" ] && break; sleep 0.1; done
kill "$agent_main"; wait "$agent_main" 2>/dev/null
[ ! -e "$sock" ] && ok "SIGTERM: the agent removes its socket" || fail "SIGTERM: the agent removes its socket"
grep -q "stopping" "$log" && ok "...and says it is stopping" || fail "...and says it is stopping" "$(tail -2 "$log")"
wait "$held"
expect "a handle given out keeps its keys after the agent is gone (the vault lives while a handle does)" signed "$(cat "$tmp/held")"
if start_agent "$tmp/agent.toml" "$log.2"; then ok "restart"; else fail "restart" "$(cat "$log.2")"; fi
# shellcheck disable=SC2016
run "after a restart the same name is the same key (same signature)" kvctl agent exec --key stored --caps sign -- \
  sh -c 'echo hello | kvctl sign "$KEYVAULT_KEY_STORED" --format hex'
expect "...the keystore key signs as before" "$sig" "$out"
kill -9 "$agent"; wait "$agent" 2>/dev/null
[ -S "$sock" ] && ok "kill -9 leaves a stale socket" || fail "kill -9 leaves a stale socket"
if start_agent "$tmp/agent.toml" "$log.3"; then ok "a new agent replaces a stale socket"; else fail "a new agent replaces a stale socket" "$(cat "$log.3")"; fi
refused "a second agent on a live socket refuses to start" "another agent is listening" "$AGENT" --config "$tmp/agent.toml"
run "the first one still serves" kvctl agent list
kill "$agent"

# --- socket activation (as systemd passes the socket: LISTEN_FDS, FileDescriptorName=broker).
grep -v '^socket = ' "$tmp/agent.toml" > "$tmp/activated.toml"
if command -v systemd-socket-activate > /dev/null; then
  systemd-socket-activate -l "$tmp/act.sock" --fdname=broker "$AGENT" --config "$tmp/activated.toml" 2> "$tmp/act.log" &
  pids+=($!); disown   # killed at exit: not a job to report
  for _ in $(seq 50); do [ -S "$tmp/act.sock" ] && break; sleep 0.1; done
  run "socket activation: the first client starts the agent and is served" kvctl agent list --socket "$tmp/act.sock"
  expect "...with the same policy" 4 "$(wc -l <<< "$out")"
  refused "without a socket from the policy or systemd, the agent refuses to start" "no socket" \
    "$AGENT" --config "$tmp/activated.toml"
else
  fail "socket activation" "no systemd-socket-activate (package systemd)"
fi

finish "$passed" "$failed"
