//! The driver's side of a virtio 1.x split virtqueue (OASIS virtio 1.3 §2.7), written out
//! explicitly: descriptor table, available ring (with `used_event`) and used ring (with
//! `avail_event`), all little-endian in guest memory.

use std::sync::atomic::{fence, Ordering};

use vm_memory::{Bytes, GuestAddress};

use super::memory::GuestMemfd;
use super::Error;

/// Descriptor flag: the chain continues at `next`.
pub const VRING_DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable.
pub const VRING_DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer holds a table of indirect descriptors.
pub const VRING_DESC_F_INDIRECT: u16 = 4;
/// Available-ring flag: the driver asks the device not to interrupt.
pub const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// Used-ring flag: the device asks the driver not to kick.
pub const VRING_USED_F_NO_NOTIFY: u16 = 1;
/// Size of one descriptor in bytes.
pub const DESC_SIZE: u64 = 16;
/// Largest split-queue size the spec allows.
pub const MAX_QUEUE_SIZE: u16 = 32768;

/// One descriptor as it sits in a descriptor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Guest physical address of the buffer.
    pub addr: u64,
    /// Length of the buffer in bytes.
    pub len: u32,
    /// `VRING_DESC_F_*` bits.
    pub flags: u16,
    /// Index of the next descriptor when `VRING_DESC_F_NEXT` is set.
    pub next: u16,
}

impl Descriptor {
    /// The descriptor's 16-byte little-endian encoding.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&self.addr.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..14].copy_from_slice(&self.flags.to_le_bytes());
        b[14..16].copy_from_slice(&self.next.to_le_bytes());
        b
    }
}

/// Where the three parts of one split virtqueue live in guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingLayout {
    /// Number of entries (a power of two).
    pub size: u16,
    /// Descriptor table (16-byte aligned, `16 * size` bytes).
    pub desc_table: u64,
    /// Available ring (2-byte aligned, `6 + 2 * size` bytes).
    pub avail_ring: u64,
    /// Used ring (4-byte aligned, `6 + 8 * size` bytes).
    pub used_ring: u64,
}

impl RingLayout {
    /// Bytes taken by a descriptor table of `size` entries.
    pub fn desc_table_len(size: u16) -> u64 {
        DESC_SIZE * u64::from(size)
    }

    /// Bytes taken by an available ring of `size` entries (flags, idx, ring, used_event).
    pub fn avail_ring_len(size: u16) -> u64 {
        6 + 2 * u64::from(size)
    }

    /// Bytes taken by a used ring of `size` entries (flags, idx, ring, avail_event).
    pub fn used_ring_len(size: u16) -> u64 {
        6 + 8 * u64::from(size)
    }

    /// Address of descriptor `index`.
    pub fn desc(&self, index: u16) -> u64 {
        self.desc_table + DESC_SIZE * u64::from(index)
    }

    /// Address of the available ring's `flags`.
    pub fn avail_flags(&self) -> u64 {
        self.avail_ring
    }

    /// Address of the available ring's `idx`.
    pub fn avail_idx(&self) -> u64 {
        self.avail_ring + 2
    }

    /// Address of available-ring entry `slot` (`slot < size`).
    pub fn avail_entry(&self, slot: u16) -> u64 {
        self.avail_ring + 4 + 2 * u64::from(slot)
    }

    /// Address of `used_event`, right after the available ring's entries.
    pub fn used_event(&self) -> u64 {
        self.avail_entry(self.size)
    }

    /// Address of the used ring's `flags`.
    pub fn used_flags(&self) -> u64 {
        self.used_ring
    }

    /// Address of the used ring's `idx`.
    pub fn used_idx(&self) -> u64 {
        self.used_ring + 2
    }

    /// Address of used-ring element `slot` (`id: u32, len: u32`).
    pub fn used_elem(&self, slot: u16) -> u64 {
        self.used_ring + 4 + 8 * u64::from(slot)
    }

    /// Address of `avail_event`, right after the used ring's elements.
    pub fn avail_event(&self) -> u64 {
        self.used_elem(self.size)
    }
}

/// `vring_need_event` of the spec (§2.7.10): does moving an index from `old` to `new` cross
/// the other side's `event` index?
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

