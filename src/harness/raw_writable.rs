//! Chains whose device-writable descriptors the caller places anywhere in guest memory,
//! overlapping each other or other buffers: what a hostile driver does to claim a huge
//! writable part without owning that much memory.

use vm_memory::{Bytes, GuestAddress};

use super::memory::GuestMemfd;
use super::split_ring::{Descriptor, InFlight, SplitQueue, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
use super::Error;

/// Makes `readable` (copied into fresh guest memory) followed by the writable descriptors
/// `writable` (guest address, length; not allocated, not checked) available on `q`; returns
/// the head.
///
/// The completion reports the used length but no data (the regions may span gigabytes):
/// read guest memory directly to see what the device wrote.
pub(crate) fn add(
    q: &mut SplitQueue,
    mem: &mut GuestMemfd,
    readable: &[u8],
    writable: &[(u64, u32)],
) -> Result<u16, Error> {
    let mut flight = InFlight::default();
    match build(q, mem, readable, writable, &mut flight) {
        Ok(head) => {
            q.track(head, flight);
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
    readable: &[u8],
    writable: &[(u64, u32)],
    flight: &mut InFlight,
) -> Result<u16, Error> {
    let len = u32::try_from(readable.len()).map_err(|_| Error::SegmentTooLong(readable.len()))?;
    let addr = mem.alloc(u64::from(len.max(1)), 8)?;
    flight.allocs.push((addr, u64::from(len.max(1))));
    mem.memory()
        .write_slice(readable, GuestAddress(addr))
        .map_err(|e| Error::Memory(format!("writing request at {addr:#x}: {e}")))?;
    let ids = q.take_descriptors(1 + writable.len())?;
    flight.descs.extend_from_slice(&ids);
    let table = q.layout().desc_table;
    let next = |i: usize| ids.get(i + 1).copied();
    SplitQueue::write_descriptor(
        mem,
        table,
        ids[0],
        Descriptor {
            addr,
            len,
            flags: if writable.is_empty() {
                0
            } else {
                VRING_DESC_F_NEXT
            },
            next: next(0).unwrap_or(0),
        },
    )?;
    for (i, &(waddr, wlen)) in writable.iter().enumerate() {
        let n = next(i + 1);
        SplitQueue::write_descriptor(
            mem,
            table,
            ids[i + 1],
            Descriptor {
                addr: waddr,
                len: wlen,
                flags: VRING_DESC_F_WRITE | if n.is_some() { VRING_DESC_F_NEXT } else { 0 },
                next: n.unwrap_or(0),
            },
        )?;
    }
    Ok(ids[0])
}
