//! Cgroup integration tests through the `hako` CLI (config-linux.md "Control groups",
//! "Cgroup Namespace", "Devices", and the runc commands update/pause/resume/ps/events/kill --all).
//!
//! Every test works on a cgroup v1 (hybrid) host and in a pure cgroup v2 guest
//! (`scripts/test-v2.sh`): the mode is detected like libhako does (statfs of /sys/fs/cgroup), and
//! the container's cgroup directories are read from the host through /proc/self/mountinfo (every
//! cgroup/cgroup2 mount; a relative path is resolved under our own cgroup, which the runtime we
//! spawn inherits). Tests that need a controller or file the host lacks say so and return early.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test cgroups`. See tests/common/mod.rs for the harness.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);
const MIB: i64 = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Cgroup layout of the host
// ---------------------------------------------------------------------------------------------

/// cgroup v2 only (statfs(/sys/fs/cgroup) is CGROUP2_SUPER_MAGIC), as libhako's `detect`.
fn is_v2() -> bool {
    // SAFETY: statfs on a constant path into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statfs(c"/sys/fs/cgroup".as_ptr(), &mut st) };
    r == 0 && st.f_type as i64 == 0x6367_7270
}

/// One mounted hierarchy.
#[derive(Debug, Clone)]
struct Hier {
    mnt: PathBuf,
    /// The cgroup path of the mount's root.
    root: PathBuf,
    /// v1: the mount's controllers (and `name=` options); v2: cgroup.controllers.
    ctrls: Vec<String>,
    v2: bool,
}

fn hierarchies() -> Vec<Hier> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out: Vec<Hier> = Vec::new();
    for l in text.lines() {
        let Some((pre, post)) = l.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        let (root, mnt) = (PathBuf::from(pre[3]), PathBuf::from(pre[4]));
        if !mnt.starts_with("/sys/fs/cgroup") {
            continue;
        }
        let h = match post[0] {
            "cgroup" => Hier {
                ctrls: post
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .filter(|o| {
                        !matches!(*o, "rw" | "ro" | "clone_children" | "noprefix" | "xattr")
                            && !o.starts_with("release_agent")
                    })
                    .map(String::from)
                    .collect(),
                mnt,
                root,
                v2: false,
            },
            "cgroup2" => Hier {
                ctrls: fs::read_to_string(mnt.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect(),
                mnt,
                root,
                v2: true,
            },
            _ => continue,
        };
        if !out.iter().any(|o| o.mnt == h.mnt) {
            out.push(h);
        }
    }
    out
}

/// Our own cgroup in `h` (from /proc/self/cgroup).
fn own_cgroup(h: &Hier) -> PathBuf {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap();
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (_, list, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or("/"));
        let mut names: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
        let mut want: Vec<&str> = h.ctrls.iter().map(String::as_str).collect();
        names.sort();
        want.sort();
        if (h.v2 && list.is_empty()) || (!h.v2 && !list.is_empty() && names == want) {
            return PathBuf::from(path);
        }
    }
    PathBuf::from("/")
}

/// The absolute cgroup path `rel` has in `h` (config-linux.md "Cgroups path": a relative path
/// is relative to the runtime's cgroup, which is ours).
fn abs_in(h: &Hier, rel: &str) -> PathBuf {
    if rel.starts_with('/') {
        PathBuf::from(rel)
    } else {
        own_cgroup(h).join(rel)
    }
}

/// The directory of cgroup `rel` in `h`.
fn dir_in(h: &Hier, rel: &str) -> PathBuf {
    let abs = abs_in(h, rel);
    let inner = abs
        .strip_prefix(&h.root)
        .unwrap_or_else(|_| abs.strip_prefix("/").unwrap());
    h.mnt.join(inner)
}

/// The directories of `rel` in every mounted hierarchy.
fn all_dirs(rel: &str) -> Vec<PathBuf> {
    hierarchies().iter().map(|h| dir_in(h, rel)).collect()
}

/// Those of [`all_dirs`] that exist.
fn existing_dirs(rel: &str) -> Vec<PathBuf> {
    all_dirs(rel).into_iter().filter(|d| d.is_dir()).collect()
}

/// The hierarchy holding controller `ctrl` (v1 hierarchies first; on a hybrid host hugetlb may
/// live on the cgroup2 mount), or None if the host has no such controller.
fn hier_of(ctrl: &str) -> Option<Hier> {
    let hs = hierarchies();
    if is_v2() {
        return hs
            .into_iter()
            .find(|h| h.v2 && h.mnt == Path::new("/sys/fs/cgroup"))
            .filter(|h| h.ctrls.iter().any(|c| c == ctrl));
    }
    let v1 = hs
        .iter()
        .find(|h| !h.v2 && h.ctrls.iter().any(|c| c == ctrl))
        .cloned();
    v1.or_else(|| {
        hs.into_iter()
            .find(|h| h.v2 && h.ctrls.iter().any(|c| c == ctrl))
    })
}

/// The directory of `rel` in the hierarchy of `ctrl`.
#[track_caller]
fn cg_dir(ctrl: &str, rel: &str) -> PathBuf {
    let h = hier_of(ctrl).unwrap_or_else(|| panic!("no {ctrl} controller on this host"));
    dir_in(&h, rel)
}

