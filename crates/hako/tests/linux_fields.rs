//! Linux-specific fields observed from inside the container (checker) and from the host:
//! config-linux.md "Network Devices" (`linux.netDevices`), config.md "Mounts" idmapped mounts
//! (`uidMappings`/`gidMappings`, `idmap`/`ridmap`), the process attributes of config.md
//! "process" (scheduler, ioPriority, execCPUAffinity, oomScoreAdj, rlimits) and
//! config-linux.md (personality, memoryPolicy, sysctl, timeOffsets), and the rejection of
//! bad values with nothing left behind.
//!
//! Network tests only use `dummy` and `veth` devices with private test addresses (10.200.0.0/16,
//! fd00:200::/64); no traffic is sent anywhere.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test linux_fields`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn push_mount(s: &mut Value, m: Value) {
    s["mounts"].as_array_mut().unwrap().push(m);
}

/// Foreground `run`; asserts success and that nothing is left; returns stdout.
fn run_ok(env: &TestEnv, b: &Bundle) -> String {
    let id = env.id();
    let out = env.run(b, &id);
    out.assert_ok();
    env.assert_nothing_left(&id, b);
    out.stdout
}

/// Foreground `run` of the checker report.
fn report(env: &TestEnv, b: &Bundle) -> Value {
    let out = run_ok(env, b);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// `create` must fail mentioning one of `words`, leaving nothing behind.
#[track_caller]
fn create_fails(env: &TestEnv, b: &Bundle, words: &[&str]) -> Out {
    let id = env.id();
    let out = env.create(b, &id);
    out.assert_err_mentions(words);
    env.assert_nothing_left(&id, b);
    out
}

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

#[track_caller]
fn sh_ok(cmd: &str, args: &[&str]) -> String {
    let o = sh(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---- linux.netDevices ---------------------------------------------------------------------

static DEV_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A host interface name unique to this test process (at most 15 bytes).
fn dev_name(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        DEV_SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

fn host_has_link(name: &str) -> bool {
    sh("ip", &["link", "show", "dev", name]).status.success()
}

/// Waits (the kernel cleans up a dead network namespace asynchronously) until `name` is gone
/// from the host.
#[track_caller]
fn wait_link_gone(name: &str) {
    let t0 = Instant::now();
    while host_has_link(name) {
        assert!(t0.elapsed() < T, "{name} still exists on the host");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ipv6_enabled() -> bool {
    Path::new("/proc/net/if_inet6").exists()
        && fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
            .map(|s| s.trim() == "0")
            .unwrap_or(false)
}

/// A virtual device on the host with 10.200.N.1/24 (and fd00:200::N/64 when IPv6 is on),
/// deleted at the end of the test if it is still there: a `dummy`, or, on a kernel without
/// the dummy driver, one end of a veth pair (the peer, `<name>p`, stays on the host).
fn dummy(env: &TestEnv, n: u8) -> String {
    let name = dev_name("hkd");
    if !sh("ip", &["link", "add", &name, "type", "dummy"])
        .status
        .success()
    {
        let peer = format!("{name}p");
        sh_ok(
            "ip",
            &["link", "add", &name, "type", "veth", "peer", "name", &peer],
        );
        env.on_drop(&["ip", "link", "del", &peer]);
    }
    env.on_drop(&["ip", "link", "del", &name]);
    sh_ok(
        "ip",
        &["addr", "add", &format!("10.200.{n}.1/24"), "dev", &name],
    );
    if ipv6_enabled() {
        sh_ok(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                &format!("fd00:200::{n}/64"),
                "dev",
                &name,
                "nodad",
            ],
        );
    }
    name
}

/// A bundle whose rootfs also has busybox's `ip` applet, running `script` in `sh -c`.
fn net_bundle(env: &TestEnv, script: &str, f: impl FnOnce(&mut Value)) -> Bundle {
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sh", "-c", script]);
        f(s);
    });
    std::os::unix::fs::symlink("busybox", b.rootfs.join("bin/ip")).unwrap();
    b
}

// config-linux.md "Network Devices": the named host device is moved into the container's
// network namespace under `name`, keeps its permanent global addresses (IPv4 and IPv6) and is
// up; on the host it is gone while the container exists. At delete hako does not move it back:
// a virtual device (dummy, or veth where the kernel has no dummy driver) is destroyed with the
// namespace.
#[test]
fn netdev_dummy_moved_renamed_with_addresses_and_up() {
    let env = TestEnv::new("netdevdummy");
    let host = dummy(&env, 7);
    let b = net_bundle(
        &env,
        "ip -o addr show dev ctr0; echo flags=$(cat /sys/class/net/ctr0/flags)",
        |s| s["linux"]["netDevices"] = json!({ host.clone(): {"name": "ctr0"} }),
    );
    let id = env.id();
    let created = env.create(&b, &id);
    created.assert_ok();
    assert!(
        !host_has_link(&host),
        "{host} still in the host namespace after create"
    );
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    let out = created.reread_stdout();
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(out.contains("inet 10.200.7.1/24"), "address lost: {out}");
    if ipv6_enabled() {
        assert!(
            out.contains("inet6 fd00:200::7/64"),
            "IPv6 address lost: {out}"
        );
    }
    let flags = out
        .lines()
        .find_map(|l| l.strip_prefix("flags="))
        .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no flags: {out}"));
    assert_eq!(flags & 1, 1, "ctr0 is not up: {out}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !host_has_link(&host),
        "the dummy came back to the host after delete"
    );
}

// A veth end moved with a `%d` template (the kernel picks the name), address kept; the peer
// stays on the host. At delete the namespace is destroyed and the veth pair with it (both
// ends), as the spec's "Namespace Lifecycle" describes.
#[test]
fn netdev_veth_template_name_and_pair_destroyed_with_namespace() {
    let env = TestEnv::new("netdevveth");
    let (a, peer) = (dev_name("hkva"), dev_name("hkvb"));
    sh_ok(
        "ip",
        &["link", "add", &a, "type", "veth", "peer", "name", &peer],
    );
    env.on_drop(&["ip", "link", "del", &a]);
    env.on_drop(&["ip", "link", "del", &peer]);
    sh_ok("ip", &["addr", "add", "10.200.8.1/24", "dev", &a]);
    let b = net_bundle(&env, "ip -o addr show; ip -o link show", |s| {
        s["linux"]["netDevices"] = json!({ a.clone(): {"name": "veth%d"} })
    });
    let id = env.id();
    let created = env.create(&b, &id);
    created.assert_ok();
    assert!(!host_has_link(&a));
    assert!(host_has_link(&peer), "the peer must stay on the host");
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    let out = created.reread_stdout();
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(
        out.lines()
            .any(|l| l.contains("veth0") && l.contains("inet 10.200.8.1/24")),
        "veth0 with its address expected: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("veth0") && l.contains("<") && l.contains(",UP")),
        "veth0 not up: {out}"
    );
    wait_link_gone(&peer);
}

// Checks before anything moves: a missing host device, a name that already exists in the
// container's namespace (without `%d`), and no network namespace of its own are errors naming
// the field; the device stays on the host with its address.
#[test]
fn netdev_errors_leave_the_device_alone() {
    let env = TestEnv::new("netdeverr");
    let host = dummy(&env, 9);
    let missing = dev_name("hkno");
    let b = net_bundle(&env, "true", |s| {
        s["linux"]["netDevices"] = json!({ missing.clone(): {} })
    });
    create_fails(&env, &b, &["netDevices"]);

    let b = net_bundle(&env, "true", |s| {
        s["linux"]["netDevices"] = json!({ host.clone(): {"name": "lo"} })
    });
    let out = create_fails(&env, &b, &["netDevices"]);
    assert!(
        out.stderr.contains("exists"),
        "expected 'already exists': {out}"
    );
    assert!(host_has_link(&host), "{host} was moved by a failed create");
    let addrs = sh_ok("ip", &["-o", "addr", "show", "dev", &host]);
    assert!(addrs.contains("10.200.9.1/24"), "address lost: {addrs}");

    let b = net_bundle(&env, "true", |s| {
        s["linux"]["netDevices"] = json!({ host.clone(): {} });
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network");
    });
    create_fails(&env, &b, &["netDevices"]);
    assert!(host_has_link(&host));
}

// ---- idmapped mounts ----------------------------------------------------------------------

/// A host directory with `own1000` (uid/gid 1000) and `own0` (root).
fn owned_dir(env: &TestEnv, name: &str) -> std::path::PathBuf {
    let d = env.base().join(name);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("own1000"), "x").unwrap();
    fs::write(d.join("own0"), "x").unwrap();
    std::os::unix::fs::chown(d.join("own1000"), Some(1000), Some(1000)).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    // The directory itself is 1000's: the kernel refuses to write into an inode whose owner
    // has no mapping in the mount (HAS_UNMAPPED_ID), so creating through the 1000 -> 0 mount
    // needs a directory owned by a mapped id.
    std::os::unix::fs::chown(&d, Some(1000), Some(1000)).unwrap();
    d
}

fn map(c: u32, h: u32, n: u32) -> Value {
    json!([{"containerID": c, "hostID": h, "size": n}])
}

fn uid_of(st: &Value, p: &str) -> u64 {
    st[p]["uid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no uid for {p}: {st}"))
}

// config.md "Mounts" uidMappings/gidMappings: an id `containerID` stored in the source file
// system is seen through the mount as `hostID` (the maps are written verbatim to the mount's
// user namespace, as runc and crun do): containerID 1000 -> hostID 0 shows the file owned by
// 1000 as root, containerID 0 -> hostID 1000 shows root's file as 1000, ids outside the ranges
// show as the overflow id 65534, and a plain bind shows the ids unchanged. A file created by
// root through the first mount is stored as 1000. Other options still apply (`ro`).
#[test]
fn idmap_mount_mappings_direction() {
    let env = TestEnv::new("idmapmaps");
    let d = owned_dir(&env, "idm");
    let src = d.to_str().unwrap().to_string();
    let b = env.bundle_with(|s, _| {
        push_mount(
            s,
            json!({"destination": "/mnt/a", "type": "bind", "source": src,
                   "options": ["bind", "idmap"],
                   "uidMappings": map(1000, 0, 1), "gidMappings": map(1000, 0, 1)}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/b", "type": "bind", "source": src,
                   "options": ["bind"]}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/c", "type": "bind", "source": src,
                   "options": ["bind", "idmap", "ro"],
                   "uidMappings": map(0, 1000, 1), "gidMappings": map(0, 1000, 1)}),
        );
        set_args(
            s,
            &[
                "sh",
                "-c",
                "/checker stat /mnt/a/own1000 /mnt/a/own0 /mnt/b/own1000 /mnt/c/own0; \
                 touch /mnt/a/new || echo a-touch-failed; touch /mnt/c/x 2>/dev/null && echo c=rw || echo c=ro",
            ],
        );
    });
    let out = run_ok(&env, &b);
    let st: Value = serde_json::from_str(out.lines().next().unwrap_or("")).unwrap();
    assert_eq!(uid_of(&st, "/mnt/a/own1000"), 0, "{st}");
    assert_eq!(st["/mnt/a/own1000"]["gid"], 0, "{st}");
    assert_eq!(uid_of(&st, "/mnt/a/own0"), 65534, "{st}");
    assert_eq!(uid_of(&st, "/mnt/b/own1000"), 1000, "{st}");
    assert_eq!(uid_of(&st, "/mnt/c/own0"), 1000, "{st}");
    assert!(
        out.contains("c=ro"),
        "ro ignored on an idmapped mount: {out}"
    );
    let md = fs::metadata(d.join("new"))
        .unwrap_or_else(|e| panic!("no file created through /mnt/a ({e}): {out}"));
    assert_eq!((md.uid(), md.gid()), (1000, 1000));
}

