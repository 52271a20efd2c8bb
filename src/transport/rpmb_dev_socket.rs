//! The `rpmb_dev` unix-socket face: a drop-in for Android's `rpmb_dev --sock PATH`, which
//! Trusty's `storageproxyd -t sock -r PATH` (and Cuttlefish) connect to.
//!
//! As `rpmb_dev` does: a stream socket, one connection served at a time, each message read
//! whole (`u16 res_count`, `u16 cmd_count`, frames), answered with exactly `res_count`
//! frames; a count of 0 or above 8, or a message cut short, ends the connection. The
//! engine (and its result register) persists across connections.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

use crate::devices::rpmb::engine::RpmbEngine;
use crate::devices::rpmb::rpmb_dev_wire::{respond, Decoder, DEFAULT_MAX_FRAMES};
use crate::hw::rpmb::RpmbStorage;

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

/// Accepts connections on `listener` one at a time and serves each; runs until the
/// listener fails.
pub fn serve<S: RpmbStorage>(id: &str, mut engine: RpmbEngine<S>, listener: UnixListener) {
    loop {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                log::error!("{id}: accept failed, no longer serving: {e}");
                return;
            }
        };
        log::info!("{id}: rpmb_dev client connected");
        match serve_connection(&mut engine, &mut stream) {
            ConnectionEnd::Clean => log::info!("{id}: rpmb_dev client disconnected"),
            ConnectionEnd::Dropped(why) => {
                log::warn!("{id}: rpmb_dev connection terminated: {why}")
            }
        }
    }
}