/// A cgroup file of `rel` (trimmed), None if it cannot be read.
fn cg_read(ctrl: &str, rel: &str, file: &str) -> Option<String> {
    fs::read_to_string(cg_dir(ctrl, rel).join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The host's cgroup-namespace-free view of `pid`'s cgroups: (hierarchy-id, controllers, path).
fn proc_cgroups(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.splitn(3, ':');
            (
                it.next().unwrap_or("").to_string(),
                it.next().unwrap_or("").to_string(),
                it.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Asserts that every line of a /proc/PID/cgroup text is `want`, except a `0::` line on a
/// hybrid host whose cgroup2 mount owns no controller (the container gets no directory there).
#[track_caller]
fn assert_all_in(text: &str, want: &str) {
    let lines = proc_cgroups(text);
    assert!(!lines.is_empty(), "empty /proc/PID/cgroup");
    let hybrid_unused = !is_v2()
        && !hierarchies()
            .iter()
            .any(|h| h.v2 && !h.ctrls.is_empty() && h.root == Path::new("/"));
    for (n, ctrls, path) in &lines {
        if n == "0" && ctrls.is_empty() && hybrid_unused {
            continue;
        }
        assert_eq!(path, want, "line {n}:{ctrls}:{path} in\n{text}");
    }
}

/// Removes cgroup dirs the test made itself (and anything a failing runtime left below them),
/// deepest first. Declare it BEFORE the TestEnv so it drops after the containers are deleted.
struct CgGuard(Vec<String>);

impl Drop for CgGuard {
    fn drop(&mut self) {
        fn rm(d: &Path) {
            if let Ok(rd) = fs::read_dir(d) {
                for e in rd.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        rm(&e.path());
                    }
                }
            }
            let _ = fs::remove_dir(d);
        }
        for rel in &self.0 {
            for d in all_dirs(rel) {
                rm(&d);
            }
        }
    }
}

/// mkdir `rel` in every hierarchy (v1 cpuset: with the parent's cpus/mems, so it takes tasks).
fn mkdir_everywhere(rel: &str) {
    for h in hierarchies() {
        let d = dir_in(&h, rel);
        fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        if !h.v2 && h.ctrls.iter().any(|c| c == "cpuset") {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = fs::read_to_string(d.parent().unwrap().join(f)).unwrap();
                fs::write(d.join(f), v.trim()).unwrap();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// Removes `{"type": "cgroup"}` (and `{"type": "pid"}` if `pid` is false) from the namespaces.
fn drop_ns(spec: &mut Value, types: &[&str]) {
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| !types.contains(&n["type"].as_str().unwrap_or("")));
}

fn init_pid(env: &TestEnv, id: &str) -> i64 {
    env.state(id)["pid"].as_i64().expect("pid in state")
}

/// Polls `f` until it returns Some (panics with `what` after `timeout`).
#[track_caller]
fn wait_for<R>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<R>) -> R {
    let t0 = Instant::now();
    loop {
        if let Some(r) = f() {
            return r;
        }
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads a number from a file the container rewrites (retrying over a truncated moment).
fn read_counter(p: &Path) -> u64 {
    wait_for(&format!("a number in {}", p.display()), T, || {
        fs::read_to_string(p).ok()?.trim().parse().ok()
    })
}

/// Asserts that creating a container from `b` fails naming one of `words`, and left nothing
/// behind (state, processes, mounts, cgroup dirs named after the id, and the dirs of `rels`).
#[track_caller]
fn assert_create_fails(env: &TestEnv, b: &Bundle, words: &[&str], rels: &[String]) {
    let id = env.id();
    let o = env.create(b, &id);
    o.assert_err_mentions(words);
    env.assert_nothing_left(&id, b);
    for rel in rels {
        let left = existing_dirs(&rel.replace("{id}", &id));
        assert!(left.is_empty(), "cgroup dirs left after {o}: {left:?}");
    }
}

// =============================================================================================
// 1. Placement (config-linux.md "Control groups": cgroupsPath; "Cgroup Namespace")
// =============================================================================================

// config-linux.md "Control groups": "the runtime MUST ... place the container process in its
// cgroup" — before any user code runs: the init is already there while `created`, and the
// checker's /proc/self/cgroup (the first thing the user program does) shows it. Default path
// `/<id>` (runc's default). Delete removes every directory create made.
#[test]
fn placement_default_path_before_user_code() {
    let env = TestEnv::new("cgplacedef");
    let b = env.bundle_with(|s, _| {
        drop_ns(s, &["cgroup"]);
        set_args(s, &["/checker", "cat", "/proc/self/cgroup"]);
    });
    let id = env.id();
    let rel = format!("/{id}");
    let created = env.create(&b, &id);
    created.assert_ok();
    let pid = init_pid(&env, &id);
    // Host view of the waiting init: in the container's cgroup in every hierarchy.
    let host = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_all_in(&host, &rel);
    for h in hierarchies() {
        let d = dir_in(&h, &rel);
        if h.v2 && !is_v2() && h.ctrls.is_empty() {
            continue; // hybrid cgroup2 mount without controllers: not used
        }
        assert!(d.is_dir(), "{} missing", d.display());
        let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l.trim() == pid.to_string()),
            "init {pid} not in {}: {procs}",
            d.display()
        );
    }
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    let inside = created.reread_stdout();
    assert_all_in(&inside, &rel);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(existing_dirs(&rel).is_empty(), "{:?}", existing_dirs(&rel));
}

// config-linux.md "Cgroup Namespace" (namespaces "cgroup"): the namespace is rooted at the
// container's cgroup, so the container sees itself at "/" — also as the first thing it does.
#[test]
fn cgroup_namespace_rooted_at_container_cgroup() {
    let env = TestEnv::new("cgns");
    let b = env.bundle(&["/checker", "cat", "/proc/self/cgroup"]);
    let id = env.id();
    let out = env.run(&b, &id);
    out.assert_ok();
    assert_all_in(&out.stdout, "/");
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Cgroups path": absolute paths are taken as given (relative to the cgroup
// mount); every missing level is created, and delete removes exactly those.
#[test]
fn cgroups_path_absolute() {
    let _g;
    let env = TestEnv::new("cgabs");
    let id = env.id();
    let parent = format!("/hkabs-{id}");
    _g = CgGuard(vec![parent.clone()]);
    let rel = format!("{parent}/sub/{id}");
    let b = env.bundle_with(|s, _| {
        drop_ns(s, &["cgroup"]);
        s["linux"]["cgroupsPath"] = json!(rel);
        set_args(s, &["/checker", "cat", "/proc/self/cgroup"]);
    });
    let c = env.create(&b, &id);
    c.assert_ok();
    let pid = init_pid(&env, &id);
    assert_all_in(
        &fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap(),
        &rel,
    );
    assert!(cg_dir("pids", &rel).is_dir());
    assert!(cg_dir("memory", &rel).is_dir());
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    assert_all_in(&c.reread_stdout(), &rel);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    for p in [rel.clone(), format!("{parent}/sub"), parent.clone()] {
        assert!(
            existing_dirs(&p).is_empty(),
            "left: {:?}",
            existing_dirs(&p)
        );
    }
}

// config-linux.md "Cgroups path": "If the value is ... relative, ... relative to the cgroup
// mount point of the runtime's cgroup" — our cgroup, which the hako we spawn inherits.
#[test]
fn cgroups_path_relative() {
    let _g;
    let env = TestEnv::new("cgrel");
    let id = env.id();
    let parent = format!("hkrel-{id}");
    _g = CgGuard(vec![parent.clone()]);
    let rel = format!("{parent}/{id}");
    let b = env.bundle_with(|s, _| {
        drop_ns(s, &["cgroup"]);
        s["linux"]["cgroupsPath"] = json!(rel);
        set_args(s, &["sleep", "30"]);
    });
    env.create(&b, &id).assert_ok();
    let pid = init_pid(&env, &id);
    let host = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for h in hierarchies() {
        if h.v2 && !is_v2() && h.ctrls.is_empty() {
            continue;
        }
        let d = dir_in(&h, &rel);
        assert!(
            d.is_dir(),
            "{} missing (relative to our cgroup {})",
            d.display(),
            own_cgroup(&h).display()
        );
        let want = abs_in(&h, &rel);
        assert!(
            proc_cgroups(&host)
                .iter()
                .any(|(_, _, p)| Path::new(p) == want),
            "init not in {} : {host}",
            want.display()
        );
    }
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(existing_dirs(&rel).is_empty(), "{:?}", existing_dirs(&rel));
    assert!(
        existing_dirs(&parent).is_empty(),
        "{:?}",
        existing_dirs(&parent)
    );
}

// Engine-like cgroupsPath values (podman with cgroupfs: /libpod_parent/libpod-<id>; docker:
// /docker/<id>). A parent that existed before stays; one create made goes.
#[test]
fn cgroups_path_engine_like() {
    let parents = ["/libpod_parent", "/docker"];
    // Parents this test (not the host) brings into existence are removed even on failure.
    let _g = CgGuard(
        parents
            .iter()
            .filter(|p| existing_dirs(p).is_empty())
            .map(|p| p.to_string())
            .collect(),
    );
    let env = TestEnv::new("cgengine");
    for parent in parents {
        let id = env.id();
        let leaf = if parent == "/docker" {
            id.clone()
        } else {
            format!("libpod-{id}")
        };
        env.register(&leaf);
        let rel = format!("{parent}/{leaf}");
        let existed = !existing_dirs(parent).is_empty();
        let b = env.bundle_with(|s, _| {
            s["linux"]["cgroupsPath"] = json!(rel);
            set_args(s, &["sleep", "30"]);
        });
        env.create(&b, &id).assert_ok();
        let pid = init_pid(&env, &id);
        assert!(cg_dir("pids", &rel).is_dir());
        let procs = cg_read("pids", &rel, "cgroup.procs").unwrap();
        assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
        env.delete_force(&id).assert_ok();
        env.assert_nothing_left(&id, &b);
        assert!(existing_dirs(&rel).is_empty(), "{:?}", existing_dirs(&rel));
        if !existed {
            assert!(
                existing_dirs(parent).is_empty(),
                "{parent} made by create was left: {:?}",
                existing_dirs(parent)
            );
        }
    }
}

// Delete removes exactly the cgroups create made: a parent that existed before is kept.
#[test]
fn cgroups_path_preexisting_parent_is_kept() {
    let _g;
    let env = TestEnv::new("cgpre");
    let id = env.id();
    let parent = format!("/hkpre-{id}");
    _g = CgGuard(vec![parent.clone()]);
    mkdir_everywhere(&parent);
    let before = existing_dirs(&parent);
    let rel = format!("{parent}/{id}");
    let b = env.bundle_with(|s, _| {
        s["linux"]["cgroupsPath"] = json!(rel);
        set_args(s, &["sleep", "30"]);
    });
    env.create(&b, &id).assert_ok();
    env.start(&id).assert_ok();
    assert!(cg_dir("memory", &rel).is_dir());
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(existing_dirs(&rel).is_empty(), "{:?}", existing_dirs(&rel));
    assert_eq!(existing_dirs(&parent), before, "the pre-existing parent");
}

// Two containers under one parent that the first one's create made (podman's /libpod_parent
// is shared by every container): deleting the first while the second lives must succeed
// (the parent is busy, so it stays), and must not disturb the second.
#[test]
fn cgroups_path_shared_parent() {
    let _g;
    let env = TestEnv::new("cgshared");
    let a = env.id();
    let c = env.id();
    let parent = format!("/hkshr-{a}");
    _g = CgGuard(vec![parent.clone()]);
    let mk = |id: &str| {
        let rel = format!("{parent}/{id}");
        env.bundle_with(|s, _| {
            s["linux"]["cgroupsPath"] = json!(rel);
            set_args(s, &["sleep", "30"]);
        })
    };
    let (ba, bc) = (mk(&a), mk(&c));
    env.create(&ba, &a).assert_ok();
    env.create(&bc, &c).assert_ok();
    let t0 = Instant::now();
    env.delete_force(&a).assert_ok();
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "delete took {:?}",
        t0.elapsed()
    );
    env.assert_nothing_left(&a, &ba);
    assert_eq!(env.status(&c), "created");
    assert!(cg_dir("pids", &format!("{parent}/{c}")).is_dir());
    env.delete_force(&c).assert_ok();
    env.assert_nothing_left(&c, &bc);
}

// runtime.md "create": on error nothing is left — including the cgroups (a bad mount fails
// after the cgroup directories were made and the init was placed).
#[test]
fn failed_create_leaves_no_cgroup() {
    let _g;
    let env = TestEnv::new("cgfail");
    let tag = format!("hkfail-{}", std::process::id());
    _g = CgGuard(vec![format!("/{tag}")]);
    let b = env.bundle_with(|s, _| {
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/x", "type": "bind",
            "source": "/nonexistent/hako-test-source", "options": ["rbind"]
        }));
        s["linux"]["resources"]["pids"] = json!({"limit": 50});
    });
    assert_create_fails(&env, &b, &["nonexistent", "mount"], &["/{id}".to_string()]);
    let mut b = b;
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(format!("/{tag}/x/y")));
    assert_create_fails(
        &env,
        &b,
        &["nonexistent", "mount"],
        &[format!("/{tag}/x/y"), format!("/{tag}")],
    );
}

