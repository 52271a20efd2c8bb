//! RDS (IEC 62106 / EN 50067) group decoding from the block stream a V4L2 radio delivers,
//! and the matching encoder the simulated tuner uses to produce such a stream.
//!
//! Bit layouts used (as the standard and public descriptions of it give them):
//! - a group is four 16-bit blocks A, B, C (or C' in version B groups), D;
//! - block A, and block C' of version B groups, carry the PI code;
//! - block B: bits 15..12 group type, bit 11 version (0 = A, 1 = B), bit 10 TP, bits 9..5 PTY,
//!   bits 4..0 group specific;
//! - group 0A/0B: B bit 4 TA, bit 3 music/speech, bit 2 DI, bits 1..0 PS segment address;
//!   block D carries two PS characters (high byte first); 0A's block C carries AF codes;
//! - group 2A/2B: B bit 4 text A/B flag, bits 3..0 segment address; 2A carries four
//!   RadioText characters in C and D (64 in all), 2B two in D (32 in all); 0x0D ends the text.
//!
//! V4L2 (`read()` on `/dev/radioN`, see videodev2.h) delivers each block as a 3-byte
//! `v4l2_rds_data`: `lsb`, `msb`, then `block` whose bits 2..0 name the block (A=0, B=1, C=2,
//! D=3, C'=4, invalid=7), bits 5..3 repeat them (deprecated), bit 6 says an error was
//! corrected and bit 7 that the block is uncorrectable.
//!
//! Error tolerance: an errored block is dropped but keeps its place in the group; PI, PTY, TP
//! and TA change only after the same new value is seen twice in a row; a PS or RadioText
//! segment is accepted only when received twice identically, and a whole PS or RadioText is
//! published only once every segment of it is confirmed since its last change, so a single
//! corrupted group never reaches the driver and old and new text are never mixed.

use std::ops::{BitOr, BitOrAssign};

/// Length of the Programme Service name in characters.
pub const PS_LEN: usize = 8;
/// Most RadioText characters (group 2A).
pub const RT_MAX_LEN: usize = 64;

/// Mask of the block number in `v4l2_rds_data.block`.
pub const V4L2_RDS_BLOCK_MSK: u8 = 0x7;
/// `v4l2_rds_data.block` number of an undecodable block.
pub const V4L2_RDS_BLOCK_INVALID: u8 = 7;
/// `v4l2_rds_data.block` bit: an error was corrected.
pub const V4L2_RDS_BLOCK_CORRECTED: u8 = 0x40;
/// `v4l2_rds_data.block` bit: the block holds an uncorrectable error.
pub const V4L2_RDS_BLOCK_ERROR: u8 = 0x80;
/// Size of one `v4l2_rds_data`.
pub const V4L2_RDS_DATA_SIZE: usize = 3;

/// Which block of a group a block is, numbered as V4L2 numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// Block A (PI).
    A = 0,
    /// Block B (group type, PTY, TP).
    B = 1,
    /// Block C of a version A group.
    C = 2,
    /// Block D.
    D = 3,
    /// Block C' of a version B group (PI again).
    CPrime = 4,
}

impl BlockId {
    fn from_v4l2(n: u8) -> Option<Self> {
        match n {
            0 => Some(Self::A),
            1 => Some(Self::B),
            2 => Some(Self::C),
            3 => Some(Self::D),
            4 => Some(Self::CPrime),
            _ => None,
        }
    }

    /// Position of the block within its group (C and C' share position 2).
    fn position(self) -> usize {
        match self {
            Self::A => 0,
            Self::B => 1,
            Self::C | Self::CPrime => 2,
            Self::D => 3,
        }
    }
}

/// One received RDS block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdsBlock {
    /// Which block it is; `None` when the receiver could not tell (V4L2 block 5..=7).
    pub id: Option<BlockId>,
    /// The 16 information bits.
    pub data: u16,
    /// The block holds an uncorrectable error and must not be used.
    pub error: bool,
    /// The receiver corrected an error in the block.
    pub corrected: bool,
}

impl RdsBlock {
    /// A block received without error.
    pub fn ok(id: BlockId, data: u16) -> Self {
        Self {
            id: Some(id),
            data,
            error: false,
            corrected: false,
        }
    }

    /// A block received with an uncorrectable error.
    pub fn errored(id: BlockId, data: u16) -> Self {
        Self {
            id: Some(id),
            data,
            error: true,
            corrected: false,
        }
    }

