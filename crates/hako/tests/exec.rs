//! `exec` (runc's `exec`, runtime.md has no exec operation: this is runc's CLI contract): the
//! new process joins every namespace and the cgroup of the container, gets the container's
//! process settings with the command line's overrides, and `exec` reports its status.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test exec`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// A started container whose init sleeps; returns (bundle, id, init pid).
fn running(env: &TestEnv, f: impl FnOnce(&mut Value)) -> (Bundle, String, i64) {
    let b = env.bundle_with(|s, _| {
        set_args(s, &["/checker", "sleep", "3600"]);
        f(s);
    });
    let id = env.id();
    env.create_start(&b, &id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    (b, id, pid)
}

/// `exec ID ARGS...` with options before the id.
fn exec(env: &TestEnv, opts: &[&str], id: &str, args: &[&str]) -> Out {
    let mut v = vec!["exec"];
    v.extend_from_slice(opts);
    v.push(id);
    v.extend_from_slice(args);
    env.cmd(&v)
}

/// The checker's report from an exec'd `/checker`.
#[track_caller]
fn exec_report(env: &TestEnv, opts: &[&str], id: &str) -> Value {
    let o = exec(env, opts, id, &["/checker"]);
    o.assert_ok();
    o.json()
}

fn env_has(report: &Value, kv: &str) -> bool {
    report["env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e.as_str() == Some(kv))
}

fn env_keys(report: &Value, key: &str) -> Vec<String> {
    report["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|e| e.split_once('=').map(|(k, _)| k) == Some(key))
        .map(String::from)
        .collect()
}

fn cap_bit(hex: &Value, bit: u32) -> bool {
    u64::from_str_radix(hex.as_str().unwrap(), 16).unwrap() & (1 << bit) != 0
}

const CAP_SYS_ADMIN: u32 = 21;

// runc exec: the process is in every namespace of the container's init (including a user
// namespace; runc 1.1 has no time namespaces, so that one is only asked of hako), and in the
// container's cgroup, on the host view and on the container's (cgroup namespace) view.
#[test]
fn exec_joins_every_namespace_and_the_cgroup() {
    let env = TestEnv::new("execns");
    let (_b, id, pid) = running(&env, |s| {
        let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "user"}));
        if is_hako() {
            ns.push(json!({"type": "time"}));
        }
        let map = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        s["linux"]["uidMappings"] = map.clone();
        s["linux"]["gidMappings"] = map;
    });
    let r = exec_report(&env, &[], &id);
    let ns = r["namespaces"].as_object().unwrap();
    let mut names: Vec<&str> = vec!["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"];
    if is_hako() {
        names.extend(["time", "time_for_children"]);
    }
    names.push("pid_for_children");
    for n in names {
        let init = ns_of(&pid.to_string(), n);
        assert_eq!(
            ns[n].as_str(),
            Some(init.as_str()),
            "{n}: exec'd process vs init {pid}: {r}"
        );
        if n != "pid_for_children" && n != "time_for_children" {
            assert_ne!(init, ns_of("self", n), "{n}: the init shares the host's");
        }
    }
    // Inside view: the same cgroup lines as pid 1 (both read in the container's cgroup ns).
    let o = exec(&env, &[], &id, &["/checker", "cat", "/proc/1/cgroup"]);
    o.assert_ok();
    let init_lines: Vec<&str> = o.stdout.lines().collect();
    let mine: Vec<&str> = r["cgroup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(mine, init_lines, "cgroup of the exec'd process vs pid 1");
    // Host view, with a detached process.
    let pf = env.base().join("exec.pid");
    exec(
        &env,
        &["-d", "--pid-file", pf.to_str().unwrap()],
        &id,
        &["/checker", "sleep", "3600"],
    )
    .assert_ok();
    let epid: i64 = fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    let cg = |p: i64| {
        let mut v: Vec<String> = fs::read_to_string(format!("/proc/{p}/cgroup"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(cg(epid), cg(pid), "host view of the cgroups");
    assert_eq!(r["pid"].as_i64().map(|p| p > 1), Some(true), "{r}");
}

// runc exec: the container's process settings are the default (env, cwd, user, caps);
// `-e K=V` overrides or adds a variable and keeps the others, `--cwd`, `-u UID[:GID]`, `-g`.
#[test]
fn exec_env_cwd_user_and_groups() {
    let env = TestEnv::new("execenv");
    let (_b, id, _) = running(&env, |s| {
        s["process"]["env"] = json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "FOO=container",
            "KEEP=1"
        ]);
        s["process"]["cwd"] = json!("/work");
    });
    // Defaults: the container's process.
    let r = exec_report(&env, &[], &id);
    assert!(env_has(&r, "FOO=container") && env_has(&r, "KEEP=1"), "{r}");
    assert_eq!(r["cwd"], "/work", "{r}");
    assert_eq!(r["ids"]["uid"]["effective"], 0, "{r}");
    assert_eq!(r["caps"]["CapEff"], cap_mask(CAP_DEFAULT), "{r}");

    let r = exec_report(
        &env,
        &[
            "-e",
            "FOO=exec",
            "-e",
            "NEW=x",
            "--cwd",
            "/tmp",
            "-u",
            "1000:1001",
            "-g",
            "5",
            "-g",
            "100",
        ],
        &id,
    );
    assert_eq!(env_keys(&r, "FOO"), ["FOO=exec"], "{r}");
    assert!(env_has(&r, "KEEP=1") && env_has(&r, "NEW=x"), "{r}");
    assert!(!env_keys(&r, "PATH").is_empty(), "{r}");
    assert_eq!(r["cwd"], "/tmp", "{r}");
    for k in ["real", "effective", "saved"] {
        assert_eq!(r["ids"]["uid"][k], 1000, "uid {k}: {r}");
        assert_eq!(r["ids"]["gid"][k], 1001, "gid {k}: {r}");
    }
    let mut groups: Vec<u64> = r["ids"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_u64().unwrap())
        .collect();
    groups.sort();
    assert_eq!(groups, [5, 100], "{r}");
    // A non-root user gets no effective capabilities.
    assert_eq!(r["caps"]["CapEff"], "0000000000000000", "{r}");

    // -u UID alone: gid 0.
    let r = exec_report(&env, &["-u", "1000"], &id);
    assert_eq!(r["ids"]["uid"]["effective"], 1000, "{r}");
    assert_eq!(r["ids"]["gid"]["effective"], 0, "{r}");
}

const CAP_DEFAULT: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

// runc exec --cap: the capability is added to the effective, permitted and bounding sets of the
// new process (not of the container), and it is usable.
#[test]
fn exec_cap_adds_a_capability() {
    let env = TestEnv::new("execcap");
    let (_b, id, _) = running(&env, |_| {});
    let r = exec_report(&env, &["--cap", "CAP_SYS_ADMIN"], &id);
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert!(cap_bit(&r["caps"][set], CAP_SYS_ADMIN), "{set}: {r}");
        for c in CAP_DEFAULT {
            let bit = CAPS.iter().position(|x| x == c).unwrap() as u32;
            assert!(cap_bit(&r["caps"][set], bit), "{set} lost {c}: {r}");
        }
    }
    let mount = ["sh", "-c", "mount -t tmpfs t /mnt && echo mounted"];
    let o = exec(&env, &["--cap", "CAP_SYS_ADMIN"], &id, &mount);
    o.assert_ok();
    assert!(o.stdout.contains("mounted"), "{o}");
    // Without --cap: neither in the sets nor usable.
    let r = exec_report(&env, &[], &id);
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert!(!cap_bit(&r["caps"][set], CAP_SYS_ADMIN), "{set}: {r}");
    }
    exec(&env, &[], &id, &mount).assert_err();
    // An unknown capability is a warning and the process runs, as in runc 1.1 ("ignoring
    // unknown or unavailable capabilities") and runtime-spec #1094.
    let o = exec(&env, &["--cap", "CAP_NOPE"], &id, &["/checker"]);
    assert_eq!(o.code, Some(0), "{o}");
    if is_hako() {
        assert!(
            format!("{o}").contains("CAP_NOPE"),
            "the warning names the capability: {o}"
        );
    }
}

