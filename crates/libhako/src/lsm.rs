//! AppArmor and SELinux (config.md "process.apparmorProfile", "process.selinuxLabel";
//! config-linux.md "mountLabel").
//!
//! Each is applied when the host has the LSM enabled, and refused with an error naming the
//! field (before anything of the container exists) when it does not: a container must never
//! run unconfined because its confinement was silently dropped.
//!
//! The labels are set as runc sets them: the process label (AppArmor `exec PROFILE`, SELinux
//! context) is written to the task's `attr/.../exec`, so the kernel applies it at the next
//! `execve`; the SELinux label is also the session keyring's (`attr/keycreate`), and
//! `mountLabel` becomes a `context="..."` mount option. Every write goes through a procfs handle
//! pathrs verified to be a real procfs, never the container's `/proc`, which a volume could fake
//! (CVE-2019-16884).
//!
//! The exec label takes effect at the first `execve`, which is the sealed exec stub
//! (`selfexe.rs`), not the program: the program is then exec'd by an already confined process.
//! An AppArmor profile must therefore allow executing the program (`file,` or an `ix` rule, as
//! Docker's default profile does), and an SELinux policy must let the domain be entered through
//! the stub's memfd.
use crate::{Error, Result};
use oci_spec::runtime::{Process, Spec};
use std::io::Write;
use std::path::Path;

/// `SELINUX_MAGIC` (linux/magic.h): the filesystem type of selinuxfs.
const SELINUX_MAGIC: u64 = 0xf97c_ff8c;

/// The LSMs enabled on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Host {
    pub apparmor: bool,
    pub selinux: bool,
}

impl Host {
    /// Look at the running host.
    pub fn detect() -> Host {
        detect_in(Path::new("/"), true)
    }
}

