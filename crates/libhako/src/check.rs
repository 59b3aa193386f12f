//! `hako check`: validate a bundle against the spec *and* against this host, printing every
//! problem at once with its JSON path, without creating anything. The spec checks are
//! `validate.rs`; this module adds what only the host can tell: kernel features, cgroup
//! layout and controllers, LSMs, capabilities and limits of the runtime itself.
use crate::validate::Problem;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::Path;

/// How serious a finding is: errors make `create` fail, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    pub problem: Problem,
}

fn err(path: impl Into<String>, reason: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Error,
        problem: Problem {
            path: path.into(),
            reason: reason.into(),
        },
    }
}

fn warn(path: impl Into<String>, reason: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Warning,
        problem: Problem {
            path: path.into(),
            reason: reason.into(),
        },
    }
}

/// Check the bundle at `dir`. Returns every finding, spec problems first.
pub fn check_bundle(dir: &Path) -> Vec<Finding> {
    let cfg = dir.join("config.json");
    let text = match std::fs::read_to_string(&cfg) {
        Ok(t) => t,
        Err(e) => return vec![err(".", format!("cannot read {}: {e}", cfg.display()))],
    };
    // Only a document that does not parse stops the checks; everything else is reported.
    let spec = match crate::validate::parse(&text) {
        Ok(s) => s,
        Err(p) => {
            return vec![Finding {
                severity: Severity::Error,
                problem: p,
            }]
        }
    };
    let mut out: Vec<Finding> = Vec::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        for p in crate::validate::validate_raw(&v) {
            out.push(Finding {
                severity: Severity::Error,
                problem: p,
            });
        }
    }
    for p in crate::validate::validate(&spec, dir) {
        if !out.iter().any(|f| f.problem == p) {
            out.push(Finding {
                severity: Severity::Error,
                problem: p,
            });
        }
    }
    out.extend(check_host(&spec));
    out
}

fn has_cap(cap: u8) -> bool {
    crate::caps::current(caps::CapSet::Effective)
        .map(|m| m & (1u64 << cap) != 0)
        .unwrap_or(false)
}

