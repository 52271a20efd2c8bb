use super::*;
use crate::devices::rpmb::constants::*;
use crate::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use crate::devices::rpmb::frame::Frame;
use crate::devices::rpmb::test_hmac::hmac_sha256;
use crate::hw::rpmb::memory::MemoryRpmb;
use std::mem::{offset_of, size_of};

#[test]
fn sg_io_hdr_layout_matches_the_kernel() {
    assert_eq!(SG_IO, 0x2285);
    assert_eq!(size_of::<SgIoHdr>(), 88);
    assert_eq!(offset_of!(SgIoHdr, interface_id), 0);
    assert_eq!(offset_of!(SgIoHdr, dxfer_direction), 4);
    assert_eq!(offset_of!(SgIoHdr, cmd_len), 8);
    assert_eq!(offset_of!(SgIoHdr, mx_sb_len), 9);
    assert_eq!(offset_of!(SgIoHdr, iovec_count), 10);
    assert_eq!(offset_of!(SgIoHdr, dxfer_len), 12);
    assert_eq!(offset_of!(SgIoHdr, dxferp), 16);
    assert_eq!(offset_of!(SgIoHdr, cmdp), 24);
    assert_eq!(offset_of!(SgIoHdr, sbp), 32);
    assert_eq!(offset_of!(SgIoHdr, timeout), 40);
    assert_eq!(offset_of!(SgIoHdr, flags), 44);
    assert_eq!(offset_of!(SgIoHdr, pack_id), 48);
    assert_eq!(offset_of!(SgIoHdr, usr_ptr), 56);
    assert_eq!(offset_of!(SgIoHdr, status), 64);
    assert_eq!(offset_of!(SgIoHdr, masked_status), 65);
    assert_eq!(offset_of!(SgIoHdr, msg_status), 66);
    assert_eq!(offset_of!(SgIoHdr, sb_len_wr), 67);
    assert_eq!(offset_of!(SgIoHdr, host_status), 68);
    assert_eq!(offset_of!(SgIoHdr, driver_status), 70);
    assert_eq!(offset_of!(SgIoHdr, resid), 72);
    assert_eq!(offset_of!(SgIoHdr, duration), 76);
    assert_eq!(offset_of!(SgIoHdr, info), 80);
}

#[test]
fn security_protocol_cdbs() {
    assert_eq!(
        security_cdb(SECURITY_PROTOCOL_OUT, 1024),
        [0xb5, 0xec, 0, 1, 0, 0, 0, 0, 0x04, 0x00, 0, 0]
    );
    assert_eq!(
        security_cdb(SECURITY_PROTOCOL_IN, 0x0102_0304),
        [0xa2, 0xec, 0, 1, 0, 0, 1, 2, 3, 4, 0, 0]
    );
}

#[test]
fn header_points_at_the_buffers() {
    let cdb = security_cdb(SECURITY_PROTOCOL_IN, 512);
    let mut buf = vec![0u8; 512];
    let ptr = buf.as_mut_ptr() as usize;
    let mut sense = [0u8; SENSE_LEN];
    let hdr = build_hdr(&cdb, &mut ScsiData::FromDevice(&mut buf), &mut sense);
    assert_eq!(hdr.interface_id, b'S' as i32);
    assert_eq!(hdr.dxfer_direction, SG_DXFER_FROM_DEV);
    assert_eq!((hdr.cmd_len, hdr.mx_sb_len, hdr.dxfer_len), (12, 32, 512));
    assert_eq!(hdr.dxferp as usize, ptr);
    assert_eq!(hdr.cmdp, cdb.as_ptr());
}

