//! The container's init, from clone to execve. Runs in the child of `hako create`; the order of
//! steps is the one docs/ARCHITECTURE.md explains. Everything here runs in a single-threaded
//! process (hako never starts threads), so allocation after clone is safe.
use crate::cgroups::Placement;
use crate::namespaces::Plan;
use crate::sync::{Channel, Msg};
use crate::{caps, devices, rlimits, rootfs, user};
use crate::{Context, Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct InitArgs<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub plan: &'a Plan,
    pub placement: &'a Placement,
    /// The parent creates the cgroup directories after the clone and says `CgroupsReady`; the
    /// init then moves itself in (see [`crate::cgroups::plan_late`]) and sets `joined_cgroups`.
    pub late_cgroups: bool,
    pub joined_cgroups: &'a std::cell::Cell<bool>,
    pub chan: &'a Channel,
    /// The listening start socket (accept() returns when `hako start` connects).
    pub listener: RawFd,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The compiled seccomp filter (compiled by the parent, inherited in our memory).
    pub seccomp: Option<&'a crate::seccomp::Filter>,
    /// The connected `--console-socket`, when `process.terminal` is true.
    pub console_sock: Option<RawFd>,
    pub preserve_fds: i32,
    /// The parent's locked state-directory fd: the flock is shared with our inherited copy,
    /// so it must be closed here or the container stays locked while the init waits.
    pub lock_fd: RawFd,
}

/// Entry point in the cloned child. Never returns.
pub fn child_main(a: &InitArgs) -> ! {
    // SAFETY: closing our inherited copy of the parent's lock fd.
    unsafe { libc::close(a.lock_fd) };
    match run(a) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = a.chan.send(&Msg::Error(e.to_string()));
            // SAFETY: leaving the child without running the parent's destructors or atexit.
            unsafe { libc::_exit(1) }
        }
    }
}

pub enum Never {}

fn run(a: &InitArgs) -> Result<Never> {
    let new_userns = a.plan.creates(LinuxNamespaceType::User);
    if a.plan.two_step() {
        a.plan.join_all()?;
        let flags = a.plan.new_flags & !(libc::CLONE_NEWCGROUP);
        if flags != 0 {
            nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(flags))
                .ctx("unshare namespaces")?;
        }
        a.chan.send(&Msg::Unshared)?;
    }
    let process = a.spec.process().as_ref();
    if let Some(p) = process {
        crate::procattr::affinity_initial(p)?;
    }
    a.chan.expect(&Msg::Go, "hako create")?;
    if let Some(p) = process {
        crate::procattr::affinity_final(p)?;
    }
    if new_userns {
        // Become root of the new user namespace now that the maps exist.
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .ctx("setresgid(0) in the user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .ctx("setresuid(0) in the user namespace")?;
    }
    if a.plan.creates(LinuxNamespaceType::Cgroup) {
        // Once we are in the container's cgroup (placed by the parent, or joined here), so the
        // namespace is rooted there.
        join_cgroups(a)?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx("unshare cgroup namespace")?;
    }
    if a.plan.two_step() {
        write_time_offsets(a.spec)?;
        fork_init(a)?;
    }
    setup(a)
}

/// With late placement: wait for the parent's `CgroupsReady` and move into the container's
/// cgroups (once). Called before anything that depends on the cgroup: a cgroup namespace, a
/// cgroup mount, the hooks; at the latest before reporting the container created.
fn join_cgroups(a: &InitArgs) -> Result<()> {
    if !a.late_cgroups || a.joined_cgroups.get() {
        return Ok(());
    }
    a.chan.expect(&Msg::CgroupsReady, "hako create")?;
    crate::cgroups::self_move_in(a.placement)?;
    a.joined_cgroups.set(true);
    Ok(())
}

