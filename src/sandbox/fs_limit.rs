//! Least filesystem access with landlock: after start-up a thread can reach the runtime
//! dir, the state dir and the paths the config names (device nodes, sysfs/debugfs roots of
//! the Linux backends, WAV files, the binder driver) and nothing else. On a kernel without
//! landlock this degrades to nothing, with one warning.

use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, ABI,
};

use super::SandboxError;
use crate::config::{
    Backend, Config, DeviceSpec, JackDetect, OutputSink, RadioTuner, RpmbStorageConfig,
    StreamEndpoint, TransportConfig,
};

/// The newest landlock ABI this code was written against; older kernels get what they
/// support (best effort), newer ones no more than this.
const TARGET: ABI = ABI::V5;

/// Every path the service may use after start-up, with the config's relative paths
/// resolved: runtime and state dirs first.
pub fn allowed_paths(cfg: &Config, runtime_dir: &Path, state_dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![runtime_dir.to_owned(), state_dir.to_owned()];
    let in_run = |p: &Path| runtime_dir.join(p);
    let mut linux_clocks = false;
    for (_, dev) in cfg.devices() {
        if let TransportConfig::Gunyah { node, .. } = &dev.transport {
            out.push(node.clone());
        }
        // Only the clock kind has the `linux` backend.
        linux_clocks |= dev.backend == Backend::Linux;
        match &dev.spec {
            DeviceSpec::Rpmb(r) => {
                if let RpmbStorageConfig::Image { path } = &r.storage {
                    out.push(state_dir.join(path));
                }
            }
            DeviceSpec::Sound(s) => {
                for jack in &s.jacks {
                    match &jack.detect {
                        JackDetect::Sim { file } => out.push(in_run(file)),
                        JackDetect::Alsa { .. } => out.push(PathBuf::from("/dev/snd")),
                        JackDetect::Fixed => {}
                    }
                }
                for stream in &s.streams {
                    match &stream.endpoint {
                        StreamEndpoint::WavSink(p) => out.push(in_run(p)),
                        StreamEndpoint::WavSource { path, .. } => out.push(in_run(path)),
                        StreamEndpoint::Alsa { .. } => out.push(PathBuf::from("/dev/snd")),
                        _ => {}
                    }
                }
            }
            DeviceSpec::Radio(r) => {
                if let RadioTuner::V4l2 { device } = &r.tuner {
                    out.push(device.clone());
                }
            }
            // The clock kind's paths come from the SoC config below; registry-added kinds
            // name none (no hardware backend).
            _ => {}
        }
    }
    for store in &cfg.rpmb_stores {
        out.push(state_dir.join(&store.path));
        out.push(state_dir.join(&store.key_file));
    }
    for output in &cfg.outputs {
        match &output.sink {
            OutputSink::Wav(p) => out.push(in_run(p)),
            OutputSink::Alsa { .. } => out.push(PathBuf::from("/dev/snd")),
            OutputSink::Null => {}
        }
    }
    out.extend(cfg.soc.linux_paths(linux_clocks));
    // rustix's fallback for reading the aux vector on kernels before 6.4 (no PR_GET_AUXV).
    out.push(PathBuf::from("/proc/self/auxv"));
    // The kernel binder driver, opened by the registration thread after start-up.
    out.push(PathBuf::from(rsbinder::DEFAULT_BINDER_PATH));
    out.push(PathBuf::from(rsbinder::LEGACY_BINDER_PATH));
    out.sort();
    out.dedup();
    out
}

/// What a path must exist as to get a rule: itself, or for a file that a backend creates
/// later (a WAV sink), the directory it will be created in.
fn existing(path: &Path) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_owned());
    }
    path.parent().filter(|p| p.exists()).map(Path::to_owned)
}

/// A landlock ruleset for `paths`, created but not enforced on any thread yet (on a kernel
/// without landlock it enforces nothing: [`restrict_thread`] says so).
pub fn ruleset(paths: &[PathBuf]) -> Result<RulesetCreated, SandboxError> {
    let err = |e: landlock::RulesetError| SandboxError::Landlock(e.to_string());
    let all = AccessFs::from_all(TARGET);
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(err)?
        .create()
        .map_err(err)?
        // Each thread sets no_new_privs itself; the process already has it.
        .no_new_privs(false);
    for path in paths.iter().filter_map(|p| existing(p)) {
        let fd = match PathFd::new(&path) {
            Ok(fd) => fd,
            Err(e) => {
                log::warn!("sandbox: landlock: cannot open {}: {e}", path.display());
                continue;
            }
        };
        let access = if path.is_dir() {
            all
        } else {
            AccessFs::from_file(TARGET)
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(err)?;
    }
    Ok(created)
}

/// Restricts the calling thread with (a copy of) `ruleset`; returns whether landlock is
/// enforced on this kernel.
pub fn restrict_thread(ruleset: &RulesetCreated) -> Result<bool, SandboxError> {
    let copy = ruleset
        .try_clone()
        .map_err(|e| SandboxError::Landlock(format!("cannot copy the ruleset: {e}")))?;
    let status = copy
        .restrict_self()
        .map_err(|e| SandboxError::Landlock(e.to_string()))?;
    Ok(status.ruleset != RulesetStatus::NotEnforced)
}
