//! The SCMI clock management protocol (0x14, version 3.0 as in SCMI v3.2), served from a
//! [`SharedClocks`] tree through one agent's grants.
//!
//! The agent sees only the clocks config grants it, numbered 0..n in grant order; parents
//! outside the view are invisible. Read-only grants may query and subscribe but every
//! change is DENIED.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use log::warn;

use super::constants::{Status, PROTOCOL_CLOCK};
use super::message::{encode_delayed_response, encode_notification, Params, Reply};
use super::protocol::{Call, Protocol, ASYNC_SETTLE};
use crate::devices::Wake;
use crate::hw::clock::{
    ClockError, ClockEvent, ClockEventKind, ClockId, RateSpec, Rounding, SharedClocks,
};

/// Clock protocol version 3.0.
pub const VERSION: u32 = 0x0003_0000;
/// Asynchronous rate changes an agent may have outstanding (PROTOCOL_ATTRIBUTES 23:16).
pub const MAX_ASYNC: usize = 4;

/// Message IDs (§4.6.2).
pub mod msg {
    /// CLOCK_ATTRIBUTES.
    pub const ATTRIBUTES: u8 = 0x3;
    /// CLOCK_DESCRIBE_RATES.
    pub const DESCRIBE_RATES: u8 = 0x4;
    /// CLOCK_RATE_SET.
    pub const RATE_SET: u8 = 0x5;
    /// CLOCK_RATE_GET.
    pub const RATE_GET: u8 = 0x6;
    /// CLOCK_CONFIG_SET.
    pub const CONFIG_SET: u8 = 0x7;
    /// CLOCK_NAME_GET.
    pub const NAME_GET: u8 = 0x8;
    /// CLOCK_RATE_NOTIFY.
    pub const RATE_NOTIFY: u8 = 0x9;
    /// CLOCK_RATE_CHANGE_REQUESTED_NOTIFY.
    pub const RATE_CHANGE_REQUESTED_NOTIFY: u8 = 0xa;
    /// CLOCK_CONFIG_GET.
    pub const CONFIG_GET: u8 = 0xb;
    /// CLOCK_POSSIBLE_PARENTS_GET.
    pub const POSSIBLE_PARENTS_GET: u8 = 0xc;
    /// CLOCK_PARENT_SET.
    pub const PARENT_SET: u8 = 0xd;
    /// CLOCK_PARENT_GET.
    pub const PARENT_GET: u8 = 0xe;
    /// Notification CLOCK_RATE_CHANGED.
    pub const RATE_CHANGED: u8 = 0x0;
    /// Notification CLOCK_RATE_CHANGE_REQUESTED.
    pub const RATE_CHANGE_REQUESTED: u8 = 0x1;
}

const SET_ASYNC: u32 = 1 << 0;
const SET_IGNORE_DELAYED: u32 = 1 << 1;
const SET_ROUND_UP: u32 = 1 << 2;
const SET_ROUND_AUTO: u32 = 1 << 3;

/// One clock an agent may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockGrant {
    /// The clock in the shared tree.
    pub clock: ClockId,
    /// Whether the agent may change it (rate, gate, parent) or only read it.
    pub control: bool,
}

struct AsyncSet {
    due: Instant,
    token: u16,
    agent_clock: u32,
    clock: ClockId,
    rate: u64,
    respond: bool,
}

/// The clock protocol as served to one agent.
pub struct ClockProtocol {
    clocks: Arc<SharedClocks>,
    agent: u32,
    grants: Vec<ClockGrant>,
    notify_changed: Vec<bool>,
    notify_requested: Vec<bool>,
    pending: VecDeque<AsyncSet>,
    /// Notifications encoded under the subscriptions in force when their event happened.
    outbox: Vec<Vec<u8>>,
}

fn status_of(e: &ClockError) -> Status {
    match e {
        ClockError::NoSuchClock(_) => Status::NotFound,
        ClockError::RateOutOfRange { .. } => Status::OutOfRange,
        ClockError::BadParent { .. } => Status::InvalidParameters,
        ClockError::Unsupported(_) => Status::NotSupported,
        ClockError::Denied(_) => Status::Denied,
        ClockError::Io(_) => Status::HardwareError,
    }
}

