//! config-linux.md "Seccomp": compile `linux.seccomp` to a BPF program and load it.
//!
//! The rules are compiled with the system's libseccomp (the same library runc and crun use,
//! so syscall tables, multiplexed syscalls such as x86's `socketcall`, 64-bit argument
//! comparisons on 32-bit BPF words, x32 and multi-architecture filters behave exactly as in
//! those runtimes). The program is then *exported* to memory ([`Filter`]) and loaded by hako
//! itself with `seccomp(2)`, so that:
//! - compiling happens in `create`'s parent before the clone (the init inherits the
//!   [`Filter`] in its copy of memory), and [`load`] is one system call;
//! - the spec's filter flags (`SECCOMP_FILTER_FLAG_*`) are passed verbatim, plus
//!   `SECCOMP_FILTER_FLAG_NEW_LISTENER` when a rule uses `SCMP_ACT_NOTIFY`;
//! - compiled programs can be cached ([`compile_cached`]): libseccomp 2.5 needs 10-30 ms
//!   for podman's default profile, a cache hit well under 1 ms.
//!
//! Semantics follow runc (`libcontainer/seccomp/seccomp_linux.go`):
//! - `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`; `errnoRet` defaults to `EPERM` for
//!   `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE`;
//! - a rule whose action equals the default action is skipped;
//! - a syscall name unknown to libseccomp is skipped (profiles list syscalls newer than the
//!   library), with one warning from [`validate`];
//! - the `args` of one rule are ANDed, *except* when two of them test the same argument
//!   index: then each condition becomes a rule of its own (ORed), as runc does;
//! - `SCMP_CMP_MASKED_EQ` uses `value` as the mask and `valueTwo` as the datum
//!   (`(arg & value) == valueTwo`); `valueTwo` is ignored by the other operators;
//! - `SCMP_ACT_NOTIFY` cannot be the default action nor apply to `write` or `sendmsg`
//!   (the init's own calls after the load, before the agent has the fd).
//!
//! When the init calls [`load`] (docs/ARCHITECTURE.md, "I, on start"): with
//! `noNewPrivileges`, last before `execve`; without it `seccomp(2)` needs `CAP_SYS_ADMIN`,
//! so before the user switch and capability drop (as runc), and the profile must then allow
//! the init's remaining setup calls.

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::error::{Error, Result};

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const FLAG_TSYNC: u64 = 1;
const FLAG_LOG: u64 = 1 << 1;
const FLAG_SPEC_ALLOW: u64 = 1 << 2;
const FLAG_NEW_LISTENER: u64 = 1 << 3;
const FLAG_TSYNC_ESRCH: u64 = 1 << 4;
const FLAG_WAIT_KILLABLE_RECV: u64 = 1 << 5;
/// The kernel's limit on the length of one filter program.
const BPF_MAXINSNS: usize = 4096;

/// Syscalls the init itself makes after the filter is loaded and before the agent has the
/// notify fd: a `SCMP_ACT_NOTIFY` rule on them would hang the container's start.
/// (`write` as runc; `sendmsg` is how the init hands the notify fd out.)
const NOTIFY_FORBIDDEN: &[&str] = &["write", "sendmsg"];

