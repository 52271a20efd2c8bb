//! Deliberately malformed descriptor chains, for checking that a device refuses them (used
//! length 0) and keeps serving.

use vm_memory::{Bytes, GuestAddress};

use super::memory::GuestMemfd;
use super::split_ring::{
    Descriptor, InFlight, SplitQueue, DESC_SIZE, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
};
use super::Error;

/// Length used by [`Malformed::OversizeLength`].
pub const OVERSIZE_LEN: u32 = 0xFFFF_FF00;

/// One way of breaking an otherwise plausible request chain (request bytes, then a
/// device-writable response buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The request descriptor points one page past the end of guest memory.
    AddressOutsideMemory,
    /// The request descriptor points one page below the start of guest memory (for a
    /// Gunyah window: below the window base, where the frontend has RAM the backend must
    /// never reach).
    AddressBelowMemory,
    /// The writable response descriptor comes before the readable request descriptor.
    WritableBeforeReadable,
    /// The writable descriptor's `next` points back at the head.
    DescriptorLoop,
    /// The request descriptor's length is [`OVERSIZE_LEN`], running far past guest memory.
    OversizeLength,
    /// An indirect descriptor whose length is not a multiple of 16.
    IndirectBadLength,
    /// An indirect table whose first entry is itself an indirect descriptor.
    IndirectNested,
    /// An available-ring entry naming a descriptor index equal to the queue size.
    HeadOutOfRange,
}

impl Malformed {
    /// Whether the chain breaks the split ring itself (an indirect table virtio-queue
    /// refuses, or a head that names no descriptor), so the device must enter "needs reset"
    /// rather than return it unused and go on.
    ///
    /// [`Malformed::DescriptorLoop`] is not: its loop runs back from a writable descriptor
    /// to a readable one, which the device refuses (wrong direction) before the loop ends.
    pub fn is_ring_fault(self) -> bool {
        matches!(
            self,
            Malformed::IndirectBadLength | Malformed::IndirectNested | Malformed::HeadOutOfRange
        )
    }

    /// Every variant, for tests that walk them all.
    pub const ALL: [Malformed; 8] = [
        Malformed::AddressOutsideMemory,
        Malformed::AddressBelowMemory,
        Malformed::WritableBeforeReadable,
        Malformed::DescriptorLoop,
        Malformed::OversizeLength,
        Malformed::IndirectBadLength,
        Malformed::IndirectNested,
        Malformed::HeadOutOfRange,
    ];
}

fn buffer(
    mem: &mut GuestMemfd,
    flight: &mut InFlight,
    bytes: &[u8],
    len: u32,
) -> Result<u64, Error> {
    let addr = mem.alloc(u64::from(len), 8)?;
    flight.allocs.push((addr, u64::from(len)));
    let mut fill = vec![0u8; len as usize];
    let n = bytes.len().min(fill.len());
    fill[..n].copy_from_slice(&bytes[..n]);
    mem.memory()
        .write_slice(&fill, GuestAddress(addr))
        .map_err(|e| Error::Memory(format!("writing buffer at {addr:#x}: {e}")))?;
    Ok(addr)
}

/// Builds the chain for `kind` around `request` and a `writable_len` response buffer, makes it
/// available on `q` and returns the head index the device will see.
pub(crate) fn add(
    q: &mut SplitQueue,
    mem: &mut GuestMemfd,
    kind: Malformed,
    request: &[u8],
    writable_len: u32,
) -> Result<u16, Error> {
    let mut flight = InFlight::default();
    match build(q, mem, kind, request, writable_len, &mut flight) {
        Ok(Some(head)) => {
            q.track(head, flight);
            q.publish(mem, head)?;
            Ok(head)
        }
        Ok(None) => {
            // Nothing to track: the head names no descriptor.
            let head = q.layout().size;
            q.publish(mem, head)?;
            Ok(head)
        }
        Err(e) => {
            q.release(mem, flight);
            Err(e)
        }
    }
}

