//! Known-answer tests of the RPMB engine: requests are built and responses checked the way
//! an RPMB client (Trusty, a virtio driver) does, with MACs from an independent HMAC.

use super::*;
use crate::devices::rpmb::test_hmac::hmac_sha256;
use crate::hw::rpmb::memory::MemoryRpmb;

const KEY: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";
const NONCE: [u8; 16] = *b"nonce-0123456789";

fn engine(blocks: u32) -> RpmbEngine<MemoryRpmb> {
    RpmbEngine::new(MemoryRpmb::new(blocks).unwrap(), EngineLimits::default()).unwrap()
}

fn keyed_engine(blocks: u32) -> RpmbEngine<MemoryRpmb> {
    let mut e = engine(blocks);
    let r = e.process(&program_key(&KEY), 1);
    assert_eq!(r[0].result(), RES_OK);
    e
}

/// MAC over bytes 228..512 of every frame, computed from the raw wire bytes.
fn client_mac(key: &[u8; 32], frames: &[Frame]) -> [u8; 32] {
    let mut msg = Vec::new();
    for f in frames {
        msg.extend_from_slice(&f.as_bytes()[228..512]);
    }
    hmac_sha256(key, &msg)
}

fn mac_ok(key: &[u8; 32], frames: &[Frame]) -> bool {
    let last = frames.last().unwrap();
    last.as_bytes()[196..228] == client_mac(key, frames)
}

fn be16(f: &Frame, at: usize) -> u16 {
    u16::from_be_bytes([f.as_bytes()[at], f.as_bytes()[at + 1]])
}

fn result_of(f: &Frame) -> u16 {
    be16(f, 508)
}

fn type_of(f: &Frame) -> u16 {
    be16(f, 510)
}

fn counter_of(f: &Frame) -> u32 {
    let b = f.as_bytes();
    u32::from_be_bytes([b[500], b[501], b[502], b[503]])
}

fn result_read() -> Frame {
    Frame::with_type(REQ_RESULT_READ)
}

fn program_key(key: &[u8; 32]) -> Vec<Frame> {
    let mut f = Frame::with_type(REQ_PROGRAM_KEY);
    f.set_key_mac(key);
    vec![f, result_read()]
}

fn get_counter(nonce: &[u8; 16]) -> Vec<Frame> {
    let mut f = Frame::with_type(REQ_GET_WRITE_COUNTER);
    f.set_nonce(nonce);
    vec![f]
}

/// A DATA_WRITE request as Trusty builds it: every frame carries counter, address and
/// count; the MAC over all of them goes in the last one; a RESULT_READ follows.
fn write(key: &[u8; 32], counter: u32, address: u16, blocks: &[[u8; 256]]) -> Vec<Frame> {
    let mut frames: Vec<Frame> = blocks
        .iter()
        .map(|data| {
            let mut f = Frame::with_type(REQ_DATA_WRITE);
            f.set_data(data);
            f.set_write_counter(counter);
            f.set_address(address);
            f.set_block_count(blocks.len() as u16);
            f
        })
        .collect();
    let mac = client_mac(key, &frames);
    frames.last_mut().unwrap().set_key_mac(&mac);
    frames.push(result_read());
    frames
}

fn read(address: u16, block_count: u16) -> Vec<Frame> {
    let mut f = Frame::with_type(REQ_DATA_READ);
    f.set_nonce(&NONCE);
    f.set_address(address);
    f.set_block_count(block_count);
    vec![f]
}

fn read_data(e: &mut RpmbEngine<MemoryRpmb>, address: u16, n: u16) -> Vec<u8> {
    let r = e.process(&read(address, n), usize::from(n));
    assert_eq!(r.len(), usize::from(n));
    assert!(r.iter().all(|f| result_of(f) == RES_OK));
    assert!(mac_ok(&KEY, &r));
    r.iter().flat_map(|f| f.data().to_vec()).collect()
}

