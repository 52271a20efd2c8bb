//! The Linux common clock framework as a clock backend, through debugfs
//! (`/sys/kernel/debug/clk/<name>/...`).
//!
//! Reads work on any kernel with CONFIG_COMMON_CLK and debugfs mounted. Writes (rate, parent,
//! enable) exist only when the kernel's clk.c was built with CLOCK_ALLOW_WRITE_DEBUGFS; without
//! it every write fails with an error saying so, rather than pretending to succeed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{ClockDesc, ClockError, ClockHw, ClockId, RateSpec};

/// Where the kernel exposes its clocks.
pub const DEFAULT_ROOT: &str = "/sys/kernel/debug/clk";

/// Why the debugfs clock tree cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum LinuxClockError {
    /// The clk directory is absent.
    #[error(
        "{0} does not exist: mount debugfs (mount -t debugfs debugfs /sys/kernel/debug) on a kernel \
         with CONFIG_DEBUG_FS and CONFIG_COMMON_CLK"
    )]
    NoDebugfs(PathBuf),
    /// A configured clock is not in the tree.
    #[error("clock `{name}` not found under {root}")]
    NoSuchClock {
        /// The clock name.
        name: String,
        /// The debugfs root.
        root: PathBuf,
    },
    /// A file every clock has could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error or parse failure.
        reason: String,
    },
}

/// Clocks of the running kernel, seen through debugfs.
#[derive(Debug)]
pub struct LinuxClocks {
    root: PathBuf,
    descs: Vec<ClockDesc>,
}

impl LinuxClocks {
    /// Opens the clocks called `names` under `root` (normally [`DEFAULT_ROOT`]); an empty
    /// `names` takes every clock of the tree.
    pub fn open(root: &Path, names: &[String]) -> Result<Self, LinuxClockError> {
        if !root.is_dir() {
            return Err(LinuxClockError::NoDebugfs(root.to_owned()));
        }
        let names: Vec<String> = if names.is_empty() {
            let entries = fs::read_dir(root).map_err(|e| LinuxClockError::Read {
                path: root.to_owned(),
                reason: e.to_string(),
            })?;
            let mut all: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("clk_rate").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            all.sort();
            all
        } else {
            names.to_vec()
        };
        let mut descs = Vec::with_capacity(names.len());
        for name in &names {
            let dir = root.join(name);
            if !dir.join("clk_rate").is_file() {
                return Err(LinuxClockError::NoSuchClock {
                    name: name.clone(),
                    root: root.to_owned(),
                });
            }
            let read_u64 = |file: &str| -> Option<u64> {
                fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
            };
            let rate = read_u64("clk_rate").ok_or_else(|| LinuxClockError::Read {
                path: dir.join("clk_rate"),
                reason: "not a rate".into(),
            })?;
            let min = read_u64("clk_min_rate").unwrap_or(rate);
            let max = read_u64("clk_max_rate").unwrap_or(rate).max(min);
            let parents = possible_parents(&dir)
                .iter()
                .filter_map(|p| names.iter().position(|n| n == p))
                .collect();
            descs.push(ClockDesc {
                name: name.clone(),
                possible_parents: parents,
                rates: RateSpec::Range {
                    min,
                    max,
                    step: if min == max { 0 } else { 1 },
                },
                enable_latency_us: 0,
            });
        }
        Ok(Self {
            root: root.to_owned(),
            descs,
        })
    }

    /// Number of clocks opened.
    pub fn clocks_len(&self) -> usize {
        self.descs.len()
    }

    fn file(&self, id: ClockId, file: &str) -> Result<PathBuf, ClockError> {
        let desc = self.descs.get(id).ok_or(ClockError::NoSuchClock(id))?;
        Ok(self.root.join(&desc.name).join(file))
    }

