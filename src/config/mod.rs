//! The service's config: one TOML file (JSON on Android), parsed strictly, then validated into
//! typed [`Config`].
//!
//! Every error names the file, the place and the reason (see [`ConfigError`]). Without a
//! file the service runs the embedded default, [`DEFAULT_CONFIG_TEXT`]; `etc/drivervm.toml`
//! documents every key.

mod error;
mod group;
mod int;
mod kind_config;
mod kinds;
mod raw;
mod raw_scmi;
mod registry;
mod runtime_dir;
mod schema;
mod syntax;
mod validate;
mod vm_fd;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::ConfigError;
pub use group::{numeric_gid, resolve_group, GroupError};
pub use kinds::{implemented, Backend, DeviceKind};
pub use runtime_dir::{resolve_runtime_dir, resolve_state_dir};
pub use schema::{
    Config, DeviceConfig, GuestConfig, GuestPolicy, PeerAllowlist, RpmbConfig, RpmbInterface,
    RpmbStorageConfig, RpmbStoreConfig, ServiceConfig, SocConfig, TransportConfig, VsockControl,
};
// The kinds' own modules and what they export, declared by the registry.
pub use registry::*;
pub use validate::LOG_LEVELS;
pub use vm_fd::{vm_fd_node, vm_fd_of, VM_FD_DIR};

/// The embedded default config, as printed by `drivervm --print-default-config`: assembled
/// by the registry from `default.toml` and each kind's device.
pub const DEFAULT_CONFIG_TEXT: &str = registry::DEFAULT_CONFIG;

/// The name errors in the embedded default are reported under.
pub const DEFAULT_CONFIG_ORIGIN: &str = "<built-in default config>";

/// The embedded default config's text, for `drivervm --print-default-config`.
pub fn default_config_text() -> &'static str {
    DEFAULT_CONFIG_TEXT
}

/// Reads and validates the config file at `path`: JSON when it is named `*.json` (the form
/// the Android build installs), TOML otherwise.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "json") {
        parse_json(&text, &file)
    } else {
        parse(&text, &file)
    }
}

/// Parses and validates config `text` (TOML); errors name `origin` as the file.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw = toml_seam::deserialize(text, origin)?;
    validate::validate(raw, origin)
}

/// Parses and validates JSON config `text`, as `drivervm-config-json` writes it from TOML.
pub fn parse_json(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw = syntax::deserialize_json(text, origin)?;
    validate::validate(raw, origin)
}

/// The embedded default config, validated.
///
/// A unit test guarantees this is `Ok` in the Cargo build; it is still a `Result` so that no
/// code path panics (and the Android build, which cannot read TOML, reports why).
pub fn embedded_default() -> Result<Config, ConfigError> {
    parse(DEFAULT_CONFIG_TEXT, DEFAULT_CONFIG_ORIGIN)
}

/// Where TOML is read: the Cargo build parses it; AOSP's `libtoml` is host only, so the
/// Android build refuses TOML and names the conversion instead.
mod toml_seam {
    use super::raw::RawConfig;
    use super::ConfigError;

    #[cfg(not(soong))]
    pub(super) fn deserialize(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
        super::syntax::deserialize_toml(text, origin)
    }

    #[cfg(soong)]
    pub(super) fn deserialize(_text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
        Err(ConfigError::Syntax {
            file: origin.to_owned(),
            position: None,
            key: None,
            message: "this Android build reads JSON configs only; convert TOML with \
                      drivervm-config-json (Android.bp does so for the installed config)"
                .to_owned(),
        })
    }
}
