//! Performance domains (DVFS): operating points, the simulated backend, and sharing between
//! guests (the highest requested level wins, within limits).

use std::collections::BTreeMap;
use std::sync::{Arc, MutexGuard};

use super::events::AgentEvents;
use super::shared::{Shared, WithEvents};

/// Index of a performance domain.
pub type PerfId = usize;

/// One operating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opp {
    /// Abstract performance level (SCMI reports these).
    pub level: u32,
    /// Power cost at this level, in microwatts.
    pub power_uw: u32,
    /// Worst-case microseconds to switch to this level.
    pub latency_us: u16,
    /// Frequency this level corresponds to, in kHz.
    pub freq_khz: u32,
}

/// Static description of one performance domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfDesc {
    /// Name.
    pub name: String,
    /// Operating points, ascending by level (at least one).
    pub opps: Vec<Opp>,
    /// Level the domain starts at.
    pub initial_level: u32,
}

/// Why a performance operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PerfError {
    /// No such domain.
    #[error("no performance domain {0}")]
    NoSuchDomain(PerfId),
    /// The level is not an operating point or lies outside the limits.
    #[error("level {0} is not available")]
    BadLevel(u32),
    /// The limits are inverted.
    #[error("minimum {min} above maximum {max}")]
    InvertedLimits {
        /// Requested minimum.
        min: u32,
        /// Requested maximum.
        max: u32,
    },
}

/// Performance domains as the hardware sees them.
pub trait PerfHw: Send {
    /// Every domain.
    fn domains(&self) -> &[PerfDesc];
    /// The current level.
    fn level(&self, id: PerfId) -> Result<u32, PerfError>;
    /// Switches to an operating point's level.
    fn set_level(&mut self, id: PerfId, level: u32) -> Result<(), PerfError>;
}

/// Simulated performance domains that switch levels instantly.
#[derive(Debug)]
pub struct SimPerf {
    descs: Vec<PerfDesc>,
    levels: Vec<u32>,
}

impl SimPerf {
    /// Domains at their initial levels; OPPs are sorted by level.
    pub fn new(mut descs: Vec<PerfDesc>) -> Self {
        for d in &mut descs {
            d.opps.sort_by_key(|o| o.level);
        }
        let levels = descs.iter().map(|d| d.initial_level).collect();
        Self { descs, levels }
    }
}

impl PerfHw for SimPerf {
    fn domains(&self) -> &[PerfDesc] {
        &self.descs
    }

    fn level(&self, id: PerfId) -> Result<u32, PerfError> {
        self.levels
            .get(id)
            .copied()
            .ok_or(PerfError::NoSuchDomain(id))
    }

    fn set_level(&mut self, id: PerfId, level: u32) -> Result<(), PerfError> {
        let desc = self.descs.get(id).ok_or(PerfError::NoSuchDomain(id))?;
        if !desc.opps.iter().any(|o| o.level == level) {
            return Err(PerfError::BadLevel(level));
        }
        self.levels[id] = level;
        Ok(())
    }
}

/// A change on a performance domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfEvent {
    /// The level changed.
    Level {
        /// The domain.
        domain: PerfId,
        /// The agent whose request caused it.
        agent: u32,
        /// The new level.
        level: u32,
    },
    /// The limits changed.
    Limits {
        /// The domain.
        domain: PerfId,
        /// The agent that set them.
        agent: u32,
        /// New maximum.
        max: u32,
        /// New minimum.
        min: u32,
    },
}

struct State {
    hw: Box<dyn PerfHw>,
    votes: Vec<BTreeMap<u32, u32>>,
    limits: Vec<(u32, u32)>,
    events: AgentEvents<PerfEvent>,
}

impl WithEvents for State {
    type Event = PerfEvent;
    fn events(&mut self) -> &mut AgentEvents<PerfEvent> {
        &mut self.events
    }
}

/// Performance domains shared by agents.
pub struct SharedPerf(Shared<State>);

