//! The Cargo workspace that builds each Soong Rust module as Soong would: its crate root,
//! its `cfgs` and `features`, and only the crates its `rustlibs` name, pinned to AOSP's
//! versions and features (or to the libbinder_rs and generated-AIDL models).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::aidl_surface;
use crate::soong::{Kind, Tree};
use crate::table::Table;

/// Rule violations of every module (empty when the tree passes).
pub fn rule_violations(tree: &Tree, table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for m in &tree.rust {
        if !m.host && !m.vendor {
            out.push(format!(
                "{}: a device module of a vendor HAL must set vendor: true",
                m.name
            ));
        }
        let mut first_only = Vec::new();
        for lib in &m.rustlibs {
            if let Some(ours) = tree.library(lib) {
                if ours.host != m.host {
                    out.push(format!(
                        "{}: links {lib}, which is built for the {}",
                        m.name,
                        if ours.host {
                            "host only"
                        } else {
                            "device only"
                        }
                    ));
                }
                if ours.multilib.as_deref() == Some("first") {
                    first_only.push(lib.clone());
                }
                continue;
            }
            if tree.aidl_for(lib).is_some() {
                if m.host {
                    out.push(format!(
                        "{}: a host tool links the AIDL crate {lib}",
                        m.name
                    ));
                }
                continue;
            }
            let refusal = if m.host {
                table.refuse_for_host(lib)
            } else {
                table.refuse_for_vendor(lib)
            };
            match refusal {
                Some(why) => out.push(format!("{}: {why}", m.name)),
                None => {
                    if table.entries[lib].multilib == "first" {
                        first_only.push(lib.clone());
                    }
                }
            }
        }
        // A rust_library is built for both arches by default; a dependency built for the
        // first arch only has no 32-bit variant, so the library must follow it. Binaries
        // default to the first arch.
        if m.kind == Kind::Lib
            && !m.host
            && !first_only.is_empty()
            && m.multilib.as_deref() != Some("first")
        {
            out.push(format!(
                "{}: links {} (compile_multilib \"first\") but is built for both arches; \
                 set compile_multilib: \"first\"",
                m.name,
                first_only.join(", ")
            ));
        }
    }
    out
}

