//! config-linux.md "Network Devices" (`linux.netDevices`): move existing host interfaces into
//! the container's network namespace, rename them, keep their permanent global addresses, and
//! bring them up.
//!
//! Plain rtnetlink over a raw `NETLINK_ROUTE` socket, no library. Where each step runs:
//!
//! * `hako create` (the parent, in the host's network namespace) does everything, after the
//!   clone and before `Go`, with the init's network namespace open from `/proc/<pid>/ns/net`.
//!   Nothing of the container runs yet, so nothing can race with the move (a sysctl of the
//!   moved device, `net.ipv4.conf.<name>.*`, already finds it).
//! * Host side (a socket in our own namespace): `RTM_GETLINK` by name (the device must exist),
//!   `RTM_GETADDR` (the addresses to keep: `IFA_F_PERMANENT` with `RT_SCOPE_UNIVERSE`, of every
//!   family), then one `RTM_NEWLINK` with `IFLA_NET_NS_FD` + `IFLA_IFNAME`: the kernel moves
//!   and renames in one request (a `%d` template lets the kernel pick a free name).
//! * Container side: a second socket, created by a short-lived thread that `setns`es into the
//!   container's network namespace (a netlink socket belongs to the namespace it was created
//!   in; `setns(CLONE_NEWNET)` only affects the calling thread, so hako itself never leaves
//!   the host namespace). Through it: the container's links before and after the move (the
//!   new device is the one that appeared: its name and index, even when the kernel picked
//!   them), `RTM_NEWADDR` for each saved address, and `IFF_UP`.
//!
//! Moving strips a device of its addresses and takes it down, hence the save/restore.
//!
//! Deletion (the spec's "Namespace Lifecycle"): hako never moves a device back. When the last
//! process of the network namespace exits the kernel returns physical devices to the initial
//! namespace and destroys virtual ones (a veth pair, both ends; a dummy).
use crate::{Error, Result};
use oci_spec::runtime::Spec;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_EXT_ACK: libc::c_int = 11;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;

const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
/// Address flags a user may set and that describe the address rather than its state
/// (IFA_F_NODAD, IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR, IFA_F_NOPREFIXROUTE,
/// IFA_F_MCAUTOJOIN).
const IFA_F_KEEP: u32 = 0x02 | 0x10 | 0x100 | 0x200 | 0x400;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 0x1;
const IFNAMSIZ: usize = 16;

/// An open `NETLINK_ROUTE` socket in the network namespace it was created in.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

/// One message of a reply: type, flags and payload (after the 16-byte header).
struct Reply {
    typ: u16,
    payload: Vec<u8>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A request under construction: header, fixed payload, attributes.
struct Req {
    buf: Vec<u8>,
}

impl Req {
    fn new(typ: u16, flags: u16, fixed: &[u8]) -> Req {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&typ.to_ne_bytes());
        // Always ask for an ack: a GET by name then ends with it (a dump ends with DONE).
        let ack = if flags & NLM_F_DUMP == NLM_F_DUMP {
            0
        } else {
            NLM_F_ACK
        };
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | ack).to_ne_bytes());
        buf.extend_from_slice(fixed);
        buf.resize(align4(buf.len()), 0);
        Req { buf }
    }
    fn attr(mut self, typ: u16, data: &[u8]) -> Req {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&typ.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }
    fn attr_str(self, typ: u16, s: &str) -> Req {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(typ, &d)
    }
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = libc::AF_UNSPEC as u8;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

/// The attributes in `data` (a sequence of rtattr), as (type, payload).
fn attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let typ = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < 4 || len > data.len() {
            break;
        }
        out.push((typ, &data[4..len]));
        data = &data[align4(len).min(data.len())..];
    }
    out
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_ne_bytes)
}

/// A link: index and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: i32,
    pub name: String,
    pub flags: u32,
}

