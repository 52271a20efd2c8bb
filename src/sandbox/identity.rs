//! Who the service runs as after start-up (`service.user`, `service.group`,
//! `service.supplementary_groups`), and dropping to it with no capability left.
//!
//! Started as root without `service.user`, the service runs as [`DEFAULT_UID`]:
//! [`DEFAULT_GID`] (docs/sandbox.md, "Privileges"). Both are numbers, not names, so the
//! default works where there is no user database (a guest's initramfs); a configured user
//! or group may be a name or a number. Staying root takes `service.user = "root"` (or
//! `"0"`), which is warned about at every start.

use nix::unistd::{Gid, Uid, User};

use super::SandboxError;
use crate::config::ServiceConfig;

/// The user a service started as root runs as without `service.user`: the overflow uid,
/// `nobody` on Linux distributions, which owns no file of its own.
pub const DEFAULT_UID: u32 = 65534;
/// That user's group without `service.group`: the overflow gid (`nogroup`/`nobody`).
pub const DEFAULT_GID: u32 = 65534;

/// The identity the process ends up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User ID.
    pub uid: Uid,
    /// Primary group ID.
    pub gid: Gid,
    /// Supplementary groups kept (all others are dropped).
    pub groups: Vec<Gid>,
    /// Whether the process sets its user, group and groups (it was started as root).
    pub switch: bool,
    /// Started as root without `service.user`: the default user, [`DEFAULT_UID`].
    pub default_user: bool,
}

/// A configured user: its uid and, when the user database knows it, its primary group.
struct ConfiguredUser {
    uid: Uid,
    name: String,
    primary: Option<Gid>,
}

impl Identity {
    /// Resolves the configured identity (names against the user and group databases,
    /// numbers as they are); `euid` is the user the process was started as. Errors name the
    /// offending key.
    pub fn resolve(service: &ServiceConfig, euid: Uid) -> Result<Identity, SandboxError> {
        let user = service.user.as_deref().map(lookup_user).transpose()?;
        let group = service
            .group
            .as_deref()
            .map(|name| lookup_group("service.group", name))
            .transpose()?;
        let groups = service
            .supplementary_groups
            .iter()
            .map(|name| lookup_group("service.supplementary_groups", name))
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
                            u.name.escape_debug(),
                            u.uid
                        ),
                    });
                }
            }
            let egid = nix::unistd::getegid();
            if group.is_some_and(|g| g != egid) {
                return Err(SandboxError::Config {
                    key: "service.group",
                    why: "differs from the group the service was started as; only a \
                          service started as root can switch"
                        .into(),
                });
            }
            return Ok(Identity {
                uid: euid,
                gid: egid,
                groups,
                switch: false,
                default_user: false,
            });
        }
        let Some(user) = user else {
            return Ok(Identity {
                uid: Uid::from_raw(DEFAULT_UID),
                gid: group.unwrap_or(Gid::from_raw(DEFAULT_GID)),
                groups,
                switch: true,
                default_user: true,
            });
        };
        let gid = match (group, user.primary) {
            (Some(g), _) | (None, Some(g)) => g,
            (None, None) => {
                return Err(SandboxError::Config {
                    key: "service.group",
                    why: format!(
                        "needed: service.user {} is not in the user database, so it has \
                         no primary group to default to",
                        user.uid
                    ),
                })
            }
        };
        Ok(Identity {
            uid: user.uid,
            gid,
            groups,
            switch: true,
            default_user: false,
        })
    }
}

/// A user name, or a uid written as decimal digits (looked up only for its primary group).
fn lookup_user(value: &str) -> Result<ConfiguredUser, SandboxError> {
    let err = |why: String| SandboxError::Config {
        key: "service.user",
        why,
    };
    let numeric = value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|&u| u != u32::MAX);
    let found = match numeric {
        Some(uid) => User::from_uid(Uid::from_raw(uid)),
        None => User::from_name(value),
    };
    match (found, numeric) {
        (Ok(Some(u)), _) => Ok(ConfiguredUser {
            uid: u.uid,
            name: u.name,
            primary: Some(u.gid),
        }),
        // A number needs no database: only its primary group is unknown.
        (Ok(None) | Err(_), Some(uid)) => Ok(ConfiguredUser {
            uid: Uid::from_raw(uid),
            name: value.to_owned(),
            primary: None,
        }),
        (Ok(None), None) => Err(err(format!(
            "no such user \"{}\" (a numeric uid is taken as is)",
            value.escape_debug()
        ))),
        (Err(e), None) => Err(err(format!(
            "cannot look up \"{}\": {e}",
            value.escape_debug()
        ))),
    }
}

