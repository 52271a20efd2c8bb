//! The runtime and state directories: created private, and refused when someone other
//! than the service could replace what is in them.
//!
//! Whoever can write a directory can rename, delete or plant entries in it: a socket of
//! their own in place of a device's, a symlink where an RPMB image or key file is opened.
//! So an existing directory must be owned by the service and writable by nobody else,
//! unless `service.allow_shared_dirs` says the operator accepts that.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

/// The config key that turns the ownership and mode checks off.
pub const ALLOW_KEY: &str = "service.allow_shared_dirs";

/// Who the service runs as once privileges are dropped: whom its directories must belong
/// to and be writable by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUser {
    /// User ID.
    pub uid: Uid,
    /// Primary group ID.
    pub gid: Gid,
    /// Supplementary groups.
    pub groups: Vec<Gid>,
}

impl ServiceUser {
    /// The process's own effective user and groups.
    pub fn current() -> ServiceUser {
        ServiceUser {
            uid: nix::unistd::geteuid(),
            gid: nix::unistd::getegid(),
            groups: nix::unistd::getgroups().unwrap_or_default(),
        }
    }
}

/// Set by the daemon before start-up when it will switch users; `None`: the process's own.
static SERVICE_USER: Mutex<Option<ServiceUser>> = Mutex::new(None);

/// Declares the user the process drops to after start-up (the daemon's `main`, when started
/// as root): directories the service creates are given to it, and existing ones must be
/// its.
pub fn set_service_user(user: ServiceUser) {
    *SERVICE_USER.lock().unwrap_or_else(|p| p.into_inner()) = Some(user);
}

/// The user the service runs as after start-up.
pub fn service_user() -> ServiceUser {
    SERVICE_USER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(ServiceUser::current)
}

/// The users a runtime, state or socket dir may belong to: the one the service runs as
/// after start-up ([`service_user`]).
pub fn service_owners() -> Vec<Uid> {
    vec![service_user().uid]
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

/// Creates `dir` (with `mode`, parents as needed) if it is missing, owned by the service's
/// user ([`service_user`]), then checks it: a directory itself (not a symlink to one), owned
/// by one of `owners`, not writable by its group or others, and writable by the service's
/// user. `allow_shared` skips the owner and mode checks.
pub fn prepare(
    what: &'static str,
    dir: &Path,
    mode: u32,
    owners: &[Uid],
    allow_shared: bool,
) -> Result<(), DirError> {
    prepare_for(what, dir, mode, &service_user(), owners, allow_shared)
}

/// [`prepare`] for `user`.
fn prepare_for(
    what: &'static str,
    dir: &Path,
    mode: u32,
    user: &ServiceUser,
    owners: &[Uid],
    allow_shared: bool,
) -> Result<(), DirError> {
    let unusable = |why: String| DirError::Unusable {
        what,
        path: dir.to_owned(),
        why,
    };
    let euid = nix::unistd::geteuid();
    let give_away = user.uid != euid;
    if std::fs::symlink_metadata(dir).is_err() {
        use std::os::unix::fs::DirBuilderExt;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Parents made for a service that drops to another user stay root's, but that
            // user must be able to pass through them to its own directory.
            let parent_mode = if give_away { 0o711 } else { mode };
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(parent_mode)
                .create(parent)
                .map_err(|e| unusable(format!("cannot create its parent: {e}")))?;
        }
        if give_away {
            create_for(dir, mode, user, euid).map_err(unusable)?;
        } else {
            match nix::unistd::mkdir(dir, nix::sys::stat::Mode::from_bits_truncate(mode)) {
                // Someone made it meanwhile: checked below like any existing one.
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => {
                    return Err(unusable(format!(
                        "cannot create: {}",
                        std::io::Error::from(e)
                    )))
                }
            }
        }
    }
    check_for(what, dir, user, owners, allow_shared)
}

