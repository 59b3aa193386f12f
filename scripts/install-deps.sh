#!/bin/bash
# Installs what hako's demo and tests need on a fresh Debian 12 machine (run as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
need=()
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
[ -f /usr/include/seccomp.h ] || need+=(libseccomp-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v script >/dev/null || need+=(bsdutils)
command -v ps >/dev/null || need+=(procps)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null || need+=(python3)
command -v runc >/dev/null || need+=(runc)
command -v tmux >/dev/null || need+=(tmux)
[ -f /usr/share/containers/seccomp.json ] || need+=(golang-github-containers-common)
# The engines the end-to-end tests drive (scripts/test-engines.sh).
command -v podman >/dev/null || need+=(podman)
command -v containerd >/dev/null || need+=(containerd)
command -v dockerd >/dev/null || need+=(docker.io)
if [ "${HAKO_WITH_PEERS:-0}" = 1 ]; then
  command -v crun >/dev/null || need+=(crun)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The CRI v1 client the Kubernetes-path test (tests/engines/cri.py) talks to containerd with.
if ! python3 -c 'import cri_api.v1.api_pb2_grpc' 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  }
  pkg=container-runtime-interface-api==2.0.1
  python3 -m pip install -q --break-system-packages "$pkg" 2>/dev/null ||
    python3 -m pip install -q "$pkg"
fi
if ! command -v cargo >/dev/null; then
  echo "cargo (Rust toolchain) not found: install Rust first" >&2
  exit 1
fi
