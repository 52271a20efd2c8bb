//! virtio-radio request by request, over both transports: the real service on the simulated
//! tuner, driven over vhost-user by the harness (as a VMM and guest driver would) and over
//! the Gunyah simulator by its virtio-mmio driver. Every request of docs/virtio-radio.md
//! §6.2, its documented errors, and the config space.

mod support;

use std::time::Duration;

use drivervm::devices::radio::constants::*;
use drivervm::devices::radio::wire::*;
use drivervm::harness::HarnessOptions;
use support::radio::*;
use support::transport::{Served, Transport};

over_both_transports!(
    config_space_and_features_describe_the_simulated_tuner,
    every_request_answers_as_the_spec_lays_out,
    malformed_requests_get_their_status_and_the_device_keeps_serving,
    a_small_event_buffer_comes_back_empty_and_the_event_waits,
);

const FM: Band = Band {
    kind: BAND_FM,
    low_khz: 87500,
    high_khz: 108000,
    spacing_khz: 100,
    seek_spacing_khz: 0,
};
const AM: Band = Band {
    kind: BAND_AM,
    low_khz: 531,
    high_khz: 1602,
    spacing_khz: 9,
    seek_spacing_khz: 0,
};

fn config_space_and_features_describe_the_simulated_tuner(t: Transport) {
    let svc = Served::start(t, RADIO_CONFIG);
    let mut r = Radio::connect(&svc, &HarnessOptions::default());
    assert_ne!(
        r.h.offered_features() & (1 << VIRTIO_RADIO_F_RDS_BLOCKS),
        0,
        "RDS_BLOCKS offered"
    );
    let bytes = r.h.config(0, ConfigSpace::SIZE as u32).unwrap();
    let c = ConfigSpace::parse(&bytes).unwrap();
    assert_eq!(
        c,
        ConfigSpace {
            capabilities: CAP_RDS | CAP_STEREO | CAP_SEEK | CAP_PROGRAM_LIST,
            config_flags: 1 << FLAG_FORCE_MONO,
            num_antennas: 1,
            antenna_connected: 1,
            snd_stream_id: 1,
            snd_hda_fn_nid: 7,
            snd_jack_id: SND_ID_NONE,
            bands: vec![FM, AM],
        }
    );
    // Raw offsets of §4: capabilities @0, num_bands @8, bands[0].low_khz @36.
    assert_eq!(bytes[0], 0x1D);
    assert_eq!(bytes[8], 2);
    assert_eq!(&bytes[36..40], &87500u32.to_le_bytes());
}

