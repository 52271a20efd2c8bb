//! Keeps docs/virtio-radio.md and the code in agreement: every structure size, field table,
//! request code, status, event and capability the document states is checked against the
//! Rust definitions, so editing one without the other fails the build's tests.

use super::constants::*;
use super::wire::*;

const SPEC: &str = include_str!("../../../docs/virtio-radio.md");

fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Rows of the table whose header row starts with `header`.
fn table(header: &str) -> Vec<Vec<&'static str>> {
    let mut lines = SPEC.lines().skip_while(|l| !l.starts_with(header));
    assert!(lines.next().is_some(), "table {header:?} missing");
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(cells)
        .collect()
}

fn rust_struct_size(name: &str) -> usize {
    match name {
        "virtio_radio_config" => ConfigSpace::SIZE,
        "virtio_radio_band" => Band::SIZE,
        "virtio_radio_req_hdr" => ReqHeader::SIZE,
        "virtio_radio_resp_hdr" => RespHeader::SIZE,
        "virtio_radio_event_hdr" => EventHeader::SIZE,
        "virtio_radio_properties" => Properties::SIZE,
        "virtio_radio_get_bands" => GetBands::SIZE,
        "virtio_radio_region" => RegionConfig::HEADER_SIZE,
        "virtio_radio_selector" => Selector::SIZE,
        "virtio_radio_op" => OpResponse::SIZE,
        "virtio_radio_seek" | "virtio_radio_step" => DirectionArgs::SIZE,
        "virtio_radio_config_flag" => ConfigFlagArgs::SIZE,
        "virtio_radio_parameter" => Parameter::SIZE,
        "virtio_radio_program_filter" => ProgramFilter::SIZE,
        "virtio_radio_program_info" => ProgramInfo::SIZE,
        other => panic!("the spec defines {other}, which the code does not know"),
    }
}

