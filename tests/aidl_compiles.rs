//! The AIDL interface compiled by rsbinder-aidl, the AIDL compiler the Cargo build uses.
//!
//! Checks that every file under aidl/vendor/drivervm parses and resolves, that the generated
//! Rust carries the latest frozen version and its hash (as Soong's `aidl --version 2 --hash`
//! would), that every frozen snapshot (V1, which old clients are built from, and V2) compiles
//! on its own, and that the compiler really rejects a broken interface, so a pass here means
//! something.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rsbinder_aidl::Builder;

const AIDL_DIR: &str = "aidl/vendor/drivervm";
const API_DIR: &str = "aidl/aidl_api/vendor.drivervm";
/// The latest frozen version, which the sources equal (`frozen: true`).
const LATEST: i32 = 2;

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
    frozen_hash_of(LATEST)
}

fn frozen_hash_of(version: i32) -> String {
    let path = repo_path(&format!("{API_DIR}/{version}/.hash"));
    let text = fs::read_to_string(path).expect(".hash is readable");
    // AOSP compares the last line of .hash (a file may list several hashes over time).
    text.lines()
        .last()
        .expect(".hash has a line")
        .trim()
        .to_owned()
}

fn compile(sources: &[PathBuf], out_dir: &Path, hash: &str) -> Result<String, String> {
    compile_as(sources, out_dir, LATEST, hash)
}

fn compile_as(
    sources: &[PathBuf],
    out_dir: &Path,
    version: i32,
    hash: &str,
) -> Result<String, String> {
    let mut builder = Builder::new().dest_dir(out_dir).output("drivervm_aidl.rs");
    for src in sources {
        builder = builder.source(src).version(version).hash(hash);
    }
    builder.generate().map_err(|e| format!("{e:?}"))?;
    fs::read_to_string(out_dir.join("drivervm_aidl.rs")).map_err(|e| e.to_string())
}

#[test]
fn interface_compiles_with_frozen_version_and_hash() {
    let sources = aidl_sources(&repo_path(AIDL_DIR));
    assert_eq!(sources.len(), 19, "one file per declared type: {sources:?}");
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
        "DeviceDetail",
        "ScmiDetail",
        "SoundDetail",
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
        generated.contains(&format!("pub const VERSION: i32 = {LATEST};")),
        "version {LATEST} is not stamped"
    );
    // The union is a Rust enum, one variant per kind, in DeviceKind order.
    let union_at = generated
        .find("pub enum r#DeviceDetail {")
        .expect("DeviceDetail is a Rust enum");
    let arms: Vec<usize> = ["r#Scmi(", "r#Rpmb(", "r#Sound(", "r#Radio("]
        .iter()
        .map(|a| union_at + generated[union_at..].find(a).expect("union arm"))
        .collect();
    assert!(arms.windows(2).all(|w| w[0] < w[1]), "arms out of order");
    assert!(generated.contains("r#getDetail"), "getDetail is generated");
    assert!(
        generated.contains("r#RPMB_DEV = 2,"),
        "TransportKind::RPMB_DEV = 2 is generated"
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

fn snapshot_sources(version: i32) -> Vec<PathBuf> {
    aidl_sources(&repo_path(&format!("{API_DIR}/{version}/vendor/drivervm")))
}

#[test]
fn every_frozen_snapshot_compiles_with_its_own_version_and_hash() {
    for version in 1..=LATEST {
        let hash = frozen_hash_of(version);
        let out = tempfile::tempdir().expect("tempdir");
        let generated = compile_as(&snapshot_sources(version), out.path(), version, &hash)
            .unwrap_or_else(|e| panic!("V{version} snapshot does not compile: {e}"));
        assert!(generated.contains(&format!("pub const VERSION: i32 = {version};")));
        assert!(generated.contains(&hash), "V{version} hash not stamped");
        // getDetail and the union arrived in V2; V1 must not have grown them.
        assert_eq!(
            generated.contains("r#getDetail"),
            version >= 2,
            "V{version}"
        );
        assert_eq!(
            generated.contains("pub mod DeviceDetail {"),
            version >= 2,
            "V{version}"
        );
    }
}

/// system/tools/aidl build/hash_gen.sh, which Soong's freeze and integrity check run: sha1 of
/// the sorted per-file `sha1sum` lines of the version's directory, then the previous version
/// (`latest-version` for version 1).
fn aosp_hash(version: i32) -> String {
    let prev = if version > 1 {
        (version - 1).to_string()
    } else {
        "latest-version".to_owned()
    };
    let script = format!(
        "cd {API_DIR}/{version} && {{ find ./ -name '*.aidl' -print0 | LC_ALL=C sort -z | \
         xargs -0 sha1sum && echo {prev}; }} | sha1sum | cut -d' ' -f1"
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn every_frozen_hash_is_aosps_hash_of_its_snapshot() {
    // V1 is frozen: its hash is what V1 clients were built with and must never change.
    assert_eq!(
        frozen_hash_of(1),
        "2cd3b5e3f104311d933571ffcab4469e8b957fb3"
    );
    for version in 1..=LATEST {
        assert_eq!(frozen_hash_of(version), aosp_hash(version), "V{version}");
    }
    assert_ne!(frozen_hash_of(2), frozen_hash_of(1));
}

#[test]
fn v1_transaction_codes_are_unchanged_in_the_latest_version() {
    // A V1 client sends FIRST_CALL_TRANSACTION + n for the n-th V1 method: the latest
    // interface must keep every V1 method at its index and only append.
    let out = tempfile::tempdir().expect("tempdir");
    let v1 = compile_as(&snapshot_sources(1), out.path(), 1, &frozen_hash_of(1)).expect("V1");
    let out = tempfile::tempdir().expect("tempdir");
    let latest = compile(
        &aidl_sources(&repo_path(AIDL_DIR)),
        out.path(),
        &frozen_hash(),
    )
    .expect("latest");
    let codes = |text: &str| -> Vec<String> {
        let at = text.find("pub mod IDriverVm {").expect("IDriverVm module");
        let at = at
            + text[at..]
                .find("mod transactions {")
                .expect("transaction codes");
        text[at..]
            .lines()
            .skip(1)
            .take_while(|l| l.trim() != "}")
            .filter(|l| !l.contains("getInterface") && !l.trim_start().starts_with("//"))
            .map(|l| l.trim().to_owned())
            .collect()
    };
    let (old, new) = (codes(&v1), codes(&latest));
    assert_eq!(old.len(), 9, "{old:?}");
    assert_eq!(&new[..old.len()], &old[..], "V1 codes moved");
    assert_eq!(new.len(), old.len() + 1, "V2 appends getDetail: {new:?}");
    assert!(new[old.len()].contains("getDetail"));
}