/// The name of the notify fd in the container process state's `fds`.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// A compiled seccomp program, ready for [`load`].
#[derive(Clone, PartialEq, Eq)]
pub struct Filter {
    insns: Vec<libc::sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*` for `seccomp(2)`.
    flags: u64,
    /// Some rule uses `SCMP_ACT_NOTIFY`: load with `NEW_LISTENER` and return its fd.
    notify: bool,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("insns", &self.insns.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("notify", &self.notify)
            .finish()
    }
}

impl Filter {
    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
    /// True when [`load`] will return a notify fd (some rule uses `SCMP_ACT_NOTIFY`).
    pub fn wants_listener(&self) -> bool {
        self.notify
    }
    /// The `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(2)`.
    pub fn flags(&self) -> u64 {
        self.flags
    }

    /// A self-contained byte form (for a cache of compiled filters): a magic, the flags, the
    /// notify bit and the instructions in native byte order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.insns.len() * 8);
        out.extend_from_slice(b"HAKOBPF1");
        out.extend_from_slice(&(self.flags).to_ne_bytes());
        out.extend_from_slice(&u32::from(self.notify).to_ne_bytes());
        out.extend_from_slice(&(self.insns.len() as u32).to_ne_bytes());
        for i in &self.insns {
            out.extend_from_slice(&insn_bytes(i));
        }
        out
    }

    /// The inverse of [`Filter::to_bytes`]; `None` when `b` is not such a blob.
    pub fn from_bytes(b: &[u8]) -> Option<Filter> {
        let rest = b.strip_prefix(b"HAKOBPF1")?;
        let flags = u64::from_ne_bytes(rest.get(0..8)?.try_into().ok()?);
        let notify = u32::from_ne_bytes(rest.get(8..12)?.try_into().ok()?);
        let n = u32::from_ne_bytes(rest.get(12..16)?.try_into().ok()?) as usize;
        let body = rest.get(16..)?;
        if notify > 1 || n == 0 || n > BPF_MAXINSNS || body.len() != n * 8 {
            return None;
        }
        Some(Filter {
            insns: parse_insns(body)?,
            flags,
            notify: notify == 1,
        })
    }
}

fn insn_bytes(i: &libc::sock_filter) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&i.code.to_ne_bytes());
    b[2] = i.jt;
    b[3] = i.jf;
    b[4..8].copy_from_slice(&i.k.to_ne_bytes());
    b
}

fn parse_insns(b: &[u8]) -> Option<Vec<libc::sock_filter>> {
    let chunks = b.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks
        .map(|c| {
            Some(libc::sock_filter {
                code: u16::from_ne_bytes(c.get(0..2)?.try_into().ok()?),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes(c.get(4..8)?.try_into().ok()?),
            })
        })
        .collect()
}

fn action_name(a: LinuxSeccompAction) -> &'static str {
    match a {
        LinuxSeccompAction::ScmpActKill => "SCMP_ACT_KILL",
        LinuxSeccompAction::ScmpActKillThread => "SCMP_ACT_KILL_THREAD",
        LinuxSeccompAction::ScmpActKillProcess => "SCMP_ACT_KILL_PROCESS",
        LinuxSeccompAction::ScmpActTrap => "SCMP_ACT_TRAP",
        LinuxSeccompAction::ScmpActErrno => "SCMP_ACT_ERRNO",
        LinuxSeccompAction::ScmpActNotify => "SCMP_ACT_NOTIFY",
        LinuxSeccompAction::ScmpActTrace => "SCMP_ACT_TRACE",
        LinuxSeccompAction::ScmpActLog => "SCMP_ACT_LOG",
        LinuxSeccompAction::ScmpActAllow => "SCMP_ACT_ALLOW",
    }
}

const ACTIONS: &[LinuxSeccompAction] = &[
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActNotify,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActTrap,
];

const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

const ARCHS: &[(Arch, ScmpArch, &str)] = &[
    (
        Arch::ScmpArchAarch64,
        ScmpArch::Aarch64,
        "SCMP_ARCH_AARCH64",
    ),
    (Arch::ScmpArchArm, ScmpArch::Arm, "SCMP_ARCH_ARM"),
    (
        Arch::ScmpArchLoongarch64,
        ScmpArch::Loongarch64,
        "SCMP_ARCH_LOONGARCH64",
    ),
    (Arch::ScmpArchM68k, ScmpArch::M68k, "SCMP_ARCH_M68K"),
    (Arch::ScmpArchMips, ScmpArch::Mips, "SCMP_ARCH_MIPS"),
    (Arch::ScmpArchMips64, ScmpArch::Mips64, "SCMP_ARCH_MIPS64"),
    (
        Arch::ScmpArchMips64n32,
        ScmpArch::Mips64N32,
        "SCMP_ARCH_MIPS64N32",
    ),
    (Arch::ScmpArchMipsel, ScmpArch::Mipsel, "SCMP_ARCH_MIPSEL"),
    (
        Arch::ScmpArchMipsel64,
        ScmpArch::Mipsel64,
        "SCMP_ARCH_MIPSEL64",
    ),
    (
        Arch::ScmpArchMipsel64n32,
        ScmpArch::Mipsel64N32,
        "SCMP_ARCH_MIPSEL64N32",
    ),
    (Arch::ScmpArchNative, ScmpArch::Native, "SCMP_ARCH_NATIVE"),
    (Arch::ScmpArchParisc, ScmpArch::Parisc, "SCMP_ARCH_PARISC"),
    (
        Arch::ScmpArchParisc64,
        ScmpArch::Parisc64,
        "SCMP_ARCH_PARISC64",
    ),
    (Arch::ScmpArchPpc, ScmpArch::Ppc, "SCMP_ARCH_PPC"),
    (Arch::ScmpArchPpc64, ScmpArch::Ppc64, "SCMP_ARCH_PPC64"),
    (
        Arch::ScmpArchPpc64le,
        ScmpArch::Ppc64Le,
        "SCMP_ARCH_PPC64LE",
    ),
    (
        Arch::ScmpArchRiscv64,
        ScmpArch::Riscv64,
        "SCMP_ARCH_RISCV64",
    ),
    (Arch::ScmpArchS390, ScmpArch::S390, "SCMP_ARCH_S390"),
    (Arch::ScmpArchS390x, ScmpArch::S390X, "SCMP_ARCH_S390X"),
    (Arch::ScmpArchSh, ScmpArch::Sh, "SCMP_ARCH_SH"),
    (Arch::ScmpArchSheb, ScmpArch::Sheb, "SCMP_ARCH_SHEB"),
    (Arch::ScmpArchX32, ScmpArch::X32, "SCMP_ARCH_X32"),
    (Arch::ScmpArchX86, ScmpArch::X86, "SCMP_ARCH_X86"),
    (Arch::ScmpArchX86_64, ScmpArch::X8664, "SCMP_ARCH_X86_64"),
];

/// Architectures libseccomp supports only from 2.6.0 on.
const NEEDS_2_6: &[ScmpArch] = &[
    ScmpArch::Loongarch64,
    ScmpArch::M68k,
    ScmpArch::Sh,
    ScmpArch::Sheb,
];

fn arch_of(a: Arch) -> (ScmpArch, &'static str) {
    ARCHS
        .iter()
        .find(|(o, _, _)| *o == a)
        .map(|(_, s, n)| (*s, *n))
        .unwrap_or((ScmpArch::Native, "SCMP_ARCH_NATIVE"))
}

const FLAGS: &[(LinuxSeccompFilterFlag, u64, &str)] = &[
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        FLAG_TSYNC,
        "SECCOMP_FILTER_FLAG_TSYNC",
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        FLAG_LOG,
        "SECCOMP_FILTER_FLAG_LOG",
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        FLAG_SPEC_ALLOW,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        FLAG_WAIT_KILLABLE_RECV,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ),
];

fn flag_of(f: LinuxSeccompFilterFlag) -> u64 {
    FLAGS
        .iter()
        .find(|(o, _, _)| *o == f)
        .map(|(_, v, _)| *v)
        .unwrap_or(0)
}

fn errno_ok(a: LinuxSeccompAction) -> bool {
    matches!(
        a,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
}

/// The libseccomp action for an OCI action and its `errnoRet` (default `EPERM`).
fn scmp_action(a: LinuxSeccompAction, errno_ret: Option<u32>) -> ScmpAction {
    let ret = errno_ret.unwrap_or(libc::EPERM as u32);
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        // validate() keeps `ret` within 16 bits.
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret as u16 as i32),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret as u16),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    }
}

fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|sc| sc.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Checks `linux.seccomp` beyond its JSON shape: what the spec forbids, what the kernel
/// interface cannot express, what this libseccomp does not support, and what would hang the
/// start. Syscall names unknown to libseccomp are not errors: they are skipped by
/// [`compile`] and reported here in one `warn!`. Errors name the JSON path.
pub fn validate(s: &LinuxSeccomp) -> Result<()> {
    check(s, true)
}

fn check(s: &LinuxSeccomp, warn: bool) -> Result<()> {
    let at = "linux.seccomp";
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(Error::config(
            format!("{at}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    check_errno_ret(
        &format!("{at}.defaultErrnoRet"),
        s.default_action(),
        s.default_errno_ret(),
    )?;
    let listener = s
        .listener_path()
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    if s.listener_metadata().is_some() && listener.is_none() {
        return Err(Error::config(
            format!("{at}.listenerMetadata"),
            "must not be set without listenerPath",
        ));
    }
    let notify = uses_notify(s);
    if notify && listener.is_none() {
        return Err(Error::config(
            format!("{at}.listenerPath"),
            "required when SCMP_ACT_NOTIFY is used",
        ));
    }
    if let Some(archs) = s.architectures() {
        for (i, a) in archs.iter().enumerate() {
            let (arch, name) = arch_of(*a);
            if !arch_supported(arch) {
                return Err(Error::config(
                    format!("{at}.architectures[{i}]"),
                    format!("{name} is not supported by this libseccomp"),
                ));
            }
        }
    }
    let mut unknown: Vec<&str> = Vec::new();
    for (i, sc) in s
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let sat = format!("{at}.syscalls[{i}]");
        if sc.names().is_empty() {
            return Err(Error::config(
                format!("{sat}.names"),
                "must have at least one entry",
            ));
        }
        check_errno_ret(&format!("{sat}.errnoRet"), sc.action(), sc.errno_ret())?;
        for (j, n) in sc.names().iter().enumerate() {
            if n.is_empty() {
                return Err(Error::config(
                    format!("{sat}.names[{j}]"),
                    "must not be empty",
                ));
            }
            if sc.action() == LinuxSeccompAction::ScmpActNotify
                && NOTIFY_FORBIDDEN.contains(&n.as_str())
            {
                return Err(Error::config(
                    format!("{sat}.names[{j}]"),
                    format!("SCMP_ACT_NOTIFY cannot be used for the {n} syscall"),
                ));
            }
            if ScmpSyscall::from_name(n).is_err() && !unknown.contains(&n.as_str()) {
                unknown.push(n);
            }
        }
        for (j, a) in sc.args().as_deref().unwrap_or_default().iter().enumerate() {
            if a.index() > 5 {
                return Err(Error::config(
                    format!("{sat}.args[{j}].index"),
                    format!("{} is outside [0, 5]", a.index()),
                ));
            }
        }
    }
    if warn && !unknown.is_empty() {
        tracing::warn!(
            "seccomp: ignoring syscalls unknown to libseccomp {}: {}",
            libseccomp_version(),
            unknown.join(", ")
        );
    }
    Ok(())
}

fn check_errno_ret(path: &str, a: LinuxSeccompAction, ret: Option<u32>) -> Result<()> {
    let Some(ret) = ret else {
        return Ok(());
    };
    if !errno_ok(a) {
        return Err(Error::config(
            path,
            format!(
                "not supported by {}: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                action_name(a)
            ),
        ));
    }
    if ret > u32::from(u16::MAX) {
        return Err(Error::config(
            path,
            format!("{ret} does not fit the 16-bit seccomp return data"),
        ));
    }
    Ok(())
}

fn arch_supported(arch: ScmpArch) -> bool {
    if arch == ScmpArch::Native {
        return true;
    }
    ScmpFilterContext::new(ScmpAction::Allow)
        .and_then(|mut c| c.add_arch(arch).map(|_| ()))
        .is_ok()
}

fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "(unknown version)".into(),
    }
}

fn lib_err(what: impl std::fmt::Display, e: libseccomp::error::SeccompError) -> Error {
    let msg = match e.errno() {
        Some(n) => format!("{what}: {e} ({n:?})"),
        None => format!("{what}: {e}"),
    };
    Error::other(msg)
}

/// Compiles `linux.seccomp` to a BPF program. Runs [`validate`]'s checks (without its
/// warning). Call it in the init before the last setup steps; keep the [`Filter`] for
/// [`load`].
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    check(s, false)?;
    let at = "linux.seccomp";
    let default = scmp_action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default)
        .map_err(|e| lib_err(format!("{at}.defaultAction: seccomp_init"), e))?;
    for (i, a) in s
        .architectures()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let (arch, name) = arch_of(*a);
        ctx.add_arch(arch)
            .map_err(|e| lib_err(format!("{at}.architectures[{i}]: adding {name}"), e))?;
    }
    let syscalls = s.syscalls().as_deref().unwrap_or_default();
    // As runc: libseccomp's binary tree for long rule sets (<= 2.5.4 misbehaves with it
    // and no rules, hence the threshold). Not fatal where unsupported.
    if syscalls.len() > 32 {
        let _ = ctx.set_ctl_optimize(2);
    }
    for (i, sc) in syscalls.iter().enumerate() {
        let action = scmp_action(sc.action(), sc.errno_ret());
        if action == default {
            continue;
        }
        let mut conds = Vec::new();
        let mut per_index = [0u8; 6];
        for a in sc.args().as_deref().unwrap_or_default() {
            let idx = a.index().min(5);
            per_index[idx] = per_index[idx].saturating_add(1);
            let (op, datum) = match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
                LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
                LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
                LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
                LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
                LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
                LinuxSeccompOperator::ScmpCmpMaskedEq => (
                    ScmpCompareOp::MaskedEqual(a.value()),
                    a.value_two().unwrap_or(0),
                ),
            };
            conds.push(ScmpArgCompare::new(idx as u32, op, datum));
        }
        // runc: several conditions on one argument index become one rule each (OR).
        let split = per_index.iter().any(|&n| n > 1);
        for (j, name) in sc.names().iter().enumerate() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                continue; // unknown to libseccomp: validate() warned
            };
            let what = || format!("{at}.syscalls[{i}].names[{j}]: adding rule for {name}");
            if conds.is_empty() {
                ctx.add_rule(action, nr).map_err(|e| lib_err(what(), e))?;
            } else if split {
                for c in &conds {
                    ctx.add_rule_conditional(action, nr, std::slice::from_ref(c))
                        .map_err(|e| lib_err(what(), e))?;
                }
            } else {
                ctx.add_rule_conditional(action, nr, &conds)
                    .map_err(|e| lib_err(what(), e))?;
            }
        }
    }
    let insns = export(&ctx)?;
    if insns.is_empty() || insns.len() > BPF_MAXINSNS {
        return Err(Error::invalid(format!(
            "{at}: the compiled filter has {} instructions (the kernel takes 1 to {BPF_MAXINSNS})",
            insns.len()
        )));
    }
    let notify = uses_notify(s);
    let mut flags = 0;
    for f in s.flags().as_deref().unwrap_or_default() {
        flags |= flag_of(*f);
    }
    if notify {
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // TSYNC reports a failing thread id, which collides with the listener fd.
            flags |= FLAG_TSYNC_ESRCH;
        }
    } else if flags & FLAG_WAIT_KILLABLE_RECV != 0 {
        // The kernel rejects it without a listener; it has no meaning then.
        tracing::debug!(
            "seccomp: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored without SCMP_ACT_NOTIFY"
        );
        flags &= !FLAG_WAIT_KILLABLE_RECV;
    }
    Ok(Filter {
        insns,
        flags,
        notify,
    })
}

/// [`compile`] with a cache of compiled programs in `cache_dir` (`None`: no cache).
///
/// libseccomp 2.5 takes ~10-20 ms for podman's default profile, several times the rest of a
/// container start; a cache hit takes ~0.1 ms. The cache file is named after a hash of the
/// key (the profile as JSON, the libseccomp version and API level, hako's version, the
/// target architecture) and holds the whole key, compared byte for byte on every hit, so a
/// hash collision is only a miss. `cache_dir` must be trusted, like the state directory: a
/// program read from it is loaded as is. It is created (0700) if missing, and skipped with a
/// warning unless it is owned by the effective uid and not writable by group or others.
/// Failures to read or write the cache never fail the compile.
pub fn compile_cached(s: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Filter> {
    let Some(dir) = cache_dir else {
        return compile(s);
    };
    check(s, false)?;
    let profile = serde_json::to_string(s)
        .map_err(|e| Error::other(format!("seccomp: serializing the profile: {e}")))?;
    let key = format!(
        "hako {} {} libseccomp {} api {}\n{profile}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        libseccomp_version(),
        libseccomp::get_api(),
    );
    let name = format!(
        "{:016x}{:016x}.bpf",
        fnv1a(key.as_bytes(), 0xcbf2_9ce4_8422_2325),
        fnv1a(key.as_bytes(), 0x6c62_272e_07bb_0142)
    );
    let dir_ok = cache_dir_ok(dir);
    if dir_ok {
        if let Some(f) = cache_read(&dir.join(&name), key.as_bytes()) {
            return Ok(f);
        }
    }
    let f = compile(s)?;
    if dir_ok {
        if let Err(e) = cache_write(dir, &name, key.as_bytes(), &f) {
            tracing::debug!("seccomp: not cached in {}: {e}", dir.display());
        }
    }
    Ok(f)
}

const CACHE_MAGIC: &[u8; 8] = b"HAKOSCC1";

fn fnv1a(data: &[u8], seed: u64) -> u64 {
    data.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn cache_dir_ok(dir: &Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Err(e) = std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)
    {
        tracing::debug!("seccomp: cache dir {}: {e}", dir.display());
        return false;
    }
    match std::fs::symlink_metadata(dir) {
        Ok(m)
            if m.is_dir()
                && m.uid() == nix::unistd::geteuid().as_raw()
                && m.mode() & 0o022 == 0 =>
        {
            true
        }
        Ok(_) => {
            tracing::warn!(
                "seccomp: cache dir {} not used: not a directory owned by us and writable only by us",
                dir.display()
            );
            false
        }
        Err(e) => {
            tracing::debug!("seccomp: cache dir {}: {e}", dir.display());
            false
        }
    }
}

fn cache_read(path: &Path, key: &[u8]) -> Option<Filter> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).ok()?;
    let rest = buf.strip_prefix(CACHE_MAGIC.as_slice())?;
    let klen = u32::from_ne_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
    let stored = rest.get(4..4usize.checked_add(klen)?)?;
    if stored != key {
        return None;
    }
    Filter::from_bytes(rest.get(4 + klen..)?)
}

fn cache_write(dir: &Path, name: &str, key: &[u8], f: &Filter) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let klen =
        u32::try_from(key.len()).map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        let mut out = Vec::with_capacity(12 + key.len() + 24 + f.len() * 8);
        out.extend_from_slice(CACHE_MAGIC);
        out.extend_from_slice(&klen.to_ne_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&f.to_bytes());
        file.write_all(&out)?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// The BPF program of `ctx`, through a memfd (libseccomp < 2.6 has no export to memory).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    // SAFETY: a constant NUL-terminated name; the fd returned is owned below.
    let fd = unsafe { libc::memfd_create(c"hako-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io(
            "seccomp: memfd_create",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd was just created and is owned by nothing else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file)
        .map_err(|e| lib_err("seccomp: exporting the BPF program", e))?;
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut buf))
        .map_err(|e| Error::io("seccomp: reading the BPF program", e))?;
    parse_insns(&buf).ok_or_else(|| {
        Error::other(format!(
            "seccomp: the exported BPF program has {} bytes, not a multiple of 8",
            buf.len()
        ))
    })
}

/// Loads `f` into the calling thread with `seccomp(2)`: the last step before `execve`.
///
/// The caller must have set `no_new_privs` or hold `CAP_SYS_ADMIN` in its user namespace
/// (else `EACCES`). Returns the notify fd (close-on-exec) when a rule uses
/// `SCMP_ACT_NOTIFY`. Allocates nothing on success.
pub fn load(f: &Filter) -> Result<Option<OwnedFd>> {
    let prog = libc::sock_fprog {
        len: f.insns.len() as libc::c_ushort,
        filter: f.insns.as_ptr() as *mut libc::sock_filter,
    };
    if f.insns.is_empty() || f.insns.len() > BPF_MAXINSNS {
        return Err(Error::invalid("seccomp: empty or oversized filter"));
    }
    // SAFETY: prog points to f.insns, which outlives the call; the kernel copies it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            f.flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        let errno = nix::errno::Errno::last();
        let hint = match errno {
            nix::errno::Errno::EACCES => {
                " (needs noNewPrivileges or CAP_SYS_ADMIN when the filter is loaded)"
            }
            nix::errno::Errno::EINVAL => " (a filter flag or action this kernel does not support?)",
            _ => "",
        };
        return Err(Error::sys(
            format_args!(
                "seccomp(SECCOMP_SET_MODE_FILTER, flags {:#x}){hint}",
                f.flags
            ),
            errno,
        ));
    }
    if f.notify {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd owned by nobody else.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) }))
    } else {
        Ok(None)
    }
}

/// Sends the container process state (config-linux.md "The Container Process State") with
/// the notify `fd` to the seccomp agent listening at `listener_path` (`AF_UNIX`,
/// `SOCK_STREAM`): one connection, one state, the fd in the first `sendmsg` through
/// `SCM_RIGHTS`, then the connection is closed. `state_json` is the container's state (as
/// `hako state` prints it); its `pid` is the process' pid. `metadata` is
/// `linux.seccomp.listenerMetadata` (omitted when empty).
pub fn send_notify_fd(
    listener_path: &Path,
    state_json: &str,
    metadata: &str,
    fd: BorrowedFd<'_>,
) -> Result<()> {
    let state: serde_json::Value = serde_json::from_str(state_json)
        .map_err(|e| Error::other(format!("seccomp: container state is not JSON: {e}")))?;
    let pid = state
        .get("pid")
        .and_then(|p| p.as_i64())
        .ok_or_else(|| Error::other("seccomp: container state has no pid"))?;
    let mut msg = serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": [SECCOMP_FD_NAME],
        "pid": pid,
        "state": state,
    });
    if !metadata.is_empty() {
        msg["metadata"] = serde_json::Value::String(metadata.to_owned());
    }
    let body = msg.to_string();
    let at = || {
        format!(
            "seccomp: sending the notify fd to {}",
            listener_path.display()
        )
    };
    let mut sock = UnixStream::connect(listener_path).map_err(|e| Error::io(at(), e))?;
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(body.as_bytes())];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(|e| Error::sys(at(), e))?,
        }
    };
    if sent < body.len() {
        sock.write_all(&body.as_bytes()[sent..])
            .map_err(|e| Error::io(at(), e))?;
    }
    Ok(())
}

/// What `hako features` reports under `linux.seccomp` (features-linux.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub enabled: bool,
    pub actions: Vec<String>,
    pub operators: Vec<String>,
    /// Architectures this libseccomp knows (a filter may only mix those of the native
    /// byte order).
    pub archs: Vec<String>,
    pub known_flags: Vec<String>,
    /// Flags the running kernel accepts.
    pub supported_flags: Vec<String>,
}

/// The seccomp features: actions, operators, architectures (those libseccomp supports) and
/// filter flags (known, and accepted by the running kernel), each sorted.
pub fn features() -> Features {
    let mut actions: Vec<String> = ACTIONS.iter().map(|a| action_name(*a).into()).collect();
    actions.sort();
    let v26 = libseccomp::ScmpVersion::current()
        .map(|v| (v.major, v.minor) >= (2, 6))
        .unwrap_or(false);
    let archs = ARCHS
        .iter()
        .filter(|(_, a, _)| *a != ScmpArch::Native && (v26 || !NEEDS_2_6.contains(a)))
        .map(|(_, _, n)| n.to_string())
        .collect();
    let known_flags = FLAGS.iter().map(|(_, _, n)| n.to_string()).collect();
    let supported_flags = FLAGS
        .iter()
        .filter(|(_, v, _)| kernel_accepts_flag(*v))
        .map(|(_, _, n)| n.to_string())
        .collect();
    Features {
        enabled: true,
        actions,
        operators: OPERATORS.iter().map(|s| s.to_string()).collect(),
        archs,
        known_flags,
        supported_flags,
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL)` fails with `EFAULT` (the NULL program)
/// when the kernel knows `flag`, `EINVAL` when it does not; nothing is loaded either way.
fn kernel_accepts_flag(flag: u64) -> bool {
    // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
    let flags = if flag == FLAG_WAIT_KILLABLE_RECV {
        flag | FLAG_NEW_LISTENER
    } else {
        flag
    };
    // SAFETY: a NULL program is never dereferenced successfully; the call only validates.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && nix::errno::Errno::last() == nix::errno::Errno::EFAULT
}

/// A short text description of `f` (for `--debug` logs).
pub fn describe(f: &Filter) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{} BPF instructions, flags {:#x}{}",
        f.insns.len(),
        f.flags,
        if f.notify { ", notify" } else { "" }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("test profile parses")
    }

