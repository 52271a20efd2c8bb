//! What both sandboxes (Cargo's and Soong's) share around their plans: the start-up gate
//! every thread waits at until `lock_down` has a plan for it, the mapping from the
//! lower layers' thread roles, and the check for a thread that already has a filter.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::role::Role;
use crate::thread_role::ThreadRole;

enum State<P> {
    /// No sandbox in this process: [`StartGate::wait`] returns at once.
    Off,
    /// The daemon is starting: [`StartGate::wait`] waits.
    Pending,
    /// Start-up is done: waiting threads get the plan.
    Open(Arc<P>),
    /// Start-up failed: waiting threads park until the process exits.
    Failed,
}

/// Holds the threads the service starts until the sandbox's plan `P` exists.
pub struct StartGate<P> {
    state: Mutex<State<P>>,
    opened: Condvar,
}

impl<P> StartGate<P> {
    /// A gate with no sandbox behind it (a process that never announced one).
    pub const fn new() -> Self {
        Self {
            state: Mutex::new(State::Off),
            opened: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<P>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on threads wait for [`open`](Self::open).
    pub fn pending(&self) {
        *self.lock() = State::Pending;
    }

    /// Lets every waiting and later thread through with `plan`.
    pub fn open(&self, plan: P) {
        *self.lock() = State::Open(Arc::new(plan));
        self.opened.notify_all();
    }

    /// Start-up failed: waiting threads stay parked until the process exits.
    pub fn fail(&self) {
        *self.lock() = State::Failed;
    }

    /// The plan, once there is one; `None` in a process without a sandbox.
    pub fn wait(&self) -> Option<Arc<P>> {
        let mut g = self.lock();
        loop {
            match &*g {
                State::Off => return None,
                State::Open(plan) => return Some(plan.clone()),
                State::Pending | State::Failed => {
                    g = self.opened.wait(g).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }
}

/// The sandbox role of a thread started by a lower layer that names it by `ThreadRole`.
pub fn role_of(role: ThreadRole) -> Role {
    match role {
        ThreadRole::JackWatch => Role::JackWatch,
        ThreadRole::TunerWorker => Role::TunerWorker,
        ThreadRole::Status => Role::Status,
        ThreadRole::Control => Role::Control,
    }
}

/// Whether the calling thread already runs under a seccomp filter.
pub fn already_filtered() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointer; every filter allows it.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) == 2 }
}
