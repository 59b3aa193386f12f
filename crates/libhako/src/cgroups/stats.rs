//! Statistics in the shape of runc's `events --stats` (runc types/events.go: Go `omitempty`
//! fields are left out when zero, the others always present), and OOM notification.
use super::conv;
use super::resources::read;
use crate::{Error, Result};
use serde_json::{json, Map, Value};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The first of the container's directories holding `file`.
fn find(paths: &[PathBuf], file: &str) -> Option<PathBuf> {
    paths.iter().map(|d| d.join(file)).find(|p| p.exists())
}

fn num(paths: &[PathBuf], file: &str) -> u64 {
    find(paths, file)
        .and_then(|p| read(&p))
        .map(|s| parse_u64(&s))
        .unwrap_or(0)
}

/// "max" (and v1's huge "unlimited") → u64::MAX like runc; garbage → 0.
fn parse_u64(s: &str) -> u64 {
    if s == "max" {
        return u64::MAX;
    }
    s.parse().unwrap_or(0)
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, ...).
pub fn kv(text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        if let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) {
            if let Ok(n) = v.parse::<u64>() {
                m.insert(k.to_string(), json!(n));
            }
        }
    }
    m
}

fn kv_file(paths: &[PathBuf], file: &str) -> Map<String, Value> {
    find(paths, file)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| kv(&t))
        .unwrap_or_default()
}

