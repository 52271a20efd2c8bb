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

/// Opens the directory at `path` without following a final symlink (`O_NOFOLLOW`).
///
/// Through std rather than nix: nix's `open` returns a raw fd in 0.29 and an `OwnedFd` in 0.31,
/// and std hands back an owned descriptor in both builds without `unsafe`.
pub fn open_dir_nofollow(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags::DIRECTORY | libc_flags::NOFOLLOW)
        .open(path)
}

/// Opens the directory at `path`, following symlinks like any path lookup.
pub fn open_dir(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags::DIRECTORY)
        .open(path)
}

/// The open(2) flags above, from nix's re-export so both builds agree on the numbers.
mod libc_flags {
    pub const DIRECTORY: i32 = nix::fcntl::OFlag::O_DIRECTORY.bits();
    pub const NOFOLLOW: i32 = nix::fcntl::OFlag::O_NOFOLLOW.bits();
}

/// `fchownat(2)` of `name` inside the directory `dir`, never following a symlink.
pub fn fchownat_nofollow(
    dir: BorrowedFd<'_>,
    name: &str,
    owner: Option<nix::unistd::Uid>,
    group: Option<nix::unistd::Gid>,
) -> nix::Result<()> {
    let flags = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
    #[cfg(not(soong))]
    {
        use std::os::fd::AsRawFd;
        nix::unistd::fchownat(Some(dir.as_raw_fd()), name, owner, group, flags)
    }
    #[cfg(soong)]
    {
        nix::unistd::fchownat(dir, name, owner, group, flags)
    }
}

/// `fchmodat(2)` of `name` inside the directory `dir`.
pub fn fchmodat(dir: BorrowedFd<'_>, name: &str, mode: nix::sys::stat::Mode) -> nix::Result<()> {
    let flag = nix::sys::stat::FchmodatFlags::FollowSymlink;
    #[cfg(not(soong))]
    {
        use std::os::fd::AsRawFd;
        nix::sys::stat::fchmodat(Some(dir.as_raw_fd()), name, mode, flag)
    }
    #[cfg(soong)]
    {
        nix::sys::stat::fchmodat(dir, name, mode, flag)
    }
}

/// `renameat(2)` from `old` in `old_dir` to `new` in `new_dir`.
pub fn renameat(
    old_dir: BorrowedFd<'_>,
    old: &str,
    new_dir: BorrowedFd<'_>,
    new: &std::ffi::OsStr,
) -> nix::Result<()> {
    #[cfg(not(soong))]
    {
        use std::os::fd::AsRawFd;
        nix::fcntl::renameat(
            Some(old_dir.as_raw_fd()),
            old,
            Some(new_dir.as_raw_fd()),
            new,
        )
    }
    #[cfg(soong)]
    {
        nix::fcntl::renameat(old_dir, old, new_dir, new)
    }
}
