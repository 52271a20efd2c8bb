//! RPMB devices and stores: what is accepted, and every error, message for message.

use super::*;

const STORE: &str = "[[rpmb_store]]\nname = \"e0\"\npath = \"e0.img\"\ncapacity_blocks = 1024\n\
                     max_wr_cnt = 3\n";

fn with_store(devices: &[&str]) -> String {
    format!("{}{STORE}", ivi(devices))
}

#[test]
fn defaults_give_an_image_named_for_the_device() {
    let c = parse(&ivi(&["kind = \"rpmb\""]), "t.toml").unwrap();
    let d = &c.guests[0].devices[0];
    assert_eq!(d.backend, Backend::File);
    assert_eq!(
        d.rpmb,
        Some(RpmbConfig {
            storage: RpmbStorageConfig::Image {
                path: "ivi-rpmb.img".into()
            },
            capacity_blocks: 512,
            max_wr_cnt: 2,
            max_rd_cnt: 2,
            interface: RpmbInterface::VirtioRpmb,
        })
    );
}

#[test]
fn shared_slots_take_the_stores_backend_and_must_fit_without_overlap() {
    let c = parse(
        &with_store(&[
            "kind = \"rpmb\"\nrpmb = { store = \"e0\", capacity_blocks = 512 }",
            "kind = \"rpmb\"\nrpmb = { store = \"e0\", offset = 515, capacity_blocks = 100, \
             interface = \"virtio-console\" }",
        ]),
        "t.toml",
    )
    .unwrap();
    let d = &c.guests[0].devices[1];
    assert_eq!(d.id, "ivi-rpmb-1");
    assert_eq!(
        d.rpmb.as_ref().unwrap().storage,
        RpmbStorageConfig::Shared {
            store: "e0".into(),
            offset: 515
        }
    );
    assert_eq!(d.rpmb.as_ref().unwrap().slot_footprint(), 103);
    assert_eq!(
        err(&with_store(&[
            "kind = \"rpmb\"\nrpmb = { store = \"e0\", capacity_blocks = 512 }",
            "kind = \"rpmb\"\nrpmb = { store = \"e0\", offset = 514, capacity_blocks = 100, \
             interface = \"virtio-console\" }",
        ])),
        "etc/x.toml: guest \"ivi\" device 2 rpmb: the slot at blocks 514..617 of rpmb_store \
         \"e0\" overlaps guest \"ivi\" device 1's at 0..515"
    );
    assert_eq!(
        err(&with_store(&[
            "kind = \"rpmb\"\nrpmb = { store = \"e0\", offset = 600, capacity_blocks = 512 }"
        ])),
        "etc/x.toml: guest \"ivi\" device 1 rpmb: the slot needs blocks 600..1115 (header, 2 \
         journal, 512 data) but rpmb_store \"e0\" has 1024"
    );
}

