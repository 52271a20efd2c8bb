//! The Soong build's binder: AOSP libbinder_rs (kernel binder through servicemanager) and the
//! `vendor.drivervm-V2-rust` crate the `aidl_interface` generates. Twin of
//! `shim_rsbinder.rs`; `contract.rs` pins the signatures both export.
//!
//! Cargo's own build never compiles this file; `tests/soong_shim` type-checks it against a
//! model of the libbinder_rs API. RPC binder is absent here on purpose: AOSP's
//! `librpcbinder_rs` is not `vendor_available` (docs/aosp.md), so a Soong-built drivervm
//! serves kernel binder only.

use std::path::Path;

use binder::{BinderFeatures, DeathRecipient, ExceptionCode, FromIBinder, IBinder, SpIBinder};
use nix::unistd::Gid;

use super::service::{DriverVm, SERVICE_NAME};
use super::target::Target;

pub use binder::{Interface, Status, Strong};
/// The generated `vendor.drivervm` package.
pub use vendor_drivervm::aidl::vendor::drivervm as iface;

use iface::IDriverVm::{BnDriverVm, IDriverVm};
use iface::IDriverVmListener::{BnDriverVmListener, IDriverVmListener};

/// Result type of generated AIDL methods.
pub type Result<T> = binder::Result<T>;

/// Whether this build can serve and reach RPC binder endpoints.
pub const RPC_AVAILABLE: bool = false;

const NO_RPC: &str = "RPC binder is not available to vendor code in AOSP (librpcbinder_rs is \
                      not vendor_available; see docs/aosp.md)";

/// Why a control endpoint could not be served or reached.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The server could not be set up.
    #[error("cannot serve {target}: {why}")]
    Serve {
        /// Where.
        target: String,
        /// What failed.
        why: String,
    },
    /// The client could not connect.
    #[error("cannot connect to {target}: {why}")]
    Connect {
        /// Where.
        target: String,
        /// What failed, with a hint.
        why: String,
    },
    /// Kernel binder or servicemanager refused.
    #[error("kernel binder: {0}")]
    Binder(String),
}

/// A service-specific error carrying one of `IDriverVm`'s ERROR_* codes.
pub fn service_specific(code: i32, message: &str) -> Status {
    Status::new_service_specific_error_str(code, Some(message))
}

/// Wraps the implementation in a binder object.
pub fn new_driver_vm(service: DriverVm) -> Strong<dyn IDriverVm> {
    BnDriverVm::new_binder(service, BinderFeatures::default())
}

/// Wraps a client-side listener in a binder object.
pub fn new_listener<L: IDriverVmListener + Sync + 'static>(
    listener: L,
) -> Strong<dyn IDriverVmListener> {
    BnDriverVmListener::new_binder(listener, BinderFeatures::default())
}

/// Whether two listener handles are the same binder object.
pub fn same_listener(a: &Strong<dyn IDriverVmListener>, b: &Strong<dyn IDriverVmListener>) -> bool {
    a.as_binder() == b.as_binder()
}

/// Whether `status` says the binder's process is already gone.
pub fn is_dead(status: &Status) -> bool {
    status.transaction_error() == binder::StatusCode::DEAD_OBJECT
}

/// A registered death notification; dropping it unregisters it.
pub struct DeathWatch {
    binder: SpIBinder,
    recipient: DeathRecipient,
}

impl Drop for DeathWatch {
    fn drop(&mut self) {
        // Fails harmlessly when the binder is already dead (the notification was sent).
        let _ = self.binder.unlink_to_death(&mut self.recipient);
    }
}

/// Calls `on_death` once the process serving `object` dies (the driver's death
/// notification, delivered on a binder thread).
pub fn watch_death<I: FromIBinder + ?Sized>(
    object: &Strong<I>,
    on_death: Box<dyn Fn() + Send + Sync>,
) -> std::result::Result<DeathWatch, Status> {
    let mut binder = object.as_binder();
    let mut recipient = DeathRecipient::new(move || on_death());
    binder.link_to_death(&mut recipient).map_err(Status::from)?;
    Ok(DeathWatch { binder, recipient })
}

/// Stands for an RPC server; this build has none.
pub struct RpcHandle;

/// Always fails: see [`RPC_AVAILABLE`].
pub fn serve_unix(
    path: &Path,
    _group: Option<Gid>,
    _allowed_uids: Vec<u32>,
    _root: &Strong<dyn IDriverVm>,
) -> std::result::Result<RpcHandle, ControlError> {
    Err(ControlError::Serve {
        target: format!("unix:{}", path.display()),
        why: NO_RPC.into(),
    })
}

/// Who made the binder call being served, as a key for per-peer caps: the caller's uid.
pub fn calling_peer() -> Option<String> {
    Some(format!("uid {}", binder::ThreadState::get_calling_uid()))
}

/// Always fails: see [`RPC_AVAILABLE`].
pub fn serve_vsock(
    port: u32,
    _allowed: Vec<u32>,
    _root: &Strong<dyn IDriverVm>,
) -> std::result::Result<RpcHandle, ControlError> {
    Err(ControlError::Serve {
        target: format!("vsock:any:{port}"),
        why: NO_RPC.into(),
    })
}

/// Whether a kernel binder device exists.
pub fn kernel_binder_present() -> bool {
    Path::new("/dev/binder").exists()
}

/// Registers `root` with servicemanager as [`SERVICE_NAME`] and starts the binder threads.
pub fn register_kernel(root: &Strong<dyn IDriverVm>) -> std::result::Result<(), ControlError> {
    binder::add_service(SERVICE_NAME, root.as_binder()).map_err(|e| {
        ControlError::Binder(format!("servicemanager refused {SERVICE_NAME}: {e:?}"))
    })?;
    binder::ProcessState::start_thread_pool();
    Ok(())
}

/// A client's handle on the service.
pub struct Connection {
    /// The service.
    pub service: Strong<dyn IDriverVm>,
}

/// Connects to the service; only kernel binder exists in this build. Listener callbacks
/// need the binder thread pool, started here for every connection.
pub fn connect(target: &Target, _callbacks: bool) -> std::result::Result<Connection, ControlError> {
    let err = |why: String| ControlError::Connect {
        target: target.to_string(),
        why,
    };
    match target {
        Target::Binder => {
            binder::ProcessState::start_thread_pool();
            let service = binder::check_interface::<dyn IDriverVm>(SERVICE_NAME)
                .map_err(|e| err(format!("{SERVICE_NAME}: {e:?} (is drivervm running?)")))?;
            Ok(Connection { service })
        }
        _ => Err(err(NO_RPC.into())),
    }
}

/// A failed call as one line. libbinder_rs has no accessor for a status's message, so a
/// service-specific error reads as `AStatus_getDescription` renders it, message included.
pub fn describe_status(status: &Status) -> (Option<i32>, String) {
    if status.exception_code() == ExceptionCode::SERVICE_SPECIFIC {
        (
            Some(status.service_specific_error()),
            status.get_description(),
        )
    } else {
        (None, format!("binder call failed: {status}"))
    }
}
