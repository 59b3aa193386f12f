//! Root tests on real cgroups. v1 tests skip themselves on a v2 host and vice versa; run the v2
//! ones in the guest (/work/shared/vm/run-in-v2-vm.sh 'TESTBINARY cgroups::tests' DIR).
use super::*;
use oci_spec::runtime::LinuxResources;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn skip(want: Mode) -> bool {
    if !root() || detect() != want {
        eprintln!("skipped: needs root on a {want:?} host");
        return true;
    }
    false
}

/// A test cgroup, removed (after killing what is left in it) even when the test fails.
struct Guard(Placement);

impl Guard {
    fn new(name: &str) -> Guard {
        let rel = PathBuf::from(format!("/hako-test-{}-{name}", std::process::id()));
        Guard(prepare(Some(&rel), name).expect("prepare"))
    }
    fn file(&self, name: &str) -> String {
        for d in &self.0.paths {
            if let Ok(s) = std::fs::read_to_string(d.join(name)) {
                return s.trim().to_string();
            }
        }
        panic!("{name} not found in {:?}", self.0.paths)
    }
    /// Run `sh -c script` as a child that joins the cgroup before exec.
    fn run(&self, script: &str) -> (std::process::ExitStatus, String) {
        let procs: Vec<std::ffi::CString> = self
            .0
            .paths
            .iter()
            .map(|d| {
                std::ffi::CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes())
                    .unwrap()
            })
            .collect();
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(script)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls (open/write/close) in the child.
        unsafe {
            c.pre_exec(move || {
                for p in &procs {
                    let fd = libc::open(p.as_ptr(), libc::O_WRONLY);
                    if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let out = c.output().expect("spawn");
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        thaw(&self.0.paths);
        for pid in pids(&self.0.paths) {
            // SAFETY: killing leftovers of this test's cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if let Err(e) = remove(&self.0.created) {
            eprintln!("cleanup: {e}");
        }
    }
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

#[test]
fn v1_apply_and_read_back() {
    if skip(Mode::Legacy) {
        return;
    }
    let g = Guard::new("apply");
    let huge = conv::host_hugepage_sizes().contains(&"2MB".to_string());
    let r = res(&format!(
        r#"{{"memory":{{"limit":67108864,"reservation":33554432,"swap":134217728,"swappiness":20,"kernelTCP":67108864}},
            "cpu":{{"shares":512,"quota":50000,"period":100000,"burst":1000,"cpus":"0","mems":"0","idle":0}},
            "pids":{{"limit":10}}
            {}}}"#,
        if huge {
            r#","hugepageLimits":[{"pageSize":"2MB","limit":4194304}]"#
        } else {
            ""
        }
    ));
    apply(&g.0, &r, true).expect("apply");
    assert_eq!(g.file("memory.limit_in_bytes"), "67108864");
    assert_eq!(g.file("memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(g.file("memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(g.file("memory.swappiness"), "20");
    assert_eq!(g.file("memory.kmem.tcp.limit_in_bytes"), "67108864");
    assert_eq!(g.file("cpu.shares"), "512");
    assert_eq!(g.file("cpu.cfs_quota_us"), "50000");
    assert_eq!(g.file("cpu.cfs_period_us"), "100000");
    assert_eq!(g.file("cpuset.cpus"), "0");
    assert_eq!(g.file("pids.max"), "10");
    if huge {
        // Hybrid host: hugetlb is on the cgroup2 mount.
        let f = if v1::hierarchies()
            .iter()
            .any(|h| h.controllers.iter().any(|c| c == "hugetlb"))
        {
            "hugetlb.2MB.limit_in_bytes"
        } else {
            "hugetlb.2MB.max"
        };
        assert_eq!(g.file(f), "4194304");
    }
    let list = g.file("devices.list");
    assert!(
        list.contains("c 1:3 rwm") && !list.contains("a *:* rwm"),
        "{list}"
    );
    // update: lower the limit below memsw, then raise above it (ordering).
    update(
        &g.0.paths,
        &res(r#"{"memory":{"limit":33554432,"swap":50331648}}"#),
    )
    .expect("update down");
    assert_eq!(g.file("memory.memsw.limit_in_bytes"), "50331648");
    update(
        &g.0.paths,
        &res(r#"{"memory":{"limit":268435456,"swap":536870912}}"#),
    )
    .expect("update up");
    assert_eq!(g.file("memory.limit_in_bytes"), "268435456");
    update(&g.0.paths, &res(r#"{"pids":{"limit":-1}}"#)).expect("update pids");
    assert_eq!(g.file("pids.max"), "max");
    // stats and freeze
    let s = stats_event("t", &g.0.paths);
    assert_eq!(s["type"], "stats");
    assert_eq!(s["data"]["memory"]["usage"]["limit"], 268435456u64);
    assert!(s["data"]["memory"]["raw"].is_object());
    freeze(&g.0.paths).expect("freeze");
    assert!(is_frozen(&g.0.paths));
    thaw_checked(&g.0.paths).expect("thaw");
    assert!(!is_frozen(&g.0.paths));
}

#[test]
fn v1_validation_errors() {
    if skip(Mode::Legacy) {
        return;
    }
    let g = Guard::new("valid");
    for (json, want) in [
        (r#"{"cpu":{"cpus":"0-4095"}}"#, "linux.resources.cpu.cpus"),
        (
            r#"{"unified":{"memory.max":"1"}}"#,
            "linux.resources.unified[\"memory.max\"]",
        ),
        (r#"{"memory":{"limit":-5}}"#, "linux.resources.memory.limit"),
        (
            r#"{"memory":{"limit":2000000,"swap":1000000}}"#,
            "linux.resources.memory.swap",
        ),
        (r#"{"pids":{"limit":-2}}"#, "linux.resources.pids.limit"),
        (
            r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#,
            "pageSize",
        ),
        (
            r#"{"network":{"classID":1}}"#,
            "linux.resources.network.classID",
        ),
    ] {
        let e = apply(&g.0, &res(json), true).expect_err(json);
        assert!(e.message().contains(want), "{json}: {e}");
    }
    // Nothing written: the limit is still the default.
    assert_ne!(g.file("memory.limit_in_bytes"), "2000000");
}

#[test]
fn v1_enforcement() {
    if skip(Mode::Legacy) {
        return;
    }
    let g = Guard::new("enforce");
    apply(
        &g.0,
        &res(r#"{"pids":{"limit":5},"memory":{"limit":33554432,"swap":33554432}}"#),
        true,
    )
    .expect("apply");
    let (st, err) = g.run("for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait");
    let events = g.file("pids.events");
    assert!(
        events.contains("max") && !events.ends_with(" 0"),
        "pids.events: {events} ({st:?} {err})"
    );
    let before = oom_count(&g.0.paths);
    let (st, err) = g.run("exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL), "dd: {st:?} {err}");
    assert!(oom_count(&g.0.paths) > before);
    // A small allocation works.
    let (st, _) = g.run("exec dd if=/dev/zero of=/dev/null bs=1M count=1");
    assert!(st.success());
    // Devices: /dev/null usable, /dev/kmsg (not allowed) is not.
    let (st, err) = g.run("echo x > /dev/null && ! head -c0 < /dev/kmsg");
    assert!(st.success(), "{err}");
}

#[test]
fn v1_oom_watcher() {
    if skip(Mode::Legacy) {
        return;
    }
    let g = Guard::new("oomw");
    apply(
        &g.0,
        &res(r#"{"memory":{"limit":33554432,"swap":33554432}}"#),
        true,
    )
    .expect("apply");
    let mut w = OomWatcher::new(&g.0.paths).expect("watch");
    assert_eq!(
        w.wait(Some(std::time::Duration::from_millis(50))).unwrap(),
        stats::OomEvent::Timeout
    );
    g.run("exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    assert_eq!(
        w.wait(Some(std::time::Duration::from_secs(5))).unwrap(),
        stats::OomEvent::Oom
    );
}

#[test]
fn v2_apply_and_read_back() {
    if skip(Mode::Unified) {
        return;
    }
    let g = Guard::new("apply");
    let huge = conv::host_hugepage_sizes().contains(&"2MB".to_string());
    let r = res(&format!(
        r#"{{"memory":{{"limit":67108864,"reservation":33554432,"swap":134217728}},
            "cpu":{{"shares":1024,"quota":50000,"period":100000,"burst":1000,"cpus":"0","mems":"0","idle":0}},
            "pids":{{"limit":10}},
            "unified":{{"memory.high":"60000000"}}
            {}}}"#,
        if huge {
            r#","hugepageLimits":[{"pageSize":"2MB","limit":4194304}]"#
        } else {
            ""
        }
    ));
    apply(&g.0, &r, true).expect("apply");
    assert_eq!(g.file("memory.max"), "67108864");
    assert_eq!(g.file("memory.low"), "33554432");
    assert_eq!(g.file("memory.swap.max"), "67108864");
    assert_eq!(g.file("memory.high"), "59998208"); // page-aligned by the kernel
    assert_eq!(g.file("cpu.weight"), "39");
    assert_eq!(g.file("cpu.max"), "50000 100000");
    assert_eq!(g.file("cpu.max.burst"), "1000");
    assert_eq!(g.file("cpuset.cpus"), "0");
    assert_eq!(g.file("pids.max"), "10");
    if huge {
        assert_eq!(g.file("hugetlb.2MB.max"), "4194304");
    }
    let dir = g.0.paths[0].clone();
    let cg = std::fs::File::open(&dir).unwrap();
    use std::os::fd::AsRawFd;
    assert_eq!(devices_bpf::attached(cg.as_raw_fd()).unwrap().len(), 1);
    update(
        &g.0.paths,
        &res(r#"{"pids":{"limit":-1},"cpu":{"quota":-1},"devices":[]}"#),
    )
    .expect("update");
    assert_eq!(g.file("pids.max"), "max");
    assert_eq!(g.file("cpu.max"), "max 100000");
    // The old device program was replaced, not stacked.
    assert_eq!(devices_bpf::attached(cg.as_raw_fd()).unwrap().len(), 1);
    let e = update(
        &g.0.paths,
        &res(r#"{"memory":{"limit":1,"checkBeforeUpdate":true}}"#),
    );
    assert!(e.is_ok() || e.unwrap_err().message().contains("checkBeforeUpdate"));
    let e = apply(&g.0, &res(r#"{"cpu":{"cpus":"0-4095"}}"#), true).unwrap_err();
    assert!(e.message().contains("linux.resources.cpu.cpus"), "{e}");
    let e = apply(
        &g.0,
        &res(r#"{"unified":{"memory.nonexistent":"1"}}"#),
        true,
    )
    .unwrap_err();
    assert!(e.message().contains("memory.nonexistent"), "{e}");
    let s = stats_event("t", &g.0.paths);
    assert_eq!(s["data"]["pids"]["current"], serde_json::Value::Null);
    assert!(s["data"]["memory"]["raw"].is_object(), "{s}");
    freeze(&g.0.paths).expect("freeze");
    assert!(is_frozen(&g.0.paths));
    thaw_checked(&g.0.paths).expect("thaw");
}

#[test]
fn v2_enforcement() {
    if skip(Mode::Unified) {
        return;
    }
    let g = Guard::new("enforce");
    apply(
        &g.0,
        &res(r#"{"pids":{"limit":5},"memory":{"limit":33554432,"swap":33554432}}"#),
        true,
    )
    .expect("apply");
    let (st, err) = g.run("for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait");
    let events = g.file("pids.events");
    assert!(
        !events.ends_with(" 0"),
        "pids.events: {events} ({st:?} {err})"
    );
    let mut w = OomWatcher::new(&g.0.paths).expect("watch");
    let (st, err) = g.run("exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL), "dd: {st:?} {err}");
    assert!(oom_count(&g.0.paths) >= 1);
    assert_eq!(
        w.wait(Some(std::time::Duration::from_secs(5))).unwrap(),
        stats::OomEvent::Oom
    );
    // Default device rules: /dev/null yes, /dev/kmsg no.
    let (st, err) = g.run("echo x > /dev/null && ! head -c0 < /dev/kmsg");
    assert!(st.success(), "{err}");
}

#[test]
fn v2_device_filter() {
    if skip(Mode::Unified) {
        return;
    }
    let g = Guard::new("devs");
    apply(&g.0, &res("{}"), true).expect("apply");
    let dir = g.0.paths[0].clone();
    let mut deny = oci_spec::runtime::LinuxDeviceCgroup::default();
    deny.set_access(Some("rwm".into()));
    devices_bpf::attach(&dir, std::slice::from_ref(&deny)).expect("attach deny");
    let (st, err) = g.run("echo x > /dev/null");
    assert!(!st.success() && err.contains("ermitted"), "{st:?} {err}");
    let mut allow = oci_spec::runtime::LinuxDeviceCgroup::default();
    allow.set_allow(true);
    allow.set_typ(Some(oci_spec::runtime::LinuxDeviceType::C));
    allow.set_major(Some(1));
    allow.set_minor(Some(3));
    allow.set_access(Some("rw".into()));
    devices_bpf::attach(&dir, &[deny, allow]).expect("attach allow");
    let (st, err) = g.run("echo x > /dev/null");
    assert!(st.success(), "{err}");
    let (st, _) = g.run("head -c1 /dev/zero > /dev/null");
    assert!(!st.success());
}
