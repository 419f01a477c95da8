#!/usr/bin/env bash
# One boot of scripts/test-tpm, run inside the VM (scripts/vm --tpm STATE --
# bash scripts/guest/tpm-boot.sh BOOT WORKDIR). WORKDIR (writable in the
# guest) carries the sealed blobs from boot to boot, as a disk would.
#
#   boot 1 (a new TPM): the persistent primary key (tpm-root init), a new
#     root key `kv-root` sealed by the TPM (tpm-root new), its blob in
#     WORKDIR/kv-root.blob; an encrypted key `kv-enc` with kv-root as its
#     master, its blob in WORKDIR/kv-enc.blob.
#   boot 2 (the same TPM state: the machine rebooted): the primary key is
#     still there, kv-root loads from its blob, kv-enc loads from its blob
#     (which needs kv-root's same plaintext: an encrypted blob's HMAC is keyed
#     by its master).
#   boot 3 (a fresh TPM state: another machine): after tpm-root init, the
#     boot-1 blob of kv-root must NOT load, nor then kv-enc's.
#
# The root key is a trusted key, or a user key on a kernel without trusted
# keys (Debian's): see scripts/guest/tpm-root. Prints `ok   NAME` / `FAIL NAME`
# lines and ends with `N passed, N failed`.
#
# THE HOOK for keyvault's own steps: in boots 1 and 2, once kv-root is in the
# keyring, the step command runs as
#     STEP BOOT ROOT_SERIAL WORKDIR
# where STEP is $KV_TPM_STEP if set (scripts/vm passes KV_* variables on),
# else scripts/guest/kv-tpm-step (keyvault's steps) if it exists, else nothing. Its
# output is shown; its last `N passed, N failed` line adds to the counts (no
# such line and a non-zero status: one failure). It runs in the repository
# (the module scripts/vm loaded is ./keyvault.ko of the directory scripts/vm
# ran the command in, which is where this script starts).
source "$(dirname "$0")/../common.sh"
# Every check runs whatever the others did; the summary says how they went.
set +e +o pipefail; trap - ERR

boot=${1:?usage: tpm-boot.sh 1|2|3 WORKDIR} work=${2:?usage: tpm-boot.sh 1|2|3 WORKDIR}
tpm_root="$KV_ROOT/scripts/guest/tpm-root"
export TPM2TOOLS_TCTI=device:/dev/tpmrm0
passed=0 failed=0
out=$(mktemp)

# check NAME CMD...: runs CMD (output in $out, shown on failure).
check() {
  local name=$1; shift
  if "$@" > "$out" 2>&1; then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name"; sed 's/^/  | /' "$out"; failed=$((failed + 1))
  fi
}
# refuse NAME CMD...: CMD must fail.
refuse() {
  local name=$1; shift
  if "$@" > "$out" 2>&1; then
    echo "FAIL $name (it succeeded)"; sed 's/^/  | /' "$out"; failed=$((failed + 1))
  else
    echo "ok   $name ($(tail -1 "$out"))"; passed=$((passed + 1))
  fi
}
err=$(mktemp)
# got_serial BLOB...: tpm-root printed a serial (in $serial), said nothing
# on stderr ($err), and each BLOB is there.
got_serial() {
  cat "$err"; [ -n "$serial" ] && ! [ -s "$err" ] || return 1
  local b; for b in "$@"; do [ -s "$b" ] || { echo "no $b"; return 1; }; done
}
# pipe_is SERIAL FILE: `keyctl pipe SERIAL` is FILE's content.
pipe_is() { keyctl pipe "$1" | cmp - "$2"; }
enc_serial() { keyctl search @u encrypted kv-enc; }
enc_load() { keyctl add encrypted kv-enc "load $(cat "$work/kv-enc.blob")" @u; }
step() { # BOOT ROOT_SERIAL: keyvault's steps (see THE HOOK above)
  local cmd=${KV_TPM_STEP:-}
  [ -n "$cmd" ] || { [ -x "$KV_ROOT/scripts/guest/kv-tpm-step" ] && cmd=$KV_ROOT/scripts/guest/kv-tpm-step; }
  [ -n "$cmd" ] || return 0
  local log rc p f; log=$(mktemp)
  echo "keyvault steps of boot $1: $cmd $1 $2 $work"
  # shellcheck disable=SC2086 # KV_TPM_STEP may be a command with arguments
  $cmd "$1" "$2" "$work" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  read -r p f < <(run_counts "$log" "$rc" "0 1")
  passed=$((passed + p)) failed=$((failed + f))
  rm -f "$log"
}

