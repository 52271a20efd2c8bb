//! The SCMI performance domain management protocol (0x13, version 3.0).

use std::sync::Arc;
use std::time::Instant;

use log::warn;

use super::constants::{Status, PROTOCOL_PERF};
use super::grant::{page, Grant, View};
use super::message::{encode_notification, Params, Reply};
use super::protocol::{Call, Protocol};
use crate::devices::Wake;
use crate::hw::perf::{PerfDesc, PerfError, PerfEvent, SharedPerf};

/// Performance protocol version 3.0.
pub const VERSION: u32 = 0x0003_0000;

/// Message IDs (§4.5.2).
pub mod msg {
    /// PERFORMANCE_DOMAIN_ATTRIBUTES.
    pub const DOMAIN_ATTRIBUTES: u8 = 0x3;
    /// PERFORMANCE_DESCRIBE_LEVELS.
    pub const DESCRIBE_LEVELS: u8 = 0x4;
    /// PERFORMANCE_LIMITS_SET.
    pub const LIMITS_SET: u8 = 0x5;
    /// PERFORMANCE_LIMITS_GET.
    pub const LIMITS_GET: u8 = 0x6;
    /// PERFORMANCE_LEVEL_SET.
    pub const LEVEL_SET: u8 = 0x7;
    /// PERFORMANCE_LEVEL_GET.
    pub const LEVEL_GET: u8 = 0x8;
    /// PERFORMANCE_NOTIFY_LIMITS.
    pub const NOTIFY_LIMITS: u8 = 0x9;
    /// PERFORMANCE_NOTIFY_LEVEL.
    pub const NOTIFY_LEVEL: u8 = 0xa;
    /// PERFORMANCE_DOMAIN_NAME_GET.
    pub const DOMAIN_NAME_GET: u8 = 0xc;
    /// Notification PERFORMANCE_LIMITS_CHANGED.
    pub const LIMITS_CHANGED: u8 = 0x0;
    /// Notification PERFORMANCE_LEVEL_CHANGED.
    pub const LEVEL_CHANGED: u8 = 0x1;
}

const KIND_LIMITS: usize = 0;
const KIND_LEVEL: usize = 1;

/// The performance protocol as served to one agent.
pub struct PerfProtocol {
    perf: Arc<SharedPerf>,
    agent: u32,
    view: View,
    /// Notifications encoded under the subscriptions in force when their event happened.
    outbox: Vec<Vec<u8>>,
}

impl PerfProtocol {
    /// Serves `grants` of `perf` to agent `agent`.
    pub fn new(perf: Arc<SharedPerf>, agent: u32, grants: Vec<Grant>) -> Self {
        Self {
            perf,
            agent,
            view: View::new(grants, 2),
            outbox: Vec::new(),
        }
    }

    /// Encodes pending events under the current subscriptions.
    fn collect(&mut self) {
        for e in self.perf.take_events(self.agent) {
            let mut r = Reply::default();
            let msg = match e {
                PerfEvent::Limits {
                    domain,
                    agent,
                    max,
                    min,
                } => match self.view.subscribed(KIND_LIMITS, domain) {
                    Some(id) => {
                        r.u32(agent).u32(id).u32(max).u32(min);
                        msg::LIMITS_CHANGED
                    }
                    None => continue,
                },
                PerfEvent::Level {
                    domain,
                    agent,
                    level,
                } => match self.view.subscribed(KIND_LEVEL, domain) {
                    Some(id) => {
                        r.u32(agent).u32(id).u32(level);
                        msg::LEVEL_CHANGED
                    }
                    None => continue,
                },
            };
            self.outbox
                .push(encode_notification(PROTOCOL_PERF, msg, &r.into_bytes()));
        }
    }

    fn desc(&self, id: u32) -> Result<(usize, PerfDesc), Status> {
        let hw = self.view.get(id)?;
        let d = self
            .perf
            .domains()
            .get(hw)
            .cloned()
            .ok_or(Status::NotFound)?;
        Ok((hw, d))
    }
}

fn status_of(e: PerfError) -> Status {
    warn!("perf: {e}");
    match e {
        PerfError::NoSuchDomain(_) => Status::NotFound,
        PerfError::BadLevel(_) => Status::OutOfRange,
        PerfError::InvertedLimits { .. } => Status::InvalidParameters,
    }
}