impl ClockProtocol {
    /// Serves `grants` (agent clock i = `grants[i]`) of `clocks` to agent `agent`.
    pub fn new(clocks: Arc<SharedClocks>, agent: u32, grants: Vec<ClockGrant>) -> Self {
        let n = grants.len();
        Self {
            clocks,
            agent,
            grants,
            notify_changed: vec![false; n],
            notify_requested: vec![false; n],
            pending: VecDeque::new(),
            outbox: Vec::new(),
        }
    }

    /// Encodes pending events under the current subscriptions.
    fn collect(&mut self) {
        for event in self.clocks.take_events(self.agent) {
            if let Some(n) = self.notification(&event) {
                self.outbox.push(n);
            }
        }
    }

    fn grant(&self, id: u32) -> Result<(usize, ClockGrant), Status> {
        let i = usize::try_from(id).map_err(|_| Status::NotFound)?;
        self.grants.get(i).map(|g| (i, *g)).ok_or(Status::NotFound)
    }

    fn control(&self, id: u32) -> Result<ClockGrant, Status> {
        let (_, g) = self.grant(id)?;
        if g.control {
            Ok(g)
        } else {
            Err(Status::Denied)
        }
    }

    /// The agent's number for a hardware clock, if it is in the view.
    fn agent_id_of(&self, clock: ClockId) -> Option<u32> {
        self.grants
            .iter()
            .position(|g| g.clock == clock)
            .map(|i| i as u32)
    }

    /// Possible parents visible to the agent, in agent numbering.
    fn parents(&self, clock: ClockId) -> Result<Vec<u32>, Status> {
        let desc = self.clocks.describe(clock).map_err(|e| status_of(&e))?;
        Ok(desc
            .possible_parents
            .iter()
            .filter_map(|&p| self.agent_id_of(p))
            .collect())
    }

    fn hw<T>(&self, r: Result<T, ClockError>) -> Result<T, Status> {
        r.map_err(|e| {
            warn!("clock (agent {}): {e}", self.agent);
            status_of(&e)
        })
    }

    fn describe_rates(
        &self,
        call: Call,
        mut p: Params<'_>,
        reply: &mut Reply,
    ) -> Result<(), Status> {
        let id = p.u32()?;
        let index = p.u32()?;
        p.finish()?;
        let (_, g) = self.grant(id)?;
        let desc = self.hw(self.clocks.describe(g.clock))?;
        match desc.rates {
            RateSpec::Range { min, max, step } => {
                if index != 0 {
                    return Err(Status::OutOfRange);
                }
                reply.u32((1 << 12) | 3).u64(min).u64(max).u64(step);
            }
            RateSpec::Discrete(rates) => {
                let start = usize::try_from(index).map_err(|_| Status::OutOfRange)?;
                let rest = rates.get(start..).ok_or(Status::OutOfRange)?;
                let fit = (call.max_reply.saturating_sub(4) / 8).clamp(1, 0xfff);
                let n = rest.len().min(fit);
                let remaining = (rest.len() - n).min(0xffff);
                reply.u32(((remaining as u32) << 16) | n as u32);
                for r in &rest[..n] {
                    reply.u64(*r);
                }
            }
        }
        Ok(())
    }

    fn rate_set(&mut self, call: Call, mut p: Params<'_>) -> Result<(), Status> {
        let flags = p.u32()?;
        let id = p.u32()?;
        let rate = p.u64()?;
        p.finish()?;
        if flags & !(SET_ASYNC | SET_IGNORE_DELAYED | SET_ROUND_UP | SET_ROUND_AUTO) != 0 {
            return Err(Status::InvalidParameters);
        }
        let g = self.control(id)?;
        let desc = self.hw(self.clocks.describe(g.clock))?;
        let how = if flags & SET_ROUND_AUTO != 0 {
            Rounding::Nearest
        } else if flags & SET_ROUND_UP != 0 {
            Rounding::Up
        } else {
            Rounding::Down
        };
        let rate = desc.rates.round(rate, how).ok_or(Status::OutOfRange)?;
        if flags & SET_ASYNC == 0 {
            self.hw(self.clocks.request_rate(self.agent, g.clock, rate))?;
            return Ok(());
        }
        if self.pending.len() >= MAX_ASYNC {
            return Err(Status::Busy);
        }
        self.pending.push_back(AsyncSet {
            due: Instant::now() + ASYNC_SETTLE,
            token: call.token,
            agent_clock: id,
            clock: g.clock,
            rate,
            respond: flags & SET_IGNORE_DELAYED == 0,
        });
        Ok(())
    }

