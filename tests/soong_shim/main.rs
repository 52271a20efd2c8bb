//! The Soong side of the control shim, type-checked under Cargo.
//!
//! `src/control/mod.rs` picks `shim_libbinder.rs` under `cfg(soong)`, which only an AOSP tree
//! builds. This test writes a small Cargo project that compiles the real `src/control` (with the
//! `status` and leaf code it uses) as Soong would: `--cfg soong`, the
//! `cargo_pkg_version` Android.bp gives, warnings denied, linked against
//! * `binder` = tests/android/libbinder-model, a signature-level model of AOSP libbinder_rs, and
//! * `vendor_drivervm` = the generated crate's surface, emitted by `aidl_surface` from the
//!   latest frozen aidl_api/vendor.drivervm/<N> the `-V<N>-rust` crate is built from,
//!
//! then runs `cargo check --offline` on it. Mutation cases prove the check can fail: an
//! rsbinder-flavoured call in the Soong shim, and an AIDL method the service does not implement.
//! Version 1 stays covered: its surface is still emitted, and every V1 method and type keeps
//! its Rust signature in the latest version (what a V1 client compiled against).

mod aidl_surface;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version Android.bp's modules link (`vendor.drivervm-V2-rust`): the latest frozen one.
const FROZEN_VERSION: i32 = 2;
const API_DIR: &str = "aidl/aidl_api/vendor.drivervm";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn frozen_dir(version: i32) -> PathBuf {
    repo(API_DIR).join(version.to_string())
}

/// Frozen `version`'s AIDL files, sorted, as (file name, text).
fn frozen_aidl_of(version: i32) -> Vec<(String, String)> {
    let dir = frozen_dir(version).join("vendor/drivervm");
    let mut files: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "aidl"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, read(&p))
        })
        .collect();
    files.sort();
    files
}

/// The latest frozen version's AIDL files.
fn frozen_aidl() -> Vec<(String, String)> {
    frozen_aidl_of(FROZEN_VERSION)
}

fn frozen_hash() -> String {
    frozen_hash_of(FROZEN_VERSION)
}

fn frozen_hash_of(version: i32) -> String {
    let text = read(&frozen_dir(version).join(".hash"));
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .expect(".hash has a line")
        .trim()
        .to_owned()
}

/// `cargo_pkg_version` of `rust_defaults drivervm_defaults` in Android.bp: what Soong sets
/// `CARGO_PKG_VERSION*` to, since `env!("CARGO_PKG_VERSION")` does not compile without it.
fn soong_pkg_version() -> String {
    let bp = read(&repo("Android.bp"));
    let defaults = bp
        .split("rust_defaults {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("Android.bp has rust_defaults");
    assert!(
        defaults.contains("cargo_env_compat: true,"),
        "drivervm_defaults must set cargo_env_compat: true for CARGO_PKG_VERSION"
    );
    let version = defaults
        .lines()
        .find_map(|l| l.trim().strip_prefix("cargo_pkg_version: \""))
        .and_then(|v| v.strip_suffix("\","))
        .expect("drivervm_defaults sets cargo_pkg_version");
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "Android.bp's cargo_pkg_version must equal Cargo.toml's version"
    );
    version.to_owned()
}

/// What one check compiles: the control sources and the AIDL files.
struct Inputs {
    control: PathBuf,
    aidl: Vec<(String, String)>,
}