    fn read(&self, id: ClockId, file: &str) -> Result<String, ClockError> {
        let path = self.file(id, file)?;
        fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| ClockError::Io(format!("cannot read {}: {e}", path.display())))
    }

    fn read_u64(&self, id: ClockId, file: &str) -> Result<u64, ClockError> {
        let text = self.read(id, file)?;
        text.parse().map_err(|_| {
            ClockError::Io(format!(
                "{}: `{text}` is not a number",
                self.root.join(&self.descs[id].name).join(file).display()
            ))
        })
    }

    /// Writes `value` to a debugfs file that is writable only with CLOCK_ALLOW_WRITE_DEBUGFS.
    fn write(&self, id: ClockId, file: &str, value: &str) -> Result<(), ClockError> {
        let path = self.file(id, file)?;
        let no_write = || {
            ClockError::Unsupported(format!(
                "{} is not writable: the kernel's clk.c was built without \
                 CLOCK_ALLOW_WRITE_DEBUGFS, so clocks cannot be changed through debugfs",
                path.display()
            ))
        };
        let meta = fs::metadata(&path).map_err(|_| no_write())?;
        if meta.permissions().mode() & 0o222 == 0 {
            return Err(no_write());
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| ClockError::Io(format!("cannot open {}: {e}", path.display())))?;
        f.write_all(value.as_bytes())
            .map_err(|e| ClockError::Io(format!("cannot write {}: {e}", path.display())))
    }
}

/// Names in `clk_possible_parents`; entries in parentheses are parents the kernel has not
/// registered (only a firmware name is known), which cannot be selected.
fn possible_parents(dir: &Path) -> Vec<String> {
    let Ok(text) = fs::read_to_string(dir.join("clk_possible_parents")) else {
        // Single-parent clocks have clk_parent but no list.
        return fs::read_to_string(dir.join("clk_parent"))
            .map(|p| vec![p.trim().to_owned()])
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
    };
    text.split_whitespace()
        .filter(|p| !p.starts_with('('))
        .map(str::to_owned)
        .collect()
}

