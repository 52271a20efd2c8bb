//! The log budget: per device inside a scope, per device-model module outside one.

use super::*;

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

#[test]
fn inside_a_scope_every_level_and_target_is_charged_to_the_device() {
    let seen = Counting::default();
    let logger = Budgeted::new(seen.clone());
    let a = DeviceLog::new("vm0-scmi");
    let b = DeviceLog::new("vm1-scmi");
    {
        let _scope = enter(&a);
        send(&logger, "virtio_queue::queue", Level::Error, 100);
        send(&logger, "drivervm::transport::rings", Level::Info, 100);
        {
            let _inner = enter(&b);
            send(&logger, "drivervm::devices::scmi::clock", Level::Warn, 5);
        }
        // Back in a's scope: still over budget.
        send(&logger, "drivervm::devices::scmi::clock", Level::Warn, 5);
    }
    // No scope: passes.
    send(&logger, "virtio_queue::queue", Level::Error, 7);
    let seen = seen.0.lock().unwrap();
    let budget = crate::transport::log_budget::LINES_PER_SECOND as usize;
    let clock = seen
        .iter()
        .filter(|(t, _)| t == "drivervm::devices::scmi::clock")
        .count();
    // b's five lines pass whatever a did; a's last five are over its budget (unless a
    // second boundary fell in between, which adds at most one budget and one summary).
    assert!((5..=5 + budget + 1).contains(&clock), "{clock}");
    let queue = seen
        .iter()
        .filter(|(t, _)| t == "virtio_queue::queue")
        .count();
    assert!(
        (budget + 7..=2 * budget + 7 + 1).contains(&queue),
        "{queue} virtio-queue lines"
    );
    assert!(
        seen.len() <= 2 * budget + 1 + 5 + 7 + budget + 2,
        "{}",
        seen.len()
    );
}

#[test]
fn a_needs_reset_line_passes_a_spent_device_budget_and_has_a_rate_of_its_own() {
    let seen = Counting::default();
    let logger = Budgeted::new(seen.clone());
    let dev = DeviceLog::new("vm0-scmi");
    {
        let _scope = enter(&dev);
        send(&logger, "drivervm::transport::gunyah", Level::Info, 100);
        send(&logger, NEEDS_RESET_TARGET, Level::Error, 1);
        send(&logger, NEEDS_RESET_TARGET, Level::Error, 100);
    }
    let seen = seen.0.lock().unwrap();
    let budget = crate::transport::log_budget::LINES_PER_SECOND as usize;
    let faults = seen
        .iter()
        .filter(|(t, l)| t == NEEDS_RESET_TARGET && *l == Level::Error)
        .count();
    // The first fault line always passes; a loop of them is held to the budget (two
    // intervals at most if a boundary fell in between).
    assert!((1..=2 * budget).contains(&faults), "{faults} fault lines");
    let routine = seen
        .iter()
        .filter(|(t, _)| t == "drivervm::transport::gunyah")
        .count();
    assert!(routine <= 2 * budget, "{routine} routine lines");
}
