//! Each test pins one structure of docs/virtio-radio.md: its size and the offset of every
//! field, by writing distinct values and reading the bytes back at the documented offsets.

use super::*;

fn at32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

fn at16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}

fn at64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn fm() -> Band {
    Band {
        kind: BAND_FM,
        low_khz: 87_500,
        high_khz: 108_000,
        spacing_khz: 100,
        seek_spacing_khz: 200,
    }
}

fn sample_info() -> ProgramInfo {
    ProgramInfo {
        frequency_khz: 101_100,
        info_flags: INFO_TUNABLE | INFO_STEREO | INFO_TRAFFIC_PROGRAM,
        rds_fields: RDS_PI | RDS_PTY | RDS_PS | RDS_RT,
        pi: 0xC201,
        pty: 10,
        signal_quality: 87,
        band: 1,
        ps: *b"RADIO 1 ",
        rt: b"Now playing: test tone".to_vec(),
    }
}

#[test]
fn headers_are_8_bytes_with_code_status_type_at_0() {
    let r = ReqHeader { code: REQ_SEEK }.to_bytes();
    assert_eq!(r.len(), 8);
    assert_eq!(r, [4, 0, 0, 0, 0, 0, 0, 0]);
    let s = RespHeader { status: S_BUSY }.to_bytes();
    assert_eq!(s, [8, 0, 0, 0, 0, 0, 0, 0]);
    let e = EventHeader {
        kind: EVT_ANTENNA_STATE,
        flags: EVT_F_LOST,
    }
    .to_bytes();
    assert_eq!(e, [0x02, 0x10, 0, 0, 1, 0, 0, 0]);
    assert_eq!(EventHeader::parse(&e).unwrap().flags, EVT_F_LOST);
    // Flag bits a later revision may define are kept, not rejected.
    assert_eq!(
        EventHeader::parse(&[2, 0x10, 0, 0, 2, 0, 0, 0])
            .unwrap()
            .flags,
        2
    );
    assert!(ReqHeader::parse(&[1, 0, 0]).is_err());
}

#[test]
fn band_layout() {
    let b = fm().to_bytes();
    assert_eq!(b.len(), 16);
    assert_eq!(b[0], 1);
    assert_eq!(&b[1..4], &[0, 0, 0]);
    assert_eq!(at32(&b, 4), 87_500);
    assert_eq!(at32(&b, 8), 108_000);
    assert_eq!(at16(&b, 12), 100);
    assert_eq!(at16(&b, 14), 200);
    assert_eq!(Band::parse(&b).unwrap(), fm());
    assert!(fm().contains(101_100));
    assert!(!fm().contains(101_150));
    assert!(!fm().contains(108_100));
    let mut bad = fm();
    bad.seek_spacing_khz = 150;
    assert!(Band::parse(&bad.to_bytes()).is_err());
    bad = fm();
    bad.kind = 3;
    assert!(Band::parse(&bad.to_bytes()).is_err());
    bad = fm();
    bad.low_khz = 200_000;
    assert!(Band::parse(&bad.to_bytes()).is_err());
}

#[test]
fn config_space_layout() {
    let am = Band {
        kind: BAND_AM,
        low_khz: 531,
        high_khz: 1_602,
        spacing_khz: 9,
        seek_spacing_khz: 9,
    };
    let c = ConfigSpace {
        capabilities: CAP_RDS | CAP_STEREO | CAP_SEEK,
        config_flags: 1 << FLAG_FORCE_MONO,
        num_antennas: 2,
        antenna_connected: 0b01,
        snd_stream_id: 3,
        snd_hda_fn_nid: 0x1234,
        snd_jack_id: SND_ID_NONE,
        bands: vec![fm(), am],
    };
    let b = c.to_bytes();
    assert_eq!(b.len(), 160);
    assert_eq!(at32(&b, 0), 0b1101);
    assert_eq!(at32(&b, 4), 0b10);
    assert_eq!(b[8], 2);
    assert_eq!(b[9], 2);
    assert_eq!(at32(&b, 12), 1);
    assert_eq!(at32(&b, 16), 3);
    assert_eq!(at32(&b, 20), 0x1234);
    assert_eq!(at32(&b, 24), 0xFFFF_FFFF);
    assert_eq!(&b[32..48], &fm().to_bytes());
    assert_eq!(&b[48..64], &am.to_bytes());
    assert!(b[64..].iter().all(|&x| x == 0));
    assert_eq!(ConfigSpace::parse(&b).unwrap(), c);
    let mut bad = b;
    bad[8] = 9;
    assert!(ConfigSpace::parse(&bad).is_err());
}

