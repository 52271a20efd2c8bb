//! The sandbox of the Soong (Android) build: the same per-role seccomp filters as the Cargo
//! build, loaded precompiled, and the privileges init gave the process, checked.
//!
//! AOSP offers vendor modules no seccompiler, landlock or caps crate. The filters are
//! compiled on the build host from the same role tables (`drivervm-seccomp-policy`, checked
//! fresh by `tests/android_seccomp.rs`) into /vendor/etc/drivervm/seccomp_filters.bin,
//! which [`lock_down`] reads and each thread installs in [`enter`] with the seccomp syscall;
//! a forbidden syscall traps into the same SIGSYS handler that names it. init starts the
//! service with the .rc's `user`/`group` and no `capabilities`, and its SELinux domain
//! limits what it may open; here the process sets no_new_privs and refuses to serve when it
//! still holds a capability or runs as root, so a wrong .rc cannot go unnoticed. There is
//! no landlock here: SELinux confines the files (docs/sandbox.md, "On Android").

#[path = "gate.rs"]
mod gate;
// The SIGSYS handler reads the names; the lookup by name is for compiling filters.
#[allow(dead_code)]
#[path = "names.rs"]
mod names;
#[path = "outcome.rs"]
mod outcome;
#[path = "policy_file.rs"]
pub mod policy_file;
#[path = "role.rs"]
mod role;
#[path = "sigsys.rs"]
mod sigsys;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use nix::unistd::{Gid, Uid};

pub use outcome::{Report, SandboxError};
pub use role::{Link, Role};

use crate::config::{Config, ServiceConfig};
use gate::StartGate;
use policy_file::{Policy, Program};

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

/// Each role's programs with this process's pid; `None` when `service.sandbox = false`.
type Plan = Option<HashMap<Role, Vec<Program>>>;

/// Opened by [`lock_down`] once the policy is loaded; [`enter`] waits for it.
static GATE: StartGate<Plan> = StartGate::new();

/// Sets no_new_privs and installs the SIGSYS handler; call first thing in `main`, before
/// any thread. Threads then wait in [`enter`] until [`lock_down`].
pub fn announce() -> Result<(), SandboxError> {
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| SandboxError::Privileges(format!("cannot set no_new_privs: {e}")))?;
    sigsys::install_handler()
        .map_err(|e| SandboxError::Seccomp(format!("cannot install the SIGSYS handler: {e}")))?;
    GATE.pending();
    crate::thread_role::set_hook(|role| enter(gate::role_of(role)));
    Ok(())
}

/// Checks that init started the service without root and without capabilities, loads
/// the seccomp policy (a missing or damaged file is an error naming it) and releases the
/// threads waiting in [`enter`].
pub fn lock_down(
    cfg: &Config,
    _runtime_dir: &Path,
    _state_dir: &Path,
    id: &Identity,
) -> Result<Report, SandboxError> {
    let start = Instant::now();
    let result = check_privileges(id).and_then(|()| {
        if !cfg.service.sandbox() {
            return Ok(None);
        }
        let roles = Role::builtin();
        Policy::load(
            Path::new(policy_file::INSTALLED),
            &roles,
            std::process::id(),
        )
        .map(Some)
    });
    match result {
        Ok(plan) => {
            let seccomp = plan.is_some();
            GATE.open(plan);
            Ok(Report {
                landlock: false,
                seccomp,
                landlock_off: "the Soong build has no landlock crate; the SELinux domain \
                               limits the files the service may open",
                seccomp_off: "service.sandbox = false: every thread may make any syscall; \
                              for debugging only",
                took: start.elapsed(),
            })
        }
        Err(e) => {
            GATE.fail();
            Err(e)
        }
    }
}

fn check_privileges(id: &Identity) -> Result<(), SandboxError> {
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
    Ok(())
}

/// Puts the calling thread in `role`'s sandbox: waits until [`lock_down`] has loaded the
/// policy, then installs the role's filters. Call first thing in every thread the service
/// starts. Does nothing in a process without a sandbox; a thread that cannot be sandboxed
/// ends the process.
pub fn enter(role: Role) {
    let Some(plan) = GATE.wait() else {
        return;
    };
    let Some(programs) = plan.as_ref() else {
        return;
    };
    sigsys::set_role(role.name(), role.kind_name());
    if gate::already_filtered() {
        // Started by a sandboxed thread (a Gunyah label restarted by its supervisor): it
        // already has its parent's filter, which allows what it needs.
        return;
    }
    let installed = match programs.get(&role) {
        Some(list) => list
            .iter()
            .try_for_each(|p| policy_file::install(p).map_err(|e| e.to_string())),
        None => Err(format!("{} has no filters for it", policy_file::INSTALLED)),
    };
    if let Err(e) = installed {
        log::error!("sandbox: cannot sandbox a {role} thread: {e}; exiting");
        std::process::exit(1);
    }
}