fn get(m: &Map<String, Value>, k: &str) -> u64 {
    m.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Insert only non-zero values (Go's `omitempty`).
fn put(o: &mut Map<String, Value>, k: &str, v: u64) {
    if v != 0 {
        o.insert(k.into(), json!(v));
    }
}

fn list(paths: &[PathBuf], file: &str) -> Vec<u64> {
    find(paths, file)
        .and_then(|p| read(&p))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn cpu(paths: &[PathBuf]) -> Value {
    let mut usage = Map::new();
    let mut thr = Map::new();
    let st = kv_file(paths, "cpu.stat");
    if st.contains_key("usage_usec") {
        // v2
        put(&mut usage, "total", get(&st, "usage_usec") * 1000);
        usage.insert("kernel".into(), json!(get(&st, "system_usec") * 1000));
        usage.insert("user".into(), json!(get(&st, "user_usec") * 1000));
        put(&mut thr, "periods", get(&st, "nr_periods"));
        put(&mut thr, "throttledPeriods", get(&st, "nr_throttled"));
        put(&mut thr, "throttledTime", get(&st, "throttled_usec") * 1000);
    } else {
        put(&mut usage, "total", num(paths, "cpuacct.usage"));
        for (k, f) in [
            ("percpu", "cpuacct.usage_percpu"),
            ("percpu_kernel", "cpuacct.usage_percpu_sys"),
            ("percpu_user", "cpuacct.usage_percpu_user"),
        ] {
            let l = list(paths, f);
            if !l.is_empty() {
                usage.insert(k.into(), json!(l));
            }
        }
        let (k, u) = if find(paths, "cpuacct.usage_sys").is_some() {
            (
                num(paths, "cpuacct.usage_sys"),
                num(paths, "cpuacct.usage_user"),
            )
        } else {
            // cpuacct.stat is in USER_HZ ticks.
            let s = kv_file(paths, "cpuacct.stat");
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            (
                get(&s, "system") * 1_000_000_000 / hz,
                get(&s, "user") * 1_000_000_000 / hz,
            )
        };
        usage.insert("kernel".into(), json!(k));
        usage.insert("user".into(), json!(u));
        put(&mut thr, "periods", get(&st, "nr_periods"));
        put(&mut thr, "throttledPeriods", get(&st, "nr_throttled"));
        put(&mut thr, "throttledTime", get(&st, "throttled_time"));
    }
    json!({"usage": usage, "throttling": thr})
}

fn mem_entry(limit: u64, usage: u64, max: u64, failcnt: u64) -> Value {
    let mut o = Map::new();
    o.insert("limit".into(), json!(limit));
    put(&mut o, "usage", usage);
    put(&mut o, "max", max);
    o.insert("failcnt".into(), json!(failcnt));
    Value::Object(o)
}

fn memory(paths: &[PathBuf]) -> Value {
    let raw = kv_file(paths, "memory.stat");
    let mut o = Map::new();
    if find(paths, "memory.current").is_some() {
        let ev = kv_file(paths, "memory.events");
        let (lim, cur) = (num(paths, "memory.max"), num(paths, "memory.current"));
        put(&mut o, "cache", get(&raw, "file"));
        o.insert(
            "usage".into(),
            mem_entry(lim, cur, num(paths, "memory.peak"), get(&ev, "max")),
        );
        // Like runc: v1 reports memory+swap, so add the memory figures.
        let sl = num(paths, "memory.swap.max");
        let sl = if sl == u64::MAX {
            sl
        } else {
            sl.saturating_add(lim)
        };
        let sev = kv_file(paths, "memory.swap.events");
        o.insert(
            "swap".into(),
            mem_entry(
                sl,
                num(paths, "memory.swap.current") + cur,
                0,
                get(&sev, "max"),
            ),
        );
        o.insert("kernel".into(), mem_entry(0, 0, 0, 0));
        o.insert("kernelTCP".into(), mem_entry(0, 0, 0, 0));
    } else {
        put(&mut o, "cache", get(&raw, "cache"));
        for (k, pre) in [
            ("usage", "memory."),
            ("swap", "memory.memsw."),
            ("kernel", "memory.kmem."),
            ("kernelTCP", "memory.kmem.tcp."),
        ] {
            let n = |f: &str| num(paths, &format!("{pre}{f}"));
            o.insert(
                k.into(),
                mem_entry(
                    n("limit_in_bytes"),
                    n("usage_in_bytes"),
                    n("max_usage_in_bytes"),
                    n("failcnt"),
                ),
            );
        }
    }
    if !raw.is_empty() {
        o.insert("raw".into(), Value::Object(raw));
    }
    Value::Object(o)
}

fn pids(paths: &[PathBuf]) -> Value {
    let mut o = Map::new();
    put(&mut o, "current", num(paths, "pids.current"));
    let max = num(paths, "pids.max");
    put(&mut o, "limit", if max == u64::MAX { 0 } else { max });
    Value::Object(o)
}

fn blkio_entries(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let Some((ma, mi)) = f[0].split_once(':') else {
            continue;
        };
        let mut o = Map::new();
        put(&mut o, "major", ma.parse().unwrap_or(0));
        put(&mut o, "minor", mi.parse().unwrap_or(0));
        o.insert("op".into(), json!(f[1]));
        put(&mut o, "value", f[2].parse().unwrap_or(0));
        out.push(Value::Object(o));
    }
    out
}

fn blkio(paths: &[PathBuf]) -> Value {
    let mut o = Map::new();
    if let Some(t) = find(paths, "io.stat").and_then(|p| std::fs::read_to_string(p).ok()) {
        let (mut bytes, mut ios) = (Vec::new(), Vec::new());
        for l in t.lines() {
            let mut it = l.split_whitespace();
            let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
                continue;
            };
            let (ma, mi): (u64, u64) = (ma.parse().unwrap_or(0), mi.parse().unwrap_or(0));
            for kv in it {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let v: u64 = v.parse().unwrap_or(0);
                let (dst, op) = match k {
                    "rbytes" => (&mut bytes, "Read"),
                    "wbytes" => (&mut bytes, "Write"),
                    "rios" => (&mut ios, "Read"),
                    "wios" => (&mut ios, "Write"),
                    _ => continue,
                };
                let mut e = Map::new();
                put(&mut e, "major", ma);
                put(&mut e, "minor", mi);
                e.insert("op".into(), json!(op));
                put(&mut e, "value", v);
                dst.push(Value::Object(e));
            }
        }
        if !bytes.is_empty() {
            o.insert("ioServiceBytesRecursive".into(), json!(bytes));
        }
        if !ios.is_empty() {
            o.insert("ioServicedRecursive".into(), json!(ios));
        }
        return Value::Object(o);
    }
    for (k, files) in [
        (
            "ioServiceBytesRecursive",
            [
                "blkio.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
            ],
        ),
        (
            "ioServicedRecursive",
            [
                "blkio.io_serviced_recursive",
                "blkio.throttle.io_serviced_recursive",
            ],
        ),
    ] {
        let text = files
            .iter()
            .find_map(|f| find(paths, f).and_then(|p| std::fs::read_to_string(p).ok()))
            .unwrap_or_default();
        let e = blkio_entries(&text);
        if !e.is_empty() {
            o.insert(k.into(), json!(e));
        }
    }
    Value::Object(o)
}

fn hugetlb(paths: &[PathBuf]) -> Value {
    let mut o = Map::new();
    for sz in conv::host_hugepage_sizes() {
        let mut e = Map::new();
        if find(paths, &format!("hugetlb.{sz}.current")).is_some() {
            put(
                &mut e,
                "usage",
                num(paths, &format!("hugetlb.{sz}.current")),
            );
            let ev = kv_file(paths, &format!("hugetlb.{sz}.events"));
            e.insert("failcnt".into(), json!(get(&ev, "max")));
        } else if find(paths, &format!("hugetlb.{sz}.usage_in_bytes")).is_some() {
            put(
                &mut e,
                "usage",
                num(paths, &format!("hugetlb.{sz}.usage_in_bytes")),
            );
            put(
                &mut e,
                "max",
                num(paths, &format!("hugetlb.{sz}.max_usage_in_bytes")),
            );
            e.insert(
                "failcnt".into(),
                json!(num(paths, &format!("hugetlb.{sz}.failcnt"))),
            );
        } else {
            continue;
        }
        o.insert(sz, Value::Object(e));
    }
    Value::Object(o)
}

fn cpuset(paths: &[PathBuf]) -> Value {
    let mut o = Map::new();
    for (k, files) in [
        ("cpus", ["cpuset.effective_cpus", "cpuset.cpus.effective"]),
        ("mems", ["cpuset.effective_mems", "cpuset.mems.effective"]),
    ] {
        let s = files
            .iter()
            .find_map(|f| find(paths, f).and_then(|p| read(&p)))
            .unwrap_or_default();
        let set = conv::parse_cpuset(&s).unwrap_or_default();
        if !set.is_empty() {
            o.insert(k.into(), json!(set.into_iter().collect::<Vec<_>>()));
        }
    }
    for (k, f) in [
        ("cpu_exclusive", "cpuset.cpu_exclusive"),
        ("mem_hardwall", "cpuset.mem_hardwall"),
        ("mem_exclusive", "cpuset.mem_exclusive"),
        ("memory_migrate", "cpuset.memory_migrate"),
        ("memory_spread_page", "cpuset.memory_spread_page"),
        ("memory_spread_slab", "cpuset.memory_spread_slab"),
        ("memory_pressure", "cpuset.memory_pressure"),
        ("sched_load_balance", "cpuset.sched_load_balance"),
    ] {
        o.insert(k.into(), json!(num(paths, f)));
    }
    let lvl: i64 = find(paths, "cpuset.sched_relax_domain_level")
        .and_then(|p| read(&p))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    o.insert("sched_relax_domain_level".into(), json!(lvl));
    Value::Object(o)
}

/// The `data` object of runc's stats event for the container's cgroups.
pub fn stats(paths: &[PathBuf]) -> Value {
    json!({
        "cpu": cpu(paths),
        "cpuset": cpuset(paths),
        "memory": memory(paths),
        "pids": pids(paths),
        "blkio": blkio(paths),
        "hugetlb": hugetlb(paths),
        "intel_rdt": {},
        "network_interfaces": null,
    })
}

/// The whole event, as `runc events --stats` prints it.
pub fn stats_event(id: &str, paths: &[PathBuf]) -> Value {
    json!({"type": "stats", "id": id, "data": stats(paths)})
}

/// OOM kills so far (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`).
pub fn oom_count(paths: &[PathBuf]) -> u64 {
    let ev = kv_file(paths, "memory.events");
    if ev.contains_key("oom_kill") {
        return get(&ev, "oom_kill");
    }
    get(&kv_file(paths, "memory.oom_control"), "oom_kill")
}

/// What [`OomWatcher::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomEvent {
    /// The OOM killer ran in the container (the counter went up).
    Oom,
    Timeout,
    /// The cgroup was removed.
    Gone,
}

