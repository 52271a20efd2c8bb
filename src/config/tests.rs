//! Whole-config tests: the shipped files, and every error a user can meet, message for message.

use std::path::PathBuf;

use super::*;
use crate::hw::soc::SocIdentity;

mod gunyah;
mod radio;
mod rpmb;
mod schema_keys;
mod sockets;
mod sound;

/// The kind-specific settings, for assertions.
impl DeviceConfig {
    fn radio(&self) -> Option<&RadioConfig> {
        match &self.spec {
            DeviceSpec::Radio(r) => Some(r),
            _ => None,
        }
    }

    fn sound(&self) -> Option<&SoundConfig> {
        match &self.spec {
            DeviceSpec::Sound(s) => Some(s),
            _ => None,
        }
    }

    fn rpmb(&self) -> Option<&RpmbConfig> {
        match &self.spec {
            DeviceSpec::Rpmb(r) => Some(r),
            _ => None,
        }
    }

    fn grants(&self) -> &ScmiGrants {
        static NONE: std::sync::OnceLock<ScmiGrants> = std::sync::OnceLock::new();
        match &self.spec {
            DeviceSpec::Scmi(g) => g,
            _ => NONE.get_or_init(ScmiGrants::default),
        }
    }
}

/// The sound device the embedded default serves: every sound key at its default.
fn sound_default() -> DeviceConfig {
    use crate::hw::pcm::SampleFormat;
    let stream = |name: &str, direction, endpoint| StreamConfig {
        name: name.into(),
        direction,
        formats: vec![SampleFormat::S16],
        rates: vec![48000],
        channels_min: 1,
        channels_max: 2,
        endpoint,
        min_period_us: crate::config::sound::DEFAULT_MIN_PERIOD_US,
    };
    DeviceConfig {
        peers: Default::default(),
        id: "vm0-sound".into(),
        backend: Backend::Sim,
        transport: TransportConfig::VhostUser {
            socket: PathBuf::from("vm0-sound.sock"),
        },
        spec: DeviceSpec::Sound(SoundConfig {
            jacks: vec![JackConfig {
                name: "line-out".into(),
                direction: SoundDirection::Output,
                connected: true,
                remappable: false,
                defconf: 0x0101_4010,
                caps: 0x14,
                detect: JackDetect::Fixed,
            }],
            streams: vec![
                stream("Master", SoundDirection::Output, StreamEndpoint::Null),
                stream(
                    "Capture",
                    SoundDirection::Input,
                    StreamEndpoint::Tone {
                        hz: 440,
                        amplitude_percent: 50,
                    },
                ),
            ],
            controls: false,
        }),
    }
}
mod scmi;

/// The example config shipped in etc/, compiled in so this test cannot drift from it.
const EXAMPLE: &str = include_str!("../../etc/drivervm.toml");

