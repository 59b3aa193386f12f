#!/bin/bash
# containerd 1.6 driving hako through the runc v2 shim: ctr (run --rm/-d/-t, task exec, ps,
# pause/resume, kill, kill -a, delete, joining a netns by path, errors) and the CRI plugin
# (a pod sandbox and a container in it, driven by tests/engines/cri.py as the kubelet would).
# Everything private: containerd's root, state, sockets and config live in the temp dir; the
# shim passes hako `--root <options.Root>/<namespace>`, and options.Root is our $HAKO_ROOT.
. "$(dirname "$0")/lib.sh"
for c in containerd ctr containerd-shim-runc-v2 podman python3; do
  command -v $c >/dev/null || { log "$c is not installed (scripts/install-deps.sh)"; exit 1; }
done
python3 -c 'import cri_api.v1.api_pb2_grpc' 2>/dev/null ||
  { log "python3 lacks the CRI client: pip install container-runtime-interface-api"; exit 1; }
engine_init containerd

CD=$WORK/containerd
SOCK=$CD/containerd.sock
NS=default
# A name for the host-side things that are not under $WORK: netns, cgroups.
TAG=hako-cd-$$
PAUSE_IMAGE=localhost/hako-pause:test
mkdir -p "$CD" "$WORK/cni-conf" "$WORK/pod-logs"

# No CNI config: the pod uses the host's network. The sandbox asks for oom_score_adj -998 and
# this machine refuses a negative value without CAP_SYS_RESOURCE: restrict_oom_score_adj.
cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
oom_score = 0
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$WORK/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "hako"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako.options]
        BinaryName = "$HAKO_LOGWRAP"
        Root = "$HAKO_ROOT"
EOF

# ns_clean NS: no hako state left in the shim's root for containerd namespace NS.
ns_clean() {
  local left
  left=$(ls -A "$HAKO_ROOT/$1" 2>/dev/null)
  [ -z "$left" ] && return 0
  echo "hako state left behind in $HAKO_ROOT/$1: $left"
  "$HAKO" --root "$HAKO_ROOT/$1" list 2>&1
  return 1
}

