//! The radio's published state for the control plane: what it is tuned to, and its RDS.

use std::sync::Mutex;

use super::detail::{DetailSource, DeviceDetail, RadioDetail};
use crate::generation::Generation;

/// Where a radio device publishes its tuned program; the control plane reads snapshots.
#[derive(Debug)]
pub struct RadioCell {
    detail: Mutex<RadioDetail>,
    generation: Generation,
}

impl RadioCell {
    /// A cell for a radio not tuned yet (frequency 0).
    pub fn new() -> Self {
        Self {
            detail: Mutex::new(RadioDetail {
                band: super::detail::RadioBand::Fm,
                frequency_khz: 0,
                signal_percent: 0,
                stereo: false,
                rds: None,
            }),
            generation: Generation::new(),
        }
    }

    /// Publishes `detail`; bumps the generation only when it changed.
    pub fn update(&self, detail: RadioDetail) {
        let mut d = match self.detail.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        if *d != detail {
            *d = detail;
            self.generation.bump();
        }
    }
}

impl Default for RadioCell {
    fn default() -> Self {
        Self::new()
    }
}

impl DetailSource for RadioCell {
    fn detail(&self) -> DeviceDetail {
        let d = match self.detail.lock() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        };
        DeviceDetail::Radio(d)
    }

    fn changes(&self) -> &Generation {
        &self.generation
    }
}