pub(super) fn err(text: &str) -> String {
    match parse(text, "etc/x.toml") {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// One guest "ivi" whose devices are the given `[[guest.device]]` bodies.
pub(super) fn ivi(devices: &[&str]) -> String {
    let mut s = String::from("[[guest]]\nname = \"ivi\"\n");
    for d in devices {
        s.push_str("[[guest.device]]\n");
        s.push_str(d);
        s.push('\n');
    }
    s
}

fn scmi(id: &str, socket: &str) -> DeviceConfig {
    DeviceConfig {
        id: id.to_owned(),
        backend: Backend::Sim,
        transport: TransportConfig::VhostUser {
            socket: PathBuf::from(socket),
        },
        spec: DeviceSpec::Scmi(ScmiGrants::default()),
        peers: Default::default(),
    }
}

fn rpmb_image(id: &str, image: &str, capacity_blocks: u32) -> DeviceConfig {
    DeviceConfig {
        id: id.to_owned(),
        backend: Backend::File,
        transport: TransportConfig::VhostUser {
            socket: PathBuf::from(format!("{id}.sock")),
        },
        spec: DeviceSpec::Rpmb(RpmbConfig {
            storage: RpmbStorageConfig::Image {
                path: PathBuf::from(image),
            },
            capacity_blocks,
            max_wr_cnt: 2,
            max_rd_cnt: 2,
            interface: RpmbInterface::VirtioRpmb,
        }),
        peers: Default::default(),
    }
}

#[test]
fn embedded_default_is_one_guest_with_scmi_sound_and_radio_on_sim() {
    let mut c = embedded_default().expect("the embedded default must parse");
    let rpmb = c.guests[0].devices.pop().expect("rpmb device");
    assert_eq!(rpmb, rpmb_image("vm0-rpmb", "vm0-rpmb.img", 512));
    let radio = c.guests[0].devices.pop().expect("radio device");
    assert_eq!(
        (radio.id.as_str(), radio.kind()),
        ("vm0-radio", DeviceKind::Radio)
    );
    let r = radio.radio().expect("radio settings");
    assert_eq!(r.audio_feed, "fm0");
    match &r.tuner {
        RadioTuner::Sim { stations, .. } => {
            let f: Vec<_> = stations.iter().map(|s| s.frequency_khz).collect();
            assert_eq!(f, [89100, 95300, 101700]);
            assert!(stations.iter().all(|s| s.pi.is_some()));
        }
        t => panic!("{t:?}"),
    }
    let sound = c.guests[0].devices.get(1).cloned();
    let grants = c.guests[0].devices[0].grants().clone();
    let scmi_platform = c.soc.scmi.clone();
    assert_eq!(
        c,
        Config {
            service: ServiceConfig::default(),
            soc: SocConfig {
                identity: SocIdentity::default(),
                scmi: scmi_platform.clone(),
            },
            guests: vec![GuestConfig {
                name: "vm0".into(),
                socket_user: None,
                socket_group: None,
                policy: GuestPolicy {
                    max_request_bytes: 65536
                },
                devices: vec![
                    DeviceConfig {
                        peers: Default::default(),
                        spec: DeviceSpec::Scmi(grants.clone()),
                        ..scmi("vm0-scmi", "vm0-scmi.sock")
                    },
                    sound_default(),
                ],
            }],
            outputs: Vec::new(),
            rpmb_stores: Vec::new(),
        }
    );
    assert_eq!(sound, Some(sound_default()));
    // The simulated SoC is served in full: every resource granted, oscillators read-only.
    assert_eq!(scmi_platform.clocks.len(), 11);
    assert_eq!(grants.clocks.len(), 11);
    assert_eq!(
        grants.clocks[0],
        Grant {
            name: "xo_board".into(),
            control: false
        }
    );
    assert!(grants.clocks[2..].iter().all(|g| g.control));
    let counts = (
        grants.power_domains.len(),
        grants.reset_domains.len(),
        grants.perf_domains.len(),
        grants.sensors.len(),
    );
    assert_eq!(counts, (4, 3, 2, 3));
    assert!(DEFAULT_CONFIG_TEXT.contains("join this default as"));
    assert_eq!(default_config_text(), DEFAULT_CONFIG_TEXT);
}

#[test]
fn example_parses_to_what_its_comments_say() {
    let c = parse(EXAMPLE, "etc/drivervm.toml").expect("the example must parse");
    assert_eq!(
        c.service,
        ServiceConfig {
            runtime_dir: Some("/run/drivervm".into()),
            state_dir: Some("/var/lib/drivervm".into()),
            socket_group: Some("kvm".into()),
            log_level: Some("info".into()),
            control_socket: Some("control.sock".into()),
            control_group: Some("kvm".into()),
            control_vsock: Some(crate::config::VsockControl {
                port: 5680,
                allowed_cids: vec![2],
            }),
            queue_poll_max: Some(std::time::Duration::from_micros(32)),
            user: Some("drivervm".into()),
            group: Some("drivervm".into()),
            supplementary_groups: vec!["audio".into()],
            sandbox: Some(true),
            control_uids: vec![0, 1000],
            allow_shared_dirs: false,
        }
    );
    assert_eq!(
        c.service
            .control_socket_path(std::path::Path::new("/run/drivervm")),
        std::path::PathBuf::from("/run/drivervm/control.sock")
    );
    assert_eq!(
        c.soc.identity,
        SocIdentity {
            vendor: "drivervm".into(),
            sub_vendor: "sim".into(),
            implementation_version: 0x0001_0000,
        }
    );
    let names: Vec<_> = c.guests.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["ivi", "cluster", "hmi", "trustedvm"]);
    assert_eq!(
        c.guests[2].devices[0].transport,
        TransportConfig::Gunyah {
            node: "/dev/gh_virtio_backend_hmi".into(),
            vm_fd: None,
            label: 1,
            window_base: 0x9c00_0000,
        }
    );
    assert_eq!(
        (
            c.guests[0].socket_user.as_deref(),
            c.guests[0].socket_group.as_deref()
        ),
        (Some("crosvm-ivi"), Some("crosvm-ivi"))
    );
    assert_eq!(
        c.guests[0].devices[0].peers,
        crate::config::PeerAllowlist {
            uids: vec![1000],
            gids: vec![36]
        }
    );
    assert!(c.guests[0].devices[1].peers.is_open());
    let ids: Vec<_> = c.guests[0].devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ivi-scmi",
            "ivi-radio",
            "ivi-sound-0",
            "ivi-sound-1",
            "ivi-rpmb"
        ]
    );
    let sound = c.guests[0].devices[2].sound().expect("sound tables");
    assert_eq!(sound.streams.len(), 5);
    assert_eq!(
        sound.streams[4].endpoint,
        StreamEndpoint::Shared {
            output: "cabin".into(),
            gain_percent: 80
        }
    );
    let outputs: Vec<_> = c
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.policy))
        .collect();
    assert_eq!(
        outputs,
        [
            ("cabin", SharePolicy::Mixed),
            ("amp", SharePolicy::Exclusive)
        ]
    );
    let grants = c.guests[0].devices[0].grants().clone();
    assert_eq!(
        c.guests[0].devices[0],
        DeviceConfig {
            peers: crate::config::PeerAllowlist {
                uids: vec![1000],
                gids: vec![36],
            },
            spec: DeviceSpec::Scmi(grants.clone()),
            ..scmi("ivi-scmi", "ivi-scmi.sock")
        }
    );
    let names = |g: &[Grant]| {
        g.iter()
            .map(|g| format!("{}{}", g.name, if g.control { "" } else { ":ro" }))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&grants.clocks), ["xo_board:ro", "gpll0", "uart_src"]);
    assert_eq!(names(&grants.sensors), ["cpu_thermal", "pmic_vbat:ro"]);
    let scmi_platform = &c.soc.scmi;
    assert_eq!(scmi_platform.clocks.len(), 3);
    let uart = &scmi_platform.clocks[2];
    assert_eq!(
        uart.policy,
        crate::hw::clock::RatePolicy::Owner("ivi".into())
    );
    assert_eq!(uart.spec.desc.possible_parents, [0, 1]);
    assert_eq!(uart.spec.initial_parent, Some(0));
    assert_eq!(uart.spec.initial_rate, 19_200_000);
    assert_eq!(
        scmi_platform.linux_clock_root,
        PathBuf::from("/sys/kernel/debug/clk")
    );
    assert_eq!(
        c.guests[0].devices[4],
        rpmb_image("ivi-rpmb", "ivi-rpmb.img", 512)
    );
    assert_eq!(
        c.guests[1].devices[0],
        scmi("cluster-scmi", "cluster-scmi.sock")
    );
    assert_eq!(
        c.guests[1].devices[1],
        DeviceConfig {
            peers: Default::default(),
            id: "cluster-rpmb".into(),
            backend: Backend::File,
            transport: TransportConfig::RpmbDev {
                socket: "cluster-rpmb.sock".into()
            },
            spec: DeviceSpec::Rpmb(RpmbConfig {
                storage: RpmbStorageConfig::Shared {
                    store: "emmc0".into(),
                    offset: 0
                },
                capacity_blocks: 256,
                max_wr_cnt: 1,
                max_rd_cnt: 2,
                interface: RpmbInterface::RpmbDevSocket,
            }),
        }
    );
    assert_eq!(
        c.rpmb_stores,
        vec![RpmbStoreConfig {
            name: "emmc0".into(),
            backend: Backend::File,
            path: "emmc0-rpmb.img".into(),
            capacity_blocks: 1024,
            max_wr_cnt: 2,
            max_rd_cnt: 2,
            key_file: "emmc0.key".into(),
            guest_writes_per_minute: 600,
        }]
    );
    let sim = c.guests[0].devices[1].radio().expect("ivi-radio");
    assert_eq!(sim.device_id, 56);
    assert_eq!(sim.bands.len(), 2);
    match &sim.tuner {
        RadioTuner::Sim {
            tune_latency,
            seek_dwell,
            stations,
        } => {
            assert_eq!(*tune_latency, std::time::Duration::from_millis(60));
            assert_eq!(*seek_dwell, std::time::Duration::from_millis(10));
            assert_eq!(stations.len(), 2);
            assert_eq!(stations[0].pi, Some(0xC201));
            assert_eq!(stations[1].pi, None, "no pi: no RDS");
            assert_eq!(stations[1].tone_hz, 500, "400 + 100 * 1");
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(
        c.guests[1].devices[2].radio().map(|r| &r.tuner),
        Some(&RadioTuner::V4l2 {
            device: "/dev/radio0".into()
        })
    );
}

#[test]
fn example_documents_every_key_of_the_schema() {
    let schema = schema_keys::schema_keys();
    let example = schema_keys::document_keys(EXAMPLE);
    // The tracer must see the whole schema, or this test proves nothing.
    assert!(schema.contains("guest.device.transport.vhost-user.socket"));
    assert!(schema.contains("guest.device.transport.gunyah.window_base"));
    assert!(schema.contains("soc.implementation_version"));
    let missing: Vec<_> = schema.difference(&example).collect();
    assert!(missing.is_empty(), "etc/drivervm.toml lacks {missing:?}");
    let unknown: Vec<_> = example.difference(&schema).collect();
    assert!(
        unknown.is_empty(),
        "etc/drivervm.toml has unknown {unknown:?}"
    );
    for key in &schema {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        assert!(
            EXAMPLE
                .lines()
                .any(|l| l.trim_start().starts_with('#') && l.contains(leaf))
                || EXAMPLE
                    .lines()
                    .any(|l| l.starts_with('[') && l.contains(leaf)),
            "no comment in etc/drivervm.toml mentions {key}"
        );
    }
}

#[test]
fn issue_shape_parses() {
    let text = r#"
[service]
runtime_dir = "/run/drivervm"
socket_group = "kvm"
log_level = "debug"
[soc]
vendor = "acme"
sub_vendor = "sa8295"
implementation_version = 0x00020301
[[guest]]
name = "ivi"
[guest.policy]
max_request_bytes = 4096
[[guest.device]]
kind = "scmi"
backend = "sim"
transport = { vhost-user = { socket = "/tmp/ivi-clocks.sock" } }
"#;
    let c = parse(text, "t.toml").expect("parses");
    assert_eq!(c.service.log_level.as_deref(), Some("debug"));
    assert_eq!(c.soc.identity.vendor, "acme");
    assert_eq!(c.soc.identity.sub_vendor, "sa8295");
    assert_eq!(c.soc.identity.implementation_version, 0x0002_0301);
    assert_eq!(c.guests[0].policy.max_request_bytes, 4096);
    assert_eq!(
        c.guests[0].devices,
        vec![scmi("ivi-scmi", "/tmp/ivi-clocks.sock")]
    );
}

#[test]
fn several_devices_of_a_kind_are_numbered_from_zero() {
    let text = "[[guest]]\nname = \"a\"\n\
                [[guest.device]]\nkind = \"scmi\"\n\
                [[guest.device]]\nkind = \"scmi\"\n\
                [[guest]]\nname = \"a-scmi\"\n\
                [[guest.device]]\nkind = \"scmi\"\n";
    let c = parse(text, "t.toml").expect("parses");
    assert_eq!(
        c.guests[0].devices,
        vec![
            scmi("a-scmi-0", "a-scmi-0.sock"),
            scmi("a-scmi-1", "a-scmi-1.sock")
        ]
    );
    // A guest named like another's device prefix still gets distinct ids and sockets.
    assert_eq!(
        c.guests[1].devices,
        vec![scmi("a-scmi-scmi", "a-scmi-scmi.sock")]
    );
    let all: Vec<_> = c
        .devices()
        .map(|(g, d)| (g.name.as_str(), d.id.as_str()))
        .collect();
    assert_eq!(
        all,
        [
            ("a", "a-scmi-0"),
            ("a", "a-scmi-1"),
            ("a-scmi", "a-scmi-scmi")
        ]
    );
}

#[test]
fn unknown_backend_lists_the_kinds_backends() {
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"", "kind = \"sound\"\nbackend = \"alsaa\""])),
        "etc/x.toml: guest \"ivi\" device 2: unknown backend \"alsaa\" (expected one of: sim, alsa)"
    );
}

