//! The container's user (config.md "process.user"): uid, gid, additionalGids, umask.
use crate::{Context, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

/// Switch to the container's user. Capabilities survive the uid change because the caller set
/// PR_SET_KEEPCAPS; [`crate::caps::apply`] then sets the final sets.
pub fn switch(user: &User) -> Result<()> {
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace whose setgroups file says "deny"; only call it
    // when there is something to set or to clear.
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        Err(e) => return Err(e).ctx("setgroups (process.user.additionalGids)"),
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .with_ctx(|| format!("setresgid({}) (process.user.gid)", user.gid()))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .with_ctx(|| format!("setresuid({}) (process.user.uid)", user.uid()))?;
    Ok(())
}

pub fn set_umask(user: &User) {
    if let Some(m) = user.umask() {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m as libc::mode_t));
    }
}
