//! How a hardware backend or a timer owner asks a device's transport for a poll: a leaf, so
//! that `hw` can hold wakers without knowing the device layer.

/// Wakes a device's transport from another thread (a hardware backend, a timer owner) so
/// that it calls `VirtioDevice::poll`.
pub trait Wake: Send + Sync {
    /// Requests a call to `VirtioDevice::poll` soon.
    fn wake(&self);
}
