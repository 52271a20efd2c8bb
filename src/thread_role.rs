//! A leaf every layer may name: lets a thread started below the service layer (a jack
//! watcher, the V4L2 worker, the status watcher, the control plane's threads) take its
//! sandbox role without naming the sandbox. The daemon installs the hook
//! (`sandbox::announce`); without one (the library in tests, the load tools) `enter` does
//! nothing.

use std::sync::OnceLock;

/// The roles of threads started outside the service layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadRole {
    /// A sound jack watcher.
    JackWatch,
    /// A V4L2 tuner's blocking worker.
    TunerWorker,
    /// The status detail watcher.
    Status,
    /// The control plane's accept loop and event dispatcher.
    Control,
}

static HOOK: OnceLock<fn(ThreadRole)> = OnceLock::new();

/// Installs what [`enter`] calls; only the first call counts.
pub fn set_hook(hook: fn(ThreadRole)) {
    let _ = HOOK.set(hook);
}

/// Puts the calling thread in `role`'s sandbox when the process has one: call first thing
/// in the thread.
pub fn enter(role: ThreadRole) {
    if let Some(hook) = HOOK.get() {
        hook(role);
    }
}
