#!/usr/bin/env bash
# keyvault-agent's ssh-agent face, for real, inside the test VM, driven by
# the real OpenSSH tools: ssh-add lists the kernel's keys and adds file keys
# into the kernel (the file can go: the key signs on); ssh-keygen -Y signs
# through it; sshd accepts a login with it (and refuses one while the agent
# is locked); git signs and verifies a commit with it; lifetime and confirm
# constraints; and the clients it must survive (a 1 GiB length, garbage, a
# stalled message, another user), with the seed of an added key searched
# for in the agent's whole memory afterwards: it must not be there.
#
#   scripts/build-userspace && make &&
#     flock /tmp/kv-build.lock scripts/vm -- bash tests/kvctl/run.sh ssh
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3   # Debian's, with python3-cryptography (scripts/deps)
for need in "$AGENT" "$KVCTL" /dev/keyvault /usr/bin/ssh-add /usr/bin/ssh-keygen /usr/bin/ssh /usr/sbin/sshd \
  "$(command -v git)" "$(command -v setpriv)" "$PY"; do
  [ -e "$need" ] || { echo "FAIL setup: no ${need:-such command}"; finish 0 1; }
done
unset SSH_ASKPASS SSH_ASKPASS_REQUIRE DISPLAY
chmod 755 "$tmp"   # the socket must be reachable by uid 65534 for the peer check
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

sock=$tmp/ssh.sock
broker=$tmp/broker.sock
cat > "$tmp/agent.toml" <<EOF
[agent]
ssh_socket = "$sock"
socket = "$broker"
io_timeout_secs = 2

[[key]]
name = "kv-ed"
alg = "ed25519"

[[key]]
name = "kv-two"
alg = "ed25519"

[[key]]
name = "kv-aead"
alg = "aes256-gcm"

[[allow]]
uid = 0
keys = ["*"]
caps = ["getinfo"]

# A key the agent does not have (a keystore key that did not load, say):
# nobody may plant one under this name through ssh-add.
[[allow]]
name = "deploy-signer"
uid = 0
keys = ["deploy"]
caps = ["sign"]
EOF
export SSH_AUTH_SOCK=$sock KEYVAULT_AGENT_SOCK=$broker

# fails NAME CMD...: ok when CMD fails (its stdout and stderr are in $out).
fails() {
  local name=$1; shift
  if out=$("$@" 2>&1); then fail "$name" "succeeded: $out"; else ok "$name"; fi
}
# user_keys: how many keys the kernel charges to root, in all vaults (the
# agent's too): a key the agent destroys is gone from this count.
user_keys() { kvctl --json limits | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["user"]["keys"])'; }
# listed KEYFILE.pub: how many of the agent's keys are that key.
listed() { ssh-add -L 2>/dev/null | grep -c -F "$(cut -d' ' -f2 "$1")"; }
# logged NAME PATTERN: ok when the agent's log (since its start) says PATTERN.
logged() {
  if grep -q -- "$2" "$log"; then ok "$1"; grep -- "$2" "$log" | tail -1 | indent
  else fail "$1" "no '$2' in the agent's log: $(tail -3 "$log")"; fi
}
# The 32-byte seed of an OpenSSH private key file, in hex (parsed by
# python3-cryptography, not by anything of ours).
seed_of() {
  "$PY" - "$1" <<'EOF'
import sys
from cryptography.hazmat.primitives import serialization as s
key = s.load_ssh_private_key(open(sys.argv[1], "rb").read(), None)
print(key.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()).hex())
EOF
}
# memscan PID HEX...: how often each byte string occurs in the readable
# memory of PID (every mapping of /proc/PID/maps, read from /proc/PID/mem),
# after the number of bytes read.
memscan() {
  "$PY" - "$@" <<'EOF'
import sys
pid, needles = int(sys.argv[1]), [bytes.fromhex(h) for h in sys.argv[2:]]
seen, total = [0] * len(needles), 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if "r" not in perms:
            continue
        lo, hi = (int(x, 16) for x in addr.split("-"))
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except (OSError, OverflowError, ValueError):
            continue  # [vvar], [vsyscall]
        total += len(data)
        for i, n in enumerate(needles):
            seen[i] += data.count(n)
print(total, *seen)
EOF
}
# client MODE: a raw ssh-agent client (Python) for what OpenSSH never sends.
client() {
  "$PY" - "$sock" "$@" <<'EOF'
import socket, struct, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(path)
def closed():
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
def answer():
    n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
    return s.recv(n, socket.MSG_WAITALL)
if mode == "huge":      # a 1 GiB length: disconnected at once, nothing allocated
    s.sendall(struct.pack(">I", 1 << 30))
    t = time.monotonic(); c = closed()
    print("closed" if c and time.monotonic() - t < 1.5 else "answered")
elif mode == "garbage": # junk of a known length, then junk after a valid message
    s.sendall(struct.pack(">I", 5) + b"\xde\xad\xbe\xef\x00")
    a = answer()
    s.sendall(struct.pack(">I", 3) + b"\x0b\x00\x00")
    print(a.hex(), answer().hex())
elif mode == "stall":   # half a length, then nothing: cut off after io_timeout (2 s)
    s.sendall(b"\x00\x00")
    t = time.monotonic(); c = closed()
    print(f"closed after {round(time.monotonic() - t)} s" if c else "answered")
elif mode == "idle":    # nothing for longer than io_timeout, then a request
    time.sleep(3)
    s.sendall(struct.pack(">I", 1) + b"\x0b")
    print(answer()[:1].hex())
EOF
}