#[test]
fn unknown_kind_lists_all_kinds() {
    assert_eq!(
        err(&ivi(&["kind = \"x\""])),
        "etc/x.toml: guest \"ivi\" device 1: unknown device kind \"x\" \
         (expected one of: scmi, rpmb, sound, radio)"
    );
}

#[test]
fn backend_of_another_kind_is_refused() {
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"\nbackend = \"alsa\""])),
        "etc/x.toml: guest \"ivi\" device 1: backend \"alsa\" does not serve kind \"scmi\" \
         (expected one of: sim, linux)"
    );
}

#[test]
fn both_scmi_backends_are_accepted() {
    for b in ["sim", "linux"] {
        let c = parse(&ivi(&[&format!("kind = \"scmi\"\nbackend = \"{b}\"")]), "x").unwrap();
        assert_eq!(c.guests[0].devices[0].backend.name(), b);
    }
}

#[test]
fn empty_guest_list_is_refused() {
    assert_eq!(
        err(""),
        "etc/x.toml: guest: no guests configured (expected at least one [[guest]] table)"
    );
    assert_eq!(
        err("[service]\nlog_level = \"info\"\n"),
        "etc/x.toml: guest: no guests configured (expected at least one [[guest]] table)"
    );
}

#[test]
fn guest_without_devices_is_refused() {
    assert_eq!(
        err(&ivi(&[])),
        "etc/x.toml: guest \"ivi\": no devices configured \
         (expected at least one [[guest.device]] table)"
    );
}

