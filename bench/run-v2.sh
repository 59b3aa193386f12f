#!/usr/bin/env bash
# The same benchmark on a pure cgroup v2 host: boots the v2 guest (../shared/vm/run-in-v2-vm.sh,
# qemu; the guest sees this machine's / read-only, so crun, runc and busybox are the host's)
# and runs bench/run.sh there with the static release hako built here. The guest is emulated:
# absolute times are several times the host's, compare the ratios.
#
#   bench/run-v2.sh            (N=10 ROUNDS=3 LIVE=20 unless set)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
VM=${HAKO_V2VM:-$repo/../shared/vm/run-in-v2-vm.sh}
[ -f "$VM" ] || { echo "no v2 guest script at $VM" >&2; exit 1; }
hako=$(cd "$repo" && scripts/build-release.sh)
share=$(mktemp -d /tmp/hako-bench-v2.XXXXXX)
trap 'rm -rf "$share"' EXIT
cp "$hako" "$share/hako"
: "${N:=10}" "${ROUNDS:=3}" "${LIVE:=20}"
export N ROUNDS LIVE
# In the guest the binary is copied to /tmp (tmpfs), like the other runtimes' binaries, which
# the guest reads from its root with a page cache; run from the shared 9p directory, every
# exec would page hako in over 9p again. Only this run's results are copied back (the guest
# sees the host's bench/out too).
VM_ENV="N ROUNDS LIVE" bash "$VM" \
  "cp $share/hako /tmp/hako && cd $repo && HAKO=/tmp/hako bench/run.sh && cp \"\$(ls -t bench/out/bench-*.json | head -1)\" $share/" "$share"
mkdir -p "$here/out"
for f in "$share"/bench-*.json; do
  [ -f "$f" ] && cp "$f" "$here/out/v2-$(basename "$f")"
done
