//! Process launch: clone3 of the container's init with its namespaces (and, on cgroup v2,
//! straight into its cgroup), plus the pidfd helpers used to wait without races.
use crate::{Error, Result};
use oci_spec::runtime::Spec;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    Child,
    Parent { pid: i32, pidfd: OwnedFd },
}

/// clone3 like fork(2) (no CLONE_VM: the child gets a copy of the address space), with
/// `ns_flags` and optionally CLONE_INTO_CGROUP. Returns a pidfd for race-free waiting.
pub fn clone3(ns_flags: libc::c_int, cgroup_fd: Option<RawFd>) -> Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: (ns_flags as u32 as u64) | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM behaves like fork; hako is single-threaded, so the child
    // may keep running ordinary Rust code.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r < 0 && nix::errno::Errno::last() == nix::errno::Errno::ENOSYS {
        return clone_legacy(ns_flags, cgroup_fd);
    }
    if r < 0 {
        return Err(Error::sys(
            "clone3 (create the container's init with its namespaces)",
            nix::errno::Errno::last(),
        ));
    }
    if r == 0 {
        return Ok(Forked::Child);
    }
    // SAFETY: CLONE_PIDFD stored a fresh fd.
    Ok(Forked::Parent {
        pid: r as i32,
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
    })
}

/// clone(2) where clone3 is missing: kernels before 5.3, and seccomp profiles that answer
/// ENOSYS for clone3 (Docker's default does, so hako nested in a container lands here; so do
/// tools like valgrind). Without CLONE_INTO_CGROUP the child moves itself into the cgroup
/// first, before it runs anything else.
fn clone_legacy(ns_flags: libc::c_int, cgroup_fd: Option<RawFd>) -> Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let flags = (ns_flags as u32 as u64) | CLONE_PIDFD | libc::SIGCHLD as u64;
    // SAFETY: fork-like clone (no CLONE_VM, stack 0 = the child continues on a copy of ours);
    // with CLONE_PIDFD the pidfd is stored through the parent_tid argument.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            0usize,
            &mut pidfd as *mut libc::c_int,
            0usize,
            0usize,
        )
    };
    if r < 0 {
        return Err(Error::sys(
            "clone (create the container's init with its namespaces)",
            nix::errno::Errno::last(),
        ));
    }
    if r == 0 {
        if let Some(fd) = cgroup_fd {
            // SAFETY: openat/write/close on the cgroup directory fd we inherited.
            let ok = unsafe {
                let f = libc::openat(
                    fd,
                    c"cgroup.procs".as_ptr(),
                    libc::O_WRONLY | libc::O_CLOEXEC,
                );
                let ok = f >= 0 && libc::write(f, b"0".as_ptr().cast(), 1) == 1;
                if f >= 0 {
                    libc::close(f);
                }
                ok
            };
            if !ok {
                eprintln!(
                    "hako: clone fallback: join the container's cgroup: {}",
                    std::io::Error::last_os_error()
                );
                // SAFETY: leave the half-made child at once; the parent sees it exit.
                unsafe { libc::_exit(1) };
            }
        }
        return Ok(Forked::Child);
    }
    // SAFETY: CLONE_PIDFD stored a fresh fd.
    Ok(Forked::Parent {
        pid: r as i32,
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
    })
}

pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open syscall.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        return Err(Error::sys(
            format!("pidfd_open({pid})"),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

pub fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> nix::Result<()> {
    // SAFETY: pidfd_send_signal syscall with a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// poll(2) for readability; `timeout_ms` < 0 waits forever. Returns false on timeout.
pub fn poll_readable(fd: RawFd, timeout_ms: i64) -> Result<bool> {
    let deadline = (timeout_ms >= 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    loop {
        let wait = match deadline {
            None => -1,
            Some(d) => d
                .saturating_duration_since(std::time::Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32,
        };
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, wait) };
        if r > 0 {
            return Ok(true);
        }
        if r == 0 {
            return Ok(false);
        }
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EINTR {
            return Err(Error::sys("poll", e));
        }
    }
}

/// SIGKILL the process behind `pidfd` and wait until it is gone; reap it if it is our child.
pub fn kill_and_wait(pid: i32, pidfd: RawFd) {
    let _ = pidfd_send_signal(pidfd, libc::SIGKILL);
    let _ = poll_readable(pidfd, 10_000);
    // SAFETY: reaping a possible child of ours; ECHILD is fine.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL | libc::WNOHANG) };
}

/// Whether the config has hooks that run in the runtime namespace during create.
pub fn has_runtime_hooks(spec: &Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        #[allow(deprecated)]
        let pre = h.prestart().as_ref().is_some_and(|v| !v.is_empty());
        pre || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    })
}
