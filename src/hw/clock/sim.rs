//! The simulated clock tree: clocks from config with real enable counting, gating that
//! propagates to children, and muxes. Used where no SoC clock hardware is reachable.

use super::{ClockDesc, ClockError, ClockHw, ClockId};

/// One simulated clock's description plus its power-on state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimClockSpec {
    /// Static description.
    pub desc: ClockDesc,
    /// Rate at power-on.
    pub initial_rate: u64,
    /// Parent at power-on (must be one of the possible parents).
    pub initial_parent: Option<ClockId>,
    /// Always-on clocks (oscillators) hold one enable reference of their own.
    pub always_on: bool,
}

/// Why a simulated tree is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimTreeError {
    /// A parent index is out of range or names the clock itself.
    #[error("clock {clock}: parent index {parent} is not another clock of the tree")]
    BadParent {
        /// The clock.
        clock: String,
        /// The bad parent index.
        parent: ClockId,
    },
    /// The initial parent is not among the possible parents.
    #[error("clock {0}: initial parent is not one of its possible parents")]
    InitialParent(String),
    /// The initial rate is not a supported rate.
    #[error("clock {clock}: initial rate {rate} Hz is not one of its rates")]
    InitialRate {
        /// The clock.
        clock: String,
        /// The rate.
        rate: u64,
    },
    /// Following parents loops back to a clock.
    #[error("clock {0} is its own ancestor")]
    Cycle(String),
}

#[derive(Debug)]
struct SimClock {
    rate: u64,
    parent: Option<ClockId>,
    /// Enable references held on this clock (by consumers and by enabled children).
    enable_count: u32,
}

/// A simulated clock tree.
#[derive(Debug)]
pub struct SimClockTree {
    descs: Vec<ClockDesc>,
    state: Vec<SimClock>,
}

impl SimClockTree {
    /// Builds the tree; every parent reference and initial value is checked.
    pub fn new(specs: Vec<SimClockSpec>) -> Result<Self, SimTreeError> {
        let n = specs.len();
        for (i, s) in specs.iter().enumerate() {
            for &p in &s.desc.possible_parents {
                if p >= n || p == i {
                    return Err(SimTreeError::BadParent {
                        clock: s.desc.name.clone(),
                        parent: p,
                    });
                }
            }
            if let Some(p) = s.initial_parent {
                if !s.desc.possible_parents.contains(&p) {
                    return Err(SimTreeError::InitialParent(s.desc.name.clone()));
                }
            }
            if s.desc.rates.round(s.initial_rate, super::Rounding::Down) != Some(s.initial_rate) {
                return Err(SimTreeError::InitialRate {
                    clock: s.desc.name.clone(),
                    rate: s.initial_rate,
                });
            }
        }
        let mut tree = Self {
            state: specs
                .iter()
                .map(|s| SimClock {
                    rate: s.initial_rate,
                    parent: s.initial_parent,
                    enable_count: 0,
                })
                .collect(),
            descs: Vec::with_capacity(n),
        };
        for (i, s) in specs.iter().enumerate() {
            tree.check_acyclic(i, &s.desc.name)?;
        }
        let always_on: Vec<ClockId> = (0..n).filter(|&i| specs[i].always_on).collect();
        tree.descs = specs.into_iter().map(|s| s.desc).collect();
        for i in always_on {
            tree.enable(i);
        }
        Ok(tree)
    }

    fn check_acyclic(&self, start: ClockId, name: &str) -> Result<(), SimTreeError> {
        let mut cur = self.state[start].parent;
        for _ in 0..self.state.len() {
            match cur {
                None => return Ok(()),
                Some(p) if p == start => break,
                Some(p) => cur = self.state[p].parent,
            }
        }
        Err(SimTreeError::Cycle(name.to_owned()))
    }

    /// Enable references currently held on `id` (what debugfs calls clk_enable_count).
    pub fn enable_count(&self, id: ClockId) -> Result<u32, ClockError> {
        Ok(self.get(id)?.enable_count)
    }