/// Every "`struct virtio_radio_x`, N bytes" statement, in document order, with its line.
fn struct_statements() -> Vec<(usize, String, usize)> {
    let mut out = Vec::new();
    for (i, line) in SPEC.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("`struct virtio_radio_") {
            let tail = &rest[at + "`struct ".len()..];
            let Some(end) = tail.find('`') else { break };
            let name = &tail[..end];
            let after = &tail[end + 1..];
            if let Some(size) = after
                .strip_prefix(", ")
                .and_then(|s| s.split(' ').next())
                .and_then(number)
            {
                if after.contains(" bytes") {
                    out.push((i, name.to_string(), size as usize));
                }
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_struct_size_in_the_spec_matches_the_code() {
    let stated = struct_statements();
    assert!(stated.len() >= 16, "found only {}", stated.len());
    for (_, name, size) in &stated {
        assert_eq!(rust_struct_size(name), *size, "{name}");
    }
}

#[test]
fn field_tables_are_contiguous_and_fill_their_struct() {
    let stated = struct_statements();
    let lines: Vec<&str> = SPEC.lines().collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("| offset | size |") {
            continue;
        }
        let (_, name, size) = stated
            .iter()
            .rev()
            .find(|(at, _, _)| *at < i)
            .expect("a field table follows its struct statement");
        let mut next = 0u64;
        for row in lines[i + 2..].iter().take_while(|l| l.starts_with('|')) {
            let c = cells(row);
            let (Some(off), Some(len)) = (number(c[0]), number(c[1])) else {
                break; // a variable-length tail (e.g. region bands)
            };
            assert_eq!(off, next, "{name}: field {} not contiguous", c[2]);
            next = off + len;
        }
        assert_eq!(next as usize, *size, "{name}: fields do not fill it");
        checked += 1;
    }
    assert_eq!(checked, 7, "field tables checked");
}

fn sample_request(code: u32) -> ControlRequest {
    let flag = ConfigFlagArgs {
        flag: FLAG_FORCE_MONO,
        value: false,
    };
    match code {
        REQ_GET_PROPERTIES => ControlRequest::GetProperties,
        REQ_GET_BANDS => ControlRequest::GetBands(GetBands { full: true }),
        REQ_TUNE => ControlRequest::Tune(Selector::frequency(100_000)),
        REQ_SEEK => ControlRequest::Seek(DirectionArgs {
            flags: 0,
            spacing_khz: 0,
        }),
        REQ_STEP => ControlRequest::Step(DirectionArgs {
            flags: 0,
            spacing_khz: 0,
        }),
        REQ_CANCEL => ControlRequest::Cancel,
        REQ_GET_PROGRAM_INFO => ControlRequest::GetProgramInfo,
        REQ_GET_CONFIG_FLAG => ControlRequest::GetConfigFlag(flag),
        REQ_SET_CONFIG_FLAG => ControlRequest::SetConfigFlag(flag),
        REQ_GET_PARAMETER => ControlRequest::GetParameter("k".into()),
        REQ_SET_PARAMETER => ControlRequest::SetParameter(Parameter {
            key: "k".into(),
            value: String::new(),
        }),
        REQ_START_PROGRAM_LIST => ControlRequest::StartProgramList(ProgramFilter {
            identifier_types: 0,
            include_categories: false,
            exclude_modifications: false,
        }),
        REQ_STOP_PROGRAM_LIST => ControlRequest::StopProgramList,
        other => panic!("the spec lists request {other:#x}, which the code does not know"),
    }
}

/// The number in the first "(N)" of a table cell, 0 for "none".
fn paren_size(cell: &str) -> usize {
    if cell == "none" {
        return 0;
    }
    let open = cell.find('(').expect("size in parentheses");
    let close = cell[open..].find(')').expect("closing parenthesis") + open;
    cell[open + 1..close].parse().expect("numeric size")
}

#[test]
fn request_table_matches_codes_payloads_and_response_sizes() {
    let rows = table("| code | request |");
    assert_eq!(rows.len(), 13);
    for row in rows {
        let code = number(row[0]).expect("hex code") as u32;
        let req = sample_request(code);
        assert_eq!(req.code(), code);
        let name = format!("{req:?}").to_uppercase();
        let compact: String = row[1].chars().filter(|c| *c != '_').collect();
        assert!(name.starts_with(&compact), "{} vs {name}", row[1]);
        assert_eq!(
            req.to_bytes().len() - ReqHeader::SIZE,
            paren_size(row[2]),
            "{}",
            row[1]
        );
        assert_eq!(
            req.response_len(),
            number(row[4]).unwrap() as usize,
            "{}",
            row[1]
        );
    }
}

#[test]
fn status_table_matches_constants() {
    let expected = [
        ("OK", S_OK),
        ("INTERNAL_ERROR", S_INTERNAL_ERROR),
        ("INVALID_ARGUMENTS", S_INVALID_ARGUMENTS),
        ("INVALID_STATE", S_INVALID_STATE),
        ("NOT_SUPPORTED", S_NOT_SUPPORTED),
        ("TIMEOUT", S_TIMEOUT),
        ("CANCELLED", S_CANCELLED),
        ("UNKNOWN_ERROR", S_UNKNOWN_ERROR),
        ("BUSY", S_BUSY),
        ("BAD_MSG", S_BAD_MSG),
    ];
    let rows = table("| value | name | AIDL `Result` |");
    assert_eq!(rows.len(), expected.len());
    for (row, (name, value)) in rows.iter().zip(expected) {
        assert_eq!(row[1], name);
        assert_eq!(number(row[0]), Some(value.into()), "{name}");
    }
}

#[test]
fn event_table_matches_types_and_sizes() {
    let info = ProgramInfo::new(100_000);
    let flag = ConfigFlagArgs {
        flag: FLAG_RDS_AF,
        value: true,
    };
    let events = [
        Event::TuneComplete {
            op_id: 1,
            status: S_OK,
            info: info.clone(),
        },
        Event::ProgramInfoChanged(info.clone()),
        Event::AntennaState { connected: 1 },
        Event::ProgramListUpdate {
            flags: LIST_F_PURGE,
            entry: info,
        },
        Event::ConfigFlagChanged(flag),
        Event::RdsBlocks(vec![[0; 3]; RDS_BLOCKS_MAX]),
    ];
    let rows = table("| type | name | body after the 8-byte header | total |");
    assert_eq!(rows.len(), events.len());
    for (row, ev) in rows.iter().zip(&events) {
        assert_eq!(number(row[0]), Some(ev.kind().into()), "{}", row[1]);
        let total = ev.to_bytes(0).len();
        match number(row[3]) {
            Some(n) => assert_eq!(total, n as usize, "{}", row[1]),
            None => assert!(row[3].contains(&format!("≤ {total}")), "{}", row[1]),
        }
        assert!(total <= EVENT_BUF_MIN);
    }
    assert!(SPEC.contains(&format!("**{EVENT_BUF_MIN}** device-writable bytes")));
}

#[test]
fn capabilities_feature_and_device_id_match() {
    let caps = [
        CAP_RDS,
        CAP_RBDS,
        CAP_STEREO,
        CAP_SEEK,
        CAP_PROGRAM_LIST,
        CAP_BACKGROUND_TUNER,
    ];
    let rows = table("| bit | value | name | meaning |");
    assert_eq!(rows.len(), caps.len());
    for (row, cap) in rows.iter().zip(caps) {
        assert_eq!(number(row[1]), Some(cap.into()), "{}", row[2]);
        assert_eq!(
            1u64 << number(row[0]).unwrap(),
            u64::from(cap),
            "{}",
            row[2]
        );
    }
    let feature = table("| bit | name | meaning |");
    assert_eq!(feature[0][1], "VIRTIO_RADIO_F_RDS_BLOCKS");
    assert_eq!(
        number(feature[0][0]),
        Some(VIRTIO_RADIO_F_RDS_BLOCKS.into())
    );
    assert!(SPEC.contains(&format!("**{VIRTIO_ID_RADIO_DEFAULT}** (experimental)")));
}