log=$tmp/agent.log
if start_agent "$tmp/agent.toml" "$log"; then ok "the agent starts"; else fail "the agent starts" "$(cat "$log")"; finish "$passed" "$failed"; fi
expect "the ssh socket is 0600 (no allow_uids)" 600 "$(stat -c %a "$sock")"

# --- 1. The kernel's keys, listed.
run "ssh-add -L lists the agent's keys" ssh-add -L
expect "...its two Ed25519 keys, by name (not the AES key)" "ssh-ed25519 kv-ed|ssh-ed25519 kv-two" \
  "$(awk '{print $1, $3}' <<< "$out" | paste -sd'|')"
grep ' kv-ed$' <<< "$out" > "$tmp/kv-ed.pub"
grep ' kv-two$' <<< "$out" > "$tmp/kv-two.pub"
run "ssh-add -T: the kernel key signs, checked with its public key" ssh-add -T "$tmp/kv-ed.pub"
run "query: the draft's extension list" "$PY" - "$sock" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
name = b"query"
body = b"\x1b" + struct.pack(">I", len(name)) + name
s.sendall(struct.pack(">I", len(body)) + body)
n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
a = s.recv(n, socket.MSG_WAITALL)
assert a[0] == 29, a            # SSH_AGENT_EXTENSION_RESPONSE
assert b"query" in a[5:], a
EOF

# --- 2. A file key added: into the kernel, the file can go.
marker=kvtest.$(random_hex 8)   # no key name (a dot): the agent names it
ssh-keygen -q -t ed25519 -N '' -C "$marker" -f "$tmp/id"
seed=$(seed_of "$tmp/id")
expect "the key file's seed (python3-cryptography)" 64 "${#seed}"
keys0=$(user_keys)
run "ssh-add adds a key file" ssh-add "$tmp/id"
expect "...one more key in the kernel" $((keys0 + 1)) "$(user_keys)"
expect "...listed once, with its comment" "1 $marker" "$(listed "$tmp/id.pub") $(ssh-add -L | grep -F "$(cut -d' ' -f2 "$tmp/id.pub")" | cut -d' ' -f3)"
logged "...named ssh-<hash> in the agent (the comment is no key name)" "added key 'ssh-[0-9a-f]\{8\}' ('$marker')"
shred -u "$tmp/id"
run "the key file shredded, it still signs (the key is in the kernel)" ssh-add -T "$tmp/id.pub"
# The seed must be nowhere in the agent's memory (every readable mapping,
# stacks and heap included), while the comment is (the scan finds what is there).
read -r scanned seeds markers <<< "$(memscan "$agent" "$seed" "$(printf %s "$marker" | od -An -v -tx1 | tr -d ' \n')")"
expect "memory scan: the added key's comment is found (the scan sees the heap)" yes "$([ "${markers:-0}" -ge 1 ] && echo yes || echo "no ($markers in $scanned bytes)")"
expect "memory scan: its seed is not, anywhere in $((${scanned:-0} / 1024)) KiB" 0 "$seeds"
ssh-keygen -q -t ed25519 -N '' -C laptop -f "$tmp/laptop"
run "a key whose comment is a free key name" ssh-add "$tmp/laptop"
logged "...is named by its comment" "added key 'laptop' ('laptop')"
run "kvctl agent list (the broker)" kvctl agent list
expect "...does not offer it: a key ssh-add sent belongs to the ssh face" 0 "$(grep -c '^laptop:' <<< "$out")"
status "...nor hands it out to a rule with keys = [\"*\"] (its confirm would be bypassed): unknown key, exit 5" 5 \
  kvctl agent exec --key laptop --caps getinfo -- true