fn every_request_answers_as_the_spec_lays_out(t: Transport) {
    let svc = Served::start(t, RADIO_CONFIG);
    let mut r = Radio::connect(&svc, &HarnessOptions::default());

    match r.ask(&ControlRequest::GetProperties) {
        Response {
            status: S_OK,
            body: ResponseBody::Properties(p),
        } => {
            assert_eq!(p.maker, "drivervm");
            assert_eq!(p.product, "simulated AM/FM tuner");
            assert_eq!(p.identifier_types, 1 << ID_AMFM_FREQUENCY_KHZ);
            assert_eq!(
                p.capabilities,
                CAP_RDS | CAP_STEREO | CAP_SEEK | CAP_PROGRAM_LIST
            );
        }
        other => panic!("{other:?}"),
    }

    for full in [true, false] {
        match r.ask(&ControlRequest::GetBands(GetBands { full })) {
            Response {
                status: S_OK,
                body: ResponseBody::Region(reg),
            } => {
                assert_eq!(reg.bands, vec![FM, AM]);
                assert_eq!(reg.fm_rds, FM_RDS);
                let want = if full {
                    DEEMPHASIS_D50 | DEEMPHASIS_D75
                } else {
                    DEEMPHASIS_D50
                };
                assert_eq!(reg.fm_deemphasis, want, "full = {full}");
            }
            other => panic!("{other:?}"),
        }
    }

    // Nothing tuned yet.
    assert_eq!(r.program(), Err(S_INVALID_STATE));
    assert_eq!(
        r.ask(&ControlRequest::Cancel).body,
        ResponseBody::Op(OpResponse { op_id: 0 })
    );

    let op = r.start(&tune(89100));
    assert_eq!(op, 1, "op ids start at 1");
    let (status, info, _) = r.completion(op, Duration::from_secs(2));
    assert_eq!(status, S_OK);
    assert_eq!(info.frequency_khz, 89100);
    assert_eq!(r.program().unwrap().frequency_khz, 89100);

    let op2 = r.start(&seek(SEEK_F_UP));
    assert_eq!(op2, op + 1, "op ids increase by one");
    let (status, info, _) = r.completion(op2, Duration::from_secs(2));
    assert_eq!((status, info.frequency_khz), (S_OK, 101700));

    let op3 = r.start(&step(0));
    let (status, info, _) = r.completion(op3, Duration::from_secs(2));
    assert_eq!((status, info.frequency_khz), (S_OK, 101600));
    assert_eq!(info.info_flags & INFO_TUNABLE, 0, "static between stations");
    assert_ne!(info.info_flags & INFO_MUTED, 0);

    // Config flags: FORCE_MONO is the one supported.
    let mono = |value| ConfigFlagArgs {
        flag: FLAG_FORCE_MONO,
        value,
    };
    assert_eq!(
        r.ask(&ControlRequest::GetConfigFlag(mono(false))).body,
        ResponseBody::ConfigFlag(mono(false))
    );
    assert_eq!(r.status(&ControlRequest::SetConfigFlag(mono(true))), S_OK);
    assert_eq!(
        r.ask(&ControlRequest::GetConfigFlag(mono(false))).body,
        ResponseBody::ConfigFlag(mono(true))
    );
    let af = ConfigFlagArgs {
        flag: FLAG_RDS_AF,
        value: true,
    };
    assert_eq!(
        r.status(&ControlRequest::GetConfigFlag(af)),
        S_NOT_SUPPORTED
    );
    assert_eq!(
        r.status(&ControlRequest::SetConfigFlag(af)),
        S_NOT_SUPPORTED
    );

    // Vendor parameters.
    let get = |k: &str| ControlRequest::GetParameter(k.into());
    assert_eq!(
        r.ask(&get("com.drivervm.signal_threshold")).body,
        ResponseBody::Parameter(Parameter {
            key: "com.drivervm.signal_threshold".into(),
            value: "25".into()
        })
    );
    let set = |k: &str, v: &str| {
        ControlRequest::SetParameter(Parameter {
            key: k.into(),
            value: v.into(),
        })
    };
    assert_eq!(r.status(&set("com.drivervm.volume", "40")), S_OK);
    assert_eq!(
        r.ask(&get("com.drivervm.volume")).body,
        ResponseBody::Parameter(Parameter {
            key: "com.drivervm.volume".into(),
            value: "40".into()
        })
    );
    assert_eq!(
        r.status(&set("com.drivervm.volume", "101")),
        S_INVALID_ARGUMENTS
    );
    assert_eq!(
        r.status(&set("com.drivervm.volume", "loud")),
        S_INVALID_ARGUMENTS
    );
    assert_eq!(r.status(&get("com.vendor.unknown")), S_NOT_SUPPORTED);
    assert_eq!(r.status(&set("com.vendor.unknown", "1")), S_NOT_SUPPORTED);

    // Program list: START answers OK at once (the sweep reports on the eventq, see
    // radio_operations), STOP answers OK, also when nothing runs.
    let filter = ProgramFilter {
        identifier_types: 0,
        include_categories: false,
        exclude_modifications: false,
    };
    assert_eq!(r.status(&ControlRequest::StartProgramList(filter)), S_OK);
    assert_eq!(r.status(&ControlRequest::StopProgramList), S_OK);
    assert_eq!(r.status(&ControlRequest::StopProgramList), S_OK);
}