// `ridmap` applies the mapping to every mount of an `rbind` tree; `idmap` only to the top one.
#[test]
fn idmap_ridmap_is_recursive() {
    let env = TestEnv::new("idmaprec");
    let d = owned_dir(&env, "rec");
    let sub = d.join("sub");
    fs::create_dir_all(&sub).unwrap();
    sh_ok(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=64k",
            "hk-idm",
            sub.to_str().unwrap(),
        ],
    );
    env.on_drop(&["umount", "-l", sub.to_str().unwrap()]);
    fs::write(sub.join("f"), "x").unwrap();
    std::os::unix::fs::chown(sub.join("f"), Some(1000), Some(1000)).unwrap();
    let src = d.to_str().unwrap().to_string();
    let b = env.bundle_with(|s, _| {
        push_mount(
            s,
            json!({"destination": "/mnt/r", "type": "bind", "source": src,
                   "options": ["rbind", "ridmap"],
                   "uidMappings": map(1000, 0, 1), "gidMappings": map(1000, 0, 1)}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/n", "type": "bind", "source": src,
                   "options": ["rbind", "idmap"],
                   "uidMappings": map(1000, 0, 1), "gidMappings": map(1000, 0, 1)}),
        );
        set_args(
            s,
            &[
                "/checker",
                "stat",
                "/mnt/r/own1000",
                "/mnt/r/sub/f",
                "/mnt/n/own1000",
                "/mnt/n/sub/f",
            ],
        );
    });
    let st: Value = report(&env, &b);
    assert_eq!(uid_of(&st, "/mnt/r/own1000"), 0, "{st}");
    assert_eq!(uid_of(&st, "/mnt/r/sub/f"), 0, "ridmap not recursive: {st}");
    assert_eq!(uid_of(&st, "/mnt/n/own1000"), 0, "{st}");
    assert_eq!(
        uid_of(&st, "/mnt/n/sub/f"),
        1000,
        "idmap applied recursively: {st}"
    );
    let _ = sh("umount", &[sub.to_str().unwrap()]);
}

