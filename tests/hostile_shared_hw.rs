//! Hostile guests against shared hardware (issue 14, "fair shared hardware"), end to end
//! over vhost-user and the Gunyah simulator: one guest tries to pin what it shares with
//! others (a clock's mux, an exclusive audio output, a physical RPMB), or to make the
//! service wake too often (tiny audio periods), or a client pins the rpmb_dev socket.
//! Each attack runs in rounds while a bystander guest's SCMI device serves a benign load;
//! afterwards every test checks issue 14's criteria ([`support::hostile`]): the process is
//! alive, RSS and log barely grew, the service is idle again, the benign load never
//! stalled, the attacked device answers a new frontend, and the other guest got its share.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drivervm::devices::rpmb::constants::*;
use drivervm::harness::{Driver, HarnessOptions};
use support::agent::Agent;
use support::hostile::{self, version_ok, Baseline, BenignLoad};
use support::rpmb::{options as rpmb_options, Client, Link};
use support::scmi::{header, DENIED, NOTIFICATION};
use support::transport::{Served, Transport};

over_both_transports!(
    clock_reparent_by_a_non_owner_is_refused_and_rate_changes_reach_every_subscriber,
    an_exclusive_output_is_released_on_stop_and_after_its_idle_timeout,
    an_rpmb_write_flood_is_held_to_the_guests_budget_and_the_other_guest_is_served,
    periods_below_the_minimum_are_refused,
);

/// One at a time: the Gunyah service runs in this process, whose memory and CPU are
/// measured.
static SERIAL: Mutex<()> = Mutex::new(());

/// Attack rounds per test.
const ROUNDS: usize = 4;
/// Every thread the service names (on Gunyah it shares this process with the test).
const SERVICE_THREADS: &[&str] = &["vm", "by-", "mix-", "gunyah-"];
/// The bystander: a guest with an SCMI device that only serves the benign load.
const BYSTANDER: &str = r#"
[[guest]]
name = "by"
[[guest.device]]
kind = "scmi"
"#;
const BENIGN: &str = "by-scmi";

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn start(t: Transport, config: &str) -> Served {
    Served::start(t, &format!("{config}{BYSTANDER}"))
}

// ---- Clocks -------------------------------------------------------------------------------

/// "mux" belongs to vm1 (owner policy); vm0 shares it, vm2 only watches it. Each agent
/// numbers its clocks in grant order: mux 0, xo 1, pll 2.
const CLOCKS: &str = r#"
[soc]
vendor = "drivervm-test"

[[soc.clock]]
name = "xo"
rates = [19200000]
always_on = true

[[soc.clock]]
name = "pll"
range = { min = 300000000, max = 1200000000, step = 100000000 }
rate = 600000000
parents = ["xo"]

[[soc.clock]]
name = "mux"
rates = [19200000, 48000000, 100000000]
rate = 19200000
parents = ["xo", "pll"]
policy = "owner:vm1"

