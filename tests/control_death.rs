//! Death notifications instead of polling: `drivervmctl watch` learns the service died from
//! the binder itself, and the service drops a listener the moment its client dies.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use drivervm::control::iface::{self, IDriverVmListener::IDriverVmListener};
use drivervm::control::{self, BinderResult, Interface, Target};
use support::{eventually, watcher, Service, TWO_GUESTS};

/// Voluntary context switches of every thread of `pid`: each is a blocked thread waking.
fn watcher_wakeups(pid: u32) -> u64 {
    support::thread_wakeups(pid).values().map(|(_, n)| n).sum()
}

const SOCKETS: [&str; 3] = ["vm0-scmi.sock", "vm1-scmi.sock", "control.sock"];

#[test]
fn watch_exits_when_the_service_dies_without_polling() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let mut w = watcher(&svc);
    eventually("the watcher registers", Duration::from_secs(10), || {
        svc.log().contains("control: listener registered")
    });
    // The mechanism: an idle watcher does not wake at all (it used to ping every second), so
    // whatever ends it below is the binder telling it.
    std::thread::sleep(Duration::from_millis(300));
    let before = watcher_wakeups(w.id());
    std::thread::sleep(Duration::from_millis(1500));
    let woke = watcher_wakeups(w.id()) - before;
    assert!(
        woke <= 2,
        "an idle drivervmctl watch woke {woke} times in 1.5 s"
    );

    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(svc.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the service");
    let status = loop {
        if let Some(s) = w.try_wait().expect("wait") {
            break s;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "drivervmctl watch still running 5 s after the service died"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let took = killed.elapsed();
    eprintln!("drivervmctl watch exited {took:?} after the service was killed");
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    w.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(
        err,
        format!(
            "drivervmctl: lost unix:{}: the service died\n",
            svc.socket("control.sock").display()
        )
    );
}

/// A listener that ignores every event.
struct Quiet;

impl Interface for Quiet {}

impl IDriverVmListener for Quiet {
    fn r#onLinkStateChanged(&self, _: &str, _: iface::LinkState::LinkState) -> BinderResult<()> {
        Ok(())
    }
    fn r#onDeviceStateChanged(&self, _: &str) -> BinderResult<()> {
        Ok(())
    }
}

#[test]
fn a_dead_client_frees_its_listener_slot_at_once() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let target = Target::Unix(svc.socket("control.sock"));
    let mut w = watcher(&svc);
    eventually("the watcher registers", Duration::from_secs(10), || {
        svc.log().contains("listener registered (1 now)")
    });
    // No event follows the kill: only the death notification can free the slot.
    w.kill().expect("kill drivervmctl");
    w.wait().expect("wait");
    eventually(
        "the dead client's listener is dropped",
        Duration::from_secs(5),
        || {
            svc.log()
                .contains("control: a listener's client died (0 left)")
        },
    );
    assert!(!svc.log().contains("dropping a listener whose call failed"));

    // The same for a client session that closes: its slot is free for the next one.
    let conn = control::connect(&target, true).expect("connect");
    let listener = control::new_listener(Quiet);
    conn.service
        .r#registerListener(&listener)
        .expect("register");
    eventually(
        "the second listener registers",
        Duration::from_secs(5),
        || svc.log().matches("listener registered (1 now)").count() == 2,
    );
    drop(conn);
    eventually(
        "the closed session's listener is dropped",
        Duration::from_secs(5),
        || {
            svc.log()
                .matches("a listener's client died (0 left)")
                .count()
                == 2
        },
    );
}
