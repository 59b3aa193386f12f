//! The root filesystem and mounts (config.md "Root", "Mounts"; config-linux.md "Rootfs Mount
//! Propagation", "Masked Paths", "Readonly Paths").
//!
//! Every destination is resolved inside the rootfs with `pathrs` (openat2 RESOLVE_IN_ROOT on
//! new kernels), so a symlink in the image can never redirect a mount onto the host; the mount
//! is then made onto the opened fd through /proc/self/fd (CVE-2021-30465).
use crate::cgroups::{self, Placement};
use crate::{Context, Error, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};
use pathrs::flags::OpenFlags;
use pathrs::{InodeType, Root};
use std::fs::{File, Permissions};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Path through which a mount syscall reaches the inode behind `fd`.
pub fn fd_path(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

/// The errno behind a pathrs error, if it came from a system call.
pub fn perrno(e: &pathrs::error::Error) -> Option<i32> {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(n) => n,
        _ => None,
    }
}

pub(crate) fn perr(what: impl std::fmt::Display, e: pathrs::error::Error) -> Error {
    match perrno(&e) {
        Some(n) => Error::sys(what, nix::errno::Errno::from_raw(n)),
        None => Error::other(format!("{what}: {e}")),
    }
}

fn mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    nix::mount::mount(src, target, fstype, flags, data)
}

// mount_setattr(2) attributes (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
#[derive(Default)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// Idmapped mounts (config.md "Mounts": `uidMappings`/`gidMappings`, `idmap`/`ridmap`),
/// prepared by `hako create` before the clone (`idmap.rs`: a detached `open_tree` clone with
/// `MOUNT_ATTR_IDMAP`, which needs privilege over the source's superblock, i.e. the host's
/// user namespace): the index in `mounts` and the tree's fd. The init inherits this table with
/// the parent's memory and the fds with its fd table, and attaches each tree with `move_mount`
/// onto the destination resolved in the rootfs.
static IDMAPPED: std::sync::Mutex<Vec<(usize, RawFd)>> = std::sync::Mutex::new(Vec::new());

/// Record the prepared idmapped tree of `mounts[index]` (the caller keeps the fd open until
/// the init is cloned).
pub fn register_idmapped(index: usize, fd: RawFd) {
    if let Ok(mut t) = IDMAPPED.lock() {
        t.retain(|(i, _)| *i != index);
        t.push((index, fd));
    }
}

/// Forget every prepared tree (the owner closes the fds).
pub fn clear_idmapped() {
    if let Ok(mut t) = IDMAPPED.lock() {
        t.clear();
    }
}

fn take_idmapped(index: usize) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut t = IDMAPPED.lock().ok()?;
    let pos = t.iter().position(|(i, _)| *i == index)?;
    let (_, fd) = t.remove(pos);
    // SAFETY: the init owns its inherited copy of the fd; it is taken exactly once.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Whether a mount asks for an idmapping: `idmap`/`ridmap`, or mappings of its own.
pub fn wants_idmap(m: &Mount) -> bool {
    let maps = |v: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        v.as_ref().is_some_and(|v| !v.is_empty())
    };
    m.options()
        .iter()
        .flatten()
        .any(|o| o == "idmap" || o == "ridmap")
        || maps(m.uid_mappings())
        || maps(m.gid_mappings())
}

const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// Attach the detached tree `from` onto the inode behind `to` (move_mount(2), both by fd).
fn move_mount(from: RawFd, to: RawFd) -> Result<()> {
    // SAFETY: move_mount(2) with two open fds and empty paths.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(Error::sys(
            "move_mount (attach the idmapped mount)",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// The parsed `options` of one mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub clear: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub rec_set: u64,
    pub rec_clr: u64,
    pub data: Vec<String>,
    pub bind: bool,
    pub idmap: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            clear: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clr: 0,
            data: Vec::new(),
            bind: false,
            idmap: false,
        }
    }
}

