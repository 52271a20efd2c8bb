//! vendor.drivervm V1 and V2 side by side: a client built from the frozen V1 snapshot keeps
//! working against this (V2) service, and this drivervmctl falls back to V1's per-kind getters
//! against a V1 service, saying so.
//!
//! The V1 client and server code is what rsbinder-aidl generates from
//! aidl/aidl_api/vendor.drivervm/1 (build.rs writes it beside the V2 code).

mod support;

use std::process::Command;
use std::sync::Arc;

use drivervm::control::{self, iface, Target};
use serde_json::Value;
use support::Service;

mod v1 {
    rsbinder::include_aidl!("drivervm_aidl_v1");
}

use old::IDriverVm::IDriverVm as _;
use v1::vendor::drivervm as old;

/// An SCMI guest and an RPMB guest on the rpmb_dev face (a transport V1 cannot name).
const CONFIG: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
[[guest]]
name = "vm1"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "rpmb_dev.sock" } }
rpmb = { capacity_blocks = 100 }
"#;

const SOCKETS: [&str; 3] = ["vm0-scmi.sock", "rpmb_dev.sock", "control.sock"];

fn v2_hash() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/aidl/aidl_api/vendor.drivervm/2/.hash"
    ))
    .expect("V2 .hash");
    text.lines().last().expect("a line").trim().to_owned()
}

