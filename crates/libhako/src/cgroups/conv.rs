//! Pure conversions and formatting shared by the v1 and v2 resource code (unit-tested, no I/O).
use crate::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::collections::BTreeSet;

/// One file write: the config field it comes from (for errors), the controller that owns the
/// file, the file name and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub field: String,
    pub ctrl: &'static str,
    pub file: String,
    pub value: String,
    /// Tried when `file` does not exist (e.g. blkio.bfq.weight for blkio.weight).
    pub alt: Option<String>,
    /// A missing file or EOPNOTSUPP/EINVAL is only a warning (obsolete knobs, optional rsvd files).
    pub soft: bool,
}

impl Write {
    pub fn new(
        field: impl Into<String>,
        ctrl: &'static str,
        file: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Write {
            field: field.into(),
            ctrl,
            file: file.into(),
            value: value.into(),
            alt: None,
            soft: false,
        }
    }
    pub fn alt(mut self, f: impl Into<String>) -> Self {
        self.alt = Some(f.into());
        self
    }
    pub fn soft(mut self) -> Self {
        self.soft = true;
        self
    }
}

/// A limit where -1 means "no limit": v2 spelling ("max" or the number).
pub fn max_or(v: i64) -> String {
    if v == -1 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// runc's cpu.shares (2..262144) → cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// runc's blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// runc's ConvertMemorySwapToCgroupV2Value: v1 memory+swap → v2 memory.swap.max (swap only).
/// `None` means "do not write memory.swap.max".
pub fn swap_v1_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let field = "linux.resources.memory.swap";
    match (swap, limit) {
        (None | Some(0), Some(-1)) => Ok(Some("max".into())),
        (None | Some(0), _) => Ok(None),
        (Some(-1), _) => Ok(Some("max".into())),
        (Some(s), None | Some(0)) if s > 0 => Err(Error::config(
            field,
            "a swap limit needs a memory limit (memory.limit) on cgroup v2",
        )),
        (Some(s), Some(l)) if s > 0 && l > 0 => {
            if s < l {
                Err(Error::config(
                    field,
                    format!("memory+swap limit {s} is lower than the memory limit {l}"),
                ))
            } else {
                Ok(Some((s - l).to_string()))
            }
        }
        (Some(s), _) => Err(Error::config(field, format!("invalid value {s}"))),
    }
}

/// Parse a cpuset list ("0-3,7") into a set. Empty string → empty set.
pub fn parse_cpuset(s: &str) -> std::result::Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    for part in s.trim().split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: u32 = a.parse().map_err(|_| format!("invalid range {part:?}"))?;
        let b: u32 = b.parse().map_err(|_| format!("invalid range {part:?}"))?;
        if a > b || b - a > 65_536 {
            return Err(format!("invalid range {part:?}"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Format a set back as a compact list ("0-3,7").
pub fn format_cpuset(set: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut it = set.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// Check `want` ⊆ `avail`, both cpuset lists.
pub fn check_cpuset_subset(field: &str, want: &str, avail: &str) -> Result<()> {
    let w = parse_cpuset(want).map_err(|e| Error::config(field, e))?;
    if w.is_empty() {
        return Ok(());
    }
    let a = parse_cpuset(avail).map_err(|e| Error::config(field, e))?;
    let missing: BTreeSet<u32> = w.difference(&a).copied().collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::config(
            field,
            format!(
                "{} not available (the parent cgroup has {:?})",
                format_cpuset(&missing),
                avail.trim()
            ),
        ))
    }
}

/// Normalise a hugepage size from the config ("2MB", "1GB", "64KB", "2M") to the cgroup file
/// spelling ("2MB"). Returns the size in bytes too.
pub fn hugepage_size(s: &str) -> std::result::Result<(String, u64), String> {
    let t = s.trim();
    let t = t.strip_suffix('B').unwrap_or(t);
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid page size {s:?}"))?;
    let (mult, unit) = match unit {
        "K" | "k" => (1u64 << 10, "KB"),
        "M" | "m" => (1 << 20, "MB"),
        "G" | "g" => (1 << 30, "GB"),
        "" => (1, ""),
        _ => return Err(format!("invalid page size {s:?}")),
    };
    if n == 0 {
        return Err(format!("invalid page size {s:?}"));
    }
    let bytes = n * mult;
    let _ = unit;
    // Canonical spelling as the kernel names the files: largest unit that divides evenly.
    Ok((size_name(bytes), bytes))
}

/// The kernel's hugetlb file name for a page size in bytes (2097152 → "2MB").
pub fn size_name(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")];
    for (m, u) in UNITS {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{u}", bytes / m);
        }
    }
    format!("{bytes}B")
}

/// Host hugepage sizes, as cgroup file spellings ("2MB", "1GB").
pub fn host_hugepage_sizes() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(kb) = n
                .strip_prefix("hugepages-")
                .and_then(|x| x.strip_suffix("kB"))
                .and_then(|x| x.parse::<u64>().ok())
            {
                out.push(size_name(kb * 1024));
            }
        }
    }
    out.sort();
    out
}

/// Access string from a device rule: only r, w, m; empty or missing means all.
pub fn device_access(rule: &LinuxDeviceCgroup, field: &str) -> Result<String> {
    let a = rule.access().as_deref().unwrap_or("");
    if a.is_empty() {
        return Ok("rwm".into());
    }
    let mut out = String::new();
    for c in ['r', 'w', 'm'] {
        if a.contains(c) {
            out.push(c);
        }
    }
    if a.chars().any(|c| !matches!(c, 'r' | 'w' | 'm')) {
        return Err(Error::config(
            format!("{field}.access"),
            format!("{a:?} may only contain r, w and m"),
        ));
    }
    Ok(out)
}

