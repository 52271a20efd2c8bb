//! The simulator against the drivers it models, without the transport.