fn parse_link(payload: &[u8]) -> Option<Link> {
    if payload.len() < 16 {
        return None;
    }
    let index = u32_at(payload, 4)? as i32;
    let flags = u32_at(payload, 8)?;
    let name = attrs(&payload[16..])
        .into_iter()
        .find(|(t, _)| *t == IFLA_IFNAME)
        .map(|(_, d)| cstr(d))?;
    Some(Link { index, name, flags })
}

/// An address to restore: the fixed `ifaddrmsg` fields and the attributes that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub family: u8,
    pub prefixlen: u8,
    pub scope: u8,
    pub flags: u32,
    pub local: Option<Vec<u8>>,
    pub address: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
    pub label: Option<String>,
}

impl Addr {
    /// Printable form for error messages.
    pub fn display(&self) -> String {
        let a = self.local.as_ref().or(self.address.as_ref());
        let ip = match a.map(|v| v.as_slice()) {
            Some(&[a, b, c, d]) => std::net::Ipv4Addr::new(a, b, c, d).to_string(),
            Some(v) if v.len() == 16 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(v);
                std::net::Ipv6Addr::from(o).to_string()
            }
            _ => "?".into(),
        };
        format!("{ip}/{}", self.prefixlen)
    }
}

fn parse_addr(payload: &[u8]) -> Option<(u32, Addr)> {
    if payload.len() < 8 {
        return None;
    }
    let index = u32_at(payload, 4)?;
    let mut a = Addr {
        family: payload[0],
        prefixlen: payload[1],
        flags: u32::from(payload[2]),
        scope: payload[3],
        local: None,
        address: None,
        broadcast: None,
        label: None,
    };
    for (t, d) in attrs(&payload[8..]) {
        match t {
            IFA_LOCAL => a.local = Some(d.to_vec()),
            IFA_ADDRESS => a.address = Some(d.to_vec()),
            IFA_BROADCAST => a.broadcast = Some(d.to_vec()),
            IFA_LABEL => a.label = Some(cstr(d)),
            IFA_FLAGS => {
                if let Some(f) = u32_at(d, 0) {
                    a.flags = f;
                }
            }
            _ => {}
        }
    }
    Some((index, a))
}

/// Whether the spec says to keep this address: permanent, global scope.
pub fn keep_addr(a: &Addr) -> bool {
    a.flags & IFA_F_PERMANENT != 0 && a.scope == RT_SCOPE_UNIVERSE
}

