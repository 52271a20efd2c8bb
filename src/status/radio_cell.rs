//! The radio's published state for the control plane: what it is tuned to, and its RDS.

use std::sync::Mutex;

use super::detail::{DetailSource, DeviceDetail};
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
                band: RadioBand::Fm,
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
        DeviceDetail::new(d)
    }

    fn changes(&self) -> &Generation {
        &self.generation
    }
}

/// Broadcast band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioBand {
    /// FM.
    Fm,
    /// AM.
    Am,
}

/// Decoded RDS fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsDetail {
    /// Programme Identification.
    pub pi: u16,
    /// Programme Service name.
    pub ps: String,
    /// RadioText.
    pub rt: String,
    /// Programme Type.
    pub pty: u8,
}

/// What a tuner is tuned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioDetail {
    /// Band.
    pub band: RadioBand,
    /// Frequency in kHz.
    pub frequency_khz: u32,
    /// Signal quality, 0..=100.
    pub signal_percent: u8,
    /// Stereo pilot detected.
    pub stereo: bool,
    /// RDS, when decoded.
    pub rds: Option<RdsDetail>,
}