fn package_name(module: &str, tag: &str) -> String {
    let clean: String = module
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("soong-{clean}-{tag}")
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `build.rs` of a module: its `cfgs` (Soong passes `--cfg` for each), no check-cfg
/// complaints for cfgs Soong never declares.
fn build_rs(cfgs: &[String]) -> String {
    let mut s = String::from(
        "fn main() {\n    println!(\"cargo::rustc-check-cfg=cfg(soong)\");\n    \
         println!(\"cargo::rustc-check-cfg=cfg(feature, values(any()))\");\n",
    );
    for c in cfgs {
        let _ = writeln!(
            s,
            "    println!(\"cargo::rustc-cfg={}\");",
            c.replace('"', "\\\"")
        );
    }
    s.push_str("}\n");
    s
}

/// Writes the workspace for `tree` into `dir`; `repo` is where model paths are relative to.
pub fn write(
    dir: &Path,
    tag: &str,
    tree: &Tree,
    table: &Table,
    repo: &Path,
) -> Result<Vec<String>, String> {
    let mut members = Vec::new();
    let mut aidl_crates = BTreeSet::new();
    for m in &tree.rust {
        let pkg = package_name(&m.name, tag);
        let mdir = dir.join(&pkg);
        fs::create_dir_all(&mdir).map_err(|e| e.to_string())?;
        let mut deps = String::new();
        for lib in &m.rustlibs {
            if let Some(ours) = tree.library(lib) {
                let _ = writeln!(
                    deps,
                    "{} = {{ package = {:?}, path = \"../{}\" }}",
                    ours.crate_name,
                    package_name(lib, tag),
                    package_name(lib, tag)
                );
            } else if let Some((iface, version)) = tree.aidl_for(lib) {
                let pkg = package_name(lib, tag);
                aidl_crates.insert((
                    lib.clone(),
                    iface.dir.clone(),
                    iface.name.clone(),
                    version.to_owned(),
                ));
                let _ = writeln!(
                    deps,
                    "{} = {{ package = {pkg:?}, path = \"../{pkg}\" }}",
                    iface.name.replace('.', "_")
                );
            } else if let Some(e) = table.entries.get(lib) {
                let key = e.krate.replace('-', "_");
                if let Some(model) = &e.model {
                    let _ = writeln!(deps, "{key} = {{ path = {:?} }}", repo.join(model));
                } else {
                    let version = e.version.as_deref().unwrap_or_default();
                    let default = e.features.iter().any(|f| f == "default");
                    let features: Vec<String> = e
                        .features
                        .iter()
                        .filter(|f| *f != "default")
                        .cloned()
                        .collect();
                    let _ = writeln!(
                        deps,
                        "{key} = {{ package = {:?}, version = \"={version}\", default-features = {default}, features = {} }}",
                        e.krate,
                        toml_list(&features)
                    );
                }
            } else {
                return Err(format!("{}: {lib} passed no rule check", m.name));
            }
        }
        let target = match m.kind {
            Kind::Lib => format!(
                "[lib]\nname = {:?}\npath = {:?}\ntest = false\ndoctest = false\n",
                m.crate_name, m.root
            ),
            Kind::Bin => format!(
                "[[bin]]\nname = {:?}\npath = {:?}\ntest = false\n",
                m.crate_name, m.root
            ),
        };
        let mut features = format!("[features]\ndefault = {}\n", toml_list(&m.features));
        for f in &m.features {
            let _ = writeln!(features, "{f:?} = []");
        }
        let manifest = format!(
            "# Soong module {} ({})\n[package]\nname = {pkg:?}\nversion = {:?}\nedition = {:?}\n\
             publish = false\nbuild = \"build.rs\"\nautobins = false\nautoexamples = false\n\
             autotests = false\nautobenches = false\n\n{target}\n{features}\n[dependencies]\n{deps}",
            m.name,
            m.bp.display(),
            m.version.as_deref().unwrap_or("0.0.0"),
            m.edition,
        );
        fs::write(mdir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
        fs::write(mdir.join("build.rs"), build_rs(&m.cfgs)).map_err(|e| e.to_string())?;
        members.push(pkg);
    }
    for (lib, iface_dir, name, version) in aidl_crates {
        let pkg = package_name(&lib, tag);
        let api = iface_dir.join("aidl_api").join(&name).join(&version);
        let surface = aidl_model(&api, &version)?;
        let mdir = dir.join(&pkg);
        fs::create_dir_all(mdir.join("src")).map_err(|e| e.to_string())?;
        fs::write(mdir.join("src/lib.rs"), surface).map_err(|e| e.to_string())?;
        let binder = table
            .entries
            .get("libbinder_rs")
            .and_then(|e| e.model.clone())
            .ok_or("libbinder_rs has no model in the table")?;
        fs::write(
            mdir.join("Cargo.toml"),
            format!(
                "# {lib}: the surface aidl_interface generates, from {}\n[package]\nname = {pkg:?}\n\
                 version = \"{version}.0.0\"\nedition = \"2021\"\npublish = false\n\n[lib]\n\
                 name = {:?}\ntest = false\ndoctest = false\n\n[dependencies]\nbinder = {{ path = {:?} }}\n",
                api.display(),
                name.replace('.', "_"),
                repo.join(binder)
            ),
        )
        .map_err(|e| e.to_string())?;
        members.push(pkg);
    }
    let ws = format!(
        "# Generated by tests/aosp_crates: Soong's Rust modules against AOSP's crates.\n\
         [workspace]\nresolver = \"2\"\nmembers = {}\n",
        toml_list(&members)
    );
    fs::write(dir.join("Cargo.toml"), ws).map_err(|e| e.to_string())?;
    Ok(members)
}

/// The generated crate's surface for the frozen AIDL in `api`.
fn aidl_model(api: &Path, version: &str) -> Result<String, String> {
    let mut files = Vec::new();
    collect_aidl(api, &mut files)?;
    files.sort();
    let mut decls = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        decls.push(aidl_surface::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    let hash = fs::read_to_string(api.join(".hash"))
        .map_err(|e| format!("{}/.hash: {e}", api.display()))?;
    let hash = hash
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let v: i32 = version
        .parse()
        .map_err(|_| format!("bad AIDL version {version}"))?;
    aidl_surface::emit(&decls, v, hash)
}

fn collect_aidl(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    for e in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.is_dir() {
            collect_aidl(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "aidl") {
            out.push(p);
        }
    }
    Ok(())
}

/// Where the check keeps its compiled dependencies and lock file between runs.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("DRIVERVM_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/drivervm")))
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf());
    base.join("aosp-crates-check-v1")
}

/// `cargo check` of the workspace in `dir`, warnings denied in our crates; `Err` holds
/// the diagnostics.
pub fn check(dir: &Path, tag: &str, members: &[String]) -> Result<(), String> {
    let cache = cache_dir();
    fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    // The lock file of an earlier run keeps the resolution (and so the build) reusable.
    let lock = cache.join("Cargo.lock");
    if lock.exists() {
        let _ = fs::copy(&lock, dir.join("Cargo.lock"));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "check",
            "--workspace",
            "--quiet",
            "--color",
            "never",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", cache.join("target"))
        // Registry crates have their lints capped by Cargo; this reaches our crates only.
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| format!("run cargo: {e}"))?;
    if let Ok(text) = fs::read(dir.join("Cargo.lock")) {
        let tmp = cache.join(format!("Cargo.lock.{tag}"));
        if fs::write(&tmp, text).is_ok() {
            let _ = fs::rename(&tmp, &lock);
        }
    }
    // Our crates' outputs differ each run (the tree is a fresh copy); only the registry
    // crates are worth keeping, so the cache does not grow with every run.
    let mut clean = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    clean
        .args(["clean", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", cache.join("target"));
    for m in members {
        clean.args(["-p", m]);
    }
    let _ = clean.output();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Features Cargo's resolution turned on in an AOSP crate beyond what AOSP builds it with
/// (another crate of the graph asking for more), which Soong would not provide.
pub fn extra_features(dir: &Path, table: &Table) -> Result<Vec<String>, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--color",
            "never",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .output()
        .map_err(|e| format!("run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut extra = Vec::new();
    for e in table.entries.values().filter(|e| e.model.is_none()) {
        let Some(version) = &e.version else { continue };
        let Some(pkg) = packages
            .iter()
            .find(|p| p["name"] == e.krate.as_str() && p["version"] == version.as_str())
        else {
            continue;
        };
        let Some(node) = nodes.iter().find(|n| n["id"] == pkg["id"]) else {
            continue;
        };
        // What AOSP's list turns on, following the crate's own feature table.
        let table_of = &pkg["features"];
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = e.features.clone();
        while let Some(f) = todo.pop() {
            if !allowed.insert(f.clone()) {
                continue;
            }
            for implied in table_of[&f].as_array().into_iter().flatten() {
                if let Some(name) = implied.as_str() {
                    if !name.contains('/') && !name.starts_with("dep:") {
                        todo.push(name.to_owned());
                    }
                }
            }
        }
        for f in node["features"].as_array().into_iter().flatten() {
            if let Some(f) = f.as_str() {
                // A feature that only names features AOSP turns on anyway (thiserror's
                // `default = ["std"]`) changes nothing.
                let same = table_of[f].as_array().is_some_and(|implied| {
                    implied
                        .iter()
                        .all(|i| i.as_str().is_some_and(|n| allowed.contains(n)))
                });
                if !allowed.contains(f) && !same {
                    extra.push(format!(
                        "{} {}: feature {f:?} is on in the Cargo graph but not in AOSP's {}",
                        e.krate, version, e.module
                    ));
                }
            }
        }
    }
    Ok(extra)
}
