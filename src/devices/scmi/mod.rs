//! virtio-scmi (device ID 32): an Arm SCMI platform served over virtqueues.
//!
//! The cmdq carries one SCMI command per buffer (header + parameters readable, header +
//! status + return values writable); the eventq carries notifications and delayed responses
//! once VIRTIO_SCMI_F_P2A_CHANNELS is negotiated. Each device instance is one agent's view
//! of the platform: the protocols and resources config grants that guest.

pub mod base;
pub mod constants;
pub mod message;
pub mod protocol;

use std::sync::Arc;

use log::warn;

use self::base::BaseProtocol;
use self::constants::{CMDQ, EVENTQ, VIRTIO_ID_SCMI};
use self::protocol::{Dispatcher, Protocol};
use super::{Completer, Request, Token, VirtioDevice, Wake};
use crate::hw::soc::SocIdentity;

/// Size offered for both queues.
const QUEUE_SIZE: u16 = 256;

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
    event_buffers: Vec<Token>,
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
            event_buffers: Vec::new(),
        }
    }

    fn handle_command(&mut self, request: Request, completer: &mut dyn Completer) {
        let response = match self.dispatcher.process(&request.data) {
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
        // No notifications are implemented yet, so VIRTIO_SCMI_F_P2A_CHANNELS is not offered.
        0
    }

    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}

    fn max_request_len(&self, _queue: u16) -> usize {
        self.view.max_message_len
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        match request.token.queue() {
            CMDQ => self.handle_command(request, completer),
            EVENTQ if self.event_buffers.len() < usize::from(QUEUE_SIZE) => {
                self.event_buffers.push(request.token)
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

    fn reset(&mut self) {
        self.event_buffers.clear();
    }
}

#[cfg(test)]
mod tests;
