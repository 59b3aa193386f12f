//! Process attributes applied just before exec (config.md "process": scheduler, ioPriority,
//! execCPUAffinity; config-linux.md "Personality", "Memory policy").
use crate::{Error, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process,
    Scheduler, Spec,
};

/// Parse a CPU or node list such as `0-3,5,7-8`.
pub fn parse_list(field: &str, s: &str) -> Result<Vec<usize>> {
    let bad = || Error::config(field, format!("{s:?} is not a list like \"0-3,5\""));
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    a.parse::<usize>().map_err(|_| bad())?,
                    b.parse::<usize>().map_err(|_| bad())?,
                );
                if a > b || b >= 4096 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                if n >= 4096 {
                    return Err(bad());
                }
                out.push(n);
            }
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn set_affinity(field: &str, list: &str) -> Result<()> {
    let cpus = parse_list(field, list)?;
    // SAFETY: a zeroed cpu_set_t filled with CPU_SET.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for c in cpus {
        if c >= libc::CPU_SETSIZE as usize {
            return Err(Error::config(field, format!("cpu {c} out of range")));
        }
        // SAFETY: index checked above.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: sched_setaffinity on ourselves.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(Error::sys(
            format!("{field}: sched_setaffinity({list})"),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// `execCPUAffinity.initial`: before the process joins the container's cgroup.
pub fn affinity_initial(p: &Process) -> Result<()> {
    match p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_deref())
    {
        Some(l) => set_affinity("process.execCPUAffinity.initial", l),
        None => Ok(()),
    }
}

/// `execCPUAffinity.final`: after joining the cgroup. Without `final`, a process that had an
/// `initial` set is widened to every CPU again (the cgroup's cpuset still bounds it).
pub fn affinity_final(p: &Process) -> Result<()> {
    let Some(a) = p.exec_cpu_affinity().as_ref() else {
        return Ok(());
    };
    match (a.initial(), a.cpu_affinity_final()) {
        (_, Some(l)) => set_affinity("process.execCPUAffinity.final", l),
        (Some(_), None) => {
            // SAFETY: a full cpu_set_t; the kernel intersects it with the allowed CPUs.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            for c in 0..libc::CPU_SETSIZE as usize {
                // SAFETY: index in range.
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            // SAFETY: sched_setaffinity on ourselves.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

/// `process.scheduler` with sched_setattr(2).
pub fn scheduler(s: &Scheduler) -> Result<()> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0).max(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: sched_setattr(2) on ourselves with a valid struct.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(Error::sys(
            "process.scheduler: sched_setattr",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// `process.ioPriority` with ioprio_set(2).
pub fn io_priority(p: &oci_spec::runtime::LinuxIOPriority) -> Result<()> {
    let class: i64 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(Error::config(
            "process.ioPriority.priority",
            "must be between 0 and 7",
        ));
    }
    let value = (class << 13) | p.priority();
    // SAFETY: ioprio_set(IOPRIO_WHO_PROCESS, self, value).
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) };
    if r != 0 {
        return Err(Error::sys(
            "process.ioPriority: ioprio_set",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// `linux.personality`.
pub fn personality(p: &LinuxPersonality) -> Result<()> {
    let persona: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::config(
            "linux.personality.flags",
            "no flags are defined; must be empty",
        ));
    }
    // SAFETY: personality(2) with a constant persona.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(Error::sys("linux.personality", nix::errno::Errno::last()));
    }
    Ok(())
}

/// `linux.memoryPolicy` with set_mempolicy(2).
pub fn memory_policy(m: &LinuxMemoryPolicy) -> Result<()> {
    let mut mode: i64 = match m.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    for f in m.flags().iter().flatten() {
        mode |= match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        };
    }
    let nodes = match m.nodes().as_deref() {
        Some(n) if !n.trim().is_empty() => parse_list("linux.memoryPolicy.nodes", n)?,
        _ => Vec::new(),
    };
    let mut mask = vec![0u64; 4096 / 64];
    for n in &nodes {
        mask[n / 64] |= 1u64 << (n % 64);
    }
    let maxnode = nodes.iter().max().map(|m| m + 2).unwrap_or(0);
    let ptr = if nodes.is_empty() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // SAFETY: set_mempolicy(2) with a mask covering maxnode bits.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if r != 0 {
        return Err(Error::sys(
            "linux.memoryPolicy: set_mempolicy",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Everything of this module for a process about to exec (before the user switch: some of it
/// needs privileges the user may not have).
pub fn apply(spec: Option<&Spec>, p: &Process) -> Result<()> {
    if let Some(l) = spec.and_then(|s| s.linux().as_ref()) {
        if let Some(per) = l.personality() {
            personality(per)?;
        }
        if let Some(m) = l.memory_policy() {
            memory_policy(m)?;
        }
    }
    if let Some(s) = p.scheduler() {
        scheduler(s)?;
    }
    if let Some(io) = p.io_priority() {
        io_priority(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn lists() {
        assert_eq!(parse_list("f", "0-2,5").ok(), Some(vec![0, 1, 2, 5]));
        assert!(parse_list("f", "3-1").is_err());
        assert!(parse_list("f", "x").is_err());
        assert!(parse_list("f", "").is_err());
    }
}
