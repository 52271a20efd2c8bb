//! Crash test: clients perform authenticated writes through the running service while it
//! is SIGKILLed at random points, 200 times. After each restart every acknowledged write
//! reads back intact (MAC verified) and the write counter equals the number of acknowledged
//! writes, or one more when the write in flight at the kill had landed (then its data must
//! be there, whole). Two RPMBs are crashed together: an image of its own (2-block writes)
//! and a slot of a shared physical RPMB (the virtual RPMB's journalled two-step write).
//!
//! Set RPMB_CRASH_SEED to replay a run; RPMB_CRASH_ROUNDS to change the count.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drivervm::devices::rpmb::constants::*;
use drivervm::devices::rpmb::frame::Frame;
use support::rpmb::{mac, Client, Link};
use support::Service;

const CONFIG: &str = r#"
[[guest]]
name = "own"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "own.sock" } }
rpmb = { capacity_blocks = 16, max_wr_cnt = 2, max_rd_cnt = 8 }

[[guest]]
name = "shared"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "shared.sock" } }
rpmb = { store = "phys", offset = 8, capacity_blocks = 16, max_wr_cnt = 1, max_rd_cnt = 8 }

[[rpmb_store]]
name = "phys"
path = "phys.img"
capacity_blocks = 64
max_wr_cnt = 2
max_rd_cnt = 4
"#;

const SOCKETS: [&str; 2] = ["own.sock", "shared.sock"];
const CAPACITY: u16 = 16;

/// One authenticated write: the counter it was signed with, where, what.
#[derive(Clone, Debug)]
struct Write1 {
    counter: u32,
    address: u16,
    blocks: Vec<[u8; 256]>,
}

/// What a writer saw: acknowledged writes in order, and the one in flight.
#[derive(Default)]
struct History {
    acked: Vec<Write1>,
    in_flight: Option<Write1>,
}

/// The write a writer makes at `counter` on device `tag`: deterministic, so a torn or
/// misplaced block is recognisable.
fn planned(tag: u8, counter: u32, max_blocks: u16) -> Write1 {
    let n = if max_blocks > 1 && counter % 2 == 0 {
        2
    } else {
        1
    };
    let address = (counter.wrapping_mul(7) % u32::from(CAPACITY - n + 1)) as u16;
    let blocks = (0..n)
        .map(|i| {
            let mut b = [0u8; 256];
            for (j, byte) in b.iter_mut().enumerate() {
                *byte = (counter as usize * 31 + j * 7 + usize::from(i) * 13) as u8 ^ tag;
            }
            b[..4].copy_from_slice(&counter.to_le_bytes());
            b[4] = tag;
            b[5] = i as u8;
            b
        })
        .collect();
    Write1 {
        counter,
        address,
        blocks,
    }
}

