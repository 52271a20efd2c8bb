//! A compile-time model of AOSP's `libbinder_rs` (crate `binder`, frameworks/native/libs/binder/rust),
//! vendor variant: the items drivervm's Soong control shim and the `vendor.drivervm-V1-rust`
//! crate it links against use, each with the signature, trait bounds and auto traits of the
//! real item. See README.md beside this crate.
//!
//! Nothing here talks to binder. Every function body diverges through [`model_only`]; the crate
//! exists so `tests/soong_shim` can type-check `src/control` under `--cfg soong` on a machine
//! without an AOSP tree. Values (status codes, exception numbers) are not modelled.

use std::any::Any;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;

/// Diverges: this crate only type-checks, it never runs.
#[track_caller]
fn model_only() -> ! {
    panic!("the libbinder_rs API model was called: it is for compile checks only")
}

/// The opaque pointer every real handle wraps; private, so no handle can be built outside.
#[allow(dead_code, reason = "a model handle is never built: nothing here runs")]
struct Handle;

/// Result of AIDL calls: a [`Status`] on error (`binder::Result`, lib.rs).
pub type Result<T> = std::result::Result<T, Status>;

/// Transport-level status codes (`binder::StatusCode`, a bindgen enum of binder_status.h).
#[repr(i32)]
#[non_exhaustive]
#[allow(non_camel_case_types, missing_docs)]
#[derive(Debug, Copy, Clone, Hash, PartialEq, Eq)]
pub enum StatusCode {
    OK,
    UNKNOWN_ERROR,
    NO_MEMORY,
    INVALID_OPERATION,
    BAD_VALUE,
    BAD_TYPE,
    NAME_NOT_FOUND,
    PERMISSION_DENIED,
    NO_INIT,
    ALREADY_EXISTS,
    DEAD_OBJECT,
    FAILED_TRANSACTION,
    BAD_INDEX,
    NOT_ENOUGH_DATA,
    WOULD_BLOCK,
    TIMED_OUT,
    UNKNOWN_TRANSACTION,
    FDS_NOT_ALLOWED,
    UNEXPECTED_NULL,
}

/// Exception codes a [`Status`] carries (`binder::ExceptionCode`, a bindgen enum).
#[repr(i32)]
#[non_exhaustive]
#[allow(non_camel_case_types, missing_docs)]
#[derive(Debug, Copy, Clone, Hash, PartialEq, Eq)]
pub enum ExceptionCode {
    NONE,
    SECURITY,
    BAD_PARCELABLE,
    ILLEGAL_ARGUMENT,
    NULL_POINTER,
    ILLEGAL_STATE,
    NETWORK_MAIN_THREAD,
    UNSUPPORTED_OPERATION,
    SERVICE_SPECIFIC,
    PARCELABLE,
    TRANSACTION_FAILED,
}

/// The outcome of a binder call (`binder::Status`, error.rs): owns an `AStatus`, so it is
/// `Send + Sync` but neither `Clone` nor `Default`.
pub struct Status(Handle);

impl Status {
    /// A service-specific error with an optional message (`new_service_specific_error_str`).
    pub fn new_service_specific_error_str<T: AsRef<str>>(_err: i32, _message: Option<T>) -> Status {
        model_only()
    }

    /// The exception code.
    pub fn exception_code(&self) -> ExceptionCode {
        model_only()
    }

    /// The transport status of a TRANSACTION_FAILED status (`AStatus_getStatus`), else OK.
    pub fn transaction_error(&self) -> StatusCode {
        model_only()
    }

    /// The service-specific error code, 0 when the exception is not SERVICE_SPECIFIC.
    pub fn service_specific_error(&self) -> i32 {
        model_only()
    }

    /// The status as text, as `AStatus_getDescription` renders it.
    pub fn get_description(&self) -> String {
        model_only()
    }
}

impl std::error::Error for Status {}

impl fmt::Display for Status {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model_only()
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model_only()
    }
}

/// A strong reference to any binder object (`binder::SpIBinder`, proxy.rs); compared by identity.
pub struct SpIBinder(Handle);

impl Clone for SpIBinder {
    fn clone(&self) -> Self {
        model_only()
    }
}

impl PartialEq for SpIBinder {
    fn eq(&self, _other: &Self) -> bool {
        model_only()
    }
}

impl Eq for SpIBinder {}

impl PartialOrd for SpIBinder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SpIBinder {
    fn cmp(&self, _other: &Self) -> Ordering {
        model_only()
    }
}

impl fmt::Debug for SpIBinder {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        model_only()
    }
}