/// The label of an IPv4 address after the device `old` was renamed to `new`: `old:alias`
/// becomes `new:alias` when that fits, anything else the plain new name.
pub fn relabel(label: Option<&str>, old: &str, new: &str) -> Option<String> {
    let l = label?;
    let suffix = l.strip_prefix(old).filter(|s| s.starts_with(':'))?;
    let out = format!("{new}{suffix}");
    (out.len() < IFNAMSIZ).then_some(out)
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        // SAFETY: socket(2).
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(Error::sys(
                "socket(AF_NETLINK, NETLINK_ROUTE)",
                nix::errno::Errno::last(),
            ));
        }
        // SAFETY: a fresh fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // Best effort: extended acks carry the kernel's error text.
        // SAFETY: setsockopt with an int.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_NETLINK,
                NETLINK_EXT_ACK,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        // SAFETY: zeroed sockaddr_nl is valid (pid 0: the kernel assigns one).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: bind with a valid sockaddr_nl.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(Error::sys("bind netlink socket", nix::errno::Errno::last()));
        }
        Ok(Netlink { fd, seq: 0 })
    }

    /// A socket in the network namespace `ns` (an open `/proc/PID/ns/net`), created by a
    /// short-lived thread that enters it; this thread stays where it is.
    pub fn open_in(ns: RawFd) -> Result<Netlink> {
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns of this (throw-away) thread only.
                if unsafe { libc::setns(ns, libc::CLONE_NEWNET) } != 0 {
                    return Err(Error::sys(
                        "setns into the container's network namespace",
                        nix::errno::Errno::last(),
                    ));
                }
                Netlink::open()
            })
            .join()
            .unwrap_or_else(|_| Err(Error::other("netlink helper thread panicked")))
        })
    }

    /// Send `req` and collect the replies (until NLMSG_DONE for a dump, or the ack).
    fn talk(&mut self, mut req: Req, what: &str) -> Result<Vec<Reply>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let len = req.buf.len() as u32;
        req.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        req.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        let dump = u16::from_ne_bytes([req.buf[6], req.buf[7]]) & NLM_F_DUMP == NLM_F_DUMP;
        // SAFETY: send(2) of our buffer; the kernel is the default destination.
        let r = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                req.buf.as_ptr().cast(),
                req.buf.len(),
                0,
            )
        };
        if r < 0 {
            return Err(Error::sys(
                format!("{what}: netlink send"),
                nix::errno::Errno::last(),
            ));
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv(2) into our buffer.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = nix::errno::Errno::last();
                if e == nix::errno::Errno::EINTR {
                    continue;
                }
                return Err(Error::sys(format!("{what}: netlink recv"), e));
            }
            let mut data = &buf[..n as usize];
            while data.len() >= NLMSG_HDRLEN {
                let mlen = u32_at(data, 0).unwrap_or(0) as usize;
                if mlen < NLMSG_HDRLEN || mlen > data.len() {
                    return Err(Error::other(format!("{what}: malformed netlink reply")));
                }
                let typ = u16::from_ne_bytes([data[4], data[5]]);
                let flags = u16::from_ne_bytes([data[6], data[7]]);
                let mseq = u32_at(data, 8).unwrap_or(0);
                let payload = &data[NLMSG_HDRLEN..mlen];
                data = &data[align4(mlen).min(data.len())..];
                if mseq != seq {
                    continue;
                }
                match typ {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = u32_at(payload, 0).unwrap_or(0) as i32;
                        if code == 0 {
                            if !dump {
                                return Ok(out);
                            }
                            continue;
                        }
                        let mut ext = String::new();
                        if flags & NLM_F_ACK_TLVS != 0 {
                            let orig = if flags & NLM_F_CAPPED != 0 {
                                NLMSG_HDRLEN
                            } else {
                                align4(u32_at(payload, 4).unwrap_or(0) as usize)
                            };
                            if let Some(tlvs) = payload.get(4 + orig..) {
                                if let Some((_, m)) = attrs(tlvs)
                                    .into_iter()
                                    .find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
                                {
                                    ext = format!(" (kernel: {})", cstr(m));
                                }
                            }
                        }
                        return Err(Error::sys(
                            format!("{what}{ext}"),
                            nix::errno::Errno::from_raw(-code),
                        ));
                    }
                    _ => out.push(Reply {
                        typ,
                        payload: payload.to_vec(),
                    }),
                }
            }
        }
    }

    /// The link named `name`, or None if there is none.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        let req = Req::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, name);
        match self.talk(req, &format!("look up network device {name:?}")) {
            Ok(r) => Ok(r
                .iter()
                .filter(|m| m.typ == RTM_NEWLINK)
                .find_map(|m| parse_link(&m.payload))),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let req = Req::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(0, 0, 0));
        Ok(self
            .talk(req, "list network devices")?
            .iter()
            .filter(|m| m.typ == RTM_NEWLINK)
            .filter_map(|m| parse_link(&m.payload))
            .collect())
    }

    /// Every address of the link `index`.
    pub fn addrs(&mut self, index: i32) -> Result<Vec<Addr>> {
        let req = Req::new(RTM_GETADDR, NLM_F_DUMP, &[0u8; 8]);
        Ok(self
            .talk(req, "list addresses")?
            .iter()
            .filter(|m| m.typ == RTM_NEWADDR)
            .filter_map(|m| parse_addr(&m.payload))
            .filter(|(i, _)| *i as i32 == index)
            .map(|(_, a)| a)
            .collect())
    }

    /// Move the link `index` into the namespace `ns_fd`, named `name` there.
    pub fn move_to_netns(&mut self, index: i32, ns_fd: RawFd, name: &str) -> Result<()> {
        let req = Req::new(RTM_NEWLINK, NLM_F_ACK, &ifinfomsg(index, 0, 0))
            .attr(IFLA_NET_NS_FD, &(ns_fd as u32).to_ne_bytes())
            .attr_str(IFLA_IFNAME, name);
        self.talk(req, "move into the container's network namespace")
            .map(|_| ())
    }

    /// Add an address to the link `index`.
    pub fn add_addr(&mut self, index: i32, a: &Addr) -> Result<()> {
        let mut fixed = [0u8; 8];
        fixed[0] = a.family;
        fixed[1] = a.prefixlen;
        fixed[2] = (a.flags & IFA_F_KEEP) as u8;
        fixed[3] = a.scope;
        fixed[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        let mut req = Req::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &fixed);
        if let Some(l) = &a.local {
            req = req.attr(IFA_LOCAL, l);
        }
        if let Some(ad) = &a.address {
            req = req.attr(IFA_ADDRESS, ad);
        }
        if let Some(b) = &a.broadcast {
            req = req.attr(IFA_BROADCAST, b);
        }
        if let Some(l) = &a.label {
            req = req.attr_str(IFA_LABEL, l);
        }
        req = req.attr(IFA_FLAGS, &(a.flags & IFA_F_KEEP).to_ne_bytes());
        self.talk(req, &format!("add address {}", a.display()))
            .map(|_| ())
    }

    /// Set IFF_UP on the link `index`.
    pub fn set_up(&mut self, index: i32) -> Result<()> {
        let req = Req::new(RTM_NEWLINK, NLM_F_ACK, &ifinfomsg(index, IFF_UP, IFF_UP));
        self.talk(req, "set the device up").map(|_| ())
    }
}

