//! The layers of DESIGN.md stay ignorant of the ones above them: no production file under
//! src/hw, src/status, src/devices or src/config names (`crate::<module>`) a module of a
//! higher layer.
//!
//! Order, lowest first: the leaves (`kind`, `wake`, `generation`, `log_budget`, `nix_compat`,
//! `thread_role`),
//! `hw`, `status`, `devices`, `config`; everything else (transport, platform, service,
//! control, harness, logging, the registry) sits above. Test code is exempt: a test may drive a lower layer through a higher
//! one (an RPMB engine feeding an eMMC frame test), which is not a dependency of the product.
//! Test code is a `tests.rs` or `*_tests.rs` file, a file under a `tests/` folder, or the rest
//! of a file from its `#[cfg(test)]` line on (the house style puts inline tests last).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const LEAVES: &[&str] = &[
    "kind",
    "wake",
    "generation",
    "log_budget",
    "nix_compat",
    "thread_role",
];

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

/// The one place each kind of unit-test file may be declared from, or why `path` breaks the
/// convention (README, Layout): `foo_tests.rs` from `foo.rs` as `#[path = "foo_tests.rs"]
/// mod tests;`, `tests.rs` from the folder's `mod.rs` as `mod tests;`, `<folder>/tests/x.rs`
/// from `<folder>/tests.rs` as `mod x;`.
fn test_file_declared(path: &Path) -> Result<(), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = path.parent().unwrap_or(Path::new("."));
    let declares = |file: PathBuf, lines: &[String]| -> Result<(), String> {
        let text = fs::read_to_string(&file)
            .map_err(|e| format!("expected to be declared in {}: {e}", file.display()))?;
        let code: Vec<&str> = text.lines().map(str::trim).collect();
        let found = code
            .windows(lines.len())
            .any(|w| w.iter().zip(lines).all(|(a, b)| a == b));
        if found {
            Ok(())
        } else {
            Err(format!(
                "{} does not declare it as `{}`",
                file.display(),
                lines.join(" ")
            ))
        }
    };
    if dir.file_name().is_some_and(|d| d == "tests") {
        let stem = name.trim_end_matches(".rs");
        let parent = dir.with_extension("rs");
        return declares(parent, &[format!("mod {stem};")]);
    }
    if name == "tests.rs" {
        return declares(dir.join("mod.rs"), &["mod tests;".to_owned()]);
    }
    if let Some(stem) = name.strip_suffix("_tests.rs") {
        return declares(
            dir.join(format!("{stem}.rs")),
            &[format!("#[path = \"{name}\"]"), "mod tests;".to_owned()],
        );
    }
    Ok(())
}

