#!/bin/bash
# Docker 20.10 driving hako through containerd's runc v2 shim: run, run -it/-i, --init, exit
# codes and errors, exec, top, pause, kill, stop/start/restart, update, rm -f, joining another
# container's namespaces, an imported image. Everything private: a containerd and a dockerd of
# our own (data, state, exec-root, sockets, pid files and daemon.json in the temp dir), stopped by
# pid at the end along with any shim they left; hako keeps its state in $HAKO_ROOT.
. "$(dirname "$0")/lib.sh"
for c in dockerd docker containerd containerd-shim-runc-v2 docker-init; do
  command -v $c >/dev/null || { log "$c is not installed (scripts/install-deps.sh)"; exit 1; }
done
engine_init docker

# The runc v2 shim runs `RUNTIME --root $EXEC/runtime-runc/moby --log FILE --log-format json
# SUBCOMMAND ...`; $HAKO_WRAP puts hako's private --root after the shim's (the last one wins).

# Our own containerd: dockerd would use a system one at /run/containerd/containerd.sock when
# there is one. (The shims' ttrpc sockets are always in /run/containerd/s/, named by a hash of
# our socket path; they go away with the shims.)
CTRD=$WORK/containerd
mkdir -p "$CTRD"
cat >"$CTRD/config.toml" <<EOF
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD/containerd.sock"
[ttrpc]
  address = "$CTRD/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
EOF
containerd --config "$CTRD/config.toml" >"$WORK/containerd.log" 2>&1 &
CTRD_PID=$!

EXEC=$WORK/exec
DOCKER_SOCK=$WORK/docker.sock
# deprecated-key-path: the daemon's identity key, else /etc/docker/key.json.
echo "{\"deprecated-key-path\": \"$WORK/key.json\"}" >"$WORK/daemon.json"
# No systemd: cgroupfs. No bridge or iptables: every container runs with --network none (or
# joins another's). This machine cannot lower oom_score_adj. --default-runtime hako covers the
# runtime dockerd asks `--version` of. runcx is there for comparing by hand (KEEP_WORK=1 and a
# pause in the script, then `docker run --runtime runcx ...`).
dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/docker" --exec-root "$EXEC" \
  --pidfile "$WORK/docker.pid" -H "unix://$DOCKER_SOCK" --containerd "$CTRD/containerd.sock" \
  --iptables=false --ip6tables=false --bridge=none \
  --exec-opt native.cgroupdriver=cgroupfs --oom-score-adjust 0 --storage-driver overlay2 \
  --add-runtime hako="$HAKO_WRAP" --add-runtime runcx=/usr/sbin/runc \
  --default-runtime hako >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!

export DOCKER_CONFIG=$WORK/docker-cli DOCKER_HOST=unix://$DOCKER_SOCK
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
# docker run with our runtime and no network.
DR=(docker run --runtime hako --network none)

# Pids of shims (and daemons) whose command line names the work dir, read without forking so
# no helper process matches itself.
work_shims() {
  local p comm a
  for p in /proc/[0-9]*; do
    read -r comm <"$p/comm" 2>/dev/null || continue
    case $comm in containerd* | dockerd) ;; *) continue ;; esac
    mapfile -d '' a <"$p/cmdline" 2>/dev/null || continue
    [[ "${a[*]}" == *"$WORK/"* ]] && echo "${p#/proc/}"
  done
}

# The daemons stop: dockerd, then containerd, then any shim left (a shim outlives containerd
# by design). Fails if something had to be killed or does not go away.
stop_docker() {
  local rc=0 p
  stop_pid "$DOCKERD_PID" 20 || rc=1
  wait "$DOCKERD_PID" 2>/dev/null
  stop_pid "$CTRD_PID" 10 || rc=1
  wait "$CTRD_PID" 2>/dev/null
  for p in $(work_shims); do
    echo "left running: $(tr '\0' ' ' <"/proc/$p/cmdline")"
    rc=1
    stop_pid "$p" 5
  done
  return $rc
}

