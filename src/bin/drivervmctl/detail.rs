//! A device's per-kind detail as drivervmctl prints it. Each kind's registry entry
//! (`drivervm::service::registry`) gives the one serializable view of its detail: `--json`
//! prints the view, text prints its lines, so the two never disagree.

use serde_json::{json, Value};

use drivervm::control;
use drivervm::control::iface::{self, IDriverVm::IDriverVm};
use drivervm::service::kind::DetailView;
use drivervm::service::registry;

/// The first vendor.drivervm version with `getDetail`.
pub const GET_DETAIL_VERSION: i32 = 2;

/// What `drivervmctl device` shows beyond link state and counters.
pub enum Detail {
    /// The view of the device's kind.
    Kind(Box<dyn DetailView>),
    /// The service could not give the detail (a backend that is not there), as it put it.
    Unavailable(String),
    /// A kind this drivervmctl does not know.
    None,
}

impl Detail {
    /// Asks a service speaking interface `version` for device `d`'s detail: one `getDetail`
    /// from V2 on, the getter of the device's kind before. An error becomes
    /// [`Detail::Unavailable`].
    pub fn fetch(svc: &dyn IDriverVm, d: &iface::DeviceStatus::DeviceStatus, version: i32) -> Self {
        let got = if version >= GET_DETAIL_VERSION {
            svc.r#getDetail(&d.r#id).map(|arm| registry::view(&arm))
        } else {
            control::kind_from_aidl(d.r#kind)
                .and_then(registry::find)
                .and_then(|k| k.view_v1(svc, &d.r#id))
                .transpose()
        };
        match got {
            Ok(Some(view)) => Self::Kind(view),
            Ok(None) => Self::None,
            Err(s) => Self::Unavailable(control::describe_status(&s).1),
        }
    }

    /// The detail as JSON (`null` for no detail).
    pub fn json(&self) -> Value {
        match self {
            Self::Kind(view) => view.json(),
            Self::Unavailable(why) => json!({ "unavailable": why }),
            Self::None => Value::Null,
        }
    }

    /// The detail as text lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Kind(view) => view.lines(),
            Self::Unavailable(why) => vec![format!("detail: unavailable ({why})")],
            Self::None => Vec::new(),
        }
    }
}