impl SharedPerf {
    /// Shares `hw`; limits start at each domain's full range.
    pub fn new(hw: Box<dyn PerfHw>) -> Self {
        let limits = hw
            .domains()
            .iter()
            .map(|d| {
                let lo = d.opps.first().map_or(0, |o| o.level);
                let hi = d.opps.last().map_or(0, |o| o.level);
                (lo, hi)
            })
            .collect();
        let n = hw.domains().len();
        Self(Shared::new(State {
            hw,
            votes: vec![BTreeMap::new(); n],
            limits,
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
    pub fn domains(&self) -> Vec<PerfDesc> {
        self.lock().hw.domains().to_vec()
    }

    /// Current level.
    pub fn level(&self, id: PerfId) -> Result<u32, PerfError> {
        self.lock().hw.level(id)
    }

    /// Current (max, min) limits.
    pub fn limits(&self, id: PerfId) -> Result<(u32, u32), PerfError> {
        let s = self.lock();
        let (min, max) = *s.limits.get(id).ok_or(PerfError::NoSuchDomain(id))?;
        Ok((max, min))
    }

    /// Records `agent`'s level request (an operating point within the limits) and programs
    /// the highest request; returns the level now in effect.
    pub fn request_level(&self, agent: u32, id: PerfId, level: u32) -> Result<u32, PerfError> {
        let mut s = self.lock();
        let desc = s.hw.domains().get(id).ok_or(PerfError::NoSuchDomain(id))?;
        let (min, max) = s.limits[id];
        if !desc.opps.iter().any(|o| o.level == level) || level < min || level > max {
            return Err(PerfError::BadLevel(level));
        }
        s.votes[id].insert(agent, level);
        let wake = s.apply(id, agent)?;
        let now = s.hw.level(id)?;
        drop(s);
        wake.iter().for_each(|w| w.wake());
        Ok(now)
    }

    /// Sets the limits (any agent with control; the last one wins) and moves the level
    /// inside them.
    pub fn set_limits(&self, agent: u32, id: PerfId, max: u32, min: u32) -> Result<(), PerfError> {
        let mut s = self.lock();
        let desc = s.hw.domains().get(id).ok_or(PerfError::NoSuchDomain(id))?;
        if min > max {
            return Err(PerfError::InvertedLimits { min, max });
        }
        let lo = desc.opps.first().map_or(0, |o| o.level);
        let hi = desc.opps.last().map_or(0, |o| o.level);
        if min < lo || max > hi || !desc.opps.iter().any(|o| o.level >= min && o.level <= max) {
            return Err(PerfError::BadLevel(if min < lo { min } else { max }));
        }
        let mut wake = Vec::new();
        if s.limits[id] != (min, max) {
            s.limits[id] = (min, max);
            wake = s.events.push(PerfEvent::Limits {
                domain: id,
                agent,
                max,
                min,
            });
        }
        wake.extend(s.apply(id, agent)?);
        drop(s);
        wake.iter().for_each(|w| w.wake());
        Ok(())
    }

    /// Drops `agent`'s level requests (it reset or went away) and re-applies the rest.
    pub fn release(&self, agent: u32) {
        let mut s = self.lock();
        let mut wake = Vec::new();
        for id in 0..s.votes.len() {
            if s.votes[id].remove(&agent).is_some() && !s.votes[id].is_empty() {
                match s.apply(id, agent) {
                    Ok(w) => wake.extend(w),
                    Err(e) => log::warn!("perf domain {id}: {e}"),
                }
            }
        }
        drop(s);
        wake.iter().for_each(|w| w.wake());
    }

    /// Takes agent `id`'s events.
    pub fn take_events(&self, id: u32) -> Vec<PerfEvent> {
        self.0.take_events(id)
    }
}

impl State {
    /// Programs the highest vote clamped to the limits (the current level when none).
    fn apply(
        &mut self,
        id: PerfId,
        agent: u32,
    ) -> Result<Vec<Arc<dyn crate::wake::Wake>>, PerfError> {
        let current = self.hw.level(id)?;
        let (min, max) = self.limits[id];
        let wanted = self.votes[id].values().copied().max().unwrap_or(current);
        let opps = &self.hw.domains()[id].opps;
        // The highest operating point not above the clamped request, else the lowest allowed.
        let clamped = wanted.clamp(min, max);
        let target = opps
            .iter()
            .rev()
            .map(|o| o.level)
            .find(|&l| l <= clamped && l >= min)
            .or_else(|| opps.iter().map(|o| o.level).find(|&l| l >= min && l <= max))
            .unwrap_or(current);
        if target == current {
            return Ok(Vec::new());
        }
        self.hw.set_level(id, target)?;
        Ok(self.events.push(PerfEvent::Level {
            domain: id,
            agent,
            level: target,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn cpu() -> PerfDesc {
        let opp = |level, freq_khz| Opp {
            level,
            power_uw: level * 1000,
            latency_us: 50,
            freq_khz,
        };
        PerfDesc {
            name: "cpu-little".into(),
            opps: vec![opp(100, 300_000), opp(200, 600_000), opp(300, 1_200_000)],
            initial_level: 100,
        }
    }

    #[test]
    fn highest_request_wins_within_limits() {
        let p = SharedPerf::new(Box::new(SimPerf::new(vec![cpu()])));
        p.attach(1, "vm0");
        p.attach(2, "vm1");
        assert_eq!(p.request_level(1, 0, 300), Ok(300));
        assert_eq!(p.request_level(2, 0, 200), Ok(300));
        assert_eq!(p.request_level(1, 0, 150), Err(PerfError::BadLevel(150)));
        p.set_limits(2, 0, 200, 100).unwrap();
        assert_eq!(p.level(0), Ok(200), "clamped by the new maximum");
        assert_eq!(p.limits(0), Ok((200, 100)));
        assert_eq!(p.request_level(1, 0, 300), Err(PerfError::BadLevel(300)));
        assert!(matches!(
            p.set_limits(1, 0, 100, 200),
            Err(PerfError::InvertedLimits { .. })
        ));
        assert_eq!(p.set_limits(1, 0, 400, 100), Err(PerfError::BadLevel(400)));
        let ev = p.take_events(1);
        assert_eq!(ev.len(), 3, "level 300, limits, level 200: {ev:?}");
        p.set_limits(2, 0, 300, 100).unwrap();
        p.request_level(1, 0, 300).unwrap();
        p.request_level(2, 0, 100).unwrap();
        p.release(1);
        assert_eq!(p.level(0), Ok(100), "vm1's request is all that is left");
    }
}
