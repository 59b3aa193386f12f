//! Devices (config-linux.md "Devices", "Default Devices", runtime-linux.md "Dev symbolic
//! links"). Nodes are created with mknodat relative to a /dev handle resolved inside the
//! rootfs, so a `/dev` symlink in the image cannot make us create files on the host. In a user
//! namespace mknod is not allowed: the host's device is bind-mounted onto an empty file instead.
use crate::{Context, Error, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};
use pathrs::Root;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// (name, major, minor) of the default devices every container gets.
pub const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

struct Node {
    path: String,
    kind: libc::mode_t,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("path {s:?} contains a NUL byte")))
}

fn node_from(d: &LinuxDevice) -> Node {
    let kind = match d.typ() {
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    };
    Node {
        path: d.path().to_string_lossy().into_owned(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666),
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }
}

/// Create the default devices and `linux.devices`, then the /dev symlinks. Skipped when /dev
/// is a bind mount from the host (the user brought their own /dev).
pub fn setup(root: &Root, spec: &Spec, in_userns: bool) -> Result<()> {
    let dev_bound = spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if dev_bound {
        return Ok(());
    }
    let mut nodes: Vec<Node> = DEFAULT_DEVICES
        .iter()
        .map(|(n, ma, mi)| Node {
            path: format!("/dev/{n}"),
            kind: libc::S_IFCHR,
            major: *ma,
            minor: *mi,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    if let Some(devs) = spec.linux().as_ref().and_then(|l| l.devices().as_ref()) {
        for d in devs {
            let n = node_from(d);
            // A configured device replaces a default one of the same path.
            nodes.retain(|x| x.path != n.path);
            nodes.push(n);
        }
    }
    // Most nodes live in /dev itself: its fd is opened once and kept for the symlinks too.
    let mut dirs: Vec<(String, OwnedFd)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        create_node(root, &mut dirs, n, in_userns).with_ctx(|| {
            format!(
                "device {} ({})",
                n.path,
                if i < 6 { "default" } else { "linux.devices" }
            )
        })?;
    }
    let dev = match dirs.iter().position(|(p, _)| p == "dev") {
        Some(i) => dirs.swap_remove(i).1,
        None => crate::rootfs::dir_in_root(root, Path::new("dev"))?,
    };
    symlinks(dev.as_raw_fd())
}

/// The directory (opened, from `dirs` or inside the rootfs) and the file name of a device path.
fn parent_and_name<'a>(
    root: &Root,
    dirs: &'a mut Vec<(String, OwnedFd)>,
    path: &str,
) -> Result<(&'a OwnedFd, String)> {
    let p = Path::new(path);
    let rel = p.strip_prefix("/").unwrap_or(p);
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::invalid(format!("device path {path:?} has no file name")))?;
    let key = parent.to_string_lossy().into_owned();
    let i = match dirs.iter().position(|(p, _)| *p == key) {
        Some(i) => i,
        None => {
            let fd = crate::rootfs::dir_in_root(root, parent)?;
            dirs.push((key, fd));
            dirs.len() - 1
        }
    };
    Ok((&dirs[i].1, name))
}

fn create_node(
    root: &Root,
    dirs: &mut Vec<(String, OwnedFd)>,
    n: &Node,
    in_userns: bool,
) -> Result<()> {
    let (dir, name) = parent_and_name(root, dirs, &n.path)?;
    let fd = dir.as_raw_fd();
    let cname = cstr(&name)?;
    if in_userns && n.kind != libc::S_IFIFO {
        // mknod is not permitted; bind the host's device node onto an empty file.
        // SAFETY: openat with a valid dirfd and name.
        let f = unsafe {
            libc::openat(
                fd,
                cname.as_ptr(),
                libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_RDONLY,
                0o644,
            )
        };
        if f < 0 {
            return Err(Error::sys("create bind target", nix::errno::Errno::last()));
        }
        let target = crate::rootfs::fd_path(f);
        let res = nix::mount::mount(
            Some(Path::new(&n.path)),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx("bind host device");
        // SAFETY: closing the fd we opened.
        unsafe { libc::close(f) };
        return res;
    }
    let dev = nix::sys::stat::makedev(n.major, n.minor);
    // SAFETY: mknodat with a valid dirfd, a single-component name and mode.
    let r = unsafe {
        libc::mknodat(
            fd,
            cname.as_ptr(),
            n.kind | (n.mode & 0o7777) as libc::mode_t,
            dev,
        )
    };
    if r != 0 {
        let e = nix::errno::Errno::last();
        if e == nix::errno::Errno::EEXIST {
            return Ok(());
        }
        return Err(Error::sys("mknod", e));
    }
    // mknod honours the umask; set the exact mode and owner without following symlinks.
    // SAFETY: fchownat/fchmodat on the node we just created.
    unsafe {
        if libc::fchownat(fd, cname.as_ptr(), n.uid, n.gid, libc::AT_SYMLINK_NOFOLLOW) != 0 {
            return Err(Error::sys("chown", nix::errno::Errno::last()));
        }
        if libc::fchmodat(fd, cname.as_ptr(), (n.mode & 0o7777) as libc::mode_t, 0) != 0 {
            return Err(Error::sys("chmod", nix::errno::Errno::last()));
        }
    }
    Ok(())
}

/// runtime-linux.md "Dev symbolic links", plus /dev/ptmx -> pts/ptmx for the devpts instance.
fn symlinks(fd: RawFd) -> Result<()> {
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        symlinkat(fd, name, target, false)?;
    }
    symlinkat(fd, "ptmx", "pts/ptmx", true)
}

fn symlinkat(dirfd: RawFd, name: &str, target: &str, replace: bool) -> Result<()> {
    let cn = cstr(name)?;
    let ct = cstr(target)?;
    if replace {
        // SAFETY: unlinkat of a single-component name in a directory we hold.
        unsafe { libc::unlinkat(dirfd, cn.as_ptr(), 0) };
    }
    // SAFETY: symlinkat with valid strings and dirfd.
    let r = unsafe { libc::symlinkat(ct.as_ptr(), dirfd, cn.as_ptr()) };
    if r != 0 {
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EEXIST {
            return Err(Error::sys(format!("symlink /dev/{name} -> {target}"), e));
        }
    }
    Ok(())
}
