//! The Cargo build's binder: rsbinder for RPC binder (unix socket, vsock) and kernel binder,
//! with the AIDL compiled by build.rs. `shim_libbinder.rs` is the Soong twin; the names
//! exported here are the whole contract between the shims and the rest of `control`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use log::warn;
use nix::unistd::Gid;
use rsbinder::rpc::transport::{UnixTransport, VsockTransport};
use rsbinder::rpc::{PeerIdentity, RpcClientConfig, RpcServer, RpcSession, RpcTransport};

#[path = "rpc_accept.rs"]
mod rpc_accept;
use rpc_accept::{AcceptLoop, Listener};

use super::access::{vsock_peer_allowed, VsockDecision};
use super::service::{DriverVm, SERVICE_NAME};
use super::target::Target;

/// The Rust rsbinder-aidl generated from aidl/vendor/drivervm.
mod generated {
    rsbinder::include_aidl!("drivervm_aidl");
}

/// The generated `vendor.drivervm` package.
pub use generated::vendor::drivervm as iface;
pub use rsbinder::{Interface, Status, Strong};

use iface::IDriverVm::{BnDriverVm, IDriverVm};
use iface::IDriverVmListener::{BnDriverVmListener, IDriverVmListener};

/// Who made the binder call being served, as a key for per-peer caps: a uid for a local
/// caller (unix RPC binder, kernel binder), a CID for a vsock one.
pub fn calling_peer() -> Option<String> {
    match rsbinder::thread_state::calling_caller()? {
        rsbinder::thread_state::Caller::Kernel { uid, .. } => Some(format!("uid {uid}")),
        rsbinder::thread_state::Caller::Rpc(PeerIdentity::Local { uid, .. }) => {
            Some(format!("uid {uid}"))
        }
        rsbinder::thread_state::Caller::Rpc(PeerIdentity::Vsock { cid }) => {
            Some(format!("cid {cid}"))
        }
        _ => None,
    }
}

/// Result type of generated AIDL methods.
pub type Result<T> = rsbinder::BinderResult<T>;

/// Highest RPC binder wire version offered: 2 is Android 16's, and a peer offering less
/// (Android 13's 0, 14/15's 1) negotiates down.
const RPC_WIRE_VERSION: u32 = 2;

/// Server threads per RPC server; incoming callback connections are bounded by twice this.
const RPC_THREADS: u32 = 4;

/// `VMADDR_CID_ANY`: listen on every local CID.
const VMADDR_CID_ANY: u32 = u32::MAX;

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
    Status::new_service_specific_error(code, Some(message.to_owned()))
}

/// Wraps the implementation in a binder object.
pub fn new_driver_vm(service: DriverVm) -> Strong<dyn IDriverVm> {
    BnDriverVm::new_binder(service)
}

/// Wraps a client-side listener in a binder object.
pub fn new_listener<L: IDriverVmListener + Sync + 'static>(
    listener: L,
) -> Strong<dyn IDriverVmListener> {
    BnDriverVmListener::new_binder(listener)
}

/// Whether two listener handles are the same binder object.
pub fn same_listener(a: &Strong<dyn IDriverVmListener>, b: &Strong<dyn IDriverVmListener>) -> bool {
    a.as_binder() == b.as_binder()
}

/// Calls its closure when the watched binder's process (or RPC session) is gone.
struct Recipient(Box<dyn Fn() + Send + Sync>);

impl rsbinder::DeathRecipient for Recipient {
    fn binder_died(&self, _who: &rsbinder::WIBinder) {
        (self.0)();
    }
}

/// Whether `status` says the binder's process (or RPC session) is already gone.
pub fn is_dead(status: &Status) -> bool {
    status.transaction_error() == rsbinder::StatusCode::DeadObject
}

/// A registered death notification; dropping it unregisters it.
pub struct DeathWatch {
    binder: rsbinder::SIBinder,
    recipient: Arc<Recipient>,
}

