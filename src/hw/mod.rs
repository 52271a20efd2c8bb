//! Hardware access: one trait per hardware class, each with a real and a simulated backend.

pub mod rpmb;
pub mod soc;
pub mod tuner;
