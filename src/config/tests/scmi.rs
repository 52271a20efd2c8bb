//! The SCMI platform tables and per-device grants: what they build and every error.

use super::*;
use crate::hw::clock::{RatePolicy, RateSpec};
use crate::hw::sensor::SimSource;
use crate::hw::sensor_set::SensorSource;
use crate::hw::sysfs_sensors::SysfsSource;

/// A config with `soc` tables and one guest "ivi" whose scmi device has `device` keys.
fn with(soc: &str, device: &str) -> String {
    format!("{soc}\n[[guest]]\nname = \"ivi\"\n[[guest.device]]\nkind = \"scmi\"\n{device}\n")
}

const TREE: &str = r#"
[[soc.clock]]
name = "xo"
rates = [19200000]
always_on = true
[[soc.clock]]
name = "pll"
range = { min = 100, max = 1000, step = 100 }
rate = 500
parents = ["xo"]
[[soc.clock]]
name = "mux"
rates = [10, 20]
parents = ["xo", "pll"]
parent = "pll"
policy = "owner:ivi"
[[soc.power_domain]]
name = "gpu"
on = true
[[soc.reset_domain]]
name = "usb"
[[soc.perf_domain]]
name = "cpu"
[[soc.perf_domain.opp]]
level = 2
freq_khz = 200
[[soc.perf_domain.opp]]
level = 1
freq_khz = 100
[[soc.sensor]]
name = "t"
type = "temperature"
value = 40
"#;

#[test]
fn platform_and_grants_build_typed_values() {
    let c = parse(
        &with(
            TREE,
            "clocks = [\"mux\", \"xo:read-only\"]\nperf_domains = [\"cpu\"]",
        ),
        "x",
    )
    .unwrap();
    let p = &c.soc.scmi;
    assert_eq!(
        p.clocks[1].spec.desc.rates,
        RateSpec::Range {
            min: 100,
            max: 1000,
            step: 100
        }
    );
    assert_eq!(p.clocks[1].spec.initial_rate, 500);
    assert_eq!(p.clocks[0].spec.initial_rate, 19_200_000);
    assert!(p.clocks[0].spec.always_on);
    assert_eq!(p.clocks[2].spec.initial_parent, Some(1));
    assert_eq!(
        p.clocks[2].spec.initial_rate, 10,
        "default: the lowest rate"
    );
    assert_eq!(p.clocks[2].policy, RatePolicy::Owner("ivi".into()));
    assert_eq!(p.power_domains, [("gpu".to_string(), true)]);
    assert_eq!(p.reset_domains[0].latency_us, None);
    let levels: Vec<u32> = p.perf_domains[0].opps.iter().map(|o| o.level).collect();
    assert_eq!((levels, p.perf_domains[0].initial_level), (vec![1, 2], 1));
    assert_eq!(
        (p.sensors[0].0.sensor_type, p.sensors[0].1.clone()),
        (2, SensorSource::Sim(SimSource::Fixed(40)))
    );
    let g = &c.guests[0].devices[0].grants();
    assert_eq!(
        g.clocks,
        [
            Grant {
                name: "mux".into(),
                control: true
            },
            Grant {
                name: "xo".into(),
                control: false
            }
        ]
    );
    assert!(g.power_domains.is_empty() && g.sensors.is_empty());
    assert_eq!(g.perf_domains.len(), 1);
}

#[test]
fn clock_errors_name_the_clock_and_key() {
    let clock = |body: &str| err(&with(&format!("[[soc.clock]]\n{body}"), ""));
    assert_eq!(
        clock("name = \"a b\"\nrates = [1]"),
        "etc/x.toml: soc.clock 1: invalid name \"a b\" (expected 1 to 63 printable ASCII \
         characters without spaces or ':')"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\n[[soc.clock]]\nname = \"a\"\nrates = [1]"),
        "etc/x.toml: soc.clock 2: name \"a\" is already used"
    );
    assert_eq!(
        clock("name = \"a\""),
        "etc/x.toml: soc.clock \"a\": set exactly one of `rates` (a list) or `range` (min, max, step)"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\nrange = { min = 1, max = 1, step = 0 }"),
        "etc/x.toml: soc.clock \"a\": set exactly one of `rates` (a list) or `range` (min, max, step)"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = []"),
        "etc/x.toml: soc.clock \"a\" rates: expected 1 to 4096 rates, found 0"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [0]"),
        format!(
            "etc/x.toml: soc.clock \"a\" rates: 0 is out of range (expected 1 to {})",
            i64::MAX
        )
    );
    assert_eq!(
        clock("name = \"a\"\nrange = { min = 10, max = 5, step = 1 }"),
        format!(
            "etc/x.toml: soc.clock \"a\" range.max: 5 is out of range (expected 10 to {})",
            i64::MAX
        )
    );
    assert_eq!(
        clock("name = \"a\"\nrange = { min = 1, max = 5, step = 0 }"),
        "etc/x.toml: soc.clock \"a\" range.step: must be positive unless min equals max"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1, 2]\nrate = 3"),
        "etc/x.toml: soc.clock \"a\" rate: 3 Hz is not one of the clock's rates"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\nparents = [\"nope\"]"),
        "etc/x.toml: soc.clock \"a\" parents: no clock named \"nope\""
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\nparents = [\"a\"]"),
        "etc/x.toml: soc.clock \"a\" parents: \"a\" is the clock itself or listed twice"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\nparent = \"b\""),
        "etc/x.toml: soc.clock \"a\" parent: \"b\" is not one of `parents`"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\npolicy = \"lowest\""),
        "etc/x.toml: soc.clock \"a\" policy: unknown rate policy `lowest` (expected \
         `highest-wins` or `owner:<guest>`)"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\npolicy = \"owner:vm9\""),
        "etc/x.toml: soc.clock \"a\" policy: owner \"vm9\" is not a configured guest"
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\nenable_latency_us = -1"),
        format!(
            "etc/x.toml: soc.clock \"a\" enable_latency_us: -1 is out of range (expected 0 to {})",
            u32::MAX
        )
    );
    assert_eq!(
        clock("name = \"a\"\nrates = [1]\nparents = [\"b\"]\n[[soc.clock]]\nname = \"b\"\nrates = [1]\nparents = [\"a\"]"),
        "etc/x.toml: soc.clock: clock a is its own ancestor"
    );
}

