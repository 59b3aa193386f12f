//! The operations of runtime.md "Operations": create, start, state, kill, delete (and run,
//! list), on top of the state directory, the init and the cgroups.
use crate::bundle::{self, Bundle};
use crate::cgroups::{self, Placement};
use crate::init::{self, InitArgs};
use crate::logging::StepTimer;
use crate::namespaces::{self, Plan};
use crate::process::{self, Forked};
use crate::state::{self, ContainerDir, Root, State, Status};
use crate::sync::{self, Msg};
use crate::{Context, Error, ErrorKind, Result};
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(Debug, Default, Clone)]
pub struct CreateOpts {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (used by `run -t` in the foreground, where hako
    /// itself receives the master and relays the caller's terminal).
    pub console_fd: Option<std::os::fd::RawFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Socket activation: fds passed by systemd (LISTEN_FDS), kept open as 3..3+N and announced
    /// to the container with LISTEN_FDS=N, LISTEN_PID=1 (as runc does).
    pub listen_fds: i32,
}

/// A container created by this process (for `run`, which keeps waiting on it).
pub struct Created {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// `process.terminal` was true (the pty master went to the console socket).
    pub terminal: bool,
    /// The container's directory, still locked, and its state: `run` starts the container
    /// with them ([`start_created`]) without reading back what create just wrote.
    dir: Option<ContainerDir>,
    state: State,
}

/// Everything create did on the host, undone in reverse if a later step fails.
struct Undo {
    dir: Option<ContainerDir>,
    placement: Placement,
    procs: Vec<(i32, OwnedFd)>,
}

impl Undo {
    fn run(mut self) {
        for (pid, fd) in self.procs.drain(..).rev() {
            process::kill_and_wait(pid, fd.as_raw_fd());
        }
        let _ = cgroups::remove(&self.placement.created);
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

fn hooks_state_json(id: &str, status: &str, pid: i32, b: &Bundle) -> String {
    let annotations = b.spec.annotations().clone().unwrap_or_default();
    serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": b.dir,
        "annotations": annotations,
    })
    .to_string()
}

/// runtime.md "create": everything of config.json but the user program, which waits for start.
pub fn create(root: &Root, id: &str, opts: &CreateOpts) -> Result<Created> {
    let mut t = StepTimer::new("create");
    crate::id::validate_id(id)?;
    let mut b = bundle::load(&opts.bundle)?;
    if opts.listen_fds > 0 {
        if let Some(p) = b.spec.process_mut().as_mut() {
            let mut env = p.env().clone().unwrap_or_default();
            env.push(format!("LISTEN_FDS={}", opts.listen_fds));
            env.push("LISTEN_PID=1".to_string());
            p.set_env(Some(env));
        }
    }
    t.step("load bundle");
    let terminal = b
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(Error::config(
            "process.terminal",
            "true requires --console-socket to receive the pty master",
        ));
    }
    reject_unsupported(&b.spec)?;
    let plan = Plan::from_spec(&b.spec)?;
    let cdir = ContainerDir::create(root, id)?;
    let mut undo = Undo {
        dir: Some(cdir),
        placement: Placement::default(),
        procs: Vec::new(),
    };
    match create_inner(id, opts, &b, &plan, &mut undo, &mut t) {
        Ok(c) => Ok(c),
        Err(e) => {
            let started = !undo.procs.is_empty();
            undo.run();
            // runtime.md "Lifecycle": a failure after the container's process exists continues
            // at "delete", and so with the poststop hooks.
            if started {
                if let Some(ps) = b.spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()) {
                    let st = hooks_state_json(id, "stopped", 0, &b);
                    crate::hooks::run_all_warn("poststop", ps, &st);
                }
            }
            Err(e)
        }
    }
}

/// Fields hako does not implement yet are an error naming the field, never silently ignored
/// (`features` says the same).
fn reject_unsupported(spec: &oci_spec::runtime::Spec) -> Result<()> {
    if let Some(l) = spec.linux() {
        if l.intel_rdt().is_some() {
            let why = if std::path::Path::new("/sys/fs/resctrl/schemata").exists() {
                "not supported by this hako yet"
            } else {
                "resctrl is not mounted at /sys/fs/resctrl on this host"
            };
            return Err(Error::config("linux.intelRdt", why));
        }
    }
    // AppArmor/SELinux: applied when the host has them, an error naming the field otherwise.
    crate::lsm::check_spec_here(spec)
}

