//! Hands a frontend connection that passed the peer check to the vhost-user daemon.
//!
//! vhost-user-backend 0.24 serves only a connection it accepted or made itself
//! (`VhostUserDaemon::start`, `start_client`), so a connection we accepted to check its
//! SO_PEERCRED first cannot be given to it. Instead the daemon connects to a listener of
//! ours in a private directory (mode 0700, created per connection and removed at once), we
//! check that the connection came from this process, and relay whole vhost-user messages,
//! with the file descriptors attached to them, between the frontend and the daemon.
//!
//! Only the control messages pass here (setup, memory tables, vring addresses, resets):
//! the rings and their kicks travel through the shared memory and eventfds those messages
//! carry, so the relay costs nothing on the data path. It never reads more than one
//! message's header and a body of at most [`MAX_BODY`] bytes at a time, and keeps the
//! descriptors of each message with that message, as the receiving endpoint expects.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use super::peer::peer_cred;

/// A vhost-user message header: request, flags, body size (little-endian u32 each).
const HEADER: usize = 12;

/// The largest body a vhost-user message may have (the vhost crate's MAX_MSG_SIZE).
pub const MAX_BODY: usize = 0x1000;

/// The most descriptors one message can carry (SCM_MAX_FD); room for all of them means the
/// kernel never truncates, so no received descriptor is ever lost unclosed.
const MAX_FDS: usize = 253;

/// A listener the daemon can connect to, in a private directory removed on drop.
pub struct Handoff {
    dir: PathBuf,
    path: PathBuf,
    listener: UnixListener,
}