    /// Decodes one `v4l2_rds_data` triple.
    pub fn from_v4l2(b: [u8; 3]) -> Self {
        Self {
            id: BlockId::from_v4l2(b[2] & V4L2_RDS_BLOCK_MSK),
            data: u16::from_le_bytes([b[0], b[1]]),
            error: b[2] & V4L2_RDS_BLOCK_ERROR != 0,
            corrected: b[2] & V4L2_RDS_BLOCK_CORRECTED != 0,
        }
    }

    /// Encodes the block as a `v4l2_rds_data` triple (bits 5..3 repeat the block number, as
    /// drivers still fill them).
    pub fn to_v4l2(&self) -> [u8; 3] {
        let n = self.id.map_or(V4L2_RDS_BLOCK_INVALID, |id| id as u8);
        let mut block = n | (n << 3);
        if self.error {
            block |= V4L2_RDS_BLOCK_ERROR;
        }
        if self.corrected {
            block |= V4L2_RDS_BLOCK_CORRECTED;
        }
        let [lsb, msb] = self.data.to_le_bytes();
        [lsb, msb, block]
    }
}

/// Which published RDS fields changed after a call to [`RdsDecoder::push`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdsChanges(u8);

impl RdsChanges {
    /// Nothing changed.
    pub const NONE: Self = Self(0);
    /// PI changed.
    pub const PI: Self = Self(1 << 0);
    /// PTY changed.
    pub const PTY: Self = Self(1 << 1);
    /// TP changed.
    pub const TP: Self = Self(1 << 2);
    /// TA changed.
    pub const TA: Self = Self(1 << 3);
    /// PS changed.
    pub const PS: Self = Self(1 << 4);
    /// RadioText changed.
    pub const RT: Self = Self(1 << 5);

    /// Whether every change in `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether nothing changed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for RdsChanges {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for RdsChanges {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// The RDS fields the decoder has published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdsState {
    /// Programme Identification.
    pub pi: Option<u16>,
    /// Programme Type (0..=31).
    pub pty: Option<u8>,
    /// Traffic Programme.
    pub tp: Option<bool>,
    /// Traffic Announcement.
    pub ta: Option<bool>,
    /// Programme Service name, 8 RDS characters.
    pub ps: Option<[u8; PS_LEN]>,
    /// RadioText without its 0x0D terminator and trailing spaces.
    pub rt: Option<Vec<u8>>,
}

impl RdsState {
    /// The PS name for display (RDS characters translated, trailing spaces trimmed).
    pub fn ps_text(&self) -> Option<String> {
        self.ps
            .map(|ps| super::charset::decode(&ps).trim_end().to_string())
    }

    /// The RadioText for display (RDS characters translated).
    pub fn rt_text(&self) -> Option<String> {
        self.rt.as_deref().map(super::charset::decode)
    }
}

/// A value published only after the same new value arrives twice in a row.
#[derive(Debug, Clone, Default)]
struct Debounced<T> {
    published: Option<T>,
    candidate: Option<T>,
}

impl<T: Copy + PartialEq> Debounced<T> {
    /// Feeds one observation; true when the published value changed.
    fn observe(&mut self, v: T) -> bool {
        if self.published == Some(v) {
            self.candidate = None;
            false
        } else if self.candidate == Some(v) {
            self.published = Some(v);
            self.candidate = None;
            true
        } else {
            self.candidate = Some(v);
            false
        }
    }
}

/// Confirmation state of one text segment (PS or RadioText).
#[derive(Debug, Clone, Copy, Default)]
struct Segment<const N: usize> {
    value: Option<[u8; N]>,
    candidate: Option<[u8; N]>,
    /// Confirmed since the last change anywhere in the text.
    fresh: bool,
    /// Replaced by a new value since the text was last complete.
    changed: bool,
}

/// Segments of one text, each confirmed by two identical receptions.
#[derive(Debug, Clone)]
struct SegmentedText<const N: usize, const S: usize> {
    segs: [Segment<N>; S],
}

impl<const N: usize, const S: usize> Default for SegmentedText<N, S> {
    fn default() -> Self {
        Self {
            segs: [Segment::default(); S],
        }
    }
}

