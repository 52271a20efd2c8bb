//! Who may use the vsock control port: an allowlist of peer CIDs from the config.

/// What to do with a vsock peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VsockDecision {
    /// The peer's CID is on the allowlist.
    Accept,
    /// The peer's CID is not on the allowlist.
    RefuseCid(u32),
    /// The transport reported no CID (never expected on vsock): refused, not trusted.
    RefuseUnknown,
}

/// Decides on a peer that connected to the vsock port; `cid` is `None` when the transport
/// could not say who it is.
///
/// The CID is the address the hypervisor gives the peer VM, so this is VM isolation, not
/// authentication of a process inside that VM.
pub fn vsock_peer_allowed(allowed: &[u32], cid: Option<u32>) -> VsockDecision {
    match cid {
        Some(c) if allowed.contains(&c) => VsockDecision::Accept,
        Some(c) => VsockDecision::RefuseCid(c),
        None => VsockDecision::RefuseUnknown,
    }
}
