//! runc-compatible command line: `--preserve-fds`, `kill --all`, `state` against the state
//! schema, `--log`/`--log-format json`, exit codes (compared side by side with runc when it is
//! installed), `--version`.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test cli`.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

// runtime-linux.md "File descriptors": "By default, only the stdin, stdout and stderr file
// descriptors are kept open ... The runtime MAY pass additional file descriptors"; runc's
// `--preserve-fds N` passes fds 3 .. 3+N-1 (same open files), and no others.
#[test]
fn preserve_fds_passes_exactly_n_fds() {
    let env = TestEnv::new("preservefds");
    let b = env.bundle(&["/checker", "fds"]);
    let mut files = Vec::new();
    for (i, content) in ["three", "four", "five-not-passed"].iter().enumerate() {
        let p = env.base().join(format!("fd{}", i + 3));
        fs::write(&p, content).unwrap();
        files.push(fs::File::open(&p).unwrap());
    }
    let id = env.id();
    let out = env.cmd_with_fds(
        &[
            "run",
            "--preserve-fds",
            "2",
            "-b",
            b.path.to_str().unwrap(),
            &id,
        ],
        &files,
    );
    out.assert_ok();
    let v = out.json();
    let fds: Vec<i64> = v["fds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fd"].as_i64().unwrap())
        .collect();
    assert_eq!(fds, vec![0, 1, 2, 3, 4], "{v}");
    let f = v["fds"].as_array().unwrap();
    assert_eq!(f[3]["content"], "three", "{v}");
    assert_eq!(f[4]["content"], "four", "{v}");
    let t3 = f[3]["target"].as_str().unwrap_or("");
    assert!(t3.ends_with("fd3"), "fd 3 is another file: {v}");
    env.assert_nothing_left(&id, &b);

    // Without --preserve-fds the same extra fds are not visible.
    let b = env.bundle(&["/checker", "fds"]);
    let id = env.id();
    let out = env.cmd_with_fds(&["run", "-b", b.path.to_str().unwrap(), &id], &files);
    out.assert_ok();
    let n = out.json()["fds"].as_array().unwrap().len();
    assert_eq!(n, 3, "{out}");
    env.assert_nothing_left(&id, &b);
}

// runc `kill --all`: the signal goes to every process of the container, not only the init.
// The init (a pid-namespace init without a handler) ignores it; the two catchers record it.
#[test]
fn kill_all_signals_every_process() {
    let env = TestEnv::new("killall");
    let b = env.bundle(&[
        "sh",
        "-c",
        "/checker catch /shared/c1 & /checker catch /shared/c2 & wait",
    ]);
    let id = env.id();
    env.create_start(&b, &id);
    wait_file(&b.shared_file("c1.ready"), T);
    wait_file(&b.shared_file("c2.ready"), T);
    // Without --all only the init gets it (and ignores it).
    env.kill(&id, "USR1").assert_ok();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!b.shared_file("c1").exists() && !b.shared_file("c2").exists());
    assert_eq!(env.status(&id), "running");
    env.cmd(&["kill", "--all", &id, "USR2"]).assert_ok();
    wait_file(&b.shared_file("c1"), T);
    wait_file(&b.shared_file("c2"), T);
    for c in ["c1", "c2"] {
        let got = fs::read_to_string(b.shared_file(c)).unwrap();
        // A write may be observed half-done; wait for the whole name.
        let t0 = std::time::Instant::now();
        let mut got = got;
        while got.is_empty() && t0.elapsed() < T {
            std::thread::sleep(Duration::from_millis(10));
            got = fs::read_to_string(b.shared_file(c)).unwrap();
        }
        assert_eq!(got, "SIGUSR2", "{c}");
    }
    // Both children exited, so `wait` returns and the init exits.
    env.wait_status(&id, "stopped", T);
    // Plain kill of a stopped container is an error (runtime.md "Kill": "neither created nor
    // running MUST ... generate an error"). `kill --all` is runc's extension: like runc it
    // exits 0 with nothing left to signal (the runc v2 shim sends it after every init exit).
    env.cmd(&["kill", &id, "KILL"]).assert_err();
    env.cmd(&["kill", "-a", &id, "KILL"]).assert_ok();
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

fn state_schema() -> PathBuf {
    spec_dir().join("schema/state-schema.json")
}

#[track_caller]
fn assert_state_valid(v: &Value) {
    let errs = validate_against_schema(v, &state_schema());
    assert!(
        errs.is_empty(),
        "state does not match the schema: {errs:?}\n{v}"
    );
}

