//! The layers of DESIGN.md stay ignorant of the ones above them: no production file under
//! src/hw, src/status, src/devices or src/config names (`crate::<module>`) a module of a
//! higher layer.
//!
//! Order, lowest first: the leaves (`kind`, `wake`, `generation`, `log_budget`, `nix_compat`),
//! `hw`, `status`, `devices`, `config`; everything else (transport, platform, service,
//! control, harness, logging, the registry) sits above. Test code is exempt: a test may drive a lower layer through a higher
//! one (an RPMB engine feeding an eMMC frame test), which is not a dependency of the product.
//! Test code is a `tests.rs` or `*_tests.rs` file, a file under a `tests/` folder, or the rest
//! of a file from its `#[cfg(test)]` line on (the house style puts inline tests last).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const LEAVES: &[&str] = &["kind", "wake", "generation", "log_budget", "nix_compat"];

/// Each checked layer and the top-level modules it may name besides itself and the leaves.
const LAYERS: &[(&str, &[&str])] = &[
    ("hw", &[]),
    ("status", &["hw"]),
    ("devices", &["hw", "status"]),
    ("config", &["hw", "status", "devices"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_test_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || p.components().any(|c| c.as_os_str() == "tests")
}

/// The top-level modules `text`'s production lines name as `crate::<module>`.
fn named_modules(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_use_group = false;
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let module: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !module.is_empty() {
                found.push((n + 1, module));
            } else if after.starts_with('{') {
                // `use crate::{a::X, b::Y}`: every group member is a top-level module.
                in_use_group = true;
            }
            rest = after;
        }
        if in_use_group {
            let group = code.split_once("crate::{").map_or(code, |(_, g)| g);
            for part in group.split(['{', ',', '}']) {
                let head: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() && part.trim().contains("::") {
                    found.push((n + 1, head));
                }
            }
            if code.contains(';') {
                in_use_group = false;
            }
        }
    }
    found
}

#[test]
fn no_layer_imports_from_a_layer_above() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for (layer, allowed) in LAYERS {
        let allowed: BTreeSet<&str> = allowed
            .iter()
            .chain(LEAVES)
            .copied()
            .chain([*layer])
            .collect();
        let mut files = Vec::new();
        rust_files(&root.join(layer), &mut files);
        for f in files.iter().filter(|f| !is_test_file(f)) {
            let text = fs::read_to_string(f).expect("readable source file");
            checked += 1;
            for (line, module) in named_modules(&text) {
                if !allowed.contains(module.as_str()) {
                    violations.push(format!(
                        "{}:{line}: {layer} names crate::{module}",
                        f.strip_prefix(&root).unwrap_or(f).display()
                    ));
                }
            }
        }
    }
    for leaf in LEAVES {
        let f = root.join(format!("{leaf}.rs"));
        let text = fs::read_to_string(&f).expect("leaf module exists");
        checked += 1;
        for (line, module) in named_modules(&text) {
            if module != *leaf {
                violations.push(format!("{leaf}.rs:{line}: leaf names crate::{module}"));
            }
        }
    }
    assert!(checked > 50, "only {checked} files found under {root:?}");
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_single_grouped_and_inline_paths() {
    let text = "use crate::hw::X;\nuse crate::{status::A,\n    devices::B};\nlet x = crate::config::y();\n// crate::service in a comment\n#[cfg(test)]\nuse crate::service::Z;\n";
    let names: Vec<String> = named_modules(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(names, ["hw", "status", "devices", "config"]);
}
