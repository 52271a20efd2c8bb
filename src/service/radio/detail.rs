//! A radio's tuner state on the control plane (the `radio` arm, V1's `getRadioInfo`) and in
//! drivervmctl.

use serde::Serialize;

use crate::control::iface::{self, DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::{aidl_int, Status};
use crate::service::kind::{json_of, DetailView};
use crate::status::{DeviceDetail, RadioBand, RadioDetail};

/// The tuner state a radio device publishes, as the `radio` arm.
pub(super) fn to_aidl(detail: &DeviceDetail) -> Option<Arm> {
    use iface::RadioBand::RadioBand as B;
    let r: &RadioDetail = detail.get()?;
    Some(Arm::Radio(iface::RadioInfo::RadioInfo {
        r#band: match r.band {
            RadioBand::Fm => B::FM,
            RadioBand::Am => B::AM,
        },
        r#frequencyKhz: aidl_int(r.frequency_khz),
        r#signalPercent: i32::from(r.signal_percent.min(100)),
        r#stereo: r.stereo,
        r#rds: r.rds.as_ref().map(|d| iface::RdsInfo::RdsInfo {
            r#pi: i32::from(d.pi),
            r#ps: d.ps.clone(),
            r#rt: d.rt.clone(),
            r#pty: i32::from(d.pty),
        }),
    }))
}

/// The RDS a tuner decoded.
#[derive(Debug, Serialize)]
struct RdsView {
    pi: i32,
    ps: String,
    rt: String,
    pty: i32,
}

/// A radio's tuner state.
#[derive(Debug, Serialize)]
struct RadioView {
    band: &'static str,
    frequency_khz: i32,
    signal_percent: i32,
    stereo: bool,
    rds: Option<RdsView>,
}

impl RadioView {
    fn boxed(r: &iface::RadioInfo::RadioInfo) -> Box<dyn DetailView> {
        Box::new(Self {
            band: if r.r#band == iface::RadioBand::RadioBand::AM {
                "AM"
            } else {
                "FM"
            },
            frequency_khz: r.r#frequencyKhz,
            signal_percent: r.r#signalPercent,
            stereo: r.r#stereo,
            rds: r.r#rds.as_ref().map(|x| RdsView {
                pi: x.r#pi,
                ps: x.r#ps.clone(),
                rt: x.r#rt.clone(),
                pty: x.r#pty,
            }),
        })
    }
}

/// drivervmctl's view of the `radio` arm.
pub(super) fn view(arm: &Arm) -> Option<Box<dyn DetailView>> {
    match arm {
        Arm::Radio(r) => Some(RadioView::boxed(r)),
        _ => None,
    }
}

/// drivervmctl's view from a V1 service.
pub(super) fn view_v1(svc: &dyn IDriverVm, id: &str) -> Result<Box<dyn DetailView>, Status> {
    svc.r#getRadioInfo(id).map(|r| RadioView::boxed(&r))
}

impl DetailView for RadioView {
    fn json(&self) -> serde_json::Value {
        json_of(self)
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("tuned       {} {} kHz", self.band, self.frequency_khz),
            format!(
                "signal      {}%{}",
                self.signal_percent,
                if self.stereo { " stereo" } else { "" }
            ),
        ];
        if let Some(x) = &self.rds {
            lines.push(format!(
                "rds         PI {:04X} PS \"{}\" PTY {} RT \"{}\"",
                x.pi, x.ps, x.pty, x.rt
            ));
        }
        lines
    }
}
