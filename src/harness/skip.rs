//! Saying that a test skipped where whoever ran `cargo test` sees it.
//!
//! The test runner captures `print!`/`eprint!` of passing tests, so a skip notice printed
//! that way vanishes behind "ok". Writes to the stderr handle itself are not captured.

use std::io::Write;

/// The file, if any, where every skip is also recorded as one line (`.ci/run` sets it and
/// counts the lines at the end of the run).
pub const SKIP_LOG_ENV: &str = "DRIVERVM_SKIP_LOG";

/// Reports that `test` did not run, and why, on the terminal and in the skip log.
pub fn skipped(test: &str, why: &str) {
    let line = format!("SKIPPED {test}: {why}");
    // Straight to the handle: not captured, so it shows next to the test's "ok". The
    // runner may be mid-line ("test x ... "), hence the leading newline; one write call
    // keeps the notice whole.
    let _ = std::io::stderr().write_all(format!("\n{line}\n").as_bytes());
    let Some(path) = std::env::var_os(SKIP_LOG_ENV) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        let _ = writeln!(
            std::io::stderr().lock(),
            "cannot record the skip in {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}