// `idmap` without mappings of its own uses the container's user namespace mapping: inside the
// container the files keep the ids they have on disk (a plain bind shows an id outside the
// container's range as 65534).
#[test]
fn idmap_defaults_to_container_userns() {
    let env = TestEnv::new("idmapuserns");
    let d = owned_dir(&env, "uns");
    let src = d.to_str().unwrap().to_string();
    let b = env.bundle_with(|s, _| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        s["linux"]["uidMappings"] = map(0, 100000, 65536);
        s["linux"]["gidMappings"] = map(0, 100000, 65536);
        push_mount(
            s,
            json!({"destination": "/mnt/i", "type": "bind", "source": src,
                   "options": ["bind", "idmap"]}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/p", "type": "bind", "source": src,
                   "options": ["bind"]}),
        );
        set_args(
            s,
            &[
                "/checker",
                "stat",
                "/mnt/i/own1000",
                "/mnt/i/own0",
                "/mnt/p/own1000",
            ],
        );
    });
    // The rootfs belongs to the host's root, unmapped in the container: create the mount
    // points beforehand.
    fs::create_dir_all(b.rootfs.join("mnt/i")).unwrap();
    fs::create_dir_all(b.rootfs.join("mnt/p")).unwrap();
    let st = report(&env, &b);
    assert_eq!(uid_of(&st, "/mnt/i/own1000"), 1000, "{st}");
    assert_eq!(uid_of(&st, "/mnt/i/own0"), 0, "{st}");
    assert_eq!(uid_of(&st, "/mnt/p/own1000"), 65534, "{st}");
}

