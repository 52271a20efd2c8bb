//! virtio-scmi (device ID 32): an Arm SCMI platform served over virtqueues.