fn build(
    q: &mut SplitQueue,
    mem: &mut GuestMemfd,
    kind: Malformed,
    request: &[u8],
    writable_len: u32,
    flight: &mut InFlight,
) -> Result<Option<u16>, Error> {
    if kind == Malformed::HeadOutOfRange {
        return Ok(None);
    }
    let req_len = u32::try_from(request.len()).map_err(|_| Error::SegmentTooLong(request.len()))?;
    let table = q.layout().desc_table;
    let req_addr = buffer(mem, flight, request, req_len)?;
    let resp_addr = buffer(mem, flight, &[], writable_len)?;
    let readable = |addr, len, next| Descriptor {
        addr,
        len,
        flags: VRING_DESC_F_NEXT,
        next,
    };
    let writable = Descriptor {
        addr: resp_addr,
        len: writable_len,
        flags: VRING_DESC_F_WRITE,
        next: 0,
    };
    match kind {
        Malformed::AddressOutsideMemory
        | Malformed::AddressBelowMemory
        | Malformed::OversizeLength
        | Malformed::DescriptorLoop => {
            let ids = q.take_descriptors(2)?;
            flight.descs.extend_from_slice(&ids);
            let (addr, len) = match kind {
                Malformed::AddressOutsideMemory => (mem.end() + 0x1000, req_len),
                Malformed::AddressBelowMemory => {
                    let below = mem.base().checked_sub(0x1000).ok_or_else(|| {
                        Error::Memory("guest memory starts at 0: nothing lies below it".into())
                    })?;
                    (below, req_len)
                }
                Malformed::OversizeLength => (req_addr, OVERSIZE_LEN),
                _ => (req_addr, req_len),
            };
            SplitQueue::write_descriptor(mem, table, ids[0], readable(addr, len, ids[1]))?;
            let tail = if kind == Malformed::DescriptorLoop {
                Descriptor {
                    flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                    next: ids[0],
                    ..writable
                }
            } else {
                writable
            };
            flight.writable.push((resp_addr, writable_len));
            SplitQueue::write_descriptor(mem, table, ids[1], tail)?;
            Ok(Some(ids[0]))
        }
        Malformed::WritableBeforeReadable => {
            let ids = q.take_descriptors(2)?;
            flight.descs.extend_from_slice(&ids);
            let first = Descriptor {
                flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                next: ids[1],
                ..writable
            };
            let second = Descriptor {
                addr: req_addr,
                len: req_len,
                flags: 0,
                next: 0,
            };
            flight.writable.push((resp_addr, writable_len));
            SplitQueue::write_descriptor(mem, table, ids[0], first)?;
            SplitQueue::write_descriptor(mem, table, ids[1], second)?;
            Ok(Some(ids[0]))
        }
        Malformed::IndirectBadLength | Malformed::IndirectNested => {
            let ind_len = 2 * DESC_SIZE;
            let ind = mem.alloc(ind_len, 16)?;
            flight.allocs.push((ind, ind_len));
            SplitQueue::write_descriptor(mem, ind, 0, readable(req_addr, req_len, 1))?;
            SplitQueue::write_descriptor(mem, ind, 1, writable)?;
            flight.writable.push((resp_addr, writable_len));
            let top = if kind == Malformed::IndirectNested {
                // A well-formed one-entry table that points at the real one, nested.
                let outer = mem.alloc(DESC_SIZE, 16)?;
                flight.allocs.push((outer, DESC_SIZE));
                let nested = Descriptor {
                    addr: ind,
                    len: ind_len as u32,
                    flags: VRING_DESC_F_INDIRECT,
                    next: 0,
                };
                SplitQueue::write_descriptor(mem, outer, 0, nested)?;
                Descriptor {
                    addr: outer,
                    len: DESC_SIZE as u32,
                    flags: VRING_DESC_F_INDIRECT,
                    next: 0,
                }
            } else {
                Descriptor {
                    addr: ind,
                    len: ind_len as u32 + 1,
                    flags: VRING_DESC_F_INDIRECT,
                    next: 0,
                }
            };
            let ids = q.take_descriptors(1)?;
            flight.descs.extend_from_slice(&ids);
            SplitQueue::write_descriptor(mem, table, ids[0], top)?;
            Ok(Some(ids[0]))
        }
        Malformed::HeadOutOfRange => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(mem: &GuestMemfd, addr: u64) -> Descriptor {
        let mut b = [0u8; 16];
        mem.memory().read_slice(&mut b, GuestAddress(addr)).unwrap();
        Descriptor {
            addr: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            len: u32::from_le_bytes(b[8..12].try_into().unwrap()),
            flags: u16::from_le_bytes(b[12..14].try_into().unwrap()),
            next: u16::from_le_bytes(b[14..16].try_into().unwrap()),
        }
    }

    fn setup() -> (GuestMemfd, SplitQueue) {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let q = SplitQueue::new(0, &mut mem, 8, false).unwrap();
        (mem, q)
    }

    #[test]
    fn address_outside_memory_points_past_the_end() {
        let (mut mem, mut q) = setup();
        let head = add(
            &mut q,
            &mut mem,
            Malformed::AddressOutsideMemory,
            &[1; 4],
            8,
        )
        .unwrap();
        let d = desc(&mem, q.layout().desc(head));
        assert!(d.addr >= mem.end());
        assert_eq!(d.flags, VRING_DESC_F_NEXT);
    }

    #[test]
    fn loop_points_back_at_the_head() {
        let (mut mem, mut q) = setup();
        let head = add(&mut q, &mut mem, Malformed::DescriptorLoop, &[1; 4], 8).unwrap();
        let d0 = desc(&mem, q.layout().desc(head));
        let d1 = desc(&mem, q.layout().desc(d0.next));
        assert_eq!(d1.flags, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
        assert_eq!(d1.next, head);
    }

    #[test]
    fn wrong_direction_puts_writable_first() {
        let (mut mem, mut q) = setup();
        let head = add(
            &mut q,
            &mut mem,
            Malformed::WritableBeforeReadable,
            &[1; 4],
            8,
        )
        .unwrap();
        let d0 = desc(&mem, q.layout().desc(head));
        assert_eq!(d0.flags, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
        assert_eq!(desc(&mem, q.layout().desc(d0.next)).flags, 0);
    }

    #[test]
    fn oversize_length_is_set() {
        let (mut mem, mut q) = setup();
        let head = add(&mut q, &mut mem, Malformed::OversizeLength, &[1; 4], 8).unwrap();
        assert_eq!(desc(&mem, q.layout().desc(head)).len, OVERSIZE_LEN);
    }

    #[test]
    fn indirect_variants() {
        let (mut mem, mut q) = setup();
        let head = add(&mut q, &mut mem, Malformed::IndirectBadLength, &[1; 4], 8).unwrap();
        let d = desc(&mem, q.layout().desc(head));
        assert_eq!(d.flags, VRING_DESC_F_INDIRECT);
        assert_eq!(d.len % 16, 1);
        let head = add(&mut q, &mut mem, Malformed::IndirectNested, &[1; 4], 8).unwrap();
        let d = desc(&mem, q.layout().desc(head));
        assert_eq!((d.flags, d.len), (VRING_DESC_F_INDIRECT, 16));
        assert_eq!(desc(&mem, d.addr).flags, VRING_DESC_F_INDIRECT);
    }

    #[test]
    fn head_out_of_range_is_published_as_queue_size() {
        let (mut mem, mut q) = setup();
        let head = add(&mut q, &mut mem, Malformed::HeadOutOfRange, &[1; 4], 8).unwrap();
        assert_eq!(head, 8);
        let mut b = [0u8; 2];
        mem.memory()
            .read_slice(&mut b, GuestAddress(q.layout().avail_entry(0)))
            .unwrap();
        assert_eq!(u16::from_le_bytes(b), 8);
        assert_eq!(q.in_flight(), 0);
        assert_eq!(q.free_descriptors(), 8);
    }
}
