//! Turns a driver's descriptor chain into a [`Request`], validating it against guest memory.
//!
//! Shared by every transport whose queues live in a `vm-memory` [`GuestMemory`]: the chain is
//! walked once, every address is checked before use, and the readable part is copied out with
//! a bound, so a device never sees guest memory and a hostile chain costs at most the bound.

use std::ops::Deref;

use virtio_queue::DescriptorChain;
use vm_memory::{Address, Bytes, GuestAddress, GuestMemory, Permissions};

use crate::devices::{check_placement, CompleteError, Request, Token};

/// Why a chain was refused; the buffer goes back to the driver with a used length of 0.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// The chain has no descriptors (head out of range, or an unusable indirect table).
    #[error("empty or unreadable descriptor chain")]
    Empty,
    /// The chain ended on a descriptor that still has NEXT set: a loop, an index out of
    /// range, or a descriptor table outside guest memory.
    #[error("descriptor chain is cut short (loop, bad next index or bad table address)")]
    Truncated,
    /// A device-readable descriptor follows a device-writable one (virtio 1.x §2.7.4.2).
    #[error("device-readable descriptor after a device-writable one")]
    WrongDirection,
    /// A descriptor's buffer lies (partly) outside guest memory.
    #[error("descriptor buffer {addr:#x}+{len:#x} is outside guest memory")]
    OutOfRange {
        /// Guest address of the buffer.
        addr: u64,
        /// Length of the buffer.
        len: u32,
    },
    /// The device-readable part exceeds what the device accepts on this queue.
    #[error("device-readable part exceeds {max} bytes")]
    TooLong {
        /// The device's limit for this queue.
        max: usize,
    },
    /// The device-writable part exceeds what the device can ever write on this queue.
    #[error("device-writable part exceeds {max} bytes")]
    WritableTooLong {
        /// The device's limit for this queue.
        max: usize,
    },
    /// The chain has more descriptors than any request of ours needs.
    #[error("descriptor chain is longer than {max} descriptors")]
    TooManyDescriptors {
        /// The limit.
        max: usize,
    },
    /// A descriptor of length zero: it carries nothing and only costs bookkeeping.
    #[error("zero-length descriptor")]
    ZeroLength,
}

impl ChainError {
    /// Whether the chain breaks the split ring itself (virtio 1.x §2.7), so that the device
    /// cannot trust the ring any more and needs a reset; otherwise only this request is bad
    /// and the chain is returned unused.
    pub fn is_ring_fault(&self) -> bool {
        matches!(self, Self::Empty | Self::Truncated)
    }
}

/// Most descriptors accepted in one chain (direct or indirect). The longest legitimate
/// chain is a sound period scattered over pages: a header, a period of at most 4 MiB
/// (`sound::stream::MAX_BUFFER_BYTES`) in 4 KiB pages plus one for misalignment, and a
/// status; anything longer is refused.
pub const MAX_CHAIN_DESCRIPTORS: usize = 1024 + 3;

/// The limits [`parse_chain`] applies to one queue's chains.
#[derive(Debug, Clone, Copy)]
pub struct ChainLimits {
    /// Most device-readable bytes copied out.
    pub max_readable: usize,
    /// Most device-writable bytes honoured.
    pub max_writable: usize,
}

/// Validates `chain` against `limits` and copies out its readable part.
///
/// The work is bounded by the limits, not by what the chain declares: at most
/// [`MAX_CHAIN_DESCRIPTORS`] descriptors are read and at most `max_readable` bytes copied,
/// and a chain whose writable part exceeds `max_writable` is refused at the descriptor that
/// crosses it.
pub fn parse_chain<M>(
    chain: DescriptorChain<M>,
    queue: u16,
    generation: u64,
    limits: ChainLimits,
) -> Result<Request, ChainError>
where
    M: Deref + Clone,
    M::Target: GuestMemory,
{
    let ChainLimits {
        max_readable,
        max_writable,
    } = limits;
    let mem = chain.memory();
    let head = chain.head_index();
    let mut data = Vec::new();
    let mut writable = Vec::new();
    let mut writable_len: usize = 0;
    let mut last_has_next = None;
    // Iterating a clone keeps `mem` borrowed from the original chain.
    for (count, desc) in chain.clone().enumerate() {
        if count == MAX_CHAIN_DESCRIPTORS {
            return Err(ChainError::TooManyDescriptors {
                max: MAX_CHAIN_DESCRIPTORS,
            });
        }
        last_has_next = Some(desc.has_next());
        let (addr, len) = (desc.addr(), desc.len());
        if len == 0 {
            return Err(ChainError::ZeroLength);
        }
        if desc.is_write_only() {
            writable_len = writable_len
                .checked_add(len as usize)
                .filter(|&total| total <= max_writable)
                .ok_or(ChainError::WritableTooLong { max: max_writable })?;
            // Written only when the device completes: check the whole range now.
            if !mem.check_range(addr, len as usize, Permissions::Write) {
                return Err(ChainError::OutOfRange { addr: addr.0, len });
            }
            writable.push((addr.0, len));
        } else {
            if !writable.is_empty() {
                return Err(ChainError::WrongDirection);
            }
            let start = data.len();
            let end = start
                .checked_add(len as usize)
                .filter(|&end| end <= max_readable)
                .ok_or(ChainError::TooLong { max: max_readable })?;
            data.resize(end, 0);
            // read_slice checks the range (and read permission) itself, all or nothing.
            mem.read_slice(&mut data[start..end], addr)
                .map_err(|_| ChainError::OutOfRange { addr: addr.0, len })?;
        }
    }
    match last_has_next {
        None => Err(ChainError::Empty),
        Some(true) => Err(ChainError::Truncated),
        Some(false) => Ok(Request {
            token: Token {
                queue,
                head,
                generation,
                writable,
            },
            data,
            writable_len,
        }),
    }
}

