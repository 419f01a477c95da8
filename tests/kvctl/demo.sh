#!/usr/bin/env bash
# What `make run` shows (scripts/demo), run as a check: it must finish with
# status 0 and show each thing it claims (keys made and used in the kernel,
# the refusals of a restricted handle, no key left when the vaults closed).
source "$(dirname "$0")/lib.sh"
[ -e /dev/keyvault ] || { echo "FAIL setup: no /dev/keyvault"; finish 0 1; }
status "scripts/demo (make run) finishes with status 0" 0 env KVCTL="$KVCTL" bash "$KV_ROOT/scripts/demo"
demo=$out   # stdout and stderr: the refusals are on stderr
shows() { if grep -qE -- "$2" <<< "$demo"; then ok "$1"; else fail "$1" "no '$2' in the demo's output"; fi; }
shows "...the algorithms table" '^aes256-gcm +256 '
shows "...the module's limits" 'keys in this vault +[0-9]+ of 4096 \(max_keys_per_vault\)'
shows "...the kernel's decryption of what it sealed" '^opened by the kernel: attack at dawn$'
shows "...an OpenSSH public key" 'ssh-ed25519 [A-Za-z0-9+/]+=* kv-demo$'
macs=$(grep -A2 'their MACs agree' <<< "$demo" | tail -2)
expect "...both X25519 sides derive the same key (two equal MACs)" 1 "$(grep -cE '^[0-9a-f]{64}$' <<< "$(sort -u <<< "$macs")")"
shows "...the restricted worker is refused genkey" 'lacks the genkey capability'
shows "...every vault closed: no key left" '^keys: 0$'
finish "$passed" "$failed"
