//! POSIX-platform hooks (config.md "POSIX-platform Hooks"; runtime.md "Lifecycle" steps 3, 4,
//! 9, 13; runtime.md "State" for the state passed on stdin).
//!
//! Hooks run in the runtime namespace, so they are host programs (`/bin/sh`) writing into the
//! test's temp dir. Run against the reference runtime with
//! `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako --test hooks`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// A hook running `sh -c script` with a PATH (hooks get exactly `env`, nothing inherited).
fn sh_hook(script: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HK_HOOK_ENV=yes"],
    })
}

/// A hook that saves its stdin to `dir/NAME.json`, its mount namespace to `dir/NAME.mnt`, its
/// env var to `dir/NAME.env` and appends NAME to `dir/order`.
fn recording_hook(dir: &Path, name: &str) -> Value {
    let d = dir.display();
    sh_hook(&format!(
        "cat > {d}/{name}.json; readlink /proc/self/ns/mnt > {d}/{name}.mnt; \
         echo \"$HK_HOOK_ENV\" > {d}/{name}.env; echo {name} >> {d}/order"
    ))
}

fn read_json(p: &Path) -> Value {
    let t = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}: {t:?}", p.display()))
}

fn order(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn hooks_dir(env: &TestEnv) -> PathBuf {
    let d = env.base().join("hooks");
    fs::create_dir_all(&d).unwrap();
    d
}

// config.md "POSIX-platform Hooks": prestart and createRuntime run during create, in the
// runtime namespace, with the state on stdin (runtime.md "State": ociVersion, id, status, pid
// as seen by the runtime, bundle); poststart runs after start; poststop at delete; env is
// passed; order prestart < createRuntime < poststart < poststop.
#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    let env = TestEnv::new("hooks");
    let d = hooks_dir(&env);
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "prestart": [recording_hook(&d, "prestart")],
            "createRuntime": [recording_hook(&d, "createRuntime")],
            "poststart": [recording_hook(&d, "poststart")],
            "poststop": [recording_hook(&d, "poststop")],
        });
        set_args(s, &["/checker", "wait-file", "/shared/go"]);
    });
    let id = env.id();
    env.create(&b, &id).assert_ok();
    if runtime_name() == "runc" {
        // DIFFERS: runc 1.1 runs poststart hooks at the end of `create` (before the user
        // program runs), contrary to runtime.md "Lifecycle" step 9.
        assert_eq!(order(&d), ["prestart", "createRuntime", "poststart"]);
    } else {
        assert_eq!(order(&d), ["prestart", "createRuntime"]);
    }
    let st = env.state(&id);
    let pid = st["pid"].as_i64().unwrap();
    let bundle = fs::canonicalize(&b.path).unwrap();
    let host_mnt = ns_of("self", "mnt");
    for h in ["prestart", "createRuntime"] {
        let s = read_json(&d.join(format!("{h}.json")));
        assert_eq!(s["id"], id.as_str(), "{h}: {s}");
        assert_eq!(
            s["pid"].as_i64(),
            Some(pid),
            "{h}: pid as seen by the runtime: {s}"
        );
        assert!(s["ociVersion"].is_string(), "{h}: {s}");
        assert_eq!(s["status"], "creating", "{h}: {s}");
        assert_eq!(
            fs::canonicalize(s["bundle"].as_str().unwrap()).unwrap(),
            bundle,
            "{h}: {s}"
        );
        // runtime namespace: the hook's mount namespace is the runtime's (ours)
        assert_eq!(
            fs::read_to_string(d.join(format!("{h}.mnt")))
                .unwrap()
                .trim(),
            host_mnt,
            "{h} ran in another mount namespace"
        );
        assert_eq!(
            fs::read_to_string(d.join(format!("{h}.env")))
                .unwrap()
                .trim(),
            "yes"
        );
    }
    env.start(&id).assert_ok();
    assert_eq!(order(&d), ["prestart", "createRuntime", "poststart"]);
    let s = read_json(&d.join("poststart.json"));
    assert_eq!(s["id"], id.as_str(), "{s}");
    assert_eq!(s["pid"].as_i64(), Some(pid), "{s}");

    fs::write(b.shared_file("go"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    assert_eq!(order(&d).len(), 3, "poststop ran before delete");
    env.delete(&id).assert_ok();
    assert_eq!(
        order(&d),
        ["prestart", "createRuntime", "poststart", "poststop"]
    );
    let s = read_json(&d.join("poststop.json"));
    assert_eq!(s["id"], id.as_str(), "{s}");
    assert_eq!(
        fs::canonicalize(s["bundle"].as_str().unwrap()).unwrap(),
        bundle
    );
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Lifecycle" step 3: "If any prestart hook fails, the runtime MUST generate an
// error, stop the container" — create fails, the user program never runs, nothing is left
// behind (runtime.md "Errors"); later prestart hooks do not run.
#[test]
fn failing_prestart_fails_create() {
    let env = TestEnv::new("prestartfail");
    let d = hooks_dir(&env);
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "prestart": [sh_hook("exit 3"), recording_hook(&d, "second")],
            "createRuntime": [recording_hook(&d, "createRuntime")],
        });
        set_args(s, &["/checker", "touch", "/shared/ran"]);
    });
    let id = env.id();
    env.create(&b, &id).assert_err();
    env.assert_nothing_left(&id, &b);
    assert_eq!(
        order(&d),
        Vec::<String>::new(),
        "hooks after the failing one ran"
    );
    assert!(!b.shared_file("ran").exists(), "the user program ran");
    // same for createRuntime
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({ "createRuntime": [sh_hook("exit 1")] });
        set_args(s, &["/checker", "touch", "/shared/ran"]);
    });
    let id = env.id();
    env.create(&b, &id).assert_err();
    env.assert_nothing_left(&id, &b);
    assert!(!b.shared_file("ran").exists(), "the user program ran");
}

