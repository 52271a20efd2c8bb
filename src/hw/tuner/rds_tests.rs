//! Decoder tests on group sequences written out by hand from the standard's bit layouts,
//! and on streams from the encoder, with errored blocks, A/B toggles and PI changes.

use super::*;

const PI: u16 = 0xC201;

fn group(a: u16, b: u16, c: RdsBlock, d: u16) -> [RdsBlock; 4] {
    [
        RdsBlock::ok(BlockId::A, a),
        RdsBlock::ok(BlockId::B, b),
        c,
        RdsBlock::ok(BlockId::D, d),
    ]
}

/// Group 0A of "HELLO FM", PI 0xC201, TP=1, PTY=10, TA=0, music, segment `seg`:
/// block B = type 0 | version A | TP<<10 | PTY<<5 | TA<<4 | M/S<<3 | DI<<2 | seg = 0x0548 + seg.
fn hello_0a(seg: u16) -> [RdsBlock; 4] {
    let d = [0x4845, 0x4C4C, 0x4F20, 0x464D][usize::from(seg)];
    group(PI, 0x0548 + seg, RdsBlock::ok(BlockId::C, 0xE0CD), d)
}

fn feed(dec: &mut RdsDecoder, groups: &[[RdsBlock; 4]]) -> RdsChanges {
    let mut ch = RdsChanges::NONE;
    for g in groups {
        for b in g {
            ch |= dec.push(*b);
        }
    }
    ch
}

fn ps_cycle() -> Vec<[RdsBlock; 4]> {
    (0..4).map(hello_0a).collect()
}

#[test]
fn hand_built_0a_publishes_pi_pty_tp_then_ps_after_two_cycles() {
    let mut dec = RdsDecoder::new();
    let ch = feed(&mut dec, &[hello_0a(0)]);
    assert!(ch.is_empty(), "one group is not enough evidence");
    let ch = feed(&mut dec, &[hello_0a(1)]);
    assert!(ch.contains(RdsChanges::PI | RdsChanges::PTY | RdsChanges::TP | RdsChanges::TA));
    let st = dec.state();
    assert_eq!(st.pi, Some(0xC201));
    assert_eq!(st.pty, Some(10));
    assert_eq!(st.tp, Some(true));
    assert_eq!(st.ta, Some(false));
    assert_eq!(st.ps, None);
    feed(&mut dec, &[hello_0a(2), hello_0a(3)]);
    assert_eq!(dec.state().ps, None, "each segment seen once only");
    feed(&mut dec, &ps_cycle()[..3]);
    assert_eq!(dec.state().ps, None);
    let ch = feed(&mut dec, &[hello_0a(3)]);
    assert_eq!(ch, RdsChanges::PS);
    assert_eq!(dec.state().ps, Some(*b"HELLO FM"));
    assert!(
        feed(&mut dec, &ps_cycle()).is_empty(),
        "no change, no notification"
    );
    assert_eq!(dec.groups(), 12);
}

#[test]
fn hand_built_0b_takes_pi_from_c_prime() {
    // Version B: block B bit 11 set; block C' repeats the PI.
    let mut dec = RdsDecoder::new();
    let g = |seg: u16| {
        let d = [0x4845, 0x4C4C, 0x4F20, 0x464D][usize::from(seg)];
        group(PI, 0x0D48 + seg, RdsBlock::ok(BlockId::CPrime, PI), d)
    };
    let mut errored_a = g(0);
    errored_a[0] = RdsBlock::errored(BlockId::A, 0xFFFF);
    feed(&mut dec, &[errored_a]);
    assert_eq!(dec.state().pi, None);
    feed(&mut dec, &[g(1)]);
    assert_eq!(dec.state().pi, Some(PI));
    for _ in 0..2 {
        feed(&mut dec, &[g(0), g(1), g(2), g(3)]);
    }
    assert_eq!(dec.state().ps, Some(*b"HELLO FM"));
}

#[test]
fn errored_blocks_never_reach_ps() {
    let mut dec = RdsDecoder::new();
    for _ in 0..2 {
        for seg in 0..4 {
            let mut g = hello_0a(seg);
            feed(&mut dec, &[g]);
            // An errored copy with garbage in D must be ignored entirely.
            g[3] = RdsBlock::errored(BlockId::D, 0x5858);
            feed(&mut dec, &[g]);
        }
    }
    assert_eq!(dec.state().ps, Some(*b"HELLO FM"));
    assert_eq!(dec.errored_blocks(), 8);
}