/// Writes the check project into `dir`. Package names carry `tag`, so checks that run at once
/// in the shared target dir never take each other's outputs as fresh (crate names stay).
fn write_project(dir: &Path, tag: &str, inputs: &Inputs) {
    let decls: Vec<_> = inputs
        .aidl
        .iter()
        .map(|(name, text)| aidl_surface::parse(text).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    let surface = aidl_surface::emit(&decls, FROZEN_VERSION, &frozen_hash())
        .unwrap_or_else(|e| panic!("AIDL surface: {e}"));
    write(&dir.join("vendor_drivervm/src/lib.rs"), &surface);
    write(
        &dir.join("vendor_drivervm/Cargo.toml"),
        &format!(
            "[package]\nname = \"vendor-drivervm-{tag}\"\nversion = \"{FROZEN_VERSION}.0.0\"\n\
             edition = \"2021\"\npublish = false\n\n[lib]\nname = \"vendor_drivervm\"\n\n\
             [dependencies]\nbinder = {{ path = {:?} }}\n",
            repo("tests/android/libbinder-model")
        ),
    );

    // Versions come from the main build's lock file, so --offline finds them in the cache.
    fs::copy(repo("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"drivervm-{tag}\"\nversion = \"{}\"\nedition = \"2021\"\n\
             publish = false\n\n[lib]\nname = \"drivervm\"\npath = \"lib.rs\"\n\n\
             [dependencies]\nbinder = {{ path = {:?} }}\n\
             vendor_drivervm = {{ package = \"vendor-drivervm-{tag}\", path = \"vendor_drivervm\" }}\n\
             log = \"0.4\"\n\
             nix = {{ version = \"0.29\", default-features = false, features = [\"user\"] }}\n\
             thiserror = \"2\"\n\n[workspace]\n",
            soong_pkg_version(),
            repo("tests/android/libbinder-model")
        ),
    );
    // Android.bp's `cfgs: ["soong"]`, for this crate only.
    write(
        &dir.join("build.rs"),
        "fn main() {\n    println!(\"cargo::rustc-check-cfg=cfg(soong)\");\n    \
         println!(\"cargo::rustc-cfg=soong\");\n}\n",
    );
    let src = |rel: &str| repo("src").join(rel);
    write(
        &dir.join("lib.rs"),
        &format!(
            "//! drivervm's control plane as Soong compiles it.\n#![deny(warnings)]\n\
             #[path = {:?}]\npub mod status;\n\
             #[path = {:?}]\npub mod control;\n\
             // The status model names PCM formats; only format.rs of hw is needed.\n\
             #[allow(dead_code)]\npub mod hw {{\n    pub mod pcm {{\n        \
             #[path = {:?}]\n        pub mod format;\n        pub use format::SampleFormat;\n    }}\n    \
             // The clock mirror hw arbitration writes and status reads.\n    \
             pub mod clock {{\n        #[path = {:?}]\n        pub mod table;\n    }}\n}}\n\
             // Leaves every layer may name.\n\
             #[path = {:?}]\npub mod kind;\n#[path = {:?}]\npub mod generation;\n\
             #[path = {:?}]\npub mod thread_role;\n",
            src("status/mod.rs"),
            inputs.control.join("mod.rs"),
            src("hw/pcm/format.rs"),
            src("hw/clock/table.rs"),
            src("kind.rs"),
            src("generation.rs"),
            src("thread_role.rs"),
        ),
    );
}

/// Runs `cargo check` on a project built from `inputs`; `Err` holds rustc's diagnostics.
fn soong_check(inputs: &Inputs) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag: String = dir
        .path()
        .file_name()
        .expect("tempdir name")
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    write_project(dir.path(), &tag, inputs);
    // A target dir that outlives the test keeps the dependencies compiled between runs.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("soong-shim-check");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "check",
            "--offline",
            "--quiet",
            "--color",
            "never",
            "--manifest-path",
        ])
        .arg(dir.path().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn real_inputs() -> Inputs {
    Inputs {
        control: repo("src/control"),
        aidl: frozen_aidl(),
    }
}

/// The real inputs with `from` replaced by `to` (once, and it must be there) in control file
/// `file` or AIDL file `file`.
fn mutated(file: &str, from: &str, to: &str) -> (tempfile::TempDir, Inputs) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let control = tmp.path().join("control");
    let mut applied = false;
    let mut apply = |name: &str, text: String| {
        if name == file {
            applied = text.contains(from);
            text.replacen(from, to, 1)
        } else {
            text
        }
    };
    for entry in fs::read_dir(repo("src/control")).expect("src/control") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        write(&control.join(&name), &apply(&name, read(&path)));
    }
    let aidl = frozen_aidl()
        .into_iter()
        .map(|(name, text)| {
            let text = apply(&name, text);
            (name, text)
        })
        .collect();
    assert!(
        applied,
        "{from:?} not found in {file}: the mutation must apply"
    );
    (tmp, Inputs { control, aidl })
}

