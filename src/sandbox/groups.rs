//! Syscall groups: named sets of syscalls (some with argument conditions), each with the
//! reason it exists. A role's filter is the union of its groups ([`super::filters`]);
//! docs/sandbox.md lists the same groups and a test keeps the two in step.
//!
//! The tables are plain data, syscalls by name and argument checks by value, for one
//! target architecture: the Cargo build compiles them for the architecture it runs on, and
//! `drivervm-seccomp-policy` compiles them for each Android architecture into the policy
//! file the Soong build loads (docs/sandbox.md, "On Android"). Argument values (ioctl
//! requests, flags, signal numbers) are the same on every architecture listed in [`Arch`]
//! (all use the generic ioctl encoding and signal numbers; a test checks the host's).

use super::ioctls;

/// The architectures the service ships on (the legacy x86-64 syscalls differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86-64: has the legacy syscalls (open, poll, unlink...) beside the `*at` forms.
    X86_64,
    /// arm64.
    Aarch64,
    /// riscv64.
    Riscv64,
}

impl Arch {
    /// Every architecture, in the order the policy files are generated.
    pub const ALL: [Arch; 3] = [Arch::Aarch64, Arch::X86_64, Arch::Riscv64];

    /// The architecture this binary runs on, if the service supports it.
    pub fn host() -> Option<Arch> {
        Self::ALL
            .into_iter()
            .find(|a| a.rust_name() == std::env::consts::ARCH)
    }

    /// Rust's (and seccompiler's) name for it.
    pub fn rust_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// Soong's name for it (Android.bp `arch:` blocks, and the policy file's directory).
    pub fn android_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "arm64",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// Whether the pre-`*at` syscalls exist (only x86-64 among these).
    fn legacy(self) -> bool {
        self == Arch::X86_64
    }
}

/// A comparison on one syscall argument's low 32 bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The argument equals the value.
    Eq(u64),
    /// The argument's bits under `mask` equal `value`.
    MaskedEq {
        /// Which bits are compared.
        mask: u64,
        /// What they must be.
        value: u64,
    },
}

/// One argument check: argument index (0-5) and the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCheck {
    /// The argument's index.
    pub arg: u8,
    /// The comparison.
    pub check: Check,
}

/// When a listed syscall is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Always.
    Any,
    /// When one of these rules (each a conjunction of argument checks) matches.
    Rules(Vec<Vec<ArgCheck>>),
}

/// One allowed syscall.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its kernel name (the number depends on the architecture).
    pub name: &'static str,
    /// When it is allowed.
    pub cond: Cond,
}

/// A named set of syscalls with the reason a role needs them.
#[derive(Debug, Clone)]
pub struct Group {
    /// Short name used in docs/sandbox.md.
    pub name: &'static str,
    /// Why a role that has it needs it.
    pub why: &'static str,
    /// The syscalls.
    pub calls: Vec<Call>,
}

macro_rules! any {
    ($($name:ident),* $(,)?) => {
        vec![$(Call { name: stringify!($name), cond: Cond::Any }),*]
    };
}

/// `PR_GET_AUXV` (Linux 6.4), which the libc crate defines only for Android.
const PR_GET_AUXV: u64 = 0x4155_5856;

fn eq(arg: u8, value: u64) -> ArgCheck {
    ArgCheck {
        arg,
        check: Check::Eq(value),
    }
}

fn masked(arg: u8, mask: u64, value: u64) -> ArgCheck {
    ArgCheck {
        arg,
        check: Check::MaskedEq { mask, value },
    }
}

/// A call allowed only when one of `rules` (each a conjunction) holds.
fn when(name: &'static str, rules: Vec<Vec<ArgCheck>>) -> Call {
    Call {
        name,
        cond: Cond::Rules(rules),
    }
}

/// `ioctl` with one of `requests` (compared on the low 32 bits: C libraries differ in
/// whether they sign-extend the request).
pub fn ioctl(requests: &[u32]) -> Call {
    when(
        "ioctl",
        requests
            .iter()
            .map(|r| vec![eq(1, u64::from(*r))])
            .collect(),
    )
}

