//! tests/android/aosp-crates.toml: the AOSP crates our Soong modules may link, and the rules
//! a `rustlibs` entry must pass against it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Who may link a module: everyone, or the listed packages only.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Visibility {
    Word(String),
    List(Vec<String>),
}

/// One AOSP module as recorded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub module: String,
    #[serde(rename = "crate")]
    pub krate: String,
    pub version: Option<String>,
    #[serde(default)]
    pub features: Vec<String>,
    pub vendor_available: bool,
    pub host_only: bool,
    pub host_supported: bool,
    pub visibility: Visibility,
    pub multilib: String,
    pub source: String,
    /// A path (repo-relative) to a model crate used instead of a registry package.
    pub model: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Absent {
    crates: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    module: Vec<Entry>,
    absent: Absent,
}

/// The recorded table.
pub struct Table {
    pub entries: BTreeMap<String, Entry>,
    pub absent: Vec<String>,
}

impl Table {
    /// Reads and sanity-checks the table file.
    pub fn load(path: &Path) -> Result<Table, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut entries = BTreeMap::new();
        for e in file.module {
            if e.model.is_none() && e.version.is_none() {
                return Err(format!("{}: neither a version nor a model", e.module));
            }
            if !matches!(e.multilib.as_str(), "first" | "both") {
                return Err(format!("{}: multilib must be first or both", e.module));
            }
            if let Visibility::Word(w) = &e.visibility {
                if w != "public" {
                    return Err(format!("{}: visibility word must be \"public\"", e.module));
                }
            }
            if let Some(old) = entries.insert(e.module.clone(), e) {
                return Err(format!("{} recorded twice", old.module));
            }
        }
        Ok(Table {
            entries,
            absent: file.absent.crates,
        })
    }

    /// Why a device (vendor) module may not link `lib`, or `None` when it may.
    pub fn refuse_for_vendor(&self, lib: &str) -> Option<String> {
        let Some(e) = self.entries.get(lib) else {
            return Some(self.unknown(lib));
        };
        if e.host_only {
            return Some(format!(
                "{lib} ({} {}) is host only in AOSP (rust_library_host): a vendor module cannot link it",
                e.krate,
                e.version.as_deref().unwrap_or("")
            ));
        }
        if !e.vendor_available {
            return Some(format!("{lib} is not vendor_available in AOSP"));
        }
        if let Visibility::List(list) = &e.visibility {
            return Some(format!(
                "{lib} is visible only to {} in AOSP, not to a vendor package",
                list.join(", ")
            ));
        }
        None
    }

    /// Why a host tool may not link `lib`, or `None` when it may.
    pub fn refuse_for_host(&self, lib: &str) -> Option<String> {
        let Some(e) = self.entries.get(lib) else {
            return Some(self.unknown(lib));
        };
        if !e.host_supported {
            return Some(format!("{lib} has no host variant in AOSP"));
        }
        if let Visibility::List(list) = &e.visibility {
            return Some(format!("{lib} is visible only to {}", list.join(", ")));
        }
        if e.model.is_some() {
            return Some(format!("{lib} is modelled for device builds only"));
        }
        None
    }

    fn unknown(&self, lib: &str) -> String {
        let krate = lib.strip_prefix("lib").unwrap_or(lib).replace('_', "-");
        if self.absent.iter().any(|a| a.replace('_', "-") == krate) {
            format!("{lib}: not in AOSP (external/rust/android-crates-io has no {krate})")
        } else {
            format!(
                "{lib}: not in AOSP as far as tests/android/aosp-crates.toml knows \
                 (record it there from android-crates-io, or it does not exist)"
            )
        }
    }

    /// docs/aosp.md's crate table, generated.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| AOSP module | crate | version | features | vendor | multilib | read from |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for e in self.entries.values() {
            let avail = if e.host_only {
                "host only".to_owned()
            } else if !e.vendor_available {
                "no".to_owned()
            } else if let Visibility::List(list) = &e.visibility {
                format!("visible only to `{}`", list.join("`, `"))
            } else {
                "yes".to_owned()
            };
            let features = if e.features.is_empty() {
                "—".to_owned()
            } else {
                e.features.join(", ")
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                e.module,
                e.krate,
                e.version.as_deref().unwrap_or("model"),
                features,
                avail,
                e.multilib,
                e.source
            ));
        }
        out.push_str(&format!(
            "\nNot in android-crates-io: {}.\n",
            self.absent.join(", ")
        ));
        out
    }
}
