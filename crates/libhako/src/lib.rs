//! libhako: an OCI runtime-spec v1.3 container runtime for Linux.
//!
//! Modules are named after the areas of the runtime spec; `docs/ARCHITECTURE.md` maps each
//! spec section to its module and describes the process model and the order of setup steps.

pub mod bundle;
pub mod caps;
pub mod cgroups;
pub mod check;
pub mod console;
pub mod container;
pub mod devices;
pub mod error;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod id;
pub mod idmap;
pub mod init;
pub mod logging;
pub mod lsm;
pub mod namespaces;
pub mod netdev;
pub mod procattr;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod selfexe;
pub mod signals;
pub mod spec_default;
pub mod state;
pub mod sync;
pub mod user;
pub mod utils;
pub mod validate;

pub use error::{Context, Error, ErrorKind, Result};
pub use oci_spec;

/// The runtime-spec version this runtime implements.
pub const OCI_VERSION: &str = "1.3.0";

/// Read a small text file (procfs, cgroupfs) with one buffer up front: these files report size
/// 0, and `read_to_string` then probes with 32-byte reads that grow, eight syscalls for a
/// mountinfo, each of which has the kernel render the file again up to that offset.
pub(crate) fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    // 4 KiB covers all but mountinfo on a busy host (read_to_end grows it); a larger first
    // allocation made malloc consolidate its free lists on every call.
    let mut buf = Vec::with_capacity(4096);
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