impl Protocol for PerfProtocol {
    fn id(&self) -> u8 {
        PROTOCOL_PERF
    }

    fn version(&self) -> u32 {
        VERSION
    }

    fn attributes(&self, reply: &mut Reply) {
        // Domains in 15:0; flag bit 1 (here bit 17): power costs are in microwatts.
        let n = self.view.len().min(0xffff) as u32;
        reply.u32((1 << 17) | n).u32(0).u32(0).u32(0);
    }

    fn message_attributes(&self, message_id: u8) -> Option<u32> {
        ((msg::DOMAIN_ATTRIBUTES..=msg::NOTIFY_LEVEL).contains(&message_id)
            || message_id == msg::DOMAIN_NAME_GET)
            .then_some(0)
    }

    fn handle(&mut self, call: Call, mut p: Params<'_>, reply: &mut Reply) -> Result<(), Status> {
        match call.message_id {
            msg::DOMAIN_ATTRIBUTES => {
                let id = p.u32()?;
                p.finish()?;
                let (_, d) = self.desc(id)?;
                let control = u32::from(self.view.is_control(id));
                // Set limits / set level (when granted control), both notifications,
                // extended names; no fast channels.
                let flags = (control << 31) | (control << 30) | (1 << 29) | (1 << 28) | (1 << 26);
                let top = d.opps.last().copied();
                reply
                    .u32(flags)
                    .u32(0)
                    .u32(top.map_or(0, |o| o.freq_khz))
                    .u32(top.map_or(0, |o| o.level))
                    .name::<16>(&d.name);
            }
            msg::DESCRIBE_LEVELS => {
                let id = p.u32()?;
                let index = p.u32()?;
                p.finish()?;
                let (_, d) = self.desc(id)?;
                let (opps, remaining) = page(&d.opps, index, call.max_reply, 4, 12, 0xffff)?;
                reply.u32(((remaining.min(0xffff) as u32) << 16) | opps.len() as u32);
                for o in opps {
                    reply
                        .u32(o.level)
                        .u32(o.power_uw)
                        .u32(u32::from(o.latency_us));
                }
            }
            msg::LIMITS_SET => {
                let id = p.u32()?;
                let max = p.u32()?;
                let min = p.u32()?;
                p.finish()?;
                let hw = self.view.control(id)?;
                self.perf
                    .set_limits(self.agent, hw, max, min)
                    .map_err(status_of)?;
            }
            msg::LIMITS_GET => {
                let id = p.u32()?;
                p.finish()?;
                let hw = self.view.get(id)?;
                let (max, min) = self.perf.limits(hw).map_err(status_of)?;
                reply.u32(max).u32(min);
            }
            msg::LEVEL_SET => {
                let id = p.u32()?;
                let level = p.u32()?;
                p.finish()?;
                let hw = self.view.control(id)?;
                self.perf
                    .request_level(self.agent, hw, level)
                    .map_err(status_of)?;
            }
            msg::LEVEL_GET => {
                let id = p.u32()?;
                p.finish()?;
                let hw = self.view.get(id)?;
                reply.u32(self.perf.level(hw).map_err(status_of)?);
            }
            msg::NOTIFY_LIMITS => {
                self.collect();
                self.view.subscribe(KIND_LIMITS, p)?
            }
            msg::NOTIFY_LEVEL => {
                self.collect();
                self.view.subscribe(KIND_LEVEL, p)?
            }
            msg::DOMAIN_NAME_GET => {
                let id = p.u32()?;
                p.finish()?;
                let (_, d) = self.desc(id)?;
                reply.u32(0).name::<64>(&d.name);
            }
            _ => return Err(Status::NotSupported),
        }
        Ok(())
    }

    fn activate(&mut self, waker: Arc<dyn Wake>) {
        self.perf.set_waker(self.agent, waker);
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        self.collect();
        out.append(&mut self.outbox);
        None
    }

    fn reset(&mut self) {
        // The guest reset or went away: it holds nothing any more.
        self.perf.release(self.agent);
        self.outbox.clear();
        self.view.clear_subscriptions();
        self.perf.take_events(self.agent);
    }
}
