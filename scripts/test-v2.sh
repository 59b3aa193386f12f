#!/bin/bash
# Runs the cgroup v2 tests in a pure cgroup v2 guest (../shared/vm/run-in-v2-vm.sh boots it
# under qemu): the libhako cgroup tests (resources, device eBPF filter, freeze, OOM) and the
# lifecycle integration tests, using the binaries built on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
VM=${HAKO_V2VM:-../shared/vm/run-in-v2-vm.sh}
if [ ! -x "$VM" ] && [ ! -f "$VM" ]; then
  echo "test-v2: $VM not found; skipping the cgroup v2 guest tests" >&2
  exit 0
fi
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v modprobe >/dev/null || need+=(kmod)
command -v apparmor_parser >/dev/null || need+=(apparmor)   # the guest's AppArmor tests load a profile
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Build everything on the host (the guest runs under emulation and shares the host's /).
cargo build -q -p hako
lib=$(cargo test -q -p libhako --lib --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["kind"]==["lib"]: print(m["executable"])' | tail -1)
lc=$(cargo test -q -p hako --test lifecycle --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="lifecycle": print(m["executable"])' | tail -1)
cg=$(cargo test -q -p hako --test cgroups --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="cgroups": print(m["executable"])' | tail -1)
lsm=$(cargo test -q -p hako --test lsm --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="lsm": print(m["executable"])' | tail -1)
# The integration harness builds the static checker itself; build it here, outside the guest.
checker=$(cargo test -q -p hako --test lifecycle -- --list >/dev/null 2>&1; ls target/checker-static/*/release/hako-checker 2>/dev/null | head -1)
# The guest sees the host's / read-only but gets a fresh /tmp, and the checkout may live under
# /tmp: copy what runs into the shared directory, which the guest mounts at the same path.
share=$(mktemp -d /tmp/hako-v2.XXXXXX)
trap 'rm -rf "$share"' EXIT
cp target/debug/hako "$share/hako"
cp "$checker" "$share/checker"
cp "$lib" "$share/libhako-tests"
cp "$lc" "$share/lifecycle-tests"
cp "$cg" "$share/cgroups-tests"
cp "$lsm" "$share/lsm-tests"   # AppArmor: the guest's kernel has it enabled (apparmor_parser from the host)
# The cgroups integration tests whose v2 code paths differ from v1 (files and conversions,
# unified, device eBPF, freeze, OOM events, update, placement/cgroupns); the guest is slow, so
# the path-only ones (relative/engine-like/pre-existing parents, bad values) run on the host only.
# CGROUPS_TESTS="" runs them all.
cgtests=${CGROUPS_TESTS-"resources_ devices_ pause_ memory_ pids_limit update_flags placement_default cgroup_namespace"}
echo "cgroup v2 guest: libhako cgroup tests + lifecycle tests + cgroups integration tests + AppArmor tests"
guest() {
  VM_TIMEOUT=${VM_TIMEOUT:-600} "$VM" "cd $share && \
  ./libhako-tests cgroups --test-threads=1 && \
  HAKO_TEST_TIMEOUT=180 HAKO_TEST_CHECKER=$share/checker HAKO_TEST_RUNTIME=$share/hako ./lifecycle-tests --test-threads=2 && \
  HAKO_TEST_TIMEOUT=180 HAKO_TEST_CHECKER=$share/checker HAKO_TEST_RUNTIME=$share/hako ./cgroups-tests --test-threads=2 $cgtests && \
  HAKO_TEST_TIMEOUT=180 HAKO_TEST_CHECKER=$share/checker HAKO_TEST_RUNTIME=$share/hako ./lsm-tests --test-threads=1" "$share"
}
# The emulated guest has, rarely, hung while booting (qemu busy, not a line of output until the
# timeout; a full run takes about 3 minutes). A run that started no test is tried once more; a
# test that fails fails the script.
log="$share/guest.log"
if ! guest 2>&1 | tee "$log"; then
  if grep -q '^running [0-9]* test' "$log"; then
    exit 1
  fi
  echo "test-v2: the guest ran no test (did it boot?); trying once more" >&2
  guest
fi
