//! Builds virtio-radio devices from config: the tuner backend, checked against the region.

use std::sync::Arc;

use crate::config::{DeviceConfig, DeviceSpec, GuestConfig, RadioConfig, RadioTuner};
use crate::devices::radio::{RadioDevice, RadioSettings};
use crate::hw::tuner::sim::{SimTuner, SimTunerConfig};
use crate::hw::tuner::v4l2::V4l2Tuner;
use crate::hw::tuner::Tuner;

use crate::control::iface::{DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::Status;
use crate::kind::DeviceKind;
use crate::status::{DetailSource, DeviceDetail};

use super::kind::{BuildContext, Built, DetailView, KindService, Phase, Served};
use super::sound::SoundResources;
use super::ServiceError;

#[path = "radio/detail.rs"]
mod detail;

/// The virtio-radio entry of the registry.
pub struct RadioKind;

impl KindService for RadioKind {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Radio
    }

    /// A simulated tuner's audio must be offered before the sound devices that capture it
    /// are built.
    fn phase(&self) -> Phase {
        Phase::Providers
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_>,
        _guest: &GuestConfig,
        device: &DeviceConfig,
    ) -> Result<Built, ServiceError> {
        let DeviceSpec::Radio(cfg) = &device.spec else {
            return Err(ServiceError::Unsupported(device.id.clone()));
        };
        let radio = build(device, cfg)?;
        if let Some(audio) = radio.audio() {
            let resources = cx.shared(|cx| Ok(SoundResources::new(cx.config, cx.runtime_dir)))?;
            if !resources.provide(&cfg.audio_feed, audio) {
                return Err(ServiceError::Os {
                    device: device.id.clone(),
                    why: format!(
                        "audio feed \"{}\" is already fed by another radio",
                        cfg.audio_feed
                    ),
                });
            }
        }
        let detail: Arc<dyn DetailSource> = radio.status();
        Ok(Built {
            served: Served::Virtio(Box::new(radio)),
            detail: Some(detail),
        })
    }

    fn to_aidl(&self, detail: &DeviceDetail) -> Option<Arm> {
        detail::to_aidl(detail)
    }

    fn view(&self, arm: &Arm) -> Option<Box<dyn DetailView>> {
        detail::view(arm)
    }

    fn view_v1(
        &self,
        svc: &dyn IDriverVm,
        id: &str,
    ) -> Option<Result<Box<dyn DetailView>, Status>> {
        Some(detail::view_v1(svc, id))
    }
}

/// Builds the radio device `device` with its tuner.
pub fn build(device: &DeviceConfig, cfg: &RadioConfig) -> Result<RadioDevice, ServiceError> {
    let fail = |why: String| ServiceError::Os {
        device: device.id.clone(),
        why,
    };
    let tuner: Box<dyn Tuner> = match &cfg.tuner {
        RadioTuner::Sim {
            tune_latency,
            seek_dwell,
            stations,
        } => Box::new(
            SimTuner::new(SimTunerConfig {
                bands: cfg.bands.clone(),
                stations: stations.clone(),
                tune_latency: *tune_latency,
                seek_dwell: *seek_dwell,
                signal_threshold: cfg.signal_threshold,
                audio_name: cfg.audio_feed.clone(),
            })
            .map_err(fail)?,
        ),
        RadioTuner::V4l2 { device: path } => {
            let t = V4l2Tuner::open(path, cfg.signal_threshold)
                .map_err(|e| fail(format!("{}: {e}", path.display())))?;
            let hw = t.hardware_bands();
            for b in &cfg.bands {
                if !hw
                    .iter()
                    .any(|h| h.low_khz <= b.low_khz && b.high_khz <= h.high_khz)
                {
                    return Err(fail(format!(
                        "band {}..{} kHz is outside what {} receives ({hw:?})",
                        b.low_khz,
                        b.high_khz,
                        path.display()
                    )));
                }
            }
            Box::new(t)
        }
    };
    let settings = RadioSettings {
        device_id: cfg.device_id,
        bands: cfg.bands.clone(),
        fm_deemphasis: cfg.fm_deemphasis,
        snd_stream_id: cfg.snd_stream_id,
        snd_hda_fn_nid: cfg.snd_hda_fn_nid,
        snd_jack_id: cfg.snd_jack_id,
    };
    Ok(RadioDevice::new(device.id.clone(), settings, tuner))
}