// =============================================================================================
// 2. Resource fields (config-linux.md "Memory", "CPU", "Pids", "Block IO", "Huge page limits",
//    "Unified")
// =============================================================================================

// Every field lands in its file (host view, while `created`: config-linux.md "Control groups":
// limits in force before user code), and the container sees the same limits through its own
// /sys/fs/cgroup with a cgroup namespace.
#[test]
fn resources_written_to_files_and_seen_inside() {
    let env = TestEnv::new("cgres");
    let v2 = is_v2();
    let memsw = !v2
        && cg_dir("memory", "/")
            .join("memory.memsw.limit_in_bytes")
            .exists();
    let cpu0 = fs::read_to_string(cg_dir("cpuset", "/").join(if v2 {
        "cpuset.cpus.effective"
    } else {
        "cpuset.cpus"
    }))
    .unwrap();
    let first_cpu = cpu0.trim().split([',', '-']).next().unwrap().to_string();
    let mems0 = fs::read_to_string(cg_dir("cpuset", "/").join(if v2 {
        "cpuset.mems.effective"
    } else {
        "cpuset.mems"
    }))
    .unwrap();
    let first_mem = mems0.trim().split([',', '-']).next().unwrap().to_string();
    let inside_files: &[&str] = if v2 {
        &["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"]
    } else {
        &[
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        ]
    };
    let script = format!("cat /proc/self/cgroup; cat {}", inside_files.join(" "));
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sh", "-c", &script]);
        let mut mem = json!({"limit": 64 * MIB, "reservation": 32 * MIB});
        if memsw {
            mem["swap"] = json!(128 * MIB);
        }
        if !v2 {
            mem["swappiness"] = json!(30);
        }
        s["linux"]["resources"]["memory"] = mem;
        s["linux"]["resources"]["cpu"] = json!({
            "shares": 512, "quota": 50000, "period": 100000,
            "cpus": first_cpu, "mems": first_mem
        });
        s["linux"]["resources"]["pids"] = json!({"limit": 42});
    });
    let id = env.id();
    let rel = format!("/{id}");
    let c = env.create(&b, &id);
    c.assert_ok();
    let mut want: Vec<(&str, &str, String)> = vec![
        ("pids", "pids.max", "42".into()),
        ("cpuset", "cpuset.cpus", first_cpu.clone()),
        ("cpuset", "cpuset.mems", first_mem.clone()),
    ];
    if v2 {
        want.extend([
            ("memory", "memory.max", (64 * MIB).to_string()),
            ("memory", "memory.low", (32 * MIB).to_string()),
            // cpu.weight = 1 + ((512 - 2) * 9999) / 262142 (docs/cgroups.md)
            ("cpu", "cpu.weight", "20".into()),
            ("cpu", "cpu.max", "50000 100000".into()),
        ]);
    } else {
        want.extend([
            ("memory", "memory.limit_in_bytes", (64 * MIB).to_string()),
            (
                "memory",
                "memory.soft_limit_in_bytes",
                (32 * MIB).to_string(),
            ),
            ("memory", "memory.swappiness", "30".into()),
            ("cpu", "cpu.shares", "512".into()),
            ("cpu", "cpu.cfs_quota_us", "50000".into()),
            ("cpu", "cpu.cfs_period_us", "100000".into()),
        ]);
        if memsw {
            want.push((
                "memory",
                "memory.memsw.limit_in_bytes",
                (128 * MIB).to_string(),
            ));
        }
    }
    for (ctrl, file, v) in &want {
        assert_eq!(
            cg_read(ctrl, &rel, file).as_deref(),
            Some(v.as_str()),
            "{ctrl} {file}"
        );
    }
    env.start(&id).assert_ok();
    env.wait_status(&id, "stopped", T);
    let out = c.reread_stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    let vals = &lines[lines.len() - 2..];
    assert_eq!(
        vals,
        [(64 * MIB).to_string(), "42".to_string()],
        "inside view of {inside_files:?}: {out}"
    );
    assert_all_in(&lines[..lines.len() - 2].join("\n"), "/");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// v2 only: memory.swap (memory+swap) becomes memory.swap.max = swap - limit (docs/cgroups.md).