#[test]
fn properties_layout() {
    let p = Properties::new(
        "Acme",
        "FM-1",
        "1.0",
        "SN0123456789012345678901234567890123",
        (1 << ID_AMFM_FREQUENCY_KHZ) | (1 << ID_RDS_PI),
        CAP_RDS,
    );
    let b = p.to_bytes();
    assert_eq!(b.len(), 136);
    assert_eq!(&b[0..5], b"Acme\0");
    assert_eq!(&b[32..37], b"FM-1\0");
    assert_eq!(&b[64..68], b"1.0\0");
    assert_eq!(&b[96..98], b"SN");
    assert_eq!(b[127], 0, "serial keeps its terminating NUL");
    assert_eq!(at32(&b, 128), 0b110);
    assert_eq!(at32(&b, 132), CAP_RDS);
    let back = Properties::parse(&b).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.serial.len(), 31);
    let mut bad = b;
    bad[6] = b'x'; // text after the maker's NUL
    assert!(Properties::parse(&bad).is_err());
}

#[test]
fn get_bands_and_region_layout() {
    let g = GetBands { full: true }.to_bytes();
    assert_eq!(g, [1, 0, 0, 0, 0, 0, 0, 0]);
    assert!(GetBands::parse(&[2, 0, 0, 0, 0, 0, 0, 0]).is_err());
    let r = RegionConfig {
        fm_deemphasis: DEEMPHASIS_D50,
        fm_rds: FM_RDS,
        bands: vec![fm()],
    };
    let b = r.to_bytes();
    assert_eq!(b.len(), 8 + 16);
    assert_eq!(&b[..3], &[1, 1, 1]);
    assert_eq!(&b[8..], &fm().to_bytes());
    assert_eq!(RegionConfig::parse(&b).unwrap(), r);
    assert!(RegionConfig::parse(&b[..20]).is_err());
    assert_eq!(RegionConfig::MAX_SIZE, 136);
}

#[test]
fn selector_layout() {
    let s = Selector {
        primary_type: ID_RDS_PI,
        primary_value: 0xD3C2,
        secondary_type: ID_AMFM_FREQUENCY_KHZ,
        secondary_value: 99_900,
    };
    let b = s.to_bytes();
    assert_eq!(b.len(), 24);
    assert_eq!(at32(&b, 0), 2);
    assert_eq!(at32(&b, 4), 1);
    assert_eq!(at64(&b, 8), 0xD3C2);
    assert_eq!(at64(&b, 16), 99_900);
    let back = Selector::parse(&b).unwrap();
    assert_eq!(back.frequency_khz(), Some(99_900));
    assert_eq!(back.rds_pi(), Some(0xD3C2));
    assert_eq!(Selector::frequency(90_000).rds_pi(), None);
    let mut too_big = s;
    too_big.primary_value = 0x1_0000;
    assert_eq!(
        Selector::parse(&too_big.to_bytes()).unwrap_err().status(),
        S_INVALID_ARGUMENTS
    );
    assert!(Selector::parse(&[0u8; 24]).is_err(), "INVALID primary");
}

