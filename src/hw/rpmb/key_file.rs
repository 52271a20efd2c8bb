//! The device key file of a physical RPMB, made durable before the key can reach the part.
//!
//! Programming a key into a blank RPMB is irreversible. If the service crashed (or the
//! machine lost power) after programming a freshly generated key but before the key file
//! was durable, the part would be keyed with a key nobody has: bricked. So a new key is
//! written to a temporary file, given to the service's user, fsynced, linked into place
//! (which fails rather than replace a key someone else created meanwhile), and the directory
//! fsynced, all before the caller ever sees the key. A crash at any step leaves either no
//! key file (the next start makes a new key; the part was never keyed) or a complete one,
//! already its user's (see [`super::owner`]).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::owner::{FileOwner, ForeignOwner};
use super::RpmbKey;

/// Why the key file could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file exists but is not a 32-byte key.
    #[error("key file {path} holds {len} bytes, expected 32")]
    Length {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// The file belongs to another user than the service's.
    #[error("key file {path}: {owner}")]
    Owner {
        /// The key file.
        path: PathBuf,
        /// Who owns it, and who should.
        owner: ForeignOwner,
    },
    /// No randomness for a new key.
    #[error("no randomness for a new key: {0}")]
    Random(String),
    /// A file system operation failed.
    #[error("key file {path}: cannot {what}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operation.
        what: &'static str,
        /// The failure.
        source: std::io::Error,
    },
}

fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> KeyFileError {
    let path = path.to_owned();
    move |source| KeyFileError::Io { path, what, source }
}

/// Where a new key is written before it is linked into place.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    path.with_file_name(name)
}

/// Reads the key from `f`, the file at `path`, once it is known to be `owner`'s.
fn read_key(path: &Path, owner: &FileOwner, mut f: File) -> Result<RpmbKey, KeyFileError> {
    owner
        .check(&f)
        .map_err(io(path, "stat"))?
        .map_err(|owner| KeyFileError::Owner {
            path: path.to_owned(),
            owner,
        })?;
    let mut bytes = Vec::with_capacity(33);
    // One byte more than a key, to tell a longer file from a key.
    (&mut f)
        .take(33)
        .read_to_end(&mut bytes)
        .map_err(io(path, "read"))?;
    let raw: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyFileError::Length {
            path: path.to_owned(),
            len: bytes.len(),
        })?;
    Ok(RpmbKey::new(raw))
}

/// Opens the key file for reading without following a symlink at `path`: one planted there
/// by whoever could write the state dir would hand the service another file as its key.
fn open_key(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(super::refuse_symlink)
}

/// Removes the temporary file an interrupted key creation left, if any.
fn remove_leftover(temp: &Path) -> Result<(), KeyFileError> {
    match std::fs::remove_file(temp) {
        Ok(()) => {
            log::warn!(
                "removed {}, left by an interrupted key creation",
                temp.display()
            );
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(temp, "remove")(e)),
    }
}