#[test]
fn resources_swap_v2() {
    if !is_v2() {
        eprintln!(
            "skipped: cgroup v1 (memsw is checked in resources_written_to_files_and_seen_inside)"
        );
        return;
    }
    let env = TestEnv::new("cgswap");
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sleep", "30"]);
        s["linux"]["resources"]["memory"] = json!({"limit": 64 * MIB, "swap": 96 * MIB});
    });
    let id = env.id();
    let o = env.create(&b, &id);
    let rel = format!("/{id}");
    if !o.ok() && o.stderr.contains("memory.swap.max") {
        eprintln!("skipped: no memory.swap.max here: {o}");
        return;
    }
    o.assert_ok();
    assert_eq!(
        cg_read("memory", &rel, "memory.swap.max"),
        Some((32 * MIB).to_string())
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Block IO": weight (skipped where neither blkio.weight/blkio.bfq.weight (v1)
// nor io.bfq.weight/io.weight (v2) exists).
#[test]
fn resources_blockio_weight() {
    let env = TestEnv::new("cgblkio");
    let ctrl = if is_v2() { "io" } else { "blkio" };
    if hier_of(ctrl).is_none() {
        eprintln!("skipped: no {ctrl} controller");
        return;
    }
    // Probe: a container without blockIO, to see which weight file its cgroup has.
    let b = env.bundle(&["sleep", "30"]);
    let id = env.id();
    env.create(&b, &id).assert_ok();
    let dir = cg_dir(ctrl, &format!("/{id}"));
    let names: &[&str] = if is_v2() {
        &["io.bfq.weight", "io.weight"]
    } else {
        &["blkio.weight", "blkio.bfq.weight"]
    };
    let file = names.iter().find(|f| dir.join(f).exists()).copied();
    env.delete_force(&id).assert_ok();
    let Some(file) = file else {
        eprintln!("skipped: none of {names:?} in {}", dir.display());
        return;
    };
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sleep", "30"]);
        s["linux"]["resources"]["blockIO"] = json!({"weight": 500});
    });
    let id = env.id();
    env.create(&b, &id).assert_ok();
    let got = cg_read(ctrl, &format!("/{id}"), file).unwrap();
    let want = match file {
        // io.weight = 1 + (weight - 10) * 9999 / 990 (docs/cgroups.md); shown as "default N"
        "io.weight" => (1 + (500 - 10) * 9999 / 990).to_string(),
        _ => "500".to_string(),
    };
    assert!(
        got.split_whitespace().any(|w| w == want),
        "{file} = {got:?}, want {want}"
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Huge page limits" (skipped without a hugetlb controller or 2MB pages). On a
// hybrid host whose cgroup2 mount owns hugetlb, the limit goes there with v2 names.
#[test]
fn resources_hugepage_limits() {
    let env = TestEnv::new("cghuge");
    let Some(h) = hier_of("hugetlb") else {
        eprintln!("skipped: no hugetlb controller");
        return;
    };
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2MB hugepages");
        return;
    }
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sleep", "30"]);
        s["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 * MIB}]);
    });
    let id = env.id();
    env.create(&b, &id).assert_ok();
    let file = if h.v2 {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    assert_eq!(
        fs::read_to_string(dir_in(&h, &format!("/{id}")).join(file))
            .unwrap()
            .trim(),
        (4 * MIB).to_string()
    );
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Unified": on v2 the keys are written as given (after the converted fields,
// so they win); on v1 a key of a controller that is not on a cgroup2 mount is an error, and
// nothing is left behind.
#[test]
fn resources_unified() {
    let env = TestEnv::new("cgunified");
    if is_v2() {
        let b = env.bundle_with(|s, _| {
            set_args(s, &["sleep", "30"]);
            s["linux"]["resources"]["pids"] = json!({"limit": 10});
            s["linux"]["resources"]["unified"] =
                json!({"memory.high": (48 * MIB).to_string(), "pids.max": "33"});
        });
        let id = env.id();
        env.create(&b, &id).assert_ok();
        let rel = format!("/{id}");
        assert_eq!(
            cg_read("memory", &rel, "memory.high"),
            Some((48 * MIB).to_string())
        );
        assert_eq!(cg_read("pids", &rel, "pids.max").as_deref(), Some("33"));
        env.delete_force(&id).assert_ok();
        env.assert_nothing_left(&id, &b);
        // An unknown file of an enabled controller, and a file of no controller.
        for key in ["memory.bogus", "bogus.max"] {
            let b = env.bundle_with(|s, _| {
                s["linux"]["resources"]["unified"] = json!({ key: "1" });
            });
            assert_create_fails(&env, &b, &["unified", key], &[]);
        }
    } else {
        let b = env.bundle_with(|s, _| {
            s["linux"]["resources"]["unified"] = json!({"memory.max": "100000000"});
        });
        assert_create_fails(&env, &b, &["unified"], &[]);
    }
}

// =============================================================================================
// 3. Enforcement (config-linux.md "Memory", "Pids"; runc `events`)
// =============================================================================================

/// busybox dd with a 64 MiB buffer: touches 64 MiB of anonymous memory.
const DD64: &str = "busybox dd if=/dev/zero of=/dev/null bs=64M count=1";

fn mem32(s: &mut Value) {
    let mut m = json!({"limit": 32 * MIB});
    // No swap for the container (v1 memory+swap = limit), so the limit cannot be dodged.
    if !is_v2()
        && cg_dir("memory", "/")
            .join("memory.memsw.limit_in_bytes")
            .exists()
    {
        m["swap"] = json!(32 * MIB);
    }
    s["linux"]["resources"]["memory"] = m;
}

// The init allocating past memory.limit is OOM-killed: `run` exits 128+SIGKILL.
#[test]
fn memory_limit_oom_kills_run_exits_137() {
    let env = TestEnv::new("cgoomrun");
    let b = env.bundle_with(|s, _| {
        let args: Vec<&str> = DD64.split(' ').collect();
        set_args(s, &args);
        mem32(s);
    });
    let id = env.id();
    let o = env.run(&b, &id);
    assert_eq!(o.code, Some(137), "{o}");
    env.assert_nothing_left(&id, &b);
}

// `events` (started before the OOM) prints {"type":"oom"}; `events --stats` shows the limit and
// the peak usage; a child's OOM kill leaves the shell alive (it sees 137).
#[test]
fn memory_oom_reported_by_events() {
    if !is_v2() {
        eprintln!("skipped on cgroup v1: see memory_oom_reported_by_events_v1 (ignored, hako bug)");
        return;
    }
    oom_reported_by_events();
}

// The same on cgroup v1. hako's v1 OomWatcher (stats.rs `OomWatcher::wait`) is woken by the
// cgroup.event_control eventfd, which the kernel signals in mem_cgroup_oom() BEFORE the OOM
// killer runs; it then re-reads memory.oom_control `oom_kill`, still finds the old count, and
// drops the event (no later wake-up comes). Seen 4/4 in this test, ~2/3 by hand.
#[test]
fn memory_oom_reported_by_events_v1() {
    if is_v2() {
        eprintln!("skipped on cgroup v2: memory_oom_reported_by_events covers it");
        return;
    }
    oom_reported_by_events();
}

fn oom_reported_by_events() {
    let env = TestEnv::new("cgoomev");
    let script = format!(
        "while [ ! -e /shared/go ]; do sleep 0.02; done; {DD64}; echo $? > /shared/rc; \
         while [ ! -e /shared/end ]; do sleep 0.05; done"
    );
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sh", "-c", &script]);
        mem32(s);
    });
    let id = env.id();
    env.create_start(&b, &id);
    // `events` notices a stopped container at its next statistics tick: keep the interval short.
    let ev = env.spawn(&["events", "--interval", "1s", &id]);
    // The first stats line means the watcher is set up.
    wait_for("the first events line", T, || {
        fs::read_to_string(&ev.stdout_path)
            .ok()
            .filter(|s| s.contains("\"stats\""))
    });
    fs::write(b.shared_file("go"), "").unwrap();
    let rc = wait_line(&b.shared_file("rc"), T);
    assert_eq!(rc, "137", "dd was not OOM-killed");
    let t0 = Instant::now();
    let evs = loop {
        let s = fs::read_to_string(&ev.stdout_path).unwrap_or_default();
        if s.contains("\"oom\"") {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "no oom event within 5 s; memory.oom_control/events: {:?}; events printed:\n{s}\nstderr: {}",
            cg_read("memory", &format!("/{id}"), if is_v2() { "memory.events" } else { "memory.oom_control" }),
            fs::read_to_string(&ev.stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let oom: Value = evs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "oom")
        .unwrap_or_else(|| panic!("no oom JSON line: {evs}"));
    assert_eq!(oom["id"], id.as_str(), "{oom}");
    let st = env.cmd(&["events", "--stats", &id]);
    st.assert_ok();
    let v = st.json();
    assert_eq!(v["type"], "stats", "{v}");
    let mu = &v["data"]["memory"]["usage"];
    assert_eq!(mu["limit"].as_i64(), Some(32 * MIB), "{v}");
    // The peak is the limit (v1 max_usage_in_bytes, v2 memory.peak where the kernel has it).
    if let Some(max) = mu["max"].as_i64() {
        assert!(max > 24 * MIB, "peak usage {max} after the OOM: {v}");
    }
    if is_v2() {
        // memory.events `max` (times the limit was hit) is reported as failcnt.
        assert!(mu["failcnt"].as_u64().unwrap_or(0) > 0, "no failcnt: {v}");
    }
    // The container ends: `events` ends too.
    fs::write(b.shared_file("end"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    let o = env.wait_bg(&ev, T);
    assert_eq!(o.code, Some(0), "{o}");
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// config-linux.md "Pids": with limit 8, the shell (1) can fork exactly 7 more processes; the
// 8th fork fails with EAGAIN inside the container.
#[test]
fn pids_limit_enforced() {
    let env = TestEnv::new("cgpids");
    let b = env.bundle_with(|s, _| {
        set_args(
            s,
            &[
                "sh",
                "-c",
                "i=0; while [ $i -lt 20 ]; do i=$((i+1)); sleep 30 & echo \"ok $i $!\"; done",
            ],
        );
        s["linux"]["resources"]["pids"] = json!({"limit": 8});
    });
    let id = env.id();
    let o = env.run(&b, &id);
    let ok = o.stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(ok, 7, "forks that succeeded under pids.max 8: {o}");
    assert_ne!(o.code, Some(0), "{o}");
    assert!(
        o.stderr.contains("fork") || o.stderr.contains("Resource temporarily unavailable"),
        "{o}"
    );
    env.assert_nothing_left(&id, &b);
}

// =============================================================================================
// 4. Devices (config-linux.md "Allowed Device Cgroup", "Devices"): v1 devices.allow/deny, v2 eBPF
// =============================================================================================

// Deny all + the defaults: a host device node bind-mounted in (/dev/kmsg, c 1:11, in no allow
// rule) cannot be opened (EPERM from the device cgroup); a linux.devices node and /dev/null can.
// An explicit allow rule for c 1:11 (write only) makes it openable for writing.
#[test]
fn devices_denied_and_allowed() {
    let env = TestEnv::new("cgdev");
    if !Path::new("/dev/kmsg").exists() {
        eprintln!("skipped: no /dev/kmsg on the host");
        return;
    }
    // `true > X` opens X for writing (O_WRONLY|O_CREAT|O_TRUNC) and writes nothing; a failed
    // redirection of a regular builtin is not fatal in sh.
    let script = "for f in /dev/mydev /dev/null /dev/hkmsg; do \
                  if true > $f; then echo \"$f ok\"; else echo \"$f denied\"; fi; done";
    let mk = |allow_kmsg: bool| {
        env.bundle_with(|s, _| {
            set_args(s, &["sh", "-c", script]);
            s["linux"]["devices"] = json!([{
                "path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
                "fileMode": 438, "uid": 0, "gid": 0
            }]);
            let mut rules = vec![json!({"allow": false, "access": "rwm"})];
            if allow_kmsg {
                rules.push(
                    json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}),
                );
            }
            s["linux"]["resources"]["devices"] = json!(rules);
            s["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/dev/hkmsg", "type": "bind", "source": "/dev/kmsg",
                "options": ["bind"]
            }));
        })
    };
    let b = mk(false);
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    assert!(o.stdout.contains("/dev/mydev ok"), "{o}");
    assert!(o.stdout.contains("/dev/null ok"), "{o}");
    assert!(o.stdout.contains("/dev/hkmsg denied"), "{o}");
    assert!(o.stderr.contains("Operation not permitted"), "{o}");
    env.assert_nothing_left(&id, &b);

    let b = mk(true);
    let id = env.id();
    let o = env.run(&b, &id);
    o.assert_ok();
    assert!(o.stdout.contains("/dev/hkmsg ok"), "{o}");
    assert!(o.stdout.contains("/dev/mydev ok"), "{o}");
    env.assert_nothing_left(&id, &b);
}