/// One element of a descriptor chain, as the driver describes it.
#[derive(Clone, Copy, Debug)]
pub enum Segment<'a> {
    /// A device-readable buffer holding these bytes.
    Readable(&'a [u8]),
    /// A device-writable buffer of this many bytes.
    Writable(u32),
}

/// How a chain's descriptors are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainLayout {
    /// One descriptor per segment in the queue's descriptor table.
    Direct,
    /// One `VRING_DESC_F_INDIRECT` descriptor pointing at a table in guest memory.
    Indirect,
}

/// A buffer the device returned on the used ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Queue the buffer was on.
    pub queue: u16,
    /// Head descriptor index (the used element's `id`).
    pub head: u16,
    /// The used element's `len`: bytes the device says it wrote.
    pub len: u32,
    /// The first `len` bytes of the writable segments, concatenated (fewer if `len`
    /// exceeds the writable space, which is a device bug the caller can detect).
    pub data: Vec<u8>,
}

/// What the driver remembers about a chain until the device returns it.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    /// Descriptor-table entries the chain occupies.
    pub descs: Vec<u16>,
    /// Guest-memory blocks (address, length) to free on completion.
    pub allocs: Vec<(u64, u64)>,
    /// Device-writable regions (address, length), in chain order.
    pub writable: Vec<(u64, u32)>,
}

/// Driver-side state of one split virtqueue.
pub(crate) struct SplitQueue {
    index: u16,
    layout: RingLayout,
    event_idx: bool,
    free_descs: Vec<u16>,
    next_avail: u16,
    /// `next_avail` when the driver last decided whether to kick.
    notified_avail: u16,
    last_used: u16,
    in_flight: Vec<Option<InFlight>>,
}

fn mem_err(what: &str, addr: u64, e: impl std::fmt::Display) -> Error {
    Error::Memory(format!("{what} at {addr:#x}: {e}"))
}

impl SplitQueue {
    /// Allocates and zeroes a queue of `size` entries in `mem`.
    pub fn new(
        index: u16,
        mem: &mut GuestMemfd,
        size: u16,
        event_idx: bool,
    ) -> Result<Self, Error> {
        if size == 0 || !size.is_power_of_two() || size > MAX_QUEUE_SIZE {
            return Err(Error::BadQueueSize(size));
        }
        let desc_table = mem.alloc(RingLayout::desc_table_len(size), 16)?;
        let avail_ring = mem.alloc(RingLayout::avail_ring_len(size), 2)?;
        let used_ring = mem.alloc(RingLayout::used_ring_len(size), 4)?;
        for (addr, len) in [
            (desc_table, RingLayout::desc_table_len(size)),
            (avail_ring, RingLayout::avail_ring_len(size)),
            (used_ring, RingLayout::used_ring_len(size)),
        ] {
            let zeros = vec![0u8; len as usize];
            mem.memory()
                .write_slice(&zeros, GuestAddress(addr))
                .map_err(|e| mem_err("zeroing ring", addr, e))?;
        }
        Ok(Self {
            index,
            layout: RingLayout {
                size,
                desc_table,
                avail_ring,
                used_ring,
            },
            event_idx,
            // Popped from the back, so the first chain starts at descriptor 0.
            free_descs: (0..size).rev().collect(),
            next_avail: 0,
            notified_avail: 0,
            last_used: 0,
            in_flight: (0..size).map(|_| None).collect(),
        })
    }

    /// Where the queue lives in guest memory.
    pub fn layout(&self) -> RingLayout {
        self.layout
    }

    /// The available index the driver publishes next.
    pub fn next_avail(&self) -> u16 {
        self.next_avail
    }

    /// Chains made available and not yet returned.
    pub fn in_flight(&self) -> usize {
        self.in_flight.iter().filter(|f| f.is_some()).count()
    }

    /// Descriptor-table entries not held by an in-flight chain.
    pub fn free_descriptors(&self) -> usize {
        self.free_descs.len()
    }

    /// Takes `n` free descriptor-table entries.
    pub fn take_descriptors(&mut self, n: usize) -> Result<Vec<u16>, Error> {
        if n > self.free_descs.len() {
            return Err(Error::QueueFull {
                queue: self.index,
                free: self.free_descs.len(),
                need: n,
            });
        }
        let at = self.free_descs.len() - n;
        let mut taken = self.free_descs.split_off(at);
        taken.reverse();
        Ok(taken)
    }

