//! Mounts, devices and the root filesystem: config.md "Mounts" (options), config.md "Root"
//! (readonly), config-linux.md "Devices", "Rootfs Mount Propagation", runc's `--no-pivot`.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test mounts`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const EROFS: i64 = libc::EROFS as i64;
const T: std::time::Duration = std::time::Duration::from_secs(10);

fn push_mount(s: &mut Value, m: Value) {
    s["mounts"].as_array_mut().unwrap().push(m);
}

/// Runs `sh -c script` in the container (foreground `run`), returns stdout.
fn run_sh(env: &TestEnv, b: &Bundle) -> String {
    let id = env.id();
    let out = env.run(b, &id);
    out.assert_ok();
    env.assert_nothing_left(&id, b);
    out.stdout
}

fn mount_cmd(args: &[&str]) {
    let st = std::process::Command::new("mount")
        .args(args)
        .status()
        .expect("running mount");
    assert!(st.success(), "mount {args:?} failed");
}

// config.md "Mounts" options: `ro` on a bind mount makes it read-only (writes fail with EROFS)
// while the source stays writable on the host; `rro` (recursive read-only, mount_setattr) makes
// every submount of an rbind read-only too; a propagation option ("private", "rslave") is
// applied (for "shared" see `mount_propagation_option_shared`); tmpfs data options (size, mode) reach the kernel; nosuid, nodev,
// noexec are visible in mountinfo.
#[test]
fn mount_options_applied() {
    let env = TestEnv::new("mountopts");
    // Host dirs: ro/ with a file; rro/ with a tmpfs submount rro/sub.
    let ro = env.base().join("ro");
    let rro = env.base().join("rro");
    let sub = rro.join("sub");
    fs::create_dir_all(&ro).unwrap();
    fs::create_dir_all(&sub).unwrap();
    fs::write(ro.join("f"), "orig").unwrap();
    mount_cmd(&[
        "-t",
        "tmpfs",
        "-o",
        "size=64k",
        "hk-sub",
        sub.to_str().unwrap(),
    ]);
    fs::write(sub.join("f"), "orig").unwrap();
    let pb = env.base().join("prop");
    fs::create_dir_all(&pb).unwrap();

    let b = env.bundle_with(|s, _| {
        push_mount(
            s,
            json!({"destination": "/mnt/ro", "type": "bind", "source": ro.to_str().unwrap(),
                   "options": ["bind", "ro"]}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/rro", "type": "bind", "source": rro.to_str().unwrap(),
                   "options": ["rbind", "rro"]}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/private", "type": "bind", "source": pb.to_str().unwrap(),
                   "options": ["rbind", "private"]}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/rslave", "type": "bind", "source": pb.to_str().unwrap(),
                   "options": ["rbind", "rslave"]}),
        );
        push_mount(
            s,
            json!({"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}),
        );
        set_args(
            s,
            &[
                "sh",
                "-c",
                "/checker && /checker try-create /mnt/ro/f /mnt/ro/new /mnt/rro/f \
                 /mnt/rro/sub/f /mnt/rro/sub/new /mnt/tmp/new && /checker stat /mnt/tmp",
            ],
        );
    });
    let out = run_sh(&env, &b);
    let mut lines = out.lines();
    let r: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let w: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let st: Value = serde_json::from_str(lines.next().unwrap()).unwrap();

    // ro bind
    for p in [
        "/mnt/ro/f",
        "/mnt/ro/new",
        "/mnt/rro/f",
        "/mnt/rro/sub/f",
        "/mnt/rro/sub/new",
    ] {
        assert_eq!(w[p]["errno"], EROFS, "{p} writable: {w}");
    }
    assert!(mount_has_opt(mount_at(&r, "/mnt/ro").unwrap(), "ro"));
    assert!(mount_has_opt(mount_at(&r, "/mnt/rro").unwrap(), "ro"));
    let subm = mount_at(&r, "/mnt/rro/sub").expect("rbind carried the submount");
    assert!(mount_has_opt(subm, "ro"), "{subm}");
    assert_eq!(subm["fstype"], "tmpfs");
    // the sources stay writable on the host and were not modified
    assert_eq!(fs::read_to_string(ro.join("f")).unwrap(), "orig");
    assert_eq!(fs::read_to_string(sub.join("f")).unwrap(), "orig");
    assert!(!ro.join("new").exists());
    fs::write(ro.join("g"), "host can write").unwrap();
    fs::write(sub.join("g"), "host can write").unwrap();

    // propagation
    assert_eq!(
        mount_at(&r, "/mnt/private").unwrap()["propagation"],
        "private"
    );
    assert!(mount_at(&r, "/mnt/rslave").is_some());

    // tmpfs options
    let t = mount_at(&r, "/mnt/tmp").unwrap();
    assert_eq!(t["fstype"], "tmpfs");
    for o in ["nosuid", "nodev", "noexec", "rw"] {
        assert!(mount_has_opt(t, o), "/mnt/tmp lacks {o}: {t}");
    }
    let sup: Vec<&str> = t["super_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(sup.contains(&"size=1024k"), "{sup:?}");
    assert!(sup.contains(&"mode=700"), "{sup:?}");
    assert_eq!(st["/mnt/tmp"]["mode_octal"], "0700", "{st}");
    assert_eq!(w["/mnt/tmp/new"]["ok"], true, "{w}");
}