impl Drop for DeathWatch {
    fn drop(&mut self) {
        // Fails harmlessly when the binder is already dead (the notification was sent).
        let _ = self.binder.unlink_to_death_arc(&self.recipient);
    }
}

/// Calls `on_death` once the process serving `object` dies: over kernel binder the driver's
/// death notification, over RPC binder the end of the session's connections. Fails for a
/// local object and for an RPC session that reads nothing while idle (no incoming
/// connections), which would never notice.
pub fn watch_death<I: rsbinder::FromIBinder + ?Sized>(
    object: &Strong<I>,
    on_death: Box<dyn Fn() + Send + Sync>,
) -> std::result::Result<DeathWatch, Status> {
    let binder = object.as_binder();
    let recipient = Arc::new(Recipient(on_death));
    binder.link_to_death_arc(&recipient).map_err(Status::from)?;
    Ok(DeathWatch { binder, recipient })
}

/// A running RPC binder server; dropping it stops accepting and removes its unix socket.
///
/// Sessions already open are left to end with the process: waiting for a client that does
/// not hang up must never delay the service's exit.
pub struct RpcHandle {
    server: Arc<RpcServer>,
    accept: Option<AcceptLoop>,
    socket: Option<PathBuf>,
}

impl Drop for RpcHandle {
    fn drop(&mut self) {
        // Stops (and joins) the accept thread before the socket goes.
        self.accept.take();
        self.server.stop_accepting();
        if let Some(path) = &self.socket {
            if let Err(e) = crate::transport::socket::remove(path) {
                warn!("{}: cannot remove control socket: {e}", path.display());
            }
        }
    }
}

/// rsbinder's admission hook, run on each connection's worker before the handshake.
type Authorizer = Box<dyn Fn(&PeerIdentity) -> bool + Send + Sync>;

/// Serves `root` on connections accepted from `listener` by our own loop (rpc_accept.rs);
/// `scratch` is a writable directory for the server's unused listener.
fn start(
    listener: Listener,
    scratch: &Path,
    root: &Strong<dyn IDriverVm>,
    target: &str,
    socket: Option<PathBuf>,
    authorize: Option<Authorizer>,
) -> std::result::Result<RpcHandle, ControlError> {
    let err = |why: String| ControlError::Serve {
        target: target.to_owned(),
        why,
    };
    let server = rpc_accept::detached_server(scratch).map_err(|e| {
        err(format!(
            "cannot set up the RPC server in {}: {e}",
            scratch.display()
        ))
    })?;
    server.set_android13plus(RPC_WIRE_VERSION);
    server.set_max_threads(RPC_THREADS);
    server
        .set_root(root.as_binder())
        .map_err(|e| err(format!("cannot publish the root object: {e:?}")))?;
    if let Some(f) = authorize {
        server.set_authorizer(f);
    }
    let accept = AcceptLoop::spawn(listener, Arc::clone(&server))
        .map_err(|e| err(format!("cannot start the accept thread: {e}")))?;
    Ok(RpcHandle {
        server,
        accept: Some(accept),
        socket,
    })
}

/// Serves `root` over RPC binder on the unix socket `path`: mode 0600, or 0660 owned by
/// `group` when given (created that way, see [`crate::transport::socket::bind`]). With
/// `allowed_uids`, only peers with one of those uids (SO_PEERCRED) are admitted, before any
/// RPC byte. A stale socket from a crashed run is replaced; a live one is left alone.
pub fn serve_unix(
    path: &Path,
    group: Option<Gid>,
    allowed_uids: Vec<u32>,
    root: &Strong<dyn IDriverVm>,
) -> std::result::Result<RpcHandle, ControlError> {
    let target = format!("unix:{}", path.display());
    let err = |why: String| ControlError::Serve {
        target: target.clone(),
        why,
    };
    let access = crate::transport::socket::SocketAccess { owner: None, group };
    let listener = crate::transport::socket::bind(path, access).map_err(|e| err(e.to_string()))?;
    let cleanup = |e: ControlError| {
        let _ = crate::transport::socket::remove(path);
        e
    };
    let scratch = path.parent().unwrap_or(Path::new("."));
    let gate = allowed_uids.clone();
    // A second gate behind the accept loop's: rsbinder checks again before the handshake.
    let authorize: Option<Authorizer> = if allowed_uids.is_empty() {
        None
    } else {
        Some(Box::new(move |peer| match peer {
            PeerIdentity::Local { uid, .. } => gate.contains(uid),
            _ => false,
        }))
    };
    start(
        Listener::Unix(listener, allowed_uids),
        scratch,
        root,
        &target,
        Some(path.to_owned()),
        authorize,
    )
    .map_err(cleanup)
}

