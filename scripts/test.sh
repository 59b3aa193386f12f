#!/bin/bash
# Runs every test: formatting, lints, unit tests, the integration tests (as root, on real
# namespaces, mounts and cgroups of this host; on a hybrid host also as if it were pure v1),
# podman, containerd (ctr and CRI) and Docker driving hako, and the cgroup v2 tests in a v2 guest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "the integration tests need root" >&2; exit 1; }
scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace 2>&1 | tee /tmp/hako-test.log
# On a hybrid host whose cgroup2 mount owns controllers, those tests took the hybrid paths. Run
# the integration tests again as on a pure cgroup v1 host (there the cgroups are made while the
# init mounts and the init joins them itself), in a private mount namespace where the cgroup2
# mount's controller list reads empty.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -f "$unified" ] && [ -n "$(cat "$unified")" ]; then
  empty=$(mktemp)
  echo "integration tests again, as on a pure cgroup v1 host" >&2
  unshare -m --propagation private -- bash -c 'mount --bind "$1" "$2" && cargo test -q -p hako' \
    _ "$empty" "$unified" || { rm -f "$empty"; exit 1; }
  rm -f "$empty"
fi
scripts/test-engines.sh
scripts/test-v2.sh