fn ns_id(path: &str) -> Result<(u64, u64)> {
    let md = std::fs::metadata(path).map_err(|e| Error::io(format!("stat {path}"), e))?;
    Ok((md.dev(), md.ino()))
}

/// The devices of `linux.netDevices` as (host name, name in the container), in a stable order.
pub fn requested(spec: &Spec) -> Vec<(String, String)> {
    let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return Vec::new();
    };
    let sorted: BTreeMap<&String, _> = devs.iter().collect();
    sorted
        .into_iter()
        .map(|(host, d)| {
            let name = d
                .name()
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(host.as_str());
            (host.clone(), name.to_string())
        })
        .collect()
}

/// Move every device of `linux.netDevices` into the network namespace of `pid` (the
/// container's init, or the two-step intermediate process, which is in the same network
/// namespace), rename it, restore its permanent global addresses and bring it up. Called by
/// `hako create` in the host namespaces, before the init is released.
pub fn attach(spec: &Spec, pid: i32) -> Result<()> {
    let devs = requested(spec);
    if devs.is_empty() {
        return Ok(());
    }
    let ns_path = format!("/proc/{pid}/ns/net");
    if ns_id(&ns_path)? == ns_id("/proc/self/ns/net")? {
        return Err(Error::config(
            "linux.netDevices",
            "the container shares the host's network namespace (add a network namespace)",
        ));
    }
    let ns = File::open(&ns_path).map_err(|e| Error::io(format!("open {ns_path}"), e))?;
    let mut host = Netlink::open()?;
    let mut cont = Netlink::open_in(ns.as_raw_fd())?;
    // Check everything before moving anything: a failure half-way would leave devices in a
    // namespace that dies with the failed container (destroying virtual ones).
    let mut plan = Vec::new();
    let mut taken: Vec<String> = cont.links()?.into_iter().map(|l| l.name).collect();
    for (hname, cname) in &devs {
        let at = format!("linux.netDevices.{hname}");
        let link = host.link_by_name(hname)?.ok_or_else(|| {
            Error::config(
                &at,
                "no such network device in the runtime's network namespace",
            )
        })?;
        if !cname.contains("%d") {
            if taken.iter().any(|t| t == cname) {
                return Err(Error::config(
                    &at,
                    format!("a device named {cname:?} already exists in the container's network namespace"),
                ));
            }
            taken.push(cname.clone());
        }
        let addrs: Vec<Addr> = host
            .addrs(link.index)?
            .into_iter()
            .filter(keep_addr)
            .collect();
        plan.push((at, link, cname, addrs));
    }
    for (at, link, cname, addrs) in plan {
        let before: Vec<i32> = cont.links()?.into_iter().map(|l| l.index).collect();
        host.move_to_netns(link.index, ns.as_raw_fd(), cname)
            .map_err(|e| e.context(&at))?;
        let mut new: Vec<Link> = cont
            .links()?
            .into_iter()
            .filter(|l| !before.contains(&l.index))
            .collect();
        let moved = match (new.pop(), new.is_empty()) {
            (Some(l), true) => l,
            _ => {
                return Err(Error::other(format!(
                    "{at}: cannot identify the moved device in the container's network namespace"
                )))
            }
        };
        for mut a in addrs {
            a.label = relabel(a.label.as_deref(), &link.name, &moved.name);
            cont.add_addr(moved.index, &a)
                .map_err(|e| e.context(format!("{at} (now {:?})", moved.name)))?;
        }
        cont.set_up(moved.index)
            .map_err(|e| e.context(format!("{at} (now {:?})", moved.name)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netdev_request_encoding() {
        let r = Req::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0)).attr_str(IFLA_IFNAME, "eth0");
        // header 16 + ifinfomsg 16 + rtattr (4 + "eth0\0" = 9, padded to 12)
        assert_eq!(r.buf.len(), 44);
        let a = attrs(&r.buf[32..]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, IFLA_IFNAME);
        assert_eq!(cstr(a[0].1), "eth0");
        assert_eq!(
            u16::from_ne_bytes([r.buf[6], r.buf[7]]),
            NLM_F_REQUEST | NLM_F_ACK,
            "flags"
        );
    }

    #[test]
    fn netdev_parse_link_and_addr() {
        let mut p = ifinfomsg(7, IFF_UP, 0).to_vec();
        p.extend(Req::new(0, 0, &[]).attr_str(IFLA_IFNAME, "d0").buf[16..].to_vec());
        assert_eq!(
            parse_link(&p),
            Some(Link {
                index: 7,
                name: "d0".into(),
                flags: IFF_UP
            })
        );
        let mut a = vec![libc::AF_INET as u8, 24, 0x80, 0, 7, 0, 0, 0];
        a[4..8].copy_from_slice(&7u32.to_ne_bytes());
        let body = Req::new(0, 0, &[])
            .attr(IFA_LOCAL, &[10, 200, 0, 1])
            .attr(IFA_ADDRESS, &[10, 200, 0, 1])
            .attr_str(IFA_LABEL, "d0:1")
            .attr(IFA_FLAGS, &0x80u32.to_ne_bytes());
        a.extend_from_slice(&body.buf[16..]);
        let (idx, addr) = parse_addr(&a).expect("parsed");
        assert_eq!(idx, 7);
        assert!(keep_addr(&addr));
        assert_eq!(addr.display(), "10.200.0.1/24");
        assert_eq!(addr.label.as_deref(), Some("d0:1"));
        let link_scope = Addr {
            scope: 253,
            ..addr.clone()
        };
        assert!(!keep_addr(&link_scope));
        let dynamic = Addr { flags: 0, ..addr };
        assert!(!keep_addr(&dynamic));
    }

    #[test]
    fn netdev_relabel() {
        assert_eq!(
            relabel(Some("d0:1"), "d0", "eth1").as_deref(),
            Some("eth1:1")
        );
        assert_eq!(relabel(Some("d0"), "d0", "eth1"), None);
        assert_eq!(relabel(None, "d0", "eth1"), None);
        assert_eq!(relabel(Some("d0:1"), "d0", "averylongname12"), None);
    }
}