/// Parse fstab-style options (config.md "Mounts": the option table).
pub fn parse_options(opts: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in opts {
        let (set, clr): (MsFlags, MsFlags) = match opt.as_str() {
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "bind" => {
                o.bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                o.bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "nosymfollow" => (MsFlags::from_bits_retain(256), MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "symfollow" => (MsFlags::empty(), MsFlags::from_bits_retain(256)),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation
                    .push(propagation_flags(opt).unwrap_or(MsFlags::MS_PRIVATE));
                continue;
            }
            "idmap" | "ridmap" => {
                o.idmap = true;
                continue;
            }
            other => {
                let rec = match other {
                    "rro" => Some((MOUNT_ATTR_RDONLY, 0)),
                    "rrw" => Some((0, MOUNT_ATTR_RDONLY)),
                    "rnosuid" => Some((MOUNT_ATTR_NOSUID, 0)),
                    "rsuid" => Some((0, MOUNT_ATTR_NOSUID)),
                    "rnodev" => Some((MOUNT_ATTR_NODEV, 0)),
                    "rdev" => Some((0, MOUNT_ATTR_NODEV)),
                    "rnoexec" => Some((MOUNT_ATTR_NOEXEC, 0)),
                    "rexec" => Some((0, MOUNT_ATTR_NOEXEC)),
                    "rnodiratime" => Some((MOUNT_ATTR_NODIRATIME, 0)),
                    "rdiratime" => Some((0, MOUNT_ATTR_NODIRATIME)),
                    "rrelatime" => Some((MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME)),
                    "rnorelatime" => Some((0, MOUNT_ATTR__ATIME)),
                    "rnoatime" => Some((MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME)),
                    "ratime" => Some((0, MOUNT_ATTR__ATIME)),
                    "rstrictatime" => Some((MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME)),
                    "rnostrictatime" => Some((0, MOUNT_ATTR__ATIME)),
                    "rnosymfollow" => Some((MOUNT_ATTR_NOSYMFOLLOW, 0)),
                    "rsymfollow" => Some((0, MOUNT_ATTR_NOSYMFOLLOW)),
                    _ => None,
                };
                match rec {
                    Some((s, c)) => {
                        o.rec_set |= s;
                        o.rec_clr |= c;
                    }
                    None => o.data.push(other.to_string()),
                }
                continue;
            }
        };
        // Raw bit operations: `!` on MsFlags drops bits nix does not name (MS_NOSYMFOLLOW).
        o.flags = MsFlags::from_bits_retain((o.flags.bits() | set.bits()) & !clr.bits());
        o.clear |= clr;
    }
    o
}

pub fn propagation_flags(s: &str) -> Option<MsFlags> {
    Some(match s {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Everything mount setup needs to know besides the spec.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub cgroups: &'a Placement,
    pub new_cgroupns: bool,
    pub new_userns: bool,
    /// Called before a cgroup filesystem is mounted: the init must be in its cgroups by then.
    pub before_cgroup_mount: &'a dyn Fn() -> Result<()>,
}

/// Steps 1-3 of rootfs setup, run by the init in its new mount namespace before pivot_root.
pub fn prepare(ctx: &Ctx) -> Result<Root> {
    let linux = ctx.spec.linux().as_ref();
    // 1. Stop propagation to the host (runc's default: rslave). "/" gets the requested mode
    //    (shared keeps the host's peer groups, for bidirectional mount propagation), except
    //    unbindable, which would forbid binding the rootfs: that is set on the rootfs itself.
    let prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .unwrap_or("rslave");
    let pflags = propagation_flags(prop).ok_or_else(|| {
        Error::config("linux.rootfsPropagation", format!("unknown mode {prop:?}"))
    })?;
    let unbindable = pflags.contains(MsFlags::MS_UNBINDABLE);
    let root_flags = if unbindable {
        MsFlags::MS_SLAVE
    } else {
        pflags
    };
    mount(
        None,
        Path::new("/"),
        None,
        root_flags | MsFlags::MS_REC,
        None,
    )
    .with_ctx(|| format!("linux.rootfsPropagation: make / {prop}"))?;
    if pflags.contains(MsFlags::MS_SHARED) {
        // pivot_root refuses a new root that is shared or whose parent mount is shared: make
        // the parent private *before* binding, so the bind does not join a peer group.
        make_parent_private(ctx.rootfs)?;
    }
    // 2. The rootfs must be a mount point for pivot_root: bind it onto itself.
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .with_ctx(|| format!("bind rootfs {}", ctx.rootfs.display()))?;
    if pflags.contains(MsFlags::MS_SHARED) {
        mount(None, ctx.rootfs, None, MsFlags::MS_PRIVATE, None).with_ctx(|| {
            format!(
                "make rootfs {} private for pivot_root",
                ctx.rootfs.display()
            )
        })?;
    }
    if unbindable {
        mount(None, ctx.rootfs, None, pflags, None)
            .with_ctx(|| format!("linux.rootfsPropagation: make rootfs {prop}"))?;
    }
    let root = Root::open(ctx.rootfs)
        .map_err(|e| perr(format!("open rootfs {}", ctx.rootfs.display()), e))?;
    // 3. The mounts, in order.
    for (i, m) in ctx.spec.mounts().iter().flatten().enumerate() {
        mount_one(ctx, &root, m, i).with_ctx(|| {
            format!(
                "mounts[{i}]: mount {} on {}",
                m.source().as_deref().unwrap_or(Path::new("none")).display(),
                m.destination().display()
            )
        })?;
    }
    Ok(root)
}

fn make_parent_private(rootfs: &Path) -> Result<()> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let mut best: Option<PathBuf> = None;
    for line in text.lines() {
        if let Some(mp) = line.split(' ').nth(4) {
            let mp = PathBuf::from(mp);
            if parent.starts_with(&mp)
                && best
                    .as_ref()
                    .is_none_or(|b| mp.as_os_str().len() > b.as_os_str().len())
            {
                best = Some(mp);
            }
        }
    }
    let mp = best.unwrap_or_else(|| PathBuf::from("/"));
    mount(None, &mp, None, MsFlags::MS_PRIVATE, None)
        .with_ctx(|| format!("make {} private", mp.display()))
}

fn is_bind(m: &Mount, o: &MountOptions) -> bool {
    o.bind || m.typ().as_deref() == Some("bind")
}

/// Resolve `rel` inside the rootfs with one `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`:
/// the kernel keeps every step, `..` and symlink inside the root, exactly as pathrs does on this
/// kernel, but a miss costs one syscall instead of pathrs' error report (a dozen procfs lookups
/// to name the root): setup resolves ~100 paths, many of which do not exist yet. On kernels
/// without openat2 (ENOSYS) or a retryable race (EAGAIN, after a few tries) pathrs decides.
/// Returns the errno on failure.
pub(crate) fn resolve_in_root(root: &Root, rel: &Path) -> std::result::Result<pathrs::Handle, i32> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
    const RESOLVE_IN_ROOT: u64 = 0x10;
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let path = if rel.as_os_str().is_empty() {
        std::ffi::CString::new(".")
    } else {
        std::ffi::CString::new(rel.as_os_str().as_encoded_bytes())
    }
    .map_err(|_| libc::EINVAL)?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    for _ in 0..8 {
        // SAFETY: openat2 with a valid dirfd, C string and open_how of the size we pass.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_fd().as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: a fresh fd from openat2.
            let fd = unsafe {
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(r as RawFd)
            };
            return Ok(pathrs::Handle::from_fd(fd));
        }
        match nix::errno::Errno::last_raw() {
            libc::EAGAIN | libc::EINTR => continue,
            libc::ENOSYS | libc::E2BIG => break,
            e => return Err(e),
        }
    }
    root.resolve(rel)
        .map_err(|e| perrno(&e).unwrap_or(libc::EIO))
}

