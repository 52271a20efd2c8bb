//! The nix calls whose signatures differ between the Cargo build's nix (0.29: raw fds) and
//! AOSP's libnix (0.31: `AsFd`), so the rest of the code names one form.

use std::os::fd::BorrowedFd;

/// `read(2)` into `buf`.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    #[cfg(not(soong))]
    {
        use std::os::fd::AsRawFd;
        nix::unistd::read(fd.as_raw_fd(), buf)
    }
    #[cfg(soong)]
    {
        nix::unistd::read(fd, buf)
    }
}

/// Sets `O_NONBLOCK` (and clears every other status flag, as F_SETFL does).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let arg = nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK);
    #[cfg(not(soong))]
    let done = {
        use std::os::fd::AsRawFd;
        nix::fcntl::fcntl(fd.as_raw_fd(), arg)
    };
    #[cfg(soong)]
    let done = nix::fcntl::fcntl(fd, arg);
    done.map(drop)
}
