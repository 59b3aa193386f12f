//! Container ids: runc's rule, `^[\w+.-]+$` and not `.` or `..`, so an id is always one safe
//! path component under `--root`.
use crate::{Error, Result};

pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("invalid container id: the id is empty"));
    }
    if id == "." || id == ".." {
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: not a valid path component"
        )));
    }
    if id.len() > 1024 {
        return Err(Error::invalid(
            "invalid container id: longer than 1024 bytes",
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: character {c:?} not allowed (use letters, digits, '_', '+', '-', '.')"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ids() {
        for ok in ["a", "abc-1.2_3+x", "0123456789abcdef", "..a"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a b", "x\n", "é"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
