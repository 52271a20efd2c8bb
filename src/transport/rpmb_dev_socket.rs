//! The `rpmb_dev` unix-socket face: a drop-in for Android's `rpmb_dev --sock PATH`, which
//! Trusty's `storageproxyd -t sock -r PATH` (and Cuttlefish) connect to.
//!
//! As `rpmb_dev` does: a stream socket, one connection served at a time, each message read
//! whole (`u16 res_count`, `u16 cmd_count`, frames), answered with exactly `res_count`
//! frames; a count of 0 or above 8, or a message cut short, ends the connection. The
//! engine (and its result register) persists across connections.
//!
//! Unlike `rpmb_dev`, one client cannot pin the socket: a message must arrive whole, and its
//! response be taken, within [`MESSAGE_TIMEOUT`], and a new connection replaces the current
//! one (a restarted storageproxyd reconnects; the old connection is then dead or hostile).
//! A client idle between messages costs nothing: the server sleeps in poll(2).

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::peer::peer_cred;
use crate::config::PeerAllowlist;
use crate::devices::rpmb::engine::RpmbEngine;
use crate::devices::rpmb::rpmb_dev_wire::{respond, Decoder, DEFAULT_MAX_FRAMES};
use crate::hw::rpmb::RpmbStorage;
use crate::log_budget::LogBudget;

/// How one connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The client closed between messages.
    Clean,
    /// The client broke the protocol or the socket failed; the connection was dropped.
    Dropped(String),
}

/// Serves one connection until it ends.
pub fn serve_connection<S: RpmbStorage>(
    engine: &mut RpmbEngine<S>,
    stream: &mut UnixStream,
) -> ConnectionEnd {
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAMES);
    let mut buf = vec![0u8; 8 * 512 + 4];
    loop {
        let want = decoder.wanted().clamp(1, buf.len());
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) if decoder.is_mid_message() => {
                return ConnectionEnd::Dropped("closed in the middle of a message".into())
            }
            Ok(0) => return ConnectionEnd::Clean,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return ConnectionEnd::Dropped(format!("read: {e}")),
        };
        decoder.push(&buf[..n]);
        match decoder.next_message() {
            Ok(Some(message)) => {
                let response = respond(engine, &message);
                if let Err(e) = stream.write_all(&response) {
                    return ConnectionEnd::Dropped(format!("write: {e}"));
                }
            }
            Ok(None) => {}
            Err(e) => return ConnectionEnd::Dropped(e.to_string()),
        }
    }
}

/// Longest a client may take to finish a message it started, or to take a response.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection being served.
struct Client {
    stream: UnixStream,
    decoder: Decoder,
    /// When the message being received started.
    started: Option<Instant>,
}

impl Client {
    fn new(stream: UnixStream) -> std::io::Result<Self> {
        // Reads happen only once poll(2) reports data; the timeouts are a backstop, and
        // the write timeout bounds a client that does not take its response.
        stream.set_read_timeout(Some(MESSAGE_TIMEOUT))?;
        stream.set_write_timeout(Some(MESSAGE_TIMEOUT))?;
        Ok(Self {
            stream,
            decoder: Decoder::new(DEFAULT_MAX_FRAMES),
            started: None,
        })
    }

    /// Reads what is available and answers a completed message; `Some` when the
    /// connection ended.
    fn service<S: RpmbStorage>(
        &mut self,
        engine: &mut RpmbEngine<S>,
        buf: &mut [u8],
    ) -> Option<ConnectionEnd> {
        let want = self.decoder.wanted().clamp(1, buf.len());
        let n = match self.stream.read(&mut buf[..want]) {
            Ok(0) if self.decoder.is_mid_message() => {
                return Some(ConnectionEnd::Dropped(
                    "closed in the middle of a message".into(),
                ))
            }
            Ok(0) => return Some(ConnectionEnd::Clean),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => return None,
            Err(e) => return Some(ConnectionEnd::Dropped(format!("read: {e}"))),
        };
        self.decoder.push(&buf[..n]);
        self.started.get_or_insert_with(Instant::now);
        match self.decoder.next_message() {
            Ok(Some(message)) => {
                self.started = None;
                let response = respond(engine, &message);
                if let Err(e) = self.stream.write_all(&response) {
                    return Some(ConnectionEnd::Dropped(format!("write: {e}")));
                }
                None
            }
            Ok(None) => None,
            Err(e) => Some(ConnectionEnd::Dropped(e.to_string())),
        }
    }

