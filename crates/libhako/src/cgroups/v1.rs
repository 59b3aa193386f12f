//! cgroup v1: one directory per mounted hierarchy (including named ones like name=systemd).
//! On hybrid hosts the cgroup2 mount beside them (e.g. /sys/fs/cgroup/unified) is left alone
//! unless a controller the container needs lives only there.
use super::{mkdir_all, Placement};
use crate::Result;
use std::path::{Path, PathBuf};

/// A v1 hierarchy: where it is mounted, the cgroup path of its mount root, and its controllers.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    pub root: PathBuf,
    pub controllers: Vec<String>,
}

/// The cgroup v1 mounts of /proc/self/mountinfo (one per hierarchy; the first mount wins),
/// parsed once per process (see [`super::mountinfo`]).
pub fn hierarchies() -> &'static [Hierarchy] {
    static PARSED: std::sync::OnceLock<Vec<Hierarchy>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| parse_hierarchies(super::mountinfo()))
}

fn parse_hierarchies(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let post: Vec<&str> = post.split(' ').collect();
        if post.first() != Some(&"cgroup") {
            continue;
        }
        let pre: Vec<&str> = pre.split(' ').collect();
        if pre.len() < 5 {
            continue;
        }
        let root = PathBuf::from(unescape(pre[3]));
        let mountpoint = PathBuf::from(unescape(pre[4]));
        let controllers: Vec<String> = post
            .get(2)
            .map(|o| {
                o.split(',')
                    .filter(|x| {
                        !matches!(*x, "rw" | "ro")
                            && !x.starts_with("release_agent")
                            && *x != "clone_children"
                    })
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if out.iter().any(|h| h.controllers == controllers) {
            continue;
        }
        out.push(Hierarchy {
            mountpoint,
            root,
            controllers,
        });
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The runtime's own cgroup in the hierarchy with `controllers` (from /proc/self/cgroup).
fn own_cgroup(controllers: &[String]) -> PathBuf {
    own_in(
        &super::read_text(Path::new("/proc/self/cgroup")).unwrap_or_default(),
        controllers,
    )
}

/// Our cgroup for `controllers` in the text of /proc/self/cgroup (read once by callers that
/// look up several hierarchies).
pub fn own_in(text: &str, controllers: &[String]) -> PathBuf {
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (_, list, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or("/"));
        let names: Vec<&str> = list.split(',').collect();
        if !list.is_empty() && controllers.iter().all(|c| names.contains(&c.as_str())) {
            return PathBuf::from(path);
        }
    }
    PathBuf::from("/")
}

/// The directory of cgroup `rel` in hierarchy `h` (relative paths are under our own cgroup).
pub fn dir_in(h: &Hierarchy, rel: &Path) -> PathBuf {
    let abs = if rel.is_absolute() {
        rel.to_path_buf()
    } else {
        own_cgroup(&h.controllers).join(rel)
    };
    // The mount may expose a sub-tree (its root field); strip it.
    let inner = abs
        .strip_prefix(&h.root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| {
            abs.strip_prefix("/")
                .map(Path::to_path_buf)
                .unwrap_or(abs.clone())
        });
    h.mountpoint.join(inner)
}

pub fn prepare(rel: &Path) -> Result<Placement> {
    let mut p = plan(rel);
    create_dirs(&mut p)?;
    Ok(p)
}

/// The container's directories, one per hierarchy (plus the cgroup2 one on a hybrid host whose
/// cgroup2 mount owns controllers), without creating anything.
pub fn plan(rel: &Path) -> Placement {
    let mut p = Placement::default();
    for h in hierarchies() {
        p.paths.push(dir_in(h, rel));
    }
    // Hybrid host: a cgroup2 mount that owns controllers (e.g. hugetlb) gets a directory too,
    // so those limits apply; `enter` joins it like the v1 ones.
    if let Some(m) = unified_mount() {
        let owns = super::read_text(&m.join("cgroup.controllers"))
            .map(|s| !s.trim().is_empty())
            .unwrap_or(false);
        if owns {
            let abs = if rel.is_absolute() {
                rel.to_path_buf()
            } else {
                own_unified_cgroup().join(rel)
            };
            p.paths.push(m.join(abs.strip_prefix("/").unwrap_or(&abs)));
        }
    }
    p
}

/// `mkdir -p` every directory of a [`plan`], recording what was made in `created` (deepest
/// first). On failure what was made is removed again.
pub fn create_dirs(p: &mut Placement) -> Result<()> {
    let cpuset = hierarchies()
        .iter()
        .find(|h| h.controllers.iter().any(|c| c == "cpuset"))
        .map(|h| &h.mountpoint);
    let mut created = Vec::new();
    for dir in &p.paths {
        let before = created.len();
        let mut res = mkdir_all(dir, &mut created);
        if res.is_ok() && cpuset.is_some_and(|m| dir.starts_with(m)) {
            // A new v1 cpuset cgroup starts with empty cpus/mems and refuses tasks: inherit
            // the parent's, top-down.
            res = created[before..].iter().try_for_each(|d| inherit_cpuset(d));
        }
        if let Err(e) = res {
            created.reverse();
            let _ = super::remove(&created);
            return Err(e);
        }
    }
    created.reverse();
    p.created = created;
    Ok(())
}

/// Whether `dir` is in one of the v1 hierarchies (not the cgroup2 mount of a hybrid host).
pub fn is_v1_dir(dir: &Path) -> bool {
    hierarchies().iter().any(|h| dir.starts_with(&h.mountpoint))
}

/// The cgroup2 mount beside the v1 hierarchies on a hybrid host (root of the mount only).
pub fn unified_mount() -> Option<PathBuf> {
    super::mountinfo().lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if !post.starts_with("cgroup2 ") {
            return None;
        }
        let f: Vec<&str> = pre.split(' ').collect();
        let mnt = f.get(4)?;
        (f.get(3) == Some(&"/")).then(|| PathBuf::from(unescape(mnt)))
    })
}

fn own_unified_cgroup() -> PathBuf {
    let text = super::read_text(Path::new("/proc/self/cgroup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("0::").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn inherit_cpuset(dir: &Path) -> Result<()> {
    use crate::Context;
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let cur = super::read_text(&dir.join(f)).unwrap_or_default();
        if cur.trim().is_empty() {
            let v = super::read_text(&parent.join(f))
                .with_ctx(|| format!("read {}", parent.join(f).display()))?;
            std::fs::write(dir.join(f), v.trim())
                .with_ctx(|| format!("write {}", dir.join(f).display()))?;
        }
    }
    Ok(())
}