impl Handoff {
    /// Binds a fresh handoff listener in a new private directory under `parent`.
    pub fn new(parent: &Path) -> std::io::Result<Self> {
        let dir = nix::unistd::mkdtemp(&parent.join(".dvmXXXXXX"))?;
        let path = dir.join("h");
        match UnixListener::bind(&path) {
            Ok(listener) => Ok(Self {
                dir,
                path,
                listener,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// The path the daemon connects to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts the daemon's connection: one from this very process. Something else that
    /// got into the private directory (the service's own uid, or root) is closed unread.
    pub fn accept_own(&self) -> std::io::Result<UnixStream> {
        let me = std::process::id() as i32;
        // Bounded: the daemon has connected already, so its connection is in the backlog.
        for _ in 0..8 {
            let (s, _) = self.listener.accept()?;
            if peer_cred(&s)?.pid == me {
                return Ok(s);
            }
            log::warn!(
                "{}: a foreign process connected; closed",
                self.path.display()
            );
        }
        Err(std::io::Error::other(
            "the vhost-user handler's connection did not arrive",
        ))
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Two relay threads and the sockets they move messages between.
pub struct Relay {
    frontend: UnixStream,
    daemon: UnixStream,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Starts relaying between `frontend` and `daemon` in threads named after `id`.
    pub fn start(id: &str, frontend: UnixStream, daemon: UnixStream) -> std::io::Result<Self> {
        let mut threads = Vec::with_capacity(2);
        for (from, to, dir) in [
            (frontend.try_clone()?, daemon.try_clone()?, "in"),
            (daemon.try_clone()?, frontend.try_clone()?, "out"),
        ] {
            let name = format!("{id}-relay-{dir}");
            let who = id.to_owned();
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || forward(&who, &from, &to));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let _ = frontend.shutdown(std::net::Shutdown::Both);
                    let _ = daemon.shutdown(std::net::Shutdown::Both);
                    return Err(e);
                }
            }
        }
        Ok(Self {
            frontend,
            daemon,
            threads,
        })
    }

    /// Closes both sides and waits for the relay threads.
    pub fn stop(mut self) {
        let _ = self.frontend.shutdown(std::net::Shutdown::Both);
        let _ = self.daemon.shutdown(std::net::Shutdown::Both);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Moves whole messages from `from` to `to` until either side ends, then shuts both down
/// so the other direction, the daemon and the frontend all see the end.
fn forward(id: &str, from: &UnixStream, to: &UnixStream) {
    let mut buf = vec![0u8; HEADER + MAX_BODY];
    let mut fds: Vec<OwnedFd> = Vec::new();
    loop {
        match read_message(from, &mut buf, &mut fds) {
            Ok(Some(len)) => {
                let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
                if send_all(to, &buf[..len], &raw).is_err() {
                    break;
                }
                // Ours are closed; the receiver got its own copies.
                fds.clear();
            }
            Ok(None) => break,
            // Once per connection at most: the connection ends here. A reset is the
            // other side going away, not news.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => {
                log::warn!("{id}: ending the frontend connection: {e}");
                break;
            }
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Reads one message (header, then the body it announces) and the descriptors sent with
/// it; `None` at a clean end between messages.
fn read_message(
    from: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> std::io::Result<Option<usize>> {
    if !read_exact(from, &mut buf[..HEADER], fds)? {
        return Ok(None);
    }
    let size = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
    if size > MAX_BODY {
        return Err(std::io::Error::other(format!(
            "message body of {size} bytes (most {MAX_BODY})"
        )));
    }
    if size > 0 && !read_exact(from, &mut buf[HEADER..HEADER + size], fds)? {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(HEADER + size))
}

/// Fills `buf`, collecting descriptors; false when the peer closed before the first byte.
fn read_exact(from: &UnixStream, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buf[got..])];
        let msg = match recvmsg::<()>(
            from.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let n = msg.bytes;
        for c in msg.cmsgs().map_err(std::io::Error::from)? {
            if let ControlMessageOwned::ScmRights(received) = c {
                for fd in received {
                    // SAFETY: the kernel just installed `fd` in this process for this
                    // message; nothing else refers to it.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        if fds.len() > MAX_FDS {
            return Err(std::io::Error::other("too many descriptors in one message"));
        }
        if n == 0 {
            if got == 0 && fds.is_empty() {
                return Ok(false);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(true)
}

/// Sends `data` with `fds` attached to its first byte.
fn send_all(to: &UnixStream, data: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    let mut sent = 0;
    while sent < data.len() {
        let iov = [IoSlice::new(&data[sent..])];
        let rights = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
            &rights
        } else {
            &[]
        };
        match sendmsg::<()>(to.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn message(request: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&request.to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(&(body.len() as u32).to_le_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn messages_and_their_descriptors_cross_whole() {
        let (mut vmm, front) = UnixStream::pair().unwrap();
        let (back, mut daemon) = UnixStream::pair().unwrap();
        let relay = Relay::start("t", front, back).unwrap();
        // A message with a descriptor, then one without, written back to back.
        let (mut probe_a, probe_b) = UnixStream::pair().unwrap();
        let first = message(5, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let second = message(1, &[]);
        send_all(&vmm, &first, &[probe_b.as_raw_fd()]).unwrap();
        drop(probe_b);
        vmm.write_all(&second).unwrap();
        let mut fds = Vec::new();
        let mut buf = vec![0u8; HEADER + MAX_BODY];
        let n = read_message(&daemon, &mut buf, &mut fds).unwrap().unwrap();
        assert_eq!(&buf[..n], &first[..]);
        assert_eq!(fds.len(), 1);
        // The descriptor is the same socket: what goes in one end comes out the other.
        let mut passed = UnixStream::from(fds.pop().unwrap());
        passed.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        probe_a.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"x");
        let n = read_message(&daemon, &mut buf, &mut fds).unwrap().unwrap();
        assert_eq!(&buf[..n], &second[..]);
        assert!(fds.is_empty());
        // Replies go the other way.
        let reply = message(1, &7u64.to_le_bytes());
        daemon.write_all(&reply).unwrap();
        let n = read_message(&vmm, &mut buf, &mut fds).unwrap().unwrap();
        assert_eq!(&buf[..n], &reply[..]);
        // The frontend leaving ends the daemon's side too.
        drop(vmm);
        let mut rest = Vec::new();
        daemon.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        relay.stop();
    }

    #[test]
    fn oversized_body_ends_the_connection() {
        let (mut vmm, front) = UnixStream::pair().unwrap();
        let (back, mut daemon) = UnixStream::pair().unwrap();
        let relay = Relay::start("t", front, back).unwrap();
        let mut m = message(1, &[]);
        m[8..12].copy_from_slice(&(MAX_BODY as u32 + 1).to_le_bytes());
        vmm.write_all(&m).unwrap();
        let mut rest = Vec::new();
        daemon.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "nothing of it was forwarded");
        relay.stop();
    }

    #[test]
    fn handoff_admits_only_this_process_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let h = Handoff::new(dir.path()).unwrap();
        let _c = UnixStream::connect(h.path()).unwrap();
        h.accept_own().unwrap();
        let path = h.path().to_owned();
        drop(h);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
