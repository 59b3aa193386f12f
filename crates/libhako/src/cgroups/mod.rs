//! Cgroups (config-linux.md "Control groups"): placement of the container's init in its cgroup
//! before any user code runs, and removal at delete. v1 (including hybrid hosts) and v2 have a
//! module each. `linux.resources`: [`apply`] at create, [`update`] for `hako update`;
//! [`freeze`]/[`thaw`], [`stats`], [`oom_count`]/[`OomWatcher`] for pause/resume/events.
//! The v1→v2 conversions are documented in docs/cgroups.md.
use crate::{Context, Error, Result};
use oci_spec::runtime::{Linux, LinuxDeviceCgroup, LinuxResources};
use std::path::{Path, PathBuf};

pub mod conv;
pub mod devices_bpf;
pub mod resources;
pub mod resources_v1;
pub mod resources_v2;
pub mod stats;
#[cfg(test)]
mod tests;
pub mod v1;
pub mod v2;

pub use stats::{oom_count, stats, stats_event, OomWatcher};

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

pub(crate) use crate::read_text;

/// /proc/self/mountinfo as this process first read it. hako never mounts in its own mount
/// namespace (only the init does, after it is cloned, and it wants the host's view), and a
/// create looks up the cgroup mounts five times: read it once per process. The init inherits
/// the parent's copy.
pub(crate) fn mountinfo() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| read_text(Path::new("/proc/self/mountinfo")).unwrap_or_default())
}

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

/// The placement of a container whose init will move itself into its cgroups (see
/// [`self_move_in`]): on a v1 host without a cgroup2 directory to join, the directories are
/// planned now and created by [`create_planned`] while the init sets up its mounts. None when
/// the placement must be made before the clone (v2 and hybrid hosts: CLONE_INTO_CGROUP).
pub fn plan_late(cgroups_path: Option<&Path>, id: &str) -> Result<Option<Placement>> {
    let rel = container_path(cgroups_path, id);
    check_path(&rel)?;
    if detect() != Mode::Legacy {
        return Ok(None);
    }
    let p = v1::plan(&rel);
    if p.paths.iter().any(|d| !v1::is_v1_dir(d)) {
        return Ok(None);
    }
    Ok(Some(p))
}

/// Create the directories of a [`plan_late`] placement.
pub fn create_planned(p: &mut Placement) -> Result<()> {
    v1::create_dirs(p)
}