/// config-linux.md "timeOffsets": written before any process enters the new time namespace.
fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offs) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, o) in offs {
        text.push_str(&format!(
            "{clock} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text)
        .ctx("linux.timeOffsets: write /proc/self/timens_offsets")
}

/// Two-step path: fork the real init (entering the pid/time namespaces), tell the parent its
/// pid, and exit. The init waits on a pipe until the pid was sent, so messages stay ordered.
fn fork_init(a: &InitArgs) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx("pipe")?;
    // SAFETY: single-threaded process; the child continues with the same code.
    match unsafe { nix::unistd::fork() }.ctx("fork init")? {
        nix::unistd::ForkResult::Child => {
            drop(w);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&r, &mut b);
            Ok(())
        }
        nix::unistd::ForkResult::Parent { child } => {
            let res = a.chan.send(&Msg::InitPid(child.as_raw()));
            let _ = nix::unistd::write(&w, b"x");
            // SAFETY: the intermediate process is done.
            unsafe { libc::_exit(if res.is_ok() { 0 } else { 1 }) }
        }
    }
}

fn setup(a: &InitArgs) -> Result<Never> {
    let spec = a.spec;
    // With --debug, the init's own share of `create`, step by step.
    let mut t = crate::logging::StepTimer::new("init");
    // Until execve this process runs hako's code inside the container: keep /proc/PID/exe and
    // our memory out of reach of container processes (CVE-2019-5736).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    nix::unistd::setsid().ctx("setsid")?;
    if !a.no_new_keyring {
        // SELinux: the keyring gets the container's label (reset by the kernel at execve).
        if let Some(p) = spec.process() {
            crate::lsm::apply_keycreate(p)?;
        }
        join_session_keyring(spec)?;
    }
    // Device nodes and mount points get exactly the modes asked for.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let new_userns =
        a.plan.creates(LinuxNamespaceType::User) || a.plan.joins_type(LinuxNamespaceType::User);
    let ctx = rootfs::Ctx {
        spec,
        rootfs: a.rootfs,
        cgroups: a.placement,
        new_cgroupns: a.plan.creates(LinuxNamespaceType::Cgroup),
        new_userns,
        before_cgroup_mount: &|| join_cgroups(a),
    };
    // The host's /dev/null, opened in our mount namespace (a bind source must be) and verified
    // before anything of the container's can have touched it.
    let dev_null = rootfs::open_dev_null()?;
    t.step("session");
    let root = rootfs::prepare(&ctx)?;
    t.step("mounts");
    devices::setup(&root, spec, new_userns)?;
    join_cgroups(a)?;
    t.step("devices");
    if crate::process::has_runtime_hooks(spec) {
        a.chan.send(&Msg::ReadyForHooks)?;
        a.chan.expect(&Msg::HooksDone, "hako create")?;
    }
    // createContainer: in the container's namespaces, before pivot_root, so the path still
    // resolves in the runtime's mount view (config.md "createContainer Hooks").
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_ref())
    {
        crate::hooks::run_all("createContainer", h, &container_state_json(a, "creating"))?;
    }
    if let Some(linux) = spec.linux() {
        if let Some(m) = linux.masked_paths() {
            rootfs::mask_paths(&root, m, &dev_null, crate::lsm::mount_label(spec))?;
        }
        if let Some(r) = linux.readonly_paths() {
            rootfs::readonly_paths(&root, r)?;
        }
    }
    drop(root);
    drop(dev_null);
    t.step("masked and read-only paths");
    rootfs::enter_root(a.rootfs, a.no_pivot)?;
    t.step("pivot_root");
    apply_sysctl(spec)?;
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).ctx("hostname: sethostname")?;
    }
    if let Some(d) = spec.domainname() {
        // SAFETY: setdomainname with a valid buffer and length.
        let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        if r != 0 {
            return Err(Error::sys(
                "domainname: setdomainname",
                nix::errno::Errno::last(),
            ));
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::readonly_root()?;
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config("process", "required to create a container"))?;
    // Applied at create (inherited across exec), so a value this host refuses fails `create`,
    // as with runc, rather than `start`.
    if let Some(adj) = process.oom_score_adj() {
        proc_self_write("oom_score_adj", &adj.to_string())
            .with_ctx(|| format!("process.oomScoreAdj: write {adj}"))?;
    }
    // Likewise rlimits (runc sets them at create too), and capabilities the host withholds are
    // refused now: engines take a failed `start` for a container that ran, and the runc v2
    // shim cannot delete it until it has seen the exit (Docker then leaks the task).
    if let Some(l) = process.rlimits() {
        rlimits::apply(l)?;
    }
    if let Some(c) = process.capabilities() {
        caps::check_grantable(&caps::CapSets::from_spec(c))?;
    }
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    if let Some(sock) = a.console_sock {
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup(sock, size, true)?;
        // SAFETY: the socket is not needed any more.
        unsafe { libc::close(sock) };
    }
    let exe = find_executable(
        args.first().map(String::as_str).unwrap_or(""),
        env,
        process.cwd(),
    )?;
    t.step("checks");
    a.chan.send(&Msg::Created)?;

    // Wait for `hako start`.
    let conn = accept(a.listener)?;
    // SAFETY: the listener is ours; nothing else uses it after this.
    unsafe { libc::close(a.listener) };
    // startContainer: after pivot_root, resolved and run in the container.
    let started = match spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
    {
        Some(h) => crate::hooks::run_all("startContainer", h, &container_state_json(a, "created")),
        None => Ok(()),
    };
    match started.and_then(|_| exec_user(a, &exe, &conn)) {
        Ok(n) => match n {},
        Err(e) => {
            let mut f = File::from(conn);
            let _ = f.write_all(e.to_string().as_bytes());
            // SAFETY: exit without unwinding.
            unsafe { libc::_exit(127) }
        }
    }
}