    /// How long poll(2) may sleep: forever between messages, the rest of the message's
    /// time within one.
    fn timeout(&self, now: Instant) -> PollTimeout {
        match self.started {
            Some(t) => {
                let left = MESSAGE_TIMEOUT.saturating_sub(now.saturating_duration_since(t));
                // Rounded up, so the deadline has passed when poll returns empty.
                let ms = left.as_millis().saturating_add(1);
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        }
    }

    fn overdue(&self, now: Instant) -> bool {
        self.started
            .is_some_and(|t| now.saturating_duration_since(t) >= MESSAGE_TIMEOUT)
    }
}

fn report(id: &str, end: &ConnectionEnd) {
    match end {
        ConnectionEnd::Clean => log::info!("{id}: rpmb_dev client disconnected"),
        ConnectionEnd::Dropped(why) => log::warn!("{id}: rpmb_dev connection terminated: {why}"),
    }
}

/// Serves connections on `listener`, one at a time (the newest); runs until the listener
/// fails.
pub fn serve<S: RpmbStorage>(id: &str, engine: RpmbEngine<S>, listener: UnixListener) {
    serve_peers(id, engine, listener, &PeerAllowlist::default())
}

/// [`serve`], admitting only peers `allow` lets in (SO_PEERCRED). A refused peer is closed
/// before any byte is read and never replaces the current client.
pub fn serve_peers<S: RpmbStorage>(
    id: &str,
    mut engine: RpmbEngine<S>,
    listener: UnixListener,
    allow: &PeerAllowlist,
) {
    let refusals = LogBudget::default();
    let mut client: Option<Client> = None;
    let mut buf = vec![0u8; 8 * 512 + 4];
    loop {
        let now = Instant::now();
        let timeout = client
            .as_ref()
            .map_or(PollTimeout::NONE, |c| c.timeout(now));
        let (accept, readable) = {
            let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            if let Some(c) = &client {
                fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log::error!("{id}: poll failed, no longer serving: {e}");
                    return;
                }
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), fds.get(1).is_some_and(ready))
        };
        if readable {
            if let Some(end) = client
                .as_mut()
                .and_then(|c| c.service(&mut engine, &mut buf))
            {
                report(id, &end);
                client = None;
            }
        }
        // Checked whether or not bytes came: a client trickling a message is still timed.
        if client.as_ref().is_some_and(|c| c.overdue(Instant::now())) {
            report(
                id,
                &ConnectionEnd::Dropped(format!(
                    "message not completed within {} s",
                    MESSAGE_TIMEOUT.as_secs()
                )),
            );
            client = None;
        }
        if accept {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::error!("{id}: accept failed, no longer serving: {e}");
                    return;
                }
            };
            if !allow.is_open() {
                match peer_cred(&stream) {
                    Ok(c) if allow.admits(c.uid, c.gid) => {}
                    refused => {
                        if refusals.admit(id) {
                            log::warn!(
                                "{id}: refused an rpmb_dev client ({}): not in the device's \
                                 peer_uids/peer_gids",
                                match refused {
                                    Ok(c) => format!("pid {}, uid {}, gid {}", c.pid, c.uid, c.gid),
                                    Err(e) => format!("credentials unknown: {e}"),
                                }
                            );
                        }
                        continue;
                    }
                }
            }
            if client.take().is_some() {
                log::warn!("{id}: a new rpmb_dev client replaces the current one");
            }
            match Client::new(stream) {
                Ok(c) => {
                    log::info!("{id}: rpmb_dev client connected");
                    client = Some(c);
                }
                Err(e) => log::warn!("{id}: cannot set up an rpmb_dev connection: {e}"),
            }
        }
    }
}

#[cfg(test)]
#[path = "rpmb_dev_socket_tests.rs"]
mod tests;
