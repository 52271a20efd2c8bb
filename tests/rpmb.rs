//! RPMB end to end: the real service on its three faces (virtio-rpmb and virtio-console,
//! each over vhost-user and over the Gunyah simulator; rpmb_dev on a unix socket), driven as
//! a VMM + guest and as Trusty's storageproxyd drive them; and two guests sharing one
//! physical RPMB.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use drivervm::devices::rpmb::constants::*;
use drivervm::devices::rpmb::frame::Frame;
use support::rpmb::{options, Client, Link};
use support::transport::{Served, Transport};
use support::Service;

over_both_transports!(
    virtio_rpmb_every_operation_and_result,
    virtio_console_port_carries_the_rpmb_dev_stream,
    two_guests_on_one_physical_rpmb_are_isolated,
);

const VIRTIO: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
rpmb = { capacity_blocks = 1024, max_wr_cnt = 2, max_rd_cnt = 8 }
"#;

fn virtio_client(svc: &Served, id: &str, key: [u8; 32]) -> Client {
    Client::new(Link::Virtio(svc.connect(id, 1, &options())), key)
}

fn block(b: u8) -> [u8; 256] {
    [b; 256]
}

fn daemon_client(svc: &Service, key: [u8; 32]) -> Client {
    let h = drivervm::harness::Harness::connect(svc.socket("vm0-rpmb.sock"), 1, &options())
        .unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    Client::new(Link::Virtio(Box::new(h)), key)
}

/// Every operation and every documented result through `c`, on a blank RPMB of
/// `capacity` blocks.
fn exercise(c: &mut Client, capacity: u16) {
    assert_eq!(c.counter().0, RES_NO_AUTH_KEY);
    assert_eq!(c.read(0, 1)[0].result(), RES_NO_AUTH_KEY);
    assert_eq!(c.program_key(), RES_OK);
    assert_eq!(c.program_key(), RES_WRITE_FAILURE, "the key is one-time");
    assert_eq!(c.counter(), (RES_OK, 0));
    // 1- and 2-block writes, then reads of 1 and of 8 blocks.
    let w = c.write(3, &[block(0x31)]);
    assert_eq!((w.result(), w.write_counter()), (RES_OK, 1));
    let w = c.write(4, &[block(0x41), block(0x51)]);
    assert_eq!((w.result(), w.write_counter()), (RES_OK, 2));
    assert_eq!(c.read(3, 1)[0].data(), &block(0x31));
    let eight = c.read(0, 8);
    let firsts: Vec<u8> = eight.iter().map(|f| f.data()[0]).collect();
    assert_eq!(firsts, [0, 0, 0, 0x31, 0x41, 0x51, 0, 0]);
    // Bad MAC, replayed counter, out of range: refused, nothing written, counter unchanged.
    let wrong = [0xee; 32];
    assert_eq!(
        c.write_as(&wrong, 2, 3, &[block(9)]).result(),
        RES_AUTH_FAILURE
    );
    let key = c.key;
    assert_eq!(
        c.write_as(&key, 1, 3, &[block(9)]).result(),
        RES_COUNT_FAILURE
    );
    assert_eq!(
        c.write(capacity - 1, &[block(1), block(2)]).result(),
        RES_ADDR_FAILURE
    );
    assert_eq!(c.read(capacity, 1)[0].result(), RES_ADDR_FAILURE);
    assert_eq!(c.read(3, 1)[0].data(), &block(0x31));
    assert_eq!(c.counter(), (RES_OK, 2));
    // The last block is reachable.
    assert_eq!(c.write(capacity - 1, &[block(0x77)]).result(), RES_OK);
    assert_eq!(c.read(capacity - 1, 1)[0].data(), &block(0x77));
}

