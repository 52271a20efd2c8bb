//! What config validation needs from each device kind: the backends it may be served
//! from, and the check of its own keys in a `[[guest.device]]`. The kinds are listed in
//! [`super::registry`]; validation dispatches through this trait from one place
//! (`validate.rs`), so a kind's rules live in its own `config/<kind>.rs`.

use super::error::ConfigError;
use super::kinds::{Backend, DeviceKind};
use super::raw::RawDevice;
use super::schema::{Config, DeviceSpec, TransportConfig};
use super::validate::Validator;

/// One device while its kind checks its table: where it is, what it is called and how it
/// is served, and the config-wide sections a table may refer to.
pub(super) struct TableInput<'a> {
    /// Carries the file name into errors.
    pub v: &'a Validator<'a>,
    /// `guest "<name>" device <n>`, the place errors name.
    pub place: &'a str,
    /// The device id.
    pub id: &'a str,
    /// The device's kind.
    pub kind: DeviceKind,
    /// Its backend (the kind's default when none is written).
    pub backend: Backend,
    /// Whether the file named the backend.
    pub backend_given: bool,
    /// Its transport, validated.
    pub transport: &'a TransportConfig,
    /// The sections validated before the guests (`[soc]`, `[[output]]`, `[[rpmb_store]]`);
    /// its `guests` are still empty.
    pub sections: &'a Config,
}

/// One device kind, as config validation sees it.
pub(super) trait KindConfig: Sync {
    /// The backends that make sense for the kind, its default first.
    fn backends(&self) -> &'static [Backend];

    /// Whether this build can serve the kind from `backend`.
    fn implemented(&self, backend: Backend) -> bool {
        self.backends().contains(&backend)
    }

    /// Takes the kind's own keys out of `raw` and validates them into its settings, with
    /// the backend that serves the device (a kind may pick it, as an RPMB store does).
    fn table(
        &self,
        input: &TableInput<'_>,
        raw: &mut RawDevice,
    ) -> Result<(Backend, DeviceSpec), ConfigError>;

    /// Refuses the kind's own keys (or transport) on a device of another kind.
    fn refuse(&self, input: &TableInput<'_>, raw: &mut RawDevice) -> Result<(), ConfigError>;
}

/// A kind the service registry adds with no keys of its own (docs/adding-a-device.md): its
/// devices are simulated and carry only their kind.
pub(super) struct SettingsLess;

impl KindConfig for SettingsLess {
    fn backends(&self) -> &'static [Backend] {
        &[Backend::Sim]
    }

    fn table(
        &self,
        input: &TableInput<'_>,
        _raw: &mut RawDevice,
    ) -> Result<(Backend, DeviceSpec), ConfigError> {
        Ok((input.backend, DeviceSpec::Extra(input.kind)))
    }

    fn refuse(&self, _input: &TableInput<'_>, _raw: &mut RawDevice) -> Result<(), ConfigError> {
        Ok(())
    }
}