/// The compiled-seccomp cache: beside the containers, under a name no container id can take.
pub fn seccomp_cache(root: &std::path::Path) -> PathBuf {
    root.join("@seccomp-cache")
}

fn dir_root(undo: &Undo) -> PathBuf {
    undo.dir
        .as_ref()
        .and_then(|d| d.path.parent().map(|p| p.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("/run/hako"))
}

fn bind_start_socket(dir: &ContainerDir) -> Result<OwnedFd> {
    // SAFETY: socket(2).
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::sys("socket", nix::errno::Errno::last()));
    }
    // SAFETY: fresh fd.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // Bind through the directory fd: a long --root would not fit in sun_path.
    let path = format!(
        "/proc/self/fd/{}/{}",
        dir.dir.as_raw_fd(),
        state::START_SOCKET
    );
    let addr = nix::sys::socket::UnixAddr::new(path.as_str()).ctx("start socket address")?;
    nix::sys::socket::bind(sock.as_raw_fd(), &addr).ctx("bind start socket")?;
    nix::sys::socket::listen(
        &sock,
        nix::sys::socket::Backlog::new(1).unwrap_or(nix::sys::socket::Backlog::MAXCONN),
    )
    .ctx("listen on start socket")?;
    Ok(sock)
}

fn create_inner(
    id: &str,
    opts: &CreateOpts,
    b: &Bundle,
    plan: &Plan,
    undo: &mut Undo,
    t: &mut StepTimer,
) -> Result<Created> {
    let spec = &b.spec;
    let linux = spec.linux().as_ref();
    // v1: the cgroup directories are made after the clone, while the init sets up its mounts,
    // and the init moves itself in (cgroups::plan_late); otherwise they exist before the clone.
    // Not with a new user namespace: its init has no rights over the host's cgroup files.
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    let late = if plan.two_step() || plan.creates(LinuxNamespaceType::User) {
        None
    } else {
        cgroups::plan_late(cgroups_path, id)?
    };
    let late_cgroups = late.is_some();
    undo.placement = match late {
        Some(p) => p,
        None => cgroups::prepare(cgroups_path, id)?,
    };
    t.step("cgroups prepared");
    // Seccomp is compiled here, once, with a cache under --root (libseccomp takes ~20 ms for a
    // real profile); the init inherits the compiled program in its copy of our memory.
    let filter = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(sc) => Some(crate::seccomp::compile_cached(
            sc,
            Some(&seccomp_cache(&dir_root(undo))),
        )?),
        None => None,
    };
    t.step("seccomp compiled");
    let res = linux.map(cgroups::effective_resources).unwrap_or_default();
    // Limits (applied even without `resources`: the default device rules come from here) are
    // in force before any user code runs. On v1 they are also in force before the init is in
    // the cgroup: v1 device rules are written one at a time (deny all, then allow each), and
    // an init already inside would see its mknod refused in between. v2 attaches its device
    // program in one step, so there the limits are applied while the init sets up its mounts.
    let apply_early = undo.placement.unified.is_none() && !late_cgroups;
    if apply_early {
        cgroups::apply(&undo.placement, &res, plan.creates(LinuxNamespaceType::Pid))?;
    }
    let dir = undo
        .dir
        .as_ref()
        .ok_or_else(|| Error::other("internal: no state directory"))?;
    let listener = bind_start_socket(dir)?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let console = match (&opts.console_socket, terminal) {
        (Some(p), true) => Some(crate::console::connect(p)?),
        _ => None,
    };
    let console_fd =
        console
            .as_ref()
            .map(|c| c.as_raw_fd())
            .or(if terminal { opts.console_fd } else { None });
    // Idmapped mounts: the trees are prepared here (setting an idmap needs privileges over the
    // source's superblock that an init in a new user namespace lacks); the init inherits the fds.
    let idmapped = crate::idmap::prepare(spec, &b.rootfs)?;
    let (pchan, cchan) = sync::pair()?;
    // v1: move ourselves into the container's cgroups so the init is born there (see
    // cgroups::SelfMove: avoids a 5-10 ms RCU wait per create); v2: CLONE_INTO_CGROUP.
    let pids_limit = res.pids().as_ref().map(|p| p.limit());
    let selfmove = if undo.placement.unified.is_none() && !late_cgroups {
        cgroups::self_enter(&undo.placement, pids_limit)
    } else {
        None
    };
    let into = undo
        .placement
        .unified
        .clone()
        .or_else(|| selfmove.as_ref().and_then(|s| s.unified.clone()));
    let cgroup_dir = match &into {
        Some(p) => Some(
            std::fs::File::options()
                .read(true)
                .custom_flags_dir()
                .open(p)
                .with_ctx(|| format!("open cgroup {}", p.display()))?,
        ),
        None => None,
    };
    let clone_flags = if plan.two_step() {
        0
    } else {
        plan.new_flags & !libc::CLONE_NEWCGROUP
    };
    t.step("prepared");
    let (cpid, cpidfd) =
        match process::clone3(clone_flags, cgroup_dir.as_ref().map(|f| f.as_raw_fd()))? {
            Forked::Child => {
                drop(pchan);
                let args = InitArgs {
                    id,
                    bundle: &b.dir,
                    spec,
                    rootfs: &b.rootfs,
                    plan,
                    placement: &undo.placement,
                    late_cgroups,
                    joined_cgroups: &std::cell::Cell::new(false),
                    chan: &cchan,
                    listener: listener.as_raw_fd(),
                    no_pivot: opts.no_pivot,
                    no_new_keyring: opts.no_new_keyring,
                    console_sock: console_fd,
                    seccomp: filter.as_ref(),
                    preserve_fds: opts.preserve_fds + opts.listen_fds.max(0),
                    lock_fd: dir.dir.as_raw_fd(),
                };
                init::child_main(&args)
            }
            Forked::Parent { pid, pidfd } => (pid, pidfd),
        };
    drop(cchan);
    drop(idmapped);
    drop(listener);
    drop(console);
    undo.procs.push((cpid, cpidfd));
    t.step("cloned");
    if plan.two_step() {
        pchan.expect(&Msg::Unshared, "the container's init")?;
    }
    if plan.creates(LinuxNamespaceType::User) {
        namespaces::write_id_maps(cpid, spec)?;
    }
    let placed_at_clone = selfmove.is_some() || undo.placement.unified.is_some();
    if !placed_at_clone && !late_cgroups {
        cgroups::enter(&undo.placement, cpid)?;
    }
    // linux.netDevices: moved from the host's network namespace before the init continues.
    crate::netdev::attach(spec, cpid)?;
    pchan.send(&Msg::Go)?;
    // From here the init sets up its mounts (about 1 ms) while this process does its share:
    // return to our own cgroups, apply the limits, prepare the state files.
    if let Some(sm) = selfmove {
        sm.leave()?;
    }
    t.step("cgroup placed");
    if late_cgroups {
        cgroups::create_planned(&mut undo.placement)?;
    }
    if !apply_early {
        // Before the hooks run and before any user code does, as runc (which applies them
        // when its init reports the mounts done).
        cgroups::apply(&undo.placement, &res, plan.creates(LinuxNamespaceType::Pid))?;
    }
    if late_cgroups {
        // The init waits for this before it mounts cgroupfs or joins: the rules are complete
        // by the time it is inside.
        pchan.send(&Msg::CgroupsReady)?;
    }
    t.step("cgroup resources");
    let pid = if plan.two_step() {
        let pid = match pchan.recv()? {
            Some(Msg::InitPid(p)) => p,
            Some(Msg::Error(e)) => return Err(Error::other(e)),
            other => {
                return Err(Error::other(format!(
                    "sync: expected the init's pid, got {other:?}"
                )))
            }
        };
        let fd = process::pidfd_open(pid)?;
        undo.procs.push((pid, fd));
        // Reap the intermediate process.
        // SAFETY: waitpid on our child.
        unsafe { libc::waitpid(cpid, std::ptr::null_mut(), 0) };
        pid
    } else {
        cpid
    };
    // The state is written now, under a temporary name, and renamed into place once the init
    // reports the container created: `state` and `list` never see a half-created container.
    let (_, start_time) = state::proc_stat(pid)
        .ok_or_else(|| Error::other("the container's init exited during setup"))?;
    let st = State {
        oci_version: crate::OCI_VERSION.to_string(),
        id: id.to_string(),
        pid,
        start_time,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        started: false,
        cgroup_paths: undo.placement.paths.clone(),
        cgroups_created: undo.placement.created.clone(),
        own_pid_ns: plan.creates(LinuxNamespaceType::Pid),
        hooks: spec
            .hooks()
            .as_ref()
            .and_then(|h| serde_json::to_value(h).ok()),
    };
    let cfg = dir.path.join(state::CONFIG_FILE);
    std::fs::write(&cfg, &b.raw).with_ctx(|| format!("write {}", cfg.display()))?;
    let pending = dir.write_pending(&st)?;
    t.step("state prepared");
    loop {
        match pchan.recv()? {
            Some(Msg::ReadyForHooks) => {
                let st = hooks_state_json(id, "creating", pid, b);
                if let Some(h) = spec.hooks() {
                    #[allow(deprecated)]
                    if let Some(pre) = h.prestart() {
                        crate::hooks::run_all("prestart", pre, &st)?;
                    }
                    if let Some(cr) = h.create_runtime() {
                        crate::hooks::run_all("createRuntime", cr, &st)?;
                    }
                }
                pchan.send(&Msg::HooksDone)?;
            }
            Some(Msg::Created) => break,
            Some(Msg::Error(e)) => return Err(Error::other(e)),
            Some(m) => {
                return Err(Error::other(format!(
                    "sync: unexpected {m:?} from the init"
                )))
            }
            None => return Err(Error::other("the container's init exited during setup")),
        }
    }
    t.step("init set up");
    dir.commit(pending)?;
    if let Some(pf) = &opts.pid_file {
        state::write_pid_file(pf, pid)?;
    }
    t.step("state saved");
    // Success: disarm the undo, keep the init's pidfd and the locked directory for `run`.
    let dir = undo.dir.take();
    let (_, pidfd) = undo
        .procs
        .pop()
        .ok_or_else(|| Error::other("internal: no init process"))?;
    undo.procs.clear();
    undo.placement = Placement::default();
    Ok(Created {
        pid,
        pidfd,
        terminal,
        dir,
        state: st,
    })
}