impl<const N: usize, const S: usize> SegmentedText<N, S> {
    fn receive(&mut self, addr: usize, chars: [u8; N]) {
        let Some(seg) = self.segs.get_mut(addr) else {
            return;
        };
        if seg.value == Some(chars) {
            seg.fresh = true;
            seg.candidate = None;
            return;
        }
        if seg.candidate != Some(chars) {
            seg.candidate = Some(chars);
            return;
        }
        // Confirmed a new value. If it replaces an old one the text is changing: every
        // other segment must be seen again before the text is published, so old and new
        // segments never mix.
        // Segments already replaced in this change hold new text and stay fresh.
        let replaced = seg.value.is_some();
        seg.value = Some(chars);
        seg.candidate = None;
        seg.fresh = true;
        seg.changed |= replaced;
        if replaced {
            for (i, other) in self.segs.iter_mut().enumerate() {
                if i != addr && !other.changed {
                    other.fresh = false;
                }
            }
        }
    }

    /// Marks the text complete: the next replacement starts a new change.
    fn settle(&mut self) {
        for seg in &mut self.segs {
            seg.changed = false;
        }
    }

    /// The confirmed characters of segment `addr`, if fresh.
    fn fresh(&self, addr: usize) -> Option<[u8; N]> {
        self.segs
            .get(addr)
            .filter(|s| s.fresh)
            .and_then(|s| s.value)
    }
}

/// RadioText assembly: segments plus the version and A/B flag they belong to.
#[derive(Debug, Clone, Default)]
struct RadioText {
    /// Version B (2 characters per segment) rather than A (4).
    version_b: Option<bool>,
    ab: Option<bool>,
    a: SegmentedText<4, 16>,
    b: SegmentedText<2, 16>,
    /// Segment address of the previous group, to see the transmission cycle restart.
    last_addr: Option<usize>,
    /// How often the segment address went down (the cycle restarted).
    wraps: u8,
    /// Highest segment address seen.
    max_addr: usize,
}

impl RadioText {
    fn saw_address(&mut self, addr: usize) {
        if self.last_addr.is_some_and(|last| addr < last) {
            self.wraps = self.wraps.saturating_add(1);
        }
        self.last_addr = Some(addr);
        self.max_addr = self.max_addr.max(addr);
    }

    /// The complete text if every segment up to the terminator is confirmed. Stations that
    /// send fewer than 16 segments and no 0x0D are common: once the cycle has restarted
    /// twice without a higher address, the segments seen are the whole text.
    fn complete(&self) -> Option<Vec<u8>> {
        let mut text = Vec::with_capacity(RT_MAX_LEN);
        for addr in 0..16 {
            if self.wraps >= 2 && addr > self.max_addr {
                break;
            }
            let chars: Vec<u8> = match self.version_b? {
                false => self.a.fresh(addr)?.to_vec(),
                true => self.b.fresh(addr)?.to_vec(),
            };
            if let Some(end) = chars.iter().position(|&c| c == 0x0D) {
                text.extend_from_slice(&chars[..end]);
                return Some(trim_end(text));
            }
            text.extend_from_slice(&chars);
        }
        Some(trim_end(text))
    }
}

fn trim_end(mut t: Vec<u8>) -> Vec<u8> {
    while t.last() == Some(&b' ') {
        t.pop();
    }
    t
}

/// Decodes a stream of RDS blocks into PI, PTY, TP, TA, PS and RadioText.
#[derive(Debug, Clone, Default)]
pub struct RdsDecoder {
    slots: [Option<u16>; 4],
    c_prime: bool,
    last_pos: Option<usize>,
    pi: Debounced<u16>,
    pty: Debounced<u8>,
    tp: Debounced<bool>,
    ta: Debounced<bool>,
    ps: SegmentedText<2, 4>,
    ps_published: Option<[u8; PS_LEN]>,
    rt: RadioText,
    rt_published: Option<Vec<u8>>,
    groups: u64,
    errored_blocks: u64,
}

impl RdsDecoder {
    /// A decoder with nothing received.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything, as after tuning to another frequency.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds one block; returns what the block made change.
    pub fn push(&mut self, block: RdsBlock) -> RdsChanges {
        let Some(id) = block.id else {
            self.errored_blocks += 1;
            return RdsChanges::NONE;
        };
        let pos = id.position();
        let mut changes = RdsChanges::NONE;
        if self.last_pos.is_some_and(|last| pos <= last) {
            changes |= self.flush();
        }
        if block.error {
            self.errored_blocks += 1;
        } else {
            self.slots[pos] = Some(block.data);
            if pos == 2 {
                self.c_prime = id == BlockId::CPrime;
            }
        }
        self.last_pos = Some(pos);
        if pos == 3 {
            changes |= self.flush();
        }
        changes
    }