#[test]
fn a_v1_client_keeps_working_against_this_service() {
    let svc = Service::start(CONFIG, &SOCKETS);
    let conn = control::connect(&Target::Unix(svc.socket("control.sock")), false)
        .unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    // The same remote object, seen through the V1 generated proxy.
    let client: rsbinder::Strong<dyn old::IDriverVm::IDriverVm> =
        rsbinder::FromIBinder::try_from(conn.service.as_binder()).expect("V1 proxy");

    // A V1 client learns the service's version and hash from the service itself.
    assert_eq!(client.r#getInterfaceVersion().unwrap(), 2);
    assert_eq!(client.r#getInterfaceHash().unwrap(), v2_hash());

    let info = client.r#getServiceInfo().unwrap();
    assert_eq!(info.r#name, "drivervm");
    let list = client.r#listDevices().unwrap();
    let ids: Vec<_> = list.iter().map(|d| d.r#id.as_str()).collect();
    assert_eq!(ids, ["vm0-scmi", "vm1-rpmb"]);
    assert_eq!(
        list[0].r#transport,
        old::TransportKind::TransportKind::VHOST_USER
    );
    // V2 names the rpmb_dev face; to V1 it is a value outside its enum, which a stable AIDL
    // client must tolerate (enums may grow) and drivervmctl V1 printed as unknown(2).
    assert_eq!(list[1].r#transport.0, 2);
    assert!(!old::TransportKind::TransportKind::enum_values().contains(&list[1].r#transport));

    // The V1 per-kind getters answer as before.
    assert!(client.r#getClocks("vm0-scmi").unwrap().is_empty());
    let r = client.r#getRpmbInfo("vm1-rpmb").unwrap();
    assert_eq!(
        (r.r#capacityBytes, r.r#writeCounter, r.r#keyProgrammed),
        (100 * 256, 0, false)
    );
    let wrong = client.r#getRpmbInfo("vm0-scmi").unwrap_err();
    assert_eq!(
        wrong.service_specific_error(),
        old::IDriverVm::ERROR_WRONG_DEVICE_KIND
    );

    // And the V2 client sees the same device through getDetail.
    match conn.service.r#getDetail("vm1-rpmb").unwrap() {
        iface::DeviceDetail::DeviceDetail::Rpmb(r) => {
            assert_eq!((r.r#capacityBytes, r.r#writeCounter), (100 * 256, 0))
        }
        other => panic!("rpmb device answered {other:?}"),
    }
    assert_eq!(
        conn.service.r#getDevice("vm1-rpmb").unwrap().r#transport,
        iface::TransportKind::TransportKind::RPMB_DEV
    );
}

/// A V1 service: what a device running the previous drivervm answers. Fixed values, so the
/// test can tell they came through the V1 getters.
struct V1Service;

impl rsbinder::Interface for V1Service {}

fn status(id: &str, kind: old::DeviceKind::DeviceKind) -> old::DeviceStatus::DeviceStatus {
    old::DeviceStatus::DeviceStatus {
        r#id: id.into(),
        r#kind,
        r#guest: "vm0".into(),
        r#transport: old::TransportKind::TransportKind::VHOST_USER,
        r#endpoint: format!("/run/{id}.sock"),
        r#link: old::LinkState::LinkState::LISTENING,
        r#negotiatedFeatures: 0,
        r#queues: Vec::new(),
        r#lastError: String::new(),
    }
}

fn unknown(id: &str) -> rsbinder::Status {
    rsbinder::Status::new_service_specific_error(
        old::IDriverVm::ERROR_UNKNOWN_DEVICE,
        Some(format!("no device \"{id}\"")),
    )
}

impl old::IDriverVm::IDriverVm for V1Service {
    fn r#getServiceInfo(&self) -> rsbinder::BinderResult<old::ServiceInfo::ServiceInfo> {
        Ok(old::ServiceInfo::ServiceInfo {
            r#name: "drivervm".into(),
            r#version: "0.0.1".into(),
            r#uptimeMillis: 1000,
        })
    }
    fn r#listDevices(&self) -> rsbinder::BinderResult<Vec<old::DeviceStatus::DeviceStatus>> {
        Ok(vec![
            status("vm0-rpmb", old::DeviceKind::DeviceKind::RPMB),
            status("vm0-scmi", old::DeviceKind::DeviceKind::SCMI),
        ])
    }
    fn r#getDevice(&self, id: &str) -> rsbinder::BinderResult<old::DeviceStatus::DeviceStatus> {
        self.r#listDevices()?
            .into_iter()
            .find(|d| d.r#id == id)
            .ok_or_else(|| unknown(id))
    }
    fn r#getClocks(&self, id: &str) -> rsbinder::BinderResult<Vec<old::ClockInfo::ClockInfo>> {
        self.r#getDevice(id)?;
        Ok(vec![old::ClockInfo::ClockInfo {
            r#id: 0,
            r#name: "uart".into(),
            r#rateHz: 19_200_000,
            r#enabled: true,
            r#owner: "vm0".into(),
        }])
    }
    fn r#getRpmbInfo(&self, id: &str) -> rsbinder::BinderResult<old::RpmbInfo::RpmbInfo> {
        self.r#getDevice(id)?;
        Ok(old::RpmbInfo::RpmbInfo {
            r#capacityBytes: 131_072,
            r#writeCounter: 7,
            r#keyProgrammed: true,
        })
    }
    fn r#getRadioInfo(&self, id: &str) -> rsbinder::BinderResult<old::RadioInfo::RadioInfo> {
        Err(unknown(id))
    }
    fn r#getAudioStreams(
        &self,
        id: &str,
    ) -> rsbinder::BinderResult<Vec<old::AudioStream::AudioStream>> {
        Err(unknown(id))
    }
    fn r#registerListener(
        &self,
        _listener: &rsbinder::Strong<dyn old::IDriverVmListener::IDriverVmListener>,
    ) -> rsbinder::BinderResult<()> {
        Ok(())
    }
    fn r#unregisterListener(
        &self,
        _listener: &rsbinder::Strong<dyn old::IDriverVmListener::IDriverVmListener>,
    ) -> rsbinder::BinderResult<()> {
        Ok(())
    }
}

/// Serves [`V1Service`] over RPC binder on a unix socket in `dir`.
fn serve_v1(dir: &std::path::Path) -> (Arc<rsbinder::rpc::RpcServer>, std::path::PathBuf) {
    let path = dir.join("v1.sock");
    let server = rsbinder::rpc::RpcServer::setup_unix_server(&path).expect("V1 server");
    server.set_android13plus(2);
    let root = old::IDriverVm::BnDriverVm::new_binder(V1Service);
    server.set_root(root.as_binder()).expect("root");
    server.run_background();
    (server, path)
}

#[test]
fn drivervmctl_falls_back_to_v1_getters_with_a_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, path) = serve_v1(dir.path());
    let target = Target::Unix(path.clone());

    // What a V2 client meets: version 1, and getDetail is not a transaction V1 knows.
    let conn = control::connect(&target, false).expect("connect to the V1 service");
    assert_eq!(conn.service.r#getInterfaceVersion().unwrap(), 1);
    let err = conn.service.r#getDetail("vm0-rpmb").unwrap_err();
    assert_eq!(
        err.transaction_error(),
        rsbinder::StatusCode::UnknownTransaction,
        "{err:?}"
    );

    let ctl = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
            .arg("--connect")
            .arg(format!("unix:{}", path.display()))
            .args(args)
            .output()
            .expect("run drivervmctl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = ctl(&["device", "vm0-rpmb"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("vendor.drivervm V1") && err.contains("V1 per-kind getters"),
        "the fallback is announced: {err}"
    );
    assert!(out.contains("write count 7\n"), "{out}");
    assert!(out.contains("key         programmed\n"), "{out}");

    let (code, out, err) = ctl(&["--json", "device", "vm0-scmi"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON object on stdout");
    assert_eq!(v["interface_version"], 1);
    assert_eq!(v["detail"]["clocks"][0]["name"], "uart");
    assert_eq!(v["detail"]["clocks"][0]["rate_hz"], 19_200_000);

    drop(conn);
    server.terminate();
}

#[test]
fn drivervmctl_uses_get_detail_on_this_service_without_a_note() {
    let svc = Service::start(CONFIG, &SOCKETS);
    let out = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .args(["--json", "device", "vm1-rpmb"])
        .output()
        .expect("run drivervmctl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("note"), "no fallback against V2: {err}");
    let v: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).expect("JSON");
    assert_eq!(v["interface_version"], 2);
    assert_eq!(v["transport"], "rpmb-dev");
    assert_eq!(v["detail"]["capacity_bytes"], 100 * 256);
}