#[test]
fn bad_guest_names_are_refused() {
    let expected = |n: &str| {
        format!(
            "etc/x.toml: guest 1: invalid name \"{n}\" \
             (expected 1 to 32 characters from a-z, 0-9, _ and -)"
        )
    };
    for name in ["", "IVI", "ivi 2", "ivi.x", "é", &"a".repeat(33)] {
        let text = format!("[[guest]]\nname = \"{name}\"\n[[guest.device]]\nkind = \"scmi\"\n");
        assert_eq!(err(&text), expected(name), "name {name:?}");
    }
    let ok = format!(
        "[[guest]]\nname = \"{}\"\n[[guest.device]]\nkind = \"scmi\"\n",
        "a_-9".repeat(8)
    );
    assert!(parse(&ok, "t").is_ok(), "a 32-character name is valid");
}

#[test]
fn duplicate_guest_names_are_refused() {
    let text = "[[guest]]\nname = \"ivi\"\n[[guest.device]]\nkind = \"scmi\"\n\
                [[guest]]\nname = \"rse\"\n[[guest.device]]\nkind = \"scmi\"\n\
                [[guest]]\nname = \"ivi\"\n[[guest.device]]\nkind = \"scmi\"\n";
    assert_eq!(
        err(text),
        "etc/x.toml: guest 3: name \"ivi\" is already used by guest 1"
    );
}