    /// Feeds the bytes of a V4L2 `read()`: whole 3-byte `v4l2_rds_data` records; a trailing
    /// partial record is ignored.
    pub fn push_v4l2(&mut self, bytes: &[u8]) -> RdsChanges {
        let mut changes = RdsChanges::NONE;
        for rec in bytes.chunks_exact(V4L2_RDS_DATA_SIZE) {
            changes |= self.push(RdsBlock::from_v4l2([rec[0], rec[1], rec[2]]));
        }
        changes
    }

    /// The published fields.
    pub fn state(&self) -> RdsState {
        RdsState {
            pi: self.pi.published,
            pty: self.pty.published,
            tp: self.tp.published,
            ta: self.ta.published,
            ps: self.ps_published,
            rt: self.rt_published.clone(),
        }
    }

    /// Groups processed so far.
    pub fn groups(&self) -> u64 {
        self.groups
    }

    /// Blocks dropped as errored or unplaceable so far.
    pub fn errored_blocks(&self) -> u64 {
        self.errored_blocks
    }

    /// Ends the current group and decodes what arrived of it.
    fn flush(&mut self) -> RdsChanges {
        let slots = std::mem::take(&mut self.slots);
        let c_prime = std::mem::take(&mut self.c_prime);
        self.last_pos = None;
        if slots.iter().all(Option::is_none) {
            return RdsChanges::NONE;
        }
        self.groups += 1;
        self.decode(slots, c_prime)
    }

    fn observe_pi(&mut self, pi: u16) -> RdsChanges {
        let before = self.pi.published;
        if !self.pi.observe(pi) {
            return RdsChanges::NONE;
        }
        if before.is_none() {
            return RdsChanges::PI;
        }
        // Another station: nothing received so far belongs to it.
        let old = self.state();
        let pi_state = std::mem::take(&mut self.pi);
        let (groups, errored) = (self.groups, self.errored_blocks);
        *self = Self {
            pi: pi_state,
            groups,
            errored_blocks: errored,
            ..Self::default()
        };
        let mut ch = RdsChanges::PI;
        for (was_set, flag) in [
            (old.pty.is_some(), RdsChanges::PTY),
            (old.tp.is_some(), RdsChanges::TP),
            (old.ta.is_some(), RdsChanges::TA),
            (old.ps.is_some(), RdsChanges::PS),
            (old.rt.is_some(), RdsChanges::RT),
        ] {
            if was_set {
                ch |= flag;
            }
        }
        ch
    }

    fn decode(&mut self, slots: [Option<u16>; 4], c_prime: bool) -> RdsChanges {
        let mut ch = RdsChanges::NONE;
        if let Some(a) = slots[0] {
            ch |= self.observe_pi(a);
        }
        let Some(b) = slots[1] else {
            return ch;
        };
        let version_b = b & 0x0800 != 0;
        // A C' block is only meaningful in a version B group and a C block only in a version
        // A one; a mismatch means block B or the offset detection is wrong.
        let c = match (version_b, c_prime, slots[2]) {
            (true, true, Some(pi)) => {
                ch |= self.observe_pi(pi);
                None
            }
            (false, false, c) => c,
            _ => None,
        };
        let d = slots[3];
        if self.tp.observe(b & 0x0400 != 0) {
            ch |= RdsChanges::TP;
        }
        if self.pty.observe(((b >> 5) & 0x1F) as u8) {
            ch |= RdsChanges::PTY;
        }
        match b >> 12 {
            0 => {
                if self.ta.observe(b & 0x0010 != 0) {
                    ch |= RdsChanges::TA;
                }
                if let Some(d) = d {
                    self.ps.receive(usize::from(b & 0x3), d.to_be_bytes());
                    ch |= self.publish_ps();
                }
            }
            2 => ch |= self.radiotext(b, version_b, c, d),
            _ => {}
        }
        ch
    }

    fn publish_ps(&mut self) -> RdsChanges {
        let mut ps = [0u8; PS_LEN];
        for (addr, out) in ps.chunks_exact_mut(2).enumerate() {
            match self.ps.fresh(addr) {
                Some(chars) => out.copy_from_slice(&chars),
                None => return RdsChanges::NONE,
            }
        }
        self.ps.settle();
        if self.ps_published == Some(ps) {
            return RdsChanges::NONE;
        }
        self.ps_published = Some(ps);
        RdsChanges::PS
    }

