//! The shared window as guest memory: mapped at the frontend's guest-physical base, so that
//! ring and buffer addresses the frontend writes translate by construction and anything
//! outside the window is not memory at all (every access is bounds-checked by vm-memory).

use vm_memory::{FileOffset, GuestAddress, GuestMemoryMmap};

use super::io::SharedWindow;

/// Why the window could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The node reports an empty window.
    #[error("the shared window is empty")]
    Empty,
    /// The window does not fit the address space at the configured base.
    #[error("a {size:#x}-byte window does not fit at base {base:#x}")]
    DoesNotFit {
        /// Configured base.
        base: u64,
        /// Window size.
        size: u64,
    },
    /// mmap failed.
    #[error("cannot map the shared window: {0}")]
    Map(String),
}

/// Maps `window` as one region of guest memory starting at guest-physical `base`.
pub fn map_window(window: SharedWindow, base: u64) -> Result<GuestMemoryMmap, WindowError> {
    let size = window.size;
    if size == 0 {
        return Err(WindowError::Empty);
    }
    let len = usize::try_from(size).map_err(|_| WindowError::DoesNotFit { base, size })?;
    if base.checked_add(size).is_none() {
        return Err(WindowError::DoesNotFit { base, size });
    }
    GuestMemoryMmap::from_ranges_with_files([(
        GuestAddress(base),
        len,
        Some(FileOffset::new(window.file, 0)),
    )])
    .map_err(|e| WindowError::Map(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_memory::{Bytes, GuestMemory};

    fn memfd(size: u64) -> std::fs::File {
        let f = tempfile::tempfile().expect("tempfile");
        f.set_len(size).expect("set_len");
        f
    }

    #[test]
    fn window_sits_at_its_base_and_nothing_outside_is_memory() {
        let mem = map_window(
            SharedWindow {
                file: memfd(0x4000),
                size: 0x4000,
            },
            0x8000_0000,
        )
        .expect("map");
        mem.write_obj(0xabcdu16, GuestAddress(0x8000_3ffe))
            .expect("last bytes");
        assert!(mem.write_obj(0u16, GuestAddress(0x8000_3fff)).is_err());
        assert!(mem.read_obj::<u8>(GuestAddress(0x7fff_ffff)).is_err());
        assert!(mem.read_obj::<u8>(GuestAddress(0)).is_err());
        assert!(!mem.check_range(
            GuestAddress(0x8000_0000),
            0x4001,
            vm_memory::Permissions::Read
        ));
    }

    #[test]
    fn bad_windows_are_refused() {
        let e = map_window(
            SharedWindow {
                file: memfd(0),
                size: 0,
            },
            0,
        )
        .unwrap_err();
        assert!(matches!(e, WindowError::Empty));
        let e = map_window(
            SharedWindow {
                file: memfd(0x1000),
                size: 0x1000,
            },
            u64::MAX - 0x10,
        )
        .unwrap_err();
        assert!(matches!(e, WindowError::DoesNotFit { .. }));
    }
}
