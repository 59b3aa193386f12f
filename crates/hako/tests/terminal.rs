//! Terminals: config.md "process.terminal" and "consoleSize", runtime-linux.md "/dev/console",
//! runc's `--console-socket` protocol (one SCM_RIGHTS message carrying the pty master), `exec
//! -t`, and a foreground `run` on the caller's own terminal.
//!
//! Run against the reference runtime with `HAKO_TEST_RUNTIME=/usr/sbin/runc cargo test -p hako
//! --test terminal`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// busybox applets these tests need beyond the harness's list.
fn add_applets(rootfs: &Path) {
    for a in ["stty", "tty"] {
        let p = rootfs.join("bin").join(a);
        if !p.exists() {
            std::os::unix::fs::symlink("busybox", p).unwrap();
        }
    }
}

fn is_pty_master(f: &fs::File) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes the pty number into n; fails unless f is a pty master.
    unsafe { libc::ioctl(f.as_raw_fd(), libc::TIOCGPTN, &mut n) == 0 }
}

// config.md "process.terminal" + runc `create --console-socket`: the pty master arrives on the
// socket (payload: a name), consoleSize is applied, /dev/console is the pty (runtime-linux.md:
// "/dev/console ... MUST be set up ... if terminal is enabled"), the process has it as its
// controlling terminal, and input written to the master reaches the process.
#[test]
fn create_console_socket_terminal() {
    let env = TestEnv::new("ttycreate");
    let b = env.bundle_with(|s, _| {
        s["process"]["terminal"] = json!(true);
        s["process"]["consoleSize"] = json!({"height": 37, "width": 91});
        set_args(
            s,
            &[
                "sh",
                "-c",
                "echo SIZE:$(stty size); /checker > /shared/r.json; echo REPORTED; \
                 read line; echo got:$line; exit 4",
            ],
        );
    });
    add_applets(&b.rootfs);
    let sock = ConsoleSocket::new(&env);
    let id = env.id();
    env.create_with_console(&b, &id, &sock).assert_ok();
    let (master, name) = sock.recv(T);
    assert!(!name.is_empty(), "the message payload is the pty's name");
    assert!(
        is_pty_master(&master),
        "the fd received is not a pty master"
    );
    assert!(
        master.metadata().unwrap().file_type().is_char_device(),
        "master is not a character device"
    );
    env.start(&id).assert_ok();
    let text = read_until(&master, "REPORTED", T);
    assert!(text.contains("SIZE:37 91"), "stty size: {text:?}");
    let r: Value = serde_json::from_str(&fs::read_to_string(b.shared_file("r.json")).unwrap())
        .expect("checker report");
    let console = &r["devices"]["/dev/console"];
    assert_eq!(console["type"], "c", "{r}");
    assert_eq!(
        console["major"], 136,
        "/dev/console is not a pty slave: {console}"
    );
    let tty = r["tty"].as_str().unwrap_or("");
    assert!(tty.starts_with("/dev/pts/"), "{r}");
    assert_eq!(
        console["minor"].as_u64(),
        tty.trim_start_matches("/dev/pts/").parse::<u64>().ok(),
        "/dev/console is another pty than stdin: {r}"
    );
    // A controlling terminal: tty_nr set (pts major 136) in /proc/self/stat.
    let tty_nr = r["stat"]["tty_nr"].as_i64().unwrap();
    assert_eq!((tty_nr >> 8) & 0xfff, 136, "no controlling tty: {r}");
    assert_eq!(r["stdio"]["stdin"]["isatty"], true, "{r}");
    // Input reaches the process.
    (&master).write_all(b"hello\n").unwrap();
    let text = read_until(&master, "got:hello", T);
    assert!(text.contains("got:hello"), "{text}");
    env.wait_status(&id, "stopped", T);
    env.delete(&id).assert_ok();
}

/// Receives the master of an `exec -t` process running `sh -c "echo TTY:$(tty); read line;
/// echo got:$line; exit 5"` and talks to it. Returns the master: closing it before the shell
/// exits would hang up the shell (SIGHUP).
fn talk_to_exec_tty(sock: &ConsoleSocket) -> fs::File {
    let (master, name) = sock.recv(T);
    assert!(!name.is_empty(), "the message payload is the pty's name");
    assert!(is_pty_master(&master));
    let text = read_until(&master, "TTY:/dev/pts/", T);
    assert!(!text.contains("not a tty"), "{text}");
    (&master).write_all(b"world\n").unwrap();
    read_until(&master, "got:world", T);
    master
}

const EXEC_TTY_SCRIPT: &str = "echo TTY:$(tty); read line; echo got:$line; exit 5";

