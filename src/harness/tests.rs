//! The harness's rings read by an independent device-side implementation (rust-vmm's
//! `virtio-queue`), so that a layout mistake shared by our writer and our own tests shows up.

use std::sync::atomic::Ordering;

use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use super::malformed::{self, Malformed, OVERSIZE_LEN};
use super::memory::GuestMemfd;
use super::split_ring::{ChainLayout, Segment, SplitQueue};

fn device_queue(mem: &GuestMemoryMmap, ring: &SplitQueue, event_idx: bool) -> Queue {
    let l = ring.layout();
    let mut q = Queue::new(l.size).unwrap();
    q.set_size(l.size);
    q.try_set_desc_table_address(GuestAddress(l.desc_table))
        .unwrap();
    q.try_set_avail_ring_address(GuestAddress(l.avail_ring))
        .unwrap();
    q.try_set_used_ring_address(GuestAddress(l.used_ring))
        .unwrap();
    q.set_event_idx(event_idx);
    q.set_ready(true);
    assert!(q.is_valid(mem));
    q
}

fn setup(size: u16, event_idx: bool) -> (GuestMemfd, SplitQueue, Queue) {
    let mut mem = GuestMemfd::new(256 * 1024).unwrap();
    let ring = SplitQueue::new(0, &mut mem, size, event_idx).unwrap();
    let dev = device_queue(mem.memory(), &ring, event_idx);
    (mem, ring, dev)
}

/// (readable bytes, writable lengths) of a chain as the device sees it.
fn device_view(mem: &GuestMemoryMmap, dev: &mut Queue) -> (u16, Vec<u8>, Vec<(u64, u32)>) {
    let chain = dev.pop_descriptor_chain(mem).expect("a chain is available");
    let head = chain.head_index();
    let mut readable = Vec::new();
    let mut writable = Vec::new();
    for d in chain {
        if d.is_write_only() {
            writable.push((d.addr().0, d.len()));
        } else {
            let mut b = vec![0u8; d.len() as usize];
            mem.read_slice(&mut b, d.addr()).unwrap();
            readable.extend_from_slice(&b);
        }
    }
    (head, readable, writable)
}

#[test]
fn virtio_queue_reads_direct_and_indirect_chains() {
    let (mut mem, mut ring, mut dev) = setup(8, false);
    for layout in [ChainLayout::Direct, ChainLayout::Indirect] {
        let head = ring
            .add(
                &mut mem,
                &[
                    Segment::Readable(b"hello "),
                    Segment::Readable(b"device"),
                    Segment::Writable(4),
                    Segment::Writable(8),
                ],
                layout,
            )
            .unwrap();
        let (dhead, readable, writable) = device_view(mem.memory(), &mut dev);
        assert_eq!(dhead, head);
        assert_eq!(readable, b"hello device");
        assert_eq!(writable.iter().map(|w| w.1).collect::<Vec<_>>(), [4, 8]);
        // The device answers across both writable buffers.
        mem.memory()
            .write_slice(b"0123", GuestAddress(writable[0].0))
            .unwrap();
        mem.memory()
            .write_slice(b"45", GuestAddress(writable[1].0))
            .unwrap();
        dev.add_used(mem.memory(), dhead, 6).unwrap();
        let done = ring.collect(&mut mem).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].head, done[0].len), (head, 6));
        assert_eq!(done[0].data, b"012345");
    }
    assert_eq!(ring.free_descriptors(), 8);
}

