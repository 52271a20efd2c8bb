//! One clock tree shared by several guests: enables are reference-counted across guests,
//! conflicting rate requests are resolved by a per-clock policy, and every guest is told
//! about rate changes it did not make.
//!
//! Reparenting a mux changes the rate every user of the clock sees, so it follows the same
//! policy: under `owner:<guest>` only the owner may do it; under `highest-wins` (no owner)
//! only an agent that is the clock's sole user (no other agent holds an enable or a rate
//! request on it). The rate the policy selects is programmed again afterwards, and a rate
//! change is announced to every agent like any other.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use log::warn;

use super::{ClockDesc, ClockError, ClockHw, ClockId};
use crate::devices::Wake;
use crate::hw::events::QueuedEvents;
use crate::status::ClockTable;
use crate::transport::log_budget::LogBudget;

/// Most events kept per agent before the oldest are dropped (the agent is not reading).
const MAX_EVENTS: usize = 256;

/// How conflicting rate requests from several agents are resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RatePolicy {
    /// The highest requested rate is programmed (config: `highest-wins`).
    #[default]
    HighestWins,
    /// The named agent's request is programmed whenever it has made one; otherwise the
    /// highest of the others (config: `owner:<guest>`).
    Owner(String),
}

impl std::str::FromStr for RatePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "highest-wins" => Ok(Self::HighestWins),
            Some(("owner", guest)) if !guest.is_empty() => Ok(Self::Owner(guest.to_owned())),
            _ => Err(format!(
                "unknown rate policy `{s}` (expected `highest-wins` or `owner:<guest>`)"
            )),
        }
    }
}

/// What happened to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockEventKind {
    /// The programmed rate changed.
    RateChanged,
    /// An agent asked for a new rate (whether or not it was programmed).
    RateChangeRequested,
}

/// A change on a shared clock, reported to every attached agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockEvent {
    /// The clock, as a hardware index.
    pub clock: ClockId,
    /// What happened.
    pub kind: ClockEventKind,
    /// The agent whose request caused it.
    pub agent: u32,
    /// The new rate (changed) or the requested rate (requested).
    pub rate: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Vote {
    enabled: bool,
    rate: Option<u64>,
}

struct Agent {
    name: String,
    waker: Option<Arc<dyn Wake>>,
    events: VecDeque<ClockEvent>,
}

struct State {
    hw: Box<dyn ClockHw>,
    policies: Vec<RatePolicy>,
    votes: Vec<BTreeMap<u32, Vote>>,
    agents: BTreeMap<u32, Agent>,
    queued: QueuedEvents,
    /// Lines agents can cause (event overflow while another agent requests rates) come
    /// from many device threads: one budget for the shared tree.
    log_budget: LogBudget,
}

/// A clock tree arbitrated between agents (guests), identified by their SCMI agent IDs.
pub struct SharedClocks {
    state: Mutex<State>,
    /// Whether `state` holds undelivered events, without taking its lock.
    queued: QueuedEvents,
    /// What the arbitration last programmed, for the control plane to read without `state`.
    mirror: Arc<ClockTable>,
}

impl SharedClocks {
    /// Shares `hw`; every clock starts with the `highest-wins` policy.
    pub fn new(hw: Box<dyn ClockHw>) -> Self {
        let n = hw.clocks().len();
        let mirror = Arc::new(ClockTable::new(
            (0..n)
                .map(|i| {
                    let name = hw
                        .clocks()
                        .get(i)
                        .map(|c| c.name.clone())
                        .unwrap_or_default();
                    (
                        name,
                        hw.rate(i).unwrap_or(0),
                        hw.is_enabled(i).unwrap_or(false),
                    )
                })
                .collect(),
        ));
        let queued = QueuedEvents::default();
        Self {
            mirror,
            state: Mutex::new(State {
                hw,
                policies: vec![RatePolicy::HighestWins; n],
                votes: vec![BTreeMap::new(); n],
                agents: BTreeMap::new(),
                queued: queued.clone(),
                log_budget: LogBudget::default(),
            }),
            queued,
        }
    }

