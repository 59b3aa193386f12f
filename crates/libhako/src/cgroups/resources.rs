//! `linux.resources`: validation shared by v1 and v2, and the file writer.
use super::conv::{self, Write};
use crate::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::io::Write as _;
use std::path::Path;

const MEM: &str = "linux.resources.memory";
const CPU: &str = "linux.resources.cpu";

fn check_limit(field: &str, v: Option<i64>) -> Result<()> {
    match v {
        Some(n) if n < -1 => Err(Error::config(
            field,
            format!("{n} is negative (only -1, meaning unlimited, is allowed)"),
        )),
        _ => Ok(()),
    }
}

/// Checks that need no cgroup: every field on its own, and simple relations between fields.
pub fn validate_common(r: &LinuxResources) -> Result<()> {
    if let Some(m) = r.memory() {
        check_limit(&format!("{MEM}.limit"), m.limit())?;
        check_limit(&format!("{MEM}.reservation"), m.reservation())?;
        check_limit(&format!("{MEM}.swap"), m.swap())?;
        #[allow(deprecated)]
        check_limit(&format!("{MEM}.kernel"), m.kernel())?;
        check_limit(&format!("{MEM}.kernelTCP"), m.kernel_tcp())?;
        if let (Some(s), Some(l)) = (m.swap(), m.limit()) {
            if s > 0 && l > 0 && s < l {
                return Err(Error::config(
                    format!("{MEM}.swap"),
                    format!("memory+swap limit {s} is lower than the memory limit {l}"),
                ));
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::config(
                    format!("{MEM}.swappiness"),
                    format!("{s} is out of range 0-100"),
                ));
            }
        }
    }
    if let Some(c) = r.cpu() {
        check_limit(&format!("{CPU}.quota"), c.quota())?;
        check_limit(&format!("{CPU}.realtimeRuntime"), c.realtime_runtime())?;
        if let Some(i) = c.idle() {
            if i != 0 && i != 1 {
                return Err(Error::config(
                    format!("{CPU}.idle"),
                    format!("{i} must be 0 or 1"),
                ));
            }
        }
        if let (Some(b), Some(q)) = (c.burst(), c.quota()) {
            if q > 0 && b > q as u64 {
                return Err(Error::config(
                    format!("{CPU}.burst"),
                    format!("{b} is larger than the quota {q}"),
                ));
            }
        }
        for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
            if let Some(v) = v {
                conv::parse_cpuset(v).map_err(|e| Error::config(format!("{CPU}.{name}"), e))?;
            }
        }
    }
    if let Some(p) = r.pids() {
        check_limit("linux.resources.pids.limit", Some(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            if d.major() < 0 || d.minor() < 0 {
                return Err(Error::config(
                    format!("{f}.weightDevice[{i}]"),
                    "major and minor must not be negative",
                ));
            }
            if d.weight().is_none() && d.leaf_weight().is_none() {
                return Err(Error::config(
                    format!("{f}.weightDevice[{i}]"),
                    "needs weight or leafWeight",
                ));
            }
        }
        for (name, list) in throttles(b) {
            for (i, d) in list.iter().enumerate() {
                if d.major() < 0 || d.minor() < 0 {
                    return Err(Error::config(
                        format!("{f}.{name}[{i}]"),
                        "major and minor must not be negative",
                    ));
                }
            }
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let f = format!("linux.resources.hugepageLimits[{i}]");
        let (name, _) = conv::hugepage_size(h.page_size())
            .map_err(|e| Error::config(format!("{f}.pageSize"), e))?;
        let host = conv::host_hugepage_sizes();
        if !host.contains(&name) {
            return Err(Error::config(
                format!("{f}.pageSize"),
                format!(
                    "{:?}: the host has no such hugepage size (it has {})",
                    h.page_size(),
                    if host.is_empty() {
                        "none".to_string()
                    } else {
                        host.join(", ")
                    }
                ),
            ));
        }
        check_limit(&format!("{f}.limit"), Some(h.limit()))?;
    }
    if let Some(rd) = r.rdma() {
        for (dev, l) in rd {
            if l.hca_handles().is_none() && l.hca_objects().is_none() {
                return Err(Error::config(
                    format!("linux.resources.rdma.{dev}"),
                    "needs hcaHandles or hcaObjects",
                ));
            }
            if dev.is_empty() || dev.contains(char::is_whitespace) {
                return Err(Error::config(
                    "linux.resources.rdma",
                    format!("bad device name {dev:?}"),
                ));
            }
        }
    }
    if let Some(u) = r.unified() {
        for k in u.keys() {
            if k.contains('/') || k.starts_with('.') || !k.contains('.') {
                return Err(Error::config(
                    format!("linux.resources.unified[{k:?}]"),
                    "not a cgroup v2 file name",
                ));
            }
        }
    }
    for (i, d) in r.devices().iter().flatten().enumerate() {
        conv::device_rule_v1(d, &format!("linux.resources.devices[{i}]"))?;
    }
    Ok(())
}

pub(crate) fn throttles(
    b: &oci_spec::runtime::LinuxBlockIo,
) -> [(&'static str, &[oci_spec::runtime::LinuxThrottleDevice]); 4] {
    [
        (
            "throttleReadBpsDevice",
            b.throttle_read_bps_device().as_deref().unwrap_or_default(),
        ),
        (
            "throttleWriteBpsDevice",
            b.throttle_write_bps_device().as_deref().unwrap_or_default(),
        ),
        (
            "throttleReadIOPSDevice",
            b.throttle_read_iops_device().as_deref().unwrap_or_default(),
        ),
        (
            "throttleWriteIOPSDevice",
            b.throttle_write_iops_device()
                .as_deref()
                .unwrap_or_default(),
        ),
    ]
}

/// Write one value to a cgroup file (no O_CREAT: a missing file is ENOENT).
pub fn write_file(path: &Path, value: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

/// Carry out a [`Write`] in `dir`. Returns Ok(false) if a soft write was skipped.
pub fn perform(dir: &Path, w: &Write) -> Result<bool> {
    let mut path = dir.join(&w.file);
    if let Some(alt) = &w.alt {
        if !path.exists() && dir.join(alt).exists() {
            path = dir.join(alt);
        }
    }
    match write_file(&path, &w.value) {
        Ok(()) => Ok(true),
        Err(e)
            if w.soft
                && matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EOPNOTSUPP | libc::EINVAL)
                ) =>
        {
            tracing::warn!(
                "{}: {} not supported here ({}), ignored",
                w.field,
                path.display(),
                e
            );
            Ok(false)
        }
        Err(e) => {
            let hint = if e.raw_os_error() == Some(libc::ENOENT) {
                " (the controller or file is not available)"
            } else {
                ""
            };
            Err(Error::io(
                format!(
                    "{}: write {:?} to {}{hint}",
                    w.field,
                    w.value,
                    path.display()
                ),
                e,
            ))
        }
    }
}

/// Read a cgroup file, trimmed.
pub fn read(path: &Path) -> Option<String> {
    super::read_text(path).ok().map(|s| s.trim().to_string())
}

/// cpuset.mems then cpuset.cpus: the same files on v1 and v2 (mems first, as runc).
pub fn cpuset_writes(r: &LinuxResources, w: &mut Vec<Write>) {
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(m) = c.mems() {
            w.push(Write::new(
                format!("{f}.mems"),
                "cpuset",
                "cpuset.mems",
                m.trim(),
            ));
        }
        if let Some(m) = c.cpus() {
            w.push(Write::new(
                format!("{f}.cpus"),
                "cpuset",
                "cpuset.cpus",
                m.trim(),
            ));
        }
    }
}
