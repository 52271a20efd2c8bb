//! Turning raw `ioctl(2)` return values into `io::Result`s.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::raw::c_int;

use crate::error::ArgError;

/// `-1` becomes the thread's `errno`; anything else is the kernel's return value.
pub(crate) fn check(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`check`], but any nonzero return is an error: some downstream handlers return the
/// byte count `copy_to_user` failed to copy (a positive number) instead of `-EFAULT`.
pub(crate) fn check_zero(ret: c_int) -> io::Result<()> {
    match check(ret)? {
        0 => Ok(()),
        _ => Err(io::Error::from_raw_os_error(libc::EFAULT)),
    }
}

/// Takes ownership of the new file descriptor an ioctl returned.
pub(crate) fn new_fd(ret: c_int) -> io::Result<OwnedFd> {
    let fd = check(ret)?;
    // SAFETY: the ioctls passed here (GH_CREATE_VM, GH_VM_ADD_FUNCTION for a vCPU,
    // GH_CREATE_VCPU) return a descriptor the kernel has just installed for this process and
    // that nothing else refers to yet; we become its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A nonnegative return as `u32`.
pub(crate) fn as_u32(ret: c_int) -> io::Result<u32> {
    let v = check(ret)?;
    u32::try_from(v).map_err(|_| ArgError::BadReturn(v.into()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_returns_pass_and_nonzero_fails_check_zero() {
        assert_eq!(check(0).ok(), Some(0));
        assert_eq!(check(7).ok(), Some(7));
        assert!(check_zero(0).is_ok());
        let e = check_zero(12).err().map(|e| e.raw_os_error());
        assert_eq!(e, Some(Some(libc::EFAULT)));
        assert_eq!(as_u32(4096).ok(), Some(4096));
    }
}
