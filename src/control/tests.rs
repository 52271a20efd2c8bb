use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::iface::IDriverVm::{self as idv, IDriverVm};
use super::iface::IDriverVmListener::IDriverVmListener;
use super::*;
use crate::kind::DeviceKind;
use crate::status::{
    ClockTable, ClockView, DeviceState, EventBus, Registry, RpmbCell, TransportKind,
};

#[test]
fn vsock_allowlist_admits_only_listed_cids() {
    let allowed = [2, 3];
    assert_eq!(vsock_peer_allowed(&allowed, Some(2)), VsockDecision::Accept);
    assert_eq!(vsock_peer_allowed(&allowed, Some(3)), VsockDecision::Accept);
    assert_eq!(
        vsock_peer_allowed(&allowed, Some(4)),
        VsockDecision::RefuseCid(4)
    );
    assert_eq!(
        vsock_peer_allowed(&allowed, None),
        VsockDecision::RefuseUnknown
    );
    assert_eq!(
        vsock_peer_allowed(&[], Some(2)),
        VsockDecision::RefuseCid(2)
    );
}

#[test]
fn targets_parse_and_print() {
    for (text, want) in [
        (
            "unix:/run/d/control.sock",
            Target::Unix("/run/d/control.sock".into()),
        ),
        ("vsock:3:5680", Target::Vsock { cid: 3, port: 5680 }),
        ("binder", Target::Binder),
    ] {
        let t: Target = text.parse().unwrap();
        assert_eq!(t, want);
        assert_eq!(t.to_string(), text);
    }
    for (bad, why) in [
        ("unix:", "empty socket path"),
        ("vsock:3", "missing :PORT"),
        ("vsock:x:1", "CID is not a 32-bit number"),
        ("vsock:3:99999999999", "PORT is not a 32-bit number"),
        ("tcp:1.2.3.4:5", "unknown scheme"),
    ] {
        let e = bad.parse::<Target>().unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert!(
            e.contains("expected unix:PATH, vsock:CID:PORT or binder"),
            "{e}"
        );
    }
}

fn src(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(rel)
}

