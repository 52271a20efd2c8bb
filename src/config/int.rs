//! The one check for an integer key: absent means its default, present must lie in a range
//! and fit the type it is kept in. Callers place the reason in their own error.

use std::fmt::Display;

use super::raw::RawInt;

/// `n` as a `T` in `min..=max`, or why not: `"<n> is out of range (expected <min> to
/// <max><unit>)"`, where `unit` is empty or starts with a space.
pub(super) fn in_range<T>(n: i64, min: T, max: T, unit: &str) -> Result<T, String>
where
    T: TryFrom<i64> + PartialOrd + Display + Copy,
{
    T::try_from(n)
        .ok()
        .filter(|v| *v >= min && *v <= max)
        .ok_or_else(|| format!("{n} is out of range (expected {min} to {max}{unit})"))
}

/// An optional key: `default` when absent, else [`in_range`].
pub(super) fn int_or<T>(value: Option<RawInt>, default: T, min: T, max: T) -> Result<T, String>
where
    T: TryFrom<i64> + PartialOrd + Display + Copy,
{
    value.map_or(Ok(default), |RawInt(n)| in_range(n, min, max, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_the_default_and_present_is_checked() {
        assert_eq!(int_or(None, 7u32, 1, 9), Ok(7));
        assert_eq!(int_or(Some(RawInt(9)), 7u32, 1, 9), Ok(9));
        assert_eq!(
            int_or(Some(RawInt(10)), 7u32, 1, 9),
            Err("10 is out of range (expected 1 to 9)".to_owned())
        );
    }

    #[test]
    fn values_the_type_cannot_hold_are_out_of_range() {
        assert_eq!(
            in_range(-1, 0u64, 1000, " microseconds"),
            Err("-1 is out of range (expected 0 to 1000 microseconds)".to_owned())
        );
        assert_eq!(
            in_range(i64::MAX, 0u32, u32::MAX, ""),
            Err(format!(
                "{} is out of range (expected 0 to {})",
                i64::MAX,
                u32::MAX
            ))
        );
    }
}
