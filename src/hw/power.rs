//! Power domains: the hardware interface, its simulated backend, and sharing between
//! guests (a domain stays on while any guest wants it on).

use std::sync::{Arc, MutexGuard};

use super::events::AgentEvents;
use super::shared::{Holds, Shared, WithEvents};

/// Index of a power domain.
pub type DomainId = usize;

/// Why a power-domain operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowerError {
    /// No such domain.
    #[error("no power domain {0}")]
    NoSuchDomain(DomainId),
    /// The backend failed.
    #[error("{0}")]
    Io(String),
}

/// A set of power domains as the hardware sees them.
pub trait PowerHw: Send {
    /// Domain names, indexed by [`DomainId`].
    fn names(&self) -> &[String];
    /// Whether the domain is powered.
    fn is_on(&self, id: DomainId) -> Result<bool, PowerError>;
    /// Powers the domain up or down.
    fn set_on(&mut self, id: DomainId, on: bool) -> Result<(), PowerError>;
}

/// Simulated power domains: named switches that remember their state.
#[derive(Debug)]
pub struct SimPower {
    names: Vec<String>,
    on: Vec<bool>,
}

impl SimPower {
    /// Domains `(name, initially on)`.
    pub fn new(domains: Vec<(String, bool)>) -> Self {
        let (names, on) = domains.into_iter().unzip();
        Self { names, on }
    }
}

impl PowerHw for SimPower {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn is_on(&self, id: DomainId) -> Result<bool, PowerError> {
        self.on.get(id).copied().ok_or(PowerError::NoSuchDomain(id))
    }

    fn set_on(&mut self, id: DomainId, on: bool) -> Result<(), PowerError> {
        *self.on.get_mut(id).ok_or(PowerError::NoSuchDomain(id))? = on;
        Ok(())
    }
}

/// A power state change, reported to every attached agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerEvent {
    /// The domain.
    pub domain: DomainId,
    /// The agent whose request caused it.
    pub agent: u32,
    /// The new state.
    pub on: bool,
}

struct State {
    hw: Box<dyn PowerHw>,
    /// Agents that want each domain on.
    votes: Holds,
    events: AgentEvents<PowerEvent>,
}

impl WithEvents for State {
    type Event = PowerEvent;
    fn events(&mut self) -> &mut AgentEvents<PowerEvent> {
        &mut self.events
    }
}

/// Power domains shared by agents.
pub struct SharedPower(Shared<State>);

impl SharedPower {
    /// Shares `hw`; domains already on stay on until some agent turns them off.
    pub fn new(hw: Box<dyn PowerHw>) -> Self {
        let votes = Holds::new(hw.names().len());
        Self(Shared::new(State {
            hw,
            votes,
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

    /// Domain names.
    pub fn names(&self) -> Vec<String> {
        self.lock().hw.names().to_vec()
    }

    /// Whether the domain is on.
    pub fn is_on(&self, id: DomainId) -> Result<bool, PowerError> {
        self.lock().hw.is_on(id)
    }

    /// Records `agent`'s wish; the domain is on while any agent wants it on, and goes off
    /// when the last one lets go.
    pub fn request(&self, agent: u32, id: DomainId, on: bool) -> Result<bool, PowerError> {
        let mut s = self.lock();
        let want = s
            .votes
            .set(id, agent, on)
            .ok_or(PowerError::NoSuchDomain(id))?;
        let was = s.hw.is_on(id)?;
        if want != was {
            s.hw.set_on(id, want)?;
            let wake = s.events.push(PowerEvent {
                domain: id,
                agent,
                on: want,
            });
            drop(s);
            wake.iter().for_each(|w| w.wake());
        }
        Ok(want)
    }

    /// Drops `agent`'s wishes (it reset or went away): domains only it kept on go off.
    pub fn release(&self, agent: u32) {
        let mut s = self.lock();
        let mut wake = Vec::new();
        for id in s.votes.release(agent) {
            match s.hw.set_on(id, false) {
                Ok(()) => wake.extend(s.events.push(PowerEvent {
                    domain: id,
                    agent,
                    on: false,
                })),
                Err(e) => {
                    log::warn!("power domain {id}: cannot power off after agent {agent} left: {e}")
                }
            }
        }
        drop(s);
        wake.iter().for_each(|w| w.wake());
    }

    /// Takes agent `id`'s events.
    pub fn take_events(&self, id: u32) -> Vec<PowerEvent> {
        self.0.take_events(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_stays_on_while_any_agent_wants_it() {
        let p = SharedPower::new(Box::new(SimPower::new(vec![("gpu".into(), false)])));
        p.attach(1, "vm0");
        p.attach(2, "vm1");
        assert_eq!(p.request(1, 0, true), Ok(true));
        assert_eq!(p.request(2, 0, true), Ok(true));
        assert_eq!(p.request(1, 0, false), Ok(true));
        assert_eq!(p.is_on(0), Ok(true));
        assert_eq!(p.request(2, 0, false), Ok(false));
        assert_eq!(p.is_on(0), Ok(false));
        let ev = p.take_events(1);
        assert_eq!(
            ev.iter().map(|e| (e.agent, e.on)).collect::<Vec<_>>(),
            [(1, true), (2, false)]
        );
        assert_eq!(p.request(1, 3, true), Err(PowerError::NoSuchDomain(3)));
        p.request(1, 0, true).unwrap();
        p.request(2, 0, true).unwrap();
        p.release(1);
        assert_eq!(p.is_on(0), Ok(true), "vm1 still wants it");
        p.release(2);
        assert_eq!(p.is_on(0), Ok(false));
    }
}
