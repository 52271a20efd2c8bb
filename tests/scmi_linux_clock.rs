//! The linux clock backend through the whole service: clocks read from a debugfs-like tree
//! (a fake one in a temporary directory), served over vhost-user and the Gunyah simulator,
//! and changes refused with NOT_SUPPORTED when the kernel offers no debugfs write support.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::agent::Agent;
use support::scmi::*;
use support::transport::{Served, Transport};

over_both_transports!(
    real_clock_tree_is_read_and_unwritable_changes_are_refused,
    writes_reach_debugfs_when_the_kernel_allows_them,
);

const CLOCK: u8 = 0x14;

fn file(dir: &Path, name: &str, value: &str, mode: u32) {
    fs::write(dir.join(name), value).unwrap();
    fs::set_permissions(dir.join(name), fs::Permissions::from_mode(mode)).unwrap();
}

/// A clk debugfs tree: bi_tcxo (19.2 MHz) and gcc_uart_clk muxed from it or gpll0.
fn fake_debugfs(root: &Path, writable: bool) {
    let w = if writable { 0o644 } else { 0o444 };
    for (name, rate, parent, parents) in [
        ("bi_tcxo", "19200000", None, None),
        ("gpll0", "600000000", Some("bi_tcxo"), None),
        (
            "gcc_uart_clk",
            "7372800",
            Some("bi_tcxo"),
            Some("bi_tcxo gpll0 (ext_clk)"),
        ),
    ] {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        file(&dir, "clk_rate", &format!("{rate}\n"), w);
        file(&dir, "clk_enable_count", "1\n", 0o444);
        // What the framework shows for a clock without rate constraints.
        file(&dir, "clk_min_rate", "0\n", 0o444);
        file(&dir, "clk_max_rate", &format!("{}\n", u64::MAX), 0o444);
        if let Some(p) = parent {
            file(&dir, "clk_parent", &format!("{p}\n"), w);
        }
        if let Some(list) = parents {
            file(&dir, "clk_possible_parents", &format!("{list}\n"), 0o444);
        }
    }
    fs::write(root.join("clk_summary"), "").unwrap();
    // Real debugfs is root's: a service that drops privileges reads it only when mounted
    // for its user (uid=), which this stands for.
    support::owned_by_the_service(root);
}

fn config(root: &Path) -> String {
    format!(
        r#"
[soc.linux_clocks]
debugfs = "{}"

[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
backend = "linux"
clocks = ["gcc_uart_clk", "bi_tcxo:read-only", "gpll0"]
"#,
        root.display()
    )
}

fn real_clock_tree_is_read_and_unwritable_changes_are_refused(t: Transport) {
    let tree = tempfile::tempdir().unwrap();
    fake_debugfs(tree.path(), false);
    let svc = Served::start(t, &config(tree.path()));
    let mut a = Agent::attach(&svc, "vm0-scmi", true);
    assert_eq!(a.ok(CLOCK, 1, &[]), [(4 << 16) | 3]);
    let r = a.ask(CLOCK, 3, &[0]);
    assert_eq!(r.status, SUCCESS);
    assert_eq!(r.long_name(4, 16), "gcc_uart_clk");
    assert_eq!(r.word(0) & 1, 1, "enable count 1");
    assert_eq!(r.word(0) & (1 << 28), 1 << 28, "muxed");
    assert_eq!(a.ok(CLOCK, 6, &[0]), [7_372_800, 0]);
    assert_eq!(a.ok(CLOCK, 6, &[1]), [19_200_000, 0]);
    // No constraints: the full 64-bit range in 1 Hz steps.
    assert_eq!(
        a.ok(CLOCK, 4, &[0, 0]),
        [0x1003, 0, 0, u32::MAX, u32::MAX, 1, 0]
    );
    // Parents in the guest's numbering; "(ext_clk)" has no kernel clock and is left out.
    assert_eq!(a.ok(CLOCK, 0xc, &[0, 0]), [2, 1, 2]);
    assert_eq!(a.ok(CLOCK, 0xe, &[0]), [1]);
    // No CLOCK_ALLOW_WRITE_DEBUGFS: the hardware cannot be changed, and says so.
    assert_eq!(a.status(CLOCK, 5, &[0, 0, 14_745_600, 0]), NOT_SUPPORTED);
    assert_eq!(a.ok(CLOCK, 6, &[0]), [7_372_800, 0], "unchanged");
    assert_eq!(a.status(CLOCK, 7, &[0, 1, 0]), NOT_SUPPORTED);
    assert_eq!(a.status(CLOCK, 0xd, &[0, 2]), NOT_SUPPORTED);
    assert_eq!(
        a.status(CLOCK, 7, &[1, 1, 0]),
        DENIED,
        "read-only grant first"
    );
    assert!(
        svc.log().contains("CLOCK_ALLOW_WRITE_DEBUGFS"),
        "the log names what is missing:\n{}",
        svc.log()
    );
}

fn writes_reach_debugfs_when_the_kernel_allows_them(t: Transport) {
    let tree = tempfile::tempdir().unwrap();
    fake_debugfs(tree.path(), true);
    let svc = Served::start(t, &config(tree.path()));
    let mut a = Agent::attach(&svc, "vm0-scmi", true);
    // Linux rounds on its own; the fake tree keeps exactly what was written.
    a.ok(CLOCK, 5, &[0, 2, 800_000_000, 0]);
    assert_eq!(
        fs::read_to_string(tree.path().join("gpll0/clk_rate")).unwrap(),
        "800000000"
    );
    assert_eq!(a.ok(CLOCK, 6, &[2]), [800_000_000, 0]);
    a.ok(CLOCK, 0xd, &[0, 2]);
    // Index 1 in the kernel's own list "bi_tcxo gpll0 (ext_clk)".
    assert_eq!(
        fs::read_to_string(tree.path().join("gcc_uart_clk/clk_parent")).unwrap(),
        "1"
    );
}

#[test]
fn a_missing_debugfs_stops_the_service_with_a_clear_error() {
    let tree = tempfile::tempdir().unwrap();
    let missing = tree.path().join("not-mounted");
    let (status, _, err) = support::run_drivervm(
        &[
            "--config",
            &write_config(tree.path(), &config(&missing)),
            "--runtime-dir",
            &tree.path().join("run").display().to_string(),
        ],
        tree.path(),
    );
    assert!(!status.success());
    assert!(err.contains("mount debugfs"), "{err}");
    assert!(err.contains("not-mounted"), "{err}");
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("drivervm.toml");
    fs::write(&path, text).unwrap();
    path.display().to_string()
}