#[test]
fn event_idx_agrees_with_virtio_queue() {
    let (mut mem, mut ring, mut dev) = setup(8, true);
    ring.add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
        .unwrap();
    assert!(ring.needs_kick(&mem).unwrap());
    // The device consumes the buffer and re-arms: it wants a kick at the next avail index.
    let (head, _, _) = device_view(mem.memory(), &mut dev);
    assert!(!dev.enable_notification(mem.memory()).unwrap());
    ring.add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
        .unwrap();
    assert!(ring.needs_kick(&mem).unwrap());
    // The device turns kicks off while busy: the next buffer needs none.
    dev.disable_notification(mem.memory()).unwrap();
    ring.add(&mut mem, &[Segment::Writable(4)], ChainLayout::Direct)
        .unwrap();
    assert!(!ring.needs_kick(&mem).unwrap());

    // used_event starts at 0, so the first used buffer interrupts.
    dev.add_used(mem.memory(), head, 0).unwrap();
    assert!(dev.needs_notification(mem.memory()).unwrap());
    assert_eq!(ring.collect(&mut mem).unwrap().len(), 1);
    // Having collected, the driver asks for an interrupt on the very next used buffer.
    let (h2, _, _) = device_view(mem.memory(), &mut dev);
    dev.add_used(mem.memory(), h2, 0).unwrap();
    assert!(dev.needs_notification(mem.memory()).unwrap());
    // Without collecting, a further used buffer does not interrupt again.
    let (h3, _, _) = device_view(mem.memory(), &mut dev);
    dev.add_used(mem.memory(), h3, 0).unwrap();
    assert!(!dev.needs_notification(mem.memory()).unwrap());
    assert_eq!(ring.collect(&mut mem).unwrap().len(), 2);
}

#[test]
fn avail_idx_wraps_past_u16() {
    let (mut mem, mut ring, mut dev) = setup(4, false);
    for i in 0..66_000u32 {
        let req = i.to_le_bytes();
        let head = ring
            .add(
                &mut mem,
                &[Segment::Readable(&req), Segment::Writable(4)],
                ChainLayout::Direct,
            )
            .unwrap();
        let (dhead, readable, writable) = device_view(mem.memory(), &mut dev);
        assert_eq!((dhead, readable.as_slice()), (head, &req[..]));
        mem.memory()
            .write_slice(&(!i).to_le_bytes(), GuestAddress(writable[0].0))
            .unwrap();
        dev.add_used(mem.memory(), dhead, 4).unwrap();
        let done = ring.collect(&mut mem).unwrap();
        assert_eq!(done[0].data, (!i).to_le_bytes());
    }
    let idx: u16 = mem
        .memory()
        .load(GuestAddress(ring.layout().avail_idx()), Ordering::Relaxed)
        .unwrap();
    assert_eq!(u16::from_le(idx), (66_000u32 % 65_536) as u16);
}

#[test]
fn malformed_chains_are_malformed_to_virtio_queue() {
    let req = 0x4000u32.to_le_bytes();
    for kind in Malformed::ALL {
        let (mut mem, mut ring, mut dev) = setup(8, false);
        let head = malformed::add(&mut ring, &mut mem, kind, &req, 12).unwrap();
        let chain = dev
            .pop_descriptor_chain(mem.memory())
            .expect("the head is published");
        assert_eq!(chain.head_index(), head, "{kind:?}");
        let descs: Vec<_> = chain.collect();
        match kind {
            Malformed::AddressOutsideMemory | Malformed::AddressBelowMemory => {
                assert_eq!(descs.len(), 2);
                assert!(mem.memory().address_in_range(descs[1].addr()));
                assert!(!mem.memory().address_in_range(descs[0].addr()));
            }
            Malformed::OversizeLength => {
                assert_eq!(descs[0].len(), OVERSIZE_LEN);
                assert!(!mem
                    .memory()
                    .check_range(descs[0].addr(), descs[0].len() as usize));
            }
            Malformed::WritableBeforeReadable => {
                let dirs: Vec<bool> = descs.iter().map(|d| d.is_write_only()).collect();
                assert_eq!(dirs, [true, false]);
            }
            // virtio-queue stops a loop only by its length limit (the queue size).
            Malformed::DescriptorLoop => assert_eq!(descs.len(), 8),
            // Both indirect faults make virtio-queue refuse the table outright.
            Malformed::IndirectBadLength | Malformed::IndirectNested => {
                assert!(descs.is_empty(), "{kind:?}")
            }
            Malformed::HeadOutOfRange => assert!(descs.is_empty()),
        }
    }
}
