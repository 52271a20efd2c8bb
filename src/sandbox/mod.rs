//! The daemon's sandbox: no privileges after start-up, landlock-limited filesystem, and a
//! seccomp filter per thread role. docs/sandbox.md has the design and each role's syscalls.
//!
//! Order (the daemon's `main`):
//! 1. [`announce`] before any thread exists: sets `no_new_privs` (inherited by every
//!    thread), installs the SIGSYS handler, and makes [`enter`] wait.
//! 2. Start-up opens every device node and binds every socket. Each thread the service
//!    starts calls [`enter`] with its role first and blocks there.
//! 3. [`lock_down`]: compiles the filters, builds the landlock ruleset, drops to
//!    `service.user`/`service.group` (started as root without them: [`DEFAULT_UID`]; glibc
//!    applies set*id to every thread, blocked or not, which is why no thread may have a
//!    filter yet) and empties the capability sets, restricts the main thread, then opens
//!    the gate.
//! 4. Each waiting thread clears its own capabilities, restricts itself with landlock and
//!    installs its role's filter before touching a guest byte; threads it starts later (the
//!    vhost-user crate's, rsbinder's) inherit all of it.
//!
//! A process that never calls [`announce`] (the library in tests, the load tools) is not
//! sandboxed: [`enter`] returns at once.

mod filters;
mod fs_limit;
mod gate;
mod groups;
mod identity;
mod ioctls;
mod names;
mod outcome;
pub mod policy_file;
pub mod policy_gen;
mod role;
mod sigsys;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use seccompiler::BpfProgram;

pub use filters::groups as role_groups;
pub use groups::Arch;
pub use identity::{Identity, DEFAULT_GID, DEFAULT_UID};
pub use outcome::{Report, SandboxError};
pub use role::{Link, Role};

use crate::config::Config;
use gate::StartGate;

/// What every thread applies to itself once the gate opens.
struct Plan {
    /// Each role's filters, compiled by the first thread of that role (off the main
    /// thread's path to ready, and only for roles this config has); `None` when
    /// `service.sandbox = false`.
    filters: Option<Mutex<HashMap<Role, Arc<Vec<BpfProgram>>>>>,
    /// This process, for the tgkill rule.
    pid: u32,
    landlock: landlock::RulesetCreated,
}

/// Opened by [`lock_down`] once privileges are dropped; [`enter`] waits for it.
static GATE: StartGate<Plan> = StartGate::new();

/// Starts the sandbox's start-up phase; call first thing in `main`, before any thread.
pub fn announce() -> Result<(), SandboxError> {
    identity::no_new_privs()?;
    sigsys::install_handler()
        .map_err(|e| SandboxError::Seccomp(format!("cannot install the SIGSYS handler: {e}")))?;
    GATE.pending();
    crate::thread_role::set_hook(|role| enter(gate::role_of(role)));
    Ok(())
}