/// Serves `root` over RPC binder on vsock `port`, admitting only peers whose CID is in
/// `allowed`; others are refused before any RPC byte and logged within a budget.
pub fn serve_vsock(
    port: u32,
    allowed: Vec<u32>,
    root: &Strong<dyn IDriverVm>,
) -> std::result::Result<RpcHandle, ControlError> {
    let target = format!("vsock:any:{port}");
    let listener = vsock::VsockListener::bind_with_cid_port(VMADDR_CID_ANY, port).map_err(|e| {
        ControlError::Serve {
            target: target.clone(),
            why: format!("{e} (is a vsock transport loaded?)"),
        }
    })?;
    let gate = allowed.clone();
    // A second gate behind the accept loop's: rsbinder checks again before the handshake.
    let authorize: Authorizer = Box::new(move |peer| {
        let cid = match peer {
            PeerIdentity::Vsock { cid } => Some(*cid),
            _ => None,
        };
        vsock_peer_allowed(&gate, cid) == VsockDecision::Accept
    });
    start(
        Listener::Vsock(listener, allowed),
        &std::env::temp_dir(),
        root,
        &target,
        None,
        Some(authorize),
    )
}

/// Whether a kernel binder device exists (binderfs or the legacy node).
pub fn kernel_binder_present() -> bool {
    Path::new(rsbinder::DEFAULT_BINDER_PATH).exists()
        || Path::new(rsbinder::LEGACY_BINDER_PATH).exists()
}

/// Registers `root` with servicemanager as [`SERVICE_NAME`] and starts the binder threads.
pub fn register_kernel(root: &Strong<dyn IDriverVm>) -> std::result::Result<(), ControlError> {
    rsbinder::ProcessState::init_default()
        .map_err(|e| ControlError::Binder(format!("cannot open the binder driver: {e}")))?;
    rsbinder::hub::add_service(SERVICE_NAME, root.as_binder()).map_err(|e| {
        ControlError::Binder(format!("servicemanager refused {SERVICE_NAME}: {e:?}"))
    })?;
    rsbinder::ProcessState::start_thread_pool();
    Ok(())
}

/// A client's handle on the service; closing it ends the session.
pub struct Connection {
    session: Option<RpcSession>,
    /// The service.
    pub service: Strong<dyn IDriverVm>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            s.close_session();
        }
    }
}

fn hint(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => " (is drivervm running?)",
        io::ErrorKind::PermissionDenied => " (is this user in the control socket's group?)",
        _ => "",
    }
}

/// The reason of an I/O error without the " (os error N)" suffix.
fn reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(at) => s[..at].to_owned(),
        None => s,
    }
}

