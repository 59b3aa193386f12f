//! Idmapped mounts (config.md "Mounts": `uidMappings`/`gidMappings`, options `idmap` and
//! `ridmap`; Linux 5.12+, `mount_setattr(MOUNT_ATTR_IDMAP)`).
//!
//! Mapping direction (runtime-spec PR 1143, as runc and crun): the mappings are written
//! verbatim, `containerID hostID size`, to the uid_map/gid_map of a throw-away user namespace
//! that becomes the mount's idmapping. An id `containerID + n` *stored in the source file
//! system* is seen through the mount as `hostID + n` (in the host's id space; a container in a
//! user namespace sees that host id translated by its own maps). So `{containerID: 0,
//! hostID: 1000}` shows files owned by 0 on disk as owned by 1000; ids outside every range
//! show as the overflow id (65534).
//!
//! Without mappings of its own, an `idmap`/`ridmap` mount uses the container's user namespace
//! mapping (`linux.uidMappings`/`gidMappings`, or the user namespace joined by `path`): files
//! then appear inside the container with the ids they have on disk. With neither, an error.
//!
//! Where it runs: `hako create`, before the clone. `MOUNT_ATTR_IDMAP` needs CAP_SYS_ADMIN in
//! the user namespace of the source's superblock (the host's), which an init inside a new user
//! namespace no longer has; making a user namespace with arbitrary host ids needs the host's
//! CAP_SETUID too. So the parent clones the source (`open_tree(OPEN_TREE_CLONE)`, with
//! `AT_RECURSIVE` for `rbind`), idmaps the detached tree (`mount_setattr`, `AT_RECURSIVE` for
//! `ridmap`), and registers its fd with `rootfs`; the init inherits fd and table and attaches
//! the tree with `move_mount` onto the destination fd resolved inside the rootfs
//! (`rootfs::mount_one`), then applies the other options (`ro`, propagation, `r*`) as for any
//! bind mount.
use crate::{Context, Error, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

use crate::rootfs::MountAttr;

/// The idmapped trees of one container, open in `hako create` until the init is cloned
/// (it inherits them). Dropping this closes them and empties the `rootfs` table.
#[derive(Default)]
pub struct Prepared {
    trees: Vec<OwnedFd>,
}

impl Prepared {
    /// How many idmapped mounts were prepared.
    pub fn len(&self) -> usize {
        self.trees.len()
    }
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if !self.trees.is_empty() {
            crate::rootfs::clear_idmapped();
        }
    }
}

/// The mapping an idmapped mount gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Explicit maps, written to a new user namespace.
    Maps {
        uid: Vec<LinuxIdMapping>,
        gid: Vec<LinuxIdMapping>,
    },
    /// The user namespace the container joins by path.
    Userns(PathBuf),
}

fn non_empty(v: &Option<Vec<LinuxIdMapping>>) -> Option<&Vec<LinuxIdMapping>> {
    v.as_ref().filter(|v| !v.is_empty())
}

