//! AppArmor (config.md "process.apparmorProfile", runc's `exec --apparmor`), for real: where
//! AppArmor is enabled on the machine running the tests, a small profile is loaded with
//! `apparmor_parser` and containers run under it; the program inside checks its own
//! `/proc/self/attr/current` and that the profile's deny rule holds. Where AppArmor is absent
//! the tests return at once (`security.rs`'s `lsm_fields_without_lsm_are_errors` covers the
//! error then). `scripts/test-v2.sh` runs this binary in a guest whose kernel has AppArmor.
//!
//! SELinux cannot be exercised here (no policy on the test machines): `libhako`'s `lsm` unit
//! tests cover its detection and mount-label options.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::process::Command;

fn apparmor_enabled() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").is_dir()
}

/// A loaded profile: everything allowed but reading `/secret` (a path as the container sees
/// it). Unloaded when dropped.
struct Profile {
    name: String,
    file: std::path::PathBuf,
}

impl Profile {
    fn load(env: &TestEnv, tag: &str) -> Profile {
        let name = format!("hako-test-{tag}-{}", std::process::id());
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n\
             \x20 file,\n  capability,\n  network,\n  signal,\n  unix,\n  ptrace,\n  mount,\n\
             \x20 umount,\n  pivot_root,\n\
             \x20 deny /secret r,\n\
             }}\n"
        );
        let file = env.base().join(format!("{name}.profile"));
        fs::write(&file, text).unwrap();
        let o = Command::new("apparmor_parser")
            .arg("-r")
            .arg(&file)
            .output()
            .expect("AppArmor is enabled but apparmor_parser cannot run (apt install apparmor)");
        assert!(
            o.status.success(),
            "apparmor_parser -r: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Profile { name, file }
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser")
            .arg("-R")
            .arg(&self.file)
            .output();
    }
}

/// What the program inside reports: its AppArmor label, and whether /secret and /public could
/// be read.
const PROBE: &str = "cat /proc/self/attr/current; echo; \
     if cat /secret >/dev/null 2>&1; then echo secret=read; else echo secret=denied; fi; \
     if cat /public >/dev/null 2>&1; then echo public=read; else echo public=denied; fi";

fn with_files(rootfs: &Path) {
    fs::write(rootfs.join("secret"), "s\n").unwrap();
    fs::write(rootfs.join("public"), "p\n").unwrap();
}

#[track_caller]
fn assert_confined(out: &str, profile: &str) {
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.trim() == format!("{profile} (enforce)")),
        "attr/current does not name {profile}: {out}"
    );
    assert!(out.contains("secret=denied"), "/secret was readable: {out}");
    assert!(
        out.contains("public=read"),
        "/public was not readable: {out}"
    );
}

fn skip() -> bool {
    if !apparmor_enabled() {
        eprintln!("AppArmor is not enabled here: nothing to test (security.rs checks the error)");
        return true;
    }
    false
}

/// `process.apparmorProfile`: the container's process runs confined by the profile.
#[test]
fn apparmor_profile_confines_the_container() {
    if skip() {
        return;
    }
    let env = TestEnv::new("aa-run");
    let p = Profile::load(&env, "run");
    let b = env.bundle_with(|s, _| {
        s["process"]["apparmorProfile"] = json!(p.name);
        set_args(s, &["sh", "-c", PROBE]);
    });
    with_files(&b.rootfs);
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    assert_confined(&o.stdout, &p.name);
    // `exec` without --apparmor is confined like the container (as runc); the same with a
    // non-root user and no_new_privs, set after the label.
    let b = env.bundle_with(|s, _| {
        s["process"]["apparmorProfile"] = json!(p.name);
        s["process"]["noNewPrivileges"] = json!(true);
        s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        set_args(s, &["sleep", "100"]);
    });
    with_files(&b.rootfs);
    let id = env.id();
    env.create_start(&b, &id);
    let o = env.cmd(&["exec", &id, "sh", "-c", PROBE]);
    o.assert_ok();
    assert_confined(&o.stdout, &p.name);
    // --process FILE without a profile inherits it too.
    let pf = env.base().join("process.json");
    fs::write(
        &pf,
        json!({"args": ["sh", "-c", PROBE], "cwd": "/", "user": {"uid": 0, "gid": 0}}).to_string(),
    )
    .unwrap();
    let o = env.cmd(&["exec", "--process", pf.to_str().unwrap(), &id]);
    o.assert_ok();
    assert_confined(&o.stdout, &p.name);
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

/// `exec --apparmor PROFILE` in an unconfined container, and `apparmorProfile` in `--process`.
#[test]
fn exec_apparmor_confines_the_process() {
    if skip() {
        return;
    }
    let env = TestEnv::new("aa-exec");
    let p = Profile::load(&env, "exec");
    let b = env.bundle(&["sleep", "100"]);
    with_files(&b.rootfs);
    let id = env.id();
    env.create_start(&b, &id);
    let o = env.cmd(&["exec", &id, "sh", "-c", PROBE]);
    o.assert_ok();
    assert!(
        o.stdout.starts_with("unconfined") && o.stdout.contains("secret=read"),
        "{o}"
    );
    let o = env.cmd(&["exec", "--apparmor", &p.name, &id, "sh", "-c", PROBE]);
    o.assert_ok();
    assert_confined(&o.stdout, &p.name);
    let pf = env.base().join("process.json");
    let proc: Value = json!({"args": ["sh", "-c", PROBE], "cwd": "/",
        "user": {"uid": 0, "gid": 0}, "apparmorProfile": p.name});
    fs::write(&pf, proc.to_string()).unwrap();
    let o = env.cmd(&["exec", "--process", pf.to_str().unwrap(), &id]);
    o.assert_ok();
    assert_confined(&o.stdout, &p.name);
    // A profile that is not loaded: a clear error naming the field, nothing runs.
    let o = env.cmd(&[
        "exec",
        "--apparmor",
        "hako-no-such-profile",
        &id,
        "sh",
        "-c",
        "echo > /shared/ran",
    ]);
    o.assert_err();
    assert!(!b.shared_file("ran").exists(), "{o}");
    if is_hako() {
        assert!(o.stderr.contains("apparmorProfile"), "{o}");
    }
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

/// A profile that is not loaded fails `create` with the field named and nothing left behind.
#[test]
fn apparmor_profile_not_loaded_is_an_error() {
    if skip() {
        return;
    }
    let env = TestEnv::new("aa-missing");
    let b = env.bundle_with(|s, _| {
        s["process"]["apparmorProfile"] = json!("hako-no-such-profile");
        set_args(s, &["sh", "-c", "echo > /shared/ran"]);
    });
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_err();
    assert!(!b.shared_file("ran").exists(), "{o}");
    if is_hako() {
        assert!(o.stderr.contains("process.apparmorProfile"), "{o}");
    }
    env.assert_nothing_left(&id, &b);
}
