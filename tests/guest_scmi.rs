//! A real Linux guest against drivervm's SCMI platform: an arm64 kernel (TCG) whose own
//! SCMI stack (arm_scmi over virtio, clk-scmi, scmi_pm_domain, scmi-perf-domain,
//! scmi-hwmon, reset-scmi) enumerates the platform the embedded default config describes,
//! and whose raw mode sends the messages below. Nothing on the guest side was written here
//! except the tiny /init that prints what the kernel exposes.
//!
//! Needs qemu-system-aarch64, dtc, cpio, gzip, aarch64-linux-gnu-gcc and the Debian
//! linux-source-6.12 package (see tests/guest/). Locally a missing tool skips with a
//! notice; with CI=true it fails.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

#[path = "support/guest.rs"]
#[allow(dead_code)] // The SCMI guest uses only the skip handling.
mod guest;
#[path = "support/readme.rs"]
mod readme;
use guest::ready_or_skip;
use readme::{vmm_line, README};

const TOOLS: [&str; 6] = [
    "qemu-system-aarch64",
    "dtc",
    "cpio",
    "gzip",
    "aarch64-linux-gnu-gcc",
    "make",
];

/// Raw messages: kind, name, protocol, message, token, parameters (see scmi-guest-init.c).
/// Agent clock IDs follow the default config's grant order: 0 xo_board (read-only),
/// 1 sleep_clk (read-only), 2 gpll0, 3 gpll4, 4 uart_src, 5 uart0_core, 6 i2c0_core,
/// 7 sdcc1_apps, 8 usb30_master, 9 audio_mclk, 10 display_pixel.
const CHECKS: &str = "\
sync base_version 0x10 0 1
sync base_list 0x10 6 2 0
sync base_negotiate 0x10 0x10 3 0x20001
sync base_negotiate_old 0x10 0x10 4 0x20000
sync no_such_protocol 0x12 0 5
sync base_notify_errors_bad 0x10 8 53 2
sync base_notify_errors 0x10 8 54 1
sync base_truncated 0x10 2 55
notif base_error_event
sync base_notify_errors_off 0x10 8 56 0
sync clk_version 0x14 0 6
sync clk_attributes 0x14 1 7
sync clk_msg_attr_parent_get 0x14 2 8 0xe
sync clk_msg_attr_permissions 0x14 2 9 0xf
sync clk_uart_attributes 0x14 3 10 4
sync clk_rate_get 0x14 6 11 4
sync clk_rate_set 0x14 5 12 0 4 48000000 0
sync clk_rate_get_after_set 0x14 6 13 4
sync clk_rate_set_round_up 0x14 5 14 4 4 50000000 0
sync clk_rate_get_rounded 0x14 6 15 4
sync clk_rate_set_read_only 0x14 5 16 0 0 19200000 0
sync clk_rate_set_out_of_range 0x14 5 17 0 4 200000000 0
sync clk_rate_get_no_clock 0x14 6 18 99
sync clk_rate_get_short 0x14 6 19
sync clk_rate_get_long 0x14 6 20 4 0
sync clk_rate_set_bad_flags 0x14 5 21 0x10 4 48000000 0
sync clk_describe_discrete 0x14 4 22 7 0
sync clk_describe_range 0x14 4 23 3 0
sync clk_config_set 0x14 7 24 6 1 0
sync clk_config_get 0x14 0xb 25 6 0
sync clk_config_set_read_only 0x14 7 26 1 0 0
sync clk_config_set_oem 0x14 7 27 6 0x10001 5
sync clk_possible_parents 0x14 0xc 28 4 0
sync clk_parent_get 0x14 0xe 29 4
sync clk_parent_set 0x14 0xd 30 4 2
sync clk_parent_get_after_set 0x14 0xe 31 4
sync clk_parent_set_not_parent 0x14 0xd 32 4 5
sync clk_name_get 0x14 8 33 10
sync clk_rate_notify 0x14 9 34 9 1
sync clk_rate_set_notified 0x14 5 35 0 9 24000000 0
notif clk_rate_changed
async clk_rate_set_async 0x14 5 36 1 9 6144000 0
sync power_version 0x11 0 37
sync power_state_get 0x11 5 38 0
sync power_state_set 0x11 4 39 0 0 0
sync power_state_get_after 0x11 5 40 0
sync power_state_set_bad 0x11 4 41 0 0 5
sync perf_level_set 0x13 7 42 0 1400
sync perf_level_get 0x13 8 43 0
sync perf_level_set_bad 0x13 7 44 0 1500
sync perf_limits_get 0x13 6 45 0
sync reset_attributes 0x16 1 46
sync reset_autonomous 0x16 4 47 0 1 0
sync reset_vendor_state 0x16 4 48 0 1 0x80000000
async reset_async 0x16 4 49 0 5 0
sync sensor_reading 0x15 6 50 1 0
sync sensor_reading_async 0x15 6 51 1 1
sync sensor_attributes 0x15 1 52
";