/// The state document for hooks run in the container's namespaces: the pid is the one the
/// container sees (runtime.md "State").
fn container_state_json(a: &InitArgs, status: &str) -> String {
    serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": a.id,
        "status": status,
        "pid": std::process::id(),
        "bundle": a.bundle,
        "annotations": a.spec.annotations().clone().unwrap_or_default(),
    })
    .to_string()
}

fn accept(listener: RawFd) -> Result<OwnedFd> {
    loop {
        // SAFETY: accept4 on our listening socket.
        let fd = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh fd.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = nix::errno::Errno::last();
        if e != nix::errno::Errno::EINTR {
            return Err(Error::sys("accept on the start socket", e));
        }
    }
}

/// config-linux.md "Sysctl": write each key under /proc/sys through a verified procfs handle.
fn apply_sysctl(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc = pathrs::procfs::ProcfsHandle::new()
        .map_err(|e| Error::other(format!("open procfs: {e}")))?;
    let mut keys: Vec<_> = sysctl.keys().collect();
    keys.sort();
    for k in keys {
        let v = &sysctl[k];
        let rel = format!("sys/{}", k.replace('.', "/"));
        let mut f = proc
            .open(
                pathrs::procfs::ProcfsBase::ProcRoot,
                &rel,
                pathrs::flags::OpenFlags::O_WRONLY,
            )
            .map_err(|e| Error::other(format!("linux.sysctl.{k}: open /proc/{rel}: {e}")))?;
        f.write_all(v.as_bytes())
            .with_ctx(|| format!("linux.sysctl.{k}: write {v:?}"))?;
    }
    Ok(())
}

/// Write a file under /proc/self through a procfs handle that pathrs verified to be a real
/// procfs (a fresh private instance where possible), never through the container's /proc,
/// which a volume could fake (CVE-2019-16884, CVE-2025-52881).
pub fn proc_self_write(rel: &str, value: &str) -> Result<()> {
    let proc = pathrs::procfs::ProcfsHandle::new()
        .map_err(|e| Error::other(format!("open procfs: {e}")))?;
    let mut f = proc
        .open(
            pathrs::procfs::ProcfsBase::ProcSelf,
            rel,
            pathrs::flags::OpenFlags::O_WRONLY,
        )
        .map_err(|e| Error::other(format!("open /proc/self/{rel}: {e}")))?;
    f.write_all(value.as_bytes())
        .with_ctx(|| format!("write /proc/self/{rel}"))
}