ssh-keygen -q -c -C laptop-2 -f "$tmp/laptop" > /dev/null
ssh-add -q -t 600 "$tmp/laptop" 2>/dev/null
run "the same key added again (new comment, a lifetime)" ssh-add "$tmp/laptop"
expect "...replaces it: listed once, with the new comment" "1 laptop-2" "$(listed "$tmp/laptop.pub") $(ssh-add -L | grep -F "$(cut -d' ' -f2 "$tmp/laptop.pub")" | cut -d' ' -f3)"
logged "...in the agent's log" "replaced key 'laptop-2'"
expect "...the replaced ones are destroyed in the kernel (two added keys now)" $((keys0 + 2)) "$(user_keys)"
ssh-keygen -q -t ed25519 -N '' -C kv-ed -f "$tmp/dup-name"
run "a key whose comment is another key's name" ssh-add "$tmp/dup-name"
logged "...gets a name of its own" "added key 'ssh-[0-9a-f]\{8\}' ('kv-ed')"
ssh-keygen -q -t ed25519 -N '' -C deploy -f "$tmp/planted"
run "a key whose comment is a name the policy's rules give" ssh-add "$tmp/planted"
logged "...does not get that name" "added key 'ssh-[0-9a-f]\{8\}' ('deploy')"
run "...kvctl agent list (the broker)" kvctl agent list
expect "...has no key 'deploy' to hand out" 0 "$(grep -c '^deploy:' <<< "$out")"
expect "four added keys in the kernel" $((keys0 + 4)) "$(user_keys)"
ssh-keygen -q -t ecdsa -N '' -f "$tmp/ecdsa"
fails "an ECDSA key is refused (only Ed25519 keys go into the kernel)" ssh-add "$tmp/ecdsa"
logged "...saying why" "only Ed25519 keys go into the kernel"
expect "...no key made in the kernel" $((keys0 + 4)) "$(user_keys)"
run "ssh-add -d removes the added key" ssh-add -d "$tmp/id.pub"
expect "...not listed any more" 0 "$(listed "$tmp/id.pub")"
fails "...and it no longer signs" ssh-add -T "$tmp/id.pub"
expect "...it is destroyed in the kernel" $((keys0 + 3)) "$(user_keys)"
fails "ssh-add -d of a key it does not have fails" ssh-add -d "$tmp/id.pub"
run "ssh-add -d of a [[key]] key" ssh-add -d "$tmp/kv-two.pub"
expect "...hides it from ssh" 0 "$(listed "$tmp/kv-two.pub")"
run "...but the agent still has it (the broker lists it)" kvctl agent list
expect "...kv-two" 1 "$(grep -c '^kv-two: ' <<< "$out")"
expect "...and it is not destroyed" $((keys0 + 3)) "$(user_keys)"

# --- 3. ssh-keygen -Y: a file signature made through the agent.
echo "release $(random_hex 8)" > "$tmp/data"
echo "kv@test $(cut -d' ' -f1,2 "$tmp/kv-ed.pub")" > "$tmp/allowed_signers"
run "ssh-keygen -Y sign with the kernel key (through the agent)" ssh-keygen -Y sign -f "$tmp/kv-ed.pub" -n file "$tmp/data"
run "ssh-keygen -Y verify accepts the signature" \
  sh -c "ssh-keygen -Y verify -f '$tmp/allowed_signers' -I kv@test -n file -s '$tmp/data.sig' < '$tmp/data'"
echo tampered >> "$tmp/data"
fails "...and rejects it for a changed file" \
  sh -c "ssh-keygen -Y verify -f '$tmp/allowed_signers' -I kv@test -n file -s '$tmp/data.sig' < '$tmp/data'"

# --- 4. sshd: a login with the kernel key; none while the agent is locked.
ip link set lo up 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
cat > "$tmp/sshd_config" <<EOF
Port 2222
ListenAddress 127.0.0.1
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $tmp/sshd.pid
EOF
cp "$tmp/kv-ed.pub" "$tmp/authorized_keys"
mkdir -p /run/sshd
# virtme-ng gives its guest an /etc/shadow of its own (a tmpfs file mounted
# there) where root is locked ("!"), and sshd without PAM refuses a locked
# account even a key login: unlock root in that file, only in the VM's
# guest (scripts/guest/run.sh sets STATUS_DIR), never on a real system.
if [ -n "${STATUS_DIR:-}" ] && mountpoint -q /etc/shadow && grep -q '^root:!' /etc/shadow; then
  sed 's/^root:![^:]*:/root:*:/' /etc/shadow > "$tmp/shadow" && cat "$tmp/shadow" > /etc/shadow