/// The mapping of `mounts[index]` (config.md: the mount's own mappings, else the container's
/// user namespace, else an error).
pub fn mapping_for(spec: &Spec, m: &Mount, index: usize) -> Result<Mapping> {
    let at = format!("mounts[{index}]");
    match (non_empty(m.uid_mappings()), non_empty(m.gid_mappings())) {
        (Some(u), Some(g)) => {
            return Ok(Mapping::Maps {
                uid: u.clone(),
                gid: g.clone(),
            })
        }
        (Some(_), None) => {
            return Err(Error::config(
                format!("{at}.gidMappings"),
                "required when uidMappings is set",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::config(
                format!("{at}.uidMappings"),
                "required when gidMappings is set",
            ))
        }
        (None, None) => {}
    }
    let linux = spec.linux().as_ref();
    let userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == LinuxNamespaceType::User));
    match userns {
        Some(ns) => {
            if let Some(p) = ns.path() {
                return Ok(Mapping::Userns(p.clone()));
            }
            let uid = linux.and_then(|l| non_empty(l.uid_mappings()));
            let gid = linux.and_then(|l| non_empty(l.gid_mappings()));
            match (uid, gid) {
                (Some(u), Some(g)) => Ok(Mapping::Maps {
                    uid: u.clone(),
                    gid: g.clone(),
                }),
                _ => Err(Error::config(
                    &at,
                    "idmap/ridmap without uidMappings and gidMappings needs the container's \
                     linux.uidMappings and linux.gidMappings",
                )),
            }
        }
        None => Err(Error::config(
            &at,
            "idmap/ridmap requires uidMappings and gidMappings on the mount or a user namespace",
        )),
    }
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with these maps, as an open `/proc/PID/ns/user`: a child is cloned into a
/// new user namespace and waits, the maps are written from here (host privileges), the
/// namespace is opened, and the child is killed (the open fd keeps the namespace alive).
pub fn userns_with_maps(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<File> {
    let (pid, pidfd) = match crate::process::clone3(libc::CLONE_NEWUSER, None)? {
        crate::process::Forked::Child => loop {
            // SAFETY: the child only waits for SIGKILL.
            unsafe { libc::pause() };
        },
        crate::process::Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    let r = (|| {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uid))
            .ctx("write uid_map of the idmapped mount's user namespace")?;
        crate::namespaces::deny_setgroups_if_unprivileged(pid)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gid))
            .ctx("write gid_map of the idmapped mount's user namespace")?;
        File::open(format!("/proc/{pid}/ns/user")).ctx("open the idmapped mount's user namespace")
    })();
    crate::process::kill_and_wait(pid, pidfd.as_raw_fd());
    r
}

