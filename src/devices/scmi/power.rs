//! The SCMI power domain management protocol (0x11, version 3.0).

use std::sync::Arc;
use std::time::Instant;

use log::warn;

use super::constants::{Status, PROTOCOL_POWER};
use super::grant::{Grant, View};
use super::message::{encode_notification, Params, Reply};
use super::protocol::{Call, Protocol};
use crate::devices::Wake;
use crate::hw::power::{PowerError, SharedPower};

/// Power domain protocol version 3.0.
pub const VERSION: u32 = 0x0003_0000;
/// Power state "on" (context preserved, state ID 0).
pub const STATE_ON: u32 = 0;
/// Power state "off" (bit 30: context lost).
pub const STATE_OFF: u32 = 1 << 30;

/// Message IDs (§4.3.2).
pub mod msg {
    /// POWER_DOMAIN_ATTRIBUTES.
    pub const DOMAIN_ATTRIBUTES: u8 = 0x3;
    /// POWER_STATE_SET.
    pub const STATE_SET: u8 = 0x4;
    /// POWER_STATE_GET.
    pub const STATE_GET: u8 = 0x5;
    /// POWER_STATE_NOTIFY.
    pub const STATE_NOTIFY: u8 = 0x6;
    /// POWER_DOMAIN_NAME_GET.
    pub const DOMAIN_NAME_GET: u8 = 0x8;
    /// Notification POWER_STATE_CHANGED.
    pub const STATE_CHANGED: u8 = 0x0;
}

/// The power domain protocol as served to one agent.
pub struct PowerProtocol {
    power: Arc<SharedPower>,
    agent: u32,
    view: View,
    /// Notifications encoded under the subscriptions in force when their event happened.
    outbox: Vec<Vec<u8>>,
}

impl PowerProtocol {
    /// Serves `grants` of `power` to agent `agent`.
    pub fn new(power: Arc<SharedPower>, agent: u32, grants: Vec<Grant>) -> Self {
        Self {
            power,
            agent,
            view: View::new(grants, 1),
            outbox: Vec::new(),
        }
    }

    /// Encodes pending events under the current subscriptions.
    fn collect(&mut self) {
        for e in self.power.take_events(self.agent) {
            if let Some(id) = self.view.subscribed(0, e.domain) {
                let mut r = Reply::default();
                r.u32(e.agent)
                    .u32(id)
                    .u32(if e.on { STATE_ON } else { STATE_OFF });
                self.outbox.push(encode_notification(
                    PROTOCOL_POWER,
                    msg::STATE_CHANGED,
                    &r.into_bytes(),
                ));
            }
        }
    }

    fn name(&self, id: u32) -> Result<String, Status> {
        let hw = self.view.get(id)?;
        self.power.names().get(hw).cloned().ok_or(Status::NotFound)
    }
}

fn status_of(e: PowerError) -> Status {
    warn!("power: {e}");
    match e {
        PowerError::NoSuchDomain(_) => Status::NotFound,
        PowerError::Io(_) => Status::HardwareError,
    }
}

impl Protocol for PowerProtocol {
    fn id(&self) -> u8 {
        PROTOCOL_POWER
    }

    fn version(&self) -> u32 {
        VERSION
    }

    fn attributes(&self, reply: &mut Reply) {
        // Domains in 15:0; no shared-memory statistics region.
        reply
            .u32(self.view.len().min(0xffff) as u32)
            .u32(0)
            .u32(0)
            .u32(0);
    }

    fn message_attributes(&self, message_id: u8) -> Option<u32> {
        matches!(
            message_id,
            msg::DOMAIN_ATTRIBUTES
                | msg::STATE_SET
                | msg::STATE_GET
                | msg::STATE_NOTIFY
                | msg::DOMAIN_NAME_GET
        )
        .then_some(0)
    }

    fn handle(&mut self, call: Call, mut p: Params<'_>, reply: &mut Reply) -> Result<(), Status> {
        match call.message_id {
            msg::DOMAIN_ATTRIBUTES => {
                let id = p.u32()?;
                p.finish()?;
                let name = self.name(id)?;
                // State-change notifications, synchronous set, extended names.
                reply
                    .u32((1 << 31) | (1 << 29) | (1 << 27))
                    .name::<16>(&name);
            }
            msg::STATE_SET => {
                let flags = p.u32()?;
                let id = p.u32()?;
                let state = p.u32()?;
                p.finish()?;
                let hw = self.view.control(id)?;
                if flags & 1 != 0 {
                    return Err(Status::NotSupported);
                }
                if flags != 0 {
                    return Err(Status::InvalidParameters);
                }
                let on = match state {
                    STATE_ON => true,
                    STATE_OFF => false,
                    _ => return Err(Status::InvalidParameters),
                };
                self.power.request(self.agent, hw, on).map_err(status_of)?;
            }
            msg::STATE_GET => {
                let id = p.u32()?;
                p.finish()?;
                let hw = self.view.get(id)?;
                let on = self.power.is_on(hw).map_err(status_of)?;
                reply.u32(if on { STATE_ON } else { STATE_OFF });
            }
            msg::STATE_NOTIFY => {
                self.collect();
                self.view.subscribe(0, p)?
            }
            msg::DOMAIN_NAME_GET => {
                let id = p.u32()?;
                p.finish()?;
                let name = self.name(id)?;
                reply.u32(0).name::<64>(&name);
            }
            _ => return Err(Status::NotSupported),
        }
        Ok(())
    }

    fn activate(&mut self, waker: Arc<dyn Wake>) {
        self.power.set_waker(self.agent, waker);
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        self.collect();
        out.append(&mut self.outbox);
        None
    }

    fn reset(&mut self) {
        // The guest reset or went away: it holds nothing any more.
        self.power.release(self.agent);
        self.outbox.clear();
        self.view.clear_subscriptions();
        self.power.take_events(self.agent);
    }
}
