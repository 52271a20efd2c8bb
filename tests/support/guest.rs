//! What the real-guest tests share: asking a guest script whether the host can build and
//! boot its guest (skipping with a notice, or failing under CI), running the script, and
//! reading the report the guest printed on its second serial port.

use std::path::Path;
use std::process::{Command, ExitStatus};

use serde_json::Value;

/// Whether `script check` finds the guest tools; skips `what` with a notice when not, and
/// fails under CI (`CI=true`), where the real-guest tests must run.
pub fn tools_ready(script: &str, what: &str) -> bool {
    let out = Command::new(script).arg("check").output();
    let missing = match out {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Err(e) => Some(format!("cannot run {script}: {e}")),
    };
    ready_or_skip(what, missing)
}

/// With `missing` (why the guest cannot run) set: fails under CI (`CI=true`), else reports
/// `what` as skipped (`SKIPPED <what>: <why>` on the terminal and in $DRIVERVM_SKIP_LOG)
/// and returns false. Returns true when nothing is missing.
pub fn ready_or_skip(what: &str, missing: Option<String>) -> bool {
    let Some(why) = missing else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("guest test tools missing under CI ({what}): {why}");
    }
    drivervm::harness::skip::skipped(what, &why);
    false
}

/// What a guest script's `run` left behind in its work dir.
pub struct GuestRun {
    /// The script's exit status.
    pub status: ExitStatus,
    /// WORKDIR/report.log (the guest's second serial port), with LF line ends.
    pub report: String,
    /// WORKDIR/console.log (the guest's console).
    pub console: String,
}

impl GuestRun {
    /// Runs `cmd` (a guest script's `run`, given `work` as its WORKDIR) to completion and
    /// reads the report and console it wrote there.
    pub fn run(mut cmd: Command, work: &Path) -> GuestRun {
        let status = cmd.status().expect("run the guest script");
        GuestRun::read(status, work)
    }

    /// Reads the report and console a finished script (exit `status`) wrote to `work`.
    pub fn read(status: ExitStatus, work: &Path) -> GuestRun {
        // The guest's serial port turns every \n into \r\n.
        let report = std::fs::read_to_string(work.join("report.log"))
            .unwrap_or_default()
            .replace('\r', "");
        let console = std::fs::read_to_string(work.join("console.log")).unwrap_or_default();
        GuestRun {
            status,
            report,
            console,
        }
    }

    /// Everything to print when an assertion fails: report, console and `service_log` (the
    /// log of a service the test ran on the host, if any).
    pub fn context(&self, service_log: Option<&str>) -> String {
        let mut s = format!("guest report:\n{}\nconsole:\n{}", self.report, self.console);
        if let Some(log) = service_log {
            s.push_str("\nservice log:\n");
            s.push_str(log);
        }
        s
    }

    /// Asserts that the script succeeded and the guest got to `=== done`.
    pub fn assert_done(&self, context: &str) {
        assert!(
            self.status.success(),
            "guest run failed ({})\n{context}",
            self.status
        );
        assert!(
            self.report.contains("=== done"),
            "guest did not finish\n{context}"
        );
    }
}

/// The lines of `report` after the line `=== <name>`, up to the next line starting with
/// `===`.
pub fn section<'a>(report: &'a str, name: &str) -> &'a str {
    let marker = format!("=== {name}\n");
    let Some(at) = report.find(&marker) else {
        panic!("no section {name:?} in guest report:\n{report}");
    };
    let body = &report[at + marker.len()..];
    if body.starts_with("===") {
        return "";
    }
    &body[..body.find("\n===").map_or(body.len(), |e| e + 1)]
}

/// The exit status the guest printed (`=== rc=N`) after section `name`.
pub fn rc_after<'a>(report: &'a str, name: &str) -> &'a str {
    let start = report
        .find(&format!("=== {name}\n"))
        .unwrap_or_else(|| panic!("no section {name:?} in guest report:\n{report}"));
    let rest = &report[start..];
    let at = rest
        .find("=== rc=")
        .unwrap_or_else(|| panic!("no rc line after {name:?} in guest report:\n{report}"))
        + 7;
    rest[at..].lines().next().unwrap_or("")
}

/// The JSON objects among the lines of `s` (what `drivervmctl --json` printed).
pub fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}