fn virtio_rpmb_every_operation_and_result(t: Transport) {
    let svc = Served::start(t, VIRTIO);
    let mut c = virtio_client(&svc, "vm0-rpmb", [0x11; 32]);
    let Link::Virtio(h) = &mut c.link else {
        unreachable!()
    };
    assert_eq!(h.offered_features() & 0x00ff_ffff, 0, "no device features");
    // virtio-rpmb config space: capacity 2 x 128 KiB, max_wr_cnt 2, max_rd_cnt 8.
    assert_eq!(h.config(0, 3).unwrap(), [2, 2, 8]);
    exercise(&mut c, 1024);
    // A malformed buffer (not whole frames) gets GENERAL_FAILURE; the device keeps serving.
    let Link::Virtio(h) = &mut c.link else {
        unreachable!()
    };
    let r = h.request(0, &[0u8; 700], 512).unwrap();
    assert_eq!(Frame::from_slice(&r).unwrap().result(), RES_GENERAL_FAILURE);
    assert_eq!(c.counter(), (RES_OK, 3));
    let Link::Virtio(h) = c.link else {
        unreachable!()
    };
    h.disconnect().unwrap();
    // The image is in the state dir, private.
    use std::os::unix::fs::PermissionsExt;
    let image = std::fs::metadata(svc.state_dir().join("vm0-rpmb.img")).unwrap();
    assert_eq!(image.permissions().mode() & 0o777, 0o600);
}

/// vhost-user only: it kills and restarts the `drivervm` process.
#[test]
fn virtio_rpmb_state_survives_a_restart() {
    let svc = Service::start(VIRTIO, &["vm0-rpmb.sock"]);
    let mut c = daemon_client(&svc, [0x12; 32]);
    assert_eq!(c.program_key(), RES_OK);
    c.write(7, &[block(0x70)]);
    // Closing the connection without stopping the queues, as a crashing VMM does.
    drop(c);
    let mut svc = svc;
    svc.crash_and_restart(&["vm0-rpmb.sock"]);
    let mut c = daemon_client(&svc, [0x12; 32]);
    assert_eq!(c.counter(), (RES_OK, 1));
    assert_eq!(c.read(7, 1)[0].data(), &block(0x70));
    assert_eq!(c.program_key(), RES_WRITE_FAILURE);
}

const SOCKET: &str = r#"
[[guest]]
name = "tee"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "rpmb_dev.sock" } }
rpmb = { capacity_blocks = 100, max_rd_cnt = 8 }
"#;

/// Served the same on every transport (no virtio device): run once, over the daemon.
#[test]
fn rpmb_dev_socket_speaks_as_rpmb_dev_to_storageproxyd() {
    let svc = Service::start(SOCKET, &["rpmb_dev.sock"]);
    let stream = UnixStream::connect(svc.socket("rpmb_dev.sock")).unwrap();
    let mut c = Client::new(Link::Socket(stream), [0x22; 32]);
    exercise(&mut c, 100);
    // A count outside 1..=8 ends the connection, as rpmb_dev does...
    let Link::Socket(mut s) = c.link else {
        unreachable!()
    };
    s.write_all(&0u16.to_ne_bytes()).unwrap();
    s.write_all(&1u16.to_ne_bytes()).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap(), 0, "connection closed");
    // ...and the next connection finds the same RPMB.
    let stream = UnixStream::connect(svc.socket("rpmb_dev.sock")).unwrap();
    let mut c = Client::new(Link::Socket(stream), [0x22; 32]);
    assert_eq!(c.counter(), (RES_OK, 3));
    // A write without RESULT_READ, as a raw client might send: the frames asked for come
    // back (as GENERAL_FAILURE fillers), the write itself happened.
    let mut w = Frame::with_type(REQ_DATA_WRITE);
    w.set_write_counter(3);
    w.set_address(9);
    w.set_data(&block(0x99));
    let tag = support::rpmb::mac(&c.key, std::slice::from_ref(&w));
    w.set_key_mac(&tag);
    let r = c.link.exchange(&[w], 1);
    assert_eq!(r[0].result(), RES_GENERAL_FAILURE);
    assert_eq!(c.read(9, 1)[0].data(), &block(0x99));
    // A RESULT_READ on its own reports that write.
    let r = c.link.exchange(&[Frame::with_type(REQ_RESULT_READ)], 1);
    assert_eq!(
        (r[0].req_resp(), r[0].result(), r[0].write_counter()),
        (RESP_DATA_WRITE, RES_OK, 4)
    );
    drop(c);
    assert!(
        svc.log().contains("rpmb_dev connection terminated"),
        "{}",
        svc.log()
    );
}

