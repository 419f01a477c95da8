#!/usr/bin/env bash
# The guest side of scripts/vm, run by bash inside the VM: load keyvault.ko,
# run the command in its directory, and leave what the host reads in
# $STATUS_DIR (the run's directory, writable in the guest): `started` (at
# once), `status` (the
# command's exit status; 125 when the module did not load, 126 when
# kmemleak does not work), `dmesg` (written last: without it the host knows
# the run died), and on a kmemleak kernel `kmemleak-{boot,run,rmmod}`,
# `keyvault.kallsyms` and `rmmod-failed`.
#
#   bash scripts/guest/run.sh [--load PARAMS] [--distro] [--modprobe 'MOD ...'] [--kmemleak]
#                             [--interactive] -- DIR CMD [ARGS...]
#
# --load: insmod ./keyvault.ko PARAMS (split on white space). --distro: the
# kernel is Debian's; its modules come through $STATUS_DIR/modprobe (which
# scripts/vm made from scripts/guest/modprobe), and the guest reports the
# kernel and its taint. --modprobe (with --distro): load these modules of that
# kernel first (scripts/vm --tpm: the TPM driver and key types it builds as
# modules). --kmemleak: scan and clear before loading (the boot's leaks are
# the kernel's), scan after the command and after rmmod.
load=0 params='' distro=0 kmemleak=0 interactive=0 modules=
while [ "$1" != -- ]; do
  case "$1" in
    --load) load=1 params=$2; shift 2 ;;
    --distro) distro=1; shift ;;
    --modprobe) modules=$2; shift 2 ;;
    --kmemleak) kmemleak=1; shift ;;
    --interactive) interactive=1; shift ;;
    *) echo "scripts/guest/run.sh: unknown option $1"; exit 2 ;;
  esac
done
shift
# The host boots again a VM that died before this line (scripts/vm).
: > "$STATUS_DIR/started"
# shellcheck disable=SC2164 # as before: without DIR the command runs (and fails) where it is
cd "$1"; shift
# A module that does not load ends the run with status 125 and the log.
load_failed() { echo "keyvault: $1 failed"; echo 125 > "$STATUS_DIR/status"; dmesg > "$STATUS_DIR/dmesg"; exit 0; }
if [ $kmemleak = 1 ]; then
  # kmemleak reports objects unreferenced for 5 s; scan twice, as its
  # documentation advises (a pointer may sit in a register or on a stack).
  kml=/sys/kernel/debug/kmemleak
  mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
  kml_scan() { echo scan > $kml && sleep 6 && echo scan > $kml; }
  if ! kml_scan; then
    echo "keyvault VM: kmemleak does not work (disabled at boot?)"; echo 126 > "$STATUS_DIR/status"
    dmesg > "$STATUS_DIR/dmesg"; exit 0
  fi
  cat $kml > "$STATUS_DIR/kmemleak-boot"; echo clear > $kml
  echo "keyvault-vm: kmemleak baseline taken" > /dev/kmsg
fi
if [ $distro = 1 ]; then
  # The kernel's own requests (AF_ALG's algif-*, crypto templates) go to
  # the same modprobe as keyvault.ko's dependencies (libchacha, ...).
  echo "$STATUS_DIR/modprobe" > /proc/sys/kernel/modprobe
  for m in $modules; do "$STATUS_DIR/modprobe" "$m" || load_failed "modprobe $m"; done
  if [ $load = 1 ]; then
    for m in $(modinfo -F depends ./keyvault.ko | tr , " "); do "$STATUS_DIR/modprobe" $m || load_failed "modprobe $m"; done
  fi
fi
if [ $load = 1 ]; then
  # shellcheck disable=SC2086 # the parameters are words
  insmod ./keyvault.ko $params || load_failed insmod
fi
if [ $interactive = 1 ]; then
  "$@"; echo "keyvault VM: the module is loaded; exit the shell to power off."; bash -i; echo $? > "$STATUS_DIR/status"
else
  "$@"; echo $? > "$STATUS_DIR/status"
fi
if [ $distro = 1 ]; then
  # Which kernel this was, and what it thought of the module (E: unsigned,
  # O: out of tree; anything else is news).
  echo "keyvault VM: kernel $(uname -r), tainted $(cat /proc/sys/kernel/tainted) ($(cat /sys/module/keyvault/taint 2>/dev/null || echo unloaded))"
fi
if [ $kmemleak = 1 ]; then
  kml_scan; cat $kml > "$STATUS_DIR/kmemleak-run"
  if [ -d /sys/module/keyvault ]; then
    grep '\[keyvault\]$' /proc/kallsyms > "$STATUS_DIR/keyvault.kallsyms"
    rmmod keyvault 2> "$STATUS_DIR/rmmod-failed" && rm -f "$STATUS_DIR/rmmod-failed"
    kml_scan; cat $kml > "$STATUS_DIR/kmemleak-rmmod"
  fi
fi
dmesg > "$STATUS_DIR/dmesg"
