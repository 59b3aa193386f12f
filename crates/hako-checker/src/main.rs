//! hako-checker: a small static binary that is copied into test container
//! rootfses and reports what the container sees.
//!
//! Usage (argv[1] selects the mode; no argument = `all`):
//!
//! ```text
//! checker [all]              print one JSON object describing the process (see `report()`)
//! checker exit N             exit with status N (no output)
//! checker sleep SECS         sleep SECS seconds (fractions allowed), then exit 0
//! checker cat PATH...        print the files' contents to stdout (exit 1 if one is unreadable)
//! checker stat PATH...       print a JSON object {PATH: stat-or-error, ...} (lstat)
//! checker kill-self SIG      kill itself with SIG (name or number). SEGV/BUS/ILL/FPE are raised
//!                            as real faults so they are fatal even for a pid-namespace init;
//!                            core dumps are disabled first.
//! checker catch [FILE]       install handlers for all catchable signals, then (if FILE is given)
//!                            create FILE.ready; wait for a signal, write its name (e.g. "SIGTERM")
//!                            to FILE (or stdout) and exit 128+signo.
//! checker wait-file PATH [N] poll until PATH exists, then exit N (default 0)
//! checker touch PATH         create PATH (empty file)
//! checker write PATH DATA    write DATA into PATH; prints {"ok":true} or {"ok":false,"error":..}
//! checker try-create PATH... create (O_CREAT|O_WRONLY) and write "x" into each PATH; prints
//!                            {PATH: {"ok":true} | {"ok":false,"errno":N,"error":..}, ...}
//! checker fds                print {"fds":[{"fd":N,"target":..,"content":..}]}: every open fd,
//!                            with the first 4 KiB of regular files read with pread at offset 0
//! checker mempolicy          print {"mode":N,"nodes":[..]} from get_mempolicy(2)
//! ```
//!
//! The `all` report never panics on a missing file: any value that cannot be obtained is
//! reported as `null` or as `{"error": "..."}`.

use serde_json::{json, Map, Value};
use std::ffi::CStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

fn err_value(e: impl std::fmt::Display) -> Value {
    json!({ "error": e.to_string() })
}