// runtime.md "State": "When serialized in JSON, the format MUST adhere to the JSON Schema
// schema/state-schema.json", and "pid" is REQUIRED when created or running; runtime.md "Query
// State". Checked for created, running and stopped, with and without annotations.
#[test]
fn state_matches_schema_in_every_status() {
    let env = TestEnv::new("stateschema");
    // The validator itself rejects a bad document.
    let bad = serde_json::json!({"ociVersion": "1", "id": 5, "status": "weird", "pid": -1});
    assert_eq!(
        validate_against_schema(&bad, &state_schema()).len(),
        4,
        "validator self-check"
    );
    for annotations in [false, true] {
        let b = env.bundle_with(|s, _| {
            set_args(s, &["/checker", "wait-file", "/shared/go"]);
            if annotations {
                s["annotations"] = serde_json::json!({"a": "1", "org.example/k": "v"});
            }
        });
        let id = env.id();
        env.create(&b, &id).assert_ok();
        let st = env.state(&id);
        assert_eq!(st["status"], "created");
        assert!(st["pid"].as_i64().unwrap() > 0, "{st}");
        assert_state_valid(&st);
        env.start(&id).assert_ok();
        let st = env.state(&id);
        assert_eq!(st["status"], "running");
        assert!(st["pid"].as_i64().unwrap() > 0, "{st}");
        assert_state_valid(&st);
        fs::write(b.shared_file("go"), "").unwrap();
        let st = env.wait_status(&id, "stopped", T);
        assert_state_valid(&st);
        assert!(
            Path::new(st["bundle"].as_str().unwrap()).is_absolute(),
            "{st}"
        );
        if annotations {
            assert_eq!(st["annotations"]["org.example/k"], "v", "{st}");
        }
        env.delete(&id).assert_ok();
        env.assert_nothing_left(&id, &b);
    }
}

// runc global `--log FILE --log-format json`: a failing command writes JSON lines; the last is
// {"level":"error","msg":...} and the message names the container (runtime.md "Errors": the
// error is reported).
#[test]
fn log_json_error_line_names_the_id() {
    let env = TestEnv::new("logerr");
    let log = env.base().join("log.json");
    let id = env.id();
    let out = env.cmd(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        &id,
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    let text = fs::read_to_string(&log).expect("log file written");
    let last = text
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("empty log; {out}"));
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last:?}"));
    assert_eq!(v["level"], "error", "{last}");
    assert!(v["time"].is_string(), "{last}");
    let msg = v["msg"].as_str().unwrap_or("");
    if runtime_name() == "runc" {
        // DIFFERS: runc 1.1 says only "container does not exist", without the id.
        assert!(msg.contains("does not exist"), "{last}");
    } else {
        assert!(msg.contains(&id), "msg does not name {id}: {last}");
    }
    // --log-format text: logfmt-style line
    let log2 = env.base().join("log.txt");
    let out = env.cmd(&["--log", log2.to_str().unwrap(), "state", &id]);
    assert_eq!(out.code, Some(1), "{out}");
    let text = fs::read_to_string(&log2).unwrap();
    assert!(text.contains("level=error"), "{text}");
}

/// The same sequence of calls with their exit codes (runc-compatible callers look at them).
fn exit_code_scenario(env: &TestEnv) -> Vec<(String, Option<i32>)> {
    let mut v = Vec::new();
    let mut rec = |label: &str, o: Out| v.push((label.to_string(), o.code));
    let ghost = format!("{}-nonexistent", env.name);
    env.register(&ghost);
    rec("state ghost", env.cmd(&["state", &ghost]));
    rec("start ghost", env.cmd(&["start", &ghost]));
    rec("kill ghost", env.cmd(&["kill", &ghost, "KILL"]));
    rec("delete ghost", env.cmd(&["delete", &ghost]));
    rec("delete -f ghost", env.cmd(&["delete", "-f", &ghost]));
    let missing = env.base().join("no-such-bundle");
    rec(
        "create missing bundle",
        env.cmd(&["create", "-b", missing.to_str().unwrap(), &ghost]),
    );
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    rec("create", env.create(&b, &id));
    rec("create dup", env.create(&b, &id));
    rec("start", env.start(&id));
    rec("start again", env.start(&id));
    rec("kill bad signal", env.kill(&id, "SIGNOPE"));
    rec("delete running", env.delete(&id));
    rec("kill KILL", env.kill(&id, "KILL"));
    env.wait_status(&id, "stopped", T);
    rec("kill stopped", env.kill(&id, "KILL"));
    rec("start stopped", env.start(&id));
    rec("delete stopped", env.delete(&id));
    let b2 = env.bundle(&["/checker", "exit", "7"]);
    let id2 = env.id();
    rec(
        "run exit 7",
        env.cmd(&["run", "-b", b2.path.to_str().unwrap(), &id2]),
    );
    rec("list", env.cmd(&["list"]));
    v
}

// runtime.md "Errors" + runc's CLI contract: failures exit 1, successes 0, `run` passes the
// container's exit status through. Compared call by call with runc 1.1 when it is installed.
#[test]
fn exit_codes_match_runc() {
    let env = TestEnv::new("exitcodes");
    let got = exit_code_scenario(&env);
    for (label, code) in &got {
        let want = match label.as_str() {
            "create" | "start" | "kill KILL" | "delete stopped" | "list" | "delete -f ghost" => 0,
            "run exit 7" => 7,
            _ => 1,
        };
        assert_eq!(*code, Some(want), "`{label}`: {got:?}");
    }
    let runc = Path::new("/usr/sbin/runc");
    if !runc.exists() || env.runtime() == runc {
        return;
    }
    let renv = TestEnv::with_runtime("exitcodesrunc", runc.to_path_buf());
    let reference = exit_code_scenario(&renv);
    let diffs: Vec<String> = got
        .iter()
        .zip(&reference)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("`{}`: {:?} vs runc {:?}", a.0, a.1, b.1))
        .collect();
    assert!(diffs.is_empty(), "exit codes differ from runc: {diffs:?}");
}

