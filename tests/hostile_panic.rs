//! A guest that makes a device model panic, over both transports: the panic costs that
//! device its current driver (reset, which releases what it held, then "needs reset"), not
//! the process, not another device, and not the next frontend.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drivervm::devices::{Completer, Request, VirtioDevice, Wake};
use drivervm::harness::{Driver, HarnessOptions};
use drivervm::transport::gunyah::sim::SimDriver;
use support::transport::{serve_device, DeviceServer, Transport};

/// Echoes requests reversed; `hold` takes a hold on pretend shared hardware (released by
/// reset), `boom` panics.
struct Bomb {
    holds: Arc<AtomicUsize>,
}

impl VirtioDevice for Bomb {
    fn device_type(&self) -> u32 {
        0xfff5
    }
    fn name(&self) -> &str {
        "bomb"
    }
    fn queue_max_sizes(&self) -> &[u16] {
        &[256]
    }
    fn features(&self) -> u64 {
        0
    }
    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}
    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        match request.data.as_slice() {
            b"boom" => panic!("guest-triggered device bug"),
            b"hold" => {
                self.holds.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        let mut reply = request.data.clone();
        reply.reverse();
        let _ = completer.complete(request.token, &reply);
    }
    fn reset(&mut self) {
        self.holds.store(0, Ordering::SeqCst);
    }
}

fn reconnect(t: Transport, server: &DeviceServer, id: &str) -> Box<dyn Driver> {
    let opts = HarnessOptions::default();
    match server {
        DeviceServer::VhostUser(dir) => Box::new(
            drivervm::harness::Harness::connect(dir.path().join(format!("{id}.sock")), 1, &opts)
                .unwrap_or_else(|e| panic!("{t:?}: reconnect {id}: {e}")),
        ),
        DeviceServer::Gunyah(node) => Box::new(
            SimDriver::attach(node, 1, 1, &opts)
                .unwrap_or_else(|e| panic!("{t:?}: reattach {id}: {e}")),
        ),
    }
}

fn a_panic_resets_only_its_device_and_the_next_frontend_is_served(t: Transport) {
    let opts = HarnessOptions::default();
    let holds = Arc::new(AtomicUsize::new(0));
    let bomb = Box::new(Bomb {
        holds: holds.clone(),
    });
    let (mut a, server_a) = serve_device(t, "bomb-a", bomb, 1, &opts);
    let other = Box::new(Bomb {
        holds: Arc::new(AtomicUsize::new(0)),
    });
    let (mut b, _server_b) = serve_device(t, "bomb-b", other, 1, &opts);

    assert_eq!(a.request(0, b"hold", 8).unwrap(), b"dloh");
    assert_eq!(holds.load(Ordering::SeqCst), 1);
    let head = a.submit(0, b"boom", 8).unwrap();
    // The buffer is lost with the device's state: no completion, and the hold is released.
    // (The test binary's default panic hook may spend a while printing a backtrace.)
    let deadline = Instant::now() + Duration::from_secs(20);
    while holds.load(Ordering::SeqCst) != 0 {
        assert!(Instant::now() < deadline, "reset did not release the hold");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(a.wait_for(0, head, Duration::from_millis(300)).is_err());
    // Needs reset: the same driver's next request is ignored.
    let ignored = a.submit(0, b"ping", 8).unwrap();
    assert!(a.wait_for(0, ignored, Duration::from_millis(300)).is_err());

    // The other device never noticed.
    assert_eq!(b.request(0, b"abc", 8).unwrap(), b"cba");

    // The next frontend of the panicked device is served (no poisoned lock).
    a.disconnect().unwrap();
    let mut next = reconnect(t, &server_a, "bomb-a");
    assert_eq!(next.request(0, b"ping", 8).unwrap(), b"gnip");
    assert_eq!(next.request(0, b"hold", 8).unwrap(), b"dloh");
    next.disconnect().unwrap();
    b.disconnect().unwrap();
}

over_both_transports!(a_panic_resets_only_its_device_and_the_next_frontend_is_served);
