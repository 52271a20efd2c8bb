//! Sensors read from sysfs (Linux IIO channels and thermal zones) served by the real
//! service over both transports, against a fake sysfs tree in a temporary directory.

mod support;

use std::path::Path;

use drivervm::harness::{Driver, HarnessOptions};
use support::run_drivervm;
use support::scmi::*;
use support::transport::{Served, Transport};

const SENSOR: u8 = 0x15;
/// HARDWARE_ERROR (DEN0056 §4.1.4).
const HARDWARE_ERROR: i32 = -9;

over_both_transports!(readings_follow_the_kernels_files);

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A platform of one thermal zone, one IIO voltage and one simulated sensor, all granted.
fn config(sysfs: &Path) -> String {
    format!(
        r#"
[soc]
vendor = "drivervm-test"
sub_vendor = "sysfs"

[[soc.sensor]]
name = "soc_thermal"
type = "temperature"
scale = -3
thermal_zone = "thermal_zone1"

[[soc.sensor]]
name = "vin"
type = "voltage"
scale = -6
iio = "iio:device0/in_voltage2"

[[soc.sensor]]
name = "sim"
type = "power"
value = 7

[soc.linux_sensors]
sysfs = "{}"

[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
sensors = ["soc_thermal", "vin:read-only", "sim"]
"#,
        sysfs.display()
    )
}

/// SENSOR_READING_GET (synchronous): status and the 64-bit value.
fn reading(h: &mut dyn Driver, sensor: u32) -> (i32, i64) {
    let reply = h
        .request(CMDQ, &command(SENSOR, 6, 3, &[sensor, 0]), 64)
        .expect("request");
    let r = Response::parse(&reply);
    assert_eq!(r.header, header(SENSOR, 6, 3));
    if r.status != SUCCESS {
        return (r.status, 0);
    }
    let value = u64::from(r.word(0)) | (u64::from(r.word(1)) << 32);
    (r.status, value as i64)
}

fn readings_follow_the_kernels_files(t: Transport) {
    let sys = tempfile::tempdir().expect("tempdir");
    let root = sys.path();
    // Read after start-up, as the service's user: sysfs is world-readable, this must be too.
    support::reachable_by_the_service(root);
    let zone = "class/thermal/thermal_zone1/temp";
    let iio = "bus/iio/devices/iio:device0";
    write(root, zone, "48250\n");
    write(root, &format!("{iio}/in_voltage2_raw"), "2048\n");
    write(root, &format!("{iio}/in_voltage2_scale"), "0.805664062\n");
    write(root, &format!("{iio}/in_voltage2_offset"), "2\n");
    let svc = Served::start(t, &config(root));
    let mut d = svc.connect("vm0-scmi", 2, &HarnessOptions::default());
    let h = d.as_mut();

    // Thermal zone in millidegrees at scale -3; IIO (2048 + 2) * 0.805664062 mV in µV.
    assert_eq!(reading(h, 0), (SUCCESS, 48_250));
    assert_eq!(reading(h, 1), (SUCCESS, 1_651_611));
    assert_eq!(reading(h, 2), (SUCCESS, 7), "the simulated one beside them");
    // Every reading is the kernel's current value.
    write(root, zone, "-1500\n");
    assert_eq!(reading(h, 0), (SUCCESS, -1_500));
    // A value the kernel cannot give is a hardware error, and the device keeps serving.
    std::fs::remove_file(root.join(zone)).expect("rm");
    assert_eq!(reading(h, 0).0, HARDWARE_ERROR);
    write(root, zone, "garbage\n");
    assert_eq!(reading(h, 0).0, HARDWARE_ERROR);
    write(root, zone, "30000\n");
    assert_eq!(reading(h, 0), (SUCCESS, 30_000));
    d.disconnect().expect("disconnect");
}

#[test]
fn a_missing_sysfs_file_stops_the_service_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sys = dir.path().join("sys");
    // The thermal zone exists; the IIO channel does not.
    write(&sys, "class/thermal/thermal_zone1/temp", "40000\n");
    std::fs::write(dir.path().join("c.toml"), config(&sys)).expect("config");
    let (status, _, err) =
        run_drivervm(&["--config", "c.toml", "--runtime-dir", "run"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    let missing = sys.join("bus/iio/devices/iio:device0/in_voltage2_raw");
    assert!(
        err.contains(&format!(
            "sensor `vin`: {} does not exist",
            missing.display()
        )),
        "{err}"
    );
}