fi
/usr/sbin/sshd -f "$tmp/sshd_config" -D -e 2> "$tmp/sshd.log" &
pids+=($!); disown   # killed at exit: not a job to report
for _ in $(seq 50); do grep -q 'Server listening' "$tmp/sshd.log" && break; sleep 0.1; done
sshopts=(-F /dev/null -o IdentityAgent="$sock" -o IdentitiesOnly=no -o StrictHostKeyChecking=no
  -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10 -p 2222)
run "ssh root@127.0.0.1 logs in with the kernel key" ssh "${sshopts[@]}" root@127.0.0.1 echo hello
expect "...and the command runs" hello "$out"
fp=$(ssh-keygen -lf "$tmp/kv-ed.pub" | cut -d' ' -f2)
expect "sshd accepted that key (its fingerprint)" 1 "$(grep -c "Accepted publickey for root .*ED25519 $fp" "$tmp/sshd.log")"
[ "$failed" = 0 ] || indent < "$tmp/sshd.log"
printf '#!/bin/sh\necho kv-lock-pass\n' > "$tmp/askpass-lock"
printf '#!/bin/sh\necho wrong-pass\n' > "$tmp/askpass-wrong"
chmod 755 "$tmp/askpass-lock" "$tmp/askpass-wrong"
askpass() { SSH_ASKPASS=$1 SSH_ASKPASS_REQUIRE=force "${@:2}" < /dev/null; }
run "ssh-add -x locks the agent" askpass "$tmp/askpass-lock" ssh-add -x
fails "locked: ssh-add -L lists nothing" ssh-add -L
fails "locked: the login fails" ssh "${sshopts[@]}" root@127.0.0.1 echo hello
fails "locked: ssh-add -T (a signature) fails" ssh-add -T "$tmp/kv-ed.pub"
fails "ssh-add -X with a wrong passphrase fails" askpass "$tmp/askpass-wrong" ssh-add -X
fails "...and it is still locked" ssh-add -L
run "ssh-add -X with the passphrase unlocks" askpass "$tmp/askpass-lock" ssh-add -X
run "unlocked: the login works again" ssh "${sshopts[@]}" root@127.0.0.1 echo hello
expect "...hello" hello "$out"

# --- 5. git: a commit signed through the agent, verified.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$tmp/gitconfig
repo=$tmp/repo
git init -q "$repo"
git -C "$repo" config user.name "KV Test"
git -C "$repo" config user.email kv@test
git -C "$repo" config gpg.format ssh
git -C "$repo" config user.signingkey "key::$(cut -d' ' -f1,2 "$tmp/kv-ed.pub")"
git -C "$repo" config gpg.ssh.allowedSignersFile "$tmp/allowed_signers"
echo hello > "$repo/file"
git -C "$repo" add file
run "git commit -S signs through the agent" git -C "$repo" commit -q -S -m "signed by the kernel"
if out=$(git -C "$repo" verify-commit HEAD 2>&1); then ok "git verify-commit HEAD passes"; else fail "git verify-commit HEAD passes" "$out"; fi
expect "...with a good signature of kv@test" 1 "$(grep -c 'Good "git" signature for kv@test' <<< "$out")"
echo "kv@test $(cut -d' ' -f1,2 "$tmp/laptop.pub")" > "$tmp/other_signers"
fails "...and fails against another key" git -C "$repo" -c gpg.ssh.allowedSignersFile="$tmp/other_signers" verify-commit HEAD

# --- 6. Constraints: lifetime, confirm.
ssh-keygen -q -t ed25519 -N '' -C short-lived -f "$tmp/short"
keys1=$(user_keys)
run "ssh-add -t 2 adds a key with a lifetime" ssh-add -t 2 "$tmp/short"
expect "...listed" 1 "$(listed "$tmp/short.pub")"
run "...and it signs" ssh-add -T "$tmp/short.pub"
sleep 3
expect "after 3 s it is gone" 0 "$(listed "$tmp/short.pub")"
fails "...and no longer signs" ssh-add -T "$tmp/short.pub"
logged "...the agent says so" "key 'short-lived' reached the end of its lifetime"
expect "...and has destroyed it" "$keys1" "$(user_keys)"
ssh-keygen -q -t ed25519 -N '' -C confirm-me -f "$tmp/conf"
fails "ssh-add -c is refused: the agent has no SSH_ASKPASS" ssh-add -c "$tmp/conf"
logged "...saying what to do" "no SSH_ASKPASS to ask with"
expect "...and the key is not there" 0 "$(listed "$tmp/conf.pub")"

