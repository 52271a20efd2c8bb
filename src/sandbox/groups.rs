//! Syscall groups: named sets of syscalls (some with argument conditions), each with the
//! reason it exists. A role's filter is the union of its groups ([`super::filters`]);
//! docs/sandbox.md lists the same groups and a test keeps the two in step.

use seccompiler::{SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition, SeccompRule};

use super::ioctls;

/// When a listed syscall is allowed.
#[derive(Debug, Clone)]
pub enum Cond {
    /// Always.
    Any,
    /// When one of these rules (each a conjunction of argument checks) matches.
    Rules(Vec<SeccompRule>),
}

/// One allowed syscall.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its number on this architecture.
    pub nr: i64,
    /// Its name, for docs and errors.
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
        vec![$(Call { nr: libc::$name as i64, name: &stringify!($name)[4..], cond: Cond::Any }),*]
    };
}

/// `PR_GET_AUXV` (Linux 6.4), which the libc crate defines only for Android.
const PR_GET_AUXV: u64 = 0x4155_5856;

fn cond(arg: u8, op: Op, value: u64) -> Option<SeccompCondition> {
    SeccompCondition::new(arg, Len::Dword, op, value).ok()
}

/// A call allowed only when each rule's conditions hold (rules that fail to build are
/// dropped, which only narrows the filter).
fn when(nr: libc::c_long, name: &'static str, rules: Vec<Vec<Option<SeccompCondition>>>) -> Call {
    let rules = rules
        .into_iter()
        .filter_map(|conds| conds.into_iter().collect::<Option<Vec<_>>>())
        .filter_map(|conds| SeccompRule::new(conds).ok())
        .collect();
    Call {
        nr,
        name,
        cond: Cond::Rules(rules),
    }
}

/// `ioctl` with one of `requests` (compared on the low 32 bits: C libraries differ in
/// whether they sign-extend the request).
pub fn ioctl(requests: &[u32]) -> Call {
    when(
        libc::SYS_ioctl,
        "ioctl",
        requests
            .iter()
            .map(|r| vec![cond(1, Op::Eq, u64::from(*r))])
            .collect(),
    )
}