    /// Writes `desc` as entry `index` of the table at `table`.
    pub fn write_descriptor(
        mem: &GuestMemfd,
        table: u64,
        index: u16,
        desc: Descriptor,
    ) -> Result<(), Error> {
        let addr = table + DESC_SIZE * u64::from(index);
        mem.memory()
            .write_slice(&desc.to_bytes(), GuestAddress(addr))
            .map_err(|e| mem_err("writing descriptor", addr, e))
    }

    /// Builds a well-formed chain from `segments` and makes it available; returns its head.
    pub fn add(
        &mut self,
        mem: &mut GuestMemfd,
        segments: &[Segment<'_>],
        layout: ChainLayout,
    ) -> Result<u16, Error> {
        if segments.is_empty() {
            return Err(Error::EmptyChain);
        }
        let count =
            u16::try_from(segments.len()).map_err(|_| Error::ChainTooLong(segments.len()))?;
        let need_descs = match layout {
            ChainLayout::Direct => segments.len(),
            ChainLayout::Indirect => 1,
        };
        if need_descs > self.free_descs.len() {
            return Err(Error::QueueFull {
                queue: self.index,
                free: self.free_descs.len(),
                need: need_descs,
            });
        }
        let mut flight = InFlight::default();
        let result = self.fill(mem, segments, count, layout, &mut flight);
        match result {
            Ok(head) => {
                self.track(head, flight);
                self.publish(mem, head)?;
                Ok(head)
            }
            Err(e) => {
                self.release(mem, flight);
                Err(e)
            }
        }
    }

    fn fill(
        &mut self,
        mem: &mut GuestMemfd,
        segments: &[Segment<'_>],
        count: u16,
        layout: ChainLayout,
        flight: &mut InFlight,
    ) -> Result<u16, Error> {
        let mut bufs = Vec::with_capacity(segments.len());
        for seg in segments {
            let (len, flags) = match seg {
                Segment::Readable(bytes) => (
                    u32::try_from(bytes.len()).map_err(|_| Error::SegmentTooLong(bytes.len()))?,
                    0,
                ),
                Segment::Writable(len) => (*len, VRING_DESC_F_WRITE),
            };
            let addr = mem.alloc(u64::from(len), 8)?;
            flight.allocs.push((addr, u64::from(len)));
            let fill: std::borrow::Cow<[u8]> = match seg {
                Segment::Readable(bytes) => (*bytes).into(),
                // Zeroed so that bytes the device did not write read back as zero.
                Segment::Writable(len) => vec![0u8; *len as usize].into(),
            };
            mem.memory()
                .write_slice(&fill, GuestAddress(addr))
                .map_err(|e| mem_err("writing buffer", addr, e))?;
            if flags & VRING_DESC_F_WRITE != 0 {
                flight.writable.push((addr, len));
            }
            bufs.push((addr, len, flags));
        }
        match layout {
            ChainLayout::Direct => {
                let ids = self.take_descriptors(segments.len())?;
                flight.descs.extend_from_slice(&ids);
                for (i, &(addr, len, flags)) in bufs.iter().enumerate() {
                    let last = i + 1 == bufs.len();
                    let desc = Descriptor {
                        addr,
                        len,
                        flags: flags | if last { 0 } else { VRING_DESC_F_NEXT },
                        next: if last { 0 } else { ids[i + 1] },
                    };
                    Self::write_descriptor(mem, self.layout.desc_table, ids[i], desc)?;
                }
                Ok(ids[0])
            }
            ChainLayout::Indirect => {
                let table_len = DESC_SIZE * u64::from(count);
                let table = mem.alloc(table_len, 16)?;
                flight.allocs.push((table, table_len));
                for (i, &(addr, len, flags)) in bufs.iter().enumerate() {
                    let last = i + 1 == bufs.len();
                    let desc = Descriptor {
                        addr,
                        len,
                        flags: flags | if last { 0 } else { VRING_DESC_F_NEXT },
                        next: if last { 0 } else { i as u16 + 1 },
                    };
                    Self::write_descriptor(mem, table, i as u16, desc)?;
                }
                let ids = self.take_descriptors(1)?;
                flight.descs.extend_from_slice(&ids);
                let len = u32::try_from(table_len).map_err(|_| Error::ChainTooLong(bufs.len()))?;
                let desc = Descriptor {
                    addr: table,
                    len,
                    flags: VRING_DESC_F_INDIRECT,
                    next: 0,
                };
                Self::write_descriptor(mem, self.layout.desc_table, ids[0], desc)?;
                Ok(ids[0])
            }
        }
    }

    /// Remembers `flight` until the device returns `head`.
    pub fn track(&mut self, head: u16, flight: InFlight) {
        if let Some(slot) = self.in_flight.get_mut(usize::from(head)) {
            *slot = Some(flight);
        }
    }

    /// Gives back a chain's descriptors and guest memory.
    pub fn release(&mut self, mem: &mut GuestMemfd, flight: InFlight) {
        self.free_descs.extend(flight.descs);
        for (addr, len) in flight.allocs {
            mem.free(addr, len);
        }
    }

    /// Frees the rings and every in-flight chain's memory (the driver is going away).
    pub fn free_all(&mut self, mem: &mut GuestMemfd) {
        for flight in self
            .in_flight
            .iter_mut()
            .filter_map(Option::take)
            .collect::<Vec<_>>()
        {
            self.release(mem, flight);
        }
        let l = self.layout;
        mem.free(l.desc_table, RingLayout::desc_table_len(l.size));
        mem.free(l.avail_ring, RingLayout::avail_ring_len(l.size));
        mem.free(l.used_ring, RingLayout::used_ring_len(l.size));
    }

    /// Puts `head` (any value, even an invalid one) on the available ring and publishes it.
    pub fn publish(&mut self, mem: &GuestMemfd, head: u16) -> Result<(), Error> {
        let slot = self.next_avail % self.layout.size;
        let entry = self.layout.avail_entry(slot);
        mem.memory()
            .write_slice(&head.to_le_bytes(), GuestAddress(entry))
            .map_err(|e| mem_err("writing avail entry", entry, e))?;
        self.next_avail = self.next_avail.wrapping_add(1);
        // The ring entry (and the descriptors before it) must be visible before the index.
        fence(Ordering::Release);
        let idx = self.layout.avail_idx();
        mem.memory()
            .store(
                self.next_avail.to_le(),
                GuestAddress(idx),
                Ordering::Release,
            )
            .map_err(|e| mem_err("writing avail idx", idx, e))
    }

    /// Decides whether the device needs a kick for the chains published since the last
    /// decision (honouring `avail_event` or `VRING_USED_F_NO_NOTIFY`).
    pub fn needs_kick(&mut self, mem: &GuestMemfd) -> Result<bool, Error> {
        // The published index must be visible before we read the device's suppression state.
        fence(Ordering::SeqCst);
        let old = self.notified_avail;
        let new = self.next_avail;
        self.notified_avail = new;
        if old == new {
            return Ok(false);
        }
        if self.event_idx {
            let ev = self.read_u16(mem, self.layout.avail_event())?;
            Ok(need_event(ev, new, old))
        } else {
            let flags = self.read_u16(mem, self.layout.used_flags())?;
            Ok(flags & VRING_USED_F_NO_NOTIFY == 0)
        }
    }

    fn read_u16(&self, mem: &GuestMemfd, addr: u64) -> Result<u16, Error> {
        let v: u16 = mem
            .memory()
            .load(GuestAddress(addr), Ordering::Acquire)
            .map_err(|e| mem_err("reading ring", addr, e))?;
        Ok(u16::from_le(v))
    }

    fn read_u32(&self, mem: &GuestMemfd, addr: u64) -> Result<u32, Error> {
        let mut b = [0u8; 4];
        mem.memory()
            .read_slice(&mut b, GuestAddress(addr))
            .map_err(|e| mem_err("reading used element", addr, e))?;
        Ok(u32::from_le_bytes(b))
    }

    /// Takes every element the device has put on the used ring, frees its chain and returns
    /// what was written; with EVENT_IDX, asks for an interrupt on the next one.
    pub fn collect(&mut self, mem: &mut GuestMemfd) -> Result<Vec<Completion>, Error> {
        let mut out = Vec::new();
        loop {
            let used_idx = self.read_u16(mem, self.layout.used_idx())?;
            // Used elements must be read only after the index that covers them.
            fence(Ordering::Acquire);
            while self.last_used != used_idx {
                let slot = self.last_used % self.layout.size;
                let elem = self.layout.used_elem(slot);
                let id = self.read_u32(mem, elem)?;
                let len = self.read_u32(mem, elem + 4)?;
                self.last_used = self.last_used.wrapping_add(1);
                let flight = u16::try_from(id)
                    .ok()
                    .and_then(|h| self.in_flight.get_mut(usize::from(h)))
                    .and_then(Option::take)
                    .ok_or(Error::UnknownHead {
                        queue: self.index,
                        id,
                    })?;
                let data = Self::read_written(mem, &flight.writable, len)?;
                self.release(mem, flight);
                out.push(Completion {
                    queue: self.index,
                    head: id as u16,
                    len,
                    data,
                });
            }
            if !self.event_idx {
                return Ok(out);
            }
            let ue = self.layout.used_event();
            mem.memory()
                .store(self.last_used.to_le(), GuestAddress(ue), Ordering::Release)
                .map_err(|e| mem_err("writing used_event", ue, e))?;
            // A device that used a buffer before it saw the new used_event may not interrupt:
            // look again after publishing it.
            fence(Ordering::SeqCst);
            if self.read_u16(mem, self.layout.used_idx())? == self.last_used {
                return Ok(out);
            }
        }
    }

    fn read_written(mem: &GuestMemfd, writable: &[(u64, u32)], len: u32) -> Result<Vec<u8>, Error> {
        let total: u64 = writable.iter().map(|&(_, l)| u64::from(l)).sum();
        let want = u64::from(len).min(total) as usize;
        let mut data = vec![0u8; want];
        let mut at = 0usize;
        for &(addr, seg_len) in writable {
            if at == want {
                break;
            }
            let n = (seg_len as usize).min(want - at);
            mem.memory()
                .read_slice(&mut data[at..at + n], GuestAddress(addr))
                .map_err(|e| mem_err("reading written buffer", addr, e))?;
            at += n;
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(mem: &GuestMemfd, addr: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        mem.memory().read_slice(&mut b, GuestAddress(addr)).unwrap();
        b
    }

    fn le16(mem: &GuestMemfd, addr: u64) -> u16 {
        let b = bytes(mem, addr, 2);
        u16::from_le_bytes([b[0], b[1]])
    }

    /// Plays the device: puts (id, len) on the used ring and bumps used.idx.
    fn device_use(mem: &GuestMemfd, l: &RingLayout, used_idx: u16, id: u32, len: u32) {
        let slot = used_idx % l.size;
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&id.to_le_bytes());
        e[4..].copy_from_slice(&len.to_le_bytes());
        mem.memory()
            .write_slice(&e, GuestAddress(l.used_elem(slot)))
            .unwrap();
        mem.memory()
            .write_slice(&(used_idx + 1).to_le_bytes(), GuestAddress(l.used_idx()))
            .unwrap();
    }

    #[test]
    fn layout_offsets_match_the_spec() {
        let l = RingLayout {
            size: 8,
            desc_table: 0x1000,
            avail_ring: 0x2000,
            used_ring: 0x3000,
        };
        assert_eq!(l.desc(3), 0x1000 + 48);
        assert_eq!(l.avail_flags(), 0x2000);
        assert_eq!(l.avail_idx(), 0x2002);
        assert_eq!(l.avail_entry(0), 0x2004);
        assert_eq!(l.avail_entry(7), 0x2004 + 14);
        assert_eq!(l.used_event(), 0x2004 + 16);
        assert_eq!(l.used_idx(), 0x3002);
        assert_eq!(l.used_elem(1), 0x3004 + 8);
        assert_eq!(l.avail_event(), 0x3004 + 64);
        assert_eq!(RingLayout::avail_ring_len(8), 22);
        assert_eq!(RingLayout::used_ring_len(8), 70);
    }

    #[test]
    fn descriptor_encoding_is_little_endian() {
        let d = Descriptor {
            addr: 0x1122_3344_5566_7788,
            len: 0xAABB_CCDD,
            flags: VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
            next: 0x0102,
        };
        assert_eq!(
            d.to_bytes(),
            [
                0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xDD, 0xCC, 0xBB, 0xAA, 0x03, 0x00,
                0x02, 0x01
            ]
        );
    }

    #[test]
    fn need_event_follows_vring_need_event() {
        // Device asked for a kick when avail idx passes 5.
        assert!(need_event(5, 6, 5));
        assert!(need_event(5, 8, 3));
        assert!(!need_event(5, 5, 3));
        assert!(!need_event(9, 8, 3));
        // Wrap-around.
        assert!(need_event(0xFFFF, 1, 0xFFFE));
    }

    #[test]
    fn direct_chain_lands_in_table_and_avail_ring() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let mut q = SplitQueue::new(0, &mut mem, 8, false).unwrap();
        let l = q.layout();
        assert_eq!(l.desc_table % 16, 0);
        assert_eq!(l.used_ring % 4, 0);
        let head = q
            .add(
                &mut mem,
                &[Segment::Readable(&[1, 2, 3, 4]), Segment::Writable(12)],
                ChainLayout::Direct,
            )
            .unwrap();
        assert_eq!(head, 0);
        let d0 = bytes(&mem, l.desc(0), 16);
        let addr0 = u64::from_le_bytes(d0[0..8].try_into().unwrap());
        assert_eq!(&d0[8..12], &4u32.to_le_bytes());
        assert_eq!(&d0[12..14], &VRING_DESC_F_NEXT.to_le_bytes());
        assert_eq!(&d0[14..16], &1u16.to_le_bytes());
        assert_eq!(bytes(&mem, addr0, 4), [1, 2, 3, 4]);
        let d1 = bytes(&mem, l.desc(1), 16);
        assert_eq!(&d1[8..12], &12u32.to_le_bytes());
        assert_eq!(&d1[12..14], &VRING_DESC_F_WRITE.to_le_bytes());
        assert_eq!(le16(&mem, l.avail_idx()), 1);
        assert_eq!(le16(&mem, l.avail_entry(0)), 0);
        assert_eq!(le16(&mem, l.avail_flags()), 0);
        assert_eq!(q.free_descriptors(), 6);

        let h2 = q
            .add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
            .unwrap();
        assert_eq!(h2, 2);
        assert_eq!(le16(&mem, l.avail_idx()), 2);
        assert_eq!(le16(&mem, l.avail_entry(1)), 2);
    }

    #[test]
    fn indirect_chain_uses_one_table_entry() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let mut q = SplitQueue::new(0, &mut mem, 4, false).unwrap();
        let l = q.layout();
        let head = q
            .add(
                &mut mem,
                &[
                    Segment::Readable(&[9; 3]),
                    Segment::Readable(&[8; 5]),
                    Segment::Writable(7),
                ],
                ChainLayout::Indirect,
            )
            .unwrap();
        assert_eq!(q.free_descriptors(), 3);
        let d = bytes(&mem, l.desc(head), 16);
        let table = u64::from_le_bytes(d[0..8].try_into().unwrap());
        assert_eq!(table % 16, 0);
        assert_eq!(&d[8..12], &48u32.to_le_bytes());
        assert_eq!(&d[12..14], &VRING_DESC_F_INDIRECT.to_le_bytes());
        let t1 = bytes(&mem, table + 16, 16);
        assert_eq!(&t1[8..12], &5u32.to_le_bytes());
        assert_eq!(&t1[12..14], &VRING_DESC_F_NEXT.to_le_bytes());
        assert_eq!(&t1[14..16], &2u16.to_le_bytes());
        let t2 = bytes(&mem, table + 32, 16);
        assert_eq!(&t2[12..14], &VRING_DESC_F_WRITE.to_le_bytes());
    }

    #[test]
    fn collect_reads_written_bytes_and_frees_the_chain() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let free_before = mem.free_bytes();
        let mut q = SplitQueue::new(0, &mut mem, 4, false).unwrap();
        let ring_bytes = free_before - mem.free_bytes();
        let head = q
            .add(
                &mut mem,
                &[
                    Segment::Readable(&[1]),
                    Segment::Writable(3),
                    Segment::Writable(3),
                ],
                ChainLayout::Direct,
            )
            .unwrap();
        let d1 = bytes(&mem, q.layout().desc(1), 8);
        let d2 = bytes(&mem, q.layout().desc(2), 8);
        let w1 = u64::from_le_bytes(d1.try_into().unwrap());
        let w2 = u64::from_le_bytes(d2.try_into().unwrap());
        mem.memory()
            .write_slice(&[0xA, 0xB, 0xC], GuestAddress(w1))
            .unwrap();
        mem.memory()
            .write_slice(&[0xD, 0xE, 0xF], GuestAddress(w2))
            .unwrap();
        assert!(q.collect(&mut mem).unwrap().is_empty());
        device_use(&mem, &q.layout(), 0, u32::from(head), 5);
        let done = q.collect(&mut mem).unwrap();
        assert_eq!(
            done,
            vec![Completion {
                queue: 0,
                head,
                len: 5,
                data: vec![0xA, 0xB, 0xC, 0xD, 0xE]
            }]
        );
        assert_eq!(q.in_flight(), 0);
        assert_eq!(q.free_descriptors(), 4);
        assert_eq!(mem.free_bytes(), free_before - ring_bytes);
    }