    fn radiotext(&mut self, b: u16, version_b: bool, c: Option<u16>, d: Option<u16>) -> RdsChanges {
        let mut ch = RdsChanges::NONE;
        let ab = b & 0x0010 != 0;
        let addr = usize::from(b & 0xF);
        let switched = self.rt.version_b.is_some_and(|v| v != version_b)
            || self.rt.ab.is_some_and(|f| f != ab);
        if switched {
            // A toggled A/B flag announces a new text: the old one is cleared at once.
            self.rt = RadioText::default();
            if self.rt_published.take().is_some() {
                ch |= RdsChanges::RT;
            }
        }
        self.rt.version_b = Some(version_b);
        self.rt.ab = Some(ab);
        self.rt.saw_address(addr);
        match (version_b, c, d) {
            (false, Some(c), Some(d)) => {
                let [c0, c1] = c.to_be_bytes();
                let [d0, d1] = d.to_be_bytes();
                self.rt.a.receive(addr, [c0, c1, d0, d1]);
            }
            (true, _, Some(d)) => self.rt.b.receive(addr, d.to_be_bytes()),
            _ => return ch,
        }
        if let Some(text) = self.rt.complete() {
            self.rt.a.settle();
            self.rt.b.settle();
            if self.rt_published.as_ref() != Some(&text) {
                self.rt_published = Some(text);
                ch |= RdsChanges::RT;
            }
        }
        ch
    }
}

/// Produces the block stream of a station: alternating 0A/0B (PS) and 2A/2B (RadioText)
/// groups, for the simulated tuner and for tests.
#[derive(Debug, Clone)]
pub struct RdsEncoder {
    pi: u16,
    pty: u8,
    tp: bool,
    ta: bool,
    ps: [u8; PS_LEN],
    rt: Vec<u8>,
    rt_ab: bool,
    ps_version_b: bool,
    rt_version_b: bool,
    ps_seg: usize,
    rt_seg: usize,
    rt_turn: bool,
}

/// 0A block C carrying "no alternative frequencies" (AF code 224) and the filler code 205.
const AF_NONE: u16 = (224 << 8) | 205;

/// Air time of one group: 104 bits (4 × 26) at 1187.5 bit/s, about 87.6 ms; a simulated
/// tuner paces its stream with it.
pub const RDS_GROUP_PERIOD: std::time::Duration =
    std::time::Duration::from_nanos(104 * 2_000_000_000 / 2375);

impl RdsEncoder {
    /// A station from display text, translated to the RDS character set.
    pub fn from_text(
        pi: u16,
        pty: u8,
        ps: &str,
        rt: &str,
    ) -> Result<Self, super::charset::Unencodable> {
        Ok(Self::new(
            pi,
            pty,
            &super::charset::encode(ps)?,
            &super::charset::encode(rt)?,
        ))
    }

    /// A station with these identifiers; PS is space-padded or cut to 8 characters and
    /// RadioText cut to 64.
    pub fn new(pi: u16, pty: u8, ps: &[u8], rt: &[u8]) -> Self {
        let mut enc = Self {
            pi,
            pty: pty & 0x1F,
            tp: false,
            ta: false,
            ps: [b' '; PS_LEN],
            rt: Vec::new(),
            rt_ab: false,
            ps_version_b: false,
            rt_version_b: false,
            ps_seg: 0,
            rt_seg: 0,
            rt_turn: false,
        };
        enc.set_ps(ps);
        enc.rt = rt[..rt.len().min(RT_MAX_LEN)].to_vec();
        enc
    }

    /// Changes the PI code.
    pub fn set_pi(&mut self, pi: u16) {
        self.pi = pi;
    }

    /// Changes the programme type (0..=31; higher bits are dropped).
    pub fn set_pty(&mut self, pty: u8) {
        self.pty = pty & 0x1F;
    }

    /// Sets the traffic programme and traffic announcement bits.
    pub fn set_traffic(&mut self, tp: bool, ta: bool) {
        self.tp = tp;
        self.ta = ta;
    }

    /// Changes the PS name (space-padded or cut to 8 characters).
    pub fn set_ps(&mut self, ps: &[u8]) {
        self.ps = [b' '; PS_LEN];
        let n = ps.len().min(PS_LEN);
        self.ps[..n].copy_from_slice(&ps[..n]);
    }

