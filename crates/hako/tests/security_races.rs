//! Race tests for the container-escape classes where the image (or another container sharing
//! a volume) changes the rootfs *while* the runtime sets it up (issue: security). A host thread
//! keeps exchanging a directory and a symlink in the rootfs with `renameat2(RENAME_EXCHANGE)`
//! while containers are created; the mounts must land inside the rootfs every time.
//!
//! Run against runc with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako --test
//! security_races` to compare.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Exchanges `a` and `b` (any two entries of one filesystem) in a loop until dropped.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(a: &Path, b: &Path) -> Swapper {
        let ca = std::ffi::CString::new(a.to_str().unwrap()).unwrap();
        let cb = std::ffi::CString::new(b.to_str().unwrap()).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicUsize::new(0));
        let (st, sw) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                // SAFETY: renameat2 with two valid C strings.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        ca.as_ptr(),
                        libc::AT_FDCWD,
                        cb.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                if r == 0 {
                    sw.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Swapper {
            stop,
            swaps,
            thread: Some(thread),
        }
    }
    fn swaps(&self) -> usize {
        self.swaps.load(Ordering::Relaxed)
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One line of mountinfo: (root within its filesystem, mount point, mount options).
fn mountinfo(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 5).then(|| (f[3].to_string(), f[4].to_string(), f[5].to_string()))
        })
        .collect()
}

/// The iteration count: `$HAKO_RACE_ITERATIONS`, else 60.
fn iterations() -> usize {
    std::env::var("HAKO_RACE_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

// CVE-2021-30465: the destination of a bind mount ("ro") is /mnt/a, and a host thread keeps
// exchanging rootfs/mnt/a (a directory) with rootfs/mnt/b (a symlink to a host directory
// outside the rootfs) while containers are created, `iterations()` times. Every time:
// * in the container's mount namespace before pivot_root (a createContainer hook dumps its
//   mountinfo), no mount point is the host directory or outside the rootfs except the host's
//   own mounts;
// * inside the container the volume is mounted (its mountinfo has it) and read-only (a write
//   fails): a remount that re-resolved the swapped path would leave it writable or fail;
// * on the host, the host directory is empty and not a mount point.
// A create that fails is safe (counted; with hako at least 3/4 must succeed: a failure is a
// lost container, and the first version, which re-resolved the path to remount, failed half).
// Can fail: checked by making hako mount onto the path (`rootfs.join(dest)`) instead of the
// resolved fd: the hook then sees the mount on the host directory within a few iterations.
#[test]
fn cve_2021_30465_mount_destination_swap_race() {
    let env = TestEnv::new("race30465");
    let host = env.base().join("hostdir");
    fs::create_dir_all(&host).unwrap();
    let src = env.base().join("volume");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("marker"), "volume\n").unwrap();
    let dump = env.base().join("mountinfo");
    let b = env.bundle_with(|s, _| {
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/a", "type": "bind", "source": src.to_str().unwrap(),
            "options": ["rbind", "ro"]
        }));
        s["hooks"] = json!({"createContainer": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat /proc/self/mountinfo > {}", dump.display())]
        }]});
        set_args(
            s,
            &[
                "sh",
                "-c",
                // The write must not reach the volume (checked on the host); /mnt/a may be the
                // symlink to /dev/shm by now, where it is allowed.
                "cat /proc/self/mountinfo; touch /mnt/a/written /mnt/b/written 2>/dev/null; true",
            ],
        );
    });
    let a = b.rootfs.join("mnt/a");
    let lnk = b.rootfs.join("mnt/b");
    fs::create_dir_all(&a).unwrap();
    let rootfs = fs::canonicalize(&b.rootfs).unwrap();
    let src_s = src.to_str().unwrap().to_string();
    let host_s = host.to_str().unwrap().to_string();
    // The symlink points at the host directory, then at a mount root of the container
    // (/dev/shm): a remount that re-resolved the path would make /dev/shm read-only and
    // leave the volume writable.
    for target in [host_s.as_str(), "/dev/shm"] {
        let _ = fs::remove_file(&lnk);
        let _ = fs::remove_dir(&lnk);
        let _ = fs::remove_file(&a);
        fs::create_dir_all(&a).unwrap();
        std::os::unix::fs::symlink(target, &lnk).unwrap();
        let (mut ok, mut failed) = (0, Vec::new());
        let sw = Swapper::start(&a, &lnk);
        for i in 0..iterations() {
            let _ = fs::remove_file(&dump);
            let id = env.id();
            let o = env.run(&b, &id);
            // Before pivot_root, in the container's mount namespace.
            if let Ok(text) = fs::read_to_string(&dump) {
                for (root, mp, _) in mountinfo(&text) {
                    assert!(
                        !Path::new(&mp).starts_with(&host),
                        "{target} #{i}: a mount on the host directory {mp}: {text}"
                    );
                    if root == src_s {
                        assert!(
                            Path::new(&mp).starts_with(&rootfs),
                            "{target} #{i}: the volume is mounted outside the rootfs at {mp}"
                        );
                    }
                }
            }
            if o.ok() {
                ok += 1;
                let vol: Vec<_> = mountinfo(&o.stdout)
                    .into_iter()
                    .filter(|(root, _, _)| *root == src_s)
                    .collect();
                assert!(
                    !vol.is_empty(),
                    "{target} #{i}: the volume is not mounted in the container: {o}"
                );
                for (_, mp, opts) in &vol {
                    assert!(
                        opts.split(',').any(|x| x == "ro"),
                        "{target} #{i}: the volume at {mp} is not read-only: {o}"
                    );
                }
            } else {
                failed.push(o.stderr.trim().to_string());
            }
            assert_eq!(
                fs::read_dir(&host).unwrap().count(),
                0,
                "{target} #{i}: something was created in the host directory"
            );
            assert!(
                mounts_under(&host).is_empty(),
                "{target} #{i}: {host_s} is a mount point on the host"
            );
            assert!(
                !src.join("written").exists(),
                "{target} #{i}: volume written"
            );
            env.assert_nothing_left(&id, &b);
        }
        let swaps = sw.swaps();
        drop(sw);
        eprintln!(
            "{target}: {ok} created, {} failed, {swaps} swaps; failures: {:?}",
            failed.len(),
            failed.iter().take(3).collect::<Vec<_>>()
        );
        assert!(swaps > 100, "the swapper did not run ({swaps} swaps)");
        // hako attaches the mount by fd with its options already set, so the race makes no
        // create fail; runc 1.1.5 refuses most of them ("possibly malicious path"), which is
        // safe but only checked for hako.
        assert!(
            !is_hako() || ok * 4 >= iterations() * 3,
            "{target}: too few creates succeeded ({ok}): {failed:?}"
        );
    }
}
