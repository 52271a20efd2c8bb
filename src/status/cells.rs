//! Ready-made [`DetailSource`]s that devices update with atomics from their own thread: an
//! SCMI agent's clocks (a `Vec<ClockDetail>`) and an RPMB partition's state (an
//! [`RpmbDetail`]).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use super::detail::{DetailSource, DeviceDetail};
use crate::generation::Generation;

pub use crate::hw::clock::table::ClockTable;

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

    /// Detail of the clocks `(scmi_id, index)`, as one agent numbers them.
    fn view(&self) -> Vec<ClockDetail> {
        self.ids
            .iter()
            .filter_map(|&(id, index)| {
                let c = self.table.reading(index)?;
                Some(ClockDetail {
                    id,
                    name: c.name,
                    rate_hz: c.rate_hz,
                    enabled: c.enabled,
                    owner: c.owner,
                })
            })
            .collect()
    }
}

impl DetailSource for ClockView {
    fn detail(&self) -> DeviceDetail {
        DeviceDetail::new(self.view())
    }

    fn changes(&self) -> &Generation {
        self.table.changes()
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
        DeviceDetail::new(RpmbDetail {
            capacity_bytes: self.capacity_bytes,
            write_counter: self.write_counter.load(Ordering::Relaxed),
            key_programmed: self.key_programmed.load(Ordering::Relaxed),
        })
    }

    fn changes(&self) -> &Generation {
        &self.generation
    }
}

/// One SCMI clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockDetail {
    /// SCMI clock id.
    pub id: u32,
    /// Clock name.
    pub name: String,
    /// Current rate in Hz.
    pub rate_hz: u64,
    /// Whether the clock is enabled.
    pub enabled: bool,
    /// Guest that enabled or last set it; empty if none.
    pub owner: String,
}

/// State of an RPMB partition; the authentication key is deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpmbDetail {
    /// Partition size in bytes.
    pub capacity_bytes: u64,
    /// The write counter.
    pub write_counter: u32,
    /// Whether a key has been programmed.
    pub key_programmed: bool,
}
