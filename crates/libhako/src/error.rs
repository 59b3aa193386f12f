//! One error type for the whole runtime. Every error carries its context in the message
//! (which container, which path, which syscall) because engines show `msg` to users verbatim.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// config.json or command-line input is invalid; nothing was touched.
    InvalidConfig,
    /// The container does not exist.
    NotFound,
    /// A container with that id already exists.
    Exists,
    /// The operation is not valid in the container's current state.
    InvalidState,
    /// A system call failed.
    Sys,
    /// Anything else.
    Other,
}

#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    msg: String,
    errno: Option<i32>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
            errno: None,
        }
    }
    /// A config validation error: `field: reason`, where `field` is the JSON path.
    pub fn config(field: impl fmt::Display, reason: impl fmt::Display) -> Self {
        let field = field.to_string();
        if field.is_empty() || field == "." {
            Self::new(ErrorKind::InvalidConfig, reason.to_string())
        } else {
            Self::new(ErrorKind::InvalidConfig, format!("{field}: {reason}"))
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig, msg)
    }
    pub fn other(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, msg)
    }
    pub fn state(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidState, msg)
    }
    /// A failed system call: `what: strerror`.
    pub fn sys(what: impl fmt::Display, errno: nix::errno::Errno) -> Self {
        Error {
            kind: ErrorKind::Sys,
            msg: format!("{what}: {}", errno.desc()),
            errno: Some(errno as i32),
        }
    }
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        let errno = err.raw_os_error();
        let text = match errno {
            Some(e) => nix::errno::Errno::from_raw(e).desc().to_string(),
            None => err.to_string(),
        };
        Error {
            kind: ErrorKind::Sys,
            msg: format!("{what}: {text}"),
            errno,
        }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }
    pub fn message(&self) -> &str {
        &self.msg
    }
    /// Prefix the message with more context: `ctx: msg`.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.msg = format!("{ctx}: {}", self.msg);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// Attach context to errors from any source that converts into [`Error`].
pub trait Context<T> {
    fn ctx<D: fmt::Display>(self, ctx: D) -> Result<T>;
    fn with_ctx<D: fmt::Display, F: FnOnce() -> D>(self, f: F) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Error> {
    fn ctx<D: fmt::Display>(self, ctx: D) -> Result<T> {
        self.map_err(|e| e.context(ctx))
    }
    fn with_ctx<D: fmt::Display, F: FnOnce() -> D>(self, f: F) -> Result<T> {
        self.map_err(|e| e.context(f()))
    }
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx<D: fmt::Display>(self, ctx: D) -> Result<T> {
        self.map_err(|e| Error::sys(ctx, e))
    }
    fn with_ctx<D: fmt::Display, F: FnOnce() -> D>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::sys(f(), e))
    }
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx<D: fmt::Display>(self, ctx: D) -> Result<T> {
        self.map_err(|e| Error::io(ctx, e))
    }
    fn with_ctx<D: fmt::Display, F: FnOnce() -> D>(self, f: F) -> Result<T> {
        self.map_err(|e| Error::io(f(), e))
    }
}

impl From<nix::errno::Errno> for Error {
    fn from(e: nix::errno::Errno) -> Self {
        Error::sys("system call", e)
    }
}