    /// The lock-free copy of the clocks' state that the control plane reads.
    pub fn mirror(&self) -> &Arc<ClockTable> {
        &self.mirror
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the votes half-written: every update is one insert.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the policy of `clock`.
    pub fn set_policy(&self, clock: ClockId, policy: RatePolicy) -> Result<(), ClockError> {
        let mut s = self.lock();
        let slot = s
            .policies
            .get_mut(clock)
            .ok_or(ClockError::NoSuchClock(clock))?;
        *slot = policy;
        Ok(())
    }

    /// Registers an agent so it receives events; `name` is what `owner:` policies match.
    pub fn attach(&self, agent: u32, name: &str) {
        self.mirror.name_agent(agent, name);
        self.lock().agents.insert(
            agent,
            Agent {
                name: name.to_owned(),
                waker: None,
                events: VecDeque::new(),
            },
        );
    }

    /// Sets how an attached agent is woken when events arrive for it.
    pub fn set_waker(&self, agent: u32, waker: Arc<dyn Wake>) {
        if let Some(a) = self.lock().agents.get_mut(&agent) {
            a.waker = Some(waker);
        }
    }

    /// The backend's kind (`sim`, `linux`).
    pub fn kind(&self) -> &'static str {
        self.lock().hw.kind()
    }

    /// Number of clocks in the tree.
    pub fn count(&self) -> usize {
        self.lock().hw.clocks().len()
    }

    /// Description of `clock`.
    pub fn describe(&self, clock: ClockId) -> Result<ClockDesc, ClockError> {
        self.lock()
            .hw
            .clocks()
            .get(clock)
            .cloned()
            .ok_or(ClockError::NoSuchClock(clock))
    }

    /// Index of the clock called `name`.
    pub fn find(&self, name: &str) -> Option<ClockId> {
        self.lock().hw.clocks().iter().position(|c| c.name == name)
    }

    /// The rate the hardware runs at.
    pub fn rate(&self, clock: ClockId) -> Result<u64, ClockError> {
        self.lock().hw.rate(clock)
    }

    /// Whether the clock outputs.
    pub fn is_enabled(&self, clock: ClockId) -> Result<bool, ClockError> {
        self.lock().hw.is_enabled(clock)
    }

    /// Whether `agent` holds an enable vote on `clock`.
    pub fn enabled_by(&self, agent: u32, clock: ClockId) -> bool {
        self.lock()
            .votes
            .get(clock)
            .and_then(|v| v.get(&agent))
            .is_some_and(|v| v.enabled)
    }

    /// The current parent.
    pub fn parent(&self, clock: ClockId) -> Result<Option<ClockId>, ClockError> {
        self.lock().hw.parent(clock)
    }

    /// Records `agent`'s enable vote; the hardware holds one reference while any agent votes on.
    pub fn set_enabled(&self, agent: u32, clock: ClockId, on: bool) -> Result<(), ClockError> {
        let mut s = self.lock();
        let votes = s.votes.get(clock).ok_or(ClockError::NoSuchClock(clock))?;
        let before = votes.values().any(|v| v.enabled);
        let mine = votes.get(&agent).is_some_and(|v| v.enabled);
        let after = if on {
            true
        } else {
            votes.iter().any(|(a, v)| *a != agent && v.enabled)
        };
        if before != after {
            s.hw.set_enabled(clock, after)?;
        }
        if mine != on {
            s.votes[clock].entry(agent).or_default().enabled = on;
        }
        // Owner: this agent when it enables, else any agent still holding the clock.
        let holder = if on {
            Some(agent)
        } else {
            s.votes[clock]
                .iter()
                .find(|(_, v)| v.enabled)
                .map(|(a, _)| *a)
        };
        self.mirror
            .set_enabled(clock, after, holder.unwrap_or_default());
        Ok(())
    }

    /// Records `agent`'s rate request (already a rate the clock supports), programs the rate
    /// the policy selects and returns the rate the clock now runs at.
    pub fn request_rate(&self, agent: u32, clock: ClockId, rate: u64) -> Result<u64, ClockError> {
        let mut s = self.lock();
        if clock >= s.votes.len() {
            return Err(ClockError::NoSuchClock(clock));
        }
        let previous = s.votes[clock].entry(agent).or_default().rate;
        s.votes[clock].entry(agent).or_default().rate = Some(rate);
        let target = s.resolve(clock);
        let current = s.hw.rate(clock)?;
        let mut wake = s.push_event(ClockEvent {
            clock,
            kind: ClockEventKind::RateChangeRequested,
            agent,
            rate,
        });
        let actual = match target {
            Some(t) if t != current => match s.hw.set_rate(clock, t) {
                Ok(actual) => actual,
                Err(e) => {
                    if let Some(v) = s.votes[clock].get_mut(&agent) {
                        v.rate = previous;
                    }
                    return Err(e);
                }
            },
            _ => current,
        };
        if actual != current {
            wake.extend(s.push_event(ClockEvent {
                clock,
                kind: ClockEventKind::RateChanged,
                agent,
                rate: actual,
            }));
        }
        self.mirror.set_rate(clock, actual, agent);
        drop(s);
        wake.iter().for_each(|w| w.wake());
        Ok(actual)
    }

