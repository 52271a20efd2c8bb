//! Ring states a hostile driver can create beyond a single malformed chain: indices and
//! heads that break the split-ring rules, and chains that are well formed but ask the device
//! to hold or honour more than any request needs.

use vm_memory::{Bytes, GuestAddress};

use super::memory::GuestMemfd;
use super::split_ring::{
    Descriptor, InFlight, SplitQueue, DESC_SIZE, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
};
use super::Error;

/// Descriptors in a [`RingAttack::TooManyDescriptors`] chain (more than the transport's cap).
pub const TOO_MANY_DESCRIPTORS: u16 = 1100;

/// One hostile ring state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingAttack {
    /// `avail.idx` moved more than the queue size ahead, with no chain behind it.
    AvailIndexAhead,
    /// A valid chain made available twice, the second time while the device holds it.
    ResubmittedHead,
    /// An indirect chain of [`TOO_MANY_DESCRIPTORS`] one-byte descriptors.
    TooManyDescriptors,
    /// A request with a zero-length descriptor in the middle.
    ZeroLength,
    /// Four writable descriptors, each over the whole of guest memory (they overlap).
    HugeWritable,
}

impl RingAttack {
    /// Every attack, for tests that walk them all.
    pub const ALL: [RingAttack; 5] = [
        RingAttack::AvailIndexAhead,
        RingAttack::ResubmittedHead,
        RingAttack::TooManyDescriptors,
        RingAttack::ZeroLength,
        RingAttack::HugeWritable,
    ];

    /// Whether the attack breaks the split ring, so the device must enter "needs reset"
    /// rather than return the chain unused.
    pub fn is_ring_fault(self) -> bool {
        matches!(
            self,
            RingAttack::AvailIndexAhead | RingAttack::ResubmittedHead
        )
    }
}

fn buffer(
    mem: &mut GuestMemfd,
    flight: &mut InFlight,
    bytes: &[u8],
    len: u32,
) -> Result<u64, Error> {
    let addr = mem.alloc(u64::from(len.max(1)), 8)?;
    flight.allocs.push((addr, u64::from(len.max(1))));
    let mut fill = vec![0u8; len as usize];
    let n = bytes.len().min(fill.len());
    fill[..n].copy_from_slice(&bytes[..n]);
    mem.memory()
        .write_slice(&fill, GuestAddress(addr))
        .map_err(|e| Error::Memory(format!("writing buffer at {addr:#x}: {e}")))?;
    Ok(addr)
}

/// Writes a chain of `descs` into the queue's table (direct), linking them in order.
fn direct(
    q: &mut SplitQueue,
    mem: &GuestMemfd,
    flight: &mut InFlight,
    descs: &[(u64, u32, u16)],
) -> Result<u16, Error> {
    let ids = q.take_descriptors(descs.len())?;
    flight.descs.extend_from_slice(&ids);
    let table = q.layout().desc_table;
    for (i, &(addr, len, flags)) in descs.iter().enumerate() {
        let last = i + 1 == descs.len();
        let desc = Descriptor {
            addr,
            len,
            flags: flags | if last { 0 } else { VRING_DESC_F_NEXT },
            next: if last { 0 } else { ids[i + 1] },
        };
        SplitQueue::write_descriptor(mem, table, ids[i], desc)?;
    }
    Ok(ids[0])
}

/// Creates `attack` on `q` around `request` and a `writable_len` response buffer; returns
/// the head involved (the queue size when no chain is).
pub(crate) fn add(
    q: &mut SplitQueue,
    mem: &mut GuestMemfd,
    attack: RingAttack,
    request: &[u8],
    writable_len: u32,
) -> Result<u16, Error> {
    let size = q.layout().size;
    if attack == RingAttack::AvailIndexAhead {
        let idx = q.next_avail().wrapping_add(size).wrapping_add(1);
        let at = q.layout().avail_idx();
        mem.memory()
            .write_slice(&idx.to_le_bytes(), GuestAddress(at))
            .map_err(|e| Error::Memory(format!("writing avail idx at {at:#x}: {e}")))?;
        return Ok(size);
    }
    let mut flight = InFlight::default();
    let req_len = u32::try_from(request.len()).map_err(|_| Error::SegmentTooLong(request.len()))?;
    let built = (|| {
        let req = buffer(mem, &mut flight, request, req_len)?;
        match attack {
            RingAttack::ResubmittedHead => {
                let resp = buffer(mem, &mut flight, &[], writable_len)?;
                flight.writable.push((resp, writable_len));
                direct(
                    q,
                    mem,
                    &mut flight,
                    &[(req, req_len, 0), (resp, writable_len, VRING_DESC_F_WRITE)],
                )
            }
            RingAttack::ZeroLength => {
                let resp = buffer(mem, &mut flight, &[], writable_len)?;
                flight.writable.push((resp, writable_len));
                direct(
                    q,
                    mem,
                    &mut flight,
                    &[
                        (req, req_len, 0),
                        (req, 0, 0),
                        (resp, writable_len, VRING_DESC_F_WRITE),
                    ],
                )
            }
            RingAttack::HugeWritable => {
                let whole = u32::try_from(mem.size())
                    .map_err(|_| Error::Memory("memory too large".into()))?;
                let base = mem.base();
                let w = (base, whole, VRING_DESC_F_WRITE);
                flight.writable.push((base, whole));
                direct(q, mem, &mut flight, &[(req, req_len, 0), w, w, w, w])
            }
            RingAttack::TooManyDescriptors => {
                let n = TOO_MANY_DESCRIPTORS;
                let table_len = DESC_SIZE * u64::from(n);
                let table = mem.alloc(table_len, 16)?;
                flight.allocs.push((table, table_len));
                for i in 0..n {
                    let last = i + 1 == n;
                    let desc = Descriptor {
                        addr: req,
                        len: 1,
                        flags: if last { 0 } else { VRING_DESC_F_NEXT },
                        next: if last { 0 } else { i + 1 },
                    };
                    SplitQueue::write_descriptor(mem, table, i, desc)?;
                }
                let top = (table, table_len as u32, VRING_DESC_F_INDIRECT);
                direct(q, mem, &mut flight, &[top])
            }
            RingAttack::AvailIndexAhead => Err(Error::Memory("handled above".into())),
        }
    })();
    let head = match built {
        Ok(head) => head,
        Err(e) => {
            q.release(mem, flight);
            return Err(e);
        }
    };
    q.track(head, flight);
    q.publish(mem, head)?;
    if attack == RingAttack::ResubmittedHead {
        q.publish(mem, head)?;
    }
    Ok(head)
}