/// `mkdir -p` (or, with `file`, create an empty file) inside the rootfs, for the common case of
/// mount points missing from the image (`/dev/pts`, `/sys/fs/cgroup/cpu`, ...): each missing
/// component is made with `mkdirat` on its parent, an fd resolved with openat2
/// (`RESOLVE_IN_ROOT`), and only ever as a single name, so nothing lands outside the root.
/// pathrs' `mkdir_all` does the same with a procfs check per step, about 40 syscalls a
/// component. None when this cannot decide (`..` in the path, a dangling symlink on the way):
/// the caller falls back to pathrs.
fn create_in_root(root: &Root, rel: &Path, file: bool) -> Option<pathrs::Handle> {
    use std::path::Component;
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let name = std::ffi::CString::new(rel.file_name()?.as_encoded_bytes()).ok()?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    let pfd = match resolve_in_root(root, parent) {
        Ok(h) => h,
        Err(libc::ENOENT) => create_in_root(root, parent, false)?,
        Err(_) => return None,
    };
    let dir = pfd.as_fd().as_raw_fd();
    // SAFETY: mkdirat/openat/close on a directory fd we hold, with a one-component name.
    let r = unsafe {
        if file {
            let fd = libc::openat(
                dir,
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            fd
        } else {
            libc::mkdirat(dir, name.as_ptr(), 0o755)
        }
    };
    if r < 0 && nix::errno::Errno::last_raw() != libc::EEXIST {
        return None;
    }
    resolve_in_root(root, rel).ok()
}

/// A directory inside the rootfs (made with `mkdir -p` semantics when missing, as a mount
/// destination is), opened for `*at()` calls such as mknodat and symlinkat. Reopened with
/// `openat(fd, ".")` from the O_PATH handle: no path walk and no procfs reopen (pathrs' reopen
/// checks procfs on every call, about 0.1 ms each).
pub(crate) fn dir_in_root(root: &Root, rel: &Path) -> Result<std::os::fd::OwnedFd> {
    let h = dest_handle(root, rel, false)?;
    // SAFETY: openat of "." on a directory fd we hold.
    let fd = unsafe {
        libc::openat(
            h.as_fd().as_raw_fd(),
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::sys(
            format!("open {} in rootfs", rel.display()),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: a fresh fd from openat.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Resolve (creating as needed) the destination of a mount inside the rootfs.
fn dest_handle(root: &Root, dest: &Path, file: bool) -> Result<pathrs::Handle> {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    match resolve_in_root(root, rel) {
        Ok(h) => return Ok(h),
        Err(libc::ENOENT) => {
            if let Some(h) = create_in_root(root, rel, file) {
                return Ok(h);
            }
        }
        Err(_) => {
            // pathrs again, for its description of what went wrong.
            match root.resolve(rel) {
                Ok(h) => return Ok(h),
                Err(e) if perrno(&e) == Some(libc::ENOENT) => {}
                Err(e) => return Err(perr(format!("resolve {} in rootfs", dest.display()), e)),
            }
        }
    }
    // A dangling symlink on the way (e.g. `/evil -> /somewhere/new`) is followed inside the
    // rootfs, as the kernel would with the rootfs as "/", and the missing part created there.
    let resolved = lexical_in_root(root, rel);
    let rel = resolved.as_path();
    if file {
        if let Some(parent) = rel.parent() {
            if !parent.as_os_str().is_empty() {
                root.mkdir_all(parent, &Permissions::from_mode(0o755))
                    .map_err(|e| perr(format!("mkdir {} in rootfs", parent.display()), e))?;
            }
        }
        match root.create(rel, &InodeType::File(Permissions::from_mode(0o644))) {
            Ok(()) => {}
            Err(e) if perrno(&e) == Some(libc::EEXIST) => {}
            Err(e) => return Err(perr(format!("create {} in rootfs", dest.display()), e)),
        }
        root.resolve(rel)
            .map_err(|e| perr(format!("resolve {} in rootfs", dest.display()), e))
    } else {
        root.mkdir_all(rel, &Permissions::from_mode(0o755))
            .map_err(|e| perr(format!("mkdir {} in rootfs", dest.display()), e))
    }
}

/// Follow the symlinks of `rel` inside the rootfs (absolute targets restart at the rootfs),
/// returning the in-root path with every link replaced. Components that do not exist yet are
/// kept as they are. At most 40 links, like the kernel.
fn lexical_in_root(root: &Root, rel: &Path) -> PathBuf {
    use std::path::Component;
    let mut todo: std::collections::VecDeque<std::ffi::OsString> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            cur.pop();
            continue;
        }
        let cand = cur.join(&c);
        match root.readlink(&cand) {
            Ok(target) if links < 40 => {
                links += 1;
                if target.is_absolute() {
                    cur = PathBuf::new();
                }
                for (i, t) in target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_os_string()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .enumerate()
                {
                    todo.insert(i, t);
                }
            }
            _ => cur = cand,
        }
    }
    cur
}

/// The files under /proc that may be bind-mounted over, because lxcfs emulates them (the list
/// runc allows).
const PROC_BIND_ALLOWED: [&str; 10] = [
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/net/dev",
    "proc/sys/kernel/ns_last_pid",
];

fn is_procfs(fd: RawFd) -> bool {
    // SAFETY: fstatfs into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstatfs(fd, &mut st) } == 0) && st.f_type == libc::PROC_SUPER_MAGIC
}

/// CVE-2019-16884 / CVE-2025-52881: only a procfs goes over /proc, and under it only the files
/// lxcfs emulates: any other volume there could fake `/proc/self/attr`, sysctls or
/// `oom_score_adj` for writes made after it (the runtime's own and the container's). Checked on
/// the destination with its symlinks resolved in the rootfs, and on the opened destination
/// (a destination that reaches into a mounted procfs some other way), as runc does.
fn check_proc_destination(
    root: &Root,
    dest: &Path,
    h: &pathrs::Handle,
    typ: &str,
    bind_src: Option<RawFd>,
) -> Result<()> {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    let on_procfs = is_procfs(h.as_fd().as_raw_fd());
    // Symlinks are only followed (a readlink per component) for a destination that spells
    // /proc or lands in a procfs.
    let lexical: PathBuf = rel
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    if !on_procfs && !lexical.starts_with("proc") {
        return Ok(());
    }
    let in_root = lexical_in_root(root, rel);
    if in_root == Path::new("proc") {
        if typ == "proc" || bind_src.is_some_and(is_procfs) {
            return Ok(());
        }
        return Err(Error::invalid(format!(
            "{}: only a procfs (type proc, or a bind of one) may be mounted over /proc",
            dest.display()
        )));
    }
    if PROC_BIND_ALLOWED.iter().any(|a| in_root == Path::new(a)) {
        return Ok(());
    }
    if in_root.starts_with("proc") || on_procfs {
        return Err(Error::invalid(format!(
            "{}: is inside /proc (resolved in the rootfs: /{}); only the files lxcfs emulates \
             (/proc/cpuinfo, /proc/meminfo, /proc/stat, ...) may be mounted there",
            dest.display(),
            in_root.display()
        )));
    }
    Ok(())
}

fn reresolve(root: &Root, dest: &Path) -> Result<pathrs::Handle> {
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    resolve_in_root(root, rel).or_else(|_| {
        root.resolve(rel)
            .map_err(|e| perr(format!("resolve {} in rootfs", dest.display()), e))
    })
}

/// Flags of the mount at `p` that a bind remount must keep (they may be locked in a user
/// namespace).
fn locked_flags(p: &Path) -> MsFlags {
    let mut out = MsFlags::empty();
    if let Ok(st) = nix::sys::statvfs::statvfs(p) {
        use nix::sys::statvfs::FsFlags;
        let f = st.flags();
        for (a, b) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(a) {
                out |= b;
            }
        }
    }
    out
}

/// Bind-remount with `flags`; in a user namespace locked flags must be kept, so retry with
/// them on EPERM.
pub fn bind_remount(target: &Path, flags: MsFlags) -> Result<()> {
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    match mount(None, target, None, base | flags, None) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => {
            let keep = locked_flags(target) & !(MsFlags::MS_RDONLY) | (flags & MsFlags::MS_RDONLY);
            mount(None, target, None, base | flags | keep, None).ctx("bind remount")
        }
        Err(e) => Err(e).ctx("bind remount"),
    }
}

const OPEN_TREE_CLONE: libc::c_uint = 1;

/// The `mount_setattr` (set, clear) equivalent of bind-remount flags; None if some flag has
/// no equivalent.
fn remount_attrs(flags: MsFlags) -> Option<(u64, u64)> {
    let (mut set, mut clr) = (0, 0);
    let mut rest = flags;
    for (f, a) in [
        (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
    ] {
        if flags.contains(f) {
            set |= a;
            rest.remove(f);
        }
    }
    for (f, a) in [
        (MsFlags::MS_RELATIME, MOUNT_ATTR_RELATIME),
        (MsFlags::MS_NOATIME, MOUNT_ATTR_NOATIME),
        (MsFlags::MS_STRICTATIME, MOUNT_ATTR_STRICTATIME),
    ] {
        if flags.contains(f) {
            set |= a;
            clr |= MOUNT_ATTR__ATIME;
            rest.remove(f);
        }
    }
    rest.is_empty().then_some((set, clr))
}

/// A detached bind of `src` (recursive with `rec`) with the bind-remount `flags` already set
/// on its top mount (as `MS_REMOUNT|MS_BIND` would), ready for `move_mount`. None when the
/// kernel lacks `open_tree`/`mount_setattr`, a flag has no attribute, or the attributes are
/// refused (locked in a user namespace): the caller then mounts the classic way.
fn detached_bind(src: RawFd, rec: bool, flags: MsFlags) -> Option<std::os::fd::OwnedFd> {
    let (set, clr) = remount_attrs(flags)?;
    let mut of = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as u32;
    if rec {
        of |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: open_tree(2) on an open fd with an empty path.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, src, c"".as_ptr(), of) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new fd owned by nobody else.
    let tree =
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as RawFd) };
    // Only the top mount, as a bind remount would.
    if (set != 0 || clr != 0) && mount_setattr_flags(tree.as_raw_fd(), set, clr, 0).is_err() {
        return None;
    }
    Some(tree)
}

