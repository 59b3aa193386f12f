//! Container state (runtime.md "State"): one directory per container under `--root`, holding
//! `state.json` (written atomically) and the start socket. Operations on one container are
//! serialized by an exclusive flock on that directory.
//!
//! The status is derived from the live process, never trusted from disk alone: a pid is only
//! "our" init if its start time (field 22 of /proc/PID/stat) matches the one recorded at create,
//! which makes status and signals robust against pid reuse.
use crate::{Context, Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const START_SOCKET: &str = "start.sock";
/// The container's config.json as it was at create (for `exec`).
pub const CONFIG_FILE: &str = "config.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What hako keeps about a container on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of the init (clock ticks since boot), to detect pid reuse.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Set by `start` once the user program was exec'd.
    #[serde(default)]
    pub started: bool,
    /// Cgroup directories of the container, one per hierarchy.
    #[serde(default)]
    pub cgroup_paths: Vec<PathBuf>,
    /// Cgroup directories create made (deepest first): exactly what delete removes.
    #[serde(default)]
    pub cgroups_created: Vec<PathBuf>,
    /// Whether the container has its own pid namespace (delete must then only kill the init).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// The config's hooks, kept for poststop at delete (the bundle may have changed by then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<serde_json::Value>,
}

/// The document `hako state` prints: state-schema.json plus runc's extra fields.
#[derive(Debug, Serialize)]
pub struct PublicState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

impl State {
    pub fn public(&self, status: Status) -> PublicState<'_> {
        PublicState {
            oci_version: &self.oci_version,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }

    /// The status of the container now, from its process.
    pub fn status(&self) -> Status {
        if self.pid <= 0 || !process_alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if crate::cgroups::is_frozen(&self.cgroup_paths) {
            return Status::Paused;
        }
        if self.started {
            Status::Running
        } else {
            Status::Created
        }
    }
}

/// Field 22 (starttime) and field 3 (state) of /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = crate::read_text(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut it = rest.split(' ');
    let state = it.next()?.chars().next()?;
    // rest starts at field 3; starttime is field 22, i.e. 19 fields further.
    let start = it.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` is still the process that had `start_time` and has not exited.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((st, t)) => t == start_time && st != 'Z' && st != 'X',
        None => false,
    }
}

/// The `--root` directory: created 0700 if missing.
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    pub fn open(path: &Path, create: bool) -> Result<Root> {
        let path = crate::bundle::absolute(path)?;
        if create {
            match std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
            {
                Ok(()) => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("create root directory {}", path.display()),
                        e,
                    ))
                }
            }
        }
        Ok(Root { path })
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Every container id under the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = match std::fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(Error::io(format!("read {}", self.path.display()), e)),
        };
        for ent in rd.flatten() {
            if let Some(name) = ent.file_name().to_str() {
                if crate::id::validate_id(name).is_ok() && ent.path().join(STATE_FILE).exists() {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// A locked container directory. The lock is released when this is dropped.
pub struct ContainerDir {
    pub path: PathBuf,
    pub dir: File,
}

fn flock(f: &File, what: &Path) -> Result<()> {
    // SAFETY: flock on an owned fd.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if r != 0 {
        return Err(Error::sys(
            format!("lock {}", what.display()),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

fn open_dir(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

impl ContainerDir {
    /// Create the directory for a new container; fails if the id exists.
    pub fn create(root: &Root, id: &str) -> Result<ContainerDir> {
        let path = root.container_dir(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::new(
                    ErrorKind::Exists,
                    format!("container with id {id:?} already exists"),
                ));
            }
            Err(e) => {
                return Err(Error::io(
                    format!("create state directory {}", path.display()),
                    e,
                ))
            }
        }
        let dir = open_dir(&path).with_ctx(|| format!("open {}", path.display()))?;
        flock(&dir, &path)?;
        Ok(ContainerDir { path, dir })
    }

    /// Open and lock an existing container's directory.
    pub fn open(root: &Root, id: &str) -> Result<ContainerDir> {
        crate::id::validate_id(id)?;
        let path = root.container_dir(id);
        let dir = match open_dir(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(id)),
            Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
        };
        flock(&dir, &path)?;
        // A concurrent delete may have removed it while we waited for the lock.
        if !path.join(STATE_FILE).exists() {
            return Err(not_found(id));
        }
        Ok(ContainerDir { path, dir })
    }

    pub fn load(&self) -> Result<State> {
        let p = self.path.join(STATE_FILE);
        let text = std::fs::read(&p).with_ctx(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::other(format!("{}: corrupt state: {e}", p.display())))
    }

    /// Write state.json atomically (write a temporary file, then rename over).
    pub fn save(&self, st: &State) -> Result<()> {
        let pending = self.write_pending(st)?;
        self.commit(pending)
    }

    /// The first half of [`save`](Self::save): the new state, written under a temporary name.
    pub fn write_pending(&self, st: &State) -> Result<PendingState> {
        let tmp = self.path.join(".state.json.tmp");
        let data =
            serde_json::to_vec(st).map_err(|e| Error::other(format!("encode state: {e}")))?;
        let mut f = File::create(&tmp).with_ctx(|| format!("write {}", tmp.display()))?;
        f.write_all(&data)
            .with_ctx(|| format!("write {}", tmp.display()))?;
        Ok(PendingState(tmp))
    }

    /// The second half: the pending state becomes state.json in one rename.
    pub fn commit(&self, pending: PendingState) -> Result<()> {
        std::fs::rename(&pending.0, self.path.join(STATE_FILE))
            .with_ctx(|| format!("rename {}", pending.0.display()))
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path).with_ctx(|| format!("remove {}", self.path.display()))
    }
}

/// A state written by [`ContainerDir::write_pending`], not yet visible as state.json.
pub struct PendingState(PathBuf);

pub fn not_found(id: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("container {id:?} does not exist"),
    )
}

/// Write a pid file atomically, as engines expect: the file is complete when it appears.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = crate::bundle::absolute(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string())
        .with_ctx(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_ctx(|| format!("write pid file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn own_stat() {
        let (st, t) = proc_stat(std::process::id() as i32).expect("stat");
        assert!(st == 'R' || st == 'S');
        assert!(t > 0);
        assert!(process_alive(std::process::id() as i32, t));
        assert!(!process_alive(std::process::id() as i32, t + 1));
    }
}
