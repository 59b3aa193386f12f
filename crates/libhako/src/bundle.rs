//! The bundle (bundle.md): a directory holding `config.json` and the root filesystem.
//! Loading reads config.json with the `oci-spec` types, naming the JSON path of any field that
//! does not parse, then runs [`crate::validate`] before anything on the host is touched.
use crate::{Context, Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// The parsed config.
    pub spec: Spec,
    /// Absolute path of the root filesystem (`root.path` resolved against the bundle).
    pub rootfs: PathBuf,
    /// config.json as read, kept in the state directory for `exec` (the bundle may change).
    pub raw: String,
}

/// Make `p` absolute against the current directory, without resolving symlinks.
pub fn absolute(p: &Path) -> Result<PathBuf> {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ctx("getcwd")?.join(p)
    };
    // Lexically drop "." components and trailing slashes (".." is kept: it may cross symlinks).
    let mut out = PathBuf::new();
    for c in joined.components() {
        if c != std::path::Component::CurDir {
            out.push(c);
        }
    }
    Ok(out)
}

/// Parse config.json text. Errors name the JSON path (`linux.namespaces[2].type: unknown
/// variant "foo"`) so users can find the field.
pub fn parse_config(text: &str) -> Result<Spec> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("config.json: malformed JSON: {e}")))?;
    parse_config_value(value)
}

pub fn parse_config_value(mut value: serde_json::Value) -> Result<Spec> {
    if !value.is_object() {
        return Err(Error::invalid(
            "config.json: the document must be a JSON object",
        ));
    }
    filter_unknown_capabilities(&mut value);
    // REQUIRED fields that the typed parse would silently default (device major/minor, rlimit
    // soft/hard, id-map fields, ...) are checked on the raw document.
    let raw = crate::validate::validate_raw(&value);
    let spec = serde_path_to_error::deserialize::<_, Spec>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        Error::config(path, describe_serde(&inner))
    })?;
    if let Some(p) = raw.into_iter().next() {
        return Err(p.into());
    }
    Ok(spec)
}

/// serde's messages are terse ("unknown variant `foo`, expected one of ..."); keep them but say
/// what the field holds in words a user reads.
fn describe_serde(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        return format!("unknown value {rest}");
    }
    msg.to_string()
}

/// A capability name the kernel does not know is a warning, not a failure (runtime-spec #1094):
/// drop unknown `CAP_*` names before the typed parse, which would reject them.
fn filter_unknown_capabilities(value: &mut serde_json::Value) {
    let Some(caps) = value
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return;
    };
    for (set, list) in caps.iter_mut() {
        let Some(arr) = list.as_array_mut() else {
            continue;
        };
        arr.retain(|c| match c.as_str() {
            Some(name) => {
                let known = crate::caps::is_known_name(name);
                if !known {
                    tracing::warn!(
                        "process.capabilities.{set}: unknown capability {name:?} ignored"
                    );
                }
                known
            }
            None => true,
        });
    }
}

/// Load and validate the bundle at `dir`.
pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = absolute(dir)?;
    let cfg = dir.join("config.json");
    let text = match std::fs::read_to_string(&cfg) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::invalid(format!(
                "{}: config.json not found in the bundle",
                cfg.display()
            )))
        }
        Err(e) => return Err(Error::io(format!("read {}", cfg.display()), e)),
    };
    let spec = parse_config(&text)?;
    if let Some(p) = crate::validate::validate(&spec, &dir).into_iter().next() {
        return Err(p.into());
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::config("root", "required on Linux"))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        dir.join(root.path())
    };
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::config(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ))
        }
        Err(e) => return Err(Error::io(format!("root.path: {}", rootfs.display()), e)),
    }
    Ok(Bundle {
        dir,
        spec,
        rootfs,
        raw: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_the_field() {
        let err = parse_config(
            r#"{"ociVersion":"1.3.0","root":{"path":"r"},"linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"foo"}]}}"#,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.starts_with("linux.namespaces[2].type: unknown value"),
            "{err}"
        );
    }
    #[test]
    fn malformed() {
        let err = parse_config("{")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("malformed JSON"), "{err}");
    }
    #[test]
    fn unknown_caps_dropped() {
        let spec = parse_config(
            r#"{"ociVersion":"1.3.0","process":{"cwd":"/","user":{"uid":0,"gid":0},"capabilities":{"bounding":["CAP_CHOWN","CAP_NOT_A_CAP"]}}}"#,
        );
        assert!(spec.is_ok());
    }
    #[test]
    fn unknown_fields_ignored() {
        assert!(parse_config(r#"{"ociVersion":"1.3.0","whatever":{"x":1}}"#).is_ok());
    }
}