fn mount_setattr(fd: RawFd, set: u64, clr: u64) -> Result<()> {
    mount_setattr_flags(fd, set, clr, libc::AT_RECURSIVE)
        .map_err(|e| Error::sys("mount_setattr (recursive mount options)", e))
}

fn mount_setattr_flags(fd: RawFd, set: u64, clr: u64, flags: libc::c_int) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        ..Default::default()
    };
    // SAFETY: mount_setattr(2) on an open fd with AT_EMPTY_PATH and a valid struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

fn mount_one(ctx: &Ctx, root: &Root, m: &Mount, index: usize) -> Result<()> {
    let o = parse_options(m.options().as_deref().unwrap_or(&[]));
    let idmapped = wants_idmap(m);
    if idmapped && !is_bind(m, &o) {
        return Err(Error::invalid(
            "idmapped mounts (idmap, ridmap, uidMappings, gidMappings) must be bind mounts",
        ));
    }
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if o.bind { "bind" } else { "" });
    if typ == "cgroup" || typ == "cgroup2" {
        (ctx.before_cgroup_mount)()?;
        return mount_cgroup(ctx, root, m, &o);
    }
    let dest = m.destination();
    if is_bind(m, &o) {
        if idmapped {
            // The tree was cloned and idmapped by `hako create` (see IDMAPPED).
            let tree = take_idmapped(index).ok_or_else(|| {
                Error::other("internal: the idmapped mount was not prepared before the clone")
            })?;
            let is_file = !File::from(tree.try_clone().ctx("dup idmapped mount fd")?)
                .metadata()
                .map(|md| md.is_dir())
                .unwrap_or(true);
            let h = dest_handle(root, dest, is_file)?;
            check_proc_destination(root, dest, &h, typ, Some(tree.as_raw_fd()))?;
            move_mount(tree.as_raw_fd(), h.as_fd().as_raw_fd())?;
        } else {
            let src = m
                .source()
                .as_deref()
                .ok_or_else(|| Error::invalid("bind mount needs a source"))?;
            let src = if src.is_absolute() {
                src.to_path_buf()
            } else {
                ctx.rootfs.join(src)
            };
            let sfd = File::options()
                .read(true)
                .custom_flags_path()
                .open(&src)
                .with_ctx(|| format!("open source {}", src.display()))?;
            let smd = sfd
                .metadata()
                .with_ctx(|| format!("stat source {}", src.display()))?;
            let is_file = !smd.is_dir();
            let h = dest_handle(root, dest, is_file)?;
            check_proc_destination(root, dest, &h, typ, Some(sfd.as_raw_fd()))?;
            let remount = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
            // The mount options are set on a detached clone before it is attached onto the
            // destination fd: nothing is resolved by path after the mount, so a destination
            // swapped meanwhile (a symlink exchanged with the directory) cannot make the
            // options land on another mount and leave this one writable (CVE-2021-30465).
            let rec = o.flags.contains(MsFlags::MS_REC);
            if let Some(tree) = detached_bind(sfd.as_raw_fd(), rec, remount) {
                move_mount(tree.as_raw_fd(), h.as_fd().as_raw_fd())?;
                return mount_propagation(root, dest, &o);
            }
            let flags = MsFlags::MS_BIND | (o.flags & MsFlags::MS_REC);
            mount(
                Some(&fd_path(sfd.as_raw_fd())),
                &fd_path(h.as_fd().as_raw_fd()),
                None,
                flags,
                None,
            )
            .ctx("bind")?;
            if !remount.is_empty() {
                // Old kernels: remount by path, but only the mount we just made.
                let h2 = reresolve(root, dest)?;
                let md = File::from(h2.as_fd().try_clone_to_owned().ctx("dup")?)
                    .metadata()
                    .ctx("stat the new mount")?;
                if (md.dev(), md.ino()) != (smd.dev(), smd.ino()) {
                    return Err(Error::other(format!(
                        "{} changed while it was being mounted",
                        dest.display()
                    )));
                }
                bind_remount(&fd_path(h2.as_fd().as_raw_fd()), remount)?;
            }
            return mount_propagation(root, dest, &o);
        }
        let remount = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !remount.is_empty() {
            let h2 = reresolve(root, dest)?;
            bind_remount(&fd_path(h2.as_fd().as_raw_fd()), remount)?;
        }
    } else {
        let h = dest_handle(root, dest, false)?;
        check_proc_destination(root, dest, &h, typ, None)?;
        // linux.mountLabel: `context="..."` for the filesystems that take it (SELinux).
        let label = crate::lsm::mount_label(ctx.spec);
        let data = crate::lsm::mount_data(typ, &o.data.join(","), label);
        let src = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let flags = o.flags;
        let target = fd_path(h.as_fd().as_raw_fd());
        match mount(Some(&src), &target, Some(typ), flags, data.as_deref()) {
            Ok(()) => {
                if let Some(l) = label.filter(|_| crate::lsm::labels_root(typ)) {
                    // mqueue takes no context= (as runc): label its root instead.
                    let root_fd = reresolve(root, dest)?
                        .reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)
                        .map_err(|e| perr(format!("open {}", dest.display()), e))?;
                    crate::lsm::set_file_label(root_fd.as_raw_fd(), l)?;
                }
            }
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
                // Without a new network namespace (or in a user namespace) sysfs cannot be
                // mounted fresh; bind the host's /sys read-only instead, as runc does.
                mount(
                    Some(Path::new("/sys")),
                    &target,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .ctx("bind /sys")?;
                let h2 = reresolve(root, dest)?;
                bind_remount(&fd_path(h2.as_fd().as_raw_fd()), flags | MsFlags::MS_RDONLY)?;
            }
            Err(e) => return Err(e).with_ctx(|| format!("mount type {typ:?}")),
        }
    }
    mount_propagation(root, dest, &o)
}