/// A new session keyring per container (as runc), so containers do not share the host's keys.
/// `--no-new-keyring` keeps the caller's.
fn join_session_keyring(spec: &Spec) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    const KEYCTL_SETPERM: libc::c_long = 5;
    let _ = spec;
    // SAFETY: keyctl with a NULL name creates an anonymous session keyring.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if id < 0 {
        let e = nix::errno::Errno::last();
        // Kernels without keys, or a seccomp'd host: carry on as runc does.
        if matches!(e, nix::errno::Errno::ENOSYS | nix::errno::Errno::EPERM) {
            return Ok(());
        }
        return Err(Error::sys("keyctl(JOIN_SESSION_KEYRING)", e));
    }
    // Possessor: all; user: view/read/write/search/link/setattr (runc's 0x3f3f0000 mask).
    // SAFETY: keyctl SETPERM on the keyring we just joined.
    unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, 0x3f3f_0000u32) };
    Ok(())
}

fn env_path(env: &[String]) -> String {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string()
}

fn is_executable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    match std::fs::metadata(p) {
        // SAFETY: access with a valid C string.
        Ok(m) => m.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0,
        Err(_) => false,
    }
}

/// Resolve `process.args[0]` in the container (after pivot_root), like execvp. Done at create,
/// as runc does, so a missing program fails `create` rather than `start`.
pub fn find_executable(arg0: &str, env: &[String], cwd: &Path) -> Result<PathBuf> {
    if arg0.is_empty() {
        return Err(Error::config("process.args", "must not be empty"));
    }
    if arg0.contains('/') {
        let p = if arg0.starts_with('/') {
            PathBuf::from(arg0)
        } else {
            cwd.join(arg0)
        };
        if is_executable(&p) {
            return Ok(p);
        }
        // Worded like runc's (and Go's) errors: engines map "no such file or directory" to exit
        // 127 and "permission denied" to 126.
        let why = match std::fs::metadata(&p) {
            Ok(_) => "permission denied".to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("stat {}: no such file or directory", p.display())
            }
            Err(e) => format!("stat {}: {e}", p.display()),
        };
        return Err(Error::invalid(format!(
            "exec: {arg0:?}: {why} (process.args[0])"
        )));
    }
    for dir in env_path(env).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(arg0);
        if is_executable(&p) {
            return Ok(if p.is_absolute() { p } else { cwd.join(p) });
        }
    }
    Err(Error::invalid(format!(
        "exec: {arg0:?}: executable file not found in $PATH (process.args[0])"
    )))
}

/// The last steps, after `start`: rlimits, user, capabilities, no_new_privs, fds, cwd,
/// signals, execve.
fn exec_user(a: &InitArgs, exe: &Path, _conn: &OwnedFd) -> Result<Never> {
    let process = a
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config("process", "required"))?;
    let sc = a.seccomp.map(|filter| Seccomp {
        filter,
        notify_sink: _conn.as_raw_fd(),
    });
    finish_and_exec(Some(a.spec), process, exe, a.preserve_fds, sc)
}

/// The steps every container process takes last, the init at `start` and `exec`'d processes
/// alike: rlimits, oom_score_adj, cwd (verified), AppArmor/SELinux exec labels, capabilities
/// and user, umask, no_new_privs, fds, signals, execve.
/// Where a seccomp notify fd goes: the socket to the hako process that forwards it to the
/// `listenerPath` (the `start` connection, or the `exec` sync channel).
pub struct Seccomp<'a> {
    pub filter: &'a crate::seccomp::Filter,
    pub notify_sink: RawFd,
}

