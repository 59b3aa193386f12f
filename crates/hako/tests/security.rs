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

// CVE-2019-16884 / CVE-2025-52881 class: volumes mounted over /proc in the container must not
// redirect the runtime's /proc writes (oom_score_adj, sysctls): they go through a verified
// procfs handle, so the real values are set (checked from the host) and the fake files are
// untouched. Three configurations: a fake directory over all of /proc; a host file bound over
// the very sysctl file (/proc/sys/net/ipv4/ip_forward) and over /proc/self/oom_score_adj; a
// fake directory over /proc/sys/kernel with a uts sysctl (kernel.domainname) written there.
// And a fourth: a fake directory bound at /pk, a symlink in the image to /proc/sys/kernel.
// Refusing the config is safe too, if nothing fake was written and nothing is left. hako, like
// runc, refuses every one of them with a clear error naming the mount: only a procfs may go over
// /proc, and under it only the files lxcfs emulates (checked with symlinks resolved).
// Can fail: a runtime writing through the container's /proc path (as runc before 1.2.8 does
// for sysctls) writes the fake files.
#[test]
fn fake_proc_does_not_redirect_writes() {
    let env = TestEnv::new("fakeproc");
    let fake = env.base().join("fakeproc");
    fs::create_dir_all(fake.join("sys/net/ipv4")).unwrap();
    fs::create_dir_all(fake.join("self")).unwrap();
    let fwd_file = env.base().join("fake-ip_forward");
    let oom_file = env.base().join("fake-oom_score_adj");
    let kdir = env.base().join("fake-kernel");
    fs::create_dir_all(&kdir).unwrap();
    let fakes = [
        fake.join("sys/net/ipv4/ip_forward"),
        fake.join("self/oom_score_adj"),
        fwd_file.clone(),
        oom_file.clone(),
        kdir.join("domainname"),
    ];
    let bind = |src: &std::path::Path, dst: &str| {
        json!({"destination": dst, "type": "bind", "source": src.to_str().unwrap(),
               "options": ["rbind"]})
    };
    let configs = [
        vec![bind(&fake, "/proc")],
        vec![
            bind(&fwd_file, "/proc/sys/net/ipv4/ip_forward"),
            bind(&oom_file, "/proc/self/oom_score_adj"),
        ],
        vec![bind(&kdir, "/proc/sys/kernel")],
        vec![bind(&kdir, "/pk")],
    ];
    for (n, mounts) in configs.into_iter().enumerate() {
        for f in &fakes {
            fs::write(f, "fake\n").unwrap();
        }
        let b = env.bundle_with(|s, _| {
            // After the real proc mount.
            for m in &mounts {
                push_mount(s, m.clone());
            }
            s["linux"]["maskedPaths"] = json!([]);
            s["linux"]["readonlyPaths"] = json!([]);
            s["linux"]["sysctl"] =
                json!({"net.ipv4.ip_forward": "1", "kernel.domainname": "hako-real"});
            s["process"]["oomScoreAdj"] = json!(123);
            set_args(s, &["sleep", "100"]);
        });
        std::os::unix::fs::symlink("/proc/sys/kernel", b.rootfs.join("pk")).unwrap();
        let id = env.id();
        let o = env.create(&b, &id);
        if is_hako() {
            assert!(
                !o.ok()
                    && o.stderr.contains("mounts[")
                    && (o.stderr.contains("may be mounted over /proc")
                        || o.stderr.contains("is inside /proc")),
                "config {n}: a volume over or inside /proc must be refused, naming the mount: {o}"
            );
        }
        let untouched = || {
            for f in &fakes {
                assert_eq!(
                    fs::read_to_string(f).unwrap(),
                    "fake\n",
                    "config {n}: the runtime wrote the fake {}: {o}",
                    f.display()
                );
            }
        };
        if !o.ok() {
            untouched();
            env.assert_nothing_left(&id, &b);
            continue;
        }
        env.start(&id).assert_ok();
        let pid = env.state(&id)["pid"].as_i64().unwrap();
        assert_eq!(
            fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
                .unwrap()
                .trim(),
            "123",
            "config {n}: oomScoreAdj not applied to the real process"
        );
        let in_ns = |ns: &str, file: &str| {
            let o = std::process::Command::new("nsenter")
                .args(["-t", &pid.to_string(), ns, "cat", file])
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        assert_eq!(
            in_ns("-n", "/proc/sys/net/ipv4/ip_forward"),
            "1",
            "config {n}: sysctl not applied"
        );
        assert_eq!(
            in_ns("-u", "/proc/sys/kernel/domainname"),
            "hako-real",
            "config {n}: sysctl not applied"
        );
        untouched();
        env.delete_force(&id).assert_ok();
        env.assert_nothing_left(&id, &b);
    }
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

// ---------------------------------------------------------------------------------------------
// Seccomp user notification (config-linux.md "Seccomp": listenerPath, listenerMetadata, "The
// Container Process State")
// ---------------------------------------------------------------------------------------------

/// What the test's seccomp agent saw: the container process state it was sent, and the path of
/// every notified mkdir/mkdirat (read from the caller's memory), in order.
struct AgentReport {
    state: Value,
    paths: Vec<String>,
    /// The runtime closed the connection after sending the state.
    closed: bool,
}

/// Reads a NUL-terminated string at `addr` in process `pid` (the notified syscall's path).
fn read_remote_cstr(pid: u32, addr: u64) -> String {
    use std::os::unix::fs::FileExt;
    let Ok(mem) = fs::File::open(format!("/proc/{pid}/mem")) else {
        return String::new();
    };
    let mut buf = vec![0u8; 256];
    let n = mem.read_at(&mut buf, addr).unwrap_or(0);
    let s = &buf[..n];
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// A seccomp agent: a unix listener at `path` whose thread accepts `conns` connections. For
/// each, a thread receives the container process state with the notify fd in SCM_RIGHTS
/// (reading the rest of the JSON until the runtime closes the connection), then answers
/// notifications until every process using that filter is gone: a mkdir of "/notified" gets
/// "success" (return value 0; the kernel never runs it), any other mkdir gets ENOTTY. One
/// report per connection arrives on the channel.
fn seccomp_agent(
    path: &std::path::Path,
    conns: usize,
) -> std::sync::mpsc::Receiver<Result<AgentReport, String>> {
    use std::time::{Duration, Instant};
    let l = std::os::unix::net::UnixListener::bind(path).expect("bind the agent socket");
    l.set_nonblocking(true).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..conns {
            let t0 = Instant::now();
            let s = loop {
                match l.accept() {
                    Ok((s, _)) => break Ok(s),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if t0.elapsed() > *CMD_TIMEOUT {
                            break Err("the runtime never connected to listenerPath".to_string());
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => break Err(format!("accept: {e}")),
                }
            };
            let tx = tx.clone();
            match s {
                Ok(s) => {
                    std::thread::spawn(move || {
                        let _ = tx.send(agent_conn(s));
                    });
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// One agent connection (see [`seccomp_agent`]).
fn agent_conn(mut s: std::os::unix::net::UnixStream) -> Result<AgentReport, String> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(*CMD_TIMEOUT)).unwrap();
    // The fds travel with the first sendmsg; the JSON may span several.
    let (notify, mut text) = recv_fd(s.as_raw_fd())?;
    let state: Value = loop {
        if let Ok(v) = serde_json::from_str(&text) {
            break v;
        }
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {
                return Err(format!("container process state is not JSON: {text:?}"));
            }
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    };
    let mut paths = Vec::new();
    let fd = notify.as_raw_fd();
    loop {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, CMD_TIMEOUT.as_millis() as i32) };
        if r == 0 {
            return Err(format!("no notification and no hangup; seen {paths:?}"));
        }
        if p.revents & libc::POLLIN == 0 {
            // POLLHUP: the filter has no users left (the processes exited).
            break;
        }
        // SAFETY: a zeroed plain-old-data struct the kernel fills.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: SECCOMP_IOCTL_NOTIF_RECV into a zeroed seccomp_notif.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOENT) {
                continue; // the caller was killed meanwhile
            }
            return Err(format!("SECCOMP_IOCTL_NOTIF_RECV: {e}"));
        }
        let addr = if req.data.nr as i64 == libc::SYS_mkdirat {
            req.data.args[1]
        } else {
            req.data.args[0]
        };
        let name = read_remote_cstr(req.pid, addr);
        // The caller may have died while we read its memory: the id must still be valid.
        // SAFETY: SECCOMP_IOCTL_NOTIF_ID_VALID with a pointer to the id.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) } != 0 {
            continue;
        }
        // SAFETY: a zeroed plain-old-data struct.
        let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
        resp.id = req.id;
        if name != "/notified" {
            resp.error = -libc::ENOTTY;
        }
        paths.push(name);
        // SAFETY: SECCOMP_IOCTL_NOTIF_SEND with a filled seccomp_notif_resp.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(format!("SECCOMP_IOCTL_NOTIF_SEND: {e}"));
            }
        }
    }
    // config-linux.md: the connection "MUST be closed after sending a seccomp state".
    s.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let closed = matches!(s.read(&mut [0u8; 1]), Ok(0));
    Ok(AgentReport {
        state,
        paths,
        closed,
    })
}

