//! Compiles every role's filters for an Android architecture into the policy file the Soong
//! build loads ([`super::policy_file`]). The role tables are the ones the Cargo build
//! compiles at start-up ([`super::filters::specs`]); seccompiler compiles them through its
//! JSON front end, which resolves syscall names with its own table for the target
//! architecture, so a file for arm64 can be made on an x86-64 host. For this host's
//! architecture the result is byte for byte what [`super::filters::compile`] installs (a
//! test checks it), which `tests/sandbox_threads.rs` proves on the real daemon.

use serde_json::{json, Map, Value};

use super::filters::{self, Action, Spec};
use super::groups::{self, Arch, Check};
use super::policy_file::{Insn, Policy, Program, PID_SLOT};
use super::role::Role;
use super::SandboxError;

/// The AUDIT_ARCH value of `arch` (what the filters check first).
pub fn audit_arch(arch: Arch) -> u32 {
    match arch {
        Arch::X86_64 => 0xc000_003e,
        Arch::Aarch64 => 0xc000_00b7,
        Arch::Riscv64 => 0xc000_00f3,
    }
}

fn action(a: Action) -> Value {
    match a {
        Action::Allow => json!("allow"),
        Action::Trap => json!("trap"),
        Action::Errno(e) => json!({ "errno": e }),
    }
}

/// `spec` in seccompiler's JSON filter format; syscalls by name, rules in table order.
fn to_json(spec: &Spec) -> Value {
    let mut rules = Vec::new();
    for (name, alternatives) in &spec.rules {
        if alternatives.is_empty() {
            rules.push(json!({ "syscall": name }));
        }
        for conds in alternatives {
            let args: Vec<Value> = conds
                .iter()
                .map(|c| {
                    let (op, val) = match c.check {
                        Check::Eq(v) => (json!("eq"), v),
                        Check::MaskedEq { mask, value } => (json!({ "masked_eq": mask }), value),
                    };
                    json!({ "index": c.arg, "type": "dword", "op": op, "val": val })
                })
                .collect();
            rules.push(json!({ "syscall": name, "args": args }));
        }
    }
    json!({
        "mismatch_action": action(spec.otherwise),
        "match_action": action(spec.on_match),
        "filter": rules,
    })
}

/// `role`'s filters for `arch`, compiled with `pid` in the tgkill rule, in installation
/// order.
pub fn compile_for(role: Role, pid: u32, arch: Arch) -> Result<Vec<Program>, SandboxError> {
    if Some(arch) != Arch::host() && !groups::generic_values_hold() {
        return Err(SandboxError::Seccomp(format!(
            "this host's ioctl, flag or signal numbers are not the generic ones: compile \
             {} filters on an x86-64, arm64 or riscv64 host",
            arch.rust_name()
        )));
    }
    let target = seccompiler::TargetArch::try_from(arch.rust_name())
        .map_err(|e| SandboxError::Seccomp(e.to_string()))?;
    let specs = filters::specs(role, pid, arch);
    let doc: Map<String, Value> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (i.to_string(), to_json(s)))
        .collect();
    let mut compiled =
        seccompiler::compile_from_json(Value::Object(doc).to_string().as_bytes(), target)
            .map_err(|e| SandboxError::Seccomp(format!("{role} for {}: {e}", arch.rust_name())))?;
    (0..specs.len())
        .map(|i| {
            let program = compiled.remove(&i.to_string()).ok_or_else(|| {
                SandboxError::Seccomp(format!("{role}: seccompiler returned no filter {i}"))
            })?;
            Ok(program
                .iter()
                .map(|f| Insn {
                    code: f.code,
                    jt: f.jt,
                    jf: f.jf,
                    k: f.k,
                })
                .collect())
        })
        .collect()
}

/// Checks that `with_slot` and `with_other` (the same filters compiled with [`PID_SLOT`]
/// and with `other` as the pid) differ exactly where the slot is, so every [`PID_SLOT`] in
/// the file is the pid and nothing else.
fn slots_are_the_pid(
    role: Role,
    with_slot: &[Program],
    with_other: &[Program],
    other: u32,
) -> Result<(), SandboxError> {
    let err = |why: &str| SandboxError::Seccomp(format!("{role}: {why}"));
    if with_slot.len() != with_other.len() {
        return Err(err("the pid changed the number of programs"));
    }
    let mut slots = 0;
    for (a, b) in with_slot.iter().zip(with_other) {
        if a.len() != b.len() {
            return Err(err("the pid changed a program's length"));
        }
        for (x, y) in a.iter().zip(b) {
            if x.k == PID_SLOT {
                if y.k != other || x.code != y.code || x.code != 0x15 {
                    return Err(err("the pid slot's value is also a constant of the filter"));
                }
                slots += 1;
            } else if x != y {
                return Err(err(
                    "the pid changed an instruction that does not compare it",
                ));
            }
        }
    }
    if slots == 0 {
        return Err(err("no instruction compares the pid"));
    }
    Ok(())
}

/// The policy file for `arch`: every built-in role's filters.
pub fn generate(arch: Arch) -> Result<Vec<u8>, SandboxError> {
    let other = PID_SLOT + 1;
    let mut policy = Policy::new(audit_arch(arch));
    for role in Role::builtin() {
        let programs = compile_for(role, PID_SLOT, arch)?;
        slots_are_the_pid(role, &programs, &compile_for(role, other, arch)?, other)?;
        policy.push(role.to_string(), programs);
    }
    policy.encode().map_err(SandboxError::Seccomp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insns(programs: Vec<seccompiler::BpfProgram>) -> Vec<Program> {
        programs
            .into_iter()
            .map(|p| {
                p.iter()
                    .map(|f| Insn {
                        code: f.code,
                        jt: f.jt,
                        jf: f.jf,
                        k: f.k,
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_file_for_this_host_is_what_the_cargo_build_installs() {
        let arch = Arch::host().unwrap();
        let pid = 4321;
        let policy = Policy::parse(&generate(arch).unwrap()).unwrap();
        assert_eq!(policy.audit_arch, audit_arch(arch));
        for role in Role::builtin() {
            let direct = insns(filters::compile(role, pid).unwrap());
            assert_eq!(
                policy.for_process(&role.to_string(), pid).unwrap(),
                direct,
                "{role}"
            );
        }
    }

    #[test]
    fn every_architecture_compiles_and_checks_its_own_arch() {
        for arch in Arch::ALL {
            let policy = Policy::parse(&generate(arch).unwrap()).unwrap();
            assert_eq!(policy.names().count(), Role::builtin().len());
            for name in policy.names() {
                for p in policy.programs(name).unwrap() {
                    // seccompiler's first instructions load the arch and compare it.
                    assert!(p.iter().take(3).any(|i| i.k == audit_arch(arch)), "{name}");
                }
            }
        }
    }

    #[test]
    fn legacy_calls_exist_only_on_x86_64() {
        let open = |arch| {
            filters::specs(Role::Status, 1, arch)
                .iter()
                .any(|s| s.rules.iter().any(|(n, _)| *n == "open"))
        };
        assert!(open(Arch::X86_64));
        assert!(!open(Arch::Aarch64));
        assert!(!open(Arch::Riscv64));
    }
}