/// What the host can tell about `spec`.
pub fn check_host(spec: &Spec) -> Vec<Finding> {
    let mut out = Vec::new();
    // The runtime itself.
    if !has_cap(21) {
        out.push(err(
            ".",
            "hako needs CAP_SYS_ADMIN (run as root) to create containers",
        ));
    }
    let sys_resource = has_cap(24);
    let lsm = crate::lsm::Host::detect();
    if let Some(linux) = spec.linux() {
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            let name = match ns.typ() {
                LinuxNamespaceType::Mount => "mnt",
                LinuxNamespaceType::Network => "net",
                t => crate::namespaces::type_name(t),
            };
            if !Path::new(&format!("/proc/self/ns/{name}")).exists() {
                out.push(err(
                    format!("linux.namespaces[{i}].type"),
                    format!(
                        "this kernel has no {} namespaces",
                        crate::namespaces::type_name(ns.typ())
                    ),
                ));
            }
        }
        if let Some(sysctl) = linux.sysctl() {
            let mut keys: Vec<_> = sysctl.keys().collect();
            keys.sort();
            for k in keys {
                let p = format!("/proc/sys/{}", k.replace('.', "/"));
                if !Path::new(&p).exists() {
                    out.push(err(
                        format!("linux.sysctl.{k}"),
                        format!("{p} does not exist on this kernel"),
                    ));
                }
            }
        }
        if linux.intel_rdt().is_some() && !Path::new("/sys/fs/resctrl/schemata").exists() {
            out.push(err(
                "linux.intelRdt",
                "resctrl is not mounted at /sys/fs/resctrl",
            ));
        }
        if let Some(sc) = linux.seccomp() {
            if let Err(e) = crate::seccomp::validate(sc) {
                out.push(err("linux.seccomp", e.to_string()));
            }
        }
        if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) && !lsm.selinux {
            out.push(err(
                "linux.mountLabel",
                "SELinux is not enabled on this host",
            ));
        }
        if let Some(r) = linux.resources() {
            check_cgroups(r, &mut out);
        }
    }
    if let Some(p) = spec.process() {
        if let Some(a) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty()) {
            if !lsm.apparmor {
                out.push(err(
                    "process.apparmorProfile",
                    "AppArmor is not enabled on this host",
                ));
            } else if crate::lsm::apparmor_profile_loaded(a) == Some(false) {
                out.push(err(
                    "process.apparmorProfile",
                    format!("AppArmor profile {a:?} is not loaded"),
                ));
            }
        }
        if p.selinux_label().as_ref().is_some_and(|l| !l.is_empty()) && !lsm.selinux {
            out.push(err(
                "process.selinuxLabel",
                "SELinux is not enabled on this host",
            ));
        }
        if let Some(adj) = p.oom_score_adj() {
            let cur: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            if adj < cur && !sys_resource {
                out.push(err(
                    "process.oomScoreAdj",
                    format!("{adj} is below the runtime's own {cur}; lowering it needs CAP_SYS_RESOURCE, which hako does not have here"),
                ));
            }
        }
        for (i, l) in p.rlimits().iter().flatten().enumerate() {
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit into a valid struct.
            if unsafe { libc::getrlimit(crate::rlimits::resource(l.typ()), &mut cur) } == 0
                && l.hard() > cur.rlim_max
                && !sys_resource
            {
                out.push(err(
                    format!("process.rlimits[{i}].hard"),
                    format!(
                        "{} exceeds the host's hard limit {} and hako lacks CAP_SYS_RESOURCE",
                        l.hard(),
                        cur.rlim_max
                    ),
                ));
            }
        }
        let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<u8>().ok())
            .unwrap_or(40);
        if let Some(c) = p.capabilities() {
            for (set, caps) in [
                ("bounding", c.bounding()),
                ("effective", c.effective()),
                ("permitted", c.permitted()),
                ("inheritable", c.inheritable()),
                ("ambient", c.ambient()),
            ] {
                for cap in caps.iter().flatten() {
                    let name = format!("CAP_{cap}");
                    if let Ok(k) = <caps::Capability as std::str::FromStr>::from_str(&name) {
                        if k.index() > last {
                            out.push(warn(
                                format!("process.capabilities.{set}"),
                                format!("{name} is not supported by this kernel (cap_last_cap {last}); it will be ignored"),
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

fn check_cgroups(r: &oci_spec::runtime::LinuxResources, out: &mut Vec<Finding>) {
    use crate::cgroups::{detect, Mode};
    let mode = detect();
    let have = |ctrl: &str| -> bool {
        match mode {
            Mode::Unified => std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
                .unwrap_or_default()
                .split_whitespace()
                .any(|c| c == ctrl),
            Mode::Legacy => {
                crate::cgroups::v1::hierarchies()
                    .iter()
                    .any(|h| h.controllers.iter().any(|c| c == ctrl))
                    || std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
                        .unwrap_or_default()
                        .split_whitespace()
                        .any(|c| c == ctrl)
            }
        }
    };
    let mut need = |field: &str, ctrl: &str, present: bool| {
        if present && !have(ctrl) {
            out.push(err(
                format!("linux.resources.{field}"),
                format!("the {ctrl} cgroup controller is not available on this host"),
            ));
        }
    };
    need("memory", "memory", r.memory().is_some());
    need(
        "cpu",
        "cpu",
        r.cpu()
            .as_ref()
            .is_some_and(|c| c.shares().is_some() || c.quota().is_some() || c.period().is_some()),
    );
    need(
        "cpu.cpus",
        "cpuset",
        r.cpu()
            .as_ref()
            .is_some_and(|c| c.cpus().is_some() || c.mems().is_some()),
    );
    need("pids", "pids", r.pids().is_some());
    need(
        "blockIO",
        if mode == Mode::Unified { "io" } else { "blkio" },
        r.block_io().is_some(),
    );
    need(
        "hugepageLimits",
        "hugetlb",
        r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
    );
    need(
        "rdma",
        "rdma",
        r.rdma().as_ref().is_some_and(|h| !h.is_empty()),
    );
    if r.network().is_some() {
        if mode == Mode::Unified {
            out.push(err(
                "linux.resources.network",
                "network classID/priorities exist only in cgroup v1",
            ));
        } else {
            need("network", "net_cls", true);
        }
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) && mode != Mode::Unified {
        out.push(err(
            "linux.resources.unified",
            "cgroup v2 keys given but this host uses cgroup v1",
        ));
    }
}
