//! Compiles the vendor.drivervm AIDL into Rust for the Cargo build (`src/control/aidl.rs`
//! includes it). Soong compiles the same files through its `aidl_interface` instead.
//!
//! Each interface is stamped with the frozen version and hash, as Soong's
//! `aidl --version 1 --hash` does, so `getInterfaceVersion`/`getInterfaceHash` answer the same
//! under both builds.

use std::fs;
use std::path::{Path, PathBuf};

const AIDL_DIR: &str = "aidl/vendor/drivervm";
const FROZEN_VERSION: i32 = 1;
const FROZEN_HASH: &str = "aidl/aidl_api/vendor.drivervm/1/.hash";

fn main() {
    if let Err(e) = generate() {
        // A build script reports failure by exiting non-zero with the reason on stderr.
        eprintln!("build.rs: {e}");
        std::process::exit(1);
    }
}

fn generate() -> Result<(), String> {
    println!("cargo:rerun-if-changed={AIDL_DIR}");
    println!("cargo:rerun-if-changed={FROZEN_HASH}");
    let hash_text =
        fs::read_to_string(FROZEN_HASH).map_err(|e| format!("cannot read {FROZEN_HASH}: {e}"))?;
    // AOSP stamps the last hash listed: the file may accumulate one line per freeze.
    let hash = hash_text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .ok_or_else(|| format!("{FROZEN_HASH} is empty"))?
        .to_owned();
    let mut sources: Vec<PathBuf> = fs::read_dir(AIDL_DIR)
        .map_err(|e| format!("cannot read {AIDL_DIR}: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "aidl"))
        .collect();
    sources.sort();
    let out_dir = std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?;
    let mut builder = rsbinder_aidl::Builder::new()
        .dest_dir(Path::new(&out_dir))
        .output("drivervm_aidl.rs");
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        builder = builder
            .source(src)
            .version(FROZEN_VERSION)
            .hash(hash.clone());
    }
    builder
        .generate()
        .map_err(|e| format!("AIDL compilation failed: {e:?}"))
}