trait DirOpen {
    fn custom_flags_dir(&mut self) -> &mut Self;
}
impl DirOpen for std::fs::OpenOptions {
    fn custom_flags_dir(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
    }
}

/// runtime.md "start": run the user program of a `created` container.
pub fn start(root: &Root, id: &str) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    let status = st.status();
    if status != Status::Created {
        return Err(Error::state(format!(
            "cannot start container {id:?}: it is {status}, not created"
        )));
    }
    start_locked(dir, st)
}

impl Created {
    /// Unlock the container's directory (before deleting it from this process).
    pub fn unlock(&mut self) {
        self.dir = None;
    }
}

/// `run`: start the container `create` just made, with the directory it still holds locked
/// (so nothing can delete or start it in between).
pub fn start_created(root: &Root, c: &mut Created) -> Result<()> {
    match c.dir.take() {
        Some(dir) => start_locked(dir, c.state.clone()),
        None => start(root, &c.state.id),
    }
}

fn start_locked(dir: ContainerDir, mut st: State) -> Result<()> {
    let id = st.id.clone();
    let path = format!(
        "/proc/self/fd/{}/{}",
        dir.dir.as_raw_fd(),
        state::START_SOCKET
    );
    let stream = std::os::unix::net::UnixStream::connect(&path)
        .with_ctx(|| format!("start container {id:?}: connect to its init"))?;
    // The init writes an error text, or hands over a seccomp notify fd (forwarded to the
    // listener before we wait any further: the program may block on it), then execs; the
    // close-on-exec connection then reads EOF.
    let mut msg = Vec::new();
    loop {
        let (data, fd) = sync::recv_with_fd(stream.as_raw_fd())?;
        if let Some(fd) = fd {
            // The init waits for this byte before it execs: an unreachable agent must not
            // leave the program running unsupervised.
            let sent = forward_notify_fd(&dir, &st, Status::Created, &fd).and_then(|_| {
                use std::io::Write;
                (&stream)
                    .write_all(&[init::NOTIFY_ACK])
                    .ctx("start: acknowledge the seccomp notify fd")
            });
            if let Err(e) = sent {
                stop_init(&st);
                return Err(e);
            }
            continue;
        }
        if data.is_empty() {
            break;
        }
        msg.extend_from_slice(&data);
    }
    let msg = String::from_utf8_lossy(&msg).into_owned();
    let _ = std::fs::remove_file(dir.path.join(state::START_SOCKET));
    if !msg.is_empty() {
        return Err(Error::other(format!("start container {id:?}: {msg}")));
    }
    st.started = true;
    dir.save(&st)?;
    if let Some(h) = st
        .hooks
        .as_ref()
        .and_then(|v| serde_json::from_value::<oci_spec::runtime::Hooks>(v.clone()).ok())
    {
        if let Some(ps) = h.poststart() {
            let js = serde_json::to_string(&st.public(Status::Running)).unwrap_or_default();
            if let Err(e) = crate::hooks::run_all("poststart", ps, &js) {
                // runtime.md "Lifecycle" step 9: stop the container and destroy it.
                stop_init(&st);
                let _ = destroy(dir, &st);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// config-linux.md "Seccomp": send the notify fd and the container's state to `listenerPath`.
fn forward_notify_fd(dir: &ContainerDir, st: &State, status: Status, fd: &OwnedFd) -> Result<()> {
    let cfg = dir.path.join(state::CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg).with_ctx(|| format!("read {}", cfg.display()))?;
    let spec = bundle::parse_config(&text)?;
    forward_notify_fd_spec(&spec, st, status, fd)
}

pub fn forward_notify_fd_spec(
    spec: &oci_spec::runtime::Spec,
    st: &State,
    status: Status,
    fd: &OwnedFd,
) -> Result<()> {
    let sc = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .ok_or_else(|| Error::other("seccomp notify fd without linux.seccomp"))?;
    let path = sc.listener_path().as_ref().ok_or_else(|| {
        Error::config(
            "linux.seccomp.listenerPath",
            "required with SCMP_ACT_NOTIFY",
        )
    })?;
    let js = serde_json::to_string(&st.public(status)).unwrap_or_default();
    let meta = sc.listener_metadata().clone().unwrap_or_default();
    use std::os::fd::AsFd;
    crate::seccomp::send_notify_fd(path, &js, &meta, fd.as_fd())
}

/// runtime.md "state".
pub fn state(root: &Root, id: &str) -> Result<String> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    let status = st.status();
    serde_json::to_string_pretty(&st.public(status))
        .map_err(|e| Error::other(format!("encode state: {e}")))
}

/// runtime.md "kill": send a signal to the init (or with `all`, to every process in the
/// container's cgroup).
pub fn kill(root: &Root, id: &str, sig: i32, all: bool) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    let status = st.status();
    // `kill --all` (runc's extension, not the spec's kill) signals whatever is in the cgroup,
    // even after the init stopped: without a pid namespace of its own the init's children
    // outlive it. The runc v2 shim sends it whenever a container's init exits, so like runc
    // it succeeds with nothing left to signal; plain kill of a stopped container is an error.
    if status == Status::Stopped && !all {
        return Err(Error::state(format!(
            "container {id:?} is not running (container not running)"
        )));
    }
    if all {
        for pid in cgroups::pids(&st.cgroup_paths) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::try_from(sig).ok(),
            );
        }
        return Ok(());
    }
    signal_init(&st, sig)
}