#[test]
fn domain_and_sensor_errors_name_their_key() {
    assert_eq!(
        err(&with(
            "[[soc.reset_domain]]\nname = \"r\"\nlatency_us = 2147483647",
            ""
        )),
        "etc/x.toml: soc.reset_domain \"r\" latency_us: 2147483647 is out of range (expected 0 \
         to 2147483646)"
    );
    assert_eq!(
        err(&with(
            "[[soc.power_domain]]\nname = \"p\"\n[[soc.power_domain]]\nname = \"p\"",
            ""
        )),
        "etc/x.toml: soc.power_domain 2: name \"p\" is already used"
    );
    assert_eq!(
        err(&with("[[soc.perf_domain]]\nname = \"c\"", "")),
        "etc/x.toml: soc.perf_domain \"c\" opp: expected 1 to 4096 [[soc.perf_domain.opp]] \
         tables, found 0"
    );
    let perf =
        "[[soc.perf_domain]]\nname = \"c\"\n[[soc.perf_domain.opp]]\nlevel = 1\nfreq_khz = 1\n";
    assert_eq!(
        err(&with(
            &format!("{perf}[[soc.perf_domain.opp]]\nlevel = 1\nfreq_khz = 2"),
            ""
        )),
        "etc/x.toml: soc.perf_domain \"c\" opp.level: level 1 is zero or listed twice"
    );
    assert_eq!(
        err(&with(
            &perf.replace("name = \"c\"\n", "name = \"c\"\nlevel = 5\n"),
            ""
        )),
        "etc/x.toml: soc.perf_domain \"c\" level: 5 is not an opp level"
    );
    assert_eq!(
        err(&with(&format!("{perf}latency_us = 70000"), "")),
        "etc/x.toml: soc.perf_domain \"c\" opp.latency_us: 70000 is out of range (expected 0 \
         to 65535)"
    );
    let sensor = |body: &str| err(&with(&format!("[[soc.sensor]]\nname = \"s\"\n{body}"), ""));
    assert_eq!(
        sensor("type = \"humidity\"\nvalue = 1"),
        "etc/x.toml: soc.sensor \"s\" type: unknown sensor type \"humidity\" (expected one of: \
         temperature, voltage, current, power)"
    );
    assert_eq!(
        sensor("type = \"power\""),
        "etc/x.toml: soc.sensor \"s\": set exactly one of `value` (a fixed reading), `wave` \
         (min, max, period_ms), `iio` (an IIO channel) or `thermal_zone` (a thermal zone)"
    );
    assert_eq!(
        sensor("type = \"power\"\nvalue = 1\nthermal_zone = \"thermal_zone0\""),
        "etc/x.toml: soc.sensor \"s\": set exactly one of `value` (a fixed reading), `wave` \
         (min, max, period_ms), `iio` (an IIO channel) or `thermal_zone` (a thermal zone)"
    );
    assert_eq!(
        sensor("type = \"power\"\nvalue = 1\nscale = 20"),
        "etc/x.toml: soc.sensor \"s\" scale: 20 is out of range (expected -16 to 15)"
    );
    assert_eq!(
        sensor("type = \"power\"\nwave = { min = 5, max = 1, period_ms = 10 }"),
        format!(
            "etc/x.toml: soc.sensor \"s\" wave.max: 1 is out of range (expected 5 to {})",
            i64::MAX
        )
    );
    assert_eq!(
        sensor("type = \"power\"\nvalue = 1\nupdate_interval_s = 0"),
        "etc/x.toml: soc.sensor \"s\" update_interval_s: 0 is out of range (expected 1 to 65535)"
    );
    assert_eq!(
        err(&with("[soc.linux_clocks]\ndebugfs = \"\"", "")),
        "etc/x.toml: soc.linux_clocks.debugfs: must not be empty"
    );
    assert_eq!(
        sensor("type = \"voltage\"\nthermal_zone = \"thermal_zone0\""),
        "etc/x.toml: soc.sensor \"s\" thermal_zone: thermal zones read temperatures: set \
         type = \"temperature\""
    );
    for zone in [
        "thermal_zone",
        "zone0",
        "thermal_zone0/../x",
        "thermal_zone-1",
    ] {
        assert_eq!(
            sensor(&format!(
                "type = \"temperature\"\nthermal_zone = \"{zone}\""
            )),
            format!(
                "etc/x.toml: soc.sensor \"s\" thermal_zone: \"{zone}\" is not a thermal zone \
                 (expected thermal_zone<N>)"
            )
        );
    }
    for iio in [
        "iio:device0",
        "iio:device/in_temp",
        "../in_temp",
        "iio:device0/../x",
        "iio:device0/",
    ] {
        assert_eq!(
            sensor(&format!("type = \"temperature\"\niio = \"{iio}\"")),
            format!(
                "etc/x.toml: soc.sensor \"s\" iio: \"{iio}\" is not an IIO channel (expected \
                 iio:device<N>/<channel>, e.g. iio:device0/in_voltage0)"
            )
        );
    }
    assert_eq!(
        sensor("type = \"current\"\niio = \"iio:device2/in_voltage0\""),
        "etc/x.toml: soc.sensor \"s\" iio: channel \"in_voltage0\" does not measure this \
         sensor's type (expected in_current...)"
    );
    assert_eq!(
        err(&with("[soc.linux_sensors]\nsysfs = \"\"", "")),
        "etc/x.toml: soc.linux_sensors.sysfs: must not be empty"
    );
}