/// The v1 devices.allow/deny line for a rule: "c 1:3 rwm", "a *:* rwm".
pub fn device_rule_v1(rule: &LinuxDeviceCgroup, field: &str) -> Result<String> {
    let t = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(Error::config(
                format!("{field}.type"),
                "\"p\" (FIFO) is not a device cgroup type",
            ))
        }
    };
    let num = |v: Option<i64>, what: &str| -> Result<String> {
        match v {
            None | Some(-1) => Ok("*".into()),
            Some(n) if n >= 0 => Ok(n.to_string()),
            Some(n) => Err(Error::config(
                format!("{field}.{what}"),
                format!("{n} is negative"),
            )),
        }
    };
    Ok(format!(
        "{t} {}:{} {}",
        num(rule.major(), "major")?,
        num(rule.minor(), "minor")?,
        device_access(rule, field)?
    ))
}

fn dev(
    t: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(true);
    d.set_typ(Some(t));
    d.set_major(major);
    d.set_minor(minor);
    d.set_access(Some(access.to_string()));
    d
}

/// The devices every container may use (runc's AllowedDevices): mknod of anything, and
/// null, zero, full, random, urandom, tty, ptmx and the pts.
pub fn default_devices() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        dev(C, None, None, "m"),
        dev(B, None, None, "m"),
        dev(C, Some(1), Some(3), "rwm"),
        dev(C, Some(1), Some(8), "rwm"),
        dev(C, Some(1), Some(7), "rwm"),
        dev(C, Some(5), Some(0), "rwm"),
        dev(C, Some(1), Some(5), "rwm"),
        dev(C, Some(1), Some(9), "rwm"),
        dev(C, Some(5), Some(2), "rwm"),
        dev(C, Some(136), None, "rwm"),
    ]
}

/// The complete ordered rule list a container gets: deny everything, then the config's rules in
/// order, then the default devices (appended last like runc, so a leading "deny all" rule in the
/// config cannot take /dev/null away).
pub fn device_rules(config: Option<&[LinuxDeviceCgroup]>) -> Vec<(String, LinuxDeviceCgroup)> {
    let mut deny_all = LinuxDeviceCgroup::default();
    deny_all.set_allow(false);
    deny_all.set_access(Some("rwm".into()));
    let mut out = vec![("(default deny)".to_string(), deny_all)];
    for (i, d) in config.unwrap_or_default().iter().enumerate() {
        out.push((format!("linux.resources.devices[{i}]"), d.clone()));
    }
    for d in default_devices() {
        out.push(("(default devices)".to_string(), d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_weight() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
    }

    #[test]
    fn io_weight() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_v1_to_v2(None, None).unwrap(), None);
        assert_eq!(
            swap_v1_to_v2(None, Some(-1)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(
            swap_v1_to_v2(Some(-1), Some(100)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(
            swap_v1_to_v2(Some(300), Some(100)).unwrap().as_deref(),
            Some("200")
        );
        assert_eq!(
            swap_v1_to_v2(Some(100), Some(100)).unwrap().as_deref(),
            Some("0")
        );
        let e = swap_v1_to_v2(Some(50), Some(100)).unwrap_err();
        assert!(e.message().contains("memory.swap"), "{e}");
        assert!(swap_v1_to_v2(Some(50), None).is_err());
        assert!(swap_v1_to_v2(Some(-5), Some(10)).is_err());
    }

    #[test]
    fn cpusets() {
        let s = parse_cpuset("0-3,7, 9").unwrap();
        assert_eq!(format_cpuset(&s), "0-3,7,9");
        assert!(parse_cpuset("3-1").is_err());
        assert!(parse_cpuset("x").is_err());
        assert!(parse_cpuset("").unwrap().is_empty());
        check_cpuset_subset("f", "0-1", "0-3\n").unwrap();
        let e = check_cpuset_subset("linux.resources.cpu.cpus", "2-5", "0-3").unwrap_err();
        assert!(
            e.message()
                .starts_with("linux.resources.cpu.cpus: 4-5 not available"),
            "{e}"
        );
    }

    #[test]
    fn hugepages() {
        assert_eq!(hugepage_size("2MB").unwrap(), ("2MB".into(), 2 << 20));
        assert_eq!(hugepage_size("1GB").unwrap().0, "1GB");
        assert_eq!(hugepage_size("64KB").unwrap().0, "64KB");
        assert_eq!(hugepage_size("2048KB").unwrap().0, "2MB");
        assert!(hugepage_size("2XB").is_err());
        assert!(hugepage_size("MB").is_err());
        assert_eq!(size_name(1 << 30), "1GB");
    }

    #[test]
    fn v1_rules() {
        let r = device_rules(None);
        assert_eq!(device_rule_v1(&r[0].1, "x").unwrap(), "a *:* rwm");
        assert!(!r[0].1.allow());
        assert_eq!(device_rule_v1(&r[3].1, "x").unwrap(), "c 1:3 rwm");
        let mut d = LinuxDeviceCgroup::default();
        d.set_typ(Some(LinuxDeviceType::B));
        d.set_major(Some(8));
        d.set_access(Some("wr".into()));
        assert_eq!(device_rule_v1(&d, "x").unwrap(), "b 8:* rw");
        d.set_access(Some("rx".into()));
        assert!(device_rule_v1(&d, "x").is_err());
    }
}
