//! Identity of the SoC platform the service fronts, as reported to guests.

/// Who the platform is: reported by SCMI BASE_DISCOVER_* and by the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocIdentity {
    /// Vendor name, at most 15 ASCII bytes (SCMI short name).
    pub vendor: String,
    /// Sub-vendor name, at most 15 ASCII bytes.
    pub sub_vendor: String,
    /// Vendor-defined implementation version of the platform firmware (here: this service).
    pub implementation_version: u32,
}

impl Default for SocIdentity {
    fn default() -> Self {
        Self {
            vendor: "drivervm".to_owned(),
            sub_vendor: "sim".to_owned(),
            implementation_version: implementation_version(),
        }
    }
}

/// This build's version packed as SCMI implementation versions usually are: major<<16 | minor<<8 | patch.
pub fn implementation_version() -> u32 {
    let part = |s: &str| s.parse::<u32>().unwrap_or(0) & 0xff;
    (part(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
        | (part(env!("CARGO_PKG_VERSION_MINOR")) << 8)
        | part(env!("CARGO_PKG_VERSION_PATCH"))
}