/// Reads the key at `path`, which must be `owner`'s, or creates it durably from `fresh`,
/// owned by `owner` with mode 0600 from the moment it has its name.
///
/// Returns the key and whether it was created now.
pub fn load_or_create(
    path: &Path,
    owner: &FileOwner,
    fresh: impl FnOnce() -> Result<[u8; 32], String>,
) -> Result<(RpmbKey, bool), KeyFileError> {
    let temp = temp_path(path);
    match open_key(path) {
        Ok(f) => {
            // A crash between the link and the temp's removal leaves a second name of the
            // key behind.
            remove_leftover(&temp)?;
            return read_key(path, owner, f).map(|k| (k, false));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(path, "open")(e)),
    }
    let raw = fresh().map_err(KeyFileError::Random)?;
    // A leftover from a crash before the link: it never became the key, so it goes.
    remove_leftover(&temp)?;
    // O_EXCL: never through a symlink, never someone else's file.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&temp)
        .map_err(io(&temp, "create"))?;
    // Given away before the fsync, so the owner is as durable as the key, and before the
    // link, so the key file never has its name while still the creator's.
    let written = f
        .write_all(&raw)
        .map_err(io(&temp, "write"))
        .and_then(|()| {
            owner
                .give(&f)
                .map_err(io(&temp, "give to the service's user"))
        })
        .and_then(|()| f.sync_all().map_err(io(&temp, "sync")));
    drop(f);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        // Someone created the key meanwhile: theirs is the key.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let f = open_key(path).map_err(io(path, "open"))?;
            return read_key(path, owner, f).map(|k| (k, false));
        }
        Err(e) => return Err(io(path, "link")(e)),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "sync the directory of"))?;
    Ok((RpmbKey::new(raw), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn me() -> FileOwner {
        FileOwner::process()
    }

    #[test]
    fn a_second_name_left_by_a_crash_after_the_link_goes_and_the_key_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emmc0.key");
        load_or_create(&path, &me(), || Ok([5; 32])).unwrap();
        std::fs::hard_link(&path, temp_path(&path)).unwrap();
        let (key, created) = load_or_create(&path, &me(), || panic!("no new key")).unwrap();
        assert_eq!((key, created), (RpmbKey::new([5; 32]), false));
        assert!(!temp_path(&path).exists());
        assert_eq!(std::fs::read(&path).unwrap(), [5; 32]);
    }

    #[test]
    fn a_key_file_another_user_owns_is_refused_by_name_unless_shared_dirs_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emmc0.key");
        load_or_create(&path, &me(), || Ok([3; 32])).unwrap();
        // To a service running as someone else, this file is another user's.
        let service = FileOwner {
            uid: me().uid.wrapping_add(1),
            ..me()
        };
        let e = load_or_create(&path, &service, || panic!("no new key")).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, KeyFileError::Owner { .. })
                && text.contains(&path.display().to_string())
                && text.contains(&format!("owned by uid {}", me().uid)),
            "{text}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), [3; 32], "left as it was");
        let shared = FileOwner {
            accept_others: true,
            ..service
        };
        let (key, created) = load_or_create(&path, &shared, || panic!("no new key")).unwrap();
        assert_eq!((key, created), (RpmbKey::new([3; 32]), false));
    }

    #[test]
    fn as_root_a_new_key_file_is_born_the_service_users() {
        if !nix::unistd::geteuid().is_root() {
            crate::harness::skip::skipped("giving a key file to another user", "needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emmc0.key");
        let nobody = FileOwner {
            uid: 65534,
            gid: 65534,
            accept_others: false,
        };
        load_or_create(&path, &nobody, || Ok([4; 32])).unwrap();
        let st = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (st.uid(), st.gid(), st.mode() & 0o7777, st.nlink()),
            (65534, 65534, 0o600, 1)
        );
        // And root's own key file, as a release before this one left it, is refused.
        let old = dir.path().join("old.key");
        load_or_create(&old, &me(), || Ok([5; 32])).unwrap();
        let e = load_or_create(&old, &nobody, || panic!("no new key")).unwrap_err();
        assert!(e.to_string().contains("owned by uid 0"), "{e}");
        assert_eq!(std::fs::metadata(&old).unwrap().uid(), 0, "never chowned");
    }

    #[test]
    fn a_new_key_is_complete_private_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emmc0.key");
        let (key, created) = load_or_create(&path, &me(), || Ok([7; 32])).unwrap();
        assert!(created);
        assert_eq!(key, RpmbKey::new([7; 32]));
        assert_eq!(std::fs::read(&path).unwrap(), [7; 32]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!temp_path(&path).exists());
        // The next start reads it, and never calls for randomness.
        let (again, created) = load_or_create(&path, &me(), || panic!("no new key")).unwrap();
        assert!(!created);
        assert_eq!(again, key);
    }

    #[test]
    fn a_symlink_at_the_key_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, [9; 32]).unwrap();
        let path = dir.path().join("k");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let e = load_or_create(&path, &me(), || panic!("no new key")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // Dangling: not followed into creating a key at the target either.
        std::fs::remove_file(&target).unwrap();
        assert!(load_or_create(&path, &me(), || Ok([1; 32])).is_err());
        assert!(!target.exists());
    }

    #[test]
    fn a_temp_file_left_by_a_crash_never_becomes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(temp_path(&path), [1; 5]).unwrap();
        let (key, created) = load_or_create(&path, &me(), || Ok([2; 32])).unwrap();
        assert!(created);
        assert_eq!(key, RpmbKey::new([2; 32]));
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn a_key_file_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, [1; 40]).unwrap();
        assert!(matches!(
            load_or_create(&path, &me(), || Ok([2; 32])),
            Err(KeyFileError::Length { len: 33, .. })
        ));
        std::fs::write(&path, [1; 31]).unwrap();
        assert!(matches!(
            load_or_create(&path, &me(), || Ok([2; 32])),
            Err(KeyFileError::Length { len: 31, .. })
        ));
    }
}