// runtime.md "Lifecycle" step 3 -> "continue the lifecycle at step 12" -> step 13: "The poststop
// hooks MUST be invoked by the runtime" also when a prestart hook failed.
#[test]
fn failing_prestart_still_runs_poststop() {
    let env = TestEnv::new("prestartpoststop");
    let d = hooks_dir(&env);
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "prestart": [sh_hook("exit 3")],
            "poststop": [recording_hook(&d, "poststop")],
        });
    });
    let id = env.id();
    env.create(&b, &id).assert_err();
    env.assert_nothing_left(&id, &b);
    assert_eq!(order(&d), ["poststop"]);
}

// config.md "POSIX-platform Hooks" timeout: a hook running longer than `timeout` seconds is
// killed and the operation fails (promptly, without waiting for the hook).
#[test]
fn hook_timeout_kills_hook_and_fails_create() {
    let env = TestEnv::new("hooktimeout");
    // A distinctive duration so we can find a leftover sleep.
    let secs = "5.0731";
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "createRuntime": [{"path": "/bin/sleep", "args": ["sleep", secs], "timeout": 1}],
        });
    });
    let id = env.id();
    let t0 = Instant::now();
    env.create(&b, &id).assert_err();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(2500), "create took {took:?}");
    env.assert_nothing_left(&id, &b);
    let leftover = fs::read_dir("/proc").unwrap().flatten().any(|e| {
        fs::read(e.path().join("cmdline"))
            .map(|c| c == format!("sleep\0{secs}\0").as_bytes())
            .unwrap_or(false)
    });
    assert!(!leftover, "the timed-out hook is still running");
}

// runtime.md "Lifecycle" step 13: "If any poststop hook fails, the runtime MUST log a warning,
// but the remaining hooks and lifecycle continue as if the hook had succeeded."
#[test]
fn failing_poststop_only_warns() {
    let env = TestEnv::new("poststopfail");
    let d = hooks_dir(&env);
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "poststop": [sh_hook("exit 7"), recording_hook(&d, "after")],
        });
        set_args(s, &["/checker", "exit", "0"]);
    });
    let id = env.id();
    env.create_start(&b, &id);
    env.wait_status(&id, "stopped", T);
    let out = env.delete(&id);
    out.assert_ok();
    if runtime_name() == "runc" {
        // DIFFERS: runc 1.1 stops at the first failing poststop hook.
        assert_eq!(order(&d), Vec::<String>::new());
    } else {
        assert_eq!(
            order(&d),
            ["after"],
            "the hook after the failing one did not run"
        );
    }
    if is_hako() {
        assert!(out.stderr.contains("warn"), "no warning logged: {out}");
    }
    env.assert_nothing_left(&id, &b);
}

