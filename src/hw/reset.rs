//! Reset domains: the hardware interface, its simulated backend, and sharing between
//! guests (a line stays asserted while any guest holds it).

use std::sync::{Arc, MutexGuard};

use super::events::AgentEvents;
use super::shared::{Holds, Shared, WithEvents};

/// Index of a reset domain.
pub type ResetId = usize;

/// Why a reset operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResetError {
    /// No such domain.
    #[error("no reset domain {0}")]
    NoSuchDomain(ResetId),
    /// The backend failed.
    #[error("{0}")]
    Io(String),
}

/// Static description of one reset domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetDesc {
    /// Name.
    pub name: String,
    /// Microseconds a reset takes (None when unknown).
    pub latency_us: Option<u32>,
}

/// Reset lines as the hardware sees them.
pub trait ResetHw: Send {
    /// Every domain.
    fn domains(&self) -> &[ResetDesc];
    /// Holds the line asserted (`true`) or releases it.
    fn set_asserted(&mut self, id: ResetId, asserted: bool) -> Result<(), ResetError>;
    /// Whether the line is asserted.
    fn is_asserted(&self, id: ResetId) -> Result<bool, ResetError>;
    /// Asserts and releases the line (an autonomous reset).
    fn pulse(&mut self, id: ResetId) -> Result<(), ResetError>;
}

/// Simulated reset lines that count the resets they performed.
#[derive(Debug)]
pub struct SimReset {
    descs: Vec<ResetDesc>,
    asserted: Vec<bool>,
    pulses: Vec<u64>,
}

impl SimReset {
    /// Domains, all released.
    pub fn new(descs: Vec<ResetDesc>) -> Self {
        let n = descs.len();
        Self {
            descs,
            asserted: vec![false; n],
            pulses: vec![0; n],
        }
    }

    /// Autonomous resets performed on `id` so far.
    pub fn pulses(&self, id: ResetId) -> Option<u64> {
        self.pulses.get(id).copied()
    }
}

impl ResetHw for SimReset {
    fn domains(&self) -> &[ResetDesc] {
        &self.descs
    }

    fn set_asserted(&mut self, id: ResetId, asserted: bool) -> Result<(), ResetError> {
        *self
            .asserted
            .get_mut(id)
            .ok_or(ResetError::NoSuchDomain(id))? = asserted;
        Ok(())
    }

    fn is_asserted(&self, id: ResetId) -> Result<bool, ResetError> {
        self.asserted
            .get(id)
            .copied()
            .ok_or(ResetError::NoSuchDomain(id))
    }

    fn pulse(&mut self, id: ResetId) -> Result<(), ResetError> {
        *self
            .pulses
            .get_mut(id)
            .ok_or(ResetError::NoSuchDomain(id))? += 1;
        Ok(())
    }
}

/// A reset performed on a domain, reported to every attached agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetEvent {
    /// The domain.
    pub domain: ResetId,
    /// The agent that issued it.
    pub agent: u32,
    /// The SCMI reset state (0 = architectural cold reset).
    pub state: u32,
}

/// What an agent asks of a reset line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetAction {
    /// Assert and release.
    Pulse,
    /// Hold asserted.
    Assert,
    /// Release this agent's hold.
    Deassert,
}

struct State {
    hw: Box<dyn ResetHw>,
    holders: Holds,
    events: AgentEvents<ResetEvent>,
}

impl WithEvents for State {
    type Event = ResetEvent;
    fn events(&mut self) -> &mut AgentEvents<ResetEvent> {
        &mut self.events
    }
}

/// Reset domains shared by agents.
pub struct SharedResets(Shared<State>);

impl SharedResets {
    /// Shares `hw`.
    pub fn new(hw: Box<dyn ResetHw>) -> Self {
        let holders = Holds::new(hw.domains().len());
        Self(Shared::new(State {
            hw,
            holders,
            events: AgentEvents::default(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock()
    }

    /// Registers agent `id`.
    pub fn attach(&self, id: u32, name: &str) {
        self.0.attach(id, name);
    }

    /// Sets how agent `id` is woken for events.
    pub fn set_waker(&self, id: u32, waker: Arc<dyn crate::wake::Wake>) {
        self.0.set_waker(id, waker);
    }

    /// Every domain.
    pub fn domains(&self) -> Vec<ResetDesc> {
        self.lock().hw.domains().to_vec()
    }

    /// Whether the line is asserted.
    pub fn is_asserted(&self, id: ResetId) -> Result<bool, ResetError> {
        self.lock().hw.is_asserted(id)
    }

    /// Performs `action` for `agent`; a line held by another agent stays asserted.
    pub fn apply(
        &self,
        agent: u32,
        id: ResetId,
        action: ResetAction,
        state: u32,
    ) -> Result<(), ResetError> {
        let mut s = self.lock();
        let held = s
            .holders
            .set(id, agent, action == ResetAction::Assert)
            .ok_or(ResetError::NoSuchDomain(id))?;
        match action {
            // A line someone holds is in reset already; pulsing it changes nothing.
            ResetAction::Pulse if !held => s.hw.pulse(id)?,
            ResetAction::Pulse => {}
            ResetAction::Assert | ResetAction::Deassert => s.hw.set_asserted(id, held)?,
        }
        let wake = if action == ResetAction::Deassert {
            Vec::new()
        } else {
            s.events.push(ResetEvent {
                domain: id,
                agent,
                state,
            })
        };
        drop(s);
        wake.iter().for_each(|w| w.wake());
        Ok(())
    }

    /// Drops `agent`'s holds (it reset or went away): lines only it held are released.
    pub fn release(&self, agent: u32) {
        let mut s = self.lock();
        for id in s.holders.release(agent) {
            if let Err(e) = s.hw.set_asserted(id, false) {
                log::warn!("reset domain {id}: cannot release after agent {agent} left: {e}");
            }
        }
    }

    /// Takes agent `id`'s events.
    pub fn take_events(&self, id: u32) -> Vec<ResetEvent> {
        self.0.take_events(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str) -> ResetDesc {
        ResetDesc {
            name: name.into(),
            latency_us: Some(10),
        }
    }

    #[test]
    fn holds_are_shared_and_pulses_counted() {
        let r = SharedResets::new(Box::new(SimReset::new(vec![desc("usb")])));
        r.attach(1, "vm0");
        r.attach(2, "vm1");
        r.apply(1, 0, ResetAction::Assert, 0).unwrap();
        r.apply(2, 0, ResetAction::Assert, 0).unwrap();
        r.apply(1, 0, ResetAction::Deassert, 0).unwrap();
        assert_eq!(r.is_asserted(0), Ok(true));
        r.apply(2, 0, ResetAction::Deassert, 0).unwrap();
        assert_eq!(r.is_asserted(0), Ok(false));
        r.apply(1, 0, ResetAction::Pulse, 0).unwrap();
        assert_eq!(r.take_events(2).len(), 3, "two asserts and a pulse");
        assert_eq!(
            r.apply(1, 1, ResetAction::Pulse, 0),
            Err(ResetError::NoSuchDomain(1))
        );
        r.apply(1, 0, ResetAction::Assert, 0).unwrap();
        r.release(1);
        assert_eq!(
            r.is_asserted(0),
            Ok(false),
            "a departed agent holds nothing"
        );
        let mut sim = SimReset::new(vec![desc("a")]);
        sim.pulse(0).unwrap();
        assert_eq!(sim.pulses(0), Some(1));
    }
}
