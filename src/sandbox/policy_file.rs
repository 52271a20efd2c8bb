//! The compiled seccomp policy the Soong build loads: every role's filters, as seccompiler
//! compiled them on the build host (`drivervm-seccomp-policy`, from the same role tables the
//! Cargo build compiles at start-up), in one file per architecture that Android.bp installs
//! as /vendor/etc/drivervm/seccomp_filters.bin. This module reads, checks and installs it;
//! it needs only libc, which AOSP offers vendor code (docs/sandbox.md, "On Android").
//!
//! Format (little-endian): the magic `drvmsec1`; the AUDIT_ARCH the filters check (u32);
//! the number of roles (u16); per role its name's length (u8) and name (the role as
//! docs/sandbox.md writes it), its number of programs (u8), and per program its length in
//! instructions (u16, at most BPF_MAXINSNS) and its `struct sock_filter`s (8 bytes each).
//! Nothing may follow the last role.
//!
//! The tgkill rule compares the first argument with the process's pid, which the build host
//! cannot know: the generator compiles it with [`PID_SLOT`], a value no pid can take, and
//! [`Policy::for_process`] puts the real pid there. An unpatched program fails closed.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::outcome::SandboxError;
use super::role::Role;

/// Where Android.bp installs the policy file (beside the config, so it has its label).
pub const INSTALLED: &str = "/vendor/etc/drivervm/seccomp_filters.bin";

/// The file's name, also in the source tree (etc/android/seccomp/<arch>/).
pub const FILE_NAME: &str = "seccomp_filters.bin";

/// The first eight bytes of a policy file.
pub const MAGIC: &[u8; 8] = b"drvmsec1";

/// The longest program the kernel accepts (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// The placeholder for this process's pid: above PID_MAX_LIMIT (2^22), so never a pid.
pub const PID_SLOT: u32 = 0x7ffd_1d00;

/// The largest file [`Policy::load`] reads.
const MAX_FILE: u64 = 4 << 20;

/// `BPF_JMP | BPF_JEQ | BPF_K`: the instruction the pid is compared with.
const JEQ_K: u16 = 0x15;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

/// One filter program.
pub type Program = Vec<Insn>;

/// The AUDIT_ARCH value seccomp reports for the architecture this binary runs on.
pub fn host_audit_arch() -> Option<u32> {
    if cfg!(target_arch = "x86_64") {
        Some(0xc000_003e)
    } else if cfg!(target_arch = "aarch64") {
        Some(0xc000_00b7)
    } else if cfg!(target_arch = "riscv64") {
        Some(0xc000_00f3)
    } else {
        None
    }
}

/// A policy file's contents: each role's programs, in installation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The AUDIT_ARCH the programs were compiled for.
    pub audit_arch: u32,
    roles: Vec<(String, Vec<Program>)>,
}

