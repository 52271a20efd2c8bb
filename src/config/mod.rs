//! The service's config: one TOML file, parsed strictly, then validated into typed [`Config`].
//!
//! Every error names the file, the place and the reason (see [`ConfigError`]). Without a
//! file the service runs the embedded default, [`DEFAULT_CONFIG_TEXT`]; `etc/drivervm.toml`
//! documents every key.

mod error;
mod group;
mod int;
mod kinds;
mod radio;
mod raw;
mod raw_scmi;
mod rpmb;
mod runtime_dir;
mod schema;
mod scmi;
mod sound;
mod syntax;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::ConfigError;
pub use group::{numeric_gid, resolve_group, GroupError};
pub use kinds::{implemented, Backend, DeviceKind};
pub use radio::{RadioConfig, RadioTuner};
pub use runtime_dir::{resolve_runtime_dir, resolve_state_dir};
pub use schema::{
    Config, DeviceConfig, DeviceSpec, GuestConfig, GuestPolicy, RpmbConfig, RpmbInterface,
    RpmbStorageConfig, RpmbStoreConfig, ServiceConfig, SocConfig, TransportConfig, VsockControl,
};
pub use scmi::{ClockConfig, Grant, ScmiGrants, ScmiPlatformConfig, LINUX_CLOCK_ROOT};
pub use sound::{
    JackConfig, JackDetect, OutputConfig, OutputSink, SharePolicy, SoundConfig, SoundDirection,
    StreamConfig, StreamEndpoint,
};
pub use validate::LOG_LEVELS;

/// The embedded default config, as printed by `drivervm --print-default-config`.
pub const DEFAULT_CONFIG_TEXT: &str = include_str!("default.toml");

/// The name errors in the embedded default are reported under.
pub const DEFAULT_CONFIG_ORIGIN: &str = "<built-in default config>";

/// The embedded default config's text, for `drivervm --print-default-config`.
pub fn default_config_text() -> &'static str {
    DEFAULT_CONFIG_TEXT
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}

/// Parses and validates config `text`; errors name `origin` as the file.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw = syntax::deserialize(text, origin)?;
    validate::validate(raw, origin)
}

/// The embedded default config, validated.
///
/// A unit test guarantees this is `Ok`; it is still a `Result` so that no code path panics.
pub fn embedded_default() -> Result<Config, ConfigError> {
    parse(DEFAULT_CONFIG_TEXT, DEFAULT_CONFIG_ORIGIN)
}