[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
clocks = ["mux", "xo:read-only", "pll"]

[[guest]]
name = "vm1"
[[guest.device]]
kind = "scmi"
clocks = ["mux", "xo:read-only", "pll"]

[[guest]]
name = "vm2"
[[guest.device]]
kind = "scmi"
clocks = ["mux"]
"#;

const CLOCK: u8 = 0x14;
const RATE_SET: u8 = 5;
const RATE_GET: u8 = 6;
const RATE_NOTIFY: u8 = 9;
const PARENT_SET: u8 = 0xd;
const PARENT_GET: u8 = 0xe;
const MUX: u32 = 0;
const XO: u32 = 1;
const PLL: u32 = 2;
/// Agent ID of vm1 (agents are numbered from 1 in config order).
const VM1_AGENT: u32 = 2;
/// Refused reparent requests per round.
const REPARENTS: usize = 200;

fn clock_reparent_by_a_non_owner_is_refused_and_rate_changes_reach_every_subscriber(t: Transport) {
    let _serial = serial();
    let svc = start(t, CLOCKS);
    let mut attacker = Agent::attach(&svc, "vm0-scmi", true);
    let mut owner = Agent::attach(&svc, "vm1-scmi", true);
    let mut watcher = Agent::attach(&svc, "vm2-scmi", true);
    // The owner may reparent its clock.
    owner.ok(CLOCK, PARENT_SET, &[MUX, PLL]);
    assert_eq!(owner.ok(CLOCK, PARENT_GET, &[MUX]), [PLL]);
    for a in [&mut attacker, &mut watcher] {
        a.ok(CLOCK, RATE_NOTIFY, &[MUX, 1]);
        a.post_event_buffers(4);
    }

    let load = BenignLoad::scmi_versions(&svc, BENIGN);
    let baseline = Baseline::take(&svc, SERVICE_THREADS);
    let windows = hostile::rounds(ROUNDS, |_| {
        for _ in 0..REPARENTS {
            assert_eq!(
                attacker.status(CLOCK, PARENT_SET, &[MUX, XO]),
                DENIED,
                "only the owner reparents mux"
            );
        }
    });
    let (mut benign, samples) = load.stop();
    let what = format!("{t:?} clock reparent by a non-owner");
    hostile::check_neighbour(&what, &samples, &windows);
    baseline.check_after(&svc, &what);

    // The parent is the owner's choice, as the owner and everyone else see it; nothing
    // the attacker did was announced as a change.
    assert_eq!(owner.ok(CLOCK, PARENT_GET, &[MUX]), [PLL]);
    assert_eq!(attacker.ok(CLOCK, PARENT_GET, &[MUX]), [PLL]);
    watcher.assert_no_event(Duration::from_millis(100));
    // The owner's rate change reaches every agent that asked for rate changes.
    owner.ok(CLOCK, RATE_SET, &[0, MUX, 48_000_000, 0]);
    let changed = vec![
        header(CLOCK, 0, 0) | NOTIFICATION,
        VM1_AGENT,
        MUX,
        48_000_000,
        0,
    ];
    for (who, a) in [("vm0", &mut attacker), ("vm2", &mut watcher)] {
        assert_eq!(
            a.events(Duration::from_secs(5)),
            std::slice::from_ref(&changed),
            "{who}: rate change\n{}",
            svc.log()
        );
        assert_eq!(a.ok(CLOCK, RATE_GET, &[MUX]), [48_000_000, 0]);
    }

    // The attacker's device answers its next frontend; the bystander never noticed.
    attacker.h.disconnect().expect("disconnect");
    let mut next = Agent::attach(&svc, "vm0-scmi", true);
    assert_eq!(next.ok(CLOCK, PARENT_GET, &[MUX]), [PLL]);
    version_ok(next.h.as_mut(), 1);
    version_ok(benign.as_mut(), 1);
}

// ---- Sound --------------------------------------------------------------------------------

/// vm0 and vm1 play into one exclusive output; their streams refuse periods under 5 ms.
const SOUND: &str = r#"
[[output]]
name = "amp"
policy = "exclusive"
exclusive_idle_timeout_ms = 300

[[guest]]
name = "vm0"
[[guest.device]]
kind = "sound"
[[guest.device.stream]]
name = "Master"
output = "amp"
channels_min = 2
min_period_us = 5000

[[guest]]
name = "vm1"
[[guest.device]]
kind = "sound"
[[guest.device.stream]]
name = "Master"
output = "amp"
channels_min = 2
min_period_us = 5000
"#;

const CONTROLQ: u16 = 0;
const TXQ: u16 = 2;
const OK: u32 = 0x8000;
const BAD_MSG: u32 = 0x8001;
const NOT_SUPP: u32 = 0x8002;
const IO_ERR: u32 = 0x8003;
const PCM_INFO: u32 = 0x100;
const SET_PARAMS: u32 = 0x101;
const PREPARE: u32 = 0x102;
const RELEASE: u32 = 0x103;
const START: u32 = 0x104;
const STOP: u32 = 0x105;
const STREAM: u32 = 0;
const S16: u8 = 5;
const R48000: u8 = 7;
/// Bytes per frame: S16 stereo.
const FRAME: u32 = 4;
/// 10 ms at 48 kHz.
const PERIOD: u32 = 480 * FRAME;
/// The streams' min_period_us in bytes: 5 ms at 48 kHz.
const MIN_PERIOD: u32 = 240 * FRAME;
/// The output's exclusive_idle_timeout_ms.
const IDLE_TIMEOUT: Duration = Duration::from_millis(300);
/// Refused STARTs (or tiny SET_PARAMS) per round.
const REFUSED_PER_ROUND: usize = 50;

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn status(d: &mut dyn Driver, req: &[u8]) -> u32 {
    let r = d.request(CONTROLQ, req, 64).expect("control request");
    u32::from_le_bytes([r[0], r[1], r[2], r[3]])
}

fn pcm(d: &mut dyn Driver, code: u32) -> u32 {
    status(d, &words(&[code, STREAM]))
}

fn set_params(d: &mut dyn Driver, period: u32) -> u32 {
    let mut r = words(&[SET_PARAMS, STREAM, period * 4, period, 0]);
    r.extend_from_slice(&[2, S16, R48000, 0]);
    status(d, &r)
}

fn sound(svc: &Served, id: &str) -> Box<dyn Driver> {
    let mut d = svc.connect(id, 4, &HarnessOptions::default());
    assert_eq!(status(d.as_mut(), &words(&[PCM_INFO, 0, 1, 32])), OK);
    d
}

fn prepared(svc: &Served, id: &str) -> Box<dyn Driver> {
    let mut d = sound(svc, id);
    assert_eq!(set_params(d.as_mut(), PERIOD), OK);
    assert_eq!(pcm(d.as_mut(), PREPARE), OK);
    d
}

fn an_exclusive_output_is_released_on_stop_and_after_its_idle_timeout(t: Transport) {
    let _serial = serial();
    let svc = start(t, SOUND);
    let mut holder = prepared(&svc, "vm0-sound");
    let mut other = prepared(&svc, "vm1-sound");

    let load = BenignLoad::scmi_versions(&svc, BENIGN);
    let baseline = Baseline::take(&svc, SERVICE_THREADS);
    let mut waited = Vec::new();
    let windows = hostile::rounds(ROUNDS, |round| {
        assert_eq!(
            pcm(holder.as_mut(), START),
            OK,
            "round {round}: vm0 takes amp"
        );
        let held = Instant::now();
        // While vm0 holds it, vm1 is refused however often it asks.
        for _ in 0..REFUSED_PER_ROUND {
            assert_eq!(pcm(other.as_mut(), START), IO_ERR, "round {round}");
        }
        if round % 2 == 0 {
            // Released on STOP: vm1's next START succeeds at once.
            assert_eq!(pcm(holder.as_mut(), STOP), OK);
            assert_eq!(pcm(other.as_mut(), START), OK, "round {round}: after STOP");
        } else {
            // vm0 stays started and writes nothing: amp is free once the idle timeout
            // passed, not before.
            let deadline = held + IDLE_TIMEOUT + Duration::from_secs(5);
            while pcm(other.as_mut(), START) != OK {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: amp never freed\n{}",
                    svc.log()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            let after = held.elapsed();
            assert!(
                after >= IDLE_TIMEOUT,
                "round {round}: taken over after {after:?}"
            );
            waited.push(after);
            assert_eq!(pcm(holder.as_mut(), STOP), OK);
        }
        assert_eq!(pcm(other.as_mut(), STOP), OK);
    });
    let (mut benign, samples) = load.stop();
    let what = format!("{t:?} exclusive output held");
    eprintln!("{what}: idle owner's output taken over after {waited:?}");
    hostile::check_neighbour(&what, &samples, &windows);
    baseline.check_after(&svc, &what);

    for d in [&mut holder, &mut other] {
        assert_eq!(pcm(d.as_mut(), RELEASE), OK);
    }
    // The holder's device answers its next frontend, which may take the output.
    holder.disconnect().expect("disconnect");
    let mut next = prepared(&svc, "vm0-sound");
    assert_eq!(pcm(next.as_mut(), START), OK);
    assert_eq!(pcm(next.as_mut(), STOP), OK);
    version_ok(benign.as_mut(), 1);
}

fn periods_below_the_minimum_are_refused(t: Transport) {
    let _serial = serial();
    let svc = start(t, SOUND);
    let mut d = sound(&svc, "vm0-sound");

    let load = BenignLoad::scmi_versions(&svc, BENIGN);
    let baseline = Baseline::take(&svc, SERVICE_THREADS);
    let windows = hostile::rounds(ROUNDS, |round| {
        // One-frame periods, and one frame short of the minimum: refused.
        for i in 0..REFUSED_PER_ROUND {
            let period = if i % 2 == 0 {
                FRAME
            } else {
                MIN_PERIOD - FRAME
            };
            assert_eq!(
                set_params(d.as_mut(), period),
                NOT_SUPP,
                "round {round}: period of {period} bytes"
            );
        }
        // The minimum itself is fine; I/O messages shorter than it are refused too.
        assert_eq!(set_params(d.as_mut(), MIN_PERIOD), OK);
        assert_eq!(pcm(d.as_mut(), PREPARE), OK);
        for _ in 0..REFUSED_PER_ROUND {
            let mut msg = STREAM.to_le_bytes().to_vec();
            msg.extend_from_slice(&[0; FRAME as usize]);
            let r = d.request(TXQ, &msg, 8).expect("tiny I/O message");
            assert_eq!(
                r[..4],
                BAD_MSG.to_le_bytes(),
                "round {round}: one-frame I/O"
            );
        }
        assert_eq!(pcm(d.as_mut(), RELEASE), OK);
    });
    let (mut benign, samples) = load.stop();
    let what = format!("{t:?} periods below the minimum");
    hostile::check_neighbour(&what, &samples, &windows);
    baseline.check_after(&svc, &what);

    d.disconnect().expect("disconnect");
    let mut next = sound(&svc, "vm0-sound");
    assert_eq!(set_params(next.as_mut(), MIN_PERIOD), OK);
    version_ok(benign.as_mut(), 1);
}

// ---- RPMB ---------------------------------------------------------------------------------

/// vm0 and vm1 each have a slot of one physical RPMB, which allows each guest 60 writes a
/// minute.
const RPMB: &str = r#"
[[rpmb_store]]
name = "phys"
path = "phys.img"
capacity_blocks = 2048
max_wr_cnt = 2
max_rd_cnt = 4
guest_writes_per_minute = 60

[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
rpmb = { store = "phys", offset = 0, capacity_blocks = 512, max_wr_cnt = 1 }

[[guest]]
name = "vm1"
[[guest.device]]
kind = "rpmb"
rpmb = { store = "phys", offset = 514, capacity_blocks = 512, max_wr_cnt = 1 }
"#;
const WRITES_PER_MINUTE: u64 = 60;
/// Writes the flooding guest tries per round.
const FLOOD_WRITES: usize = 40;

fn rpmb_client(svc: &Served, id: &str, key: u8) -> Client {
    Client::new(Link::Virtio(svc.connect(id, 1, &rpmb_options())), [key; 32])
}

fn an_rpmb_write_flood_is_held_to_the_guests_budget_and_the_other_guest_is_served(t: Transport) {
    let _serial = serial();
    let svc = start(t, RPMB);
    let mut flooder = rpmb_client(&svc, "vm0-rpmb", 0xa0);
    let mut other = rpmb_client(&svc, "vm1-rpmb", 0xb0);
    assert_eq!(flooder.program_key(), RES_OK);
    assert_eq!(other.program_key(), RES_OK);

    let load = BenignLoad::scmi_versions(&svc, BENIGN);
    let baseline = Baseline::take(&svc, SERVICE_THREADS);
    let began = Instant::now();
    let (mut accepted, mut refused, mut other_writes) = (0u64, 0u64, 0u32);
    let windows = hostile::rounds(ROUNDS, |round| {
        for i in 0..FLOOD_WRITES {
            let w = flooder.write((i % 256) as u16, &[[round as u8; 256]]);
            match w.result() {
                RES_OK => accepted += 1,
                RES_WRITE_FAILURE => refused += 1,
                r => panic!("round {round}: write answered {r:#x}"),
            }
        }
        // The other guest's writes go through, whatever vm0 did to its own budget.
        let w = other.write(round as u16, &[[0xb1; 256]]);
        assert_eq!(w.result(), RES_OK, "round {round}: vm1's write");
        other_writes += 1;
    });
    let elapsed = began.elapsed();
    let (mut benign, samples) = load.stop();
    let what = format!("{t:?} RPMB write flood");
    eprintln!(
        "{what}: {accepted} writes accepted, {refused} refused in {elapsed:?} (budget \
         {WRITES_PER_MINUTE} a minute, a full bucket to start)"
    );
    hostile::check_neighbour(&what, &samples, &windows);
    baseline.check_after(&svc, &what);

    // A full bucket, then one write per second of refill at most.
    let allowed = WRITES_PER_MINUTE + elapsed.as_secs() + 1;
    assert!(
        (WRITES_PER_MINUTE..=allowed).contains(&accepted),
        "{accepted} writes accepted (budget allows {WRITES_PER_MINUTE} to {allowed})"
    );
    assert!(refused > 0, "the flood was never refused");
    // Refused writes never reached the part: the counter counts accepted ones only.
    assert_eq!(flooder.counter(), (RES_OK, accepted as u32));
    assert_eq!(other.counter(), (RES_OK, other_writes));

    // The flooder's device answers its next frontend (and its budget is still spent).
    drop(flooder);
    let mut next = rpmb_client(&svc, "vm0-rpmb", 0xa0);
    assert_eq!(next.counter(), (RES_OK, accepted as u32));
    version_ok(benign.as_mut(), 1);
}

// ---- The rpmb_dev socket (its own transport) -----------------------------------------------

/// vm0's RPMB is served on an rpmb_dev unix socket.
const RPMB_DEV: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "vm0-rpmb.sock" } }
rpmb = { capacity_blocks = 16 }
"#;

/// How long a client may take over a message (the transport's MESSAGE_TIMEOUT), plus a
/// busy machine's slack.
const MESSAGE_DEADLINE: Duration = Duration::from_secs(5 + 10);

fn rpmb_dev(svc: &Served) -> UnixStream {
    let s = UnixStream::connect(svc.runtime_dir().join("vm0-rpmb.sock")).expect("connect");
    s.set_read_timeout(Some(MESSAGE_DEADLINE))
        .expect("read timeout");
    s
}

/// Waits until the service closes `s`; returns how long that took.
fn closed_by_service(s: &mut UnixStream, what: &str) -> Duration {
    let start = Instant::now();
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return start.elapsed(),
            Ok(n) => panic!("{what}: {n} bytes of an answer to nothing"),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("{what}: not closed: {e}"),
        }
    }
}

