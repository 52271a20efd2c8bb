//! `transport = { gunyah = { ... } }`: what is accepted, and every refusal.

use super::{err, ivi};
use crate::config::{parse, TransportConfig};

fn gunyah(node: &str, label: &str, base: &str) -> String {
    format!(
        "kind = \"scmi\"\ntransport = {{ gunyah = {{ node = \"{node}\", label = {label}, \
         window_base = {base} }} }}"
    )
}

#[test]
fn devices_share_a_node_on_distinct_labels() {
    let a = gunyah("/dev/gh_virtio_backend_ivi", "1", "0x80000000");
    let b = gunyah("/dev/gh_virtio_backend_ivi", "2", "0x80000000");
    let c = parse(&ivi(&[&a, &b]), "t.toml").expect("parses");
    let got: Vec<_> = c.guests[0]
        .devices
        .iter()
        .map(|d| d.transport.clone())
        .collect();
    assert_eq!(
        got,
        [1, 2].map(|label| TransportConfig::Gunyah {
            node: "/dev/gh_virtio_backend_ivi".into(),
            vm_fd: None,
            label,
            window_base: 0x8000_0000,
        })
    );
    assert_eq!(c.guests[0].devices[1].id, "ivi-scmi-1");
}

#[test]
fn bad_values_are_refused_with_the_reason() {
    let dev = |n: &str, l: &str, b: &str| err(&ivi(&[&gunyah(n, l, b)]));
    assert_eq!(
        dev("gh_virtio_backend_ivi", "1", "0"),
        "etc/x.toml: guest \"ivi\" device 1: gunyah node \"gh_virtio_backend_ivi\" is not an \
         absolute path to a device node (expected e.g. /dev/gh_virtio_backend_<vm>)"
    );
    assert_eq!(
        dev("/dev/x", "0", "0"),
        "etc/x.toml: guest \"ivi\" device 1: gunyah label 0 is out of range \
         (expected 1 to 4294967295)"
    );
    assert_eq!(
        dev("/dev/x", "4294967296", "0"),
        "etc/x.toml: guest \"ivi\" device 1: gunyah label 4294967296 is out of range \
         (expected 1 to 4294967295)"
    );
    assert_eq!(
        dev("/dev/x", "1", "0x80000800"),
        "etc/x.toml: guest \"ivi\" device 1: gunyah window_base 0x80000800 is not a \
         0x1000-aligned guest-physical address"
    );
    assert_eq!(
        dev("/dev/x", "1", "-4096"),
        "etc/x.toml: guest \"ivi\" device 1: gunyah window_base -0x1000 is not a \
         0x1000-aligned guest-physical address"
    );
}

#[test]
fn missing_and_unknown_keys_are_syntax_errors() {
    assert_eq!(
        err(&ivi(&[
            "kind = \"scmi\"\ntransport = { gunyah = { node = \"/dev/x\", label = 1 } }"
        ])),
        "etc/x.toml: line 5, column 24, at guest 1 device 1 transport.gunyah: \
         missing field `window_base`"
    );
    assert_eq!(
        err(&ivi(&[
            "kind = \"scmi\"\ntransport = { gunyah = { node = \"/dev/x\", label = 1, \
                   window_base = 0, irq = 3 } }"
        ])),
        "etc/x.toml: line 5, column 71, at guest 1 device 1 transport.gunyah.irq: \
         unknown field `irq`, expected one of `node`, `vm_fd`, `label`, `window_base`"
    );
}

#[test]
fn a_label_twice_or_two_windows_on_one_node_are_refused() {
    let a = gunyah("/dev/gh_virtio_backend_ivi", "1", "0x80000000");
    let b = gunyah("/dev/gh_virtio_backend_ivi", "1", "0x80000000");
    assert_eq!(
        err(&ivi(&[&a, &b])),
        "etc/x.toml: guest \"ivi\" device 2: gunyah label 1 on \"/dev/gh_virtio_backend_ivi\" \
         is already used by guest \"ivi\" device 1"
    );
    let c = gunyah("/dev/gh_virtio_backend_ivi", "2", "0x90000000");
    assert_eq!(
        err(&ivi(&[&a, &c])),
        "etc/x.toml: guest \"ivi\" device 2: gunyah window_base 0x90000000 differs from \
         0x80000000 set for \"/dev/gh_virtio_backend_ivi\" by guest \"ivi\" device 1 (a node \
         has one shared window)"
    );
}

fn vm_fd(fd: &str, label: &str, base: &str) -> String {
    format!(
        "kind = \"scmi\"\ntransport = {{ gunyah = {{ vm_fd = {fd}, label = {label}, \
         window_base = {base} }} }}"
    )
}

#[test]
fn a_vm_fd_is_a_node_of_its_own_named_by_its_descriptor() {
    let a = vm_fd("3", "1", "0x80000000");
    let b = vm_fd("3", "2", "0x80000000");
    let c = parse(&ivi(&[&a, &b]), "t.toml").expect("parses");
    let t = &c.guests[0].devices[1].transport;
    assert_eq!(
        *t,
        TransportConfig::Gunyah {
            node: "/proc/self/fd/3".into(),
            vm_fd: Some(3),
            label: 2,
            window_base: 0x8000_0000,
        }
    );
    assert_eq!(
        t.describe(std::path::Path::new("/run")),
        "VM fd 3 (0xB2, secure-VM loader; published once the VM is set up) label 2 window \
         0x80000000"
    );
    // The per-node rules hold per VM fd.
    assert_eq!(
        err(&ivi(&[&a, &vm_fd("3", "1", "0x80000000")])),
        "etc/x.toml: guest \"ivi\" device 2: gunyah label 1 on \"/proc/self/fd/3\" is \
         already used by guest \"ivi\" device 1"
    );
}

#[test]
fn bad_vm_fds_are_refused_naming_the_key() {
    for n in ["0", "2", "-1", "2147483648"] {
        assert_eq!(
            err(&ivi(&[&vm_fd(n, "1", "0")])),
            format!(
                "etc/x.toml: guest \"ivi\" device 1: gunyah vm_fd {n} is out of range \
                 (expected the number of a descriptor drivervm inherits, 3 to 2147483647; 0 \
                 to 2 are stdin, stdout and stderr)"
            )
        );
    }
    assert_eq!(
        err(&ivi(&[
            "kind = \"scmi\"\ntransport = { gunyah = { node = \"/dev/x\", vm_fd = 3, \
             label = 1, window_base = 0 } }"
        ])),
        "etc/x.toml: guest \"ivi\" device 1: gunyah node and vm_fd are both set (give node \
         for a 0xBC device node, or vm_fd for a secure-VM-loader VM fd, not both)"
    );
    assert_eq!(
        err(&ivi(&[
            "kind = \"scmi\"\ntransport = { gunyah = { label = 1, window_base = 0 } }"
        ])),
        "etc/x.toml: guest \"ivi\" device 1: gunyah needs node (a 0xBC device node such as \
         /dev/gh_virtio_backend_<vm>) or vm_fd (an inherited secure-VM-loader VM fd)"
    );
    assert_eq!(
        err(&ivi(&[&gunyah("/proc/self/fd/3", "1", "0")])),
        "etc/x.toml: guest \"ivi\" device 1: gunyah node \"/proc/self/fd/3\" is a \
         descriptor, not a device node (give an inherited VM fd as vm_fd)"
    );
}