// runtime.md "Lifecycle" step 9: "If any poststart hook fails, the runtime MUST generate an
// error, stop the container, and continue the lifecycle at step 12" (destroy, then poststop).
#[test]
fn failing_poststart_fails_start_and_stops_container() {
    let env = TestEnv::new("poststartfail");
    let d = hooks_dir(&env);
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "poststart": [sh_hook("exit 2")],
            "poststop": [recording_hook(&d, "poststop")],
        });
        set_args(s, &["/checker", "sleep", "3600"]);
    });
    let id = env.id();
    env.create(&b, &id).assert_ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.start(&id).assert_err();
    let t0 = Instant::now();
    while pid_alive(pid) && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !pid_alive(pid),
        "container still running after a failed poststart"
    );
    let st = env.cmd(&["state", &id]);
    if st.ok() {
        assert_eq!(st.json()["status"], "stopped", "{st}");
        env.delete(&id).assert_ok();
    }
    env.assert_nothing_left(&id, &b);
    assert_eq!(order(&d), ["poststop"]);
}

// The prestart/createRuntime hooks see the init in the container's cgroup, with its limits
// written (runc sets the cgroup up before them, "so that the prestart hook could apply cgroup
// permissions"; engines' device hooks rely on it). On cgroup v1 hosts the init moves itself
// into its cgroups while create runs (docs/ARCHITECTURE.md, setup step 9), so this is checked.
#[test]
fn create_runtime_hook_sees_the_cgroup() {
    let env = TestEnv::new("hookcg");
    let d = hooks_dir(&env);
    let dd = d.display();
    let b = env.bundle_with(|s, _| {
        s["hooks"] = json!({
            "createRuntime": [sh_hook(&format!(
                "pid=$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
                 cat /proc/$pid/cgroup > {dd}/cgroup; \
                 d=$(sed -n 's/^[0-9]*:[^:]*devices[^:]*://p' /proc/$pid/cgroup); \
                 if [ -n \"$d\" ]; then cat /sys/fs/cgroup/devices$d/devices.list > {dd}/devices; fi; \
                 echo done > {dd}/ran"
            ))],
        });
        set_args(s, &["/checker", "wait-file", "/shared/go"]);
        // Without a cgroup namespace or a cgroupfs mount, whose set-up would make the init
        // join anyway: the hooks themselves must be waited for.
        if let Some(m) = s["mounts"].as_array_mut() {
            m.retain(|m| m["type"] != "cgroup" && m["type"] != "cgroup2");
        }
        if let Some(n) = s["linux"]["namespaces"].as_array_mut() {
            n.retain(|n| n["type"] != "cgroup");
        }
    });
    let id = env.id();
    env.create(&b, &id).assert_ok();
    wait_file(&d.join("ran"), T);
    let cg = fs::read_to_string(d.join("cgroup")).unwrap();
    // Every v1 hierarchy names the container's cgroup; on a pure v2 host, the unified one.
    // (On a v1 host the cgroup2 line is hako's only where that mount owns controllers.)
    let v1 = cg.lines().any(|l| !l.starts_with("0::"));
    for line in cg.lines().filter(|l| !(v1 && l.starts_with("0::"))) {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        assert!(
            path.ends_with(&format!("/{id}")),
            "the init is not in its cgroup when createRuntime runs: {line:?} in\n{cg}"
        );
    }
    if let Ok(list) = fs::read_to_string(d.join("devices")) {
        // v1: the default rules, not the unrestricted "a *:* rwm" of a fresh cgroup.
        assert!(
            !list.contains("a *:* rwm") && list.contains("c 1:3 rwm"),
            "device rules incomplete when createRuntime runs: {list}"
        );
    }
    env.delete_force(&id).assert_ok();
}
