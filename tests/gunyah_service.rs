//! The service with Gunyah transports: devices sharing a node, the daemon on a machine
//! without the node, and `--check-config`'s description of a Gunyah device.

mod support;

use drivervm::harness::{Driver, HarnessOptions};
use support::run_drivervm;
use support::scmi::*;
use support::transport::GunyahServed;

/// One guest with two SCMI devices: both on /dev/gh_virtio_backend_ivi, labels 1 and 2.
const TWO_ON_ONE_NODE: &str = r#"
[[guest]]
name = "ivi"
[[guest.device]]
kind = "scmi"
[[guest.device]]
kind = "scmi"
"#;

fn version_ok(d: &mut dyn Driver, token: u16) {
    let r = Response::parse(&d.request(CMDQ, &command(0x10, 0, token, &[]), 16).unwrap());
    assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001));
}

#[test]
fn devices_sharing_a_node_are_served_side_by_side() {
    let svc = GunyahServed::start(TWO_ON_ONE_NODE);
    let (node_a, label_a) = svc.node("ivi-scmi-0");
    let (node_b, label_b) = svc.node("ivi-scmi-1");
    assert!(std::ptr::eq(node_a, node_b), "one node for the guest");
    assert_eq!((label_a, label_b), (1, 2));
    let mut a = svc.attach("ivi-scmi-0", 2, &HarnessOptions::default());
    let mut b = svc.attach("ivi-scmi-1", 2, &HarnessOptions::default());
    for token in 0..20 {
        version_ok(&mut a, token);
        version_ok(&mut b, token);
    }
}

#[test]
fn a_missing_node_stops_the_daemon_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[guest]]\nname = \"ivi\"\n[[guest.device]]\nkind = \"scmi\"\n\
                  transport = { gunyah = { node = \"/dev/gh_virtio_backend_nosuchvm\", \
                  label = 1, window_base = 0x80000000 } }\n";
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    let (status, out, err) = run_drivervm(&["--config", "c.toml", "--check-config"], dir.path());
    assert!(status.success(), "{err}");
    // The service lines (directories, groups, control endpoints) come first.
    assert_eq!(
        out.lines().last(),
        Some("ivi-scmi\tivi\tscmi\t/dev/gh_virtio_backend_nosuchvm label 1 window 0x80000000"),
        "{out}"
    );
    let (status, _, err) =
        run_drivervm(&["--config", "c.toml", "--runtime-dir", "run"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("/dev/gh_virtio_backend_nosuchvm: opening the node: No such file"),
        "{err}"
    );
}

/// A node that is not a virtio-backend node (here /dev/null) fails on its first request:
/// the real ioctl path reports the kernel's error and the daemon stops, naming node and step.
#[test]
fn a_node_that_is_not_a_backend_node_is_refused_by_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[guest]]\nname = \"ivi\"\n[[guest.device]]\nkind = \"scmi\"\n\
                  transport = { gunyah = { node = \"/dev/null\", label = 1, \
                  window_base = 0x80000000 } }\n";
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    let (status, _, err) =
        run_drivervm(&["--config", "c.toml", "--runtime-dir", "run"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("/dev/null: mapping the shared window: Inappropriate ioctl for device"),
        "{err}"
    );
}