/// A group name, or a gid written as decimal digits (taken as is).
fn lookup_group(key: &'static str, value: &str) -> Result<Gid, SandboxError> {
    crate::config::resolve_group(key, value).map_err(|e| SandboxError::Config {
        key,
        why: match e {
            crate::config::GroupError::NoSuchGroup { name, .. } => format!(
                "no such group \"{}\" (a numeric gid is taken as is)",
                name.escape_debug()
            ),
            crate::config::GroupError::Lookup { name, why, .. } => {
                format!("cannot look up \"{}\": {why}", name.escape_debug())
            }
        },
    })
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
    if id.switch {
        // Needs CAP_SETPCAP, so before the user changes; only exec would use it, and
        // no filter allows exec, but an empty bounding set says "never" in /proc too.
        caps::clear(None, caps::CapSet::Bounding)
            .map_err(|e| SandboxError::Privileges(format!("cannot clear the bounding set: {e}")))?;
        nix::unistd::setgroups(&id.groups).map_err(|e| err("setgroups", e))?;
        nix::unistd::setresgid(id.gid, id.gid, id.gid).map_err(|e| err("setresgid", e))?;
        // Also for uid 0 (`service.user = "root"`): a no-op for the ids, and the sets are
        // emptied below either way.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn service(user: Option<&str>, group: Option<&str>) -> ServiceConfig {
        ServiceConfig {
            user: user.map(str::to_owned),
            group: group.map(str::to_owned),
            ..ServiceConfig::default()
        }
    }

    const ROOT: Uid = Uid::from_raw(0);

    #[test]
    fn root_without_a_user_gets_the_numeric_default() {
        let id = Identity::resolve(&service(None, None), ROOT).unwrap();
        assert_eq!(
            (id.uid.as_raw(), id.gid.as_raw(), id.switch, id.default_user),
            (DEFAULT_UID, DEFAULT_GID, true, true)
        );
        let id = Identity::resolve(&service(None, Some("2901")), ROOT).unwrap();
        assert_eq!((id.uid.as_raw(), id.gid.as_raw()), (DEFAULT_UID, 2901));
    }

    #[test]
    fn root_stays_root_only_when_asked() {
        for user in ["root", "0"] {
            let id = Identity::resolve(&service(Some(user), None), ROOT).unwrap();
            assert_eq!((id.uid.as_raw(), id.gid.as_raw()), (0, 0), "{user}");
            assert!(id.switch && !id.default_user, "{user}");
        }
    }

    #[test]
    fn a_numeric_user_needs_no_user_database_but_then_a_group() {
        // 40004 is in no build host's passwd.
        let e = Identity::resolve(&service(Some("40004"), None), ROOT).unwrap_err();
        assert!(e.to_string().starts_with("service.group: needed"), "{e}");
        let id = Identity::resolve(&service(Some("40004"), Some("40005")), ROOT).unwrap();
        assert_eq!((id.uid.as_raw(), id.gid.as_raw()), (40004, 40005));
        assert!(id.switch && !id.default_user);
    }

    #[test]
    fn unknown_names_are_named_with_their_key() {
        let e = Identity::resolve(&service(Some("no_such_user_dvm"), None), ROOT).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("service.user: no such user \"no_such_user_dvm\""),
            "{e}"
        );
        let e = Identity::resolve(&service(None, Some("no_such_group_dvm")), ROOT).unwrap_err();
        assert!(
            e.to_string().starts_with("service.group: no such group"),
            "{e}"
        );
    }

    #[test]
    fn a_normal_user_cannot_switch() {
        let me = Uid::from_raw(40006);
        let id = Identity::resolve(&service(None, None), me).unwrap();
        assert_eq!(id.uid, me);
        assert!(!id.switch && !id.default_user);
        let e = Identity::resolve(&service(Some("40007"), Some("1")), me).unwrap_err();
        assert!(e.to_string().starts_with("service.user:"), "{e}");
    }
}
