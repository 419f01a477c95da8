#!/usr/bin/env bash
# kvctl against the real module: every tests/kvctl/*.sh (or those named:
# `run.sh keystore formats`), each in its own process, inside the test VM
# (scripts/vm-suite runs this after the ioctl tests). Last line: the sum,
# `N passed, N failed`; a script that dies without its own summary line
# counts one failure.
#
#   scripts/build-userspace && make && scripts/vm -- bash tests/kvctl/run.sh [NAME...]
source "$(dirname "$0")/../../scripts/common.sh"
set +e +o pipefail; trap - ERR
dir=$(cd "$(dirname "$0")" && pwd)
names=("$@")
[ ${#names[@]} -gt 0 ] || for f in "$dir"/*.sh; do
  n=$(basename "$f" .sh); [ "$n" = lib ] || [ "$n" = run ] || names+=("$n")
done
passed=0 failed=0
log=$(mktemp)
for n in "${names[@]}"; do
  echo "--- kvctl checks: $n"
  bash "$dir/$n.sh" 2>&1 | tee "$log"
  read -r p f < <(run_counts "$log" "${PIPESTATUS[0]}" "0 1")
  passed=$((passed + p)) failed=$((failed + f))
done
rm -f "$log"
finish "$passed" "$failed"
