//! The device key file of a physical RPMB, made durable before the key can reach the part.
//!
//! Programming a key into a blank RPMB is irreversible. If the service crashed (or the
//! machine lost power) after programming a freshly generated key but before the key file
//! was durable, the part would be keyed with a key nobody has: bricked. So a new key is
//! written to a temporary file, fsynced, linked into place (which fails rather than replace
//! a key someone else created meanwhile), and the directory fsynced, all before the caller
//! ever sees the key. A crash at any step leaves either no key file (the next start makes a
//! new key; the part was never keyed) or a complete one.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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

fn read_key(path: &Path, mut f: File) -> Result<RpmbKey, KeyFileError> {
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

/// Reads the key at `path`, or creates it durably (mode 0600) from `fresh`.
///
/// Returns the key and whether it was created now.
pub fn load_or_create(
    path: &Path,
    fresh: impl FnOnce() -> Result<[u8; 32], String>,
) -> Result<(RpmbKey, bool), KeyFileError> {
    match open_key(path) {
        Ok(f) => return read_key(path, f).map(|k| (k, false)),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(path, "open")(e)),
    }
    let raw = fresh().map_err(KeyFileError::Random)?;
    let temp = temp_path(path);
    // A leftover from a crash before the link: it never became the key, so it goes.
    match std::fs::remove_file(&temp) {
        Ok(()) => log::warn!(
            "removed {}, left by an interrupted key creation",
            temp.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(&temp, "remove")(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io(&temp, "create"))?;
    f.write_all(&raw)
        .and_then(|()| f.sync_all())
        .map_err(io(&temp, "write"))?;
    drop(f);
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        // Someone created the key meanwhile: theirs is the key.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let f = open_key(path).map_err(io(path, "open"))?;
            return read_key(path, f).map(|k| (k, false));
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
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_key_is_complete_private_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emmc0.key");
        let (key, created) = load_or_create(&path, || Ok([7; 32])).unwrap();
        assert!(created);
        assert_eq!(key, RpmbKey::new([7; 32]));
        assert_eq!(std::fs::read(&path).unwrap(), [7; 32]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!temp_path(&path).exists());
        // The next start reads it, and never calls for randomness.
        let (again, created) = load_or_create(&path, || panic!("no new key")).unwrap();
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
        let e = load_or_create(&path, || panic!("no new key")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // Dangling: not followed into creating a key at the target either.
        std::fs::remove_file(&target).unwrap();
        assert!(load_or_create(&path, || Ok([1; 32])).is_err());
        assert!(!target.exists());
    }

    #[test]
    fn a_temp_file_left_by_a_crash_never_becomes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(temp_path(&path), [1; 5]).unwrap();
        let (key, created) = load_or_create(&path, || Ok([2; 32])).unwrap();
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
            load_or_create(&path, || Ok([2; 32])),
            Err(KeyFileError::Length { len: 33, .. })
        ));
        std::fs::write(&path, [1; 31]).unwrap();
        assert!(matches!(
            load_or_create(&path, || Ok([2; 32])),
            Err(KeyFileError::Length { len: 31, .. })
        ));
    }
}