#[test]
fn duplicate_sockets_are_refused() {
    // An explicit socket colliding with another device's default.
    let text = "[[guest]]\nname = \"a\"\n[[guest.device]]\nkind = \"scmi\"\n\
                [[guest]]\nname = \"b\"\n[[guest.device]]\nkind = \"scmi\"\n\
                transport = { vhost-user = { socket = \"./a-scmi.sock\" } }\n";
    assert_eq!(
        err(text),
        "etc/x.toml: guest \"b\" device 1: socket \"./a-scmi.sock\" is already used by \
         guest \"a\" device 1"
    );
    let text = ivi(&[
        "kind = \"scmi\"\ntransport = { vhost-user = { socket = \"/s/x.sock\" } }",
        "kind = \"scmi\"\ntransport = { vhost-user = { socket = \"/s//x.sock\" } }",
    ]);
    assert_eq!(
        err(&text),
        "etc/x.toml: guest \"ivi\" device 2: socket \"/s//x.sock\" is already used by \
         guest \"ivi\" device 1"
    );
}

#[test]
fn bad_sockets_are_refused() {
    let with = |s: &str| {
        ivi(&[&format!(
            "kind = \"scmi\"\ntransport = {{ vhost-user = {{ socket = \"{s}\" }} }}"
        )])
    };
    assert_eq!(
        err(&with("")),
        "etc/x.toml: guest \"ivi\" device 1: socket \"\" does not name a file"
    );
    assert_eq!(
        err(&with("/run/..")),
        "etc/x.toml: guest \"ivi\" device 1: socket \"/run/..\" does not name a file"
    );
    let long = format!("/{}", "s".repeat(107));
    assert_eq!(
        err(&with(&long)),
        format!(
            "etc/x.toml: guest \"ivi\" device 1: socket \"{long}\" is 108 bytes long \
             (a unix socket path holds at most 107)"
        )
    );
    assert!(parse(&with(&long[..107]), "t").is_ok(), "107 bytes fit");
    assert_eq!(
        err(&with("a\\u0000b.sock")),
        "etc/x.toml: guest \"ivi\" device 1: socket \"a\\0b.sock\" contains a NUL byte"
    );
}