fn out(s: &str) {
    let mut o = io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

fn errout(s: &str) {
    let mut o = io::stderr().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

fn read_to_string(path: &str) -> Result<String, String> {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("{path}: {e}"))
}

fn read_link(path: &str) -> Value {
    match fs::read_link(path) {
        Ok(p) => Value::String(p.to_string_lossy().into_owned()),
        Err(e) => err_value(e),
    }
}

fn cstr_field(buf: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// /proc/self/status as an ordered map of key -> raw value string.
fn proc_status() -> Result<Vec<(String, String)>, String> {
    let s = read_to_string("/proc/self/status")?;
    Ok(s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect())
}

fn status_get<'a>(st: &'a Result<Vec<(String, String)>, String>, key: &str) -> Option<&'a str> {
    st.as_ref()
        .ok()?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn status_num(st: &Result<Vec<(String, String)>, String>, key: &str) -> Value {
    match status_get(st, key).and_then(|v| v.parse::<i64>().ok()) {
        Some(n) => json!(n),
        None => Value::Null,
    }
}

fn ids() -> Value {
    let (mut ru, mut eu, mut su) = (0, 0, 0);
    let (mut rg, mut eg, mut sg) = (0, 0, 0);
    // SAFETY: plain syscalls writing into local integers.
    let ru_ok = unsafe { libc::getresuid(&mut ru, &mut eu, &mut su) } == 0;
    let rg_ok = unsafe { libc::getresgid(&mut rg, &mut eg, &mut sg) } == 0;
    let st = proc_status();
    let fsuid = status_get(&st, "Uid")
        .and_then(|v| v.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    let fsgid = status_get(&st, "Gid")
        .and_then(|v| v.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    json!({
        "uid": if ru_ok { json!({"real": ru, "effective": eu, "saved": su, "fs": fsuid}) } else { Value::Null },
        "gid": if rg_ok { json!({"real": rg, "effective": eg, "saved": sg, "fs": fsgid}) } else { Value::Null },
        "groups": groups(),
    })
}

fn groups() -> Value {
    // SAFETY: getgroups(0, NULL) returns the count; then fill a buffer of that size.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n < 0 {
        return err_value(io::Error::last_os_error());
    }
    let mut buf = vec![0 as libc::gid_t; n as usize];
    let n = unsafe { libc::getgroups(n, buf.as_mut_ptr()) };
    if n < 0 {
        return err_value(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    json!(buf)
}

const RLIMITS: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

/// rlimits keyed by OCI name; RLIM_INFINITY is reported as u64::MAX (as in config.json).
fn rlimits() -> Value {
    let mut m = Map::new();
    for (name, res) in RLIMITS {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the local struct.
        let v = if unsafe { libc::getrlimit(*res, &mut rl) } == 0 {
            json!({"soft": rl.rlim_cur, "hard": rl.rlim_max})
        } else {
            err_value(io::Error::last_os_error())
        };
        m.insert((*name).to_string(), v);
    }
    Value::Object(m)
}

fn uname() -> Value {
    // SAFETY: uname fills the zeroed struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return err_value(io::Error::last_os_error());
    }
    json!({
        "sysname": cstr_field(&u.sysname),
        "nodename": cstr_field(&u.nodename),
        "release": cstr_field(&u.release),
        "machine": cstr_field(&u.machine),
        "domainname": cstr_field(&u.domainname),
    })
}

fn namespaces() -> Value {
    let mut m = Map::new();
    let entries = match fs::read_dir("/proc/self/ns") {
        Ok(e) => e,
        Err(e) => return err_value(e),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        let link = read_link(&format!("/proc/self/ns/{n}"));
        m.insert(n, link);
    }
    Value::Object(m)
}

/// Undo the octal escapes (\040 etc.) used in mountinfo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut outb = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            outb.push(v as u8);
            i += 4;
            continue;
        }
        outb.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&outb).into_owned()
}

fn mounts() -> Value {
    let s = match read_to_string("/proc/self/mountinfo") {
        Ok(s) => s,
        Err(e) => return err_value(e),
    };
    let mut v = Vec::new();
    for line in s.lines() {
        let (pre, post) = match line.split_once(" - ") {
            Some(x) => x,
            None => continue,
        };
        let f: Vec<&str> = pre.split(' ').collect();
        let g: Vec<&str> = post.split(' ').collect();
        if f.len() < 6 || g.len() < 2 {
            continue;
        }
        let optional: Vec<&str> = f[6..].to_vec();
        let mut propagation: Vec<String> = Vec::new();
        for o in &optional {
            if o.starts_with("shared:") {
                propagation.push("shared".into());
            } else if o.starts_with("master:") {
                propagation.push("slave".into());
            } else if o.starts_with("propagate_from:") {
                // informational
            } else if *o == "unbindable" {
                propagation.push("unbindable".into());
            }
        }
        if propagation.is_empty() {
            propagation.push("private".into());
        }
        v.push(json!({
            "id": f[0].parse::<u64>().ok(),
            "parent": f[1].parse::<u64>().ok(),
            "dev": f[2],
            "root": unescape(f[3]),
            "mountpoint": unescape(f[4]),
            "options": f[5].split(',').collect::<Vec<_>>(),
            "optional": optional,
            "propagation": propagation.join(","),
            "fstype": g[0],
            "source": unescape(g[1]),
            "super_options": g.get(2).map(|x| x.split(',').collect::<Vec<_>>()).unwrap_or_default(),
        }));
    }
    Value::Array(v)
}

fn major(dev: u64) -> u64 {
    libc::major(dev as libc::dev_t) as u64
}
fn minor(dev: u64) -> u64 {
    libc::minor(dev as libc::dev_t) as u64
}

