//! A two-guest config that exercises every SCMI resource class, shared between guests.

/// vm0 and vm1 share a simulated SoC. Clock grants (agent numbering):
/// vm0: 0 uart (control), 1 xo (read-only), 2 pll (control), 3 sdcc (control, 40 rates),
///      4 shared (control, highest-wins), 5 owned (control, owner vm1)
/// vm1: 0 shared, 1 owned, 2 uart:read-only
pub const PLATFORM: &str = r#"
[soc]
vendor = "drivervm-test"

[[soc.clock]]
name = "xo"
rates = [19200000]
always_on = true

[[soc.clock]]
name = "pll"
range = { min = 300000000, max = 1200000000, step = 100000000 }
rate = 600000000
parents = ["xo"]
enable_latency_us = 50

[[soc.clock]]
name = "uart"
rates = [19200000, 48000000, 100000000]
rate = 19200000
parents = ["xo", "pll"]

[[soc.clock]]
name = "sdcc"
rates = [
    1000000, 2000000, 3000000, 4000000, 5000000, 6000000, 7000000, 8000000, 9000000, 10000000,
    11000000, 12000000, 13000000, 14000000, 15000000, 16000000, 17000000, 18000000, 19000000,
    20000000, 21000000, 22000000, 23000000, 24000000, 25000000, 26000000, 27000000, 28000000,
    29000000, 30000000, 31000000, 32000000, 33000000, 34000000, 35000000, 36000000, 37000000,
    38000000, 39000000, 40000000,
]
parents = ["pll"]

[[soc.clock]]
name = "shared"
rates = [100, 200, 300]

[[soc.clock]]
name = "owned"
rates = [100, 200, 300]
policy = "owner:vm1"

[[soc.power_domain]]
name = "gpu"

[[soc.power_domain]]
name = "modem"
on = true

[[soc.reset_domain]]
name = "usb"
latency_us = 40

[[soc.reset_domain]]
name = "ufs"

[[soc.perf_domain]]
name = "cpu"
[[soc.perf_domain.opp]]
level = 100
freq_khz = 100000
power_uw = 1000
latency_us = 10
[[soc.perf_domain.opp]]
level = 200
freq_khz = 200000
power_uw = 2000
latency_us = 10
[[soc.perf_domain.opp]]
level = 300
freq_khz = 300000
power_uw = 3000
latency_us = 10

[[soc.sensor]]
name = "thermal"
type = "temperature"
scale = -3
value = 42000

[[soc.sensor]]
name = "vbat"
type = "voltage"
scale = -6
update_interval_s = 1
value = 3800000

[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
clocks = ["uart", "xo:read-only", "pll", "sdcc", "shared", "owned"]
power_domains = ["gpu", "modem:read-only"]
reset_domains = ["usb", "ufs:read-only"]
perf_domains = ["cpu"]
sensors = ["thermal", "vbat:read-only"]

[[guest]]
name = "vm1"
[[guest.device]]
kind = "scmi"
clocks = ["shared", "owned", "uart:read-only"]
power_domains = ["gpu"]
reset_domains = ["usb"]
perf_domains = ["cpu"]
sensors = ["vbat"]
"#;

/// The sockets of [`PLATFORM`].
pub const SOCKETS: [&str; 2] = ["vm0-scmi.sock", "vm1-scmi.sock"];

/// The device ids of [`PLATFORM`], for [`super::transport::Served::connect`].
pub const DEVICES: [&str; 2] = ["vm0-scmi", "vm1-scmi"];
