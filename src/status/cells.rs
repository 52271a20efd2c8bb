//! Ready-made [`DetailSource`]s that devices update with atomics from their own thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::detail::{ClockDetail, DetailSource, DeviceDetail, RpmbDetail};

/// Owner value meaning "no agent holds the clock".
const NO_OWNER: u32 = 0;

struct ClockCell {
    id: u32,
    name: String,
    rate_hz: AtomicU64,
    enabled: AtomicBool,
    /// 1-based SCMI agent id, or [`NO_OWNER`].
    owner: AtomicU32,
}

/// The clocks an SCMI device serves, as its clock protocol last set or read them.
pub struct ClockTable {
    agents: Vec<String>,
    clocks: Vec<ClockCell>,
    generation: AtomicU64,
}

impl ClockTable {
    /// A table of `(id, name, rate_hz, enabled)` clocks; `agents` names agent ids 1, 2, ...
    pub fn new(agents: Vec<String>, clocks: Vec<(u32, String, u64, bool)>) -> Self {
        Self {
            agents,
            clocks: clocks
                .into_iter()
                .map(|(id, name, rate, enabled)| ClockCell {
                    id,
                    name,
                    rate_hz: AtomicU64::new(rate),
                    enabled: AtomicBool::new(enabled),
                    owner: AtomicU32::new(NO_OWNER),
                })
                .collect(),
            generation: AtomicU64::new(0),
        }
    }

    fn cell(&self, id: u32) -> Option<&ClockCell> {
        self.clocks.iter().find(|c| c.id == id)
    }

    /// Records that `agent` (1-based) set clock `id` to `rate_hz`.
    pub fn set_rate(&self, id: u32, rate_hz: u64, agent: u32) {
        if let Some(c) = self.cell(id) {
            c.rate_hz.store(rate_hz, Ordering::Relaxed);
            c.owner.store(agent, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Records that `agent` enabled or disabled clock `id`; disabling releases ownership.
    pub fn set_enabled(&self, id: u32, enabled: bool, agent: u32) {
        if let Some(c) = self.cell(id) {
            c.enabled.store(enabled, Ordering::Relaxed);
            c.owner
                .store(if enabled { agent } else { NO_OWNER }, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    fn agent_name(&self, agent: u32) -> String {
        agent
            .checked_sub(1)
            .and_then(|i| self.agents.get(i as usize))
            .cloned()
            .unwrap_or_default()
    }
}

impl DetailSource for ClockTable {
    fn detail(&self) -> DeviceDetail {
        DeviceDetail::Scmi {
            clocks: self
                .clocks
                .iter()
                .map(|c| ClockDetail {
                    id: c.id,
                    name: c.name.clone(),
                    rate_hz: c.rate_hz.load(Ordering::Relaxed),
                    enabled: c.enabled.load(Ordering::Relaxed),
                    owner: self.agent_name(c.owner.load(Ordering::Relaxed)),
                })
                .collect(),
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// An RPMB partition's public state: capacity, write counter, whether a key is set.
#[derive(Debug)]
pub struct RpmbCell {
    capacity_bytes: u64,
    write_counter: AtomicU32,
    key_programmed: AtomicBool,
    generation: AtomicU64,
}

impl RpmbCell {
    /// A cell for a partition of `capacity_bytes`.
    pub fn new(capacity_bytes: u64, write_counter: u32, key_programmed: bool) -> Self {
        Self {
            capacity_bytes,
            write_counter: AtomicU32::new(write_counter),
            key_programmed: AtomicBool::new(key_programmed),
            generation: AtomicU64::new(0),
        }
    }

    /// Publishes the partition's state after a request; bumps the generation only on change.
    pub fn update(&self, write_counter: u32, key_programmed: bool) {
        let old_wc = self.write_counter.swap(write_counter, Ordering::Relaxed);
        let old_key = self.key_programmed.swap(key_programmed, Ordering::Relaxed);
        if old_wc != write_counter || old_key != key_programmed {
            self.generation.fetch_add(1, Ordering::Release);
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

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
