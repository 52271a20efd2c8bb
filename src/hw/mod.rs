//! Hardware access: one trait per hardware class, each with a real and a simulated backend.

pub mod clock;
pub mod events;
pub mod jack;
pub mod pcm;
pub mod perf;
pub mod power;
pub mod reset;
pub mod rpmb;
pub mod sensor;
pub mod sensor_set;
pub mod shared;
pub mod soc;
pub mod sysfs_sensors;
pub mod tuner;
