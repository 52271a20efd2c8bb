//! What a shim must provide, as types the compiler checks. Both builds compile this file: the
//! Cargo build against `shim_rsbinder.rs`, and `tests/soong_shim` against `shim_libbinder.rs`,
//! so a shim whose signature drifts from its twin fails to build instead of failing in AOSP.

use std::path::Path;

use nix::unistd::Gid;

use super::service::DriverVm;
use super::shim::{self, iface, Connection, ControlError, RpcHandle, Status, Strong};
use super::target::Target;

use iface::IDriverVm::IDriverVm;
use iface::IDriverVmListener::IDriverVmListener;

type Outcome<T> = std::result::Result<T, ControlError>;
type Root = Strong<dyn IDriverVm>;
type OnDeath = Box<dyn Fn() + Send + Sync>;
type Watched = std::result::Result<shim::DeathWatch, Status>;
type Listener = Strong<dyn IDriverVmListener>;

const _: fn(shim::Result<()>) -> std::result::Result<(), Status> = |r| r;
const _: fn(i32, &str) -> Status = shim::service_specific;
const _: fn(&Status) -> (Option<i32>, String) = shim::describe_status;
const _: fn(DriverVm) -> Root = shim::new_driver_vm;
const _: fn(&Listener, &Listener) -> bool = shim::same_listener;
const _: fn(&Listener, OnDeath) -> Watched = shim::watch_death::<dyn IDriverVmListener>;
const _: fn(&Root, OnDeath) -> Watched = shim::watch_death::<dyn IDriverVm>;
const _: fn(&Status) -> bool = shim::is_dead;
const _: fn(&Path, Option<Gid>, Vec<u32>, &Root) -> Outcome<RpcHandle> = shim::serve_unix;
const _: fn() -> Option<String> = shim::calling_peer;
const _: fn(u32, Vec<u32>, &Root) -> Outcome<RpcHandle> = shim::serve_vsock;
const _: fn() -> bool = shim::kernel_binder_present;
const _: fn(&Root) -> Outcome<()> = shim::register_kernel;
const _: fn(&Target, bool) -> Outcome<Connection> = shim::connect;
const _: fn(&Connection) -> &Root = |c| &c.service;
const _: bool = shim::RPC_AVAILABLE;

/// A death watch lives in listener lists shared between binder threads.
const _: () = {
    fn send<T: Send + 'static>() {}
    let _ = send::<shim::DeathWatch>;
};

/// main.rs turns control errors into anyhow errors with `?`.
const _: () = {
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    let _ = error::<ControlError>;
};

/// Any listener the callers write must be accepted as is.
#[allow(dead_code, reason = "a signature check; nothing calls it")]
fn new_listener<L: IDriverVmListener + Sync + 'static>(l: L) -> Listener {
    shim::new_listener(l)
}