/// The propagation and recursive (`mount_setattr`) options of a mount, once it is attached.
fn mount_propagation(root: &Root, dest: &Path, o: &MountOptions) -> Result<()> {
    if !o.propagation.is_empty() || o.rec_set != 0 || o.rec_clr != 0 {
        let h2 = reresolve(root, dest)?;
        let target = fd_path(h2.as_fd().as_raw_fd());
        for p in &o.propagation {
            mount(None, &target, None, *p, None).ctx("set propagation")?;
        }
        if o.rec_set != 0 || o.rec_clr != 0 {
            let fd = h2.reopen(OpenFlags::O_PATH | OpenFlags::O_DIRECTORY).ok();
            let raw = fd
                .as_ref()
                .map(|f| f.as_raw_fd())
                .unwrap_or(h2.as_fd().as_raw_fd());
            mount_setattr(raw, o.rec_set, o.rec_clr)?;
        }
    }
    Ok(())
}

trait OpenPath {
    fn custom_flags_path(&mut self) -> &mut Self;
}
impl OpenPath for std::fs::OpenOptions {
    fn custom_flags_path(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_PATH | libc::O_CLOEXEC)
    }
}

/// `type: cgroup`: on v2 mount cgroup2; on v1 a tmpfs with one mount per hierarchy (fresh
/// `cgroup` mounts in a new cgroup namespace, binds of the container's cgroups otherwise).
fn mount_cgroup(ctx: &Ctx, root: &Root, m: &Mount, o: &MountOptions) -> Result<()> {
    let dest = m.destination();
    let h = dest_handle(root, dest, false)?;
    let target = fd_path(h.as_fd().as_raw_fd());
    let flags = o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    if cgroups::detect() == cgroups::Mode::Unified {
        match mount(
            Some(Path::new("cgroup2")),
            &target,
            Some("cgroup2"),
            flags,
            None,
        ) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EPERM) | Err(nix::errno::Errno::EBUSY) if !ctx.new_cgroupns => {
                let src = ctx
                    .cgroups
                    .paths
                    .first()
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
                mount(Some(&src), &target, None, MsFlags::MS_BIND, None).ctx("bind cgroup")?;
                let h2 = reresolve(root, dest)?;
                return bind_remount(&fd_path(h2.as_fd().as_raw_fd()), flags);
            }
            Err(e) => return Err(e).ctx("mount cgroup2"),
        }
    }
    let ro = flags.contains(MsFlags::MS_RDONLY);
    let data = crate::lsm::mount_data("tmpfs", "mode=755", crate::lsm::mount_label(ctx.spec));
    mount(
        Some(Path::new("tmpfs")),
        &target,
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        data.as_deref(),
    )
    .ctx("mount tmpfs for cgroup v1")?;
    let dir = reresolve(root, dest)?;
    let rel = dest.strip_prefix("/").unwrap_or(dest).to_path_buf();
    for (i, hier) in cgroups::v1::hierarchies().iter().enumerate() {
        let name = hier
            .mountpoint
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let sub = rel.join(&name);
        let sh = dest_handle(root, &Path::new("/").join(&sub), false)?;
        let st = fd_path(sh.as_fd().as_raw_fd());
        if ctx.new_cgroupns {
            let data = hier.controllers.join(",");
            mount(
                Some(Path::new("cgroup")),
                &st,
                Some("cgroup"),
                flags,
                Some(&data),
            )
            .with_ctx(|| format!("mount cgroup {data}"))?;
        } else if let Some(src) = ctx.cgroups.paths.get(i) {
            mount(Some(src), &st, None, MsFlags::MS_BIND, None)
                .with_ctx(|| format!("bind {}", src.display()))?;
            let h2 = reresolve(root, &Path::new("/").join(&sub))?;
            bind_remount(&fd_path(h2.as_fd().as_raw_fd()), flags)?;
        }
    }
    drop(dir);
    if ro {
        let h2 = reresolve(root, dest)?;
        mount(
            None,
            &fd_path(h2.as_fd().as_raw_fd()),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )
        .ctx("remount cgroup tmpfs read-only")?;
    }
    Ok(())
}

