//! A frontend that sizes the device's configuration space itself (QEMU's vhost-user-snd
//! does, from its `controls` property) and reads all of it in one GET_CONFIG: the service
//! offers VIRTIO_SND_F_CTLS only when told to (`controls = true`), and says in one log
//! line, naming `controls=on`, when such a frontend has no room for what it offers.

mod support;

use std::time::{Duration, Instant};

use drivervm::harness::{Harness, HarnessOptions};
use support::Service;

const CTLS: u64 = 1;

fn config(controls: bool) -> String {
    format!(
        "[[guest]]\nname = \"vm0\"\n[[guest.device]]\nkind = \"sound\"\ncontrols = {controls}\n"
    )
}

fn connect(svc: &Service) -> Harness {
    Harness::connect(svc.socket("vm0-sound.sock"), 4, &HarnessOptions::default())
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", svc.log()))
}

fn too_small_lines(svc: &Service) -> usize {
    svc.log()
        .lines()
        .filter(|l| l.contains("too small"))
        .count()
}

#[test]
fn the_default_offers_no_controls_and_fits_qemus_stock_config_space() {
    let svc = Service::start(&config(false), &["vm0-sound.sock"]);
    let mut h = connect(&svc);
    assert_eq!(h.offered_features() & CTLS, 0, "VIRTIO_SND_F_CTLS offered");
    // What QEMU's stock vhost-user-snd-pci asks: its whole 12-byte space.
    let cfg = h.get_config(0, 12).unwrap();
    assert_eq!(cfg[4..8], 2u32.to_le_bytes(), "two streams");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(too_small_lines(&svc), 0, "{}", svc.log());
}

#[test]
fn controls_with_a_config_space_too_small_log_one_line_naming_the_fix() {
    let svc = Service::start(&config(true), &["vm0-sound.sock"]);
    let mut h = connect(&svc);
    assert_ne!(
        h.offered_features() & CTLS,
        0,
        "VIRTIO_SND_F_CTLS not offered"
    );
    // Single accesses (crosvm forwards each) reveal no size and are fine.
    for offset in [0, 4, 8, 12] {
        h.get_config(offset, 4).unwrap();
    }
    assert_eq!(
        h.get_config(12, 4).unwrap(),
        4u32.to_le_bytes(),
        "four controls"
    );
    // QEMU without controls=on reads 12 bytes on every driver access; one line says so.
    for _ in 0..5 {
        h.get_config(0, 12).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while too_small_lines(&svc) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = svc.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("too small")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("12 bytes") && lines[0].contains("controls=on"),
        "{}",
        lines[0]
    );
    // QEMU with controls=on: the whole 16 bytes, nothing more to say.
    h.get_config(0, 16).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(too_small_lines(&svc), 1, "{}", svc.log());
}