#[test]
fn max_request_bytes_range() {
    let with = |n: &str| {
        format!(
            "[[guest]]\nname = \"ivi\"\n[guest.policy]\nmax_request_bytes = {n}\n\
             [[guest.device]]\nkind = \"scmi\"\n"
        )
    };
    for n in ["511", "16777217", "-1", "0"] {
        assert_eq!(
            err(&with(n)),
            format!(
                "etc/x.toml: guest \"ivi\" policy.max_request_bytes: {n} is out of range \
                 (expected 512 to 16777216)"
            )
        );
    }
    for (n, v) in [("512", 512), ("16777216", 16 << 20)] {
        let c = parse(&with(n), "t").expect("in range");
        assert_eq!(c.guests[0].policy.max_request_bytes, v);
    }
}

#[test]
fn soc_identity_is_checked() {
    let vm0 = "[[guest]]\nname = \"vm0\"\n[[guest.device]]\nkind = \"scmi\"\n";
    let with = |body: &str| format!("[soc]\n{body}\n{vm0}");
    let msg = |key: &str, v: &str| {
        format!(
            "etc/x.toml: soc.{key}: \"{v}\" is not a valid name \
             (expected 1 to 15 printable ASCII characters)"
        )
    };
    assert_eq!(
        err(&with("vendor = \"0123456789abcdef\"")),
        msg("vendor", "0123456789abcdef")
    );
    assert_eq!(err(&with("vendor = \"\"")), msg("vendor", ""));
    assert_eq!(
        err(&with("sub_vendor = \"séance\"")),
        msg("sub_vendor", "séance")
    );
    assert_eq!(
        err(&with("sub_vendor = \"a\\tb\"")),
        msg("sub_vendor", "a\\tb")
    );
    let c = parse(&with("vendor = \"0123456789abcde\""), "t").expect("15 bytes fit");
    assert_eq!(c.soc.identity.vendor, "0123456789abcde");
    assert_eq!(c.soc.identity.sub_vendor, "sim", "default kept");
    for v in ["-1", "0x100000000"] {
        let n: i64 = if v == "-1" { -1 } else { 1 << 32 };
        assert_eq!(
            err(&with(&format!("implementation_version = {v}"))),
            format!(
                "etc/x.toml: soc.implementation_version: {n} is out of range \
                 (expected 0 to 4294967295)"
            )
        );
    }
    let c = parse(&with("implementation_version = 0xffffffff"), "t").expect("u32::MAX fits");
    assert_eq!(c.soc.identity.implementation_version, u32::MAX);
}

