//! Where a client finds the service: `unix:PATH` or `vsock:CID:PORT`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A control endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// RPC binder on a unix socket.
    Unix(PathBuf),
    /// RPC binder over vsock.
    Vsock {
        /// Context id of the VM running the service.
        cid: u32,
        /// Control port.
        port: u32,
    },
    /// Kernel binder through servicemanager (Android).
    Binder,
}

/// Why a `--connect` value was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{value}\": {why} (expected unix:PATH, vsock:CID:PORT or binder)")]
pub struct TargetError {
    value: String,
    why: &'static str,
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| TargetError {
            value: s.to_owned(),
            why,
        };
        if s == "binder" {
            return Ok(Self::Binder);
        }
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(err("empty socket path"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("vsock:") {
            let (cid, port) = rest.split_once(':').ok_or_else(|| err("missing :PORT"))?;
            let cid = cid.parse().map_err(|_| err("CID is not a 32-bit number"))?;
            let port = port
                .parse()
                .map_err(|_| err("PORT is not a 32-bit number"))?;
            return Ok(Self::Vsock { cid, port });
        }
        Err(err("unknown scheme"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Vsock { cid, port } => write!(f, "vsock:{cid}:{port}"),
            Self::Binder => f.write_str("binder"),
        }
    }
}
