//! Argument errors the wrappers detect before making a system call.

use std::io;

/// A wrapper argument the kernel would reject (or misread), caught before the call.
///
/// Wrappers return these inside an [`io::Error`] of kind `InvalidInput` or `Unsupported`;
/// `io::Error::get_ref()` + `downcast_ref::<ArgError>()` recovers the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// Device labels are nonzero: the drivers reject label 0 and no device is probed with it.
    #[error("virtio backend device label must be nonzero")]
    ZeroLabel,
    /// A config-data buffer must hold at least one byte.
    #[error("config data buffer is empty")]
    EmptyConfig,
    /// A config-data buffer longer than the 32-bit size field.
    #[error("config data of {0} bytes does not fit the 32-bit size field")]
    ConfigTooLarge(usize),
    /// A firmware / VM name that does not fit the fixed-size, NUL-terminated field.
    #[error("VM firmware name of {len} bytes does not fit {max} bytes with its NUL terminator")]
    NameTooLong {
        /// Length of the name given.
        len: usize,
        /// Capacity of the field including the terminator.
        max: usize,
    },
    /// A firmware / VM name containing an interior NUL byte.
    #[error("VM firmware name contains a NUL byte")]
    NameHasNul,
    /// The request exists in one numbering of the backend API but not in the one in use.
    #[error("{0} is not defined in this numbering of the virtio backend API")]
    NotInNumbering(&'static str),
    /// A field the named uAPI revision does not have (or not for this exit).
    #[error("{0} is not defined for this exit in this revision of the uAPI")]
    NotInRevision(&'static str),
    /// An ioeventfd access length Gunyah does not accept (1, 2, 4, 8, or 0 for any).
    #[error("ioeventfd access length {0} is not 0, 1, 2, 4 or 8")]
    BadAccessLength(u32),
    /// The kernel returned a value that does not fit the type the wrapper promises.
    #[error("kernel returned an out-of-range value {0}")]
    BadReturn(i64),
}

impl From<ArgError> for io::Error {
    fn from(e: ArgError) -> Self {
        let kind = match e {
            ArgError::NotInNumbering(_) => io::ErrorKind::Unsupported,
            ArgError::BadReturn(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_io_kinds_and_round_trips() {
        let e: io::Error = ArgError::NotInNumbering("GH_SET_APP_READY").into();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        let inner = e.get_ref().and_then(|r| r.downcast_ref::<ArgError>());
        assert_eq!(inner, Some(&ArgError::NotInNumbering("GH_SET_APP_READY")));

        let e: io::Error = ArgError::ZeroLabel.into();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(e.to_string(), "virtio backend device label must be nonzero");
    }
}
