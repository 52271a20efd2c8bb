//! One SCMI agent's session: commands on the cmdq, P2A messages on the eventq, through a
//! driver-side [`Driver`] over either transport.

use std::time::Duration;

use drivervm::harness::{Driver, HarnessOptions};

use super::scmi::{command, header, Response, CMDQ, EVENTQ, P2A};
use super::transport::Served;
use super::Service;

/// Bytes of each eventq buffer the agent posts (the largest P2A message is far smaller).
const EVENT_BUFFER: u32 = 128;

/// A connected agent with VIRTIO_SCMI_F_P2A_CHANNELS negotiated.
pub struct Agent {
    /// The session.
    pub h: Box<dyn Driver>,
    token: u16,
}

impl Agent {
    /// Connects to `socket` of `svc`, accepting the P2A channel when `p2a`.
    pub fn connect(svc: &Service, socket: &str, p2a: bool) -> Agent {
        Self::on(Box::new(svc.connect(socket, &Self::options(p2a))), p2a)
    }

    /// Attaches to device `id` of `served` (either transport), accepting the P2A channel
    /// when `p2a`.
    pub fn attach(served: &Served, id: &str, p2a: bool) -> Agent {
        Self::on(served.connect(id, 2, &Self::options(p2a)), p2a)
    }

    fn options(p2a: bool) -> HarnessOptions {
        HarnessOptions {
            device_features: if p2a { P2A } else { 0 },
            ..HarnessOptions::default()
        }
    }

    fn on(h: Box<dyn Driver>, p2a: bool) -> Agent {
        assert_eq!(h.offered_features() & P2A, P2A, "P2A channel offered");
        assert_eq!(h.acked_features() & P2A, if p2a { P2A } else { 0 });
        Agent { h, token: 0 }
    }

    /// Sends a command with a `room`-byte response buffer; checks the echoed header.
    pub fn ask_sized(&mut self, protocol: u8, msg: u8, params: &[u32], room: u32) -> Response {
        self.token = (self.token + 1) & 0x3ff;
        let reply = self
            .h
            .request(CMDQ, &command(protocol, msg, self.token, params), room)
            .expect("request");
        let r = Response::parse(&reply);
        assert_eq!(r.header, header(protocol, msg, self.token), "header echoed");
        r
    }

    /// Sends a command with a 136-byte response buffer (what Linux gives: 128 + 8).
    pub fn ask(&mut self, protocol: u8, msg: u8, params: &[u32]) -> Response {
        self.ask_sized(protocol, msg, params, 136)
    }

    /// Status of a command.
    pub fn status(&mut self, protocol: u8, msg: u8, params: &[u32]) -> i32 {
        self.ask(protocol, msg, params).status
    }

    /// Return values of a command that must succeed.
    pub fn ok(&mut self, protocol: u8, msg: u8, params: &[u32]) -> Vec<u32> {
        let r = self.ask(protocol, msg, params);
        assert_eq!(
            r.status, 0,
            "protocol {protocol:#x} message {msg:#x} {params:?}"
        );
        r.words()
    }

    /// The token of the last command sent.
    pub fn last_token(&self) -> u16 {
        self.token
    }

    /// Makes `n` eventq buffers available.
    pub fn post_event_buffers(&mut self, n: usize) {
        for _ in 0..n {
            self.h
                .submit(EVENTQ, &[], EVENT_BUFFER)
                .expect("eventq buffer");
        }
    }

    /// The next P2A messages, waiting up to `timeout` for the first.
    pub fn events(&mut self, timeout: Duration) -> Vec<Vec<u32>> {
        match self.h.wait_completions(EVENTQ, timeout) {
            Ok(done) => done
                .into_iter()
                .map(|c| super::scmi::words(&c.data))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Asserts that no P2A message arrives within `within`.
    pub fn assert_no_event(&mut self, within: Duration) {
        let got = self.events(within);
        assert!(got.is_empty(), "unexpected P2A messages: {got:x?}");
    }
}