// runc `exec -d -t --console-socket`: the exec'd process gets its own pty (master on the
// socket) as its controlling terminal, and input reaches it.
#[test]
fn exec_tty_console_socket() {
    let env = TestEnv::new("ttyexec");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    add_applets(&b.rootfs);
    let id = env.id();
    env.create_start(&b, &id);
    let sock = ConsoleSocket::new(&env);
    let pf = env.base().join("exec.pid");
    let o = env.cmd(&[
        "exec",
        "-d",
        "-t",
        "--console-socket",
        sock.path_str(),
        "--pid-file",
        pf.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        EXEC_TTY_SCRIPT,
    ]);
    o.assert_ok();
    let _master = talk_to_exec_tty(&sock);
    let pid: i64 = fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    let t0 = Instant::now();
    while pid_alive(pid) {
        assert!(t0.elapsed() < T, "exec'd shell {pid} did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(env.status(&id), "running");

    // Foreground `exec -t --console-socket`: hako waits and exits with the process's status.
    // DIFFERS: runc 1.1 refuses a console socket without -d ("cannot use console socket if
    // runc will not detach or allocate tty") and relays the terminal itself.
    if is_hako() {
        let sock = ConsoleSocket::new(&env);
        let bg = env.spawn(&[
            "exec",
            "-t",
            "--console-socket",
            sock.path_str(),
            &id,
            "sh",
            "-c",
            EXEC_TTY_SCRIPT,
        ]);
        let _master = talk_to_exec_tty(&sock);
        let o = env.wait_bg(&bg, T);
        assert_eq!(o.code, Some(5), "{o}");
    }
}

// runc: `exec -t` without a console socket in detached mode is an error (there is nowhere to
// send the master).
#[test]
fn exec_tty_detached_without_socket_fails() {
    let env = TestEnv::new("ttyexecnosock");
    let b = env.bundle(&["/checker", "sleep", "3600"]);
    let id = env.id();
    env.create_start(&b, &id);
    let o = env.cmd(&["exec", "-d", "-t", &id, "/checker"]);
    assert_eq!(o.code, Some(255), "{o}");
    o.assert_err_mentions(&["console"]);
}

// runc `create` with process.terminal true and no --console-socket: an error (exit 1) that
// says why, and nothing is left behind.
#[test]
fn terminal_without_console_socket_fails_create() {
    let env = TestEnv::new("ttynosock");
    let b = env.bundle_with(|s, _| {
        s["process"]["terminal"] = json!(true);
        set_args(s, &["/checker"]);
    });
    let id = env.id();
    let o = env.create(&b, &id);
    assert_eq!(o.code, Some(1), "{o}");
    o.assert_err_mentions(&["console-socket", "console socket"]);
    env.assert_nothing_left(&id, &b);
}

/// `script -qfec CMD /dev/null`: CMD on a fresh pty (util-linux script), its output in a file,
/// `script` exiting with CMD's status.
fn under_script(env: &TestEnv, cmd: &str) -> (Option<i32>, String) {
    let out = env.base().join(format!("script-{}.out", env.id()));
    let mut c = Command::new("script");
    c.args(["-qfec", cmd, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn script");
    let st = wait_timeout(&mut child, Duration::from_secs(20)).expect("script timed out");
    (
        st.code(),
        fs::read_to_string(&out).unwrap().replace('\r', ""),
    )
}

// runc `run` in the foreground with terminal true and no console socket: the runtime relays
// the caller's terminal (a pty from util-linux `script`) and exits with the process's status.
#[test]
fn run_foreground_terminal_under_script() {
    let env = TestEnv::new("ttyscript");
    let b = env.bundle_with(|s, _| {
        s["process"]["terminal"] = json!(true);
        set_args(
            s,
            &["sh", "-c", "echo hello-from-tty; echo TTY:$(tty); exit 3"],
        );
    });
    add_applets(&b.rootfs);
    let id = env.id();
    let cmd = format!("{} run -b {} {id}", env.runtime_cmdline(), b.path.display());
    let (code, text) = under_script(&env, &cmd);
    assert!(text.contains("hello-from-tty"), "{text:?}");
    assert!(text.contains("TTY:/dev/pts/"), "{text:?}");
    assert_eq!(code, Some(3), "{text:?}");
    env.assert_nothing_left(&id, &b);
}

/// A private tmux server (`tmux -L NAME`), killed at drop.
struct Tmux(String);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.0)
            .args(args)
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .output()
            .expect("tmux")
    }
    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }
    #[track_caller]
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.capture();
            if s.contains(needle) {
                return s;
            }
            assert!(
                t0.elapsed() < timeout,
                "{needle:?} not on the tmux pane within {timeout:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

// An interactive shell in `run` on a real terminal (tmux): keys typed reach it, its output
// comes back, and `exit 3` becomes run's exit status.
#[test]
fn run_interactive_shell_in_tmux() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux not installed; skipping");
        return;
    }
    let env = TestEnv::new("ttytmux");
    let b = env.bundle_with(|s, _| {
        s["process"]["terminal"] = json!(true);
        s["process"]["env"] = json!(["PATH=/bin", "TERM=xterm", "PS1=ctr# "]);
        set_args(s, &["sh"]);
    });
    let id = env.id();
    let tmux = Tmux(format!("hako-test-{id}"));
    let cmd = format!(
        "{} run -b {} {id}; echo RUN-EXIT:$?; sleep 60",
        env.runtime_cmdline(),
        b.path.display()
    );
    let o = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        &format!("sh -c '{cmd}'"),
    ]);
    assert!(o.status.success(), "tmux: {o:?}");
    tmux.wait_for("ctr#", T);
    let o = tmux.cmd(&["send-keys", "-t", "t", "echo $((6*7)); exit 3", "Enter"]);
    assert!(o.status.success(), "tmux send-keys: {o:?}");
    let pane = tmux.wait_for("RUN-EXIT:", T);
    let lines: Vec<&str> = pane.lines().map(str::trim_end).collect();
    assert!(lines.contains(&"42"), "no 42 on the pane:\n{pane}");
    assert!(lines.contains(&"RUN-EXIT:3"), "exit status not 3:\n{pane}");
    env.assert_nothing_left(&id, &b);
}