/// A bundle whose rootfs has `/evil` -> `<host base>/hostdir/newsub` (absolute, dangling inside
/// the rootfs) and a tmpfs mount on `/evil`. Returns (bundle, host dir, link target).
fn evil_symlink_bundle(env: &TestEnv) -> (Bundle, std::path::PathBuf, std::path::PathBuf) {
    let hostdir = env.base().join("hostdir");
    fs::create_dir_all(&hostdir).unwrap();
    let target = hostdir.join("newsub");
    let b = env.bundle_with(|s, _| {
        push_mount(
            s,
            json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs",
                   "options": ["size=64k"]}),
        );
        set_args(
            s,
            &[
                "sh",
                "-c",
                "echo inside > /evil/marker && /checker > /shared/report.json && \
                 touch /shared/ready && exec /checker wait-file /shared/go",
            ],
        );
    });
    std::os::unix::fs::symlink(&target, b.rootfs.join("evil")).unwrap();
    (b, hostdir, target)
}

#[track_caller]
fn assert_host_dir_untouched(hostdir: &Path) {
    assert!(
        mounts_under(hostdir).is_empty(),
        "mount on the host dir: {:?}",
        mounts_under(hostdir)
    );
    let entries: Vec<_> = fs::read_dir(hostdir).unwrap().flatten().collect();
    assert!(
        entries.is_empty(),
        "something was created in the host dir: {entries:?}"
    );
}

// config.md "Mounts" destination + runtime safety (CVE-2021-30465 class): a destination that is
// a symlink in the rootfs pointing to an absolute host path must never touch the host: whether
// the runtime accepts it or refuses it, nothing is created in or mounted on the host directory.
#[test]
fn symlink_destination_never_touches_host() {
    let env = TestEnv::new("symlinkhost");
    let (b, hostdir, _) = evil_symlink_bundle(&env);
    let id = env.id();
    let out = env.create(&b, &id);
    if out.ok() {
        env.start(&id).assert_ok();
        wait_file(&b.shared_file("ready"), T);
        assert_host_dir_untouched(&hostdir);
        fs::write(b.shared_file("go"), "").unwrap();
        env.wait_status(&id, "stopped", T);
        env.delete(&id).assert_ok();
    }
    env.assert_nothing_left(&id, &b);
    assert_host_dir_untouched(&hostdir);
}

// config.md "Mounts" destination: a symlink in the rootfs is followed *inside* the rootfs (as
// runc's securejoin does): the missing target directory is created in the rootfs and the mount
// lands there.
#[test]
fn symlink_destination_resolved_in_rootfs() {
    let env = TestEnv::new("symlinkdest");
    let (b, hostdir, target) = evil_symlink_bundle(&env);
    let id = env.id();
    env.create_start(&b, &id);
    wait_file(&b.shared_file("ready"), T);
    let r: Value =
        serde_json::from_str(&fs::read_to_string(b.shared_file("report.json")).unwrap()).unwrap();
    let m = mount_at(&r, target.to_str().unwrap())
        .unwrap_or_else(|| panic!("no mount at the in-rootfs target: {}", r["mounts"]));
    assert_eq!(m["fstype"], "tmpfs", "{m}");
    assert_host_dir_untouched(&hostdir);
    fs::write(b.shared_file("go"), "").unwrap();
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
    env.assert_nothing_left(&id, &b);
    assert_host_dir_untouched(&hostdir);
    let inside = b.rootfs.join(target.strip_prefix("/").unwrap());
    assert!(inside.is_dir(), "{} not created", inside.display());
}

