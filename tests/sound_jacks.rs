//! Jack plugging from the host, end to end: the real service serves a virtio-snd device
//! whose jacks follow simulated detection files (`detect = { sim = { file = ... } }`); the
//! test plugs and unplugs them by writing the files, as an operator would, and the
//! harness, as the guest's driver, must see JACK_CONNECTED/DISCONNECTED on the event queue
//! and JACK_INFO reporting the new state.

mod support;

use std::time::Duration;

use drivervm::devices::sound::constants::{code, CONTROLQ, EVENTQ};
use drivervm::harness::{Harness, HarnessOptions};
use drivervm::hw::jack::sim::write_state;
use support::Service;

const CONFIG: &str = r#"
[[guest]]
name = "vm0"

[[guest.device]]
kind = "sound"
[[guest.device.jack]]
name = "Headphones"
connected = true
detect = { sim = { file = "hp.jack" } }
[[guest.device.jack]]
name = "Mic"
direction = "input"
connected = true
detect = { sim = { file = "mic.jack" } }
[[guest.device.jack]]
name = "Line"
connected = false
"#;

const SOCKET: &str = "vm0-sound.sock";
/// `struct virtio_snd_jack_info`: 24 bytes, `connected` at byte 16.
const JACK_INFO_SIZE: usize = 24;

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The `connected` byte of every jack, from one JACK_INFO request.
fn connected(h: &mut Harness, jacks: u32) -> Vec<u8> {
    let room = 4 + jacks * JACK_INFO_SIZE as u32;
    let r = h
        .request(
            CONTROLQ,
            &words(&[code::JACK_INFO, 0, jacks, JACK_INFO_SIZE as u32]),
            room,
        )
        .unwrap();
    assert_eq!(le32(&r, 0), code::S_OK);
    (0..jacks as usize)
        .map(|j| r[4 + j * JACK_INFO_SIZE + 16])
        .collect()
}

/// Waits for one event; returns its (type, jack) words.
fn event(h: &mut Harness, svc: &Service) -> (u32, u32) {
    let c = h
        .wait_completions(EVENTQ, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("no jack event: {e}\n{}", svc.log()));
    assert_eq!(c.len(), 1, "one change, one event");
    assert_eq!(c[0].len, 8);
    (le32(&c[0].data, 0), le32(&c[0].data, 4))
}

#[test]
fn sim_jack_files_plug_and_unplug_the_guest_jacks() {
    let svc = Service::start(CONFIG, &[SOCKET]);
    let hp = svc.runtime_dir.join("hp.jack");
    let mic = svc.runtime_dir.join("mic.jack");
    // The service creates each missing file with the configured state.
    assert_eq!(std::fs::read_to_string(&hp).unwrap(), "1\n");
    assert_eq!(std::fs::read_to_string(&mic).unwrap(), "1\n");
    let mut h = Harness::connect(svc.socket(SOCKET), 4, &HarnessOptions::default()).unwrap();
    let config = h.get_config(0, 16).unwrap();
    assert_eq!(le32(&config, 0), 3, "three jacks in the config space");
    assert_eq!(connected(&mut h, 3), vec![1, 1, 0]);
    for _ in 0..4 {
        h.submit(EVENTQ, &[], 8).unwrap();
    }

    // An operator's shell write: open, truncate, write, close.
    std::fs::write(&hp, "0\n").unwrap();
    assert_eq!(event(&mut h, &svc), (code::EVT_JACK_DISCONNECTED, 0));
    assert_eq!(connected(&mut h, 3), vec![0, 1, 0]);

    write_state(&mic, false).unwrap();
    assert_eq!(event(&mut h, &svc), (code::EVT_JACK_DISCONNECTED, 1));
    write_state(&hp, true).unwrap();
    assert_eq!(event(&mut h, &svc), (code::EVT_JACK_CONNECTED, 0));
    assert_eq!(connected(&mut h, 3), vec![1, 0, 0]);

    // Writing the current state again, or garbage, changes nothing.
    write_state(&hp, true).unwrap();
    std::fs::write(&mic, "unplugged?").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(h.poll_completions(EVENTQ).unwrap().is_empty());
    assert_eq!(connected(&mut h, 3), vec![1, 0, 0]);
    assert!(
        svc.log()
            .contains("expected \"1\" or \"0\", found \"unplugged?\""),
        "{}",
        svc.log()
    );
    write_state(&mic, true).unwrap();
    assert_eq!(event(&mut h, &svc), (code::EVT_JACK_CONNECTED, 1));

    // A change while no guest is attached is the state the next guest finds.
    h.disconnect().unwrap();
    write_state(&hp, false).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut h = Harness::connect(svc.socket(SOCKET), 4, &HarnessOptions::default()).unwrap();
    assert_eq!(connected(&mut h, 3), vec![0, 1, 0]);
}

#[test]
fn jack_files_start_in_their_written_state() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    support::service_dir(&run);
    std::fs::write(run.join("hp.jack"), "0").unwrap();
    let svc = Service::start_in(dir, run, CONFIG, &[SOCKET]);
    let mut h = Harness::connect(svc.socket(SOCKET), 4, &HarnessOptions::default()).unwrap();
    assert_eq!(
        connected(&mut h, 3),
        vec![0, 1, 0],
        "the file wins over `connected`"
    );
    assert!(svc.log().contains("simulated jack file"), "{}", svc.log());
}