#[test]
fn direction_op_and_config_flag_layout() {
    let d = DirectionArgs {
        flags: SEEK_F_UP | SEEK_F_NO_WRAP,
        spacing_khz: 0,
    }
    .to_bytes();
    assert_eq!(d, [5, 0, 0, 0, 0, 0, 0, 0]);
    assert!(DirectionArgs::parse(&d, STEP_F_UP).is_err());
    assert!(DirectionArgs::parse(&d, SEEK_F_ALL).is_ok());
    assert_eq!(
        OpResponse { op_id: 0x0102_0304 }.to_bytes(),
        [4, 3, 2, 1, 0, 0, 0, 0]
    );
    let f = ConfigFlagArgs {
        flag: FLAG_FORCE_MONO,
        value: true,
    }
    .to_bytes();
    assert_eq!(f, [1, 0, 0, 0, 1, 0, 0, 0]);
    assert!(ConfigFlagArgs::parse(&[12, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(ConfigFlagArgs::parse(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(ConfigFlagArgs::parse(&[1, 0, 0, 0, 2, 0, 0, 0]).is_err());
}

#[test]
fn parameter_layout() {
    let p = Parameter {
        key: "com.acme.agc".into(),
        value: "fast".into(),
    };
    let b = p.to_bytes();
    assert_eq!(b.len(), 192);
    assert_eq!(&b[..13], b"com.acme.agc\0");
    assert_eq!(&b[64..69], b"fast\0");
    assert_eq!(Parameter::parse(&b).unwrap(), p);
    let mut empty_key = b;
    empty_key[..64].fill(0);
    assert!(Parameter::parse(&empty_key).is_err());
    let mut unterminated = b;
    unterminated[64..].fill(b'a');
    assert!(Parameter::parse(&unterminated).is_err());
    let mut not_utf8 = b;
    not_utf8[0] = 0xFF;
    assert!(Parameter::parse(&not_utf8).is_err());
}

#[test]
fn program_filter_layout() {
    let f = ProgramFilter {
        identifier_types: 1 << ID_RDS_PI,
        include_categories: false,
        exclude_modifications: true,
    };
    let b = f.to_bytes();
    assert_eq!(b, [4, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(ProgramFilter::parse(&b).unwrap(), f);
}

#[test]
fn program_info_layout() {
    let i = sample_info();
    let b = i.to_bytes();
    assert_eq!(b.len(), 96);
    assert_eq!(at32(&b, 0), 101_100);
    assert_eq!(at32(&b, 4), (1 << 4) | (1 << 5) | (1 << 2));
    assert_eq!(at32(&b, 8), 0b1111);
    assert_eq!(at16(&b, 12), 0xC201);
    assert_eq!(b[14], 10);
    assert_eq!(b[15], 87);
    assert_eq!(&b[16..24], b"RADIO 1 ");
    assert_eq!(b[24], 22);
    assert_eq!(b[25], 1);
    assert_eq!(&b[26..32], &[0; 6]);
    assert_eq!(&b[32..54], b"Now playing: test tone");
    assert!(b[54..].iter().all(|&x| x == 0));
    assert_eq!(ProgramInfo::parse(&b).unwrap(), i);
    for (off, val) in [(14, 32u8), (15, 101), (24, 65)] {
        let mut bad = b;
        bad[off] = val;
        assert!(ProgramInfo::parse(&bad).is_err(), "offset {off}");
    }
    let mut long = i.clone();
    long.rt = vec![b'x'; 70];
    assert_eq!(long.to_bytes()[24], 64);
}

#[test]
fn requests_parse_with_exact_sizes() {
    let reqs = [
        ControlRequest::GetProperties,
        ControlRequest::GetBands(GetBands { full: false }),
        ControlRequest::Tune(Selector::frequency(98_000)),
        ControlRequest::Seek(DirectionArgs {
            flags: SEEK_F_UP,
            spacing_khz: 0,
        }),
        ControlRequest::Step(DirectionArgs {
            flags: 0,
            spacing_khz: 0,
        }),
        ControlRequest::Cancel,
        ControlRequest::GetProgramInfo,
        ControlRequest::GetConfigFlag(ConfigFlagArgs {
            flag: FLAG_RDS_AF,
            value: false,
        }),
        ControlRequest::SetConfigFlag(ConfigFlagArgs {
            flag: FLAG_FORCE_MONO,
            value: true,
        }),
        ControlRequest::GetParameter("com.acme.x".into()),
        ControlRequest::SetParameter(Parameter {
            key: "com.acme.x".into(),
            value: "1".into(),
        }),
        ControlRequest::StartProgramList(ProgramFilter {
            identifier_types: 0,
            include_categories: false,
            exclude_modifications: false,
        }),
        ControlRequest::StopProgramList,
    ];
    let sizes = [8, 16, 32, 16, 16, 8, 8, 16, 16, 72, 200, 16, 8];
    for (code, (r, size)) in (1u32..).zip(reqs.iter().zip(sizes)) {
        let b = r.to_bytes();
        assert_eq!(at32(&b, 0), code);
        assert_eq!(b.len(), size, "{r:?}");
        assert_eq!(&ControlRequest::parse(&b).unwrap(), r);
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(
            ControlRequest::parse(&longer).unwrap_err().status(),
            S_BAD_MSG
        );
        assert!(ControlRequest::parse(&b[..b.len() - 1]).is_err());
    }
    assert_eq!(
        ControlRequest::parse(&[0x0E, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(),
        WireError::UnknownRequest(0x0E)
    );
    assert_eq!(
        ControlRequest::parse(&[0x0E, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err()
            .status(),
        S_NOT_SUPPORTED
    );
    assert_eq!(
        ControlRequest::GetBands(GetBands { full: true }).response_len(),
        144
    );
    assert_eq!(ControlRequest::GetProgramInfo.response_len(), 104);
    assert_eq!(ControlRequest::Cancel.response_len(), 16);
}

#[test]
fn responses_round_trip() {
    let r = Response::ok(ResponseBody::ProgramInfo(sample_info()));
    let b = r.to_bytes();
    assert_eq!(b.len(), 104);
    assert_eq!(at32(&b, 0), S_OK);
    assert_eq!(Response::parse(REQ_GET_PROGRAM_INFO, &b).unwrap(), r);
    let busy = Response::status(S_BUSY).to_bytes();
    assert_eq!(busy, vec![8, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        Response::parse(REQ_TUNE, &busy).unwrap(),
        Response::status(S_BUSY)
    );
    let op = Response::ok(ResponseBody::Op(OpResponse { op_id: 7 })).to_bytes();
    assert_eq!(op.len(), 16);
    assert_eq!(at32(&op, 8), 7);
    assert!(Response::parse(REQ_STOP_PROGRAM_LIST, &op).is_err());
}

#[test]
fn event_layouts() {
    let tc = Event::TuneComplete {
        op_id: 3,
        status: S_CANCELLED,
        info: sample_info(),
    };
    let b = tc.to_bytes(0);
    assert_eq!(b.len(), 112);
    assert_eq!(at32(&b, 0), 0x1000);
    assert_eq!(at32(&b, 8), 3);
    assert_eq!(at32(&b, 12), 6);
    assert_eq!(&b[16..], &sample_info().to_bytes());
    assert_eq!(Event::parse(&b).unwrap(), (0, tc));

    let pi = Event::ProgramInfoChanged(sample_info());
    let b = pi.to_bytes(EVT_F_LOST);
    assert_eq!(b.len(), 104);
    assert_eq!(at32(&b, 0), 0x1001);
    assert_eq!(at32(&b, 4), 1);
    assert_eq!(Event::parse(&b).unwrap(), (EVT_F_LOST, pi));

    let ant = Event::AntennaState { connected: 0b10 };
    let b = ant.to_bytes(0);
    assert_eq!(b.len(), 16);
    assert_eq!(at32(&b, 0), 0x1002);
    assert_eq!(at32(&b, 8), 2);
    assert_eq!(Event::parse(&b).unwrap().1, ant);

    let lu = Event::ProgramListUpdate {
        flags: LIST_F_ENTRY | LIST_F_COMPLETE,
        entry: sample_info(),
    };
    let b = lu.to_bytes(0);
    assert_eq!(b.len(), 112);
    assert_eq!(at32(&b, 0), 0x1003);
    assert_eq!(at32(&b, 8), 0b110);
    assert_eq!(Event::parse(&b).unwrap().1, lu);

    let cf = Event::ConfigFlagChanged(ConfigFlagArgs {
        flag: FLAG_RDS_AF,
        value: true,
    });
    let b = cf.to_bytes(0);
    assert_eq!(b.len(), 16);
    assert_eq!(at32(&b, 0), 0x1004);
    assert_eq!(at32(&b, 8), 4);
    assert_eq!(b[12], 1);

    let rds = Event::RdsBlocks(vec![[0x01, 0xC2, 0x00], [0x40, 0x05, 0x81]]);
    let b = rds.to_bytes(0);
    assert_eq!(b.len(), 8 + 4 + 6);
    assert_eq!(at32(&b, 0), 0x1005);
    assert_eq!(at16(&b, 8), 2);
    assert_eq!(&b[12..18], &[0x01, 0xC2, 0x00, 0x40, 0x05, 0x81]);
    assert_eq!(Event::parse(&b).unwrap().1, rds);
    let full = Event::RdsBlocks(vec![[0; 3]; 100]).to_bytes(0);
    assert_eq!(full.len(), 8 + 4 + 3 * 64);
    assert!(full.len() <= EVENT_BUF_MIN);
    assert!(Event::parse(&[0x06, 0x10, 0, 0, 0, 0, 0, 0]).is_err());
}

#[test]
fn strings_must_be_nul_terminated() {
    let mut b = Properties::new("a", "b", "c", "d", 2, 0).to_bytes();
    b[..32].fill(b'M'); // 32 bytes of text, no terminator
    assert!(Properties::parse(&b).is_err());
}

/// Arbitrary bytes never panic the parsers; whatever parses re-serializes to the same bytes.
#[test]
fn arbitrary_bytes_parse_or_fail_cleanly() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..20_000u32 {
        let len = (next() % 220) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if b.len() >= 8 {
            // Steer half of the inputs onto defined codes so the bodies get exercised.
            b[..4].copy_from_slice(&(round % 14).to_le_bytes());
            b[4..8].fill(0);
        }
        if let Ok(req) = ControlRequest::parse(&b) {
            assert_eq!(req.to_bytes().len(), b.len());
        }
        let _ = Response::parse(round % 14, &b);
        if b.len() >= 8 {
            b[..4].copy_from_slice(&(0x1000 + round % 7).to_le_bytes());
        }
        let _ = Event::parse(&b);
        let _ = ConfigSpace::parse(&b);
    }
}
