//! Hardware access: one trait per hardware class, each with a real and a simulated backend.

pub mod pcm;
pub mod rpmb;
pub mod soc;
