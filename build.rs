//! Compiles the vendor.drivervm AIDL into Rust for the Cargo build. Soong compiles the same
//! files through its `aidl_interface` instead.
//!
//! * `drivervm_aidl.rs` (`src/control` includes it): the sources, which `frozen: true` makes
//!   equal to the latest frozen version, stamped with that version and its hash as Soong's
//!   `aidl --version N --hash` does, so `getInterfaceVersion`/`getInterfaceHash` answer the
//!   same under both builds.
//! * `drivervm_aidl_v<N>.rs` for every older frozen version, from its snapshot: what a client
//!   built against that version runs. Only tests include them (a V1 client against this
//!   service, this drivervmctl against a V1 service).

use std::fs;
use std::path::{Path, PathBuf};

const AIDL_DIR: &str = "aidl/vendor/drivervm";
const API_DIR: &str = "aidl/aidl_api/vendor.drivervm";

fn main() {
    if let Err(e) = generate() {
        // A build script reports failure by exiting non-zero with the reason on stderr.
        eprintln!("build.rs: {e}");
        std::process::exit(1);
    }
}

/// The frozen versions under `API_DIR`, ascending.
fn frozen_versions() -> Result<Vec<i32>, String> {
    let mut versions: Vec<i32> = fs::read_dir(API_DIR)
        .map_err(|e| format!("cannot read {API_DIR}: {e}"))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// The hash of frozen `version`: AOSP stamps the last line, as the file may accumulate one
/// line per freeze.
fn frozen_hash(version: i32) -> Result<String, String> {
    let path = format!("{API_DIR}/{version}/.hash");
    println!("cargo:rerun-if-changed={path}");
    let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{path} is empty"))
}

fn aidl_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut sources: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "aidl"))
        .collect();
    sources.sort();
    Ok(sources)
}

fn compile(dir: &Path, out: &str, version: i32, hash: &str) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let out_dir = std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?;
    let mut builder = rsbinder_aidl::Builder::new()
        .dest_dir(Path::new(&out_dir))
        .output(out);
    for src in aidl_files(dir)? {
        println!("cargo:rerun-if-changed={}", src.display());
        builder = builder.source(&src).version(version).hash(hash);
    }
    builder
        .generate()
        .map_err(|e| format!("AIDL compilation of {} failed: {e:?}", dir.display()))
}

fn generate() -> Result<(), String> {
    println!("cargo:rerun-if-changed={API_DIR}");
    let versions = frozen_versions()?;
    let (&latest, older) = versions
        .split_last()
        .ok_or_else(|| format!("no frozen version under {API_DIR}"))?;
    compile(
        Path::new(AIDL_DIR),
        "drivervm_aidl.rs",
        latest,
        &frozen_hash(latest)?,
    )?;
    for &v in older {
        compile(
            &Path::new(API_DIR).join(format!("{v}/vendor/drivervm")),
            &format!("drivervm_aidl_v{v}.rs"),
            v,
            &frozen_hash(v)?,
        )?;
    }
    Ok(())
}