#[test]
fn unit_test_files_follow_the_one_convention() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut checked = 0;
    let mut wrong = Vec::new();
    for f in files.iter().filter(|f| is_test_file(f)) {
        checked += 1;
        if let Err(why) = test_file_declared(f) {
            wrong.push(format!(
                "{}: {why}",
                f.strip_prefix(&root).unwrap_or(f).display()
            ));
        }
    }
    // No test module file reached another way (`mod foo_tests;`, a test file under a path
    // that is not its module's).
    for f in &files {
        let text = fs::read_to_string(f).expect("readable source file");
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.starts_with("mod ") && l.ends_with("_tests;") {
                wrong.push(format!(
                    "{}:{}: `{l}` (a test file is `mod tests;`)",
                    f.strip_prefix(&root).unwrap_or(f).display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} test files found under {root:?}"
    );
    assert!(
        wrong.is_empty(),
        "test files off the convention:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_convention_check_refuses_a_misplaced_test_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    fs::write(d.join("foo.rs"), "#[cfg(test)]\nmod foo_tests;\n").expect("write");
    fs::write(d.join("foo_tests.rs"), "").expect("write");
    assert!(test_file_declared(&d.join("foo_tests.rs")).is_err());
    fs::write(
        d.join("foo.rs"),
        "#[cfg(test)]\n#[path = \"foo_tests.rs\"]\nmod tests;\n",
    )
    .expect("write");
    assert_eq!(test_file_declared(&d.join("foo_tests.rs")), Ok(()));
    fs::write(d.join("tests.rs"), "").expect("write");
    assert!(
        test_file_declared(&d.join("tests.rs")).is_err(),
        "no mod.rs"
    );
}

/// The device kinds as their names appear in code (`DeviceKind::Scmi`, `scmi::`, `"rpmb"`,
/// `SoundConfig`, `RadioKind`, ...).
const KINDS: [&str; 4] = ["scmi", "rpmb", "sound", "radio"];

/// Issue 15's target, met: production files outside the kinds' own folders and the registry
/// that name every kind. The two are `kind.rs` (the leaf enum of the built-in kinds) and
/// `control/service.rs` (the frozen V1 interface has one getter per kind); see
/// docs/adding-a-device.md.
const MOST_FILES_NAMING_EVERY_KIND: usize = 2;

/// Whether `rel` (relative to src/) belongs to one kind or is the registry: the kind's folder
/// under devices/ or hw/, its config/<kind>.rs (or folder), its service/<kind>.rs. The
/// registry has two halves, one per layer: service/registry.rs builds the kinds,
/// config/registry.rs validates their tables (config cannot call the service).
fn is_kind_own_or_registry(rel: &Path) -> bool {
    let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
    let own = |s: &str| KINDS.iter().any(|k| s == *k || s == format!("{k}.rs"));
    match parts.as_slice() {
        ["service" | "config", "registry.rs"] => true,
        ["devices" | "hw" | "config" | "service", k, ..] => own(k),
        _ => false,
    }
}

/// Whether `line` only declares a module (`pub mod radio;`, with its `#[path]`): how Rust
/// finds a file, which it cannot do for a folder's modules without naming them. It holds no
/// knowledge of the kind, and a kind whose folder is not declared does not build, so such a
/// line is not counted (docs/adding-a-device.md, "Module lines").
fn declares_a_module(line: &str) -> bool {
    let l = line.trim();
    let l = ["pub ", "pub(crate) ", "pub(super) "]
        .iter()
        .find_map(|v| l.strip_prefix(v))
        .unwrap_or(l);
    let name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let declared = l
        .strip_prefix("mod ")
        .and_then(|r| r.strip_suffix(';'))
        .is_some_and(name);
    declared || (l.starts_with("#[path = \"") && l.ends_with("\"]"))
}

/// The production code of `text`: comments and module declarations dropped, and nothing from
/// `#[cfg(test)]` on.
fn production_code(text: &str, comment: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let line = line.split(comment).next().unwrap_or("");
        if declares_a_module(line) {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code.to_ascii_lowercase()
}

fn names_every_kind(code: &str) -> bool {
    KINDS.iter().all(|k| code.contains(k))
}

#[test]
fn at_most_two_files_outside_the_kinds_and_the_registry_name_every_kind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.push(root.join("config/default.toml"));
    let mut naming = Vec::new();
    for f in files.iter().filter(|f| !is_test_file(f)) {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        if is_kind_own_or_registry(rel) {
            continue;
        }
        let text = fs::read_to_string(f).expect("readable source file");
        let comment = if f.extension().is_some_and(|e| e == "toml") {
            "#"
        } else {
            "//"
        };
        if names_every_kind(&production_code(&text, comment)) {
            naming.push(rel.display().to_string());
        }
    }
    naming.sort();
    eprintln!(
        "{} files name every kind (at most {MOST_FILES_NAMING_EVERY_KIND}):\n  {}",
        naming.len(),
        naming.join("\n  ")
    );
    assert!(
        naming.len() <= MOST_FILES_NAMING_EVERY_KIND,
        "{} files name every kind, more than {MOST_FILES_NAMING_EVERY_KIND}: a kind's \
         knowledge belongs in its own folders and the registry\n  {}",
        naming.len(),
        naming.join("\n  ")
    );
}

#[test]
fn the_kind_count_sees_code_and_not_comments_or_tests() {
    let all = "use a::{Scmi, Rpmb};\nlet s = SoundKind;\nlet r = radio::X;\n";
    assert!(names_every_kind(&production_code(all, "//")));
    let declared =
        "mod scmi;\npub mod rpmb;\n#[path = \"sound.rs\"]\npub(super) mod sound;\nmod radio;\n";
    assert!(!names_every_kind(&production_code(declared, "//")));
    // A declared module the file also uses is still named.
    let used =
        "mod scmi;\nuse scmi::A;\nuse rpmb::X;\nlet s = sound::Y;\nmod radio;\nradio::z();\n";
    assert!(names_every_kind(&production_code(used, "//")));
    let commented = "use a::{Scmi, Rpmb};\nlet s = SoundKind; // radio\n";
    assert!(!names_every_kind(&production_code(commented, "//")));
    let in_tests = "use a::{Scmi, Rpmb, Sound};\n#[cfg(test)]\nmod radio;\n";
    assert!(!names_every_kind(&production_code(in_tests, "//")));
    assert!(is_kind_own_or_registry(Path::new("devices/rpmb/engine.rs")));
    assert!(is_kind_own_or_registry(Path::new("config/sound.rs")));
    assert!(is_kind_own_or_registry(Path::new("service/registry.rs")));
    assert!(is_kind_own_or_registry(Path::new("config/registry.rs")));
    assert!(!is_kind_own_or_registry(Path::new("config/validate.rs")));
    assert!(!is_kind_own_or_registry(Path::new("devices/mod.rs")));
}

/// How the test-only fifth kind's code could be named from elsewhere.
const ECHO_NAMES: [&str; 5] = ["EchoKind", "EchoDevice", "echo::", "mod echo", "\"echo\""];

#[test]
fn the_fifth_kind_is_its_folder_and_one_registry_entry() {
    // docs/adding-a-device.md's claim, checked: nothing outside src/service/echo/ names the
    // echo kind except the registry, which declares its module and lists it once.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut outside = Vec::new();
    let mut registry_lines = Vec::new();
    for f in files.iter().filter(|f| !is_test_file(f)) {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        if rel.starts_with("service/echo") {
            continue;
        }
        let text = fs::read_to_string(f).expect("readable source file");
        for line in text.lines() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            if ECHO_NAMES.iter().any(|n| code.contains(n)) {
                if rel == Path::new("service/registry.rs") {
                    registry_lines.push(code.trim().to_owned());
                } else {
                    outside.push(format!("{}: {}", rel.display(), code.trim()));
                }
            }
        }
    }
    assert!(
        outside.is_empty(),
        "the echo kind is named outside its folder: {outside:?}"
    );
    assert_eq!(
        registry_lines,
        ["mod echo;", "&echo::EchoKind,"],
        "the registry names it in its module line and its one entry"
    );
}
