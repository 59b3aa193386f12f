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
if [ "${HAKO_WITH_PEERS:-0}" = 1 ]; then
  command -v crun >/dev/null || need+=(crun)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "cargo (Rust toolchain) not found: install Rust first" >&2
  exit 1
fi
