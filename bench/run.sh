#!/usr/bin/env bash
# Container lifecycle benchmark: hako vs crun vs runc, interleaved. See bench/README.md.
#
#   bench/run.sh            full run (a couple of minutes)
#   bench/run.sh --quick    smoke test (< ~30 s, plus the hako build if it is not cached)
#
# Knobs (environment): N (containers per block, default 20), ROUNDS (default 6),
# LIVE (live containers for state/list/delete -f, default 50), LIST (list samples per round,
# default 10), RSS (RSS samples per runtime per round, default 3), RUNTIMES (default
# "hako crun runc"), SKIP_HAKO=1 (do not build or run hako), HAKO_BUILD=0 (use an existing
# target/release/hako without building), HAKO=/path/to/hako (benchmark that binary instead;
# no build), TIMEOUT (seconds per runtime invocation, default 30; a runtime that hangs in
# its smoke test is skipped), KEEP=1 (keep the temp dir), STATE_TMPFS=0 (state directories in
# the temp dir instead of a tmpfs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

quick=0
for arg in "$@"; do
	case "$arg" in
	--quick | -q) quick=1 ;;
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*)
		echo "unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

if [[ $quick == 1 ]]; then
	: "${N:=5}" "${ROUNDS:=2}" "${LIVE:=10}" "${LIST:=3}" "${RSS:=1}"
else
	: "${N:=20}" "${ROUNDS:=6}" "${LIVE:=50}" "${LIST:=10}" "${RSS:=3}"
fi
: "${STATE_TMPFS:=1}"
: "${RUNTIMES:=hako crun runc}" "${SKIP_HAKO:=0}" "${HAKO_BUILD:=1}" "${KEEP:=0}" "${HAKO:=}" "${TIMEOUT:=30}"

if [[ $(id -u) != 0 ]]; then
	echo "bench/run.sh must run as root (it creates real containers)" >&2
	exit 1
fi
for tool in python3 unshare mount; do
	command -v "$tool" >/dev/null || {
		echo "missing required tool: $tool" >&2
		exit 1
	}
done
[[ -x /usr/bin/time ]] || echo "note: /usr/bin/time not found; peak RSS will not be measured (apt-get install time)" >&2

mkdir -p "$here/out"
stamp=$(date +%Y%m%d-%H%M%S)
suffix=""
[[ $quick == 1 ]] && suffix="-quick"
out_json="$here/out/bench-$stamp$suffix.json"

# --- runtimes ---------------------------------------------------------------------------------
rt_args=()
skip_args=()
notes=()
for rt in $RUNTIMES; do
	if [[ $rt == hako ]]; then
		if [[ $SKIP_HAKO == 1 ]]; then
			skip_args+=(--skip "hako=SKIP_HAKO=1")
			continue
		fi
		if [[ -n $HAKO ]]; then
			rt_args+=("hako=$(realpath "$HAKO")")
			continue
		fi
		if [[ $HAKO_BUILD == 1 ]]; then
			echo "building hako (scripts/build-release.sh: static release binary) ..." >&2
			if ! (cd "$repo" && scripts/build-release.sh) >"$here/out/build.log" 2>&1; then
				echo "note: hako does not build yet; skipping it (see bench/out/build.log):" >&2
				grep -m3 -E '^error' "$here/out/build.log" | sed 's/^/    /' >&2 || true
				skip_args+=(--skip "hako=scripts/build-release.sh failed (bench/out/build.log)")
				continue
			fi
		fi
		if [[ ! -x $repo/target/x86_64-unknown-linux-gnu/release/hako ]]; then
			skip_args+=(--skip "hako=target/x86_64-unknown-linux-gnu/release/hako not found")
			echo "note: target/x86_64-unknown-linux-gnu/release/hako not found; skipping hako" >&2
			continue
		fi
		rt_args+=("hako=$repo/target/x86_64-unknown-linux-gnu/release/hako")
	else
		if path=$(command -v "$rt"); then
			rt_args+=("$rt=$path")
		else
			echo "note: $rt not in PATH; skipping it" >&2
			skip_args+=(--skip "$rt=not in PATH")
		fi
	fi
