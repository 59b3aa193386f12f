#!/usr/bin/env python3
"""A kubelet's calls to containerd's CRI plugin, for the containerd engine test.

Uses the CRI v1 gRPC stubs of the PyPI package container-runtime-interface-api (module cri_api)
over containerd's unix socket. Commands:

  image-exists IMAGE   exit 0 when the CRI image service knows IMAGE
  lifecycle            RunPodSandbox (host network) with the sandbox image, CreateContainer and
                       StartContainer in it, ContainerStatus, ExecSync, StopContainer,
                       RemoveContainer, StopPodSandbox, RemovePodSandbox; checks each result

Exits non-zero with a message naming the step that failed; cleans up what it made either way.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1.api_pb2_grpc import ImageServiceStub, RuntimeServiceStub

TIMEOUT = 60


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


class Client:
    def __init__(self, socket):
        self.channel = grpc.insecure_channel("unix://" + socket)
        self.rt = RuntimeServiceStub(self.channel)
        self.img = ImageServiceStub(self.channel)

    def call(self, step, fn, req, timeout=TIMEOUT):
        try:
            return fn(req, timeout=timeout)
        except grpc.RpcError as e:
            raise Failed(f"{step}: {e.code().name}: {e.details()}") from None


def image_exists(c, image):
    r = c.call("ImageStatus", c.img.ImageStatus, cri.ImageStatusRequest(image=cri.ImageSpec(image=image)))
    if not r.image.id:
        raise Failed(f"image {image} is not known to the CRI plugin")
    print(f"image {image}: {r.image.id}")


def hako_state(args, cid):
    out = subprocess.run(
        [args.hako, "--root", args.hako_root, "state", cid], capture_output=True, text=True
    )
    check(out.returncode == 0, f"hako state {cid}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def lifecycle(c, args):
    uid = f"hako-test-{os.getpid()}"
    sandbox_config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="hako-pod", uid=uid, namespace="default", attempt=0),
        log_directory=args.log_dir,
        labels={"test": "hako"},
        linux=cri.LinuxPodSandboxConfig(
            cgroup_parent=args.cgroup_parent,
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=cri.NamespaceOption(
                    network=cri.NODE, pid=cri.POD, ipc=cri.POD
                ),
            ),
        ),
    )
    sandbox_id = container_id = None
    others = []  # more containers, for the cleanup
    try:
        r = c.call(
            "RunPodSandbox",
            c.rt.RunPodSandbox,
            cri.RunPodSandboxRequest(config=sandbox_config, runtime_handler=args.runtime_handler),
        )
        sandbox_id = r.pod_sandbox_id
        print(f"RunPodSandbox: {sandbox_id}")

        r = c.call("PodSandboxStatus", c.rt.PodSandboxStatus, cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id))
        check(r.status.state == cri.SANDBOX_READY, f"PodSandboxStatus: state {r.status.state}, want READY")
        st = hako_state(args, sandbox_id)
        check(st["status"] == "running", f"hako state of the sandbox: {st['status']}, want running")
        sandbox_pid = st["pid"]
        print(f"sandbox: READY, hako pid {sandbox_pid}")

        config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="hako-c1", attempt=0),
            image=cri.ImageSpec(image=args.image),
            command=["/bin/sh", "-c"],
            args=["echo started in the pod; exec sleep 1000"],
            envs=[cri.KeyValue(key="HAKO_TEST", value="from-cri")],
            log_path="hako-c1.log",
            linux=cri.LinuxContainerConfig(
                security_context=cri.LinuxContainerSecurityContext(
                    namespace_options=cri.NamespaceOption(
                        network=cri.NODE, pid=cri.POD, ipc=cri.POD
                    ),
                ),
            ),
        )
        r = c.call(
            "CreateContainer",
            c.rt.CreateContainer,
            cri.CreateContainerRequest(
                pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config
            ),
        )
        container_id = r.container_id
        print(f"CreateContainer: {container_id}")
        c.call("StartContainer", c.rt.StartContainer, cri.StartContainerRequest(container_id=container_id))
        print("StartContainer: ok")

        # The bundle's spec, as the shim gave it to hako: a rootfs from the snapshotter at a
        # relative root.path, namespaces of the sandbox joined by path.
        with open(os.path.join(args.bundles, container_id, "config.json")) as f:
            spec = json.load(f)
        check(spec["root"]["path"] == "rootfs", f"spec root.path {spec['root']['path']!r}, want 'rootfs'")
        ns_paths = {n["type"]: n.get("path", "") for n in spec["linux"]["namespaces"]}
        for t in ("pid", "ipc"):
            check(
                ns_paths.get(t) == f"/proc/{sandbox_pid}/ns/{t}",
                f"spec: {t} namespace {ns_paths.get(t)!r}, want the sandbox's /proc/{sandbox_pid}/ns/{t}",
            )
        print("spec: relative root.path, the sandbox's namespaces by path")

        r = c.call("ContainerStatus", c.rt.ContainerStatus, cri.ContainerStatusRequest(container_id=container_id))
        check(
            r.status.state == cri.CONTAINER_RUNNING,
            f"ContainerStatus: state {r.status.state}, want RUNNING (reason {r.status.reason!r}: {r.status.message!r})",
        )
        print("ContainerStatus: RUNNING")

        def exec_sync(cmd):
            r = c.call(
                "ExecSync", c.rt.ExecSync, cri.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=30)
            )
            return r.exit_code, r.stdout.decode(), r.stderr.decode()

        code, out, err = exec_sync(["/bin/sh", "-c", "echo exec-ok $HAKO_TEST; exit 3"])
        check(code == 3, f"ExecSync: exit code {code}, want 3 (stderr {err!r})")
        check("exec-ok from-cri" in out, f"ExecSync: stdout {out!r} lacks 'exec-ok from-cri'")
        print("ExecSync: stdout and exit code ok")

        # The container joined the sandbox's pid namespace by path: it sees the pause process.
        code, out, err = exec_sync(["/bin/ps", "-o", "pid,args"])
        check(code == 0, f"ExecSync ps: exit code {code} (stderr {err!r})")
        check("sleep 2147483647" in out, f"ExecSync ps: the pod's pause process is not visible:\n{out}")
        check("sleep 1000" in out, f"ExecSync ps: the container's process is not visible:\n{out}")
        print("ExecSync: shares the sandbox's pid namespace")

        code, out, err = exec_sync(["/bin/cat", "/proc/self/cgroup"])
        check(code == 0, f"ExecSync cat: exit code {code} (stderr {err!r})")
        check(
            f"{args.cgroup_parent}/{container_id}" in out,
            f"ExecSync: cgroup is not {args.cgroup_parent}/{container_id}:\n{out}",
        )
        print("ExecSync: cgroup under the pod's parent")

        host_ns = os.readlink("/proc/self/ns/net")
        code, out, err = exec_sync(["/bin/readlink", "/proc/self/ns/net"])
        check(out.strip() == host_ns, f"ExecSync: net namespace {out.strip()!r}, want the host's {host_ns!r}")
        print("ExecSync: host network")

        # The runtime's exec fails (runc's too): containerd returns its error, hako's message.
        try:
            code, out, err = exec_sync(["/nonexistent"])
            check(False, f"ExecSync of a missing program: exit code {code}, want an error")
        except Failed as e:
            check('exec: "/nonexistent"' in str(e), f"ExecSync of a missing program: {e}")
        print("ExecSync of a missing program: hako's error")

        log = os.path.join(args.log_dir, "hako-c1.log")
        deadline = time.time() + 10
        while True:
            text = open(log).read() if os.path.exists(log) else ""
            if "started in the pod" in text:
                break
            check(time.time() < deadline, f"container log {log} lacks the container's output: {text!r}")
            time.sleep(0.1)
        print("container log: ok")

        # A container whose init exits and leaves a child in the pod's pid namespace: on the
        # exit the shim sends `kill --all` and containerd deletes the task (`delete`), and the
        # child must go with them, as it does with runc.
        config2 = cri.ContainerConfig()
        config2.CopyFrom(config)
        config2.metadata.name = "hako-c2"
        config2.log_path = "hako-c2.log"
        config2.args[:] = ["sleep 4321 & sleep 0.5; exit 0"]
        r = c.call(
            "CreateContainer c2",
            c.rt.CreateContainer,
            cri.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=config2, sandbox_config=sandbox_config),
        )
        c2 = r.container_id
        others.append(c2)
        c.call("StartContainer c2", c.rt.StartContainer, cri.StartContainerRequest(container_id=c2))
        deadline = time.time() + 10
        while True:
            r = c.call("ContainerStatus c2", c.rt.ContainerStatus, cri.ContainerStatusRequest(container_id=c2))
            if r.status.state == cri.CONTAINER_EXITED:
                break
            check(time.time() < deadline, f"c2 did not exit: state {r.status.state}")
            time.sleep(0.1)
        check(r.status.exit_code == 0, f"c2 exit code {r.status.exit_code}, want 0")
        deadline = time.time() + 5
        while True:
            code, out, err = exec_sync(["/bin/ps", "-o", "args"])
            if "sleep 4321" not in out:
                break
            check(time.time() < deadline, f"the child of c2's init outlived it:\n{out}")
            time.sleep(0.1)
        c.call("RemoveContainer c2", c.rt.RemoveContainer, cri.RemoveContainerRequest(container_id=c2))
        others.remove(c2)
        print("an exited container's leftover child is killed")

        c.call("StopContainer", c.rt.StopContainer, cri.StopContainerRequest(container_id=container_id, timeout=2))
        r = c.call("ContainerStatus", c.rt.ContainerStatus, cri.ContainerStatusRequest(container_id=container_id))
        check(r.status.state == cri.CONTAINER_EXITED, f"after StopContainer: state {r.status.state}, want EXITED")
        print(f"StopContainer: EXITED, exit code {r.status.exit_code}")
        c.call("RemoveContainer", c.rt.RemoveContainer, cri.RemoveContainerRequest(container_id=container_id))
        container_id = None
        print("RemoveContainer: ok")

        c.call("StopPodSandbox", c.rt.StopPodSandbox, cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))
        r = c.call("PodSandboxStatus", c.rt.PodSandboxStatus, cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id))
        check(r.status.state == cri.SANDBOX_NOTREADY, f"after StopPodSandbox: state {r.status.state}, want NOTREADY")
        print("StopPodSandbox: NOTREADY")
        c.call("RemovePodSandbox", c.rt.RemovePodSandbox, cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
        sandbox_id = None
        print("RemovePodSandbox: ok")

        r = c.call("ListPodSandbox", c.rt.ListPodSandbox, cri.ListPodSandboxRequest())
        left = [s.id for s in r.items if s.metadata.uid == uid]
        check(not left, f"ListPodSandbox still lists {left}")
    finally:
        # Best effort, after a failure: leave nothing behind.
        for cid in others + [container_id] if container_id else others:
            for fn, req in (
                (c.rt.StopContainer, cri.StopContainerRequest(container_id=cid, timeout=0)),
                (c.rt.RemoveContainer, cri.RemoveContainerRequest(container_id=cid)),
            ):
                try:
                    fn(req, timeout=TIMEOUT)
                except grpc.RpcError as e:
                    print(f"cleanup: {e.details()}", file=sys.stderr)
        if sandbox_id:
            for fn, req in (
                (c.rt.StopPodSandbox, cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)),
                (c.rt.RemovePodSandbox, cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id)),
            ):
                try:
                    fn(req, timeout=TIMEOUT)
                except grpc.RpcError as e:
                    print(f"cleanup: {e.details()}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", required=True, help="containerd's grpc socket")
    p.add_argument("--image", help="the image for the container (the sandbox image will do)")
    p.add_argument("--runtime-handler", default="hako", help="the CRI runtime (RuntimeClass handler)")
    p.add_argument("--log-dir", help="the pod's log directory")
    p.add_argument("--cgroup-parent", default="/hako-cri-test", help="the pod's cgroup parent")
    p.add_argument("--hako", default="hako", help="hako binary, to check its state")
    p.add_argument("--hako-root", help="hako's --root for the k8s.io namespace")
    p.add_argument("--bundles", help="the shim's bundle directory for the k8s.io namespace")
    p.add_argument("command", choices=["image-exists", "lifecycle"])
    p.add_argument("arg", nargs="?")
    args = p.parse_args()
    c = Client(args.socket)
    try:
        if args.command == "image-exists":
            image_exists(c, args.arg)
        else:
            for a in ("image", "log_dir", "hako_root", "bundles"):
                if not getattr(args, a):
                    p.error(f"lifecycle needs --{a.replace('_', '-')}")
            lifecycle(c, args)
    except Failed as e:
        print(f"CRI test failed: {e}", file=sys.stderr)
        sys.exit(1)
    print("CRI: all steps passed")


if __name__ == "__main__":
    main()
