//! Each role's seccomp filters: the union of its syscall groups, allowed, and everything else
//! trapped (SIGSYS: the handler in [`super::sigsys`] names the call and ends the process),
//! beside refusal filters that answer a few calls with an error. [`specs`] says what the
//! filters are for any architecture; [`compile`] compiles them with seccompiler for the one
//! this binary runs on, and `super::policy_gen` for each Android architecture.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::groups::{self, Arch, ArgCheck, Check, Cond, Group};
use super::names;
use super::role::{Link, Role};
use super::SandboxError;
use crate::kind::DeviceKind;

/// What a filter returns for a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let it run.
    Allow,
    /// SIGSYS to the thread.
    Trap,
    /// Fail it with this errno.
    Errno(u32),
}

impl From<Action> for SeccompAction {
    fn from(a: Action) -> SeccompAction {
        match a {
            Action::Allow => SeccompAction::Allow,
            Action::Trap => SeccompAction::Trap,
            Action::Errno(e) => SeccompAction::Errno(e),
        }
    }
}

/// One filter before compiling: the syscalls it matches by name, each with its rules (any
/// one of which, a conjunction of checks, must hold; none means always), in the order the
/// groups list them, what a match returns and what everything else returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// What it is, for errors.
    pub what: String,
    /// The matched syscalls and their rules.
    pub rules: Vec<(&'static str, Vec<Vec<ArgCheck>>)>,
    /// What a matched syscall gets.
    pub on_match: Action,
    /// What any other syscall gets.
    pub otherwise: Action,
}

/// The groups making up `role`'s filter on this architecture; `pid` is this process (for
/// the tgkill rule).
pub fn groups(role: Role, pid: u32) -> Vec<Group> {
    groups_for(role, pid, Arch::host().unwrap_or(Arch::Aarch64))
}

