//! What the container process sees (config.md / config-linux.md fields applied), via the
//! checker binary's JSON report. runtime.md "Lifecycle" step 2: the environment MUST be created
//! according to config.json.

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeSet;

fn host_ns(ns: &str) -> String {
    ns_of("self", ns)
}

// config-linux.md "Namespaces": a namespace without path is created new; unlisted ones are
// inherited from the runtime.
#[test]
fn new_namespaces_differ_from_host() {
    let env = TestEnv::new("newns");
    let b = env.bundle(&["/checker"]);
    let r = env.run_checker(&b);
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_ne!(r["namespaces"][ns], host_ns(ns), "{ns} namespace not new");
    }
    for ns in ["user", "time"] {
        assert_eq!(
            r["namespaces"][ns],
            host_ns(ns),
            "{ns} namespace should be the host's"
        );
    }
    assert_eq!(r["pid"], 1, "process is the pid-namespace init");
    assert_eq!(r["ppid"], 0);
}

// config-linux.md "Namespaces": path = join that namespace.
#[test]
fn join_namespaces_by_path() {
    let env = TestEnv::new("joinns");
    // A holder container whose namespaces we join.
    let ha = env.bundle(&["/checker", "sleep", "3600"]);
    let hid = env.id();
    env.create_start(&ha, &hid);
    let hpid = env.state(&hid)["pid"].as_i64().unwrap().to_string();

    // And a named netns made with `ip netns add` (removed at drop).
    let netns = format!(
        "hkns-{}-{}",
        std::process::id(),
        env.base().display().to_string().len()
    );
    let have_ip = std::process::Command::new("ip")
        .args(["netns", "add", &netns])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if have_ip {
        env.on_drop(&["ip", "netns", "delete", &netns]);
    }

    let b = env.bundle_with(|s, _| {
        for n in s["linux"]["namespaces"].as_array_mut().unwrap() {
            match n["type"].as_str().unwrap() {
                "ipc" => n["path"] = format!("/proc/{hpid}/ns/ipc").into(),
                "uts" => n["path"] = format!("/proc/{hpid}/ns/uts").into(),
                "network" => n["path"] = format!("/proc/{hpid}/ns/net").into(),
                _ => {}
            }
        }
        // joining a uts namespace: hostname must not be set (runc refuses it)
        s.as_object_mut().unwrap().remove("hostname");
    });
    let r = env.run_checker(&b);
    assert_eq!(r["namespaces"]["net"], ns_of(&hpid, "net"));
    assert_eq!(r["namespaces"]["ipc"], ns_of(&hpid, "ipc"));
    assert_eq!(r["namespaces"]["uts"], ns_of(&hpid, "uts"));
    assert_ne!(r["namespaces"]["pid"], ns_of(&hpid, "pid"));
    assert_ne!(r["namespaces"]["mnt"], ns_of(&hpid, "mnt"));

    if have_ip {
        let path = format!("/var/run/netns/{netns}");
        let want = std::fs::read_link("/proc/self/ns/net").unwrap();
        let b2 = env.bundle_with(|s, _| {
            for n in s["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == "network" {
                    n["path"] = path.clone().into();
                }
            }
        });
        let r = env.run_checker(&b2);
        let got = r["namespaces"]["net"].as_str().unwrap().to_string();
        assert_ne!(got, want.display().to_string());
        // the inode of the bind-mounted nsfs file is the namespace id
        let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
        assert_eq!(got, format!("net:[{ino}]"));
    } else {
        eprintln!("`ip netns add` unavailable; skipped the named-netns part");
    }
    env.delete_force(&hid).assert_ok();
    env.assert_nothing_left(&hid, &ha);
}

