//! Creates the unix sockets frontends connect to: with their final owner, group and mode
//! from the moment they can be reached, never clobbering a live service's socket, and
//! replacing the stale one a crashed run left without a check-then-remove race.
//!
//! A unix socket's file is created by bind(2) with the process umask, and its owner and
//! mode can then only be changed through its path (fchmod/fchown on the socket fd change
//! the socket's own inode, not the file). So the socket is bound inside a private directory
//! (mode 0700, made by mkdtemp next to the final path), given its owner, group and mode
//! there, where nobody else can reach or swap the name, and then renamed into place:
//! rename(2) is atomic, so the final path shows either the old entry or the finished socket,
//! and a stale socket is replaced in the same step instead of being unlinked first.

use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::nix_compat;

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

fn errno_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(Errno) -> SocketError + 'a {
    move |e| io_err(path, what)(e.into())
}

/// Who may reach a socket through the filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketAccess {
    /// The socket file's owner; `None` keeps the service's (a different one needs CAP_CHOWN).
    pub owner: Option<Uid>,
    /// The socket file's group, which may then connect (mode 0660).
    pub group: Option<Gid>,
}

impl SocketAccess {
    /// Mode 0600 (owner only), or 0660 when a group is given.
    pub fn mode(&self) -> Mode {
        Mode::from_bits_truncate(if self.group.is_some() { 0o660 } else { 0o600 })
    }
}

/// What is at a socket path before binding.
enum Existing {
    /// Nothing.
    Nothing,
    /// A socket nobody listens on.
    Stale,
}

/// Looks at `path` without following a symlink: a live socket or anything but a socket is
/// an error; a stale socket is left for the rename to replace.
fn probe(path: &Path) -> Result<Existing, SocketError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(io_err(path, "inspect")(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotASocket(path.to_owned()));
    }
    // Non-blocking: a live server with a full backlog must not park the probe.
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(errno_err(path, "probe existing socket"))?;
    let addr = UnixAddr::new(path).map_err(errno_err(path, "probe existing socket"))?;
    match connect(s.as_raw_fd(), &addr) {
        Ok(()) | Err(Errno::EAGAIN) | Err(Errno::EINPROGRESS) => {
            Err(SocketError::InUse(path.to_owned()))
        }
        Err(Errno::ECONNREFUSED) => Ok(Existing::Stale),
        Err(Errno::ENOENT) => Ok(Existing::Nothing),
        Err(e) => Err(io_err(path, "probe existing socket")(e.into())),
    }
}

/// A private directory next to the final socket, removed (with anything left in it) on drop.
struct PrivateDir {
    path: PathBuf,
    fd: OwnedFd,
}

/// The name the socket has inside its private directory.
const TEMP_NAME: &str = "s";

impl PrivateDir {
    fn new(parent: &Path, for_path: &Path) -> Result<Self, SocketError> {
        let path = nix::unistd::mkdtemp(&parent.join(".dvmXXXXXX"))
            .map_err(errno_err(for_path, "create a private directory to bind in"))?;
        match crate::nix_compat::open_dir_nofollow(&path) {
            Ok(file) => Ok(Self {
                path,
                fd: OwnedFd::from(file),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(io_err(for_path, "open the private directory")(e))
            }
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path.join(TEMP_NAME));
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Binds a listening socket at `path` with `access`'s owner, group and mode.
///
/// A stale socket (nothing listens on it) is replaced; a live one, or anything that is not
/// a socket, is an error and left alone. The parent directory must be writable only by the
/// service (see `service::dirs`): a process that can write it could still put a socket of
/// its own at `path` between the probe and the rename.
pub fn bind(path: &Path, access: SocketAccess) -> Result<UnixListener, SocketError> {
    let name = path
        .file_name()
        .ok_or_else(|| io_err(path, "bind")(ErrorKind::InvalidInput.into()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    probe(path)?;
    let private = PrivateDir::new(parent, path)?;
    let temp = private.path.join(TEMP_NAME);
    let listener = UnixListener::bind(&temp).map_err(io_err(path, "bind"))?;
    let dirfd = private.fd.as_fd();
    if access.owner.is_some() || access.group.is_some() {
        // The name is ours alone inside the private directory; no symlink can be there.
        nix_compat::fchownat_nofollow(dirfd, TEMP_NAME, access.owner, access.group)
            .map_err(errno_err(path, "set socket owner"))?;
    }
    nix_compat::fchmodat(dirfd, TEMP_NAME, access.mode())
        .map_err(errno_err(path, "set socket mode"))?;
    let parent_dir =
        nix_compat::open_dir(parent).map_err(io_err(path, "open the socket's directory"))?;
    if let Existing::Stale = probe(path)? {
        log::info!("{}: replacing stale socket", path.display());
    }
    nix_compat::renameat(dirfd, TEMP_NAME, parent_dir.as_fd(), name)
        .map_err(errno_err(path, "move the socket into place"))?;
    Ok(listener)
}

/// Removes the socket at `path` if it is still a socket (never a file put there meanwhile).
pub fn remove(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::other("no longer a socket; left alone"));
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn socket_is_private_and_stale_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let l = bind(&path, SocketAccess::default()).unwrap();
        assert_eq!(mode(&path), 0o600);
        // Live: refused.
        assert!(matches!(
            bind(&path, SocketAccess::default()),
            Err(SocketError::InUse(_))
        ));
        drop(l); // std leaves the file behind, like a crashed run.
        assert!(path.exists());
        let _l = bind(&path, SocketAccess::default()).unwrap();
        // Nothing but the socket is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("d.sock")]);
    }

    #[test]
    fn group_socket_is_0660_with_that_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sock");
        let gid = nix::unistd::getegid();
        let _l = bind(
            &path,
            SocketAccess {
                owner: None,
                group: Some(gid),
            },
        )
        .unwrap();
        assert_eq!(mode(&path), 0o660);
        assert_eq!(std::fs::metadata(&path).unwrap().gid(), gid.as_raw());
    }

    #[test]
    fn regular_file_and_symlink_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, b"keep").unwrap();
        assert!(matches!(
            bind(&path, SocketAccess::default()),
            Err(SocketError::NotASocket(_))
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            bind(&link, SocketAccess::default()),
            Err(SocketError::NotASocket(_))
        ));
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