done
if [[ ${#rt_args[@]} == 0 ]]; then
	echo "no runtime to benchmark" >&2
	exit 1
fi

# --- bundles ----------------------------------------------------------------------------------
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
	# static = no ELF interpreter (its path sits in the first page of a dynamic binary)
	if [[ -x $b ]] && ! head -c 4096 "$b" | grep -aqE 'ld-linux|ld-musl'; then
		busybox=$b
		break
	fi
done
if [[ -z $busybox ]]; then
	echo "need a static busybox at /bin/busybox (apt-get install -y busybox-static)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/hako-bench.XXXXXX)
cleanup() {
	if [[ $KEEP == 1 ]]; then
		echo "kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

rootfs="$work/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/etc"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
	[[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
done

# config.json from `runc spec` when available (the reference default), else a minimal one
# produced by python below; then args/terminal/root.path patched.
mkspec() { # dir, args-json
	local dir=$1 args=$2
	mkdir -p "$dir"
	if command -v runc >/dev/null; then
		(cd "$dir" && runc spec)
	else
		echo '{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"cwd":"/","env":["PATH=/bin"]},"root":{"path":"rootfs"},"mounts":[{"destination":"/proc","type":"proc","source":"proc"}],"linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"network"}]}}' >"$dir/config.json"
	fi
	python3 - "$dir/config.json" "$args" "$rootfs" <<'EOF'
import json, sys
path, args, rootfs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
c = json.load(open(path))
c["process"]["args"] = args
c["process"]["terminal"] = False
c["root"]["path"] = rootfs  # both bundles share one read-only rootfs
json.dump(c, open(path, "w"), indent="\t")
EOF
}
mkspec "$work/bundle" '["/bin/true"]'
mkspec "$work/bundle-live" '["/bin/sleep", "1000"]'

# --- run inside a private mount namespace -------------------------------------------------------
# This host is cgroup v1 "hybrid": a cgroup2 hierarchy is mounted at /sys/fs/cgroup/unified and
# owns a controller (hugetlb). crun 1.8 refuses such hosts ("cgroups in hybrid mode not
# supported, drop all controllers from cgroupv2"). So the whole benchmark runs in one private
# mount namespace (`unshare -m --propagation private`) in which an empty file is bind-mounted over
# /sys/fs/cgroup/unified/cgroup.controllers. Every runtime (hako, crun, runc) runs in that same
# namespace and sees the same (pure v1 + empty v2) layout, so they are measured alike; the host's
# mount table is not changed. On a host without a non-empty unified cgroup.controllers the bind
# mount is skipped.
unified=/sys/fs/cgroup/unified/cgroup.controllers
hide=0
# (cgroup files always stat as size 0, so read the content.)
if [[ -f $unified && -n $(cat "$unified" 2>/dev/null) ]]; then
	hide=1
	: >"$work/empty"
	notes+=(--note "hybrid cgroup host: empty file bind-mounted over $unified in a private mount namespace for all runtimes")
fi

echo "runtimes: ${rt_args[*]}" >&2
read -r load1 _ </proc/loadavg
if python3 -c "import os,sys; sys.exit(0 if float('$load1') > os.cpu_count() / 2 else 1)"; then
	echo "note: load average $load1 on $(nproc) CPUs: other work is running, expect noisy numbers" >&2
	notes+=(--note "load average $load1 on $(nproc) CPUs at start")
fi
set +e
# The runtimes' state directories (--root) live on a tmpfs mounted in that namespace, as engines
# keep them under /run (containerd: /run/containerd/runc, podman: /run/runc, Docker:
# /run/docker/runtime-runc); STATE_TMPFS=0 keeps them in the temp dir instead.
mkdir -p "$work/state"
unshare -m --propagation private -- /bin/bash -c '
	set -e
	if [[ $1 == 1 ]]; then mount --bind "$2" "$3"; fi
	if [[ $4 == 1 ]]; then mount -t tmpfs -o mode=0700 bench-state "$5"; fi
	shift 5
	exec python3 "$@"
' bench "$hide" "$work/empty" "$unified" "$STATE_TMPFS" "$work/state" \
	"$here/bench.py" --bundle "$work/bundle" --live-bundle "$work/bundle-live" --work "$work" --state-dir "$work/state" \
	--out "$out_json" --n "$N" --rounds "$ROUNDS" --live "$LIVE" --list-samples "$LIST" --rss "$RSS" --timeout "$TIMEOUT" \
	"${skip_args[@]}" "${notes[@]}" "${rt_args[@]}"
rc=$?
set -e
exit $rc
