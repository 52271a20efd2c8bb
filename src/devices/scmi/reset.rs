//! The SCMI reset domain management protocol (0x16, version 3.0).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use log::warn;

use super::constants::{Status, PROTOCOL_RESET};
use super::grant::{Grant, View};
use super::message::{encode_delayed_response, encode_notification, Params, Reply};
use super::protocol::{Call, Protocol, ASYNC_SETTLE};
use crate::devices::Wake;
use crate::hw::reset::{ResetAction, ResetError, SharedResets};

/// Reset domain protocol version 3.0.
pub const VERSION: u32 = 0x0003_0000;
/// Asynchronous resets an agent may have outstanding before BUSY.
pub const MAX_ASYNC: usize = 4;
/// Latency reported when the domain's is unknown.
const LATENCY_UNKNOWN: u32 = 0x7fff_ffff;

/// Message IDs (§4.8.2).
pub mod msg {
    /// RESET_DOMAIN_ATTRIBUTES.
    pub const DOMAIN_ATTRIBUTES: u8 = 0x3;
    /// RESET.
    pub const RESET: u8 = 0x4;
    /// RESET_NOTIFY.
    pub const NOTIFY: u8 = 0x5;
    /// RESET_DOMAIN_NAME_GET.
    pub const DOMAIN_NAME_GET: u8 = 0x6;
    /// Notification RESET_ISSUED.
    pub const ISSUED: u8 = 0x0;
}

const AUTONOMOUS: u32 = 1 << 0;
const EXPLICIT_ASSERT: u32 = 1 << 1;
const ASYNC: u32 = 1 << 2;
/// Bit 31 of reset_state: an IMPLEMENTATION DEFINED reset kind.
const STATE_VENDOR: u32 = 1 << 31;

struct AsyncReset {
    due: Instant,
    token: u16,
    agent_domain: u32,
    hw: usize,
    state: u32,
}

/// The reset domain protocol as served to one agent.
pub struct ResetProtocol {
    resets: Arc<SharedResets>,
    agent: u32,
    view: View,
    pending: VecDeque<AsyncReset>,
    /// Notifications encoded under the subscriptions in force when their event happened.
    outbox: Vec<Vec<u8>>,
}

impl ResetProtocol {
    /// Serves `grants` of `resets` to agent `agent`.
    pub fn new(resets: Arc<SharedResets>, agent: u32, grants: Vec<Grant>) -> Self {
        Self {
            resets,
            agent,
            view: View::new(grants, 1),
            pending: VecDeque::new(),
            outbox: Vec::new(),
        }
    }

    /// Encodes pending events under the current subscriptions.
    fn collect(&mut self) {
        for e in self.resets.take_events(self.agent) {
            if let Some(id) = self.view.subscribed(0, e.domain) {
                let mut r = Reply::default();
                r.u32(e.agent).u32(id).u32(e.state);
                self.outbox.push(encode_notification(
                    PROTOCOL_RESET,
                    msg::ISSUED,
                    &r.into_bytes(),
                ));
            }
        }
    }
}

fn status_of(e: ResetError) -> Status {
    warn!("reset: {e}");
    match e {
        ResetError::NoSuchDomain(_) => Status::NotFound,
        ResetError::Io(_) => Status::HardwareError,
    }
}

impl Protocol for ResetProtocol {
    fn id(&self) -> u8 {
        PROTOCOL_RESET
    }

    fn version(&self) -> u32 {
        VERSION
    }

    fn attributes(&self, reply: &mut Reply) {
        reply.u32(self.view.len().min(0xffff) as u32);
    }

    fn message_attributes(&self, message_id: u8) -> Option<u32> {
        (msg::DOMAIN_ATTRIBUTES..=msg::DOMAIN_NAME_GET)
            .contains(&message_id)
            .then_some(0)
    }

    fn handle(&mut self, call: Call, mut p: Params<'_>, reply: &mut Reply) -> Result<(), Status> {
        match call.message_id {
            msg::DOMAIN_ATTRIBUTES => {
                let id = p.u32()?;
                p.finish()?;
                let hw = self.view.get(id)?;
                let d = self
                    .resets
                    .domains()
                    .get(hw)
                    .cloned()
                    .ok_or(Status::NotFound)?;
                // Asynchronous reset, notifications, extended names.
                reply
                    .u32((1 << 31) | (1 << 30) | (1 << 29))
                    .u32(
                        d.latency_us
                            .map_or(LATENCY_UNKNOWN, |l| l.min(LATENCY_UNKNOWN)),
                    )
                    .name::<16>(&d.name);
            }
            msg::RESET => {
                let id = p.u32()?;
                let flags = p.u32()?;
                let state = p.u32()?;
                p.finish()?;
                let hw = self.view.control(id)?;
                if flags & !(AUTONOMOUS | EXPLICIT_ASSERT | ASYNC) != 0 {
                    return Err(Status::InvalidParameters);
                }
                if state & STATE_VENDOR != 0 {
                    return Err(Status::NotSupported);
                }
                if state != 0 {
                    // Architectural reset kinds other than cold reset are reserved.
                    return Err(Status::InvalidParameters);
                }
                let action = if flags & AUTONOMOUS != 0 {
                    ResetAction::Pulse
                } else if flags & EXPLICIT_ASSERT != 0 {
                    ResetAction::Assert
                } else {
                    ResetAction::Deassert
                };
                if flags & ASYNC != 0 && action == ResetAction::Pulse {
                    if self.pending.len() >= MAX_ASYNC {
                        return Err(Status::Busy);
                    }
                    self.pending.push_back(AsyncReset {
                        due: Instant::now() + ASYNC_SETTLE,
                        token: call.token,
                        agent_domain: id,
                        hw,
                        state,
                    });
                } else {
                    self.resets
                        .apply(self.agent, hw, action, state)
                        .map_err(status_of)?;
                }
            }
            msg::NOTIFY => {
                self.collect();
                self.view.subscribe(0, p)?
            }
            msg::DOMAIN_NAME_GET => {
                let id = p.u32()?;
                p.finish()?;
                let hw = self.view.get(id)?;
                let d = self
                    .resets
                    .domains()
                    .get(hw)
                    .cloned()
                    .ok_or(Status::NotFound)?;
                reply.u32(0).name::<64>(&d.name);
            }
            _ => return Err(Status::NotSupported),
        }
        Ok(())
    }

    fn activate(&mut self, waker: Arc<dyn Wake>) {
        self.resets.set_waker(self.agent, waker);
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        while let Some(r) = self.pending.front() {
            if r.due > now {
                break;
            }
            let Some(r) = self.pending.pop_front() else {
                break;
            };
            let status = match self
                .resets
                .apply(self.agent, r.hw, ResetAction::Pulse, r.state)
            {
                Ok(()) => Status::Success,
                Err(e) => status_of(e),
            };
            out.push(encode_delayed_response(
                PROTOCOL_RESET,
                msg::RESET,
                r.token,
                status,
                &r.agent_domain.to_le_bytes(),
            ));
        }
        self.collect();
        out.append(&mut self.outbox);
        self.pending.front().map(|r| r.due)
    }

    fn reset(&mut self) {
        // The guest reset or went away: it holds nothing any more.
        self.resets.release(self.agent);
        self.pending.clear();
        self.outbox.clear();
        self.view.clear_subscriptions();
        self.resets.take_events(self.agent);
    }
}