/// A detached clone of `src` (recursive for `rbind`), idmapped through the user namespace
/// `userns` (recursively for `ridmap`).
pub fn idmapped_tree(src: &Path, userns: RawFd, rbind: bool, ridmap: bool) -> Result<OwnedFd> {
    let c = std::ffi::CString::new(src.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::invalid(format!("source {} contains a NUL byte", src.display())))?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if rbind {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: open_tree(2) with a valid C string.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(Error::sys(
            format!("open_tree (clone) {}", src.display()),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: a fresh fd.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        userns_fd: userns as u64,
        ..Default::default()
    };
    let mut at = libc::AT_EMPTY_PATH;
    if ridmap {
        at |= libc::AT_RECURSIVE;
    }
    // SAFETY: mount_setattr(2) on an open fd with AT_EMPTY_PATH and a valid struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            at,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        let e = nix::errno::Errno::last();
        let why = match e {
            nix::errno::Errno::EINVAL => {
                " (does the file system support idmapped mounts? Linux 5.12+)"
            }
            _ => "",
        };
        return Err(Error::sys(
            format!("mount_setattr(MOUNT_ATTR_IDMAP) on {}{why}", src.display()),
            e,
        ));
    }
    Ok(tree)
}

/// Prepare every idmapped mount of `spec` (sources relative to `rootfs` as for any bind
/// mount) and register the trees with `rootfs`. Call in `hako create` before the clone and
/// keep the result alive until the clone returned.
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<Prepared> {
    let mut out = Prepared::default();
    let mut namespaces: Vec<(Mapping, File)> = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !crate::rootfs::wants_idmap(m) {
            continue;
        }
        let at = format!("mounts[{i}]");
        let opts = m.options().as_deref().unwrap_or(&[]);
        let o = crate::rootfs::parse_options(opts);
        if !(o.bind || m.typ().as_deref() == Some("bind")) {
            return Err(Error::config(
                &at,
                "idmapped mounts (idmap, ridmap, uidMappings) must be bind mounts",
            ));
        }
        let src = m
            .source()
            .as_deref()
            .filter(|s| !s.as_os_str().is_empty())
            .ok_or_else(|| Error::config(format!("{at}.source"), "a bind mount needs a source"))?;
        let src = if src.is_absolute() {
            src.to_path_buf()
        } else {
            rootfs.join(src)
        };
        let mapping = mapping_for(spec, m, i)?;
        let userns = match namespaces.iter().find(|(k, _)| *k == mapping) {
            Some((_, f)) => f.as_raw_fd(),
            None => {
                let f = match &mapping {
                    Mapping::Maps { uid, gid } => userns_with_maps(uid, gid),
                    Mapping::Userns(p) => {
                        File::open(p).with_ctx(|| format!("open user namespace {}", p.display()))
                    }
                }
                .map_err(|e| e.context(&at))?;
                let fd = f.as_raw_fd();
                namespaces.push((mapping, f));
                fd
            }
        };
        let rbind = o.flags.contains(nix::mount::MsFlags::MS_REC);
        let ridmap = opts.iter().any(|o| o == "ridmap");
        let tree = idmapped_tree(&src, userns, rbind, ridmap).map_err(|e| e.context(&at))?;
        crate::rootfs::register_idmapped(i, tree.as_raw_fd());
        out.trees.push(tree);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn idmap_mapping_selection() {
        let maps = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let s = spec(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/a", "source": "/x", "options": ["bind", "idmap"],
                 "uidMappings": maps, "gidMappings": maps},
                {"destination": "/b", "source": "/x", "options": ["bind", "idmap"]},
                {"destination": "/c", "source": "/x", "options": ["bind"], "uidMappings": maps}
            ],
            "linux": {"namespaces": [{"type": "mount"}]}
        }));
        let ms = s.mounts().clone().unwrap_or_default();
        assert!(matches!(
            mapping_for(&s, &ms[0], 0),
            Ok(Mapping::Maps { .. })
        ));
        let e = mapping_for(&s, &ms[1], 1).expect_err("no user namespace");
        assert!(e.to_string().contains("mounts[1]"), "{e}");
        let e = mapping_for(&s, &ms[2], 2).expect_err("uid without gid");
        assert!(e.to_string().contains("mounts[2].gidMappings"), "{e}");
        assert!(crate::rootfs::wants_idmap(&ms[1]) && crate::rootfs::wants_idmap(&ms[2]));

        let s = spec(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "mounts": [{"destination": "/b", "source": "/x", "options": ["rbind", "ridmap"]}],
            "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}],
                      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
        }));
        let ms = s.mounts().clone().unwrap_or_default();
        match mapping_for(&s, &ms[0], 0) {
            Ok(Mapping::Maps { uid, .. }) => assert_eq!(uid[0].host_id(), 100000),
            other => panic!("{other:?}"),
        }
    }

    /// A real idmapped tree (needs root and Linux 5.12+): a file owned by 1000 on disk, mapped
    /// with containerID 1000 -> hostID 0, is seen through the detached tree as owned by 0.
    #[test]
    fn idmap_detached_tree_maps_owner() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        std::fs::write(&f, "x").expect("write");
        std::os::unix::fs::chown(&f, Some(1000), Some(1000)).expect("chown");
        let maps: Vec<LinuxIdMapping> = serde_json::from_value(serde_json::json!(
            [{"containerID": 1000, "hostID": 0, "size": 1}]
        ))
        .expect("maps");
        let ns = userns_with_maps(&maps, &maps).expect("userns");
        let tree = idmapped_tree(dir.path(), ns.as_raw_fd(), false, false).expect("tree");
        let md = std::fs::metadata(format!("/proc/self/fd/{}/f", tree.as_raw_fd())).expect("stat");
        assert_eq!((md.uid(), md.gid()), (0, 0));
        // An id outside the mapping shows as the overflow id.
        std::os::unix::fs::chown(&f, Some(0), Some(0)).expect("chown");
        let md = std::fs::metadata(format!("/proc/self/fd/{}/f", tree.as_raw_fd())).expect("stat");
        assert_eq!(md.uid(), 65534);
    }
}