// runtime.md "Query State", "Start", "Kill", "Delete": each operation "MUST generate an error if
// it is not provided the container ID"; "Create": likewise without an ID.
#[test]
fn operations_without_id_fail() {
    let env = TestEnv::new("noid");
    let b = env.bundle(&["/checker"]);
    for args in [
        vec!["state"],
        vec!["start"],
        vec!["kill"],
        vec!["delete"],
        vec!["create", "-b", b.path.to_str().unwrap()],
    ] {
        let o = env.cmd(&args);
        o.assert_err();
    }
    let entries: Vec<_> = fs::read_dir(env.root()).unwrap().collect();
    assert!(entries.is_empty(), "something was created: {entries:?}");
    env.assert_nothing_left("", &b);
}

// runtime.md "Lifecycle" step 2: "Any updates to config.json after this step MUST NOT affect
// the container" (here: process.args, env and the poststart hooks are changed between create
// and start).
#[test]
fn config_changes_after_create_have_no_effect() {
    let env = TestEnv::new("cfgafter");
    let marker = env.base().join("poststart-ran");
    let mut b = env.bundle_with(|s, _| {
        set_args(s, &["sh", "-c", "echo \"$WHO\" > /shared/who"]);
        s["process"]["env"] = serde_json::json!(["PATH=/bin", "WHO=original"]);
        s["hooks"] = serde_json::json!({"poststart": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo original > {}", marker.display())],
        }]});
    });
    let id = env.id();
    env.create(&b, &id).assert_ok();
    b.edit(|s| {
        set_args(s, &["sh", "-c", "echo changed > /shared/who"]);
        s["process"]["env"] = serde_json::json!(["PATH=/bin", "WHO=changed"]);
        s["hooks"]["poststart"][0]["args"][2] =
            format!("echo changed > {}", marker.display()).into();
    });
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    assert_eq!(
        fs::read_to_string(b.shared_file("who")).unwrap().trim(),
        "original"
    );
    assert_eq!(fs::read_to_string(&marker).unwrap().trim(), "original");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Start": "This operation MUST generate an error if process was not set." A config
// without `process` must not end up running anything (runc refuses it at create).
#[test]
fn no_process_is_an_error() {
    let env = TestEnv::new("noprocess");
    let b = env.bundle_with(|s, _| {
        s.as_object_mut().unwrap().remove("process");
    });
    let id = env.id();
    let c = env.create(&b, &id);
    if c.ok() {
        env.start(&id).assert_err();
        env.delete_force(&id);
    } else {
        c.assert_err_mentions(&["process"]);
    }
    env.assert_nothing_left(&id, &b);
}

// runc `kill ID 0`: signal 0 checks that the container's init is alive without signalling it
// (exit 0 while created/running, 1 once stopped), as kill(2) does.
#[test]
fn kill_signal_zero_probes_liveness() {
    let env = TestEnv::new("killzero");
    let b = env.bundle(&["/checker", "exit", "0"]);
    let id = env.id();
    env.create(&b, &id).assert_ok();
    env.kill(&id, "0").assert_ok();
    assert_eq!(env.status(&id), "created");
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    env.kill(&id, "0").assert_err();
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc `--version` / `-v`: "<name> version X", "commit: ...", "spec: <runtime-spec version>".
#[test]
fn version_output() {
    let env = TestEnv::new("version");
    for flag in ["--version", "-v"] {
        let out = env.cmd(&[flag]);
        out.assert_ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        let name = runtime_name();
        assert!(
            lines
                .first()
                .is_some_and(|l| l.starts_with(&format!("{name} version "))),
            "{out}"
        );
        assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{out}");
        let spec = lines
            .iter()
            .find_map(|l| l.strip_prefix("spec: "))
            .unwrap_or_else(|| panic!("no spec line: {out}"));
        if is_hako() {
            assert_eq!(spec, "1.3.0", "{out}");
            let v = lines[0].strip_prefix("hako version ").unwrap();
            assert_eq!(v, env!("CARGO_PKG_VERSION"), "{out}");
        }
    }
}

// runc's options are Go flags: a repeated option takes its last value. The runc v2 shim
// (containerd, Docker) passes its own `--root` after any that a wrapper script put first.
#[test]
fn repeated_root_last_wins() {
    let env = TestEnv::new("rootlast");
    let b = env.bundle(&["/checker", "exit", "0"]);
    let id = env.id();
    env.create(&b, &id).assert_ok();
    let decoy = env.base().join("decoy-root");
    let (rt, root) = (env.runtime().display(), env.root().display());
    let d = decoy.display();
    env.shell(&format!("{rt} --root {d} --root {root} state {id}"), None)
        .assert_ok();
    env.shell(&format!("{rt} --root {root} --root {d} state {id}"), None)
        .assert_err();
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}
