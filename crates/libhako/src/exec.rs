//! `hako exec`: run another process in a running container, as runc does. The new process
//! joins every namespace of the container's init (one `setns(pidfd, flags)` call), its cgroup,
//! and gets the container's (or the given) capabilities, user, rlimits and environment.
//!
//! Process model: the caller P `setns`es into the init's pid (and time) namespace, which only
//! affects its children, then clones C straight into the container's cgroup (v2) with a pidfd.
//! C joins the remaining namespaces (user first: the kernel orders a multi-namespace setns),
//! which also moves its root and cwd into the container's root, sets up the terminal if asked,
//! runs the common last steps and execs. Errors come back over the sync channel; the channel
//! closing on exec means success.
use crate::bundle;
use crate::cgroups;
use crate::init;
use crate::process::{self, Forked};
use crate::state::{self, ContainerDir, Root, Status};
use crate::sync::{self, Msg};
use crate::{Context, Error, Result};
use oci_spec::runtime::{Capability, LinuxCapabilities, Process, Spec, User};
use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

#[derive(Debug, Default, Clone)]
pub struct ExecOpts {
    pub process_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tty: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    pub cgroup: Option<String>,
    pub args: Vec<String>,
}

/// A started exec'd process, for the foreground caller to wait on.
pub struct Execed {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// The namespaces `exec` joins: those of the init that differ from ours.
const NS: &[(&str, libc::c_int)] = &[
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("pid", libc::CLONE_NEWPID),
    ("net", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", 0x80),
];

fn differing_namespaces(pid: i32) -> libc::c_int {
    let mut flags = 0;
    for (name, flag) in NS {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok();
        let ours = std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
        if theirs.is_some() && theirs != ours {
            flags |= flag;
        }
    }
    flags
}

fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::invalid(format!("--user {s:?}: expected UID[:GID] as numbers"));
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse::<u32>().map_err(|_| bad())?;
    let gid = match g {
        Some(g) => Some(g.parse::<u32>().map_err(|_| bad())?),
        None => None,
    };
    Ok((uid, gid))
}

fn cap_from_name(name: &str) -> Result<Capability> {
    let full = if name.to_ascii_uppercase().starts_with("CAP_") {
        name.to_ascii_uppercase()
    } else {
        format!("CAP_{}", name.to_ascii_uppercase())
    };
    serde_json::from_value::<Capability>(serde_json::Value::String(full.clone()))
        .map_err(|_| Error::invalid(format!("--cap {name:?}: unknown capability")))
}

/// The process to run: `--process FILE`, or the container's process with the command line's
/// overrides (runc's rules).
pub fn build_process(spec: &Spec, o: &ExecOpts) -> Result<Process> {
    if let Some(f) = &o.process_file {
        let text = std::fs::read_to_string(f).with_ctx(|| format!("--process {}", f.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(format!("--process {}: malformed JSON: {e}", f.display()))
        })?;
        let p: Process = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            Error::config(format!("--process {}: {path}", f.display()), e.into_inner())
        })?;
        // Unset LSM labels are the container's (runc: an exec'd process is confined like the
        // container unless it names its own profile or label).
        let mut p = p;
        let base = spec.process().as_ref();
        if p.apparmor_profile().as_ref().is_none_or(|a| a.is_empty()) {
            p.set_apparmor_profile(base.and_then(|b| b.apparmor_profile().clone()));
        }
        if p.selinux_label().as_ref().is_none_or(|a| a.is_empty()) {
            p.set_selinux_label(base.and_then(|b| b.selinux_label().clone()));
        }
        return check_process(p);
    }
    let base = spec.process().clone().unwrap_or_default();
    let mut p = base.clone();
    if o.args.is_empty() {
        return Err(Error::invalid(
            "exec: no command given (pass COMMAND [ARGS...] or --process FILE)",
        ));
    }
    p.set_args(Some(o.args.clone()));
    let mut env = base.env().clone().unwrap_or_default();
    for e in &o.env {
        let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
        env.retain(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) != key);
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(c) = &o.cwd {
        p.set_cwd(c.clone());
    }
    if let Some(u) = &o.user {
        let (uid, gid) = parse_user(u)?;
        let mut user = User::default();
        user.set_uid(uid);
        user.set_gid(gid.unwrap_or(0));
        user.set_umask(base.user().umask());
        p.set_user(user);
    }
    if !o.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(o.additional_gids.clone()));
        p.set_user(user);
    }
    if !o.caps.is_empty() {
        let mut caps = base.capabilities().clone().unwrap_or_else(empty_caps);
        for name in &o.caps {
            // An unknown name is a warning, as in runc (and runtime-spec #1094).
            let c = match cap_from_name(name) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("{e}: ignored");
                    continue;
                }
            };
            let add = |s: &Option<HashSet<Capability>>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(c);
                Some(s)
            };
            let (b, e, pm) = (
                add(caps.bounding()),
                add(caps.effective()),
                add(caps.permitted()),
            );
            caps.set_bounding(b);
            caps.set_effective(e);
            caps.set_permitted(pm);
        }
        p.set_capabilities(Some(caps));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(a) = &o.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &o.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    p.set_terminal(Some(o.tty));
    check_process(p)
}