    /// Switches `clock`'s mux for `agent`, if the clock's policy lets it (see the module
    /// documentation); then programs the rate the policy selects and announces a change.
    pub fn set_parent(
        &self,
        agent: u32,
        clock: ClockId,
        parent: ClockId,
    ) -> Result<(), ClockError> {
        let mut s = self.lock();
        let policy = s
            .policies
            .get(clock)
            .ok_or(ClockError::NoSuchClock(clock))?;
        let allowed = match policy {
            RatePolicy::Owner(owner) => s.agents.get(&agent).is_some_and(|a| &a.name == owner),
            RatePolicy::HighestWins => !s.votes[clock]
                .iter()
                .any(|(a, v)| *a != agent && (v.enabled || v.rate.is_some())),
        };
        if !allowed {
            return Err(ClockError::Denied(format!(
                "clock {clock} is shared: only its owner (or its sole user) may reparent it"
            )));
        }
        let before = s.hw.rate(clock)?;
        s.hw.set_parent(clock, parent)?;
        let mut actual = s.hw.rate(clock)?;
        if let Some(target) = s.resolve(clock).filter(|&t| t != actual) {
            match s.hw.set_rate(clock, target) {
                Ok(rate) => actual = rate,
                Err(e) => {
                    if s.log_budget.admit("clocks") {
                        warn!("clock {clock}: cannot restore the policy's rate after reparenting: {e}");
                    }
                }
            }
        }
        let mut wake = Vec::new();
        if actual != before {
            self.mirror.set_rate(clock, actual, agent);
            wake = s.push_event(ClockEvent {
                clock,
                kind: ClockEventKind::RateChanged,
                agent,
                rate: actual,
            });
        }
        drop(s);
        wake.iter().for_each(|w| w.wake());
        Ok(())
    }

    /// Drops every vote `agent` holds (it reset or went away): clocks only it kept enabled
    /// are gated, and rates it asked for are resolved again among the remaining requests.
    pub fn release(&self, agent: u32) {
        let mut s = self.lock();
        let mut wake = Vec::new();
        for clock in 0..s.votes.len() {
            let Some(vote) = s.votes[clock].remove(&agent) else {
                continue;
            };
            if vote.enabled && !s.votes[clock].values().any(|v| v.enabled) {
                match s.hw.set_enabled(clock, false) {
                    Ok(()) => self.mirror.set_enabled(clock, false, 0),
                    Err(e) => warn!("clock {clock}: cannot gate after agent {agent} left: {e}"),
                }
            }
            if vote.rate.is_none() {
                continue;
            }
            let (Some(target), Ok(current)) = (s.resolve(clock), s.hw.rate(clock)) else {
                continue;
            };
            if target != current {
                match s.hw.set_rate(clock, target) {
                    Ok(actual) => {
                        // The rate now follows the remaining requests; no single owner.
                        self.mirror.set_rate(clock, actual, 0);
                        wake.extend(s.push_event(ClockEvent {
                            clock,
                            kind: ClockEventKind::RateChanged,
                            agent,
                            rate: actual,
                        }))
                    }
                    Err(e) => {
                        warn!("clock {clock}: cannot re-resolve after agent {agent} left: {e}")
                    }
                }
            }
        }
        drop(s);
        wake.iter().for_each(|w| w.wake());
    }

    /// Takes the events queued for `agent`.
    pub fn take_events(&self, agent: u32) -> Vec<ClockEvent> {
        if !self.queued.any() {
            return Vec::new();
        }
        let taken: Vec<ClockEvent> = self
            .lock()
            .agents
            .get_mut(&agent)
            .map(|a| a.events.drain(..).collect())
            .unwrap_or_default();
        self.queued.sub(taken.len());
        taken
    }
}

impl State {
    fn resolve(&self, clock: ClockId) -> Option<u64> {
        let votes = &self.votes[clock];
        let highest = || votes.values().filter_map(|v| v.rate).max();
        match &self.policies[clock] {
            RatePolicy::HighestWins => highest(),
            RatePolicy::Owner(name) => self
                .agents
                .iter()
                .find(|(_, a)| &a.name == name)
                .and_then(|(id, _)| votes.get(id))
                .and_then(|v| v.rate)
                .or_else(highest),
        }
    }