/// Detection below `root` (`/` on a real host; a fake tree in the unit tests, which cannot
/// mount selinuxfs, hence `check_magic`).
///
/// - AppArmor: the module parameter `enabled` reads `Y` and securityfs shows `apparmor/` (as
///   runc; the parameter alone says Y on kernels where another LSM took the major slot).
/// - SELinux: selinuxfs is mounted at `/sys/fs/selinux` (its `enforce` file exists, and the
///   filesystem there really is selinuxfs).
fn detect_in(root: &Path, check_magic: bool) -> Host {
    let param = std::fs::read_to_string(root.join("sys/module/apparmor/parameters/enabled"))
        .unwrap_or_default();
    let apparmor =
        param.trim_start().starts_with('Y') && root.join("sys/kernel/security/apparmor").is_dir();
    let selinuxfs = root.join("sys/fs/selinux");
    let selinux = selinuxfs.join("enforce").exists()
        && (!check_magic
            || nix::sys::statfs::statfs(&selinuxfs)
                // f_type is a signed long: compare its low 32 bits.
                .map(|s| (s.filesystem_type().0 as u64) & 0xffff_ffff == SELINUX_MAGIC)
                .unwrap_or(false));
    Host { apparmor, selinux }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// A label is written as one line: no NUL, no newline.
fn check_text(field: &str, s: &str) -> Result<()> {
    if s.contains(['\0', '\n']) {
        return Err(Error::config(field, "must be one line without NUL bytes"));
    }
    Ok(())
}

/// Whether AppArmor has the profile `name` loaded, from securityfs's `profiles` list (`NAME
/// (MODE)` per line). None when that cannot be told: the list is unreadable, or the name is a
/// stack (`a//&b`) or names a policy namespace (`:ns:name`).
pub fn apparmor_profile_loaded(name: &str) -> Option<bool> {
    let list = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles").ok()?;
    profile_listed(&list, name)
}

fn profile_listed(list: &str, name: &str) -> Option<bool> {
    if name == "unconfined" {
        return Some(true);
    }
    if name.contains("//&") || name.starts_with(':') {
        return None;
    }
    Some(list.lines().any(|l| {
        let n = l.rsplit_once(" (").map(|(n, _)| n).unwrap_or(l);
        n == name
    }))
}

/// The LSM fields of a process (`create`'s config or `exec`'s process), checked before
/// anything exists: an error naming the field when the host lacks the LSM or the AppArmor
/// profile is not loaded.
pub fn check_process(p: &Process, host: Host) -> Result<()> {
    if let Some(a) = nonempty(p.apparmor_profile()) {
        let f = "process.apparmorProfile";
        if !host.apparmor {
            return Err(Error::config(
                f,
                format!(
                    "AppArmor profile {a:?} requested, but AppArmor is not enabled on this host"
                ),
            ));
        }
        check_text(f, a)?;
        if apparmor_profile_loaded(a) == Some(false) {
            return Err(Error::config(
                f,
                format!("AppArmor profile {a:?} is not loaded (load it with apparmor_parser)"),
            ));
        }
    }
    if let Some(l) = nonempty(p.selinux_label()) {
        let f = "process.selinuxLabel";
        if !host.selinux {
            return Err(Error::config(
                f,
                format!("SELinux label {l:?} requested, but SELinux is not enabled on this host"),
            ));
        }
        check_text(f, l)?;
    }
    Ok(())
}

/// Whether `p` asks for an AppArmor profile or an SELinux label.
fn process_asks(p: &Process) -> bool {
    nonempty(p.apparmor_profile()).is_some() || nonempty(p.selinux_label()).is_some()
}

/// [`check_spec`] against this host, which is only probed when the config asks for a label
/// (`create` is on the hot path; most configs ask for none).
pub fn check_spec_here(spec: &Spec) -> Result<()> {
    let mount_label = spec
        .linux()
        .as_ref()
        .is_some_and(|l| nonempty(l.mount_label()).is_some());
    if !mount_label && !spec.process().as_ref().is_some_and(process_asks) {
        return Ok(());
    }
    check_spec(spec, Host::detect())
}

/// [`check_process`] against this host, probed only when `p` asks for a label.
pub fn check_process_here(p: &Process) -> Result<()> {
    if !process_asks(p) {
        return Ok(());
    }
    check_process(p, Host::detect())
}

/// `create`: the process's fields and `linux.mountLabel`.
pub fn check_spec(spec: &Spec, host: Host) -> Result<()> {
    if let Some(l) = spec
        .linux()
        .as_ref()
        .and_then(|l| nonempty(l.mount_label()))
    {
        let f = "linux.mountLabel";
        if !host.selinux {
            return Err(Error::config(
                f,
                format!(
                    "SELinux mount label {l:?} requested, but SELinux is not enabled on this host"
                ),
            ));
        }
        check_text(f, l)?;
        if l.contains('"') {
            return Err(Error::config(f, "must not contain '\"'"));
        }
    }
    if let Some(p) = spec.process() {
        check_process(p, host)?;
    }
    Ok(())
}

/// The mount label of a spec, if any.
pub fn mount_label(spec: &Spec) -> Option<&str> {
    spec.linux()
        .as_ref()
        .and_then(|l| nonempty(l.mount_label()))
}

/// Whether a fresh mount of filesystem `typ` takes the `context=` option (runc's rule: not
/// proc, sysfs and cgroup, which have their own labels, nor binds, which keep their source's;
/// mqueue gets its label on the mounted root instead, [`labels_root`]).
pub fn takes_context(typ: &str) -> bool {
    !matches!(
        typ,
        "" | "bind" | "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue"
    )
}

/// Whether a mount of `typ` is labelled on its root after mounting (mqueue, as in runc).
pub fn labels_root(typ: &str) -> bool {
    typ == "mqueue"
}

/// The data of a mount of `typ` with `label`: `context="LABEL"` appended when the filesystem
/// takes it. None for empty data.
pub fn mount_data(typ: &str, data: &str, label: Option<&str>) -> Option<String> {
    let mut out = data.to_string();
    if let Some(l) = label.filter(|l| !l.is_empty() && takes_context(typ)) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&format!("context=\"{l}\""));
    }
    (!out.is_empty()).then_some(out)
}

