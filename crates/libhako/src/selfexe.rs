//! CVE-2019-5736: the container's program is never exec'd while `/proc/self/exe` is the hako
//! binary.
//!
//! The init and `exec`'d processes are clones of hako: until their final `execve`, their
//! `/proc/self/exe` is the host's hako binary. If the program they exec is a script whose
//! interpreter is `/proc/self/exe`, the kernel would run hako's own binary as the container's
//! process, and a container process could then open it through `/proc/<pid>/exe` and overwrite
//! it on the host once hako exits. runc copies its whole binary into a sealed memfd on every
//! run; that costs megabytes per command. hako instead execs, as the very last step, a
//! 186-byte static stub from a sealed memfd, which execs the real program: at the moment the
//! container's program (or its interpreter) is resolved, `/proc/self/exe` is the sealed stub,
//! which nothing can write. The stub only runs when its argv[0] is a marker hako sets, so
//! `#!/proc/self/exe` ends in exit 127 instead of a loop.
//!
//! The stub is hand-assembled (x86_64, 51 bytes of code after the ELF and program headers):
//!
//! ```text
//!   mov rdi, [rsp+8]          ; argv[0]
//!   test rdi, rdi
//!   jz fail
//!   mov rax, [rdi]
//!   mov rcx, "hakoexec"
//!   cmp rax, rcx
//!   jne fail                  ; not started by hako: refuse
//!   mov rdi, [rsp+16]         ; path = argv[1]
//!   lea rsi, [rsp+24]         ; argv = &argv[2]
//!   mov rax, [rsp]            ; argc
//!   lea rdx, [rsp+rax*8+16]   ; envp
//!   mov eax, 59               ; execve
//!   syscall
//! fail:
//!   mov edi, 127
//!   mov eax, 231              ; exit_group
//!   syscall
//! ```
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
    0xba, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xba, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x7c, 0x24, 0x08, 0x48, 0x85, 0xff,
    0x74, 0x2c, 0x48, 0x8b, 0x07, 0x48, 0xb9, 0x68, 0x61, 0x6b, 0x6f, 0x65, 0x78, 0x65, 0x63, 0x48,
    0x39, 0xc8, 0x75, 0x1a, 0x48, 0x8b, 0x7c, 0x24, 0x10, 0x48, 0x8d, 0x74, 0x24, 0x18, 0x48, 0x8b,
    0x04, 0x24, 0x48, 0x8d, 0x54, 0xc4, 0x10, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x7f,
    0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
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
    #[test]
    fn stub_marker_is_one_word() {
        assert_eq!(MARKER.len(), 8);
        if !STUB.is_empty() {
            assert!(STUB.windows(8).any(|w| w == MARKER.as_bytes()));
        }
    }
}
