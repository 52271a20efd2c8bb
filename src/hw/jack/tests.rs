use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::alsa::{AlsaJack, UserElement};
use super::sim::{write_state, SimJack};
use super::*;

/// Forwards changes to a channel until the receiver is dropped.
struct ToChannel(mpsc::Sender<bool>);

impl JackListener for ToChannel {
    fn changed(&mut self, connected: bool) -> bool {
        self.0.send(connected).is_ok()
    }
    fn wanted(&self) -> bool {
        // A dropped receiver is noticed at the next change.
        true
    }
}

#[test]
fn sim_jack_reads_one_and_zero_and_refuses_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hp");
    let mut jack = SimJack::new(&path);
    assert!(
        matches!(jack.read(), Err(JackError::Io { .. })),
        "no file yet"
    );
    jack.create_if_missing(false).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n");
    assert!(!jack.read().unwrap());
    // An existing file is left as it is.
    std::fs::write(&path, "1").unwrap();
    jack.create_if_missing(false).unwrap();
    assert!(jack.read().unwrap());
    std::fs::write(&path, " 0 \n").unwrap();
    assert!(!jack.read().unwrap());
    std::fs::write(&path, "yes").unwrap();
    match jack.read() {
        Err(JackError::Malformed { found, .. }) => assert_eq!(found, "yes"),
        other => panic!("{other:?}"),
    }
    // Only the first bytes are read, however large the file.
    std::fs::write(&path, "1".repeat(1 << 20)).unwrap();
    match jack.read() {
        Err(JackError::Malformed { found, .. }) => assert_eq!(found.len(), 16),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sim_jack_wakes_on_a_write_to_its_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hp");
    let mut jack = SimJack::new(&path);
    jack.create_if_missing(true).unwrap();
    // The creation itself is an event; drain it.
    while jack.wait(Duration::from_millis(50)).unwrap() {}
    std::fs::write(dir.path().join("other"), "0").unwrap();
    assert!(!jack.wait(Duration::from_millis(100)).unwrap());
    let t = Instant::now();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            write_state(&path, false).unwrap();
        })
    };
    assert!(jack.wait(Duration::from_secs(5)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(2), "woken by the write");
    writer.join().unwrap();
    assert!(!jack.read().unwrap());
}

#[test]
fn watch_reports_each_change_once_and_survives_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hp");
    let jack = SimJack::new(&path);
    jack.create_if_missing(true).unwrap();
    let (tx, rx) = mpsc::channel();
    spawn_watch("t-snd jack hp", Box::new(jack), true, ToChannel(tx)).unwrap();
    let next = || rx.recv_timeout(Duration::from_secs(5));
    write_state(&path, false).unwrap();
    assert_eq!(next(), Ok(false));
    // Garbage keeps the last state; the next good value is reported.
    std::fs::write(&path, "maybe").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    write_state(&path, false).unwrap();
    write_state(&path, true).unwrap();
    assert_eq!(next(), Ok(true));
    assert!(
        rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "no change, no report"
    );
}

#[test]
fn watch_follows_a_jack_file_whose_directory_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("jacks");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("hp");
    let jack = SimJack::new(&path);
    jack.create_if_missing(true).unwrap();
    let (tx, rx) = mpsc::channel();
    spawn_watch("t-snd jack re", Box::new(jack), true, ToChannel(tx)).unwrap();
    // Let the watcher settle into its healthy wait.
    std::thread::sleep(WAIT_SLICE * 2);
    std::fs::remove_dir_all(&sub).unwrap();
    std::thread::sleep(WAIT_SLICE);
    std::fs::create_dir(&sub).unwrap();
    write_state(&path, false).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
    // The new directory is watched: a change is seen at once, not after HEALTHY_SLICE.
    std::thread::sleep(WAIT_SLICE * 2);
    let t = Instant::now();
    write_state(&path, true).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    assert!(
        t.elapsed() < WAIT_SLICE,
        "woken by inotify, took {:?}",
        t.elapsed()
    );
}

#[test]
fn initial_state_falls_back_when_the_source_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut missing = SimJack::new(dir.path().join("none"));
    assert!(initial_state("t", &mut missing, true));
    assert!(!initial_state("t", &mut missing, false));
    let mut alsa = AlsaJack::new(31, "Headphone Jack");
    assert!(initial_state("t", &mut alsa, true));
}

#[test]
fn thread_names_keep_their_end() {
    assert_eq!(thread_name("snd0 jack hp"), "snd0 jack hp");
    assert_eq!(thread_name("ivi-sound jack headphones"), "jack headphones");
    assert_eq!(thread_name("ééééééééé"), "ééééééé");
}

/// A card to try user elements on, or `None` (with a notice) on a host without ALSA.
fn alsa_card() -> Option<u32> {
    match (0..8).find(|c| alsa::control_path(*c).exists()) {
        Some(c) => Some(c),
        None => {
            crate::harness::skip::skipped(
                "the host ALSA jack test",
                "no /dev/snd/controlC* on this host (tests/guest_alsa_aloop.rs runs it \
                 against a real kernel in a guest)",
            );
            None
        }
    }
}

#[test]
fn alsa_jack_follows_a_user_control_element() {
    let Some(card) = alsa_card() else { return };
    let name = format!("drivervm test {} Jack", std::process::id());
    let element = match UserElement::add(card, &name) {
        Ok(e) => e,
        Err(e) => {
            crate::harness::skip::skipped(
                "alsa_jack_follows_a_user_control_element",
                &format!("cannot add a user control on card {card} ({e})"),
            );
            return;
        }
    };
    element.set(true).unwrap();
    let mut jack = AlsaJack::new(card, &name);
    assert!(jack.read().unwrap());
    let (tx, rx) = mpsc::channel();
    spawn_watch(
        "t-alsa",
        Box::new(AlsaJack::new(card, &name)),
        true,
        ToChannel(tx),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    element.set(false).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
    assert!(t.elapsed() < WAIT_SLICE, "woken by the control event");
    element.set(true).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    assert!(jack.read().unwrap());
    let mut absent = AlsaJack::new(card, "drivervm no such Jack");
    assert!(matches!(absent.read(), Err(JackError::NotFound { .. })));
}