fn empty_caps() -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    c.set_bounding(None);
    c.set_effective(None);
    c.set_permitted(None);
    c.set_inheritable(None);
    c.set_ambient(None);
    c
}

fn check_process(p: Process) -> Result<Process> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::config("process.args", "must not be empty"));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::config(
            "process.cwd",
            format!("{:?} must be an absolute path", p.cwd()),
        ));
    }
    crate::lsm::check_process_here(&p)?;
    Ok(p)
}

/// Start the process. With `detach` the caller returns at once; otherwise it waits on the
/// returned pidfd.
pub fn exec(root: &Root, id: &str, o: &ExecOpts) -> Result<Execed> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    match st.status() {
        Status::Stopped => {
            return Err(Error::state(format!(
                "cannot exec in a stopped container {id:?}"
            )))
        }
        Status::Paused if !o.ignore_paused => {
            return Err(Error::state(format!(
                "cannot exec in a paused container {id:?} (use --ignore-paused)"
            )))
        }
        _ => {}
    }
    let cfg = dir.path.join(state::CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg).with_ctx(|| format!("read {}", cfg.display()))?;
    let spec = bundle::parse_config(&text)?;
    let process = build_process(&spec, o)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.console_socket.is_none() {
        return Err(Error::invalid(
            "exec --tty needs --console-socket to receive the pty master",
        ));
    }
    // Pin the init, then check it is still ours.
    let init_fd = process::pidfd_open(st.pid)?;
    if !state::process_alive(st.pid, st.start_time) {
        return Err(Error::state(format!(
            "cannot exec in a stopped container {id:?}"
        )));
    }
    let flags = differing_namespaces(st.pid);
    let console = match (&o.console_socket, terminal) {
        (Some(p), true) => Some(crate::console::connect(p)?),
        _ => None,
    };
    // Cgroup: the container's, or a sub-cgroup of it (--cgroup).
    let mut paths = st.cgroup_paths.clone();
    if let Some(sub) = &o.cgroup {
        let sub = sub.rsplit_once(':').map(|(_, p)| p).unwrap_or(sub);
        let rel = std::path::Path::new(sub.trim_start_matches('/'));
        cgroups::check_path(rel)?;
        paths = paths.iter().map(|p| p.join(rel)).collect();
    }
    let unified = (cgroups::detect() == cgroups::Mode::Unified)
        .then(|| paths.first().cloned())
        .flatten();
    // v1: join by moving ourselves in around the clone (see cgroups::SelfMove); v2 and the
    // cgroup2 part of a hybrid host: CLONE_INTO_CGROUP.
    let v1place = cgroups::Placement {
        paths: paths.clone(),
        created: Vec::new(),
        unified: None,
    };
    // Never into a frozen cgroup (exec --ignore-paused): we would freeze ourselves.
    let selfmove = if unified.is_none() && !cgroups::is_frozen(&paths) {
        cgroups::self_enter(&v1place, None)
    } else {
        None
    };
    let into = unified
        .clone()
        .or_else(|| selfmove.as_ref().and_then(|s| s.unified.clone()));
    let cgroup_dir = match &into {
        Some(p) => Some(open_dir(p)?),
        None => None,
    };
    // pid and time namespaces apply to children: join them here, before the clone.
    let for_children = flags & (libc::CLONE_NEWPID | 0x80);
    if for_children != 0 {
        // SAFETY: setns with a pidfd and namespace flags.
        if unsafe { libc::setns(init_fd.as_raw_fd(), for_children) } != 0 {
            return Err(Error::sys(
                format!("exec in {id:?}: join pid namespace"),
                nix::errno::Errno::last(),
            ));
        }
    }
    let filter = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(sc) => Some(crate::seccomp::compile_cached(
            sc,
            Some(&crate::container::seccomp_cache(&root.path)),
        )?),
        None => None,
    };
    let (pchan, cchan) = sync::pair()?;
    let (pid, pidfd) = match process::clone3(0, cgroup_dir.as_ref().map(|f| f.as_raw_fd()))? {
        Forked::Child => {
            drop(pchan);
            // SAFETY: closing our inherited copy of the parent's lock fd (shared flock).
            unsafe { libc::close(dir.dir.as_raw_fd()) };
            let r = child(
                &cchan,
                init_fd.as_raw_fd(),
                flags & !for_children,
                &process,
                console.as_ref().map(|c| c.as_raw_fd()),
                o.preserve_fds,
                &spec,
                filter.as_ref(),
            );
            let msg = match r {
                Ok(n) => match n {},
                Err(e) => e.to_string(),
            };
            let _ = cchan.send(&Msg::Error(msg));
            // SAFETY: leave the child without running destructors.
            unsafe { libc::_exit(255) }
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(cchan);
    drop(console);
    let placed = if let Some(sm) = selfmove {
        sm.leave()
    } else if unified.is_none() {
        cgroups::enter(&v1place, pid)
    } else {
        Ok(())
    };
    if let Err(e) = placed.and_then(|_| pchan.send(&Msg::Go)) {
        process::kill_and_wait(pid, pidfd.as_raw_fd());
        return Err(e);
    }
    // EOF means the exec happened (the channel is close-on-exec); a seccomp notify fd may
    // come first and is forwarded to the listener at once.
    loop {
        let res = sync::recv_with_fd(pchan.raw_fd()).and_then(|(data, fd)| {
            if let Some(fd) = fd {
                crate::container::forward_notify_fd_spec(&spec, &st, Status::Running, &fd)?;
                // The process waits for this before it execs (see `init::wait_notify_ack`).
                // SAFETY: write one byte from a valid buffer on our sync socket.
                let n =
                    unsafe { libc::write(pchan.raw_fd(), [init::NOTIFY_ACK].as_ptr().cast(), 1) };
                if n != 1 {
                    return Err(Error::sys(
                        "exec: acknowledge the seccomp notify fd",
                        nix::errno::Errno::last(),
                    ));
                }
                return Ok(true);
            }
            if data.is_empty() {
                return Ok(false);
            }
            match serde_json::from_slice::<Msg>(&data) {
                Ok(Msg::Error(e)) => Err(Error::other(format!("exec in {id:?}: {e}"))),
                Ok(m) => Err(Error::other(format!("exec in {id:?}: unexpected {m:?}"))),
                Err(e) => Err(Error::other(format!("exec in {id:?}: sync: {e}"))),
            }
        });
        match res {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => {
                process::kill_and_wait(pid, pidfd.as_raw_fd());
                return Err(e);
            }
        }
    }
    if let Some(pf) = &o.pid_file {
        state::write_pid_file(pf, pid)?;
    }
    drop(dir);
    Ok(Execed { pid, pidfd })
}

fn open_dir(p: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(p)
        .with_ctx(|| format!("open cgroup {}", p.display()))
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn child(
    chan: &sync::Channel,
    init_fd: RawFd,
    flags: libc::c_int,
    process: &Process,
    console: Option<RawFd>,
    preserve_fds: i32,
    _spec: &Spec,
    seccomp: Option<&crate::seccomp::Filter>,
) -> Result<init::Never> {
    // hako's code is about to run inside the container's namespaces (CVE-2019-5736).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    crate::procattr::affinity_initial(process)?;
    chan.expect(&Msg::Go, "hako exec")?;
    crate::procattr::affinity_final(process)?;
    if flags != 0 {
        // SAFETY: setns with the init's pidfd: joins all these namespaces at once.
        if unsafe { libc::setns(init_fd, flags) } != 0 {
            return Err(Error::sys(
                "join the container's namespaces",
                nix::errno::Errno::last(),
            ));
        }
    }
    // SAFETY: closing the pidfd we no longer need.
    unsafe { libc::close(init_fd) };
    nix::unistd::setsid().ctx("setsid")?;
    if let Some(sock) = console {
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup(sock, size, false)?;
        // SAFETY: done with the socket.
        unsafe { libc::close(sock) };
    }
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    let exe = init::find_executable(
        args.first().map(String::as_str).unwrap_or(""),
        env,
        process.cwd(),
    )?;
    let sc = seccomp.map(|filter| init::Seccomp {
        filter,
        notify_sink: chan.raw_fd(),
    });
    init::finish_and_exec(Some(_spec), process, &exe, preserve_fds, sc)
}
