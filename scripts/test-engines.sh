#!/bin/bash
# End-to-end tests through the real engines: podman, containerd (ctr and the CRI plugin) and
# Docker, each driving the built hako (target/debug/hako, or HAKO_BIN). Each script keeps its
# engine's state in a temp dir and checks that nothing of hako's is left behind.
# Usage: scripts/test-engines.sh [podman|containerd|docker ...]
set -uo pipefail
cd "$(dirname "$0")/.."
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(podman containerd docker)
failed=()
for e in "${engines[@]}"; do
  if [ ! -x "tests/engines/$e.sh" ]; then
    echo "no engine test tests/engines/$e.sh" >&2
    failed+=("$e")
    continue
  fi
  "tests/engines/$e.sh" || failed+=("$e")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "engine tests failed: ${failed[*]}" >&2
  exit 1
fi
echo "engine tests passed: ${engines[*]}"
