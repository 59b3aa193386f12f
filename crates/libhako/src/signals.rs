//! Signal names for `kill`: `KILL`, `SIGKILL`, `kill`, `9`, `RTMIN+3`, as runc accepts them.
use crate::{Error, Result};

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
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
    ("CLD", libc::SIGCHLD),
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
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Parse a signal given by name (with or without `SIG`, any case) or number.
pub fn parse_signal(s: &str) -> Result<i32> {
    let bad = || Error::invalid(format!("invalid signal {s:?}: not a signal name or number"));
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = t.parse::<i32>() {
        // 0 probes whether the process exists, as kill(1) and runc allow.
        if (0..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        return Err(bad());
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    // Real-time signals: RTMIN, RTMIN+N, RTMAX, RTMAX-N.
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let rt = if name == "RTMIN" {
        Some(min)
    } else if name == "RTMAX" {
        Some(max)
    } else if let Some(off) = name.strip_prefix("RTMIN+") {
        off.parse::<i32>().ok().map(|o| min + o)
    } else if let Some(off) = name.strip_prefix("RTMAX-") {
        off.parse::<i32>().ok().map(|o| max - o)
    } else {
        None
    };
    match rt {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// The conventional name of a signal number (for messages).
pub fn signal_name(n: i32) -> String {
    NAMES
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(k, _)| format!("SIG{k}"))
        .unwrap_or_else(|| format!("signal {n}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names() {
        assert_eq!(parse_signal("KILL").ok(), Some(9));
        assert_eq!(parse_signal("SIGKILL").ok(), Some(9));
        assert_eq!(parse_signal("sigterm").ok(), Some(15));
        assert_eq!(parse_signal("9").ok(), Some(9));
        assert_eq!(parse_signal("RTMIN+1").ok(), Some(libc::SIGRTMIN() + 1));
        for bad in ["", "FOO", "SIGFOO", "65", "-1", "RTMIN+99"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