// config.md "Mounts" destination: a symlink to an existing directory of the rootfs (absolute
// link target, interpreted in the rootfs) is followed; the mount is at the link's target.
#[test]
fn symlink_destination_to_existing_dir() {
    let env = TestEnv::new("symlinkok");
    let b = env.bundle_with(|s, _| {
        push_mount(
            s,
            json!({"destination": "/lnk", "type": "tmpfs", "source": "tmpfs",
                   "options": ["size=64k"]}),
        );
        push_mount(
            s,
            json!({"destination": "/lnk2/sub", "type": "tmpfs", "source": "tmpfs",
                   "options": ["size=64k"]}),
        );
    });
    // /work exists in the rootfs and on the host (the repo); /home only in the rootfs matters.
    std::os::unix::fs::symlink("/work", b.rootfs.join("lnk")).unwrap();
    std::os::unix::fs::symlink("/home", b.rootfs.join("lnk2")).unwrap();
    let r = env.run_checker(&b);
    assert_eq!(
        mount_at(&r, "/work").map(|m| &m["fstype"]),
        Some(&json!("tmpfs"))
    );
    assert_eq!(
        mount_at(&r, "/home/sub").map(|m| &m["fstype"]),
        Some(&json!("tmpfs"))
    );
    assert!(mount_at(&r, "/lnk").is_none());
    assert!(b.rootfs.join("home/sub").is_dir());
}

