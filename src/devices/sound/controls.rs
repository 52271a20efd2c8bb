//! Control elements (VIRTIO_SND_F_CTLS): their info, values, TLV metadata and the gain
//! they put on a stream's samples.

use super::constants::{
    code, ctl_access, ctl_role, ctl_type, SNDRV_CTL_TLVT_DB_SCALE, TLV_DB_SCALE_MUTE,
};
use super::layout::{CtlInfo, CtlRange, CTL_ENUM_ITEM_SIZE, CTL_VALUE_SIZE};
use super::topology::{ControlKind, ControlSpec, VOLUME_MAX, VOLUME_STEP_CENTI_DB};

/// One control element and its current value.
#[derive(Debug, Clone)]
pub struct Control {
    /// What it is.
    pub spec: ControlSpec,
    /// Its single member's value.
    pub value: u32,
}

impl Control {
    /// A control at its default: full volume, switch on, first item.
    pub fn new(spec: ControlSpec) -> Self {
        let value = match spec.kind {
            ControlKind::Volume { .. } => VOLUME_MAX,
            ControlKind::Switch { .. } => 1,
            ControlKind::Enumerated { .. } => 0,
        };
        Self { spec, value }
    }

    fn access(&self) -> u32 {
        let rw = (1 << ctl_access::READ) | (1 << ctl_access::WRITE);
        match self.spec.kind {
            ControlKind::Volume { .. } => rw | (1 << ctl_access::TLV_READ),
            _ => rw,
        }
    }

    /// `virtio_snd_ctl_info` for this element.
    pub fn info(&self) -> CtlInfo {
        let (role, ctl_type, range) = match &self.spec.kind {
            ControlKind::Volume { .. } => (
                ctl_role::VOLUME,
                ctl_type::INTEGER,
                CtlRange::Integer {
                    min: 0,
                    max: VOLUME_MAX,
                    step: 1,
                },
            ),
            ControlKind::Switch { .. } => (ctl_role::MUTE, ctl_type::BOOLEAN, CtlRange::None),
            ControlKind::Enumerated { items } => (
                ctl_role::UNDEFINED,
                ctl_type::ENUMERATED,
                CtlRange::Enumerated {
                    items: items.len() as u32,
                },
            ),
        };
        CtlInfo {
            hda_fn_nid: 0,
            role,
            ctl_type,
            access: self.access(),
            count: 1,
            index: self.spec.index,
            name: self.spec.name.clone(),
            range,
        }
    }

    /// `virtio_snd_ctl_value` holding the current value.
    pub fn read(&self) -> [u8; CTL_VALUE_SIZE] {
        let mut v = [0u8; CTL_VALUE_SIZE];
        v[0..4].copy_from_slice(&self.value.to_le_bytes());
        v
    }

    /// Applies a `virtio_snd_ctl_value`; returns whether the value changed, or the status
    /// for a value outside the element's range.
    pub fn write(&mut self, value: &[u8]) -> Result<bool, u32> {
        let word = value
            .get(0..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(code::S_BAD_MSG)?;
        let ok = match &self.spec.kind {
            ControlKind::Volume { .. } => word <= VOLUME_MAX,
            ControlKind::Switch { .. } => word <= 1,
            ControlKind::Enumerated { items } => (word as usize) < items.len(),
        };
        if !ok {
            return Err(code::S_BAD_MSG);
        }
        let changed = self.value != word;
        self.value = word;
        Ok(changed)
    }

    /// Item names of an enumerated element, each in a 64-byte NUL-padded slot.
    pub fn enum_items(&self) -> Option<Vec<u8>> {
        let ControlKind::Enumerated { items } = &self.spec.kind else {
            return None;
        };
        let mut out = Vec::with_capacity(items.len() * CTL_ENUM_ITEM_SIZE);
        for item in items {
            let mut slot = [0u8; CTL_ENUM_ITEM_SIZE];
            let n = item.len().min(CTL_ENUM_ITEM_SIZE - 1);
            slot[..n].copy_from_slice(&item.as_bytes()[..n]);
            out.extend_from_slice(&slot);
        }
        Some(out)
    }

    /// The element's TLV (an ALSA dB scale for volumes), if it has TLV_READ access.
    pub fn tlv(&self) -> Option<Vec<u8>> {
        let ControlKind::Volume { .. } = self.spec.kind else {
            return None;
        };
        let min_centi_db = -((VOLUME_MAX * VOLUME_STEP_CENTI_DB) as i32);
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&SNDRV_CTL_TLVT_DB_SCALE.to_le_bytes());
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&min_centi_db.to_le_bytes());
        out.extend_from_slice(&(VOLUME_STEP_CENTI_DB | TLV_DB_SCALE_MUTE).to_le_bytes());
        Some(out)
    }
}

/// The linear gain the controls put on stream `stream` (1.0 exactly at full volume).
pub fn stream_gain(controls: &[Control], stream: u32) -> f64 {
    let mut gain = 1.0;
    for c in controls {
        match c.spec.kind {
            ControlKind::Volume { stream: s } if s == stream => {
                if c.value == 0 {
                    return 0.0;
                }
                if c.value < VOLUME_MAX {
                    let db = -f64::from((VOLUME_MAX - c.value) * VOLUME_STEP_CENTI_DB) / 100.0;
                    gain *= 10f64.powf(db / 20.0);
                }
            }
            ControlKind::Switch { stream: s } if s == stream && c.value == 0 => return 0.0,
            _ => {}
        }
    }
    gain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol() -> Control {
        Control::new(ControlSpec {
            name: "Master Playback Volume".into(),
            index: 0,
            kind: ControlKind::Volume { stream: 0 },
        })
    }

    #[test]
    fn volume_steps_are_half_db_and_zero_mutes() {
        let mut c = vec![vol()];
        assert_eq!(stream_gain(&c, 0), 1.0);
        c[0].value = 88; // -6 dB
        assert!((stream_gain(&c, 0) - 0.501).abs() < 0.001);
        c[0].value = 0;
        assert_eq!(stream_gain(&c, 0), 0.0);
        assert_eq!(stream_gain(&c, 1), 1.0);
    }

    #[test]
    fn writes_are_range_checked() {
        let mut c = vol();
        assert_eq!(c.write(&50u32.to_le_bytes()), Ok(true));
        assert_eq!(c.write(&50u32.to_le_bytes()), Ok(false));
        assert_eq!(c.write(&101u32.to_le_bytes()), Err(code::S_BAD_MSG));
        assert_eq!(c.value, 50);
    }

    #[test]
    fn tlv_is_an_alsa_db_scale() {
        let t = vol().tlv().unwrap();
        let w: Vec<u32> = t
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(w, [1, 8, (-5000i32) as u32, 50 | 0x10000]);
    }
}
