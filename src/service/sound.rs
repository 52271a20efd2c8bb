//! Builds virtio-snd devices from config: streams onto their backends, shared outputs
//! created once and handed to every guest that plays into them, tuner feeds registered
//! for the radio device to fill, jacks with a detection source watched on their own threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{
    Config, DeviceConfig, GuestConfig, JackConfig, JackDetect, OutputSink, SharePolicy,
    SoundConfig, SoundDirection, StreamEndpoint,
};
use crate::devices::sound::topology::{JackSpec, SoundTopology, StreamBackend, StreamSpec};
use crate::devices::sound::{SoundDevice, WeakSoundHandle};
use crate::hw::jack::alsa::AlsaJack;
use crate::hw::jack::sim::SimJack;
use crate::hw::jack::{initial_state, spawn_watch, JackListener, JackSource};
use crate::hw::pcm::alsa::{AlsaCapture, AlsaPlayback};
use crate::hw::pcm::feed::{AudioFeed, FeedCapture, PushFeed};
use crate::hw::pcm::null::{NullCapture, NullPlayback};
use crate::hw::pcm::shared::{OutputPolicy, SharedOutput};
use crate::hw::pcm::tone::ToneCapture;
use crate::hw::pcm::wav::{WavSink, WavSource};
use crate::hw::pcm::{PcmParams, PcmPlayback};

