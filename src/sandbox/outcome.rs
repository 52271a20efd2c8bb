//! What setting up the sandbox can end in, shared by the Linux and the Android variant.

/// Why the sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A `[service]` key names something unusable.
    #[error("{key}: {why}")]
    Config {
        /// The config key.
        key: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// Changing user, groups or capabilities failed.
    #[error("dropping privileges: {0}")]
    Privileges(String),
    /// Building or enforcing the landlock ruleset failed.
    #[error("landlock: {0}")]
    Landlock(String),
    /// Building or installing a seccomp filter failed.
    #[error("seccomp: {0}")]
    Seccomp(String),
}

/// What `lock_down` did, for the start-up log.
#[derive(Debug)]
pub struct Report {
    /// Whether landlock is enforced on this kernel.
    pub landlock: bool,
    /// Whether seccomp filters are installed (`service.sandbox`).
    pub seccomp: bool,
    /// Why landlock is off, when it is (for the start-up warning).
    pub landlock_off: &'static str,
    /// Why seccomp is off, when it is (for the start-up warning).
    pub seccomp_off: &'static str,
    /// How long building and applying everything took (the start-up cost).
    pub took: std::time::Duration,
}