/// Memory, threads, signals and sleeping: what the Rust runtime, the allocator and
/// `std::thread` need on every thread. No executable mappings and only thread clones.
pub fn runtime(pid: u32) -> Group {
    let prot_exec = libc::PROT_EXEC as u64;
    let mut calls = any![
        munmap,
        mremap,
        madvise,
        brk,
        futex,
        sched_yield,
        sched_getaffinity,
        set_robust_list,
        rseq,
        rt_sigprocmask,
        rt_sigreturn,
        sigaltstack,
        exit,
        exit_group,
        gettid,
        getpid,
        getuid,
        geteuid,
        getgid,
        getegid,
        getrandom,
        clock_gettime,
        clock_getres,
        gettimeofday,
        nanosleep,
        clock_nanosleep,
        // Allowed here and answered ENOSYS by the filter installed beside every role's
        // (its flags live in memory a filter cannot read): glibc then uses clone.
        clone3,
    ];
    calls.push(when("mmap", vec![vec![masked(2, prot_exec, 0)]]));
    calls.push(when("mprotect", vec![vec![masked(2, prot_exec, 0)]]));
    let thread = libc::CLONE_THREAD as u64;
    calls.push(when("clone", vec![vec![masked(0, thread, thread)]]));
    calls.push(when(
        "prctl",
        vec![
            vec![eq(0, libc::PR_SET_NAME as u64)],
            vec![eq(0, libc::PR_GET_NAME as u64)],
            // How a thread started by a sandboxed one sees it already is (super::enter).
            vec![eq(0, libc::PR_GET_SECCOMP as u64)],
            // rustix reads the aux vector this way on first use (rsbinder's page size).
            vec![eq(0, PR_GET_AUXV)],
        ],
    ));
    // The SIGSYS handler re-raises on its own thread; abort() raises SIGABRT.
    calls.push(when(
        "tgkill",
        vec![
            vec![eq(0, u64::from(pid)), eq(2, libc::SIGSYS as u64)],
            vec![eq(0, u64::from(pid)), eq(2, libc::SIGABRT as u64)],
        ],
    ));
    Group {
        name: "runtime",
        why: "the Rust runtime on every thread: allocation (mmap/mprotect without PROT_EXEC), \
              futexes, thread start and exit (clone only with CLONE_THREAD), names \
              (prctl PR_SET_NAME/PR_GET_NAME, and PR_GET_SECCOMP, PR_GET_AUXV queries), clocks and sleeps, HashMap seeds (getrandom), and the \
              SIGSYS handler's own re-raise (tgkill to this process only)",
        calls,
    }
}

/// I/O on descriptors the thread already holds.
pub fn fd_io(arch: Arch) -> Group {
    let mut calls = any![
        read,
        write,
        readv,
        writev,
        close,
        fstat,
        newfstatat,
        statx,
        lseek,
        fcntl,
        ppoll,
        epoll_create1,
        epoll_ctl,
        epoll_pwait,
        eventfd2,
        timerfd_create,
        timerfd_settime,
        timerfd_gettime,
    ];
    if arch.legacy() {
        calls.extend(any![poll, epoll_wait]);
    }
    calls.push(ioctl(&ioctls::std_io()));
    Group {
        name: "fd-io",
        why: "reading and writing descriptors already open (sockets, eventfds, device \
              nodes, the log on stderr), waiting on them (poll, epoll), and the std \
              library's FIONBIO/FIOCLEX/TCGETS ioctls",
        calls,
    }
}

