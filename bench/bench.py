#!/usr/bin/env python3
"""Container lifecycle benchmark driver (python3 stdlib only).

Normally started by bench/run.sh, inside a private mount namespace. Times each runtime
invocation with time.perf_counter_ns() around the subprocess call, so the numbers include
fork/exec of the runtime binary -- the same cost an engine like containerd/podman pays.

Usage: bench.py --bundle DIR --live-bundle DIR --work DIR --out FILE.json
                [--n N] [--rounds R] [--live L] [--rss R] RUNTIME=PATH ...
"""

import argparse
import glob
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time

TIME_BIN = "/usr/bin/time"

# Phases in table order, with a one-line meaning (also used in the JSON).
PHASES = [
    ("run+delete", "run /bin/true in the foreground, then delete if run left it behind"),
    ("run", "the foreground run alone (runc/crun delete the container themselves on exit)"),
    ("create", "create (fork the init, set up namespaces/rootfs/cgroups; init waits for start)"),
    ("start", "start the created container (init execs /bin/true)"),
    ("delete", "delete the stopped container (after its process exited; not timed: the wait)"),
    ("run -d", "detached run of a long-lived container (sleep 1000)"),
    ("run -d, first 10", "detached run while 0-9 containers are alive"),
    ("run -d, last 10", "detached run while LIVE-10..LIVE-1 containers are alive (flat as N grows?)"),
    ("state", "state of one container while LIVE containers are running"),
    ("list", "list with LIVE containers running"),
    ("delete -f", "forced delete of a running container (kill + wait + delete)"),
]


# Commands whose peak RSS is measured (`list` with LIVE containers alive).
RSS_COMMANDS = ["create", "start", "state", "delete", "list"]


class RuntimeError_(Exception):
    """A runtime command failed (named to avoid shadowing the builtin RuntimeError)."""


