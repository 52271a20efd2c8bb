//! The accept loop of the RPC control endpoints. rsbinder 0.12's own (`RpcServer::run`) polls
//! a non-blocking accept every 5 ms, about 200 wake-ups a second per listener for as long as
//! the service runs; a driver VM shares its vCPUs with the guests it serves. This loop blocks
//! in poll(2) on the listener and an eventfd (written to stop it, or when a connection slot
//! frees up at the cap), so an idle service never wakes. Each admitted connection goes to
//! `RpcServer::serve_connection`, rsbinder's public entry for a connection it did not accept.
//!
//! Admission is ours, before any RPC byte: the unix uid and vsock CID allowlists, a cap on
//! connections in all, and a cap per peer (a unix uid, a vsock CID) so one client cannot
//! take every slot.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use log::{debug, error, info, warn};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rsbinder::rpc::transport::{UnixTransport, VsockTransport};
use rsbinder::rpc::{PeerIdentity, RpcError, RpcServer, RpcTransport};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vsock::{VsockListener, VsockStream};

use super::super::access::{vsock_peer_allowed, VsockDecision};
use crate::transport::log_budget::LogBudget;

/// Most simultaneous connections per endpoint; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;

/// Most simultaneous connections from one peer (a uid on unix, a CID on vsock). A client
/// session uses one connection per server thread it calls on plus one per callback thread.
pub const MAX_PER_PEER: usize = 16;

/// How long to back off when the process is out of file descriptors or memory: poll would
/// report the pending connection again at once.
const EXHAUSTED_BACKOFF: Duration = Duration::from_millis(50);

/// A bound, listening control socket.
pub enum Listener {
    /// A unix stream socket, with the uids allowed to connect (empty: any).
    Unix(UnixListener, Vec<u32>),
    /// A vsock stream socket, with the CIDs allowed to connect.
    Vsock(VsockListener, Vec<u32>),
}

/// Who a connection counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Peer {
    Uid(u32),
    Cid(u32),
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Uid(u) => write!(f, "uid {u}"),
            Peer::Cid(c) => write!(f, "CID {c}"),
        }
    }
}

/// Live connections, in all and per peer.
struct Slots {
    live: Mutex<(usize, HashMap<Peer, usize>)>,
    /// Written when a slot frees up while the endpoint is at its cap, and to stop.
    wake: EventFd,
    stop: AtomicBool,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, (usize, HashMap<Peer, usize>)> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn total(&self) -> usize {
        self.lock().0
    }

    /// Takes a slot for `peer`, or says which cap refused it.
    fn take(self: &Arc<Self>, peer: Peer) -> Result<Slot, &'static str> {
        let mut live = self.lock();
        if live.0 >= MAX_CONNECTIONS {
            return Err("the endpoint's connection cap");
        }
        let n = live.1.entry(peer).or_insert(0);
        if *n >= MAX_PER_PEER {
            return Err("the per-peer connection cap");
        }
        *n += 1;
        live.0 += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            peer,
        })
    }

    fn wake(&self) {
        if let Err(e) = self.wake.write(1) {
            warn!("control: cannot wake the accept loop: {e}");
        }
    }
}

/// One connection's place in [`Slots`], given back when rsbinder drops the transport.
struct Slot {
    slots: Arc<Slots>,
    peer: Peer,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let was_full = {
            let mut live = self.slots.lock();
            let was_full = live.0 >= MAX_CONNECTIONS;
            live.0 = live.0.saturating_sub(1);
            if let Some(n) = live.1.get_mut(&self.peer) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    live.1.remove(&self.peer);
                }
            }
            was_full
        };
        if was_full {
            self.slots.wake();
        }
    }
}

/// A transport that holds its connection's slot for as long as rsbinder keeps it.
struct Counted {
    inner: Box<dyn RpcTransport>,
    _slot: Slot,
}

type RpcResult<T> = std::result::Result<T, RpcError>;