#[test]
fn service_keys_are_checked() {
    let vm0 = "[[guest]]\nname = \"vm0\"\n[[guest.device]]\nkind = \"scmi\"\n";
    let with = |body: &str| format!("[service]\n{body}\n{vm0}");
    assert_eq!(
        err(&with("log_level = \"verbose\"")),
        "etc/x.toml: service.log_level: unknown log level \"verbose\" \
         (expected one of: error, warn, info, debug, trace)"
    );
    assert_eq!(
        err(&with("socket_group = \"kvm users\"")),
        "etc/x.toml: service.socket_group: \"kvm users\" is not a group name \
         (expected a non-empty name without whitespace, ':' or '/')"
    );
    assert_eq!(
        err(&with("socket_group = \"\"")),
        "etc/x.toml: service.socket_group: \"\" is not a group name \
         (expected a non-empty name without whitespace, ':' or '/')"
    );
    assert_eq!(
        err(&with("control_group = \"4294967295\"")),
        "etc/x.toml: service.control_group: 4294967295 is not a gid (expected 0 to 4294967294)"
    );
    assert!(parse(&with("socket_group = \"1005\""), "x").is_ok());
    assert_eq!(
        err(&with("user = \"4294967295\"")),
        "etc/x.toml: service.user: 4294967295 is not a uid (expected 0 to 4294967294)"
    );
    assert!(parse(&with("user = \"65534\"\ngroup = \"65534\""), "x").is_ok());
    assert_eq!(
        err(&with("runtime_dir = \"\"")),
        "etc/x.toml: service.runtime_dir: must not be empty"
    );
    assert_eq!(
        err(&with("runtime_dir = \"/run/a\\u0000b\"")),
        "etc/x.toml: service.runtime_dir: contains a NUL byte"
    );
    for level in LOG_LEVELS {
        let c = parse(&with(&format!("log_level = \"{level}\"")), "t").expect("valid level");
        assert_eq!(c.service.log_level.as_deref(), Some(level));
    }
}

#[test]
fn sound_controls_are_off_unless_asked_for_and_only_for_sound() {
    let sound = |c: &Config| c.guests[0].devices[0].sound().map(|s| s.controls);
    let c = parse(&ivi(&["kind = \"sound\""]), "t").expect("valid");
    assert_eq!(sound(&c), Some(false));
    let c = parse(&ivi(&["kind = \"sound\"\ncontrols = true"]), "t").expect("valid");
    assert_eq!(sound(&c), Some(true));
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"\ncontrols = true"])),
        "etc/x.toml: guest \"ivi\" device 1: controls applies to sound devices only"
    );
}

#[test]
fn unknown_keys_name_line_column_and_key() {
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"\nbakend = \"sim\""])),
        "etc/x.toml: line 5, column 1, at guest 1 device 1 bakend: unknown field `bakend`, \
         expected one of `kind`, `backend`, `transport`, `clocks`, `power_domains`, `reset_domains`, `perf_domains`, `sensors`, `jack`, `stream`, `controls`, `radio`, `rpmb`, `peer_uids`, `peer_gids`"
    );
    assert_eq!(
        err("[service]\nlog_level = \"info\"\nsocket = \"x\"\n"),
        "etc/x.toml: line 3, column 1, at service.socket: unknown field `socket`, \
         expected one of `runtime_dir`, `state_dir`, `socket_group`, `log_level`, `control_socket`, \
         `control_group`, `control_vsock_port`, `control_vsock_cids`, `queue_poll_max_us`, \
         `user`, `group`, `supplementary_groups`, `sandbox`, `control_uids`, `allow_shared_dirs`"
    );
    assert_eq!(
        err("[servic]\n"),
        "etc/x.toml: line 1, column 2, at servic: unknown field `servic`, \
         expected one of `service`, `soc`, `guest`, `output`, `rpmb_store`"
    );
}

#[test]
fn wrong_types_name_line_column_and_key() {
    assert_eq!(
        err("[[guest]]\nname = \"ivi\"\n[guest.policy]\nmax_request_bytes = \"64k\"\n"),
        "etc/x.toml: line 4, column 21, at guest 1 policy.max_request_bytes: \
         invalid type: string \"64k\", expected an integer"
    );
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"", "kind = 3"])),
        "etc/x.toml: line 6, column 8, at guest 1 device 2 kind: \
         invalid type: integer `3`, expected a string"
    );
    assert_eq!(
        err(&ivi(&["kind = \"scmi\"\ntransport = { xen = {} }"])),
        "etc/x.toml: line 5, column 15, at guest 1 device 1 transport: \
         unknown variant `xen`, expected one of `vhost-user`, `gunyah`, `rpmb-dev`"
    );
    assert_eq!(
        err("[[guest]]\n[[guest.device]]\nkind = \"scmi\"\n"),
        "etc/x.toml: line 1, column 1, at guest 1: missing field `name`"
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    assert_eq!(
        err("[service\n"),
        "etc/x.toml: line 1, column 9: invalid table header; expected `.`, `]`"
    );
    assert_eq!(
        err("[soc]\nvendor = \"a\"\nvendor = \"b\"\n"),
        "etc/x.toml: line 3, column 1: duplicate key `vendor` in table `soc`"
    );
}

