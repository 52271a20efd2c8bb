//! Panic containment: a panic while a transport handles one device's event must cost that
//! device its current driver, not the process, the other devices or the next driver.
//!
//! The transports run each event under [`std::panic::catch_unwind`] (so no lock is held
//! while unwinding and none is poisoned) and hand a caught panic to [`after_panic`], which
//! resets the device model (releasing what it held on shared hardware) and puts the device
//! in "needs reset" like a ring fault, until the driver resets it or a new one comes.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use log::error;

use super::ring_guard::{RingFault, RingGuard};
use crate::devices::VirtioDevice;
use crate::status::{DeviceState, LinkState};

/// The message a panic carried, if it was a string.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Resets `device` after it panicked handling an event of `queue` and puts it in "needs
/// reset" (see [`RingGuard`]). The reset itself is contained too: a device that panics in
/// reset stays in "needs reset" and is reset again when the driver resets it.
pub fn after_panic(
    id: &str,
    status: &DeviceState,
    guard: &mut RingGuard,
    device: &mut dyn VirtioDevice,
    queue: u16,
    payload: &(dyn Any + Send),
) {
    let why = panic_message(payload);
    let reset = catch_unwind(AssertUnwindSafe(|| device.reset()));
    let reset_note = match &reset {
        Ok(()) => "device reset",
        Err(_) => "device reset panicked too",
    };
    error!(
        target: crate::logging::NEEDS_RESET_TARGET,
        "{id}: panic while handling an event: {why}; {reset_note}; device needs reset"
    );
    guard.set_fault(queue, RingFault::Panic(why.clone()));
    status.record_error(format!("needs reset: device panicked: {why}"));
    status.set_link(LinkState::Failed);
}

/// Runs `f`, returning the panic payload if it panicked.
pub fn run<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}
