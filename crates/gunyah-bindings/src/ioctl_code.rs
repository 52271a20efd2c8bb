//! Linux ioctl request-number encoding (`_IOC` from include/uapi/asm-generic/ioctl.h).
//!
//! arm64 and x86_64 both use the asm-generic layout: nr in bits 0..8, type in 8..16,
//! argument size in 16..30, direction in 30..32 with NONE=0, WRITE=1, READ=2. A few
//! architectures (powerpc, mips, sparc, alpha) use 13 size bits and other direction values;
//! Gunyah runs on none of them, so the crate refuses to build there rather than emit
//! wrong numbers.

#[cfg(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
compile_error!("gunyah-bindings encodes ioctls with the asm-generic layout, which this architecture does not use");

const NR_SHIFT: u32 = 0;
const TYPE_SHIFT: u32 = 8;
const SIZE_SHIFT: u32 = 16;
const DIR_SHIFT: u32 = 30;
const SIZE_BITS: u32 = 14;

/// Largest argument size the 14-bit size field can carry.
pub const MAX_ARG_SIZE: usize = (1 << SIZE_BITS) - 1;

/// Data-transfer direction of an ioctl, as seen from userspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `_IO`: no argument is copied.
    None,
    /// `_IOW`: userspace writes the argument, the kernel reads it.
    Write,
    /// `_IOR`: the kernel writes the argument back to userspace.
    Read,
    /// `_IOWR`: both.
    ReadWrite,
}

impl Direction {
    /// The two direction bits of the asm-generic encoding.
    pub const fn bits(self) -> u32 {
        match self {
            Direction::None => 0,
            Direction::Write => 1,
            Direction::Read => 2,
            Direction::ReadWrite => 3,
        }
    }
}

/// One ioctl definition: the inputs of `_IOC(dir, type, nr, size)` plus its C name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlDef {
    /// The macro name in the kernel header.
    pub name: &'static str,
    /// Copy direction.
    pub dir: Direction,
    /// The "magic" / type byte.
    pub ty: u8,
    /// The command number within the type.
    pub nr: u8,
    /// `sizeof` the argument type named in the macro (0 for `_IO`).
    pub size: usize,
}

impl IoctlDef {
    /// The request number passed to `ioctl(2)`.
    ///
    /// Every table in this crate is checked at compile time to have `size <= MAX_ARG_SIZE`,
    /// so the mask below never drops bits for them.
    pub const fn code(&self) -> u32 {
        encode(self.dir, self.ty, self.nr, self.size)
    }
}

/// Encodes `_IOC(dir, ty, nr, size)`; a size beyond 14 bits is a compile error in const use.
pub const fn encode(dir: Direction, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(
        size <= MAX_ARG_SIZE,
        "ioctl argument too large for the size field"
    );
    (dir.bits() << DIR_SHIFT)
        | ((size as u32) << SIZE_SHIFT)
        | ((ty as u32) << TYPE_SHIFT)
        | ((nr as u32) << NR_SHIFT)
}

/// Compile-time check that every definition in a table fits the encoding.
pub(crate) const fn all_sizes_fit(defs: &[IoctlDef]) -> bool {
    let mut i = 0;
    while i < defs.len() {
        if defs[i].size > MAX_ARG_SIZE {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_kernel_values() {
        // Values from the Linux headers, computed independently: KVM_GET_API_VERSION,
        // KVM_CREATE_VM and VHOST_SET_VRING_ADDR (_IOW(0xAF, 0x11, 40-byte struct)).
        assert_eq!(encode(Direction::None, 0xAE, 0x00, 0), 0xae00);
        assert_eq!(encode(Direction::None, 0xAE, 0x01, 0), 0xae01);
        assert_eq!(encode(Direction::Write, 0xAF, 0x11, 40), 0x4028_af11);
        assert_eq!(encode(Direction::Read, 0xAF, 0x00, 8), 0x8008_af00);
        assert_eq!(encode(Direction::ReadWrite, 0xAF, 0x12, 8), 0xc008_af12);
    }

    #[test]
    fn agrees_with_vmm_sys_util() {
        use vmm_sys_util::ioctl::{ioctl_expr, _IOC_NONE, _IOC_READ, _IOC_WRITE};
        for &(dir, raw) in &[
            (Direction::None, _IOC_NONE),
            (Direction::Write, _IOC_WRITE),
            (Direction::Read, _IOC_READ),
            (Direction::ReadWrite, _IOC_READ | _IOC_WRITE),
        ] {
            for &(ty, nr, size) in &[(0x47u8, 1u8, 32usize), (0xBC, 9, 40), (0xB2, 0x6d, 8)] {
                let ours = u64::from(encode(dir, ty, nr, size));
                let theirs = ioctl_expr(raw, ty.into(), nr.into(), size as u32) as u64;
                assert_eq!(ours, theirs, "{dir:?} {ty:#x} {nr:#x} {size}");
            }
        }
    }

    #[test]
    fn max_size_is_fourteen_bits() {
        assert_eq!(MAX_ARG_SIZE, 0x3fff);
        assert_eq!(encode(Direction::Read, 0, 0, MAX_ARG_SIZE), 0xbfff_0000);
    }
}
