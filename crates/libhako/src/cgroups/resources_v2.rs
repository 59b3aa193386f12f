//! `linux.resources` on cgroup v2: v1-style values converted the way runc does (see
//! docs/cgroups.md), then `unified` written as given, then the device filter (eBPF).
use super::conv::{self, Write};
use super::resources::{perform, read, write_file};
use crate::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// The writes for `r` on v2, in order (devices are separate). `bfq`: io.bfq.weight exists.
pub fn writes(r: &LinuxResources, bfq: bool) -> Result<Vec<Write>> {
    let mut w = Vec::new();
    super::resources::cpuset_writes(r, &mut w);
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        // swap first, then the limit (runc's order).
        if let Some(v) = conv::swap_v1_to_v2(m.swap(), m.limit())? {
            w.push(Write::new(
                format!("{f}.swap"),
                "memory",
                "memory.swap.max",
                v,
            ));
        }
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            w.push(Write::new(
                format!("{f}.limit"),
                "memory",
                "memory.max",
                conv::max_or(l),
            ));
        }
        if let Some(l) = m.reservation().filter(|l| *l != 0) {
            w.push(Write::new(
                format!("{f}.reservation"),
                "memory",
                "memory.low",
                conv::max_or(l),
            ));
        }
        #[allow(deprecated)]
        if m.kernel().is_some_and(|k| k != 0) {
            tracing::warn!(
                "{f}.kernel: kernel memory is accounted in memory.max on cgroup v2; ignored"
            );
        }
        if m.kernel_tcp().is_some_and(|k| k != 0) {
            tracing::warn!(
                "{f}.kernelTCP: no cgroup v2 equivalent (accounted in memory.max); ignored"
            );
        }
        if m.swappiness().is_some() {
            return Err(Error::config(
                format!("{f}.swappiness"),
                "not supported on cgroup v2",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::config(
                format!("{f}.disableOOMKiller"),
                "not supported on cgroup v2",
            ));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(Error::config(
                format!("{f}.useHierarchy"),
                "cgroup v2 is always hierarchical",
            ));
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            w.push(Write::new(
                format!("{f}.shares"),
                "cpu",
                "cpu.weight",
                conv::shares_to_weight(s).to_string(),
            ));
        }
        let q = c.quota().unwrap_or(0);
        let p = c.period().unwrap_or(0);
        if q != 0 || p != 0 {
            let mut v = if q > 0 {
                q.to_string()
            } else {
                "max".to_string()
            };
            if p != 0 {
                v = format!("{v} {p}");
            }
            let field = if q != 0 {
                format!("{f}.quota")
            } else {
                format!("{f}.period")
            };
            w.push(Write::new(field, "cpu", "cpu.max", v));
        }
        if let Some(b) = c.burst() {
            w.push(Write::new(
                format!("{f}.burst"),
                "cpu",
                "cpu.max.burst",
                b.to_string(),
            ));
        }
        if c.realtime_period().is_some_and(|x| x != 0)
            || c.realtime_runtime().is_some_and(|x| x != 0)
        {
            return Err(Error::config(
                format!("{f}.realtimeRuntime"),
                "realtime scheduling limits are not supported on cgroup v2",
            ));
        }
        if let Some(i) = c.idle() {
            w.push(Write::new(
                format!("{f}.idle"),
                "cpu",
                "cpu.idle",
                i.to_string(),
            ));
        }
    }
    if let Some(p) = r.pids() {
        w.push(Write::new(
            "linux.resources.pids.limit",
            "pids",
            "pids.max",
            conv::max_or(p.limit()),
        ));
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        if let Some(v) = b.weight().filter(|v| *v != 0) {
            w.push(if bfq {
                Write::new(format!("{f}.weight"), "io", "io.bfq.weight", v.to_string())
            } else {
                Write::new(
                    format!("{f}.weight"),
                    "io",
                    "io.weight",
                    conv::blkio_weight_to_io_weight(v).to_string(),
                )
            });
        }
        if b.leaf_weight().is_some_and(|v| v != 0) {
            return Err(Error::config(
                format!("{f}.leafWeight"),
                "not supported on cgroup v2",
            ));
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            if d.leaf_weight().is_some() {
                return Err(Error::config(
                    format!("{f}.weightDevice[{i}].leafWeight"),
                    "not supported on cgroup v2",
                ));
            }
            if let Some(v) = d.weight() {
                let field = format!("{f}.weightDevice[{i}].weight");
                w.push(if bfq {
                    Write::new(
                        field,
                        "io",
                        "io.bfq.weight",
                        format!("{}:{} {v}", d.major(), d.minor()),
                    )
                } else {
                    Write::new(
                        field,
                        "io",
                        "io.weight",
                        format!(
                            "{}:{} {}",
                            d.major(),
                            d.minor(),
                            conv::blkio_weight_to_io_weight(v)
                        ),
                    )
                });
            }
        }
        for ((name, list), key) in super::resources::throttles(b)
            .into_iter()
            .zip(["rbps", "wbps", "riops", "wiops"])
        {
            for (i, d) in list.iter().enumerate() {
                // v1 semantics: rate 0 removes the limit.
                let rate = if d.rate() == 0 {
                    "max".to_string()
                } else {
                    d.rate().to_string()
                };
                w.push(Write::new(
                    format!("{f}.{name}[{i}]"),
                    "io",
                    "io.max",
                    format!("{}:{} {key}={rate}", d.major(), d.minor()),
                ));
            }
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let f = format!("linux.resources.hugepageLimits[{i}]");
        let (sz, _) = conv::hugepage_size(h.page_size())
            .map_err(|e| Error::config(format!("{f}.pageSize"), e))?;
        let v = conv::max_or(h.limit());
        w.push(Write::new(
            format!("{f}.limit"),
            "hugetlb",
            format!("hugetlb.{sz}.max"),
            v.clone(),
        ));
        w.push(
            Write::new(
                format!("{f}.limit"),
                "hugetlb",
                format!("hugetlb.{sz}.rsvd.max"),
                v,
            )
            .soft(),
        );
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(Error::config(
                "linux.resources.network",
                "net_cls/net_prio do not exist on cgroup v2 (use eBPF/nftables cgroup matching instead)",
            ));
        }
    }
    if let Some(rd) = r.rdma() {
        let mut devs: Vec<_> = rd.iter().collect();
        devs.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in devs {
            w.push(Write::new(
                format!("linux.resources.rdma.{dev}"),
                "rdma",
                "rdma.max",
                super::resources_v1::rdma_line(dev, l),
            ));
        }
    }
    if let Some(u) = r.unified() {
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            let ctrl = match k.split('.').next().unwrap_or("") {
                "cgroup" => "cgroup",
                "cpu" => "cpu",
                "cpuset" => "cpuset",
                "io" => "io",
                "memory" => "memory",
                "hugetlb" => "hugetlb",
                "pids" => "pids",
                "rdma" => "rdma",
                "misc" => "misc",
                _ => "?",
            };
            w.push(Write::new(
                format!("linux.resources.unified[{k:?}]"),
                ctrl,
                k.clone(),
                v.clone(),
            ));
        }
    }
    Ok(w)
}