#[test]
fn load_names_a_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.toml");
    let e = load(&path).expect_err("no such file");
    assert_eq!(e.file(), path.display().to_string());
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read: No such file or directory (os error 2)",
            path.display()
        )
    );
}

#[test]
fn load_reads_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, DEFAULT_CONFIG_TEXT).expect("write");
    assert_eq!(load(&path).ok(), embedded_default().ok());
    std::fs::write(&path, ivi(&["kind = \"x\""])).expect("write");
    let e = load(&path).expect_err("bad kind");
    assert!(
        e.to_string().starts_with(&format!(
            "{}: guest \"ivi\" device 1: unknown device kind",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn queue_poll_max_is_bounded_and_defaults_to_qemus_window() {
    use std::time::Duration;
    let guest = "[[guest]]\nname = \"vm0\"\n[[guest.device]]\nkind = \"scmi\"\n";
    let with = |line: &str| parse(&format!("[service]\n{line}\n{guest}"), "f.toml");
    for (line, want) in [
        ("queue_poll_max_us = 0", Duration::ZERO),
        ("queue_poll_max_us = 1000", Duration::from_millis(1)),
        ("", Duration::from_micros(32)),
    ] {
        let c = with(line).expect(line);
        assert_eq!(c.service.queue_poll_max(), want, "{line}");
    }
    for (line, want) in [
        (
            "queue_poll_max_us = 1001",
            "f.toml: service.queue_poll_max_us: 1001 is out of range (expected 0 to 1000 microseconds)",
        ),
        (
            "queue_poll_max_us = -1",
            "f.toml: service.queue_poll_max_us: -1 is out of range (expected 0 to 1000 microseconds)",
        ),
    ] {
        assert_eq!(with(line).expect_err(line).to_string(), want);
    }
}

#[test]
fn control_keys_are_validated_with_file_and_key() {
    let guest = "[[guest]]\nname = \"vm0\"\n[[guest.device]]\nkind = \"scmi\"\n";
    let cases = [
        (
            "control_vsock_port = 0",
            "f.toml: service.control_vsock_port: 0 is out of range (expected 1 to 4294967294)",
        ),
        (
            "control_vsock_port = 5680",
            "f.toml: service.control_vsock_cids: no peer CIDs allowed",
        ),
        (
            "control_vsock_port = 5680\ncontrol_vsock_cids = []",
            "f.toml: service.control_vsock_cids: no peer CIDs allowed",
        ),
        (
            "control_vsock_port = 5680\ncontrol_vsock_cids = [2, 4294967295]",
            "f.toml: service.control_vsock_cids[1]: 4294967295 is not a peer CID",
        ),
        (
            "control_vsock_cids = [2]",
            "f.toml: service.control_vsock_cids: set without service.control_vsock_port",
        ),
        (
            "control_group = \"a b\"",
            "f.toml: service.control_group: \"a b\" is not a group name",
        ),
        (
            "control_socket = \"vm0-scmi.sock\"",
            "f.toml: guest \"vm0\" device 1: socket \"vm0-scmi.sock\" is already used by service.control_socket",
        ),
    ];
    for (service, want) in cases {
        let text = format!("[service]\n{service}\n{guest}");
        let err = parse(&text, "f.toml").expect_err(service).to_string();
        assert!(err.starts_with(want), "{service}: got {err}");
    }
    let ok = parse(
        &format!("[service]\ncontrol_vsock_port = 9\ncontrol_vsock_cids = [2, 3]\nsocket_group = \"g\"\n{guest}"),
        "f.toml",
    )
    .unwrap();
    assert_eq!(
        ok.service.control_vsock,
        Some(crate::config::VsockControl {
            port: 9,
            allowed_cids: vec![2, 3]
        })
    );
    assert_eq!(
        ok.service.control_group(),
        Some("g"),
        "defaults to socket_group"
    );
}