// =============================================================================================
// 5. update (runc `update`; config-linux.md resource fields)
// =============================================================================================

fn mem_file() -> &'static str {
    if is_v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    }
}

#[test]
fn update_flags_and_resources_on_stdin() {
    let env = TestEnv::new("cgupdate");
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sleep", "60"]);
        s["linux"]["resources"]["memory"] = json!({"limit": 128 * MIB});
        s["linux"]["resources"]["pids"] = json!({"limit": 100});
    });
    let id = env.id();
    let rel = format!("/{id}");
    env.create_start(&b, &id);
    assert_eq!(
        cg_read("memory", &rel, mem_file()),
        Some((128 * MIB).to_string())
    );
    env.cmd(&["update", "--memory", "64m", "--pids-limit", "20", &id])
        .assert_ok();
    assert_eq!(
        cg_read("memory", &rel, mem_file()),
        Some((64 * MIB).to_string())
    );
    assert_eq!(cg_read("pids", &rel, "pids.max").as_deref(), Some("20"));

    // What docker/podman send: a linux.resources document on stdin.
    let doc = json!({
        "memory": {"limit": 96 * MIB, "reservation": 16 * MIB},
        "cpu": {"shares": 256, "quota": 20000, "period": 100000},
        "pids": {"limit": 30},
        "blockIO": {}
    });
    let o = env.shell(
        &format!(
            "echo '{doc}' | {} update --resources - {id}",
            env.runtime_cmdline()
        ),
        None,
    );
    o.assert_ok();
    assert_eq!(
        cg_read("memory", &rel, mem_file()),
        Some((96 * MIB).to_string())
    );
    assert_eq!(cg_read("pids", &rel, "pids.max").as_deref(), Some("30"));
    if is_v2() {
        assert_eq!(
            cg_read("memory", &rel, "memory.low"),
            Some((16 * MIB).to_string())
        );
        assert_eq!(
            cg_read("cpu", &rel, "cpu.max").as_deref(),
            Some("20000 100000")
        );
        // 1 + ((256 - 2) * 9999) / 262142
        assert_eq!(cg_read("cpu", &rel, "cpu.weight").as_deref(), Some("10"));
    } else {
        assert_eq!(
            cg_read("memory", &rel, "memory.soft_limit_in_bytes"),
            Some((16 * MIB).to_string())
        );
        assert_eq!(
            cg_read("cpu", &rel, "cpu.cfs_quota_us").as_deref(),
            Some("20000")
        );
        assert_eq!(cg_read("cpu", &rel, "cpu.shares").as_deref(), Some("256"));
    }
    // -1: unlimited.
    env.cmd(&["update", "--pids-limit", "-1", "--memory", "-1", &id])
        .assert_ok();
    assert_eq!(cg_read("pids", &rel, "pids.max").as_deref(), Some("max"));
    let m = cg_read("memory", &rel, mem_file()).unwrap();
    assert!(m == "max" || m.parse::<u64>().unwrap() > (1 << 40), "{m}");
    assert_eq!(env.status(&id), "running");
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// Bad values are clear errors that change nothing.
#[test]
fn update_bad_values() {
    let env = TestEnv::new("cgupdbad");
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sleep", "60"]);
        s["linux"]["resources"]["memory"] = json!({"limit": 128 * MIB});
        s["linux"]["resources"]["pids"] = json!({"limit": 100});
    });
    let id = env.id();
    let rel = format!("/{id}");
    env.create_start(&b, &id);
    env.cmd(&["update", "--memory", "-5m", &id])
        .assert_err_mentions(&["--memory"])
        .assert_err_mentions(&["negative"]);
    env.cmd(&["update", "--memory", "lots", &id])
        .assert_err_mentions(&["--memory"]);
    for (doc, field) in [
        (
            json!({"memory": {"limit": -2}}),
            "linux.resources.memory.limit",
        ),
        (json!({"pids": {"limit": -7}}), "linux.resources.pids.limit"),
        (
            json!({"cpu": {"cpus": "nonsense"}}),
            "linux.resources.cpu.cpus",
        ),
    ] {
        let o = env.shell(
            &format!(
                "echo '{doc}' | {} update --resources - {id}",
                env.runtime_cmdline()
            ),
            None,
        );
        o.assert_err_mentions(&[field]);
    }
    let o = env.shell(
        &format!(
            "echo '{{not json' | {} update --resources - {id}",
            env.runtime_cmdline()
        ),
        None,
    );
    o.assert_err_mentions(&["json"]);
    assert_eq!(
        cg_read("memory", &rel, mem_file()),
        Some((128 * MIB).to_string())
    );
    assert_eq!(cg_read("pids", &rel, "pids.max").as_deref(), Some("100"));
    assert_eq!(env.status(&id), "running");
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// =============================================================================================
// 6. pause / resume (v1 freezer, v2 cgroup.freeze)
// =============================================================================================