/// Enable every controller the parent offers in `subtree_control` from the cgroup root down to
/// the parent of `dir` (like runc). Failures are ignored here (e.g. an ancestor with processes
/// cannot delegate): a controller that ends up missing is reported by the caller, per field.
pub fn enable_controllers(dir: &Path, _hint: &[String]) {
    let Some(root) = cgroup2_root_of(dir) else {
        return;
    };
    let mut chain: Vec<PathBuf> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.starts_with(&root))
        .map(Path::to_path_buf)
        .collect();
    chain.reverse();
    for a in chain {
        let avail = read(&a.join("cgroup.controllers")).unwrap_or_default();
        let on = read(&a.join("cgroup.subtree_control")).unwrap_or_default();
        let missing: Vec<&str> = avail
            .split_whitespace()
            .filter(|c| !on.split_whitespace().any(|x| x == *c))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let all = missing
            .iter()
            .map(|c| format!("+{c}"))
            .collect::<Vec<_>>()
            .join(" ");
        let f = a.join("cgroup.subtree_control");
        if write_file(&f, &all).is_err() {
            for c in missing {
                if let Err(e) = write_file(&f, &format!("+{c}")) {
                    tracing::debug!("enable {c} in {}: {e}", f.display());
                }
            }
        }
    }
}

/// The mount point of the cgroup2 filesystem that contains `dir`.
fn cgroup2_root_of(dir: &Path) -> Option<PathBuf> {
    super::mountinfo()
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            if !post.starts_with("cgroup2 ") {
                return None;
            }
            Some(PathBuf::from(pre.split(' ').nth(4)?))
        })
        .filter(|m| dir.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
}

