//! The `rpmb_dev` byte stream on a virtio-console port (device ID 3), for guests running
//! Trusty's `storageproxyd -t virt -r /dev/hvcN`.
//!
//! No feature bits are offered (no MULTIPORT, no SIZE), so the device is one console port
//! on queue 0 (receiveq: device to driver) and queue 1 (transmitq: driver to device). Bytes
//! the guest transmits are reassembled into `rpmb_dev` messages, run through the engine,
//! and the responses are streamed into the receive buffers the guest has posted. A stream
//! that breaks the framing is discarded up to that point (a console has no connection to
//! drop, unlike the socket face); the guest's next message starts clean.

use std::collections::VecDeque;
use std::sync::Arc;

use super::engine::RpmbEngine;
use super::rpmb_dev_wire::{respond, Decoder, DEFAULT_MAX_FRAMES};
use crate::devices::{Completer, Request, Token, VirtioDevice, Wake};
use crate::hw::rpmb::RpmbStorage;

/// Virtio device ID of virtio-console.
pub const VIRTIO_ID_CONSOLE: u32 = 3;
/// Port 0's receive queue (device to driver).
pub const RECEIVEQ: u16 = 0;
/// Port 0's transmit queue (driver to device).
pub const TRANSMITQ: u16 = 1;
/// Size of each queue.
pub const QUEUE_SIZE: u16 = 64;
/// Most response bytes held for a guest that does not read them (a few messages' worth);
/// past it the oldest are dropped, so a guest cannot make the service grow.
const MAX_PENDING_OUT: usize = 64 * 1024;
/// The config space: cols, rows (u16), max_nr_ports, emerg_wr (u32); all 0 as no feature
/// that gives them meaning is offered.
const CONFIG_SPACE: [u8; 12] = [0; 12];

/// An RPMB served as an `rpmb_dev` stream on a virtio-console port.
#[derive(Debug)]
pub struct RpmbConsole<S> {
    engine: RpmbEngine<S>,
    decoder: Decoder,
    out: VecDeque<u8>,
    receive_buffers: VecDeque<(Token, usize)>,
}

impl<S: RpmbStorage> RpmbConsole<S> {
    /// A console port in front of `engine`.
    pub fn new(engine: RpmbEngine<S>) -> Self {
        Self {
            engine,
            decoder: Decoder::new(DEFAULT_MAX_FRAMES),
            out: VecDeque::new(),
            receive_buffers: VecDeque::new(),
        }
    }

    /// The protocol engine, for status queries.
    pub fn engine(&self) -> &RpmbEngine<S> {
        &self.engine
    }

    fn consume(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let taken = self.decoder.push(bytes);
            bytes = &bytes[taken..];
            match self.decoder.next_message() {
                Ok(Some(message)) => {
                    let response = respond(&mut self.engine, &message);
                    self.out.extend(response);
                    let excess = self.out.len().saturating_sub(MAX_PENDING_OUT);
                    if excess > 0 {
                        log::warn!("rpmb console: guest is not reading; dropping {excess} bytes");
                        self.out.drain(..excess);
                    }
                }
                Ok(None) if taken == 0 => break,
                Ok(None) => {}
                Err(e) => {
                    log::warn!("rpmb console: broken rpmb_dev framing ({e}); discarding");
                    self.decoder = Decoder::new(DEFAULT_MAX_FRAMES);
                    return;
                }
            }
        }
    }

    fn flush(&mut self, completer: &mut dyn Completer) {
        while !self.out.is_empty() {
            let Some((token, cap)) = self.receive_buffers.pop_front() else {
                return;
            };
            let n = cap.min(self.out.len());
            let chunk: Vec<u8> = self.out.drain(..n).collect();
            if let Err(e) = completer.complete(token, &chunk) {
                log::warn!("rpmb console: cannot return a receive buffer: {e}");
            }
        }
    }
}