/// Label the root of a filesystem just mounted at `fd` (an fd of the mount's root, not O_PATH).
pub fn set_file_label(fd: std::os::fd::RawFd, label: &str) -> Result<()> {
    let v = std::ffi::CString::new(label)
        .map_err(|_| Error::config("linux.mountLabel", "contains a NUL byte"))?;
    // SAFETY: fsetxattr with a valid fd, a constant name and our buffer.
    let r = unsafe {
        libc::fsetxattr(
            fd,
            c"security.selinux".as_ptr(),
            v.as_ptr().cast(),
            label.len(),
            0,
        )
    };
    if r != 0 {
        return Err(Error::sys(
            format!("linux.mountLabel: set the label {label:?}"),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Write `value` to the first of `candidates` (paths under /proc/self) that exists, through a
/// verified procfs handle. Each value must be one `write`: the kernel takes no partial writes.
fn write_attr(field: &str, candidates: &[&str], value: &str) -> Result<()> {
    let proc = pathrs::procfs::ProcfsHandle::new()
        .map_err(|e| Error::other(format!("{field}: open procfs: {e}")))?;
    let mut missing = None;
    for rel in candidates {
        let mut f = match proc.open(
            pathrs::procfs::ProcfsBase::ProcSelf,
            rel,
            pathrs::flags::OpenFlags::O_WRONLY | pathrs::flags::OpenFlags::O_CLOEXEC,
        ) {
            Ok(f) => f,
            Err(e) if crate::rootfs::perrno(&e) == Some(libc::ENOENT) => {
                missing = Some(e);
                continue;
            }
            Err(e) => {
                return Err(crate::rootfs::perr(
                    format!("{field}: open /proc/self/{rel}"),
                    e,
                ))
            }
        };
        return match f.write(value.as_bytes()) {
            Ok(n) if n == value.len() => Ok(()),
            Ok(_) => Err(Error::other(format!(
                "{field}: short write of {value:?} to /proc/self/{rel}"
            ))),
            Err(e) => Err(Error::io(
                format!("{field}: write {value:?} to /proc/self/{rel}"),
                e,
            )),
        };
    }
    Err(match missing {
        Some(e) => crate::rootfs::perr(format!("{field}: open /proc/self/{}", candidates[0]), e),
        None => Error::other(format!("{field}: nothing to write to")),
    })
}

/// AppArmor: `exec PROFILE` to `attr/apparmor/exec` (the LSM's own directory; `attr/exec` on
/// kernels before 5.8).
fn apparmor_exec(profile: &str) -> Result<()> {
    write_attr(
        "process.apparmorProfile",
        &["attr/apparmor/exec", "attr/exec"],
        &format!("exec {profile}"),
    )
}

/// The labels the next `execve` applies: the AppArmor profile and the SELinux process label.
/// Called last before exec (after the user switch would be fine too: the labels live in the
/// task, not its uid), for the init at `start` and for `exec`'d processes.
pub fn apply_exec(p: &Process) -> Result<()> {
    if let Some(a) = nonempty(p.apparmor_profile()) {
        apparmor_exec(a)?;
    }
    if let Some(l) = nonempty(p.selinux_label()) {
        write_attr("process.selinuxLabel", &["attr/exec"], l)?;
    }
    Ok(())
}

/// SELinux: the label of the keys the process creates, set before the session keyring is made
/// so the container's keyring carries the container's label (as runc). The kernel resets it at
/// `execve`.
pub fn apply_keycreate(p: &Process) -> Result<()> {
    match nonempty(p.selinux_label()) {
        Some(l) => write_attr("process.selinuxLabel", &["attr/keycreate"], l),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(aa: Option<&str>, securityfs: bool, enforce: bool) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        if let Some(v) = aa {
            fs::create_dir_all(r.join("sys/module/apparmor/parameters")).unwrap();
            fs::write(r.join("sys/module/apparmor/parameters/enabled"), v).unwrap();
        }
        if securityfs {
            fs::create_dir_all(r.join("sys/kernel/security/apparmor")).unwrap();
        }
        if enforce {
            fs::create_dir_all(r.join("sys/fs/selinux")).unwrap();
            fs::write(r.join("sys/fs/selinux/enforce"), "1").unwrap();
        }
        d
    }

    #[test]
    fn detection() {
        let h = |aa, sfs, enf| detect_in(tree(aa, sfs, enf).path(), false);
        assert_eq!(h(None, false, false), Host::default());
        assert!(h(Some("Y\n"), true, false).apparmor);
        // The parameter alone is not enough (securityfs not mounted, or another LSM is major).
        assert!(!h(Some("Y\n"), false, false).apparmor);
        assert!(!h(Some("N\n"), true, false).apparmor);
        assert!(h(None, false, true).selinux);
        assert!(!h(None, false, true).apparmor);
        // With the magic check, a plain directory is not selinuxfs.
        assert!(!detect_in(tree(None, false, true).path(), true).selinux);
    }

    #[test]
    fn profiles_list() {
        let list = "hako-test (enforce)\ndocker-default (enforce)\nx//hat (complain)\n";
        assert_eq!(profile_listed(list, "hako-test"), Some(true));
        assert_eq!(profile_listed(list, "x//hat"), Some(true));
        assert_eq!(profile_listed(list, "hako"), Some(false));
        assert_eq!(profile_listed("", "unconfined"), Some(true));
        assert_eq!(profile_listed(list, "a//&b"), None);
        assert_eq!(profile_listed(list, ":ns:p"), None);
    }

    #[test]
    fn mount_label_options() {
        let l = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            mount_data("tmpfs", "mode=755", l).as_deref(),
            Some("mode=755,context=\"system_u:object_r:container_file_t:s0:c1,c2\"")
        );
        assert_eq!(
            mount_data("devpts", "", l).as_deref(),
            Some("context=\"system_u:object_r:container_file_t:s0:c1,c2\"")
        );
        for t in ["proc", "sysfs", "cgroup", "cgroup2", "bind", "mqueue"] {
            assert_eq!(mount_data(t, "x=1", l).as_deref(), Some("x=1"), "{t}");
        }
        assert_eq!(mount_data("tmpfs", "", None), None);
        assert_eq!(mount_data("tmpfs", "", Some("")), None);
        assert!(labels_root("mqueue") && !labels_root("tmpfs"));
    }

    #[test]
    fn absent_lsm_is_an_error_naming_the_field() {
        let mut p = Process::default();
        p.set_apparmor_profile(Some("p".into()));
        let e = check_process(&p, Host::default()).unwrap_err().to_string();
        assert!(e.contains("process.apparmorProfile"), "{e}");
        let mut p = Process::default();
        p.set_selinux_label(Some("system_u:system_r:container_t:s0".into()));
        let e = check_process(&p, Host::default()).unwrap_err().to_string();
        assert!(e.contains("process.selinuxLabel"), "{e}");
        let host = Host {
            apparmor: false,
            selinux: true,
        };
        assert!(check_process(&p, host).is_ok());
        p.set_selinux_label(Some("a\nb".into()));
        assert!(check_process(&p, host).is_err());
        // Empty strings mean "not set".
        let mut p = Process::default();
        p.set_apparmor_profile(Some(String::new()));
        p.set_selinux_label(Some(String::new()));
        assert!(check_process(&p, Host::default()).is_ok());
        let mut s = Spec::default();
        let mut l = s.linux().clone().unwrap_or_default();
        l.set_mount_label(Some("system_u:object_r:container_file_t:s0".into()));
        s.set_linux(Some(l));
        s.set_process(None);
        let e = check_spec(&s, Host::default()).unwrap_err().to_string();
        assert!(e.contains("linux.mountLabel"), "{e}");
        assert!(check_spec(&s, host).is_ok());
    }
}
