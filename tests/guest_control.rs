//! The control plane over kernel binder and vsock in a real kernel: a Linux guest on QEMU
//! TCG (Debian's 6.12 kernel) loads binder_linux and vsock_loopback, runs rsbinder's service
//! manager (rsb_hub), and starts drivervm, which registers vendor.drivervm.IDriverVm/default
//! there and serves RPC binder on vsock port 5680 for CID 1 (the guest itself). drivervmctl
//! then runs status, device, --json and watch over both; a second drivervm whose allowlist
//! leaves CID 1 out refuses it before any RPC byte, within its log budget; the accept loops
//! stay asleep while idle; and killing the service ends both watchers at once.
//!
//! Needs the host tools listed by `tests/guest/control-guest.sh check` (rsb_hub from the
//! rsbinder-tools crate among them). Without them the test is skipped with a notice, except
//! under CI (`CI=true`), where it fails.

mod support;

use std::path::Path;
use std::process::Command;

use support::guest::{json_lines, rc_after, section, tools_ready, GuestRun};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/control-guest.sh");

#[test]
fn status_over_kernel_binder_and_vsock_in_a_linux_guest() {
    if !tools_ready(SCRIPT, "the kernel binder and vsock control guest test") {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_drivervm"));
    let bindir = bin.parent().expect("bin dir");
    for b in ["drivervmctl", "drivervm-load", "drivervm-ctlbench"] {
        assert!(bindir.join(b).exists(), "{b} not built");
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(SCRIPT);
    cmd.arg("run").arg(bindir).arg(work.path());
    let run = GuestRun::run(cmd, work.path());
    run.assert_done(&run.context(None));
    let report = &run.report;
    assert!(
        section(report, "binder node").contains("/dev/binder"),
        "{report}"
    );
    let log = section(report, "drivervm log");
    assert!(
        log.contains("control: registered vendor.drivervm.IDriverVm/default"),
        "{report}"
    );

    for t in ["binder", "vsock:1:5680"] {
        for q in ["status", "status-json", "device", "device-json"] {
            let name = format!("{t} {q}");
            assert_eq!(rc_after(report, &name), "0", "{name}:\n{report}");
        }
        let text = section(report, &format!("{t} status"));
        assert!(text.starts_with("drivervm "), "{t}:\n{text}");
        for id in ["vm0-scmi", "vm0-sound", "vm0-radio", "vm0-rpmb"] {
            assert!(text.contains(id), "{t}: {id} missing:\n{text}");
        }
        let v = &json_lines(section(report, &format!("{t} status-json")))[0];
        assert_eq!(v["service"]["name"], "drivervm", "{v}");
        assert_eq!(v["devices"].as_array().map(Vec::len), Some(4), "{v}");
        let dev = section(report, &format!("{t} device"));
        assert!(dev.contains("device      vm0-scmi"), "{t}:\n{dev}");
        assert!(dev.contains("clocks: "), "{t}:\n{dev}");
        let v = &json_lines(section(report, &format!("{t} device-json")))[0];
        assert_eq!(v["id"], "vm0-rpmb", "{v}");
        assert!(v["detail"]["capacity_bytes"].as_i64() > Some(0), "{v}");
    }

    // CID 1 is not on the second instance's allowlist: refused before any RPC byte.
    assert_eq!(rc_after(report, "refused"), "1", "{report}");
    assert_eq!(
        section(report, "refused").trim(),
        "drivervmctl: cannot connect to vsock:1:5681: closed before the RPC handshake (is this \
         VM's CID in the service's control_vsock_cids?)",
        "{report}"
    );
    let refusing = section(report, "refusing log");
    assert!(
        refusing.contains("control: refused vsock peer CID 1: not in service.control_vsock_cids"),
        "{refusing}"
    );
    // The burst's refusals are logged within the budget (10 lines a second).
    let burst: Vec<u64> = section(report, "refused-burst")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (attempts, seconds, lines) = (burst[0], burst[1], burst[2]);
    assert!(lines >= 1 && lines <= 10 * (seconds + 1), "{burst:?}");
    if lines < attempts {
        assert!(
            refusing.contains("more guest errors were not logged"),
            "{refusing}"
        );
    }

    // A vhost-user frontend came and went while both watchers listened.
    for t in ["binder", "vsock"] {
        let events = json_lines(section(report, &format!("watch {t}")));
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "link" && e["device"] == "vm0-scmi"),
            "watch over {t} saw no link change:\n{report}"
        );
    }

    for t in ["binder", "vsock:1:5680", "unix:/tmp/run/control.sock"] {
        let name = format!("bench {t}");
        assert_eq!(rc_after(report, &name), "0", "{name}:\n{report}");
        eprintln!("guest (TCG) {name}: {}", section(report, &name).trim());
    }

    // Idle: no thread woke, the accept loops of both RPC endpoints included.
    let idle = section(report, "idle");
    eprintln!("guest idle wake-ups in 2 s:\n{idle}");
    let woke: Vec<(&str, u64)> = idle
        .lines()
        .filter_map(|l| {
            let (name, n) = l.rsplit_once(' ')?;
            Some((name, n.parse().ok()?))
        })
        .collect();
    let accept: Vec<_> = woke
        .iter()
        .filter(|(n, _)| n.starts_with("ctl-accept"))
        .collect();
    assert_eq!(accept.len(), 2, "one accept loop per RPC endpoint:\n{idle}");
    assert!(accept.iter().all(|(_, n)| *n == 0), "{idle}");
    let total: u64 = woke.iter().map(|(_, n)| n).sum();
    assert!(
        total <= 6,
        "idle threads woke {total} times in 2 s:\n{idle}"
    );

    // Killed: each watcher exits 1 with one line, told by the binder.
    for (t, target) in [("binder", "binder"), ("vsock", "vsock:1:5680")] {
        let name = format!("watch {t} died rc=1");
        let err = section(report, &name);
        assert_eq!(
            err.trim(),
            format!("drivervmctl: lost {target}: the service died"),
            "{report}"
        );
    }
}