/// Drops the process to `id`, restricts the calling (main) thread's filesystem and
/// releases every thread waiting in [`enter`]. The main thread installs its own filter
/// later, with [`enter`]`(Role::Main)`, once it has started what it starts.
pub fn lock_down(
    cfg: &Config,
    runtime_dir: &Path,
    state_dir: &Path,
    id: &Identity,
) -> Result<Report, SandboxError> {
    let start = Instant::now();
    let result = plan(cfg, runtime_dir, state_dir, id).and_then(|plan| {
        identity::drop_to(id)?;
        let landlock = fs_limit::restrict_thread(&plan.landlock)?;
        Ok((plan, landlock))
    });
    match result {
        Ok((plan, landlock)) => {
            if id.default_user {
                log::info!(
                    "sandbox: started as root without service.user: running as the default \
                     user, uid {} gid {} (docs/sandbox.md, \"Privileges\")",
                    id.uid,
                    id.gid
                );
            }
            let seccomp = plan.filters.is_some();
            GATE.open(plan);
            Ok(Report {
                landlock,
                seccomp,
                landlock_off: "this kernel has no landlock: the filesystem is not limited to \
                               the runtime dir, the state dir and the configured device nodes",
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

fn plan(
    cfg: &Config,
    runtime_dir: &Path,
    state_dir: &Path,
    _id: &Identity,
) -> Result<Plan, SandboxError> {
    let pid = std::process::id();
    let filters = cfg.service.sandbox().then(|| Mutex::new(HashMap::new()));
    let paths = fs_limit::allowed_paths(cfg, runtime_dir, state_dir);
    Ok(Plan {
        filters,
        pid,
        landlock: fs_limit::ruleset(&paths)?,
    })
}

/// Puts the calling thread in `role`'s sandbox: waits until the daemon has dropped its
/// privileges, then clears this thread's capabilities, restricts its filesystem and
/// installs its filter. Call first thing in every thread the service starts. Does nothing
/// in a process without a sandbox; a thread that cannot be sandboxed ends the process.
pub fn enter(role: Role) {
    let Some(plan) = GATE.wait() else {
        return;
    };
    if plan.filters.is_some() && gate::already_filtered() {
        // Started by a sandboxed thread (a Gunyah label restarted by its supervisor): it
        // already has its parent's filter, which allows what it needs, and no way to change
        // its privileges or filesystem view.
        sigsys::set_role(role.name(), role.kind_name());
        return;
    }
    if let Err(e) = apply(&plan, role) {
        log::error!("sandbox: cannot sandbox a {role} thread: {e}; exiting");
        std::process::exit(1);
    }
    #[cfg(feature = "harness")]
    test_hook::forbidden_syscall(role);
}

/// `role`'s filters, compiled on first use.
fn role_filters(
    cache: &Mutex<HashMap<Role, Arc<Vec<BpfProgram>>>>,
    role: Role,
    pid: u32,
) -> Result<Arc<Vec<BpfProgram>>, SandboxError> {
    let lock = || match cache.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(p) = lock().get(&role) {
        return Ok(p.clone());
    }
    // Compiled outside the lock: threads of different roles compile in parallel (two of
    // one role may both compile; the programs are the same).
    let programs = Arc::new(filters::compile(role, pid)?);
    lock().insert(role, programs.clone());
    Ok(programs)
}

fn apply(plan: &Plan, role: Role) -> Result<(), SandboxError> {
    sigsys::set_role(role.name(), role.kind_name());
    identity::clear_thread_caps()?;
    fs_limit::restrict_thread(&plan.landlock)?;
    let Some(filters) = &plan.filters else {
        return Ok(());
    };
    let programs = role_filters(filters, role, plan.pid)?;
    for program in programs.iter() {
        seccompiler::apply_filter(program)
            .map_err(|e| SandboxError::Seccomp(format!("{role}: {e}")))?;
    }
    Ok(())
}

/// What `benches/sandbox_startup.rs` measures: the parts of [`lock_down`] and [`enter`]
/// that can run more than once in a process (dropping privileges cannot).
#[cfg(feature = "harness")]
pub mod bench {
    use super::*;

    /// A plan: the landlock ruleset and an empty filter cache.
    pub struct BenchPlan(Plan);

    /// Builds what [`lock_down`] builds before it drops privileges.
    pub fn plan(cfg: &Config, runtime_dir: &Path, state_dir: &Path) -> BenchPlan {
        let id = Identity {
            uid: nix::unistd::geteuid(),
            gid: nix::unistd::getegid(),
            groups: Vec::new(),
            switch: false,
            default_user: false,
        };
        match super::plan(cfg, runtime_dir, state_dir, &id) {
            Ok(p) => BenchPlan(p),
            Err(e) => panic!("sandbox plan: {e}"),
        }
    }

    /// Compiles `role`'s filters, as the first thread of a role does.
    pub fn compile(role: Role) -> usize {
        match filters::compile(role, std::process::id()) {
            Ok(p) => p.len(),
            Err(e) => panic!("sandbox compile: {e}"),
        }
    }

    /// What a thread does in [`enter`] once the gate is open (the calling thread stays
    /// sandboxed: call it on a thread made for it). Sets no_new_privs first, as
    /// [`announce`] does for the daemon.
    pub fn apply(plan: &BenchPlan, role: Role) {
        if let Err(e) = identity::no_new_privs().and_then(|()| super::apply(&plan.0, role)) {
            panic!("sandbox apply: {e}");
        }
    }
}

/// The test-only hook: with `DRIVERVM_HARNESS_FORBIDDEN_SYSCALL=<kind>` a device thread of
/// that kind makes a syscall no role allows (creating an IPv4 socket) right after its
/// filter is installed. Built only with the `harness` feature, which the production daemon
/// does not have (Cargo.toml: tests get it through the self dev-dependency).
#[cfg(feature = "harness")]
mod test_hook {
    use super::Role;

    /// The variable naming the device kind whose thread misbehaves.
    pub const VAR: &str = "DRIVERVM_HARNESS_FORBIDDEN_SYSCALL";

    pub fn forbidden_syscall(role: Role) {
        let Role::Device(kind, _) = role else { return };
        if std::env::var(VAR).ok().as_deref() != Some(kind.name()) {
            return;
        }
        log::warn!("sandbox: test hook: a {role} thread creates an IPv4 socket");
        // SAFETY: socket(2) with integer arguments; the descriptor, if any, is closed.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        if fd >= 0 {
            // SAFETY: `fd` was just returned by socket(2) and is owned here.
            unsafe { libc::close(fd) };
            log::error!("sandbox: test hook: the forbidden socket(2) was allowed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../docs/sandbox.md");

    /// The text of `### \`name\`` up to the next heading.
    fn section(name: &str) -> &'static str {
        let head = format!("### `{name}`");
        let Some(start) = DOC.find(&head) else {
            panic!("docs/sandbox.md has no section {head}");
        };
        let body = &DOC[start + head.len()..];
        let end = body.find("\n#").unwrap_or(body.len());
        &body[..end]
    }

    #[test]
    fn docs_list_every_role_and_group() {
        for role in Role::builtin() {
            let row = DOC
                .lines()
                .find(|l| l.starts_with(&format!("| `{role}` |")))
                .unwrap_or_else(|| panic!("docs/sandbox.md has no row for {role}"));
            let groups = role_groups(role, 1);
            for g in &groups {
                assert!(row.contains(&format!("`{}`", g.name)), "{role}: {}", g.name);
                let text = section(g.name);
                for call in &g.calls {
                    assert!(
                        text.contains(&format!("`{}`", call.name)),
                        "group {} lacks {} in docs/sandbox.md",
                        g.name,
                        call.name
                    );
                }
            }
            // Every group named in the row is one the filter has (or the refusals).
            let listed = row.matches('`').count() / 2 - 1;
            let extra = usize::from(row.contains("`file-probes`"));
            assert_eq!(listed, groups.len() + extra, "{row}");
        }
    }
}