#[test]
fn a_single_undetected_corruption_is_not_published() {
    let mut dec = RdsDecoder::new();
    feed(&mut dec, &ps_cycle());
    feed(&mut dec, &ps_cycle());
    assert_eq!(dec.state().ps, Some(*b"HELLO FM"));
    let mut bad = hello_0a(1);
    bad[3] = RdsBlock::ok(BlockId::D, 0x5858); // "XX", passed the checkword by bad luck
    let mut all = feed(&mut dec, &[bad]);
    for _ in 0..3 {
        all |= feed(&mut dec, &ps_cycle());
    }
    assert!(!all.contains(RdsChanges::PS));
    assert_eq!(dec.state().ps, Some(*b"HELLO FM"));
}

#[test]
fn missing_block_b_drops_the_group_but_keeps_pi() {
    let mut dec = RdsDecoder::new();
    for seg in 0..4 {
        let g = hello_0a(seg);
        // Block B never delivered: A, C, D.
        for b in [g[0], g[2], g[3]] {
            dec.push(b);
        }
    }
    assert_eq!(dec.state().pi, Some(PI));
    assert_eq!(dec.state().pty, None);
    assert_eq!(dec.groups(), 4);
}

/// Group 2A, PI 0xC201, TP=0, PTY=10, text flag `ab`, segment `seg`:
/// block B = 0x2000 | PTY<<5 | ab<<4 | seg = 0x2140 | ab<<4 | seg.
fn rt_2a(ab: bool, seg: u16, c: u16, d: u16) -> [RdsBlock; 4] {
    group(
        PI,
        0x2140 | (u16::from(ab) << 4) | seg,
        RdsBlock::ok(BlockId::C, c),
        d,
    )
}

#[test]
fn hand_built_2a_radiotext_with_terminator_and_ab_toggle() {
    // "Hi there" + 0x0D: segments "Hi t", "here", "\r   ".
    let text = [
        rt_2a(false, 0, 0x4869, 0x2074),
        rt_2a(false, 1, 0x6865, 0x7265),
        rt_2a(false, 2, 0x0D20, 0x2020),
    ];
    let mut dec = RdsDecoder::new();
    feed(&mut dec, &text);
    assert_eq!(dec.state().rt, None);
    let ch = feed(&mut dec, &text);
    assert!(ch.contains(RdsChanges::RT));
    assert_eq!(dec.state().rt.as_deref(), Some(&b"Hi there"[..]));

    // The A/B flag toggles: the old text is cleared at once, the new one assembled.
    let bye = rt_2a(true, 0, 0x4279, 0x650D);
    let ch = feed(&mut dec, &[bye]);
    assert!(ch.contains(RdsChanges::RT));
    assert_eq!(dec.state().rt, None);
    let ch = feed(&mut dec, &[bye]);
    assert!(ch.contains(RdsChanges::RT));
    assert_eq!(dec.state().rt.as_deref(), Some(&b"Bye"[..]));
}

#[test]
fn hand_built_2b_radiotext_two_chars_per_segment() {
    // 2B: block B bit 11 set, C' = PI, D = two characters.
    let g = |seg: u16, d: u16| group(PI, 0x2940 | seg, RdsBlock::ok(BlockId::CPrime, PI), d);
    let text = [g(0, 0x4F4B), g(1, 0x210D)]; // "OK" "!\r"
    let mut dec = RdsDecoder::new();
    feed(&mut dec, &text);
    feed(&mut dec, &text);
    assert_eq!(dec.state().rt.as_deref(), Some(&b"OK!"[..]));
}

#[test]
fn radiotext_of_64_characters_needs_no_terminator() {
    let text: Vec<u8> = (0..64).map(|i| b'a' + (i % 26) as u8).collect();
    let mut enc = RdsEncoder::new(PI, 1, b"LONG", &text);
    assert_eq!(enc.rt_segments(), 16);
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(2 * 2 * 16) {
        dec.push(b);
    }
    assert_eq!(dec.state().rt, Some(text));
}

#[test]
fn c_prime_in_a_version_a_group_is_ignored() {
    let mut dec = RdsDecoder::new();
    let mut g = rt_2a(false, 0, 0x4142, 0x430D);
    g[2] = RdsBlock::ok(BlockId::CPrime, 0x4142);
    feed(&mut dec, &[g, g, g]);
    assert_eq!(
        dec.state().rt,
        None,
        "2A without a real block C carries no text"
    );
}

