//! The common shape of hardware shared between guests: the hardware's state behind one lock,
//! with the agents' undelivered events inside it and a lock-free count of them beside it,
//! and per-domain holds that keep a domain in a state while any agent wants it.

use std::sync::{Arc, Mutex, MutexGuard};

use super::events::{AgentEvents, QueuedEvents};
use crate::wake::Wake;

/// State that carries the per-agent event queues of its hardware.
pub trait WithEvents {
    /// What an agent is told.
    type Event: Clone;

    /// The agents' event queues.
    fn events(&mut self) -> &mut AgentEvents<Self::Event>;
}

/// Hardware state shared by agents.
pub struct Shared<S> {
    state: Mutex<S>,
    /// Whether `state` holds undelivered events, read without taking its lock.
    queued: QueuedEvents,
}

impl<S: WithEvents> Shared<S> {
    /// Shares `state`.
    pub fn new(mut state: S) -> Self {
        let queued = state.events().queued();
        Self {
            state: Mutex::new(state),
            queued,
        }
    }

    /// The state; a panic that poisoned the lock leaves it as it was, still usable.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers agent `id` called `name`.
    pub fn attach(&self, id: u32, name: &str) {
        self.lock().events().attach(id, name);
    }

    /// Sets how agent `id` is woken for events.
    pub fn set_waker(&self, id: u32, waker: Arc<dyn Wake>) {
        self.lock().events().set_waker(id, waker);
    }

    /// Takes agent `id`'s events; no lock is taken while none is queued (every device asks
    /// after every request).
    pub fn take_events(&self, id: u32) -> Vec<S::Event> {
        if !self.queued.any() {
            return Vec::new();
        }
        self.lock().events().take(id)
    }
}

/// Which agents hold each domain: a domain is held while any agent holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds(Vec<Vec<u32>>);

impl Holds {
    /// `domains` domains, none held.
    pub fn new(domains: usize) -> Self {
        Self(vec![Vec::new(); domains])
    }

    /// Sets whether `agent` holds `domain`; returns whether any agent holds it now, or
    /// `None` if there is no such domain.
    pub fn set(&mut self, domain: usize, agent: u32, hold: bool) -> Option<bool> {
        let holders = self.0.get_mut(domain)?;
        holders.retain(|&a| a != agent);
        if hold {
            holders.push(agent);
        }
        Some(!holders.is_empty())
    }

    /// Drops every hold of `agent` (it reset or went away); returns the domains nobody
    /// holds any more because of it.
    pub fn release(&mut self, agent: u32) -> Vec<usize> {
        let mut freed = Vec::new();
        for (domain, holders) in self.0.iter_mut().enumerate() {
            let held = holders.contains(&agent);
            holders.retain(|&a| a != agent);
            if held && holders.is_empty() {
                freed.push(domain);
            }
        }
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_is_held_while_any_agent_holds_it() {
        let mut h = Holds::new(2);
        assert_eq!(h.set(0, 1, true), Some(true));
        assert_eq!(h.set(0, 2, true), Some(true));
        assert_eq!(
            h.set(0, 1, true),
            Some(true),
            "holding twice is holding once"
        );
        assert_eq!(h.set(0, 1, false), Some(true));
        assert_eq!(h.set(0, 2, false), Some(false));
        assert_eq!(h.set(2, 1, true), None);
    }

    #[test]
    fn release_frees_only_what_the_agent_held_alone() {
        let mut h = Holds::new(3);
        h.set(0, 1, true);
        h.set(1, 1, true);
        h.set(1, 2, true);
        h.set(2, 2, true);
        assert_eq!(h.release(1), vec![0]);
        assert_eq!(h.release(1), Vec::<usize>::new());
        assert_eq!(h.release(2), vec![1, 2]);
    }

    struct Counter(AgentEvents<u32>);

    impl WithEvents for Counter {
        type Event = u32;
        fn events(&mut self) -> &mut AgentEvents<u32> {
            &mut self.0
        }
    }

    #[test]
    fn events_reach_attached_agents_and_are_counted_without_the_lock() {
        let shared = Shared::new(Counter(AgentEvents::default()));
        shared.attach(1, "vm0");
        shared.attach(2, "vm1");
        assert!(!shared.queued.any());
        let _ = shared.lock().0.push(7);
        assert!(shared.queued.any());
        assert_eq!(shared.take_events(1), vec![7]);
        assert_eq!(shared.take_events(2), vec![7]);
        assert!(!shared.queued.any());
        assert_eq!(shared.take_events(1), Vec::<u32>::new());
    }
}