const SUCCESS: u32 = 0;
const NOT_SUPPORTED: u32 = -1i32 as u32;
const INVALID_PARAMETERS: u32 = -2i32 as u32;
const DENIED: u32 = -3i32 as u32;
const NOT_FOUND: u32 = -4i32 as u32;
const OUT_OF_RANGE: u32 = -5i32 as u32;
const PROTOCOL_ERROR: u32 = -10i32 as u32;

/// The default config's clocks and their power-on rates.
const CLOCKS: [(&str, u64); 11] = [
    ("xo_board", 19_200_000),
    ("sleep_clk", 32_768),
    ("gpll0", 600_000_000),
    ("gpll4", 806_400_000),
    ("uart_src", 19_200_000),
    ("uart0_core", 19_200_000),
    ("i2c0_core", 19_200_000),
    ("sdcc1_apps", 400_000),
    ("usb30_master", 133_333_333),
    ("audio_mclk", 12_288_000),
    ("display_pixel", 148_500_000),
];

fn missing_tools() -> Vec<String> {
    let mut missing: Vec<String> = TOOLS
        .iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
        .map(|t| t.to_string())
        .collect();
    let source = std::fs::read_dir("/usr/src")
        .map(|d| {
            d.filter_map(Result::ok).any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("linux-source-6.12")
            })
        })
        .unwrap_or(false);
    let home = std::env::var("HOME").unwrap_or_default();
    let cache = std::env::var("DRIVERVM_CACHE").unwrap_or(format!("{home}/.cache/drivervm"));
    let cached = Path::new(&cache)
        .join("kernel-arm64-6.12-v1/Image")
        .exists();
    if !source && !cached {
        missing.push("linux-source-6.12 (or a cached kernel)".into());
    }
    missing
}

/// Replies by check name: the words after `RAW <name>`.
fn raw_replies(console: &str) -> HashMap<String, Vec<String>> {
    console
        .lines()
        .filter_map(|l| l.strip_prefix("RAW "))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?.to_owned();
            Some((name, it.map(str::to_owned).collect()))
        })
        .collect()
}

/// The text the guest printed between `BEGIN path` and `END path`.
fn section<'a>(console: &'a str, path: &str) -> &'a str {
    let begin = format!("BEGIN {path}\n");
    let Some(start) = console.find(&begin).map(|i| i + begin.len()) else {
        return "";
    };
    let end = console[start..]
        .find(&format!("END {path}"))
        .map_or(console.len(), |i| start + i);
    &console[start..end]
}

struct Guest {
    console: String,
    raw: HashMap<String, Vec<String>>,
}

impl Guest {
    /// Status and return values of a check, as numbers.
    fn reply(&self, name: &str) -> (u32, Vec<u32>) {
        let words = self
            .raw
            .get(name)
            .unwrap_or_else(|| panic!("no reply to {name}:\n{}", self.console));
        let nums: Vec<u32> = words
            .iter()
            .map(|w| {
                u32::from_str_radix(w, 16)
                    .unwrap_or_else(|_| panic!("{name}: {words:?}\n{}", self.console))
            })
            .collect();
        assert!(nums.len() >= 2, "{name}: {words:?}");
        (nums[1], nums[2..].to_vec())
    }

    fn status(&self, name: &str) -> u32 {
        self.reply(name).0
    }

    fn ok(&self, name: &str) -> Vec<u32> {
        let (s, r) = self.reply(name);
        assert_eq!(s, SUCCESS, "{name} failed with status {}", s as i32);
        r
    }

    fn header(&self, name: &str) -> u32 {
        u32::from_str_radix(&self.raw[name][0], 16).unwrap_or(0)
    }
}

fn boot() -> Option<Guest> {
    let missing = missing_tools();
    let why = (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")));
    if !ready_or_skip("the arm64 SCMI guest test", why) {
        return None;
    }
    let work = tempfile::tempdir().expect("tempdir");
    // The service's runtime and state dirs are made inside: started as root, it works in
    // them as its default user, who must be able to pass through.
    if nix::unistd::geteuid().is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711))
            .expect("make the work dir passable");
    }
    let checks = work.path().join("checks.txt");
    std::fs::write(&checks, CHECKS).expect("write checks");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/run-scmi-guest.sh");
    // The README's line, as users copy it.
    let line = vmm_line(README, "qemu-scmi").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(script)
        .env("VMM_LINE", line)
        .arg(env!("CARGO_BIN_EXE_drivervm"))
        .arg(work.path().join("guest"))
        .arg(&checks)
        .output()
        .expect("run the guest script");
    // The serial console ends lines with CR LF.
    let console = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let log = std::fs::read_to_string(work.path().join("guest/drivervm.log")).unwrap_or_default();
    assert!(
        out.status.success() && console.contains("GUEST-INIT-DONE"),
        "guest did not finish ({}):\n{console}\nstderr:\n{}\ndrivervm:\n{log}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Guest {
        raw: raw_replies(&console),
        console,
    })
}