/// Memory, threads, signals and sleeping: what the Rust runtime, the allocator and
/// `std::thread` need on every thread. No executable mappings and only thread clones.
pub fn runtime(pid: u32) -> Group {
    let prot_exec = libc::PROT_EXEC as u64;
    let mut calls = any![
        SYS_munmap,
        SYS_mremap,
        SYS_madvise,
        SYS_brk,
        SYS_futex,
        SYS_sched_yield,
        SYS_sched_getaffinity,
        SYS_set_robust_list,
        SYS_rseq,
        SYS_rt_sigprocmask,
        SYS_rt_sigreturn,
        SYS_sigaltstack,
        SYS_exit,
        SYS_exit_group,
        SYS_gettid,
        SYS_getpid,
        SYS_getuid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getegid,
        SYS_getrandom,
        SYS_clock_gettime,
        SYS_clock_getres,
        SYS_gettimeofday,
        SYS_nanosleep,
        SYS_clock_nanosleep,
        // Allowed here and answered ENOSYS by the filter installed beside every role's
        // (its flags live in memory a filter cannot read): glibc then uses clone.
        SYS_clone3,
    ];
    calls.push(when(
        libc::SYS_mmap,
        "mmap",
        vec![vec![cond(2, Op::MaskedEq(prot_exec), 0)]],
    ));
    calls.push(when(
        libc::SYS_mprotect,
        "mprotect",
        vec![vec![cond(2, Op::MaskedEq(prot_exec), 0)]],
    ));
    let thread = libc::CLONE_THREAD as u64;
    calls.push(when(
        libc::SYS_clone,
        "clone",
        vec![vec![cond(0, Op::MaskedEq(thread), thread)]],
    ));
    calls.push(when(
        libc::SYS_prctl,
        "prctl",
        vec![
            vec![cond(0, Op::Eq, libc::PR_SET_NAME as u64)],
            vec![cond(0, Op::Eq, libc::PR_GET_NAME as u64)],
            // How a thread started by a sandboxed one sees it already is (super::enter).
            vec![cond(0, Op::Eq, libc::PR_GET_SECCOMP as u64)],
            // rustix reads the aux vector this way on first use (rsbinder's page size).
            vec![cond(0, Op::Eq, PR_GET_AUXV)],
        ],
    ));
    // The SIGSYS handler re-raises on its own thread; abort() raises SIGABRT.
    calls.push(when(
        libc::SYS_tgkill,
        "tgkill",
        vec![
            vec![
                cond(0, Op::Eq, u64::from(pid)),
                cond(2, Op::Eq, libc::SIGSYS as u64),
            ],
            vec![
                cond(0, Op::Eq, u64::from(pid)),
                cond(2, Op::Eq, libc::SIGABRT as u64),
            ],
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
pub fn fd_io() -> Group {
    let mut calls = any![
        SYS_read,
        SYS_write,
        SYS_readv,
        SYS_writev,
        SYS_close,
        SYS_fstat,
        SYS_newfstatat,
        SYS_statx,
        SYS_lseek,
        SYS_fcntl,
        SYS_ppoll,
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_pwait,
        SYS_eventfd2,
        SYS_timerfd_create,
        SYS_timerfd_settime,
        SYS_timerfd_gettime,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend(any![SYS_poll, SYS_epoll_wait]);
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
        SYS_accept4,
        SYS_recvmsg,
        SYS_sendmsg,
        SYS_recvfrom,
        SYS_sendto,
        SYS_shutdown,
        SYS_getsockopt,
        SYS_setsockopt,
        SYS_getsockname,
        SYS_getpeername,
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
pub fn handoff() -> Group {
    let mut calls = any![
        SYS_bind,
        SYS_listen,
        SYS_connect,
        SYS_mkdirat,
        SYS_unlinkat,
        SYS_umask
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend(any![SYS_mkdir, SYS_rmdir, SYS_unlink]);
    calls.push(when(
        libc::SYS_socket,
        "socket",
        vec![vec![cond(0, Op::Eq, libc::AF_UNIX as u64)]],
    ));
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
pub fn files() -> Group {
    let mut calls = any![
        SYS_openat,
        SYS_getdents64,
        SYS_pread64,
        SYS_pwrite64,
        SYS_fsync,
        SYS_fdatasync,
        SYS_ftruncate,
        SYS_fallocate,
        SYS_flock,
        SYS_readlinkat,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend(any![SYS_open, SYS_readlink]);
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

/// The open syscalls of this architecture.
pub fn open_calls() -> Vec<i64> {
    let mut calls = vec![libc::SYS_openat, libc::SYS_openat2];
    #[cfg(target_arch = "x86_64")]
    calls.push(libc::SYS_open);
    calls
}

/// Opens in roles that open no file: listed so the role filter does not trap them, and
/// answered EACCES by the refusal filter installed beside it (super::filters).
pub fn file_probes() -> Group {
    let mut calls = any![SYS_openat, SYS_openat2];
    #[cfg(target_arch = "x86_64")]
    calls.extend(any![SYS_open]);
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
        calls: any![
            SYS_inotify_init1,
            SYS_inotify_add_watch,
            SYS_inotify_rm_watch
        ],
    }
}

/// The main thread's wait and exit.
pub fn shutdown() -> Group {
    let mut calls = any![SYS_rt_sigtimedwait, SYS_unlinkat];
    #[cfg(target_arch = "x86_64")]
    calls.extend(any![SYS_unlink]);
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
        calls: any![SYS_openat],
    }
}

/// Kernel binder: open, map, ioctls.
pub fn binder() -> Group {
    // canonicalize (realpath) of the driver path, to find binderfs's features directory.
    let mut calls = any![SYS_openat, SYS_readlinkat, SYS_getcwd];
    #[cfg(target_arch = "x86_64")]
    calls.extend(any![SYS_open, SYS_readlink]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_syscall_names() {
        let g = fd_io();
        assert!(g.calls.iter().any(|c| c.name == "read"));
        assert!(g.calls.iter().all(|c| !c.name.starts_with("SYS_")));
    }
}
