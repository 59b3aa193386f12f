#!/bin/bash
# Runs every test: formatting, lints, unit tests, the integration tests (as root, on real
# namespaces, mounts and cgroups of this host), podman, containerd (ctr and CRI) and Docker
# driving hako, and the cgroup v2 tests in a v2 guest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "the integration tests need root" >&2; exit 1; }
scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace 2>&1 | tee /tmp/hako-test.log
scripts/test-engines.sh
scripts/test-v2.sh