#[test]
fn encoder_matches_the_hand_built_layout() {
    let mut enc = RdsEncoder::new(PI, 10, b"HELLO FM", b"");
    enc.set_traffic(true, false);
    for seg in 0..4u16 {
        assert_eq!(enc.ps_group(usize::from(seg)), hello_0a(seg));
    }
    let enc = RdsEncoder::new(PI, 10, b"", b"Hi there");
    assert_eq!(enc.rt_segments(), 3);
    assert_eq!(enc.rt_group(0), rt_2a(false, 0, 0x4869, 0x2074));
    assert_eq!(enc.rt_group(2), rt_2a(false, 2, 0x0D20, 0x2020));
}

#[test]
fn encoder_stream_decodes_to_its_fields() {
    let mut enc = RdsEncoder::new(0xD3C2, 5, b"SIM FM", b"Simulated station");
    enc.set_traffic(true, true);
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(40) {
        dec.push(b);
    }
    let st = dec.state();
    assert_eq!(st.pi, Some(0xD3C2));
    assert_eq!(st.pty, Some(5));
    assert_eq!(st.tp, Some(true));
    assert_eq!(st.ta, Some(true));
    assert_eq!(st.ps, Some(*b"SIM FM  "));
    assert_eq!(st.rt.as_deref(), Some(&b"Simulated station"[..]));
    assert_eq!(st.ps_text().as_deref(), Some("SIM FM"));
    assert_eq!(st.rt_text().as_deref(), Some("Simulated station"));
}

#[test]
fn version_b_encoder_stream_decodes() {
    let mut enc = RdsEncoder::new(0x1234, 3, b"BEE", b"two by two");
    enc.set_version_b(true, true);
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(60) {
        dec.push(b);
    }
    assert_eq!(dec.state().ps, Some(*b"BEE     "));
    assert_eq!(dec.state().rt.as_deref(), Some(&b"two by two"[..]));
}

#[test]
fn new_radiotext_toggles_ab_and_replaces_text() {
    let mut enc = RdsEncoder::new(PI, 1, b"NEWS", b"first");
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(20) {
        dec.push(b);
    }
    assert_eq!(dec.state().rt.as_deref(), Some(&b"first"[..]));
    enc.set_rt(b"second text");
    let mut seen = Vec::new();
    for b in enc.blocks(30) {
        if dec.push(b).contains(RdsChanges::RT) {
            seen.push(dec.state().rt);
        }
    }
    assert_eq!(seen, vec![None, Some(b"second text".to_vec())]);
}

#[test]
fn changing_ps_never_publishes_a_mix() {
    let mut enc = RdsEncoder::new(PI, 1, b"AAAAAAAA", b"");
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(8) {
        dec.push(b);
    }
    assert_eq!(dec.state().ps, Some(*b"AAAAAAAA"));
    // Change the name in the middle of a cycle.
    for b in enc.blocks(2) {
        dec.push(b);
    }
    enc.set_ps(b"BBBBBBBB");
    let mut published = Vec::new();
    for b in enc.blocks(16) {
        if dec.push(b).contains(RdsChanges::PS) {
            published.push(dec.state().ps);
        }
    }
    assert_eq!(published, vec![Some(*b"BBBBBBBB")]);
}

#[test]
fn pi_change_resets_station_fields() {
    let mut enc = RdsEncoder::new(0x1111, 4, b"ONE", b"station one");
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(30) {
        dec.push(b);
    }
    assert_eq!(dec.state().ps, Some(*b"ONE     "));
    let mut other = RdsEncoder::new(0x2222, 4, b"TWO", b"station two");
    let mut first = other.next_group();
    // One stray group of the new station does not switch yet.
    let mut ch = feed(&mut dec, &[first]);
    assert!(!ch.contains(RdsChanges::PI));
    first = other.next_group();
    ch = feed(&mut dec, &[first]);
    assert!(ch.contains(RdsChanges::PI | RdsChanges::PS | RdsChanges::RT | RdsChanges::PTY));
    let st = dec.state();
    assert_eq!(st.pi, Some(0x2222));
    assert_eq!(st.ps, None);
    assert_eq!(st.rt, None);
    for b in other.blocks(30) {
        dec.push(b);
    }
    assert_eq!(dec.state().ps, Some(*b"TWO     "));
    assert_eq!(dec.state().rt.as_deref(), Some(&b"station two"[..]));
}