    fn config_set(&mut self, mut p: Params<'_>) -> Result<(), Status> {
        let id = p.u32()?;
        let attributes = p.u32()?;
        let oem_value = p.u32()?;
        p.finish()?;
        let g = self.control(id)?;
        // Bits 23:16 select an OEM configuration type; this platform defines none.
        if attributes & 0x00ff_0000 != 0 {
            return Err(Status::NotSupported);
        }
        if attributes & !0x3 != 0 || oem_value != 0 {
            return Err(Status::InvalidParameters);
        }
        match attributes & 0x3 {
            0 => self.hw(self.clocks.set_enabled(self.agent, g.clock, false)),
            1 => self.hw(self.clocks.set_enabled(self.agent, g.clock, true)),
            3 => Ok(()),
            _ => Err(Status::InvalidParameters),
        }
    }

    fn notify(&mut self, mut p: Params<'_>, requested: bool) -> Result<(), Status> {
        let id = p.u32()?;
        let enable = p.u32()?;
        p.finish()?;
        let (i, _) = self.grant(id)?;
        if enable & !1 != 0 {
            return Err(Status::InvalidParameters);
        }
        self.collect();
        let table = if requested {
            &mut self.notify_requested
        } else {
            &mut self.notify_changed
        };
        table[i] = enable == 1;
        Ok(())
    }

    fn notification(&self, e: &ClockEvent) -> Option<Vec<u8>> {
        let id = self.agent_id_of(e.clock)?;
        let i = id as usize;
        let (subscribed, msg) = match e.kind {
            ClockEventKind::RateChanged => (self.notify_changed[i], msg::RATE_CHANGED),
            ClockEventKind::RateChangeRequested => {
                (self.notify_requested[i], msg::RATE_CHANGE_REQUESTED)
            }
        };
        if !subscribed {
            return None;
        }
        let mut r = Reply::default();
        r.u32(e.agent).u32(id).u64(e.rate);
        Some(encode_notification(PROTOCOL_CLOCK, msg, &r.into_bytes()))
    }
}

impl Protocol for ClockProtocol {
    fn id(&self) -> u8 {
        PROTOCOL_CLOCK
    }

    fn version(&self) -> u32 {
        VERSION
    }

    fn attributes(&self, reply: &mut Reply) {
        let n = self.grants.len().min(0xffff) as u32;
        reply.u32(((MAX_ASYNC as u32) << 16) | n);
    }

    fn message_attributes(&self, message_id: u8) -> Option<u32> {
        (msg::ATTRIBUTES..=msg::PARENT_GET)
            .contains(&message_id)
            .then_some(0)
    }