fn signal_init(st: &State, sig: i32) -> Result<()> {
    let fd = match process::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(_) => {
            return Err(Error::state(format!(
                "container {:?} is not running (no such process)",
                st.id
            )))
        }
    };
    // The pidfd pins the process: check it is still our init before signalling.
    if !state::process_alive(st.pid, st.start_time) {
        return Err(Error::state(format!(
            "container {:?} is not running (container not running)",
            st.id
        )));
    }
    process::pidfd_send_signal(fd.as_raw_fd(), sig)
        .with_ctx(|| format!("kill container {:?}", st.id))
}

/// runtime.md "delete": remove what create made. A running container needs `force`.
pub fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
    let dir = match ContainerDir::open(root, id) {
        Ok(d) => d,
        Err(e) if force && e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = dir.load()?;
    let status = st.status();
    match status {
        Status::Stopped => {}
        Status::Created => stop_init(&st),
        Status::Running | Status::Paused | Status::Creating => {
            if !force {
                return Err(Error::state(format!(
                    "cannot delete container {id:?} that is not stopped: {status}"
                )));
            }
            stop_init(&st);
        }
    }
    destroy(dir, &st)
}

/// Kill the init and wait until it is gone (and with it its pid namespace).
fn stop_init(st: &State) {
    if let Ok(fd) = process::pidfd_open(st.pid) {
        if state::process_alive(st.pid, st.start_time) {
            // A frozen cgroup would keep the process from dying.
            cgroups::thaw(&st.cgroup_paths);
            process::kill_and_wait(st.pid, fd.as_raw_fd());
        }
    }
}