// config.md "Mounts" + config-linux.md "Masked Paths", "Readonly Paths"; config.md "Root".
#[test]
fn default_mounts_present() {
    let env = TestEnv::new("mounts");
    let b = env.bundle(&["/checker"]);
    let r = env.run_checker(&b);
    for (mp, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = mount_at(&r, mp).unwrap_or_else(|| panic!("no mount at {mp}: {}", r["mounts"]));
        assert_eq!(m["fstype"], fstype, "{m}");
    }
    // /sys/fs/cgroup: cgroup v1 (per-controller mounts, maybe under a tmpfs) or cgroup2
    let ms = r["mounts"].as_array().unwrap();
    assert!(
        ms.iter().any(|m| m["mountpoint"]
            .as_str()
            .unwrap()
            .starts_with("/sys/fs/cgroup")
            && m["fstype"].as_str().unwrap().starts_with("cgroup")),
        "no cgroup mount: {}",
        r["mounts"]
    );
    let shm = mount_at(&r, "/dev/shm").unwrap();
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(mount_has_opt(shm, o), "/dev/shm lacks {o}: {shm}");
    }
    assert!(mount_has_opt(mount_at(&r, "/sys").unwrap(), "ro"));
    // root.readonly = true
    assert!(
        mount_has_opt(mount_at(&r, "/").unwrap(), "ro"),
        "rootfs not ro"
    );
    // readonlyPaths
    let sys = mount_at(&r, "/proc/sys").expect("/proc/sys mount");
    assert!(mount_has_opt(sys, "ro"), "{sys}");
    // our bind mount
    let sh = mount_at(&r, "/shared").expect("/shared bind mount");
    assert!(mount_has_opt(sh, "rw"), "{sh}");
}

// config-linux.md "Masked Paths": masked files read as /dev/null.
#[test]
fn masked_paths_are_masked() {
    let env = TestEnv::new("masked");
    let b = env.bundle(&[
        "/checker",
        "stat",
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
    ]);
    let id = env.id();
    let out = env.run(&b, &id);
    out.assert_ok();
    let v = out.json();
    for p in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] {
        let s = &v[p];
        if s.get("error").is_some() {
            continue; // not present on this kernel
        }
        assert_eq!(s["type"], "c", "{p}: {s}");
        assert_eq!(
            (s["major"].as_u64(), s["minor"].as_u64()),
            (Some(1), Some(3)),
            "{p}: {s}"
        );
    }
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Default Devices" and "Devices"/"/dev symbolic links" (runtime-linux.md).
#[test]
fn default_devices_and_dev_symlinks() {
    let env = TestEnv::new("devices");
    let b = env.bundle(&["/checker"]);
    let r = env.run_checker(&b);
    for (d, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let s = &r["devices"][d];
        assert_eq!(s["type"], "c", "{d}: {s}");
        assert_eq!(s["major"], maj, "{d}: {s}");
        assert_eq!(s["minor"], min, "{d}: {s}");
    }
    assert_eq!(r["devices"]["/dev/ptmx"]["type"], "l");
    let links = &r["dev_links"];
    assert_eq!(links["/dev/ptmx"], "pts/ptmx");
    assert_eq!(links["/dev/fd"], "/proc/self/fd");
    assert_eq!(links["/dev/stdin"], "/proc/self/fd/0");
    assert_eq!(links["/dev/stdout"], "/proc/self/fd/1");
    assert_eq!(links["/dev/stderr"], "/proc/self/fd/2");
}

// config.md "Hostname", "Domainname".
#[test]
fn hostname_and_domainname() {
    let env = TestEnv::new("hostname");
    let b = env.bundle_with(|s, _| {
        s["hostname"] = "hk-host".into();
        s["domainname"] = "hk.example".into();
    });
    let r = env.run_checker(&b);
    assert_eq!(r["hostname"], "hk-host");
    // DIFFERS: runc 1.1 (the reference here) predates `domainname` and ignores it.
    if runtime_name() != "runc" {
        assert_eq!(r["domainname"], "hk.example");
    }
}