    /// Forks; the child sets no_new_privs, loads `f`, runs `body` and exits with its
    /// result. Returns the exit code, or 128+signal. (glibc's fork makes malloc usable in
    /// the child; `body` still sticks to raw system calls.)
    fn in_child(f: &Filter, body: fn(Option<OwnedFd>) -> i32) -> i32 {
        // SAFETY: the child only makes system calls and exits with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(200);
                }
                match load(f) {
                    Ok(fd) => body(fd),
                    Err(_) => 201,
                }
            };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        }
    }

    fn errno() -> i32 {
        // SAFETY: reads the thread's errno.
        unsafe { *libc::__errno_location() }
    }

    /// Raw syscall: its errno, or 0 on success.
    fn sys3(nr: libc::c_long, a: u64, b: u64, c: u64) -> i32 {
        // SAFETY: the test syscalls below take plain integers.
        let r = unsafe { libc::syscall(nr, a, b, c) };
        if r < 0 {
            errno()
        } else {
            0
        }
    }

    #[test]
    fn seccomp_errno_actions() {
        let f = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]}"#,
        ))
        .expect("compiles");
        assert!(!f.wants_listener());
        let code = in_child(&f, |_| {
            if sys3(libc::SYS_getpid, 0, 0, 0) != libc::EPERM {
                return 1;
            }
            if sys3(libc::SYS_getppid, 0, 0, 0) != 38 {
                return 2;
            }
            // SAFETY: a constant path.
            let r = unsafe { libc::mkdir(c"/nonexistent-hako/x".as_ptr(), 0o755) };
            if r != -1 || errno() != 99 {
                return 3;
            }
            // Unlisted syscalls are allowed.
            if sys3(libc::SYS_getuid, 0, 0, 0) != 0 {
                return 4;
            }
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn seccomp_default_errno_and_arg_eq() {
        // Default ERRNO(55); personality allowed only with arg0 == 0xffffffff (query).
        let f = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 55, "syscalls": [
                {"names": ["exit", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]}
            ]}"#,
        ))
        .expect("compiles");
        let code = in_child(&f, |_| {
            if sys3(libc::SYS_personality, 0xffff_ffff, 0, 0) != 0 {
                return 1;
            }
            if sys3(libc::SYS_personality, 8, 0, 0) != 55 {
                return 2;
            }
            if sys3(libc::SYS_getpid, 0, 0, 0) != 55 {
                return 3;
            }
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn seccomp_masked_eq_and_64bit_args() {
        let f = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 44,
                 "args": [{"index": 1, "value": 3584, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
                 "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GT"}]}
            ]}"#,
        ))
        .expect("compiles");
        let code = in_child(&f, |_| {
            let neg1 = u64::MAX; // fd -1: EBADF when allowed
                                 // (mode & 07000) == 04000
            if sys3(libc::SYS_fchmod, neg1, 0o4755, 0) != 44 {
                return 1;
            }
            if sys3(libc::SYS_fchmod, neg1, 0o755, 0) != libc::EBADF {
                return 2;
            }
            if sys3(libc::SYS_fchmod, neg1, 0o6755, 0) != libc::EBADF {
                return 3;
            }
            // 64-bit comparison: high word decides, then low word.
            if sys3(libc::SYS_lseek, neg1, 0x1_0000_0001, 0) != 33 {
                return 4;
            }
            if sys3(libc::SYS_lseek, neg1, 0x1_0000_0000, 0) != libc::EBADF {
                return 5;
            }
            if sys3(libc::SYS_lseek, neg1, 0xffff_ffff, 0) != libc::EBADF {
                return 6;
            }
            if sys3(libc::SYS_lseek, neg1, 0x2_0000_0000, 0) != 33 {
                return 7;
            }
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn seccomp_args_and_vs_same_index_or() {
        // Different indexes: AND. Same index twice: one rule each (OR), as runc.
        let f = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 46,
                 "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"},
                          {"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 45,
                 "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]}
            ]}"#,
        ))
        .expect("compiles");
        let code = in_child(&f, |_| {
            let neg1 = u64::MAX;
            if sys3(libc::SYS_lseek, neg1, 7, 1) != 46 {
                return 1;
            }
            if sys3(libc::SYS_lseek, neg1, 7, 0) != libc::EBADF {
                return 2;
            }
            if sys3(libc::SYS_lseek, neg1, 8, 1) != libc::EBADF {
                return 3;
            }
            if sys3(libc::SYS_fchmod, neg1, 1, 0) != 45 {
                return 4;
            }
            if sys3(libc::SYS_fchmod, neg1, 2, 0) != 45 {
                return 5;
            }
            if sys3(libc::SYS_fchmod, neg1, 3, 0) != libc::EBADF {
                return 6;
            }
            0
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn seccomp_kill_log_and_flags() {
        let f = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
                {"names": ["getuid"], "action": "SCMP_ACT_LOG"},
                {"names": ["getgid"], "action": "SCMP_ACT_KILL"},
                {"names": ["getegid"], "action": "SCMP_ACT_TRAP"}
            ]}"#,
        ))
        .expect("compiles");
        // WAIT_KILLABLE_RECV dropped without a listener.
        assert_eq!(f.flags(), FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC);
        assert_eq!(
            in_child(&f, |_| sys3(libc::SYS_getuid, 0, 0, 0)),
            0,
            "LOG allows"
        );
        assert_eq!(
            in_child(&f, |_| sys3(libc::SYS_getppid, 0, 0, 0)),
            128 + libc::SIGSYS
        );
        assert_eq!(
            in_child(&f, |_| sys3(libc::SYS_getgid, 0, 0, 0)),
            128 + libc::SIGSYS
        );
        assert_eq!(
            in_child(&f, |_| sys3(libc::SYS_getegid, 0, 0, 0)),
            128 + libc::SIGSYS
        );
    }

    #[test]
    fn seccomp_trace_without_tracer_is_enosys() {
        let f = compile(&profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}
            ]}"#,
        ))
        .expect("compiles");
        // No tracer attached: the kernel fails the syscall with ENOSYS.
        assert_eq!(
            in_child(&f, |_| sys3(libc::SYS_getppid, 0, 0, 0)),
            libc::ENOSYS
        );
    }

    #[test]
    fn seccomp_notify_sends_state_and_fd() {
        use nix::sys::socket::{recvmsg, ControlMessageOwned};
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let json = format!(
            r#"{{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "{}",
                "listenerMetadata": "meta=1",
                "syscalls": [{{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}}]}}"#,
            sock.display()
        );
        let s = profile(&json);
        validate(&s).expect("valid");
        let f = compile(&s).expect("compiles");
        assert!(f.wants_listener());
        assert!(f.flags() & FLAG_NEW_LISTENER != 0);
        // The child sends the fd itself, to the path stashed in a static (fn pointers
        // cannot capture).
        let _ = PATH.set(sock.clone());
        let agent = std::thread::spawn(move || {
            let (conn, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; 4096];
            let mut cbuf = nix::cmsg_space!([std::os::fd::RawFd; 1]);
            let (n, fd) = {
                let mut iov = [std::io::IoSliceMut::new(&mut buf)];
                let m = recvmsg::<()>(
                    conn.as_raw_fd(),
                    &mut iov,
                    Some(&mut cbuf),
                    MsgFlags::empty(),
                )
                .expect("recvmsg");
                let mut fd = None;
                for c in m.cmsgs().expect("cmsgs") {
                    if let ControlMessageOwned::ScmRights(v) = c {
                        fd = v.first().copied();
                    }
                }
                (m.bytes, fd.expect("an fd"))
            };
            let v: serde_json::Value = serde_json::from_slice(&buf[..n]).expect("json");
            assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
            assert_eq!(v["metadata"], "meta=1");
            assert_eq!(v["state"]["id"], "c1");
            assert_eq!(v["pid"], v["state"]["pid"]);
            let req = libseccomp::ScmpNotifReq::receive(fd).expect("notif recv");
            libseccomp::ScmpNotifResp::new_val(
                req.id,
                4242,
                libseccomp::ScmpNotifRespFlags::empty(),
            )
            .respond(fd)
            .expect("respond");
            // SAFETY: the received fd is ours.
            unsafe { libc::close(fd) };
        });
        let code = in_child(&f, |fd| {
            let Some(fd) = fd else { return 1 };
            let Some(path) = PATH.get() else { return 2 };
            // SAFETY: getpid has no arguments.
            let pid = unsafe { libc::getpid() };
            let state = format!(
                r#"{{"ociVersion":"1.3.0","id":"c1","status":"created","pid":{pid},"bundle":"/b"}}"#
            );
            if send_notify_fd(path, &state, "meta=1", std::os::fd::AsFd::as_fd(&fd)).is_err() {
                return 3;
            }
            drop(fd);
            // SAFETY: getppid has no arguments; the agent answers 4242.
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            if r == 4242 {
                0
            } else {
                4
            }
        });
        agent.join().expect("agent");
        assert_eq!(code, 0);
    }

    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

    #[test]
    fn seccomp_validate_errors() {
        let cases = [
            (
                r#"{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}"#,
                "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#,
                "linux.seccomp.defaultErrnoRet: not supported by SCMP_ACT_ALLOW",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}"#,
                "linux.seccomp.defaultErrnoRet: 70000 does not fit",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}"#,
                "linux.seccomp.listenerMetadata: must not be set without listenerPath",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}"#,
                "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]}"#,
                "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#,
                "linux.seccomp.syscalls[0].names: must have at least one entry",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}, {"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 3}]}"#,
                "linux.seccomp.syscalls[1].errnoRet: not supported by SCMP_ACT_KILL",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                "linux.seccomp.syscalls[0].args[0].index: 6 is outside [0, 5]",
            ),
        ];
        for (json, want) in cases {
            let s = profile(json);
            let e = validate(&s).expect_err(json);
            assert!(
                e.to_string().starts_with(want),
                "{json}: got {e}, want {want}"
            );
            let e = compile(&s).expect_err(json);
            assert!(
                e.to_string().starts_with(want),
                "{json}: got {e}, want {want}"
            );
        }
    }

    #[test]
    fn seccomp_unknown_syscalls_are_skipped() {
        let s = profile(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
                "syscalls": [{"names": ["read", "no_such_syscall_hako", "socketcall"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["write"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        validate(&s).expect("unknown names only warn");
        let f = compile(&s).expect("compiles");
        assert!(f.len() > 4);
        let back = Filter::from_bytes(&f.to_bytes()).expect("roundtrip");
        assert_eq!(back, f);
        assert!(Filter::from_bytes(b"HAKOBPF1garbage").is_none());
    }

    #[test]
    fn seccomp_cache_hits_and_misses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        let a = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        let b = profile(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2}]}"#,
        );
        let fa = compile_cached(&a, Some(&cache)).expect("compiles");
        assert_eq!(fa, compile(&a).expect("compiles"));
        let files: Vec<_> = std::fs::read_dir(&cache).expect("cache dir").collect();
        assert_eq!(files.len(), 1, "one cache file");
        assert_eq!(compile_cached(&a, Some(&cache)).expect("hit"), fa);
        let fb = compile_cached(&b, Some(&cache)).expect("compiles");
        assert_ne!(fa, fb);
        assert_eq!(fb, compile(&b).expect("compiles"));
        // A corrupt entry is a miss, rewritten.
        for e in std::fs::read_dir(&cache).expect("cache dir") {
            let p = e.expect("entry").path();
            std::fs::write(&p, b"HAKOSCC1junk").expect("write");
        }
        assert_eq!(compile_cached(&a, Some(&cache)).expect("recompiles"), fa);
        // Invalid profiles fail the same way with or without cache.
        let bad = profile(r#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#);
        assert!(compile_cached(&bad, Some(&cache)).is_err());
    }

    #[test]
    fn seccomp_features_lists() {
        let f = features();
        assert!(f.enabled);
        assert_eq!(f.actions.len(), 9);
        assert!(f.actions.iter().any(|a| a == "SCMP_ACT_NOTIFY"));
        assert_eq!(f.operators.len(), 7);
        assert!(f.archs.iter().any(|a| a == "SCMP_ARCH_X86_64"));
        assert!(f.archs.iter().any(|a| a == "SCMP_ARCH_AARCH64"));
        assert_eq!(f.known_flags.len(), 4);
        assert!(f
            .supported_flags
            .iter()
            .any(|a| a == "SECCOMP_FILTER_FLAG_LOG"));
        println!(
            "seccomp features: {}",
            serde_json::to_string(&f).unwrap_or_default()
        );
    }

    /// Converts containers-common's seccomp.json (podman's default profile) to the OCI
    /// `linux.seccomp` podman would generate for an x86_64 container with the default caps.
    fn podman_profile() -> Option<LinuxSeccomp> {
        let text = std::fs::read_to_string("/usr/share/containers/seccomp.json").ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let caps = [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ];
        let arch = if cfg!(target_arch = "aarch64") {
            "arm64"
        } else {
            "amd64"
        };
        let strs = |x: &serde_json::Value| -> Vec<String> {
            x.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut syscalls = Vec::new();
        for sc in v["syscalls"].as_array()? {
            let inc_caps = strs(&sc["includes"]["caps"]);
            let inc_arch = strs(&sc["includes"]["arches"]);
            let exc_caps = strs(&sc["excludes"]["caps"]);
            if !inc_caps.iter().all(|c| caps.contains(&c.as_str()))
                || !(inc_arch.is_empty() || inc_arch.iter().any(|a| a == arch))
                || exc_caps.iter().any(|c| caps.contains(&c.as_str()))
            {
                continue;
            }
            let mut o = serde_json::json!({"names": sc["names"], "action": sc["action"]});
            if let Some(e) = sc.get("errnoRet") {
                o["errnoRet"] = e.clone();
            }
            if sc["args"].as_array().is_some_and(|a| !a.is_empty()) {
                o["args"] = sc["args"].clone();
            }
            syscalls.push(o);
        }
        let archs = v["archMap"]
            .as_array()?
            .iter()
            .find(|m| {
                m["architecture"]
                    == if arch == "arm64" {
                        "SCMP_ARCH_AARCH64"
                    } else {
                        "SCMP_ARCH_X86_64"
                    }
            })
            .map(|m| {
                let mut a = vec![m["architecture"].clone()];
                a.extend(
                    m["subArchitectures"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                );
                a
            })?;
        let oci = serde_json::json!({
            "defaultAction": v["defaultAction"],
            "defaultErrnoRet": v["defaultErrnoRet"],
            "architectures": archs,
            "syscalls": syscalls,
        });
        serde_json::from_value(oci).ok()
    }

    #[test]
    fn seccomp_podman_default_profile() {
        let Some(s) = podman_profile() else {
            println!("seccomp: /usr/share/containers/seccomp.json missing (apt-get install golang-github-containers-common); skipped");
            return;
        };
        validate(&s).expect("podman's profile is valid");
        let n: usize = s
            .syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|c| c.names().len())
            .sum();
        let t = Instant::now();
        let f = compile(&s).expect("podman's profile compiles");
        let first = t.elapsed();
        let t = Instant::now();
        let runs = 20;
        for _ in 0..runs {
            compile(&s).expect("compiles");
        }
        let each = t.elapsed() / runs;
        println!(
            "seccomp: podman profile ({n} syscall names): first compile {first:?}, then {each:?} each; {}",
            describe(&f)
        );
        let dir = tempfile::tempdir().expect("tempdir");
        compile_cached(&s, Some(dir.path())).expect("compiles");
        let t = Instant::now();
        let back = compile_cached(&s, Some(dir.path())).expect("cache hit");
        println!("seccomp: podman profile from the cache: {:?}", t.elapsed());
        assert_eq!(back, f);
        // Behaviour under the real profile: ordinary calls work, blocked ones fail.
        let code = in_child(&back, |_| {
            if sys3(libc::SYS_getpid, 0, 0, 0) != 0 {
                return 1;
            }
            // personality(0xffffffff) (query) is allowed by an args rule.
            if sys3(libc::SYS_personality, 0xffff_ffff, 0, 0) != 0 {
                return 2;
            }
            // kexec_load: ERRNO(EPERM) in the profile.
            if sys3(libc::SYS_kexec_load, 0, 0, 0) != libc::EPERM {
                return 3;
            }
            // personality with another value: default action ERRNO(ENOSYS).
            if sys3(libc::SYS_personality, 0x0040_0000, 0, 0) != libc::ENOSYS {
                return 4;
            }
            0
        });
        assert_eq!(code, 0);
    }
}