/// Run by the init (single-threaded, still in the host's mount view): move itself into each
/// v1 hierarchy of the placement by writing "0" to `tasks`. A thread moving itself does not
/// take the thread-group lock that moving a whole process (`cgroup.procs`, or another task)
/// does, whose RCU wait cost 5 to 25 ms a few times in a hundred here.
pub fn self_move_in(p: &Placement) -> Result<()> {
    for dir in &p.paths {
        let f = dir.join("tasks");
        std::fs::write(&f, "0").with_ctx(|| format!("join cgroup: write {}", f.display()))?;
    }
    Ok(())
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
        if let Ok(s) = read_text(&dir.join("cgroup.procs")) {
            out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the container's cgroup is frozen (v1 freezer or v2 cgroup.freeze).
pub fn is_frozen(paths: &[PathBuf]) -> bool {
    // v1: only the freezer hierarchy's directory has freezer.state. `list` asks this for every
    // container: go straight there instead of trying each hierarchy in turn (about ten failed
    // opens in cgroupfs per container).
    let freezer = v1::hierarchies()
        .iter()
        .find(|h| h.controllers.iter().any(|c| c == "freezer"))
        .map(|h| &h.mountpoint);
    if let Some(dir) = freezer.and_then(|m| paths.iter().find(|p| p.starts_with(m))) {
        return read_text(&dir.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN");
    }
    for dir in paths {
        if let Ok(s) = read_text(&dir.join("cgroup.freeze")) {
            return s.trim() == "1";
        }
        if let Ok(s) = read_text(&dir.join("freezer.state")) {
            return s.trim() == "FROZEN";
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
        // A parent that create made may be shared by now (podman's /libpod_parent): removing
        // it is best effort. The container's own directories must go.
        let parent = dirs.iter().any(|o| o != d && o.starts_with(d));
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if parent => {
                    tracing::debug!("keep cgroup {}: {e}", d.display());
                    break;
                }
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

/// The resources to apply for a container: `linux.resources`, plus an allow rule (rwm) for
/// every device node of `linux.devices` (runc does the same), so the devices the runtime
/// creates are usable. Pass the result to [`apply`].
pub fn effective_resources(linux: &Linux) -> LinuxResources {
    let mut r = linux.resources().clone().unwrap_or_default();
    let mut rules: Vec<LinuxDeviceCgroup> = r.devices().clone().unwrap_or_default();
    for d in linux.devices().iter().flatten() {
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true);
        rule.set_typ(Some(d.typ()));
        rule.set_major(Some(d.major()));
        rule.set_minor(Some(d.minor()));
        rule.set_access(Some("rwm".into()));
        rules.push(rule);
    }
    r.set_devices(Some(rules));
    r
}

/// Apply `linux.resources` to the freshly created cgroup(s), before the init joins them (so
/// limits, cpuset and the device filter are in force before any container code runs). On v2
/// the controllers are first enabled in every ancestor's cgroup.subtree_control. Everything is
/// validated before the first write. The device rules are always set (default deny + defaults)
/// even if `r.devices` is empty. On error the caller removes the directories
/// (`remove(&p.created)`): nothing else is left behind.
///
/// `pid_ns_private` is accepted for the caller's convenience and currently unused.
pub fn apply(p: &Placement, r: &LinuxResources, pid_ns_private: bool) -> Result<()> {
    let _ = pid_ns_private;
    resources::validate_common(r)?;
    match &p.unified {
        Some(dir) => resources_v2::apply(dir, r, true),
        None => resources_v1::apply(&p.paths, r, true),
    }
}

/// `hako update`: apply the fields set in `r` to a live container's cgroups (devices only if
/// `r.devices` is set). With v1 memory limits, the memsw/limit write order is chosen so that
/// raising and lowering both work.
pub fn update(paths: &[PathBuf], r: &LinuxResources) -> Result<()> {
    resources::validate_common(r)?;
    match detect() {
        Mode::Unified => {
            let dir = paths
                .first()
                .ok_or_else(|| Error::state("the container has no cgroup"))?;
            resources_v2::apply(dir, r, false)
        }
        Mode::Legacy => resources_v1::apply(paths, r, false),
    }
}

/// How long freeze/thaw wait for the state to settle.
const FREEZE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Freeze every task in the container (`pause`): v1 freezer.state FROZEN, v2 cgroup.freeze 1,
/// waiting (bounded) until the kernel reports the cgroup frozen. On timeout the cgroup is
/// thawed again and an error returned.
pub fn freeze(paths: &[PathBuf]) -> Result<()> {
    set_frozen(paths, true).inspect_err(|_| {
        let _ = set_frozen(paths, false);
    })
}

/// Thaw a frozen cgroup (before killing: frozen tasks cannot die). Best effort; see
/// [`thaw_checked`] for `resume`.
pub fn thaw(paths: &[PathBuf]) {
    if let Err(e) = set_frozen(paths, false) {
        tracing::warn!("thaw: {e}");
    }
}

/// Thaw, waiting until the kernel reports the cgroup thawed (`resume`).
pub fn thaw_checked(paths: &[PathBuf]) -> Result<()> {
    set_frozen(paths, false)
}

fn set_frozen(paths: &[PathBuf], frozen: bool) -> Result<()> {
    for dir in paths {
        let f = dir.join("freezer.state");
        if f.exists() {
            return freeze_v1(&f, frozen);
        }
        let f = dir.join("cgroup.freeze");
        if f.exists() {
            return freeze_v2(dir, frozen);
        }
    }
    if frozen {
        Err(Error::other("the container has no freezer cgroup"))
    } else {
        Ok(())
    }
}

fn freeze_v1(f: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_micros(100);
    let mut n = 0u32;
    loop {
        // Re-writing kicks a freeze that got stuck in FREEZING (tasks that were forking).
        if n.is_multiple_of(10) {
            resources::write_file(f, want)
                .map_err(|e| Error::io(format!("write {want} to {}", f.display()), e))?;
        }
        n += 1;
        let cur = resources::read(f).unwrap_or_default();
        if cur == want {
            return Ok(());
        }
        if start.elapsed() > FREEZE_TIMEOUT {
            return Err(Error::other(format!(
                "{}: still {cur} after {:?} (wanted {want})",
                f.display(),
                FREEZE_TIMEOUT
            )));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_millis(10));
    }
}

fn freeze_v2(dir: &Path, frozen: bool) -> Result<()> {
    use std::os::fd::AsFd;
    let f = dir.join("cgroup.freeze");
    resources::write_file(&f, if frozen { "1" } else { "0" })
        .map_err(|e| Error::io(format!("write {}", f.display()), e))?;
    let ev = dir.join("cgroup.events");
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    let file =
        std::fs::File::open(&ev).map_err(|e| Error::io(format!("open {}", ev.display()), e))?;
    let start = std::time::Instant::now();
    loop {
        let mut buf = [0u8; 256];
        let n = nix::sys::uio::pread(&file, &mut buf, 0).ctx(format!("read {}", ev.display()))?;
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l.trim() == want)
        {
            return Ok(());
        }
        let left = FREEZE_TIMEOUT.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(Error::other(format!(
                "{}: no \"{want}\" after {:?}",
                ev.display(),
                FREEZE_TIMEOUT
            )));
        }
        // cgroup.events signals changes with POLLPRI (kernfs_notify).
        let mut fds = [nix::poll::PollFd::new(
            file.as_fd(),
            nix::poll::PollFlags::POLLPRI,
        )];
        let ms = left.as_millis().min(100) as u16;
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
    }
}

/// The parent's temporary stay in the container's v1 cgroups, around the clone of the init.
///
/// On cgroup v1, the first write of another task's pid to `cgroup.procs` after an idle moment
/// waits for an RCU grace period (the write side of `cgroup_threadgroup_rwsem`): 5-10 ms here,
/// the largest single cost of `create`. A thread that moves *itself* by writing "0" to `tasks`
/// does not take that lock (see the kernel's `cgroup_procs_write_start`), ~0.2 ms. So the
/// single-threaded parent moves itself in, clones the init (born in place: nothing left to
/// migrate), and moves itself back. A cgroup2 directory (hybrid hosts) is joined with
/// CLONE_INTO_CGROUP instead.
pub struct SelfMove {
    back: Vec<PathBuf>,
    /// A cgroup2 directory of the placement, for CLONE_INTO_CGROUP.
    pub unified: Option<PathBuf>,
}

/// Move the calling (single-threaded) process into the placement's v1 cgroups.
/// Returns None when that is not possible (then use [`enter`] after the clone).
pub fn self_enter(p: &Placement, pids_limit: Option<i64>) -> Option<SelfMove> {
    // The parent and the init both count against pids.max while we are inside.
    if pids_limit.is_some_and(|l| (0..2).contains(&l)) {
        return None;
    }
    let hier = v1::hierarchies();
    let self_cg = read_text(Path::new("/proc/self/cgroup")).unwrap_or_default();
    let mut sm = SelfMove {
        back: Vec::new(),
        unified: None,
    };
    for dir in &p.paths {
        if !dir.join("tasks").exists() {
            if sm.unified.is_some() {
                sm.leave_quietly();
                return None;
            }
            sm.unified = Some(dir.clone());
            continue;
        }
        let Some(h) = hier.iter().find(|h| dir.starts_with(&h.mountpoint)) else {
            sm.leave_quietly();
            return None;
        };
        let own = v1::dir_in(h, &v1::own_in(&self_cg, &h.controllers));
        if std::fs::write(dir.join("tasks"), "0").is_err() {
            sm.leave_quietly();
            return None;
        }
        sm.back.push(own.join("tasks"));
    }
    Some(sm)
}

impl SelfMove {
    /// Move back to where we were.
    pub fn leave(mut self) -> Result<()> {
        let back = std::mem::take(&mut self.back);
        for t in back {
            std::fs::write(&t, "0")
                .with_ctx(|| format!("return to cgroup: write {}", t.display()))?;
        }
        Ok(())
    }
    fn leave_quietly(&mut self) {
        for t in std::mem::take(&mut self.back) {
            let _ = std::fs::write(&t, "0");
        }
    }
}

impl Drop for SelfMove {
    fn drop(&mut self) {
        self.leave_quietly();
    }
}
