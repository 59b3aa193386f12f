//! Cgroups (config-linux.md "Control groups"): placement of the container's init in its cgroup
//! before any user code runs, and removal at delete. v1 (including hybrid hosts) and v2 have a
//! module each; resource limits slot in here.
use crate::{Context, Error, Result};
use std::path::{Path, PathBuf};

pub mod v1;
pub mod v2;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Which cgroup layout the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only cgroup v2, at /sys/fs/cgroup.
    Unified,
    /// cgroup v1 hierarchies (possibly with a cgroup2 mount beside them: "hybrid").
    Legacy,
}

pub fn detect() -> Mode {
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: statfs on a constant path into a zeroed struct.
    let r = unsafe { libc::statfs(c"/sys/fs/cgroup".as_ptr(), &mut st) };
    if r == 0 && st.f_type as i64 == CGROUP2_SUPER_MAGIC {
        Mode::Unified
    } else {
        Mode::Legacy
    }
}

/// The cgroup a container gets: one directory per hierarchy.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub paths: Vec<PathBuf>,
    /// Directories that were created (deepest first), for removal.
    pub created: Vec<PathBuf>,
    /// On v2: the directory to clone into with CLONE_INTO_CGROUP.
    pub unified: Option<PathBuf>,
}

/// The container's cgroup path inside each hierarchy: `cgroupsPath` if set (absolute, or
/// relative to the runtime's own cgroup as config-linux.md says), else `/<id>` like runc.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> PathBuf {
    match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("/").join(id),
    }
}

/// Reject paths that would climb out of a hierarchy.
pub fn check_path(p: &Path) -> Result<()> {
    use std::path::Component;
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!("{:?} must not contain \"..\"", p),
        ));
    }
    Ok(())
}

/// Create the container's cgroup directories (nothing is joined yet).
pub fn prepare(cgroups_path: Option<&Path>, id: &str) -> Result<Placement> {
    let rel = container_path(cgroups_path, id);
    check_path(&rel)?;
    match detect() {
        Mode::Unified => v2::prepare(&rel),
        Mode::Legacy => v1::prepare(&rel),
    }
}

/// `mkdir -p`, recording each directory made (deepest last).
pub(crate) fn mkdir_all(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        mkdir_all(parent, created)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(format!("create cgroup {}", dir.display()), e)),
    }
}

/// Move `pid` into every hierarchy of the placement (v1, or v2 without CLONE_INTO_CGROUP).
pub fn enter(p: &Placement, pid: i32) -> Result<()> {
    let s = pid.to_string();
    for dir in &p.paths {
        let f = dir.join("cgroup.procs");
        std::fs::write(&f, &s).with_ctx(|| format!("join cgroup: write {}", f.display()))?;
    }
    Ok(())
}

/// Every pid in the container's cgroups.
pub fn pids(paths: &[PathBuf]) -> Vec<i32> {
    let mut out = Vec::new();
    for dir in paths {
        if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the container's cgroup is frozen (v1 freezer or v2 cgroup.freeze).
pub fn is_frozen(paths: &[PathBuf]) -> bool {
    for dir in paths {
        if let Ok(s) = std::fs::read_to_string(dir.join("freezer.state")) {
            return s.trim() == "FROZEN";
        }
        if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.freeze")) {
            return s.trim() == "1";
        }
    }
    false
}

/// Remove the directories create made, deepest first. Retries briefly on EBUSY: after the last
/// task exits, the kernel may still be tearing the cgroup down.
pub fn remove(created: &[PathBuf]) -> Result<()> {
    let mut dirs = created.to_vec();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in &dirs {
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                    tries += 1;
                    // Bounded wait for the kernel to finish removing exited tasks (≤ 1 s).
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(Error::io(format!("remove cgroup {}", d.display()), e)),
            }
        }
    }
    Ok(())
}

/// Thaw a frozen cgroup (before killing: frozen tasks cannot die).
pub fn thaw(paths: &[PathBuf]) {
    for dir in paths {
        let f = dir.join("freezer.state");
        if f.exists() {
            let _ = std::fs::write(&f, "THAWED");
        }
        let f = dir.join("cgroup.freeze");
        if f.exists() {
            let _ = std::fs::write(&f, "0");
        }
    }
}
