//! How the config names an inherited Gunyah VM fd (the 0xB2 secure-VM-loader variant): as
//! the node `/proc/self/fd/<n>`, so logs and the per-node rules treat it like a device node.

use std::os::fd::RawFd;
use std::path::Path;

/// Where the config names a VM fd: `/proc/self/fd/<n>`, the node name used in logs and
/// for the per-node rules.
pub const VM_FD_DIR: &str = "/proc/self/fd";

/// The node name of VM fd `n`.
pub fn vm_fd_node(n: u32) -> String {
    format!("{VM_FD_DIR}/{n}")
}

/// The descriptor number of a node named by [`vm_fd_node`], if it is one.
pub fn vm_fd_of(node: &Path) -> Option<RawFd> {
    let rest = node.strip_prefix(VM_FD_DIR).ok()?.to_str()?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_round_trip_and_other_paths_are_not_vm_fds() {
        assert_eq!(vm_fd_node(3), "/proc/self/fd/3");
        assert_eq!(vm_fd_of(Path::new("/proc/self/fd/3")), Some(3));
        assert_eq!(vm_fd_of(Path::new("/proc/self/fd/")), None);
        assert_eq!(vm_fd_of(Path::new("/proc/self/fd/3x")), None);
        assert_eq!(vm_fd_of(Path::new("/dev/gh_virtio_backend_ivi")), None);
    }
}