/// Super-trait of every AIDL interface (`binder::Interface`, binder.rs). The real trait's
/// `DowncastSync` bound implies `Any`, hence `'static`.
pub trait Interface: Send + Sync + Any {
    /// The object as a generic binder; the real default panics for non-binder objects.
    fn as_binder(&self) -> SpIBinder {
        model_only()
    }
}

/// Conversion of a generic binder into a typed interface (`binder::FromIBinder`); the AIDL
/// compiler implements it for `dyn IFoo`.
pub trait FromIBinder: Interface {
    /// The binder as this interface, or BAD_TYPE.
    fn try_from(ibinder: SpIBinder) -> std::result::Result<Strong<Self>, StatusCode>;
}

/// A strong reference to a typed binder interface (`binder::Strong`, binder.rs).
pub struct Strong<I: FromIBinder + ?Sized>(Box<I>);

impl<I: FromIBinder + ?Sized> Clone for Strong<I> {
    fn clone(&self) -> Self {
        model_only()
    }
}

impl<I: FromIBinder + ?Sized> Deref for Strong<I> {
    type Target = I;

    fn deref(&self) -> &I {
        &self.0
    }
}

impl<I: FromIBinder + ?Sized> Borrow<I> for Strong<I> {
    fn borrow(&self) -> &I {
        &self.0
    }
}

impl<I: FromIBinder + ?Sized> AsRef<I> for Strong<I> {
    fn as_ref(&self) -> &I {
        &self.0
    }
}

impl<I: FromIBinder + fmt::Debug + ?Sized> fmt::Debug for Strong<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<I: FromIBinder + ?Sized> PartialEq for Strong<I> {
    fn eq(&self, _other: &Self) -> bool {
        model_only()
    }
}

impl<I: FromIBinder + ?Sized> Eq for Strong<I> {}

impl<I: FromIBinder + ?Sized> PartialOrd for Strong<I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<I: FromIBinder + ?Sized> Ord for Strong<I> {
    fn cmp(&self, _other: &Self) -> Ordering {
        model_only()
    }
}

/// A death notification's callback holder (`binder::DeathRecipient`, binder.rs). It owns a
/// raw `AIBinder_DeathRecipient`, so only the auto traits libbinder_rs asserts are modelled.
pub struct DeathRecipient(Handle);

// SAFETY: not a real impl: the model is never run. libbinder_rs declares the same.
unsafe impl Send for DeathRecipient {}

impl DeathRecipient {
    /// A recipient that calls `callback` when a binder it is linked to dies.
    pub fn new<F>(_callback: F) -> DeathRecipient
    where
        F: Fn() + Send + Sync + 'static,
    {
        model_only()
    }
}

/// Operations on any binder object (`binder::IBinder`, binder.rs), the death links here.
pub trait IBinder {
    /// Registers `recipient` for the death of this object's process.
    fn link_to_death(
        &mut self,
        recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode>;
    /// Removes a registration made with `link_to_death`.
    fn unlink_to_death(
        &mut self,
        recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode>;
}

impl IBinder for SpIBinder {
    fn link_to_death(
        &mut self,
        _recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode> {
        model_only()
    }
    fn unlink_to_death(
        &mut self,
        _recipient: &mut DeathRecipient,
    ) -> std::result::Result<(), StatusCode> {
        model_only()
    }
}

impl From<StatusCode> for Status {
    fn from(_code: StatusCode) -> Self {
        model_only()
    }
}

/// Options for a new local binder (`binder::BinderFeatures`). The vendor variant is built with
/// `cfg(android_vndk)`, which removes `set_requesting_sid`; only the hidden field is left.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct BinderFeatures {
    #[doc(hidden)]
    pub _non_exhaustive: (),
}

/// Registers `binder` with servicemanager under `identifier` (service.rs).
pub fn add_service(_identifier: &str, _binder: SpIBinder) -> std::result::Result<(), StatusCode> {
    model_only()
}

/// The named service as interface `T`, failing at once when it is not registered (service.rs).
pub fn check_interface<T: FromIBinder + ?Sized>(
    _name: &str,
) -> std::result::Result<Strong<T>, StatusCode> {
    model_only()
}

/// The calling thread's binder state (`binder::ThreadState`, state.rs).
pub struct ThreadState;

impl ThreadState {
    /// The effective uid of the process that sent the transaction being handled (`uid_t`,
    /// a `u32` on Android), or this process's own outside a transaction.
    pub fn get_calling_uid() -> u32 {
        model_only()
    }
}

/// Process-wide binder thread pool control (`binder::ProcessState`, state.rs).
pub struct ProcessState;

impl ProcessState {
    /// Starts the binder thread pool.
    pub fn start_thread_pool() {
        model_only()
    }
}
