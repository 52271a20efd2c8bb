//! Each role's seccomp filter: the union of its syscall groups, compiled with seccompiler.
//! Anything else traps (SIGSYS), and the handler in [`super::sigsys`] names it and ends the
//! process.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch};

use super::groups::{self, Cond, Group};
use super::role::{Link, Role};
use super::SandboxError;
use crate::kind::DeviceKind;

/// The architecture the filters are compiled for: the one this binary runs on.
fn arch() -> Result<TargetArch, SandboxError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SandboxError::Seccomp(format!("no filters for {}", std::env::consts::ARCH)))
}

/// The groups making up `role`'s filter; `pid` is this process (for the tgkill rule).
pub fn groups(role: Role, pid: u32) -> Vec<Group> {
    let base = || vec![groups::runtime(pid), groups::fd_io()];
    let mut out = base();
    match role {
        Role::Main => out.push(groups::shutdown()),
        Role::Device(kind, link) => {
            out.push(groups::files());
            match link {
                Link::Socket => out.extend([groups::sockets(), groups::handoff()]),
                Link::Gunyah => out.push(groups::gunyah()),
            }
            out.extend(kind_groups(kind));
        }
        Role::GunyahNode => {
            // The label threads it restarts inherit this filter and stack their own on it,
            // so it must allow what any of them needs.
            out.extend([groups::files(), groups::gunyah(), groups::reopen()]);
            for kind in DeviceKind::known() {
                out.extend(kind_groups(kind));
            }
        }
        Role::GunyahEvents => out.push(groups::gunyah()),
        Role::JackWatch => out.extend([groups::files(), groups::inotify(), groups::alsa_ctl()]),
        Role::TunerWorker => out.push(groups::v4l2()),
        Role::Control => out.extend([groups::sockets(), groups::binder_calls()]),
        Role::KernelBinder => out.extend([groups::sockets(), groups::binder()]),
        Role::Status => {}
    }
    out
}

/// What a device of `kind` needs beyond any device's groups.
fn kind_groups(kind: DeviceKind) -> Vec<Group> {
    match kind {
        DeviceKind::Rpmb => vec![groups::rpmb()],
        DeviceKind::Sound => vec![groups::alsa(), groups::inotify()],
        DeviceKind::Radio => vec![groups::v4l2()],
        // SCMI's Linux backend reads and writes files only (the `files` group), and a
        // registry-added kind has no hardware backend: what every device has.
        _ => vec![],
    }
}

/// The syscall -> rules map of `groups`: a call allowed unconditionally by one group is
/// allowed unconditionally; conditional rules from several groups add up.
fn rules(groups: &[Group]) -> BTreeMap<i64, Vec<SeccompRule>> {
    let mut any: BTreeMap<i64, bool> = BTreeMap::new();
    let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in groups.iter().flat_map(|g| g.calls.iter()) {
        match &call.cond {
            Cond::Any => {
                any.insert(call.nr, true);
            }
            Cond::Rules(rules) => {
                map.entry(call.nr)
                    .or_default()
                    .extend(rules.iter().cloned());
            }
        }
    }
    for nr in any.keys() {
        // An empty rule list is seccompiler's "always".
        map.insert(*nr, Vec::new());
    }
    map
}

/// Whether `groups` let the thread open files.
fn opens_files(groups: &[Group]) -> bool {
    groups
        .iter()
        .flat_map(|g| g.calls.iter())
        .any(|c| c.nr == libc::SYS_openat)
}

/// `role`'s filters, all installed on its threads: its groups allowed and everything else
/// trapped, plus the refusals (syscalls answered with an error instead: precedence makes
/// a refusal's ERRNO win over the role filter's ALLOW, and the role filter lists them so
/// its TRAP does not win over the ERRNO).
pub fn compile(role: Role, pid: u32) -> Result<Vec<BpfProgram>, SandboxError> {
    let mut groups = groups(role, pid);
    let mut out = vec![refuse(&[libc::SYS_clone3], libc::ENOSYS, "clone3")?];
    if !opens_files(&groups) {
        groups.push(groups::file_probes());
        out.push(refuse(&groups::open_calls(), libc::EACCES, "open")?);
    }
    let filter = SeccompFilter::new(
        rules(&groups),
        SeccompAction::Trap,
        SeccompAction::Allow,
        arch()?,
    )
    .map_err(|e| SandboxError::Seccomp(format!("{role}: {e}")))?;
    out.push(
        filter.try_into().map_err(|e: seccompiler::BackendError| {
            SandboxError::Seccomp(format!("{role}: {e}"))
        })?,
    );
    Ok(out)
}

/// A filter answering `calls` with `errno` and allowing everything else (the role filter
/// decides the rest). clone3 gets ENOSYS: its flags are in memory a filter cannot read,
/// so it cannot be limited to threads, and glibc falls back to clone, whose flags the role
/// filter checks. Opens get EACCES in roles that open no file: glibc and std probe files
/// on their own (malloc reads /sys/devices/system/cpu/online when it adds arenas), and a
/// refused probe is not an attack.
fn refuse(calls: &[i64], errno: i32, what: &str) -> Result<BpfProgram, SandboxError> {
    let rules = calls.iter().map(|nr| (*nr, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch()?,
    )
    .map_err(|e| SandboxError::Seccomp(format!("{what}: {e}")))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SandboxError::Seccomp(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_compiles() {
        for role in Role::all() {
            let progs = compile(role, 1).unwrap();
            assert!(progs.iter().all(|p| !p.is_empty()), "{role}");
        }
        // The control plane opens nothing: its opens are refused, not trapped.
        assert_eq!(compile(Role::Control, 1).unwrap().len(), 3);
        assert_eq!(
            compile(Role::Device(DeviceKind::Scmi, Link::Socket), 1)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn no_role_may_create_sockets_exec_or_trace() {
        for role in Role::all() {
            let map = rules(&groups(role, 1));
            if !matches!(role, Role::Device(_, Link::Socket)) {
                // Only the peer-allowlist handoff creates (unix) sockets.
                for nr in [libc::SYS_socket, libc::SYS_connect, libc::SYS_bind] {
                    assert!(!map.contains_key(&nr), "{role} allows syscall {nr}");
                }
            } else {
                assert!(!map[&libc::SYS_socket].is_empty(), "socket unconditional");
            }
            for nr in [
                libc::SYS_execve,
                libc::SYS_ptrace,
                libc::SYS_setuid,
                libc::SYS_setresuid,
                libc::SYS_mount,
                libc::SYS_unshare,
                libc::SYS_seccomp,
                libc::SYS_rt_sigaction,
            ] {
                assert!(!map.contains_key(&nr), "{role} allows syscall {nr}");
            }
        }
    }

    #[test]
    fn ioctl_rules_add_up_across_groups() {
        let map = rules(&groups(Role::Device(DeviceKind::Sound, Link::Socket), 1));
        let ioctl = &map[&libc::SYS_ioctl];
        // std's three, the socket queue sizes, ALSA PCM and control.
        assert_eq!(ioctl.len(), 3 + 2 + 12 + 8);
    }
}
