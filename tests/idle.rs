//! An idle service must not wake: a driver VM shares its CPUs with the guests it serves.

mod support;

use std::time::Duration;

use support::Service;

/// Sockets of the embedded default config.
const SOCKETS: [&str; 5] = [
    "vm0-scmi.sock",
    "vm0-sound.sock",
    "vm0-radio.sock",
    "vm0-rpmb.sock",
    "control.sock",
];

/// Wake-ups allowed over the window, for anything the kernel or libc does on its own.
const MAX_WAKEUPS: u64 = 6;

/// Starts `config` and asserts its threads, every one of them, wake at most [`MAX_WAKEUPS`]
/// times in 2 s of idleness.
fn assert_idle(config: &str, sockets: &[&str], accept_loops: usize) {
    let svc = Service::start(config, sockets);
    // Let start-up and the readiness probes' connections settle.
    std::thread::sleep(Duration::from_secs(1));
    let before = svc.thread_wakeups();
    std::thread::sleep(Duration::from_secs(2));
    let after = svc.thread_wakeups();
    let mut woke = Vec::new();
    let mut total = 0;
    for (tid, (name, end)) in &after {
        let start = before.get(tid).map_or(0, |(_, n)| *n);
        let n = end.saturating_sub(start);
        total += n;
        if n > 0 {
            woke.push(format!("{name}[{tid}]: {n}"));
        }
    }
    let accept_threads = after.values().filter(|(n, _)| n == "ctl-accept").count();
    assert_eq!(
        accept_threads, accept_loops,
        "one ctl-accept thread per RPC endpoint: {after:?}"
    );
    assert!(
        total <= MAX_WAKEUPS,
        "idle threads woke {total} times in 2 s: {woke:?}"
    );
}

/// A vsock port free for this test.
const VSOCK_PORT: u32 = 47_031;

/// Whether this host lets a process listen on vsock (these machines do on this port; a
/// sandbox without a vsock transport refuses). Where it cannot, the vsock accept loop's
/// idleness is asserted by the guest test over vsock_loopback (tests/guest_control.rs).
fn vsock_listen_possible() -> Result<(), String> {
    let l = vsock::VsockListener::bind_with_cid_port(u32::MAX, VSOCK_PORT + 1)
        .map_err(|e| e.to_string())?;
    drop(l);
    Ok(())
}

/// The default config with control over vsock too when the host can listen on vsock, and
/// how many RPC endpoints (accept loops) it has.
fn default_with_vsock() -> (String, usize) {
    match vsock_listen_possible() {
        Ok(()) => (
            format!(
                "[service]\ncontrol_vsock_port = {VSOCK_PORT}\ncontrol_vsock_cids = [1]\n{}",
                drivervm::config::DEFAULT_CONFIG_TEXT
            ),
            2,
        ),
        Err(e) => {
            drivervm::harness::skip::skipped(
                "the vsock listener in tests/idle.rs (unix control is checked here; the vsock \
                 accept loop's idleness is asserted in tests/guest_control.rs)",
                &format!("this host cannot listen on vsock: {e}"),
            );
            (drivervm::config::DEFAULT_CONFIG_TEXT.to_owned(), 1)
        }
    }
}

#[test]
fn an_idle_service_does_not_wake() {
    let (config, accept_loops) = default_with_vsock();
    assert_idle(&config, &SOCKETS, accept_loops);
}

/// Jacks whose state a host source decides, each with its watcher thread.
const WATCHED_JACKS: &str = r#"
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
connected = false
detect = { sim = { file = "mic.jack" } }
[[guest.device.jack]]
name = "Line Out"
connected = true
detect = { sim = { file = "line.jack" } }
"#;

#[test]
fn watched_jacks_do_not_wake_while_nothing_changes() {
    assert_idle(WATCHED_JACKS, &["vm0-sound.sock", "control.sock"], 1);
}
