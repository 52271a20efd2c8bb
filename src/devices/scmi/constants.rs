//! Numbers from the Arm SCMI specification (DEN0056, v3.2) and virtio-scmi (virtio 1.3 §5.17).

/// Virtio device ID of virtio-scmi.
pub const VIRTIO_ID_SCMI: u32 = 32;
/// Queue carrying agent-to-platform commands and their responses.
pub const CMDQ: u16 = 0;
/// Queue carrying platform-to-agent notifications and delayed responses.
pub const EVENTQ: u16 = 1;
/// Feature bit: the device implements the P2A channel (eventq).
pub const VIRTIO_SCMI_F_P2A_CHANNELS: u32 = 0;

/// Protocol ID of the base protocol.
pub const PROTOCOL_BASE: u8 = 0x10;

/// Protocol ID of the power domain management protocol.
pub const PROTOCOL_POWER: u8 = 0x11;
/// Protocol ID of the performance domain management protocol.
pub const PROTOCOL_PERF: u8 = 0x13;
/// Protocol ID of the clock management protocol.
pub const PROTOCOL_CLOCK: u8 = 0x14;
/// Protocol ID of the sensor management protocol.
pub const PROTOCOL_SENSOR: u8 = 0x15;
/// Protocol ID of the reset domain management protocol.
pub const PROTOCOL_RESET: u8 = 0x16;

/// Message type of a command (agent to platform).
pub const MSG_TYPE_COMMAND: u8 = 0;
/// Message type of a delayed response (platform to agent, on the P2A channel).
pub const MSG_TYPE_DELAYED_RESPONSE: u8 = 2;
/// Message type of a notification (platform to agent, on the P2A channel).
pub const MSG_TYPE_NOTIFICATION: u8 = 3;

/// Message IDs every protocol implements.
pub mod common {
    /// PROTOCOL_VERSION.
    pub const PROTOCOL_VERSION: u8 = 0x0;
    /// PROTOCOL_ATTRIBUTES.
    pub const PROTOCOL_ATTRIBUTES: u8 = 0x1;
    /// PROTOCOL_MESSAGE_ATTRIBUTES.
    pub const PROTOCOL_MESSAGE_ATTRIBUTES: u8 = 0x2;
    /// NEGOTIATE_PROTOCOL_VERSION (SCMI v3.2).
    pub const NEGOTIATE_PROTOCOL_VERSION: u8 = 0x10;
}

/// Message IDs of the base protocol (§4.2).
pub mod base {
    /// BASE_DISCOVER_VENDOR.
    pub const DISCOVER_VENDOR: u8 = 0x3;
    /// BASE_DISCOVER_SUB_VENDOR.
    pub const DISCOVER_SUB_VENDOR: u8 = 0x4;
    /// BASE_DISCOVER_IMPLEMENTATION_VERSION.
    pub const DISCOVER_IMPLEMENTATION_VERSION: u8 = 0x5;
    /// BASE_DISCOVER_LIST_PROTOCOLS.
    pub const DISCOVER_LIST_PROTOCOLS: u8 = 0x6;
    /// BASE_DISCOVER_AGENT.
    pub const DISCOVER_AGENT: u8 = 0x7;
    /// BASE_NOTIFY_ERRORS.
    pub const NOTIFY_ERRORS: u8 = 0x8;
    /// Notification BASE_ERROR_EVENT.
    pub const ERROR_EVENT: u8 = 0x0;
    /// Base protocol version 2.1 (SCMI v3.2, with NEGOTIATE_PROTOCOL_VERSION).
    pub const VERSION: u32 = 0x0002_0001;
    /// Agent ID that names the calling agent in BASE_DISCOVER_AGENT.
    pub const AGENT_SELF: u32 = 0xffff_ffff;
}

/// SCMI status codes (§4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// The command completed.
    Success = 0,
    /// The message or protocol is not supported.
    NotSupported = -1,
    /// A parameter is invalid.
    InvalidParameters = -2,
    /// The agent may not perform this operation.
    Denied = -3,
    /// The entity does not exist.
    NotFound = -4,
    /// A value is out of range.
    OutOfRange = -5,
    /// The platform is busy.
    Busy = -6,
    /// Communication error.
    CommsError = -7,
    /// Generic error.
    GenericError = -8,
    /// Hardware error.
    HardwareError = -9,
    /// Malformed message (wrong length, wrong type).
    ProtocolError = -10,
    /// The resource is in use.
    InUse = -11,
}