#[test]
fn program_key_once_then_refuse_reprogramming() {
    let mut e = engine(512);
    let r = e.process(&program_key(&KEY), 1);
    assert_eq!(r.len(), 1);
    assert_eq!(type_of(&r[0]), 0x0100);
    assert_eq!(result_of(&r[0]), RES_OK);
    assert!(e.storage().key_programmed());

    let r = e.process(&program_key(&[0xee; 32]), 1);
    assert_eq!(type_of(&r[0]), 0x0100);
    assert_eq!(result_of(&r[0]), RES_WRITE_FAILURE);
    // The original key is still the one in use.
    let r = e.process(&get_counter(&NONCE), 1);
    assert!(mac_ok(&KEY, &r));
}

#[test]
fn program_key_block_count_and_sequence_rules() {
    let mut e = engine(512);
    let mut req = program_key(&KEY);
    req[0].set_block_count(2);
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_GENERAL_FAILURE);
    assert!(!e.storage().key_programmed());
    // Two key frames in one request is malformed.
    let mut req = program_key(&KEY);
    req.insert(0, req[0].clone());
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_GENERAL_FAILURE);
    assert!(!e.storage().key_programmed());
    // Block count 1 (virtio drivers) is accepted like 0 (Trusty).
    let mut req = program_key(&KEY);
    req[0].set_block_count(1);
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_OK);
}

#[test]
fn get_counter_without_key_reports_no_auth_key() {
    let mut e = engine(512);
    let r = e.process(&get_counter(&NONCE), 1);
    assert_eq!(r.len(), 1);
    assert_eq!(type_of(&r[0]), 0x0200);
    assert_eq!(result_of(&r[0]), RES_NO_AUTH_KEY);
    assert_eq!(r[0].nonce(), &NONCE);
}

#[test]
fn get_counter_echoes_nonce_and_is_authenticated() {
    let mut e = keyed_engine(512);
    let r = e.process(&get_counter(&NONCE), 1);
    assert_eq!(type_of(&r[0]), 0x0200);
    assert_eq!(result_of(&r[0]), RES_OK);
    assert_eq!(counter_of(&r[0]), 0);
    assert_eq!(&r[0].as_bytes()[484..500], &NONCE);
    assert!(mac_ok(&KEY, &r));
    assert!(!mac_ok(&[0; 32], &r));
}

#[test]
fn single_and_multi_block_writes_then_reads() {
    let mut e = keyed_engine(512);
    let r = e.process(&write(&KEY, 0, 7, &[[0xa5; 256]]), 1);
    assert_eq!(r.len(), 1);
    assert_eq!(type_of(&r[0]), 0x0300);
    assert_eq!(result_of(&r[0]), RES_OK);
    assert_eq!(counter_of(&r[0]), 1);
    assert_eq!(be16(&r[0], 504), 7);
    assert!(mac_ok(&KEY, &r));

    let r = e.process(&write(&KEY, 1, 510, &[[1; 256], [2; 256]]), 1);
    assert_eq!(result_of(&r[0]), RES_OK);
    assert_eq!(counter_of(&r[0]), 2);
    assert_eq!(e.storage().write_counter(), 2);

    // Read with an explicit block count (virtio / UFS).
    let r = e.process(&read(509, 3), 3);
    // Three blocks exceed max_rd_cnt (2): refused, answered in as many frames as allowed.
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|f| result_of(f) == RES_GENERAL_FAILURE));

    let r = e.process(&read(510, 2), 2);
    assert_eq!(r.len(), 2);
    for f in &r {
        assert_eq!(type_of(f), 0x0400);
        assert_eq!(result_of(f), RES_OK);
        assert_eq!(f.nonce(), &NONCE);
        assert_eq!(be16(f, 504), 510);
        assert_eq!(be16(f, 506), 2);
    }
    assert_eq!(r[0].data(), &[1; 256]);
    assert_eq!(r[1].data(), &[2; 256]);
    // The MAC is chained over both response frames and sits in the last one.
    assert!(mac_ok(&KEY, &r));
    assert!(!mac_ok(&KEY, &r[1..]));
    assert_eq!(r[0].key_mac(), &[0; 32]);

    // Read with block count 0: the response slots set the count (eMMC, Trusty).
    let r = e.process(&read(7, 0), 1);
    assert_eq!(r.len(), 1);
    assert_eq!(result_of(&r[0]), RES_OK);
    assert_eq!(r[0].data(), &[0xa5; 256]);
    assert_eq!(be16(&r[0], 506), 1);
    assert!(mac_ok(&KEY, &r));
}