    fn get(&self, id: ClockId) -> Result<&SimClock, ClockError> {
        self.state.get(id).ok_or(ClockError::NoSuchClock(id))
    }

    /// Like the clock framework: the first reference on a clock takes one on its parent.
    fn enable(&mut self, id: ClockId) {
        let mut cur = Some(id);
        while let Some(c) = cur {
            let clock = &mut self.state[c];
            clock.enable_count += 1;
            cur = if clock.enable_count == 1 {
                clock.parent
            } else {
                None
            };
        }
    }

    fn disable(&mut self, id: ClockId) {
        let mut cur = Some(id);
        while let Some(c) = cur {
            let clock = &mut self.state[c];
            if clock.enable_count == 0 {
                return;
            }
            clock.enable_count -= 1;
            cur = if clock.enable_count == 0 {
                clock.parent
            } else {
                None
            };
        }
    }
}

impl ClockHw for SimClockTree {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn clocks(&self) -> &[ClockDesc] {
        &self.descs
    }

    fn rate(&self, id: ClockId) -> Result<u64, ClockError> {
        Ok(self.get(id)?.rate)
    }

    fn set_rate(&mut self, id: ClockId, rate: u64) -> Result<u64, ClockError> {
        let desc = self.descs.get(id).ok_or(ClockError::NoSuchClock(id))?;
        if desc.rates.round(rate, super::Rounding::Down) != Some(rate) {
            return Err(ClockError::RateOutOfRange {
                clock: desc.name.clone(),
                rate,
            });
        }
        self.state[id].rate = rate;
        Ok(rate)
    }

    fn is_enabled(&self, id: ClockId) -> Result<bool, ClockError> {
        // A clock outputs only when it and every ancestor hold a reference: gating a
        // parent gates its children.
        let mut cur = Some(id);
        let mut hops = 0;
        while let Some(c) = cur {
            let clock = self.get(c)?;
            if clock.enable_count == 0 {
                return Ok(false);
            }
            hops += 1;
            if hops > self.state.len() {
                break;
            }
            cur = clock.parent;
        }
        Ok(true)
    }

    fn set_enabled(&mut self, id: ClockId, on: bool) -> Result<(), ClockError> {
        self.get(id)?;
        if on {
            self.enable(id);
        } else {
            self.disable(id);
        }
        Ok(())
    }

    fn parent(&self, id: ClockId) -> Result<Option<ClockId>, ClockError> {
        Ok(self.get(id)?.parent)
    }

