//! The V4L2 radio backend against a radio receiver nobody here wrote: the kernel's vivid
//! driver, inside a Linux guest on QEMU TCG (Debian's 6.12 kernel). In the guest, `drivervm`
//! serves vivid's /dev/radio0 as a virtio-radio device and `drivervm-load` drives it over
//! vhost-user: seek (VIDIOC_S_HW_FREQ_SEEK), tune (VIDIOC_S_FREQUENCY), program info
//! (VIDIOC_G_TUNER) and RDS (read() of v4l2_rds_data) all go through the real kernel driver.
//!
//! Needs the host tools listed by `tests/guest/radio-vivid.sh check`. Without them the test
//! is skipped with a notice, except under CI (`CI=true`), where it fails.

mod support;

use std::path::Path;
use std::process::Command;

use support::guest::{section, tools_ready, GuestRun};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/radio-vivid.sh");

#[test]
fn v4l2_backend_serves_vivid_radio_receiver_in_a_linux_guest() {
    if !tools_ready(SCRIPT, "the vivid radio guest test") {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_drivervm"));
    let bindir = bin.parent().expect("bin dir");
    assert!(bindir.join("drivervm-load").exists());
    let work = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(SCRIPT);
    cmd.arg("run").arg(bindir).arg(work.path());
    let run = GuestRun::run(cmd, work.path());
    run.assert_done(&run.context(None));
    let report = &run.report;
    assert!(section(report, "nodes").contains("/dev/radio0"), "{report}");
    for op in ["radio-get-program-info", "radio-seek", "radio-tune"] {
        let s = section(report, op);
        assert!(s.contains("(0 errors)"), "{op}:\n{report}");
        assert!(report.contains("=== rc=0"), "{op}:\n{report}");
        // vivid's hardware seek stops on its stations, one per MHz.
        assert!(
            s.contains("by \"vivid\"") && s.contains("seek found 88000 and 89000 kHz"),
            "{op}:\n{report}"
        );
    }
    // After a few seconds tuned, vivid's RDS has been read, decoded and published: PI, PTY
    // and PS valid (bits 0, 1, 2 of rds_fields).
    let info = section(report, "radio-get-program-info");
    let fields = info
        .split("rds_fields 0x")
        .nth(1)
        .and_then(|t| u32::from_str_radix(t.split_whitespace().next()?, 16).ok())
        .unwrap_or_else(|| panic!("no rds_fields in:\n{info}"));
    assert_eq!(fields & 0b111, 0b111, "PI, PTY and PS from vivid:\n{info}");
    assert!(info.contains("tuned 89000 kHz"), "{info}");
}