// runc exec --no-new-privs sets no_new_privs even when the container's process does not.
#[test]
fn exec_no_new_privs() {
    let env = TestEnv::new("execnnp");
    let (_b, id, _) = running(&env, |s| s["process"]["noNewPrivileges"] = json!(false));
    let r = exec_report(&env, &[], &id);
    assert_eq!(r["no_new_privs"], 0, "{r}");
    let r = exec_report(&env, &["--no-new-privs"], &id);
    assert_eq!(r["no_new_privs"], 1, "{r}");
    assert_eq!(r["no_new_privs_prctl"], 1, "{r}");
}

// runc exec -p process.json: the whole process comes from the file (config.md "process"),
// nothing from the container's process but what the file leaves out.
#[test]
fn exec_process_json() {
    let env = TestEnv::new("execpj");
    let (_b, id, _) = running(&env, |s| {
        s["process"]["env"] = json!(["PATH=/bin", "FROMCONFIG=1"]);
    });
    let p = env.base().join("process.json");
    fs::write(
        &p,
        json!({
            "terminal": false,
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [100]},
            "args": ["/checker"],
            "env": ["PATH=/bin", "FROMFILE=yes"],
            "cwd": "/tmp",
            "capabilities": {
                "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"],
                "inheritable": ["CAP_KILL"]
            },
            "noNewPrivileges": true
        })
        .to_string(),
    )
    .unwrap();
    let o = env.cmd(&["exec", "-p", p.to_str().unwrap(), &id]);
    o.assert_ok();
    let r = o.json();
    assert!(env_has(&r, "FROMFILE=yes"), "{r}");
    assert!(env_keys(&r, "FROMCONFIG").is_empty(), "{r}");
    assert_eq!(r["cwd"], "/tmp", "{r}");
    assert_eq!(r["ids"]["uid"]["effective"], 1000, "{r}");
    assert_eq!(r["ids"]["gid"]["effective"], 1000, "{r}");
    assert_eq!(r["ids"]["groups"], json!([100]), "{r}");
    let kill = cap_mask(&["CAP_KILL"]);
    for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"] {
        assert_eq!(r["caps"][set], kill.as_str(), "{set}: {r}");
    }
    assert_eq!(r["no_new_privs"], 1, "{r}");

    // A malformed process.json is hako's failure (255) and names the file.
    let bad = env.base().join("bad.json");
    fs::write(&bad, "{\"args\": [\"/checker\"], \"cwd\": 5}").unwrap();
    let o = env.cmd(&["exec", "-p", bad.to_str().unwrap(), &id]);
    assert_eq!(o.code, Some(255), "{o}");
}

