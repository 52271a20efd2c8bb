//! Who the service runs as after start-up (`service.user`, `service.group`,
//! `service.supplementary_groups`), and dropping to it with no capability left.

use nix::unistd::{Gid, Group, Uid, User};

use super::SandboxError;
use crate::config::ServiceConfig;

/// The identity the process ends up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User ID.
    pub uid: Uid,
    /// Primary group ID.
    pub gid: Gid,
    /// Supplementary groups kept (all others are dropped).
    pub groups: Vec<Gid>,
    /// Whether the process changes user and groups (started as root with `service.user`).
    pub switch: bool,
    /// Started as root without `service.user`: stays uid 0, without capabilities.
    pub root_without_user: bool,
}

impl Identity {
    /// Resolves the configured identity against the user and group databases; `euid` is
    /// the user the process was started as. Errors name the offending key.
    pub fn resolve(service: &ServiceConfig, euid: Uid) -> Result<Identity, SandboxError> {
        let user = match &service.user {
            None => None,
            Some(name) => Some(lookup_user(name)?),
        };
        let gid = match (&service.group, &user) {
            (Some(name), _) => lookup_group("service.group", name)?,
            (None, Some(u)) => u.gid,
            (None, None) => nix::unistd::getegid(),
        };
        let groups = service
            .supplementary_groups
            .iter()
            .enumerate()
            .map(|(i, name)| lookup_group(&format!("service.supplementary_groups[{i}]"), name))
            .collect::<Result<Vec<_>, _>>()?;
        if !euid.is_root() {
            // Without CAP_SETUID/SETGID the process cannot become anyone else: say so
            // instead of pretending.
            if let Some(u) = &user {
                if u.uid != euid {
                    return Err(SandboxError::Config {
                        key: "service.user",
                        why: format!(
                            "\"{}\" (uid {}) differs from the user the service was started \
                             as (uid {euid}); only a service started as root can switch",
                            u.name, u.uid
                        ),
                    });
                }
            }
            if service.group.is_some() && gid != nix::unistd::getegid() {
                return Err(SandboxError::Config {
                    key: "service.group",
                    why: "differs from the group the service was started as; only a \
                          service started as root can switch"
                        .into(),
                });
            }
            return Ok(Identity {
                uid: euid,
                gid,
                groups,
                switch: false,
                root_without_user: false,
            });
        }
        Ok(Identity {
            uid: user.as_ref().map_or(euid, |u| u.uid),
            gid,
            groups,
            switch: user.is_some(),
            root_without_user: user.is_none(),
        })
    }
}

fn lookup_user(name: &str) -> Result<User, SandboxError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(SandboxError::Config {
            key: "service.user",
            why: format!("no such user \"{}\"", name.escape_debug()),
        }),
        Err(e) => Err(SandboxError::Config {
            key: "service.user",
            why: format!("cannot look up \"{}\": {e}", name.escape_debug()),
        }),
    }
}

fn lookup_group(key: &str, name: &str) -> Result<Gid, SandboxError> {
    let key: &'static str = match key {
        "service.group" => "service.group",
        _ => "service.supplementary_groups",
    };
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(SandboxError::Config {
            key,
            why: format!("no such group \"{}\"", name.escape_debug()),
        }),
        Err(e) => Err(SandboxError::Config {
            key,
            why: format!("cannot look up \"{}\": {e}", name.escape_debug()),
        }),
    }
}

/// Sets `no_new_privs` on the calling thread; threads created afterwards inherit it.
pub fn no_new_privs() -> Result<(), SandboxError> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(SandboxError::Privileges(format!(
            "cannot set no_new_privs: {}",
            std::io::Error::last_os_error()
        )))
    }
}

/// Switches the whole process to `id` (glibc applies set*id to every thread) and empties
/// the calling thread's capability sets, bounding set included.
pub fn drop_to(id: &Identity) -> Result<(), SandboxError> {
    let err = |what: &str, e: nix::Error| SandboxError::Privileges(format!("{what}: {e}"));
    if id.switch || id.root_without_user {
        // Needs CAP_SETPCAP, so before the user changes; only exec would use it, and
        // no filter allows exec, but an empty bounding set says "never" in /proc too.
        caps::clear(None, caps::CapSet::Bounding)
            .map_err(|e| SandboxError::Privileges(format!("cannot clear the bounding set: {e}")))?;
    }
    if id.switch || id.root_without_user {
        nix::unistd::setgroups(&id.groups).map_err(|e| err("setgroups", e))?;
    }
    if id.switch {
        nix::unistd::setresgid(id.gid, id.gid, id.gid).map_err(|e| err("setresgid", e))?;
        nix::unistd::setresuid(id.uid, id.uid, id.uid).map_err(|e| err("setresuid", e))?;
    }
    clear_thread_caps()
}

/// Empties the calling thread's effective, permitted, inheritable and ambient sets
/// (capabilities are per thread: each thread calls this before its filter).
pub fn clear_thread_caps() -> Result<(), SandboxError> {
    for set in [
        caps::CapSet::Ambient,
        caps::CapSet::Inheritable,
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| {
            SandboxError::Privileges(format!("cannot clear the {set:?} capabilities: {e}"))
        })?;
    }
    Ok(())
}