impl RpcTransport for Counted {
    fn send_frame(&self, buf: &[u8]) -> RpcResult<()> {
        self.inner.send_frame(buf)
    }
    fn recv_frame(&self) -> RpcResult<Vec<u8>> {
        self.inner.recv_frame()
    }
    fn peer_identity(&self) -> PeerIdentity {
        self.inner.peer_identity()
    }
    fn describe(&self) -> &str {
        self.inner.describe()
    }
    fn set_read_timeout(&self, t: Option<Duration>) -> RpcResult<()> {
        self.inner.set_read_timeout(t)
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> RpcResult<()> {
        self.inner.set_write_timeout(t)
    }
    fn set_liveness(&self, t: Option<Duration>) -> RpcResult<()> {
        self.inner.set_liveness(t)
    }
    fn peer_closed(&self) -> Option<bool> {
        self.inner.peer_closed()
    }
    fn shutdown_handle(&self) -> Option<Box<dyn FnOnce() + Send>> {
        self.inner.shutdown_handle()
    }
    fn shutdown(&self) -> RpcResult<()> {
        self.inner.shutdown()
    }
    fn supports_fd_passing(&self) -> bool {
        self.inner.supports_fd_passing()
    }
    fn send_frame_with_fds(&self, buf: &[u8], fds: &[BorrowedFd<'_>]) -> RpcResult<()> {
        self.inner.send_frame_with_fds(buf, fds)
    }
    fn recv_frame_with_fds(&self) -> RpcResult<(Vec<u8>, Vec<OwnedFd>)> {
        self.inner.recv_frame_with_fds()
    }
    fn send_raw(&self, buf: &[u8]) -> RpcResult<()> {
        self.inner.send_raw(buf)
    }
    fn recv_raw(&self, buf: &mut [u8]) -> RpcResult<usize> {
        self.inner.recv_raw(buf)
    }
    fn send_raw_with_fds(&self, buf: &[u8], fds: &[BorrowedFd<'_>]) -> RpcResult<()> {
        self.inner.send_raw_with_fds(buf, fds)
    }
    fn recv_raw_with_fds(&self, buf: &mut [u8]) -> RpcResult<(usize, Vec<OwnedFd>)> {
        self.inner.recv_raw_with_fds(buf)
    }
    fn send_raw_draining(
        &self,
        buf: &[u8],
        fds: &[BorrowedFd<'_>],
        drain: &mut dyn FnMut() -> RpcResult<()>,
    ) -> RpcResult<()> {
        self.inner.send_raw_draining(buf, fds, drain)
    }
}

/// The running accept loop; dropping it stops the loop and waits for its thread.
pub struct AcceptLoop {
    slots: Arc<Slots>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.slots.stop.store(true, Ordering::SeqCst);
        self.slots.wake();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                warn!("control: the accept thread panicked");
            }
        }
    }
}

impl AcceptLoop {
    /// Accepts on `listener` in a thread named `ctl-accept` and serves what it admits with
    /// `server`.
    pub fn spawn(listener: Listener, server: Arc<RpcServer>) -> io::Result<AcceptLoop> {
        match &listener {
            Listener::Unix(l, _) => l.set_nonblocking(true)?,
            Listener::Vsock(l, _) => l.set_nonblocking(true)?,
        }
        let slots = Arc::new(Slots {
            live: Mutex::new((0, HashMap::new())),
            wake: EventFd::new(EFD_NONBLOCK)?,
            stop: AtomicBool::new(false),
        });
        let looped = Arc::clone(&slots);
        let thread = std::thread::Builder::new()
            .name("ctl-accept".into())
            .spawn(move || {
                crate::thread_role::enter(crate::thread_role::ThreadRole::Control);
                run(&listener, &server, &looped)
            })?;
        Ok(AcceptLoop {
            slots,
            thread: Some(thread),
        })
    }
}

/// What accept(2) gave.
enum Accepted {
    Unix(UnixStream),
    Vsock(VsockStream),
}

fn run(listener: &Listener, server: &Arc<RpcServer>, slots: &Arc<Slots>) {
    let budget = LogBudget::default();
    let listen_fd = match listener {
        Listener::Unix(l, _) => l.as_fd(),
        Listener::Vsock(l, _) => l.as_fd(),
    };
    loop {
        if slots.stop.load(Ordering::SeqCst) {
            return;
        }
        // At the cap the listener is left out: clients wait in the backlog, and the loop
        // sleeps until a slot frees up.
        let at_cap = slots.total() >= MAX_CONNECTIONS;
        // SAFETY: the eventfd's descriptor stays open for as long as `slots` lives.
        let wake_fd =
            unsafe { BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(&slots.wake)) };
        let mut fds = vec![PollFd::new(wake_fd, PollFlags::POLLIN)];
        if !at_cap {
            fds.push(PollFd::new(listen_fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                error!("control: accept loop ending, poll failed: {e}");
                return;
            }
        }
        let listener_ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        // Consumes the wake-up; EAGAIN when there was none.
        let _ = slots.wake.read();
        if slots.stop.load(Ordering::SeqCst) {
            return;
        }
        if listener_ready && !accept_pending(listener, server, slots, &budget) {
            return;
        }
    }
}

/// Accepts every pending connection (until the cap); false when the listener is broken.
fn accept_pending(
    listener: &Listener,
    server: &Arc<RpcServer>,
    slots: &Arc<Slots>,
    budget: &LogBudget,
) -> bool {
    while slots.total() < MAX_CONNECTIONS {
        let accepted = match listener {
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Accepted::Unix(s)),
            Listener::Vsock(l, _) => l.accept().map(|(s, _)| Accepted::Vsock(s)),
        };
        match accepted {
            Ok(a) => admit(a, listener, server, slots, budget),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if transient(&e) => debug!("control: accept: {e}"),
            Err(e) if exhausted(&e) => {
                if budget.admit("control") {
                    warn!("control: accept: {e}; backing off");
                }
                std::thread::sleep(EXHAUSTED_BACKOFF);
                return true;
            }
            Err(e) => {
                error!("control: accept loop ending: {e}");
                return false;
            }
        }
    }
    true
}