/// Wait for OOM events: v1 an eventfd registered through cgroup.event_control for
/// memory.oom_control; v2 inotify on memory.events. `fd()` can go into a caller's poll loop.
pub struct OomWatcher {
    fd: OwnedFd,
    paths: Vec<PathBuf>,
    events_file: PathBuf,
    last: u64,
    v2: bool,
    _oc: Option<std::fs::File>,
}

impl OomWatcher {
    pub fn new(paths: &[PathBuf]) -> Result<OomWatcher> {
        let last = oom_count(paths);
        if let Some(ev) = find(paths, "memory.events") {
            // SAFETY: plain syscalls; the fd is checked.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
            if fd < 0 {
                return Err(Error::io("inotify_init1", std::io::Error::last_os_error()));
            }
            // SAFETY: a new fd we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let c = std::ffi::CString::new(ev.as_os_str().as_encoded_bytes())
                .map_err(|_| Error::other("bad path"))?;
            // SAFETY: valid fd and NUL-terminated path.
            let w = unsafe {
                libc::inotify_add_watch(
                    fd.as_raw_fd(),
                    c.as_ptr(),
                    libc::IN_MODIFY | libc::IN_DELETE_SELF,
                )
            };
            if w < 0 {
                return Err(Error::io(
                    format!("inotify_add_watch {}", ev.display()),
                    std::io::Error::last_os_error(),
                ));
            }
            return Ok(OomWatcher {
                fd,
                paths: paths.to_vec(),
                events_file: ev,
                last,
                v2: true,
                _oc: None,
            });
        }
        let oc = find(paths, "memory.oom_control")
            .ok_or_else(|| Error::other("the container has no memory cgroup"))?;
        let dir = oc.parent().map(Path::to_path_buf).unwrap_or_default();
        let ocf =
            std::fs::File::open(&oc).map_err(|e| Error::io(format!("open {}", oc.display()), e))?;
        // SAFETY: plain syscall; the fd is checked.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(Error::io("eventfd", std::io::Error::last_os_error()));
        }
        // SAFETY: a new fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(efd) };
        let ctl = dir.join("cgroup.event_control");
        super::resources::write_file(&ctl, &format!("{} {}", fd.as_raw_fd(), ocf.as_raw_fd()))
            .map_err(|e| Error::io(format!("write {}", ctl.display()), e))?;
        Ok(OomWatcher {
            fd,
            paths: paths.to_vec(),
            events_file: ctl,
            last,
            v2: false,
            _oc: Some(ocf),
        })
    }

    /// The fd to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Wait up to `timeout` (None: forever) for an OOM kill.
    pub fn wait(&mut self, timeout: Option<std::time::Duration>) -> Result<OomEvent> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(OomEvent::Timeout);
            }
            let ms: i32 = left
                .map(|l| l.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(-1);
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::io("poll", e));
            }
            if r == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: reading into our buffer.
            let _ = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if !self.events_file.exists() {
                return Ok(OomEvent::Gone);
            }
            let n = oom_count(&self.paths);
            // v1: the eventfd fires in mem_cgroup_oom(), before the OOM killer bumps
            // `oom_kill`, so the notification itself is the event. v2: inotify on
            // memory.events fires for any change; the oom_kill counter tells.
            if !self.v2 || n > self.last {
                self.last = self.last.max(n);
                return Ok(OomEvent::Oom);
            }
        }
    }
}