// config.md "User" (uid, gid, additionalGids, umask).
#[test]
fn user_ids_groups_umask() {
    let env = TestEnv::new("user");
    let b = env.bundle_with(|s, _| {
        s["process"]["user"] =
            json!({"uid": 1000, "gid": 1001, "additionalGids": [20, 10], "umask": 0o027});
    });
    let r = env.run_checker(&b);
    let ids = &r["ids"];
    for k in ["real", "effective", "saved", "fs"] {
        assert_eq!(ids["uid"][k], 1000, "uid {k}: {ids}");
        assert_eq!(ids["gid"][k], 1001, "gid {k}: {ids}");
    }
    let mut g: Vec<u64> = ids["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    g.sort();
    assert_eq!(g, vec![10, 20], "{ids}");
    assert_eq!(r["umask"], "0027");
}

// config.md "User": root with no additionalGids has no supplementary groups.
#[test]
fn root_user_defaults() {
    let env = TestEnv::new("rootuser");
    let b = env.bundle(&["/checker"]);
    let r = env.run_checker(&b);
    assert_eq!(r["ids"]["uid"]["effective"], 0);
    assert_eq!(r["ids"]["gid"]["effective"], 0);
    assert_eq!(r["ids"]["groups"], json!([]));
}

// config.md "Process" capabilities — as root, after execve: permitted' = bounding | inheritable,
// so a config with permitted == effective == bounding and ambient ⊆ inheritable is seen exactly.
#[test]
fn capabilities_root_exact() {
    let env = TestEnv::new("capsroot");
    let full = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETPCAP",
    ];
    let b = env.bundle_with(|s, _| {
        s["process"]["capabilities"] = json!({
            "bounding": full, "permitted": full, "effective": full,
            "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"],
        });
    });
    let r = env.run_checker(&b);
    let c = &r["caps"];
    assert_eq!(c["CapBnd"], cap_mask(&full), "{c}");
    assert_eq!(c["CapPrm"], cap_mask(&full), "{c}");
    assert_eq!(c["CapEff"], cap_mask(&full), "{c}");
    assert_eq!(c["CapInh"], cap_mask(&["CAP_KILL"]), "{c}");
    assert_eq!(c["CapAmb"], cap_mask(&["CAP_KILL"]), "{c}");
}

// config.md "Process" capabilities — the default spec (no inheritable): ambient cannot be raised
// without inheritable, so CapAmb is empty; the other sets are the 3 defaults.
#[test]
fn capabilities_default_spec() {
    let env = TestEnv::new("capsdefault");
    let b = env.bundle(&["/checker"]);
    let r = env.run_checker(&b);
    let c = &r["caps"];
    let def = cap_mask(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(c["CapBnd"], def, "{c}");
    assert_eq!(c["CapPrm"], def, "{c}");
    assert_eq!(c["CapEff"], def, "{c}");
    assert_eq!(c["CapInh"], cap_mask(&[]), "{c}");
    assert_eq!(c["CapAmb"], cap_mask(&[]), "{c}");
}

// config.md "Process" capabilities for a non-root user: after execve only the ambient set
// survives into permitted/effective, so a config with permitted == effective == inheritable ==
// ambient is seen exactly.
#[test]
fn capabilities_nonroot_ambient() {
    let env = TestEnv::new("capsuser");
    let bnd = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let one = ["CAP_NET_BIND_SERVICE"];
    let b = env.bundle_with(|s, _| {
        s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        s["process"]["capabilities"] = json!({
            "bounding": bnd, "permitted": one, "effective": one,
            "inheritable": one, "ambient": one,
        });
    });
    let r = env.run_checker(&b);
    let c = &r["caps"];
    assert_eq!(c["CapBnd"], cap_mask(&bnd), "{c}");
    for k in ["CapPrm", "CapEff", "CapInh", "CapAmb"] {
        assert_eq!(c[k], cap_mask(&one), "{k}: {c}");
    }
}

// config.md "Process" rlimits.
#[test]
fn rlimits_applied() {
    let env = TestEnv::new("rlimits");
    let b = env.bundle_with(|s, _| {
        s["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_MSGQUEUE", "soft": 1000, "hard": 2000},
        ]);
    });
    let r = env.run_checker(&b);
    let rl = &r["rlimits"];
    assert_eq!(rl["RLIMIT_NOFILE"], json!({"soft": 512, "hard": 2048}));
    assert_eq!(rl["RLIMIT_CORE"], json!({"soft": 0, "hard": 4096}));
    assert_eq!(rl["RLIMIT_MSGQUEUE"], json!({"soft": 1000, "hard": 2000}));
}

// config.md "Process" rlimits: the default spec's NOFILE 1024.
#[test]
fn rlimits_default_nofile() {
    let env = TestEnv::new("rlimitdef");
    let r = env.run_checker(&env.bundle(&["/checker"]));
    assert_eq!(
        r["rlimits"]["RLIMIT_NOFILE"],
        json!({"soft": 1024, "hard": 1024})
    );
}

