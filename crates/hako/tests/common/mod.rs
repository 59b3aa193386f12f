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

pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

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
}

pub struct Bg {
    idx: usize,
    pub args: Vec<String>,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl TestEnv {
    pub fn new(name: &str) -> TestEnv {
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
        }
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
        let mut c = Command::new(runtime_path());
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null())
            .stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        let mut all = vec![
            runtime_name(),
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
        let (mut c, all, o, e) = self.command(args, cwd);
        let mut child = c.spawn().expect("spawning the runtime");
        let status = wait_timeout(&mut child, CMD_TIMEOUT)
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
