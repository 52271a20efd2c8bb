//! Collects the log lines of in-process services (the Gunyah transport runs inside the test
//! binary), so tests can check what was logged: every line, and, apart, the lines the
//! service's own logger (`drivervm::logging::Budgeted`) would have let through, so that
//! tests can hold an in-process service's log to the same bounds as the daemon's.

use std::sync::{Mutex, Once};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static BUDGETED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INIT: Once = Once::new();

struct Collector;

/// Keeps what the service's per-device log budget admits.
struct Admitted;

impl log::Log for Admitted {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        Collector.enabled(m)
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let line = format!("{} {}: {}", r.level(), r.target(), r.args());
            if let Ok(mut l) = BUDGETED.lock() {
                l.push(line);
            }
        }
    }

    fn flush(&self) {}
}

/// Every line to [`Collector`], and through the service's budget to [`Admitted`].
struct Both {
    budgeted: drivervm::logging::Budgeted<Admitted>,
}

impl log::Log for Both {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        Collector.enabled(m)
    }

    fn log(&self, r: &log::Record<'_>) {
        Collector.log(r);
        self.budgeted.log(r);
    }

    fn flush(&self) {}
}

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
        let both = Both {
            budgeted: drivervm::logging::Budgeted::new(Admitted),
        };
        if log::set_boxed_logger(Box::new(both)).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

/// Every line logged so far by any in-process service of this test binary that mentions
/// `needle` (a device id, say), one per line.
pub fn lines_with(needle: &str) -> String {
    matching(&LINES, needle)
}

/// Like [`lines_with`], but only the lines the service's log budget let through.
pub fn budgeted_lines_with(needle: &str) -> String {
    matching(&BUDGETED, needle)
}

fn matching(lines: &Mutex<Vec<String>>, needle: &str) -> String {
    let lines = match lines.lock() {
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
