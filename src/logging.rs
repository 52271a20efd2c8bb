//! Log setup: Android's logd on Android, stderr (env_logger) everywhere else.
//!
//! Warnings from the device models are mostly about what a guest sent, so a hostile guest
//! could flood the log with them; off Android they go through a budget per module
//! ([`LogBudget`], the transport's guest-error budget), with a count of what was dropped.
//! On Android, logd rate-limits chatty processes itself.

use std::collections::HashMap;
use std::sync::Mutex;

use log::{Level, Log, Metadata, Record};

use crate::transport::log_budget::LogBudget;

/// Starts logging at `level` (error..trace); `RUST_LOG` overrides it off Android.
pub fn init(level: Option<&str>) {
    let level = level.unwrap_or("info");
    #[cfg(target_os = "android")]
    {
        let filter = level.parse().unwrap_or(log::LevelFilter::Info);
        android_logger::init_once(
            android_logger::Config::default()
                .with_tag("drivervm")
                .with_max_level(filter),
        );
    }
    #[cfg(not(target_os = "android"))]
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
}

/// Targets whose warnings a guest can cause.
const GUEST_FACING: &str = "drivervm::devices";

/// Passes records to `inner`, holding device-model warnings to a budget per module.
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

    fn admit(&self, target: &str) -> bool {
        let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if !budgets.contains_key(target) {
            budgets.insert(target.to_owned(), LogBudget::default());
        }
        // The summary of dropped lines is logged from the transport's module, so it is not
        // itself budgeted here and this lock is not taken again.
        budgets.get(target).is_none_or(|b| b.admit(target))
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
        if record.level() == Level::Warn
            && record.target().starts_with(GUEST_FACING)
            && !self.admit(record.target())
        {
            return;
        }
        self.inner.log(record);
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Counts what reaches it, by target and level.
    #[derive(Clone, Default)]
    struct Counting(Arc<Mutex<Vec<(String, Level)>>>);

    impl Log for Counting {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &Record<'_>) {
            self.0
                .lock()
                .unwrap()
                .push((record.target().to_owned(), record.level()));
        }
        fn flush(&self) {}
    }

    fn send(logger: &impl Log, target: &str, level: Level, n: usize) {
        for _ in 0..n {
            logger.log(
                &Record::builder()
                    .target(target)
                    .level(level)
                    .args(format_args!("x"))
                    .build(),
            );
        }
    }

    #[test]
    fn device_warnings_are_budgeted_per_module_and_nothing_else_is() {
        let seen = Counting::default();
        let logger = Budgeted::new(seen.clone());
        send(
            &logger,
            "drivervm::devices::sound::stream",
            Level::Warn,
            100,
        );
        send(&logger, "drivervm::devices::scmi::clock", Level::Warn, 100);
        send(
            &logger,
            "drivervm::devices::rpmb::engine",
            Level::Error,
            100,
        );
        send(&logger, "drivervm::service", Level::Warn, 100);
        let seen = seen.0.lock().unwrap();
        let count = |target: &str| seen.iter().filter(|(t, _)| t == target).count();
        let budget = crate::transport::log_budget::LINES_PER_SECOND as usize;
        // 100 lines fall in one second, or straddle one boundary.
        for module in [
            "drivervm::devices::sound::stream",
            "drivervm::devices::scmi::clock",
        ] {
            assert!(
                (budget..=2 * budget).contains(&count(module)),
                "{module}: {}",
                count(module)
            );
        }
        assert_eq!(count("drivervm::devices::rpmb::engine"), 100, "errors pass");
        assert_eq!(count("drivervm::service"), 100, "other modules pass");
    }
}