    fn handle(&mut self, call: Call, mut p: Params<'_>, reply: &mut Reply) -> Result<(), Status> {
        match call.message_id {
            msg::ATTRIBUTES => {
                let id = p.u32()?;
                p.finish()?;
                let (_, g) = self.grant(id)?;
                let desc = self.hw(self.clocks.describe(g.clock))?;
                let enabled = self.hw(self.clocks.is_enabled(g.clock))?;
                let has_parents = !self.parents(g.clock)?.is_empty();
                let attrs = (1 << 31)
                    | (1 << 30)
                    | (1 << 29)
                    | (u32::from(has_parents) << 28)
                    | u32::from(enabled);
                reply
                    .u32(attrs)
                    .name::<16>(&desc.name)
                    .u32(desc.enable_latency_us);
            }
            msg::DESCRIBE_RATES => self.describe_rates(call, p, reply)?,
            msg::RATE_SET => self.rate_set(call, p)?,
            msg::RATE_GET => {
                let id = p.u32()?;
                p.finish()?;
                let (_, g) = self.grant(id)?;
                reply.u64(self.hw(self.clocks.rate(g.clock))?);
            }
            msg::CONFIG_SET => self.config_set(p)?,
            msg::NAME_GET => {
                let id = p.u32()?;
                p.finish()?;
                let (_, g) = self.grant(id)?;
                let desc = self.hw(self.clocks.describe(g.clock))?;
                reply.u32(0).name::<64>(&desc.name);
            }
            msg::RATE_NOTIFY => self.notify(p, false)?,
            msg::RATE_CHANGE_REQUESTED_NOTIFY => self.notify(p, true)?,
            msg::CONFIG_GET => {
                let id = p.u32()?;
                let flags = p.u32()?;
                p.finish()?;
                let (_, g) = self.grant(id)?;
                if flags & 0xff != 0 {
                    return Err(Status::NotSupported);
                }
                if flags & !0xff != 0 {
                    return Err(Status::InvalidParameters);
                }
                let enabled = self.hw(self.clocks.is_enabled(g.clock))?;
                reply.u32(0).u32(u32::from(enabled)).u32(0);
            }
            msg::POSSIBLE_PARENTS_GET => {
                let id = p.u32()?;
                let skip = p.u32()?;
                p.finish()?;
                let (_, g) = self.grant(id)?;
                let parents = self.parents(g.clock)?;
                if parents.is_empty() {
                    return Err(Status::NotSupported);
                }
                let skip = usize::try_from(skip).map_err(|_| Status::InvalidParameters)?;
                let rest = parents.get(skip..).ok_or(Status::InvalidParameters)?;
                let fit = (call.max_reply.saturating_sub(4) / 4).clamp(1, 0xff);
                let n = rest.len().min(fit);
                let remaining = (rest.len() - n).min(0xff);
                reply.u32(((remaining as u32) << 24) | n as u32);
                for id in &rest[..n] {
                    reply.u32(*id);
                }
            }
            msg::PARENT_SET => {
                let id = p.u32()?;
                let parent = p.u32()?;
                p.finish()?;
                let g = self.control(id)?;
                let parents = self.parents(g.clock)?;
                if parents.is_empty() {
                    return Err(Status::NotSupported);
                }
                let (_, pg) = self.grant(parent)?;
                if !parents.contains(&parent) {
                    return Err(Status::InvalidParameters);
                }
                self.hw(self.clocks.set_parent(self.agent, g.clock, pg.clock))?;
            }
            msg::PARENT_GET => {
                let id = p.u32()?;
                p.finish()?;
                let (_, g) = self.grant(id)?;
                if self.parents(g.clock)?.is_empty() {
                    return Err(Status::NotSupported);
                }
                let parent = self.hw(self.clocks.parent(g.clock))?;
                // The current parent may be a clock this agent was not granted.
                let id = parent
                    .and_then(|p| self.agent_id_of(p))
                    .ok_or(Status::Denied)?;
                reply.u32(id);
            }
            _ => return Err(Status::NotSupported),
        }
        Ok(())
    }

    fn activate(&mut self, waker: Arc<dyn Wake>) {
        self.clocks.set_waker(self.agent, waker);
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        while let Some(set) = self.pending.front() {
            if set.due > now {
                break;
            }
            let Some(set) = self.pending.pop_front() else {
                break;
            };
            let result = self.hw(self.clocks.request_rate(self.agent, set.clock, set.rate));
            if set.respond {
                let (status, payload) = match result {
                    Ok(actual) => {
                        let mut r = Reply::default();
                        r.u32(set.agent_clock).u64(actual);
                        (Status::Success, r.into_bytes())
                    }
                    Err(s) => (s, Vec::new()),
                };
                out.push(encode_delayed_response(
                    PROTOCOL_CLOCK,
                    msg::RATE_SET,
                    set.token,
                    status,
                    &payload,
                ));
            }
        }
        self.collect();
        out.append(&mut self.outbox);
        self.pending.front().map(|s| s.due)
    }

    fn reset(&mut self) {
        // The guest reset or went away: it holds nothing any more.
        self.clocks.release(self.agent);
        self.pending.clear();
        self.outbox.clear();
        self.notify_changed.fill(false);
        self.notify_requested.fill(false);
        // Events that arrived while no driver was attached are stale.
        self.clocks.take_events(self.agent);
    }
}