// config-linux.md "Devices": a device node with type, major/minor, fileMode, uid and gid.
#[test]
fn linux_devices_created_with_mode_and_owner() {
    let env = TestEnv::new("devices");
    let b = env.bundle_with(|s, _| {
        s["linux"]["devices"] = json!([
            {"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o600, "uid": 1, "gid": 2},
            {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5,
             "fileMode": 0o640, "uid": 0, "gid": 0}
        ]);
        set_args(s, &["/checker", "stat", "/dev/mydev", "/dev/sub/myzero"]);
    });
    let v: Value = serde_json::from_str(run_sh(&env, &b).trim()).unwrap();
    let d = &v["/dev/mydev"];
    assert_eq!(d["type"], "c", "{d}");
    assert_eq!(
        (d["major"].as_u64(), d["minor"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(d["mode_octal"], "0600", "{d}");
    assert_eq!(
        (d["uid"].as_u64(), d["gid"].as_u64()),
        (Some(1), Some(2)),
        "{d}"
    );
    let z = &v["/dev/sub/myzero"];
    assert_eq!(z["type"], "c", "{z}");
    assert_eq!(
        (z["major"].as_u64(), z["minor"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(z["mode_octal"], "0640", "{z}");
}

// config.md "Root" readonly: writing to / fails with EROFS; a tmpfs mounted at /tmp stays
// writable.
#[test]
fn readonly_root_with_writable_tmpfs() {
    let env = TestEnv::new("rootro");
    let b = env.bundle_with(|s, _| {
        s["root"]["readonly"] = true.into();
        push_mount(
            s,
            json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "nodev", "mode=1777"]}),
        );
        set_args(
            s,
            &[
                "/checker",
                "try-create",
                "/newfile",
                "/etc/passwd",
                "/tmp/x",
            ],
        );
    });
    let v: Value = serde_json::from_str(run_sh(&env, &b).trim()).unwrap();
    assert_eq!(v["/newfile"]["errno"], EROFS, "{v}");
    assert_eq!(v["/etc/passwd"]["errno"], EROFS, "{v}");
    assert_eq!(v["/tmp/x"]["ok"], true, "{v}");
    assert!(!b.rootfs.join("newfile").exists());

    // and readonly false: / is writable
    let b = env.bundle_with(|s, _| {
        s["root"]["readonly"] = false.into();
        set_args(s, &["/checker", "try-create", "/newfile"]);
    });
    let v: Value = serde_json::from_str(run_sh(&env, &b).trim()).unwrap();
    assert_eq!(v["/newfile"]["ok"], true, "{v}");
    assert!(b.rootfs.join("newfile").exists());
}

// config-linux.md "Rootfs Mount Propagation": private and slave are accepted and the container
// runs; with private no container mount is a slave (shared/unbindable: separate tests below).
#[test]
fn rootfs_propagation_values() {
    let env = TestEnv::new("rootprop");
    for p in ["private", "slave"] {
        let b = env.bundle_with(|s, _| {
            s["linux"]["rootfsPropagation"] = p.into();
        });
        let id = env.id();
        let out = env.run(&b, &id);
        out.assert_ok();
        let r = out.json();
        assert_eq!(r["pid"], 1, "{p}");
        env.assert_nothing_left(&id, &b);
        // The host's mount table gained nothing under the bundle either way.
        assert!(mounts_under(&b.path).is_empty(), "{p}");
        if p == "private" {
            // With private, no mount of the container receives propagation from the host.
            let ms = r["mounts"].as_array().unwrap();
            assert!(
                ms.iter()
                    .all(|m| !m["propagation"].as_str().unwrap_or("").contains("slave")),
                "{p}: {}",
                r["mounts"]
            );
        }
    }
}

// config-linux.md "Rootfs Mount Propagation": "shared" (the rootfs mount is in a new peer group).
#[test]
fn rootfs_propagation_shared() {
    let env = TestEnv::new("rootshared");
    let b = env.bundle_with(|s, _| s["linux"]["rootfsPropagation"] = "shared".into());
    let r = env.run_checker(&b);
    assert_eq!(r["pid"], 1);
}

// config-linux.md "Rootfs Mount Propagation": "unbindable" is one of the four valid values.
#[test]
fn rootfs_propagation_unbindable() {
    let env = TestEnv::new("rootunbind");
    let b = env.bundle_with(|s, _| s["linux"]["rootfsPropagation"] = "unbindable".into());
    let r = env.run_checker(&b);
    assert_eq!(r["pid"], 1);
}

// config.md "Mounts" options: the propagation option "shared" makes the mount a member of a
// (new) peer group, visible as `shared:N` in mountinfo; also together with rootfsPropagation
// "shared".
#[test]
fn mount_propagation_option_shared() {
    let env = TestEnv::new("mountshared");
    for rootprop in [None, Some("private")] {
        let b = env.bundle_with(|s, shared| {
            if let Some(p) = rootprop {
                s["linux"]["rootfsPropagation"] = p.into();
            }
            push_mount(
                s,
                json!({"destination": "/mnt/shared", "type": "bind",
                       "source": shared.to_str().unwrap(), "options": ["rbind", "shared"]}),
            );
        });
        let r = env.run_checker(&b);
        assert_eq!(
            mount_at(&r, "/mnt/shared").unwrap()["propagation"],
            "shared",
            "rootfsPropagation {rootprop:?}"
        );
    }
}

// runc `create --no-pivot`: the rootfs is moved onto / and chrooted into; the container sees
// exactly its rootfs as / (same inode as the bundle's rootfs dir, no host paths).
#[test]
fn no_pivot_root_is_rootfs() {
    let env = TestEnv::new("nopivot");
    let b = env.bundle_with(|s, _| {
        set_args(s, &["sh", "-c", "/checker && /checker stat /marker /usr"]);
    });
    fs::write(b.rootfs.join("marker"), "rootfs").unwrap();
    let id = env.id();
    let out = env.cmd(&["run", "--no-pivot", "-b", b.path.to_str().unwrap(), &id]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    let r: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let st: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(
        r["root_stat"]["ino"].as_u64(),
        Some(fs::metadata(&b.rootfs).unwrap().ino()),
        "/ is not the rootfs: {}",
        r["root_stat"]
    );
    assert_eq!(st["/marker"]["type"], "f", "{st}");
    assert!(st["/usr"].get("error").is_some(), "host /usr visible: {st}");
    assert!(Path::new("/usr").exists());
    env.assert_nothing_left(&id, &b);
}
