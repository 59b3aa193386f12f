//! The default config.json that `hako spec` writes (like `runc spec`).
//!
//! The content mirrors runc's `specconv.Example()` (and `specconv.ToRootless()` for
//! `--rootless`) as written by runc 1.1, with our `ociVersion`. Like runc, the cgroup
//! namespace is added only when `/sys/fs/cgroup` is a cgroup v2 (unified) mount, and the
//! rootless id mappings map container root to the caller's effective uid/gid.
//!
//! The file is written byte-for-byte in runc's format: keys in runc's (Go struct) order,
//! tab indentation, no trailing newline. [`default_spec`] returns the same document as a
//! `serde_json::Value` (whose key order depends on serde_json features, so it is not used to
//! write the file).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::error::{Context, Error, Result};

/// The default spec, as `runc spec` (or `runc spec --rootless`) would produce it.
pub fn default_spec(rootless: bool) -> serde_json::Value {
    build(rootless, host_is_cgroup2(), host_ids()).to_value()
}

/// The default spec rendered exactly as `runc spec` writes it (tab-indented, runc's key
/// order, no trailing newline).
pub fn default_spec_text(rootless: bool) -> String {
    build(rootless, host_is_cgroup2(), host_ids()).to_text()
}

/// Write `<bundle>/config.json` with the default spec. Refuses to overwrite an existing file.
pub fn write_default_spec(bundle: &Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    // runc stats the file first and refuses with this message; create_new makes the check
    // race-free as well.
    if path.symlink_metadata().is_ok() {
        return Err(config_exists());
    }
    let text = default_spec_text(rootless);
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(config_exists()),
        Err(e) => return Err(Error::io(format!("create {}", path.display()), e)),
    };
    file.write_all(text.as_bytes())
        .with_ctx(|| format!("write {}", path.display()))?;
    Ok(())
}

fn config_exists() -> Error {
    Error::new(
        crate::error::ErrorKind::Exists,
        "File config.json exists. Remove it first",
    )
}

/// Like runc's `cgroups.IsCgroup2UnifiedMode()`: is /sys/fs/cgroup a cgroup2 mount?
fn host_is_cgroup2() -> bool {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(st) => st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC,
        Err(_) => false,
    }
}

