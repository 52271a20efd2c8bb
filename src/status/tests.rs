use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::kind::DeviceKind;

fn state(bus: &Arc<EventBus>, queues: usize) -> DeviceState {
    DeviceState::new(
        "vm0-scmi".into(),
        DeviceKind::Scmi,
        "vm0".into(),
        TransportKind::VhostUser,
        "/run/vm0-scmi.sock".into(),
        queues,
        bus.clone(),
    )
}

#[test]
fn link_changes_are_published_once_and_driver_ok_restarts_counters() {
    let bus = Arc::new(EventBus::new());
    let rx = bus.subscribe();
    let dev = state(&bus, 2);
    dev.queue(0).unwrap().add(3, 1, 100);
    dev.set_link(LinkState::Connected);
    dev.set_link(LinkState::Connected);
    assert_eq!(dev.snapshot().queues[0].requests, 3);
    dev.set_link(LinkState::DriverOk);
    assert_eq!(dev.snapshot().queues[0], QueueSnapshot::default());
    let got: Vec<_> = rx.try_iter().collect();
    assert_eq!(
        got,
        vec![
            StatusEvent::Link {
                device: "vm0-scmi".into(),
                state: LinkState::Connected
            },
            StatusEvent::Link {
                device: "vm0-scmi".into(),
                state: LinkState::DriverOk
            },
        ]
    );
}

#[test]
fn snapshot_carries_counters_features_and_error() {
    let bus = Arc::new(EventBus::new());
    let dev = state(&bus, 2);
    dev.set_features(1 << 32);
    dev.queue(1).unwrap().add(2, 0, 64);
    assert!(dev.queue(2).is_none());
    dev.record_error("queue 0: chain 3 refused");
    let s = dev.snapshot();
    assert_eq!(s.features, 1 << 32);
    assert_eq!(
        s.queues[1],
        QueueSnapshot {
            index: 1,
            requests: 2,
            errors: 0,
            bytes: 64
        }
    );
    assert_eq!(s.last_error, "queue 0: chain 3 refused");
    dev.set_link(LinkState::Connected);
    dev.set_link(LinkState::Listening);
    assert_eq!(
        dev.snapshot().features,
        0,
        "a gone frontend's features are forgotten"
    );
}

#[test]
fn clock_table_tracks_rate_enable_and_owner_per_agent_view() {
    let t = Arc::new(ClockTable::new(vec![
        ("cpu".into(), 1_000_000, false),
        ("gpu".into(), 0, false),
    ]));
    t.name_agent(1, "vm0");
    t.name_agent(2, "vm1");
    // vm1 is granted gpu as its clock 0 and cpu as its clock 1.
    let view = ClockView::new(t.clone(), &[1, 0]);
    assert_eq!(view.generation(), 0);
    t.set_rate(1, 400_000_000, 2);
    t.set_enabled(0, true, 1);
    t.set_rate(99, 1, 1); // unknown index: ignored
    assert_eq!(view.generation(), 2);
    let clocks: Vec<ClockDetail> = view.detail().get().cloned().expect("scmi clocks");
    assert_eq!(
        clocks[0],
        ClockDetail {
            id: 0,
            name: "gpu".into(),
            rate_hz: 400_000_000,
            enabled: false,
            owner: "vm1".into()
        }
    );
    assert_eq!(
        (clocks[1].id, clocks[1].enabled, clocks[1].owner.as_str()),
        (1, true, "vm0")
    );
    t.set_enabled(0, false, 1);
    let clocks: Vec<ClockDetail> = view.detail().get().cloned().expect("scmi clocks");
    assert_eq!(clocks[1].owner, "", "gating releases the clock");
}

#[test]
fn rpmb_cell_bumps_generation_only_on_change() {
    let c = RpmbCell::new(128 * 1024, 0, false);
    c.update(0, false);
    assert_eq!(c.generation(), 0);
    c.update(0, true);
    c.update(1, true);
    assert_eq!(c.generation(), 2);
    assert_eq!(
        c.detail(),
        DeviceDetail::new(RpmbDetail {
            capacity_bytes: 128 * 1024,
            write_counter: 1,
            key_programmed: true
        })
    );
}

#[test]
fn detail_watcher_coalesces_changes_into_events() {
    let bus = Arc::new(EventBus::new());
    let dev = Arc::new(state(&bus, 1));
    let cell = Arc::new(RpmbCell::new(1, 0, false));
    dev.set_detail_source(cell.clone());
    let reg = Arc::new(Registry::new(vec![dev], bus.clone()));
    let rx = reg.subscribe();
    reg.spawn_detail_watcher(Duration::from_millis(5)).unwrap();
    for n in 1..=50 {
        cell.update(n, true);
    }
    let ev = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        ev,
        StatusEvent::Detail {
            device: "vm0-scmi".into()
        }
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        rx.try_iter().count() <= 1,
        "fifty updates in a burst are not fifty events"
    );
}

#[test]
fn detail_watcher_wakes_for_a_change_after_a_long_idle() {
    let bus = Arc::new(EventBus::new());
    let dev = Arc::new(state(&bus, 1));
    let cell = Arc::new(RpmbCell::new(1, 0, false));
    dev.set_detail_source(cell.clone());
    let reg = Arc::new(Registry::new(vec![dev], bus.clone()));
    let rx = reg.subscribe();
    reg.spawn_detail_watcher(Duration::from_millis(5)).unwrap();
    // Installing a source rings once; that first look finds nothing changed.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rx.try_iter().count(), 0, "no change, no event");
    cell.update(7, true);
    let ev = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        ev,
        StatusEvent::Detail {
            device: "vm0-scmi".into()
        }
    );
}

