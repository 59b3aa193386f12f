# Shared helpers for the engine end-to-end tests (sourced, not run).
#
# Each engine script drives the built hako through a real engine (podman, containerd, Docker)
# with everything private to one temp dir: the engine's storage and sockets, hako's --root.
# Cleanup runs on every exit, failed or not, and afterwards the script checks that nothing of
# hako's is left behind (state dirs, processes, mounts under the temp dir).
#
# Usage in a script:
#   . "$(dirname "$0")/lib.sh"
#   engine_init podman            # makes $WORK, $HAKO_ROOT, $ROOTFS, the hako wrappers
#                                 # $HAKO_WRAP (adds --root $HAKO_ROOT) and $HAKO_LOGWRAP
#   defer "podman ... rm -af"     # cleanup steps, run last-in first-out
#   t "run --rm prints" expect_out "hi" podman ... run --rm ...
#   finish                        # prints the summary, exits non-zero on any failure

set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HAKO=${HAKO_BIN:-$REPO/target/debug/hako}
HAKO=$(readlink -f "$HAKO")
PASS=0
FAIL=0
FAILED=()
DEFERRED=()
ENGINE=""

log() { printf '%s\n' "$*" >&2; }

# Cleanup steps, run in reverse order on exit.
defer() { DEFERRED+=("$*"); }

