//! The AIDL interface compiled by rsbinder-aidl, the AIDL compiler the Cargo build uses.
//!
//! Checks that every file under aidl/vendor/drivervm parses and resolves, that the generated
//! Rust carries the frozen version and hash (as Soong's `aidl --version 1 --hash` would), and
//! that the compiler really rejects a broken interface, so a pass here means something.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rsbinder_aidl::Builder;

const AIDL_DIR: &str = "aidl/vendor/drivervm";
const FROZEN_HASH: &str = "aidl/aidl_api/vendor.drivervm/1/.hash";

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn aidl_sources(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("aidl source dir is readable")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "aidl"))
        .collect();
    files.sort();
    files
}

fn frozen_hash() -> String {
    let text = fs::read_to_string(repo_path(FROZEN_HASH)).expect(".hash is readable");
    // AOSP compares the last line of .hash (a file may list several hashes over time).
    text.lines()
        .last()
        .expect(".hash has a line")
        .trim()
        .to_owned()
}

fn compile(sources: &[PathBuf], out_dir: &Path, hash: &str) -> Result<String, String> {
    let mut builder = Builder::new().dest_dir(out_dir).output("drivervm_aidl.rs");
    for src in sources {
        builder = builder.source(src).version(1).hash(hash);
    }
    builder.generate().map_err(|e| format!("{e:?}"))?;
    fs::read_to_string(out_dir.join("drivervm_aidl.rs")).map_err(|e| e.to_string())
}

#[test]
fn interface_compiles_with_frozen_version_and_hash() {
    let sources = aidl_sources(&repo_path(AIDL_DIR));
    assert_eq!(sources.len(), 16, "one file per declared type: {sources:?}");
    let hash = frozen_hash();
    assert_eq!(
        hash.len(),
        40,
        "a sha1 hex digest, as AOSP's hash_gen.sh writes"
    );

    let out = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let generated =
        compile(&sources, out.path(), &hash).expect("rsbinder-aidl accepts the interface");
    eprintln!(
        "rsbinder-aidl generated {} bytes in {:?}",
        generated.len(),
        started.elapsed()
    );
    // Set DRIVERVM_AIDL_KEEP=<file> to inspect what the compiler produced.
    if let Some(keep) = std::env::var_os("DRIVERVM_AIDL_KEEP") {
        fs::write(keep, &generated).expect("write DRIVERVM_AIDL_KEEP");
    }

    for ty in [
        "IDriverVm",
        "IDriverVmListener",
        "DeviceStatus",
        "QueueCounters",
        "ServiceInfo",
        "ClockInfo",
        "RpmbInfo",
        "RadioInfo",
        "RdsInfo",
        "AudioStream",
        "DeviceKind",
        "TransportKind",
        "LinkState",
        "RadioBand",
        "AudioDirection",
        "AudioStreamState",
    ] {
        assert!(
            generated.contains(&format!("pub mod {ty} {{")),
            "generated code has no module for {ty}"
        );
    }
    for (name, value) in [
        ("ERROR_UNKNOWN_DEVICE", 1),
        ("ERROR_WRONG_DEVICE_KIND", 2),
        ("ERROR_BACKEND_UNAVAILABLE", 3),
        ("ERROR_TOO_MANY_LISTENERS", 4),
    ] {
        assert!(
            generated.contains(&format!("pub const r#{name}: i32 = {value};")),
            "constant {name} = {value} missing from generated code"
        );
    }
    assert!(
        generated.contains(&hash),
        "frozen hash is not stamped into getInterfaceHash"
    );
    assert!(
        generated.contains("pub const VERSION: i32 = 1;"),
        "version 1 is not stamped"
    );
    assert!(
        generated.contains("\"vendor.drivervm.IDriverVm\""),
        "interface descriptor is not the AIDL package name"
    );
    // Only the listener's two callbacks are oneway; every IDriverVm call waits for its reply.
    assert_eq!(generated.matches("rsbinder::FLAG_ONEWAY").count(), 2);
}

/// Copies the interface to a temp dir with one text substitution in one file and compiles it.
fn compile_mutated(file: &str, from: &str, to: &str) -> Result<String, String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mutated_dir = tmp.path().join("vendor/drivervm");
    fs::create_dir_all(&mutated_dir).expect("mkdir");
    let mut applied = false;
    for src in aidl_sources(&repo_path(AIDL_DIR)) {
        let mut text = fs::read_to_string(&src).expect("read source");
        if src.file_name().is_some_and(|n| n == file) {
            applied = text.contains(from);
            text = text.replacen(from, to, 1);
        }
        fs::write(mutated_dir.join(src.file_name().expect("file name")), text).expect("write");
    }
    assert!(
        applied,
        "{from:?} not found in {file}: the mutation must apply"
    );
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).expect("mkdir out");
    compile(&aidl_sources(&mutated_dir), &out, &frozen_hash())
}

#[test]
fn compiler_rejects_an_unresolvable_type() {
    let err = compile_mutated(
        "DeviceStatus.aidl",
        "    LinkState link;",
        "    LinkStat link;",
    )
    .expect_err("a misspelled type must not compile");
    assert!(
        err.contains("LinkStat"),
        "the error names the bad type: {err}"
    );
}

#[test]
fn compiler_rejects_a_stability_leak() {
    // A @VintfStability parcelable may only hold types that are themselves VINTF-stable.
    let err = compile_mutated("QueueCounters.aidl", "@VintfStability\n", "")
        .expect_err("a non-VINTF parcelable inside DeviceStatus must not compile");
    assert!(
        err.contains("VintfStabilityLeak"),
        "reported as a stability leak: {err}"
    );
    assert!(
        err.contains("QueueCounters"),
        "the error names the leaking type: {err}"
    );
}