/// Every `cfg(soong)` sits in a named compatibility seam: control/mod.rs picks the binder
/// shim; the others choose the Android build's crate for one job (tests/aosp_crates
/// compiles them against AOSP's crates).
#[test]
fn soong_is_selected_in_one_place() {
    fn walk(dir: &Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, hits);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if line.contains("cfg(soong)") || line.contains("cfg_attr(soong") {
                        hits.push(format!("{}:{}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    let mut hits = Vec::new();
    walk(&src(""), &mut hits);
    // This test's own source names the pattern; skip it.
    hits.retain(|h| !h.contains("control/tests.rs"));
    let seams = [
        "control/mod.rs",
        "config/mod.rs",
        "config/syntax.rs",
        "hw/rpmb/crypto.rs",
        "logging.rs",
        "nix_compat.rs",
        // The sandbox: AOSP has no seccompiler/landlock/caps, sandbox/android.rs stands in.
        "lib.rs",
    ];
    for hit in &hits {
        assert!(
            seams.iter().any(|s| hit.contains(&format!("src/{s}:"))),
            "cfg(soong) outside the seams: {hit}"
        );
    }
    assert!(
        hits.iter().any(|h| h.contains("control/mod.rs")),
        "{hits:?}"
    );
}

fn registry() -> (Arc<Registry>, Arc<ClockTable>, Arc<RpmbCell>) {
    let bus = Arc::new(EventBus::new());
    let mk = |id: &str, kind| {
        Arc::new(DeviceState::new(
            id.into(),
            kind,
            "vm0".into(),
            TransportKind::VhostUser,
            format!("/run/{id}.sock"),
            1,
            bus.clone(),
        ))
    };
    let scmi = mk("vm0-scmi", DeviceKind::Scmi);
    let rpmb = mk("vm0-rpmb", DeviceKind::Rpmb);
    let radio = mk("vm0-radio", DeviceKind::Radio);
    let clocks = Arc::new(ClockTable::new(vec![
        ("pll".into(), 1_000_000_000, true),
        ("uart".into(), 48_000_000, true),
    ]));
    clocks.name_agent(1, "vm0");
    let cell = Arc::new(RpmbCell::new(4 << 20, 7, true));
    // The agent is granted only the uart, as its clock 0.
    scmi.set_detail_source(Arc::new(ClockView::new(clocks.clone(), &[1])));
    rpmb.set_detail_source(cell.clone());
    (
        Arc::new(Registry::new(vec![scmi, rpmb, radio], bus)),
        clocks,
        cell,
    )
}

fn code(s: Status) -> i32 {
    describe_status(&s).0.expect("a service-specific error")
}

#[test]
fn queries_answer_from_live_state_and_refuse_with_the_aidl_codes() {
    let (reg, clocks, cell) = registry();
    let svc = DriverVm::new(reg, &crate::service::registry::Kinds).unwrap();
    let list = svc.r#listDevices().unwrap();
    let ids: Vec<_> = list.iter().map(|d| d.r#id.as_str()).collect();
    assert_eq!(ids, ["vm0-scmi", "vm0-rpmb", "vm0-radio"]);

    clocks.set_rate(1, 24_000_000, 1);
    let c = svc.r#getClocks("vm0-scmi").unwrap();
    assert_eq!(c.len(), 1, "only the granted clock");
    assert_eq!(
        (
            c[0].r#id,
            c[0].r#name.as_str(),
            c[0].r#rateHz,
            c[0].r#owner.as_str()
        ),
        (0, "uart", 24_000_000, "vm0")
    );
    cell.update(8, true);
    let r = svc.r#getRpmbInfo("vm0-rpmb").unwrap();
    assert_eq!(
        (r.r#capacityBytes, r.r#writeCounter, r.r#keyProgrammed),
        (4 << 20, 8, true)
    );

    assert_eq!(
        code(svc.r#getDevice("nope").unwrap_err()),
        idv::ERROR_UNKNOWN_DEVICE
    );
    let e = svc.r#getDevice("nope").unwrap_err();
    assert_eq!(
        describe_status(&e).1,
        "no device \"nope\" (devices: vm0-scmi, vm0-rpmb, vm0-radio)"
    );
    assert_eq!(
        code(svc.r#getRpmbInfo("vm0-scmi").unwrap_err()),
        idv::ERROR_WRONG_DEVICE_KIND
    );
    assert_eq!(
        code(svc.r#getClocks("nope").unwrap_err()),
        idv::ERROR_UNKNOWN_DEVICE
    );
    // A radio that publishes nothing yet.
    assert_eq!(
        code(svc.r#getRadioInfo("vm0-radio").unwrap_err()),
        idv::ERROR_BACKEND_UNAVAILABLE
    );
    assert_eq!(
        code(svc.r#getAudioStreams("vm0-radio").unwrap_err()),
        idv::ERROR_WRONG_DEVICE_KIND
    );
}

#[test]
fn get_detail_answers_every_kind_with_the_arm_of_its_kind() {
    use iface::DeviceDetail::DeviceDetail as D;
    let (reg, clocks, cell) = registry();
    let svc = DriverVm::new(reg, &crate::service::registry::Kinds).unwrap();
    clocks.set_rate(1, 12_000_000, 1);
    match svc.r#getDetail("vm0-scmi").unwrap() {
        D::Scmi(s) => {
            let c: Vec<_> = s.r#clocks.iter().map(|c| (c.r#id, c.r#rateHz)).collect();
            assert_eq!(c, [(0, 12_000_000)], "the agent's own numbering");
        }
        other => panic!("scmi answered {other:?}"),
    }
    cell.update(9, true);
    match svc.r#getDetail("vm0-rpmb").unwrap() {
        D::Rpmb(r) => assert_eq!((r.r#writeCounter, r.r#keyProgrammed), (9, true)),
        other => panic!("rpmb answered {other:?}"),
    }
    // The same numbers as the V1 getter a V1 client uses.
    assert_eq!(svc.r#getRpmbInfo("vm0-rpmb").unwrap().r#writeCounter, 9);
    assert_eq!(
        code(svc.r#getDetail("vm0-radio").unwrap_err()),
        idv::ERROR_BACKEND_UNAVAILABLE
    );
    assert_eq!(
        code(svc.r#getDetail("nope").unwrap_err()),
        idv::ERROR_UNKNOWN_DEVICE
    );
}

struct Quiet;
impl Interface for Quiet {}
impl IDriverVmListener for Quiet {
    fn r#onLinkStateChanged(&self, _: &str, _: iface::LinkState::LinkState) -> BinderResult<()> {
        Ok(())
    }
    fn r#onDeviceStateChanged(&self, _: &str) -> BinderResult<()> {
        Ok(())
    }
}

#[test]
fn listeners_are_deduplicated_and_capped() {
    let (reg, ..) = registry();
    let svc = DriverVm::new(reg, &crate::service::registry::Kinds).unwrap();
    let first = new_listener(Quiet);
    svc.r#registerListener(&first).unwrap();
    svc.r#registerListener(&first).unwrap();
    assert_eq!(svc.listener_count(), 1);
    let mut held = vec![first.clone()];
    for _ in 1..MAX_LISTENERS {
        let l = new_listener(Quiet);
        svc.r#registerListener(&l).unwrap();
        held.push(l);
    }
    let extra = new_listener(Quiet);
    assert_eq!(
        code(svc.r#registerListener(&extra).unwrap_err()),
        idv::ERROR_TOO_MANY_LISTENERS
    );
    svc.r#unregisterListener(&first).unwrap();
    svc.r#unregisterListener(&first).unwrap();
    assert_eq!(svc.listener_count(), MAX_LISTENERS - 1);
    svc.r#registerListener(&extra).unwrap();
}

#[test]
fn every_kind_round_trips_through_its_aidl_value() {
    for k in crate::kind::DeviceKind::ALL {
        assert_eq!(super::kind_from_aidl(super::convert::kind(k)), Some(k));
    }
    assert_eq!(
        super::kind_from_aidl(super::iface::DeviceKind::DeviceKind(-1)),
        None
    );
    // DeviceKind.aidl's values are the kinds' places in DeviceKind::ALL.
    use super::iface::DeviceKind::DeviceKind as K;
    use crate::kind::DeviceKind as D;
    let wire: Vec<_> = [D::Scmi, D::Rpmb, D::Sound, D::Radio]
        .into_iter()
        .map(super::convert::kind)
        .collect();
    assert_eq!(wire, [K::SCMI, K::RPMB, K::SOUND, K::RADIO]);
}
