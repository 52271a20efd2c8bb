//! Writes the seccomp policy files the Soong build installs: every role's filters, compiled
//! with seccompiler from the role tables in src/sandbox/ for each Android architecture, as
//! DIR/<arch>/seccomp_filters.bin (arch: arm64, x86_64, riscv64). The files are committed;
//! `tests/android_seccomp.rs` fails when they are not what this tool makes from the tables.
//! Run it after changing a syscall group or role (docs/sandbox.md, "On Android").
//!
//! Usage: `drivervm-seccomp-policy [--check] [DIR]` (DIR defaults to etc/android/seccomp);
//! `--check` compares instead of writing and exits 1 when a file differs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use drivervm::sandbox::policy_file::FILE_NAME;
use drivervm::sandbox::{policy_gen, Arch};

fn run(check: bool, dir: PathBuf) -> anyhow::Result<bool> {
    let mut fresh = true;
    for arch in Arch::ALL {
        let bytes = policy_gen::generate(arch)?;
        let path = dir.join(arch.android_name()).join(FILE_NAME);
        if check {
            let have = std::fs::read(&path).with_context(|| path.display().to_string())?;
            if have != bytes {
                eprintln!("{} is stale", path.display());
                fresh = false;
            }
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::write(&path, &bytes).with_context(|| path.display().to_string())?;
        println!("{}: {} bytes", path.display(), bytes.len());
    }
    Ok(fresh)
}

fn main() -> ExitCode {
    let mut check = false;
    let mut dir = PathBuf::from("etc/android/seccomp");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            a if a.starts_with('-') => {
                eprintln!("usage: drivervm-seccomp-policy [--check] [DIR]");
                return ExitCode::from(2);
            }
            a => dir = PathBuf::from(a),
        }
    }
    match run(check, dir) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("drivervm-seccomp-policy: {e:#}");
            ExitCode::FAILURE
        }
    }
}
