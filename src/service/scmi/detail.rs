//! An SCMI agent's clocks on the control plane (the `scmi` arm, V1's `getClocks`) and in
//! drivervmctl.

use serde::Serialize;

use crate::control::iface::{self, DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::{aidl_int, aidl_long, Status};
use crate::service::kind::{json_of, DetailView};
use crate::status::{ClockDetail, DeviceDetail};

/// The clocks an SCMI device publishes, as the `scmi` arm.
pub(super) fn to_aidl(detail: &DeviceDetail) -> Option<Arm> {
    let clocks: &Vec<ClockDetail> = detail.get()?;
    Some(Arm::Scmi(iface::ScmiDetail::ScmiDetail {
        r#clocks: clocks.iter().map(clock).collect(),
    }))
}

fn clock(c: &ClockDetail) -> iface::ClockInfo::ClockInfo {
    iface::ClockInfo::ClockInfo {
        r#id: aidl_int(c.id),
        r#name: c.name.clone(),
        r#rateHz: aidl_long(c.rate_hz),
        r#enabled: c.enabled,
        r#owner: c.owner.clone(),
    }
}

/// One clock as an SCMI agent sees it.
#[derive(Debug, Serialize)]
struct ClockView {
    id: i32,
    name: String,
    rate_hz: i64,
    enabled: bool,
    owner: String,
}

/// The agent's clocks, in SCMI id order.
#[derive(Debug, Serialize)]
struct ClocksView {
    clocks: Vec<ClockView>,
}

impl ClocksView {
    fn boxed(clocks: &[iface::ClockInfo::ClockInfo]) -> Box<dyn DetailView> {
        Box::new(Self {
            clocks: clocks
                .iter()
                .map(|c| ClockView {
                    id: c.r#id,
                    name: c.r#name.clone(),
                    rate_hz: c.r#rateHz,
                    enabled: c.r#enabled,
                    owner: c.r#owner.clone(),
                })
                .collect(),
        })
    }
}

/// drivervmctl's view of the `scmi` arm.
pub(super) fn view(arm: &Arm) -> Option<Box<dyn DetailView>> {
    match arm {
        Arm::Scmi(s) => Some(ClocksView::boxed(&s.r#clocks)),
        _ => None,
    }
}

/// drivervmctl's view from a V1 service.
pub(super) fn view_v1(svc: &dyn IDriverVm, id: &str) -> Result<Box<dyn DetailView>, Status> {
    svc.r#getClocks(id).map(|c| ClocksView::boxed(&c))
}

impl DetailView for ClocksView {
    fn json(&self) -> serde_json::Value {
        json_of(self)
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("clocks: {}", self.clocks.len())];
        for c in &self.clocks {
            lines.push(format!(
                "  {:>3}  {:<24} {:>12} Hz  {:<8} {}",
                c.id,
                c.name,
                c.rate_hz,
                if c.enabled { "enabled" } else { "disabled" },
                if c.owner.is_empty() { "-" } else { &c.owner }
            ));
        }
        lines
    }
}