fn destroy(dir: ContainerDir, st: &State) -> Result<()> {
    // Without its own pid namespace, other container processes may remain in the cgroup.
    if !st.own_pid_ns {
        for pid in cgroups::pids(&st.cgroup_paths) {
            if let Ok(fd) = process::pidfd_open(pid) {
                process::kill_and_wait(pid, fd.as_raw_fd());
            }
        }
    }
    let r = cgroups::remove(&st.cgroups_created);
    if let Some(h) = st
        .hooks
        .as_ref()
        .and_then(|v| serde_json::from_value::<oci_spec::runtime::Hooks>(v.clone()).ok())
    {
        if let Some(ps) = h.poststop() {
            let js = serde_json::to_string(&st.public(Status::Stopped)).unwrap_or_default();
            crate::hooks::run_all_warn("poststop", ps, &js);
        }
    }
    dir.remove()?;
    r
}

/// One row of `list`.
pub struct ListEntry {
    pub state: State,
    pub status: Status,
}

pub fn list(root: &Root) -> Result<Vec<ListEntry>> {
    let mut out = Vec::new();
    for id in root.ids()? {
        let p = root.container_dir(&id).join(state::STATE_FILE);
        // No lock: list must not block behind a long create; the state file is replaced
        // atomically, so a read sees a whole document.
        let Ok(text) = std::fs::read(&p) else {
            continue;
        };
        let Ok(st) = serde_json::from_slice::<State>(&text) else {
            continue;
        };
        let status = st.status();
        out.push(ListEntry { state: st, status });
    }
    Ok(out)
}