#[test]
fn bad_mac_is_an_auth_failure_and_writes_nothing() {
    let mut e = keyed_engine(512);
    let mut req = write(&[0x11; 32], 0, 0, &[[9; 256]]);
    let r = e.process(&req, 1);
    assert_eq!(result_of(&r[0]), RES_AUTH_FAILURE);
    // Tampering with the data after MACing is caught too.
    req = write(&KEY, 0, 0, &[[9; 256], [9; 256]]);
    let mut tampered = *req[0].data();
    tampered[100] ^= 1;
    req[0].set_data(&tampered);
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_AUTH_FAILURE);
    assert_eq!(e.storage().write_counter(), 0);
    assert_eq!(read_data(&mut e, 0, 2), vec![0; 512]);
}

#[test]
fn replayed_write_is_a_count_failure() {
    let mut e = keyed_engine(512);
    let req = write(&KEY, 0, 3, &[[4; 256]]);
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_OK);
    let newer = write(&KEY, 1, 3, &[[5; 256]]);
    assert_eq!(result_of(&e.process(&newer, 1)[0]), RES_OK);
    let r = e.process(&req, 1);
    assert_eq!(result_of(&r[0]), RES_COUNT_FAILURE);
    assert_eq!(counter_of(&r[0]), 2);
    assert!(mac_ok(&KEY, &r));
    assert_eq!(read_data(&mut e, 3, 1), vec![5; 256]);
    // A counter from the future is refused as well.
    let ahead = write(&KEY, 9, 3, &[[6; 256]]);
    assert_eq!(result_of(&e.process(&ahead, 1)[0]), RES_COUNT_FAILURE);
}

#[test]
fn out_of_range_is_an_address_failure() {
    let mut e = keyed_engine(512);
    let r = e.process(&write(&KEY, 0, 511, &[[1; 256], [2; 256]]), 1);
    assert_eq!(result_of(&r[0]), RES_ADDR_FAILURE);
    let r = e.process(&write(&KEY, 0, 512, &[[1; 256]]), 1);
    assert_eq!(result_of(&r[0]), RES_ADDR_FAILURE);
    let r = e.process(&write(&KEY, 0, u16::MAX, &[[1; 256]]), 1);
    assert_eq!(result_of(&r[0]), RES_ADDR_FAILURE);
    assert_eq!(e.storage().write_counter(), 0);
    let r = e.process(&read(511, 2), 2);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|f| result_of(f) == RES_ADDR_FAILURE));
    let r = e.process(&read(u16::MAX, 1), 1);
    assert_eq!(result_of(&r[0]), RES_ADDR_FAILURE);
}

#[test]
fn no_key_refuses_writes_and_reads() {
    let mut e = engine(512);
    let r = e.process(&write(&KEY, 0, 0, &[[1; 256]]), 1);
    assert_eq!(type_of(&r[0]), 0x0300);
    assert_eq!(result_of(&r[0]), RES_NO_AUTH_KEY);
    let r = e.process(&read(0, 1), 1);
    assert_eq!(type_of(&r[0]), 0x0400);
    assert_eq!(result_of(&r[0]), RES_NO_AUTH_KEY);
    assert_eq!(r[0].key_mac(), &[0; 32]);
}

