//! CI compiles what Soong compiles, against what AOSP provides.
//!
//! Every Rust module in the tree's Android.bp files is built as a package of a generated Cargo
//! workspace: its crate root, `--cfg` for each of its `cfgs`, its `features`, and as
//! dependencies exactly its `rustlibs`, resolved through tests/android/aosp-crates.toml to
//! AOSP's crate versions and features (android-crates-io; the revision read is recorded
//! there per crate), libbinder_rs to tests/android/libbinder-model and the aidl_interface's
//! Rust crate to the surface generated from its frozen aidl_api. Before compiling, each
//! rustlibs entry must pass AOSP's rules for its module: in AOSP, vendor_available, not
//! host only, visible; a library linking first-arch-only crates must set compile_multilib.
//!
//! A crate the code uses but `rustlibs` does not name fails to compile (unresolved crate),
//! as it would under Soong. Mutation cases on a temporary copy of the tree prove each rule
//! can fail. Needs the crate registry the first time (AOSP's older versions); compiled
//! dependencies are kept in ~/.cache/drivervm/aosp-crates-check-v1.

#[allow(dead_code)]
#[path = "../soong_shim/aidl_surface.rs"]
mod aidl_surface;
mod blueprint;
mod soong;
mod table;
mod workspace;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use table::Table;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn table() -> Table {
    Table::load(&repo().join("tests/android/aosp-crates.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A short tag unique to this check run, for package names in the shared target dir.
fn tag() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("r{}", N.fetch_add(1, Ordering::Relaxed))
}

/// How the check failed.
#[derive(Debug)]
enum Failure {
    /// A rustlibs entry broke an AOSP rule (nothing compiled).
    Rules(Vec<String>),
    /// The workspace did not compile; rustc's diagnostics.
    Compile(String),
}

/// Runs the whole check on the tree at `root`; the names of the modules it compiled.
fn soong_check(root: &Path) -> Result<Vec<String>, Failure> {
    soong_check_with(root, &table())
}

/// [`soong_check`] against `table` instead of the recorded one.
fn soong_check_with(root: &Path, table: &Table) -> Result<Vec<String>, Failure> {
    let tree = soong::read(root).map_err(|e| Failure::Rules(vec![e]))?;
    let violations = workspace::rule_violations(&tree, table);
    if !violations.is_empty() {
        return Err(Failure::Rules(violations));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = tag();
    let members = workspace::write(dir.path(), &tag, &tree, table, &repo())
        .map_err(|e| Failure::Rules(vec![e]))?;
    workspace::check(dir.path(), &tag, &members).map_err(Failure::Compile)?;
    // Cargo unifies features across the graph; Soong builds each AOSP crate one way.
    let extra =
        workspace::extra_features(dir.path(), table).map_err(|e| Failure::Rules(vec![e]))?;
    if !extra.is_empty() {
        return Err(Failure::Rules(extra));
    }
    Ok(tree.rust.iter().map(|m| m.name.clone()).collect())
}

/// Copies what the Soong modules read (Android.bp files and sources) to a temp dir.
fn tree_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for rel in ["Android.bp", "src", "crates", "aidl", "tools", "etc"] {
        let from = repo().join(rel);
        if from.exists() {
            copy(&from, &tmp.path().join(rel));
        }
    }
    tmp
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir_all(to).expect("mkdir");
        for e in fs::read_dir(from).expect("read_dir") {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name");
            if name == "target" {
                continue;
            }
            copy(&p, &to.join(name));
        }
    } else {
        fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

/// Replaces `from` with `to` once in `rel` under `root`; the text must be there.
fn mutate(root: &Path, rel: &str, from: &str, to: &str) {
    let path = root.join(rel);
    let text = fs::read_to_string(&path).expect("read");
    assert!(
        text.contains(from),
        "{from:?} not in {rel}: the mutation must apply"
    );
    fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn soong_modules_compile_against_aosp_crates() {
    match soong_check(&repo()) {
        Ok(members) => {
            for want in [
                "libdrivervm",
                "drivervm",
                "drivervmctl",
                "libgunyah_bindings",
                "drivervm-config-json",
            ] {
                assert!(
                    members.iter().any(|m| m == want),
                    "{want} was not compiled: {members:?}"
                );
            }
        }
        Err(Failure::Rules(v)) => panic!("Android.bp breaks AOSP's rules:\n{}", v.join("\n")),
        Err(Failure::Compile(e)) => {
            panic!("the Soong modules do not compile against AOSP's crates:\n{e}")
        }
    }
}

#[test]
fn a_crate_missing_from_rustlibs_fails_to_compile() {
    // The device reads its config with serde_json: without libserde_json in libdrivervm's
    // rustlibs (the first list naming it), Soong has no such crate.
    let tmp = tree_copy();
    mutate(tmp.path(), "Android.bp", "        \"libserde_json\",\n", "");
    match soong_check(tmp.path()) {
        Err(Failure::Compile(e)) => {
            assert!(e.contains("serde_json"), "{e}");
            assert!(
                e.contains("soong-libdrivervm-"),
                "the library is what fails: {e}"
            );
            assert!(
                e.contains("E0432") || e.contains("E0433"),
                "unresolved crate: {e}"
            );
        }
        other => panic!("expected a compile failure, got {other:?}"),
    }
}

#[test]
fn a_crate_aosp_lacks_is_refused() {
    // The Cargo build's HMAC crate: AOSP has no `hmac`, whatever rustlibs says.
    let tmp = tree_copy();
    mutate(
        tmp.path(),
        "Android.bp",
        "        \"libring\",\n",
        "        \"libhmac\",\n        \"libring\",\n",
    );
    match soong_check(tmp.path()) {
        Err(Failure::Rules(v)) => assert!(
            v.iter().any(|l| l.contains("libhmac: not in AOSP")),
            "{v:?}"
        ),
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

#[test]
fn a_host_only_crate_is_refused_for_a_vendor_module() {
    // libtoml is rust_library_host in AOSP: the device cannot read TOML with it.
    let tmp = tree_copy();
    mutate(
        tmp.path(),
        "Android.bp",
        "        \"libring\",\n",
        "        \"libring\",\n        \"libtoml\",\n",
    );
    match soong_check(tmp.path()) {
        Err(Failure::Rules(v)) => assert!(
            v.iter()
                .any(|l| l.starts_with("libdrivervm: libtoml") && l.contains("host only")),
            "{v:?}"
        ),
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

#[test]
fn a_crate_with_restricted_visibility_is_refused() {
    // libsha2 exists and is vendor_available, but only smithay may link it.
    let tmp = tree_copy();
    mutate(
        tmp.path(),
        "Android.bp",
        "        \"libring\",\n",
        "        \"libring\",\n        \"libsha2\",\n",
    );
    match soong_check(tmp.path()) {
        Err(Failure::Rules(v)) => {
            assert!(
                v.iter().any(|l| l.contains("libsha2 is visible only to")),
                "{v:?}"
            )
        }
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

#[test]
fn a_crate_that_is_not_vendor_available_is_refused() {
    // As if AOSP built libnix for the platform only: the rule, against a changed table.
    let mut t = table();
    t.entries
        .get_mut("libnix")
        .expect("nix recorded")
        .vendor_available = false;
    match soong_check_with(&repo(), &t) {
        Err(Failure::Rules(v)) => assert!(
            v.iter()
                .any(|l| l.contains("libnix is not vendor_available")),
            "{v:?}"
        ),
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

#[test]
fn a_device_only_crate_is_refused_for_a_host_tool() {
    // libandroid_logger has no host variant: the build-time converter cannot link it.
    let tmp = tree_copy();
    mutate(
        tmp.path(),
        "Android.bp",
        "        \"libtoml\",\n",
        "        \"libandroid_logger\",\n        \"libtoml\",\n",
    );
    match soong_check(tmp.path()) {
        Err(Failure::Rules(v)) => {
            assert!(
                v.iter()
                    .any(|l| l
                        == "drivervm-config-json: libandroid_logger has no host variant in AOSP"),
                "{v:?}"
            )
        }
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

#[test]
fn a_both_arch_library_over_first_arch_crates_is_refused() {
    let tmp = tree_copy();
    mutate(
        tmp.path(),
        "Android.bp",
        "    compile_multilib: \"first\",\n",
        "",
    );
    match soong_check(tmp.path()) {
        Err(Failure::Rules(v)) => assert!(
            v.iter()
                .any(|l| l.contains("set compile_multilib: \"first\"")),
            "{v:?}"
        ),
        other => panic!("expected a rule failure, got {other:?}"),
    }
}

#[test]
fn a_feature_aosp_does_not_build_is_refused() {
    // Were AOSP's vm-memory built without backend-mmap, vhost (which needs it) would not
    // build there; Cargo would quietly turn it on.
    let mut t = table();
    let vm = t
        .entries
        .get_mut("libvm_memory_android")
        .expect("vm-memory recorded");
    vm.features.retain(|f| f != "backend-mmap");
    match soong_check_with(&repo(), &t) {
        Err(Failure::Rules(v)) => assert!(
            v.iter()
                .any(|l| l.contains("feature \"backend-mmap\" is on in the Cargo graph")),
            "{v:?}"
        ),
        other => panic!("expected a feature failure, got {other:?}"),
    }
}

#[test]
fn docs_crate_table_is_generated_from_the_recorded_table() {
    let begin = "<!-- aosp-crates table: generated from tests/android/aosp-crates.toml -->\n";
    let end = "<!-- end of generated table -->";
    let path = repo().join("docs/aosp.md");
    let doc = fs::read_to_string(&path).expect("docs/aosp.md");
    let want = table().markdown();
    let (head, rest) = doc
        .split_once(begin)
        .expect("docs/aosp.md has the table's begin marker");
    let (current, tail) = rest
        .split_once(end)
        .expect("docs/aosp.md has the table's end marker");
    if current != want {
        if std::env::var_os("DRIVERVM_BLESS").is_some() {
            fs::write(&path, format!("{head}{begin}{want}{end}{tail}")).expect("write docs");
        } else {
            panic!(
                "docs/aosp.md's crate table is stale; rerun with DRIVERVM_BLESS=1 to regenerate:\n{want}"
            );
        }
    }
}

#[test]
fn blueprint_reader_refuses_what_it_does_not_model() {
    for (text, why) in [
        ("x = [\"a\"]\n", "assignments are not supported"),
        ("m { a: b }\n", "variables are not supported"),
        ("m { a: \"x\" + \"y\" }\n", "'+' is not supported"),
        ("m { a: \"x\", a: \"y\" }\n", "given twice"),
    ] {
        let err = blueprint::parse(text).expect_err(text);
        assert!(err.contains(why), "{text}: {err}");
    }
    let ms =
        blueprint::parse("// c\nm { /* c */ name: \"n\", l: [\"a\", \"b\",], t: { x: true } }\n")
            .expect("parses");
    assert_eq!(ms[0].name(), "n");
    assert_eq!(ms[0].strings("l").expect("list"), ["a", "b"]);
}
