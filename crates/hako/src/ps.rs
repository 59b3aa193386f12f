//! `hako ps ID` without ps options: the container's rows of `ps -ef`, made from /proc directly.
//! runc runs ps(1) and keeps the rows of the container's pids; ps(1) is a bigger process than
//! hako (4.5 MB resident here against 1.8), so the common case is formatted here the way
//! procps-ng formats `-f`, and ps(1) is run only for other options.
use libhako::Error;
use std::fmt::Write as _;

struct Row {
    uid: u32,
    pid: i32,
    ppid: i32,
    tty_nr: u64,
    /// utime + stime, in clock ticks.
    ticks: u64,
    /// Start time after boot, in clock ticks.
    start: u64,
    cmd: String,
}

fn read_row(pid: i32) -> Option<Row> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    // Fields from 3 (state) on.
    let f: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if raw.is_empty() {
        format!("[{comm}]")
    } else {
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| printable(&String::from_utf8_lossy(a)))
            .collect();
        args.join(" ")
    };
    Some(Row {
        uid,
        pid,
        ppid: num(4)? as i32,
        tty_nr: num(7)?,
        ticks: num(14)? + num(15)?,
        start: num(22)?,
        cmd,
    })
}

/// procps shows control characters in a command line as `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The user name for the UID column: from /etc/passwd if it fits in 8 columns, else the
/// number (as procps does).
fn user_name(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .find_map(|l| {
            let mut it = l.split(':');
            let name = it.next()?;
            (it.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .filter(|n| n.len() <= 8)
        .unwrap_or_else(|| uid.to_string())
}

/// The TTY column from `tty_nr`: pseudo-terminals and the usual consoles; `?` for none.
fn tty_name(tty_nr: u64) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 0 => "tty".into(),
        5 if minor == 1 => "console".into(),
        _ => "?".into(),
    }
}

fn local_tm(t: i64) -> libc::tm {
    // SAFETY: localtime_r fills the zeroed struct we pass.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

/// STIME: HH:MM if started today, MonDD this year, else the year (procps' rule).
fn stime(start: i64, now: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (p, n) = (local_tm(start), local_tm(now));
    if p.tm_year != n.tm_year {
        format!("{}", p.tm_year + 1900)
    } else if p.tm_yday != n.tm_yday {
        format!("{}{:02}", MONTHS[p.tm_mon.clamp(0, 11) as usize], p.tm_mday)
    } else {
        format!("{:02}:{:02}", p.tm_hour, p.tm_min)
    }
}

/// TIME: cumulative CPU time, [DD-]HH:MM:SS.
fn cputime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Width of the PID columns: the digits of the largest pid, at least 5 (procps).
fn pid_width() -> usize {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|m| m.saturating_sub(1).max(1).to_string().len())
        .unwrap_or(5)
        .max(5)
}

/// The `ps -ef` table of `pids` (those still alive).
pub fn table(pids: &[i32]) -> Result<String, Error> {
    // SAFETY: sysconf and time have no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let now = unsafe { libc::time(std::ptr::null_mut()) } as i64;
    let stat =
        std::fs::read_to_string("/proc/stat").map_err(|e| Error::io("read /proc/stat", e))?;
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::other("/proc/stat has no btime"))?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let w = pid_width();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:>w$} {:>w$}  C STIME TTY          TIME CMD",
        "UID", "PID", "PPID"
    );
    for r in pids.iter().filter_map(|p| read_row(*p)) {
        let elapsed = (uptime - r.start as f64 / hz as f64).max(0.0) as u64;
        let c = (r.ticks * 100 / hz)
            .checked_div(elapsed)
            .unwrap_or(0)
            .min(99);
        let _ = writeln!(
            out,
            "{:<8} {:>w$} {:>w$} {:>2} {:>5} {:<8} {:>8} {}",
            user_name(&passwd, r.uid),
            r.pid,
            r.ppid,
            c,
            stime(btime + (r.start / hz) as i64, now),
            tty_name(r.tty_nr),
            cputime(r.ticks / hz),
            r.cmd
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns() {
        assert_eq!(cputime(0), "00:00:00");
        assert_eq!(cputime(3661), "01:01:01");
        assert_eq!(cputime(90061), "1-01:01:01");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
        let pw = "root:x:0:0:root:/root:/bin/bash\nsystemd-timesync:x:997:997::/:/sbin/nologin\n";
        assert_eq!(user_name(pw, 0), "root");
        assert_eq!(user_name(pw, 997), "997");
        assert_eq!(user_name(pw, 1234), "1234");
    }

    /// Our rows are ps(1)'s rows, to the byte (when procps is installed): the header and a
    /// sleeping child's row. (This busy test process's own C and TIME may change between the
    /// two reads.)
    #[test]
    fn matches_procps() {
        if std::process::Command::new("ps")
            .arg("--version")
            .output()
            .is_err()
        {
            return;
        }
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        // Until the child has exec'd, its command line is empty.
        let exec_done =
            || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"));
        for _ in 0..2000 {
            if exec_done() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let ours = table(&[pid]).expect("table");
        let theirs = std::process::Command::new("ps")
            .arg("-ef")
            .output()
            .expect("ps -ef");
        let _ = child.kill();
        let _ = child.wait();
        let text = String::from_utf8_lossy(&theirs.stdout);
        let header = text.lines().next().unwrap_or("");
        let row = text
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(pid.to_string().as_str()))
            .expect("the sleep in ps -ef");
        let ours: Vec<&str> = ours.lines().collect();
        assert_eq!(ours, vec![header, row]);
    }
}
