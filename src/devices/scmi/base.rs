//! The SCMI base protocol (0x10): discovery of the platform, its agents and its protocols.

use std::time::Instant;

use super::constants::{base, Status, PROTOCOL_BASE};
use super::errors::ErrorLog;
use super::message::{Params, Reply};
use super::protocol::{Call, Protocol};
use crate::hw::soc::SocIdentity;

/// BASE_NOTIFY_ERRORS `notify_enable` bit 0; bits 31:1 are reserved and must be zero.
const NOTIFY_ENABLE: u32 = 1 << 0;

/// The base protocol as seen by one agent.
pub struct BaseProtocol {
    identity: SocIdentity,
    /// Names of agents 1..=N (agent 0 is the platform).
    agents: Vec<String>,
    /// This agent's ID (1-based index into `agents`).
    agent_id: u32,
    /// IDs of the other protocols this agent can use, ascending.
    protocols: Vec<u8>,
    /// This agent's communication errors, while it subscribes to BASE_ERROR_EVENT.
    errors: ErrorLog,
}

impl BaseProtocol {
    /// Base protocol for agent `agent_id` (1-based) among `agents`, listing `protocols`.
    pub fn new(
        identity: SocIdentity,
        agents: Vec<String>,
        agent_id: u32,
        mut protocols: Vec<u8>,
    ) -> Self {
        protocols.retain(|&p| p != PROTOCOL_BASE);
        protocols.sort_unstable();
        protocols.dedup();
        Self {
            identity,
            agents,
            agent_id,
            protocols,
            errors: ErrorLog::new(Instant::now()),
        }
    }

    fn agent_name(&self, id: u32) -> Option<&str> {
        match id {
            0 => Some("platform"),
            n => self
                .agents
                .get(usize::try_from(n - 1).ok()?)
                .map(String::as_str),
        }
    }
}

impl Protocol for BaseProtocol {
    fn id(&self) -> u8 {
        PROTOCOL_BASE
    }

    fn version(&self) -> u32 {
        base::VERSION
    }

    fn attributes(&self, reply: &mut Reply) {
        // Bits 15:8 number of agents, 7:0 number of protocols other than base (§4.2.2.2).
        let agents = self.agents.len().min(0xff) as u32;
        let protocols = self.protocols.len().min(0xff) as u32;
        reply.u32((agents << 8) | protocols);
    }

    fn message_attributes(&self, message_id: u8) -> Option<u32> {
        match message_id {
            base::DISCOVER_VENDOR
            | base::DISCOVER_SUB_VENDOR
            | base::DISCOVER_IMPLEMENTATION_VERSION
            | base::DISCOVER_LIST_PROTOCOLS
            | base::DISCOVER_AGENT
            | base::NOTIFY_ERRORS => Some(0),
            _ => None,
        }
    }

    fn handle(
        &mut self,
        call: Call,
        mut params: Params<'_>,
        reply: &mut Reply,
    ) -> Result<(), Status> {
        match call.message_id {
            base::DISCOVER_VENDOR => {
                params.finish()?;
                reply.name::<16>(&self.identity.vendor);
            }
            base::DISCOVER_SUB_VENDOR => {
                params.finish()?;
                reply.name::<16>(&self.identity.sub_vendor);
            }
            base::DISCOVER_IMPLEMENTATION_VERSION => {
                params.finish()?;
                reply.u32(self.identity.implementation_version);
            }
            base::DISCOVER_LIST_PROTOCOLS => {
                let skip = params.u32()?;
                params.finish()?;
                let skip = usize::try_from(skip).map_err(|_| Status::InvalidParameters)?;
                let rest = self
                    .protocols
                    .get(skip..)
                    .ok_or(Status::InvalidParameters)?;
                reply.u32(rest.len() as u32);
                let mut packed = rest.to_vec();
                packed.resize(rest.len().div_ceil(4) * 4, 0);
                reply.bytes(&packed);
            }
            base::DISCOVER_AGENT => {
                let requested = params.u32()?;
                params.finish()?;
                let id = if requested == base::AGENT_SELF {
                    self.agent_id
                } else {
                    requested
                };
                let name = self.agent_name(id).ok_or(Status::NotFound)?.to_owned();
                reply.u32(id).name::<16>(&name);
            }
            base::NOTIFY_ERRORS => {
                let enable = params.u32()?;
                params.finish()?;
                if enable & !NOTIFY_ENABLE != 0 {
                    return Err(Status::InvalidParameters);
                }
                self.errors.set_subscribed(enable == NOTIFY_ENABLE);
            }
            _ => return Err(Status::NotSupported),
        }
        Ok(())
    }

    fn comms_error(&mut self, header: Option<u32>, at: Instant) {
        self.errors.record(header, at);
    }

    fn poll(&mut self, _now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        self.errors.drain(self.agent_id, out);
        None
    }

    fn reset(&mut self) {
        self.errors.set_subscribed(false);
    }
}