/// Sockets that already exist: accepted connections and the listener.
pub fn sockets() -> Group {
    let mut calls = any![
        accept4,
        recvmsg,
        sendmsg,
        recvfrom,
        sendto,
        shutdown,
        getsockopt,
        setsockopt,
        getsockname,
        getpeername,
    ];
    calls.push(ioctl(&ioctls::socket_queues()));
    Group {
        name: "sockets",
        why: "accepting on the listening socket bound at start-up and talking on what it \
              accepts, with descriptors passed in SCM_RIGHTS (guest memory, kick and call \
              eventfds); SO_PEERCRED through getsockopt; the queue sizes rsbinder reads \
              (SIOCINQ, SIOCOUTQ). No socket, bind or connect: nothing new is created",
        calls,
    }
}

/// The peer-allowlist handoff (transport/socket.rs): a device with `peer_uids`/`peer_gids`
/// accepts itself and hands each admitted connection to the vhost-user crate through a
/// private unix listener in a fresh directory.
pub fn handoff(arch: Arch) -> Group {
    let mut calls = any![bind, listen, connect, mkdirat, unlinkat, umask];
    if arch.legacy() {
        calls.extend(any![mkdir, rmdir, unlink]);
    }
    calls.push(when("socket", vec![vec![eq(0, libc::AF_UNIX as u64)]]));
    Group {
        name: "handoff",
        why: "a device with a peer allowlist hands each admitted connection to the vhost-user \
              crate through a private unix listener: a fresh directory (mkdtemp), a unix \
              socket bound, listened and connected there, both removed at once; socket only \
              with AF_UNIX, paths within the runtime dir (landlock)",
        calls,
    }
}

/// Files opened by path while serving, confined by landlock to the configured paths.
pub fn files(arch: Arch) -> Group {
    let mut calls = any![
        openat, getdents64, pread64, pwrite64, fsync, fdatasync, ftruncate, fallocate, flock,
        readlinkat,
    ];
    if arch.legacy() {
        calls.extend(any![open, readlink]);
    }
    Group {
        name: "files",
        why: "backends that open files while serving: the Linux clock and sensor backends \
              read and write debugfs/sysfs files per request, WAV sinks are created and \
              sources opened at stream start, the RPMB file image is written and synced, \
              ALSA and V4L2 nodes are reopened after a card goes away; landlock limits \
              the paths to the configured ones",
        calls,
    }
}

/// The open syscalls of `arch`.
pub fn open_calls(arch: Arch) -> Vec<&'static str> {
    let mut calls = vec!["openat", "openat2"];
    if arch.legacy() {
        calls.push("open");
    }
    calls
}

/// Opens in roles that open no file: listed so the role filter does not trap them, and
/// answered EACCES by the refusal filter installed beside it (super::filters).
pub fn file_probes(arch: Arch) -> Group {
    let mut calls = any![openat, openat2];
    if arch.legacy() {
        calls.extend(any![open]);
    }
    Group {
        name: "file-probes",
        why: "refused with EACCES, not trapped: glibc and std open files on their own (malloc \
              reads /sys/devices/system/cpu/online when it adds an arena, std reads cgroup \
              files for available_parallelism) from any thread; the refusal filter answers \
              them and the thread carries on",
        calls,
    }
}

/// Watching a directory for a changed file.
pub fn inotify() -> Group {
    Group {
        name: "inotify",
        why: "the simulated jack watches its file's directory for writes",
        calls: any![inotify_init1, inotify_add_watch, inotify_rm_watch],
    }
}

/// The main thread's wait and exit.
pub fn shutdown(arch: Arch) -> Group {
    let mut calls = any![rt_sigtimedwait, unlinkat];
    if arch.legacy() {
        calls.extend(any![unlink]);
    }
    Group {
        name: "shutdown",
        why: "waiting for SIGTERM/SIGINT (sigwait) and removing the sockets before exit",
        calls,
    }
}

/// ioctls of one uAPI.
pub fn ioctls(name: &'static str, why: &'static str, requests: Vec<u32>) -> Group {
    Group {
        name,
        why,
        calls: vec![ioctl(&requests)],
    }
}

/// ALSA PCM and control ioctls.
pub fn alsa() -> Group {
    let mut requests = ioctls::alsa_pcm();
    requests.extend(ioctls::alsa_ctl());
    ioctls(
        "alsa",
        "the ALSA PCM uAPI (hw/sw params, prepare, start, drop, drain, interleaved \
         read/write, delay) and control uAPI (element list/info/read/write, event \
         subscription) by request number",
        requests,
    )
}