fn malformed_requests_get_their_status_and_the_device_keeps_serving(t: Transport) {
    let svc = Served::start(t, RADIO_CONFIG);
    let mut r = Radio::connect(&svc, &HarnessOptions::default());
    let status = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);

    // Unknown code.
    let b = r.raw(&0x00FFu32.to_le_bytes().repeat(2), 64);
    assert_eq!((b.len(), status(&b)), (8, S_NOT_SUPPORTED));
    // Short header.
    assert_eq!(status(&r.raw(&[1, 0, 0], 64)), S_BAD_MSG);
    // Payload of the wrong size.
    let mut t = tune(89100).to_bytes();
    t.push(0);
    assert_eq!(status(&r.raw(&t, 16)), S_BAD_MSG);
    assert_eq!(
        status(&r.raw(&ControlRequest::Cancel.to_bytes()[..8].repeat(2), 16)),
        S_BAD_MSG
    );
    // Writable part too small for the response, but holding a header: BAD_MSG.
    let props = ControlRequest::GetProperties.to_bytes();
    assert_eq!(r.raw(&props, 143).len(), 8);
    assert_eq!(status(&r.raw(&props, 143)), S_BAD_MSG);
    // Writable part below a header: returned with nothing written.
    let head = r.h.submit(CONTROLQ, &props, 7).unwrap();
    let c =
        r.h.wait_for(CONTROLQ, head, Duration::from_secs(2))
            .unwrap();
    assert_eq!(c.len, 0);
    // Values outside their definition.
    let mut bad_sel = Selector::frequency(89100);
    bad_sel.primary_type = ID_INVALID;
    let mut b = ReqHeader { code: REQ_TUNE }.to_bytes().to_vec();
    b.extend_from_slice(&bad_sel.to_bytes());
    assert_eq!(status(&r.raw(&b, 16)), S_INVALID_ARGUMENTS);
    let mut b = ReqHeader { code: REQ_SEEK }.to_bytes().to_vec();
    b.extend_from_slice(
        &DirectionArgs {
            flags: 1 << 3,
            spacing_khz: 0,
        }
        .to_bytes(),
    );
    assert_eq!(status(&r.raw(&b, 16)), S_INVALID_ARGUMENTS);
    let mut b = ReqHeader {
        code: REQ_SET_CONFIG_FLAG,
    }
    .to_bytes()
    .to_vec();
    b.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(status(&r.raw(&b, 8)), S_INVALID_ARGUMENTS, "value 2");
    let mut b = ReqHeader {
        code: REQ_GET_CONFIG_FLAG,
    }
    .to_bytes()
    .to_vec();
    b.extend_from_slice(&[12, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(status(&r.raw(&b, 16)), S_INVALID_ARGUMENTS, "flag 12");
    // A selector with only an RDS PI: not usable on this device.
    let pi = Selector {
        primary_type: ID_RDS_PI,
        primary_value: 0xC201,
        secondary_type: ID_INVALID,
        secondary_value: 0,
    };
    assert_eq!(r.status(&ControlRequest::Tune(pi)), S_NOT_SUPPORTED);
    // Nothing of that started an operation or produced an event.
    assert!(r.events_for(Duration::from_millis(200)).is_empty());
    // Still serving.
    let op = r.start(&tune(95300));
    assert_eq!(op, 1);
    let (status, info, _) = r.completion(op, Duration::from_secs(2));
    assert_eq!(status, S_OK);
    assert_eq!(info.signal_quality, 10);
    assert_eq!(info.info_flags & INFO_TUNABLE, 0, "below the threshold");
}

fn a_small_event_buffer_comes_back_empty_and_the_event_waits(t: Transport) {
    let svc = Served::start(t, RADIO_CONFIG);
    let opts = HarnessOptions::default();
    let mut r = Radio::new(svc.connect(ID, 2, &opts));
    let small = r.give_event_buffer(64);
    let op = r.start(&tune(89100));
    let c = r.h.wait_for(EVENTQ, small, Duration::from_secs(2)).unwrap();
    assert_eq!(c.len, 0, "112-byte event does not fit 64 bytes");
    r.give_event_buffer(256);
    let (status, _, _) = r.completion(op, Duration::from_secs(2));
    assert_eq!(status, S_OK);
}