/// A failure of one pending connection, not of the listener (accept(2)'s list).
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(
        e.raw_os_error(),
        Some(
            libc::EPROTO
                | libc::ENETDOWN
                | libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::ETIMEDOUT
        )
    )
}

/// Out of descriptors or memory: heals as connections close.
fn exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
    )
}

/// The uid at the other end of a unix connection.
fn peer_uid(s: &UnixStream) -> Option<u32> {
    nix::sys::socket::getsockopt(s, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.uid())
}

/// Decides on one accepted connection before any RPC byte, and serves it if admitted.
fn admit(
    accepted: Accepted,
    listener: &Listener,
    server: &Arc<RpcServer>,
    slots: &Arc<Slots>,
    budget: &LogBudget,
) {
    let peer = match (&accepted, listener) {
        (Accepted::Unix(s), listener) => {
            match peer_uid(s) {
                Some(uid) => {
                    if let Listener::Unix(_, allowed) = listener {
                        if !allowed.is_empty() && !allowed.contains(&uid) {
                            if budget.admit("control") {
                                warn!("control: refused unix peer uid {uid}: not in service.control_uids");
                            }
                            return;
                        }
                    }
                    Peer::Uid(uid)
                }
                None => {
                    if budget.admit("control") {
                        warn!("control: refused a unix peer whose credentials are unknown");
                    }
                    return;
                }
            }
        }
        (Accepted::Vsock(s), Listener::Vsock(_, allowed)) => {
            let cid = s.peer_addr().ok().map(|a| a.cid());
            match vsock_peer_allowed(allowed, cid) {
                VsockDecision::Accept => Peer::Cid(cid.unwrap_or_default()),
                VsockDecision::RefuseCid(c) => {
                    if budget.admit("control") {
                        warn!(
                            "control: refused vsock peer CID {c}: not in service.control_vsock_cids"
                        );
                    }
                    return;
                }
                VsockDecision::RefuseUnknown => {
                    if budget.admit("control") {
                        warn!("control: refused a vsock peer whose CID is unknown");
                    }
                    return;
                }
            }
        }
        (Accepted::Vsock(_), Listener::Unix(..)) => return,
    };
    let slot = match slots.take(peer) {
        Ok(s) => s,
        Err(cap) => {
            if budget.admit("control") {
                warn!("control: refused a connection from {peer}: {cap} ({MAX_PER_PEER} per peer, {MAX_CONNECTIONS} in all)");
            }
            return;
        }
    };
    let transport: RpcResult<Box<dyn RpcTransport>> = match accepted {
        Accepted::Unix(s) => s
            .set_nonblocking(false)
            .map_err(RpcError::from)
            .and_then(|()| UnixTransport::from_stream(s))
            .map(|t| Box::new(t) as Box<dyn RpcTransport>),
        Accepted::Vsock(s) => s
            .set_nonblocking(false)
            .map_err(RpcError::from)
            .and_then(|()| VsockTransport::from_stream(s))
            .map(|t| Box::new(t) as Box<dyn RpcTransport>),
    };
    match transport {
        Ok(inner) => {
            if matches!(peer, Peer::Cid(_)) {
                info!("control: vsock peer {peer} connected");
            } else {
                debug!("control: unix peer {peer} connected");
            }
            server.serve_connection(Box::new(Counted { inner, _slot: slot }));
        }
        Err(e) => debug!("control: dropping a connection from {peer}: {e:?}"),
    }
}

/// An `RpcServer` that carries the service's configuration but whose own listener nobody can
/// reach: it is bound in a private directory under `dir` and unlinked at once. rsbinder 0.12
/// builds a server only around a listener of its own; this loop never runs that one.
pub fn detached_server(dir: &Path) -> io::Result<Arc<RpcServer>> {
    let private =
        nix::unistd::mkdtemp(&dir.join(".drivervm-rpc-XXXXXX")).map_err(io::Error::from)?;
    let path = private.join("unused.sock");
    let server =
        RpcServer::setup_unix_server(&path).map_err(|e| io::Error::other(format!("{e:?}")));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&private);
    server
}
