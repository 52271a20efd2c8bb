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
                Link::Socket => out.push(groups::sockets()),
                Link::Gunyah => out.push(groups::gunyah()),
            }
            out.extend(kind_groups(kind));
        }
        Role::GunyahNode => {
            // The label threads it restarts inherit this filter and stack their own on it,
            // so it must allow what any of them needs.
            out.extend([groups::files(), groups::gunyah(), groups::reopen()]);
            for kind in DeviceKind::ALL {
                out.extend(kind_groups(kind));
            }
        }
        Role::GunyahEvents => out.push(groups::gunyah()),
        Role::JackWatch => out.extend([groups::files(), groups::inotify(), groups::alsa_ctl()]),
        Role::TunerWorker => out.push(groups::v4l2()),
        Role::Control => out.push(groups::sockets()),
        Role::KernelBinder => out.extend([groups::sockets(), groups::binder()]),
        Role::Status => {}
    }
    out
}

/// What a device of `kind` needs beyond any device's groups.
fn kind_groups(kind: DeviceKind) -> Vec<Group> {
    match kind {
        DeviceKind::Scmi => vec![],
        DeviceKind::Rpmb => vec![groups::rpmb()],
        DeviceKind::Sound => vec![groups::alsa(), groups::inotify()],
        DeviceKind::Radio => vec![groups::v4l2()],
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

/// `role`'s filter: its groups allowed, everything else trapped.
pub fn compile(role: Role, pid: u32) -> Result<BpfProgram, SandboxError> {
    let filter = SeccompFilter::new(
        rules(&groups(role, pid)),
        SeccompAction::Trap,
        SeccompAction::Allow,
        arch()?,
    )
    .map_err(|e| SandboxError::Seccomp(format!("{role}: {e}")))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SandboxError::Seccomp(format!("{role}: {e}")))
}

/// The filter installed beside every role's: clone3 fails with ENOSYS (its flags are in
/// memory a filter cannot inspect, so it cannot be limited to threads), which makes glibc
/// fall back to clone, whose flags the role filter checks.
pub fn no_clone3() -> Result<BpfProgram, SandboxError> {
    let mut rules = BTreeMap::new();
    rules.insert(libc::SYS_clone3, Vec::new());
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch()?,
    )
    .map_err(|e| SandboxError::Seccomp(format!("clone3: {e}")))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SandboxError::Seccomp(format!("clone3: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_compiles() {
        for role in Role::all() {
            let prog = compile(role, 1).unwrap();
            assert!(!prog.is_empty(), "{role}");
        }
        assert!(!no_clone3().unwrap().is_empty());
    }

    #[test]
    fn no_role_may_create_sockets_exec_or_trace() {
        for role in Role::all() {
            let map = rules(&groups(role, 1));
            for nr in [
                libc::SYS_socket,
                libc::SYS_connect,
                libc::SYS_bind,
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
