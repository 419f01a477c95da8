# Shared by the kvctl checks (tests/kvctl/*.sh), sourced: the checks run
# kvctl as a user would, inside the test VM with keyvault.ko loaded (the
# host's filesystem is the VM's, so kvctl, keyctl, ssh-keygen, openssl ...
# are the host's). Each check prints `ok   NAME` or `FAIL NAME: why`; a
# script ends with `finish "$passed" "$failed"` (`N passed, N failed`).
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
set +e
trap - ERR
cd "$KV_ROOT" || exit 1
export KVCTL=${KVCTL:-$KV_ROOT/target/release/kvctl}
kvctl() { "$KVCTL" "$@"; }
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
# expect NAME WANT GOT: ok when they are equal.
expect() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }
# run NAME CMD...: ok when CMD succeeds; its stdout is in $out.
run() {
  local name=$1; shift
  if out=$("$@" 2> "$tmp/err"); then ok "$name"; else fail "$name" "$(cat "$tmp/err")"; fi
}
# refused NAME PATTERN CMD...: ok when CMD fails and its error says PATTERN
# (shown, indented: these are the messages users see).
refused() {
  local name=$1 pattern=$2; shift 2
  if out=$("$@" 2>&1); then fail "$name" "succeeded: $out"
  elif grep -q -- "$pattern" <<< "$out"; then ok "$name"; indent <<< "$out"
  else fail "$name" "no '$pattern' in: $out"; fi
}
# status NAME WANT CMD...: ok when CMD exits with status WANT (its stdout
# and stderr together are in $out).
status() {
  local name=$1 want=$2 rc; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$want" ]; then ok "$name"; else fail "$name" "exit status $rc, expected $want: $out"; fi
}
indent() { sed 's/^/       /'; }
# on_path NAME...: copies these target/release binaries to $tmp/bin and puts
# that first on PATH, for other uids (setpriv) too: the repository may be
# in a directory only its owner can enter (a clean clone in mktemp -d is
# 0700), and a lookup on PATH checks access(2) where exec would not.
on_path() {
  mkdir -p "$tmp/bin" && chmod 755 "$tmp" "$tmp/bin" || return 1
  local b
  for b in "$@"; do install -m 755 "$KV_ROOT/target/release/$b" "$tmp/bin/$b" || return 1; done
  export PATH=$tmp/bin:$PATH
}
# keyvault-agent (agent.sh, ssh.sh, age.sh).
AGENT=$KV_ROOT/target/release/keyvault-agent
pids=()
# start_agent CONFIG LOG [VAR=VALUE...]: keyvault-agent in the background,
# with those variables in its environment and without $KEYVAULT_FD (its
# vault is its own); $agent is its pid, also added to $pids (for the
# script's cleanup). Returns once it logged "ready"; 1 if it died first or
# took 10 s.
start_agent() {
  local config=$1 log=$2; shift 2
  env -u KEYVAULT_FD "$@" "$AGENT" --config "$config" 2> "$log" &
  agent=$!; pids+=("$agent")
  for _ in $(seq 100); do
    grep -q ready "$log" && return 0
    kill -0 "$agent" 2>/dev/null || break; sleep 0.1
  done
  return 1
}
hex_to_bin() { printf '%b' "$(sed 's/../\\x&/g' <<< "$1")"; }
random_hex() { head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
# in_vault "$@" [PATH...]: unless the script was started with --in-vault,
# check that kvctl, /dev/keyvault and each PATH exist, then run the script
# again under `kvctl exec --` with --in-vault, so that the keys it makes
# outlive each kvctl call (this first run's scratch directory is removed:
# the run under exec makes its own).
in_vault() {
  [ "${1:-}" != --in-vault ] || return 0
  shift
  local need
  for need in "$KVCTL" /dev/keyvault "$@"; do
    [ -e "$need" ] || { echo "FAIL setup: no ${need:-such command} (see the script's header)"; finish 0 1; }
  done
  rm -rf "$tmp"
  exec "$KVCTL" exec -- bash "$(realpath "$0")" --in-vault
}
# A scratch directory, removed at exit (a script with its own EXIT trap
# removes it there).
tmp=$(mktemp -d "/tmp/kvctl-$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$tmp"' EXIT