// runc exec: a foreground exec exits with the process's status (128+N for a signal); 255 when
// the runtime itself fails (missing executable, unknown id, stopped container).
#[test]
fn exec_exit_codes() {
    let env = TestEnv::new("execcodes");
    let (_b, id, _) = running(&env, |_| {});
    assert_eq!(
        exec(&env, &[], &id, &["/checker", "exit", "0"]).code,
        Some(0)
    );
    assert_eq!(
        exec(&env, &[], &id, &["/checker", "exit", "7"]).code,
        Some(7)
    );
    assert_eq!(
        exec(&env, &[], &id, &["/checker", "exit", "254"]).code,
        Some(254)
    );
    let o = exec(&env, &[], &id, &["/checker", "kill-self", "KILL"]);
    assert_eq!(o.code, Some(128 + 9), "{o}");
    let o = exec(&env, &[], &id, &["/checker", "kill-self", "TERM"]);
    assert_eq!(o.code, Some(128 + 15), "{o}");

    let o = exec(&env, &[], &id, &["/no/such/program"]);
    assert_eq!(o.code, Some(255), "{o}");
    o.assert_err_mentions(&["/no/such/program", "no such file"]);
    let o = exec(&env, &[], &id, &["nosuchprogram"]);
    assert_eq!(o.code, Some(255), "{o}");
    let ghost = format!("{id}-ghost");
    env.register(&ghost);
    let o = exec(&env, &[], &ghost, &["/checker"]);
    assert_eq!(o.code, Some(255), "{o}");
    o.assert_err_mentions(&["does not exist", "not found"]);
    // No command at all.
    let o = env.cmd(&["exec", &id]);
    assert_eq!(o.code, Some(255), "{o}");
    // The container is untouched by all that.
    assert_eq!(env.status(&id), "running");
}