const CONSOLE: &str = r#"
[[guest]]
name = "android"
[[guest.device]]
kind = "rpmb"
rpmb = { interface = "virtio-console", capacity_blocks = 64, max_rd_cnt = 8 }
"#;

fn virtio_console_port_carries_the_rpmb_dev_stream(t: Transport) {
    let svc = Served::start(t, CONSOLE);
    let h = svc.connect("android-rpmb", 2, &options());
    assert_eq!(
        h.offered_features() & 0x00ff_ffff,
        0,
        "no MULTIPORT, no SIZE"
    );
    let mut c = Client::new(Link::Console(h), [0x33; 32]);
    exercise(&mut c, 64);
}

const SHARED: &str = r#"
[[guest]]
name = "vm-a"
[[guest.device]]
kind = "rpmb"
rpmb = { store = "phys", offset = 0, capacity_blocks = 512, max_wr_cnt = 1 }

[[guest]]
name = "vm-b"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "vm-b-rpmb.sock" } }
rpmb = { store = "phys", offset = 514, capacity_blocks = 16, max_wr_cnt = 1 }

[[rpmb_store]]
name = "phys"
path = "phys.img"
capacity_blocks = 1024
max_wr_cnt = 2
max_rd_cnt = 4
"#;

/// vm-a is a virtio-rpmb device on the transport under test; vm-b stays on its rpmb_dev
/// socket, so the two faces share the physical store on either transport.
fn two_guests_on_one_physical_rpmb_are_isolated(t: Transport) {
    let svc = Served::start(t, SHARED);
    let (ka, kb) = ([0xa0; 32], [0xb0; 32]);
    let mut a = virtio_client(&svc, "vm-a-rpmb", ka);
    let sb = UnixStream::connect(svc.runtime_dir().join("vm-b-rpmb.sock")).unwrap();
    let mut b = Client::new(Link::Socket(sb), kb);
    assert_eq!(a.program_key(), RES_OK);
    // B has no key: A's key and counter are nothing to it.
    assert_eq!(b.counter().0, RES_NO_AUTH_KEY);
    assert_eq!(b.program_key(), RES_OK);
    assert_eq!(a.write(0, &[block(0xa1)]).result(), RES_OK);
    assert_eq!(a.write(511, &[block(0xa2)]).result(), RES_OK);
    assert_eq!(a.write(1, &[block(0xa3)]).result(), RES_OK);
    assert_eq!(b.write(0, &[block(0xb1)]).result(), RES_OK);
    // Independent counters.
    assert_eq!((a.counter(), b.counter()), ((RES_OK, 3), (RES_OK, 1)));
    // Same guest address, own data.
    assert_eq!(a.read(0, 1)[0].data(), &block(0xa1));
    assert_eq!(b.read(0, 1)[0].data(), &block(0xb1));
    // B cannot address past its 16 blocks, so never reaches A's (or anyone's) blocks.
    assert_eq!(b.read(16, 1)[0].result(), RES_ADDR_FAILURE);
    assert_eq!(b.write(16, &[block(0xee)]).result(), RES_ADDR_FAILURE);
    assert_eq!(a.read(512, 1)[0].result(), RES_ADDR_FAILURE);
    // A write MACed with A's key, at B's counter: B's device refuses it.
    assert_eq!(
        b.write_as(&ka, 1, 2, &[block(0xee)]).result(),
        RES_AUTH_FAILURE
    );
    // A cannot replay B's counter value into its own range either.
    assert_eq!(
        a.write_as(&ka, 1, 2, &[block(0xee)]).result(),
        RES_COUNT_FAILURE
    );
    // B's reads are signed with B's key: A's key does not verify them.
    let r = b.read(0, 1);
    assert_ne!(r[0].key_mac(), &support::rpmb::mac(&ka, &r));
    assert_eq!((a.counter(), b.counter()), ((RES_OK, 3), (RES_OK, 1)));
    assert_eq!(a.read(511, 1)[0].data(), &block(0xa2));
    // The physical image is one file; the key file was created private.
    let state = svc.state_dir();
    let key = std::fs::metadata(state.join("phys.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert_eq!(key.len(), 32);
    // The raw image does not contain either guest key.
    let raw = std::fs::read(state.join("phys.img")).unwrap();
    assert!(!raw.windows(32).any(|w| w == ka || w == kb));
}