    fn set_parent(&mut self, id: ClockId, parent: ClockId) -> Result<(), ClockError> {
        let desc = self.descs.get(id).ok_or(ClockError::NoSuchClock(id))?;
        if !desc.possible_parents.contains(&parent) {
            return Err(ClockError::BadParent {
                clock: desc.name.clone(),
                parent,
            });
        }
        let old = self.state[id].parent;
        if old == Some(parent) {
            return Ok(());
        }
        // Refuse a reparent that would create a loop (the new parent descends from us).
        let mut cur = Some(parent);
        while let Some(c) = cur {
            if c == id {
                return Err(ClockError::BadParent {
                    clock: desc.name.clone(),
                    parent,
                });
            }
            cur = self.state[c].parent;
        }
        // An enabled clock moves its reference from the old parent to the new one.
        let held = self.state[id].enable_count > 0;
        if held {
            self.enable(parent);
        }
        self.state[id].parent = Some(parent);
        if held {
            if let Some(o) = old {
                self.disable(o);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::RateSpec;
    use super::*;

    fn spec(name: &str, parents: &[ClockId], parent: Option<ClockId>, on: bool) -> SimClockSpec {
        SimClockSpec {
            desc: ClockDesc {
                name: name.into(),
                possible_parents: parents.to_vec(),
                rates: RateSpec::discrete(vec![1_000, 2_000]).unwrap(),
                enable_latency_us: 0,
            },
            initial_rate: 1_000,
            initial_parent: parent,
            always_on: on,
        }
    }

    /// xo (always on) and pll (off) feed a mux; the mux feeds a leaf.
    fn tree() -> SimClockTree {
        SimClockTree::new(vec![
            spec("xo", &[], None, true),
            spec("pll", &[0], Some(0), false),
            spec("mux", &[0, 1], Some(0), false),
            spec("leaf", &[2], Some(2), false),
        ])
        .unwrap()
    }

    #[test]
    fn enabling_a_leaf_references_its_ancestors() {
        let mut t = tree();
        assert_eq!(t.enable_count(0), Ok(1));
        assert_eq!(t.is_enabled(3), Ok(false));
        t.set_enabled(3, true).unwrap();
        t.set_enabled(3, true).unwrap();
        assert_eq!(
            (0..4)
                .map(|i| t.enable_count(i).unwrap())
                .collect::<Vec<_>>(),
            [2, 0, 1, 2]
        );
        assert_eq!(t.is_enabled(3), Ok(true));
        t.set_enabled(3, false).unwrap();
        assert_eq!(t.enable_count(2), Ok(1));
        t.set_enabled(3, false).unwrap();
        assert_eq!(
            (0..4)
                .map(|i| t.enable_count(i).unwrap())
                .collect::<Vec<_>>(),
            [1, 0, 0, 0]
        );
        // Extra disables do not underflow.
        t.set_enabled(3, false).unwrap();
        assert_eq!(t.enable_count(3), Ok(0));
    }

    #[test]
    fn reparenting_moves_the_reference_and_gating_propagates() {
        let mut t = tree();
        t.set_enabled(2, true).unwrap();
        t.set_parent(2, 1).unwrap();
        assert_eq!(t.parent(2), Ok(Some(1)));
        assert_eq!((t.enable_count(0), t.enable_count(1)), (Ok(2), Ok(1)));
        t.set_enabled(3, true).unwrap();
        assert_eq!(t.is_enabled(3), Ok(true));
        // Gate the mux's own reference: still held by the leaf, so the leaf stays on.
        t.set_enabled(2, false).unwrap();
        assert_eq!(t.is_enabled(3), Ok(true));
        assert_eq!(
            t.set_parent(2, 3),
            Err(ClockError::BadParent {
                clock: "mux".into(),
                parent: 3
            })
        );
    }

    #[test]
    fn a_gated_parent_gates_its_children() {
        let mut t = SimClockTree::new(vec![
            spec("pll", &[], None, false),
            spec("leaf", &[0], Some(0), false),
        ])
        .unwrap();
        // Force the state a hardware glitch would leave: the leaf counted, the parent not.
        t.state[1].enable_count = 1;
        assert_eq!(t.is_enabled(1), Ok(false));
        t.set_enabled(0, true).unwrap();
        assert_eq!(t.is_enabled(1), Ok(true));
    }

    #[test]
    fn rates_must_be_supported_and_trees_consistent() {
        let mut t = tree();
        assert_eq!(t.set_rate(1, 2_000), Ok(2_000));
        assert_eq!(t.rate(1), Ok(2_000));
        assert!(matches!(
            t.set_rate(1, 1_500),
            Err(ClockError::RateOutOfRange { .. })
        ));
        assert_eq!(t.rate(9), Err(ClockError::NoSuchClock(9)));
        let cyc = SimClockTree::new(vec![
            spec("a", &[1], Some(1), false),
            spec("b", &[0], Some(0), false),
        ]);
        assert_eq!(cyc.err(), Some(SimTreeError::Cycle("a".into())));
        let bad = SimClockTree::new(vec![spec("a", &[0], None, false)]);
        assert!(matches!(bad, Err(SimTreeError::BadParent { .. })));
    }
}