fn stat_path(p: &str) -> Value {
    match fs::symlink_metadata(p) {
        Ok(m) => {
            let ft = m.file_type();
            let t = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else if ft.is_dir() {
                "d"
            } else if ft.is_symlink() {
                "l"
            } else if ft.is_fifo() {
                "p"
            } else if ft.is_socket() {
                "s"
            } else {
                "f"
            };
            let mut o = json!({
                "type": t,
                "mode": m.mode() & 0o7777,
                "mode_octal": format!("{:04o}", m.mode() & 0o7777),
                "uid": m.uid(),
                "gid": m.gid(),
                "size": m.size(),
                "ino": m.ino(),
            });
            if ft.is_char_device() || ft.is_block_device() {
                o["major"] = json!(major(m.rdev()));
                o["minor"] = json!(minor(m.rdev()));
            }
            if ft.is_symlink() {
                o["target"] = read_link(p);
            }
            o
        }
        Err(e) => err_value(e),
    }
}

fn devices() -> Value {
    let mut m = Map::new();
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "console",
    ] {
        let p = format!("/dev/{d}");
        m.insert(p.clone(), stat_path(&p));
    }
    Value::Object(m)
}

fn dev_links() -> Value {
    let mut m = Map::new();
    for d in ["fd", "stdin", "stdout", "stderr", "ptmx", "core"] {
        let p = format!("/dev/{d}");
        m.insert(p.clone(), read_link(&p));
    }
    Value::Object(m)
}

fn fd_info(fd: i32) -> Value {
    // SAFETY: fcntl F_GETFD on an arbitrary integer is harmless.
    let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
    if !open {
        return json!({"open": false});
    }
    let isatty = unsafe { libc::isatty(fd) } == 1;
    // SAFETY: F_GETFL only reads flags.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    let acc = match fl & libc::O_ACCMODE {
        libc::O_RDONLY => "r",
        libc::O_WRONLY => "w",
        libc::O_RDWR => "rw",
        _ => "?",
    };
    json!({
        "open": true,
        "target": read_link(&format!("/proc/self/fd/{fd}")),
        "isatty": isatty,
        "access": acc,
    })
}

fn open_fds() -> Value {
    let rd = match fs::read_dir("/proc/self/fd") {
        Ok(r) => r,
        Err(e) => return err_value(e),
    };
    let mut fds: Vec<i32> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    fds.sort();
    let mut v = Vec::new();
    for fd in fds {
        let target = read_link(&format!("/proc/self/fd/{fd}"));
        // The directory handle used by read_dir itself is already closed here, but its
        // number may show up as a dangling entry; skip entries that are no longer open.
        // SAFETY: see fd_info.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            continue;
        }
        v.push(json!({"fd": fd, "target": target}));
    }
    Value::Array(v)
}

/// Seconds of a clock as seen by this process (time namespace offsets applied).
fn clock_secs(clk: libc::clockid_t) -> Value {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the local struct.
    if unsafe { libc::clock_gettime(clk, &mut ts) } != 0 {
        return err_value(io::Error::last_os_error());
    }
    json!(ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

fn clocks() -> Value {
    let uptime = match read_to_string("/proc/uptime") {
        Ok(s) => s
            .split_whitespace()
            .next()
            .and_then(|x| x.parse::<f64>().ok())
            .map_or(Value::Null, |x| json!(x)),
        Err(e) => err_value(e),
    };
    json!({
        "monotonic": clock_secs(libc::CLOCK_MONOTONIC),
        "boottime": clock_secs(libc::CLOCK_BOOTTIME),
        "uptime": uptime,
    })
}

/// Every open fd with its target and (for regular files) the first 4 KiB of content.
fn fds_with_content() -> Value {
    let rd = match fs::read_dir("/proc/self/fd") {
        Ok(r) => r,
        Err(e) => return err_value(e),
    };
    let mut fds: Vec<i32> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    fds.sort();
    let mut v = Vec::new();
    for fd in fds {
        // SAFETY: see fd_info (skips the closed read_dir handle).
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            continue;
        }
        // SAFETY: fstat into a zeroed local struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let is_reg = unsafe { libc::fstat(fd, &mut st) } == 0
            && (st.st_mode & libc::S_IFMT) == libc::S_IFREG;
        let content = if is_reg {
            let mut buf = vec![0u8; 4096];
            // SAFETY: pread into a buffer of the given length.
            let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                err_value(io::Error::last_os_error())
            } else {
                buf.truncate(n as usize);
                json!(String::from_utf8_lossy(&buf))
            }
        } else {
            Value::Null
        };
        v.push(json!({
            "fd": fd,
            "target": read_link(&format!("/proc/self/fd/{fd}")),
            "content": content,
        }));
    }
    json!({ "fds": v })
}

