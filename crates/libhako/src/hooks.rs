//! POSIX-platform hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle"). Each hook
//! gets the container state on stdin; a `timeout` kills it when it runs over. stdout and stderr
//! are the runtime's own, where runc sends them.
use crate::process::{pidfd_open, poll_readable};
use crate::{Context, Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// Run `hooks` in order; the first failure stops the sequence and is returned.
pub fn run_all(kind: &str, hooks: &[Hook], state_json: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state_json)
            .with_ctx(|| format!("hooks.{kind}[{i}] ({})", h.path().display()))?;
    }
    Ok(())
}

/// Run every hook, logging failures as warnings (poststop: failures must not stop the rest).
pub fn run_all_warn(kind: &str, hooks: &[Hook], state_json: &str) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state_json) {
            tracing::warn!("hooks.{kind}[{i}] ({}): {e}", h.path().display());
        }
    }
}

fn run_one(h: &Hook, state_json: &str) -> Result<()> {
    let mut cmd = Command::new(h.path());
    let args = h.args().as_deref().unwrap_or(&[]);
    if let Some(a0) = args.first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(a0);
        cmd.args(&args[1..]);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    // Like runc, a hook's output is collected (not mixed into the container's stdio, which
    // engines often share with the runtime) and shown in the error when the hook fails. A
    // memfd rather than a pipe: a chatty hook can never block on a full pipe.
    let out = output_file()?;
    cmd.stdout(out.try_clone().ctx("dup hook output")?);
    cmd.stderr(out.try_clone().ctx("dup hook output")?);
    let mut child = cmd.spawn().ctx("start hook")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin must not make us fail (EPIPE).
        let _ = stdin.write_all(state_json.as_bytes());
    }
    if let Some(t) = h.timeout() {
        if t <= 0 {
            return Err(Error::config("timeout", "must be greater than zero"));
        }
        let pidfd = pidfd_open(child.id() as i32)?;
        if !poll_readable(pidfd.as_raw_fd(), t * 1000)? {
            let _ = child.kill();
            let _ = child.wait();
            let text = read_output(out);
            return Err(Error::other(format!(
                "timed out after {t} s, killed; output: {text}"
            )));
        }
    }
    let status = child.wait().ctx("wait for hook")?;
    if status.success() {
        return Ok(());
    }
    match (status.code(), status.signal()) {
        (Some(c), _) => Err(Error::other(format!("exited with status {c}"))),
        (_, Some(s)) => Err(Error::other(format!(
            "killed by {}",
            crate::signals::signal_name(s)
        ))),
        _ => Err(Error::other("failed")),
    }
}

fn output_file() -> Result<std::fs::File> {
    // SAFETY: memfd_create with a constant name.
    let fd = unsafe { libc::memfd_create(c"hako-hook-output".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::sys("memfd_create", nix::errno::Errno::last()));
    }
    // SAFETY: a fresh fd.
    Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// The hook's output, trimmed to a length that fits an error line.
fn read_output(mut f: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let _ = f.seek(std::io::SeekFrom::Start(0));
    let mut buf = Vec::new();
    let _ = Read::by_ref(&mut f).take(4096).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).trim().to_string()
}
