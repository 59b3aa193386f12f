//! `hako`: the command line, shaped like runc's so engines can call it in runc's place. All
//! the work is in `libhako`; this file only parses arguments and reports errors.
use clap::{Args, Parser, Subcommand};
use libhako::container::{self, CreateOpts};
use libhako::logging::{self, Format};
use libhako::state::Root;
use libhako::{signals, Error};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;

mod fastargs;
mod ps;

/// `println!` panics when stdout is closed (`hako list | head`); hako never panics on I/O.
macro_rules! outln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

macro_rules! errln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

const VERSION: &str = concat!(
    "hako version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("HAKO_COMMIT"),
    "\nspec: 1.3.0"
);

#[derive(Parser, Debug, PartialEq)]
#[command(
    name = "hako",
    disable_version_flag = true,
    // A repeated option takes its last value, as with runc (Go's flag package): the runc v2
    // shim passes its own --root after any the runtime's wrapper script put first.
    args_override_self = true,
    about = "hako: an OCI container runtime (runtime-spec v1.3) with runc's command line"
)]
struct Cli {
    /// Print the version (hako version, commit, runtime-spec version)
    #[arg(short = 'v', long = "version")]
    version: bool,
    /// Directory for container state (created 0700)
    #[arg(long, global = true, default_value = "/run/hako")]
    root: PathBuf,
    /// Write log lines to this file instead of stderr
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log line format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Log debug lines (with a timing per setup step)
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd for cgroups (not supported: hako manages cgroupfs directly)
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility (checkpointing is not supported)
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    /// Accepted for runc compatibility (before the subcommand)
    #[arg(long = "rootless", hide = true)]
    global_rootless: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Args, Clone, Debug, PartialEq)]
struct CreateArgs {
    /// Path to the bundle directory (holding config.json)
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// Write the init's host pid to this file
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Do not use pivot_root (for a rootfs on ramfs): move the rootfs over / and chroot
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the container process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: i32,
}

