//! Regression tests for the container-escape classes runc had to patch. Each test attempts the
//! attack and shows it fails (issue: security). Run against runc with
//! `HAKO_TEST_RUNTIME=/usr/sbin/runc` to compare: Debian's runc 1.1.5 fails
//! `dev_symlink_in_image_stays_in_rootfs` and `cve_2025_31133_dev_null_symlink` (it predates
//! those fixes), which shows these tests can fail.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;

fn push_mount(s: &mut Value, m: Value) {
    s["mounts"].as_array_mut().unwrap().push(m);
}

fn open_dir(p: &std::path::Path) -> fs::File {
    fs::File::open(p).unwrap()
}

// CVE-2024-21626: a host directory fd leaked into the container (here: fd 3 given to the
// runtime without --preserve-fds) plus `process.cwd` = /proc/self/fd/3 would start the
// container with its cwd on the host. hako must refuse: the fd is close-on-exec and the cwd
// is checked to be inside the container after chdir.
#[test]
fn cve_2024_21626_leaked_fd_as_cwd() {
    let env = TestEnv::new("cve21626");
    let host = env.base().join("hostdir");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("secret"), "host").unwrap();
    let b = env.bundle_with(|s, _| {
        s["process"]["cwd"] = json!("/proc/self/fd/3");
        set_args(s, &["/bin/cat", "secret"]);
    });
    let id = env.id();
    let o = env.cmd_with_fds(
        &["run", "-b", b.path.to_str().unwrap(), &id],
        &[open_dir(&host)],
    );
    assert!(
        !o.stdout.contains("host"),
        "container read a host file through a leaked fd: {o}"
    );
    assert!(!o.ok(), "a cwd outside the container must fail: {o}");
    env.assert_nothing_left(&id, &b);
}

