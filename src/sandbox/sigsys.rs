//! What happens on a forbidden syscall: the filter returns SECCOMP_RET_TRAP, the kernel
//! sends SIGSYS to the thread, and this handler writes one line naming the syscall, the
//! thread's role and its id to stderr, then re-raises SIGSYS with the default action, so
//! the process dies exactly as SECCOMP_RET_KILL_PROCESS would have killed it (by SIGSYS)
//! but with the reason in the service's own log. Why TRAP and not KILL: docs/sandbox.md.
//!
//! Everything here runs in a signal handler: no allocation, no locks, only write(2),
//! gettid(2), getpid(2) and tgkill(2), which every filter allows.

use std::cell::Cell;

use super::names;

thread_local! {
    /// The role of this thread's filter, for the handler's line. Const-initialised and
    /// without a destructor, so reading it from the handler touches only static TLS.
    static ROLE: Cell<(&'static str, &'static str)> = const { Cell::new(("", "")) };
}

/// Records this thread's role for the handler (call before installing its filter).
pub fn set_role(name: &'static str, kind: &'static str) {
    ROLE.with(|r| r.set((name, kind)));
}

/// The part of `siginfo_t` SIGSYS fills (`_sigsys` in the kernel's union), on 64-bit.
#[repr(C)]
struct SigsysInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    call_addr: *mut libc::c_void,
    syscall: libc::c_int,
    arch: libc::c_uint,
}

/// A fixed buffer the handler formats its line into.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    fn push(&mut self, s: &[u8]) {
        for &b in s {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn push_hex(&mut self, n: u64) {
        self.push(b"0x");
        let mut started = false;
        for shift in (0..16).rev() {
            let d = ((n >> (shift * 4)) & 0xf) as u8;
            if d != 0 || started || shift == 0 {
                started = true;
                self.push(&[if d < 10 { b'0' + d } else { b'a' + d - 10 }]);
            }
        }
    }

    fn push_num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.push(digits.get(i..).unwrap_or(&[]));
    }
}

/// The second argument of the trapped syscall (an ioctl's request), from the saved
/// registers.
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to an SA_SIGINFO handler.
unsafe fn second_arg(ctx: *mut libc::c_void) -> Option<u64> {
    if ctx.is_null() {
        return None;
    }
    let uc = ctx.cast::<libc::ucontext_t>();
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: per the caller, `uc` is the live ucontext; RSI holds argument 2.
        let rsi = unsafe { (*uc).uc_mcontext.gregs[libc::REG_RSI as usize] };
        Some(rsi as u64)
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: per the caller, `uc` is the live ucontext; x1 holds argument 2.
        Some(unsafe { (*uc).uc_mcontext.regs[1] })
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = uc;
        None
    }
}

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler; for SIGSYS its
    // union holds `_sigsys`, whose 64-bit layout SigsysInfo reproduces (si_signo, si_errno,
    // si_code, padding to 8, then call address, syscall number and audit arch).
    let nr = unsafe { (*info.cast::<SigsysInfo>()).syscall };
    let (role, kind) = ROLE.with(|r| r.get());
    let mut line = Line {
        buf: [0; 256],
        len: 0,
    };
    line.push(b"drivervm: seccomp: forbidden syscall ");
    match names::name(i64::from(nr)) {
        Some(name) => line.push(name.as_bytes()),
        None => line.push(b"?"),
    }
    line.push(b" (number ");
    line.push_num(u64::from(nr.unsigned_abs()));
    if i64::from(nr) == libc::SYS_ioctl {
        // SAFETY: `ctx` is the handler's ucontext argument.
        if let Some(request) = unsafe { second_arg(ctx) } {
            line.push(b", request ");
            line.push_hex(request & 0xffff_ffff);
        }
    }
    line.push(b") by thread \"");
    let mut comm = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL included) into `comm`.
    if unsafe { libc::prctl(libc::PR_GET_NAME, comm.as_mut_ptr()) } == 0 {
        let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
        line.push(comm.get(..len).unwrap_or(&[]));
    }
    line.push(b"\" (role ");
    if role.is_empty() {
        // Started by a crate from a sandboxed thread: its parent's filter, unnamed here.
        line.push(b"inherited");
    } else {
        line.push(role.as_bytes());
    }
    if !kind.is_empty() {
        line.push(b"/");
        line.push(kind.as_bytes());
    }
    line.push(b", tid ");
    // SAFETY: gettid has no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    line.push_num(tid.unsigned_abs());
    line.push(b"); the process ends with SIGSYS\n");
    // SAFETY: writes `line.len` initialised bytes of a live stack buffer to stderr.
    unsafe { libc::write(2, line.buf.as_ptr().cast(), line.len) };
    // SA_RESETHAND made SIGSYS default again; it is blocked while this handler runs, so the
    // re-raised one is delivered (and kills the process) as soon as the handler returns.
    // SAFETY: plain syscalls on this process and thread.
    unsafe {
        let pid = libc::getpid();
        libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGSYS);
    }
}

/// Installs the SIGSYS handler for the whole process (before any filter).
pub fn install_handler() -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting point; the fields set below make it
    // an SA_SIGINFO handler with an empty mask.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigsys as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
    // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: installs a handler that only makes async-signal-safe calls; no old action
    // is requested.
    let rc = unsafe { libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_without_allocation() {
        let mut line = Line {
            buf: [0; 256],
            len: 0,
        };
        line.push_num(0);
        line.push(b" ");
        line.push_num(41);
        line.push(b" ");
        line.push_num(u64::MAX);
        assert_eq!(&line.buf[..line.len], b"0 41 18446744073709551615");
    }
}