    /// Queues `event` for every agent; returns the wakers to call once unlocked.
    fn push_event(&mut self, event: ClockEvent) -> Vec<Arc<dyn Wake>> {
        let mut wake = Vec::new();
        for (id, a) in self.agents.iter_mut() {
            if a.events.len() >= MAX_EVENTS {
                if self.log_budget.admit("clocks") {
                    warn!("clock events for agent {id} overflow; dropping the oldest");
                }
                a.events.pop_front();
            } else {
                self.queued.add(1);
            }
            a.events.push_back(event);
            wake.extend(a.waker.clone());
        }
        wake
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{SimClockSpec, SimClockTree};
    use super::super::RateSpec;
    use super::*;

    fn shared() -> SharedClocks {
        let spec = |name: &str| SimClockSpec {
            desc: ClockDesc {
                name: name.into(),
                possible_parents: vec![],
                rates: RateSpec::discrete(vec![100, 200, 300]).unwrap(),
                enable_latency_us: 0,
            },
            initial_rate: 100,
            initial_parent: None,
            always_on: false,
        };
        let hw = SimClockTree::new(vec![spec("a"), spec("b")]).unwrap();
        let s = SharedClocks::new(Box::new(hw));
        s.attach(1, "vm0");
        s.attach(2, "vm1");
        s
    }

    #[test]
    fn enables_are_counted_across_agents_not_within() {
        let s = shared();
        s.set_enabled(1, 0, true).unwrap();
        s.set_enabled(1, 0, true).unwrap();
        s.set_enabled(2, 0, true).unwrap();
        s.set_enabled(1, 0, false).unwrap();
        assert_eq!(s.is_enabled(0), Ok(true), "vm1 still holds it");
        assert!(!s.enabled_by(1, 0) && s.enabled_by(2, 0));
        s.set_enabled(2, 0, false).unwrap();
        assert_eq!(s.is_enabled(0), Ok(false));
        assert_eq!(s.set_enabled(1, 7, true), Err(ClockError::NoSuchClock(7)));
    }

    #[test]
    fn highest_request_wins_and_everyone_hears() {
        let s = shared();
        assert_eq!(s.request_rate(1, 0, 300), Ok(300));
        assert_eq!(s.request_rate(2, 0, 200), Ok(300), "vm0's 300 still wins");
        assert_eq!(
            s.request_rate(1, 0, 100),
            Ok(200),
            "now vm1's 200 is highest"
        );
        let ev = s.take_events(2);
        let changed: Vec<_> = ev
            .iter()
            .filter(|e| e.kind == ClockEventKind::RateChanged)
            .map(|e| (e.agent, e.rate))
            .collect();
        assert_eq!(changed, [(1, 300), (1, 200)]);
        assert_eq!(
            ev.iter()
                .filter(|e| e.kind == ClockEventKind::RateChangeRequested)
                .count(),
            3
        );
        assert!(s.take_events(2).is_empty());
    }

    #[test]
    fn a_released_agent_stops_holding_enables_and_rates() {
        let s = shared();
        s.set_enabled(1, 0, true).unwrap();
        s.set_enabled(2, 1, true).unwrap();
        s.set_enabled(1, 1, true).unwrap();
        s.request_rate(1, 0, 300).unwrap();
        s.request_rate(2, 0, 200).unwrap();
        s.take_events(2);
        s.release(1);
        assert_eq!(s.is_enabled(0), Ok(false), "only vm0 held clock a");
        assert_eq!(s.is_enabled(1), Ok(true), "vm1 still holds clock b");
        assert_eq!(s.rate(0), Ok(200), "vm1's request is the highest left");
        let changed: Vec<_> = s
            .take_events(2)
            .into_iter()
            .filter(|e| e.kind == ClockEventKind::RateChanged)
            .map(|e| e.rate)
            .collect();
        assert_eq!(changed, [200]);
        assert!(!s.enabled_by(1, 0));
    }

    /// A sim tree whose mux "m" (clock 2, parents a and b) runs at 100 Hz on a and 300 Hz
    /// on b, as a real mux's rate follows its parent.
    struct Muxed(SimClockTree);

    impl ClockHw for Muxed {
        fn kind(&self) -> &'static str {
            "test"
        }
        fn clocks(&self) -> &[ClockDesc] {
            self.0.clocks()
        }
        fn rate(&self, id: ClockId) -> Result<u64, ClockError> {
            self.0.rate(id)
        }
        fn set_rate(&mut self, id: ClockId, rate: u64) -> Result<u64, ClockError> {
            self.0.set_rate(id, rate)
        }
        fn is_enabled(&self, id: ClockId) -> Result<bool, ClockError> {
            self.0.is_enabled(id)
        }
        fn set_enabled(&mut self, id: ClockId, on: bool) -> Result<(), ClockError> {
            self.0.set_enabled(id, on)
        }
        fn parent(&self, id: ClockId) -> Result<Option<ClockId>, ClockError> {
            self.0.parent(id)
        }
        fn set_parent(&mut self, id: ClockId, parent: ClockId) -> Result<(), ClockError> {
            self.0.set_parent(id, parent)?;
            self.0.set_rate(id, if parent == 0 { 100 } else { 300 })?;
            Ok(())
        }
    }

