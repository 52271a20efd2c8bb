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

/// The timer behind a device's deadlines, with a read that never blocks.
///
/// A worker handles the fds one epoll wait reported ready in turn, and any of them may
/// re-arm the timer (every poll does) or disarm it (a reset does), which zeroes its
/// expiration count: the timer's readiness later in the same batch is then stale, and a
/// blocking read would stall the worker until the new deadline, or forever once disarmed.
pub fn device_timer() -> std::io::Result<TimerFd> {
    use std::os::fd::{AsRawFd, BorrowedFd};
    let timer = TimerFd::new()?;
    // SAFETY: the fd is the timer's own, open for as long as `timer` lives, which outlasts
    // this borrow.
    let fd = unsafe { BorrowedFd::borrow_raw(timer.as_raw_fd()) };
    crate::nix_compat::set_nonblocking(fd)?;
    Ok(timer)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_timer_that_has_not_expired_returns_at_once() {
        let mut timer = device_timer().expect("timer");
        let start = Instant::now();
        assert!(timer.wait().is_err(), "disarmed: nothing to read");
        timer.reset(Duration::from_secs(60), None).expect("arm");
        assert!(timer.wait().is_err(), "armed, not expired: nothing to read");
        assert!(start.elapsed() < Duration::from_secs(1));
        timer.reset(Duration::from_millis(1), None).expect("arm");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(timer.wait().expect("expired"), 1);
    }

    #[test]
    fn a_stale_timer_event_does_not_block_the_worker() {
        let mut timer = device_timer().unwrap();
        let now = Instant::now();
        arm_timer(&mut timer, Some(now + Duration::from_millis(1)), now).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        // Another event of the same wake-up disarms it before the timer event is handled.
        arm_timer(&mut timer, None, Instant::now()).unwrap();
        let t = Instant::now();
        assert!(timer.wait().is_err(), "nothing to read");
        assert!(t.elapsed() < Duration::from_millis(100));
        // A real expiry still reads.
        let now = Instant::now();
        arm_timer(&mut timer, Some(now + Duration::from_millis(1)), now).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(timer.wait().unwrap(), 1);
    }
}