#[test]
fn soong_shim_type_checks_against_libbinder_rs_and_the_generated_aidl_crate() {
    if let Err(e) = soong_check(&real_inputs()) {
        panic!("the Soong build of src/control does not type-check:\n{e}");
    }
}

#[test]
fn rsbinder_style_new_binder_is_rejected() {
    // rsbinder's new_binder takes no BinderFeatures; libbinder_rs's takes two arguments.
    let (_tmp, inputs) = mutated(
        "shim_libbinder.rs",
        "BnDriverVm::new_binder(service, BinderFeatures::default())",
        "BnDriverVm::new_binder(service)",
    );
    let err = soong_check(&inputs).expect_err("a one-argument new_binder must not compile");
    assert!(
        err.contains("E0061"),
        "wrong argument count reported: {err}"
    );
    assert!(err.contains("shim_libbinder.rs"), "{err}");
}

#[test]
fn rsbinder_style_exception_code_is_rejected() {
    // rsbinder spells it ExceptionCode::ServiceSpecific; libbinder_rs's bindgen enum SERVICE_SPECIFIC.
    let (_tmp, inputs) = mutated(
        "shim_libbinder.rs",
        "ExceptionCode::SERVICE_SPECIFIC",
        "ExceptionCode::ServiceSpecific",
    );
    let err = soong_check(&inputs).expect_err("rsbinder's variant name must not compile");
    assert!(err.contains("E0599"), "unknown variant reported: {err}");
    assert!(err.contains("ServiceSpecific"), "{err}");
}

#[test]
fn an_aidl_method_the_service_lacks_is_rejected() {
    // The surface follows the AIDL: a new method must be implemented by service.rs.
    let (_tmp, inputs) = mutated(
        "IDriverVm.aidl",
        "  vendor.drivervm.ServiceInfo getServiceInfo();",
        "  vendor.drivervm.ServiceInfo getServiceInfo();\n  int getNothing(in String id);",
    );
    let err = soong_check(&inputs).expect_err("an unimplemented AIDL method must not compile");
    assert!(err.contains("E0046"), "missing trait item reported: {err}");
    assert!(err.contains("getNothing"), "{err}");
}

