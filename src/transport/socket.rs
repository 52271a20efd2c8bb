//! Creates the unix sockets vhost-user frontends connect to: private by default, never
//! clobbering a live service's socket, and replacing the stale one a crashed run left.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::stat::{umask, Mode};
use nix::unistd::{chown, Gid};

/// Why a socket could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Another process accepts connections on the path.
    #[error("{0}: in use by another running process")]
    InUse(PathBuf),
    /// The path exists and is not a socket; it is left alone.
    #[error("{0}: exists and is not a socket (not removing it)")]
    NotASocket(PathBuf),
    /// An OS call on the path failed.
    #[error("{path}: cannot {what}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io_err<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> SocketError + 'a {
    move |source| SocketError::Io {
        path: path.to_owned(),
        what,
        source,
    }
}

/// Removes a socket file left by a process that no longer listens on it.
fn clear_stale(path: &Path) -> Result<(), SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path, "inspect")(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(path.to_owned()));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(SocketError::InUse(path.to_owned())),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            log::info!("{}: replacing stale socket", path.display());
            std::fs::remove_file(path).map_err(io_err(path, "remove stale socket"))
        }
        Err(e) => Err(io_err(path, "probe existing socket")(e)),
    }
}

/// Binds a listening socket at `path`, mode 0600, or 0660 owned by `group` when given.
///
/// Must be called before the service spawns threads: the umask that makes the socket private
/// from the moment it exists is process-wide.
pub fn bind(path: &Path, group: Option<Gid>) -> Result<UnixListener, SocketError> {
    clear_stale(path)?;
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    let listener = bound.map_err(io_err(path, "bind"))?;
    if let Some(gid) = group {
        chown(path, None, Some(gid)).map_err(|e| io_err(path, "set socket group")(e.into()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(io_err(path, "set socket mode"))?;
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_is_private_and_stale_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let l = bind(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Live: refused.
        assert!(matches!(bind(&path, None), Err(SocketError::InUse(_))));
        drop(l); // std leaves the file behind, like a crashed run.
        assert!(path.exists());
        let _l = bind(&path, None).unwrap();
    }

    #[test]
    fn regular_file_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, b"keep").unwrap();
        assert!(matches!(bind(&path, None), Err(SocketError::NotASocket(_))));
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    }
}
