//! Terminals (config.md "process.terminal", "consoleSize"; runc's console-socket protocol).
//!
//! The pty is created inside the container's devpts (after pivot_root / setns into the
//! container's mount namespace), the peer is opened with TIOCGPTPEER (no path lookup a
//! container could race, CVE-2025-52565), it becomes the controlling terminal and stdio, and the
//! master goes to the caller's `--console-socket` as one SCM_RIGHTS message.
use crate::{Context, Error, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

const TIOCGPTPEER: libc::c_ulong = 0x5441;

/// Connect to the `--console-socket` (in the runtime's mount namespace, before any setns).
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .with_ctx(|| format!("--console-socket: connect to {}", path.display()))?;
    Ok(OwnedFd::from(s))
}

/// A pty pair: the master (sent away) and the slave (our stdio).
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Open a new pty from the devpts instance behind /dev/ptmx of the current root.
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    // SAFETY: open(2) of a constant path.
    let m = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if m < 0 {
        return Err(Error::sys(
            "open /dev/ptmx in the container",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: fresh fd.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    let md = std::fs::File::from(master.try_clone().ctx("dup pty master")?)
        .metadata()
        .ctx("stat /dev/ptmx")?;
    if !md.file_type().is_char_device() {
        return Err(Error::other(
            "/dev/ptmx in the container is not a character device",
        ));
    }
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK with a pointer to an int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(Error::sys("unlock pty", nix::errno::Errno::last()));
    }
    // SAFETY: TIOCGPTPEER opens the peer of this master.
    let s = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(Error::sys(
            "open pty peer (TIOCGPTPEER)",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: fresh fd.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if let Some((rows, cols)) = size {
        set_size(slave.as_raw_fd(), rows, cols)?;
    }
    Ok(Pty { master, slave })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(Error::sys(
            "process.consoleSize: TIOCSWINSZ",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Send the master over the console socket: one message, the payload a name, the fd in
/// SCM_RIGHTS (what runc's recvtty and containerd's console package read).
pub fn send_master(sock: RawFd, master: &OwnedFd) -> Result<()> {
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .ctx("--console-socket: send the pty master")?;
    Ok(())
}

/// Make `slave` our controlling terminal and stdio. The caller must be a session leader.
pub fn make_stdio(slave: &OwnedFd) -> Result<()> {
    // SAFETY: TIOCSCTTY on a tty we opened; dup2 onto stdio.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) != 0 {
            return Err(Error::sys(
                "make the pty the controlling terminal",
                nix::errno::Errno::last(),
            ));
        }
        for fd in 0..3 {
            if libc::dup2(slave.as_raw_fd(), fd) < 0 {
                return Err(Error::sys("dup2 pty onto stdio", nix::errno::Errno::last()));
            }
        }
    }
    Ok(())
}

/// Bind the pty slave at /dev/console (config.md: with `terminal`, /dev/console is the pty).
/// The target is opened with `O_PATH | O_NOFOLLOW` (created as an empty file when missing) and
/// the mount is made onto that fd, so an image's /dev/console can neither redirect the mount
/// (a symlink, CVE-2025-52565) nor be opened as a device or block the runtime (a FIFO): only
/// a regular file or a character device is accepted as the mount point.
pub fn bind_console(slave: &OwnedFd) -> Result<()> {
    const PATH: &std::ffi::CStr = c"/dev/console";
    let open_path = || {
        // SAFETY: open(2) of a constant path; O_PATH opens nothing but the inode.
        unsafe {
            libc::open(
                PATH.as_ptr(),
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        }
    };
    let mut fd = open_path();
    if fd < 0 && nix::errno::Errno::last() == nix::errno::Errno::ENOENT {
        // SAFETY: create a new empty file; O_EXCL|O_NOFOLLOW never follow or reuse an entry.
        let c = unsafe {
            libc::open(
                PATH.as_ptr(),
                libc::O_WRONLY
                    | libc::O_CREAT
                    | libc::O_EXCL
                    | libc::O_NOFOLLOW
                    | libc::O_CLOEXEC
                    | libc::O_NOCTTY,
                0o600,
            )
        };
        if c < 0 {
            return Err(Error::sys("create /dev/console", nix::errno::Errno::last()));
        }
        // SAFETY: closing the fd we just opened.
        unsafe { libc::close(c) };
        fd = open_path();
    }
    if fd < 0 {
        return Err(Error::sys("open /dev/console", nix::errno::Errno::last()));
    }
    // SAFETY: fresh fd.
    let target = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(&target).ctx("stat /dev/console")?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        let what = match kind {
            libc::S_IFLNK => "a symlink",
            libc::S_IFIFO => "a FIFO",
            libc::S_IFDIR => "a directory",
            libc::S_IFSOCK => "a socket",
            _ => "not a file",
        };
        return Err(Error::other(format!(
            "/dev/console in the container is {what}: refusing to bind the pty there"
        )));
    }
    let src = crate::rootfs::fd_path(slave.as_raw_fd());
    let dst = crate::rootfs::fd_path(target.as_raw_fd());
    nix::mount::mount(
        Some(&src),
        &dst,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx("bind the pty at /dev/console")
}

/// The full sequence for a container process with `terminal: true`.
pub fn setup(console_sock: RawFd, size: Option<(u16, u16)>, bind: bool) -> Result<()> {
    let pty = open_pty(size)?;
    if bind {
        bind_console(&pty.slave)?;
    }
    send_master(console_sock, &pty.master)?;
    drop(pty.master);
    make_stdio(&pty.slave)?;
    Ok(())
}

/// Receive a pty master sent with SCM_RIGHTS (the receiving end of the console protocol).
pub fn recv_master(sock: RawFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx("receive the pty master")?;
    for c in msg.cmsgs().ctx("receive the pty master")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel installed this fd for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(Error::other("the container sent no pty master"))
}

/// Puts the caller's terminal in raw mode and restores it when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: Option<libc::termios>,
}

impl RawMode {
    pub fn enter(fd: RawFd) -> RawMode {
        // SAFETY: tcgetattr/tcsetattr on a fd we were given; failure means "not a tty".
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut t) != 0 {
                return RawMode { fd, saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
            RawMode {
                fd,
                saved: Some(saved),
            }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restoring the attributes we read.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &t) };
        }
    }
}

/// Copy the window size of our terminal (stdin) to the pty.
pub fn copy_size(from: RawFd, to: RawFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a valid struct; failures are ignored (not a tty).
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Relay the caller's stdin/stdout to the pty master until `pidfd` says the process exited;
/// SIGWINCH resizes the pty, other signals are forwarded. Returns the wait status's exit code.
pub fn relay(master: &OwnedFd, pid: i32, pidfd: &OwnedFd) -> Result<i32> {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set.thread_block().ctx("block signals")?;
    let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .ctx("signalfd")?;
    let _raw = RawMode::enter(0);
    copy_size(0, master.as_raw_fd());
    let m = master.as_raw_fd();
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    let mut exited = false;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: m,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if exited { -1 } else { pidfd.as_raw_fd() },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // After the process exited, drain what is left on the master without blocking.
        let timeout = if exited { 0 } else { -1 };
        // SAFETY: poll on valid pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 4, timeout) };
        if r < 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(Error::sys("poll", nix::errno::Errno::last()));
        }
        if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            // SAFETY: read into our buffer.
            let n = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                write_all(1, &buf[..n as usize]);
            } else if exited {
                break;
            }
        } else if exited {
            break;
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            // SAFETY: read into our buffer.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                write_all(m, &buf[..n as usize]);
            } else {
                stdin_open = false;
                // End of input: send EOF (^D) to the line discipline, as a terminal would.
                write_all(m, &[4]);
            }
        }
        if fds[2].revents != 0 {
            while let Ok(Some(info)) = sfd.read_signal() {
                if info.ssi_signo as i32 == libc::SIGWINCH {
                    copy_size(0, m);
                } else {
                    let _ =
                        crate::process::pidfd_send_signal(pidfd.as_raw_fd(), info.ssi_signo as i32);
                }
            }
        }
        if fds[3].revents != 0 {
            exited = true;
        }
    }
    let mut status = 0;
    // SAFETY: reaping our child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    if r != pid {
        return Err(Error::sys("waitpid", nix::errno::Errno::last()));
    }
    Ok(crate::container::exit_code(status))
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: write from a valid buffer.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}