# Cleanup, last-in first-out: containers, then the daemons, then whatever hako still has.
# dockerd always makes /run/docker/plugins (plugin discovery): removed again if it was not there.
[ -e /run/docker ] || defer "rmdir /run/docker/plugins /run/docker"
defer "$HAKO --root $HAKO_ROOT list -q | xargs -r -n1 $HAKO --root $HAKO_ROOT delete --force"
defer stop_docker
defer "docker rm -f \$(docker ps -aq)"

# docker_up: dockerd answers within 60 s (fails at once when it or containerd died).
docker_up() {
  local i
  for ((i = 0; i < 600; i++)); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$CTRD_PID" 2>/dev/null || { echo "containerd exited:"; tail -20 "$WORK/containerd.log"; return 1; }
    kill -0 "$DOCKERD_PID" 2>/dev/null || { echo "dockerd exited:"; tail -20 "$WORK/dockerd.log"; return 1; }
    sleep 0.1
  done
  echo "dockerd did not answer in 60 s:"
  tail -20 "$WORK/dockerd.log"
  return 1
}
t "dockerd comes up" docker_up
docker version >/dev/null 2>&1 || finish
t "hako is the default runtime" expect_out "Default Runtime: hako" docker info
rootfs_tar "$WORK/rootfs.tar"
t "import" docker import --change 'CMD ["/bin/sh","-c","echo from the image"]' \
  "$WORK/rootfs.tar" hako-busybox:test
IMG=hako-busybox:test

t "run --rm prints from inside" expect_out "hello from hako" \
  "${DR[@]}" --rm $IMG /bin/echo hello from hako
t "the image's CMD" expect_out "from the image" "${DR[@]}" --rm $IMG
t "the default runtime is hako" expect_out "default runtime" sh -c \
  "docker run --name dflt --network none $IMG echo default runtime &&
   docker inspect -f '{{.HostConfig.Runtime}}' dflt | grep -qx hako && docker rm dflt"
t "the shim passes --root, --log-format json, --pid-file" sh -c \
  "grep -F -- '--root $EXEC/runtime-runc/moby' $HAKO_LOG | grep -F -- '--log-format json' |
   grep -F -- ' create ' | grep -qF -- '--pid-file'"
t "hako's state is in its own --root, not the shim's" sh -c \
  "[ -z \"\$(ls -A $EXEC/runtime-runc/moby 2>/dev/null)\" ] || { ls -l $EXEC/runtime-runc/moby; exit 1; }"
t "exit code is passed through" expect_rc 7 "${DR[@]}" --rm $IMG /bin/sh -c 'exit 7'
t "missing program exits 127" expect_rc 127 "${DR[@]}" --rm $IMG /nonexistent
t "non-executable program exits 126" expect_rc 126 "${DR[@]}" --rm $IMG /etc
t "hako's error reaches the user" expect_out 'exec: "/nonexistent": stat /nonexistent: no such file' \
  sh -c "$(printf '%q ' "${DR[@]}") --rm $IMG /nonexistent; true"
t "container has its own pid namespace" expect_out "1" "${DR[@]}" --rm $IMG /bin/sh -c 'echo $$'
t "cgroup is /docker/ID" sh -c "id=\$($(printf '%q ' "${DR[@]}") -d $IMG sleep 100) &&
   docker exec \$id cat /proc/1/cgroup | grep -q \":memory:/docker/\$id\$\"; r=\$?; docker rm -f \$id >/dev/null; exit \$r"
t "hostname is the short id" expect_out "ok" sh -c "id=\$($(printf '%q ' "${DR[@]}") -d $IMG sleep 100) &&
   docker exec \$id hostname | grep -qx \$(echo \$id | cut -c1-12); r=\$?; docker rm -f \$id >/dev/null; [ \$r = 0 ] && echo ok"