#[test]
fn rpmb_errors_name_the_key_and_the_rule() {
    let cases: &[(&str, &str)] = &[
        (
            "kind = \"rpmb\"\nrpmb = { image = \"a\", store = \"e0\" }",
            "guest \"ivi\" device 1 rpmb: image and store are exclusive (its own image file, or \
             a slot of a store)",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { store = \"nope\" }",
            "guest \"ivi\" device 1 rpmb.store: no [[rpmb_store]] named \"nope\"",
        ),
        (
            "kind = \"rpmb\"\nbackend = \"emmc\"",
            "guest \"ivi\" device 1: backend \"emmc\" is a physical RPMB: declare it as an \
             [[rpmb_store]] and give this device rpmb.store",
        ),
        (
            "kind = \"rpmb\"\nbackend = \"ufs\"\nrpmb = { store = \"e0\" }",
            "guest \"ivi\" device 1: backend \"ufs\" differs from rpmb_store \"e0\"'s backend \
             \"file\"",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { capacity_blocks = 100 }",
            "guest \"ivi\" device 1 rpmb.capacity_blocks: 100 is not a multiple of 512 \
             (virtio-rpmb reports capacity in 128 KiB units)",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { capacity_blocks = 65537 }",
            "guest \"ivi\" device 1 rpmb.capacity_blocks: 65537 is out of range (expected 1 to \
             65536)",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { max_rd_cnt = 0 }",
            "guest \"ivi\" device 1 rpmb.max_rd_cnt: 0 is out of range (expected 1 to 255)",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { store = \"e0\", max_wr_cnt = 3 }",
            "guest \"ivi\" device 1 rpmb.max_wr_cnt: 3 needs physical writes of 4 blocks; \
             rpmb_store \"e0\" has max_wr_cnt 3",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { offset = 4 }",
            "guest \"ivi\" device 1 rpmb.offset: only used with rpmb.store",
        ),
        (
            "kind = \"rpmb\"\nrpmb = { interface = \"virtio-blk\" }",
            "guest \"ivi\" device 1 rpmb.interface: unknown interface \"virtio-blk\" (expected \
             one of: virtio-rpmb, virtio-console)",
        ),
        (
            "kind = \"rpmb\"\ntransport = { rpmb-dev = {} }\nrpmb = { interface = \"virtio-rpmb\" }",
            "guest \"ivi\" device 1 rpmb.interface: not used with transport rpmb-dev (the socket \
             speaks the rpmb_dev protocol)",
        ),
        (
            "kind = \"scmi\"\nrpmb = { image = \"x\" }",
            "guest \"ivi\" device 1 rpmb: rpmb options on a scmi device",
        ),
        (
            "kind = \"scmi\"\ntransport = { rpmb-dev = {} }",
            "guest \"ivi\" device 1 transport: rpmb-dev serves rpmb devices, not scmi",
        ),
    ];
    for (device, want) in cases {
        assert_eq!(
            err(&with_store(&[device])),
            format!("etc/x.toml: {want}"),
            "for {device}"
        );
    }
    assert_eq!(
        err(&ivi(&[
            "kind = \"rpmb\"",
            "kind = \"rpmb\"\nrpmb = { image = \"./ivi-rpmb-0.img\" }"
        ])),
        "etc/x.toml: guest \"ivi\" device 2 rpmb.image: \"./ivi-rpmb-0.img\" is already used by \
         guest \"ivi\" device 1"
    );
}

#[test]
fn store_errors() {
    let base = ivi(&["kind = \"scmi\""]);
    let cases: &[(&str, &str)] = &[
        (
            "[[rpmb_store]]\nname = \"E\"\npath = \"p\"\ncapacity_blocks = 8\n",
            "rpmb_store 1: invalid name \"E\" (expected 1 to 32 characters from a-z, 0-9, _ and -)",
        ),
        (
            "[[rpmb_store]]\nname = \"e\"\nbackend = \"sim\"\npath = \"p\"\ncapacity_blocks = 8\n",
            "rpmb_store \"e\" backend: unknown backend \"sim\" (expected one of: file, emmc, ufs)",
        ),
        (
            "[[rpmb_store]]\nname = \"e\"\npath = \"p\"\ncapacity_blocks = 0\n",
            "rpmb_store \"e\" capacity_blocks: 0 is out of range (expected 1 to 65536)",
        ),
        (
            "[[rpmb_store]]\nname = \"e\"\npath = \"p\"\ncapacity_blocks = 8\n\
             [[rpmb_store]]\nname = \"e\"\npath = \"q\"\ncapacity_blocks = 8\n",
            "rpmb_store \"e\": name is already used by another rpmb_store",
        ),
        (
            "[[rpmb_store]]\nname = \"e\"\npath = \"p\"\ncapacity_blocks = 8\n\
             [[rpmb_store]]\nname = \"f\"\npath = \"./p\"\ncapacity_blocks = 8\n",
            "rpmb_store \"f\" path: \"./p\" is already used by rpmb_store \"e\"",
        ),
        (
            "[[rpmb_store]]\nname = \"e\"\npath = \"p\"\ncapacity_blocks = 8\n\
             guest_writes_per_minute = 0\n",
            "rpmb_store \"e\" guest_writes_per_minute: 0 is out of range (expected 1 to 60000)",
        ),
    ];
    for (stores, want) in cases {
        assert_eq!(
            err(&format!("{base}{stores}")),
            format!("etc/x.toml: {want}"),
            "for {stores}"
        );
    }
    let text = format!("{base}[service]\nstate_dir = \"\"\n");
    assert_eq!(
        err(&text),
        "etc/x.toml: service.state_dir: must not be empty"
    );
}
