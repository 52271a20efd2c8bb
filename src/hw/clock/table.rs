//! A clock tree's state as its arbitration last programmed it, kept with atomics so that a
//! reader (the control plane) never takes the tree's lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::generation::Generation;

/// One clock as [`ClockTable::reading`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    /// The clock's name.
    pub name: String,
    /// Rate last programmed, in Hz.
    pub rate_hz: u64,
    /// Whether the clock is ungated.
    pub enabled: bool,
    /// The owning agent's name, empty when no agent holds it.
    pub owner: String,
}

/// Owner value meaning "no agent holds the clock".
const NO_OWNER: u32 = 0;

struct ClockCell {
    name: String,
    rate_hz: AtomicU64,
    enabled: AtomicBool,
    /// 1-based SCMI agent id, or [`NO_OWNER`].
    owner: AtomicU32,
}

/// A clock tree's state as the arbitration last programmed it, by hardware clock index:
/// written with atomic stores by whichever device thread changed a clock, read by the
/// control plane without taking the tree's lock.
pub struct ClockTable {
    /// Agent names by SCMI agent id; written at start-up and read only by the control plane.
    agents: Mutex<BTreeMap<u32, String>>,
    clocks: Vec<ClockCell>,
    generation: Generation,
}

impl std::fmt::Debug for ClockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockTable")
            .field("clocks", &self.clocks.len())
            .finish_non_exhaustive()
    }
}

impl ClockTable {
    /// A table of `(name, rate_hz, enabled)` clocks, indexed from 0.
    pub fn new(clocks: Vec<(String, u64, bool)>) -> Self {
        Self {
            agents: Mutex::new(BTreeMap::new()),
            clocks: clocks
                .into_iter()
                .map(|(name, rate, enabled)| ClockCell {
                    name,
                    rate_hz: AtomicU64::new(rate),
                    enabled: AtomicBool::new(enabled),
                    owner: AtomicU32::new(NO_OWNER),
                })
                .collect(),
            generation: Generation::new(),
        }
    }

    /// Names agent `agent` (1-based) for the owner column.
    pub fn name_agent(&self, agent: u32, name: &str) {
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        agents.insert(agent, name.to_owned());
    }

    /// Records that `agent` (1-based) set clock `index` to `rate_hz`.
    pub fn set_rate(&self, index: usize, rate_hz: u64, agent: u32) {
        if let Some(c) = self.clocks.get(index) {
            c.rate_hz.store(rate_hz, Ordering::Relaxed);
            c.owner.store(agent, Ordering::Relaxed);
            self.generation.bump();
        }
    }

    /// Records clock `index` as enabled by `agent`, or gated (`agent` ignored).
    pub fn set_enabled(&self, index: usize, enabled: bool, agent: u32) {
        if let Some(c) = self.clocks.get(index) {
            c.enabled.store(enabled, Ordering::Relaxed);
            c.owner
                .store(if enabled { agent } else { NO_OWNER }, Ordering::Relaxed);
            self.generation.bump();
        }
    }

    /// The state of clock `index`, its owner named; `None` past the end of the table.
    pub fn reading(&self, index: usize) -> Option<ClockReading> {
        let c = self.clocks.get(index)?;
        let owner = c.owner.load(Ordering::Relaxed);
        let agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        Some(ClockReading {
            name: c.name.clone(),
            rate_hz: c.rate_hz.load(Ordering::Relaxed),
            enabled: c.enabled.load(Ordering::Relaxed),
            owner: agents.get(&owner).cloned().unwrap_or_default(),
        })
    }

    /// Bumped on every change.
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// The counter a detail watcher attaches its bell to.
    pub fn changes(&self) -> &Generation {
        &self.generation
    }
}
