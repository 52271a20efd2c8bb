//! The shared queue code under arbitrary rings: a descriptor table, an available ring and
//! indices a hostile driver controls byte for byte, served to each device kind through
//! [`process_queue`] exactly as the transports serve them.
//!
//! Used by the `ring_queue` cargo-fuzz target and, on a fixed pseudo-random corpus, by
//! `cargo test`, so a regression fails CI even where no fuzzer runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::log_budget::LogBudget;
use super::poll::AdaptivePoll;
use super::ring_guard::RingGuard;
use super::rings::{poll_device, process_queue, OwnedRings, Session};
use crate::devices::rpmb::console::RpmbConsole;
use crate::devices::rpmb::device::RpmbDevice;
use crate::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use crate::devices::{VirtioDevice, Wake};
use crate::hw::rpmb::memory::MemoryRpmb;
use crate::kind::DeviceKind;
use crate::service::kind::{BuildContext, Built, Phase, Served};
use crate::service::registry;
use crate::status::DeviceState;

/// Guest memory the driver controls: rings and buffers.
const MEMORY: usize = 0x1_0000;
/// Where the input's memory image starts: the available ring comes first and the descriptor
/// table right after it (queues of at most 64 entries), so that short inputs already shape
/// both; the used ring is the device's and comes last. Address 0 is not used because
/// virtio-queue treats an available ring at 0 as not set up.
const IMAGE: u64 = 0x100;
const AVAIL_RING: u64 = IMAGE;
const DESC_TABLE: u64 = 0x200;
const USED_RING: u64 = 0x700;

struct NoWake;

impl Wake for NoWake {
    fn wake(&self) {}
}

/// Every device kind the service serves, on simulated hardware.
pub fn devices() -> Vec<Box<dyn VirtioDevice>> {
    let mut out: Vec<Box<dyn VirtioDevice>> = Vec::new();
    if let Ok(config) = crate::config::parse(crate::config::DEFAULT_CONFIG_TEXT, "default") {
        // Built through the registry as the service builds them, phase by phase; RPMB
        // devices are built below, on memory instead of an image file.
        let dir = std::env::temp_dir();
        let mut cx = BuildContext::new(&config, &dir, &dir);
        for phase in Phase::ORDER {
            for guest in &config.guests {
                for device in &guest.devices {
                    if device.kind() == DeviceKind::Rpmb {
                        continue;
                    }
                    let Some(kind) = registry::find(device.kind()) else {
                        continue;
                    };
                    if kind.phase() != phase {
                        continue;
                    }
                    if let Ok(Built {
                        served: Served::Virtio(d),
                        ..
                    }) = kind.build(&mut cx, guest, device)
                    {
                        out.push(d);
                    }
                }
            }
        }
    }
    if let Ok(engine) = MemoryRpmb::new(64)
        .map_err(|e| e.to_string())
        .and_then(|s| RpmbEngine::new(s, EngineLimits::default()).map_err(|e| e.to_string()))
    {
        out.push(Box::new(RpmbConsole::new(engine)));
    }
    // virtio-rpmb's smallest capacity: 512 blocks (one 128 KiB unit).
    if let Ok(d) = MemoryRpmb::new(512)
        .map_err(|e| e.to_string())
        .and_then(|s| RpmbDevice::new(s, EngineLimits::default()).map_err(|e| e.to_string()))
    {
        out.push(Box::new(d));
    }
    out
}

/// Reads little-endian fields off the front of the input, zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Up to `n` bytes.
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Serves one queue of `device` to a driver described by `data`; panics on a transport or
/// device bug (a fault must stop all ring access, used entries must name heads the driver
/// made available, nothing may be held beyond the queue size).
pub fn exercise_device(device: &mut dyn VirtioDevice, data: &[u8]) {
    let mut input = Input(data);
    let sizes = device.queue_max_sizes().to_vec();
    if sizes.is_empty() {
        return;
    }
    let queue = u16::from(input.u8()) % sizes.len() as u16;
    let max = sizes[usize::from(queue)].min(64);
    let size = (1u16 << (input.u8() % 7)).min(max.max(1));
    let flags = input.u8();
    let event_idx = flags & 1 != 0;
    let start = input.u16();
    let Ok(mem) = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEMORY)]) else {
        return;
    };
    // The driver's first picture of memory: descriptor table, rings, buffers.
    let image = input.take(MEMORY - IMAGE as usize);
    if mem.write_slice(image, GuestAddress(IMAGE)).is_err() {
        return;
    }
    // Half the inputs are tamed towards plausible rings (indices near the device's, heads,
    // next indices, addresses and lengths in range), so the fuzzer reaches the devices
    // behind the ring checks as well as the checks themselves.
    let start = if flags & 2 != 0 {
        tame(&mem, size);
        let avail = mem
            .read_obj::<u16>(GuestAddress(AVAIL_RING + 2))
            .map_or(0, u16::from_le);
        avail.wrapping_sub(start % (size + 2))
    } else {
        start
    };
    let mut q = match Queue::new(max) {
        Ok(q) => q,
        Err(_) => return,
    };
    q.set_size(size);
    q.set_desc_table_address(Some(DESC_TABLE as u32), Some(0));
    q.set_avail_ring_address(Some(AVAIL_RING as u32), Some(0));
    q.set_used_ring_address(Some(USED_RING as u32), Some(0));
    q.set_next_avail(start);
    q.set_next_used(start);
    q.set_event_idx(event_idx);
    q.set_ready(true);
    if !q.is_valid(&mem) {
        return;
    }
    device.reset();
    device.activate(device.features(), Arc::new(NoWake));
    let mut queues: Vec<Option<Queue>> = (0..sizes.len()).map(|_| None).collect();
    queues[usize::from(queue)] = Some(q);
    let status = DeviceState::detached("fuzz", device.device_type(), sizes.len());
    let budget = LogBudget::default();
    let session = Session {
        id: "fuzz",
        mem: &mem,
        generation: 1,
        event_idx,
        log_budget: &budget,
        status: &status,
    };
    let mut guard = RingGuard::new(sizes.len());
    let mut poll = AdaptivePoll::new(Duration::ZERO);
    let mut now = Instant::now();
    // Rounds: the driver rewrites part of memory (new chains, indices) and kicks.
    for round in 0..4 {
        if round > 0 {
            let at = u64::from(input.u16()) % MEMORY as u64;
            let len = usize::from(input.u8());
            let patch = input.take(len).to_vec();
            let end = (at as usize + patch.len()).min(MEMORY);
            let _ = mem.write_slice(&patch[..end - at as usize], GuestAddress(at));
        }
        let faulted_before = guard.fault().is_some();
        let used_before = next_used(&queues, queue);
        let snapshot = faulted_before.then(|| used_ring(&mem, size));
        let mut rings = OwnedRings {
            queues: &mut queues,
            mem: &mem,
            signal: |_| Ok(()),
        };
        process_queue(&session, &mut rings, &mut guard, device, queue, &mut poll);
        now += Duration::from_millis(u64::from(input.u8()));
        poll_device(&session, &mut rings, &mut guard, device, now);
        if let Some(before) = snapshot {
            assert!(
                before == used_ring(&mem, size),
                "a device in needs-reset wrote its used ring"
            );
        }
        assert!(
            guard.in_flight(queue) <= usize::from(size),
            "more heads in flight than the queue holds"
        );
        check_used(&mem, size, used_before, next_used(&queues, queue));
    }
    // The driver resets the device: it serves again from a clean slate.
    guard.clear();
    device.reset();
}