#[test]
fn a_node_that_is_not_an_sg_device_reports_the_kernels_error() {
    let mut dev = UfsRpmb::open(Path::new("/dev/null")).unwrap();
    let err = dev.send(&[], &[[0u8; 512]], &mut []).unwrap_err();
    match err {
        FrameIoError::Os { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOTTY))
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn fixed_sense(key: u8, asc: u8) -> Vec<u8> {
    let mut s = vec![0u8; 18];
    s[0] = 0x70;
    s[2] = key;
    s[7] = 10;
    s[12] = asc;
    s
}

/// Plays a UFS RPMB LU: records CDBs, runs frames through an engine, and can inject
/// sense data for the next commands.
struct FakeUfs {
    engine: RpmbEngine<MemoryRpmb>,
    pending: Vec<Frame>,
    cdbs: Vec<[u8; 12]>,
    inject: Vec<ScsiOutcome>,
}

impl ScsiHost for FakeUfs {
    fn execute(&mut self, cdb: &[u8; 12], data: ScsiData<'_>) -> std::io::Result<ScsiOutcome> {
        self.cdbs.push(*cdb);
        if !self.inject.is_empty() {
            return Ok(self.inject.remove(0));
        }
        match data {
            ScsiData::ToDevice(d) => self.pending.extend(Frame::parse_all(d).unwrap()),
            ScsiData::FromDevice(d) => {
                let frames = std::mem::take(&mut self.pending);
                let out = self.engine.process(&frames, d.len() / 512);
                let bytes = Frame::serialize_all(&out);
                d[..bytes.len()].copy_from_slice(&bytes);
            }
        }
        Ok(ScsiOutcome::default())
    }
}

fn fake() -> UfsRpmb<FakeUfs> {
    UfsRpmb::new(FakeUfs {
        engine: RpmbEngine::new(MemoryRpmb::new(512).unwrap(), EngineLimits::default()).unwrap(),
        pending: Vec::new(),
        cdbs: Vec::new(),
        inject: Vec::new(),
    })
}

#[test]
fn sequences_use_security_protocol_out_then_in() {
    let key = [0x44u8; 32];
    let mut dev = fake();
    let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
    pk.set_key_mac(&key);
    let rr = Frame::with_type(REQ_RESULT_READ);
    let mut out = [[0u8; 512]; 1];
    dev.send(&[*pk.as_bytes()], &[*rr.as_bytes()], &mut out)
        .unwrap();
    assert_eq!(Frame::from_slice(&out[0]).unwrap().result(), RES_OK);
    assert_eq!(
        dev.host.cdbs,
        vec![
            security_cdb(0xb5, 512),
            security_cdb(0xb5, 512),
            security_cdb(0xa2, 512)
        ]
    );
    let mut w = Frame::with_type(REQ_DATA_WRITE);
    w.set_data(&[1; 256]);
    w.set_key_mac(&hmac_sha256(&key, &w.as_bytes()[228..]));
    dev.send(&[*w.as_bytes()], &[*rr.as_bytes()], &mut out)
        .unwrap();
    let resp = Frame::from_slice(&out[0]).unwrap();
    assert_eq!((resp.result(), resp.write_counter()), (RES_OK, 1));
}

#[test]
fn unit_attention_after_reset_is_retried_once_other_sense_fails() {
    let mut dev = fake();
    let ua = ScsiOutcome {
        status: 2,
        sense: fixed_sense(SENSE_UNIT_ATTENTION, ASC_POWER_ON_RESET),
        ..ScsiOutcome::default()
    };
    // A counter read: the request meets one unit attention and is sent again.
    dev.host.inject = vec![ua.clone()];
    let gc = Frame::with_type(REQ_GET_WRITE_COUNTER);
    let mut out = [[0u8; 512]; 1];
    dev.send(&[], &[*gc.as_bytes()], &mut out).unwrap();
    assert_eq!(dev.host.cdbs.len(), 3);
    assert_eq!(
        Frame::from_slice(&out[0]).unwrap().result(),
        RES_NO_AUTH_KEY
    );
    // Two in a row: the retry is spent, the error surfaces.
    dev.host.inject = vec![ua.clone(), ua];
    assert!(matches!(
        dev.send(&[], &[*gc.as_bytes()], &mut out),
        Err(FrameIoError::Scsi { sense_key: 6, .. })
    ));
    // MEDIUM ERROR: no retry.
    dev.host.cdbs.clear();
    dev.host.inject = vec![ScsiOutcome {
        status: 2,
        sense: fixed_sense(0x3, 0x11),
        ..ScsiOutcome::default()
    }];
    assert!(matches!(
        dev.send(&[], &[*gc.as_bytes()], &mut out),
        Err(FrameIoError::Scsi {
            status: 2,
            sense_key: 3,
            ..
        })
    ));
    assert_eq!(dev.host.cdbs.len(), 1);
    // Descriptor-format sense with key NO SENSE is success.
    let ok = ScsiOutcome {
        status: 2,
        sense: vec![0x72, 0x0, 0x0, 0x0],
        ..ScsiOutcome::default()
    };
    assert_eq!(ok.verdict(), Verdict::Ok);
}
