//! Who is at the other end of a device socket: the SO_PEERCRED check a connection passes
//! before a single byte of it is read.

use std::os::unix::net::{UnixListener, UnixStream};

use log::warn;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::config::PeerAllowlist;
use crate::log_budget::LogBudget;

/// The credentials the kernel recorded when the peer connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// The peer's process id at connect time.
    pub pid: i32,
    /// Its effective uid.
    pub uid: u32,
    /// Its effective gid.
    pub gid: u32,
}

/// The credentials of `stream`'s peer.
pub fn peer_cred(stream: &UnixStream) -> std::io::Result<PeerCred> {
    let c = getsockopt(stream, PeerCredentials).map_err(std::io::Error::from)?;
    Ok(PeerCred {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// Accepts on `listener` until a peer `allow` admits connects; others are closed unread,
/// each refusal logged within `budget`. Errors are accept(2)'s.
pub fn accept_admitted(
    id: &str,
    listener: &UnixListener,
    allow: &PeerAllowlist,
    budget: &LogBudget,
) -> std::io::Result<(UnixStream, PeerCred)> {
    loop {
        let (stream, _) = match listener.accept() {
            Ok(a) => a,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        match peer_cred(&stream) {
            Ok(c) if allow.admits(c.uid, c.gid) => return Ok((stream, c)),
            Ok(c) => {
                if budget.admit(id) {
                    warn!(
                        "{id}: refused a frontend (pid {}, uid {}, gid {}): not in the device's \
                         peer_uids/peer_gids",
                        c.pid, c.uid, c.gid
                    );
                }
            }
            Err(e) => {
                if budget.admit(id) {
                    warn!("{id}: refused a frontend whose credentials are unknown: {e}");
                }
            }
        }
        // Dropping the stream closes it: the peer reads EOF, nothing it sent was read.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_credentials_are_reported() {
        let (a, _b) = UnixStream::pair().unwrap();
        let c = peer_cred(&a).unwrap();
        assert_eq!(c.uid, nix::unistd::geteuid().as_raw());
        assert_eq!(c.pid, std::process::id() as i32);
    }

    #[test]
    fn refused_peer_is_closed_and_admitted_one_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let refused = UnixStream::connect(&path).unwrap();
        let nobody = PeerAllowlist {
            uids: vec![me.wrapping_add(1)],
            gids: vec![],
        };
        let t = std::thread::spawn(move || {
            let mut refused = refused;
            let mut buf = [0u8; 1];
            // EOF: closed without a byte read or written.
            let n = std::io::Read::read(&mut refused, &mut buf).unwrap();
            assert_eq!(n, 0);
        });
        let budget = LogBudget::default();
        let allow = PeerAllowlist {
            uids: vec![],
            gids: vec![nix::unistd::getegid().as_raw()],
        };
        let _also_refused = UnixStream::connect(&path).unwrap();
        // Both pending peers are refused and closed; then there is nothing left to accept.
        listener.set_nonblocking(true).unwrap();
        let e = accept_admitted("t", &listener, &nobody, &budget).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        t.join().unwrap();
        let _late = UnixStream::connect(&path).unwrap();
        listener.set_nonblocking(false).unwrap();
        let (_, c) = accept_admitted("t", &listener, &allow, &budget).unwrap();
        assert_eq!(c.uid, me);
    }
}
