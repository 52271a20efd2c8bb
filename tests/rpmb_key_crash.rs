//! Crash test of the one irreversible step: a physical RPMB's device key is created at the
//! service's first start and then programmed into the blank part. The service is SIGKILLed
//! at points swept across its first start (before, during and after the key file is
//! created and the part keyed), then started again: it must come up with one complete
//! key file (32 bytes, mode 0600, no temporary file left), and the part must be keyed with
//! that file's key, which a guest's write, a restart and a MAC-checked read then show.
//!
//! rpmb_crash.rs covers crashes once the key exists (acknowledged writes across 200
//! SIGKILLs); src/hw/rpmb/key_file.rs's unit tests cover the file steps (temp file, fsync,
//! link, directory fsync; a leftover temp file never becomes the key). A SIGKILL keeps the
//! page cache, so what this test cannot show is a power loss: that the key file is durable
//! rests on those fsyncs, checked by the unit tests' order and by reading the code.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use drivervm::devices::rpmb::constants::*;
use support::rpmb::{Client, Link};
use support::Service;

const CONFIG: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "vm0.sock" } }
rpmb = { store = "phys", offset = 0, capacity_blocks = 16, max_wr_cnt = 1 }

[[rpmb_store]]
name = "phys"
path = "phys.img"
capacity_blocks = 64
max_wr_cnt = 2
max_rd_cnt = 4
"#;
const SOCKET: &str = "vm0.sock";
/// The kill points: every STEP from zero on (the first rounds kill the service before it
/// read its config), until [`AFTER_KEY`] kills found the key created; a busy machine only
/// makes the sweep longer.
const STEP: Duration = Duration::from_micros(250);
/// Rounds whose kill came after the key file was made, before the sweep ends.
const AFTER_KEY: u32 = 10;
/// The sweep gives up here.
const MAX_ROUNDS: u32 = 300;

fn client(svc: &Service) -> Client {
    let s = UnixStream::connect(svc.socket(SOCKET)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    Client::new(Link::Socket(s), [0x5a; 32])
}

#[test]
fn a_crash_while_the_device_key_is_created_never_strands_the_part() {
    let mut keyed_before_kill = 0;
    let mut round = 0;
    while keyed_before_kill < AFTER_KEY && round < MAX_ROUNDS {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = dir.path().join("run");
        let state = dir.path().join("state");
        let config = dir.path().join("drivervm.toml");
        std::fs::write(&config, CONFIG).expect("config");
        let log = std::fs::File::create(dir.path().join("service.log")).expect("log");
        let mut first = Command::new(env!("CARGO_BIN_EXE_drivervm"))
            .arg("--config")
            .arg(&config)
            .arg("--runtime-dir")
            .arg(&runtime)
            .arg("--state-dir")
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn drivervm");
        std::thread::sleep(STEP * round);
        let _ = first.kill();
        let _ = first.wait();
        if state.join("phys.key").exists() {
            keyed_before_kill += 1;
        }
        // A killed service leaves its socket behind; the next start makes its own.
        let _ = std::fs::remove_file(runtime.join(SOCKET));

        let mut svc = Service::start_in(dir, runtime, CONFIG, &[SOCKET]);
        let key_path = state.join("phys.key");
        let meta = std::fs::metadata(&key_path)
            .unwrap_or_else(|e| panic!("round {round}: no key file: {e}\n{}", svc.log()));
        assert_eq!(meta.len(), 32, "round {round}: a whole key");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "round {round}");
        assert!(
            !state.join("phys.key.new").exists(),
            "round {round}: a temporary key file was left"
        );
        let key = std::fs::read(&key_path).expect("key");

        // The part answers with that key: a guest keys its slot, writes, and reads back
        // (MACs checked by the client) across a restart.
        let mut c = client(&svc);
        assert_eq!(c.program_key(), RES_OK, "round {round}\n{}", svc.log());
        assert_eq!(c.write(2, &[[round as u8; 256]]).result(), RES_OK);
        drop(c);
        svc.crash_and_restart(&[SOCKET]);
        assert_eq!(std::fs::read(&key_path).expect("key"), key, "round {round}");
        let mut c = client(&svc);
        assert_eq!(c.counter(), (RES_OK, 1), "round {round}");
        assert_eq!(c.read(2, 1)[0].data(), &[round as u8; 256], "round {round}");
        round += 1;
    }
    eprintln!("{round} first starts killed; the key file existed at {keyed_before_kill} kills");
    // The sweep must have reached both sides of the key's creation.
    assert!(
        keyed_before_kill == AFTER_KEY && round > AFTER_KEY,
        "every kill fell on one side of the key's creation ({keyed_before_kill} of {round} \
         after it): the sweep missed the window"
    );
}
