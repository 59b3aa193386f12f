//! Failure cases: every failing operation must report an error (non-zero exit, stderr naming the
//! problem) and leave nothing behind (runtime.md "Errors": "If an operation fails ... the
//! environment MUST be left as it was before the operation was attempted"; runtime.md
//! "Lifecycle" step 2: "If the runtime is unable to create the environment specified in the
//! config.json, it MUST generate an error").
//!
//! Error-text assertions are loose on purpose: the exact wording is the runtime's.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Creates `b` under a fresh id, expects failure mentioning one of `words`, then checks that
/// nothing is left behind.
#[track_caller]
fn create_fails(env: &TestEnv, b: &Bundle, words: &[&str]) {
    let id = env.id();
    let out = env.create(b, &id);
    out.assert_err_mentions(words);
    env.assert_nothing_left(&id, b);
    let l = env.cmd(&["list", "-q"]);
    assert!(!l.stdout.contains(&id), "{l}");
}

// runtime.md "Create" / config.md: config.json must be valid JSON.
#[test]
fn malformed_json() {
    let env = TestEnv::new("badjson");
    let b = env.bundle(&["/checker"]);
    fs::write(
        b.config_path(),
        "{ \"ociVersion\": \"1.0.2\", \"process\": ",
    )
    .unwrap();
    create_fails(&env, &b, &["json", "config", "eof", "unexpected end"]);
}

// runtime.md "Create": the bundle must contain config.json.
#[test]
fn missing_config_json() {
    let env = TestEnv::new("noconfig");
    let b = env.bundle(&["/checker"]);
    fs::remove_file(b.config_path()).unwrap();
    create_fails(&env, &b, &["config.json", "config", "no such file"]);
}

// config.md "Root": root.path must exist.
#[test]
fn missing_rootfs() {
    let env = TestEnv::new("norootfs");
    let b = env.bundle_with(|s, _| s["root"]["path"] = "does-not-exist".into());
    create_fails(&env, &b, &["root", "does-not-exist"]);
}

// config-linux.md "Namespaces": an unknown type is an error.
#[test]
fn unknown_namespace_type() {
    let env = TestEnv::new("badns");
    let b = env.bundle_with(|s, _| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogusns"}));
    });
    create_fails(&env, &b, &["namespace", "bogusns"]);
}

// config-linux.md "Namespaces": a path to something that is not a namespace is an error.
#[test]
fn namespace_path_not_a_namespace() {
    let env = TestEnv::new("badnspath");
    let b = env.bundle_with(|s, _| {
        for n in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = "/etc/hostname-does-not-exist".into();
            }
        }
    });
    create_fails(
        &env,
        &b,
        &["namespace", "network", "net", "hostname-does-not-exist"],
    );
}

// config.md "Mounts": a mount that cannot be performed (unknown fs type) fails create.
#[test]
fn bad_mount_fstype() {
    let env = TestEnv::new("badmount");
    let b = env.bundle_with(|s, _| {
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "nosuchfs", "source": "none", "options": []
        }));
    });
    create_fails(&env, &b, &["mount", "nosuchfs", "/mnt"]);
}

// config.md "Mounts": a bind mount of a missing source fails create.
#[test]
fn bad_bind_mount_source() {
    let env = TestEnv::new("badbind");
    let b = env.bundle_with(|s, shared| {
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind",
            "source": shared.join("missing-source").to_str().unwrap(),
            "options": ["rbind"]
        }));
    });
    create_fails(&env, &b, &["mount", "missing-source", "/mnt"]);
}

// config.md "Process": args must name an executable; runc checks it at create, and the
// container must not remain (running or otherwise).
#[test]
fn missing_executable() {
    let env = TestEnv::new("noexec");
    let b = env.bundle(&["/no/such/binary"]);
    create_fails(
        &env,
        &b,
        &["/no/such/binary", "args", "executable", "no such file"],
    );
}

// config.md "Process": args is required (non-empty) on create.
#[test]
fn empty_args() {
    let env = TestEnv::new("emptyargs");
    let b = env.bundle_with(|s, _| s["process"]["args"] = json!([]));
    create_fails(&env, &b, &["args"]);
}

// config.md "Process": a cwd that is not absolute is invalid.
#[test]
fn relative_cwd() {
    let env = TestEnv::new("relcwd");
    let b = env.bundle_with(|s, _| s["process"]["cwd"] = "relative/dir".into());
    create_fails(&env, &b, &["cwd", "relative"]);
}