/// The groups making up `role`'s filter on `arch`.
pub fn groups_for(role: Role, pid: u32, arch: Arch) -> Vec<Group> {
    let mut out = vec![groups::runtime(pid), groups::fd_io(arch)];
    match role {
        Role::Main => out.push(groups::shutdown(arch)),
        Role::Device(kind, link) => {
            out.push(groups::files(arch));
            match link {
                Link::Socket => out.extend([groups::sockets(), groups::handoff(arch)]),
                Link::Gunyah => out.push(groups::gunyah()),
            }
            out.extend(kind_groups(kind));
        }
        Role::GunyahNode => {
            // The label threads it restarts inherit this filter and stack their own on it,
            // so it must allow what any of them needs.
            out.extend([groups::files(arch), groups::gunyah(), groups::reopen()]);
            for kind in DeviceKind::known() {
                out.extend(kind_groups(kind));
            }
        }
        Role::GunyahEvents => out.push(groups::gunyah()),
        Role::JackWatch => out.extend([groups::files(arch), groups::inotify(), groups::alsa_ctl()]),
        Role::TunerWorker => out.push(groups::v4l2()),
        Role::Control => out.extend([groups::sockets(), groups::binder_calls()]),
        Role::KernelBinder => out.extend([groups::sockets(), groups::binder(arch)]),
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

/// The syscalls of `groups` with their rules: a call one group allows unconditionally is
/// allowed unconditionally (no rules); conditional rules from several groups add up.
fn merged(groups: &[Group]) -> Vec<(&'static str, Vec<Vec<ArgCheck>>)> {
    let mut out: Vec<(&'static str, Option<Vec<Vec<ArgCheck>>>)> = Vec::new();
    for call in groups.iter().flat_map(|g| g.calls.iter()) {
        let slot = match out.iter().position(|(n, _)| *n == call.name) {
            Some(i) => &mut out[i].1,
            None => {
                // A conditional call starts with no rule (nothing matches) until one is added.
                out.push((call.name, Some(Vec::new())));
                let last = out.len() - 1;
                &mut out[last].1
            }
        };
        match &call.cond {
            Cond::Any => *slot = None,
            Cond::Rules(rules) => {
                if let Some(have) = slot {
                    have.extend(rules.iter().cloned());
                }
            }
        }
    }
    out.into_iter()
        .filter_map(|(name, rules)| match rules {
            None => Some((name, Vec::new())),
            // A conditional call none of whose groups gave a rule is not allowed at all
            // (an empty list would mean "always").
            Some(r) if r.is_empty() => None,
            Some(r) => Some((name, r)),
        })
        .collect()
}

/// Whether `groups` let the thread open files.
fn opens_files(groups: &[Group]) -> bool {
    groups
        .iter()
        .flat_map(|g| g.calls.iter())
        .any(|c| c.name == "openat")
}

/// `role`'s filters on `arch`, in the order they are installed: the refusals (syscalls
/// answered with an error instead: precedence makes a refusal's ERRNO win over the role
/// filter's ALLOW, and the role filter lists them so its TRAP does not win over the ERRNO),
/// then the role's own, allowing its groups and trapping everything else.
///
/// clone3 gets ENOSYS: its flags are in memory a filter cannot read, so it cannot be
/// limited to threads, and glibc falls back to clone, whose flags the role filter checks.
/// Opens get EACCES in roles that open no file: glibc and std probe files on their own
/// (malloc reads /sys/devices/system/cpu/online when it adds arenas), and a refused probe
/// is not an attack.
pub fn specs(role: Role, pid: u32, arch: Arch) -> Vec<Spec> {
    let mut groups = groups_for(role, pid, arch);
    let refuse = |what: &str, calls: Vec<&'static str>, errno: i32| Spec {
        what: what.to_string(),
        rules: calls.into_iter().map(|c| (c, Vec::new())).collect(),
        on_match: Action::Errno(errno as u32),
        otherwise: Action::Allow,
    };
    let mut out = vec![refuse("clone3", vec!["clone3"], libc::ENOSYS)];
    if !opens_files(&groups) {
        groups.push(groups::file_probes(arch));
        out.push(refuse("open", groups::open_calls(arch), libc::EACCES));
    }
    out.push(Spec {
        what: role.to_string(),
        rules: merged(&groups),
        on_match: Action::Allow,
        otherwise: Action::Trap,
    });
    out
}

/// `check` as seccompiler's condition on the argument's low 32 bits.
pub fn condition(check: &ArgCheck) -> Result<SeccompCondition, SandboxError> {
    let (op, value) = match check.check {
        Check::Eq(v) => (SeccompCmpOp::Eq, v),
        Check::MaskedEq { mask, value } => (SeccompCmpOp::MaskedEq(mask), value),
    };
    SeccompCondition::new(check.arg, SeccompCmpArgLen::Dword, op, value)
        .map_err(|e| SandboxError::Seccomp(format!("argument {}: {e}", check.arg)))
}

/// `spec` compiled for the architecture this binary runs on.
fn compile_spec(spec: &Spec, arch: TargetArch) -> Result<BpfProgram, SandboxError> {
    let err = |e: &dyn std::fmt::Display| SandboxError::Seccomp(format!("{}: {e}", spec.what));
    let mut map = std::collections::BTreeMap::new();
    for (name, rules) in &spec.rules {
        let nr = names::number(name).ok_or_else(|| err(&format!("no syscall {name} here")))?;
        let mut out = Vec::new();
        for conds in rules {
            let conds = conds.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
            out.push(SeccompRule::new(conds).map_err(|e| err(&e))?);
        }
        map.insert(nr, out);
    }
    let filter = SeccompFilter::new(map, spec.otherwise.into(), spec.on_match.into(), arch)
        .map_err(|e| err(&e))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| err(&e))
}

/// `role`'s filters compiled for this architecture, all installed on its threads.
pub fn compile(role: Role, pid: u32) -> Result<Vec<BpfProgram>, SandboxError> {
    let no_filters = || SandboxError::Seccomp(format!("no filters for {}", std::env::consts::ARCH));
    let arch = Arch::host().ok_or_else(no_filters)?;
    let target = TargetArch::try_from(arch.rust_name()).map_err(|_| no_filters())?;
    specs(role, pid, arch)
        .iter()
        .map(|s| compile_spec(s, target))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(role: Role) -> Vec<(&'static str, Vec<Vec<ArgCheck>>)> {
        merged(&groups(role, 1))
    }

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
    fn every_syscall_is_named_on_this_host() {
        let arch = Arch::host().unwrap();
        for role in Role::all() {
            for spec in specs(role, 1, arch) {
                for (name, _) in &spec.rules {
                    assert!(names::number(name).is_some(), "{role}: {name}");
                }
            }
        }
    }

    #[test]
    fn no_role_may_create_sockets_exec_or_trace() {
        for role in Role::all() {
            let map = rules_of(role);
            let get = |n: &str| map.iter().find(|(name, _)| *name == n).map(|(_, r)| r);
            if !matches!(role, Role::Device(_, Link::Socket)) {
                // Only the peer-allowlist handoff creates (unix) sockets.
                for n in ["socket", "connect", "bind"] {
                    assert!(get(n).is_none(), "{role} allows {n}");
                }
            } else {
                assert!(!get("socket").unwrap().is_empty(), "socket unconditional");
            }
            for n in [
                "execve",
                "ptrace",
                "setuid",
                "setresuid",
                "mount",
                "unshare",
                "seccomp",
                "rt_sigaction",
            ] {
                assert!(get(n).is_none(), "{role} allows {n}");
            }
        }
    }

    #[test]
    fn ioctl_rules_add_up_across_groups() {
        let map = rules_of(Role::Device(DeviceKind::Sound, Link::Socket));
        let ioctl = &map.iter().find(|(n, _)| *n == "ioctl").unwrap().1;
        // std's three, the socket queue sizes, ALSA PCM and control.
        assert_eq!(ioctl.len(), 3 + 2 + 12 + 8);
    }

    #[test]
    fn an_unconditional_call_wins_over_rules() {
        // `openat` is unconditional in `files` and also listed by `reopen`.
        let map = rules_of(Role::GunyahNode);
        assert!(map.iter().any(|(n, r)| *n == "openat" && r.is_empty()));
        assert_eq!(map.iter().filter(|(n, _)| *n == "openat").count(), 1);
    }
}