/// Connects to the service at `target`. With `callbacks`, the session also carries calls
/// from the service to listeners this client registers.
pub fn connect(target: &Target, callbacks: bool) -> std::result::Result<Connection, ControlError> {
    let err = |why: String| ControlError::Connect {
        target: target.to_string(),
        why,
    };
    let incoming = u32::from(callbacks);
    let session = match target {
        Target::Unix(path) => {
            // rsbinder folds errno into binder status codes; keep the OS error for the message.
            let first_error: Arc<Mutex<Option<io::Error>>> = Arc::new(Mutex::new(None));
            let slot = first_error.clone();
            let path: PathBuf = path.clone();
            let config = RpcClientConfig::new(RPC_WIRE_VERSION, move || {
                match std::os::unix::net::UnixStream::connect(&path) {
                    Ok(s) => Ok(Box::new(UnixTransport::from_stream(s)?) as Box<dyn RpcTransport>),
                    Err(e) => {
                        let status =
                            rsbinder::StatusCode::from(io::Error::new(e.kind(), e.to_string()));
                        if let Ok(mut slot) = slot.lock() {
                            slot.get_or_insert(e);
                        }
                        Err(status)
                    }
                }
            })
            .incoming_connections(incoming);
            RpcSession::setup_client_android13plus_with_config(config).map_err(|status| {
                match first_error.lock().ok().and_then(|mut e| e.take()) {
                    Some(e) => err(format!("{}{}", reason(&e), hint(&e))),
                    None => err(format!("RPC handshake failed: {status:?}")),
                }
            })?
        }
        Target::Vsock { cid, port } => {
            let (cid, port) = (*cid, *port);
            let config = RpcClientConfig::new(RPC_WIRE_VERSION, move || {
                Ok(Box::new(VsockTransport::connect(cid, port)?) as Box<dyn RpcTransport>)
            })
            .incoming_connections(incoming);
            RpcSession::setup_client_android13plus_with_config(config).map_err(|status| {
                if status == rsbinder::StatusCode::DeadObject {
                    // drivervm closes a peer it does not admit before any RPC byte.
                    err(
                        "closed before the RPC handshake (is this VM's CID in the service's \
                         control_vsock_cids?)"
                            .into(),
                    )
                } else {
                    err(format!(
                        "{status:?} (is drivervm serving vsock there, and is this CID allowed?)"
                    ))
                }
            })?
        }
        Target::Binder => {
            if !kernel_binder_present() {
                return Err(err("no binder device".into()));
            }
            rsbinder::ProcessState::init_default()
                .map_err(|e| err(format!("cannot open the binder driver: {e}")))?;
            if callbacks {
                // Listener calls and death notifications arrive on binder threads.
                rsbinder::ProcessState::start_thread_pool();
            }
            let service = rsbinder::hub::check_interface::<dyn IDriverVm>(SERVICE_NAME)
                .map_err(|e| err(format!("{SERVICE_NAME}: {e:?} (is drivervm running?)")))?;
            return Ok(Connection {
                session: None,
                service,
            });
        }
    };
    let root = session
        .get_root()
        .map_err(|e| err(format!("no root object: {e:?}")))?;
    let service = <dyn IDriverVm as rsbinder::FromIBinder>::try_from(root).map_err(|e| {
        err(format!(
            "the root object is not vendor.drivervm.IDriverVm: {e:?}"
        ))
    })?;
    Ok(Connection {
        session: Some(session),
        service,
    })
}

/// A failed call as one line: the service's own message for a service-specific error,
/// the binder status otherwise.
pub fn describe_status(status: &Status) -> (Option<i32>, String) {
    if status.exception_code() == rsbinder::ExceptionCode::ServiceSpecific {
        let message = status
            .message()
            .unwrap_or("service-specific error")
            .to_owned();
        (Some(status.service_specific_error()), message)
    } else {
        (None, format!("binder call failed: {status}"))
    }
}

/// Whether this build can serve and reach RPC binder endpoints.
pub const RPC_AVAILABLE: bool = true;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_object_status_reads_as_dead() {
        assert!(is_dead(&Status::from(rsbinder::StatusCode::DeadObject)));
        // A local listener cannot be watched: kept, not refused.
        assert!(!is_dead(&Status::from(
            rsbinder::StatusCode::InvalidOperation
        )));
        assert!(!is_dead(&service_specific(4, "full")));
    }
}