fn notify_profile(listener: &std::path::Path, meta: Option<&str>) -> Value {
    let mut p = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "listenerPath": listener.to_str().unwrap(),
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    if let Some(m) = meta {
        p["listenerMetadata"] = json!(m);
    }
    p
}

// config-linux.md "Seccomp" with SCMP_ACT_NOTIFY: the runtime connects to `listenerPath` and
// sends the container process state (ociVersion, fds ["seccompFd"], pid, metadata =
// listenerMetadata, state = the runtime.md state of a container whose program has not run yet)
// with the notify fd in SCM_RIGHTS, then closes the connection. An agent in the test answers
// the notified syscalls, and the container sees the agent's answers: a mkdir the agent
// "succeeds" returns 0 but creates nothing (checked inside with `test -d` and on the host),
// one it refuses fails with the agent's errno (ENOTTY). Both with noNewPrivileges (filter
// loaded last) and without (loaded before the capabilities are dropped).
// Can fail: if the runtime did not hand the fd over, the agent times out and the container's
// mkdir gets ENOSYS (no listener); a wrong state document fails the field checks.
#[test]
fn seccomp_notify_agent_answers_syscalls() {
    let env = TestEnv::new("seccompnotify");
    for nnp in [true, false] {
        let sock = env.base().join(format!("agent-{nnp}.sock"));
        let agent = seccomp_agent(&sock, 1);
        let b = env.bundle_with(|s, _| {
            s["root"]["readonly"] = json!(false);
            s["process"]["noNewPrivileges"] = json!(nnp);
            s["annotations"] = json!({"org.hako.test": "notify"});
            s["linux"]["seccomp"] = notify_profile(&sock, Some("MKDIR=agent;x=1"));
            set_args(
                s,
                &[
                    "sh",
                    "-c",
                    "mkdir /notified; echo rc1=$?; test -d /notified && echo EXISTS; \
                     mkdir /denied 2>&1; echo rc2=$?; echo > /shared/unnotified; echo done",
                ],
            );
        });
        let id = env.id();
        let o = env.run(&b, &id);
        let rep = agent
            .recv_timeout(*CMD_TIMEOUT)
            .expect("the agent thread did not finish")
            .unwrap_or_else(|e| panic!("agent (noNewPrivileges {nnp}): {e}\n{o}"));
        o.assert_ok();
        // Inside: the agent's answers are the syscalls' results.
        assert!(o.stdout.contains("rc1=0"), "agent's success not seen: {o}");
        assert!(
            !o.stdout.contains("EXISTS"),
            "the kernel ran a syscall the agent answered: {o}"
        );
        assert!(
            o.stdout.contains("Inappropriate ioctl") || o.stdout.contains("Not a tty"),
            "agent's ENOTTY not seen: {o}"
        );
        assert!(
            o.stdout.contains("rc2=1") && o.stdout.contains("done"),
            "{o}"
        );
        // Host: neither directory exists; an un-notified syscall ran normally.
        assert!(!b.rootfs.join("notified").exists() && !b.rootfs.join("denied").exists());
        assert!(b.shared_file("unnotified").exists(), "{o}");
        assert_eq!(rep.paths, ["/notified", "/denied"], "{o}");
        assert!(rep.closed, "the runtime kept the listener connection open");
        // The container process state.
        let m = &rep.state;
        assert!(
            m["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
            "{m}"
        );
        assert_eq!(m["fds"], json!(["seccompFd"]), "{m}");
        assert_eq!(m["metadata"], "MKDIR=agent;x=1", "{m}");
        let st = &m["state"];
        assert!(st["ociVersion"].is_string(), "{m}");
        assert_eq!(st["id"], id.as_str(), "{m}");
        assert!(m["pid"].as_i64().is_some_and(|p| p > 0), "{m}");
        assert_eq!(m["pid"], st["pid"], "{m}");
        assert_eq!(st["annotations"]["org.hako.test"], "notify", "{m}");
        assert_eq!(
            fs::canonicalize(st["bundle"].as_str().unwrap_or("")).ok(),
            fs::canonicalize(&b.path).ok(),
            "{m}"
        );
        // The user program has not run when the fd is handed over: runc sends it during
        // create ("creating"), hako during start, before the exec ("created").
        assert!(
            st["status"] == "creating" || st["status"] == "created",
            "{m}"
        );
        env.assert_nothing_left(&id, &b);
    }
}

// The same for `exec`: the exec'd process gets the container's filter too, and its own notify
// fd reaches the agent on a second connection, with the state of a running container. The
// agent's answers are what the exec'd process sees.
// Can fail: without the hand-over the agent's second accept times out and mkdir gets ENOSYS.
#[test]
fn seccomp_notify_agent_exec() {
    let env = TestEnv::new("seccompnotifyx");
    let sock = env.base().join("agent.sock");
    let agent = seccomp_agent(&sock, 2);
    let b = env.bundle_with(|s, _| {
        s["root"]["readonly"] = json!(false);
        s["linux"]["seccomp"] = notify_profile(&sock, None);
        set_args(s, &["sleep", "100"]);
    });
    let id = env.id();
    env.create_start(&b, &id);
    let o = env.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir /notified; echo rc1=$?; test -d /notified && echo EXISTS; mkdir /denied 2>&1; \
         echo rc2=$?",
    ]);
    o.assert_ok();
    assert!(
        o.stdout.contains("rc1=0") && !o.stdout.contains("EXISTS"),
        "{o}"
    );
    assert!(o.stdout.contains("rc2=1"), "{o}");
    assert!(!b.rootfs.join("notified").exists() && !b.rootfs.join("denied").exists());
    env.kill(&id, "KILL").assert_ok();
    let mut reps: Vec<AgentReport> = (0..2)
        .map(|_| {
            agent
                .recv_timeout(*CMD_TIMEOUT)
                .expect("agent thread")
                .unwrap_or_else(|e| panic!("agent: {e}"))
        })
        .collect();
    reps.sort_by_key(|r| r.paths.len());
    // The init's filter saw nothing (sleep makes no mkdir); the exec'd process's saw both.
    assert!(reps[0].paths.is_empty(), "{:?}", reps[0].paths);
    assert_eq!(reps[1].paths, ["/notified", "/denied"]);
    assert_eq!(
        reps[1].state["state"]["status"], "running",
        "{}",
        reps[1].state
    );
    assert_eq!(reps[1].state["state"]["id"], id.as_str());
    assert_eq!(reps[1].state["fds"], json!(["seccompFd"]));
    assert!(reps[1].state.get("metadata").is_none() || reps[1].state["metadata"] == "");
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "listenerPath": "If sending to this socket fails, the runtime MUST generate
// an error." Nothing listens at listenerPath: create or start fails naming the socket, the user
// program never runs, and nothing is left after delete.
// Can fail: a runtime that ignored the send error would run the program (marker file).
#[test]
fn seccomp_notify_listener_unreachable_fails() {
    let env = TestEnv::new("seccompnolisten");
    let sock = env.base().join("nobody.sock");
    let b = env.bundle_with(|s, _| {
        s["linux"]["seccomp"] = notify_profile(&sock, None);
        set_args(s, &["sh", "-c", "echo > /shared/ran"]);
    });
    let id = env.id();
    let o = env.create(&b, &id);
    let err = if o.ok() {
        let o = env.start(&id);
        o.assert_err();
        o.stderr
    } else {
        o.stderr
    };
    assert!(
        err.contains("nobody.sock") || err.to_lowercase().contains("listener"),
        "the error does not name the listener: {err}"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !b.shared_file("ran").exists(),
        "the program ran without its seccomp agent"
    );
    let _ = env.delete_force(&id);
    env.assert_nothing_left(&id, &b);
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-52565: the pty bound at /dev/console
// ---------------------------------------------------------------------------------------------

// CVE-2025-52565 class: with process.terminal the runtime binds the pty at /dev/console. An
// image whose /dev (no /dev tmpfs in the config) has /dev/console as a symlink (to a file of
// the container, or with ../ towards a host path), as a FIFO (opening it to create the mount
// point would block the runtime forever), or a /dev/ptmx faked as a symlink to a file, must
// not make the runtime truncate, open or bind over anything but a fresh /dev/console: either
// create fails with an error naming /dev/console, or /dev/console is the pty (char 136, the
// same pty as stdin, checked inside) and the symlink targets are untouched (checked on the
// host: content, and no mount on them inside).
// Can fail: runc 1.1.5 (`os.Create("/dev/console")`, then a bind by path) follows the
// symlink, truncates /etc/target and binds the pty over it; an open without O_PATH hangs on
// the FIFO (the harness's timeout).
#[test]
fn cve_2025_52565_dev_console_in_image() {
    use std::io::Write;
    let env = TestEnv::new("cve52565");
    let host_file = env.base().join("host-file");
    let t = std::time::Duration::from_secs(10);
    for variant in ["abs-symlink", "dotdot-symlink", "fifo", "fake-ptmx"] {
        fs::write(&host_file, "host\n").unwrap();
        let b = env.bundle_with(|s, _| {
            s["process"]["terminal"] = json!(true);
            // The image's own /dev (devpts still mounted on /dev/pts).
            let mounts: Vec<Value> = s["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["destination"] != "/dev")
                .cloned()
                .collect();
            s["mounts"] = json!(mounts);
            s["root"]["readonly"] = json!(false);
            set_args(
                s,
                &[
                    "sh",
                    "-c",
                    "/checker > /shared/r.json; /checker stat /etc/target /dev/console \
                     > /shared/st.json; echo REPORTED",
                ],
            );
        });
        fs::write(b.rootfs.join("etc/target"), "precious\n").unwrap();
        let dev = b.rootfs.join("dev");
        let up = "../".repeat(b.rootfs.components().count() + 2);
        match variant {
            "abs-symlink" => std::os::unix::fs::symlink("/etc/target", dev.join("console")),
            "dotdot-symlink" => std::os::unix::fs::symlink(
                format!("{up}{}", host_file.display()),
                dev.join("console"),
            ),
            "fifo" => {
                let c = std::ffi::CString::new(dev.join("console").to_str().unwrap()).unwrap();
                // SAFETY: mkfifo with a valid path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
                Ok(())
            }
            _ => std::os::unix::fs::symlink("/etc/target", dev.join("ptmx")),
        }
        .unwrap();
        let sock = ConsoleSocket::new(&env);
        let id = env.id();
        let o = env.create_with_console(&b, &id, &sock);
        if is_hako() {
            // hako refuses a /dev/console it would have to follow or open, and replaces the
            // /dev/ptmx symlink with its own.
            assert_eq!(o.ok(), variant == "fake-ptmx", "{variant}: {o}");
        }
        if o.ok() {
            let (master, _) = sock.recv(t);
            env.start(&id).assert_ok();
            read_until(&master, "REPORTED", t);
            let r: Value =
                serde_json::from_str(&fs::read_to_string(b.shared_file("r.json")).unwrap())
                    .unwrap();
            let st: Value =
                serde_json::from_str(&fs::read_to_string(b.shared_file("st.json")).unwrap())
                    .unwrap();
            let console = &r["devices"]["/dev/console"];
            assert_eq!(
                (console["type"].as_str(), console["major"].as_u64()),
                (Some("c"), Some(136)),
                "{variant}: /dev/console is not the pty: {r}"
            );
            let tty = r["tty"].as_str().unwrap_or("");
            assert_eq!(
                console["minor"].as_u64(),
                tty.trim_start_matches("/dev/pts/").parse::<u64>().ok(),
                "{variant}: /dev/console is another pty than stdin: {r}"
            );
            assert_eq!(
                st["/etc/target"]["type"], "f",
                "{variant}: the pty was bound over the symlink's target: {st}"
            );
            assert!(
                mount_at(&r, "/etc/target").is_none(),
                "{variant}: a mount on /etc/target: {r}"
            );
            let _ = (&master).write_all(b"");
            env.wait_status(&id, "stopped", t);
            env.delete(&id).assert_ok();
        } else {
            // Refusing is safe too, if it says why.
            o.assert_err_mentions(&["/dev/console", "ptmx"]);
        }
        assert_eq!(
            fs::read_to_string(b.rootfs.join("etc/target")).unwrap(),
            "precious\n",
            "{variant}: the symlink target in the image was written: {o}"
        );
        assert_eq!(
            fs::read_to_string(&host_file).unwrap(),
            "host\n",
            "{variant}: the host file was written: {o}"
        );
        assert!(mounts_under(env.base()).is_empty() || !host_mounted(&host_file));
        env.assert_nothing_left(&id, &b);
    }
}

/// Whether `p` is a mount point in the host's mount namespace.
fn host_mounted(p: &std::path::Path) -> bool {
    mounts_under(p).iter().any(|m| std::path::Path::new(m) == p)
}

// ---------------------------------------------------------------------------------------------
// User namespaces: /proc/PID/setgroups
// ---------------------------------------------------------------------------------------------

// user_namespaces(7) / runc: "deny" in /proc/PID/setgroups is required only when the gid_map is
// written without CAP_SETGID (a rootless runtime; hako writes it then, see
// `namespaces::must_deny_setgroups`). hako as the host's root leaves it "allow", as runc does:
// the container's root can set groups, but only ones inside its gid map. Inside: setgroups
// reads "allow", additionalGids are applied, `su user` (initgroups -> setgroups) works, and
// `su nobody`, whose groups include gid 70000 outside the map, fails (EINVAL): the container
// cannot give itself a host group. Host: the init's setgroups is "allow" and its groups are
// the mapped host gids.
// Can fail: with "deny" written (checked by making hako write it unconditionally) the
// additionalGids setgroups fails at start and su fails; a runtime that mapped gids it was not
// given would let `su nobody` succeed.
#[test]
fn user_namespace_setgroups() {
    let env = TestEnv::new("setgroups");
    let caps = json!(["CAP_SETGID", "CAP_SETUID", "CAP_KILL"]);
    let with = |s: &mut Value| {
        with_userns(s);
        s["process"]["user"] = json!({"uid": 0, "gid": 0, "additionalGids": [5, 100]});
        for k in ["bounding", "effective", "permitted"] {
            s["process"]["capabilities"][k] = caps.clone();
        }
        s["process"]["capabilities"]["ambient"] = json!([]);
        // Bind-mount sources owned by host root look like nobody in the namespace.
        s["mounts"] = json!(s["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] != "/shared" && m["destination"] != "/sys/fs/cgroup")
            .cloned()
            .collect::<Vec<_>>());
    };
    let b = env.bundle_with(|s, _| {
        with(s);
        set_args(
            s,
            &[
                "sh",
                "-c",
                "echo setgroups=$(cat /proc/self/setgroups); grep '^Groups:' /proc/self/status; \
                 su -s /bin/sh user -c 'echo user-groups=$(id -G)'; echo su-user=$?; \
                 su -s /bin/sh nobody -c 'echo nobody-ran' 2>&1; echo su-nobody=$?",
            ],
        );
    });
    std::os::unix::fs::symlink("busybox", b.rootfs.join("bin/su")).unwrap();
    fs::write(
        b.rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\nfar:x:70000:nobody\n",
    )
    .unwrap();
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    assert!(o.stdout.contains("setgroups=allow"), "{o}");
    assert!(o.stdout.contains("Groups:\t5 100"), "additionalGids: {o}");
    assert!(o.stdout.contains("user-groups=1000"), "{o}");
    assert!(o.stdout.contains("su-user=0"), "{o}");
    assert!(
        !o.stdout.contains("nobody-ran") && !o.stdout.contains("su-nobody=0"),
        "a gid outside the map was set: {o}"
    );
    assert!(o.stdout.contains("Invalid argument"), "{o}");
    env.assert_nothing_left(&id, &b);

    // From the host.
    let b = env.bundle_with(|s, _| {
        with(s);
        set_args(s, &["sleep", "100"]);
    });
    let id = env.id();
    env.create_start(&b, &id);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/setgroups"))
            .unwrap()
            .trim(),
        "allow"
    );
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l == "Groups:\t100005 100100 " || l.trim_end() == "Groups:\t100005 100100"),
        "{status}"
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// CVE-2019-16884: a volume over /proc fakes /proc/self/attr so the LSM label is never applied.
// There is no LSM on this host, so a config asking for one (process.apparmorProfile,
// process.selinuxLabel, linux.mountLabel) must fail with an error naming the field — never run
// the container unconfined — leave nothing behind, and not write the fake attr files. Also
// `exec --apparmor` / `--process-label`.
// Can fail: without hako's check the container runs unconfined (marker file, success) or
// fails for another reason (the fake /proc) with an error that does not name the field. (runc
// also fails here, but on the /proc bind, so only hako's errors are checked for the field.)
#[test]
fn lsm_fields_without_lsm_are_errors() {
    let env = TestEnv::new("lsm");
    let fake = env.base().join("fakeproc");
    fs::create_dir_all(fake.join("self/attr")).unwrap();
    for f in ["current", "exec"] {
        fs::write(fake.join("self/attr").join(f), "fake\n").unwrap();
    }
    type SetField = fn(&mut Value);
    let cases: [(&str, SetField); 3] = [
        ("process.apparmorProfile", |s| {
            s["process"]["apparmorProfile"] = json!("hako-test")
        }),
        ("process.selinuxLabel", |s| {
            s["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")
        }),
        ("linux.mountLabel", |s| {
            s["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0")
        }),
    ];
    for (field, set) in cases {
        let b = env.bundle_with(|s, _| {
            push_mount(
                s,
                json!({"destination": "/proc", "type": "bind",
                       "source": fake.to_str().unwrap(), "options": ["rbind"]}),
            );
            s["linux"]["maskedPaths"] = json!([]);
            s["linux"]["readonlyPaths"] = json!([]);
            set(s);
            set_args(s, &["sh", "-c", "echo > /shared/ran"]);
        });
        let id = env.id();
        let o = env.run(&b, &id);
        assert!(
            !b.shared_file("ran").exists(),
            "{field}: the program ran without its LSM label: {o}"
        );
        o.assert_err();
        if is_hako() {
            assert!(
                o.stderr.contains(field),
                "the error does not name {field}: {o}"
            );
        }
        for f in ["current", "exec"] {
            assert_eq!(
                fs::read_to_string(fake.join("self/attr").join(f)).unwrap(),
                "fake\n",
                "{field}: {o}"
            );
        }
        env.assert_nothing_left(&id, &b);
    }
    // exec: the same fields through the command line.
    let b = env.bundle(&["sleep", "100"]);
    let id = env.id();
    env.create_start(&b, &id);
    for (flag, field) in [
        ("--apparmor", "apparmorProfile"),
        ("--process-label", "selinuxLabel"),
    ] {
        let o = env.cmd(&["exec", flag, "x", &id, "sh", "-c", "echo > /shared/ran"]);
        assert!(!b.shared_file("ran").exists(), "{flag}: {o}");
        o.assert_err();
        if is_hako() {
            assert!(
                o.stderr.contains(field),
                "the error does not name {field}: {o}"
            );
        }
    }
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}
