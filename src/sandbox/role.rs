//! The thread roles of the service, each with its own seccomp filter.

use crate::kind::DeviceKind;

/// How a device thread meets its guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// A unix socket: vhost-user or `rpmb_dev` (accepts, fd passing, guest memory maps).
    Socket,
    /// A Gunyah virtio-backend label (node ioctls, the shared window).
    Gunyah,
}

/// What a thread does, which decides the syscalls it may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The main thread once everything is started: waits for SIGTERM/SIGINT, removes the
    /// sockets and exits.
    Main,
    /// A device's serving thread, and every thread the transport crates start for it (the
    /// vhost-user request handler and vring workers, a shared output's mixer).
    Device(DeviceKind, Link),
    /// A Gunyah node's supervisor: reopens the node after its VM exits and restarts the
    /// label threads, which inherit its filter (so it allows what they need).
    GunyahNode,
    /// A Gunyah label's event thread: waits for the node's events.
    GunyahEvents,
    /// A sound jack watcher (ALSA control or a simulated jack file).
    JackWatch,
    /// A V4L2 tuner's blocking worker.
    TunerWorker,
    /// The control plane: the RPC accept loop, its connection threads and the event
    /// dispatcher.
    Control,
    /// Kernel binder: registration with servicemanager and the binder thread pool.
    KernelBinder,
    /// The status detail watcher.
    Status,
}

impl Role {
    /// Every role of the built-in kinds, as docs/sandbox.md lists them.
    pub fn builtin() -> Vec<Role> {
        Self::with_kinds(DeviceKind::ALL.into_iter())
    }

    /// Every role, kinds the registry adds included: what the filter table is built for.
    pub fn all() -> Vec<Role> {
        Self::with_kinds(DeviceKind::known())
    }

    fn with_kinds(kinds: impl Iterator<Item = DeviceKind>) -> Vec<Role> {
        let mut out = vec![Role::Main];
        for kind in kinds {
            out.push(Role::Device(kind, Link::Socket));
            out.push(Role::Device(kind, Link::Gunyah));
        }
        out.extend([
            Role::GunyahNode,
            Role::GunyahEvents,
            Role::JackWatch,
            Role::TunerWorker,
            Role::Control,
            Role::KernelBinder,
            Role::Status,
        ]);
        out
    }

    /// A short name for logs (static: the SIGSYS handler prints it); a device role's kind
    /// is [`Role::kind_name`].
    pub fn name(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Device(_, Link::Socket) => "device",
            Role::Device(_, Link::Gunyah) => "gunyah-device",
            Role::GunyahNode => "gunyah-node",
            Role::GunyahEvents => "gunyah-events",
            Role::JackWatch => "jack-watch",
            Role::TunerWorker => "tuner-worker",
            Role::Control => "control",
            Role::KernelBinder => "kernel-binder",
            Role::Status => "status",
        }
    }

    /// The device kind of a device role, empty for the others.
    pub fn kind_name(self) -> &'static str {
        match self {
            Role::Device(kind, _) => kind.name(),
            _ => "",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Device(kind, _) => write!(f, "{}/{}", self.name(), kind.name()),
            _ => f.write_str(self.name()),
        }
    }
}
