//! The runtime and state directories: created private, and refused when someone other
//! than the service could replace what is in them.
//!
//! Whoever can write a directory can rename, delete or plant entries in it: a socket of
//! their own in place of a device's, a symlink where an RPMB image or key file is opened.
//! So an existing directory must be owned by the service and writable by nobody else,
//! unless `service.allow_shared_dirs` says the operator accepts that.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::Uid;

/// The config key that turns the ownership and mode checks off.
pub const ALLOW_KEY: &str = "service.allow_shared_dirs";

/// The users a runtime, state or socket dir may belong to: the service's own (effective)
/// user. A configured unprivileged service user the process drops to belongs here too.
pub fn service_owners() -> Vec<Uid> {
    vec![nix::unistd::geteuid()]
}

/// Why a directory is refused.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// It could not be created or opened.
    #[error("{what} {path}: {why}")]
    Unusable {
        /// "runtime dir" or "state dir".
        what: &'static str,
        /// The directory.
        path: PathBuf,
        /// What failed.
        why: String,
    },
    /// Someone other than the service could change what is in it.
    #[error("{what} {path}: {why}; fix it, or set {ALLOW_KEY} = true to accept it")]
    Unsafe {
        /// "runtime dir" or "state dir".
        what: &'static str,
        /// The directory.
        path: PathBuf,
        /// Who else could write it.
        why: String,
    },
}

/// Creates `dir` (with `mode`, parents as needed) if it is missing, then checks it: a
/// directory itself (not a symlink to one), owned by one of `owners`, not writable by its
/// group or others. `allow_shared` skips the owner and mode checks.
pub fn prepare(
    what: &'static str,
    dir: &Path,
    mode: u32,
    owners: &[Uid],
    allow_shared: bool,
) -> Result<(), DirError> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)
            .map_err(|e| DirError::Unusable {
                what,
                path: dir.to_owned(),
                why: format!("cannot create: {e}"),
            })?;
    }
    check_existing(what, dir, owners, allow_shared)
}

/// [`prepare`] for a directory that must already exist (the parent of a socket configured
/// outside the runtime dir).
pub fn check_existing(
    what: &'static str,
    dir: &Path,
    owners: &[Uid],
    allow_shared: bool,
) -> Result<(), DirError> {
    let unusable = |why: String| DirError::Unusable {
        what,
        path: dir.to_owned(),
        why,
    };
    let dir_file = crate::nix_compat::open_dir_nofollow(dir).map_err(|e| {
        match e.raw_os_error().map(nix::errno::Errno::from_raw) {
            Some(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                unusable("is not a directory (a symlink to one is refused too)".into())
            }
            _ => unusable(format!("cannot open: {e}")),
        }
    })?;
    let st = dir_file
        .metadata()
        .map_err(|e| unusable(format!("cannot stat: {e}")))?;
    if !allow_shared {
        check(st.uid(), st.mode(), owners).map_err(|why| DirError::Unsafe {
            what,
            path: dir.to_owned(),
            why,
        })?;
    }
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .map_err(|e| unusable(format!("not writable: {}", std::io::Error::from(e))))
}

/// The owner and mode rule on its own, so it can be tested for every case.
fn check(uid: u32, mode: u32, owners: &[Uid]) -> Result<(), String> {
    if !owners.iter().any(|o| o.as_raw() == uid) {
        let expected: Vec<String> = owners.iter().map(|o| o.to_string()).collect();
        return Err(format!(
            "owned by uid {uid}, not by the service (uid {})",
            expected.join(" or ")
        ));
    }
    if mode & 0o002 != 0 {
        return Err(format!("is world-writable (mode {:04o})", mode & 0o7777));
    }
    if mode & 0o020 != 0 {
        return Err(format!("is group-writable (mode {:04o})", mode & 0o7777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn me() -> Vec<Uid> {
        vec![nix::unistd::geteuid()]
    }

    #[test]
    fn rule() {
        let u = Uid::from_raw(100);
        assert!(check(100, 0o40700, &[u]).is_ok());
        assert!(check(100, 0o40750, &[u]).is_ok());
        assert!(check(101, 0o40700, &[u]).unwrap_err().contains("uid 101"));
        assert!(check(100, 0o41777, &[u])
            .unwrap_err()
            .contains("world-writable"));
        assert!(check(100, 0o40770, &[u])
            .unwrap_err()
            .contains("group-writable"));
    }

    #[test]
    fn creates_private_and_refuses_shared_unless_allowed() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/run");
        prepare("runtime dir", &dir, 0o700, &me(), false).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare("runtime dir", &dir, 0o700, &me(), false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("world-writable") && text.contains(ALLOW_KEY),
            "{text}"
        );
        prepare("runtime dir", &dir, 0o700, &me(), true).unwrap();
    }

    #[test]
    fn symlinked_dir_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = prepare("state dir", &link, 0o700, &me(), false).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
    }
}
