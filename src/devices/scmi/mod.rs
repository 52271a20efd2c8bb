//! virtio-scmi (device ID 32): an Arm SCMI platform served over virtqueues.
//!
//! The cmdq carries one SCMI command per buffer (header + parameters readable, header +
//! status + return values writable); the eventq carries notifications and delayed responses
//! once VIRTIO_SCMI_F_P2A_CHANNELS is negotiated. Each device instance is one agent's view
//! of the platform: the protocols and resources config grants that guest.

pub mod base;
pub mod clock;
pub mod constants;
pub mod errors;
pub mod grant;
pub mod message;
pub mod perf;
pub mod power;
pub mod protocol;
pub mod reset;
pub mod sensor;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use log::warn;

use self::base::BaseProtocol;
use self::constants::{CMDQ, EVENTQ, VIRTIO_ID_SCMI, VIRTIO_SCMI_F_P2A_CHANNELS};
use self::protocol::{Dispatcher, Protocol};
use super::{Completer, Request, Token, VirtioDevice, Wake};
use crate::hw::soc::SocIdentity;

/// Size offered for both queues.
const QUEUE_SIZE: u16 = 256;
/// Most writable bytes of a command buffer: the largest response page the device builds.
const MAX_RESPONSE: usize = crate::devices::DEFAULT_MAX_WRITABLE_LEN;
/// Most P2A messages kept while the driver has no eventq buffer posted; beyond it the
/// oldest is dropped (the spec lets a platform lose notifications an agent does not drain).
const MAX_PENDING_EVENTS: usize = 64;

/// Who the agent served by one device instance is.
#[derive(Debug, Clone)]
pub struct AgentView {
    /// Device instance name for logs (e.g. `vm0-scmi`).
    pub device: String,
    /// Names of every agent of the platform, in agent-ID order starting at 1.
    pub agents: Vec<String>,
    /// This agent's ID (1-based).
    pub agent_id: u32,
    /// Most bytes accepted in one command.
    pub max_message_len: usize,
}

/// The virtio-scmi device for one agent.
pub struct ScmiDevice {
    view: AgentView,
    dispatcher: Dispatcher,
    /// Driver buffers on the eventq, waiting for a notification to carry.
    event_buffers: VecDeque<(Token, usize)>,
    /// Encoded notifications and delayed responses waiting for an eventq buffer.
    pending_events: VecDeque<Vec<u8>>,
    /// Whether the driver negotiated VIRTIO_SCMI_F_P2A_CHANNELS.
    p2a: bool,
}

impl ScmiDevice {
    /// A platform serving the base protocol plus `protocols` to the agent `view`.
    pub fn new(identity: SocIdentity, view: AgentView, protocols: Vec<Box<dyn Protocol>>) -> Self {
        let ids = protocols.iter().map(|p| p.id()).collect();
        let base = BaseProtocol::new(identity, view.agents.clone(), view.agent_id, ids);
        let mut all: Vec<Box<dyn Protocol>> = vec![Box::new(base)];
        all.extend(protocols);
        Self {
            view,
            dispatcher: Dispatcher::new(all),
            event_buffers: VecDeque::new(),
            pending_events: VecDeque::new(),
            p2a: false,
        }
    }

    /// Lets every protocol do deferred work, then delivers what is pending.
    fn run_protocols(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        let mut out = Vec::new();
        let mut next: Option<Instant> = None;
        for p in self.dispatcher.protocols_mut() {
            if let Some(at) = p.poll(now, &mut out) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        if self.p2a {
            for event in out {
                if self.pending_events.len() >= MAX_PENDING_EVENTS {
                    warn!(
                        "{}: no eventq buffer for {} messages; dropping the oldest",
                        self.view.device, MAX_PENDING_EVENTS
                    );
                    self.pending_events.pop_front();
                }
                self.pending_events.push_back(event);
            }
        }
        self.deliver_events(completer);
        next
    }

    fn deliver_events(&mut self, completer: &mut dyn Completer) {
        while !self.pending_events.is_empty() {
            let Some((token, cap)) = self.event_buffers.pop_front() else {
                return;
            };
            let Some(event) = self.pending_events.pop_front() else {
                return;
            };
            if event.len() > cap {
                warn!(
                    "{}: {}-byte event does not fit a {cap}-byte eventq buffer; dropped",
                    self.view.device,
                    event.len()
                );
            }
            if let Err(e) = completer.complete(token, &event) {
                warn!("{}: {e}", self.view.device);
            }
        }
    }

    fn handle_command(&mut self, request: Request, completer: &mut dyn Completer) {
        let response = match self.dispatcher.process(&request.data, request.writable_len) {
            Some(r) => r,
            None => {
                warn!(
                    "{}: command of {} bytes has no SCMI header; returned unanswered",
                    self.view.device,
                    request.data.len()
                );
                Vec::new()
            }
        };
        if let Err(e) = completer.complete(request.token, &response) {
            warn!("{}: {e}", self.view.device);
        }
    }
}

impl VirtioDevice for ScmiDevice {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_SCMI
    }

    fn name(&self) -> &str {
        "scmi"
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        1 << VIRTIO_SCMI_F_P2A_CHANNELS
    }

    fn has_config_space(&self) -> bool {
        // The virtio-scmi device defines no configuration space.
        false
    }

    fn activate(&mut self, features: u64, waker: Arc<dyn Wake>) {
        self.p2a = features & (1 << VIRTIO_SCMI_F_P2A_CHANNELS) != 0;
        for p in self.dispatcher.protocols_mut() {
            p.activate(waker.clone());
        }
    }

    fn max_request_len(&self, _queue: u16) -> usize {
        self.view.max_message_len
    }

    fn max_writable_len(&self, queue: u16) -> usize {
        match queue {
            // Paged answers (clock rates, OPPs, sensor lists) fill whatever buffer the agent
            // gives them, so this bounds the page, not a legitimate need.
            CMDQ => MAX_RESPONSE,
            // Notifications and delayed responses are a few words; a page of slack.
            _ => 4096,
        }
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        match request.token.queue() {
            CMDQ => {
                // Delayed responses and notifications the command caused go out at the
                // transport's poll after this batch: polling per command would read the clock
                // and walk every protocol for each message of a batch.
                self.handle_command(request, completer);
            }
            EVENTQ if self.event_buffers.len() < usize::from(QUEUE_SIZE) => {
                self.event_buffers
                    .push_back((request.token, request.writable_len));
                self.deliver_events(completer);
            }
            q => {
                warn!(
                    "{}: unexpected buffer on queue {q}; returned unused",
                    self.view.device
                );
                if let Err(e) = completer.complete(request.token, &[]) {
                    warn!("{}: {e}", self.view.device);
                }
            }
        }
    }

    fn poll(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        self.run_protocols(now, completer)
    }

    fn reset(&mut self) {
        self.event_buffers.clear();
        self.pending_events.clear();
        self.p2a = false;
        for p in self.dispatcher.protocols_mut() {
            p.reset();
        }
    }
}

#[cfg(test)]
mod tests;