# What the host refuses must fail `create`, as with runc: Docker takes a failed `start` for a
# container that ran, and the shim's task then leaks. (Only where the host withholds
# CAP_SYS_RESOURCE, as this test VM does.)
if ! (((16#$(awk '/^CapBnd/ {print $2}' /proc/self/status) >> 24) & 1)); then
  hard=$(ulimit -Hn)
  t "a hard rlimit above the host's fails at create" expect_out "OCI runtime create failed: process.rlimits" \
    sh -c "$(printf '%q ' "${DR[@]}") --rm --ulimit nofile=$((hard + 1)):$((hard + 1)) $IMG true; true"
  t "a capability the host withholds fails at create" expect_out "create failed: process.capabilities" \
    sh -c "$(printf '%q ' "${DR[@]}") --rm --cap-add SYS_RESOURCE $IMG true; true"
  t "--privileged fails at create too" expect_rc 125 "${DR[@]}" --rm --privileged $IMG true
  t "nothing left after the refused containers" hako_leftovers
fi

# stdin and terminals: -i through fifos, -it through the console socket.
t "run -i passes stdin" expect_out "through stdin" \
  sh -c "echo through stdin | $(printf '%q ' "${DR[@]}") --rm -i $IMG /bin/cat"
t "run -it gets a tty" expect_out "/dev/pts/0" in_terminal "${DR[@]}" --rm -it $IMG /bin/tty
t "the shim passes --console-socket" hako_was_called "--console-socket"
t "run -it exit code" expect_rc 4 in_terminal "${DR[@]}" --rm -it $IMG /bin/sh -c 'exit 4'

# --init: docker-init (tini) is pid 1, bind-mounted from the host.
t "--init: docker-init is pid 1" expect_out "1 /sbin/docker-init" \
  "${DR[@]}" --rm --init $IMG /bin/ps -o pid,args
t "--init passes the exit code" expect_rc 3 "${DR[@]}" --rm --init $IMG /bin/sh -c 'exit 3'

# A long-running container: hako exits, the shim keeps the container.
t "run -d" "${DR[@]}" -d --name c1 --ipc shareable $IMG /bin/sleep 1000
t "ps shows it running" expect_out "Up" docker ps --filter name=c1 --format '{{.Status}}'
t "the spec has docker's prestart hook, run by hako" sh -c \
  "grep -q '\"prestart\":.*libnetwork-setkey' $CTRD/state/io.containerd.runtime.v2.task/moby/\$(docker inspect -f '{{.Id}}' c1)/config.json"
t "hako state says running" expect_out '"status": "running"' \
  sh -c "$HAKO --root $HAKO_ROOT state \$(docker inspect -f '{{.Id}}' c1)"
t "the pid file's pid is the container's init" sh -c \
  "[ \"\$(docker inspect -f '{{.State.Pid}}' c1)\" = \"\$($HAKO --root $HAKO_ROOT state \$(docker inspect -f '{{.Id}}' c1) | sed -n 's/.*\"pid\": \\([0-9]*\\).*/\\1/p')\" ]"
t "exec" expect_out "in c1" docker exec c1 /bin/echo in c1
t "exec sees the container's pid 1" expect_out "sleep 1000" docker exec c1 /bin/ps -o pid,args
t "exec -i passes stdin" expect_out "through stdin" \
  sh -c "echo through stdin | docker exec -i c1 /bin/cat"
t "exec exit code" expect_rc 3 docker exec c1 /bin/sh -c 'exit 3'
# Docker 20.10 reports every failed exec as 126 (runc alike); hako's message reaches the user.
t "exec of a missing program fails with hako's error" expect_out 'stat /nonexistent: no such file' \
  sh -c "docker exec c1 /nonexistent; echo rc=\$?"
t "exec of a missing program exits 126, as with runc" expect_rc 126 docker exec c1 /nonexistent
t "exec -it gets a tty" expect_out "/dev/pts/" in_terminal docker exec -it c1 /bin/tty
t "exec -it exit code" expect_rc 5 in_terminal docker exec -it c1 /bin/sh -c 'exit 5'
t "exec -d, then top shows both" expect_out "sleep 999" \
  sh -c "docker exec -d c1 /bin/sleep 999 && sleep 0.5 && docker top c1"
t "top" expect_out "sleep 1000" docker top c1
t "stats" expect_out "c1" docker stats --no-stream c1
t "join its pid namespace (--pid container:)" expect_out "sleep 1000" \
  docker run --runtime hako --rm --network none --pid container:c1 $IMG /bin/ps -o pid,args
t "join its network and ipc namespaces" expect_out "same" sh -c \
  "a=\$(docker exec c1 readlink /proc/self/ns/net)\$(docker exec c1 readlink /proc/self/ns/ipc) &&
   b=\$(docker run --runtime hako --rm --network container:c1 --ipc container:c1 $IMG sh -c 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc' | tr -d '\n') &&
   [ \"\$a\" = \"\$b\" ] && echo same || { echo \"\$a != \$b\"; exit 1; }"
t "pause" docker pause c1
t "paused state" expect_out "paused" docker inspect -f '{{.State.Status}}' c1
t "hako state says paused" expect_out '"status": "paused"' \
  sh -c "$HAKO --root $HAKO_ROOT state \$(docker inspect -f '{{.Id}}' c1)"
t "unpause" docker unpause c1
t "running again" expect_out "running" docker inspect -f '{{.State.Status}}' c1
t "update --memory" docker update --memory 64m --memory-swap 128m c1
t "memory limit applied" expect_out "67108864" sh -c \
  "cat /sys/fs/cgroup/memory/docker/\$(docker inspect -f '{{.Id}}' c1)/memory.limit_in_bytes"
t "update --cpus" docker update --cpus 0.5 c1
t "cpu quota applied" expect_out "50000" sh -c \
  "cat /sys/fs/cgroup/cpu/docker/\$(docker inspect -f '{{.Id}}' c1)/cpu.cfs_quota_us"
t "kill" docker kill c1
t "killed: exited 137" wait_for 10 sh -c "docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' c1 | grep -qx 'exited 137'"
t "start again" docker start c1
t "running after start" expect_out "running" docker inspect -f '{{.State.Status}}' c1
t "kill -s USR1 reaches the init" sh -c \
  "docker run --runtime hako -d --name c2 --network none $IMG sh -c 'trap \"echo got usr1; exit 9\" USR1; while :; do sleep 0.1; done' >/dev/null &&
   sleep 0.5 && docker kill -s USR1 c2 >/dev/null && [ \"\$(docker wait c2)\" = 9 ] && docker logs c2 | grep -q 'got usr1' && docker rm c2"
t "stop" docker stop -t 1 c1
t "stopped: exited" expect_out "exited" docker inspect -f '{{.State.Status}}' c1
t "restart" docker restart -t 1 c1
t "running after restart" expect_out "running" docker inspect -f '{{.State.Status}}' c1
t "exec after restart" expect_out "again" docker exec c1 /bin/echo again
t "rm -f a running container" docker rm -f c1
t "gone from docker" expect_rc 1 docker container inspect c1
t "gone from hako" hako_leftovers
# Without a pid namespace of its own, what the init leaves behind dies with it: the shim sends
# `kill --all` for the stopped container (runc alike). (A function: no shell of ours has the
# sleep's command line.)
orphans_die() {
  local left
  "${DR[@]}" -d --name c5 --pid host $IMG sh -c 'sleep 7391 & sleep 1' >/dev/null || return 1
  wait_for 10 sh -c "docker inspect -f '{{.State.Status}}' c5 | grep -qx exited" || return 1
  sleep 0.5
  left=$(pgrep -f 'sleep 7391')
  docker rm -f c5 >/dev/null
  [ -z "$left" ] || { echo "left running: $left"; return 1; }
}
t "--pid host: the init's children die when it exits" orphans_die
t "run --rm -d" "${DR[@]}" --rm -d --name c3 $IMG sleep 1000
t "stop -t 0" docker stop -t 0 c3
t "--rm removed it" wait_for 10 sh -c "! docker container inspect c3"
t "run --restart on-failure:2" "${DR[@]}" -d --name c4 --restart on-failure:2 $IMG sh -c 'exit 1'
t "restarted twice, then exited" wait_for 30 sh -c \
  "docker inspect -f '{{.RestartCount}} {{.State.Status}}' c4 | grep -qx '2 exited'"
t "rm it" docker rm -f c4
t "nothing of hako's left once docker has removed everything" hako_leftovers
t "dockerd, containerd and the shims stop" stop_docker
finish
