//! Ready-made [`DetailSource`]s that devices update with atomics from their own thread.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::detail::{ClockDetail, DetailSource, DeviceDetail, RpmbDetail};
use super::generation::Generation;

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

    /// Detail of the clocks `(scmi_id, index)`, as one agent numbers them.
    pub fn view(&self, ids: &[(u32, usize)]) -> Vec<ClockDetail> {
        let agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        ids.iter()
            .filter_map(|&(id, index)| {
                let c = self.clocks.get(index)?;
                let owner = c.owner.load(Ordering::Relaxed);
                Some(ClockDetail {
                    id,
                    name: c.name.clone(),
                    rate_hz: c.rate_hz.load(Ordering::Relaxed),
                    enabled: c.enabled.load(Ordering::Relaxed),
                    owner: agents.get(&owner).cloned().unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Bumped on every change.
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }
}

/// The clocks one SCMI agent is granted, numbered as that agent sees them.
pub struct ClockView {
    table: Arc<ClockTable>,
    /// `(scmi_id, hardware index)` in SCMI id order.
    ids: Vec<(u32, usize)>,
}

impl ClockView {
    /// A view of `table` where SCMI clock id `i` is hardware clock `indices[i]`.
    pub fn new(table: Arc<ClockTable>, indices: &[usize]) -> Self {
        Self {
            table,
            ids: indices
                .iter()
                .enumerate()
                .map(|(i, &hw)| (i as u32, hw))
                .collect(),
        }
    }
}

impl DetailSource for ClockView {
    fn detail(&self) -> DeviceDetail {
        DeviceDetail::Scmi {
            clocks: self.table.view(&self.ids),
        }
    }

    fn changes(&self) -> &Generation {
        &self.table.generation
    }
}

/// An RPMB partition's public state: capacity, write counter, whether a key is set.
#[derive(Debug)]
pub struct RpmbCell {
    capacity_bytes: u64,
    write_counter: AtomicU32,
    key_programmed: AtomicBool,
    generation: Generation,
}

impl RpmbCell {
    /// A cell for a partition of `capacity_bytes`.
    pub fn new(capacity_bytes: u64, write_counter: u32, key_programmed: bool) -> Self {
        Self {
            capacity_bytes,
            write_counter: AtomicU32::new(write_counter),
            key_programmed: AtomicBool::new(key_programmed),
            generation: Generation::new(),
        }
    }

    /// Publishes the partition's state after a request; bumps the generation only on change.
    pub fn update(&self, write_counter: u32, key_programmed: bool) {
        let old_wc = self.write_counter.swap(write_counter, Ordering::Relaxed);
        let old_key = self.key_programmed.swap(key_programmed, Ordering::Relaxed);
        if old_wc != write_counter || old_key != key_programmed {
            self.generation.bump();
        }
    }
}

impl DetailSource for RpmbCell {
    fn detail(&self) -> DeviceDetail {
        DeviceDetail::Rpmb(RpmbDetail {
            capacity_bytes: self.capacity_bytes,
            write_counter: self.write_counter.load(Ordering::Relaxed),
            key_programmed: self.key_programmed.load(Ordering::Relaxed),
        })
    }

    fn changes(&self) -> &Generation {
        &self.generation
    }
}
