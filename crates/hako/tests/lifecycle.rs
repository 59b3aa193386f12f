//! Lifecycle / CLI-contract tests (runtime.md "State", "Lifecycle", "Operations").
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test lifecycle`. See tests/common/mod.rs for the harness.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A process that marks /shared/started, waits for /shared/go, then exits 3.
const WAIT_GO: &[&str] = &[
    "sh",
    "-c",
    "touch /shared/started; while [ ! -e /shared/go ]; do sleep 0.02; done; exit 3",
];

// runtime.md "State" (fields), "Lifecycle" steps 1-9, "Operations": create, state, start, delete.
#[test]
fn create_start_exit_delete_transitions() {
    let env = TestEnv::new("transitions");
    let b = env.bundle_with(|s, _| {
        set_args(s, WAIT_GO);
        s["annotations"] = serde_json::json!({"org.hako.test": "yes", "b": "2"});
    });
    let id = env.id();

    // create -> created (runtime.md "create": MUST NOT run the user-specified program)
    env.create(&b, &id).assert_ok();
    let st = env.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["id"], id.as_str());
    assert!(st["ociVersion"].is_string(), "{st}");
    let pid = st["pid"].as_i64().expect("pid in created state");
    assert!(pid > 0 && pid_alive(pid), "{st}");
    assert_eq!(
        fs::canonicalize(st["bundle"].as_str().unwrap()).unwrap(),
        fs::canonicalize(&b.path).unwrap(),
        "{st}"
    );
    assert_eq!(st["annotations"]["org.hako.test"], "yes", "{st}");
    assert_eq!(st["annotations"]["b"], "2", "{st}");
    // runc extensions
    assert!(st["rootfs"].is_string(), "{st}");
    assert!(
        st["created"].as_str().is_some_and(|s| s.contains('T')),
        "{st}"
    );
    assert!(st.get("owner").is_some(), "{st}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !b.shared_file("started").exists(),
        "user process ran before start"
    );

    // start -> running (same pid)
    env.start(&id).assert_ok();
    wait_file(&b.shared_file("started"), T);
    let st = env.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid));

    // process exits -> stopped
    fs::write(b.shared_file("go"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    assert!(!pid_alive(pid));

    // delete -> gone
    env.delete(&id).assert_ok();
    env.cmd(&["state", &id]).assert_err();
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Start": "Attempting to start a container that is not created MUST have no effect
// on the container and MUST generate an error."
#[test]
fn start_twice_fails_and_changes_nothing() {
    let env = TestEnv::new("starttwice");
    let b = env.bundle(WAIT_GO);
    let id = env.id();
    env.create_start(&b, &id);
    wait_file(&b.shared_file("started"), T);
    let before = env.state(&id);
    env.start(&id).assert_err();
    let after = env.state(&id);
    assert_eq!(after["status"], "running");
    assert_eq!(after["pid"], before["pid"]);
    assert!(pid_alive(after["pid"].as_i64().unwrap()));

    // ... and starting a stopped container fails too and it stays stopped.
    fs::write(b.shared_file("go"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    env.start(&id).assert_err();
    assert_eq!(env.status(&id), "stopped");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Delete": "Attempting to delete a container that is not stopped MUST have no
// effect on the container and MUST generate an error." (--force is runc's extension)
#[test]
fn delete_running_requires_force() {
    let env = TestEnv::new("delrunning");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create_start(&b, &id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.delete(&id).assert_err();
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    assert!(pid_alive(pid));
    env.delete_force(&id).assert_ok();
    env.cmd(&["state", &id]).assert_err();
    env.assert_nothing_left(&id, &b);
    assert!(!pid_alive(pid));
}

// runtime.md "Delete" + runc's `delete --force` of a created (never started) container.
#[test]
fn delete_force_created_container() {
    let env = TestEnv::new("delcreated");
    let b = env.bundle(&["/checker", "touch", "/shared/ran"]);
    let id = env.id();
    env.create(&b, &id).assert_ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(!pid_alive(pid));
    assert!(!b.shared_file("ran").exists(), "user program ran");
}

// runtime.md "Kill": signal given as name, SIG-prefixed name or number.
#[test]
fn kill_signal_forms() {
    let env = TestEnv::new("killforms");
    for sig in ["KILL", "SIGKILL", "9"] {
        let b = env.bundle(&["/checker", "sleep", "3600"]);
        let id = env.id();
        env.create_start(&b, &id);
        env.kill(&id, sig).assert_ok();
        env.wait_status(&id, "stopped", T);
        env.delete(&id).assert_ok();
        env.assert_nothing_left(&id, &b);
    }
}

// runtime.md "Kill" on a created container: the init process gets the signal; container stops.
#[test]
fn kill_created_container() {
    let env = TestEnv::new("killcreated");
    let b = env.bundle(&["/checker", "touch", "/shared/ran"]);
    let id = env.id();
    env.create(&b, &id).assert_ok();
    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", T);
    assert!(!b.shared_file("ran").exists(), "user program ran");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Kill": default signal (runc: SIGTERM) and named signals reach the process.
#[test]
fn kill_delivers_signals() {
    let env = TestEnv::new("killdeliver");
    for (arg, want) in [
        (None, "SIGTERM"),
        (Some("USR1"), "SIGUSR1"),
        (Some("SIGHUP"), "SIGHUP"),
        (Some("12"), "SIGUSR2"),
    ] {
        let b = env.bundle(&["/checker", "catch", "/shared/sig"]);
        let id = env.id();
        env.create_start(&b, &id);
        wait_file(&b.shared_file("sig.ready"), T);
        match arg {
            None => env.cmd(&["kill", &id]).assert_ok(),
            Some(s) => env.kill(&id, s).assert_ok(),
        };
        env.wait_status(&id, "stopped", T);
        assert_eq!(
            fs::read_to_string(b.shared_file("sig")).unwrap_or_default(),
            want
        );
        env.delete(&id).assert_ok();
        env.assert_nothing_left(&id, &b);
    }
}

// runtime.md "Kill": an unknown signal is an error and leaves the container alone.
#[test]
fn kill_bad_signal_fails() {
    let env = TestEnv::new("killbad");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create_start(&b, &id);
    for bad in ["SIGFOO", "NOSUCHSIGNAL", "-3", "99999"] {
        env.kill(&id, bad).assert_err();
        assert_eq!(env.status(&id), "running", "after kill {bad}");
    }
    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Kill": "Attempting to send a signal to a container that is neither created nor
// running MUST have no effect on the container and MUST generate an error."
#[test]
fn kill_stopped_fails() {
    let env = TestEnv::new("killstopped");
    let b = env.bundle(&["/checker", "exit", "0"]);
    let id = env.id();
    env.create_start(&b, &id);
    env.wait_status(&id, "stopped", T);
    env.kill(&id, "KILL").assert_err();
    assert_eq!(env.status(&id), "stopped");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc `run` (create + start + wait + delete): exit code of the container process.
#[test]
fn run_exit_codes() {
    let env = TestEnv::new("runexit");
    for code in [0, 1, 7, 255] {
        let b = env.bundle(&["/checker", "exit", &code.to_string()]);
        let id = env.id();
        let out = env.run(&b, &id);
        assert_eq!(out.code, Some(code), "{out}");
        // without --keep the container is deleted after it exits
        env.assert_nothing_left(&id, &b);
    }
}

// runc `run`: 128+N when the container process is killed by signal N. SIGSEGV from a real fault
// is fatal even for a pid-namespace init.
#[test]
fn run_exit_code_when_killed_by_segv() {
    let env = TestEnv::new("runsegv");
    let b = env.bundle(&["/checker", "kill-self", "SEGV"]);
    let id = env.id();
    let out = env.run(&b, &id);
    assert_eq!(out.code, Some(128 + 11), "{out}");
    env.assert_nothing_left(&id, &b);
}

// Same, for SIGTERM: without a pid namespace the process is not an init, so it can kill itself.
#[test]
fn run_exit_code_when_killed_by_sigterm_no_pidns() {
    let env = TestEnv::new("runterm");
    let b = env.bundle_with(|s, _| {
        set_args(s, &["/checker", "kill-self", "TERM"]);
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
    });
    let id = env.id();
    let out = env.run(&b, &id);
    assert_eq!(out.code, Some(128 + 15), "{out}");
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Kill" on a foreground `run`: `run` exits 128+9.
#[test]
fn run_foreground_killed_externally() {
    let env = TestEnv::new("runkilled");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    let bg = env.spawn(&["run", "-b", b.path.to_str().unwrap(), &id]);
    env.wait_status(&id, "running", T);
    env.kill(&id, "KILL").assert_ok();
    let out = env.wait_bg(&bg, T);
    assert_eq!(out.code, Some(137), "{out}");
    env.assert_nothing_left(&id, &b);
}

// runc `run --keep`: the stopped container remains until deleted.
#[test]
fn run_keep_leaves_stopped_container() {
    let env = TestEnv::new("runkeep");
    let b = env.bundle(&["/checker", "exit", "5"]);
    let id = env.id();
    let out = env.cmd(&["run", "--keep", "-b", b.path.to_str().unwrap(), &id]);
    assert_eq!(out.code, Some(5), "{out}");
    assert_eq!(env.status(&id), "stopped");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc `run` foreground: the container's stdout is the caller's stdout.
#[test]
fn run_foreground_passes_stdio() {
    let env = TestEnv::new("runstdio");
    let b = env.bundle(&["sh", "-c", "echo hello-out; echo hello-err >&2"]);
    let id = env.id();
    let out = env.run(&b, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "hello-out\n", "{out}");
    assert!(out.stderr.contains("hello-err"), "{out}");
    env.assert_nothing_left(&id, &b);
}

// runc `create --pid-file`: the file holds the container process's pid (runtime.md "State" pid).
#[test]
fn create_pid_file() {
    let env = TestEnv::new("pidfile");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    let pf = env.base().join("create.pid");
    env.cmd(&[
        "create",
        "-b",
        b.path.to_str().unwrap(),
        "--pid-file",
        pf.to_str().unwrap(),
        &id,
    ])
    .assert_ok();
    let content = fs::read_to_string(&pf).unwrap();
    let pid: i64 = content.trim().parse().expect("pid-file holds a number");
    assert_eq!(env.state(&id)["pid"].as_i64(), Some(pid));
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc `run -d --pid-file`: detached run leaves a running container; pid-file matches state.
#[test]
fn run_detached_pid_file() {
    let env = TestEnv::new("rundetached");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    let pf = env.base().join("run.pid");
    env.cmd(&[
        "run",
        "-d",
        "-b",
        b.path.to_str().unwrap(),
        "--pid-file",
        pf.to_str().unwrap(),
        &id,
    ])
    .assert_ok();
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    let pid: i64 = fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    assert_eq!(st["pid"].as_i64(), Some(pid));
    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc `create` without -b: the bundle is the current directory.
#[test]
fn create_bundle_defaults_to_cwd() {
    let env = TestEnv::new("bundlecwd");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.cmd_in(&["create", &id], Some(&b.path)).assert_ok();
    let st = env.state(&id);
    assert_eq!(
        fs::canonicalize(st["bundle"].as_str().unwrap()).unwrap(),
        fs::canonicalize(&b.path).unwrap()
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc `list`: -q prints ids; --format json prints state objects; table has a header.
#[test]
fn list_formats() {
    let env = TestEnv::new("list");
    let b1 = env.bundle(&["/checker", "sleep", "3600"]);
    let b2 = env.bundle(&["/checker", "sleep", "3600"]);
    let (id1, id2) = (env.id(), env.id());
    env.create(&b1, &id1).assert_ok();
    env.create_start(&b2, &id2);

    let q = env.cmd(&["list", "-q"]);
    q.assert_ok();
    let mut ids: Vec<&str> = q.stdout.lines().collect();
    ids.sort();
    let mut want = vec![id1.as_str(), id2.as_str()];
    want.sort();
    assert_eq!(ids, want, "{q}");

    let j = env.cmd(&["list", "--format", "json"]);
    j.assert_ok();
    let arr: Value = j.json();
    let arr = arr.as_array().expect("json list is an array");
    assert_eq!(arr.len(), 2, "{j}");
    for (id, status) in [(&id1, "created"), (&id2, "running")] {
        let e = arr
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed: {j}"));
        assert_eq!(e["status"], status, "{j}");
        assert!(e["pid"].as_i64().unwrap_or(0) > 0, "{j}");
    }

    let t = env.cmd(&["list"]);
    t.assert_ok();
    assert!(t.stdout.lines().next().unwrap_or("").contains("ID"), "{t}");
    assert!(t.stdout.contains(&id1) && t.stdout.contains(&id2), "{t}");

    for id in [&id1, &id2] {
        env.delete_force(id).assert_ok();
    }
    env.assert_nothing_left(&id1, &b1);
    env.assert_nothing_left(&id2, &b2);
    let q = env.cmd(&["list", "-q"]);
    q.assert_ok();
    assert_eq!(q.stdout.trim(), "", "{q}");
}

// runc global --log/--log-format json: the log file gets JSON lines.
#[test]
fn log_format_json() {
    let env = TestEnv::new("logjson");
    let b = env.bundle_with(|s, _| s["root"]["path"] = "does-not-exist".into());
    let id = env.id();
    let log = env.base().join("log.json");
    let out = env.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "-b",
        b.path.to_str().unwrap(),
        &id,
    ]);
    out.assert_err();
    let text = fs::read_to_string(&log).expect("log file written");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "log file empty; {out}");
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
        assert!(v.is_object(), "{l}");
    }
    env.assert_nothing_left(&id, &b);
}
