//! Integration-test harness for the `hako` CLI (runc-compatible).
//!
//! * Runtime under test: `$HAKO_TEST_RUNTIME` if set and non-empty (e.g. `/usr/sbin/runc`, to
//!   validate the tests against the reference runtime), else the `hako` binary cargo built for
//!   this test (`CARGO_BIN_EXE_hako`).
//! * Checker binary (copied to `/checker` in every rootfs): `$HAKO_TEST_CHECKER` if set, else the
//!   harness builds it once per test binary with
//!   `RUSTFLAGS='-C target-feature=+crt-static' cargo build -p hako-checker --release
//!   --target <arch>-unknown-linux-gnu --target-dir <workspace>/target/checker-static`
//!   (a separate target dir, so it neither fights the outer `cargo test` for its build lock nor
//!   invalidates its caches; after the first time this is a no-op). The result is verified to be
//!   static (no ELF PT_INTERP), because the rootfs has no libc.
//! * Rootfs: `/bin/busybox` (static; `$HAKO_TEST_BUSYBOX` overrides) + applet symlinks.
//! * Every test makes one [`TestEnv`]: a private `--root`, a temp dir for bundles and captured
//!   output, and a Drop guard (runs on panic too) that force-deletes every container id it handed
//!   out, kills leftover processes, detaches leftover mounts and cgroup dirs, and removes the
//!   temp dirs.
//! * Runtime commands never get pipes: their stdout/stderr go to files, so a detached container
//!   that inherits them cannot make the harness wait for EOF. Every command has a timeout.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one runtime command may take: 30 s, or `$HAKO_TEST_TIMEOUT` seconds (the cgroup v2
/// guest runs under software emulation and needs more).
pub static CMD_TIMEOUT: std::sync::LazyLock<Duration> = std::sync::LazyLock::new(|| {
    Duration::from_secs(
        std::env::var("HAKO_TEST_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    )
});

// ---------------------------------------------------------------------------------------------
// Runtime / checker / busybox location
// ---------------------------------------------------------------------------------------------

/// The runtime binary under test.
pub fn runtime_path() -> PathBuf {
    match std::env::var_os("HAKO_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_hako")),
    }
}

/// File name of the runtime under test ("hako", "runc", "crun", ...).
pub fn runtime_name() -> String {
    runtime_path()
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn is_hako() -> bool {
    runtime_name().starts_with("hako")
}

pub fn workspace_root() -> PathBuf {
    // crates/hako -> workspace
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// Path of the static checker binary (built once per test binary, see module docs).
pub fn checker_path() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        if let Some(p) = std::env::var_os("HAKO_TEST_CHECKER").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            assert_static(&p);
            return p;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let target_dir = workspace_root().join("target").join("checker-static");
        let out = Command::new(&cargo)
            .current_dir(workspace_root())
            .args(["build", "-q", "-p", "hako-checker", "--release", "--target"])
            .arg(&triple)
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .stdin(Stdio::null())
            .output()
            .expect("running cargo to build hako-checker");
        assert!(
            out.status.success(),
            "building the static hako-checker failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = target_dir
            .join(&triple)
            .join("release")
            .join("hako-checker");
        assert_static(&p);
        p
    })
}

/// Panics unless `p` is an ELF file without a PT_INTERP program header (i.e. static).
fn assert_static(p: &Path) {
    let b = fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    assert!(
        b.len() > 64 && &b[..4] == b"\x7fELF" && b[4] == 2,
        "{} is not ELF64",
        p.display()
    );
    let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16at(54), u16at(56));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let ptype = u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert!(
            ptype != 3,
            "{} is dynamically linked (has PT_INTERP)",
            p.display()
        );
    }
}

