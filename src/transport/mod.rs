//! Transports: put a [`crate::devices::VirtioDevice`] in front of a guest.
