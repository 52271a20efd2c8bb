//! Hostile guests against the device models, end to end over vhost-user with the real
//! service process: a guest that declares gigabytes of writable buffer (overlapping
//! descriptors over the same guest memory) must cost the service no memory or work sized by
//! it, and the device must keep answering, this frontend and the next.

mod support;

use std::time::Duration;

use drivervm::harness::{Harness, HarnessOptions, GUEST_MEMORY_BASE};
use support::Service;
use vm_memory::{Bytes, GuestAddress};

const CONFIG: &str = r#"
[[guest]]
name = "vm0"

[[guest.device]]
kind = "sound"
"#;
const SOCKET: &str = "vm0-sound.sock";

const CONTROLQ: u16 = 0;
const TXQ: u16 = 2;
const RXQ: u16 = 3;
const PCM_INFO: u32 = 0x100;
const OK: u32 = 0x8000;
const BAD_MSG: u32 = 0x8001;

/// One GiB: four such descriptors over the same memory are the issue's reproduction.
const GIB: u32 = 1 << 30;
/// RSS the service may gain from the whole attack (the issue's bound).
const MAX_RSS_GROWTH_KIB: u64 = 16 * 1024;

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The service's resident set, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

fn connect(svc: &Service) -> Harness {
    let opts = HarnessOptions {
        // Room for 1 GiB descriptors; a sparse memfd, so only touched pages cost memory.
        memory_size: GIB as usize + (16 << 20),
        timeout: Duration::from_secs(20),
        ..HarnessOptions::default()
    };
    Harness::connect(svc.socket(SOCKET), 4, &opts)
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", svc.log()))
}

/// PCM_INFO for stream 0 answers OK: the device serves.
fn assert_answers(h: &mut Harness, svc: &Service) {
    let reply = h
        .request(CONTROLQ, &words(&[PCM_INFO, 0, 1, 32]), 4 + 32)
        .unwrap_or_else(|e| panic!("PCM_INFO: {e}\n{}", svc.log()));
    assert_eq!(reply[..4], OK.to_le_bytes());
}

/// Sends an I/O message whose writable part is `count` overlapping GiB descriptors and
/// waits for it; returns its used length and the last 8 bytes of the writable part.
fn huge_io(
    h: &mut Harness,
    svc: &Service,
    queue: u16,
    stream: u32,
    count: usize,
) -> (u32, [u8; 8]) {
    // Past the rings and the harness's small buffers, which live at the start of memory.
    let at = GUEST_MEMORY_BASE + (8 << 20);
    let end = GuestAddress(at + u64::from(GIB) - 8);
    h.guest_memory()
        .memory()
        .write_slice(&[0xa5; 8], end)
        .expect("mark the status slot");
    let head = h
        .add_raw_writable(queue, &words(&[stream]), &vec![(at, GIB); count])
        .expect("post the chain");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = match h.wait_completions(queue, Duration::from_secs(1)) {
            Ok(done) => done,
            Err(drivervm::harness::Error::Timeout { .. }) => Vec::new(),
            Err(e) => panic!("completions: {e}\n{}", svc.log()),
        };
        if let Some(c) = done.iter().find(|c| c.head == head) {
            let mut last = [0u8; 8];
            h.guest_memory()
                .memory()
                .read_slice(&mut last, end)
                .expect("read the status slot");
            return (c.len, last);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the device never returned the chain\n{}",
            svc.log()
        );
    }
}

#[test]
fn gigabyte_writable_parts_cost_no_memory_and_the_device_keeps_serving() {
    let svc = Service::start(CONFIG, &[SOCKET]);
    let mut h = connect(&svc);
    assert_answers(&mut h, &svc);
    let before = rss_kib(svc.pid());

    // The issue's case: a TX message for no stream, four 1 GiB writable descriptors.
    let (used, _) = huge_io(&mut h, &svc, TXQ, 99, 4);
    // 4 GiB cannot be a used length: refused (used length 0) is the only honest answer.
    assert_eq!(used, 0);

    // Three GiB: answered BAD_MSG at the very end, or refused outright by a writable cap;
    // either way nothing before the status is written.
    for (queue, stream) in [(TXQ, 99), (RXQ, 99), (RXQ, 1), (RXQ, 0)] {
        let (used, last) = huge_io(&mut h, &svc, queue, stream, 3);
        let mut status = BAD_MSG.to_le_bytes().to_vec();
        status.extend_from_slice(&[0; 4]);
        match used {
            0 => assert_eq!(last, [0xa5; 8], "a refused chain is not written"),
            n => {
                assert_eq!(n, 3 * GIB, "queue {queue} stream {stream}");
                assert_eq!(last.to_vec(), status, "queue {queue} stream {stream}");
            }
        }
    }
    assert_answers(&mut h, &svc);
    let grown = rss_kib(svc.pid()).saturating_sub(before);
    assert!(
        grown < MAX_RSS_GROWTH_KIB,
        "the service grew by {grown} KiB\n{}",
        svc.log()
    );

    // The next frontend is served too.
    h.disconnect().expect("disconnect");
    let mut h = connect(&svc);
    assert_answers(&mut h, &svc);
}