// config.md: `idmap` without mappings and without a user namespace is an error; so is
// uidMappings without gidMappings; an idmapped mount that is not a bind mount is refused.
#[test]
fn idmap_errors() {
    let env = TestEnv::new("idmaperr");
    let d = owned_dir(&env, "err");
    let src = d.to_str().unwrap().to_string();
    let cases = [
        json!({"destination": "/mnt/x", "type": "bind", "source": src, "options": ["bind", "idmap"]}),
        json!({"destination": "/mnt/x", "type": "bind", "source": src, "options": ["bind", "idmap"],
               "uidMappings": map(0, 1000, 1)}),
        json!({"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
               "uidMappings": map(0, 1000, 1), "gidMappings": map(0, 1000, 1)}),
    ];
    for m in cases {
        let b = env.bundle_with(|s, _| push_mount(s, m.clone()));
        create_fails(&env, &b, &["mounts[", "idmap", "Mappings"]);
    }
}

// ---- process attributes -------------------------------------------------------------------

// config.md "process.scheduler": SCHED_BATCH with nice 5, and SCHED_IDLE.
#[test]
fn scheduler_policies() {
    let env = TestEnv::new("sched");
    let b = env.bundle_with(|s, _| {
        s["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5})
    });
    let r = report(&env, &b);
    assert_eq!(r["sched_policy"], 3, "SCHED_BATCH");
    assert_eq!(r["nice"], 5);
    let b = env.bundle_with(|s, _| s["process"]["scheduler"] = json!({"policy": "SCHED_IDLE"}));
    assert_eq!(report(&env, &b)["sched_policy"], 5, "SCHED_IDLE");
}

// config.md "process.ioPriority": IOPRIO_CLASS_IDLE, and IOPRIO_CLASS_BE priority 7 (the value
// is class << 13 | priority).
#[test]
fn io_priority_classes() {
    let env = TestEnv::new("ioprio");
    let b = env.bundle_with(|s, _| {
        s["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0})
    });
    assert_eq!(report(&env, &b)["ioprio"], 3 << 13);
    let b = env.bundle_with(|s, _| {
        s["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 7})
    });
    assert_eq!(report(&env, &b)["ioprio"], (2 << 13) | 7);
}

// config.md "process.execCPUAffinity": the process runs with `final` ("1").
#[test]
fn exec_cpu_affinity_final() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("skipped: needs 2 CPUs");
        return;
    }
    let env = TestEnv::new("cpuaff");
    let b = env.bundle_with(|s, _| {
        s["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "1"})
    });
    assert_eq!(report(&env, &b)["cpus_allowed"], "1");
}

// config-linux.md "Personality": LINUX32 is visible as persona 0x0008 and uname's i686.
#[test]
fn personality_linux32() {
    let env = TestEnv::new("pers");
    let b = env.bundle_with(|s, _| s["linux"]["personality"] = json!({"domain": "LINUX32"}));
    let r = report(&env, &b);
    assert_eq!(r["personality"], "00000008", "{}", r["personality"]);
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(r["uname"]["machine"], "i686");
    }
}

// config-linux.md "Memory policy": MPOL_BIND (mode 2) to node 0.
#[test]
fn memory_policy_bind() {
    let env = TestEnv::new("mempol");
    let b = env.bundle_with(|s, _| {
        s["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
        set_args(s, &["/checker", "mempolicy"]);
    });
    let r = report(&env, &b);
    assert_eq!(r["mode"], 2, "{r}");
    assert_eq!(r["nodes"], json!([0]), "{r}");
}

// config-linux.md "Sysctl": net.ipv4.ip_forward in the container's network namespace and
// kernel.shmmax in its IPC namespace; the host's values are untouched.
#[test]
fn sysctl_in_own_namespaces() {
    let env = TestEnv::new("sysctl");
    let host_fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let b = env.bundle_with(|s, _| {
        s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"});
        set_args(
            s,
            &[
                "/checker",
                "cat",
                "/proc/sys/net/ipv4/ip_forward",
                "/proc/sys/kernel/shmmax",
            ],
        );
    });
    let out = run_ok(&env, &b);
    assert_eq!(out, "1\n123456789\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(),
        host_shm
    );
}

fn host_clock(clk: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a local struct.
    unsafe { libc::clock_gettime(clk, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

// config-linux.md "timeOffsets": with a new time namespace the monotonic and boottime clocks
// are shifted by the offsets.
#[test]
fn time_offsets() {
    let env = TestEnv::new("timens");
    let b = env.bundle_with(|s, _| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        s["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": 864000, "nanosecs": 0},
            "boottime": {"secs": 1728000, "nanosecs": 0}
        });
    });
    let before = (
        host_clock(libc::CLOCK_MONOTONIC),
        host_clock(libc::CLOCK_BOOTTIME),
    );
    let r = report(&env, &b);
    let mono = r["clocks"]["monotonic"].as_f64().unwrap() - before.0;
    let boot = r["clocks"]["boottime"].as_f64().unwrap() - before.1;
    assert!(
        (864000.0..864030.0).contains(&mono),
        "monotonic offset {mono}"
    );
    assert!(
        (1728000.0..1728030.0).contains(&boot),
        "boottime offset {boot}"
    );
}

// config.md "process.oomScoreAdj": a positive value is applied. A negative one needs
// CAP_SYS_RESOURCE in the initial user namespace: applied when hako has it, otherwise (this
// host's bounding set lacks it; always in a user namespace) a clear error naming the field.
#[test]
fn oom_score_adj() {
    let env = TestEnv::new("oomadj");
    let b = env.bundle_with(|s, _| s["process"]["oomScoreAdj"] = json!(500));
    assert_eq!(report(&env, &b)["oom_score_adj"], 500);
    let negative = |userns: bool| {
        env.bundle_with(|s, _| {
            s["process"]["oomScoreAdj"] = json!(-500);
            if userns {
                s["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
                s["linux"]["uidMappings"] = map(0, 100000, 65536);
                s["linux"]["gidMappings"] = map(0, 100000, 65536);
            }
        })
    };
    let mut must_fail = vec![negative(true)];
    if has_cap_sys_resource() {
        assert_eq!(report(&env, &negative(false))["oom_score_adj"], -500);
    } else {
        must_fail.push(negative(false));
    }
    for b in must_fail {
        let id = env.id();
        let out = env.run(&b, &id);
        out.assert_err_mentions(&["oomScoreAdj"]);
        let _ = env.delete_force(&id);
        env.assert_nothing_left(&id, &b);
    }
}

/// CAP_SYS_RESOURCE (24) in the test's effective set.
fn has_cap_sys_resource() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|c| c & (1 << 24) != 0)
}

// config.md "process.rlimits" beyond NOFILE: RLIMIT_CORE and an RLIMIT_NPROC lower than the
// host's.
#[test]
fn rlimits_core_and_nproc() {
    let env = TestEnv::new("rlimits");
    let b = env.bundle_with(|s, _| {
        s["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
            {"type": "RLIMIT_CORE", "hard": 4096, "soft": 1024},
            {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200}
        ])
    });
    let r = report(&env, &b);
    assert_eq!(
        r["rlimits"]["RLIMIT_CORE"],
        json!({"soft": 1024, "hard": 4096})
    );
    assert_eq!(
        r["rlimits"]["RLIMIT_NPROC"],
        json!({"soft": 200, "hard": 300})
    );
}