/// Creates `dir` already owned by `user`: made under a temporary name beside it, given to
/// `user` with `mode` through its descriptor, then renamed into place without replacing
/// anything. A service killed half-way never leaves `dir` behind still root's (which the
/// next start would refuse), only an empty temporary directory.
fn create_for(dir: &Path, mode: u32, user: &ServiceUser, creator: Uid) -> Result<(), String> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dir.file_name().ok_or("has no name to create")?;
    let template = parent.join(format!(".{}.XXXXXX", name.to_string_lossy()));
    let temp = nix::unistd::mkdtemp(&template)
        .map_err(|e| format!("cannot create: {}", std::io::Error::from(e)))?;
    let placed = give_to(&temp, mode, user, creator).and_then(|()| {
        match rename_noreplace(&temp, dir) {
            Ok(()) => Ok(true),
            // Someone made it meanwhile: checked like any existing one.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(format!("cannot move {} into place: {e}", temp.display())),
        }
    });
    if placed != Ok(true) {
        let _ = std::fs::remove_dir(&temp);
    }
    placed.map(drop)
}

/// rename(2) that fails with EEXIST instead of replacing what is at `to` (an empty
/// directory would otherwise be replaced).
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    /// RENAME_NOREPLACE of linux/fs.h (libc's type for it differs between libcs).
    const RENAME_NOREPLACE: libc::c_uint = 1;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Gives the directory just created at `dir` to `user` with `mode`, through its
