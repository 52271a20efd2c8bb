//! Collects the log lines of in-process services (the Gunyah transport runs inside the test
//! binary), so tests can check what was logged.

use std::sync::{Mutex, Once};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INIT: Once = Once::new();

struct Collector;

impl log::Log for Collector {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug && m.target().starts_with("drivervm")
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let line = format!("{} {}: {}", r.level(), r.target(), r.args());
            if let Ok(mut l) = LINES.lock() {
                l.push(line);
            }
        }
    }

    fn flush(&self) {}
}

/// Installs the collector once per test binary.
pub fn init() {
    INIT.call_once(|| {
        if log::set_boxed_logger(Box::new(Collector)).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

/// Every line logged so far by any in-process service of this test binary that mentions
/// `needle` (a device id, say), one per line.
pub fn lines_with(needle: &str) -> String {
    let lines = match LINES.lock() {
        Ok(l) => l,
        Err(p) => p.into_inner(),
    };
    lines
        .iter()
        .filter(|l| l.contains(needle))
        .fold(String::new(), |mut acc, l| {
            acc.push_str(l);
            acc.push('\n');
            acc
        })
}