impl<S: RpmbStorage> VirtioDevice for RpmbConsole<S> {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_CONSOLE
    }

    fn name(&self) -> &str {
        "rpmb-console"
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        0
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = offset
                .checked_add(i)
                .and_then(|at| CONFIG_SPACE.get(at))
                .copied()
                .unwrap_or(0);
        }
    }

    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}

    fn max_request_len(&self, queue: u16) -> usize {
        if queue == TRANSMITQ {
            crate::devices::DEFAULT_MAX_REQUEST_LEN
        } else {
            0
        }
    }

    fn max_writable_len(&self, queue: u16) -> usize {
        if queue == RECEIVEQ {
            // A receive buffer larger than what can be pending is never filled further.
            MAX_PENDING_OUT
        } else {
            // Transmit buffers are device-readable; a page of slack for odd drivers.
            4096
        }
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        match request.token.queue() {
            TRANSMITQ => {
                self.consume(&request.data);
                if let Err(e) = completer.complete(request.token, &[]) {
                    log::warn!("rpmb console: cannot return a transmit buffer: {e}");
                }
            }
            _ => {
                if request.writable_len == 0
                    || self.receive_buffers.len() >= usize::from(QUEUE_SIZE)
                {
                    // Nothing can be received into it, or more buffers than the queue holds
                    // (a resubmitted head): hand it straight back.
                    let _ = completer.complete(request.token, &[]);
                } else {
                    self.receive_buffers
                        .push_back((request.token, request.writable_len));
                }
            }
        }
        self.flush(completer);
    }

    fn reset(&mut self) {
        self.engine.reset();
        self.decoder = Decoder::new(DEFAULT_MAX_FRAMES);
        self.out.clear();
        self.receive_buffers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::rpmb::constants::*;
    use crate::devices::rpmb::engine::EngineLimits;
    use crate::devices::rpmb::frame::Frame;
    use crate::devices::CompleteError;
    use crate::hw::rpmb::memory::MemoryRpmb;

    #[derive(Default)]
    struct Collect(Vec<(u16, u16, Vec<u8>)>);

    impl Completer for Collect {
        fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
            self.0.push((token.queue, token.head, response.to_vec()));
            Ok(())
        }
    }

    fn req(queue: u16, head: u16, data: &[u8], writable_len: usize) -> Request {
        Request {
            token: Token {
                queue,
                head,
                generation: 0,
                writable: Vec::new(),
            },
            data: data.to_vec(),
            writable_len,
        }
    }

    fn console() -> RpmbConsole<MemoryRpmb> {
        RpmbConsole::new(
            RpmbEngine::new(MemoryRpmb::new(512).unwrap(), EngineLimits::default()).unwrap(),
        )
    }

    fn message(res: u16, frames: &[Frame]) -> Vec<u8> {
        let mut m = res.to_ne_bytes().to_vec();
        m.extend_from_slice(&(frames.len() as u16).to_ne_bytes());
        m.extend_from_slice(&Frame::serialize_all(frames));
        m
    }

    #[test]
    fn receive_buffers_past_the_queue_size_are_returned_unused() {
        let mut c = console();
        let mut out = Collect::default();
        for head in 0..QUEUE_SIZE + 2 {
            c.handle(req(RECEIVEQ, head, &[], 300), &mut out);
        }
        assert_eq!(c.receive_buffers.len(), usize::from(QUEUE_SIZE));
        let returned: Vec<_> = out.0.iter().map(|(_, h, b)| (*h, b.len())).collect();
        assert_eq!(returned, [(QUEUE_SIZE, 0), (QUEUE_SIZE + 1, 0)]);
        assert_eq!(c.max_writable_len(RECEIVEQ), MAX_PENDING_OUT);
    }

    #[test]
    fn identity() {
        let c = console();
        assert_eq!(c.device_type(), 3);
        assert_eq!(c.queue_max_sizes().len(), 2);
        let mut cfg = [0xff; 12];
        c.read_config(0, &mut cfg);
        assert_eq!(cfg, [0; 12]);
    }

    #[test]
    fn a_message_split_over_transmits_is_answered_into_receive_buffers() {
        let mut c = console();
        let mut out = Collect::default();
        c.handle(req(RECEIVEQ, 0, &[], 300), &mut out);
        c.handle(req(RECEIVEQ, 1, &[], 300), &mut out);
        assert!(
            out.0.is_empty(),
            "receive buffers are held until there is data"
        );
        let m = message(1, &[Frame::with_type(REQ_GET_WRITE_COUNTER)]);
        c.handle(req(TRANSMITQ, 5, &m[..3], 0), &mut out);
        c.handle(req(TRANSMITQ, 6, &m[3..], 0), &mut out);
        // Both transmit buffers came back empty; the 512-byte answer fills 300 + 212.
        assert_eq!(out.0[0], (TRANSMITQ, 5, vec![]));
        assert_eq!(out.0[1], (TRANSMITQ, 6, vec![]));
        assert_eq!(
            (out.0[2].0, out.0[2].1, out.0[2].2.len()),
            (RECEIVEQ, 0, 300)
        );
        assert_eq!(
            (out.0[3].0, out.0[3].1, out.0[3].2.len()),
            (RECEIVEQ, 1, 212)
        );
        let bytes: Vec<u8> = [out.0[2].2.clone(), out.0[3].2.clone()].concat();
        let f = Frame::from_slice(&bytes).unwrap();
        assert_eq!(f.req_resp(), RESP_GET_WRITE_COUNTER);
        assert_eq!(f.result(), RES_NO_AUTH_KEY);
    }

    #[test]
    fn broken_framing_is_discarded_and_the_next_message_works() {
        let mut c = console();
        let mut out = Collect::default();
        c.handle(req(TRANSMITQ, 0, &[0, 0, 1, 0], 0), &mut out);
        let m = message(1, &[Frame::with_type(REQ_GET_WRITE_COUNTER)]);
        c.handle(req(TRANSMITQ, 1, &m, 0), &mut out);
        c.handle(req(RECEIVEQ, 2, &[], 4096), &mut out);
        let last = out.0.last().unwrap();
        assert_eq!((last.0, last.2.len()), (RECEIVEQ, 512));
        assert_eq!(
            Frame::from_slice(&last.2).unwrap().result(),
            RES_NO_AUTH_KEY
        );
    }

    #[test]
    fn unread_responses_are_bounded() {
        let mut c = console();
        let mut out = Collect::default();
        let m = message(8, &[Frame::with_type(REQ_GET_WRITE_COUNTER)]);
        for i in 0..40 {
            c.handle(req(TRANSMITQ, i, &m, 0), &mut out);
        }
        assert!(c.out.len() <= MAX_PENDING_OUT);
        c.reset();
        assert!(c.out.is_empty());
    }
}