#[test]
fn block_counts_beyond_limits_are_general_failures() {
    let mut e = keyed_engine(512);
    let r = e.process(&write(&KEY, 0, 0, &[[1; 256]; 3]), 1);
    assert_eq!(result_of(&r[0]), RES_GENERAL_FAILURE);
    // Declared count disagreeing with the frames sent.
    let mut req = write(&KEY, 0, 0, &[[1; 256]; 2]);
    for f in &mut req[..2] {
        f.set_block_count(1);
    }
    let mac = client_mac(&KEY, &req[..2]);
    req[1].set_key_mac(&mac);
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_GENERAL_FAILURE);
    assert_eq!(e.storage().write_counter(), 0);
    // A read asking for more blocks than the caller can receive.
    let r = e.process(&read(0, 2), 1);
    assert_eq!(result_of(&r[0]), RES_GENERAL_FAILURE);
    // Larger limits are honoured.
    let mut big = RpmbEngine::new(
        MemoryRpmb::new(512).unwrap(),
        EngineLimits {
            max_write_blocks: 4,
            max_read_blocks: 8,
        },
    )
    .unwrap();
    big.process(&program_key(&KEY), 1);
    let r = big.process(&write(&KEY, 0, 0, &[[3; 256]; 4]), 1);
    assert_eq!(result_of(&r[0]), RES_OK);
    let r = big.process(&read(0, 8), 8);
    assert_eq!(r.len(), 8);
    assert!(mac_ok(&KEY, &r));
    assert_eq!(r[3].data(), &[3; 256]);
    assert_eq!(r[4].data(), &[0; 256]);
    assert_eq!(big.config_space(), [1, 4, 8]);
}

#[test]
fn counter_expiry_is_flagged_and_stops_writes() {
    let storage = MemoryRpmb::new(512)
        .unwrap()
        .with_write_counter(MAX_WRITE_COUNTER - 1);
    let mut e = RpmbEngine::new(storage, EngineLimits::default()).unwrap();
    e.process(&program_key(&KEY), 1);
    let r = e.process(&write(&KEY, MAX_WRITE_COUNTER - 1, 0, &[[8; 256]]), 1);
    // The write that reaches the maximum succeeds, and already reports expiry.
    assert_eq!(result_of(&r[0]), RES_OK | RES_WRITE_COUNTER_EXPIRED);
    assert_eq!(result_of(&r[0]), 0x0080);
    assert_eq!(counter_of(&r[0]), u32::MAX);
    let r = e.process(&write(&KEY, u32::MAX, 0, &[[9; 256]]), 1);
    assert_eq!(result_of(&r[0]), 0x0085);
    assert!(mac_ok(&KEY, &r));
    let r = e.process(&get_counter(&NONCE), 1);
    assert_eq!(result_of(&r[0]), 0x0080);
    assert_eq!(counter_of(&r[0]), u32::MAX);
    assert_eq!(read_data_expired(&mut e), vec![8; 256]);
}

fn read_data_expired(e: &mut RpmbEngine<MemoryRpmb>) -> Vec<u8> {
    let r = e.process(&read(0, 1), 1);
    assert_eq!(result_of(&r[0]), RES_WRITE_COUNTER_EXPIRED);
    r[0].data().to_vec()
}

/// Storage whose I/O fails, to reach WRITE_FAILURE and READ_FAILURE.
struct BrokenDisk(MemoryRpmb);

