//! `linux.resources` on cgroup v1 (and, on hybrid hosts, controllers that live only on the
//! cgroup2 mount beside the v1 hierarchies, e.g. hugetlb).
use super::conv::{self, Write};
use super::resources::{perform, read, write_file};
use super::v1::{hierarchies, unified_mount};
use crate::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// The container's directory for each v1 controller, plus its cgroup2 directory on hybrid hosts.
#[derive(Debug, Default)]
pub struct Dirs {
    pub v1: Vec<(Vec<String>, PathBuf)>,
    pub unified: Option<PathBuf>,
    /// Controllers available in the unified directory (from its parent's cgroup.controllers).
    pub unified_ctrls: Vec<String>,
}

impl Dirs {
    pub fn from_paths(paths: &[PathBuf]) -> Dirs {
        let hs = hierarchies();
        let umnt = unified_mount();
        let mut d = Dirs::default();
        for p in paths {
            if let Some(h) = hs
                .iter()
                .filter(|h| p.starts_with(&h.mountpoint))
                .max_by_key(|h| h.mountpoint.as_os_str().len())
            {
                d.v1.push((h.controllers.clone(), p.clone()));
            } else if umnt.as_ref().is_some_and(|u| p.starts_with(u)) {
                d.unified = Some(p.clone());
                let parent = p.parent().unwrap_or(p);
                d.unified_ctrls = read(&parent.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect();
            }
        }
        d
    }
    pub fn get(&self, ctrl: &str) -> Option<&Path> {
        if ctrl == "unified" {
            return self.unified.as_deref();
        }
        self.v1
            .iter()
            .find(|(c, _)| c.iter().any(|x| x == ctrl))
            .map(|(_, p)| p.as_path())
    }
    pub fn has_v1(&self, ctrl: &str) -> bool {
        hierarchies()
            .iter()
            .any(|h| h.controllers.iter().any(|c| c == ctrl))
    }
    fn hugetlb_on_unified(&self) -> bool {
        self.get("hugetlb").is_none() && self.unified_ctrls.iter().any(|c| c == "hugetlb")
    }
}

/// The writes for `r` on v1, in order (devices are separate). `hugetlb_unified`: hugetlb is on
/// the cgroup2 mount (hybrid), so its v2 file names are used.
pub fn writes(r: &LinuxResources, hugetlb_unified: bool) -> Result<Vec<Write>> {
    let mut w = Vec::new();
    super::resources::cpuset_writes(r, &mut w);
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        let nz = |v: Option<i64>| v.filter(|x| *x != 0);
        if let Some(l) = nz(m.limit()) {
            w.push(Write::new(
                format!("{f}.limit"),
                "memory",
                "memory.limit_in_bytes",
                l.to_string(),
            ));
        }
        if let Some(s) = nz(m.swap()) {
            w.push(Write::new(
                format!("{f}.swap"),
                "memory",
                "memory.memsw.limit_in_bytes",
                s.to_string(),
            ));
        }
        if let Some(v) = nz(m.reservation()) {
            w.push(Write::new(
                format!("{f}.reservation"),
                "memory",
                "memory.soft_limit_in_bytes",
                v.to_string(),
            ));
        }
        #[allow(deprecated)]
        if let Some(v) = nz(m.kernel()) {
            // Obsolete since Linux 5.4 and rejected by newer kernels: a warning, like runc.
            w.push(
                Write::new(
                    format!("{f}.kernel"),
                    "memory",
                    "memory.kmem.limit_in_bytes",
                    v.to_string(),
                )
                .soft(),
            );
        }
        if let Some(v) = nz(m.kernel_tcp()) {
            w.push(Write::new(
                format!("{f}.kernelTCP"),
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                v.to_string(),
            ));
        }
        if let Some(v) = m.swappiness() {
            w.push(Write::new(
                format!("{f}.swappiness"),
                "memory",
                "memory.swappiness",
                v.to_string(),
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            w.push(Write::new(
                format!("{f}.disableOOMKiller"),
                "memory",
                "memory.oom_control",
                "1",
            ));
        }
        if let Some(h) = m.use_hierarchy() {
            // Always on since Linux 5.x (writing 1 is accepted, 0 is EINVAL there).
            let v = if h { "1" } else { "0" };
            let mut x = Write::new(
                format!("{f}.useHierarchy"),
                "memory",
                "memory.use_hierarchy",
                v,
            );
            if h {
                x = x.soft();
            }
            w.push(x);
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            w.push(Write::new(
                format!("{f}.shares"),
                "cpu",
                "cpu.shares",
                s.to_string(),
            ));
        }
        if let Some(p) = c.period().filter(|p| *p != 0) {
            w.push(Write::new(
                format!("{f}.period"),
                "cpu",
                "cpu.cfs_period_us",
                p.to_string(),
            ));
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            w.push(Write::new(
                format!("{f}.quota"),
                "cpu",
                "cpu.cfs_quota_us",
                q.to_string(),
            ));
        }
        if let Some(b) = c.burst() {
            w.push(Write::new(
                format!("{f}.burst"),
                "cpu",
                "cpu.cfs_burst_us",
                b.to_string(),
            ));
        }
        if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
            w.push(Write::new(
                format!("{f}.realtimePeriod"),
                "cpu",
                "cpu.rt_period_us",
                p.to_string(),
            ));
        }
        if let Some(q) = c.realtime_runtime().filter(|q| *q != 0) {
            w.push(Write::new(
                format!("{f}.realtimeRuntime"),
                "cpu",
                "cpu.rt_runtime_us",
                q.to_string(),
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
            w.push(
                Write::new(
                    format!("{f}.weight"),
                    "blkio",
                    "blkio.weight",
                    v.to_string(),
                )
                .alt("blkio.bfq.weight"),
            );
        }
        if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
            w.push(Write::new(
                format!("{f}.leafWeight"),
                "blkio",
                "blkio.leaf_weight",
                v.to_string(),
            ));
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            if let Some(v) = d.weight() {
                w.push(
                    Write::new(
                        format!("{f}.weightDevice[{i}].weight"),
                        "blkio",
                        "blkio.weight_device",
                        format!("{}:{} {v}", d.major(), d.minor()),
                    )
                    .alt("blkio.bfq.weight_device"),
                );
            }
            if let Some(v) = d.leaf_weight() {
                w.push(Write::new(
                    format!("{f}.weightDevice[{i}].leafWeight"),
                    "blkio",
                    "blkio.leaf_weight_device",
                    format!("{}:{} {v}", d.major(), d.minor()),
                ));
            }
        }
        let files = [
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ];
        for ((name, list), file) in super::resources::throttles(b).into_iter().zip(files) {
            for (i, d) in list.iter().enumerate() {
                w.push(Write::new(
                    format!("{f}.{name}[{i}]"),
                    "blkio",
                    file,
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                ));
            }
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let f = format!("linux.resources.hugepageLimits[{i}]");
        let (sz, _) = conv::hugepage_size(h.page_size())
            .map_err(|e| Error::config(format!("{f}.pageSize"), e))?;
        if hugetlb_unified {
            let v = conv::max_or(h.limit());
            w.push(Write::new(
                format!("{f}.limit"),
                "unified",
                format!("hugetlb.{sz}.max"),
                v.clone(),
            ));
            w.push(
                Write::new(
                    format!("{f}.limit"),
                    "unified",
                    format!("hugetlb.{sz}.rsvd.max"),
                    v,
                )
                .soft(),
            );
        } else {
            let v = h.limit().to_string();
            w.push(Write::new(
                format!("{f}.limit"),
                "hugetlb",
                format!("hugetlb.{sz}.limit_in_bytes"),
                v.clone(),
            ));
            w.push(
                Write::new(
                    format!("{f}.limit"),
                    "hugetlb",
                    format!("hugetlb.{sz}.rsvd.limit_in_bytes"),
                    v,
                )
                .soft(),
            );
        }
    }
    if let Some(n) = r.network() {
        let f = "linux.resources.network";
        if let Some(c) = n.class_id() {
            w.push(Write::new(
                format!("{f}.classID"),
                "net_cls",
                "net_cls.classid",
                c.to_string(),
            ));
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            w.push(Write::new(
                format!("{f}.priorities[{i}]"),
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
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
                rdma_line(dev, l),
            ));
        }
    }
    Ok(w)
}

/// "mlx5_1 hca_handle=3 hca_object=max".
pub fn rdma_line(dev: &str, l: &oci_spec::runtime::LinuxRdma) -> String {
    let f = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_else(|| "max".into());
    format!(
        "{dev} hca_handle={} hca_object={}",
        f(l.hca_handles()),
        f(l.hca_objects())
    )
}

/// `unified` on a v1 host: only keys of controllers on the cgroup2 mount (hybrid) are allowed.
fn unified_writes(d: &Dirs, r: &LinuxResources) -> Result<Vec<Write>> {
    let mut out = Vec::new();
    let Some(u) = r.unified() else {
        return Ok(out);
    };
    let mut keys: Vec<_> = u.iter().collect();
    keys.sort();
    for (k, v) in keys {
        let field = format!("linux.resources.unified[{k:?}]");
        let ctrl = k.split('.').next().unwrap_or("");
        if d.unified.is_some() && d.unified_ctrls.iter().any(|c| c == ctrl) {
            out.push(Write::new(field, "unified", k.clone(), v.clone()));
        } else if d.has_v1(ctrl) {
            return Err(Error::config(
                field,
                format!("the {ctrl} controller is on cgroup v1 on this host: use the v1 fields of linux.resources"),
            ));
        } else {
            return Err(Error::config(
                field,
                "cgroup v2 keys are not supported on a cgroup v1 host (no cgroup2 mount owns this controller)",
            ));
        }
    }
    Ok(out)
}

/// Validation that needs the host: controllers present, cpuset within the parent's.
pub fn validate(d: &Dirs, all: &[Write]) -> Result<()> {
    for w in all {
        if d.get(w.ctrl).is_none() && !w.soft {
            return Err(Error::config(
                &w.field,
                format!(
                    "the {} cgroup controller is not mounted on this host",
                    w.ctrl
                ),
            ));
        }
        if w.file == "cpuset.cpus" || w.file == "cpuset.mems" {
            let Some(dir) = d.get("cpuset") else { continue };
            let parent = dir.parent().unwrap_or(dir);
            let eff = if w.file == "cpuset.cpus" {
                "cpuset.effective_cpus"
            } else {
                "cpuset.effective_mems"
            };
            let avail = read(&parent.join(eff))
                .or_else(|| read(&parent.join(&w.file)))
                .unwrap_or_default();
            conv::check_cpuset_subset(&w.field, &w.value, &avail)?;
        }
    }
    Ok(())
}

/// Apply `r`. `create`: the cgroup is new and empty (devices are always set up then).
pub fn apply(paths: &[PathBuf], r: &LinuxResources, create: bool) -> Result<()> {
    let d = Dirs::from_paths(paths);
    let mut all = writes(r, d.hugetlb_on_unified())?;
    all.extend(unified_writes(&d, r)?);
    validate(&d, &all)?;
    if let Some(u) = &d.unified {
        super::resources_v2::enable_controllers(u, &d.unified_ctrls);
    }
    order_memory(&d, &mut all);
    let mut retry: Vec<&Write> = Vec::new();
    for w in &all {
        let Some(dir) = d.get(w.ctrl) else { continue };
        match perform(dir, w) {
            Ok(_) => {}
            // cfs period/quota/burst and rt period/runtime depend on each other's current
            // values: retry once after the rest.
            Err(e) if w.ctrl == "cpu" && e.errno() == Some(libc::EINVAL) => retry.push(w),
            Err(e) => return Err(e),
        }
        if w.file == "cpu.shares" {
            let got = read(&dir.join("cpu.shares")).unwrap_or_default();
            if got != w.value {
                return Err(Error::config(
                    &w.field,
                    format!("{} is out of the kernel's range (it set {got})", w.value),
                ));
            }
        }
    }
    for w in retry {
        if let Some(dir) = d.get(w.ctrl) {
            perform(dir, w)?;
        }
    }
    if create || r.devices().is_some() {
        if let Some(dir) = d.get("devices") {
            apply_devices(dir, r)?;
        }
    }
    Ok(())
}

/// runc's rule: when raising the limit above the current memory+swap limit (or making swap
/// unlimited), memsw must be written first.
fn order_memory(d: &Dirs, all: &mut [Write]) {
    let li = all.iter().position(|w| w.file == "memory.limit_in_bytes");
    let si = all
        .iter()
        .position(|w| w.file == "memory.memsw.limit_in_bytes");
    let (Some(li), Some(si)) = (li, si) else {
        return;
    };
    let Some(dir) = d.get("memory") else { return };
    let cur: i64 = read(&dir.join("memory.memsw.limit_in_bytes"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MAX);
    let swap: i64 = all[si].value.parse().unwrap_or(-1);
    if (swap == -1 || cur < swap) && si > li {
        all.swap(li, si);
    }
}

/// devices.deny "a", then every rule in order (config rules, then the default devices).
pub fn apply_devices(dir: &Path, r: &LinuxResources) -> Result<()> {
    for (field, rule) in conv::device_rules(r.devices().as_deref()) {
        let line = conv::device_rule_v1(&rule, &field)?;
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let p = dir.join(file);
        write_file(&p, &line)
            .map_err(|e| Error::io(format!("{field}: write {line:?} to {}", p.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_writes() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":1000,"swap":2000,"swappiness":10,"disableOOMKiller":true},
                "cpu":{"shares":512,"quota":-1,"period":100000,"cpus":"0","idle":1},
                "pids":{"limit":-1},
                "blockIO":{"weight":300,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":600}]},
                "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]},
                "rdma":{"mlx5_1":{"hcaHandles":3}}}"#,
        )
        .unwrap();
        let w = writes(&r, false).unwrap();
        let find = |f: &str| w.iter().find(|x| x.file == f).map(|x| x.value.as_str());
        assert_eq!(find("memory.limit_in_bytes"), Some("1000"));
        assert_eq!(find("memory.memsw.limit_in_bytes"), Some("2000"));
        assert_eq!(find("memory.oom_control"), Some("1"));
        assert_eq!(find("cpu.cfs_quota_us"), Some("-1"));
        assert_eq!(find("cpu.idle"), Some("1"));
        assert_eq!(find("pids.max"), Some("max"));
        assert_eq!(find("blkio.throttle.read_bps_device"), Some("8:0 600"));
        assert_eq!(find("hugetlb.2MB.limit_in_bytes"), Some("4194304"));
        assert_eq!(find("net_prio.ifpriomap"), Some("eth0 5"));
        assert_eq!(find("rdma.max"), Some("mlx5_1 hca_handle=3 hca_object=max"));
        let w = writes(&r, true).unwrap();
        assert!(w
            .iter()
            .any(|x| x.file == "hugetlb.2MB.max" && x.ctrl == "unified"));
    }
}
