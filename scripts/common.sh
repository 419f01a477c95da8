# Shared settings for the keyvault harness scripts. Sourced, not run.
# Everything expensive (toolchain, kernel source, kernel builds) lives under
# $KV_CACHE, outside the work tree, so clean clones and `git clean` keep it.
set -euo pipefail

KV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KV_CACHE=${KV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyvault}
KV_KERNEL_PKG=${KV_KERNEL_PKG:-linux-source-7.3}
KV_KERNEL_SUITE=${KV_KERNEL_SUITE:-trixie-backports}
# The distro kernel `make test-distro` boots and packages for (Debian 13 +
# trixie-backports), and the Debian release whose packages the harness takes.
KV_DISTRO_RELEASE=${KV_DISTRO_RELEASE:-7.3.4+deb13-amd64}
KV_DEBIAN_SUITE=trixie
KV_BINDGEN_VERSION=0.73.2
KV_LIBCLANG_VERSION=18.1.1
KV_VNG_VERSION=1.42

# Tools installed by scripts/deps live here.
export PATH="$KV_CACHE/bin:$KV_CACHE/venv/bin:$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH="$KV_CACHE/libclang"

log() { printf '\033[1m[keyvault]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[keyvault] error:\033[0m %s\n' "$*" >&2; exit 1; }

# kv_apt ARGS...: apt-get with a private configuration under $KV_CACHE/apt
# that sees Debian 13 (trixie, trixie-backports) and leaves the system's
# sources alone; its package lists are refreshed once a day.
kv_apt() {
  local d="$KV_CACHE/apt"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  local opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o Dir::State::status=/dev/null
              -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  local want="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $KV_DEBIAN_SUITE $KV_KERNEL_SUITE"
  local src="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian"
  if [ "$(cat "$d/.sources" 2>/dev/null)" != "$want" ] || [ -z "$(find "$d/.updated" -mmin -1440 2>/dev/null)" ]; then
    printf '%s %s main\n' "$src" "$KV_DEBIAN_SUITE" "$src" "$KV_KERNEL_SUITE" > "$d/sources.list"
    apt-get -q "${opts[@]}" update >&2 || die "cannot reach Debian's $KV_DEBIAN_SUITE/$KV_KERNEL_SUITE archive"
    echo "$want" > "$d/.sources"; touch "$d/.updated"
  fi
  apt-get -q "${opts[@]}" "$@"
}

# kv_apt_download DIR PKG...: the .debs of PKG... (candidate versions) into DIR.
kv_apt_download() {
  local dir=$1; shift
  mkdir -p "$dir"
  (cd "$dir" && kv_apt download "$@" >&2) || die "cannot download $* from Debian $KV_DEBIAN_SUITE/$KV_KERNEL_SUITE"
}

# summary P F: a test script's last line, `P passed, F failed` (the line
# run_counts reads back). finish P F: that line, then the script's verdict,
# exit 1 when F is not 0 (a verdict, not a failing command: see the ERR trap
# below).
summary() { echo "$1 passed, $2 failed"; }
finish() { summary "$1" "$2"; [ "$2" = 0 ] || exit 1; }

# run_counts LOG RC [NONE]: "P F" from the last `N passed, N failed` line of
# LOG (NONE without one, or without LOG: default "0 0"). A run that ended with
# RC != 0 (it died, or the VM logged kernel trouble or a leak) counts one
# failure even if every test passed.
run_counts() {
  local line p f
  line=$(grep -sE '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1 || true)
  if [ -n "$line" ]; then p=$(echo "$line" | cut -d' ' -f1) f=$(echo "$line" | cut -d' ' -f3)
  else read -r p f <<< "${3:-0 0}"; fi
  [ "$2" = 0 ] || [ "$f" != 0 ] || f=1
  echo "$p $f"
}

# kv_accel [PROBE...]: the accelerator the test VM uses, kvm or tcg.
# KV_ACCEL=kvm|tcg forces one; without a usable /dev/kvm it is tcg; else the
# verdict of a probe, run once per machine and kept in $KV_CACHE/kvm-works
# (yes or no). Without a verdict yet, PROBE (a command that succeeds when a
# VM booted under KVM) makes it; without PROBE the answer is "auto" (the
# next scripts/vm decides).
kv_accel() {
  case "${KV_ACCEL:-auto}" in kvm|tcg) echo "$KV_ACCEL"; return 0 ;; esac
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo tcg; return 0; fi
  local verdict="$KV_CACHE/kvm-works"
  if [ ! -f "$verdict" ] && [ $# -gt 0 ]; then
    log "probing KVM (once per machine)"
    if "$@"; then echo yes > "$verdict"; else echo no > "$verdict"; fi
  fi
  if [ ! -f "$verdict" ]; then echo auto
  elif [ "$(cat "$verdict")" = yes ]; then echo kvm
  else echo tcg; fi
}

# Run as root directly, or through sudo when we are not root.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# A command that stops a script under `set -e` says which one it was, so a
# harness failure is never silent. A script's verdict after its summary is
# `[ $failed = 0 ] || exit 1`, not a failing command: the summary stays last.
trap 'rc=$?; log "${BASH_SOURCE[0]##*/}:$LINENO: \"$BASH_COMMAND\" exited $rc"' ERR