impl ClockHw for LinuxClocks {
    fn kind(&self) -> &'static str {
        "linux"
    }

    fn clocks(&self) -> &[ClockDesc] {
        &self.descs
    }

    fn rate(&self, id: ClockId) -> Result<u64, ClockError> {
        self.read_u64(id, "clk_rate")
    }

    fn set_rate(&mut self, id: ClockId, rate: u64) -> Result<u64, ClockError> {
        self.write(id, "clk_rate", &rate.to_string())?;
        // The framework rounds on its own: report what it actually programmed.
        self.rate(id)
    }

    fn is_enabled(&self, id: ClockId) -> Result<bool, ClockError> {
        Ok(self.read_u64(id, "clk_enable_count")? > 0)
    }

    fn set_enabled(&mut self, id: ClockId, on: bool) -> Result<(), ClockError> {
        self.write(id, "clk_prepare_enable", if on { "1" } else { "0" })
    }

    fn parent(&self, id: ClockId) -> Result<Option<ClockId>, ClockError> {
        let name = match self.read(id, "clk_parent") {
            Ok(n) => n,
            Err(_) if !self.file(id, "clk_parent")?.exists() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self.descs.iter().position(|d| d.name == name))
    }

    fn set_parent(&mut self, id: ClockId, parent: ClockId) -> Result<(), ClockError> {
        let desc = self.descs.get(id).ok_or(ClockError::NoSuchClock(id))?;
        let bad = || ClockError::BadParent {
            clock: desc.name.clone(),
            parent,
        };
        if !desc.possible_parents.contains(&parent) {
            return Err(bad());
        }
        let pname = &self.descs.get(parent).ok_or_else(bad)?.name;
        // The kernel takes the index into its own (unfiltered) possible-parents list.
        let dir = self.root.join(&desc.name);
        let list = fs::read_to_string(dir.join("clk_possible_parents")).unwrap_or_default();
        let index = list
            .split_whitespace()
            .position(|p| p == pname)
            .ok_or_else(bad)?;
        self.write(id, "clk_parent", &index.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a debugfs-like clock directory.
    fn clock(root: &Path, name: &str, files: &[(&str, &str, u32)]) {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        for (f, v, mode) in files {
            let p = dir.join(f);
            fs::write(&p, v).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
        }
    }

    fn fake_tree(writable: bool) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let w = if writable { 0o644 } else { 0o444 };
        clock(
            t.path(),
            "xo",
            &[
                ("clk_rate", "19200000\n", w),
                ("clk_enable_count", "3\n", 0o444),
            ],
        );
        clock(
            t.path(),
            "gpll0",
            &[
                ("clk_rate", "600000000\n", w),
                ("clk_min_rate", "300000000\n", 0o444),
                ("clk_max_rate", "1200000000\n", 0o444),
                ("clk_enable_count", "0\n", 0o444),
                ("clk_parent", "xo\n", w),
            ],
        );
        clock(
            t.path(),
            "uart_mux",
            &[
                ("clk_rate", "19200000\n", w),
                ("clk_enable_count", "1\n", 0o444),
                ("clk_parent", "xo\n", w),
                ("clk_possible_parents", "(ext) xo gpll0\n", 0o444),
            ],
        );
        if writable {
            clock(t.path(), "uart_mux", &[("clk_prepare_enable", "0", 0o644)]);
        }
        fs::write(t.path().join("clk_summary"), "").unwrap();
        t
    }

    #[test]
    fn reads_names_rates_parents_and_counts() {
        let t = fake_tree(false);
        let c = LinuxClocks::open(t.path(), &[]).unwrap();
        let names: Vec<_> = c.clocks().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["gpll0", "uart_mux", "xo"]);
        assert_eq!(c.rate(0).unwrap(), 600_000_000);
        assert_eq!(
            c.clocks()[0].rates,
            RateSpec::Range {
                min: 300_000_000,
                max: 1_200_000_000,
                step: 1
            }
        );
        assert_eq!(c.clocks()[1].possible_parents, [2, 0]);
        assert_eq!(c.parent(1).unwrap(), Some(2));
        assert_eq!(c.parent(2).unwrap(), None);
        assert!(c.is_enabled(2).unwrap());
        assert!(!c.is_enabled(0).unwrap());
    }

    #[test]
    fn writes_fail_clearly_without_write_support() {
        let t = fake_tree(false);
        let mut c = LinuxClocks::open(t.path(), &["uart_mux".into(), "xo".into()]).unwrap();
        let err = c.set_rate(0, 1).unwrap_err().to_string();
        assert!(err.contains("CLOCK_ALLOW_WRITE_DEBUGFS"), "{err}");
        let err = c.set_enabled(0, true).unwrap_err().to_string();
        assert!(err.contains("clk_prepare_enable"), "{err}");
        // gpll0 is not selected, so it is not a usable parent.
        assert_eq!(c.clocks()[0].possible_parents, [1]);
    }

    #[test]
    fn writes_go_to_debugfs_when_allowed() {
        let t = fake_tree(true);
        let mut c = LinuxClocks::open(t.path(), &[]).unwrap();
        assert_eq!(c.set_rate(0, 800_000_000).unwrap(), 800_000_000);
        c.set_parent(1, 0).unwrap();
        // Index 2 in the kernel's own list "(ext) xo gpll0".
        let parent = fs::read_to_string(t.path().join("uart_mux/clk_parent")).unwrap();
        assert_eq!(parent, "2");
        c.set_enabled(1, true).unwrap();
        let en = fs::read_to_string(t.path().join("uart_mux/clk_prepare_enable")).unwrap();
        assert_eq!(en, "1");
        assert!(matches!(
            c.set_parent(0, 1),
            Err(ClockError::BadParent { .. })
        ));
    }

    #[test]
    fn missing_debugfs_and_clocks_are_named() {
        let t = fake_tree(false);
        let err = LinuxClocks::open(&t.path().join("nope"), &[]).unwrap_err();
        assert!(err.to_string().contains("mount debugfs"), "{err}");
        let err = LinuxClocks::open(t.path(), &["gcc_foo".into()]).unwrap_err();
        assert!(err.to_string().contains("`gcc_foo`"), "{err}");
    }
}
