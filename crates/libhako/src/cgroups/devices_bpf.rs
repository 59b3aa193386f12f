//! cgroup v2 device access control: a BPF_PROG_TYPE_CGROUP_DEVICE program built from the
//! rules (default deny, the config's rules, the default devices; the last matching rule wins),
//! loaded with bpf(2) and attached to the cgroup with BPF_F_ALLOW_MULTI. Programs attached
//! before (an earlier `update`) are detached after the new one is in place.
//!
//! The program (like runc's devicefilter): load type, access, major, minor from the context,
//! then one block per rule, last rule first, each "if it matches: return allow". A rule that
//! matches everything ends the program (the verifier rejects unreachable code).
use super::conv;
use crate::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn i(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

/// Build the program for an ordered rule list (first rule applied first; last match wins).
pub fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    let mut p = vec![
        i(LDX_W, 2, 1, 0, 0),        // r2 = ctx->access_type
        i(AND32_K, 2, 0, 0, 0xffff), // r2 = type
        i(LDX_W, 3, 1, 0, 0),        // r3 = ctx->access_type
        i(RSH32_K, 3, 0, 0, 16),     // r3 = access
        i(LDX_W, 4, 1, 4, 0),        // r4 = major
        i(LDX_W, 5, 1, 8, 0),        // r5 = minor
    ];
    for (n, rule) in rules.iter().enumerate().rev() {
        let field = format!("linux.resources.devices[{n}]");
        let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => continue,
        };
        let acc = conv::device_access(rule, &field)?;
        let mask = acc.chars().fold(0, |m, c| {
            m | match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => ACC_MKNOD,
            }
        });
        let num = |v: Option<i64>| -> Result<Option<i32>> {
            match v {
                None | Some(-1) => Ok(None),
                Some(x) if (0..=i32::MAX as i64).contains(&x) => Ok(Some(x as i32)),
                Some(x) => Err(Error::config(
                    &field,
                    format!("device number {x} out of range"),
                )),
            }
        };
        let (major, minor) = (num(rule.major())?, num(rule.minor())?);
        let mut block: Vec<Insn> = Vec::new();
        if let Some(t) = typ {
            block.push(i(JNE_K, 2, 0, 0, t));
        }
        if mask != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // The requested access must be a subset of the rule's: (access & mask) == access.
            block.push(i(MOV32_X, 1, 3, 0, 0));
            block.push(i(AND32_K, 1, 0, 0, mask));
            block.push(i(JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = major {
            block.push(i(JNE_K, 4, 0, 0, m));
        }
        if let Some(m) = minor {
            block.push(i(JNE_K, 5, 0, 0, m));
        }
        let unconditional = block.is_empty();
        block.push(i(MOV32_K, 0, 0, 0, i32::from(rule.allow())));
        block.push(i(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (k, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JNE_X {
                ins.off = (len - k - 1) as i16;
            }
        }
        p.extend(block);
        if unconditional {
            return Ok(p);
        }
    }
    // Nothing matched: deny.
    p.push(i(MOV32_K, 0, 0, 0, 0));
    p.push(i(EXIT, 0, 0, 0, 0));
    Ok(p)
}

/// Evaluate a program the way the kernel would (for tests): returns r0.
pub fn eval(prog: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u32 {
    let ctx = [(access << 16) | typ, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    while pc < prog.len() {
        let ins = prog[pc];
        let (dst, src) = ((ins.regs & 0xf) as usize, (ins.regs >> 4) as usize);
        pc += 1;
        match ins.code {
            LDX_W => r[dst] = u64::from(ctx[(ins.off / 4) as usize]),
            AND32_K => r[dst] = (r[dst] as u32 & ins.imm as u32) as u64,
            RSH32_K => r[dst] = ((r[dst] as u32) >> ins.imm) as u64,
            MOV32_K => r[dst] = ins.imm as u32 as u64,
            MOV32_X => r[dst] = r[src] as u32 as u64,
            JNE_K if r[dst] != ins.imm as i64 as u64 => pc += ins.off as usize,
            JNE_X if r[dst] != r[src] => pc += ins.off as usize,
            JNE_K | JNE_X => {}
            EXIT => return r[0] as u32,
            _ => return u32::MAX,
        }
    }
    u32::MAX
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a valid, initialised bpf_attr prefix of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn load(prog: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"hako_devic");
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: bpf returned a new fd we own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            // Again with the verifier log, for the error message.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            let mut err = Error::io(
                "linux.resources.devices: load the cgroup v2 device filter (bpf BPF_PROG_LOAD)",
                e,
            );
            if !text.is_empty() {
                err = err.context(format!("verifier: {text}"));
            }
            Err(err)
        }
    }
}

/// Ids of the device programs attached to the cgroup `fd`.
pub fn attached(fd: i32) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut q = QueryAttr {
        target_fd: fd as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut q).map_err(|e| Error::io("bpf BPF_PROG_QUERY", e))?;
    ids.truncate(q.prog_cnt as usize);
    Ok(ids)
}

