//! Namespaces (config-linux.md "Namespaces"): which to create, which to join by `path`, and the
//! user namespace id maps (written by the parent, runtime-linux.md).
use crate::{Context, Error, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

pub fn clone_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => 0x80, // CLONE_NEWTIME
    }
}

pub fn type_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// A namespace to join: its type and an open fd.
pub struct Join {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
    pub file: File,
}

/// The namespace plan of a container.
#[derive(Default)]
pub struct Plan {
    /// CLONE_NEW* flags of the namespaces to create.
    pub new_flags: libc::c_int,
    /// Namespaces joined by path, user first (so the others are entered with its credentials).
    pub joins: Vec<Join>,
}

impl Plan {
    pub fn from_spec(spec: &Spec) -> Result<Plan> {
        let mut plan = Plan::default();
        let Some(linux) = spec.linux() else {
            return Ok(plan);
        };
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            match ns.path() {
                None => plan.new_flags |= clone_flag(ns.typ()),
                Some(p) => {
                    let file = File::open(p)
                        .with_ctx(|| format!("linux.namespaces[{i}].path: open {}", p.display()))?;
                    plan.joins.push(Join {
                        typ: ns.typ(),
                        path: p.clone(),
                        file,
                    });
                }
            }
        }
        // user first, mount last (joining a mount namespace changes our root).
        plan.joins.sort_by_key(|j| match j.typ {
            LinuxNamespaceType::User => 0,
            LinuxNamespaceType::Mount => 2,
            _ => 1,
        });
        Ok(plan)
    }

    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new_flags & clone_flag(t) != 0
    }

    pub fn joins_type(&self, t: LinuxNamespaceType) -> bool {
        self.joins.iter().any(|j| j.typ == t)
    }

    /// The fast path clones the init directly with every new-namespace flag. Joining by path
    /// (setns must precede unshare so new namespaces are owned by the joined user namespace,
    /// and pid/time joins only apply to children) or a new time namespace (its offsets must be
    /// written before any process lives in it) need the two-step path: clone, setns + unshare,
    /// then fork the init.
    pub fn two_step(&self) -> bool {
        !self.joins.is_empty() || self.creates(LinuxNamespaceType::Time)
    }

    /// setns into every joined namespace. Runs in the child.
    pub fn join_all(&self) -> Result<()> {
        for j in &self.joins {
            // SAFETY: setns on an open namespace fd.
            let r = unsafe { libc::setns(j.file.as_raw_fd(), clone_flag(j.typ)) };
            if r != 0 {
                return Err(Error::sys(
                    format!("setns {} namespace {}", type_name(j.typ), j.path.display()),
                    nix::errno::Errno::last(),
                ));
            }
        }
        Ok(())
    }
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether `/proc/PID/setgroups` must be set to "deny" before we write a gid_map.
///
/// user_namespaces(7): a gid_map written by a process without CAP_SETGID in the parent user
/// namespace (a rootless runtime) is only accepted once setgroups is "deny" (else an
/// unprivileged user could drop groups that deny it access, CVE-2014-8989); runc does the same
/// for rootless containers. A privileged writer (root on the host: hako's normal case) leaves it
/// "allow", as runc does: the maps were chosen by the host's root, and the container's root
/// needs setgroups(2) for `process.user.additionalGids` and to switch users (su, login). The
/// kernel still refuses any gid outside the map, so it cannot gain a host group.
pub fn must_deny_setgroups() -> bool {
    const CAP_SETGID: u32 = 6;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    eff & (1 << CAP_SETGID) == 0
}

/// Write "deny" to `/proc/PID/setgroups` when [`must_deny_setgroups`] says so.
pub fn deny_setgroups_if_unprivileged(pid: i32) -> Result<()> {
    if must_deny_setgroups() {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .ctx("write \"deny\" to setgroups (an unprivileged gid_map)")?;
    }
    Ok(())
}

/// Write uid_map/gid_map of `pid` (a process in a new user namespace). runtime-linux.md: the
/// runtime writes the maps from the parent namespace.
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let uid = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gid = linux.gid_mappings().as_deref().unwrap_or(&[]);
    if !uid.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uid))
            .ctx("write uid_map (linux.uidMappings)")?;
    }
    if !gid.is_empty() {
        deny_setgroups_if_unprivileged(pid)?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gid))
            .ctx("write gid_map (linux.gidMappings)")?;
    }
    Ok(())
}
