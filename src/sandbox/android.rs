//! The sandbox of the Soong (Android) build: what init and SELinux already give, checked.
//!
//! AOSP offers vendor modules no seccompiler, landlock or caps crate, so this build installs
//! no seccomp filter and no landlock ruleset (docs/sandbox.md, "On Android"). init starts
//! the service with the .rc's `user`/`group` and no `capabilities`, and its SELinux domain
//! limits what it may open; here the process sets no_new_privs and refuses to serve when it
//! still holds a capability or runs as root, so a wrong .rc cannot go unnoticed.

#[path = "outcome.rs"]
mod outcome;
#[path = "role.rs"]
mod role;

use std::path::Path;
use std::time::Instant;

use nix::unistd::{Gid, Uid};

pub use outcome::{Report, SandboxError};
pub use role::{Link, Role};

use crate::config::{Config, ServiceConfig};

/// The identity the process runs as: the one init gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User ID.
    pub uid: Uid,
    /// Primary group ID.
    pub gid: Gid,
    /// Supplementary groups (set by init from the .rc).
    pub groups: Vec<Gid>,
    /// Always false: init switches user, not the service.
    pub switch: bool,
    /// Started as root: refused by [`lock_down`].
    pub root_without_user: bool,
}

impl Identity {
    /// The current identity; the `[service]` identity keys belong in the .rc on Android.
    pub fn resolve(service: &ServiceConfig, euid: Uid) -> Result<Identity, SandboxError> {
        let key = if service.user.is_some() {
            Some("service.user")
        } else if service.group.is_some() {
            Some("service.group")
        } else if !service.supplementary_groups.is_empty() {
            Some("service.supplementary_groups")
        } else {
            None
        };
        if let Some(key) = key {
            return Err(SandboxError::Config {
                key,
                why: "not used on Android: set `user`/`group` in the init .rc".into(),
            });
        }
        Ok(Identity {
            uid: euid,
            gid: nix::unistd::getegid(),
            groups: Vec::new(),
            switch: false,
            root_without_user: euid.is_root(),
        })
    }
}

/// Sets no_new_privs; call first thing in `main`.
pub fn announce() -> Result<(), SandboxError> {
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| SandboxError::Privileges(format!("cannot set no_new_privs: {e}")))
}

/// Checks that init started the service without root and without capabilities.
pub fn lock_down(
    _cfg: &Config,
    _runtime_dir: &Path,
    _state_dir: &Path,
    id: &Identity,
) -> Result<Report, SandboxError> {
    let start = Instant::now();
    if id.root_without_user {
        return Err(SandboxError::Privileges(
            "started as root: give the init .rc a `user` line".into(),
        ));
    }
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| SandboxError::Privileges(format!("cannot read /proc/self/status: {e}")))?;
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .unwrap_or("");
    if u64::from_str_radix(cap_eff, 16) != Ok(0) {
        return Err(SandboxError::Privileges(format!(
            "started with capabilities (CapEff {cap_eff}): drop the init .rc's \
             `capabilities` line"
        )));
    }
    Ok(Report {
        landlock: false,
        seccomp: false,
        landlock_off: "the Soong build has no landlock crate; the SELinux domain limits the \
                       files the service may open",
        seccomp_off: "the Soong build has no seccomp filter: AOSP offers vendor modules no \
                      seccompiler crate (docs/sandbox.md, \"On Android\")",
        took: start.elapsed(),
    })
}

/// Nothing to apply per thread in this build (see the module doc).
pub fn enter(_role: Role) {}
