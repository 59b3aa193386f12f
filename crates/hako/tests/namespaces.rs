//! Namespaces beyond the defaults: user namespaces with id mappings, time namespaces with
//! offsets, and joining namespaces by path (config-linux.md "Namespaces", "User namespace
//! mappings", "Offset for Time Namespace").
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test namespaces`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// "Uid:" / "Gid:" line of /proc/PID/status on the host: [real, effective, saved, fs].
fn host_ids(pid: i64, key: &str) -> Vec<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

// config-linux.md "Namespaces" (user) + "User namespace mappings": the process is root inside,
// the maps are exactly the configured ones, and on the host it runs as hostID. runtime-linux.md
// / config-linux.md: the user namespace is new (its inode differs from the host's).
#[test]
fn user_namespace_root_maps_to_host_id() {
    let env = TestEnv::new("userns");
    let b = env.bundle_with(|s, _| {
        with_userns(s);
        set_args(
            s,
            &[
                "sh",
                "-c",
                "/checker > /shared/report.json; cat /proc/self/uid_map > /shared/uid_map; \
                 cat /proc/self/gid_map > /shared/gid_map; touch /shared/done; \
                 exec /checker wait-file /shared/go",
            ],
        );
    });
    let id = env.id();
    env.create_start(&b, &id);
    wait_file(&b.shared_file("done"), T);
    let pid = env.state(&id)["pid"].as_i64().unwrap();

    let r: Value = serde_json::from_str(&fs::read_to_string(b.shared_file("report.json")).unwrap())
        .expect("checker report");
    for k in ["real", "effective", "saved", "fs"] {
        assert_eq!(r["ids"]["uid"][k], 0, "uid {k}: {}", r["ids"]);
        assert_eq!(r["ids"]["gid"][k], 0, "gid {k}: {}", r["ids"]);
    }
    for f in ["uid_map", "gid_map"] {
        let m = fs::read_to_string(b.shared_file(f)).unwrap();
        let fields: Vec<&str> = m.split_whitespace().collect();
        assert_eq!(fields, ["0", "100000", "65536"], "{f}: {m:?}");
    }
    assert_ne!(
        r["namespaces"]["user"],
        ns_of("self", "user"),
        "user namespace not new"
    );
    assert_eq!(r["namespaces"]["user"], ns_of(&pid.to_string(), "user"));
    // From the host: the init (now `checker wait-file`) runs as 100000.
    assert_eq!(host_ids(pid, "Uid"), vec![100000; 4]);
    assert_eq!(host_ids(pid, "Gid"), vec![100000; 4]);
    // A file the container created in the bind-mounted dir belongs to the host id.
    let md = fs::metadata(b.shared_file("done")).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&md),
            std::os::unix::fs::MetadataExt::gid(&md)
        ),
        (100000, 100000)
    );

    fs::write(b.shared_file("go"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// config.md "User" inside a user namespace (config-linux.md "User namespace mappings"): uid 1000
// in the container is hostID + 1000 on the host.
#[test]
fn user_namespace_non_root_user() {
    let env = TestEnv::new("usernsuser");
    let b = env.bundle_with(|s, _| {
        with_userns(s);
        s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        set_args(
            s,
            &[
                "sh",
                "-c",
                "/checker > /shared/report.json; touch /shared/done; \
                 exec /checker wait-file /shared/go",
            ],
        );
    });
    let id = env.id();
    env.create_start(&b, &id);
    wait_file(&b.shared_file("done"), T);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let r: Value =
        serde_json::from_str(&fs::read_to_string(b.shared_file("report.json")).unwrap()).unwrap();
    for k in ["real", "effective", "saved", "fs"] {
        assert_eq!(r["ids"]["uid"][k], 1000, "uid {k}: {}", r["ids"]);
        assert_eq!(r["ids"]["gid"][k], 1000, "gid {k}: {}", r["ids"]);
    }
    assert_eq!(host_ids(pid, "Uid"), vec![101000; 4]);
    assert_eq!(host_ids(pid, "Gid"), vec![101000; 4]);
    fs::write(b.shared_file("go"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

fn host_clock(clk: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the local struct.
    assert_eq!(unsafe { libc::clock_gettime(clk, &mut ts) }, 0);
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

// config-linux.md "Namespaces" (time) + "Offset for Time Namespace" (linux.timeOffsets):
// boottime +10 days shows in /proc/uptime and CLOCK_BOOTTIME, monotonic +1 day in
// CLOCK_MONOTONIC; the time namespace is new.
#[test]
fn time_namespace_offsets() {
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("no time namespaces on this kernel; skipped");
        return;
    }
    if runtime_name() == "runc" {
        // DIFFERS: runc 1.1 predates time namespaces (runc 1.2 added them) and rejects
        // {"type": "time"} as an unknown namespace.
        eprintln!("runc 1.1 has no time namespace support; skipped");
        return;
    }
    const BOOT: f64 = 864000.0; // 10 days
    const MONO: f64 = 86400.0; // 1 day
    let env = TestEnv::new("timens");
    let b = env.bundle_with(|s, _| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        s["linux"]["timeOffsets"] = json!({
            "boottime": {"secs": BOOT as i64, "nanosecs": 0},
            "monotonic": {"secs": MONO as i64, "nanosecs": 0},
        });
    });
    let host_uptime = |_: ()| -> f64 {
        fs::read_to_string("/proc/uptime")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (up0, boot0, mono0) = (
        host_uptime(()),
        host_clock(libc::CLOCK_BOOTTIME),
        host_clock(libc::CLOCK_MONOTONIC),
    );
    let r = env.run_checker(&b);
    let (up1, boot1, mono1) = (
        host_uptime(()),
        host_clock(libc::CLOCK_BOOTTIME),
        host_clock(libc::CLOCK_MONOTONIC),
    );
    assert_ne!(
        r["namespaces"]["time"],
        ns_of("self", "time"),
        "time ns not new"
    );
    let c = &r["clocks"];
    let up = c["uptime"].as_f64().unwrap_or_else(|| panic!("{c}"));
    let boot = c["boottime"].as_f64().unwrap_or_else(|| panic!("{c}"));
    let mono = c["monotonic"].as_f64().unwrap_or_else(|| panic!("{c}"));
    // Inside = host + offset, measured between the two host readings (1 s slack for
    // /proc/uptime's 10 ms rounding).
    assert!(
        up >= up0 + BOOT - 1.0 && up <= up1 + BOOT + 1.0,
        "uptime {up} vs host {up0}..{up1}"
    );
    assert!(
        boot >= boot0 + BOOT && boot <= boot1 + BOOT,
        "boottime {boot} vs host {boot0}..{boot1}"
    );
    assert!(
        mono >= mono0 + MONO && mono <= mono1 + MONO,
        "monotonic {mono} vs host {mono0}..{mono1}"
    );
}

/// A fresh named network namespace (`ip netns add`, deleted at drop); None if `ip` is missing.
fn named_netns(env: &TestEnv) -> Option<String> {
    let name = format!("hk{}", env.id());
    let ok = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return None;
    }
    env.on_drop(&["ip", "netns", "delete", &name]);
    Some(format!("/var/run/netns/{name}"))
}

// config-linux.md "Namespaces": several namespaces joined by path in one container — a named
// network namespace (`ip netns add`) and the pid namespace of another container's init
// (/proc/PID/ns/pid). The new process sees the other container's processes.
#[test]
fn join_net_by_name_and_pid_of_other_container() {
    let env = TestEnv::new("joinpid");
    let ha = env.bundle(&["/checker", "sleep", "3600"]);
    let hid = env.id();
    env.create_start(&ha, &hid);
    let hpid = env.state(&hid)["pid"].as_i64().unwrap().to_string();
    let netns = named_netns(&env);

    let b = env.bundle_with(|s, _| {
        for n in s["linux"]["namespaces"].as_array_mut().unwrap() {
            match n["type"].as_str().unwrap() {
                "pid" => n["path"] = format!("/proc/{hpid}/ns/pid").into(),
                "network" => {
                    if let Some(p) = &netns {
                        n["path"] = p.clone().into();
                    }
                }
                _ => {}
            }
        }
        set_args(
            s,
            &[
                "sh",
                "-c",
                "/checker > /shared/report.json && cat /proc/1/cmdline > /shared/pid1 && \
                 ps -o pid,args > /shared/ps",
            ],
        );
    });
    let id = env.id();
    let out = env.run(&b, &id);
    out.assert_ok();
    let r: Value =
        serde_json::from_str(&fs::read_to_string(b.shared_file("report.json")).unwrap()).unwrap();
    assert_eq!(r["namespaces"]["pid"], ns_of(&hpid, "pid"));
    assert_ne!(r["pid"], 1, "joined a pid namespace: not its init");
    assert_eq!(
        fs::read_to_string(b.shared_file("pid1")).unwrap(),
        "/checker\0sleep\u{0}3600\0",
        "pid 1 of the joined namespace is the other container's init"
    );
    let ps = fs::read_to_string(b.shared_file("ps")).unwrap();
    assert!(ps.contains("/checker sleep 3600"), "{ps}");
    if let Some(p) = &netns {
        let ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
        assert_eq!(r["namespaces"]["net"], format!("net:[{ino}]"));
    } else {
        eprintln!("`ip netns add` unavailable; only the pid namespace was joined");
    }
    env.assert_nothing_left(&id, &b);
    // runtime.md "Delete": resources not created by the container MUST NOT be deleted — the
    // named netns it joined survives it.
    if let Some(p) = &netns {
        assert!(std::path::Path::new(p).exists(), "{p} was removed");
        let c = std::ffi::CString::new(p.as_str()).unwrap();
        // SAFETY: statfs into a zeroed local struct.
        let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut sf) }, 0);
        assert_eq!(
            sf.f_type as i64, 0x6e73_6673,
            "{p} is no longer an nsfs mount"
        );
    }
    // The other container is untouched.
    assert_eq!(env.status(&hid), "running");
    env.delete_force(&hid).assert_ok();
    env.assert_nothing_left(&hid, &ha);
}
