//! Capabilities (config.md "process.capabilities"): all five sets.
//!
//! Names come through the `caps` crate's table. A name the kernel does not support (newer than
//! the running kernel) is skipped with a warning, as runtime-spec #1094 asks. The three
//! capset(2) sets are applied in one raw `capset` call: the `caps` crate sets one set per call,
//! and ordering three calls around the kernel's subset rules costs syscalls and invites EPERM.
use crate::{Error, Result};
use caps::{CapSet, Capability};
use oci_spec::runtime::LinuxCapabilities;
use std::collections::HashSet;
use std::str::FromStr;

/// Whether config.json's typed parse (the `oci-spec` table) knows this capability name.
pub fn is_known_name(name: &str) -> bool {
    serde_json::from_value::<oci_spec::runtime::Capability>(serde_json::Value::String(
        name.to_string(),
    ))
    .is_ok()
}

/// The highest capability number the running kernel supports, found once per process by
/// asking the bounding set (`PR_CAPBSET_READ` fails with EINVAL past the last one): six prctl
/// calls instead of reading /proc/sys/kernel/cap_last_cap, which the init would do through
/// the container's new procfs three times per create.
pub fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        let valid = |i: u8| {
            // SAFETY: prctl with integer arguments; reads only.
            unsafe { libc::prctl(libc::PR_CAPBSET_READ, i as libc::c_ulong, 0, 0, 0) >= 0 }
        };
        if !valid(0) {
            return 40;
        }
        // Invariant: `lo` is valid, `hi` is not (a mask holds 64 capabilities).
        let (mut lo, mut hi) = (0u8, 64u8);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if valid(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    })
}

/// The capability sets to apply, as bitmasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

fn mask(set: &Option<HashSet<oci_spec::runtime::Capability>>, field: &str, last: u8) -> u64 {
    let mut m = 0u64;
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        match Capability::from_str(&name) {
            Ok(cap) if cap.index() <= last => m |= 1u64 << cap.index(),
            _ => tracing::warn!(
                "process.capabilities.{field}: {name} not supported by this kernel, ignored"
            ),
        }
    }
    m
}

impl CapSets {
    pub fn from_spec(c: &LinuxCapabilities) -> CapSets {
        let last = last_cap();
        CapSets {
            bounding: mask(c.bounding(), "bounding", last),
            effective: mask(c.effective(), "effective", last),
            permitted: mask(c.permitted(), "permitted", last),
            inheritable: mask(c.inheritable(), "inheritable", last),
            ambient: mask(c.ambient(), "ambient", last),
        }
    }
}

/// Drop every capability not in `bounding` from the bounding set. Needs CAP_SETPCAP, so this
/// runs before the switch to the container's user.
pub fn drop_bounding(bounding: u64) -> Result<()> {
    let last = last_cap();
    for i in 0..=last {
        if bounding & (1u64 << i) == 0 {
            // SAFETY: prctl with integer arguments.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, i as libc::c_ulong, 0, 0, 0) };
            if r != 0 {
                let e = nix::errno::Errno::last();
                if e != nix::errno::Errno::EINVAL {
                    return Err(Error::sys(format!("prctl(PR_CAPBSET_DROP, {i})"), e));
                }
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Set effective, permitted and inheritable at once, then raise the ambient set.
pub fn apply(sets: &CapSets) -> Result<()> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let lo = |m: u64| m as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let data = [
        CapData {
            effective: lo(sets.effective),
            permitted: lo(sets.permitted),
            inheritable: lo(sets.inheritable),
        },
        CapData {
            effective: hi(sets.effective),
            permitted: hi(sets.permitted),
            inheritable: hi(sets.inheritable),
        },
    ];
    // SAFETY: capset with a v3 header and two data structs, as capset(2) documents.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(Error::sys(
            "capset (process.capabilities: effective must be a subset of permitted)",
            nix::errno::Errno::last(),
        ));
    }
    if sets.ambient != 0 {
        for i in 0..64u8 {
            if sets.ambient & (1u64 << i) != 0 {
                // SAFETY: prctl with integer arguments.
                let r = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        i as libc::c_ulong,
                        0,
                        0,
                    )
                };
                if r != 0 {
                    // The ambient set needs the capability in permitted and inheritable.
                    tracing::debug!("process.capabilities.ambient: cannot raise capability {i} (needs it in permitted and inheritable), skipped");
                }
            }
        }
    }
    Ok(())
}

/// Fails, naming them, when capabilities asked for in the permitted or effective set are not in
/// our own permitted set: capset(2) could not grant them (a host that withholds
/// CAP_SYS_RESOURCE, say). Run by the init at `create`, so that `create` fails, as with runc.
pub fn check_grantable(sets: &CapSets) -> Result<()> {
    let missing = (sets.permitted | sets.effective) & !current(CapSet::Permitted)?;
    if missing == 0 {
        return Ok(());
    }
    let mut names: Vec<String> = caps::all()
        .iter()
        .filter(|c| missing & (1u64 << c.index()) != 0)
        .map(|c| c.to_string())
        .collect();
    names.sort();
    Err(Error::sys(
        format!(
            "process.capabilities: apply caps: {} not held by the runtime",
            names.join(", ")
        ),
        nix::errno::Errno::EPERM,
    ))
}

/// Names of the capabilities this build knows (for `features`).
pub fn known_names() -> Vec<String> {
    caps::all().iter().map(|c| c.to_string()).collect()
}

/// Read the current bounding set (used by tests and `check`).
pub fn current(set: CapSet) -> Result<u64> {
    let s = caps::read(None, set).map_err(|e| Error::other(format!("read capabilities: {e}")))?;
    Ok(s.iter().fold(0u64, |m, c| m | (1u64 << c.index())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_cap_matches_procfs() {
        let procfs: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .expect("read cap_last_cap")
            .trim()
            .parse()
            .expect("parse cap_last_cap");
        assert_eq!(super::last_cap(), procfs);
    }
}
