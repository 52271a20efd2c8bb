//! The status interface between two VMs over vsock, as a host VM reaches the driver VM: two
//! Linux guests on QEMU TCG (Debian's 6.12 kernel), each with a vhost-user-vsock-pci device
//! served by one rust-vmm `vhost-device-vsock` that carries packets between them. The driver
//! VM (CID 3) runs drivervm with `control_vsock_port = 5680` and `control_vsock_cids = [4]`,
//! and a second drivervm on port 5681 that allows only CID 5; the host VM (CID 4) runs
//! drivervmctl status, device and --json against port 5680, watches it while the driver VM
//! changes a link, measures status calls with drivervm-ctlbench, and is refused by port
//! 5681 before any RPC byte, within that service's log budget.
//!
//! Needs the host tools listed by `tests/guest/vsock-two-vm.sh check` (vhost-device-vsock
//! from the crate of that name among them). Without them the test is skipped with a notice,
//! except under CI (`CI=true`), where it fails.

mod support;

use std::path::Path;
use std::process::Command;

use support::guest::{json_lines, rc_after, section, tools_ready, GuestRun};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/vsock-two-vm.sh");

/// A file the driver VM's serial ports or the script left in the work dir (LF line ends).
fn work_file(work: &Path, name: &str) -> String {
    std::fs::read_to_string(work.join(name))
        .unwrap_or_default()
        .replace('\r', "")
}

#[test]
fn host_vm_queries_and_watches_the_driver_vm_over_vsock() {
    if !tools_ready(SCRIPT, "the two-VM vsock control test") {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_drivervm"));
    let bindir = bin.parent().expect("bin dir");
    for b in ["drivervmctl", "drivervm-load", "drivervm-ctlbench"] {
        assert!(bindir.join(b).exists(), "{b} not built");
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let mut cmd = Command::new(SCRIPT);
    cmd.arg("run").arg(bindir).arg(w);
    let run = GuestRun::run(cmd, w);
    let driver_report = work_file(w, "driver-report.log");
    let svc_log = work_file(w, "drivervm.log");
    let refusing = work_file(w, "refusing.log");
    let context = format!(
        "{}\n--- driver VM report:\n{driver_report}\n--- driver VM console:\n{}\n\
         --- drivervm (port 5680):\n{svc_log}\n--- drivervm (port 5681):\n{refusing}\n\
         --- vhost-device-vsock:\n{}\n--- QEMU (host VM, driver VM):\n{}{}",
        run.context(None),
        work_file(w, "driver-console.log"),
        work_file(w, "vhost-vsock.log"),
        work_file(w, "host-qemu.log"),
        work_file(w, "driver-qemu.log"),
    );
    run.assert_done(&context);
    let report = run.report.as_str();
    assert!(
        !report.contains("=== unreachable"),
        "the host VM never reached the driver VM\n{context}"
    );

    // From the allowed CID: status, device and their JSON forms.
    for q in ["status", "status-json", "device", "device-json"] {
        assert_eq!(rc_after(report, q), "0", "{q}\n{context}");
    }
    let text = section(report, "status");
    assert!(text.starts_with("drivervm "), "{text}\n{context}");
    for id in ["vm0-scmi", "vm0-sound", "vm0-radio", "vm0-rpmb"] {
        assert!(text.contains(id), "{id} missing:\n{text}");
    }
    let v = &json_lines(section(report, "status-json"))[0];
    assert_eq!(v["service"]["name"], "drivervm", "{v}");
    assert_eq!(v["devices"].as_array().map(Vec::len), Some(4), "{v}");
    let dev = section(report, "device");
    assert!(dev.contains("device      vm0-scmi"), "{dev}");
    assert!(dev.contains("clocks: "), "{dev}");
    let v = &json_lines(section(report, "device-json"))[0];
    assert_eq!(v["id"], "vm0-rpmb", "{v}");
    assert!(v["detail"]["capacity_bytes"].as_i64() > Some(0), "{v}");
    // The driver VM's kernel saw the host VM's own CID, and admitted it.
    assert!(
        svc_log.contains("control: vsock peer CID 4 connected"),
        "{context}"
    );
    assert!(!svc_log.contains("refused vsock peer"), "{context}");

    // A watcher in the host VM saw the link change made in the driver VM.
    assert_eq!(
        driver_report
            .lines()
            .find_map(|l| l.strip_prefix("=== link changed rc=")),
        Some("0"),
        "{context}"
    );
    let events = json_lines(section(report, "watch"));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "link" && e["device"] == "vm0-scmi"),
        "the watcher saw no link change across the VMs\n{context}"
    );

    // CID 4 is not on port 5681's allowlist: closed before the RPC handshake, and logged.
    assert_eq!(rc_after(report, "refused"), "1", "{context}");
    assert_eq!(
        section(report, "refused").trim(),
        "drivervmctl: cannot connect to vsock:3:5681: closed before the RPC handshake (is this \
         VM's CID in the service's control_vsock_cids?)",
        "{context}"
    );
    let refused_lines = refusing
        .lines()
        .filter(|l| {
            l.contains("control: refused vsock peer CID 4: not in service.control_vsock_cids")
        })
        .count() as u64;
    let burst: Vec<u64> = section(report, "refused-burst")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (attempts, seconds) = (burst[0], burst[1]);
    // Each refusal at most once, and no more than the budget (10 lines a second) allows.
    assert!(
        refused_lines >= 1 && refused_lines <= attempts && refused_lines <= 10 * (seconds + 1),
        "{refused_lines} refusal lines for {attempts} attempts in {seconds} s\n{context}"
    );
    if refused_lines < attempts {
        assert!(
            refusing.contains("more guest errors were not logged"),
            "{context}"
        );
    }

    assert_eq!(rc_after(report, "bench"), "0", "{context}");
    eprintln!(
        "host VM -> driver VM over vsock (TCG): {}",
        section(report, "bench").trim()
    );
}
