//! The parent/child sync protocol: typed messages over a SOCK_SEQPACKET socketpair (one
//! message per send, so no framing), JSON-encoded. If either side dies, the other reads EOF
//! and fails instead of hanging. See docs/ARCHITECTURE.md for the sequence.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Msg {
    /// Child (two-step path): namespaces joined and unshared; parent may write id maps.
    Unshared,
    /// Parent: id maps written and cgroup placed; child may continue.
    Go,
    /// Parent (v1, late placement): the cgroup directories exist; the init moves itself in.
    CgroupsReady,
    /// Child (two-step path): the host pid of the init it forked.
    InitPid(i32),
    /// Init: mounts done, ready for prestart/createRuntime hooks.
    ReadyForHooks,
    /// Parent: runtime-namespace hooks done.
    HooksDone,
    /// Init: the container is created and waits for `start`.
    Created,
    /// Either side: setup failed.
    Error(String),
}

pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent end, child end).
pub fn pair() -> Result<(Channel, Channel)> {
    let mut fds = [0i32; 2];
    // SAFETY: socketpair fills two fds.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(Error::sys("socketpair", nix::errno::Errno::last()));
    }
    // SAFETY: fresh fds owned from here on.
    unsafe {
        Ok((
            Channel {
                fd: OwnedFd::from_raw_fd(fds[0]),
            },
            Channel {
                fd: OwnedFd::from_raw_fd(fds[1]),
            },
        ))
    }
}

impl Channel {
    pub fn send(&self, m: &Msg) -> Result<()> {
        let data = serde_json::to_vec(m).map_err(|e| Error::other(format!("sync: encode: {e}")))?;
        loop {
            // SAFETY: send on an owned socket with a valid buffer.
            let r = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if r >= 0 {
                return Ok(());
            }
            let e = nix::errno::Errno::last();
            if e != nix::errno::Errno::EINTR {
                return Err(Error::sys("sync: send", e));
            }
        }
    }

    /// Receive one message; `None` on EOF (the peer exited).
    pub fn recv(&self) -> Result<Option<Msg>> {
        // Not zeroed: the kernel writes the message, and untouched capacity costs no page
        // faults (a zeroed 64 KiB buffer was 16 of them per message).
        let mut buf: Vec<u8> = Vec::with_capacity(65536);
        let n = loop {
            // SAFETY: recv into the buffer's spare capacity; at most `capacity` bytes.
            let r = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.capacity(),
                    0,
                )
            };
            if r >= 0 {
                // SAFETY: the kernel initialized the first r bytes.
                unsafe { buf.set_len(r as usize) };
                break r as usize;
            }
            let e = nix::errno::Errno::last();
            if e != nix::errno::Errno::EINTR {
                return Err(Error::sys("sync: recv", e));
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf)
            .map(Some)
            .map_err(|e| Error::other(format!("sync: decode: {e}")))
    }

    /// Receive and require a specific message; an `Error` from the peer becomes our error.
    pub fn expect(&self, want: &Msg, peer: &str) -> Result<()> {
        match self.recv()? {
            Some(m) if &m == want => Ok(()),
            Some(Msg::Error(e)) => Err(Error::other(e)),
            Some(m) => Err(Error::other(format!(
                "sync: expected {want:?} from {peer}, got {m:?}"
            ))),
            None => Err(Error::other(format!(
                "sync: {peer} exited unexpectedly (waiting for {want:?})"
            ))),
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// Send `fd` over a unix socket with SCM_RIGHTS and a short payload.
pub fn send_fd(sock: RawFd, payload: &[u8], fd: RawFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(payload)];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| Error::sys("send fd (SCM_RIGHTS)", e))?;
    Ok(())
}

/// Receive one message that may carry an fd: (payload, fd). An empty payload without fd is EOF.
pub fn recv_with_fd(sock: RawFd) -> Result<(Vec<u8>, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 65536];
    let (n, fd) = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = loop {
            match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.map_err(|e| Error::sys("recvmsg", e))?,
            }
        };
        let mut fd = None;
        for c in msg.cmsgs().map_err(|e| Error::sys("recvmsg", e))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for f in fds {
                    // SAFETY: the kernel installed these fds for us.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    if fd.is_none() {
                        fd = Some(owned);
                    }
                }
            }
        }
        (msg.bytes, fd)
    };
    buf.truncate(n);
    Ok((buf, fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip() {
        let (a, b) = pair().expect("pair");
        a.send(&Msg::InitPid(42)).expect("send");
        assert_eq!(b.recv().expect("recv"), Some(Msg::InitPid(42)));
        b.send(&Msg::Error("boom".into())).expect("send");
        assert!(a.expect(&Msg::Go, "child").is_err());
        drop(b);
        assert_eq!(a.recv().expect("recv"), None);
    }
}
