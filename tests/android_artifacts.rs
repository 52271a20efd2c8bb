//! Runs tests/android/check.sh: the Android artifacts (Android.bp, sepolicy, VINTF, init,
//! frozen AIDL) checked with the real tools (bpfmt, checkpolicy, xmllint, m4).
//!
//! Under CI (`CI=true`) missing tools fail the test; .ci/run installs them from
//! .ci/apt-packages. Elsewhere the test is skipped with a notice naming what to install.

use std::process::Command;

use drivervm::sandbox::policy_file::{self, Policy};
use drivervm::sandbox::{policy_gen, Arch, Role};

#[allow(dead_code)]
#[path = "aosp_crates/blueprint.rs"]
mod blueprint;

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

/// The seccomp policy Android.bp installs is where the Soong build's sandbox reads it, the
/// drivervm module pulls it in, and each architecture gets the file compiled for it, with
/// every role's filters (tests/android_seccomp.rs checks the files are fresh).
#[test]
fn android_bp_installs_each_architectures_seccomp_policy_where_the_service_reads_it() {
    use blueprint::Value;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("Android.bp")).expect("Android.bp");
    let modules = blueprint::parse(&text).unwrap_or_else(|e| panic!("Android.bp: {e}"));
    let find = |kind: &str, name: &str| {
        modules
            .iter()
            .find(|m| m.kind == kind && m.name() == name)
            .unwrap_or_else(|| panic!("Android.bp has no {kind} {name}"))
    };
    let etc = find("prebuilt_etc", "drivervm_seccomp_filters");
    assert_eq!(etc.props.get("vendor"), Some(&Value::Bool(true)));
    let installed = format!(
        "/vendor/etc/{}/{}",
        etc.str("sub_dir").expect("sub_dir"),
        etc.str("filename").expect("filename")
    );
    assert_eq!(installed, policy_file::INSTALLED);
    let daemon = find("rust_binary", "drivervm");
    assert!(
        daemon
            .strings("required")
            .unwrap()
            .contains(&"drivervm_seccomp_filters".to_string()),
        "the drivervm module does not require its seccomp policy"
    );
    let Some(Value::Map(arches)) = etc.props.get("arch") else {
        panic!("drivervm_seccomp_filters has no arch block");
    };
    assert_eq!(arches.len(), Arch::ALL.len(), "{arches:?}");
    for arch in Arch::ALL {
        let Some(Value::Map(props)) = arches.get(arch.android_name()) else {
            panic!("no arch block for {}", arch.android_name());
        };
        let Some(Value::Str(src)) = props.get("src") else {
            panic!("no src for {}", arch.android_name());
        };
        let bytes = std::fs::read(root.join(src)).unwrap_or_else(|e| panic!("{src}: {e}"));
        let policy = Policy::parse(&bytes).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(policy.audit_arch, policy_gen::audit_arch(arch), "{src}");
        for role in Role::builtin() {
            policy
                .for_process(&role.to_string(), 1)
                .unwrap_or_else(|e| panic!("{src}: {e}"));
        }
    }
}
