//! Per-agent event queues for hardware shared between guests: an event caused by one
//! guest is queued for every attached guest, whose device is then woken to deliver it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use log::warn;

use crate::wake::Wake;

/// Most events kept per agent before the oldest are dropped (the agent is not reading).
pub const MAX_EVENTS: usize = 256;

/// How many events are queued across all agents, readable without the hardware's lock.
///
/// Every device polls its shared hardware for events after every request; this lets the
/// common case (nothing queued) skip the lock. A poll that reads zero just before an event
/// is queued misses nothing: the queuing side wakes the device after it counts the event.
#[derive(Clone, Debug, Default)]
pub struct QueuedEvents(Arc<AtomicUsize>);

impl QueuedEvents {
    /// Whether any agent may have an event queued.
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }

    /// Counts `n` more queued events.
    pub fn add(&self, n: usize) {
        self.0.fetch_add(n, Ordering::Release);
    }

    /// Counts `n` events taken.
    pub fn sub(&self, n: usize) {
        // Saturating: a count that drifted high only costs a lock, never a missed event.
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

struct Agent<E> {
    name: String,
    waker: Option<Arc<dyn Wake>>,
    events: VecDeque<E>,
}

/// The agents attached to one piece of shared hardware and their undelivered events.
pub struct AgentEvents<E> {
    agents: BTreeMap<u32, Agent<E>>,
    queued: QueuedEvents,
}

impl<E> Default for AgentEvents<E> {
    fn default() -> Self {
        Self {
            agents: BTreeMap::new(),
            queued: QueuedEvents::default(),
        }
    }
}

impl<E: Clone> AgentEvents<E> {
    /// The lock-free count of queued events, for the owner to keep beside its lock.
    pub fn queued(&self) -> QueuedEvents {
        self.queued.clone()
    }

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
            } else {
                self.queued.add(1);
            }
            a.events.push_back(event.clone());
            wake.extend(a.waker.clone());
        }
        wake
    }

    /// Takes agent `id`'s queued events.
    pub fn take(&mut self, id: u32) -> Vec<E> {
        let taken: Vec<E> = self
            .agents
            .get_mut(&id)
            .map(|a| a.events.drain(..).collect())
            .unwrap_or_default();
        self.queued.sub(taken.len());
        taken
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

    #[test]
    fn the_lock_free_count_follows_queued_events() {
        let mut ev = AgentEvents::default();
        let queued = ev.queued();
        ev.attach(1, "vm0");
        ev.attach(2, "vm1");
        assert!(!queued.any());
        let _ = ev.push(1u32);
        assert!(queued.any());
        assert_eq!(ev.take(1), vec![1]);
        assert!(queued.any(), "vm1 has not taken its copy");
        assert_eq!(ev.take(2), vec![1]);
        assert!(!queued.any());
        // Overflow replaces events: the count stays that of what is queued.
        for e in 0..(MAX_EVENTS as u32 + 10) {
            let _ = ev.push(e);
        }
        assert_eq!(ev.take(1).len(), MAX_EVENTS);
        assert_eq!(ev.take(2).len(), MAX_EVENTS);
        assert!(!queued.any());
    }
}