#[test]
fn pause_resume_stops_and_restarts_the_container() {
    let env = TestEnv::new("cgpause");
    let b = env.bundle(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /shared/cnt; sleep 0.05; done",
    ]);
    let id = env.id();
    env.create_start(&b, &id);
    let cnt = b.shared_file("cnt");
    wait_for("the counter to reach 3", T, || {
        (fs::read_to_string(&cnt).ok()?.trim().parse::<u64>().ok()? >= 3).then_some(())
    });
    env.cmd(&["pause", &id]).assert_ok();
    assert_eq!(env.status(&id), "paused");
    let l = env.cmd(&["list", "--format", "json"]);
    l.assert_ok();
    let row = l
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{id} not listed: {l}"));
    assert_eq!(row["status"], "paused", "{row}");
    let a = read_counter(&cnt);
    std::thread::sleep(Duration::from_millis(400));
    let c = read_counter(&cnt);
    assert_eq!(a, c, "the counter advanced while paused");
    // exec into a paused container is refused (runc: "cannot exec in a paused container").
    env.cmd(&["exec", &id, "true"])
        .assert_err_mentions(&["paused"]);
    // A second pause of a paused container is an error, as is resuming a running one later.
    env.cmd(&["resume", &id]).assert_ok();
    assert_eq!(env.status(&id), "running");
    wait_for("the counter to advance after resume", T, || {
        (read_counter(&cnt) > c + 2).then_some(())
    });
    env.cmd(&["resume", &id]).assert_err();
    // delete -f of a paused container works and leaves no cgroup.
    env.cmd(&["pause", &id]).assert_ok();
    assert_eq!(env.status(&id), "paused");
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert!(existing_dirs(&format!("/{id}")).is_empty());
}