impl RpmbStorage for BrokenDisk {
    fn capacity_blocks(&self) -> u32 {
        self.0.capacity_blocks()
    }
    fn key_programmed(&self) -> bool {
        self.0.key_programmed()
    }
    fn write_counter(&self) -> u32 {
        self.0.write_counter()
    }
    fn program_key(&mut self, key: &RpmbKey) -> Result<(), StorageError> {
        self.0.program_key(key)
    }
    fn keyed_mac(&self) -> Option<RpmbMac> {
        self.0.keyed_mac()
    }
    fn read_blocks(&mut self, _: u16, _: &mut [u8]) -> Result<(), StorageError> {
        Err(StorageError::Io(std::io::Error::other("EIO")))
    }
    fn write_blocks(&mut self, _: u16, _: &[u8]) -> Result<u32, StorageError> {
        Err(StorageError::Io(std::io::Error::other("EIO")))
    }
}

#[test]
fn storage_errors_are_write_and_read_failures() {
    let mut e = RpmbEngine::new(
        BrokenDisk(MemoryRpmb::new(512).unwrap()),
        EngineLimits::default(),
    )
    .unwrap();
    assert_eq!(result_of(&e.process(&program_key(&KEY), 1)[0]), RES_OK);
    let r = e.process(&write(&KEY, 0, 0, &[[1; 256]]), 1);
    assert_eq!(result_of(&r[0]), RES_WRITE_FAILURE);
    assert_eq!(counter_of(&r[0]), 0);
    let r = e.process(&read(0, 1), 1);
    assert_eq!(result_of(&r[0]), RES_READ_FAILURE);
    assert_eq!(r[0].data(), &[0; 256]);
}

#[test]
fn result_read_returns_the_last_write_result() {
    let mut e = keyed_engine(512);
    // Nothing before a write-type request: the register after key programming.
    let r = e.process(&[result_read()], 1);
    assert_eq!(type_of(&r[0]), 0x0100);
    assert_eq!(result_of(&r[0]), RES_OK);
    // A write without RESULT_READ answers nothing but still happens.
    let mut req = write(&KEY, 0, 2, &[[6; 256]]);
    req.pop();
    assert!(e.process(&req, 1).is_empty());
    let r = e.process(&[result_read()], 1);
    assert_eq!(type_of(&r[0]), 0x0300);
    assert_eq!(result_of(&r[0]), RES_OK);
    assert_eq!(counter_of(&r[0]), 1);
    assert!(mac_ok(&KEY, &r));
    // A failed write is what the register then holds.
    let mut replay = write(&KEY, 0, 2, &[[6; 256]]);
    replay.pop();
    e.process(&replay, 0);
    assert_eq!(
        result_of(&e.process(&[result_read()], 1)[0]),
        RES_COUNT_FAILURE
    );
}

#[test]
fn result_read_before_any_write_is_a_general_failure() {
    let mut e = engine(512);
    let r = e.process(&[result_read()], 1);
    assert_eq!(r.len(), 1);
    assert_eq!(type_of(&r[0]), 0);
    assert_eq!(result_of(&r[0]), RES_GENERAL_FAILURE);
}

#[test]
fn malformed_sequences_are_general_failures() {
    let mut e = keyed_engine(512);
    // Unknown request type (secure write protect block read is not supported).
    let r = e.process(&[Frame::with_type(0x0007)], 1);
    assert_eq!(result_of(&r[0]), RES_GENERAL_FAILURE);
    // A read frame inside a write.
    let mut req = write(&KEY, 0, 0, &[[1; 256]]);
    req.insert(1, read(0, 1).remove(0));
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_GENERAL_FAILURE);
    // RESULT_READ after a counter read or a data read.
    let mut req = get_counter(&NONCE);
    req.push(result_read());
    let r = e.process(&req, 1);
    assert_eq!(type_of(&r[0]), 0x0200);
    assert_eq!(result_of(&r[0]), RES_GENERAL_FAILURE);
    let mut req = read(0, 1);
    req.push(result_read());
    assert_eq!(result_of(&e.process(&req, 1)[0]), RES_GENERAL_FAILURE);
    // Two RESULT_READs.
    assert_eq!(
        result_of(&e.process(&[result_read(), result_read()], 1)[0]),
        RES_GENERAL_FAILURE
    );
    assert_eq!(e.storage().write_counter(), 0);
    // Nothing in, nothing out; no room, no answer.
    assert!(e.process(&[], 4).is_empty());
    assert!(e.process(&get_counter(&NONCE), 0).is_empty());
}