/// Host checks: each needed controller enabled for `dir`, cpuset within the parent's effective.
pub fn validate(dir: &Path, all: &[Write]) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    let ctrls = read(&dir.join("cgroup.controllers")).unwrap_or_default();
    for w in all {
        match w.ctrl {
            // Unknown files are still written if they exist (the existence check is below).
            "cgroup" | "?" => {}
            c if !ctrls.split_whitespace().any(|x| x == c) => {
                return Err(Error::config(
                    &w.field,
                    format!("the {c} controller is not available for {} (cgroup.controllers: {ctrls:?})", dir.display()),
                ));
            }
            _ => {}
        }
        if !w.soft && w.alt.is_none() && !dir.join(&w.file).exists() {
            return Err(Error::config(
                &w.field,
                format!("{} does not exist in {}", w.file, dir.display()),
            ));
        }
        if w.file == "cpuset.cpus" || w.file == "cpuset.mems" {
            let avail = read(&parent.join(format!("{}.effective", w.file))).unwrap_or_default();
            conv::check_cpuset_subset(&w.field, &w.value, &avail)?;
        }
    }
    Ok(())
}

/// Apply `r` to the v2 cgroup `dir`. `create`: new, empty cgroup (devices always set then).
pub fn apply(dir: &Path, r: &LinuxResources, create: bool) -> Result<()> {
    enable_controllers(dir, &[]);
    let bfq = dir.join("io.bfq.weight").exists();
    let all = writes(r, bfq)?;
    validate(dir, &all)?;
    if !create {
        if let Some(m) = r.memory() {
            if m.check_before_update() == Some(true) {
                if let Some(l) = m.limit().filter(|l| *l > 0) {
                    let cur: i64 = read(&dir.join("memory.current"))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if l < cur {
                        return Err(Error::config(
                            "linux.resources.memory.limit",
                            format!(
                                "{l} is lower than the current usage {cur} (checkBeforeUpdate)"
                            ),
                        ));
                    }
                }
            }
        }
    }
    for w in &all {
        perform(dir, w)?;
    }
    if create || r.devices().is_some() {
        super::devices_bpf::apply(dir, r.devices().as_deref())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_writes() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000,"swap":3000,"reservation":500},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"burst":1000,"cpus":"0-1"},
                "pids":{"limit":-1},
                "blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":100}],
                  "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":600}],
                  "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":0}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":-1}],
                "unified":{"memory.high":"2000","cgroup.max.depth":"3"}}"#,
        )
        .unwrap();
        let w = writes(&r, false).unwrap();
        let find = |f: &str| {
            w.iter()
                .filter(|x| x.file == f)
                .map(|x| x.value.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(find("memory.swap.max"), ["2000"]);
        assert_eq!(find("memory.max"), ["1000"]);
        assert_eq!(find("memory.low"), ["500"]);
        assert_eq!(find("cpu.weight"), ["39"]);
        assert_eq!(find("cpu.max"), ["50000 100000"]);
        assert_eq!(find("cpu.max.burst"), ["1000"]);
        assert_eq!(find("pids.max"), ["max"]);
        assert_eq!(
            find("io.weight"),
            [
                conv::blkio_weight_to_io_weight(500).to_string(),
                "8:0 910".to_string()
            ]
        );
        assert_eq!(find("io.max"), ["8:0 rbps=600", "8:16 wiops=max"]);
        assert_eq!(find("hugetlb.2MB.max"), ["max"]);
        assert_eq!(find("memory.high"), ["2000"]);
        let swap_pos = w.iter().position(|x| x.file == "memory.swap.max");
        let max_pos = w.iter().position(|x| x.file == "memory.max");
        assert!(swap_pos < max_pos);
        let w = writes(&r, true).unwrap();
        assert!(w
            .iter()
            .any(|x| x.file == "io.bfq.weight" && x.value == "500"));

        let q: LinuxResources = serde_json::from_str(r#"{"cpu":{"quota":-1}}"#).unwrap();
        assert_eq!(writes(&q, false).unwrap()[0].value, "max");
        let q: LinuxResources = serde_json::from_str(r#"{"cpu":{"period":20000}}"#).unwrap();
        assert_eq!(writes(&q, false).unwrap()[0].value, "max 20000");
        for bad in [
            r#"{"memory":{"swappiness":10}}"#,
            r#"{"cpu":{"realtimeRuntime":100}}"#,
            r#"{"network":{"classID":1}}"#,
            r#"{"memory":{"limit":100,"swap":50}}"#,
        ] {
            let q: LinuxResources = serde_json::from_str(bad).unwrap();
            assert!(writes(&q, false).is_err(), "{bad}");
        }
    }
}
