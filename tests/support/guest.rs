//! What every real-guest test does first: ask its guest script whether the host has the
//! tools to build and boot the guest.

use std::process::Command;

/// Whether `script check` finds the guest tools; skips `what` with a notice when not, and
/// fails under CI (`CI=true`), where the real-guest tests must run.
pub fn tools_ready(script: &str, what: &str) -> bool {
    let out = Command::new(script).arg("check").output();
    let (ok, why) = match out {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
        ),
        Err(e) => (false, format!("cannot run {script}: {e}")),
    };
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("guest test tools missing under CI: {why}");
    }
    drivervm::harness::skip::skipped(what, &why);
    false
}
