//! Control-queue requests: each is answered at once with a `virtio_snd_hdr` status, followed
//! by the requested information on success.
//!
//! Status choices (virtio 1.3 §5.14.6): a request that is too short, names an item that does
//! not exist, carries an out-of-range value or asks for a transition the PCM lifecycle does
//! not allow gets BAD_MSG; a well-formed request for something the item does not offer
//! (a format, rate or feature it lacks, remapping a fixed jack, TLV writes, an unknown
//! request code, control requests without VIRTIO_SND_F_CTLS) gets NOT_SUPP; a backend that
//! fails to open or start gets IO_ERR.

use std::time::Instant;

use log::{debug, warn};

use super::constants::{code, VIRTIO_SND_JACK_F_REMAP};
use super::layout::{
    ctl_event, ChmapInfo, JackInfo, PcmInfo, QueryInfo, Reader, SetParams, CHMAP_INFO_SIZE,
    CTL_INFO_SIZE, CTL_VALUE_SIZE, HDR_SIZE, JACK_INFO_SIZE, PCM_INFO_SIZE, PCM_XFER_SIZE,
};
use super::SoundDevice;
use crate::devices::{Completer, Request};

/// A control request's answer: status and, on success, the payload after the header.
type Answer = (u32, Vec<u8>);

fn status(s: u32) -> Answer {
    (s, Vec::new())
}

/// Mask bit for a control's value change in `virtio_snd_ctl_event::mask`.
const MASK_VALUE: u16 = 1 << super::constants::ctl_evt_mask::VALUE;

impl SoundDevice {
    /// Answers one control request.
    pub(super) fn handle_control(
        &mut self,
        request: Request,
        completer: &mut dyn Completer,
        now: Instant,
    ) {
        let (st, payload) = self.answer(&request, completer, now);
        if st != code::S_OK {
            debug!(
                "{}: control request {:02x?} -> status {st:#x}",
                self.device,
                &request.data[..request.data.len().min(8)]
            );
        }
        let mut resp = Vec::with_capacity(HDR_SIZE + payload.len());
        resp.extend_from_slice(&st.to_le_bytes());
        if st == code::S_OK {
            resp.extend_from_slice(&payload);
        }
        if resp.len() > request.writable_len {
            warn!(
                "{}: response of {} bytes does not fit the driver's {}-byte buffer",
                self.device,
                resp.len(),
                request.writable_len
            );
            resp.truncate(HDR_SIZE.min(request.writable_len));
        }
        if let Err(e) = completer.complete(request.token, &resp) {
            warn!("{}: {e}", self.device);
        }
    }

    fn answer(&mut self, request: &Request, completer: &mut dyn Completer, now: Instant) -> Answer {
        let mut r = Reader::new(&request.data);
        let Some(req) = r.u32() else {
            return status(code::S_BAD_MSG);
        };
        // Room for the answer after the status header.
        let room = request.writable_len.saturating_sub(HDR_SIZE);
        match req {
            code::JACK_INFO => self.query(
                &mut r,
                room,
                self.jacks.len(),
                JACK_INFO_SIZE,
                |d, i, out| {
                    if let Some(j) = d.jacks.get(i) {
                        JackInfo {
                            hda_fn_nid: j.spec.hda_fn_nid,
                            features: if j.spec.remappable {
                                1 << VIRTIO_SND_JACK_F_REMAP
                            } else {
                                0
                            },
                            hda_reg_defconf: j.defconf,
                            hda_reg_caps: j.spec.hda_reg_caps,
                            connected: j.connected,
                        }
                        .write(out)
                    }
                },
            ),
            code::JACK_REMAP => self.jack_remap(&mut r),
            code::PCM_INFO => self.query(
                &mut r,
                room,
                self.streams.len(),
                PCM_INFO_SIZE,
                |d, i, out| {
                    if let Some(s) = d.streams.get(i) {
                        PcmInfo {
                            hda_fn_nid: s.spec.hda_fn_nid,
                            features: s.offered_features(),
                            formats: s.spec.format_bits(),
                            rates: s.spec.rate_bits(),
                            direction: s.spec.direction().wire(),
                            channels_min: s.spec.channels_min,
                            channels_max: s.spec.channels_max,
                        }
                        .write(out)
                    }
                },
            ),
            code::PCM_SET_PARAMS
            | code::PCM_PREPARE
            | code::PCM_RELEASE
            | code::PCM_START
            | code::PCM_STOP => self.pcm_command(req, &mut r, completer, now),
            code::CHMAP_INFO => self.query(
                &mut r,
                room,
                self.chmaps.len(),
                CHMAP_INFO_SIZE,
                |d, i, out| {
                    if let Some(c) = d.chmaps.get(i) {
                        ChmapInfo {
                            hda_fn_nid: c.hda_fn_nid,
                            direction: c.direction.wire(),
                            positions: c.positions.clone(),
                        }
                        .write(out)
                    }
                },
            ),
            code::CTL_INFO
            | code::CTL_ENUM_ITEMS
            | code::CTL_READ
            | code::CTL_WRITE
            | code::CTL_TLV_READ
            | code::CTL_TLV_WRITE
            | code::CTL_TLV_COMMAND => {
                if !self.ctls_negotiated {
                    return status(code::S_NOT_SUPP);
                }
                if req == code::CTL_INFO {
                    return self.query(
                        &mut r,
                        room,
                        self.controls.len(),
                        CTL_INFO_SIZE,
                        |d, i, out| {
                            if let Some(c) = d.controls.get(i) {
                                c.info().write(out)
                            }
                        },
                    );
                }
                self.control_request(req, &mut r, room, completer)
            }
            _ => status(code::S_NOT_SUPP),
        }
    }