/// ALSA control ioctls only.
pub fn alsa_ctl() -> Group {
    ioctls(
        "alsa-ctl",
        "the ALSA control uAPI for jack detection, by request number",
        ioctls::alsa_ctl(),
    )
}

/// V4L2 radio ioctls.
pub fn v4l2() -> Group {
    ioctls(
        "v4l2",
        "the V4L2 radio tuner ioctls (querycap, controls, tuner, frequency, hardware seek, \
         bands) by request number",
        ioctls::v4l2_radio(),
    )
}

/// eMMC and UFS RPMB ioctls.
pub fn rpmb() -> Group {
    ioctls(
        "rpmb",
        "MMC_IOC_CMD/MMC_IOC_MULTI_CMD (eMMC RPMB) and SG_IO (UFS RPMB) by request number",
        ioctls::rpmb(),
    )
}

/// Gunyah virtio-backend ioctls.
pub fn gunyah() -> Group {
    ioctls(
        "gunyah",
        "the Gunyah virtio-backend node's requests, in both published numberings",
        ioctls::gunyah(),
    )
}

/// Reopening a Gunyah node after its VM exits.
pub fn reopen() -> Group {
    Group {
        name: "reopen",
        why: "the Gunyah supervisor reopens its backend node after the frontend VM exits \
              (landlock limits it to the configured node)",
        calls: any![openat],
    }
}

/// Kernel binder: open, map, ioctls.
pub fn binder(arch: Arch) -> Group {
    // canonicalize (realpath) of the driver path, to find binderfs's features directory.
    let mut calls = any![openat, readlinkat, getcwd];
    if arch.legacy() {
        calls.extend(any![open, readlink]);
    }
    calls.push(ioctl(&ioctls::binder()));
    Group {
        name: "binder",
        why: "opening and mapping the binder driver (and resolving its path to read \
              binderfs's feature flags), registering with servicemanager and serving transactions on the binder thread pool (binder ioctls by number)",
        calls,
    }
}

/// Binder transactions on the already open driver.
pub fn binder_calls() -> Group {
    Group {
        name: "binder-calls",
        why: "the event dispatcher calls listeners that registered over kernel binder \
              (BINDER_WRITE_READ and the other binder ioctls by number, on the driver the \
              kernel-binder thread opened)",
        calls: vec![ioctl(&ioctls::binder())],
    }
}

/// Whether this host's values of the constants the groups compare arguments with are the
/// generic ones, which x86-64, arm64 and riscv64 share: only then may the tables be compiled
/// here for another architecture.
pub fn generic_values_hold() -> bool {
    let values: [(u32, u32); 13] = [
        (libc::PROT_EXEC as u32, 0x4),
        (libc::CLONE_THREAD as u32, 0x10000),
        (libc::PR_SET_NAME as u32, 15),
        (libc::PR_GET_NAME as u32, 16),
        (libc::PR_GET_SECCOMP as u32, 21),
        (libc::SIGSYS as u32, 31),
        (libc::SIGABRT as u32, 6),
        (libc::AF_UNIX as u32, 1),
        (libc::FIONBIO as u32, 0x5421),
        (libc::FIOCLEX as u32, 0x5451),
        (libc::TCGETS as u32, 0x5401),
        (libc::FIONREAD as u32, 0x541b),
        (libc::TIOCOUTQ as u32, 0x5411),
    ];
    values.iter().all(|(host, generic)| host == generic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_has_the_generic_argument_values() {
        assert!(generic_values_hold());
    }

    #[test]
    fn names_are_the_syscall_names() {
        let g = fd_io(Arch::X86_64);
        assert!(g.calls.iter().any(|c| c.name == "read"));
        assert!(g.calls.iter().all(|c| !c.name.starts_with("SYS_")));
    }
}
