use super::*;
use crate::devices::rpmb::constants::*;
use crate::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use crate::devices::rpmb::frame::Frame;
use crate::devices::rpmb::physical::PhysicalGeometry;
use crate::devices::rpmb::test_hmac::hmac_sha256;
use crate::hw::rpmb::frames::{FrameIoError, RawFrame, RpmbFrameDevice};
use crate::hw::rpmb::memory::MemoryRpmb;

const DEVICE_KEY: [u8; 32] = [0xd0; 32];

/// The simulated part, shared so a test can "restart" the service on the same medium, and
/// able to fail every exchange after a given number, as a crash would cut them off.
#[derive(Clone)]
struct Part {
    engine: Arc<Mutex<RpmbEngine<MemoryRpmb>>>,
    fail_after: Arc<Mutex<Option<usize>>>,
}

impl RpmbFrameDevice for Part {
    fn send(
        &mut self,
        reliable_write: &[RawFrame],
        write: &[RawFrame],
        read: &mut [RawFrame],
    ) -> Result<(), FrameIoError> {
        if let Some(n) = self.fail_after.lock().unwrap().as_mut() {
            if *n == 0 {
                return Err(FrameIoError::Request("injected crash".into()));
            }
            *n -= 1;
        }
        self.engine
            .lock()
            .unwrap()
            .send(reliable_write, write, read)
    }
}

fn part(blocks: u32) -> Part {
    let limits = EngineLimits {
        max_write_blocks: 3,
        max_read_blocks: 4,
    };
    Part {
        engine: Arc::new(Mutex::new(
            RpmbEngine::new(MemoryRpmb::new(blocks).unwrap(), limits).unwrap(),
        )),
        fail_after: Arc::new(Mutex::new(None)),
    }
}

fn physical(part: &Part) -> SharedPhysical {
    let blocks = part.engine.lock().unwrap().storage().capacity_blocks();
    let geometry = PhysicalGeometry {
        capacity_blocks: blocks,
        max_write_blocks: 3,
        max_read_blocks: 4,
    };
    Arc::new(Mutex::new(
        PhysicalRpmb::open(Box::new(part.clone()), RpmbKey::new(DEVICE_KEY), geometry).unwrap(),
    ))
}

fn slot(guest: &str, offset: u32) -> VirtualSlot {
    VirtualSlot {
        guest: guest.into(),
        offset,
        capacity_blocks: 16,
        journal_blocks: 2,
    }
}

fn guest(phys: &SharedPhysical, s: VirtualSlot) -> RpmbEngine<VirtualRpmb> {
    let limits = EngineLimits {
        max_write_blocks: 2,
        max_read_blocks: 4,
    };
    RpmbEngine::new(VirtualRpmb::open(phys.clone(), s).unwrap(), limits).unwrap()
}

fn sign(key: &[u8; 32], frames: &mut [Frame]) {
    let input: Vec<u8> = frames.iter().flat_map(|f| f.mac_input().to_vec()).collect();
    let mac = hmac_sha256(key, &input);
    frames.last_mut().unwrap().set_key_mac(&mac);
}

fn program(e: &mut RpmbEngine<VirtualRpmb>, key: &[u8; 32]) -> u16 {
    let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
    pk.set_key_mac(key);
    e.process(&[pk, Frame::with_type(REQ_RESULT_READ)], 1)[0].result()
}

fn counter(e: &mut RpmbEngine<VirtualRpmb>, key: &[u8; 32]) -> u32 {
    let mut req = Frame::with_type(REQ_GET_WRITE_COUNTER);
    req.set_nonce(&[3; 16]);
    let r = e.process(&[req], 1).remove(0);
    assert_eq!(r.result(), RES_OK);
    assert_eq!(
        &r.key_mac()[..],
        &hmac_sha256(key, r.mac_input()),
        "signed by the guest key"
    );
    r.write_counter()
}

fn write(e: &mut RpmbEngine<VirtualRpmb>, key: &[u8; 32], addr: u16, fill: &[u8]) -> Frame {
    let c = e.storage().write_counter();
    let mut frames: Vec<Frame> = fill
        .iter()
        .map(|b| {
            let mut f = Frame::with_type(REQ_DATA_WRITE);
            f.set_address(addr);
            f.set_block_count(fill.len() as u16);
            f.set_write_counter(c);
            f.set_data(&[*b; 256]);
            f
        })
        .collect();
    sign(key, &mut frames);
    frames.push(Frame::with_type(REQ_RESULT_READ));
    e.process(&frames, 1).remove(0)
}