#[test]
fn aidl_surface_follows_the_aidl_to_rust_mapping() {
    let decls: Vec<_> = frozen_aidl()
        .iter()
        .map(|(name, text)| aidl_surface::parse(text).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    assert_eq!(decls.len(), 19);
    let lib = aidl_surface::emit(&decls, FROZEN_VERSION, &frozen_hash()).expect("emit");
    for want in [
        // `in String` is `&str`; an `in` interface is `&Strong<dyn _>`; arrays return `Vec`.
        "fn r#getDevice(&self, _arg_id: &str) -> binder::Result<crate::aidl::vendor::drivervm::DeviceStatus::DeviceStatus>;",
        "fn r#listDevices(&self) -> binder::Result<Vec<crate::aidl::vendor::drivervm::DeviceStatus::DeviceStatus>>;",
        "fn r#registerListener(&self, _arg_listener: &binder::Strong<dyn crate::aidl::vendor::drivervm::IDriverVmListener::IDriverVmListener>) -> binder::Result<()>;",
        // An `in` enum is passed by value.
        "fn r#onLinkStateChanged(&self, _arg_deviceId: &str, _arg_state: crate::aidl::vendor::drivervm::LinkState::LinkState) -> binder::Result<()>;",
        // `@nullable` parcelable field; `T[]` field.
        "pub r#rds: Option<crate::aidl::vendor::drivervm::RdsInfo::RdsInfo>,",
        "pub r#queues: Vec<crate::aidl::vendor::drivervm::QueueCounters::QueueCounters>,",
        "pub r#negotiatedFeatures: i64,",
        "pub struct LinkState(pub i32);",
        "pub const DRIVER_OK: Self = Self(2);",
        "pub const r#ERROR_TOO_MANY_LISTENERS: i32 = 4;",
        "pub fn new_binder<T: IDriverVmListener + Sync + Send + 'static>(inner: T, features: binder::BinderFeatures) -> binder::Strong<dyn IDriverVmListener>",
        "pub const VERSION: i32 = 2;",
        // A union is an enum with one variant per field, capitalized.
        "pub enum DeviceDetail {",
        "  Scmi(crate::aidl::vendor::drivervm::ScmiDetail::ScmiDetail),",
        "  Radio(crate::aidl::vendor::drivervm::RadioInfo::RadioInfo),",
        "fn r#getDetail(&self, _arg_id: &str) -> binder::Result<crate::aidl::vendor::drivervm::DeviceDetail::DeviceDetail>;",
        "pub const RPMB_DEV: Self = Self(2);",
    ] {
        assert!(lib.contains(want), "missing {want:?} in:\n{lib}");
    }
    assert!(lib.contains(&format!("pub const HASH: &str = \"{}\";", frozen_hash())));
    assert_eq!(
        lib.matches("fn r#").count(),
        10 + 2,
        "IDriverVm's 10 methods, the listener's 2"
    );
}

#[test]
fn aidl_surface_refuses_what_it_does_not_model() {
    for (src, why) in [
        (
            "package p; interface I { void f(out int[] x); }",
            "out arguments are not modelled",
        ),
        (
            "package p; parcelable P { List<String> l; }",
            "generic type List<...> is not modelled",
        ),
        (
            "package p; union U { int a = 3; }",
            "default values are not modelled",
        ),
        ("package p; union U { }", "union U has no fields"),
        (
            "package p; parcelable P { int a = 3; }",
            "default values are not modelled",
        ),
    ] {
        let err = aidl_surface::parse(src).expect_err(src);
        assert!(err.contains(why), "{src}: {err}");
    }
    let d = aidl_surface::parse("package p; parcelable P { IBinder b; }").expect("parses");
    let err = aidl_surface::emit(&[d], 1, "h").expect_err("IBinder is not modelled");
    assert!(err.contains("type IBinder is not modelled"), "{err}");
}

/// The `fn r#...;` lines and `pub ...` items of frozen `version`'s surface.
fn surface_items(version: i32) -> Vec<String> {
    let decls: Vec<_> = frozen_aidl_of(version)
        .iter()
        .map(|(name, text)| aidl_surface::parse(text).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    let lib = aidl_surface::emit(&decls, version, &frozen_hash_of(version))
        .unwrap_or_else(|e| panic!("V{version} surface: {e}"));
    // Each item is prefixed with the type (module) it belongs to.
    let mut module = String::new();
    let mut items = Vec::new();
    for l in lib.lines().map(str::trim) {
        if let Some(m) = l.strip_prefix("pub mod ") {
            module = m.trim_end_matches(" {").to_owned();
        } else if (l.starts_with("fn r#") || l.starts_with("pub r#") || l.starts_with("pub const"))
            && !l.starts_with("pub const VERSION")
            && !l.starts_with("pub const HASH")
            // Grows with its enum by design; its values are checked one by one.
            && !l.starts_with("pub const fn enum_values")
        {
            items.push(format!("{module}: {l}"));
        }
    }
    items
}

#[test]
fn every_v1_item_keeps_its_rust_signature_in_the_latest_version() {
    // What a client built against V1 calls and reads must exist unchanged, or the V1 crate's
    // users would not compile against (nor, on the wire, understand) the latest service.
    let v1 = surface_items(1);
    let latest = surface_items(FROZEN_VERSION);
    assert!(v1.len() > 40, "too few V1 items to mean anything: {v1:?}");
    let missing: Vec<_> = v1.iter().filter(|i| !latest.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "V1 items changed or gone in V{FROZEN_VERSION}: {missing:?}"
    );
    assert!(
        latest.len() > v1.len(),
        "V{FROZEN_VERSION} adds nothing to V1"
    );
}

#[test]
fn the_modelled_version_is_the_latest_frozen_one_and_the_one_android_bp_links() {
    let latest = fs::read_dir(repo(API_DIR))
        .expect("aidl_api dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max();
    assert_eq!(latest, Some(FROZEN_VERSION));
    let bp = read(&repo("Android.bp"));
    let linked = format!("\"vendor.drivervm-V{FROZEN_VERSION}-rust\"");
    assert!(bp.contains(&linked), "Android.bp does not link {linked}");
    assert!(
        !bp.contains("vendor.drivervm-V1-rust"),
        "Android.bp still links V1: the service implements V{FROZEN_VERSION}"
    );
}