#[test]
fn v4l2_triples_round_trip_and_feed_the_decoder() {
    let a = RdsBlock::from_v4l2([0x01, 0xC2, 0x00]);
    assert_eq!(a, RdsBlock::ok(BlockId::A, 0xC201));
    // Bits 5..3 repeat the block number and are ignored.
    assert_eq!(RdsBlock::from_v4l2([0, 0, 0x09]).id, Some(BlockId::B));
    let e = RdsBlock::from_v4l2([0x34, 0x12, 0x84]);
    assert_eq!(e.id, Some(BlockId::CPrime));
    assert!(e.error);
    let c = RdsBlock::from_v4l2([0, 0, 0x43]);
    assert!(c.corrected && !c.error);
    assert_eq!(c.id, Some(BlockId::D));
    assert_eq!(RdsBlock::from_v4l2([0, 0, 0x07]).id, None);
    assert_eq!(
        RdsBlock::ok(BlockId::C, 0xABCD).to_v4l2(),
        [0xCD, 0xAB, 0x12]
    );
    assert_eq!(
        RdsBlock::errored(BlockId::D, 0).to_v4l2(),
        [0, 0, 0x80 | 0x1B]
    );
    let mut dec = RdsDecoder::new();
    let mut enc = RdsEncoder::new(PI, 10, b"V4L2", b"");
    let mut bytes: Vec<u8> = enc.blocks(8).iter().flat_map(|b| b.to_v4l2()).collect();
    bytes.extend_from_slice(&[0x01, 0xC2]); // a torn trailing record
    dec.push_v4l2(&bytes);
    assert_eq!(dec.state().ps, Some(*b"V4L2    "));
    assert_eq!(dec.errored_blocks(), 0);
    assert_eq!(dec.push_v4l2(&[0x00, 0x00, 0x07]), RdsChanges::NONE);
    assert_eq!(dec.errored_blocks(), 1);
}

#[test]
fn reset_forgets_everything() {
    let mut enc = RdsEncoder::new(PI, 10, b"RESET", b"x");
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(20) {
        dec.push(b);
    }
    assert!(dec.state().ps.is_some());
    dec.reset();
    assert_eq!(dec.state(), RdsState::default());
}

/// Random block streams never panic the decoder, and anything it publishes is well formed.
#[test]
fn random_blocks_are_harmless() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut dec = RdsDecoder::new();
    let mut bytes = Vec::new();
    for _ in 0..60_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    dec.push_v4l2(&bytes);
    let st = dec.state();
    assert!(st.pty.is_none_or(|p| p <= 31));
    assert!(st.rt.is_none_or(|rt| rt.len() <= 64 && !rt.contains(&0x0D)));
}

#[test]
fn non_ascii_text_survives_encoding_and_decoding() {
    let mut enc = RdsEncoder::from_text(0xD201, 1, "KÖLN €", "Grüße aus Köln").unwrap();
    assert!(RdsEncoder::from_text(1, 1, "日本", "").is_err());
    let mut dec = RdsDecoder::new();
    for b in enc.blocks(40) {
        dec.push(b);
    }
    assert_eq!(dec.state().ps_text().as_deref(), Some("KÖLN €"));
    assert_eq!(dec.state().rt_text().as_deref(), Some("Grüße aus Köln"));
}

#[test]
fn unterminated_short_radiotext_completes_after_two_cycles() {
    // Two 2A segments, "ABCD" "EFGH", no 0x0D, repeated.
    let text = [
        rt_2a(false, 0, 0x4142, 0x4344),
        rt_2a(false, 1, 0x4546, 0x4748),
    ];
    let mut dec = RdsDecoder::new();
    feed(&mut dec, &text);
    feed(&mut dec, &text);
    assert_eq!(
        dec.state().rt,
        None,
        "one restart is not proof that the text is complete"
    );
    let ch = feed(&mut dec, &text[..1]);
    assert!(ch.contains(RdsChanges::RT));
    assert_eq!(dec.state().rt.as_deref(), Some(&b"ABCDEFGH"[..]));
}

#[test]
fn group_period_is_104_bits_at_1187_5_bits_per_second() {
    assert_eq!(RDS_GROUP_PERIOD.as_nanos(), 87_578_947);
}
