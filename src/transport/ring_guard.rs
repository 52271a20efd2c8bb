//! What a driver may not do to a device's split rings, remembered per device: which heads
//! each queue has in flight (so a head made available twice is caught, and a device holds at
//! most a queue's size of buffers), and the ring fault that put the device in "needs reset".

use super::chain::ChainError;

/// A violation of the split-ring rules (virtio 1.x §2.7): the device stops using its queues
/// until the driver resets it (DEVICE_NEEDS_RESET).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingFault {
    /// `avail.idx` is more than the queue size ahead of what the device has taken.
    #[error("available index {avail} is {ahead} entries ahead of the device (queue size {size})")]
    AvailTooFarAhead {
        /// The driver's `avail.idx`.
        avail: u16,
        /// How far it is ahead of the device's next entry.
        ahead: u16,
        /// The queue size.
        size: u16,
    },
    /// The available ring cannot be read, or changed under the device while it was read.
    #[error("available ring unreadable or moved backwards: {0}")]
    AvailUnreadable(String),
    /// An available-ring entry names a descriptor past the end of the table.
    #[error("head {head} is out of range (queue size {size})")]
    HeadOutOfRange {
        /// The entry's head index.
        head: u16,
        /// The queue size.
        size: u16,
    },
    /// A head made available again while the device still holds it.
    #[error("head {head} made available again while in flight")]
    Resubmitted {
        /// The head index.
        head: u16,
    },
    /// A chain whose descriptors do not form a chain (loop, bad next, bad indirect table).
    #[error("chain {head}: {source}")]
    BadChain {
        /// The head index.
        head: u16,
        /// What is wrong with it.
        source: ChainError,
    },
    /// The device model panicked while handling the driver's work.
    #[error("device panicked: {0}")]
    Panic(String),
}

/// The heads one queue has in flight, one bit each.
#[derive(Debug, Default)]
struct Heads {
    bits: Vec<u64>,
    count: usize,
}

impl Heads {
    /// Marks `head` in flight; false if it already was. `size` bounds the bitmap.
    fn take(&mut self, head: u16, size: u16) -> bool {
        let words = usize::from(size).div_ceil(64);
        if self.bits.len() < words {
            self.bits.resize(words, 0);
        }
        let (word, bit) = (usize::from(head) / 64, 1u64 << (head % 64));
        let Some(w) = self.bits.get_mut(word) else {
            return false;
        };
        if *w & bit != 0 {
            return false;
        }
        *w |= bit;
        self.count += 1;
        true
    }

    /// Marks `head` returned; false if it was not in flight.
    fn release(&mut self, head: u16) -> bool {
        let (word, bit) = (usize::from(head) / 64, 1u64 << (head % 64));
        match self.bits.get_mut(word) {
            Some(w) if *w & bit != 0 => {
                *w &= !bit;
                self.count -= 1;
                true
            }
            _ => false,
        }
    }
}

/// One device's ring bookkeeping for its current driver.
#[derive(Debug)]
pub struct RingGuard {
    fault: Option<(u16, RingFault)>,
    heads: Vec<Heads>,
}

impl RingGuard {
    /// Bookkeeping for a device with `queues` queues, nothing in flight.
    pub fn new(queues: usize) -> Self {
        Self {
            fault: None,
            heads: (0..queues).map(|_| Heads::default()).collect(),
        }
    }

    /// The fault that put the device in "needs reset", with its queue.
    pub fn fault(&self) -> Option<&(u16, RingFault)> {
        self.fault.as_ref()
    }

    /// Records `fault` on `queue` unless one is recorded already; returns whether it was new.
    pub fn set_fault(&mut self, queue: u16, fault: RingFault) -> bool {
        if self.fault.is_some() {
            return false;
        }
        self.fault = Some((queue, fault));
        true
    }

    /// Forgets the fault and every in-flight head: the driver reset the device.
    pub fn clear(&mut self) {
        self.fault = None;
        for h in &mut self.heads {
            h.bits.fill(0);
            h.count = 0;
        }
    }

    /// Marks `head` of `queue` (of `size` entries) in flight; false if it already was.
    pub fn take_head(&mut self, queue: u16, head: u16, size: u16) -> bool {
        head < size
            && self
                .heads
                .get_mut(usize::from(queue))
                .is_some_and(|h| h.take(head, size))
    }

    /// Marks `head` of `queue` returned; false if it was not in flight.
    pub fn release_head(&mut self, queue: u16, head: u16) -> bool {
        self.heads
            .get_mut(usize::from(queue))
            .is_some_and(|h| h.release(head))
    }

    /// Heads of `queue` in flight.
    pub fn in_flight(&self, queue: u16) -> usize {
        self.heads.get(usize::from(queue)).map_or(0, |h| h.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_in_flight_once() {
        let mut g = RingGuard::new(2);
        assert!(g.take_head(1, 63, 64));
        assert!(!g.take_head(1, 63, 64), "resubmitted");
        assert!(g.take_head(0, 63, 64), "queues are separate");
        assert!(!g.take_head(1, 64, 64), "out of range");
        assert!(!g.take_head(2, 0, 64), "no such queue");
        assert_eq!(g.in_flight(1), 1);
        assert!(g.release_head(1, 63));
        assert!(!g.release_head(1, 63), "returned twice");
        assert!(g.take_head(1, 63, 64));
    }

    #[test]
    fn clear_forgets_the_fault_and_the_heads() {
        let mut g = RingGuard::new(1);
        assert!(g.take_head(0, 5, 8));
        assert!(g.set_fault(0, RingFault::Resubmitted { head: 5 }));
        assert!(
            !g.set_fault(0, RingFault::Resubmitted { head: 6 }),
            "first wins"
        );
        g.clear();
        assert!(g.fault().is_none());
        assert_eq!(g.in_flight(0), 0);
        assert!(g.take_head(0, 5, 8));
    }
}
