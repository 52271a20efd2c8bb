//! What rates a clock supports and how a request is rounded to one of them.

/// The rates of one clock: a discrete list or a linear range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateSpec {
    /// Exactly these rates, ascending and distinct.
    Discrete(Vec<u64>),
    /// Every `min + k * step` up to `max` (a step of 0 means only `min`).
    Range {
        /// Lowest rate in Hz.
        min: u64,
        /// Highest rate in Hz.
        max: u64,
        /// Granularity in Hz.
        step: u64,
    },
}

/// Which way to round a rate the clock cannot produce exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// The highest supported rate not above the request.
    Down,
    /// The lowest supported rate not below the request.
    Up,
    /// The closest supported rate (ties round down).
    Nearest,
}

impl RateSpec {
    /// A range spec, or None when `min > max`.
    pub fn range(min: u64, max: u64, step: u64) -> Option<Self> {
        (min <= max).then_some(Self::Range { min, max, step })
    }

    /// A discrete spec from any list: sorted and deduplicated; None when empty.
    pub fn discrete(mut rates: Vec<u64>) -> Option<Self> {
        rates.sort_unstable();
        rates.dedup();
        (!rates.is_empty()).then_some(Self::Discrete(rates))
    }

    /// Lowest supported rate.
    pub fn min(&self) -> u64 {
        match self {
            Self::Discrete(r) => r.first().copied().unwrap_or(0),
            Self::Range { min, .. } => *min,
        }
    }

    /// Highest supported rate.
    pub fn max(&self) -> u64 {
        match self {
            Self::Discrete(r) => r.last().copied().unwrap_or(0),
            Self::Range { min, max, step } if *step == 0 => *min.min(max),
            Self::Range { min, max, step } => min + (max - min) / step * step,
        }
    }

    /// Rounds `rate` to a supported one; None when the request lies outside
    /// `[min, max]` and rounding would have to cross the boundary the caller asked for.
    pub fn round(&self, rate: u64, how: Rounding) -> Option<u64> {
        let (lo, hi) = self.neighbours(rate)?;
        match how {
            Rounding::Down => lo,
            Rounding::Up => hi,
            Rounding::Nearest => match (lo, hi) {
                (Some(l), Some(h)) => Some(if rate - l <= h - rate { l } else { h }),
                (l, h) => l.or(h),
            },
        }
    }

    /// The supported rates just below-or-equal and above-or-equal to `rate`, or None when
    /// `rate` is outside the supported span entirely (rounding never leaves the span).
    fn neighbours(&self, rate: u64) -> Option<(Option<u64>, Option<u64>)> {
        if rate < self.min() || rate > self.max() {
            return None;
        }
        Some(match self {
            Self::Discrete(r) => {
                let i = r.partition_point(|&x| x < rate);
                let hi = r.get(i).copied();
                let lo = if hi == Some(rate) {
                    hi
                } else {
                    i.checked_sub(1).and_then(|j| r.get(j).copied())
                };
                (lo, hi)
            }
            Self::Range { min, step, .. } => {
                if *step == 0 {
                    (Some(*min), Some(*min))
                } else {
                    let lo = min + (rate - min) / step * step;
                    let hi = if lo == rate { lo } else { lo + step };
                    (Some(lo), Some(hi))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_rounding_each_way() {
        let s = RateSpec::discrete(vec![300, 100, 200, 200]).unwrap();
        assert_eq!(s, RateSpec::Discrete(vec![100, 200, 300]));
        assert_eq!(s.round(150, Rounding::Down), Some(100));
        assert_eq!(s.round(150, Rounding::Up), Some(200));
        assert_eq!(s.round(160, Rounding::Nearest), Some(200));
        assert_eq!(s.round(150, Rounding::Nearest), Some(100));
        assert_eq!(s.round(200, Rounding::Up), Some(200));
        assert_eq!(s.round(99, Rounding::Up), None);
        assert_eq!(s.round(301, Rounding::Down), None);
        assert_eq!(RateSpec::discrete(vec![]), None);
    }

    #[test]
    fn range_rounding_respects_step_and_bounds() {
        let s = RateSpec::range(1000, 2050, 100).unwrap();
        assert_eq!(s.max(), 2000);
        assert_eq!(s.round(1250, Rounding::Down), Some(1200));
        assert_eq!(s.round(1250, Rounding::Up), Some(1300));
        assert_eq!(s.round(1260, Rounding::Nearest), Some(1300));
        assert_eq!(s.round(2000, Rounding::Up), Some(2000));
        assert_eq!(s.round(2010, Rounding::Down), None);
        assert_eq!(s.round(999, Rounding::Nearest), None);
        assert_eq!(RateSpec::range(5, 4, 1), None);
        let fixed = RateSpec::range(7, 9, 0).unwrap();
        assert_eq!((fixed.max(), fixed.round(7, Rounding::Up)), (7, Some(7)));
    }
}
