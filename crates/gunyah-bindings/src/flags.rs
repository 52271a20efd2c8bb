//! A small bit-set newtype generator, so every flag word in the uAPI is a distinct type.

/// Declares a `u32` bit-set newtype with named constants, set operations and a `Debug` that
/// names the known bits and shows any unknown ones in hex.
macro_rules! bit_set {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* const $flag:ident = $value:expr; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name(u32);

        impl $name {
            $( $(#[$fmeta])* pub const $flag: Self = Self($value); )+

            /// Every bit with a name.
            pub const KNOWN: Self = Self(0 $(| $value)+);

            /// (name, value) of each named bit, in declaration order.
            pub const NAMED: &'static [(&'static str, Self)] = &[$((stringify!($flag), Self($value)),)+];

            /// The empty set.
            pub const fn empty() -> Self {
                Self(0)
            }

            /// Wraps raw bits as the kernel sent or expects them, unknown bits included.
            pub const fn from_bits_retain(bits: u32) -> Self {
                Self(bits)
            }

            /// The raw bits.
            pub const fn bits(self) -> u32 {
                self.0
            }

            /// True if every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// True if any bit of `other` is set in `self`.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }

            /// True if no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// Bits set in `self` that have no name here (a newer kernel, or garbage).
            pub const fn unknown(self) -> u32 {
                self.0 & !Self::KNOWN.0
            }

            /// `self` with the bits of `other` added.
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }

            /// `self` with the bits of `other` removed.
            pub const fn difference(self, other: Self) -> Self {
                Self(self.0 & !other.0)
            }
        }

        impl ::core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                self.union(rhs)
            }
        }

        impl ::core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                *self = self.union(rhs);
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                let mut first = true;
                for (name, bit) in Self::NAMED {
                    if self.contains(*bit) && !bit.is_empty() {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        f.write_str(name)?;
                        first = false;
                    }
                }
                let rest = self.unknown();
                if rest != 0 {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{rest:#x}")?;
                    first = false;
                }
                if first {
                    f.write_str("empty")?;
                }
                f.write_str(")")
            }
        }
    };
}

pub(crate) use bit_set;

#[cfg(test)]
mod tests {
    bit_set! {
        /// Test set.
        struct Demo {
            /// a
            const A = 1;
            /// b
            const B = 4;
        }
    }

    #[test]
    fn set_operations_and_debug() {
        let ab = Demo::A | Demo::B;
        assert_eq!(ab.bits(), 5);
        assert!(ab.contains(Demo::A));
        assert!(!Demo::A.contains(ab));
        assert!(ab.intersects(Demo::B));
        assert_eq!(Demo::KNOWN.bits(), 5);
        let odd = Demo::from_bits_retain(0x13);
        assert_eq!(odd.unknown(), 0x12);
        assert_eq!(format!("{odd:?}"), "Demo(A | 0x12)");
        assert_eq!(format!("{:?}", Demo::empty()), "Demo(empty)");
        assert_eq!(ab.difference(Demo::A), Demo::B);
    }
}
