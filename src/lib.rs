//! drivervm: serves a driver VM's SoC hardware to guest VMs as standard virtio devices.
//!
//! Layers, each ignorant of the one above it:
//! - [`hw`]: hardware access, one trait per class, real and simulated backends;
//! - [`devices`]: virtio device models over byte buffers and `hw` traits;
//! - [`transport`]: puts a device in front of a guest (vhost-user, or Gunyah's
//!   virtio-backend interface from a driver VM).
//!
//! Beside them: [`config`] (the TOML file), [`platform`] (the shared SCMI hardware a config
//! describes), [`sandbox`] (the daemon's privileges and seccomp filters), [`service`] (wires
//! config to devices and transports), [`status`] (live device state the transports and
//! devices publish with atomics), [`control`] (the `vendor.drivervm.IDriverVm` service over
//! binder) and `harness` (a driver-side vhost-user frontend for tests and load, built only
//! with the `harness` feature).

pub mod config;
pub mod control;
pub mod devices;
pub mod generation;
#[cfg(any(test, feature = "harness"))]
pub mod harness;
pub mod hw;
pub mod kind;
pub mod log_budget;
pub mod logging;
pub mod nix_compat;
pub mod platform;
#[cfg_attr(soong, path = "sandbox/android.rs")]
pub mod sandbox;
pub mod service;
pub mod status;
pub mod thread_role;
pub mod transport;
pub mod wake;