    /// Changes the RadioText (cut to the version's maximum) and toggles the A/B flag, as
    /// the standard asks of a new text.
    pub fn set_rt(&mut self, rt: &[u8]) {
        self.rt = rt[..rt.len().min(RT_MAX_LEN)].to_vec();
        self.rt_ab = !self.rt_ab;
        self.rt_seg = 0;
    }

    /// Uses version B groups (0B, 2B) for PS and RadioText rather than version A.
    pub fn set_version_b(&mut self, ps: bool, rt: bool) {
        self.ps_version_b = ps;
        self.rt_version_b = rt;
        self.rt_seg = 0;
    }

    fn block_b(&self, group_type: u16, version_b: bool, low5: u16) -> u16 {
        (group_type << 12)
            | (u16::from(version_b) << 11)
            | (u16::from(self.tp) << 10)
            | (u16::from(self.pty) << 5)
            | (low5 & 0x1F)
    }

    /// The group carrying PS segment `seg` (0..=3).
    pub fn ps_group(&self, seg: usize) -> [RdsBlock; 4] {
        let seg = seg % 4;
        // TA, music (1), DI bit 0 for this segment, address.
        let b = self.block_b(
            0,
            self.ps_version_b,
            (u16::from(self.ta) << 4) | (1 << 3) | seg as u16,
        );
        let d = u16::from_be_bytes([self.ps[2 * seg], self.ps[2 * seg + 1]]);
        let c = if self.ps_version_b {
            RdsBlock::ok(BlockId::CPrime, self.pi)
        } else {
            RdsBlock::ok(BlockId::C, AF_NONE)
        };
        [
            RdsBlock::ok(BlockId::A, self.pi),
            RdsBlock::ok(BlockId::B, b),
            c,
            RdsBlock::ok(BlockId::D, d),
        ]
    }

    fn rt_chars_per_segment(&self) -> usize {
        if self.rt_version_b {
            2
        } else {
            4
        }
    }

    /// Number of RadioText segments the current text needs (0 when there is no text).
    pub fn rt_segments(&self) -> usize {
        let n = self.rt_chars_per_segment();
        let max = 16 * n;
        let len = self.rt.len().min(max);
        match len {
            0 => 0,
            l if l == max => 16,
            l => (l + 1).div_ceil(n),
        }
    }

    /// The group carrying RadioText segment `seg`: the text, then 0x0D, then spaces.
    pub fn rt_group(&self, seg: usize) -> [RdsBlock; 4] {
        let n = self.rt_chars_per_segment();
        let seg = seg % 16;
        let char_at = |i: usize| match i.cmp(&self.rt.len()) {
            std::cmp::Ordering::Less => self.rt[i],
            std::cmp::Ordering::Equal => 0x0D,
            std::cmp::Ordering::Greater => b' ',
        };
        let chars: Vec<u8> = (seg * n..seg * n + n).map(char_at).collect();
        let b = self.block_b(
            2,
            self.rt_version_b,
            (u16::from(self.rt_ab) << 4) | seg as u16,
        );
        let (c, d) = if self.rt_version_b {
            (
                RdsBlock::ok(BlockId::CPrime, self.pi),
                RdsBlock::ok(BlockId::D, u16::from_be_bytes([chars[0], chars[1]])),
            )
        } else {
            (
                RdsBlock::ok(BlockId::C, u16::from_be_bytes([chars[0], chars[1]])),
                RdsBlock::ok(BlockId::D, u16::from_be_bytes([chars[2], chars[3]])),
            )
        };
        [
            RdsBlock::ok(BlockId::A, self.pi),
            RdsBlock::ok(BlockId::B, b),
            c,
            d,
        ]
    }

    /// The next group of the cycle: PS and RadioText groups alternate (PS only without text).
    pub fn next_group(&mut self) -> [RdsBlock; 4] {
        let segments = self.rt_segments();
        self.rt_turn = !self.rt_turn && segments > 0;
        if self.rt_turn {
            let g = self.rt_group(self.rt_seg);
            self.rt_seg = (self.rt_seg + 1) % segments;
            g
        } else {
            let g = self.ps_group(self.ps_seg);
            self.ps_seg = (self.ps_seg + 1) % 4;
            g
        }
    }

    /// The next `groups` groups as one block stream.
    pub fn blocks(&mut self, groups: usize) -> Vec<RdsBlock> {
        (0..groups).flat_map(|_| self.next_group()).collect()
    }
}

#[cfg(test)]
#[path = "rds_tests.rs"]
mod tests;