// ---- bad values ---------------------------------------------------------------------------

// Each is rejected by create with an error naming the field, and nothing is left behind: an
// unknown personality domain, a sysctl no namespace of the container owns (vm.swappiness), an
// IPC sysctl without a new IPC namespace, a hook path that is not absolute, a negative hook
// timeout.
#[test]
fn bad_values_rejected() {
    let env = TestEnv::new("badvals");
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &[&str])> = vec![
        (
            Box::new(|s| s["linux"]["personality"] = json!({"domain": "LINUX64"})),
            &["personality"],
        ),
        (
            Box::new(|s| s["linux"]["sysctl"] = json!({"vm.swappiness": "10"})),
            &["vm.swappiness"],
        ),
        (
            Box::new(|s| {
                s["linux"]["sysctl"] = json!({"kernel.shmmax": "123456789"});
                s["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "ipc");
            }),
            &["kernel.shmmax"],
        ),
        (
            Box::new(|s| s["hooks"] = json!({"createRuntime": [{"path": "bin/true"}]})),
            &["hooks.createRuntime[0].path"],
        ),
        (
            Box::new(|s| s["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": -1}]})),
            &["timeout"],
        ),
    ];
    let swappiness = fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    for (edit, words) in cases {
        let b = env.bundle_with(|s, _| edit(s));
        create_fails(&env, &b, words);
    }
    assert_eq!(
        fs::read_to_string("/proc/sys/vm/swappiness").unwrap(),
        swappiness
    );
}
