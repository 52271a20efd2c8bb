//! Groups named by the config (`service.socket_group`, `service.control_group`), resolved
//! only where the service uses them.
//!
//! A value of decimal digits is a numeric gid, taken as is: Android's groups are AIDs, fixed
//! numbers (AID_AUDIO is 1005, a vendor AID from config.fs lies in 2900-2999 or 5000-5999),
//! so an Android config can name them the same way on the device and on a build or CI host,
//! whose group database knows nothing of them. Any other value is looked up by name.

use nix::unistd::{Gid, Group};

/// Why a configured group cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The group database has no such name.
    #[error("{key}: no group \"{name}\" on this system (a numeric gid is taken as is)")]
    NoSuchGroup {
        /// The config key that names it.
        key: &'static str,
        /// The name.
        name: String,
    },
    /// The group database could not be read.
    #[error("{key}: cannot look up group \"{name}\": {why}")]
    Lookup {
        /// The config key that names it.
        key: &'static str,
        /// The name.
        name: String,
        /// The error of the lookup.
        why: String,
    },
}

/// A numeric gid written as decimal digits; `None` for a name. `u32::MAX` is not a gid
/// (chown(2) reads it as "leave unchanged"), so it stays a name and validation refuses it.
pub fn numeric_gid(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u32>().ok().filter(|&g| g != u32::MAX)
}

/// The gid of `value`, the setting of config key `key`: a numeric gid as is, else the
/// named group's.
pub fn resolve_group(key: &'static str, value: &str) -> Result<Gid, GroupError> {
    if let Some(gid) = numeric_gid(value) {
        return Ok(Gid::from_raw(gid));
    }
    match Group::from_name(value) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(GroupError::NoSuchGroup {
            key,
            name: value.to_owned(),
        }),
        Err(e) => Err(GroupError::Lookup {
            key,
            name: value.to_owned(),
            why: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_a_gid_taken_as_is() {
        // 2987 names no group on a build host; it still resolves, as Android's AIDs must.
        let gid = resolve_group("service.socket_group", "2987").unwrap();
        assert_eq!(gid.as_raw(), 2987);
        assert_eq!(numeric_gid("0"), Some(0));
        assert_eq!(numeric_gid("1005"), Some(1005));
        assert_eq!(numeric_gid("4294967295"), None);
        assert_eq!(numeric_gid("4294967296"), None);
        assert_eq!(numeric_gid("-1"), None);
        assert_eq!(numeric_gid("+5"), None);
        assert_eq!(numeric_gid("audio"), None);
    }

    #[test]
    fn a_missing_name_is_an_error_naming_the_key() {
        let e = resolve_group("service.control_group", "no_such_group_drivervm").unwrap_err();
        assert_eq!(
            e.to_string(),
            "service.control_group: no group \"no_such_group_drivervm\" on this system \
             (a numeric gid is taken as is)"
        );
    }

    #[test]
    fn a_name_resolves_through_the_group_database() {
        // gid 0's name differs between systems ("root", "wheel"); look it up first.
        let Ok(Some(g)) = Group::from_gid(Gid::from_raw(0)) else {
            return;
        };
        assert_eq!(resolve_group("k", &g.name).unwrap().as_raw(), 0);
    }
}
