//! POSIX rlimits (config.md "process.rlimits").
use crate::{Error, Result};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

pub fn resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// Apply every rlimit. Raising a hard limit needs CAP_SYS_RESOURCE; the error says which one.
pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let rl = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: setrlimit with a valid struct.
        let r = unsafe { libc::setrlimit(resource(l.typ()), &rl) };
        if r != 0 {
            return Err(Error::sys(
                format!(
                    "process.rlimits[{i}]: setrlimit({:?}, soft {}, hard {})",
                    l.typ(),
                    l.soft(),
                    l.hard()
                ),
                nix::errno::Errno::last(),
            ));
        }
    }
    Ok(())
}
