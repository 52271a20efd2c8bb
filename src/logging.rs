//! Log setup: Android's logd on Android, stderr (env_logger) everywhere else, both behind
//! [`Budgeted`], which holds what guests can cause to a budget.
//!
//! Nearly everything a device's worker thread logs is caused by its guest (a malformed
//! chain, a ring fault, a reset, a dependency such as virtio-queue complaining about the
//! ring), so a hostile guest could flood the log with it. A transport marks the thread it
//! serves a device on with that device's [`DeviceLog`] ([`enter`]); every record logged
//! there, at any level and from any crate, is charged to that device's budget, and the
//! dropped lines are counted and reported once per budget interval. One guest therefore
//! cannot silence another's lines either. Outside such a scope, warnings from the device
//! models still go through a budget per module, as a backstop.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use log::{Level, Log, Metadata, Record};

use crate::transport::log_budget::{LogBudget, LINES_PER_SECOND};

/// Starts logging at `level` (error..trace); `RUST_LOG` overrides it off Android.
pub fn init(level: Option<&str>) {
    let level = level.unwrap_or("info");
    // The Android build (Soong, cfg(soong)) links libandroid_logger whatever the target.
    #[cfg(any(soong, target_os = "android"))]
    {
        let filter = level.parse().unwrap_or(log::LevelFilter::Info);
        let logger = android_logger::AndroidLogger::new(
            android_logger::Config::default()
                .with_tag("drivervm")
                .with_max_level(filter),
        );
        if log::set_boxed_logger(Box::new(Budgeted::new(logger))).is_ok() {
            log::set_max_level(filter);
        }
    }
    #[cfg(not(any(soong, target_os = "android")))]
    {
        let env = env_logger::Env::default().default_filter_or(level);
        let logger = env_logger::Builder::from_env(env)
            .format_timestamp_millis()
            .build();
        let max = logger.filter();
        // A second init (tests) is harmless.
        if log::set_boxed_logger(Box::new(Budgeted::new(logger))).is_ok() {
            log::set_max_level(max);
        }
    }
    route_panics();
}

/// Sends panic messages through the log (and so through the budget of the device whose
/// thread panicked) instead of straight to stderr: a guest that can make a device panic
/// once per reset must not be able to flood the log with panic reports.
pub fn route_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        log::error!(target: "drivervm::panic", "thread {name}: {info}");
    }));
}

/// The target of the one line a device logs when it enters "needs reset". It has a budget of
/// its own in each [`DeviceLog`]: the device's routine lines (a Gunyah node's publish,
/// DRIVER_OK and reset lines) must not use up the budget before the fault's line, and a
/// driver that resets and breaks the ring in a loop is still held to a rate.
pub const NEEDS_RESET_TARGET: &str = "drivervm::needs_reset";

/// One device's share of the log: its id (for the summary line) and its budgets.
pub struct DeviceLog {
    id: String,
    budget: LogBudget,
    faults: LogBudget,
}

impl DeviceLog {
    /// A fresh budget for device `id`.
    pub fn new(id: &str) -> Arc<Self> {
        Arc::new(Self {
            id: id.to_owned(),
            budget: LogBudget::default(),
            faults: LogBudget::default(),
        })
    }

    /// The device id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<DeviceLog>>> = const { RefCell::new(None) };
}

/// While alive, what this thread logs is charged to one device (see [`enter`]).
pub struct Scope {
    previous: Option<Arc<DeviceLog>>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Charges everything this thread logs to `device` until the returned scope is dropped.
pub fn enter(device: &Arc<DeviceLog>) -> Scope {
    let previous = CURRENT
        .try_with(|c| c.borrow_mut().replace(device.clone()))
        .ok()
        .flatten();
    Scope { previous }
}

fn current() -> Option<Arc<DeviceLog>> {
    CURRENT
        .try_with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
        .ok()
        .flatten()
}

/// Device-model targets whose warnings a guest can cause, budgeted even outside a scope.
const GUEST_FACING: &str = "drivervm::devices";

/// Passes records to `inner`, holding guest-caused ones to a budget per device.
pub struct Budgeted<L> {
    inner: L,
    budgets: Mutex<HashMap<String, LogBudget>>,
}

impl<L: Log> Budgeted<L> {
    /// Wraps `inner`.
    pub fn new(inner: L) -> Self {
        Self {
            inner,
            budgets: Mutex::new(HashMap::new()),
        }
    }

    fn admit_module(&self, target: &str) -> bool {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if !budgets.contains_key(target) {
            budgets.insert(target.to_owned(), LogBudget::default());
        }
        let Some(budget) = budgets.get(target) else {
            return true;
        };
        let (admitted, dropped) = budget.charge();
        drop(budgets);
        self.summarise(target, target, dropped);
        admitted
    }

    fn admit_device(&self, device: &DeviceLog, target: &str) -> bool {
        let budget = if target == NEEDS_RESET_TARGET {
            &device.faults
        } else {
            &device.budget
        };
        let (admitted, dropped) = budget.charge();
        self.summarise(target, &device.id, dropped);
        admitted
    }

    /// Reports `dropped` lines of `who`, straight to the inner logger (never budgeted).
    fn summarise(&self, target: &str, who: &str, dropped: u64) {
        if dropped == 0 {
            return;
        }
        self.inner.log(
            &Record::builder()
                .level(Level::Warn)
                .target(target)
                .args(format_args!(
                    "{who}: {dropped} more log lines were not logged (limit {LINES_PER_SECOND}/s)"
                ))
                .build(),
        );
    }
}

impl<L: Log> Log for Budgeted<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        let admitted = match current() {
            Some(device) => self.admit_device(&device, record.target()),
            None if record.level() == Level::Warn && record.target().starts_with(GUEST_FACING) => {
                self.admit_module(record.target())
            }
            None => true,
        };
        if admitted {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