pub fn finish_and_exec(
    spec: Option<&Spec>,
    process: &oci_spec::runtime::Process,
    exe: &Path,
    preserve_fds: i32,
    seccomp: Option<Seccomp>,
) -> Result<Never> {
    crate::procattr::apply(spec, process)?;
    // The exec stub (CVE-2019-5736), made while every syscall is still allowed.
    let stub = crate::selfexe::prepare();
    if let Some(l) = process.rlimits() {
        rlimits::apply(l)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        proc_self_write("oom_score_adj", &adj.to_string())
            .with_ctx(|| format!("process.oomScoreAdj: write {adj}"))?;
    }
    // cwd first, as root, then verify we are inside the container (CVE-2024-21626: a leaked
    // directory fd reached through /proc/self/fd would put us outside).
    let cwd = process.cwd();
    nix::unistd::chdir(cwd).with_ctx(|| format!("process.cwd: chdir {}", cwd.display()))?;
    match std::env::current_dir() {
        Ok(p) if p.starts_with("/") => {}
        _ => {
            return Err(Error::invalid(format!(
                "process.cwd: {} is outside the container",
                cwd.display()
            )))
        }
    }
    // AppArmor profile / SELinux label for the coming execve: after every setup step that
    // execs nothing (hooks ran before `start`), and before a seccomp filter without
    // no_new_privs is loaded, so the filter cannot stand between us and procfs.
    crate::lsm::apply_exec(process)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    let mut notify_fd = None;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it now, while we still
    // have it (the profile must then allow the few setup calls that follow, as with runc).
    if let (Some(sc), false) = (&seccomp, nnp) {
        notify_fd = crate::seccomp::load(sc.filter).ctx("linux.seccomp: load the filter")?;
    }
    let sets = process
        .capabilities()
        .as_ref()
        .map(caps::CapSets::from_spec)
        .unwrap_or_default();
    caps::drop_bounding(sets.bounding)?;
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    user::switch(process.user())?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    caps::apply(&sets)?;
    match process.user().umask() {
        Some(_) => user::set_umask(process.user()),
        None => {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        }
    }
    if process.no_new_privileges().unwrap_or(false) {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::sys(
                "process.noNewPrivileges: prctl",
                nix::errno::Errno::last(),
            ));
        }
    }
    close_fds(preserve_fds)?;
    reset_signals();
    // With no_new_privs the filter goes last: only execve (and handing over a notify fd) run
    // under it.
    if let (Some(sc), true) = (&seccomp, nnp) {
        notify_fd = crate::seccomp::load(sc.filter).ctx("linux.seccomp: load the filter")?;
    }
    if let (Some(fd), Some(sc)) = (notify_fd.as_ref(), &seccomp) {
        crate::sync::send_fd(sc.notify_sink, b"seccomp-notify", fd.as_raw_fd())
            .ctx("linux.seccomp: hand the notify fd to hako")?;
        // Wait for hako's go-ahead: the fd reached the agent at listenerPath. If sending fails,
        // hako reports the error and we must not run the program unsupervised (config-linux.md:
        // "If sending to this socket fails, the runtime MUST generate an error"). The read runs
        // under the filter, as runc's wait for procSeccompDone does.
        wait_notify_ack(sc.notify_sink)?;
    }
    let args: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .map(|s| CString::new(s.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::config("process.args", "contains a NUL byte"))?;
    let env: Vec<CString> = process
        .env()
        .iter()
        .flatten()
        .map(|s| CString::new(s.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::config("process.env", "contains a NUL byte"))?;
    let path = CString::new(exe.as_os_str().as_bytes())
        .map_err(|_| Error::config("process.args", "contains a NUL byte"))?;
    let e = crate::selfexe::execve(stub.as_ref(), &path, &args, &env);
    Err(Error::sys(format!("exec {}", exe.display()), e))
}

/// The byte hako sends back on the notify sink once the seccomp notify fd reached the agent.
pub const NOTIFY_ACK: u8 = b'A';

/// Block until hako acknowledges the notify fd ([`NOTIFY_ACK`]); EOF or anything else is an
/// error (hako could not reach the agent and is stopping us).
fn wait_notify_ack(sink: RawFd) -> Result<()> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: read one byte into our buffer.
        let n = unsafe { libc::read(sink, b.as_mut_ptr().cast(), 1) };
        if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        if n == 1 && b[0] == NOTIFY_ACK {
            return Ok(());
        }
        return Err(Error::other(
            "linux.seccomp: the notify fd did not reach the agent at listenerPath",
        ));
    }
}

/// Mark every fd above stdio and the preserved ones close-on-exec (CVE-2024-21626), and make
/// sure the preserved ones stay open across exec.
fn close_fds(preserve: i32) -> Result<()> {
    let first = 3 + preserve.max(0) as u32;
    for fd in 3..first {
        // SAFETY: clearing FD_CLOEXEC on an fd number; harmless if not open.
        unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
    }
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        return Err(Error::sys("close_range", nix::errno::Errno::last()));
    }
    Ok(())
}

/// The user program starts with default signal dispositions and an empty mask (Rust ignores
/// SIGPIPE by default; that must not leak into the container).
fn reset_signals() {
    // SAFETY: plain signal-state syscalls.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}