/// Reads the file front to back; every read is bounds-checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {} ({what})", self.at));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl Policy {
    /// An empty policy for `audit_arch`.
    pub fn new(audit_arch: u32) -> Policy {
        Policy {
            audit_arch,
            roles: Vec::new(),
        }
    }

    /// Adds `name`'s programs.
    pub fn push(&mut self, name: String, programs: Vec<Program>) {
        self.roles.push((name, programs));
    }

    /// The role names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().map(|(n, _)| n.as_str())
    }

    /// `name`'s programs as compiled (with [`PID_SLOT`]).
    pub fn programs(&self, name: &str) -> Option<&[Program]> {
        self.roles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_slice())
    }

    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = MAGIC.to_vec();
        out.extend(self.audit_arch.to_le_bytes());
        let count = u16::try_from(self.roles.len()).map_err(|_| "too many roles")?;
        out.extend(count.to_le_bytes());
        for (name, programs) in &self.roles {
            check_name(name)?;
            out.push(name.len() as u8);
            out.extend(name.as_bytes());
            if programs.is_empty() || programs.len() > usize::from(u8::MAX) {
                return Err(format!("{name}: {} programs", programs.len()));
            }
            out.push(programs.len() as u8);
            for p in programs {
                if p.is_empty() || p.len() > MAX_INSNS {
                    return Err(format!("{name}: a program of {} instructions", p.len()));
                }
                out.extend((p.len() as u16).to_le_bytes());
                for i in p {
                    out.extend(i.code.to_le_bytes());
                    out.extend([i.jt, i.jf]);
                    out.extend(i.k.to_le_bytes());
                }
            }
        }
        Ok(out)
    }

    /// Parses a policy file; the error says what is wrong and where.
    pub fn parse(bytes: &[u8]) -> Result<Policy, String> {
        let mut c = Cursor { bytes, at: 0 };
        if c.take(MAGIC.len(), "magic")? != MAGIC {
            return Err("not a drivervm seccomp policy (bad magic)".into());
        }
        let audit_arch = c.u32("architecture")?;
        let count = c.u16("role count")?;
        let mut policy = Policy::new(audit_arch);
        for _ in 0..count {
            let len = c.u8("name length")?;
            let name = std::str::from_utf8(c.take(usize::from(len), "name")?)
                .map_err(|_| format!("a role name at byte {} is not UTF-8", c.at))?
                .to_string();
            check_name(&name)?;
            if policy.programs(&name).is_some() {
                return Err(format!("role {name} appears twice"));
            }
            let n = c.u8("program count")?;
            if n == 0 {
                return Err(format!("role {name} has no program"));
            }
            let mut programs = Vec::new();
            for _ in 0..n {
                let len = usize::from(c.u16("program length")?);
                if len == 0 || len > MAX_INSNS {
                    return Err(format!("{name}: a program of {len} instructions"));
                }
                // len * 8 bytes: a whole number of instructions by construction.
                let raw = c.take(len * 8, "program")?;
                let program = raw
                    .chunks_exact(8)
                    .map(|b| Insn {
                        code: u16::from_le_bytes([b[0], b[1]]),
                        jt: b[2],
                        jf: b[3],
                        k: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                    })
                    .collect();
                programs.push(program);
            }
            policy.push(name, programs);
        }
        if c.at != bytes.len() {
            return Err(format!("{} bytes after the last role", bytes.len() - c.at));
        }
        Ok(policy)
    }

    /// Reads and checks the policy at `path` for this architecture and returns each of
    /// `roles`' programs with `pid` in place of [`PID_SLOT`]. Every error names the file.
    pub fn load(
        path: &Path,
        roles: &[Role],
        pid: u32,
    ) -> Result<HashMap<Role, Vec<Program>>, SandboxError> {
        let err = |why: String| SandboxError::Seccomp(format!("{}: {why}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(e.to_string()))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(err(format!("larger than {MAX_FILE} bytes")));
        }
        let policy = Policy::parse(&bytes).map_err(err)?;
        let host =
            host_audit_arch().ok_or_else(|| err("no filters for this architecture".into()))?;
        if policy.audit_arch != host {
            return Err(err(format!(
                "compiled for AUDIT_ARCH {:#x}, this is {host:#x}: Android.bp installed \
                 another architecture's file",
                policy.audit_arch
            )));
        }
        let mut out = HashMap::new();
        for role in roles {
            let name = role.to_string();
            let programs = policy
                .for_process(&name, pid)
                .map_err(|why| err(format!("{why}; regenerate with drivervm-seccomp-policy")))?;
            out.insert(*role, programs);
        }
        Ok(out)
    }

    /// `name`'s programs with `pid` where the generator put [`PID_SLOT`]. The role filter of
    /// every role has the tgkill rule, so a role with no slot is refused.
    pub fn for_process(&self, name: &str, pid: u32) -> Result<Vec<Program>, String> {
        let Some(programs) = self.programs(name) else {
            return Err(format!("no filters for role {name}"));
        };
        let mut slots = 0;
        let programs = programs
            .iter()
            .map(|p| {
                p.iter()
                    .map(|i| {
                        if i.code == JEQ_K && i.k == PID_SLOT {
                            slots += 1;
                            Insn { k: pid, ..*i }
                        } else {
                            *i
                        }
                    })
                    .collect()
            })
            .collect();
        if slots == 0 {
            return Err(format!("role {name}'s filters do not compare the pid"));
        }
        Ok(programs)
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/');
    if ok {
        Ok(())
    } else {
        Err(format!("bad role name {name:?}"))
    }
}

/// The kernel's `struct sock_fprog`.
#[repr(C)]
struct Fprog {
    len: u16,
    filter: *const Insn,
}

/// Installs `program` on the calling thread (which must have no_new_privs or
/// CAP_SYS_ADMIN), as seccompiler's `apply_filter` does.
pub fn install(program: &[Insn]) -> std::io::Result<()> {
    let len = u16::try_from(program.len())
        .ok()
        .filter(|l| *l > 0 && usize::from(*l) <= MAX_INSNS)
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = Fprog {
        len,
        filter: program.as_ptr(),
    };
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    // SAFETY: `prog` points at `len` initialised instructions laid out as the kernel's
    // sock_filter, alive for the call; the kernel copies the program and keeps no pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const Fprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Policy {
        let mut p = Policy::new(0xc000_003e);
        let insn = |code, k| Insn {
            code,
            jt: 1,
            jf: 2,
            k,
        };
        p.push(
            "main".into(),
            vec![vec![insn(6, 0)], vec![insn(JEQ_K, PID_SLOT), insn(6, 7)]],
        );
        p.push("device/rpmb".into(), vec![vec![insn(6, 0)]]);
        p
    }

    #[test]
    fn a_policy_round_trips() {
        let p = sample();
        let bytes = p.encode().unwrap();
        assert_eq!(Policy::parse(&bytes).unwrap(), p);
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let bytes = sample().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(Policy::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Policy::parse(&extra)
            .unwrap_err()
            .contains("after the last role"));
        let mut magic = bytes.clone();
        magic[0] = b'x';
        assert!(Policy::parse(&magic).unwrap_err().contains("magic"));
        // A program longer than the kernel accepts.
        let mut long = Policy::new(1);
        long.push(
            "main".into(),
            vec![vec![
                Insn {
                    code: 6,
                    jt: 0,
                    jf: 0,
                    k: 0
                };
                MAX_INSNS + 1
            ]],
        );
        assert!(long.encode().is_err());
    }

    #[test]
    fn the_pid_goes_where_the_slot_was() {
        let p = sample();
        let main = p.for_process("main", 1234).unwrap();
        assert_eq!(main[1][0].k, 1234);
        assert_eq!(main[1][1].k, 7);
        assert!(p.for_process("device/rpmb", 1).unwrap_err().contains("pid"));
        assert!(p
            .for_process("status", 1)
            .unwrap_err()
            .contains("no filters"));
    }
}
