# Shared settings for the keyvault harness scripts. Sourced, not run.
# Everything expensive (toolchain, kernel source, kernel builds) lives under
# $KV_CACHE, outside the work tree, so clean clones and `git clean` keep it.
set -euo pipefail

KV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KV_CACHE=${KV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyvault}
KV_KERNEL_PKG=${KV_KERNEL_PKG:-linux-source-7.3}
KV_KERNEL_SUITE=${KV_KERNEL_SUITE:-trixie-backports}
KV_BINDGEN_VERSION=0.73.2
KV_LIBCLANG_VERSION=18.1.1
KV_VNG_VERSION=1.42

# Tools installed by scripts/deps live here.
export PATH="$KV_CACHE/bin:$KV_CACHE/venv/bin:$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH="$KV_CACHE/libclang"

log() { printf '\033[1m[keyvault]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[keyvault] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Run as root directly, or through sudo when we are not root.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# A command that stops a script under `set -e` says which one it was, so a
# harness failure is never silent.
trap 'rc=$?; log "${BASH_SOURCE[0]##*/}:$LINENO: \"$BASH_COMMAND\" exited $rc"' ERR
