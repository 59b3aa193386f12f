//! CVE-2019-5736: the container's program is never exec'd while `/proc/self/exe` is the hako
//! binary.
//!
//! The init and `exec`'d processes are clones of hako: until their final `execve`, their
//! `/proc/self/exe` is the host's hako binary. If the program they exec is a script whose
//! interpreter is `/proc/self/exe`, the kernel would run hako's own binary as the container's
//! process, and a container process could then open it through `/proc/<pid>/exe` and overwrite
//! it on the host once hako exits. runc copies its whole binary into a sealed memfd on every
//! run; that costs megabytes per command. hako instead execs, as the very last step, a
//! 352-byte static stub from a sealed memfd, which execs the real program: at the moment the
//! container's program (or its interpreter) is resolved, `/proc/self/exe` is the sealed stub,
//! which nothing can write. The stub only runs when its argv[0] is a marker hako sets, so
//! `#!/proc/self/exe` ends in exit 127 instead of a loop.
//!
//! The stub is hand-assembled for x86_64 from `selfexe_stub_x86_64.S` (`as --64` then
//! `objcopy -O binary -j .text`): if argv[0] is the marker it execs argv[1] with argv[2..] and
//! the environment; otherwise it exits 127. When that execve fails (a binary whose ELF
//! interpreter is missing from the image, a file that is no program, a noexec mount), it writes
//! `hako: exec PATH: errno N` to stderr and exits 127 for ENOENT, 126 otherwise, so the
//! container's output says why it did not run.
//!
//! Other architectures exec directly (the stub is per-ISA; a port adds its bytes here).
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The marker the stub requires in argv[0] (exactly 8 bytes, compared as one word).
pub const MARKER: &str = "hakoexec";

#[cfg(target_arch = "x86_64")]
const STUB: &[u8] = &[
    0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x38, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x60, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x7c, 0x24, 0x08, 0x48, 0x85, 0xff,
    0x0f, 0x84, 0xae, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x07, 0x48, 0xb9, 0x68, 0x61, 0x6b, 0x6f, 0x65,
    0x78, 0x65, 0x63, 0x48, 0x39, 0xc8, 0x0f, 0x85, 0x98, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x7c, 0x24,
    0x10, 0x48, 0x8d, 0x74, 0x24, 0x18, 0x48, 0x8b, 0x04, 0x24, 0x48, 0x8d, 0x54, 0xc4, 0x10, 0xb8,
    0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x49, 0x89, 0xfc, 0x48, 0xf7, 0xd8, 0x49, 0x89, 0xc5, 0x48,
    0x8d, 0x35, 0x87, 0x00, 0x00, 0x00, 0xba, 0x0b, 0x00, 0x00, 0x00, 0xe8, 0x70, 0x00, 0x00, 0x00,
    0x4c, 0x89, 0xe6, 0x31, 0xd2, 0x80, 0x3c, 0x16, 0x00, 0x74, 0x05, 0x48, 0xff, 0xc2, 0xeb, 0xf5,
    0xe8, 0x5b, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x35, 0x6c, 0x00, 0x00, 0x00, 0xba, 0x08, 0x00, 0x00,
    0x00, 0xe8, 0x4a, 0x00, 0x00, 0x00, 0x48, 0x83, 0xec, 0x20, 0x48, 0x8d, 0x74, 0x24, 0x1f, 0xc6,
    0x06, 0x0a, 0x4c, 0x89, 0xe8, 0xb9, 0x0a, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x48, 0xf7, 0xf1, 0x80,
    0xc2, 0x30, 0x48, 0xff, 0xce, 0x88, 0x16, 0x48, 0x85, 0xc0, 0x75, 0xee, 0x48, 0x8d, 0x54, 0x24,
    0x20, 0x48, 0x29, 0xf2, 0xe8, 0x17, 0x00, 0x00, 0x00, 0xbf, 0x7e, 0x00, 0x00, 0x00, 0x49, 0x83,
    0xfd, 0x02, 0x75, 0x05, 0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0xbf, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0x68, 0x61, 0x6b,
    0x6f, 0x3a, 0x20, 0x65, 0x78, 0x65, 0x63, 0x20, 0x3a, 0x20, 0x65, 0x72, 0x72, 0x6e, 0x6f, 0x20,
];
#[cfg(not(target_arch = "x86_64"))]
const STUB: &[u8] = &[];

/// A sealed, executable memfd holding the stub.
pub struct Stub {
    fd: OwnedFd,
}