use crate::control::iface::{DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::Status;
use crate::kind::DeviceKind;
use crate::status::{DetailSource, DeviceDetail};

use super::kind::{BuildContext, Built, DetailView, KindService, Served};
use super::ServiceError;

#[path = "sound/detail.rs"]
mod detail;

/// The virtio-snd entry of the registry.
pub struct SoundKind;

impl KindService for SoundKind {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Sound
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_>,
        guest: &GuestConfig,
        device: &DeviceConfig,
    ) -> Result<Built, ServiceError> {
        let crate::config::DeviceSpec::Sound(cfg) = &device.spec else {
            return Err(ServiceError::Unsupported(device.id.clone()));
        };
        let resources = cx.shared(|cx| Ok(SoundResources::new(cx.config, cx.runtime_dir)))?;
        let snd = build(guest, device, cfg, resources)?;
        let detail: Arc<dyn DetailSource> = snd.status();
        Ok(Built {
            served: Served::Virtio(Box::new(snd)),
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

/// Bytes of audio a tuner feed buffers before it drops the oldest (about 2 s at 48 kHz
/// stereo S16).
const FEED_CAPACITY: usize = 384_000;

/// What several sound devices share: the `[[output]]`s and the tuner feeds.
pub struct SoundResources {
    base_dir: PathBuf,
    outputs: HashMap<String, SharedOutput>,
    feeds: Mutex<HashMap<String, Arc<PushFeed>>>,
    /// Feeds provided by other devices (the radio's tuner audio), by feed name.
    sources: Mutex<HashMap<String, Arc<dyn AudioFeed>>>,
}

impl SoundResources {
    /// Creates every `[[output]]` of `config`; relative file paths resolve in `base_dir`.
    pub fn new(config: &Config, base_dir: &Path) -> Self {
        let mut outputs = HashMap::new();
        for o in &config.outputs {
            let sink: Box<dyn PcmPlayback> = match &o.sink {
                OutputSink::Null => Box::new(NullPlayback::default()),
                OutputSink::Wav(path) => Box::new(WavSink::new(base_dir.join(path))),
                OutputSink::Alsa { card, device } => Box::new(AlsaPlayback::new(*card, *device)),
            };
            let frame = o.format.bytes() * u32::from(o.channels);
            let params = PcmParams {
                format: o.format,
                rate: o.rate,
                channels: o.channels,
                period_bytes: o.period_frames * frame,
                buffer_bytes: 4 * o.period_frames * frame,
            };
            let policy = match o.policy {
                SharePolicy::Mixed => OutputPolicy::Mixed,
                SharePolicy::Exclusive => OutputPolicy::Exclusive,
            };
            outputs.insert(
                o.name.clone(),
                SharedOutput::new(&o.name, sink, params, policy).with_idle_timeout(
                    std::time::Duration::from_millis(u64::from(o.exclusive_idle_timeout_ms)),
                ),
            );
        }
        Self {
            base_dir: base_dir.to_owned(),
            outputs,
            feeds: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// Makes `source` the feed named `name`, for sound devices built after this call (the
    /// service builds radio devices first). Returns false, changing nothing, if another
    /// source already provides that name.
    pub fn provide(&self, name: &str, source: Arc<dyn AudioFeed>) -> bool {
        let mut sources = match self.sources.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if sources.contains_key(name) {
            return false;
        }
        sources.insert(name.to_owned(), source);
        true
    }

    /// What a `source = "tuner"` stream with feed `name` records: the source a radio
    /// provided, or else the push feed of that name (silence until something pushes).
    pub fn capture_feed(&self, name: &str, params: PcmParams) -> Arc<dyn AudioFeed> {
        let provided = match self.sources.lock() {
            Ok(s) => s.get(name).cloned(),
            Err(p) => p.into_inner().get(name).cloned(),
        };
        match provided {
            Some(source) => source,
            None => self.feed(name, params),
        }
    }

    /// The tuner feed named `name` (created on first use): the radio device pushes its
    /// demodulated audio here.
    pub fn feed(&self, name: &str, params: PcmParams) -> Arc<PushFeed> {
        let mut feeds = match self.feeds.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        feeds
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(PushFeed::new(name, params, FEED_CAPACITY)))
            .clone()
    }

    /// A shared output by name.
    pub fn output(&self, name: &str) -> Option<&SharedOutput> {
        self.outputs.get(name)
    }
}

/// Builds the virtio-snd device `device` of `guest`.
pub fn build(
    guest: &GuestConfig,
    device: &DeviceConfig,
    sound: &SoundConfig,
    resources: &SoundResources,
) -> Result<SoundDevice, ServiceError> {
    let unsupported = |why: String| ServiceError::Os {
        device: device.id.clone(),
        why,
    };
    let mut jacks = Vec::new();
    let mut watched = Vec::new();
    for (id, j) in sound.jacks.iter().enumerate() {
        let tag = format!("{} jack {}", device.id, j.name);
        let connected = match jack_source(j, &resources.base_dir, &tag)? {
            Some(mut source) => {
                let state = initial_state(&tag, source.as_mut(), j.connected);
                log::info!(
                    "{tag}: {} ({})",
                    source.describe(),
                    if state { "plugged in" } else { "unplugged" }
                );
                watched.push((id as u32, tag, source, state));
                state
            }
            None => j.connected,
        };
        jacks.push(JackSpec {
            name: j.name.clone(),
            hda_fn_nid: 0,
            hda_reg_defconf: j.defconf,
            hda_reg_caps: j.caps,
            connected,
            remappable: j.remappable,
        });
    }
    let mut streams = Vec::new();
    let (mut n_out, mut n_in) = (0u32, 0u32);
    for s in &sound.streams {
        // The k-th output and the k-th input share HDA node k: one ALSA PCM device each.
        let nid = match s.direction {
            SoundDirection::Output => {
                n_out += 1;
                n_out - 1
            }
            SoundDirection::Input => {
                n_in += 1;
                n_in - 1
            }
        };
        let first_params = PcmParams {
            format: s.formats[0],
            rate: s.rates[0],
            channels: s.channels_max,
            period_bytes: 0,
            buffer_bytes: 0,
        };
        let path = |p: &PathBuf| resources.base_dir.join(p);
        let backend = match (&s.endpoint, s.direction) {
            (StreamEndpoint::Null, SoundDirection::Output) => {
                StreamBackend::Playback(Box::new(NullPlayback::default()))
            }
            (StreamEndpoint::Null, SoundDirection::Input) => {
                StreamBackend::Capture(Box::new(NullCapture::default()))
            }
            (StreamEndpoint::WavSink(p), _) => {
                StreamBackend::Playback(Box::new(WavSink::new(path(p))))
            }
            (StreamEndpoint::WavSource { path: p, looped }, _) => {
                let src = WavSource::load(path(p), *looped)
                    .map_err(|e| unsupported(format!("stream {}: {e}", s.name)))?;
                StreamBackend::Capture(Box::new(src))
            }
            (
                StreamEndpoint::Tone {
                    hz,
                    amplitude_percent,
                },
                _,
            ) => StreamBackend::Capture(Box::new(ToneCapture::new(
                f64::from(*hz),
                f64::from(*amplitude_percent) / 100.0,
            ))),
            (StreamEndpoint::Tuner(name), _) => StreamBackend::Capture(Box::new(FeedCapture::new(
                resources.capture_feed(name, first_params),
            ))),
            (
                StreamEndpoint::Shared {
                    output,
                    gain_percent,
                },
                _,
            ) => {
                let o = resources
                    .output(output)
                    .ok_or_else(|| unsupported(format!("no output {output}")))?;
                StreamBackend::Playback(Box::new(
                    o.client(&guest.name, f64::from(*gain_percent) / 100.0),
                ))
            }
            (StreamEndpoint::Alsa { card, device }, SoundDirection::Output) => {
                StreamBackend::Playback(Box::new(AlsaPlayback::new(*card, *device)))
            }
            (StreamEndpoint::Alsa { card, device }, SoundDirection::Input) => {
                StreamBackend::Capture(Box::new(AlsaCapture::new(*card, *device)))
            }
        };
        streams.push(StreamSpec {
            name: s.name.clone(),
            hda_fn_nid: nid,
            formats: s.formats.clone(),
            rates: s.rates.clone(),
            channels_min: s.channels_min,
            channels_max: s.channels_max,
            backend,
        });
    }
    for st in &streams {
        log::info!(
            "{}: stream {} -> {}",
            device.id,
            st.name,
            st.backend.describe()
        );
    }
    let mut topology = SoundTopology {
        device: device.id.clone(),
        jacks,
        streams,
        chmaps: Vec::new(),
        controls: Vec::new(),
    }
    .with_default_chmaps_and_controls();
    if !sound.controls {
        // No control means VIRTIO_SND_F_CTLS is not offered (a config space QEMU's stock
        // vhost-user-snd has room for); stream gains then stay at unity.
        topology.controls.clear();
    }
    let mut dev = SoundDevice::new(topology).with_request_limit(guest.policy.max_request_bytes);
    for (id, s) in sound.streams.iter().enumerate() {
        dev = dev.with_min_period(
            id,
            std::time::Duration::from_micros(u64::from(s.min_period_us)),
        );
    }
    for (jack, tag, source, state) in watched {
        let listener = JackToDevice {
            handle: dev.handle().downgrade(),
            jack,
        };
        spawn_watch(&tag, source, state, listener)
            .map_err(|e| unsupported(format!("cannot spawn the watcher of {tag}: {e}")))?;
    }
    Ok(dev)
}

/// The detection source of jack `j`, or `None` for a jack with a fixed state.
fn jack_source(
    j: &JackConfig,
    base_dir: &Path,
    tag: &str,
) -> Result<Option<Box<dyn JackSource>>, ServiceError> {
    match &j.detect {
        JackDetect::Fixed => Ok(None),
        JackDetect::Alsa { card, control } => Ok(Some(Box::new(AlsaJack::new(*card, control)))),
        JackDetect::Sim { file } => {
            let source = SimJack::new(base_dir.join(file));
            source
                .create_if_missing(j.connected)
                .map_err(|e| ServiceError::Os {
                    device: tag.to_owned(),
                    why: e.to_string(),
                })?;
            Ok(Some(Box::new(source)))
        }
    }
}

/// Hands a watched jack's changes to its device, for as long as the device exists.
struct JackToDevice {
    handle: WeakSoundHandle,
    jack: u32,
}

impl JackListener for JackToDevice {
    fn changed(&mut self, connected: bool) -> bool {
        match self.handle.upgrade() {
            Some(h) => {
                h.set_jack_connected(self.jack, connected);
                true
            }
            None => false,
        }
    }

    fn wanted(&self) -> bool {
        self.handle.upgrade().is_some()
    }
}