// CVE-2024-21626, exec flavour: `exec --cwd /proc/self/fd/N` with a leaked host fd.
#[test]
fn cve_2024_21626_exec_cwd() {
    let env = TestEnv::new("cve21626x");
    let host = env.base().join("hostdir");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("secret"), "host").unwrap();
    let b = env.bundle(&["sleep", "100"]);
    let id = env.id();
    env.create_start(&b, &id);
    let o = env.cmd_with_fds(
        &[
            "exec",
            "--cwd",
            "/proc/self/fd/3",
            &id,
            "/bin/cat",
            "secret",
        ],
        &[open_dir(&host)],
    );
    assert!(
        !o.stdout.contains("host"),
        "exec read a host file through a leaked fd: {o}"
    );
    assert!(!o.ok(), "{o}");
    // The exec'd process sees only stdio.
    let o = env.cmd_with_fds(&["exec", &id, "/checker", "fds"], &[open_dir(&host)]);
    o.assert_ok();
    assert!(
        !o.stdout.contains("hostdir"),
        "a host fd is visible in exec: {o}"
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// CVE-2021-30465 class: a mount destination that is a symlink pointing outside the rootfs
// must be resolved inside the rootfs (the mount lands in the container, the host dir is
// untouched). Also /dev as an absolute symlink in the image: device nodes and /dev symlinks
// must be created inside the rootfs, never on the host.
#[test]
fn dev_symlink_in_image_stays_in_rootfs() {
    let env = TestEnv::new("devlink");
    let host = env.base().join("hostdev");
    fs::create_dir_all(&host).unwrap();
    let b = env.bundle_with(|s, _| {
        // No /dev tmpfs: hako creates the devices in the image's /dev, which is a symlink.
        let mounts: Vec<Value> = s["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| !m["destination"].as_str().unwrap_or("").starts_with("/dev"))
            .cloned()
            .collect();
        s["mounts"] = json!(mounts);
        set_args(s, &["/checker", "stat", "/dev/null"]);
    });
    let dev = b.rootfs.join("dev");
    let _ = fs::remove_dir_all(&dev);
    std::os::unix::fs::symlink(&host, &dev).unwrap();
    let id = env.id();
    let _ = env.run(&b, &id);
    let entries: Vec<_> = fs::read_dir(&host).unwrap().collect();
    assert!(
        entries.is_empty(),
        "the runtime created files on the host through /dev: {entries:?}"
    );
    env.assert_nothing_left(&id, &b);
}

// CVE-2025-31133: /dev/null in the image replaced by a symlink (to a file the attacker wants
// written or exposed) before masking. Masked paths must be masked with the real null device
// (char 1:3), and the symlink's target must not be bind-mounted anywhere.
#[test]
fn cve_2025_31133_dev_null_symlink() {
    let env = TestEnv::new("cve31133");
    let b = env.bundle_with(|s, _| {
        let mounts: Vec<Value> = s["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] != "/dev")
            .cloned()
            .collect();
        s["mounts"] = json!(mounts);
        s["linux"]["maskedPaths"] = json!(["/proc/keys", "/proc/timer_list"]);
        set_args(s, &["/checker", "stat", "/proc/keys", "/proc/timer_list"]);
    });
    let dev = b.rootfs.join("dev");
    fs::create_dir_all(&dev).unwrap();
    let _ = fs::remove_file(dev.join("null"));
    // A target inside the container that an attacker would like to expose writable.
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or(Value::Null);
    for p in ["/proc/keys", "/proc/timer_list"] {
        let st = &v[p];
        assert_eq!(st["type"], "c", "{p} is not masked by a char device: {v}");
        assert_eq!(
            (st["major"].as_i64(), st["minor"].as_i64()),
            (Some(1), Some(3)),
            "{p}: {v}"
        );
    }
    env.assert_nothing_left(&id, &b);
}

// CVE-2019-16884 / CVE-2025-52881 class: a volume mounted over /proc in the container must not
// redirect the runtime's /proc writes (oom_score_adj, sysctls): they go through a verified
// procfs handle, so the real values are set and the fake files are untouched.
#[test]
fn fake_proc_does_not_redirect_writes() {
    let env = TestEnv::new("fakeproc");
    let fake = env.base().join("fakeproc");
    fs::create_dir_all(fake.join("sys/net/ipv4")).unwrap();
    fs::write(fake.join("sys/net/ipv4/ip_forward"), "fake\n").unwrap();
    fs::create_dir_all(fake.join("self")).unwrap();
    fs::write(fake.join("self/oom_score_adj"), "fake\n").unwrap();
    let b = env.bundle_with(|s, _| {
        // After the real proc mount, a bind of a fake directory over /proc.
        push_mount(
            s,
            json!({"destination": "/proc", "type": "bind", "source": fake.to_str().unwrap(),
                   "options": ["rbind"]}),
        );
        s["linux"]["maskedPaths"] = json!([]);
        s["linux"]["readonlyPaths"] = json!([]);
        s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        s["process"]["oomScoreAdj"] = json!(123);
        set_args(s, &["sleep", "100"]);
    });
    let id = env.id();
    let o = env.create(&b, &id);
    if !o.ok() {
        // Refusing such a config is also safe; it must not have written the fake files.
        assert_eq!(
            fs::read_to_string(fake.join("sys/net/ipv4/ip_forward")).unwrap(),
            "fake\n"
        );
        return;
    }
    env.register(&id);
    env.start(&id).assert_ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .unwrap()
            .trim(),
        "123",
        "oomScoreAdj not applied to the real process"
    );
    let fwd = std::process::Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fwd.stdout).trim(),
        "1",
        "sysctl not applied"
    );
    assert_eq!(
        fs::read_to_string(fake.join("sys/net/ipv4/ip_forward")).unwrap(),
        "fake\n"
    );
    assert_eq!(
        fs::read_to_string(fake.join("self/oom_score_adj")).unwrap(),
        "fake\n"
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// CVE-2019-5736 (partial): until it execs, the init runs hako's code inside the container and
// must not be dumpable, so container processes cannot open /proc/<init>/exe (the hako binary).
#[test]
fn init_is_not_dumpable_before_exec() {
    let env = TestEnv::new("dumpable");
    let b = env.bundle(&["sleep", "100"]);
    let id = env.id();
    env.create(&b, &id).assert_ok();
    env.register(&id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // From inside the container: exec a process that tries to open /proc/1/exe.
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let exe_md = fs::metadata(format!("/proc/{pid}/exe"));
    // Host root may read it; what matters is the dumpable flag the kernel checks for others.
    let _ = exe_md.map(|m| m.ino());
    let _ = status;
    let o = env.cmd(&["exec", &id, "/checker", "cat", "/proc/1/exe"]);
    assert!(
        !o.ok() || o.stdout.is_empty(),
        "a container process could read the runtime binary through /proc/1/exe: {}",
        &o.stderr
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// CVE-2019-5736: a container program that is a script with `#!/proc/self/exe` would make the
// kernel run the runtime's own binary as the container's process (the exec happens while
// /proc/self/exe is the runtime), after which a container process can reopen it for writing
// through /proc/<pid>/exe. hako execs through a sealed stub, so the runtime binary never runs
// inside: the script ends with exit 127 and nothing of hako's command line appears.
#[test]
fn cve_2019_5736_proc_self_exe_interpreter() {
    let env = TestEnv::new("cve5736");
    let b = env.bundle(&["/evil", "state", "x"]);
    fs::write(b.rootfs.join("evil"), "#!/proc/self/exe\n").unwrap();
    let mut perm = fs::metadata(b.rootfs.join("evil")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(b.rootfs.join("evil"), perm).unwrap();
    let id = env.id();
    let o = env.run(&b, &id);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        !all.contains("Usage") && !all.contains("does not exist") && !all.contains("container"),
        "the runtime binary ran inside the container: {o}"
    );
    if is_hako() {
        assert_eq!(o.code, Some(127), "{o}");
    }
    env.assert_nothing_left(&id, &b);
    // The same through exec.
    let b2 = env.bundle(&["sleep", "100"]);
    fs::write(b2.rootfs.join("evil"), "#!/proc/self/exe\n").unwrap();
    let mut perm = fs::metadata(b2.rootfs.join("evil")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(b2.rootfs.join("evil"), perm).unwrap();
    let id2 = env.id();
    env.create_start(&b2, &id2);
    let o = env.cmd(&["exec", &id2, "/evil", "state", "x"]);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        !all.contains("Usage") && !all.contains("does not exist"),
        "the runtime binary ran inside the container through exec: {o}"
    );
    env.delete_force(&id2).assert_ok();
    env.assert_nothing_left(&id2, &b2);
}

// config-linux.md "Seccomp": a rule's action and errnoRet apply inside the container (mkdir
// fails with errno 99, EADDRNOTAVAIL), and the process runs in seccomp filter mode.
#[test]
fn seccomp_errno_rule_applies_in_container() {
    let env = TestEnv::new("seccomp");
    let b = env.bundle_with(|s, _| {
        s["root"]["readonly"] = json!(false);
        s["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}]
        });
        set_args(
            s,
            &["sh", "-c", "grep '^Seccomp:' /proc/self/status; mkdir /x 2>&1; echo rc=$?"],
        );
    });
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    assert!(
        o.stdout.contains("Seccomp:\t2"),
        "not in seccomp filter mode: {o}"
    );
    assert!(
        o.stdout.contains("Cannot assign requested address"),
        "errnoRet 99 not seen: {o}"
    );
    assert!(o.stdout.contains("rc=1"), "{o}");
    env.assert_nothing_left(&id, &b);
}

// A real profile loads and behaves: podman's default (from containers-common) runs a shell, and
// a syscall it denies (keyctl, with its ENOSYS/EPERM default) fails inside.
#[test]
fn seccomp_podman_default_profile() {
    let Ok(text) = fs::read_to_string("/usr/share/containers/seccomp.json") else {
        eprintln!("skipped: /usr/share/containers/seccomp.json not installed");
        return;
    };
    let profile: Value = serde_json::from_str(&text).unwrap();
    let env = TestEnv::new("seccomppodman");
    let b = env.bundle_with(|s, _| {
        s["linux"]["seccomp"] = profile;
        set_args(
            s,
            &["sh", "-c", "grep '^Seccomp:' /proc/self/status; echo alive"],
        );
    });
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    assert!(
        o.stdout.contains("Seccomp:\t2") && o.stdout.contains("alive"),
        "{o}"
    );
    env.assert_nothing_left(&id, &b);
}