const MFD_EXEC: libc::c_uint = 0x10;

/// Create the stub (before seccomp and the user switch). None where there is no stub for this
/// architecture or the kernel refuses (then the program is exec'd directly).
pub fn prepare() -> Option<Stub> {
    if STUB.is_empty() {
        return None;
    }
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a constant name; MFD_EXEC (6.3+) first, for hosts where
    // vm.memfd_noexec makes memfds non-executable by default.
    let mut fd = unsafe { libc::memfd_create(c"hako-exec".as_ptr(), flags | MFD_EXEC) };
    if fd < 0 {
        // SAFETY: as above, for kernels without MFD_EXEC.
        fd = unsafe { libc::memfd_create(c"hako-exec".as_ptr(), flags) };
    }
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut off = 0;
    while off < STUB.len() {
        // SAFETY: write from our static buffer.
        let n = unsafe {
            libc::write(
                fd.as_raw_fd(),
                STUB[off..].as_ptr().cast(),
                STUB.len() - off,
            )
        };
        if n <= 0 {
            return None;
        }
        off += n as usize;
    }
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fchmod and F_ADD_SEALS on our memfd.
    unsafe {
        libc::fchmod(fd.as_raw_fd(), 0o555);
        if libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) != 0 {
            return None;
        }
    }
    Some(Stub { fd })
}

/// Exec `path` with `args` and `env`, through the stub when there is one. Returns only on
/// failure, with the errno of the direct exec.
pub fn execve(
    stub: Option<&Stub>,
    path: &CStr,
    args: &[CString],
    env: &[CString],
) -> nix::errno::Errno {
    if let Some(s) = stub {
        if let Ok(p) = CString::new(format!("/proc/self/fd/{}", s.fd.as_raw_fd())) {
            let mut argv: Vec<&CStr> = Vec::with_capacity(args.len() + 2);
            argv.push(c"hakoexec");
            argv.push(path);
            argv.extend(args.iter().map(|a| a.as_c_str()));
            let envv: Vec<&CStr> = env.iter().map(|e| e.as_c_str()).collect();
            // Without /proc in the container the stub cannot be reached (and neither can
            // /proc/self/exe): fall back to the direct exec.
            let _ = nix::unistd::execve(&p, &argv, &envv);
        }
    }
    nix::unistd::execve(path, args, env)
        .err()
        .unwrap_or(nix::errno::Errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn stub_is_a_sealed_memfd() {
        let Some(s) = prepare() else { return };
        let seals = unsafe { libc::fcntl(s.fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert!(seals & libc::F_SEAL_WRITE != 0);
        let r = unsafe { libc::write(s.fd.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert!(r < 0, "the stub must not be writable");
    }
    /// The stub execs the program, and says why when it cannot (exit 127/126 plus errno).
    #[test]
    fn stub_execs_and_reports_exec_errors() {
        use std::os::unix::process::CommandExt;
        let Some(s) = prepare() else { return };
        let path = format!("/proc/self/fd/{}", s.fd.as_raw_fd());
        let run = |prog: &str, arg0: &str| {
            std::process::Command::new(&path)
                .arg0(arg0)
                .args([prog, "echo", "ran"])
                .output()
                .expect("spawn the stub")
        };
        let ok = run("/bin/echo", MARKER);
        assert_eq!(ok.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&ok.stdout), "ran\n");
        let missing = run("/nonexistent-program", MARKER);
        assert_eq!(missing.status.code(), Some(127));
        assert_eq!(
            String::from_utf8_lossy(&missing.stderr),
            "hako: exec /nonexistent-program: errno 2\n"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, b"not a program\n").expect("write");
        std::fs::set_permissions(
            &garbage,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let bad = run(garbage.to_str().expect("utf-8"), MARKER);
        assert_eq!(bad.status.code(), Some(126));
        assert!(String::from_utf8_lossy(&bad.stderr).ends_with(": errno 8\n"));
        // Without the marker the stub refuses (a `#!/proc/self/exe` script), silently.
        let refused = run("/bin/echo", "sh");
        assert_eq!(refused.status.code(), Some(127));
        assert!(refused.stdout.is_empty() && refused.stderr.is_empty());
    }

    #[test]
    fn stub_marker_is_one_word() {
        assert_eq!(MARKER.len(), 8);
        if !STUB.is_empty() {
            assert!(STUB.windows(8).any(|w| w == MARKER.as_bytes()));
        }
    }
}