#[test]
fn sensors_read_from_sysfs_parse_to_their_sources() {
    let text = with(
        "[[soc.sensor]]\nname = \"vin\"\ntype = \"voltage\"\nscale = -6\n\
         iio = \"iio:device12/in_voltage3\"\n\
         [[soc.sensor]]\nname = \"die\"\ntype = \"temperature\"\nthermal_zone = \"thermal_zone2\"\n\
         [soc.linux_sensors]\nsysfs = \"/tmp/fake-sys\"",
        "",
    );
    let c = parse(&text, "etc/x.toml").expect("valid");
    let p = &c.soc.scmi;
    let sources: Vec<_> = p
        .sensors
        .iter()
        .map(|(d, s)| (d.name.as_str(), d.scale, s.clone()))
        .collect();
    assert_eq!(
        sources[sources.len() - 2..],
        [
            (
                "vin",
                -6,
                SensorSource::Sysfs(SysfsSource::Iio {
                    device: "iio:device12".into(),
                    channel: "in_voltage3".into()
                })
            ),
            (
                "die",
                0,
                SensorSource::Sysfs(SysfsSource::ThermalZone("thermal_zone2".into()))
            ),
        ]
    );
    assert_eq!(
        p.linux_sensor_root,
        std::path::PathBuf::from("/tmp/fake-sys")
    );
    // Without the table, sysfs is /sys.
    let c = parse(&with("", ""), "etc/x.toml").expect("valid");
    assert_eq!(
        c.soc.scmi.linux_sensor_root,
        std::path::PathBuf::from("/sys")
    );
}

#[test]
fn grant_errors_name_guest_device_and_list() {
    assert_eq!(
        err(&with(TREE, "clocks = [\"nope\"]")),
        "etc/x.toml: guest \"ivi\" device 1 clocks: \"nope\" is not defined (expected a name \
         from [soc], optionally followed by \":read-only\")"
    );
    assert_eq!(
        err(&with(TREE, "clocks = [\"xo\", \"xo:read-only\"]")),
        "etc/x.toml: guest \"ivi\" device 1 clocks: \"xo\" is granted twice"
    );
    assert_eq!(
        err(&with(TREE, "sensors = [\"t:readonly\"]")),
        "etc/x.toml: guest \"ivi\" device 1 sensors: \"t:readonly\" is not defined (expected a \
         name from [soc], optionally followed by \":read-only\")"
    );
    assert_eq!(
        err(&with(
            TREE,
            "backend = \"linux\"\npower_domains = [\"gpu\"]"
        )),
        "etc/x.toml: guest \"ivi\" device 1 power_domains: the linux backend serves clocks only \
         (grant domains and sensors from a sim device; a sensor reads the kernel's sysfs when \
         [[soc.sensor]] sets iio or thermal_zone)"
    );
    // Linux clocks are named by debugfs; with names listed, grants must use them.
    let linux = "[soc.linux_clocks]\nnames = [\"gcc_a\"]";
    assert!(parse(
        &with(linux, "backend = \"linux\"\nclocks = [\"gcc_a\"]"),
        "x"
    )
    .is_ok());
    assert!(parse(
        &with("", "backend = \"linux\"\nclocks = [\"anything\"]"),
        "x"
    )
    .is_ok());
    assert_eq!(
        err(&with(linux, "backend = \"linux\"\nclocks = [\"gcc_b\"]")),
        "etc/x.toml: guest \"ivi\" device 1 clocks: \"gcc_b\" is not defined (expected a name \
         from [soc], optionally followed by \":read-only\")"
    );
}