fn exchange(s: &mut UnixStream, cmds: &[Frame], res: u16) -> std::io::Result<Vec<Frame>> {
    s.write_all(&res.to_ne_bytes())?;
    s.write_all(&(cmds.len() as u16).to_ne_bytes())?;
    s.write_all(&Frame::serialize_all(cmds))?;
    let mut out = vec![0u8; usize::from(res) * 512];
    s.read_exact(&mut out)?;
    Frame::parse_all(&out).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Writes on `s` until the service dies; records each write before sending it.
fn writer(mut s: UnixStream, key: [u8; 32], tag: u8, max: u16, h: Arc<Mutex<History>>) {
    loop {
        let w = {
            let mut h = h.lock().unwrap();
            let w = planned(tag, h.acked.len() as u32, max);
            h.in_flight = Some(w.clone());
            w
        };
        let mut frames: Vec<Frame> = w
            .blocks
            .iter()
            .map(|b| {
                let mut f = Frame::with_type(REQ_DATA_WRITE);
                f.set_address(w.address);
                f.set_block_count(w.blocks.len() as u16);
                f.set_write_counter(w.counter);
                f.set_data(b);
                f
            })
            .collect();
        let tag = mac(&key, &frames);
        frames.last_mut().unwrap().set_key_mac(&tag);
        frames.push(Frame::with_type(REQ_RESULT_READ));
        let Ok(r) = exchange(&mut s, &frames, 1) else {
            return;
        };
        assert_eq!(
            r[0].result(),
            RES_OK,
            "write at counter {} refused",
            w.counter
        );
        assert_eq!(r[0].write_counter(), w.counter + 1);
        let mut h = h.lock().unwrap();
        h.acked.push(w);
        h.in_flight = None;
    }
}

/// Checks the device against the history after a crash and folds in a write that landed.
fn verify(svc: &Service, socket: &str, key: [u8; 32], h: &mut History, round: usize) {
    let stream = UnixStream::connect(svc.socket(socket)).unwrap();
    let mut c = Client::new(Link::Socket(stream), key);
    let (result, counter) = c.counter();
    assert_eq!(result, RES_OK);
    let acked = h.acked.len() as u32;
    match h.in_flight.take() {
        Some(w) if counter == acked + 1 => h.acked.push(w),
        _ => assert_eq!(
            counter, acked,
            "{socket} round {round}: counter {counter} after {acked} acknowledged writes"
        ),
    }
    // What each block must hold: the last write that covered it.
    let mut expect = vec![[0u8; 256]; usize::from(CAPACITY)];
    for w in &h.acked {
        for (i, b) in w.blocks.iter().enumerate() {
            expect[usize::from(w.address) + i] = *b;
        }
    }
    let mut got = Vec::new();
    for start in (0..CAPACITY).step_by(8) {
        let frames = c.read(start, 8);
        assert_eq!(frames[0].result(), RES_OK);
        got.extend(frames.iter().map(|f| *f.data()));
    }
    for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
        assert!(
            g == e,
            "{socket} round {round}: block {i} holds write {} (tag {}), expected write {}",
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            g[4],
            u32::from_le_bytes([e[0], e[1], e[2], e[3]])
        );
    }
}

/// xorshift64*, enough for kill timing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_at_random_points() {
    let seed = std::env::var("RPMB_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 | 1)
        });
    let rounds: usize = std::env::var("RPMB_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    eprintln!("RPMB_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let mut svc = Service::start(CONFIG, &SOCKETS);
    let devices = [
        ("own.sock", [0x0a; 32], 0xa0u8, 2u16),
        ("shared.sock", [0x0b; 32], 0xb0, 1),
    ];
    for (socket, key, ..) in devices {
        let stream = UnixStream::connect(svc.socket(socket)).unwrap();
        assert_eq!(Client::new(Link::Socket(stream), key).program_key(), RES_OK);
    }
    let histories: Vec<Arc<Mutex<History>>> = devices.iter().map(|_| Arc::default()).collect();
    let mut landed_in_flight = 0;
    for round in 0..rounds {
        let writers: Vec<_> = devices
            .iter()
            .zip(&histories)
            .map(|(&(socket, key, tag, max), h)| {
                // Connected here, so a writer never reaches the restarted service.
                let stream = UnixStream::connect(svc.socket(socket)).unwrap();
                let h = h.clone();
                std::thread::spawn(move || writer(stream, key, tag, max, h))
            })
            .collect();
        std::thread::sleep(Duration::from_micros(rng.next() % 15_000));
        svc.crash_and_restart(&SOCKETS);
        for w in writers {
            w.join().expect("writer");
        }
        for ((socket, key, ..), h) in devices.iter().zip(&histories) {
            let mut h = h.lock().unwrap();
            let before = h.acked.len();
            let had_in_flight = h.in_flight.is_some();
            verify(&svc, socket, *key, &mut h, round);
            if had_in_flight && h.acked.len() > before {
                landed_in_flight += 1;
            }
        }
    }
    let totals: Vec<usize> = histories
        .iter()
        .map(|h| h.lock().unwrap().acked.len())
        .collect();
    eprintln!(
        "{rounds} crashes; writes per device {totals:?}; {landed_in_flight} unacknowledged \
         writes had landed"
    );
    // The test must have done real work on both devices.
    assert!(totals.iter().all(|&t| t >= rounds / 4), "{totals:?}");
}