    /// The common `virtio_snd_query_info` request: `count` items from `start_id`, each
    /// written by `item` and padded to the driver's `size`.
    fn query(
        &self,
        r: &mut Reader<'_>,
        room: usize,
        items: usize,
        item_size: usize,
        item: impl Fn(&Self, usize, &mut Vec<u8>),
    ) -> Answer {
        let Some(q) = QueryInfo::parse(r).filter(|_| r.rest().is_empty()) else {
            return status(code::S_BAD_MSG);
        };
        let start = q.start_id as usize;
        let count = q.count as usize;
        let size = q.size as usize;
        let in_range = start.checked_add(count).is_some_and(|end| end <= items);
        let fits = count.checked_mul(size).is_some_and(|n| n <= room);
        if !in_range || size < item_size || size > super::MAX_QUERY_ITEM_SIZE || !fits {
            return status(code::S_BAD_MSG);
        }
        let mut out = Vec::with_capacity(count * size);
        for i in start..start + count {
            let at = out.len();
            item(self, i, &mut out);
            out.resize(at + size, 0);
        }
        (code::S_OK, out)
    }

    fn jack_remap(&mut self, r: &mut Reader<'_>) -> Answer {
        let (Some(id), Some(association), Some(sequence)) = (r.u32(), r.u32(), r.u32()) else {
            return status(code::S_BAD_MSG);
        };
        if !r.rest().is_empty() {
            return status(code::S_BAD_MSG);
        }
        let Some(jack) = self.jacks.get_mut(id as usize) else {
            return status(code::S_BAD_MSG);
        };
        if !jack.spec.remappable {
            return status(code::S_NOT_SUPP);
        }
        // HDA default configuration: association in bits 7:4, sequence in bits 3:0.
        if association > 0xf || sequence > 0xf {
            return status(code::S_BAD_MSG);
        }
        jack.defconf = (jack.defconf & !0xff) | (association << 4) | sequence;
        status(code::S_OK)
    }

    fn pcm_command(
        &mut self,
        req: u32,
        r: &mut Reader<'_>,
        completer: &mut dyn Completer,
        now: Instant,
    ) -> Answer {
        let Some(id) = r.u32() else {
            return status(code::S_BAD_MSG);
        };
        let params = if req == code::PCM_SET_PARAMS {
            match SetParams::parse(r) {
                Some(p) => Some(p),
                None => return status(code::S_BAD_MSG),
            }
        } else {
            None
        };
        if !r.rest().is_empty() {
            return status(code::S_BAD_MSG);
        }
        let Some(stream) = self.streams.get_mut(id as usize) else {
            return status(code::S_BAD_MSG);
        };
        if let Some(p) = params {
            let too_big = p.period_bytes as usize + PCM_XFER_SIZE > self.max_io_request;
            if too_big && stream.spec.direction() == super::topology::Direction::Output {
                warn!(
                    "{}: stream {id}: period of {} bytes exceeds this guest's request limit",
                    self.device, p.period_bytes
                );
                return status(code::S_NOT_SUPP);
            }
        }
        let st = match (req, params) {
            (code::PCM_SET_PARAMS, Some(p)) => stream.set_params(p),
            (code::PCM_PREPARE, _) => stream.prepare(),
            (code::PCM_START, _) => stream.start(now),
            (code::PCM_STOP, _) => stream.stop(),
            (code::PCM_RELEASE, _) => stream.release(completer),
            _ => code::S_BAD_MSG,
        };
        if st != code::S_OK {
            warn!(
                "{}: stream {id} ({}) in state {:?}: request {req:#x} -> {st:#x}",
                self.device,
                stream.spec.name,
                stream.state()
            );
        }
        self.publish(id as usize);
        status(st)
    }

    fn control_request(
        &mut self,
        req: u32,
        r: &mut Reader<'_>,
        room: usize,
        completer: &mut dyn Completer,
    ) -> Answer {
        let Some(id) = r.u32() else {
            return status(code::S_BAD_MSG);
        };
        let Some(ctl) = self.controls.get_mut(id as usize) else {
            return status(code::S_BAD_MSG);
        };
        match req {
            code::CTL_ENUM_ITEMS => {
                if !r.rest().is_empty() {
                    return status(code::S_BAD_MSG);
                }
                match ctl.enum_items() {
                    Some(items) if items.len() <= room => (code::S_OK, items),
                    _ => status(code::S_BAD_MSG),
                }
            }
            code::CTL_READ => {
                if !r.rest().is_empty() || room < CTL_VALUE_SIZE {
                    return status(code::S_BAD_MSG);
                }
                (code::S_OK, ctl.read().to_vec())
            }
            code::CTL_WRITE => {
                let Some(value) = r.bytes(CTL_VALUE_SIZE).filter(|_| r.rest().is_empty()) else {
                    return status(code::S_BAD_MSG);
                };
                match ctl.write(value) {
                    Ok(changed) => {
                        if changed {
                            self.events
                                .push(ctl_event(id as u16, MASK_VALUE), completer);
                        }
                        status(code::S_OK)
                    }
                    Err(s) => status(s),
                }
            }
            code::CTL_TLV_READ => {
                if !r.rest().is_empty() {
                    return status(code::S_BAD_MSG);
                }
                match ctl.tlv() {
                    Some(tlv) if tlv.len() <= room => (code::S_OK, tlv),
                    Some(_) => status(code::S_BAD_MSG),
                    None => status(code::S_NOT_SUPP),
                }
            }
            // TLV_WRITE and TLV_COMMAND: no element this device serves accepts TLV data.
            _ => status(code::S_NOT_SUPP),
        }
    }
}
