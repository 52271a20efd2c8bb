//! Clocks: the hardware interface ([`ClockHw`]), its simulated and Linux backends, and the
//! arbitration of one clock tree between several guests ([`SharedClocks`]).

pub mod linux;
pub mod rates;
pub mod shared;
pub mod sim;

pub use rates::{RateSpec, Rounding};
pub use shared::{ClockEvent, ClockEventKind, RatePolicy, SharedClocks};

/// Index of a clock in its backend's tree.
pub type ClockId = usize;

/// The static description of one clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockDesc {
    /// Clock name as the SoC documents it (at most 63 bytes are reported to guests).
    pub name: String,
    /// Clocks this one can be muxed to, by index; empty for a clock without a mux.
    pub possible_parents: Vec<ClockId>,
    /// Rates the clock can run at.
    pub rates: RateSpec,
    /// Microseconds from enable to a stable output (0 when unknown).
    pub enable_latency_us: u32,
}

/// Why a clock operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// No clock with this index.
    #[error("no clock {0}")]
    NoSuchClock(ClockId),
    /// The rate is outside what the clock can do.
    #[error("rate {rate} Hz is out of range for clock {clock}")]
    RateOutOfRange {
        /// The clock.
        clock: String,
        /// The requested rate.
        rate: u64,
    },
    /// The requested parent is not one of the clock's possible parents.
    #[error("clock {clock} cannot be parented to {parent}")]
    BadParent {
        /// The clock.
        clock: String,
        /// The requested parent index.
        parent: ClockId,
    },
    /// The backend cannot perform this kind of operation at all.
    #[error("{0}")]
    Unsupported(String),
    /// The clock's sharing policy does not let this agent do that.
    #[error("{0}")]
    Denied(String),
    /// The backend failed to reach the hardware.
    #[error("{0}")]
    Io(String),
}

/// One SoC's clock tree as the hardware sees it (no knowledge of guests).
///
/// Rates passed to `set_rate` are already valid for the clock (rounded by the caller with
/// [`RateSpec::round`]); enabling counts like the Linux clock framework's `clk_enable`.
pub trait ClockHw: Send {
    /// A short name of the backend kind for logs (`sim`, `linux`).
    fn kind(&self) -> &'static str;
    /// Every clock, indexed by [`ClockId`].
    fn clocks(&self) -> &[ClockDesc];
    /// The current rate in Hz.
    fn rate(&self, id: ClockId) -> Result<u64, ClockError>;
    /// Programs a new rate; returns the rate the hardware now runs at.
    fn set_rate(&mut self, id: ClockId, rate: u64) -> Result<u64, ClockError>;
    /// Whether the clock currently outputs (its gate and all its ancestors' are open).
    fn is_enabled(&self, id: ClockId) -> Result<bool, ClockError>;
    /// Takes (`true`) or drops (`false`) one enable reference on the clock.
    fn set_enabled(&mut self, id: ClockId, on: bool) -> Result<(), ClockError>;
    /// The current parent, if the clock has one.
    fn parent(&self, id: ClockId) -> Result<Option<ClockId>, ClockError>;
    /// Switches the mux to `parent`, which must be one of the possible parents.
    fn set_parent(&mut self, id: ClockId, parent: ClockId) -> Result<(), ClockError>;
}
