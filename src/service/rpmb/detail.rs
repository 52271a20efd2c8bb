//! An RPMB partition's public state on the control plane (the `rpmb` arm, V1's
//! `getRpmbInfo`) and in drivervmctl. No type here has a field that could carry the key.

use serde::Serialize;

use crate::control::iface::{self, DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::{aidl_long, Status};
use crate::service::kind::{json_of, DetailView};
use crate::status::{DeviceDetail, RpmbDetail};

/// The partition state an RPMB device publishes, as the `rpmb` arm.
pub(super) fn to_aidl(detail: &DeviceDetail) -> Option<Arm> {
    let r: &RpmbDetail = detail.get()?;
    Some(Arm::Rpmb(iface::RpmbInfo::RpmbInfo {
        r#capacityBytes: aidl_long(r.capacity_bytes),
        r#writeCounter: i64::from(r.write_counter),
        r#keyProgrammed: r.key_programmed,
    }))
}

/// An RPMB partition's public state.
#[derive(Debug, Serialize)]
struct RpmbView {
    capacity_bytes: i64,
    write_counter: i64,
    key_programmed: bool,
}

impl RpmbView {
    fn boxed(r: &iface::RpmbInfo::RpmbInfo) -> Box<dyn DetailView> {
        Box::new(Self {
            capacity_bytes: r.r#capacityBytes,
            write_counter: r.r#writeCounter,
            key_programmed: r.r#keyProgrammed,
        })
    }
}

/// drivervmctl's view of the `rpmb` arm.
pub(super) fn view(arm: &Arm) -> Option<Box<dyn DetailView>> {
    match arm {
        Arm::Rpmb(r) => Some(RpmbView::boxed(r)),
        _ => None,
    }
}

/// drivervmctl's view from a V1 service.
pub(super) fn view_v1(svc: &dyn IDriverVm, id: &str) -> Result<Box<dyn DetailView>, Status> {
    svc.r#getRpmbInfo(id).map(|r| RpmbView::boxed(&r))
}

impl DetailView for RpmbView {
    fn json(&self) -> serde_json::Value {
        json_of(self)
    }

    fn lines(&self) -> Vec<String> {
        vec![
            format!("capacity    {} bytes", self.capacity_bytes),
            format!("write count {}", self.write_counter),
            format!(
                "key         {}",
                if self.key_programmed {
                    "programmed"
                } else {
                    "not programmed"
                }
            ),
        ]
    }
}