/// A client that connects and sends nothing is replaced by the next one; one that sends
/// half a message is closed by the message timeout; either way the next client is served.
#[test]
fn rpmb_dev_clients_that_stall_are_closed_and_the_next_is_served() {
    let _serial = serial();
    let svc = start(Transport::VhostUser, RPMB_DEV);
    let load = BenignLoad::scmi_versions(&svc, BENIGN);
    let baseline = Baseline::take(&svc, SERVICE_THREADS);
    let mut half_closed = Vec::new();
    let windows = hostile::rounds(2, |round| {
        let mut silent = rpmb_dev(&svc);
        std::thread::sleep(Duration::from_millis(50));
        let mut half = rpmb_dev(&svc);
        closed_by_service(&mut silent, "a silent client, once another connected");
        // One response, one command frame, of which only 100 bytes come.
        half.write_all(&1u16.to_ne_bytes()).unwrap();
        half.write_all(&1u16.to_ne_bytes()).unwrap();
        half.write_all(&[0u8; 100]).unwrap();
        let took = closed_by_service(&mut half, "a client that sent half a frame");
        half_closed.push(took);
        // The next client is served.
        let mut c = Client::new(Link::Socket(rpmb_dev(&svc)), [0x11; 32]);
        let (result, _) = c.counter();
        assert!(
            matches!(result, RES_OK | RES_NO_AUTH_KEY),
            "round {round}: {result:#x}"
        );
    });
    let (mut benign, samples) = load.stop();
    let what = "rpmb_dev stalled clients".to_owned();
    eprintln!("{what}: half-frame clients closed after {half_closed:?}");
    hostile::check_neighbour(&what, &samples, &windows);
    baseline.check_after(&svc, &what);
    for took in &half_closed {
        assert!(
            *took >= Duration::from_secs(4) && *took < MESSAGE_DEADLINE,
            "closed after {took:?}"
        );
    }
    // A real exchange after all that: program the key, write, read back.
    let mut c = Client::new(Link::Socket(rpmb_dev(&svc)), [0x22; 32]);
    assert_eq!(c.program_key(), RES_OK);
    assert_eq!(c.write(1, &[[7; 256]]).result(), RES_OK);
    assert_eq!(c.read(1, 1)[0].data(), &[7; 256]);
    version_ok(benign.as_mut(), 1);
}
