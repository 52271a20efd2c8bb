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

/// rsbinder 0.12's accept loop polls a non-blocking accept every 5 ms (`RpcServer::run`,
/// src/rpc/server.rs); no setting turns that off, so it is left out and tracked in
/// docs/perf.md. Everything else must block until there is work.
const UPSTREAM_POLLER: &str = "ctl-accept";

/// Wake-ups allowed over the window, for anything the kernel or libc does on its own.
const MAX_WAKEUPS: u64 = 6;

/// Starts `config` and asserts its threads wake at most [`MAX_WAKEUPS`] times in 2 s of
/// idleness.
fn assert_idle(config: &str, sockets: &[&str]) {
    let svc = Service::start(config, sockets);
    // Let start-up and the readiness probes' connections settle.
    std::thread::sleep(Duration::from_secs(1));
    let before = svc.thread_wakeups();
    std::thread::sleep(Duration::from_secs(2));
    let after = svc.thread_wakeups();
    let mut woke = Vec::new();
    let mut total = 0;
    for (tid, (name, end)) in &after {
        if name == UPSTREAM_POLLER {
            continue;
        }
        let start = before.get(tid).map_or(0, |(_, n)| *n);
        let n = end.saturating_sub(start);
        total += n;
        if n > 0 {
            woke.push(format!("{name}[{tid}]: {n}"));
        }
    }
    assert!(
        total <= MAX_WAKEUPS,
        "idle threads woke {total} times in 2 s: {woke:?}"
    );
}

#[test]
fn an_idle_service_does_not_wake() {
    assert_idle(drivervm::config::DEFAULT_CONFIG_TEXT, &SOCKETS);
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
    assert_idle(WATCHED_JACKS, &["vm0-sound.sock", "control.sock"]);
}