run_deferred() {
  local i
  for ((i = ${#DEFERRED[@]} - 1; i >= 0; i--)); do
    eval "${DEFERRED[$i]}" >/dev/null 2>&1 || true
  done
  DEFERRED=()
}

on_exit() {
  local rc=$?
  run_deferred
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    # Anything still mounted under the work dir is a leak of the engine or of hako.
    local m
    m=$(awk -v w="$WORK" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    if [ -n "$m" ]; then
      log "cleanup: unmounting leftovers: $m"
      while read -r p; do umount -l "$p" 2>/dev/null || true; done <<<"$m"
    fi
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# engine_init NAME: the temp dir, a busybox rootfs, and a wrapper that gives hako a private
# --root (engines call the runtime by path; another runtime on the machine may own /run/runc).
engine_init() {
  ENGINE=$1
  [ "$(id -u)" = 0 ] || { log "$ENGINE tests need root"; exit 1; }
  [ -x "$HAKO" ] || { log "no hako binary at $HAKO (cargo build -p hako, or set HAKO_BIN)"; exit 1; }
  WORK=$(mktemp -d "/tmp/hako-$ENGINE.XXXXXX")
  chmod 755 "$WORK"
  HAKO_ROOT=$WORK/hako-root
  HAKO_LOG=$WORK/hako-calls.log
  mkdir -p "$HAKO_ROOT"
  HAKO_WRAP=$WORK/hako
  # The wrapper records each call (the tests check what the engine sent) and puts hako's
  # private --root after the engine's global options, just before the subcommand: the runc
  # shims pass a --root of their own, and the last one wins (as with runc).
  cat >"$HAKO_WRAP" <<EOF
#!/bin/bash
echo "\$*" >>"$HAKO_LOG"
g=()
while [ \$# -gt 0 ]; do
  case \$1 in
    --root | --log | --log-format | --criu | --rootless) g+=("\$1" "\$2"); shift 2 ;;
    --*) g+=("\$1"); shift ;;
    *) break ;;
  esac
done
exec "$HAKO" "\${g[@]}" --root "$HAKO_ROOT" "\$@"
EOF
  chmod 755 "$HAKO_WRAP"
  # For engines configured with hako's state dir themselves (containerd's runtime option Root):
  # only logs.
  HAKO_LOGWRAP=$WORK/hako-logged
  printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$HAKO_LOG" "$HAKO" >"$HAKO_LOGWRAP"
  chmod 755 "$HAKO_LOGWRAP"
  ROOTFS=$WORK/rootfs
  make_rootfs "$ROOTFS"
  log "== $ENGINE: hako $HAKO, work dir $WORK"
}

# make_rootfs DIR: a busybox-static root filesystem.
make_rootfs() {
  local d=$1 a
  mkdir -p "$d"/{bin,proc,sys,dev,etc,tmp,root,run}
  cp /bin/busybox "$d/bin/busybox"
  for a in $("$d/bin/busybox" --list); do
    [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
  echo 'root:x:0:' >"$d/etc/group"
  echo 'nameserver 127.0.0.1' >"$d/etc/resolv.conf"
  chmod 1777 "$d/tmp"
}

# rootfs_tar FILE: the rootfs as a tarball, for `podman import` / `docker import`.
rootfs_tar() { tar -C "$ROOTFS" -cf "$1" .; }

# t NAME CHECK...: one test case. CHECK is a function or command; its output goes to the log
# only when it fails.
t() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc = 0 ]; then
    PASS=$((PASS + 1))
    log "ok   $ENGINE: $name"
  else
    FAIL=$((FAIL + 1))
    FAILED+=("$name")
    log "FAIL $ENGINE: $name (rc $rc)"
    printf '%s\n' "$out" | sed 's/^/     | /' >&2
  fi
}

# expect_out WANT CMD...: CMD exits 0 and its stdout (CRs stripped) contains WANT.
expect_out() {
  local want=$1 out rc
  shift
  out=$("$@" 2>&1 | tr -d '\r')
  rc=${PIPESTATUS[0]}
  if [ "$rc" != 0 ]; then
    echo "exit $rc from: $*"
    echo "$out"
    return 1
  fi
  case "$out" in *"$want"*) return 0 ;; esac
  echo "output of '$*' lacks '$want':"
  echo "$out"
  return 1
}

# expect_rc WANT CMD...: CMD exits with status WANT.
expect_rc() {
  local want=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  [ "$rc" = "$want" ] && return 0
  echo "exit $rc (want $want) from: $*"
  echo "$out"
  return 1
}

# expect_eq WANT GOT [WHAT]
expect_eq() {
  [ "$1" = "$2" ] && return 0
  echo "${3:-value}: got '$2', want '$1'"
  return 1
}

# wait_for SECONDS CMD...: poll CMD until it succeeds (engines report state asynchronously).
wait_for() {
  local secs=$1 i
  shift
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "timed out after ${secs}s waiting for: $*"
  return 1
}

# stop_pid PID SECS: SIGTERM, then SIGKILL after SECS; returns once PID is gone (fails when it
# had to be killed and still does not go away).
stop_pid() {
  local pid=$1 secs=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# in_terminal CMD: run CMD with a pty as its terminal (util-linux `script`), exit status kept.
in_terminal() {
  local cmd
  cmd=$(printf '%q ' "$@")
  script -qec "$cmd" /dev/null </dev/null
}

# hako_leftovers: fails when hako state dirs remain under $HAKO_ROOT (a state dir holds
# state.json; runc-shim engines may add a namespace level, $HAKO_ROOT/<namespace>/<id>).
hako_leftovers() {
  local left
  left=$(find "$HAKO_ROOT" -mindepth 2 -maxdepth 3 -name state.json ! -path '*/@*' 2>/dev/null)
  if [ -n "$left" ]; then
    echo "hako state left behind:"
    echo "$left"
    "$HAKO" --root "$HAKO_ROOT" list 2>&1
    return 1
  fi
}

# hako_was_called SUBSTRING: the engine ran hako with arguments containing SUBSTRING.
hako_was_called() {
  grep -qF -- "$1" "$HAKO_LOG" && return 0
  echo "hako was never called with '$1'; calls:"
  cat "$HAKO_LOG"
  return 1
}

finish() {
  run_deferred
  t "nothing of hako's left behind" hako_leftovers
  log "== $ENGINE: $PASS passed, $FAIL failed"
  if [ $FAIL -gt 0 ]; then
    printf '   failed: %s\n' "${FAILED[@]}" >&2
    exit 1
  fi
  exit 0
}