#[test]
fn detail_bell_rings_once_per_take_and_close_ends_waiting() {
    let bell = Arc::new(DetailBell::new());
    let gen = Generation::new();
    gen.bump();
    assert_eq!(gen.get(), 1);
    gen.attach(&bell);
    gen.bump();
    gen.bump();
    assert!(bell.take(), "two bumps ring once");
    let waiter = {
        let bell = bell.clone();
        std::thread::spawn(move || bell.take())
    };
    std::thread::sleep(Duration::from_millis(20));
    assert!(!waiter.is_finished(), "nothing rang since the last take");
    bell.close();
    assert!(
        !waiter.join().unwrap(),
        "close ends the wait without a ring"
    );
    assert_eq!(gen.get(), 3);
}

#[test]
fn audio_streams_publish_state_format_and_xruns() {
    use crate::hw::pcm::SampleFormat;
    let s = AudioStreams::new(&[AudioDirection::Output, AudioDirection::Input]);
    let idle = |id, direction| AudioStreamDetail {
        id,
        direction,
        state: AudioStreamState::Idle,
        format: String::new(),
        rate_hz: 0,
        channels: 0,
        xruns: 0,
    };
    assert_eq!(
        s.detail(),
        DeviceDetail::new(vec![
            idle(0, AudioDirection::Output),
            idle(1, AudioDirection::Input)
        ])
    );
    let shape = StreamShape {
        format: SampleFormat::S24_3,
        rate_hz: 44_100,
        channels: 6,
    };
    s.set(1, AudioStreamState::ParametersSet, Some(shape));
    s.set(1, AudioStreamState::ParametersSet, Some(shape));
    assert_eq!(s.generation(), 1, "an unchanged publish is not a change");
    s.set(1, AudioStreamState::Running, Some(shape));
    s.set_xruns(1, 3);
    s.set_xruns(1, 3);
    s.set(7, AudioStreamState::Running, None); // no such stream: ignored
    s.set_xruns(7, 1);
    assert_eq!(s.generation(), 3);
    let Some(streams) = s.detail().get::<Vec<AudioStreamDetail>>().cloned() else {
        panic!("not sound")
    };
    assert_eq!(
        streams[0],
        idle(0, AudioDirection::Output),
        "stream 0 untouched"
    );
    assert_eq!(
        streams[1],
        AudioStreamDetail {
            id: 1,
            direction: AudioDirection::Input,
            state: AudioStreamState::Running,
            format: "S24_3LE".into(),
            rate_hz: 44_100,
            channels: 6,
            xruns: 3,
        }
    );
    // The largest rate virtio-snd names fits the packed word unchanged.
    s.set(
        0,
        AudioStreamState::Stopped,
        Some(StreamShape {
            format: SampleFormat::Float,
            rate_hz: 384_000,
            channels: 255,
        }),
    );
    let Some(streams) = s.detail().get::<Vec<AudioStreamDetail>>().cloned() else {
        panic!("not sound")
    };
    assert_eq!(
        (
            streams[0].state,
            streams[0].format.as_str(),
            streams[0].rate_hz,
            streams[0].channels
        ),
        (AudioStreamState::Stopped, "FLOAT_LE", 384_000, 255)
    );
    s.set(1, AudioStreamState::Idle, None);
    let Some(streams) = s.detail().get::<Vec<AudioStreamDetail>>().cloned() else {
        panic!("not sound")
    };
    assert_eq!(
        (
            streams[1].state,
            streams[1].format.as_str(),
            streams[1].rate_hz
        ),
        (AudioStreamState::Idle, "", 0)
    );
}

#[test]
fn a_detached_state_names_only_the_kind_its_virtio_id_proves() {
    assert_eq!(
        DeviceState::detached("r", 28, 1).kind(),
        Some(DeviceKind::Rpmb)
    );
    assert_eq!(
        DeviceState::detached("s", 25, 4).snapshot().kind,
        Some(DeviceKind::Sound)
    );
    // RPMB's console face (virtio-console, ID 3) and the radio (configurable ID) are not
    // guessed.
    assert_eq!(DeviceState::detached("c", 3, 2).kind(), None);
    assert_eq!(DeviceState::detached("x", 56, 2).kind(), None);
}

#[test]
fn a_subscriber_that_never_reads_holds_a_bounded_backlog_of_the_newest_events() {
    let bus = EventBus::new();
    let rx = bus.subscribe();
    let total = SUBSCRIBER_BACKLOG * 4;
    for i in 0..total {
        bus.publish(StatusEvent::Detail {
            device: format!("d{i}"),
        });
    }
    assert_eq!(rx.take_dropped(), (total - SUBSCRIBER_BACKLOG) as u64);
    let got: Vec<_> = rx.try_iter().collect();
    assert_eq!(got.len(), SUBSCRIBER_BACKLOG);
    // The oldest went; the newest stayed, in order.
    assert_eq!(
        got.first(),
        Some(&StatusEvent::Detail {
            device: format!("d{}", total - SUBSCRIBER_BACKLOG)
        })
    );
    assert_eq!(
        got.last(),
        Some(&StatusEvent::Detail {
            device: format!("d{}", total - 1)
        })
    );
    // The bus going away ends a waiting receiver.
    drop(bus);
    assert_eq!(rx.recv(), None);
}