pub fn busybox_path() -> PathBuf {
    std::env::var_os("HAKO_TEST_BUSYBOX")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

pub const APPLETS: &[&str] = &[
    "sh", "sleep", "cat", "echo", "true", "false", "ls", "id", "touch", "test", "[", "mkdir", "rm",
    "ps", "mount", "grep", "env", "pwd", "hostname", "kill", "readlink", "stat", "uname", "wc",
    "head", "tail", "printf", "chmod", "ln", "umask", "wait",
];

// ---------------------------------------------------------------------------------------------
// Default spec (what `runc spec` writes, with terminal: false)
// ---------------------------------------------------------------------------------------------

/// runc's default config.json (`runc spec`), with `terminal: false`, `process.args` set to
/// `["/checker"]`, and a cgroup namespace added (newer runc adds it by default).
pub fn default_spec() -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["/checker"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Adds a bind mount of `host` at `dest` (rw) to `spec`.
pub fn add_bind(spec: &mut Value, host: &Path, dest: &str) {
    spec["mounts"].as_array_mut().unwrap().push(json!({
        "destination": dest, "type": "bind", "source": host.to_str().unwrap(),
        "options": ["rbind", "rw"]
    }));
}

/// Sets process.args.
pub fn set_args(spec: &mut Value, args: &[&str]) {
    spec["process"]["args"] = json!(args);
}

// ---------------------------------------------------------------------------------------------
// Command output
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct Out {
    pub args: Vec<String>,
    /// Exit code, or None if killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "expected success: {self}");
        self
    }
    /// Asserts a non-zero exit (not a crash by signal).
    #[track_caller]
    pub fn assert_err(&self) -> &Self {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a non-zero exit code: {self}"
        );
        self
    }
    /// Asserts failure and that stderr mentions (case-insensitively) at least one of `words`.
    #[track_caller]
    pub fn assert_err_mentions(&self, words: &[&str]) -> &Self {
        self.assert_err();
        let e = self.stderr.to_lowercase();
        assert!(
            words.iter().any(|w| e.contains(&w.to_lowercase())),
            "expected stderr to mention one of {words:?}: {self}"
        );
        self
    }
    /// Re-reads the stdout file (a detached container keeps writing to it).
    pub fn reread_stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` -> code {:?} signal {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.signal,
            self.stdout,
            self.stderr
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------------------------

pub struct Bundle {
    pub path: PathBuf,
    pub rootfs: PathBuf,
    /// Host directory (mode 0777) bind-mounted rw at `/shared` in the container.
    pub shared: PathBuf,
    pub spec: Value,
}

impl Bundle {
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }
    /// (Re)writes config.json from `self.spec`.
    pub fn write_config(&self) {
        fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }
    /// Mutates the spec and rewrites config.json.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        f(&mut self.spec);
        self.write_config();
    }
    /// Path of `name` in the shared dir (host side).
    pub fn shared_file(&self, name: &str) -> PathBuf {
        self.shared.join(name)
    }
}

fn build_rootfs(rootfs: &Path) {
    for d in [
        "bin", "dev", "proc", "sys", "tmp", "etc", "root", "shared", "work", "mnt", "home",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::set_permissions(rootfs, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(rootfs.join("work"), fs::Permissions::from_mode(0o777)).unwrap();
    fs::copy(busybox_path(), rootfs.join("bin/busybox")).expect("copying busybox");
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
    }
    fs::copy(checker_path(), rootfs.join("checker")).expect("copying checker");
    fs::set_permissions(rootfs.join("checker"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home:/bin/sh\n\
         nobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n",
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The per-test environment / cleanup guard
// ---------------------------------------------------------------------------------------------

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub struct TestEnv {
    pub name: String,
    tag: String,
    /// Parent of the runtime root (so `--root` is `<root_parent>/root`, and an id like `../x`
    /// would land inside `root_parent`, where the tests can see it).
    root_parent: tempfile::TempDir,
    root: PathBuf,
    base: tempfile::TempDir,
    ids: Mutex<Vec<String>>,
    bundles: Mutex<Vec<PathBuf>>,
    children: Mutex<Vec<Child>>,
    on_drop: Mutex<Vec<Vec<String>>>,
    n: AtomicUsize,
    /// The runtime binary this environment drives (normally [`runtime_path`]).
    runtime: PathBuf,
}

pub struct Bg {
    idx: usize,
    pub args: Vec<String>,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl TestEnv {
    pub fn new(name: &str) -> TestEnv {
        Self::with_runtime(name, runtime_path())
    }

    /// Like [`TestEnv::new`], but driving `runtime` (e.g. `/usr/sbin/runc` for a side-by-side
    /// comparison) instead of the runtime under test.
    pub fn with_runtime(name: &str, runtime: PathBuf) -> TestEnv {
        let short: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        let tag = format!(
            "hk{}-{}-{}",
            short,
            std::process::id() % 100000,
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let root_parent = tempfile::Builder::new()
            .prefix(&format!("{tag}-root."))
            .tempdir()
            .unwrap();
        let root = root_parent.path().join("root");
        fs::create_dir(&root).unwrap();
        let base = tempfile::Builder::new()
            .prefix(&format!("{tag}-base."))
            .tempdir()
            .unwrap();
        fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(base.path().join("io")).unwrap();
        TestEnv {
            name: name.into(),
            tag,
            root_parent,
            root,
            base,
            ids: Mutex::new(Vec::new()),
            bundles: Mutex::new(Vec::new()),
            children: Mutex::new(Vec::new()),
            on_drop: Mutex::new(Vec::new()),
            n: AtomicUsize::new(0),
            runtime,
        }
    }

    /// The runtime binary this environment drives.
    pub fn runtime(&self) -> &Path {
        &self.runtime
    }

    /// The `--root` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn root_parent(&self) -> &Path {
        self.root_parent.path()
    }
    pub fn base(&self) -> &Path {
        self.base.path()
    }

    fn next(&self) -> usize {
        self.n.fetch_add(1, Ordering::SeqCst)
    }

    /// A fresh, globally unique container id, registered for cleanup.
    pub fn id(&self) -> String {
        let id = format!("{}-{}", self.tag, self.next());
        self.register(&id);
        id
    }

    /// Registers an id (also an arbitrary/invalid one) for `delete --force` at drop.
    pub fn register(&self, id: &str) {
        self.ids.lock().unwrap().push(id.to_string());
    }

    /// Runs `argv` at drop time (after the containers are deleted), ignoring failures.
    pub fn on_drop(&self, argv: &[&str]) {
        self.on_drop
            .lock()
            .unwrap()
            .push(argv.iter().map(|s| s.to_string()).collect());
    }

    /// A new bundle with the default spec mutated by `f` (config.json written).
    pub fn bundle_with(&self, f: impl FnOnce(&mut Value, &Path)) -> Bundle {
        let path = self.base().join(format!("bundle{}", self.next()));
        let rootfs = path.join("rootfs");
        let shared = path.join("shared");
        fs::create_dir_all(&rootfs).unwrap();
        fs::create_dir_all(&shared).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        build_rootfs(&rootfs);
        let mut spec = default_spec();
        add_bind(&mut spec, &shared, "/shared");
        f(&mut spec, &shared);
        let b = Bundle {
            path,
            rootfs,
            shared,
            spec,
        };
        b.write_config();
        self.bundles.lock().unwrap().push(b.path.clone());
        b
    }

    /// A new bundle whose process runs `args`.
    pub fn bundle(&self, args: &[&str]) -> Bundle {
        self.bundle_with(|s, _| set_args(s, args))
    }

    fn io_paths(&self) -> (PathBuf, PathBuf) {
        let n = self.next();
        let d = self.base().join("io");
        (d.join(format!("{n}.out")), d.join(format!("{n}.err")))
    }

    fn command(
        &self,
        args: &[&str],
        cwd: Option<&Path>,
    ) -> (Command, Vec<String>, PathBuf, PathBuf) {
        let (o, e) = self.io_paths();
        let mut c = Command::new(&self.runtime);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null())
            .stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let mut all = vec![
            self.runtime
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            "--root".into(),
            self.root.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        (c, all, o, e)
    }

    /// Runs `<runtime> --root R <args>` to completion (with a timeout).
    pub fn cmd(&self, args: &[&str]) -> Out {
        self.cmd_in(args, None)
    }

    pub fn cmd_in(&self, args: &[&str], cwd: Option<&Path>) -> Out {
        let (c, all, o, e) = self.command(args, cwd);
        finish(c, all, o, e)
    }

    /// Like [`TestEnv::cmd`], but without CAP_SYS_RESOURCE (dropped from the bounding,
    /// permitted, effective and inheritable sets), as on a host that withholds it: the runtime
    /// cannot raise a hard rlimit or grant that capability.
    pub fn cmd_without_cap_sys_resource(&self, args: &[&str]) -> Out {
        use std::os::unix::process::CommandExt;
        #[repr(C)]
        struct Hdr {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy, Default)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let (mut c, all, o, e) = self.command(args, None);
        // SAFETY: prctl, capget and capset on ourselves between fork and exec
        // (async-signal-safe).
        unsafe {
            c.pre_exec(|| {
                const CAP_SYS_RESOURCE: u32 = 24;
                let bit = !(1u32 << CAP_SYS_RESOURCE);
                libc::prctl(
                    libc::PR_CAPBSET_DROP,
                    CAP_SYS_RESOURCE as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                let mut h = Hdr {
                    version: 0x2008_0522,
                    pid: 0,
                };
                let mut d = [Data::default(); 2];
                if libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                d[0].effective &= bit;
                d[0].permitted &= bit;
                d[0].inheritable &= bit;
                if libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        finish(c, all, o, e)
    }

    /// Like [`TestEnv::cmd`], but the runtime starts with `files[i]` open as fd `3 + i`
    /// (inheritable) — for `--preserve-fds`.
    pub fn cmd_with_fds(&self, args: &[&str], files: &[fs::File]) -> Out {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (mut c, all, o, e) = self.command(args, None);
        // Move the sources out of the way first (above any target), so a source fd that equals
        // a lower target number is not clobbered by an earlier dup2.
        let srcs: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: only async-signal-safe calls (fcntl, dup2, close) between fork and exec.
        unsafe {
            c.pre_exec(move || {
                let base = 100;
                for (i, &fd) in srcs.iter().enumerate() {
                    if libc::dup2(fd, base + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for i in 0..srcs.len() as i32 {
                    if libc::dup2(base + i, 3 + i) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(base + i);
                }
                Ok(())
            });
        }
        finish(c, all, o, e)
    }

    /// Starts `<runtime> --root R <args>` in the background (e.g. a foreground `run` that a
    /// test wants to kill). Killed at drop unless waited for.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        let (mut c, all, o, e) = self.command(args, None);
        let child = c.spawn().expect("spawning the runtime");
        let mut ch = self.children.lock().unwrap();
        ch.push(child);
        Bg {
            idx: ch.len() - 1,
            args: all,
            stdout_path: o,
            stderr_path: e,
        }
    }

    pub fn wait_bg(&self, bg: &Bg, timeout: Duration) -> Out {
        let status = {
            let mut ch = self.children.lock().unwrap();
            wait_timeout(&mut ch[bg.idx], timeout)
        }
        .unwrap_or_else(|| panic!("`{}` did not finish within {timeout:?}", bg.args.join(" ")));
        Out {
            args: bg.args.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: fs::read_to_string(&bg.stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&bg.stderr_path).unwrap_or_default(),
            stdout_path: bg.stdout_path.clone(),
            stderr_path: bg.stderr_path.clone(),
        }
    }

    // -- convenience wrappers -------------------------------------------------------------

    pub fn create(&self, b: &Bundle, id: &str) -> Out {
        self.cmd(&["create", "-b", b.path.to_str().unwrap(), id])
    }
    /// `create --console-socket` (for `process.terminal: true`).
    pub fn create_with_console(&self, b: &Bundle, id: &str, sock: &ConsoleSocket) -> Out {
        self.cmd(&[
            "create",
            "--console-socket",
            sock.path_str(),
            "-b",
            b.path.to_str().unwrap(),
            id,
        ])
    }
    pub fn start(&self, id: &str) -> Out {
        self.cmd(&["start", id])
    }
    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.cmd(&["kill", id, sig])
    }
    pub fn delete(&self, id: &str) -> Out {
        self.cmd(&["delete", id])
    }
    pub fn delete_force(&self, id: &str) -> Out {
        self.cmd(&["delete", "--force", id])
    }
    /// Foreground `run` (waits for the container to exit).
    pub fn run(&self, b: &Bundle, id: &str) -> Out {
        self.cmd(&["run", "-b", b.path.to_str().unwrap(), id])
    }
    /// Foreground `run` of the checker in default mode; returns its JSON report.
    pub fn run_checker(&self, b: &Bundle) -> Value {
        let id = self.id();
        let out = self.run(b, &id);
        out.assert_ok();
        out.json()
    }

    /// `state ID` as JSON; panics if the command fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let o = self.cmd(&["state", id]);
        o.assert_ok();
        o.json()
    }
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }

    /// Creates and starts `id` from `b`, asserting success.
    #[track_caller]
    pub fn create_start(&self, b: &Bundle, id: &str) {
        self.create(b, id).assert_ok();
        self.start(id).assert_ok();
    }

    /// Polls `state` until status == `want` (panics after `timeout`).
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let o = self.cmd(&["state", id]);
            if o.ok() {
                let v = o.json();
                if v["status"] == want {
                    return v;
                }
                if t0.elapsed() > timeout {
                    panic!("container {id} did not reach {want:?} within {timeout:?}: {v}");
                }
            } else if t0.elapsed() > timeout {
                panic!("state {id} failed while waiting for {want:?}: {o}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    // -- leftovers --------------------------------------------------------------------------

    /// Everything `id` (created from bundle `b`) may have left behind.
    pub fn leftovers(&self, id: &str, b: &Bundle) -> Vec<String> {
        let mut v = Vec::new();
        if !id.is_empty() && self.root.join(id).exists() {
            v.push(format!("state dir {} exists", self.root.join(id).display()));
        }
        if !id.is_empty() {
            let st = self.cmd(&["state", id]);
            if st.ok() {
                v.push(format!("`state {id}` still succeeds: {}", st.stdout.trim()));
            }
        }
        for (pid, why) in processes_of(&b.path, &b.rootfs, id) {
            v.push(format!("process {pid} left: {why}"));
        }
        for m in mounts_under(&b.path) {
            v.push(format!("mount left: {m}"));
        }
        if !id.is_empty() {
            for d in cgroup_dirs(id) {
                v.push(format!("cgroup dir left: {}", d.display()));
            }
        }
        v
    }

    /// Asserts that container `id` from `b` left nothing behind: no state dir in the root, no
    /// process in the bundle / with the rootfs as root / with the id on its command line, no
    /// mount under the bundle, no cgroup dir named after the id. Retries for a short while
    /// (processes being reaped asynchronously).
    #[track_caller]
    pub fn assert_nothing_left(&self, id: &str, b: &Bundle) {
        let t0 = Instant::now();
        loop {
            let l = self.leftovers(id, b);
            if l.is_empty() {
                return;
            }
            if t0.elapsed() > Duration::from_secs(3) {
                panic!("container {id:?} left things behind:\n  {}", l.join("\n  "));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let ids: Vec<String> = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        for id in &ids {
            if id.is_empty() || id.contains('/') {
                continue;
            }
            let (mut c, ..) = self.command(&["delete", "--force", id], None);
            if let Ok(mut ch) = c.spawn() {
                if wait_timeout(&mut ch, Duration::from_secs(10)).is_none() {
                    let _ = ch.kill();
                    let _ = ch.wait();
                }
            }
        }
        if let Ok(mut ch) = self.children.lock() {
            for c in ch.iter_mut() {
                if let Ok(None) = c.try_wait() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
        let bundles: Vec<PathBuf> = self.bundles.lock().map(|v| v.clone()).unwrap_or_default();
        for b in &bundles {
            let rootfs = b.join("rootfs");
            for id in ids.iter().map(String::as_str).chain([""]) {
                for (pid, _) in processes_of(b, &rootfs, id) {
                    // SAFETY: kill(2) on a pid we identified as a leftover.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        if let Ok(cmds) = self.on_drop.lock() {
            for argv in cmds.iter() {
                let _ = Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // Leftover mounts under our temp dirs (deepest first), then cgroup dirs.
        for dir in [self.base.path(), self.root_parent.path()] {
            let mut ms = mounts_under(dir);
            ms.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in ms {
                if let Ok(c) = std::ffi::CString::new(m) {
                    // SAFETY: umount2 with a valid C string.
                    unsafe {
                        libc::umount2(c.as_ptr(), libc::MNT_DETACH);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        for id in &ids {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                continue;
            }
            for d in cgroup_dirs(id) {
                remove_cgroup_tree(&d);
            }
        }
        // TempDirs are removed when the fields drop.
    }
}

fn remove_cgroup_tree(d: &Path) {
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(d);
}

// ---------------------------------------------------------------------------------------------
// Host inspection helpers
// ---------------------------------------------------------------------------------------------

/// Waits for `child` up to `timeout`; None on timeout (the child is killed then).
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) => {}
            Err(_) => return None,
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Processes (other than us) related to a container: cwd or root (as seen from here) inside
/// `bundle`, root being the very `rootfs` directory (dev+inode; works across mount namespaces),
/// or `id` as one of the command-line arguments.
pub fn processes_of(bundle: &Path, rootfs: &Path, id: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let rootfs_key = fs::metadata(rootfs).ok().map(|m| (m.dev(), m.ino()));
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let p = e.path();
        let stat = fs::read_to_string(p.join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .unwrap_or("");
        if state == "Z" || state == "X" {
            continue;
        }
        let cmdline = fs::read(p.join("cmdline")).unwrap_or_default();
        let argv: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let desc = argv.join(" ");
        for l in ["cwd", "root"] {
            if let Ok(t) = fs::read_link(p.join(l)) {
                if t.starts_with(bundle) {
                    v.push((pid, format!("{l} -> {} ({desc})", t.display())));
                }
            }
        }
        if let (Some(k), Ok(m)) = (rootfs_key, fs::metadata(p.join("root"))) {
            if (m.dev(), m.ino()) == k {
                v.push((pid, format!("root is the bundle rootfs ({desc})")));
            }
        }
        if !id.is_empty() && argv.iter().skip(1).any(|a| a == id) {
            v.push((pid, format!("has the id in its argv ({desc})")));
        }
    }
    v.sort();
    v.dedup_by_key(|x| x.0);
    v
}

/// Host mountpoints (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let s = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    s.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Directories named `id` under /sys/fs/cgroup/*/ (up to 3 levels below each hierarchy).
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    fn walk(d: &Path, id: &str, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let p = e.path();
            if e.file_name().to_str() == Some(id) {
                out.push(p.clone());
            }
            if depth > 1 {
                walk(&p, id, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, id, 3, &mut out);
        }
    }
    // cgroup v2 mounted directly at /sys/fs/cgroup
    walk(Path::new("/sys/fs/cgroup"), id, 1, &mut out);
    out.sort();
    out.dedup();
    out
}

pub fn pid_alive(pid: i64) -> bool {
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let st = s
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next())
        .unwrap_or("");
    st != "Z" && st != "X"
}

/// readlink /proc/<pid>/ns/<ns> (e.g. "net:[4026531840]").
pub fn ns_of(pid: &str, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"))
}

/// Waits until `p` exists.
#[track_caller]
pub fn wait_file(p: &Path, timeout: Duration) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(
            t0.elapsed() < timeout,
            "{} did not appear within {timeout:?}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Run a prepared command (the runtime, or a test shell) to its end (within the command timeout) and collect its output.
fn finish(mut c: Command, all: Vec<String>, o: PathBuf, e: PathBuf) -> Out {
    let mut child = c.spawn().expect("spawning the runtime");
    let status = wait_timeout(&mut child, *CMD_TIMEOUT)
        .unwrap_or_else(|| panic!("`{}` timed out after {CMD_TIMEOUT:?}", all.join(" ")));
    Out {
        args: all,
        code: status.code(),
        signal: status.signal(),
        stdout: fs::read_to_string(&o).unwrap_or_default(),
        stderr: fs::read_to_string(&e).unwrap_or_default(),
        stdout_path: o,
        stderr_path: e,
    }
}

/// Adds `{"type": "user"}` and the maps containerID 0 -> hostID 100000, size 65536.
pub fn with_userns(s: &mut Value) {
    s["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    s["linux"]["uidMappings"] = map.clone();
    s["linux"]["gidMappings"] = map;
}

/// Wait until a container has written a whole line to `p` (`echo X > p` creates the file before
/// it writes: an existing file may still be empty) and return it, trimmed.
pub fn wait_line(p: &Path, timeout: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let s = fs::read_to_string(p).unwrap_or_default();
        if s.ends_with('\n') {
            return s.trim().to_string();
        }
        assert!(
            t0.elapsed() < timeout,
            "{} got no whole line within {timeout:?} (has {s:?})",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------

pub const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The /proc/<pid>/status hex form ("%016x") of a list of capability names.
pub fn cap_mask(names: &[&str]) -> String {
    let mut m: u64 = 0;
    for n in names {
        let i = CAPS
            .iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("unknown capability {n}"));
        m |= 1 << i;
    }
    format!("{m:016x}")
}

// ---------------------------------------------------------------------------------------------
// Checker report helpers
// ---------------------------------------------------------------------------------------------

/// The mount entry of the checker report whose mountpoint is `mp` (last one wins, as the
/// kernel would resolve it).
pub fn mount_at<'a>(report: &'a Value, mp: &str) -> Option<&'a Value> {
    report["mounts"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["mountpoint"] == mp)
}

pub fn mount_has_opt(m: &Value, opt: &str) -> bool {
    m["options"]
        .as_array()
        .map(|a| a.iter().any(|o| o == opt))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (the draft-04 subset the runtime-spec schemas use)
// ---------------------------------------------------------------------------------------------

/// The runtime-spec checkout (`$HAKO_SPEC_DIR`, else `/work/shared/runtime-spec`).
pub fn spec_dir() -> PathBuf {
    std::env::var_os("HAKO_SPEC_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/runtime-spec"))
}

/// Validates `v` against the JSON Schema file `schema` (relative `$ref`s are resolved next to
/// it). Supports the keywords the runtime-spec schemas use: `$ref`, `type`, `properties`,
/// `required`, `enum`, `minimum`, `maximum`, `minLength`, `patternProperties` (pattern
/// `.{1,}` only), `additionalProperties`, `items`, `allOf`, `anyOf`, `oneOf`. An unknown
/// pattern panics instead of passing silently. Returns the list of violations (empty = valid).
pub fn validate_against_schema(v: &Value, schema: &Path) -> Vec<String> {
    let mut errs = Vec::new();
    let root = load_schema(schema);
    check_schema(v, &root, schema, "$", &mut errs);
    errs
}

fn load_schema(p: &Path) -> Value {
    let t = fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("parsing {}: {e}", p.display()))
}

fn resolve_ref(r: &str, file: &Path) -> (Value, PathBuf) {
    let (f, ptr) = r.split_once('#').unwrap_or((r, ""));
    let file = if f.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(f)
    };
    let doc = load_schema(&file);
    let target = if ptr.is_empty() {
        doc
    } else {
        doc.pointer(ptr)
            .unwrap_or_else(|| panic!("unresolvable $ref {r} in {}", file.display()))
            .clone()
    };
    (target, file)
}

fn json_type_ok(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        other => panic!("unsupported schema type {other}"),
    }
}

fn check_schema(v: &Value, s: &Value, file: &Path, at: &str, errs: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let (target, f) = resolve_ref(r, file);
        check_schema(v, &target, &f, at, errs);
        return;
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => json_type_ok(v, t),
            Value::Array(ts) => ts.iter().any(|t| json_type_ok(v, t.as_str().unwrap())),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} not in enum {e:?}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            if n < min {
                errs.push(format!("{at}: {v} < minimum {min}"));
            }
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            if n > max {
                errs.push(format!("{at}: {v} > maximum {max}"));
            }
        }
    }
    if let (Some(st), Some(min)) = (v.as_str(), s.get("minLength").and_then(Value::as_u64)) {
        if (st.chars().count() as u64) < min {
            errs.push(format!("{at}: {v} shorter than {min}"));
        }
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        if let Some(subs) = s.get(k).and_then(Value::as_array) {
            let oks = subs
                .iter()
                .filter(|sub| {
                    let mut e = Vec::new();
                    check_schema(v, sub, file, at, &mut e);
                    e.is_empty()
                })
                .count();
            let good = match k {
                "allOf" => oks == subs.len(),
                "anyOf" => oks >= 1,
                _ => oks == 1,
            };
            if !good {
                errs.push(format!(
                    "{at}: {k} not satisfied ({oks}/{} match)",
                    subs.len()
                ));
            }
        }
    }
    if let Some(a) = v.as_array() {
        if let Some(items) = s.get("items") {
            for (i, x) in a.iter().enumerate() {
                check_schema(x, items, file, &format!("{at}[{i}]"), errs);
            }
        }
    }
    if let Some(o) = v.as_object() {
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req {
                let r = r.as_str().unwrap();
                if !o.contains_key(r) {
                    errs.push(format!("{at}: required property {r:?} missing"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        let pats = s.get("patternProperties").and_then(Value::as_object);
        for (k, x) in o {
            let here = format!("{at}.{k}");
            let mut matched = false;
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                matched = true;
                check_schema(x, ps, file, &here, errs);
            }
            for (pat, ps) in pats.into_iter().flatten() {
                let m = match pat.as_str() {
                    ".{1,}" => !k.is_empty(),
                    other => panic!("unsupported patternProperties pattern {other:?}"),
                };
                if m {
                    matched = true;
                    check_schema(x, ps, file, &here, errs);
                }
            }
            if !matched {
                match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errs.push(format!("{at}: additional property {k:?} not allowed"))
                    }
                    Some(ap @ Value::Object(_)) => check_schema(x, ap, file, &here, errs),
                    _ => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shell command lines, console sockets and ptys (exec / terminal / commands tests)
// ---------------------------------------------------------------------------------------------

impl TestEnv {
    /// `<runtime> --root <root>`, for a shell command line (the temp paths have no spaces).
    pub fn runtime_cmdline(&self) -> String {
        format!("{} --root {}", self.runtime.display(), self.root.display())
    }

    /// Runs `sh -c script` (stdin /dev/null, stdout/stderr to files, with a timeout). `fd3`, if
    /// given, is open as fd 3 of the shell (inheritable).
    pub fn shell(&self, script: &str, fd3: Option<&fs::File>) -> Out {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (o, e) = self.io_paths();
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script).stdin(Stdio::null());
        c.stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        if let Some(f) = fd3 {
            let src = f.as_raw_fd();
            // SAFETY: only dup2 between fork and exec (async-signal-safe).
            unsafe {
                c.pre_exec(move || {
                    // dup2(3, 3) would keep O_CLOEXEC: clear it instead.
                    let r = if src == 3 {
                        libc::fcntl(3, libc::F_SETFD, 0)
                    } else {
                        libc::dup2(src, 3)
                    };
                    if r < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        finish(c, vec!["sh".into(), "-c".into(), script.into()], o, e)
    }
}

/// Receives one message with one fd in SCM_RIGHTS from a connected unix socket: the fd (as a
/// File) and the message payload (runc's protocol: the payload is the pty's name).
pub fn recv_fd(sock: std::os::fd::RawFd) -> Result<(fs::File, String), String> {
    use std::os::fd::FromRawFd;
    let mut buf = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one cmsghdr with a few fds, 8-byte aligned.
    let mut cbuf = [0u64; 16];
    // SAFETY: a zeroed msghdr filled with valid pointers into our buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: recvmsg into the buffers described by msg.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(format!("recvmsg: {}", std::io::Error::last_os_error()));
    }
    let name = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into cbuf.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const i32;
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / 4 {
                    fds.push(std::ptr::read_unaligned(data.add(i)));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err("control message truncated".into());
    }
    match fds.as_slice() {
        // SAFETY: the kernel installed this fd for us.
        [fd] => Ok((unsafe { fs::File::from_raw_fd(*fd) }, name)),
        other => {
            for fd in other {
                // SAFETY: closing fds we received.
                unsafe { libc::close(*fd) };
            }
            Err(format!(
                "expected exactly one fd, got {} (payload {name:?})",
                other.len()
            ))
        }
    }
}

/// A `--console-socket`: a unix listener whose background thread accepts one connection and
/// receives one SCM_RIGHTS message (the pty master).
pub struct ConsoleSocket {
    pub path: PathBuf,
    rx: std::sync::mpsc::Receiver<Result<(fs::File, String), String>>,
}

impl ConsoleSocket {
    pub fn new(env: &TestEnv) -> ConsoleSocket {
        use std::os::fd::AsRawFd;
        let path = env.base().join(format!("console{}.sock", env.next()));
        let l = std::os::unix::net::UnixListener::bind(&path).expect("bind console socket");
        l.set_nonblocking(true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let r = loop {
                match l.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        break recv_fd(s.as_raw_fd());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if t0.elapsed() > *CMD_TIMEOUT {
                            break Err("no connection on the console socket".into());
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => break Err(format!("accept: {e}")),
                }
            };
            let _ = tx.send(r);
        });
        ConsoleSocket { path, rx }
    }

    /// The received master and payload; panics on timeout or a protocol error.
    #[track_caller]
    pub fn recv(&self, timeout: Duration) -> (fs::File, String) {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => panic!("console socket: {e}"),
            Err(_) => panic!("console socket: nothing received within {timeout:?}"),
        }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Reads from `f` (a pty master) until the text read so far contains `needle`; returns all of
/// it (with `\r` removed). Panics with what was read on timeout or EOF.
#[track_caller]
pub fn read_until(f: &fs::File, needle: &str, timeout: Duration) -> String {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).replace('\r', "");
        if text.contains(needle) {
            return text;
        }
        let left = timeout.saturating_sub(t0.elapsed());
        assert!(
            !left.is_zero(),
            "{needle:?} not read within {timeout:?}; read so far: {text:?}"
        );
        let mut p = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if r <= 0 {
            continue;
        }
        match (&*f).read(&mut buf) {
            Ok(0) => panic!("EOF before {needle:?}; read: {text:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // EIO: the pty's other side is closed.
            Err(e) => panic!("read error {e} before {needle:?}; read: {text:?}"),
        }
    }
}
