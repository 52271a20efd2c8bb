//! Who the RPMB state files (images, device key files) belong to.
//!
//! The service creates them at start-up, often still as root, and then drops to its own
//! user. A file left root's would work only while the descriptor root opened is kept: the
//! next start as the service's user (an init system's `user` line) could not open it, and
//! the state directory would hold files its own user cannot replace. So a new file is given
//! to that user through its descriptor before it appears under its name, and an existing
//! one must already be that user's: while root, the service opens no state file its user
//! could not have opened itself (a hard link to a root file planted at the path included).

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// The only mode a state file has: it holds or protects a key.
const MODE: u32 = 0o600;

/// Whom new state files are given to, and whether existing ones must already be theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOwner {
    /// The user new files get and existing ones must have.
    pub uid: u32,
    /// The group new files get.
    pub gid: u32,
    /// Accept an existing file another user owns (`service.allow_shared_dirs`).
    pub accept_others: bool,
}

/// An existing state file owned by someone other than the service's user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "owned by uid {found}, not by the service's user (uid {expected}, service.user): chown \
     it to that user (a file an older release created as root needs `chown {expected}:{group} \
     FILE`), or set service.allow_shared_dirs = true to accept it"
)]
pub struct ForeignOwner {
    /// The file's owner.
    pub found: u32,
    /// The service's user.
    pub expected: u32,
    /// The service's group.
    pub group: u32,
}

impl FileOwner {
    /// The process's own effective user and group; existing files must be its.
    pub fn process() -> Self {
        FileOwner {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            accept_others: false,
        }
    }

    /// Gives a file just created, and not yet linked under its name, to this owner with
    /// mode 0600, through its descriptor (the umask may have taken bits, never added any).
    /// A file already this owner's is not chowned, so an unprivileged service needs no
    /// privilege for it.
    pub(crate) fn give(&self, file: &File) -> std::io::Result<()> {
        let st = file.metadata()?;
        if (st.uid(), st.gid()) != (self.uid, self.gid) {
            std::os::unix::fs::fchown(file, Some(self.uid), Some(self.gid))?;
        }
        if st.mode() & 0o7777 != MODE {
            file.set_permissions(std::fs::Permissions::from_mode(MODE))?;
        }
        Ok(())
    }

    /// Refuses an existing file, opened as `file`, that another user owns, unless others'
    /// files are accepted.
    pub(crate) fn check(&self, file: &File) -> std::io::Result<Result<(), ForeignOwner>> {
        let found = file.metadata()?.uid();
        Ok(if found == self.uid || self.accept_others {
            Ok(())
        } else {
            Err(ForeignOwner {
                found,
                expected: self.uid,
                group: self.gid,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_own_file_is_given_its_mode_and_a_foreign_one_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = File::open(&path).unwrap();
        let me = FileOwner::process();
        me.give(&file).unwrap();
        let st = std::fs::metadata(&path).unwrap();
        assert_eq!((st.uid(), st.mode() & 0o7777), (me.uid, 0o600));
        assert_eq!(me.check(&file).unwrap(), Ok(()));

        let other = FileOwner {
            uid: me.uid.wrapping_add(1),
            ..me
        };
        let e = other.check(&file).unwrap().unwrap_err();
        assert_eq!(e.found, me.uid);
        let text = e.to_string();
        assert!(
            text.contains(&format!("owned by uid {}", me.uid))
                && text.contains("service.user")
                && text.contains("service.allow_shared_dirs"),
            "{text}"
        );
        let shared = FileOwner {
            accept_others: true,
            ..other
        };
        assert_eq!(shared.check(&file).unwrap(), Ok(()));
    }
}