/// The used ring's bytes, to check that a faulted device does not touch it.
fn used_ring(mem: &GuestMemoryMmap, size: u16) -> Vec<u8> {
    let mut b = vec![0u8; 4 + 8 * usize::from(size)];
    let _ = mem.read_slice(&mut b, GuestAddress(USED_RING));
    b
}

/// Folds the rings' fields into range: what a driver that is merely careless would write.
fn tame(mem: &GuestMemoryMmap, size: u16) {
    for slot in 0..u64::from(size) {
        let at = GuestAddress(AVAIL_RING + 4 + 2 * slot);
        if let Ok(head) = mem.read_obj::<u16>(at) {
            let _ = mem.write_obj((u16::from_le(head) % size).to_le(), at);
        }
        let d = DESC_TABLE + 16 * slot;
        if let Ok(addr) = mem.read_obj::<u64>(GuestAddress(d)) {
            let addr = 0x1000 + u64::from_le(addr) % (MEMORY as u64 - 0x2000);
            let _ = mem.write_obj(addr.to_le(), GuestAddress(d));
        }
        if let Ok(len) = mem.read_obj::<u32>(GuestAddress(d + 8)) {
            let _ = mem.write_obj((u32::from_le(len) % 0x1000).to_le(), GuestAddress(d + 8));
        }
        if let Ok(next) = mem.read_obj::<u16>(GuestAddress(d + 14)) {
            let _ = mem.write_obj((u16::from_le(next) % size).to_le(), GuestAddress(d + 14));
        }
    }
}

/// The device's next used index (what it has put on the used ring so far).
fn next_used(queues: &[Option<Queue>], queue: u16) -> u16 {
    queues
        .get(usize::from(queue))
        .and_then(Option::as_ref)
        .map_or(0, |q| q.next_used())
}

/// The entries the device added since its used index was `before` name descriptors inside
/// the table, and there are no more of them than the queue holds.
fn check_used(mem: &GuestMemoryMmap, size: u16, before: u16, after: u16) {
    let added = after.wrapping_sub(before);
    assert!(
        added <= size,
        "{added} used entries in one round, queue of {size}"
    );
    for i in 0..added {
        let slot = u64::from(before.wrapping_add(i) % size);
        let id = mem
            .read_obj::<u32>(GuestAddress(USED_RING + 4 + 8 * slot))
            .map_or(0, u32::from_le);
        assert!(id < u32::from(size), "used entry names descriptor {id}");
    }
}

thread_local! {
    /// Built once per thread: each input resets its device before use.
    static DEVICES: std::cell::RefCell<Vec<Box<dyn VirtioDevice>>> =
        std::cell::RefCell::new(devices());
}

/// Runs `data` against the device kind its first byte selects.
pub fn exercise(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    DEVICES.with(|d| {
        let mut devices = d.borrow_mut();
        let n = devices.len();
        if n == 0 {
            return;
        }
        if let Some(d) = devices.get_mut(usize::from(kind) % n) {
            exercise_device(d.as_mut(), rest);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_kind_is_built() {
        // scmi, sound, radio from the default config; the RPMB console and virtio-rpmb.
        assert!(devices().len() >= 5, "{}", devices().len());
    }

    #[test]
    fn a_fixed_corpus_runs_clean() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut devices = devices();
        for i in 0..200 {
            let len = 64 + (next() % 0x3000) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Plausible rings half the time: small descriptor lengths and indices.
            if i % 2 == 0 {
                for b in data.iter_mut().skip(5).step_by(3) {
                    *b &= 0x0f;
                }
            }
            let n = devices.len();
            exercise_device(devices[i % n].as_mut(), &data);
        }
    }
}
