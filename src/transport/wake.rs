//! Waking a transport's worker from another thread, and the timer behind
//! [`crate::devices::VirtioDevice::poll`]'s deadlines; shared by every transport.

use std::time::{Duration, Instant};

use log::warn;
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::timerfd::TimerFd;

use crate::devices::Wake;

/// Wakes a device's worker thread through an eventfd it watches.
pub struct EventWaker(pub EventFd);

impl Wake for EventWaker {
    fn wake(&self) {
        if let Err(e) = self.0.write(1) {
            warn!("cannot wake device worker: {e}");
        }
    }
}

/// Arms `timer` for the device's next deadline (`next`, seen at `now`), or disarms it.
pub fn arm_timer(
    timer: &mut TimerFd,
    next: Option<Instant>,
    now: Instant,
) -> vmm_sys_util::errno::Result<()> {
    match next {
        // A zero duration would disarm the timer: wake as soon as possible instead.
        Some(at) => timer.reset(
            at.saturating_duration_since(now)
                .max(Duration::from_micros(1)),
            None,
        ),
        None => timer.clear(),
    }
}