#[derive(Subcommand, Debug, PartialEq)]
// Each subcommand's arguments are built only when that subcommand runs: building all of
// them took a third of a short command's user time.
#[command(defer = true)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Cmd {
    /// Create a container: set everything up, the user program waits for `start`
    Create {
        #[command(flatten)]
        c: CreateArgs,
        id: String,
    },
    /// Run the user program of a created container
    Start { id: String },
    /// Print the state of a container as JSON
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's init
    Kill {
        /// Signal every process in the container's cgroup
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and everything create made
    Delete {
        /// Kill the container first if it is running
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// Create and start a container; in the foreground, wait and exit with its status
    Run {
        #[command(flatten)]
        c: CreateArgs,
        /// Return once started instead of waiting
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container (do not delete it) after it exits
        #[arg(long)]
        keep: bool,
        /// Do not become a subreaper
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
        id: String,
    },
    /// List containers
    List {
        /// Print only the ids
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Output format: table or json
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// Run a new process inside a running container
    Exec {
        /// Path to a process.json (config.md "process") instead of COMMAND
        #[arg(short = 'p', long)]
        process: Option<PathBuf>,
        /// Unix socket that receives the pty master (with --tty)
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        /// Allocate a pty
        #[arg(short = 't', long)]
        tty: bool,
        /// Return once the process runs instead of waiting
        #[arg(short = 'd', long)]
        detach: bool,
        /// Write the process's host pid to this file
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        /// Working directory inside the container
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Set an environment variable (KEY=VALUE), repeatable
        #[arg(short = 'e', long = "env")]
        env: Vec<String>,
        /// UID[:GID] to run as
        #[arg(short = 'u', long)]
        user: Option<String>,
        /// Additional group ids, repeatable
        #[arg(short = 'g', long = "additional-gids")]
        additional_gids: Vec<u32>,
        /// Add a capability, repeatable
        #[arg(short = 'c', long = "cap")]
        cap: Vec<String>,
        /// Set no_new_privs
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        /// SELinux label of the process
        #[arg(long = "process-label")]
        process_label: Option<String>,
        /// AppArmor profile of the process
        #[arg(long)]
        apparmor: Option<String>,
        /// Pass N extra fds (3 .. 3+N-1) to the process
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: i32,
        /// Allow exec in a paused container
        #[arg(long = "ignore-paused")]
        ignore_paused: bool,
        /// Run in this sub-cgroup of the container ([CONTROLLER:]PATH)
        #[arg(long)]
        cgroup: Option<String>,
        id: String,
        /// The command and its arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print the features document (features.md): what this hako supports
    Features,
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// List the processes of a container
    Ps {
        /// Output format: table or json (the host pids)
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
        /// Options for ps(1) (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print resource usage statistics and OOM events as JSON lines
    Events {
        /// Print one statistics event and exit
        #[arg(long)]
        stats: bool,
        /// Interval between statistics events (e.g. 5s, 500ms)
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Change the resource limits of a running container
    Update {
        /// A linux.resources JSON document, or - for stdin
        #[arg(short = 'r', long)]
        resources: Option<String>,
        /// Block IO weight (10-1000)
        #[arg(long = "blkio-weight")]
        blkio_weight: Option<u16>,
        /// CPU CFS period (microseconds)
        #[arg(long = "cpu-period")]
        cpu_period: Option<u64>,
        /// CPU CFS quota (microseconds, -1 for none)
        #[arg(long = "cpu-quota", allow_hyphen_values = true)]
        cpu_quota: Option<i64>,
        /// CPU shares (relative weight)
        #[arg(long = "cpu-share", alias = "cpu-shares")]
        cpu_share: Option<u64>,
        /// CPU realtime period (microseconds)
        #[arg(long = "cpu-rt-period")]
        cpu_rt_period: Option<u64>,
        /// CPU realtime runtime (microseconds)
        #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
        cpu_rt_runtime: Option<i64>,
        /// CPUs to allow (0-3, 0,1)
        #[arg(long = "cpuset-cpus")]
        cpuset_cpus: Option<String>,
        /// Memory nodes to allow
        #[arg(long = "cpuset-mems")]
        cpuset_mems: Option<String>,
        /// Kernel memory limit (deprecated)
        #[arg(long = "kernel-memory", allow_hyphen_values = true)]
        kernel_memory: Option<String>,
        /// Kernel TCP memory limit (deprecated)
        #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
        kernel_memory_tcp: Option<String>,
        /// Memory limit (bytes, or with k/m/g suffix; -1 for none)
        #[arg(long, allow_hyphen_values = true)]
        memory: Option<String>,
        /// Memory soft limit
        #[arg(long = "memory-reservation", allow_hyphen_values = true)]
        memory_reservation: Option<String>,
        /// Memory plus swap limit
        #[arg(long = "memory-swap", allow_hyphen_values = true)]
        memory_swap: Option<String>,
        /// Maximum number of pids (-1 for none)
        #[arg(long = "pids-limit", allow_hyphen_values = true)]
        pids_limit: Option<i64>,
        id: String,
    },
    /// Check a bundle against the spec and this host; print every problem, create nothing
    Check {
        /// Path to the bundle directory
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Write a default config.json into the bundle directory
    Spec {
        /// Bundle directory
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        /// A spec for a rootless container
        #[arg(long)]
        rootless: bool,
    },
}

fn create_opts(c: &CreateArgs) -> CreateOpts {
    CreateOpts {
        bundle: c.bundle.clone(),
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        console_fd: None,
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
        listen_fds: listen_fds(),
    }
}

/// Byte sizes as runc takes them: a number with an optional k/m/g/t suffix (powers of 1024),
/// or -1 for "no limit".
fn parse_bytes(flag: &str, s: &str) -> Result<i64, Error> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::invalid(format!("{flag} {s:?}: not a size")))?;
    if n < 0.0 {
        return Err(Error::invalid(format!(
            "{flag} {s:?}: must not be negative (use -1 for no limit)"
        )));
    }
    Ok((n * mul as f64) as i64)
}

/// `ps` in table form: run ps(1) on the host and keep the header and the container's rows.
fn ps_table(pids: &[i32], args: &[String]) -> Result<(), Error> {
    if args.is_empty() {
        // The default, `ps -ef`, is formatted here (see ps.rs); other options go to ps(1).
        let t = ps::table(pids)?;
        let _ = std::io::stdout().lock().write_all(t.as_bytes());
        return Ok(());
    }
    let args = args.to_vec();
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("run ps", e))?;
    if !out.status.success() {
        return Err(Error::other(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::invalid("ps: the output has no PID column"))?;
    outln!("{header}");
    for l in lines {
        if let Some(pid) = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
        {
            if pids.contains(&pid) {
                outln!("{l}");
            }
        }
    }
    Ok(())
}

/// A Go-style duration: 5s, 500ms, 1m, 1.5s.
fn parse_duration(s: &str) -> Result<std::time::Duration, Error> {
    let bad = || {
        Error::invalid(format!(
            "--interval {s:?}: expected a duration like 5s or 500ms"
        ))
    };
    let t = s.trim();
    let (num, unit) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| (&t[..i], &t[i..]))
        .unwrap_or((t, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `events`: statistics every interval and OOM notifications, as runc's JSON lines, until the
/// container stops. With `--stats`, one statistics event.
fn events(root: &Root, id: &str, once: bool, interval: &str) -> Result<i32, Error> {
    let every = parse_duration(interval)?;
    let (paths, status) = container::cgroup_paths(root, id)?;
    if status == libhako::state::Status::Stopped {
        return Err(Error::state(format!(
            "container {id:?} is not running (container not running)"
        )));
    }
    if once {
        outln!("{}", libhako::cgroups::stats_event(id, &paths));
        return Ok(0);
    }
    let mut watcher = libhako::cgroups::OomWatcher::new(&paths).ok();
    let mut next = std::time::Instant::now();
    loop {
        let now = std::time::Instant::now();
        if now >= next {
            if container::cgroup_paths(root, id)
                .map(|(_, s)| s == libhako::state::Status::Stopped)
                .unwrap_or(true)
            {
                return Ok(0);
            }
            outln!("{}", libhako::cgroups::stats_event(id, &paths));
            next = now + every;
        }
        let wait = next.saturating_duration_since(std::time::Instant::now());
        match watcher.as_mut() {
            Some(w) => match w.wait(Some(wait))? {
                libhako::cgroups::stats::OomEvent::Oom => {
                    outln!("{}", serde_json::json!({"type": "oom", "id": id}));
                }
                libhako::cgroups::stats::OomEvent::Gone => return Ok(0),
                _ => {}
            },
            None => std::thread::sleep(wait),
        }
    }
}

/// systemd socket activation: LISTEN_FDS counts fds from 3, meant for us if LISTEN_PID is our pid.
fn listen_fds() -> i32 {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    match std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok())
    {
        Some(n) if pid_ok && n > 0 => n,
        _ => 0,
    }
}

fn run(cli: Cli) -> Result<i32, Error> {
    if cli.systemd_cgroup {
        return Err(Error::invalid("--systemd-cgroup: the systemd cgroup driver is not supported; hako manages cgroupfs directly"));
    }
    let Some(cmd) = cli.cmd else {
        if cli.version {
            outln!("{VERSION}");
            return Ok(0);
        }
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return Ok(0);
    };
    let needs_root_dir = matches!(cmd, Cmd::Create { .. } | Cmd::Run { .. });
    let root = Root::open(&cli.root, needs_root_dir)?;
    match cmd {
        Cmd::Create { c, id } => {
            container::create(&root, &id, &create_opts(&c))?;
            Ok(0)
        }
        Cmd::Start { id } => container::start(&root, &id).map(|_| 0),
        Cmd::State { id } => {
            let s = container::state(&root, &id)?;
            outln!("{s}");
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = signals::parse_signal(&signal)?;
            container::kill(&root, &id, sig, all).map(|_| 0)
        }
        Cmd::Delete { force, id } => container::delete(&root, &id, force).map(|_| 0),
        Cmd::Run {
            c,
            detach,
            keep,
            no_subreaper,
            id,
        } => {
            if !detach && !no_subreaper {
                // The init may be forked by an intermediate process: it must come back to us.
                // SAFETY: prctl with integer arguments.
                unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
            }
            let mut opts = create_opts(&c);
            // A terminal without --console-socket in the foreground: hako receives the pty
            // master itself and relays the caller's terminal.
            let pair = if !detach && c.console_socket.is_none() {
                Some(
                    std::os::unix::net::UnixStream::pair()
                        .map_err(|e| Error::io("socketpair", e))?,
                )
            } else {
                None
            };
            opts.console_fd = pair.as_ref().map(|(a, _)| a.as_raw_fd());
            let mut created = container::create(&root, &id, &opts)?;
            let master = match &pair {
                Some((a, b)) if created.terminal => {
                    let _ = a;
                    match libhako::console::recv_master(b.as_raw_fd()) {
                        Ok(m) => Some(m),
                        Err(e) => {
                            created.unlock();
                            let _ = container::delete(&root, &id, true);
                            return Err(e);
                        }
                    }
                }
                _ => None,
            };
            drop(pair);
            if let Err(e) = container::start_created(&root, &mut created) {
                let _ = container::delete(&root, &id, true);
                return Err(e);
            }
            if detach {
                return Ok(0);
            }
            let code = match &master {
                Some(m) => libhako::console::relay(m, created.pid, &created.pidfd)?,
                None => container::wait_forwarding(&created)?,
            };
            if !keep {
                container::delete(&root, &id, true)?;
            }
            Ok(code)
        }
        Cmd::List { quiet, format } => {
            let entries = container::list(&root)?;
            // One write for the whole table (stdout is line-buffered: a write per container).
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
            if quiet {
                for e in &entries {
                    let _ = writeln!(out, "{}", e.state.id);
                }
            } else if format == "json" {
                let v: Vec<_> = entries.iter().map(|e| e.state.public(e.status)).collect();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
                );
            } else {
                let _ = writeln!(
                    out,
                    "{:<12} {:<10} {:<10} {:<40} {:<30} OWNER",
                    "ID", "PID", "STATUS", "BUNDLE", "CREATED"
                );
                for e in &entries {
                    let pid = if e.status == libhako::state::Status::Stopped {
                        0
                    } else {
                        e.state.pid
                    };
                    let _ = writeln!(
                        out,
                        "{:<12} {:<10} {:<10} {:<40} {:<30} {}",
                        e.state.id,
                        pid,
                        e.status.to_string(),
                        e.state.bundle.display(),
                        e.state.created,
                        if e.state.owner.is_empty() {
                            "root"
                        } else {
                            &e.state.owner
                        }
                    );
                }
            }
            Ok(0)
        }
        Cmd::Exec {
            process,
            console_socket,
            tty,
            detach,
            pid_file,
            cwd,
            env,
            user,
            additional_gids,
            cap,
            no_new_privs,
            process_label,
            apparmor,
            preserve_fds,
            ignore_paused,
            cgroup,
            id,
            command,
        } => {
            let o = libhako::exec::ExecOpts {
                process_file: process,
                console_socket,
                tty,
                detach,
                pid_file,
                cwd,
                env,
                user,
                additional_gids,
                caps: cap,
                no_new_privs,
                process_label,
                apparmor,
                preserve_fds,
                ignore_paused,
                cgroup,
                args: command,
            };
            let e = libhako::exec::exec(&root, &id, &o)?;
            if detach {
                return Ok(0);
            }
            container::wait_pid_forwarding(e.pid, &e.pidfd)
        }
        Cmd::Check { bundle } => {
            let findings = libhako::check::check_bundle(&bundle);
            let mut errors = 0;
            for f in &findings {
                let level = match f.severity {
                    libhako::check::Severity::Error => {
                        errors += 1;
                        "error"
                    }
                    libhako::check::Severity::Warning => "warning",
                };
                outln!("{level}: {}", f.problem);
            }
            if errors > 0 {
                return Err(Error::invalid(format!(
                    "{errors} problem(s) in bundle {}",
                    bundle.display()
                )));
            }
            outln!("ok: bundle {} can run here", bundle.display());
            Ok(0)
        }
        Cmd::Pause { id } => container::pause(&root, &id).map(|_| 0),
        Cmd::Resume { id } => container::resume(&root, &id).map(|_| 0),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => {
            let pids = container::pids(&root, &id)?;
            if format == "json" {
                outln!(
                    "{}",
                    serde_json::to_string(&pids).unwrap_or_else(|_| "[]".into())
                );
                return Ok(0);
            }
            ps_table(&pids, &ps_args)?;
            Ok(0)
        }
        Cmd::Events {
            stats,
            interval,
            id,
        } => events(&root, &id, stats, &interval),
        Cmd::Update {
            resources,
            blkio_weight,
            cpu_period,
            cpu_quota,
            cpu_share,
            cpu_rt_period,
            cpu_rt_runtime,
            cpuset_cpus,
            cpuset_mems,
            kernel_memory,
            kernel_memory_tcp,
            memory,
            memory_reservation,
            memory_swap,
            pids_limit,
            id,
        } => {
            let mut v: serde_json::Value = match resources.as_deref() {
                None => serde_json::json!({}),
                Some(src) => {
                    let text = if src == "-" {
                        let mut t = String::new();
                        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                            .map_err(|e| Error::io("--resources: read stdin", e))?;
                        t
                    } else {
                        std::fs::read_to_string(src)
                            .map_err(|e| Error::io(format!("--resources {src}"), e))?
                    };
                    serde_json::from_str(&text)
                        .map_err(|e| Error::invalid(format!("--resources: malformed JSON: {e}")))?
                }
            };
            let mut set = |section: &str, key: &str, val: serde_json::Value| {
                if !v.is_object() {
                    v = serde_json::json!({});
                }
                let sec = v.as_object_mut().map(|o| {
                    o.entry(section.to_string())
                        .or_insert_with(|| serde_json::json!({}))
                });
                if let Some(serde_json::Value::Object(m)) = sec {
                    m.insert(key.to_string(), val);
                }
            };
            let numeric: [(&str, &str, Option<serde_json::Value>); 8] = [
                ("blockIO", "weight", blkio_weight.map(Into::into)),
                ("cpu", "period", cpu_period.map(Into::into)),
                ("cpu", "quota", cpu_quota.map(Into::into)),
                ("cpu", "shares", cpu_share.map(Into::into)),
                ("cpu", "realtimePeriod", cpu_rt_period.map(Into::into)),
                ("cpu", "realtimeRuntime", cpu_rt_runtime.map(Into::into)),
                ("cpu", "cpus", cpuset_cpus.map(Into::into)),
                ("cpu", "mems", cpuset_mems.map(Into::into)),
            ];
            for (section, key, val) in numeric {
                if let Some(v) = val {
                    set(section, key, v);
                }
            }
            for (flag, key, val) in [
                ("--memory", "limit", memory),
                ("--memory-reservation", "reservation", memory_reservation),
                ("--memory-swap", "swap", memory_swap),
                ("--kernel-memory", "kernel", kernel_memory),
                ("--kernel-memory-tcp", "kernelTCP", kernel_memory_tcp),
            ] {
                if let Some(x) = val {
                    set("memory", key, parse_bytes(flag, &x)?.into());
                }
            }
            if let Some(x) = pids_limit {
                set("pids", "limit", x.into());
            }
            let r: libhako::oci_spec::runtime::LinuxResources = serde_path_to_error::deserialize(v)
                .map_err(|e| {
                    Error::config(format!("linux.resources.{}", e.path()), e.into_inner())
                })?;
            container::update(&root, &id, &r).map(|_| 0)
        }
        Cmd::Features => {
            let f = libhako::features::features();
            outln!("{}", serde_json::to_string_pretty(&f).unwrap_or_default());
            Ok(0)
        }
        Cmd::Spec { bundle, rootless } => {
            libhako::spec_default::write_default_spec(&bundle, rootless)?;
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    // The usual engine command lines skip clap (see fastargs); everything else goes through it.
    let cli = fastargs::parse(std::env::args_os()).unwrap_or_else(Cli::parse);
    let format = if cli.log_format == "json" {
        Format::Json
    } else {
        Format::Text
    };
    let file = match &cli.log {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => Some(f),
            Err(e) => {
                errln!("hako: open log file {}: {e}", p.display());
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    logging::init(file, format, cli.debug);
    // runc's convention: a failing `exec` exits 255, so callers can tell hako's own failure
    // from the process's exit code.
    let fail_code = if matches!(cli.cmd, Some(Cmd::Exec { .. })) {
        255
    } else {
        1
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            logging::log(tracing::Level::ERROR, e.message());
            if logging::logs_to_file() {
                errln!("hako: {e}");
            }
            ExitCode::from(fail_code)
        }
    }
}
