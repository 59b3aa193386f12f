//! `hako features` (features.md, features-linux.md): what this build of hako supports. The
//! lists are built from the same tables the code uses, and a test keeps the document in step
//! with the schema and the code.
use serde_json::{json, Value};

/// Every mount option `rootfs::parse_options` understands (config.md "Mounts").
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rnodev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "unbindable",
];

/// Hooks run at their lifecycle steps (`hooks.rs`, `init.rs`, `container.rs`).
pub const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

pub const NAMESPACES: &[&str] = &[
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

/// The features document.
pub fn features() -> Value {
    let mut caps: Vec<String> = crate::caps::known_names();
    caps.sort();
    // AppArmor and SELinux are applied when the host has them enabled (`lsm.rs`).
    let lsm = crate::lsm::Host::detect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": caps,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": false,
                "systemdUser": false,
                "rdma": false
            },
            "seccomp": crate::seccomp::features(),
            "apparmor": { "enabled": lsm.apparmor },
            "selinux": { "enabled": lsm.selinux },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": true } },
            "netDevices": { "enabled": true },
            "memoryPolicy": { "modes": [], "flags": [] }
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.hako.version": env!("CARGO_PKG_VERSION")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn mount_options_are_parsed() {
        // Every advertised option is understood, not passed through as filesystem data.
        for o in MOUNT_OPTIONS {
            let p = crate::rootfs::parse_options(&[o.to_string()]);
            assert!(p.data.is_empty(), "{o} is advertised but not parsed");
        }
    }
    #[test]
    fn document_shape() {
        let f = features();
        assert_eq!(f["ociVersionMax"], crate::OCI_VERSION);
        assert!(f["linux"]["capabilities"]
            .as_array()
            .is_some_and(|a| a.len() > 30));
        // Deserializes into the oci-spec Features type.
        let parsed: Result<oci_spec::runtime::Features, _> = serde_json::from_value(f);
        assert!(parsed.is_ok(), "{parsed:?}");
    }
}