    fn muxed() -> SharedClocks {
        let spec = |name: &str, parents: Vec<ClockId>| SimClockSpec {
            desc: ClockDesc {
                name: name.into(),
                possible_parents: parents,
                rates: RateSpec::discrete(vec![100, 200, 300]).unwrap(),
                enable_latency_us: 0,
            },
            initial_rate: 100,
            initial_parent: None,
            always_on: false,
        };
        let hw = SimClockTree::new(vec![
            spec("a", vec![]),
            spec("b", vec![]),
            spec("m", vec![0, 1]),
        ])
        .unwrap();
        let s = SharedClocks::new(Box::new(Muxed(hw)));
        s.attach(1, "vm0");
        s.attach(2, "vm1");
        s
    }

    #[test]
    fn only_the_owner_reparents_an_owned_clock() {
        let s = muxed();
        s.set_policy(2, "owner:vm1".parse().unwrap()).unwrap();
        assert!(matches!(s.set_parent(1, 2, 1), Err(ClockError::Denied(_))));
        assert_eq!(s.parent(2), Ok(None));
        s.set_parent(2, 2, 1).unwrap();
        assert_eq!(s.parent(2), Ok(Some(1)));
    }

    #[test]
    fn a_shared_clock_is_reparented_only_by_its_sole_user() {
        let s = muxed();
        s.set_enabled(1, 2, true).unwrap();
        s.set_parent(1, 2, 1).unwrap();
        s.set_enabled(2, 2, true).unwrap();
        assert!(matches!(s.set_parent(1, 2, 0), Err(ClockError::Denied(_))));
        assert_eq!(
            s.parent(2),
            Ok(Some(1)),
            "vm1 also uses it: no reparenting under it"
        );
        s.release(2);
        s.set_parent(1, 2, 0).unwrap();
    }

    #[test]
    fn reparenting_keeps_the_policys_rate_and_announces_changes() {
        let s = muxed();
        assert_eq!(s.request_rate(1, 2, 200), Ok(200));
        s.take_events(2);
        // The mux would run at 300 on b; the policy's 200 is programmed again.
        s.set_parent(1, 2, 1).unwrap();
        assert_eq!(s.rate(2), Ok(200));
        assert!(s.take_events(2).is_empty(), "the rate did not change");
        // With no rate requested, the parent's rate stands and every agent hears of it.
        let s = muxed();
        s.set_parent(1, 2, 1).unwrap();
        assert_eq!(s.rate(2), Ok(300));
        let ev = s.take_events(2);
        assert_eq!(
            ev,
            [ClockEvent {
                clock: 2,
                kind: ClockEventKind::RateChanged,
                agent: 1,
                rate: 300
            }]
        );
    }

    #[test]
    fn owner_policy_prefers_the_owner() {
        let s = shared();
        s.set_policy(1, "owner:vm1".parse().unwrap()).unwrap();
        assert_eq!(s.request_rate(1, 1, 300), Ok(300), "owner silent: highest");
        assert_eq!(s.request_rate(2, 1, 100), Ok(100), "owner speaks");
        assert_eq!(s.request_rate(1, 1, 200), Ok(100), "non-owner overruled");
        assert_eq!(s.rate(1), Ok(100));
        assert!("owner:".parse::<RatePolicy>().is_err());
        assert!("lowest".parse::<RatePolicy>().is_err());
    }
}