fn read(e: &mut RpmbEngine<VirtualRpmb>, key: &[u8; 32], addr: u16, n: u16) -> Vec<Frame> {
    let mut req = Frame::with_type(REQ_DATA_READ);
    req.set_address(addr);
    req.set_block_count(n);
    req.set_nonce(&[0x11; 16]);
    let out = e.process(&[req], usize::from(n));
    if out[0].result() == RES_OK {
        let input: Vec<u8> = out.iter().flat_map(|f| f.mac_input().to_vec()).collect();
        assert_eq!(
            &out.last().unwrap().key_mac()[..],
            &hmac_sha256(key, &input)
        );
    }
    out
}

#[test]
fn two_guests_have_their_own_keys_ranges_and_counters() {
    let p = part(128);
    let phys = physical(&p);
    let (ka, kb) = ([0xaa; 32], [0xbb; 32]);
    let mut a = guest(&phys, slot("vm-a", 0));
    let mut b = guest(&phys, slot("vm-b", 19));
    assert_eq!(program(&mut a, &ka), RES_OK);
    // B has no key yet: its counter is not available, whatever A did.
    let mut req = Frame::with_type(REQ_GET_WRITE_COUNTER);
    req.set_nonce(&[1; 16]);
    assert_eq!(b.process(&[req], 1)[0].result(), RES_NO_AUTH_KEY);
    assert_eq!(program(&mut b, &kb), RES_OK);

    assert_eq!(write(&mut a, &ka, 0, &[0xa1, 0xa2]).result(), RES_OK);
    assert_eq!(write(&mut a, &ka, 15, &[0xa3]).result(), RES_OK);
    assert_eq!(write(&mut b, &kb, 0, &[0xb1]).result(), RES_OK);
    assert_eq!((counter(&mut a, &ka), counter(&mut b, &kb)), (2, 1));

    // Same guest address, different data: the ranges are disjoint.
    assert_eq!(read(&mut a, &ka, 0, 1)[0].data(), &[0xa1; 256]);
    assert_eq!(read(&mut b, &kb, 0, 1)[0].data(), &[0xb1; 256]);
    // B cannot reach past its range (where A's slot would be if it were below it).
    assert_eq!(read(&mut b, &kb, 16, 1)[0].result(), RES_ADDR_FAILURE);
    assert_eq!(write(&mut b, &kb, 16, &[0xee]).result(), RES_ADDR_FAILURE);
    // A write MACed with A's key is refused by B's device, and changes nothing.
    let mut forged = Frame::with_type(REQ_DATA_WRITE);
    forged.set_write_counter(1);
    forged.set_data(&[0xff; 256]);
    sign(&ka, std::slice::from_mut(&mut forged));
    let r = b.process(&[forged, Frame::with_type(REQ_RESULT_READ)], 1);
    assert_eq!(r[0].result(), RES_AUTH_FAILURE);
    assert_eq!(read(&mut b, &kb, 0, 1)[0].data(), &[0xb1; 256]);
    assert_eq!((counter(&mut a, &ka), counter(&mut b, &kb)), (2, 1));
    // A replayed write of B's is refused.
    assert_eq!(write(&mut b, &kb, 1, &[0xb2]).result(), RES_OK);
    let mut stale = Frame::with_type(REQ_DATA_WRITE);
    stale.set_write_counter(1);
    stale.set_address(1);
    stale.set_data(&[0xb2; 256]);
    sign(&kb, std::slice::from_mut(&mut stale));
    let r = b.process(&[stale, Frame::with_type(REQ_RESULT_READ)], 1);
    assert_eq!(r[0].result(), RES_COUNT_FAILURE);
    assert_eq!((counter(&mut a, &ka), counter(&mut b, &kb)), (2, 2));
    // Key reprogramming is refused per guest.
    assert_eq!(program(&mut a, &kb), RES_WRITE_FAILURE);
}

#[test]
fn state_survives_reopen_and_the_stored_key_is_not_in_the_clear() {
    let p = part(64);
    let key = [0x5e; 32];
    {
        let phys = physical(&p);
        let mut a = guest(&phys, slot("vm-a", 4));
        program(&mut a, &key);
        write(&mut a, &key, 3, &[0x42, 0x43]);
    }
    let phys = physical(&p);
    let mut a = guest(&phys, slot("vm-a", 4));
    assert_eq!(counter(&mut a, &key), 1);
    let out = read(&mut a, &key, 3, 2);
    assert_eq!((out[0].data()[0], out[1].data()[0]), (0x42, 0x43));
    // The raw part: the header is at block 4, its key field is not the key.
    let mut raw = [0u8; 256];
    p.engine
        .lock()
        .unwrap()
        .storage_mut()
        .read_blocks(4, &mut raw)
        .unwrap();
    assert_eq!(&raw[0..8], b"DVMVRPMB");
    assert_ne!(&raw[32..64], &key[..]);
    assert!(!raw.windows(32).any(|w| w == key));
}