// =============================================================================================
// 7. ps, kill --all
// =============================================================================================

#[test]
fn ps_lists_init_and_children() {
    let env = TestEnv::new("cgps");
    let b = env.bundle(&["sh", "-c", "sleep 60 & touch /shared/ready; wait"]);
    let id = env.id();
    env.create_start(&b, &id);
    wait_file(&b.shared_file("ready"), T);
    let init = init_pid(&env, &id);
    let pids: Vec<i64> = wait_for("two processes in ps", T, || {
        let o = env.cmd(&["ps", "--format", "json", &id]);
        o.assert_ok();
        let v: Vec<i64> = o
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap())
            .collect();
        (v.len() == 2).then_some(v)
    });
    assert!(pids.contains(&init), "{pids:?} lacks the init {init}");
    let child = *pids.iter().find(|p| **p != init).unwrap();
    let comm = fs::read_to_string(format!("/proc/{child}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let t = env.cmd(&["ps", &id]);
    t.assert_ok();
    let mut lines = t.stdout.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .unwrap_or_else(|| panic!("no PID header: {t}"));
    let rows: Vec<i64> = lines
        .filter_map(|l| l.split_whitespace().nth(col)?.parse().ok())
        .collect();
    let mut rs = rows.clone();
    rs.sort();
    let mut ps = pids.clone();
    ps.sort();
    assert_eq!(rs, ps, "{t}");
    env.delete_force(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// `kill --all` signals every process of the cgroup. Without its own pid namespace a container's
// children outlive its init; --all is what reaches them.
#[test]
fn kill_all_without_pid_namespace() {
    let env = TestEnv::new("cgkillall");
    let script = "sleep 60 & sleep 61 & touch /shared/ready; wait";
    let mk = || {
        env.bundle_with(|s, _| {
            drop_ns(s, &["pid"]);
            set_args(s, &["sh", "-c", script]);
        })
    };
    let list = |id: &str| -> Vec<i64> {
        let o = env.cmd(&["ps", "--format", "json", id]);
        o.assert_ok();
        o.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap())
            .collect()
    };
    // A running container with an init and two children; their pids.
    let start3 = || {
        let b = mk();
        let id = env.id();
        env.create_start(&b, &id);
        wait_file(&b.shared_file("ready"), T);
        let pids = wait_for("3 processes", T, || {
            let v = list(&id);
            (v.len() == 3).then_some(v)
        });
        (b, id, pids)
    };
    // Control: killing only the init leaves the children running in the cgroup.
    let (b, id, before) = start3();
    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", T);
    let left: Vec<i64> = before.iter().copied().filter(|p| pid_alive(*p)).collect();
    assert_eq!(left.len(), 2, "children should outlive the init: {left:?}");
    // delete cleans them up (no pid namespace to take them down).
    env.delete(&id).assert_ok();
    wait_for("the children to be gone after delete", T, || {
        (!left.iter().any(|p| pid_alive(*p))).then_some(())
    });
    env.assert_nothing_left(&id, &b);

    let (b, id, pids) = start3();
    env.cmd(&["kill", "--all", &id, "KILL"]).assert_ok();
    wait_for("every process to die", T, || {
        (!pids.iter().any(|p| pid_alive(*p))).then_some(())
    });
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);

    // Once the init has exited, `kill --all` on the stopped container still reaches what is
    // left in its cgroup, as with runc: the runc v2 shim sends it when such an init exits.
    let (b, id, pids) = start3();
    env.kill(&id, "KILL").assert_ok();
    env.wait_status(&id, "stopped", T);
    env.cmd(&["kill", "--all", &id, "KILL"]).assert_ok();
    wait_for("the children to die", T, || {
        (!pids.iter().any(|p| pid_alive(*p))).then_some(())
    });
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
}

// =============================================================================================
// 8. Bad values: a clear error naming the field, nothing left behind
// =============================================================================================

#[test]
fn bad_resource_values_fail_create_cleanly() {
    let env = TestEnv::new("cgbad");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"memory": {"limit": -2 * MIB}}),
            "linux.resources.memory.limit",
        ),
        (
            json!({"memory": {"limit": 64 * MIB, "swap": 32 * MIB}}),
            "linux.resources.memory.swap",
        ),
        (json!({"pids": {"limit": -5}}), "linux.resources.pids.limit"),
        (json!({"cpu": {"quota": -100}}), "linux.resources.cpu.quota"),
        (
            json!({"cpu": {"cpus": "1000-1001"}}),
            "linux.resources.cpu.cpus",
        ),
        (json!({"cpu": {"mems": "500"}}), "linux.resources.cpu.mems"),
        (
            json!({"unified": {"memory.max": "1000000"}, "pids": {"limit": 5}}),
            "linux.resources.unified",
        ),
    ];
    for (res, field) in cases {
        if field.ends_with("unified") && is_v2() {
            continue; // valid on v2; resources_unified covers unknown keys there
        }
        let b = env.bundle_with(|s, _| {
            let mut r = json!({"devices": [{"allow": false, "access": "rwm"}]});
            for (k, v) in res.as_object().unwrap() {
                r[k] = v.clone();
            }
            s["linux"]["resources"] = r;
        });
        assert_create_fails(&env, &b, &[field], &["/{id}".to_string()]);
    }
    // The same through an explicit cgroupsPath: its parent dirs go too.
    let tag = format!("/hkbad-{}", std::process::id());
    let _g = CgGuard(vec![tag.clone()]);
    let b = env.bundle_with(|s, _| {
        s["linux"]["cgroupsPath"] = json!(format!("{tag}/a/b"));
        s["linux"]["resources"]["cpu"] = json!({"cpus": "1000-1001"});
    });
    assert_create_fails(
        &env,
        &b,
        &["linux.resources.cpu.cpus"],
        std::slice::from_ref(&tag),
    );
}