// runtime.md "Create": "If the ID provided is not unique across all containers within the scope
// of the runtime ... MUST generate an error"; the existing container is untouched.
#[test]
fn duplicate_id() {
    let env = TestEnv::new("dupid");
    let b1 = env.bundle(&["/checker", "sleep", "3600"]);
    let b2 = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create(&b1, &id).assert_ok();
    let before = env.state(&id);
    env.create(&b2, &id)
        .assert_err_mentions(&["exist", "already", "in use", &id]);
    let after = env.state(&id);
    assert_eq!(after["status"], "created");
    assert_eq!(after["pid"], before["pid"]);
    assert_eq!(after["bundle"], before["bundle"]);
    assert!(pid_alive(after["pid"].as_i64().unwrap()));
    // nothing of the second bundle is alive or mounted
    assert!(processes_of(&b2.path, &b2.rootfs, "").is_empty());
    assert!(mounts_under(&b2.path).is_empty());
    // and the same via run
    env.cmd(&["run", "-b", b2.path.to_str().unwrap(), &id])
        .assert_err();
    assert_eq!(env.state(&id)["pid"], before["pid"]);
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b1);
    env.assert_nothing_left(&id, &b2);
}

// runtime.md "Create" (container ID): ids that could escape the state root, or are empty, are
// rejected before anything is created.
#[test]
fn invalid_ids() {
    let env = TestEnv::new("badids");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    for bad in ["../x", "", "a/b", ".", "..", "x/../../y"] {
        env.register(bad);
        let out = env.create(&b, bad);
        out.assert_err();
        assert!(
            !env.root_parent().join("x").exists(),
            "`create {bad:?}` wrote outside the root"
        );
        assert!(!env.root().join("a").exists());
        assert!(
            processes_of(&b.path, &b.rootfs, "").is_empty(),
            "`create {bad:?}` left a process"
        );
        assert!(mounts_under(&b.path).is_empty());
    }
    let entries: Vec<_> = fs::read_dir(env.root()).unwrap().collect();
    assert!(entries.is_empty(), "root not empty: {entries:?}");
    env.assert_nothing_left("", &b);
}

// runtime.md "Query State", "Start", "Kill", "Delete" on an unknown id: error.
#[test]
fn operations_on_unknown_id() {
    let env = TestEnv::new("unknownid");
    let id = env.id();
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", &id],
    ] {
        env.cmd(&args).assert_err();
    }
    assert!(!env.root().join(&id).exists());
}

// runtime.md "Start": start is refused for a container whose process failed to exec?  runc
// checks the executable at create; here the executable exists but is not executable.
#[test]
fn non_executable_file() {
    let env = TestEnv::new("notexec");
    let b = env.bundle(&["/etc/passwd"]);
    let id = env.id();
    let out = env.create(&b, &id);
    if out.ok() {
        // A runtime may defer the exec failure to start; then start must fail and the
        // container must not be running afterwards.
        let s = env.start(&id);
        s.assert_err();
        let st = env.cmd(&["state", &id]);
        if st.ok() {
            assert_ne!(st.json()["status"], "running", "{st}");
        }
        env.delete_force(&id);
    } else {
        out.assert_err_mentions(&["/etc/passwd", "permission", "exec"]);
    }
    env.assert_nothing_left(&id, &b);
}

// After a failed create, the same id can be used again (nothing stale in the root).
#[test]
fn id_reusable_after_failed_create() {
    let env = TestEnv::new("reuse");
    let bad = env.bundle_with(|s, _| s["root"]["path"] = "does-not-exist".into());
    let good = env.bundle(&["/checker", "exit", "4"]);
    let id = env.id();
    env.create(&bad, &id).assert_err();
    env.assert_nothing_left(&id, &bad);
    env.create_start(&good, &id);
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &good);
}

// Self-check of the harness: a live container IS detected as left behind.
#[test]
fn harness_detects_leftovers() {
    let env = TestEnv::new("harness");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create_start(&b, &id);
    let l = env.leftovers(&id, &b);
    assert!(l.iter().any(|x| x.contains("state dir")), "{l:?}");
    assert!(l.iter().any(|x| x.contains("`state")), "{l:?}");
    assert!(l.iter().any(|x| x.starts_with("process")), "{l:?}");
    if !cgroup_dirs(&id).is_empty() {
        assert!(l.iter().any(|x| x.contains("cgroup")), "{l:?}");
    }
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// runc sets rlimits and capabilities before `create` returns, so a hard limit or a capability
// the host refuses fails `create`, not `start`: engines take a failed `start` for a container
// that ran (the runc v2 shim cannot delete it until it has seen the exit; Docker leaks it).
#[test]
fn refused_rlimit_or_capability_fails_create() {
    let env = TestEnv::new("refused");
    let mut nofile = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local struct.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) },
        0
    );
    let b = env.bundle_with(|s, _| {
        s["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": nofile.rlim_max + 1}
        ]);
    });
    let id = env.id();
    env.cmd_without_cap_sys_resource(&["create", "-b", b.path.to_str().unwrap(), &id])
        .assert_err_mentions(&["rlimit"]);
    env.assert_nothing_left(&id, &b);

    let b = env.bundle_with(|s, _| {
        for set in ["bounding", "effective", "permitted"] {
            s["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_RESOURCE"));
        }
    });
    let id = env.id();
    env.cmd_without_cap_sys_resource(&["create", "-b", b.path.to_str().unwrap(), &id])
        .assert_err_mentions(&["caps", "capabilit"]);
    env.assert_nothing_left(&id, &b);
}