fn host_ids() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// A JSON value that keeps object keys in insertion order, so the file matches runc's.
#[derive(Debug, Clone)]
enum J {
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

fn s(v: &str) -> J {
    J::Str(v.to_string())
}

fn strs(v: &[&str]) -> J {
    J::Arr(v.iter().map(|x| s(x)).collect())
}

fn obj(fields: Vec<(&'static str, J)>) -> J {
    J::Obj(fields)
}

impl J {
    fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            J::Bool(b) => Value::Bool(*b),
            J::Num(n) => Value::from(*n),
            J::Str(v) => Value::String(v.clone()),
            J::Arr(a) => Value::Array(a.iter().map(J::to_value).collect()),
            J::Obj(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Go's `json.MarshalIndent(v, "", "\t")`.
    fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out, 0);
        out
    }

    fn write_text(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| {
            out.push('\n');
            for _ in 0..d {
                out.push('\t');
            }
        };
        match self {
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => {
                let _ = write!(out, "{n}");
            }
            J::Str(v) => out.push_str(&go_quote(v)),
            J::Arr(a) if a.is_empty() => out.push_str("[]"),
            J::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    v.write_text(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            J::Obj(o) if o.is_empty() => out.push_str("{}"),
            J::Obj(o) => {
                out.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    out.push_str(&go_quote(k));
                    out.push_str(": ");
                    v.write_text(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

/// JSON string quoting as Go's encoding/json does it (HTML-safe escapes included).
fn go_quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn mount(dest: &str, typ: &str, src: &str, options: &[&str]) -> J {
    let mut m = vec![
        ("destination", s(dest)),
        ("type", s(typ)),
        ("source", s(src)),
    ];
    if !options.is_empty() {
        m.push(("options", strs(options)));
    }
    obj(m)
}

fn ns(typ: &str) -> J {
    obj(vec![("type", s(typ))])
}

fn id_mapping(host_id: u32) -> J {
    J::Arr(vec![obj(vec![
        ("containerID", J::Num(0)),
        ("hostID", J::Num(host_id as u64)),
        ("size", J::Num(1)),
    ])])
}

/// Build the spec. `cgroup2`: the host uses the unified hierarchy (adds a cgroup namespace);
/// `ids`: the effective (uid, gid) used for rootless mappings.
fn build(rootless: bool, cgroup2: bool, ids: (u32, u32)) -> J {
    let caps = strs(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let process = obj(vec![
        ("terminal", J::Bool(true)),
        ("user", obj(vec![("uid", J::Num(0)), ("gid", J::Num(0))])),
        ("args", strs(&["sh"])),
        (
            "env",
            strs(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ]),
        ),
        ("cwd", s("/")),
        (
            "capabilities",
            obj(vec![
                ("bounding", caps.clone()),
                ("effective", caps.clone()),
                ("permitted", caps.clone()),
                ("ambient", caps),
            ]),
        ),
        (
            "rlimits",
            J::Arr(vec![obj(vec![
                ("type", s("RLIMIT_NOFILE")),
                ("hard", J::Num(1024)),
                ("soft", J::Num(1024)),
            ])]),
        ),
        ("noNewPrivileges", J::Bool(true)),
    ]);

    let devpts_opts: &[&str] = if rootless {
        // ToRootless drops every uid=/gid= option.
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ]
    } else {
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]
    };
    let sys = if rootless {
        mount(
            "/sys",
            "none",
            "/sys",
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )
    } else {
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )
    };
    let mounts = J::Arr(vec![
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount("/dev/pts", "devpts", "devpts", devpts_opts),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        sys,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ]);

    let mut namespaces = vec![ns("pid")];
    if !rootless {
        namespaces.push(ns("network"));
    }
    namespaces.extend([ns("ipc"), ns("uts"), ns("mount")]);
    if cgroup2 {
        namespaces.push(ns("cgroup"));
    }
    if rootless {
        namespaces.push(ns("user"));
    }

    // Field order follows Go's specs.Linux struct: uidMappings, gidMappings, ..., resources,
    // ..., namespaces, ..., maskedPaths, readonlyPaths.
    let mut linux = Vec::new();
    if rootless {
        linux.push(("uidMappings", id_mapping(ids.0)));
        linux.push(("gidMappings", id_mapping(ids.1)));
    } else {
        // ToRootless removes all cgroup settings.
        linux.push((
            "resources",
            obj(vec![(
                "devices",
                J::Arr(vec![obj(vec![
                    ("allow", J::Bool(false)),
                    ("access", s("rwm")),
                ])]),
            )]),
        ));
    }
    linux.push(("namespaces", J::Arr(namespaces)));
    linux.push((
        "maskedPaths",
        strs(&[
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ]),
    ));
    linux.push((
        "readonlyPaths",
        strs(&[
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ]),
    ));

    obj(vec![
        ("ociVersion", s(crate::OCI_VERSION)),
        ("process", process),
        (
            "root",
            obj(vec![("path", s("rootfs")), ("readonly", J::Bool(true))]),
        ),
        ("hostname", s("runc")),
        ("mounts", mounts),
        ("linux", obj(linux)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxNamespaceType, Spec};

    /// `runc spec` (runc 1.1.5, cgroup v1 host) output with ociVersion replaced.
    const RUNC_SPEC: &str = r#"{
	"ociVersion": "1.3.0",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "runc",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}"#;

    fn ns_types(spec: &Spec) -> Vec<LinuxNamespaceType> {
        let linux = spec.linux().as_ref().unwrap();
        linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect()
    }

    #[test]
    fn text_matches_runc_byte_for_byte() {
        assert_eq!(build(false, false, (0, 0)).to_text(), RUNC_SPEC);
    }

    #[test]
    fn value_matches_text() {
        for rootless in [false, true] {
            let j = build(rootless, false, (1000, 1001));
            let parsed: serde_json::Value = serde_json::from_str(&j.to_text()).unwrap();
            assert_eq!(parsed, j.to_value());
        }
        let parsed: serde_json::Value = serde_json::from_str(&default_spec_text(true)).unwrap();
        assert_eq!(parsed, default_spec(true));
    }

    #[test]
    fn deserializes_into_oci_spec() {
        for rootless in [false, true] {
            let spec: Spec = serde_json::from_value(default_spec(rootless)).unwrap();
            assert_eq!(spec.version(), crate::OCI_VERSION);
            let process = spec.process().as_ref().unwrap();
            assert_eq!(process.args().as_ref().unwrap(), &vec!["sh".to_string()]);
            assert_eq!(process.terminal(), Some(true));
            assert_eq!(process.no_new_privileges(), Some(true));
            assert_eq!(spec.root().as_ref().unwrap().path(), Path::new("rootfs"));
            assert_eq!(spec.hostname().as_deref(), Some("runc"));
            assert_eq!(spec.mounts().as_ref().unwrap().len(), 7);
        }
    }

    #[test]
    fn default_has_network_ns_and_device_rule() {
        let spec: Spec = serde_json::from_value(build(false, false, (0, 0)).to_value()).unwrap();
        let types = ns_types(&spec);
        assert!(types.contains(&LinuxNamespaceType::Network));
        assert!(!types.contains(&LinuxNamespaceType::User));
        let linux = spec.linux().as_ref().unwrap();
        assert!(linux.uid_mappings().is_none());
        let devices = linux
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .as_ref()
            .unwrap();
        assert_eq!(devices.len(), 1);
        assert!(!devices[0].allow());
    }

    #[test]
    fn rootless_has_userns_and_mappings() {
        let spec: Spec =
            serde_json::from_value(build(true, false, (1000, 1001)).to_value()).unwrap();
        let types = ns_types(&spec);
        assert_eq!(types.last(), Some(&LinuxNamespaceType::User));
        assert!(!types.contains(&LinuxNamespaceType::Network));
        let linux = spec.linux().as_ref().unwrap();
        let uid = &linux.uid_mappings().as_ref().unwrap()[0];
        let gid = &linux.gid_mappings().as_ref().unwrap()[0];
        assert_eq!(
            (uid.container_id(), uid.host_id(), uid.size()),
            (0, 1000, 1)
        );
        assert_eq!(
            (gid.container_id(), gid.host_id(), gid.size()),
            (0, 1001, 1)
        );
        assert!(linux.resources().is_none());
        let mounts = spec.mounts().as_ref().unwrap();
        let sys = mounts
            .iter()
            .find(|m| m.destination() == Path::new("/sys"))
            .unwrap();
        assert_eq!(sys.typ().as_deref(), Some("none"));
        assert_eq!(sys.options().as_ref().unwrap()[0], "rbind");
        for m in mounts {
            for o in m.options().iter().flatten() {
                assert!(!o.starts_with("gid=") && !o.starts_with("uid="), "{o}");
            }
        }
    }

    #[test]
    fn rootless_uses_effective_ids() {
        let v = default_spec(true);
        let (uid, gid) = host_ids();
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], uid);
        assert_eq!(v["linux"]["gidMappings"][0]["hostID"], gid);
    }

    #[test]
    fn cgroup2_adds_cgroup_namespace() {
        for rootless in [false, true] {
            let spec: Spec =
                serde_json::from_value(build(rootless, true, (0, 0)).to_value()).unwrap();
            let types = ns_types(&spec);
            assert!(types.contains(&LinuxNamespaceType::Cgroup));
            // runc appends cgroup before ToRootless appends user.
            if rootless {
                assert_eq!(types.last(), Some(&LinuxNamespaceType::User));
            }
        }
    }

    #[test]
    fn write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        write_default_spec(dir.path(), false).unwrap();
        let written = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert_eq!(written, default_spec_text(false));
        let err = write_default_spec(dir.path(), true).unwrap_err();
        assert_eq!(err.message(), "File config.json exists. Remove it first");
        assert_eq!(err.kind(), crate::ErrorKind::Exists);
        // The original file is untouched.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("config.json")).unwrap(),
            written
        );
    }

    #[test]
    fn write_into_missing_bundle_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_default_spec(&dir.path().join("nope"), false).is_err());
    }
}