# --- 7. What the agent must survive, and who it must refuse.
expect "a 1 GiB length: disconnected at once" closed "$(client huge)"
logged "...saying why" "a message of 1073741824 bytes"
expect "garbage, and bytes after a message: SSH_AGENT_FAILURE (5) each" "05 05" "$(client garbage)"
expect "half a message, then nothing: cut off after io_timeout (2 s)" "closed after 2 s" "$(client stall)"
expect "an idle connection is kept past io_timeout, then answered (12)" 0c "$(client idle)"
run "...and the agent still serves" ssh-add -L
chmod 666 "$sock"
fails "uid 65534 (not allowed) is refused" setpriv --reuid=65534 --regid=65534 --clear-groups ssh-add -L
logged "...and logged" "refused pid [0-9]* uid 65534"
chmod 600 "$sock"
read -r scanned seeds <<< "$(memscan "$agent" "$seed")"
expect "after all that, the removed key's seed is still nowhere in the agent's memory" 0 "$seeds"
kill -0 "$agent" 2>/dev/null && ok "the agent is still running" || fail "the agent is still running" "$(tail "$log")"

run "ssh-add -D removes all" ssh-add -D
fails "...ssh-add -L: no identities" ssh-add -L
expect "...it says so" 1 "$(grep -c 'no identities' <<< "$out")"
run "...the [[key]] keys stay in the agent (the broker lists them)" kvctl agent list
expect "...kv-ed and kv-two" 2 "$(grep -c '^kv-\(ed\|two\): ' <<< "$out")"
expect "...the added ones are gone from the table" 0 "$(grep -c '^laptop' <<< "$out")"
expect "...and destroyed in the kernel: the [[key]] keys are left" "$keys0" "$(user_keys)"

# --- 8. Killed and restarted (here with SSH_ASKPASS for confirm).
kill -9 "$agent"; wait "$agent" 2>/dev/null
[ -S "$sock" ] && ok "kill -9 leaves a stale socket" || fail "kill -9 leaves a stale socket"
fails "...that answers nothing" ssh-add -L
cat > "$tmp/askpass-confirm" <<EOF
#!/bin/sh
printf '%s|%s\n' "\$SSH_ASKPASS_PROMPT" "\$1" >> "$tmp/asked"
exit \$(cat "$tmp/decision")
EOF
chmod 755 "$tmp/askpass-confirm"
log=$tmp/agent.log.2
if start_agent "$tmp/agent.toml" "$log" SSH_ASKPASS="$tmp/askpass-confirm"; then ok "a new agent starts on the stale socket"; else fail "a new agent starts on the stale socket" "$(cat "$log")"; fi
run "ssh-add -L works against the new agent" ssh-add -L
expect "...kv-ed is back (a new key: [[key]] keys live as long as the agent)" "1 0" \
  "$(grep -c ' kv-ed$' <<< "$out") $(grep -c -F "$(cut -d' ' -f2 "$tmp/kv-ed.pub")" <<< "$out")"
run "ssh-add -c is accepted by an agent with SSH_ASKPASS" ssh-add -c "$tmp/conf"
echo 0 > "$tmp/decision"
run "askpass says yes (exit 0): the confirm key signs" ssh-add -T "$tmp/conf.pub"
expect "...askpass was asked, as OpenSSH's agent asks" "confirm|Allow use of key confirm-me?" "$(head -1 "$tmp/asked")"
echo 1 > "$tmp/decision"
fails "askpass says no (exit 1): it does not" ssh-add -T "$tmp/conf.pub"
logged "...logged" "refused to sign with .*said no"
: > "$tmp/asked"
ssh-add -L | grep ' kv-ed$' > "$tmp/kv-ed-new.pub"
run "a key without confirm signs without asking" ssh-add -T "$tmp/kv-ed-new.pub"
expect "...askpass was not run" 0 "$(wc -l < "$tmp/asked")"
kill "$agent"; wait "$agent" 2>/dev/null
expect "SIGTERM: the agent removes its socket" no "$([ -e "$sock" ] && echo yes || echo no)"

finish "$passed" "$failed"
