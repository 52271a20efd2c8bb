//! Waiting on eventfds and sockets, for the driver side of every transport.

use std::time::Duration;

/// Waits up to `timeout` for events on `fds` (their `revents` are filled in).
///
/// A wait interrupted by a signal returns `Ok` like a spurious wake-up: callers re-check
/// their rings and wait again.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> std::io::Result<()> {
    // Round up so that a sub-millisecond remainder still waits instead of spinning.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: `fds` is a valid slice of initialised pollfd structs that outlives the call,
    // and its length is passed alongside it.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}