/// Writes `response` into the token's writable regions; returns the bytes written.
pub fn write_response<M: GuestMemory>(
    mem: &M,
    token: &Token,
    response: &[u8],
) -> Result<u32, CompleteError> {
    write_response_at(mem, token, 0, response, response.len())
}

/// Writes `data` at `offset` into the token's writable regions, touching no other byte;
/// returns `used_len` as the used ring's length.
///
/// Only the regions `data` overlaps are written, so the cost is that of `data` (plus a walk
/// over the chain's descriptors), whatever the writable part's size.
pub fn write_response_at<M: GuestMemory>(
    mem: &M,
    token: &Token,
    offset: usize,
    data: &[u8],
    used_len: usize,
) -> Result<u32, CompleteError> {
    let cap = token
        .writable
        .iter()
        .fold(0usize, |sum, &(_, len)| sum.saturating_add(len as usize));
    if used_len > cap {
        return Err(CompleteError::TooLarge { len: used_len, cap });
    }
    check_placement(offset, data.len(), used_len)?;
    let mut skip = offset;
    let mut rest = data;
    for &(addr, len) in &token.writable {
        if rest.is_empty() {
            break;
        }
        let len = len as usize;
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = rest.len().min(len - skip);
        // The region was checked against guest memory at parse, so this cannot overflow.
        let at = GuestAddress(addr)
            .checked_add(skip as u64)
            .ok_or_else(|| CompleteError::Queue("writable region wraps".into()))?;
        mem.write_slice(&rest[..n], at)
            .map_err(|e| CompleteError::Queue(e.to_string()))?;
        rest = &rest[n..];
        skip = 0;
    }
    // check_placement made sure the used length fits the used ring's u32.
    u32::try_from(used_len).map_err(|_| CompleteError::Queue("used length too long".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
    use virtio_queue::mock::MockSplitQueue;
    use virtio_queue::QueueOwnedT;
    use vm_memory::GuestMemoryMmap;

    const F_NEXT: u16 = 1;
    const F_WRITE: u16 = 2;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap()
    }

    fn parse(descs: &[(u64, u32, u16, u16)], max: usize) -> Result<Request, ChainError> {
        let m = mem();
        let vq = MockSplitQueue::new(&m, 16);
        let raw: Vec<RawDescriptor> = descs
            .iter()
            .map(|&(a, l, f, n)| RawDescriptor::from(SplitDescriptor::new(a, l, f, n)))
            .collect();
        vq.build_desc_chain(&raw).unwrap();
        let mut q: virtio_queue::Queue = vq.create_queue().unwrap();
        let chain = q.iter(&m).unwrap().next().unwrap();
        parse_chain(chain, 0, 7, limits(max))
    }

    fn limits(max_readable: usize) -> ChainLimits {
        ChainLimits {
            max_readable,
            max_writable: 0x1000,
        }
    }

    #[test]
    fn gathers_readable_and_records_writable() {
        let m = mem();
        m.write_slice(b"abcd", GuestAddress(0x1000)).unwrap();
        m.write_slice(b"ef", GuestAddress(0x2000)).unwrap();
        let vq = MockSplitQueue::new(&m, 16);
        let raw = [
            RawDescriptor::from(SplitDescriptor::new(0x1000, 4, F_NEXT, 1)),
            RawDescriptor::from(SplitDescriptor::new(0x2000, 2, F_NEXT, 2)),
            RawDescriptor::from(SplitDescriptor::new(0x3000, 8, F_WRITE, 0)),
        ];
        vq.build_desc_chain(&raw).unwrap();
        let mut q: virtio_queue::Queue = vq.create_queue().unwrap();
        let chain = q.iter(&m).unwrap().next().unwrap();
        let req = parse_chain(chain, 3, 9, limits(64)).unwrap();
        assert_eq!(req.data, b"abcdef");
        assert_eq!(req.writable_len, 8);
        assert_eq!(req.token.queue, 3);
        assert_eq!(req.token.generation, 9);
        assert_eq!(req.token.writable, vec![(0x3000, 8)]);
        let n = write_response(&m, &req.token, b"12345").unwrap();
        assert_eq!(n, 5);
        let mut out = [0u8; 5];
        m.read_slice(&mut out, GuestAddress(0x3000)).unwrap();
        assert_eq!(&out, b"12345");
        assert!(matches!(
            write_response(&m, &req.token, &[0; 9]),
            Err(CompleteError::TooLarge { len: 9, cap: 8 })
        ));
    }

    #[test]
    fn refuses_readable_after_writable() {
        let r = parse(&[(0x1000, 4, F_WRITE | F_NEXT, 1), (0x2000, 4, 0, 0)], 64);
        assert_eq!(r.unwrap_err(), ChainError::WrongDirection);
    }

    #[test]
    fn refuses_out_of_range_buffers() {
        let r = parse(&[(0xfff0, 0x20, 0, 0)], 64);
        assert_eq!(
            r.unwrap_err(),
            ChainError::OutOfRange {
                addr: 0xfff0,
                len: 0x20
            }
        );
        let r = parse(&[(0x1000, 4, F_NEXT, 1), (0x100_0000, 4, F_WRITE, 0)], 64);
        assert!(matches!(r.unwrap_err(), ChainError::OutOfRange { .. }));
    }

    #[test]
    fn refuses_oversize_readable_part() {
        let r = parse(&[(0x1000, 0x100, F_NEXT, 1), (0x2000, 0x100, 0, 0)], 0x1ff);
        assert_eq!(r.unwrap_err(), ChainError::TooLong { max: 0x1ff });
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
    use virtio_queue::mock::MockSplitQueue;
    use virtio_queue::QueueOwnedT;
    use vm_memory::GuestMemoryMmap;

    const F_NEXT: u16 = 1;
    const F_WRITE: u16 = 2;
    const F_INDIRECT: u16 = 4;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x40000)]).unwrap()
    }

    fn parse_in(
        m: &GuestMemoryMmap,
        descs: &[RawDescriptor],
        max_writable: usize,
    ) -> Result<Request, ChainError> {
        let vq = MockSplitQueue::new(m, 16);
        vq.build_desc_chain(descs).unwrap();
        let mut q: virtio_queue::Queue = vq.create_queue().unwrap();
        let chain = q.iter(m).unwrap().next().unwrap();
        let limits = ChainLimits {
            max_readable: 4096,
            max_writable,
        };
        parse_chain(chain, 0, 1, limits)
    }

    fn d(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
        RawDescriptor::from(SplitDescriptor::new(addr, len, flags, next))
    }

    #[test]
    fn overlapping_writable_buffers_are_refused_at_the_cap() {
        let m = mem();
        // Four writable descriptors over the same 0x10000 bytes: 256 KiB declared.
        let descs: Vec<_> = (0..4u16)
            .map(|i| {
                d(
                    0x1000,
                    0x10000,
                    F_WRITE | if i < 3 { F_NEXT } else { 0 },
                    i + 1,
                )
            })
            .collect();
        assert_eq!(
            parse_in(&m, &descs, 0x18000).unwrap_err(),
            ChainError::WritableTooLong { max: 0x18000 }
        );
        assert_eq!(parse_in(&m, &descs, 0x40000).unwrap().writable_len, 0x40000);
    }

    #[test]
    fn zero_length_descriptors_are_refused() {
        let m = mem();
        let descs = [d(0x1000, 0, F_NEXT, 1), d(0x2000, 8, F_WRITE, 0)];
        assert_eq!(
            parse_in(&m, &descs, 64).unwrap_err(),
            ChainError::ZeroLength
        );
    }

    #[test]
    fn chains_longer_than_the_cap_are_refused() {
        let m = mem();
        // An indirect table of one descriptor more than the cap, each one byte readable.
        let n = MAX_CHAIN_DESCRIPTORS + 1;
        let table = 0x8000u64;
        for i in 0..n {
            let last = i + 1 == n;
            let desc = SplitDescriptor::new(
                0x1000,
                1,
                if last { 0 } else { F_NEXT },
                if last { 0 } else { (i + 1) as u16 },
            );
            m.write_obj(desc, GuestAddress(table + 16 * i as u64))
                .unwrap();
        }
        let descs = [d(table, (16 * n) as u32, F_INDIRECT, 0)];
        assert_eq!(
            parse_in(&m, &descs, 64).unwrap_err(),
            ChainError::TooManyDescriptors {
                max: MAX_CHAIN_DESCRIPTORS
            }
        );
    }
}