// runc exec -d --pid-file: returns once the process runs; the pid file holds the process's
// host pid (written atomically: nothing else appears next to it).
#[test]
fn exec_detached_pid_file() {
    let env = TestEnv::new("execpid");
    let (_b, id, pid) = running(&env, |_| {});
    let dir = env.base().join("piddir");
    fs::create_dir(&dir).unwrap();
    let pf = dir.join("exec.pid");
    let t0 = Instant::now();
    let o = exec(
        &env,
        &["-d", "--pid-file", pf.to_str().unwrap()],
        &id,
        &["/checker", "sleep", "3600"],
    );
    o.assert_ok();
    assert!(t0.elapsed() < Duration::from_secs(5), "exec -d waited");
    let text = fs::read_to_string(&pf).unwrap();
    let epid: i64 = text.trim().parse().unwrap_or_else(|_| panic!("{text:?}"));
    assert!(pid_alive(epid), "pid {epid} from the pid file is not alive");
    assert_ne!(epid, pid);
    assert_eq!(
        ns_of(&epid.to_string(), "pid"),
        ns_of(&pid.to_string(), "pid")
    );
    let cmdline = fs::read(format!("/proc/{epid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"/checker\0sleep\x003600\0");
    let entries: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        ["exec.pid"],
        "temporary files next to the pid file"
    );
    // The exec'd process dies with the container.
    env.delete_force(&id).assert_ok();
    let t0 = Instant::now();
    while pid_alive(epid) {
        assert!(
            t0.elapsed() < T,
            "exec'd process {epid} outlived the container"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// runc: "cannot exec in a stopped container".
#[test]
fn exec_into_stopped_container_fails() {
    let env = TestEnv::new("execstopped");
    let b = env.bundle(&["/checker", "exit", "0"]);
    let id = env.id();
    env.create_start(&b, &id);
    env.wait_status(&id, "stopped", T);
    let o = exec(&env, &[], &id, &["/checker"]);
    assert_eq!(o.code, Some(255), "{o}");
    o.assert_err_mentions(&["stopped"]);
    assert!(
        processes_of(&b.path, &b.rootfs, "").is_empty(),
        "{:?}",
        processes_of(&b.path, &b.rootfs, "")
    );
}

/// The v1 freezer directory (or v2 cgroup dir) of `pid`, from /proc/PID/cgroup.
fn freezer_of(pid: i64) -> (PathBuf, bool) {
    let s = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in s.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        if ctrl.split(',').any(|c| c == "freezer") {
            let p = Path::new("/sys/fs/cgroup/freezer").join(path.trim_start_matches('/'));
            return (p, true);
        }
    }
    for l in s.lines() {
        if let Some(path) = l.strip_prefix("0::") {
            let base = if Path::new("/sys/fs/cgroup/unified").is_dir() {
                "/sys/fs/cgroup/unified"
            } else {
                "/sys/fs/cgroup"
            };
            return (Path::new(base).join(path.trim_start_matches('/')), false);
        }
    }
    panic!("no freezer cgroup for {pid}: {s}");
}

/// Thaws the cgroup when dropped (also on panic), so cleanup can kill the container.
struct Frozen(PathBuf, bool);

impl Frozen {
    fn freeze(pid: i64) -> Frozen {
        let (dir, v1) = freezer_of(pid);
        let f = Frozen(dir, v1);
        f.set(true);
        f
    }
    fn set(&self, frozen: bool) {
        let (file, val) = match (self.1, frozen) {
            (true, true) => ("freezer.state", "FROZEN"),
            (true, false) => ("freezer.state", "THAWED"),
            (false, true) => ("cgroup.freeze", "1"),
            (false, false) => ("cgroup.freeze", "0"),
        };
        fs::write(self.0.join(file), val)
            .unwrap_or_else(|e| panic!("write {val} to {}: {e}", self.0.display()));
        if self.1 && frozen {
            let t0 = Instant::now();
            while fs::read_to_string(self.0.join(file)).unwrap().trim() != "FROZEN" {
                assert!(t0.elapsed() < T, "cgroup {} never froze", self.0.display());
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let (file, val) = if self.1 {
            ("freezer.state", "THAWED")
        } else {
            ("cgroup.freeze", "0")
        };
        let _ = fs::write(self.0.join(file), val);
    }
}

// runc: exec into a paused container fails ("cannot exec in a paused container") unless
// `--ignore-paused`; then the process joins the frozen cgroup and runs once it is thawed.
#[test]
fn exec_into_paused_container() {
    let env = TestEnv::new("execpaused");
    let (b, id, pid) = running(&env, |_| {});
    let frozen = Frozen::freeze(pid);
    env.wait_status(&id, "paused", T);
    let o = exec(&env, &[], &id, &["/checker", "touch", "/shared/ran"]);
    assert_eq!(o.code, Some(255), "{o}");
    o.assert_err_mentions(&["paused"]);
    assert!(!b.shared_file("ran").exists());

    let bg = env.spawn(&[
        "exec",
        "--ignore-paused",
        &id,
        "/checker",
        "touch",
        "/shared/ran",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!b.shared_file("ran").exists(), "ran in a frozen cgroup");
    frozen.set(false);
    let o = env.wait_bg(&bg, T);
    o.assert_ok();
    assert!(b.shared_file("ran").exists(), "{o}");
    assert_eq!(env.status(&id), "running");
}

/// The fd numbers the exec'd `checker fds` reports, with their contents.
fn fds_of(o: &Out) -> Vec<(i64, Value)> {
    o.assert_ok();
    o.json()["fds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["fd"].as_i64().unwrap(), f["content"].clone()))
        .collect()
}

// runtime-linux.md "File descriptors" as runc applies it to exec: only 0, 1, 2 reach the
// process, plus fds 3 .. 3+N-1 with `--preserve-fds N`; no fd of the runtime leaks.
#[test]
fn exec_fds_only_stdio_and_preserved() {
    let env = TestEnv::new("execfds");
    let (_b, id, _) = running(&env, |_| {});
    let mk = |name: &str, text: &str| {
        let p = env.base().join(name);
        fs::write(&p, text).unwrap();
        fs::File::open(&p).unwrap()
    };
    let files = [
        mk("three", "fd-three"),
        mk("four", "fd-four"),
        mk("five", "fd-five"),
    ];
    let o = env.cmd_with_fds(&["exec", &id, "/checker", "fds"], &files);
    let fds: Vec<i64> = fds_of(&o).into_iter().map(|f| f.0).collect();
    assert_eq!(fds, [0, 1, 2], "{o}");

    let o = env.cmd_with_fds(
        &["exec", "--preserve-fds", "2", &id, "/checker", "fds"],
        &files,
    );
    let fds = fds_of(&o);
    assert_eq!(
        fds.iter().map(|f| f.0).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "{o}"
    );
    assert_eq!(fds[3].1, "fd-three", "{o}");
    assert_eq!(fds[4].1, "fd-four", "{o}");
}

// runc --log FILE --log-format json: a failing exec leaves a last line
// {"level":"error","msg":...} that names the problem (here the missing program).
#[test]
fn exec_failure_logs_json_error() {
    let env = TestEnv::new("execlog");
    let (_b, id, _) = running(&env, |_| {});
    let log = env.base().join("log.json");
    let o = env.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "exec",
        &id,
        "/bin/no-such-program",
    ]);
    assert_eq!(o.code, Some(255), "{o}");
    let text = fs::read_to_string(&log).unwrap();
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
    let v: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("last line not JSON ({e}): {text}"));
    assert_eq!(v["level"], "error", "{text}");
    let msg = v["msg"].as_str().unwrap_or("");
    assert!(
        msg.contains("no-such-program") || msg.contains("no such file"),
        "msg does not name the problem: {text}"
    );
}