[ -e /dev/tpmrm0 ] || echo "no /dev/tpmrm0; the kernel said: $(dmesg | grep -i tpm | tail -3)"
check "boot $boot: the TPM is there (/dev/tpmrm0, tpm2_getcap properties-fixed)" \
  sh -c 'tpm2_getcap properties-fixed | grep -A2 TPM2_PT_FAMILY_INDICATOR | grep -q "value: \"2.0\""'
type=$(cat "$work/root-type" 2>/dev/null || "$tpm_root" type)
echo "boot $boot: root key type: $type ($(uname -r))"
case "$boot" in
  1)
    check "boot 1: tpm-root init makes the primary key persistent" "$tpm_root" init
    check "boot 1: tpm-root init again (idempotent)" sh -c "'$tpm_root' init | grep -q already"
    echo "$type" > "$work/root-type"
    serial=$(KV_TPM_ROOT_TYPE=$type "$tpm_root" new kv-root "$work/kv-root.blob" 2> "$err")
    check "boot 1: tpm-root new kv-root (serial ${serial:-none}), its sealed blob saved" \
      got_serial "$work/kv-root.blob"
    if [ "$type" = trusted ]; then
      check "boot 1: the blob is kv-root's sealed form (keyctl pipe again)" pipe_is "$serial" "$work/kv-root.blob"
    fi
    check "boot 1: encrypted key kv-enc with master $type:kv-root" \
      keyctl add encrypted kv-enc "new default $type:kv-root 32" @u
    check "boot 1: kv-enc's blob saved" sh -c "keyctl pipe $(enc_serial) > '$work/kv-enc.blob' && [ -s '$work/kv-enc.blob' ]"
    # ---- keyvault steps, boot 1 (kv-root and kv-enc are in @u) ----
    [ -z "$serial" ] || step 1 "$serial"
    ;;
  2)
    check "boot 2: the primary key persisted across the reboot" \
      sh -c "tpm2_getcap handles-persistent | grep -qix -- '- ${KV_TPM_HANDLE:-0x81000001}'"
    check "boot 2: tpm-root init finds it" sh -c "'$tpm_root' init | grep -q already"
    serial=$("$tpm_root" load kv-root "$work/kv-root.blob" 2> "$err")
    check "boot 2: tpm-root load kv-root from the boot-1 blob (serial ${serial:-none})" got_serial
    if [ "$type" = trusted ]; then
      check "boot 2: kv-root's sealed form is the boot-1 blob" pipe_is "$serial" "$work/kv-root.blob"
    fi
    check "boot 2: kv-enc loads from its blob (so kv-root unsealed to the same key)" enc_load
    check "boot 2: kv-enc's blob is the same" pipe_is "$(enc_serial)" "$work/kv-enc.blob"
    # ---- keyvault steps, boot 2 (kv-root and kv-enc are in @u again) ----
    [ -z "$serial" ] || step 2 "$serial"
    ;;
  3)
    check "boot 3 (a fresh TPM): tpm-root init makes a new primary key" "$tpm_root" init
    refuse "boot 3: the boot-1 blob of kv-root does not load on another TPM" \
      "$tpm_root" load kv-root "$work/kv-root.blob"
    refuse "boot 3: nor kv-enc (no master)" enc_load
    ;;
  *) echo "tpm-boot.sh: no boot '$boot'"; failed=$((failed + 1)) ;;
esac
rm -f "$out" "$err"
finish "$passed" "$failed"