fn try_create(p: &str) -> Value {
    let r = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(p)
        .and_then(|mut f| f.write_all(b"x"));
    match r {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "errno": e.raw_os_error(), "error": e.to_string()}),
    }
}

fn proc_stat() -> Value {
    // Fields after the ")" of the comm.
    let s = match read_to_string("/proc/self/stat") {
        Ok(s) => s,
        Err(e) => return err_value(e),
    };
    let rest = match s.rfind(')') {
        Some(i) => &s[i + 1..],
        None => return err_value("unparsable /proc/self/stat"),
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<i64>().ok());
    // rest[0] = state (field 3), so field N is f[N-3].
    json!({
        "state": f.first(),
        "pgid": num(2),
        "sid": num(3),
        "tty_nr": num(4),
        "tpgid": num(5),
        "nice": num(16),
        "num_threads": num(17),
        "rt_priority": num(37),
        "policy": num(38),
    })
}

fn trimmed_file(path: &str) -> Value {
    match read_to_string(path) {
        Ok(s) => Value::String(s.trim_end_matches('\n').to_string()),
        Err(e) => err_value(e),
    }
}

fn int_file(path: &str) -> Value {
    match read_to_string(path) {
        Ok(s) => match s.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(e) => err_value(format!("{path}: {e}")),
        },
        Err(e) => err_value(e),
    }
}

fn report() -> Value {
    let st = proc_status();
    let caps = {
        let mut m = Map::new();
        for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            m.insert(
                k.to_string(),
                status_get(&st, k).map_or(Value::Null, |v| json!(v)),
            );
        }
        Value::Object(m)
    };
    let umask_str = status_get(&st, "Umask").map(|s| s.to_string());
    let umask_num = umask_str
        .as_deref()
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    // SAFETY: prctl(PR_GET_NO_NEW_PRIVS) takes no pointers.
    let nnp_prctl = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    // SAFETY: prctl(PR_GET_DUMPABLE) takes no pointers.
    let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    let cwd = match std::env::current_dir() {
        Ok(p) => json!(p.to_string_lossy()),
        Err(e) => err_value(e),
    };
    let un = uname();
    let cgroup: Value = match read_to_string("/proc/self/cgroup") {
        Ok(s) => json!(s.lines().collect::<Vec<_>>()),
        Err(e) => err_value(e),
    };
    let status_map: Map<String, Value> = match &st {
        Ok(v) => v.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
        Err(_) => Map::new(),
    };
    // SAFETY: trivial getters.
    let (pid, ppid, pgrp, sid) = unsafe {
        (
            libc::getpid(),
            libc::getppid(),
            libc::getpgrp(),
            libc::getsid(0),
        )
    };
    let sched_policy = unsafe { libc::sched_getscheduler(0) };
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS=1, 0) takes no pointers.
    let ioprio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    // SAFETY: errno reset then getpriority (which may legitimately return -1).
    let nice = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    let stdio = json!({
        "stdin": fd_info(0),
        "stdout": fd_info(1),
        "stderr": fd_info(2),
    });
    let tty = {
        // SAFETY: ttyname returns a static buffer or NULL.
        let p = unsafe { libc::ttyname(0) };
        if p.is_null() {
            Value::Null
        } else {
            json!(unsafe { CStr::from_ptr(p) }.to_string_lossy())
        }
    };
    let mut o = json!({
        "argv": std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "pid": pid,
        "ppid": ppid,
        "pgrp": pgrp,
        "sid": sid,
        "ids": ids(),
        "umask": umask_str,
        "umask_num": umask_num,
        "caps": caps,
        "no_new_privs": status_num(&st, "NoNewPrivs"),
        "no_new_privs_prctl": nnp_prctl,
        "seccomp": status_num(&st, "Seccomp"),
        "seccomp_filters": status_num(&st, "Seccomp_filters"),
        "dumpable": dumpable,
        "rlimits": rlimits(),
        "env": std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect::<Vec<_>>(),
        "cwd": cwd,
        "hostname": un.get("nodename").cloned().unwrap_or(Value::Null),
        "domainname": un.get("domainname").cloned().unwrap_or(Value::Null),
        "uname": un,
        "namespaces": namespaces(),
        "mounts": mounts(),
        "devices": devices(),
        "dev_links": dev_links(),
        "oom_score_adj": int_file("/proc/self/oom_score_adj"),
        "cgroup": cgroup,
        "stdio": stdio,
        "tty": tty,
        "fds": open_fds(),
        "stat": proc_stat(),
        "sched_policy": sched_policy,
        "ioprio": ioprio,
        "nice": nice,
        "personality": trimmed_file("/proc/self/personality"),
        "apparmor": trimmed_file("/proc/self/attr/current"),
        "cpus_allowed": status_get(&st, "Cpus_allowed_list"),
        "sig_blocked": status_get(&st, "SigBlk"),
        "sig_ignored": status_get(&st, "SigIgn"),
        "root_stat": stat_path("/"),
        "clocks": clocks(),
        "status": Value::Object(status_map),
    });
    if let Err(e) = &st {
        o["status_error"] = json!(e);
    }
    o
}

fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(s, _)| format!("SIG{s}"))
        .unwrap_or_else(|| format!("SIG{n}"))
}

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

fn usage() -> ! {
    errout("usage: checker [all|exit N|sleep SECS|cat PATH..|stat PATH..|kill-self SIG|catch [FILE]|wait-file PATH [N]|touch PATH|write PATH DATA|try-create PATH..|fds|mempolicy]\n");
    std::process::exit(2)
}

fn kill_self(sig: i32) -> ! {
    // No core dumps (a pipe core_pattern ignores RLIMIT_CORE=0, dumpable=0 does not).
    // SAFETY: prctl with integer arguments / resetting a signal disposition.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::signal(sig, libc::SIG_DFL);
    }
    match sig {
        libc::SIGSEGV => {
            // A real fault is delivered with force, so even a pid-namespace init dies.
            // SAFETY: intentionally faulting.
            unsafe {
                let p: *mut u8 = std::ptr::null_mut::<u8>().wrapping_add(8);
                std::ptr::write_volatile(p, 1);
            }
        }
        libc::SIGILL => {
            // SAFETY: ud2 raises SIGILL by design.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                std::arch::asm!("ud2");
            }
        }
        libc::SIGTRAP => {
            // SAFETY: int3 raises SIGTRAP by design.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                std::arch::asm!("int3");
            }
        }
        _ => {}
    }
    // SAFETY: sending a signal to ourselves.
    unsafe {
        libc::kill(libc::getpid(), sig);
    }
    std::thread::sleep(Duration::from_millis(500));
    errout(&format!(
        "checker: still alive after kill-self {} (pid-namespace init ignores signals without a handler)\n",
        signal_name(sig)
    ));
    std::process::exit(125)
}

static CAUGHT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    CAUGHT.store(sig, std::sync::atomic::Ordering::SeqCst);
}