#[test]
fn a_write_torn_between_journal_and_data_is_completed_on_open() {
    let p = part(64);
    let key = [0x77; 32];
    {
        let phys = physical(&p);
        let mut a = guest(&phys, slot("vm-a", 0));
        program(&mut a, &key);
        assert_eq!(write(&mut a, &key, 2, &[0x10]).result(), RES_OK);
        // The next write's first physical write (header + journal) lands, then the part
        // goes away before the data is written in place (and before the retry).
        *p.fail_after.lock().unwrap() = Some(1);
        let r = write(&mut a, &key, 2, &[0x20, 0x21]);
        assert_eq!(r.result(), RES_WRITE_FAILURE);
        *p.fail_after.lock().unwrap() = None;
    }
    let phys = physical(&p);
    let mut a = guest(&phys, slot("vm-a", 0));
    // The journalled write committed: counter 2 and its data, never a mix.
    assert_eq!(counter(&mut a, &key), 2);
    let out = read(&mut a, &key, 2, 2);
    assert_eq!((out[0].data()[0], out[1].data()[0]), (0x20, 0x21));
}

#[test]
fn a_write_lost_before_its_journal_leaves_the_previous_state() {
    let p = part(64);
    let key = [0x78; 32];
    {
        let phys = physical(&p);
        let mut a = guest(&phys, slot("vm-a", 0));
        program(&mut a, &key);
        write(&mut a, &key, 0, &[0x10]);
        *p.fail_after.lock().unwrap() = Some(0);
        assert_eq!(write(&mut a, &key, 0, &[0x20]).result(), RES_WRITE_FAILURE);
        *p.fail_after.lock().unwrap() = None;
    }
    let phys = physical(&p);
    let mut a = guest(&phys, slot("vm-a", 0));
    assert_eq!(counter(&mut a, &key), 1);
    assert_eq!(read(&mut a, &key, 0, 1)[0].data(), &[0x10; 256]);
}

#[test]
fn slots_are_checked_against_the_part_and_their_owner() {
    let p = part(64);
    let phys = physical(&p);
    drop(guest(&phys, slot("vm-a", 0)));
    let err = VirtualRpmb::open(phys.clone(), slot("vm-b", 0)).unwrap_err();
    assert!(
        err.to_string().contains("belongs to guest \"vm-a\""),
        "{err}"
    );
    let mut resized = slot("vm-a", 0);
    resized.capacity_blocks = 8;
    assert!(VirtualRpmb::open(phys.clone(), resized).is_err());
    assert!(matches!(
        VirtualRpmb::open(phys.clone(), slot("vm-c", 50)),
        Err(VirtualError::Geometry { .. })
    ));
    let mut wide = slot("vm-d", 20);
    wide.journal_blocks = 3;
    assert!(matches!(
        VirtualRpmb::open(phys.clone(), wide),
        Err(VirtualError::Geometry { .. })
    ));
    // Garbage where a header should be (the slot overlaps other data): refused.
    let mut e = guest(&phys, slot("vm-a", 0));
    program(&mut e, &[1; 32]);
    write(&mut e, &[1; 32], 0, &[0x99]);
    // vm-a's block 0 is physical block 3.
    let err = VirtualRpmb::open(phys, slot("vm-e", 3)).unwrap_err();
    assert!(matches!(err, VirtualError::Header { .. }), "{err}");
}

#[test]
fn a_guest_flooding_writes_uses_up_its_own_budget_only() {
    let p = part(256);
    let phys = physical(&p);
    let mut a = VirtualRpmb::open(phys.clone(), slot("a", 0))
        .unwrap()
        .with_write_budget(3);
    let mut b = VirtualRpmb::open(phys.clone(), slot("b", 32)).unwrap();
    a.program_key(&RpmbKey::new([1; 32])).unwrap();
    b.program_key(&RpmbKey::new([2; 32])).unwrap();
    for i in 0..3 {
        assert_eq!(
            a.write_blocks(0, &[i; crate::hw::rpmb::BLOCK_SIZE])
                .unwrap(),
            u32::from(i) + 1
        );
    }
    let before = phys.lock().unwrap().write_counter();
    assert!(matches!(
        a.write_blocks(0, &[9; crate::hw::rpmb::BLOCK_SIZE]),
        Err(StorageError::WriteBudget)
    ));
    assert_eq!(a.write_counter(), 3, "a refused write costs no counter");
    assert_eq!(
        phys.lock().unwrap().write_counter(),
        before,
        "nor a physical write"
    );
    assert_eq!(
        b.write_blocks(0, &[5; crate::hw::rpmb::BLOCK_SIZE])
            .unwrap(),
        1,
        "b is unaffected"
    );
}
