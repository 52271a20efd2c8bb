//! Per-agent event queues for hardware shared between guests: an event caused by one
//! guest is queued for every attached guest, whose device is then woken to deliver it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use log::warn;

use crate::devices::Wake;

/// Most events kept per agent before the oldest are dropped (the agent is not reading).
pub const MAX_EVENTS: usize = 256;

struct Agent<E> {
    name: String,
    waker: Option<Arc<dyn Wake>>,
    events: VecDeque<E>,
}

/// The agents attached to one piece of shared hardware and their undelivered events.
pub struct AgentEvents<E> {
    agents: BTreeMap<u32, Agent<E>>,
}

impl<E> Default for AgentEvents<E> {
    fn default() -> Self {
        Self {
            agents: BTreeMap::new(),
        }
    }
}

impl<E: Clone> AgentEvents<E> {
    /// Registers agent `id` called `name`.
    pub fn attach(&mut self, id: u32, name: &str) {
        self.agents.insert(
            id,
            Agent {
                name: name.to_owned(),
                waker: None,
                events: VecDeque::new(),
            },
        );
    }

    /// Sets how agent `id` is woken.
    pub fn set_waker(&mut self, id: u32, waker: Arc<dyn Wake>) {
        if let Some(a) = self.agents.get_mut(&id) {
            a.waker = Some(waker);
        }
    }

    /// The ID of the agent called `name`.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.agents
            .iter()
            .find(|(_, a)| a.name == name)
            .map(|(id, _)| *id)
    }

    /// Queues `event` for every agent; returns the wakers to call once the caller unlocks.
    #[must_use]
    pub fn push(&mut self, event: E) -> Vec<Arc<dyn Wake>> {
        let mut wake = Vec::new();
        for (id, a) in self.agents.iter_mut() {
            if a.events.len() >= MAX_EVENTS {
                warn!("events for agent {id} overflow; dropping the oldest");
                a.events.pop_front();
            }
            a.events.push_back(event.clone());
            wake.extend(a.waker.clone());
        }
        wake
    }

    /// Takes agent `id`'s queued events.
    pub fn take(&mut self, id: u32) -> Vec<E> {
        self.agents
            .get_mut(&id)
            .map(|a| a.events.drain(..).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_agent_gets_every_event_boundedly() {
        let mut ev = AgentEvents::default();
        ev.attach(1, "vm0");
        ev.attach(2, "vm1");
        let c = Arc::new(Count(AtomicUsize::new(0)));
        ev.set_waker(2, c.clone());
        for w in ev.push(7u32) {
            w.wake();
        }
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            (ev.take(1), ev.take(2), ev.take(3)),
            (vec![7], vec![7], vec![])
        );
        for i in 0..(MAX_EVENTS as u32 + 5) {
            let _ = ev.push(i);
        }
        let got = ev.take(1);
        assert_eq!((got.len(), got[0]), (MAX_EVENTS, 5));
        assert_eq!(ev.id_of("vm1"), Some(2));
    }
}