/// Open the host's /dev/null and check it is the real character device 1:3 before it is used
/// to mask anything (CVE-2025-31133).
pub fn open_dev_null() -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open("/dev/null")
        .ctx("open /dev/null")?;
    let md = f.metadata().ctx("stat /dev/null")?;
    if !md.file_type().is_char_device() || md.rdev() != nix::sys::stat::makedev(1, 3) {
        return Err(Error::other(
            "/dev/null is not the null device (char 1:3); refusing to use it",
        ));
    }
    Ok(f)
}

/// The handle of `rel` in the rootfs, or None when it does not exist (masked and read-only
/// paths may name files an image lacks).
fn resolve_existing(root: &Root, rel: &Path) -> Result<Option<pathrs::Handle>> {
    match resolve_in_root(root, rel) {
        Ok(h) => Ok(Some(h)),
        Err(libc::ENOENT) => Ok(None),
        Err(_) => reresolve(root, rel).map(Some),
    }
}

/// config-linux.md "Masked Paths": /dev/null over files, a read-only tmpfs over directories.
pub fn mask_paths(
    root: &Root,
    paths: &[String],
    null: &File,
    mount_label: Option<&str>,
) -> Result<()> {
    let tmpfs_data = crate::lsm::mount_data("tmpfs", "", mount_label);
    for (i, p) in paths.iter().enumerate() {
        let rel = p.trim_start_matches('/');
        let Some(h) = resolve_existing(root, Path::new(rel))
            .with_ctx(|| format!("linux.maskedPaths[{i}]: {p}"))?
        else {
            continue;
        };
        let target = fd_path(h.as_fd().as_raw_fd());
        let is_dir = std::fs::metadata(&target)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            mount(
                Some(Path::new("tmpfs")),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                tmpfs_data.as_deref(),
            )
            .with_ctx(|| format!("linux.maskedPaths[{i}]: mask {p}"))?;
        } else {
            mount(
                Some(&fd_path(null.as_raw_fd())),
                &target,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .with_ctx(|| format!("linux.maskedPaths[{i}]: mask {p}"))?;
        }
    }
    Ok(())
}

