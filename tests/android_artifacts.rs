//! Runs tests/android/check.sh: the Android artifacts (Android.bp, sepolicy, VINTF, init,
//! frozen AIDL) checked with the real tools (bpfmt, checkpolicy, xmllint, m4).
//!
//! Under CI (`CI=true`) missing tools fail the test; .ci/run installs them from
//! .ci/apt-packages. Elsewhere the test is skipped with a notice naming what to install.

use std::process::Command;

const TOOLS: [&str; 4] = ["bpfmt", "checkpolicy", "xmllint", "m4"];

fn missing_tools() -> Vec<&'static str> {
    TOOLS
        .iter()
        .copied()
        .filter(|t| {
            !std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn android_artifacts_pass_the_real_tools() {
    let missing = missing_tools();
    if !missing.is_empty() {
        let msg = format!(
            "missing {missing:?}: apt-get install blueprint-tools checkpolicy libxml2-utils m4"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        drivervm::harness::skip::skipped("android_artifacts_pass_the_real_tools", &msg);
        return;
    }
    let out = Command::new("bash")
        .arg("tests/android/check.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check.sh failed:\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains(" passed, 0 failed"),
        "unexpected summary: {last}"
    );
}