#[test]
fn linux_guest_uses_clocks_power_perf_sensors_and_resets() {
    let Some(g) = boot() else { return };
    let c = &g.console;

    // The kernel's SCMI core found the platform and its drivers enumerated everything,
    // with no error from any of them.
    assert!(c.contains("SCMI Protocol v2.1 'drivervm:sim'"), "{c}");
    assert!(c.contains("Initialized 2 performance domains"), "{c}");
    let complaints: Vec<&str> = c
        .lines()
        .filter(|l| {
            let l = l.to_lowercase();
            (l.contains("scmi") || l.contains("clk") || l.contains("genpd"))
                && [
                    "fail",
                    "error",
                    "out-of-spec",
                    "timed out",
                    "not implemented",
                ]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    assert!(complaints.is_empty(), "{complaints:#?}");

    // clk-scmi registered every granted clock under its configured name and rate, in the
    // configured tree.
    let summary = section(c, "/sys/kernel/debug/clk/clk_summary");
    let rates: HashMap<&str, u64> = summary
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((*cols.first()?, cols.get(4)?.parse().ok()?))
        })
        .collect();
    for (name, rate) in CLOCKS {
        assert_eq!(rates.get(name), Some(&rate), "{name} in:\n{summary}");
    }
    let indent = |name: &str| {
        summary
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.len() - l.trim_start().len())
    };
    assert!(indent("uart0_core") > indent("uart_src"), "{summary}");
    assert!(indent("uart_src") > indent("xo_board"), "{summary}");
    assert!(indent("display_pixel") > indent("gpll4"), "{summary}");

    // Power and performance domains became generic power domains; the kernel switched off
    // the unused "mdss" (on at power-on) through POWER_STATE_SET.
    let genpd = section(c, "/sys/kernel/debug/pm_genpd/pm_genpd_summary");
    for d in ["gpu_gx", "venus", "camss", "mdss", "cpu_cluster0", "gpu"] {
        assert!(genpd.lines().any(|l| l.starts_with(d)), "{d} in:\n{genpd}");
    }
    assert!(
        genpd
            .lines()
            .any(|l| l.starts_with("mdss") && l.contains("off")),
        "{genpd}"
    );

    // scmi-hwmon reads the simulated thermal sensor (a wave between 35 and 75 C).
    assert_eq!(
        section(c, "/sys/class/hwmon/hwmon0/name").trim(),
        "scmi_sensors"
    );
    assert_eq!(
        section(c, "/sys/class/hwmon/hwmon0/temp1_label").trim(),
        "cpu_thermal"
    );
    let temp: i64 = section(c, "/sys/class/hwmon/hwmon0/temp1_input")
        .trim()
        .parse()
        .expect("a temperature");
    assert!((35_000..=75_000).contains(&temp), "{temp}");

    // Raw mode: base.
    assert_eq!(g.ok("base_version"), [0x0002_0001]);
    assert_eq!(g.ok("base_list"), [5, 0x1514_1311, 0x0000_0016]);
    assert_eq!(g.status("base_negotiate"), SUCCESS);
    assert_eq!(g.status("base_negotiate_old"), NOT_SUPPORTED);
    assert_eq!(g.status("no_such_protocol"), NOT_SUPPORTED);
    // BASE_NOTIFY_ERRORS: reserved bits refused; once subscribed, a truncated message brings
    // a BASE_ERROR_EVENT (notification 0x0 of 0x10) from agent 1 listing that one message by
    // the header it went out with. Unsubscribed again before the checks that err on purpose.
    assert_eq!(g.status("base_notify_errors_bad"), INVALID_PARAMETERS);
    assert_eq!(g.status("base_notify_errors"), SUCCESS);
    assert_eq!(g.status("base_truncated"), PROTOCOL_ERROR);
    let e = &g.raw["base_error_event"];
    assert_eq!(e.len(), 5, "header, agent, status, one report: {e:?}");
    assert_eq!(e[..3], ["00004300", "00000001", "00000001"], "{e:?}");
    assert_eq!(e[3], format!("{:08x}", g.header("base_truncated")), "{e:?}");
    assert_eq!(g.status("base_notify_errors_off"), SUCCESS);

    // Clock: discovery.
    assert_eq!(g.ok("clk_version"), [0x0003_0000]);
    assert_eq!(g.ok("clk_attributes"), [(4 << 16) | 11]);
    assert_eq!(g.ok("clk_msg_attr_parent_get"), [0]);
    assert_eq!(g.status("clk_msg_attr_permissions"), NOT_FOUND);
    let attrs = g.ok("clk_uart_attributes");
    assert_eq!(
        attrs[0] & 0xf000_0000,
        0xf000_0000,
        "notify, names, parents"
    );
    // Rate set/get with rounding, and every error.
    assert_eq!(g.ok("clk_rate_get"), [19_200_000, 0]);
    assert_eq!(g.ok("clk_rate_set"), Vec::<u32>::new());
    assert_eq!(g.ok("clk_rate_get_after_set"), [48_000_000, 0]);
    g.ok("clk_rate_set_round_up");
    assert_eq!(g.ok("clk_rate_get_rounded"), [64_000_000, 0]);
    assert_eq!(g.status("clk_rate_set_read_only"), DENIED);
    assert_eq!(g.status("clk_rate_set_out_of_range"), OUT_OF_RANGE);
    assert_eq!(g.status("clk_rate_get_no_clock"), NOT_FOUND);
    assert_eq!(g.status("clk_rate_get_short"), PROTOCOL_ERROR);
    assert_eq!(g.status("clk_rate_get_long"), PROTOCOL_ERROR);
    assert_eq!(g.status("clk_rate_set_bad_flags"), INVALID_PARAMETERS);
    // Rate descriptions: a discrete list and a range triplet.
    let d = g.ok("clk_describe_discrete");
    assert_eq!(d[0], 8, "8 rates, none remaining, discrete");
    assert_eq!((d[1], d[15]), (144_000, 384_000_000));
    assert_eq!(
        g.ok("clk_describe_range"),
        [0x1003, 300_000_000, 0, 1_200_000_000, 0, 100_000, 0]
    );
    // Gate and read back.
    g.ok("clk_config_set");
    assert_eq!(g.ok("clk_config_get"), [0, 1, 0]);
    assert_eq!(g.status("clk_config_set_read_only"), DENIED);
    assert_eq!(g.status("clk_config_set_oem"), NOT_SUPPORTED);
    // Parents.
    assert_eq!(g.ok("clk_possible_parents"), [2, 0, 2]);
    assert_eq!(g.ok("clk_parent_get"), [0]);
    g.ok("clk_parent_set");
    assert_eq!(g.ok("clk_parent_get_after_set"), [2]);
    assert_eq!(g.status("clk_parent_set_not_parent"), INVALID_PARAMETERS);
    let name = g.ok("clk_name_get");
    let bytes: Vec<u8> = name[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(bytes.starts_with(b"display_pixel\0"), "{bytes:?}");
    // A rate change after RATE_NOTIFY arrives on the P2A channel as CLOCK_RATE_CHANGED:
    // agent 1, clock 9, the new rate.
    g.ok("clk_rate_notify");
    g.ok("clk_rate_set_notified");
    assert_eq!(
        g.header("clk_rate_changed"),
        0x5300,
        "{:?}",
        g.raw["clk_rate_changed"]
    );
    let n = &g.raw["clk_rate_changed"];
    assert_eq!(n[1..], ["00000001", "00000009", "016e3600", "00000000"]);
    // Asynchronous rate set: immediate SUCCESS, then the delayed response on the eventq.
    g.ok("clk_rate_set_async");
    assert_eq!(g.header("clk_rate_set_async.delayed") & 0x3ff, 0x205);
    assert_eq!(g.ok("clk_rate_set_async.delayed"), [9, 6_144_000, 0]);

    // Power, performance, reset, sensor through raw mode.
    assert_eq!(g.ok("power_version"), [0x0003_0000]);
    assert_eq!(g.ok("power_state_get"), [0x4000_0000]);
    g.ok("power_state_set");
    assert_eq!(g.ok("power_state_get_after"), [0]);
    assert_eq!(g.status("power_state_set_bad"), INVALID_PARAMETERS);
    g.ok("perf_level_set");
    assert_eq!(g.ok("perf_level_get"), [1400]);
    assert_eq!(g.status("perf_level_set_bad"), OUT_OF_RANGE);
    assert_eq!(g.ok("perf_limits_get"), [1800, 300]);
    assert_eq!(g.ok("reset_attributes"), [3]);
    g.ok("reset_autonomous");
    assert_eq!(g.status("reset_vendor_state"), NOT_SUPPORTED);
    g.ok("reset_async");
    assert_eq!(g.header("reset_async.delayed") & 0x3ff, 0x204);
    assert_eq!(g.ok("reset_async.delayed"), [0]);
    assert_eq!(g.ok("sensor_reading")[..2], [3_850_000, 0]);
    assert_eq!(g.status("sensor_reading_async"), NOT_SUPPORTED);
    assert_eq!(g.ok("sensor_attributes")[0], 3);
}