/// config-linux.md "Readonly Paths": bind each onto itself, then remount read-only.
pub fn readonly_paths(root: &Root, paths: &[String]) -> Result<()> {
    for (i, p) in paths.iter().enumerate() {
        let rel = p.trim_start_matches('/');
        let Some(h) = resolve_existing(root, Path::new(rel))
            .with_ctx(|| format!("linux.readonlyPaths[{i}]: {p}"))?
        else {
            continue;
        };
        let target = fd_path(h.as_fd().as_raw_fd());
        mount(
            Some(&target),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .with_ctx(|| format!("linux.readonlyPaths[{i}]: bind {p}"))?;
        let h2 = reresolve(root, Path::new(rel))
            .with_ctx(|| format!("linux.readonlyPaths[{i}]: {p}"))?;
        bind_remount(
            &fd_path(h2.as_fd().as_raw_fd()),
            MsFlags::MS_RDONLY | MsFlags::MS_REC,
        )
        .with_ctx(|| format!("linux.readonlyPaths[{i}]: {p}"))?;
    }
    Ok(())
}

/// pivot_root into the rootfs and detach the old root (or, with --no-pivot, move the rootfs
/// over / and chroot, for ramfs-rooted hosts where pivot_root is impossible).
pub fn enter_root(rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).with_ctx(|| format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
            .ctx("move rootfs to /")?;
        nix::unistd::chroot(".").ctx("chroot")?;
    } else {
        // Hold the old root: after pivot_root(".", ".") the new and old roots are stacked at
        // "/", and only a cwd inside the old root makes "." name the old root's mount.
        let old = std::fs::File::open("/").ctx("open old root")?;
        nix::unistd::pivot_root(".", ".").ctx("pivot_root")?;
        nix::unistd::fchdir(&old).ctx("fchdir to the old root")?;
        drop(old);
        // Make the old root a slave so the unmount does not propagate to the host, then
        // detach it.
        mount(
            None,
            Path::new("."),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        )
        .ctx("make old root rslave")?;
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH).ctx("detach old root")?;
    }
    nix::unistd::chdir("/").ctx("chdir /")?;
    Ok(())
}

/// `root.readonly`: remount / read-only (after pivot_root).
pub fn readonly_root() -> Result<()> {
    bind_remount(Path::new("/"), MsFlags::MS_RDONLY).ctx("root.readonly")
}

#[cfg(test)]
mod tests {
    use super::*;
    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }
    #[test]
    fn options() {
        let o = parse_options(&s(&[
            "nosuid",
            "noexec",
            "nodev",
            "ro",
            "mode=755",
            "size=65536k",
        ]));
        assert!(o.flags.contains(
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        ));
        assert_eq!(o.data, s(&["mode=755", "size=65536k"]));
        let o = parse_options(&s(&["rbind", "rprivate", "rro", "rnosuid"]));
        assert!(o.bind && o.flags.contains(MsFlags::MS_REC));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        let o = parse_options(&s(&["ro", "rw"]));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
    }
}