/// descriptor: whatever is at the path now must be a directory (not a symlink) that
/// `creator` owns.
fn give_to(dir: &Path, mode: u32, user: &ServiceUser, creator: Uid) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let file = crate::nix_compat::open_dir_nofollow(dir)
        .map_err(|e| format!("cannot open what was created: {e}"))?;
    let st = file
        .metadata()
        .map_err(|e| format!("cannot stat what was created: {e}"))?;
    if st.uid() != creator.as_raw() {
        return Err(format!(
            "replaced by uid {}'s directory while it was being created",
            st.uid()
        ));
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set its mode: {e}"))?;
    std::os::unix::fs::fchown(&file, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(
        |e| {
            format!(
                "cannot give it to the service's user (uid {} gid {}): {e}",
                user.uid, user.gid
            )
        },
    )
}

/// [`prepare`] for a directory that must already exist (the parent of a socket configured
/// outside the runtime dir).
pub fn check_existing(
    what: &'static str,
    dir: &Path,
    owners: &[Uid],
    allow_shared: bool,
) -> Result<(), DirError> {
    check_for(what, dir, &service_user(), owners, allow_shared)
}

/// [`check_existing`] for `user`.
fn check_for(
    what: &'static str,
    dir: &Path,
    user: &ServiceUser,
    owners: &[Uid],
    allow_shared: bool,
) -> Result<(), DirError> {
    let unusable = |why: String| DirError::Unusable {
        what,
        path: dir.to_owned(),
        why,
    };
    let dir_file = crate::nix_compat::open_dir_nofollow(dir).map_err(|e| {
        match e.raw_os_error().map(Errno::from_raw) {
            Some(Errno::ELOOP | Errno::ENOTDIR) => {
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
    writable_by(user, st.uid(), st.gid(), st.mode(), dir).map_err(unusable)
}

/// Whether `user` may create and remove entries in the directory (`owner`, `group`,
/// `mode`) at `dir`.
fn writable_by(
    user: &ServiceUser,
    owner: u32,
    group: u32,
    mode: u32,
    dir: &Path,
) -> Result<(), String> {
    let euid = nix::unistd::geteuid();
    if user.uid == euid && !euid.is_root() {
        // The service's own user now: the kernel's answer covers ACLs too.
        return nix::unistd::access(
            dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .map_err(|e| format!("not writable: {}", std::io::Error::from(e)));
    }
    // Root now, and later a user without any capability (uid 0 included): only the mode
    // bits will count.
    let in_group = user.gid.as_raw() == group || user.groups.iter().any(|g| g.as_raw() == group);
    let bits = if user.uid.as_raw() == owner {
        (mode >> 6) & 0o3
    } else if in_group {
        (mode >> 3) & 0o3
    } else {
        mode & 0o3
    };
    if bits == 0o3 {
        Ok(())
    } else {
        Err(format!(
            "not writable by the service's user (uid {} gid {}; service.user) once it drops \
             privileges: owned by uid {owner} gid {group}, mode {:04o}",
            user.uid,
            user.gid,
            mode & 0o7777
        ))
    }
}

/// The owner and mode rule on its own, so it can be tested for every case. The mode comes
/// first: a directory others may write is unsafe whoever owns it.
fn check(uid: u32, mode: u32, owners: &[Uid]) -> Result<(), String> {
    if mode & 0o002 != 0 {
        return Err(format!("is world-writable (mode {:04o})", mode & 0o7777));
    }
    if mode & 0o020 != 0 {
        return Err(format!("is group-writable (mode {:04o})", mode & 0o7777));
    }
    if !owners.iter().any(|o| o.as_raw() == uid) {
        let expected: Vec<String> = owners.iter().map(|o| o.to_string()).collect();
        return Err(format!(
            "owned by uid {uid}, not by the service's user (uid {}, service.user): chown \
             it to that user or set service.user to its owner",
            expected.join(" or ")
        ));
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

    #[test]
    fn writability_is_judged_for_the_user_it_will_be() {
        let user = ServiceUser {
            uid: Uid::from_raw(40010),
            gid: Gid::from_raw(40011),
            groups: vec![Gid::from_raw(40012)],
        };
        let d = Path::new("/nonexistent");
        assert!(writable_by(&user, 40010, 0, 0o40700, d).is_ok());
        assert!(writable_by(&user, 40010, 0, 0o40500, d).is_err());
        assert!(writable_by(&user, 0, 40011, 0o40770, d).is_ok());
        assert!(writable_by(&user, 0, 40012, 0o40770, d).is_ok());
        let e = writable_by(&user, 0, 0, 0o40755, d).unwrap_err();
        assert!(e.contains("uid 40010") && e.contains("service.user"), "{e}");
    }

    /// The default user a service started as root drops to.
    fn nobody() -> ServiceUser {
        ServiceUser {
            uid: Uid::from_raw(65534),
            gid: Gid::from_raw(65534),
            groups: Vec::new(),
        }
    }

    #[test]
    fn as_root_a_created_dir_is_given_to_the_service_user_and_a_root_one_refused() {
        if !nix::unistd::geteuid().is_root() {
            crate::harness::skip::skipped("giving directories to another user", "needs root");
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let user = nobody();
        let owners = [user.uid];
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b/run");
        prepare_for("runtime dir", &dir, 0o700, &user, &owners, false).unwrap();
        let st = std::fs::metadata(&dir).unwrap();
        assert_eq!(
            (st.uid(), st.gid(), st.mode() & 0o777),
            (65534, 65534, 0o700)
        );
        // Its parents stay root's, but the user can pass through them; no temporary name
        // is left beside it.
        let parent = std::fs::metadata(base.path().join("a/b")).unwrap();
        assert_eq!((parent.uid(), parent.mode() & 0o777), (0, 0o711));
        let names: Vec<_> = std::fs::read_dir(base.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("run")]);
        // A shared runtime dir's mode is set through the descriptor too.
        let shared = base.path().join("shared");
        prepare_for("runtime dir", &shared, 0o711, &user, &owners, false).unwrap();
        let st = std::fs::metadata(&shared).unwrap();
        assert_eq!((st.uid(), st.mode() & 0o777), (65534, 0o711));
        // Again: it is the user's now, so it is accepted as it is.
        prepare_for("runtime dir", &dir, 0o700, &user, &owners, false).unwrap();

        let old = base.path().join("old");
        std::fs::create_dir(&old).unwrap();
        let e = prepare_for("state dir", &old, 0o700, &user, &owners, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("owned by uid 0") && e.contains("uid 65534") && e.contains("service.user"),
            "{e}"
        );
        assert_eq!(std::fs::metadata(&old).unwrap().uid(), 0, "left as it was");
    }

    #[test]
    fn as_root_a_symlink_is_never_given_away() {
        if !nix::unistd::geteuid().is_root() {
            crate::harness::skip::skipped("giving directories to another user", "needs root");
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let base = tempfile::tempdir().unwrap();
        let real = base.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let user = nobody();
        let e = prepare_for("state dir", &link, 0o700, &user, &[user.uid], false).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert_eq!(std::fs::metadata(&real).unwrap().uid(), 0);
    }
}