    #[test]
    fn unknown_used_id_is_an_error() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let mut q = SplitQueue::new(3, &mut mem, 4, false).unwrap();
        device_use(&mem, &q.layout(), 0, 2, 0);
        match q.collect(&mut mem) {
            Err(Error::UnknownHead { queue: 3, id: 2 }) => {}
            other => panic!("expected UnknownHead, got {other:?}"),
        }
    }

    #[test]
    fn event_idx_sets_used_event_and_reads_avail_event() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let mut q = SplitQueue::new(0, &mut mem, 4, true).unwrap();
        let l = q.layout();
        let head = q
            .add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
            .unwrap();
        // avail_event is 0: the first buffer (idx 0 -> 1) needs a kick.
        assert!(q.needs_kick(&mem).unwrap());
        // The device now wants a kick only once avail idx passes 3.
        mem.memory()
            .write_slice(&3u16.to_le_bytes(), GuestAddress(l.avail_event()))
            .unwrap();
        q.add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
            .unwrap();
        assert!(!q.needs_kick(&mem).unwrap());
        device_use(&mem, &l, 0, u32::from(head), 0);
        assert_eq!(q.collect(&mut mem).unwrap().len(), 1);
        assert_eq!(le16(&mem, l.used_event()), 1);
    }

    #[test]
    fn without_event_idx_no_notify_flag_suppresses_kicks() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let mut q = SplitQueue::new(0, &mut mem, 4, false).unwrap();
        let l = q.layout();
        mem.memory()
            .write_slice(
                &VRING_USED_F_NO_NOTIFY.to_le_bytes(),
                GuestAddress(l.used_flags()),
            )
            .unwrap();
        q.add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
            .unwrap();
        assert!(!q.needs_kick(&mem).unwrap());
        // Nothing new since the last decision: no kick either way.
        assert!(!q.needs_kick(&mem).unwrap());
    }

    #[test]
    fn full_queue_is_refused_without_leaking() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        let mut q = SplitQueue::new(0, &mut mem, 2, false).unwrap();
        let free = mem.free_bytes();
        let segs = [
            Segment::Readable(&[0]),
            Segment::Writable(1),
            Segment::Writable(1),
        ];
        assert!(matches!(
            q.add(&mut mem, &segs, ChainLayout::Direct),
            Err(Error::QueueFull {
                need: 3,
                free: 2,
                ..
            })
        ));
        assert_eq!(mem.free_bytes(), free);
        assert_eq!(q.free_descriptors(), 2);
    }

    #[test]
    fn queue_size_must_be_a_power_of_two() {
        let mut mem = GuestMemfd::new(64 * 1024).unwrap();
        assert!(matches!(
            SplitQueue::new(0, &mut mem, 6, false),
            Err(Error::BadQueueSize(6))
        ));
    }
}