// config.md "Process" noNewPrivileges.
#[test]
fn no_new_privileges() {
    let env = TestEnv::new("nnp");
    let r = env.run_checker(&env.bundle(&["/checker"]));
    assert_eq!(r["no_new_privs"], 1);
    let b = env.bundle_with(|s, _| s["process"]["noNewPrivileges"] = false.into());
    let r = env.run_checker(&b);
    assert_eq!(r["no_new_privs"], 0);
}

// config.md "Process" env, cwd, args.
#[test]
fn env_cwd_args() {
    let env = TestEnv::new("envcwd");
    let want_env = ["PATH=/bin", "HOME=/root", "FOO=bar baz", "EMPTY=", "EQ=a=b"];
    let b = env.bundle_with(|s, _| {
        s["process"]["env"] = json!(want_env);
        s["process"]["cwd"] = "/work".into();
        set_args(s, &["/checker", "all", "extra arg"]);
    });
    let r = env.run_checker(&b);
    let got: BTreeSet<&str> = r["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, want_env.iter().copied().collect(), "{}", r["env"]);
    assert_eq!(r["cwd"], "/work");
    assert_eq!(r["argv"], json!(["/checker", "all", "extra arg"]));
}

// config.md "Process" args[0] resolved through PATH from process.env.
#[test]
fn args_resolved_via_path() {
    let env = TestEnv::new("pathlookup");
    let b = env.bundle(&["echo", "via-path"]);
    let id = env.id();
    let out = env.run(&b, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "via-path\n");
}

// config.md "Process" oomScoreAdj.
#[test]
fn oom_score_adj() {
    let env = TestEnv::new("oom");
    let b = env.bundle_with(|s, _| s["process"]["oomScoreAdj"] = 123.into());
    let r = env.run_checker(&b);
    assert_eq!(r["oom_score_adj"], 123);
}

// No file descriptors of the runtime leak into the container (only stdio).
#[test]
fn only_stdio_fds_open() {
    let env = TestEnv::new("fds");
    let r = env.run_checker(&env.bundle(&["/checker"]));
    let fds: Vec<i64> = r["fds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fd"].as_i64().unwrap())
        .collect();
    assert_eq!(fds, vec![0, 1, 2], "{}", r["fds"]);
    for s in ["stdin", "stdout", "stderr"] {
        assert_eq!(r["stdio"][s]["open"], true, "{s}");
        assert_eq!(r["stdio"][s]["isatty"], false, "{s}");
    }
}

// config.md "Mounts": a bind mount is visible and writable both ways.
#[test]
fn bind_mount_shared_dir() {
    let env = TestEnv::new("bind");
    let b = env.bundle(&["sh", "-c", "cat /shared/in > /shared/out"]);
    std::fs::write(b.shared_file("in"), "ping").unwrap();
    let id = env.id();
    env.run(&b, &id).assert_ok();
    assert_eq!(
        std::fs::read_to_string(b.shared_file("out")).unwrap(),
        "ping"
    );
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Sysctl".
#[test]
fn sysctl_applied() {
    let env = TestEnv::new("sysctl");
    let b = env.bundle_with(|s, _| {
        s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"});
        set_args(
            s,
            &[
                "/checker",
                "cat",
                "/proc/sys/net/ipv4/ip_forward",
                "/proc/sys/kernel/msgmax",
            ],
        );
    });
    let id = env.id();
    let out = env.run(&b, &id);
    out.assert_ok();
    assert_eq!(out.stdout, "1\n4096\n");
}

// The checker sees a stable view while the container is running (created via create/start):
// the pid in state is the container's init as seen from the host.
#[test]
fn state_pid_is_container_init() {
    let env = TestEnv::new("statepid");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create_start(&b, &id);
    let pid = env.state(&id)["pid"].as_i64().unwrap().to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.starts_with(b"/checker\0sleep"), "{cmdline:?}");
    // pid namespace of the process differs from ours
    assert_ne!(ns_of(&pid, "pid"), ns_of("self", "pid"));
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}