# Shims outlive containerd by design; any left after the cleanup is a leak. The last cleanup
# step kills them, and remembers them for the check after it.
shims() { pgrep -f "containerd-shim-runc-v2 .*-address $SOCK( |\$)"; }
SHIMS_LEFT=""
kill_shims() {
  local p
  for p in $(shims); do
    SHIMS_LEFT+="$(ps -o pid=,args= -p "$p")"$'\n'
    kill -9 "$p"
  done
}
no_shims_left() {
  [ -z "$SHIMS_LEFT" ] && return 0
  echo "containerd shims were left running:"
  echo "$SHIMS_LEFT"
  return 1
}
# Containers hako still knows once containerd has stopped are leaks too: remembered for the
# check, then removed with their processes (a killed shim leaves those running).
HAKO_LEFT=""
delete_hako_leftovers() {
  local d id
  for d in "$HAKO_ROOT"/*/; do
    for id in $("$HAKO" --root "$d" list -q 2>/dev/null); do
      HAKO_LEFT+="${d#"$HAKO_ROOT"/}$id"$'\n'
      "$HAKO" --root "$d" delete --force "$id"
    done
  done
}
no_hako_state_left() {
  [ -z "$HAKO_LEFT" ] && return 0
  echo "hako containers were left after containerd stopped:"
  echo "$HAKO_LEFT"
  return 1
}
# The shim makes $HAKO_ROOT/<namespace>; empty, it is no leftover.
defer "rmdir $HAKO_ROOT/$NS $HAKO_ROOT/k8s.io"
defer delete_hako_leftovers
defer kill_shims

containerd --config "$CD/config.toml" >"$CD/containerd.log" 2>&1 &
CD_PID=$!
defer "stop_pid $CD_PID 10"

CTR=(ctr --address "$SOCK" -n "$NS")
cr() { "${CTR[@]}" "$@"; }
# ctr run with hako, and hako's state under $HAKO_ROOT/$NS.
RUN=("${CTR[@]}" run --runc-binary "$HAKO_LOGWRAP" --runc-root "$HAKO_ROOT")
run() { "${RUN[@]}" "$@"; }
# Remove a ctr container whatever its state.
cleanup_ctr() { cr task kill -a -s KILL "$1"; sleep 0.2; cr task delete -f "$1"; cr container delete "$1"; }
defer "for c in \$(${CTR[*]} container ls -q); do cleanup_ctr \$c; done"

t "containerd comes up" wait_for 20 cr version
if ! cr version >/dev/null 2>&1; then
  log "containerd did not start:"
  tail -20 "$CD/containerd.log" >&2
  finish
fi

# --- ctr ---
t "run --rm prints from inside" expect_out "hello from hako" \
  run --rm --rootfs "$ROOTFS" c-echo /bin/echo hello from hako
t "the shim's --root reached hako" hako_was_called "--root $HAKO_ROOT/$NS"
t "the shim asks for json logs" hako_was_called "--log-format json"
t "the shim passes a pid file" hako_was_called "--pid-file"
t "exit code is passed through" expect_rc 7 run --rm --rootfs "$ROOTFS" c-exit /bin/sh -c 'exit 7'
t "container has its own pid namespace" expect_out "pid 1" \
  run --rm --rootfs "$ROOTFS" c-pid /bin/sh -c 'echo pid $$'
t "cgroup is /<namespace>/<id>" expect_out "/$NS/c-cg" \
  run --rm --rootfs "$ROOTFS" c-cg /bin/cat /proc/self/cgroup
t "cgroup from --cgroup" expect_out "/$TAG/c-cg2" \
  run --rm --cgroup "/$TAG/c-cg2" --rootfs "$ROOTFS" c-cg2 /bin/cat /proc/self/cgroup
defer "for d in /sys/fs/cgroup/*/$TAG /sys/fs/cgroup/$TAG; do [ -d \$d ] && rmdir \$d; done"

# The error of a failed create is the last "level":"error" line of hako's log; the shim puts
# it in the error ctr prints.
t "missing program fails" expect_rc 1 run --rm --rootfs "$ROOTFS" c-missing /nonexistent
t "hako's error reaches ctr" expect_out 'OCI runtime create failed: exec: "/nonexistent"' \
  sh -c "$(printf '%q ' "${RUN[@]}") --rm --rootfs $ROOTFS c-missing2 /nonexistent; true"
t "failed container left nothing in hako" ns_clean $NS

# run -t: the shim hands hako a console socket and relays the pty.
t "run -t gets a tty" expect_out "/dev/pts/0" \
  in_terminal "${RUN[@]}" --rm -t --rootfs "$ROOTFS" c-tty /bin/sh -c 'tty; sleep 0.3'
t "run -t exit code" expect_rc 4 \
  in_terminal "${RUN[@]}" --rm -t --rootfs "$ROOTFS" c-tty2 /bin/sh -c 'exit 4'

# Joining a namespace by path: the container's net namespace is the one bind-mounted there.
ip netns add "$TAG" && defer "ip netns del $TAG"
t "--with-ns joins a netns by path" expect_out "net:[$(stat -L -c %i "/run/netns/$TAG")]" \
  run --rm --with-ns "network:/run/netns/$TAG" --rootfs "$ROOTFS" c-netns /bin/readlink /proc/self/ns/net

# A long-running container: the shim keeps it while hako has exited.
t "run -d" run -d --rootfs "$ROOTFS" c1 /bin/sleep 1000
t "task is running" expect_out "RUNNING" sh -c "$(printf '%q ' "${CTR[@]}") task ls | grep c1"
t "hako state says running" expect_out '"status": "running"' \
  "$HAKO" --root "$HAKO_ROOT/$NS" state c1
t "pid file matches the task's pid" expect_eq "$(cr task ls | awk '$1 == "c1" {print $2}')" \
  "$("$HAKO" --root "$HAKO_ROOT/$NS" state c1 | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')" "pid"
t "task exec" expect_out "in c1" cr task exec --exec-id e1 c1 /bin/echo in c1
t "exec sees the container's pid 1" expect_out "sleep 1000" cr task exec --exec-id e2 c1 /bin/ps -o pid,args
t "exec exit code" expect_rc 3 cr task exec --exec-id e3 c1 /bin/sh -c 'exit 3'
t "exec --tty gets a tty" expect_out "/dev/pts/" in_terminal "${CTR[@]}" task exec -t --exec-id e4 c1 /bin/tty
t "exec --tty exit code" expect_rc 5 in_terminal "${CTR[@]}" task exec -t --exec-id e5 c1 /bin/sh -c 'exit 5'
t "exec of a missing program: hako's error" expect_out 'OCI runtime exec failed: exec in "c1": exec: "/nonexistent"' \
  sh -c "$(printf '%q ' "${CTR[@]}") task exec --exec-id e6 c1 /nonexistent; true"
t "task ps lists the init" expect_out "$(cr task ls | awk '$1 == "c1" {print $2}')" cr task ps c1
t "pause" cr task pause c1
t "paused" expect_out "PAUSED" sh -c "$(printf '%q ' "${CTR[@]}") task ls | grep c1"
t "hako state says paused" expect_out '"status": "paused"' "$HAKO" --root "$HAKO_ROOT/$NS" state c1
t "resume" cr task resume c1
t "running again" expect_out "RUNNING" sh -c "$(printf '%q ' "${CTR[@]}") task ls | grep c1"
t "kill (SIGKILL)" cr task kill -s KILL c1
t "killed: stopped" wait_for 10 sh -c "$(printf '%q ' "${CTR[@]}") task ls | grep c1 | grep -q STOPPED"
t "task delete" cr task delete c1
t "container delete" cr container delete c1
t "gone from hako" ns_clean $NS

# kill -a: every process in the container's cgroup.
t "run -d a shell with children" run -d --rootfs "$ROOTFS" c2 /bin/sh -c 'sleep 1000 & sleep 1001 & wait'
t "children are up" wait_for 10 sh -c "$(printf '%q ' "${CTR[@]}") task ps c2 | grep -c . | grep -qx 4"
C2_PIDS=$(cr task ps c2 | awk 'NR > 1 {print $1}')
t "kill -a" cr task kill -a -s KILL c2
t "kill -a: stopped" wait_for 10 sh -c "$(printf '%q ' "${CTR[@]}") task ls | grep c2 | grep -q STOPPED"
all_gone() { local p; for p in "$@"; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
t "no process of c2 is left" wait_for 5 all_gone $C2_PIDS
t "delete c2" cr task delete c2
cr container delete c2 >/dev/null 2>&1

# delete --force of a running task (the shim then runs `delete --force` again on cleanup).
t "run -d c3" run -d --rootfs "$ROOTFS" c3 /bin/sleep 1000
t "task delete -f of a running task" cr task delete -f c3
t "c3 gone from hako" ns_clean $NS
t "the shim ran delete --force" hako_was_called "delete --force"
t "delete --force of a deleted container exits 0" "$HAKO" --root "$HAKO_ROOT/$NS" delete --force c3
cr container delete c3 >/dev/null 2>&1

# --- CRI: the kubelet's view, through containerd's CRI plugin ---
# A pause image: the busybox rootfs imported with a sleep for CMD, saved, imported into k8s.io.
PM=(podman --root "$WORK/podman" --runroot "$WORK/podman-run" --tmpdir "$WORK/tmp" --storage-driver vfs)
defer "${PM[*]} rmi -af"
rootfs_tar "$WORK/rootfs.tar"
t "make the pause image" "${PM[@]}" import --change 'CMD ["/bin/sleep","2147483647"]' \
  "$WORK/rootfs.tar" "$PAUSE_IMAGE"
t "save it" "${PM[@]}" save -o "$WORK/pause.tar" "$PAUSE_IMAGE"
t "import it into containerd" ctr --address "$SOCK" -n k8s.io images import "$WORK/pause.tar"
t "CRI sees the image" wait_for 10 \
  python3 "$REPO/tests/engines/cri.py" --socket "$SOCK" image-exists "$PAUSE_IMAGE"
t "CRI: pod sandbox, container, exec, stop, remove" python3 "$REPO/tests/engines/cri.py" \
  --socket "$SOCK" --image "$PAUSE_IMAGE" --log-dir "$WORK/pod-logs" --cgroup-parent "/$TAG-pods" \
  --hako "$HAKO" --hako-root "$HAKO_ROOT/k8s.io" \
  --bundles "$CD/state/io.containerd.runtime.v2.task/k8s.io" lifecycle
defer "for d in /sys/fs/cgroup/*/$TAG-pods /sys/fs/cgroup/$TAG-pods; do [ -d \$d ] && rmdir \$d; done"
t "CRI: the shim passed hako the k8s.io root" hako_was_called "--root $HAKO_ROOT/k8s.io"
t "CRI: pods gone from hako" ns_clean k8s.io

# Stop containerd, then no shim and no container may be left.
run_deferred
t "no containerd shim left" no_shims_left
t "no hako container left" no_hako_state_left
finish