fn catch(file: Option<&str>) -> ! {
    for (_, sig) in SIGNALS {
        if *sig == libc::SIGKILL || *sig == libc::SIGSTOP || *sig == libc::SIGCHLD {
            continue;
        }
        // SAFETY: installing an async-signal-safe handler (one atomic store).
        unsafe {
            libc::signal(*sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    if let Some(f) = file {
        let _ = fs::write(format!("{f}.ready"), "");
    }
    loop {
        let s = CAUGHT.load(std::sync::atomic::Ordering::SeqCst);
        if s != 0 {
            let name = signal_name(s);
            match file {
                Some(f) => {
                    let _ = fs::write(f, &name);
                }
                None => out(&format!("{name}\n")),
            }
            std::process::exit(128 + s);
        }
        // Short sleeps instead of pause(): no lost-wakeup race between the check and the wait.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// get_mempolicy(2) of this process: the mode (MPOL_* with its MPOL_F_* mode flags) and the
/// node list.
fn mempolicy() -> Value {
    let mut mode: libc::c_int = -1;
    let mut mask = [0 as libc::c_ulong; 16];
    let maxnode = (mask.len() * 8 * std::mem::size_of::<libc::c_ulong>()) as libc::c_ulong;
    // SAFETY: get_mempolicy(2) with valid out-pointers sized by maxnode.
    let r = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            maxnode,
            std::ptr::null_mut::<libc::c_void>(),
            0 as libc::c_ulong,
        )
    };
    if r != 0 {
        return err_value(io::Error::last_os_error());
    }
    let bits = 8 * std::mem::size_of::<libc::c_ulong>();
    let nodes: Vec<usize> = (0..mask.len() * bits)
        .filter(|n| mask[n / bits] & (1 << (n % bits)) != 0)
        .collect();
    json!({"mode": mode, "nodes": nodes})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("all");
    let arg = |i: usize| args.get(i).map(String::as_str);
    match mode {
        "all" => {
            let mut s = report().to_string();
            s.push('\n');
            out(&s);
        }
        "exit" => {
            let n = arg(2).and_then(|s| s.parse::<i32>().ok()).unwrap_or(0);
            std::process::exit(n);
        }
        "sleep" => {
            let secs = arg(2).and_then(|s| s.parse::<f64>().ok()).unwrap_or(3600.0);
            std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
        }
        "cat" => {
            let mut rc = 0;
            for p in &args[2..] {
                let mut buf = Vec::new();
                match fs::File::open(p).and_then(|mut f| f.read_to_end(&mut buf)) {
                    Ok(_) => {
                        let _ = io::stdout().write_all(&buf);
                    }
                    Err(e) => {
                        errout(&format!("checker: {p}: {e}\n"));
                        rc = 1;
                    }
                }
            }
            let _ = io::stdout().flush();
            std::process::exit(rc);
        }
        "stat" => {
            let mut m = Map::new();
            for p in &args[2..] {
                m.insert(p.clone(), stat_path(p));
            }
            out(&format!("{}\n", Value::Object(m)));
        }
        "kill-self" => match arg(2).and_then(parse_signal) {
            Some(sig) => kill_self(sig),
            None => usage(),
        },
        "catch" => catch(arg(2)),
        "wait-file" => {
            let Some(p) = arg(2) else { usage() };
            let n = arg(3).and_then(|s| s.parse::<i32>().ok()).unwrap_or(0);
            while !Path::new(p).exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::process::exit(n);
        }
        "touch" => {
            let Some(p) = arg(2) else { usage() };
            if let Err(e) = fs::OpenOptions::new().create(true).append(true).open(p) {
                errout(&format!("checker: {p}: {e}\n"));
                std::process::exit(1);
            }
        }
        "write" => {
            let (Some(p), Some(d)) = (arg(2), arg(3)) else {
                usage()
            };
            let r = match fs::OpenOptions::new().write(true).open(p) {
                Ok(mut f) => f.write_all(d.as_bytes()),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => out("{\"ok\":true}\n"),
                Err(e) => out(&format!(
                    "{}\n",
                    json!({"ok": false, "error": e.to_string()})
                )),
            }
        }
        "try-create" => {
            let mut m = Map::new();
            for p in &args[2..] {
                m.insert(p.clone(), try_create(p));
            }
            out(&format!("{}\n", Value::Object(m)));
        }
        "fds" => out(&format!("{}\n", fds_with_content())),
        "mempolicy" => out(&format!("{}\n", mempolicy())),
        _ => usage(),
    }
}
