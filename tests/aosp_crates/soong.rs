//! The Rust modules of a tree's Android.bp files, with their defaults applied, and the
//! aidl_interface modules whose generated crates they may link.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::blueprint::{self, strings_of, Module, Value};

/// Library or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lib,
    Bin,
}

/// One rust_library / rust_binary (device or host).
#[derive(Debug, Clone)]
pub struct RustModule {
    pub name: String,
    pub kind: Kind,
    /// rust_*_host: built for the build machine only.
    pub host: bool,
    pub vendor: bool,
    pub crate_name: String,
    /// Absolute path of the crate root.
    pub root: PathBuf,
    pub edition: String,
    pub features: Vec<String>,
    pub cfgs: Vec<String>,
    pub rustlibs: Vec<String>,
    pub multilib: Option<String>,
    pub version: Option<String>,
    /// The Android.bp that declares it (for messages).
    pub bp: PathBuf,
}

/// An aidl_interface: its name, the directory of its Android.bp and its frozen versions.
#[derive(Debug, Clone)]
pub struct AidlInterface {
    pub name: String,
    pub dir: PathBuf,
    pub versions: Vec<String>,
}

/// What a tree declares.
#[derive(Debug, Default)]
pub struct Tree {
    pub rust: Vec<RustModule>,
    pub aidl: Vec<AidlInterface>,
}

impl Tree {
    /// The AIDL interface and version a `<name>-V<N>-rust` library names.
    pub fn aidl_for(&self, lib: &str) -> Option<(&AidlInterface, &str)> {
        let stem = lib.strip_suffix("-rust")?;
        let (name, version) = stem.rsplit_once("-V")?;
        let iface = self.aidl.iter().find(|a| a.name == name)?;
        let v = iface.versions.iter().find(|v| v.as_str() == version)?;
        Some((iface, v))
    }

    /// Our own library module called `lib`.
    pub fn library(&self, lib: &str) -> Option<&RustModule> {
        self.rust
            .iter()
            .find(|m| m.kind == Kind::Lib && m.name == lib)
    }
}

/// Every Android.bp under `root` (build output and VCS directories skipped).
fn bp_files(root: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name.starts_with('.') || name == "target" {
                continue;
            }
            bp_files(&path, out)?;
        } else if name == "Android.bp" {
            out.push(path);
        }
    }
    Ok(())
}

fn merge_defaults(module: &Module, defaults: &BTreeMap<String, Module>) -> Result<Module, String> {
    let mut merged = Module {
        kind: module.kind.clone(),
        props: BTreeMap::new(),
    };
    for d in module.strings("defaults")? {
        let def = defaults
            .get(&d)
            .ok_or_else(|| format!("{}: unknown defaults {d}", module.name()))?;
        for (k, v) in &def.props {
            if k != "name" {
                merged.props.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in &module.props {
        match (merged.props.get_mut(k), v) {
            // Soong appends list properties of defaults and module.
            (Some(Value::List(base)), Value::List(more)) => base.extend(more.iter().cloned()),
            _ => {
                merged.props.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(merged)
}

/// Reads the tree at `root`.
pub fn read(root: &Path) -> Result<Tree, String> {
    let mut files = Vec::new();
    bp_files(root, &mut files)?;
    let mut parsed = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let modules = blueprint::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        parsed.push((f.clone(), modules));
    }
    // Soong's module namespace is global: defaults may come from any file.
    let defaults: BTreeMap<String, Module> = parsed
        .iter()
        .flat_map(|(_, ms)| ms.iter())
        .filter(|m| m.kind == "rust_defaults")
        .map(|m| (m.name().to_owned(), m.clone()))
        .collect();
    let mut tree = Tree::default();
    for (bp, modules) in &parsed {
        let dir = bp.parent().unwrap_or(root);
        for m in modules {
            let (kind, host) = match m.kind.as_str() {
                "rust_library" => (Kind::Lib, false),
                "rust_library_host" => (Kind::Lib, true),
                "rust_binary" => (Kind::Bin, false),
                "rust_binary_host" => (Kind::Bin, true),
                "aidl_interface" => {
                    let versions = match m.props.get("versions_with_info") {
                        Some(Value::List(items)) => items
                            .iter()
                            .filter_map(|i| match i {
                                Value::Map(p) => match p.get("version") {
                                    Some(Value::Str(v)) => Some(v.clone()),
                                    _ => None,
                                },
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    tree.aidl.push(AidlInterface {
                        name: m.name().to_owned(),
                        dir: dir.to_path_buf(),
                        versions,
                    });
                    continue;
                }
                "rust_defaults" => continue,
                k if k.starts_with("rust_") => {
                    return Err(format!(
                        "{}: {k} {} is a Rust module kind this check does not model",
                        bp.display(),
                        m.name()
                    ))
                }
                _ => continue,
            };
            let m = merge_defaults(m, &defaults)?;
            let name = m.name().to_owned();
            let srcs = m.strings("srcs")?;
            let root_src = m
                .str("crate_root")
                .map(str::to_owned)
                .or_else(|| srcs.first().cloned())
                .ok_or_else(|| format!("{name}: no srcs"))?;
            let flag = |k: &str| matches!(m.props.get(k), Some(Value::Bool(true)));
            let crate_name = m
                .str("crate_name")
                .ok_or_else(|| format!("{name}: no crate_name"))?
                .to_owned();
            let mut rustlibs = m.strings("rustlibs")?;
            // Libraries only a target variant links (target: { android: { rustlibs } }).
            if let Some(Value::Map(target)) = m.props.get("target") {
                for (variant, v) in target {
                    if let Value::Map(p) = v {
                        if variant == "android" || (host && variant == "host") {
                            rustlibs.extend(strings_of(p.get("rustlibs"), "rustlibs")?);
                        }
                    }
                }
            }
            tree.rust.push(RustModule {
                kind,
                host,
                vendor: flag("vendor"),
                crate_name,
                root: dir.join(root_src),
                edition: m.str("edition").unwrap_or("2021").to_owned(),
                features: m.strings("features")?,
                cfgs: m.strings("cfgs")?,
                rustlibs,
                multilib: m.str("compile_multilib").map(str::to_owned),
                version: m.str("cargo_pkg_version").map(str::to_owned),
                bp: bp.clone(),
                name,
            });
        }
    }
    Ok(tree)
}