/// Exit code of a wait status: the code, or 128+N for a signal.
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

/// `run` in the foreground: wait for the init, forwarding signals, and return its exit code.
pub fn wait_forwarding(c: &Created) -> Result<i32> {
    wait_pid_forwarding(c.pid, &c.pidfd)
}

/// Wait for `pid` (our child, or reparented to us as subreaper) through its pidfd, forwarding
/// the usual terminal and job-control signals to it; returns its exit code.
pub fn wait_pid_forwarding(pid: i32, pidfd: &OwnedFd) -> Result<i32> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set.thread_block().ctx("block signals")?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .ctx("signalfd")?;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two valid pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(Error::sys("poll", e));
        }
        if fds[1].revents != 0 {
            while let Ok(Some(info)) = sfd.read_signal() {
                let _ = process::pidfd_send_signal(pidfd.as_raw_fd(), info.ssi_signo as i32);
            }
        }
        if fds[0].revents != 0 {
            let mut status = 0;
            // SAFETY: waitpid on our child (or a child reparented to us as subreaper).
            let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
            if r == pid {
                return Ok(exit_code(status));
            }
            return Err(Error::sys("waitpid", nix::errno::Errno::last()));
        }
    }
}

/// `pause`: freeze every process of the container (v1 freezer, v2 cgroup.freeze).
pub fn pause(root: &Root, id: &str) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    match st.status() {
        Status::Running | Status::Created => cgroups::freeze(&st.cgroup_paths),
        s => Err(Error::state(format!(
            "cannot pause container {id:?}: it is {s}"
        ))),
    }
}

/// `resume`: thaw a paused container.
pub fn resume(root: &Root, id: &str) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    match st.status() {
        Status::Paused => cgroups::thaw_checked(&st.cgroup_paths),
        s => Err(Error::state(format!(
            "cannot resume container {id:?}: it is {s}, not paused"
        ))),
    }
}

/// `update`: change the resources of a live container.
pub fn update(root: &Root, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    if st.status() == Status::Stopped {
        return Err(Error::state(format!(
            "cannot update container {id:?}: container not running"
        )));
    }
    cgroups::update(&st.cgroup_paths, r)
}

/// `ps`: the host pids of every process in the container's cgroup.
pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    Ok(cgroups::pids(&st.cgroup_paths))
}

/// The cgroup paths and status of a container (for `events`).
pub fn cgroup_paths(root: &Root, id: &str) -> Result<(Vec<PathBuf>, Status)> {
    let dir = ContainerDir::open(root, id)?;
    let st = dir.load()?;
    let status = st.status();
    Ok((st.cgroup_paths.clone(), status))
}