#[test]
fn config_space_reports_capacity_in_128k_units() {
    assert_eq!(engine(512).config_space(), [1, 2, 2]);
    assert_eq!(engine(1023).config_space(), [1, 2, 2]);
    assert_eq!(engine(65536).config_space(), [0x80, 2, 2]);
    assert_eq!(engine(100).config_space(), [0, 2, 2]);
    assert!(RpmbEngine::new(
        MemoryRpmb::new(1).unwrap(),
        EngineLimits {
            max_write_blocks: 0,
            max_read_blocks: 1
        }
    )
    .is_err());
}

#[test]
fn file_backed_engine_keeps_key_counter_and_data_across_restarts() {
    use crate::hw::rpmb::file::FileRpmb;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmb.img");
    {
        let mut e = RpmbEngine::new(
            FileRpmb::create(&path, 512).unwrap(),
            EngineLimits::default(),
        )
        .unwrap();
        assert_eq!(result_of(&e.process(&program_key(&KEY), 1)[0]), RES_OK);
        let r = e.process(&write(&KEY, 0, 100, &[[0x3c; 256], [0xc3; 256]]), 1);
        assert_eq!(result_of(&r[0]), RES_OK);
    }
    let mut e = RpmbEngine::new(FileRpmb::open(&path).unwrap(), EngineLimits::default()).unwrap();
    let r = e.process(&get_counter(&NONCE), 1);
    assert_eq!(counter_of(&r[0]), 1);
    assert!(mac_ok(&KEY, &r));
    let r = e.process(&read(100, 2), 2);
    assert!(mac_ok(&KEY, &r));
    assert_eq!(r[0].data(), &[0x3c; 256]);
    assert_eq!(r[1].data(), &[0xc3; 256]);
    assert_eq!(
        result_of(&e.process(&program_key(&[0; 32]), 1)[0]),
        RES_WRITE_FAILURE
    );
}

/// xorshift64*: deterministic pseudo-random input without a test dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn arbitrary_requests_never_panic_and_the_counter_only_steps_forward() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut e = keyed_engine(512);
    let valid = [
        RESP_PROGRAM_KEY,
        RESP_GET_WRITE_COUNTER,
        RESP_DATA_WRITE,
        RESP_DATA_READ,
        0,
    ];
    let mut writes = 0u32;
    for _ in 0..3000 {
        let n = rng.below(5) as usize;
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            let mut f = Frame::with_type(rng.below(8) as u16);
            f.set_address(match rng.below(3) {
                0 => rng.below(520) as u16,
                1 => u16::MAX - rng.below(4) as u16,
                _ => rng.next() as u16,
            });
            f.set_block_count(rng.below(4) as u16);
            f.set_write_counter(if rng.below(2) == 0 {
                e.storage().write_counter()
            } else {
                rng.next() as u32
            });
            frames.push(f);
        }
        // Some of the writes carry a correct MAC so that the success path is exercised too.
        if n > 0 && rng.below(3) == 0 && frames.iter().all(|f| f.req_resp() == REQ_DATA_WRITE) {
            let mac = client_mac(&KEY, &frames);
            frames.last_mut().unwrap().set_key_mac(&mac);
        }
        let slots = rng.below(4) as usize;
        let before = e.storage().write_counter();
        let r = e.process(&frames, slots);
        let after = e.storage().write_counter();
        assert!(r.len() <= slots);
        assert!(r.iter().all(|f| valid.contains(&f.req_resp())), "{r:?}");
        assert!(after == before || after == before + 1);
        writes += after - before;
    }
    assert!(writes > 0, "the success path was never reached");
}