class Runtime:
    def __init__(self, name, path, work, state_dir, timeout):
        self.timeout = timeout
        self.name = name
        self.path = path
        self.root = os.path.join(state_dir or work, "root-" + name)
        os.makedirs(self.root, exist_ok=True)
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "ab")
        self.run_keeps = False  # does a foreground `run` leave the container behind?
        self.live = set()  # ids that may exist, for cleanup
        self.samples = {p: [] for p, _ in PHASES}
        self.rss_kb = {c: [] for c in RSS_COMMANDS}
        self.errors = 0

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]

    def call(self, *args, check=True, prefix=()):
        """Run one runtime command; return elapsed ns. stdout -> DEVNULL, stderr -> log file
        (never pipes: a container inheriting a pipe would make us wait for its exit)."""
        argv = [*prefix, *self.argv(*args)]
        self.log.write((" ".join(argv) + "\n").encode())
        self.log.flush()
        # Watchdog: a blocking wait() plus a timer thread that kills on timeout. (Not
        # Popen.wait(timeout=...): that polls with exponential backoff sleeps, which would
        # quantize every measurement to 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 ms ...) The timer is
        # started before t0 so its cost is not measured.
        proc = {}
        timed_out = threading.Event()

        def on_timeout():
            timed_out.set()
            if "p" in proc:
                killpg(proc["p"])

        watchdog = threading.Timer(self.timeout, on_timeout)
        watchdog.start()
        t0 = time.perf_counter_ns()
        # Own session (and process group), so a hung runtime can be killed with all its helpers.
        p = proc["p"] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self.log, start_new_session=True)
        rc = p.wait()
        dt = time.perf_counter_ns() - t0
        watchdog.cancel()
        if timed_out.is_set():
            self.errors += 1
            kill_matching(args[-1])
            raise RuntimeError_(f"{self.name}: `{' '.join(args)}` timed out after {self.timeout}s"
                                f" (killed); see {self.log_path}:\n" + self.log_tail())
        if rc != 0 and check:
            self.errors += 1
            raise RuntimeError_(f"{self.name}: `{' '.join(args)}` exited {rc}; see {self.log_path}:\n"
                                + self.log_tail())
        return dt if rc == 0 else None

    def call_out(self, *args):
        try:
            p = subprocess.run(self.argv(*args), stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return None, "", "timeout"
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def log_tail(self, n=8):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def exists(self, cid):
        rc, _, _ = self.call_out("state", cid)
        return rc == 0

    def cleanup(self):
        """Best effort: force-delete what may be left, kill stragglers, remove empty cgroups."""
        for cid in list(self.live):
            p = subprocess.Popen(self.argv("delete", "-f", cid), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                p.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                killpg(p)
                p.wait()
            kill_matching(cid)
            for d in glob.glob(f"/sys/fs/cgroup/*/{cid}") + glob.glob(f"/sys/fs/cgroup/{cid}"):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            self.live.discard(cid)


def killpg(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass


def kill_matching(cid):
    """SIGKILL every process whose command line mentions the (unique) container id: a hung
    runtime's children may have left its process group."""
    me = os.getpid()
    for d in glob.glob("/proc/[0-9]*"):
        try:
            pid = int(d[6:])
            with open(d + "/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if pid != me and cid.encode() in argv:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def ms(ns):
    return ns / 1e6


def wait_pid_exit(pidfile, timeout=10.0):
    """Wait until the container's init is gone (or a zombie, which runtimes treat as stopped)."""
    with open(pidfile) as f:
        pid = int(f.read().strip())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            if st[st.rindex(")") + 2] in "ZX":
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.0005)
    raise RuntimeError_(f"container pid {pid} did not exit within {timeout}s")


class Bench:
    def __init__(self, args, runtimes):
        self.a = args
        self.rts = runtimes
        self.seq = 0
        self.pidfile = os.path.join(args.work, "pid")
        self.failed = {}  # runtime name -> why it was dropped mid-run

    def new_id(self, rt, tag):
        self.seq += 1
        return f"bench-{rt.name}-{tag}-{os.getpid()}-{self.seq}"

    # --- phases -------------------------------------------------------------------------
    def run_delete(self, rt):
        cid = self.new_id(rt, "run")
        rt.live.add(cid)
        t_run = rt.call("run", "--bundle", self.a.bundle, cid)
        t_del = 0
        if rt.run_keeps:
            t_del = rt.call("delete", cid)
        rt.live.discard(cid)
        rt.samples["run"].append(t_run)
        rt.samples["run+delete"].append(t_run + t_del)

    def create_start_delete(self, rt):
        cid = self.new_id(rt, "csd")
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        rt.live.add(cid)
        t_c = rt.call("create", "--bundle", self.a.bundle, "--pid-file", self.pidfile, cid)
        t_s = rt.call("start", cid)
        wait_pid_exit(self.pidfile)
        t_d = rt.call("delete", cid)
        rt.live.discard(cid)
        rt.samples["create"].append(t_c)
        rt.samples["start"].append(t_s)
        rt.samples["delete"].append(t_d)

    def timed_rss(self, rt, what, *args):
        """Run a command under GNU time; record its peak RSS (KiB; %M = max RSS of the runtime
        process tree that time waited for) under `what`."""
        out = os.path.join(self.a.work, "rss")
        rt.call(*args, prefix=(TIME_BIN, "-f", "%M", "-o", out))
        with open(out) as f:
            lines = [l for l in f.read().split() if l.isdigit()]
        if lines:
            rt.rss_kb[what].append(int(lines[-1]))

    def rss(self, rt):
        """Peak RSS of each lifecycle command of one container."""
        cid = self.new_id(rt, "rss")
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        rt.live.add(cid)
        self.timed_rss(rt, "create", "create", "--bundle", self.a.bundle, "--pid-file",
                       self.pidfile, cid)
        self.timed_rss(rt, "state", "state", cid)
        self.timed_rss(rt, "start", "start", cid)
        wait_pid_exit(self.pidfile)
        self.timed_rss(rt, "delete", "delete", cid)
        rt.live.discard(cid)

    def live_phase(self, rt):
        ids = []
        try:
            for i in range(self.a.live):
                cid = self.new_id(rt, "live")
                rt.live.add(cid)
                ids.append(cid)
                t = rt.call("run", "-d", "--bundle", self.a.live_bundle, cid)
                rt.samples["run -d"].append(t)
                if i < 10:
                    rt.samples["run -d, first 10"].append(t)
                elif i >= self.a.live - 10:
                    rt.samples["run -d, last 10"].append(t)
            for cid in ids:
                rt.samples["state"].append(rt.call("state", cid))
            for _ in range(self.a.list_samples):
                rt.samples["list"].append(rt.call("list"))
            if os.access(TIME_BIN, os.X_OK):
                self.timed_rss(rt, "list", "list")
        finally:
            for cid in ids:
                t = rt.call("delete", "-f", cid, check=False)
                if t is None:
                    rt.errors += 1
                else:
                    rt.samples["delete -f"].append(t)
                    rt.live.discard(cid)

    # --- driver -------------------------------------------------------------------------
    def smoke(self, rt):
        """One untimed run; also learn whether a foreground run keeps the container."""
        cid = self.new_id(rt, "smoke")
        rt.live.add(cid)
        rt.call("run", "--bundle", self.a.bundle, cid)
        rt.run_keeps = rt.exists(cid)
        if rt.run_keeps:
            rt.call("delete", cid)
        rt.live.discard(cid)

    def each(self, order, fn):
        """Run fn for each runtime; a runtime that fails is dropped from the rest of the run
        (its samples so far are kept and it is reported), the others go on."""
        for rt in order:
            if rt not in self.rts:
                continue
            try:
                fn(rt)
            except RuntimeError_ as e:
                rt.cleanup()
                self.rts.remove(rt)
                self.failed[rt.name] = str(e)
                print(f"error: dropping {rt.name}: {e}", file=sys.stderr, flush=True)

    def rotated(self, r):
        k = r % len(self.rts)
        return self.rts[k:] + self.rts[:k]

    def run(self):
        t_start = time.monotonic()
        for r in range(self.a.rounds):
            order = self.rotated(r)
            print(f"round {r + 1}/{self.a.rounds}: order {' '.join(rt.name for rt in order)}",
                  file=sys.stderr, flush=True)
            # Interleave runtimes container by container (A B C, B C A, C A B ...), and the
            # run and create/start/delete lifecycles too, so drift hits every cell alike.
            for i in range(self.a.n):
                self.each(self.rotated(r + i), self.run_delete)
                self.each(self.rotated(r + i + 1), self.create_start_delete)
            if os.access(TIME_BIN, os.X_OK):
                for i in range(self.a.rss):
                    self.each(self.rotated(r + i), self.rss)
            self.each(order, self.live_phase)
            if not self.rts:
                raise RuntimeError_("every runtime failed")
        return time.monotonic() - t_start


def pct(xs, p):
    """p-th percentile with linear interpolation (like numpy's default)."""
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(rts):
    out = {}
    for rt in rts:
        s = {}
        for phase, _ in PHASES:
            xs = [ms(x) for x in rt.samples[phase]]
            if xs:
                s[phase] = {"n": len(xs), "median_ms": statistics.median(xs), "p90_ms": pct(xs, 90),
                            "mean_ms": statistics.fmean(xs), "min_ms": min(xs), "max_ms": max(xs)}
        for c, xs in rt.rss_kb.items():
            if xs:
                s[f"peak_rss_{c}_kib"] = {"n": len(xs), "median": statistics.median(xs),
                                          "max": max(xs)}
        out[rt.name] = s
    return out


def print_table(summary, names, skipped, keeps):
    base = "crun" if "crun" in names else None
    others = [n for n in names if n != base] if base else []
    # hako/crun first, then the rest.
    others.sort(key=lambda n: (n != "hako", n))
    if base and "hako" not in others:
        others.insert(0, "hako")  # show the column, as "-", so the table shape is stable
    head = ["phase (ms)"] + [f"{n} med" for n in names] + [f"{n} p90" for n in names]
    head += [f"{o}/{base}" for o in others] if base else []
    rows = []

    def ratio(o, phase, key):
        a = summary.get(o, {}).get(phase)
        b = summary.get(base, {}).get(phase)
        if not a or not b or not b[key]:
            return "-"
        return f"{a[key] / b[key]:.2f}x"

    for phase, _ in PHASES:
        if not any(phase in summary[n] for n in names):
            continue
        if phase == "run" and not any(keeps.values()):
            continue  # identical to run+delete: every runtime deletes on exit itself
        row = [phase]
        row += [f"{summary[n][phase]['median_ms']:.2f}" if phase in summary[n] else "-" for n in names]
        row += [f"{summary[n][phase]['p90_ms']:.2f}" if phase in summary[n] else "-" for n in names]
        row += [ratio(o, phase, "median_ms") for o in others] if base else []
        rows.append(row)
    for c in RSS_COMMANDS:
        key = f"peak_rss_{c}_kib"
        rss = {n: summary[n].get(key) for n in names}
        if not any(rss.values()):
            continue
        row = [f"peak RSS {c} (KiB)"]
        row += [f"{rss[n]['median']:.0f}" if rss[n] else "-" for n in names]
        row += [f"{rss[n]['max']:.0f}" if rss[n] else "-" for n in names]
        if base:
            for o in others:
                a, b = summary.get(o, {}).get(key), rss.get(base)
                row.append(f"{a['median'] / b['median']:.2f}x" if a and b else "-")
        rows.append(row)

    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                              for i, c in enumerate(r))
    print(fmt(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))
    print("(med = median, p90 = 90th percentile; RSS columns: median and max over samples;"
          " ratios compare medians)")
    for n, why in skipped.items():
        print(f"skipped {n}: {why}")


def version_of(path):
    try:
        p = subprocess.run([path, "--version"], capture_output=True, timeout=10)
        return p.stdout.decode(errors="replace").strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 - informational only
        return f"? ({e})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--live-bundle", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--state-dir", default="", help="where the runtimes' --root dirs go (default: --work)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--live", type=int, default=50)
    ap.add_argument("--list-samples", type=int, default=10)
    ap.add_argument("--rss", type=int, default=3, help="RSS samples per runtime per round")
    ap.add_argument("--timeout", type=float, default=30, help="seconds per runtime invocation")
    ap.add_argument("--skip", action="append", default=[], help="NAME=reason (reported)")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("runtimes", nargs="+", help="NAME=PATH")
    a = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    skipped = dict(s.split("=", 1) for s in a.skip)
    rts = []
    for spec in a.runtimes:
        name, path = spec.split("=", 1)
        rts.append(Runtime(name, path, a.work, a.state_dir, a.timeout))
    bench = Bench(a, rts)

    ok = []
    for rt in rts:
        try:
            bench.smoke(rt)
            ok.append(rt)
        except RuntimeError_ as e:
            rt.cleanup()
            skipped[rt.name] = f"smoke test failed:\n    " + str(e).replace("\n", "\n    ")
            print(f"note: skipping {rt.name}: smoke test failed", file=sys.stderr)
    if not ok:
        print("no runtime passed the smoke test", file=sys.stderr)
        for n, why in skipped.items():
            print(f"skipped {n}: {why}", file=sys.stderr)
        return 1
    bench.rts = list(ok)
    print(f"benchmarking {', '.join(rt.name for rt in ok)}: N={a.n} per block, ROUNDS={a.rounds}, "
          f"LIVE={a.live}", file=sys.stderr, flush=True)

    failed = None
    elapsed = 0.0
    try:
        elapsed = bench.run()
    except RuntimeError_ as e:
        failed = str(e)
        print(f"error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        failed = "interrupted"
        print("interrupted; cleaning up", file=sys.stderr)
    finally:
        for rt in rts:
            rt.cleanup()

    for name, why in bench.failed.items():
        skipped[name] = "dropped mid-run, partial samples shown:\n    " + why.replace("\n", "\n    ")
    names = [rt.name for rt in ok]
    summary = summarize(ok)
    print()
    print_table(summary, names, skipped, {rt.name: rt.run_keeps for rt in ok})
    if failed:
        print(f"RUN INCOMPLETE: {failed}")

    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"kernel": platform.release(), "machine": platform.machine(), "cpus": os.cpu_count(),
                 "loadavg_end": os.getloadavg()},
        "params": {"n": a.n, "rounds": a.rounds, "live": a.live, "list_samples": a.list_samples,
                   "rss_samples_per_round": a.rss},
        "notes": a.note,
        "elapsed_s": elapsed,
        "incomplete": failed,
        "phases": dict(PHASES),
        "runtimes": {rt.name: {"path": rt.path, "version": version_of(rt.path),
                               "run_keeps_container": rt.run_keeps, "errors": rt.errors,
                               "samples_ms": {p: [ms(x) for x in xs] for p, xs in rt.samples.items() if xs},
                               "peak_rss_kib": rt.rss_kb}
                     for rt in ok},
        "skipped": skipped,
        "dropped_mid_run": bench.failed,
        "summary": summary,
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"raw numbers: {a.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