/// Build, load and attach the device filter for `dir`; detach the ones attached before.
pub fn apply(dir: &Path, config: Option<&[LinuxDeviceCgroup]>) -> Result<()> {
    // Errors name the config's index: validate with the real field names first.
    for (field, r) in conv::device_rules(config) {
        conv::device_rule_v1(&r, &field)?;
    }
    let rules: Vec<LinuxDeviceCgroup> = conv::device_rules(config)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    attach(dir, &rules)
}

/// Attach a program for exactly `rules` (no defaults added; nothing matched = deny) to `dir`,
/// replacing the device programs attached before.
pub fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = program(rules)?;
    let pfd = load(&prog)?;
    let cg =
        std::fs::File::open(dir).map_err(|e| Error::io(format!("open {}", dir.display()), e))?;
    let old = attached(cg.as_raw_fd()).unwrap_or_default();
    let mut a = AttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: pfd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut a).map_err(|e| {
        Error::io(
            format!(
                "linux.resources.devices: attach the device filter to {} (bpf BPF_PROG_ATTACH)",
                dir.display()
            ),
            e,
        )
    })?;
    for id in old {
        let mut g = GetFdAttr {
            prog_id: id,
            ..Default::default()
        };
        let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut g) else {
            continue;
        };
        // SAFETY: a new fd we own.
        let ofd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut d = AttachAttr {
            target_fd: cg.as_raw_fd() as u32,
            attach_bpf_fd: ofd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        bpf(BPF_PROG_DETACH, &mut d).map_err(|e| {
            Error::io(
                format!("detach the old device filter {id} from {}", dir.display()),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        t: LinuxDeviceType,
        maj: Option<i64>,
        min: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(allow);
        d.set_typ(Some(t));
        d.set_major(maj);
        d.set_minor(min);
        d.set_access(Some(acc.into()));
        d
    }

    const R: u32 = ACC_READ as u32;
    const W: u32 = ACC_WRITE as u32;
    const M: u32 = ACC_MKNOD as u32;
    const C: u32 = DEV_CHAR as u32;
    const B: u32 = DEV_BLOCK as u32;

    #[test]
    fn default_program() {
        let rules: Vec<_> = conv::device_rules(None)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let p = program(&rules).unwrap();
        assert_eq!(eval(&p, C, R | W, 1, 3), 1); // /dev/null
        assert_eq!(eval(&p, C, R, 136, 7), 1); // a pts
        assert_eq!(eval(&p, C, R, 1, 1), 0); // /dev/mem
        assert_eq!(eval(&p, B, R, 8, 0), 0); // sda
        assert_eq!(eval(&p, B, M, 8, 0), 1); // mknod allowed
                                             // Ends with the default deny block, nothing after it.
        assert_eq!(p[p.len() - 1].code, EXIT);
        assert_eq!(p[p.len() - 2], i(MOV32_K, 0, 0, 0, 0));
    }

    #[test]
    fn order_and_access() {
        let cfg = vec![
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::B, Some(8), None, "r"),
            rule(false, LinuxDeviceType::B, Some(8), Some(1), "rwm"),
        ];
        let rules: Vec<_> = conv::device_rules(Some(&cfg))
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let p = program(&rules).unwrap();
        assert_eq!(eval(&p, B, R, 8, 0), 1);
        assert_eq!(eval(&p, B, R | W, 8, 0), 0);
        assert_eq!(eval(&p, B, R, 8, 1), 0);
        // An allow-all rule last: the program is cut there.
        let cfg = vec![rule(true, LinuxDeviceType::A, None, None, "")];
        let rules: Vec<_> = conv::device_rules(Some(&cfg))
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let p = program(&rules).unwrap();
        assert_eq!(eval(&p, B, R | W, 8, 0), 1);
        // But the defaults after it are still present, allow-all stays the effective answer.
        assert_eq!(eval(&p, C, R, 1, 3), 1);
    }
}
