//! A sound device's PCM streams on the control plane (the `sound` arm, V1's
//! `getAudioStreams`) and in drivervmctl.

use serde::Serialize;

use crate::control::iface::{self, DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::{aidl_int, aidl_long, Status};
use crate::service::kind::{json_of, DetailView};
use crate::status::{AudioDirection, AudioStreamDetail, AudioStreamState, DeviceDetail};

/// The streams a sound device publishes, as the `sound` arm.
pub(super) fn to_aidl(detail: &DeviceDetail) -> Option<Arm> {
    let streams: &Vec<AudioStreamDetail> = detail.get()?;
    Some(Arm::Sound(iface::SoundDetail::SoundDetail {
        r#streams: streams.iter().map(stream).collect(),
    }))
}

fn stream(s: &AudioStreamDetail) -> iface::AudioStream::AudioStream {
    use iface::AudioDirection::AudioDirection as D;
    use iface::AudioStreamState::AudioStreamState as S;
    iface::AudioStream::AudioStream {
        r#id: aidl_int(s.id),
        r#direction: match s.direction {
            AudioDirection::Output => D::OUTPUT,
            AudioDirection::Input => D::INPUT,
        },
        r#state: match s.state {
            AudioStreamState::Idle => S::IDLE,
            AudioStreamState::ParametersSet => S::PARAMETERS_SET,
            AudioStreamState::Prepared => S::PREPARED,
            AudioStreamState::Running => S::RUNNING,
            AudioStreamState::Stopped => S::STOPPED,
        },
        r#format: s.format.clone(),
        r#rateHz: aidl_int(s.rate_hz),
        r#channels: i32::from(s.channels),
        r#xruns: aidl_long(s.xruns),
    }
}

/// Names an AIDL stream state for humans.
fn state_name(s: iface::AudioStreamState::AudioStreamState) -> String {
    use iface::AudioStreamState::AudioStreamState as S;
    match s {
        S::IDLE => "idle".into(),
        S::PARAMETERS_SET => "parameters-set".into(),
        S::PREPARED => "prepared".into(),
        S::RUNNING => "running".into(),
        S::STOPPED => "stopped".into(),
        other => format!("unknown({})", other.0),
    }
}

/// One virtio-snd stream.
#[derive(Debug, Serialize)]
struct StreamView {
    id: i32,
    direction: &'static str,
    state: String,
    format: String,
    rate_hz: i32,
    channels: i32,
    xruns: i64,
}

/// The device's streams, in stream id order.
#[derive(Debug, Serialize)]
struct StreamsView {
    streams: Vec<StreamView>,
}

impl StreamsView {
    fn boxed(streams: &[iface::AudioStream::AudioStream]) -> Box<dyn DetailView> {
        Box::new(Self {
            streams: streams
                .iter()
                .map(|s| StreamView {
                    id: s.r#id,
                    direction: if s.r#direction == iface::AudioDirection::AudioDirection::INPUT {
                        "input"
                    } else {
                        "output"
                    },
                    state: state_name(s.r#state),
                    format: s.r#format.clone(),
                    rate_hz: s.r#rateHz,
                    channels: s.r#channels,
                    xruns: s.r#xruns,
                })
                .collect(),
        })
    }
}

/// drivervmctl's view of the `sound` arm.
pub(super) fn view(arm: &Arm) -> Option<Box<dyn DetailView>> {
    match arm {
        Arm::Sound(s) => Some(StreamsView::boxed(&s.r#streams)),
        _ => None,
    }
}

/// drivervmctl's view from a V1 service.
pub(super) fn view_v1(svc: &dyn IDriverVm, id: &str) -> Result<Box<dyn DetailView>, Status> {
    svc.r#getAudioStreams(id).map(|s| StreamsView::boxed(&s))
}

impl DetailView for StreamsView {
    fn json(&self) -> serde_json::Value {
        json_of(self)
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("streams: {}", self.streams.len())];
        for s in &self.streams {
            let shape = if s.format.is_empty() {
                "-".to_owned()
            } else {
                format!("{} {} Hz {} ch", s.format, s.rate_hz, s.channels)
            };
            lines.push(format!(
                "  {:>3}  {:<6}  {:<14}  {shape:<24}  xruns {}",
                s.id, s.direction, s.state, s.xruns
            ));
        }
        lines
    }
}
