//! cgroup v2 (the unified hierarchy at /sys/fs/cgroup). The init is cloned straight into its
//! cgroup with CLONE_INTO_CGROUP, which saves a migration.
use super::{mkdir_all, Placement};
use crate::Result;
use std::path::{Path, PathBuf};

pub const ROOT: &str = "/sys/fs/cgroup";

fn own_cgroup() -> PathBuf {
    let text = super::read_text(Path::new("/proc/self/cgroup")).unwrap_or_default();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("0::") {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("/")
}

pub fn dir_for(rel: &Path) -> PathBuf {
    let abs = if rel.is_absolute() {
        rel.to_path_buf()
    } else {
        own_cgroup().join(rel)
    };
    Path::new(ROOT).join(abs.strip_prefix("/").unwrap_or(&abs))
}

pub fn prepare(rel: &Path) -> Result<Placement> {
    let mut p = Placement::default();
    let dir = dir_for(rel);
    mkdir_all(&dir, &mut p.created)?;
    p.created.reverse();
    p.paths.push(dir.clone());
    p.unified = Some(dir);
    Ok(p)
}
