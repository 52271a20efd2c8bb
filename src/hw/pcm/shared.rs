//! Several guests on one output: the policy named in config per output.
//!
//! - **Exclusive**: the first guest to START owns the output until it stops or releases its
//!   stream, or leaves it idle (no samples written) for the output's idle timeout; any other
//!   guest's START meanwhile fails with [`PcmError::Busy`] (the device answers IO_ERR). So a
//!   guest that starts and then goes quiet cannot pin the output for the others.
//! - **Mixed**: every guest writes into its own FIFO; a mixer thread, paced from a monotonic
//!   clock in output periods, sums one period from every active guest (each scaled by its
//!   gain, clipped at full scale) and writes it to the output. A guest's audio waits in its
//!   FIFO for at most one output period before it is mixed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use log::warn;

use super::{PcmError, PcmParams, PcmPlayback};
use crate::transport::log_budget::LogBudget;

/// How long an exclusive owner may leave the output idle unless config says otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How an output is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputPolicy {
    /// Software mix of every guest.
    Mixed,
    /// One guest at a time.
    Exclusive,
}

struct Client {
    guest: String,
    gain: f64,
    fifo: VecDeque<u8>,
    open: bool,
    active: bool,
    /// When the client last started or wrote: an exclusive owner idle past the timeout
    /// loses the output to the next START.
    last_active: Instant,
}

struct State {
    output: Box<dyn PcmPlayback>,
    output_open: bool,
    clients: BTreeMap<u64, Client>,
    owner: Option<u64>,
    next_id: u64,
    mixer_running: bool,
    /// Periods mixed since the output was opened.
    pub mixed_periods: u64,
}

struct Inner {
    name: String,
    policy: OutputPolicy,
    idle_timeout: Duration,
    params: PcmParams,
    state: Mutex<State>,
    wake: Condvar,
    /// The mixer thread's lines (a failing output, once per period) have no device budget.
    log_budget: LogBudget,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }
}

/// One physical output shared by several guests.
#[derive(Clone)]
pub struct SharedOutput {
    inner: Arc<Inner>,
}

impl SharedOutput {
    /// Shares `output`, always opened with `params`, under `policy`.
    pub fn new(
        name: impl Into<String>,
        output: Box<dyn PcmPlayback>,
        params: PcmParams,
        policy: OutputPolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                policy,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                params,
                log_budget: LogBudget::default(),
                state: Mutex::new(State {
                    output,
                    output_open: false,
                    clients: BTreeMap::new(),
                    owner: None,
                    next_id: 0,
                    mixer_running: false,
                    mixed_periods: 0,
                }),
                wake: Condvar::new(),
            }),
        }
    }

    /// Lets another guest's START take an exclusive output whose owner has written nothing
    /// for `timeout`. Set before any client is made.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.idle_timeout = timeout;
        }
        self
    }

    /// A playback backend for `guest`, whose samples are scaled by `gain`.
    pub fn client(&self, guest: impl Into<String>, gain: f64) -> SharedClient {
        let mut st = self.inner.lock();
        let id = st.next_id;
        st.next_id += 1;
        let guest = guest.into();
        st.clients.insert(
            id,
            Client {
                guest: guest.clone(),
                gain,
                fifo: VecDeque::new(),
                open: false,
                active: false,
                last_active: Instant::now(),
            },
        );
        SharedClient {
            inner: self.inner.clone(),
            id,
            guest,
        }
    }

    /// Periods the mixer has written since the output was last opened.
    pub fn mixed_periods(&self) -> u64 {
        self.inner.lock().mixed_periods
    }

    /// The guest that holds an exclusive output, if any.
    pub fn owner(&self) -> Option<String> {
        let st = self.inner.lock();
        st.owner
            .and_then(|id| st.clients.get(&id))
            .map(|c| c.guest.clone())
    }
}

/// One guest's handle on a [`SharedOutput`].
pub struct SharedClient {
    inner: Arc<Inner>,
    id: u64,
    guest: String,
}

fn ensure_output_open(inner: &Inner, st: &mut State) -> Result<(), PcmError> {
    if !st.output_open {
        st.output.open(&inner.params)?;
        st.output.start()?;
        st.output_open = true;
        st.mixed_periods = 0;
    }
    Ok(())
}

fn maybe_close_output(st: &mut State) {
    if st.output_open && !st.clients.values().any(|c| c.open) {
        st.output.close();
        st.output_open = false;
    }
}

/// Runs the mixer until no client is active.
fn mixer_thread(inner: Arc<Inner>) {
    let p = inner.params;
    let period =
        Duration::from_nanos(u64::from(p.period_bytes) * 1_000_000_000 / p.byte_rate().max(1));
    let start = Instant::now();
    let mut n: u32 = 0;
    let mut st = inner.lock();
    loop {
        if !st.clients.values().any(|c| c.active) {
            st.mixer_running = false;
            return;
        }
        n = n.saturating_add(1);
        let deadline = start + period * n;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = match inner.wake.wait_timeout(st, deadline - now) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let len = p.period_bytes as usize;
        let samples = len / p.format.bytes() as usize;
        let mut acc = vec![0f64; samples];
        let mut chunk = vec![0u8; len];
        for c in st.clients.values_mut().filter(|c| c.active) {
            let got = c.fifo.len().min(len);
            p.format.fill_silence(&mut chunk);
            for (dst, src) in chunk.iter_mut().zip(c.fifo.drain(..got)) {
                *dst = src;
            }
            for (i, a) in acc.iter_mut().enumerate() {
                *a += p.format.sample(&chunk, i).unwrap_or(0.0) * c.gain;
            }
        }
        let mut out = vec![0u8; len];
        // put_sample clips each sum at full scale, so loud mixes saturate instead of wrapping.
        for (i, a) in acc.iter().enumerate() {
            p.format.put_sample(&mut out, i, *a);
        }
        if let Err(e) = st.output.write(&out) {
            if inner.log_budget.admit(&inner.name) {
                warn!("{}: mixer write failed: {e}", inner.name);
            }
        }
        st.mixed_periods += 1;
    }
}

impl PcmPlayback for SharedClient {
    fn describe(&self) -> String {
        let policy = match self.inner.policy {
            OutputPolicy::Mixed => "mixed",
            OutputPolicy::Exclusive => "exclusive",
        };
        let st = self.inner.lock();
        format!(
            "{} ({policy}) for {} via {}",
            self.inner.name,
            self.guest,
            st.output.describe()
        )
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        let o = &self.inner.params;
        if params.format != o.format || params.rate != o.rate || params.channels != o.channels {
            return Err(PcmError::Unsupported(format!(
                "output {} runs {} {} Hz {} ch",
                self.inner.name,
                o.format.name(),
                o.rate,
                o.channels
            )));
        }
        Ok(())
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.check(params)?;
        let mut st = self.inner.lock();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.open = true;
            c.fifo.clear();
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), PcmError> {
        let inner = self.inner.clone();
        let mut st = inner.lock();
        let now = Instant::now();
        if inner.policy == OutputPolicy::Exclusive {
            match st.owner {
                Some(owner) if owner != self.id => {
                    let (who, idle) = st.clients.get(&owner).map_or((String::new(), true), |c| {
                        (
                            c.guest.clone(),
                            now.saturating_duration_since(c.last_active) >= inner.idle_timeout,
                        )
                    });
                    if !idle {
                        return Err(PcmError::Busy {
                            output: inner.name.clone(),
                            owner: who,
                        });
                    }
                    // The owner's next write fails (NotOpen): its stream reports IO_ERR.
                    warn!(
                        "{}: {who} left the exclusive output idle; {} takes it",
                        inner.name, self.guest
                    );
                    if let Some(c) = st.clients.get_mut(&owner) {
                        c.active = false;
                    }
                    st.owner = Some(self.id);
                }
                _ => st.owner = Some(self.id),
            }
        }
        ensure_output_open(&inner, &mut st)?;
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.active = true;
            c.last_active = now;
        }
        if inner.policy == OutputPolicy::Mixed && !st.mixer_running {
            st.mixer_running = true;
            let thread_inner = inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mix-{}", inner.name))
                .spawn(move || mixer_thread(thread_inner));
            if let Err(e) = spawned {
                st.mixer_running = false;
                return Err(PcmError::io("spawn mixer thread", e));
            }
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
        let inner = self.inner.clone();
        let mut st = inner.lock();
        let p = inner.params;
        match inner.policy {
            OutputPolicy::Exclusive => {
                if st.owner != Some(self.id) {
                    return Err(PcmError::NotOpen);
                }
                let gain = match st.clients.get_mut(&self.id) {
                    Some(c) => {
                        c.last_active = Instant::now();
                        c.gain
                    }
                    None => 1.0,
                };
                let mut buf = data.to_vec();
                p.format.apply_gain(&mut buf, gain);
                st.output.write(&buf)
            }
            OutputPolicy::Mixed => {
                let c = st.clients.get_mut(&self.id).ok_or(PcmError::NotOpen)?;
                c.fifo.extend(data.iter().copied());
                // Keep at most two output periods: anything older is audio the mixer can
                // no longer play on time (this guest's clock ran ahead).
                let cap = 2 * p.period_bytes as usize;
                let frame = p.frame_bytes().max(1) as usize;
                let excess = c.fifo.len().saturating_sub(cap).div_ceil(frame) * frame;
                let n = excess.min(c.fifo.len());
                c.fifo.drain(..n);
                Ok(())
            }
        }
    }

    fn delay_bytes(&self) -> u32 {
        let st = self.inner.lock();
        let queued = st.clients.get(&self.id).map_or(0, |c| c.fifo.len());
        u32::try_from(queued)
            .unwrap_or(u32::MAX)
            .saturating_add(st.output.delay_bytes())
    }

    fn stop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.active = false;
        }
        // A stopped guest plays nothing: the output is free for the next START.
        if st.owner == Some(self.id) {
            st.owner = None;
        }
    }

    fn close(&mut self) {
        let mut st = self.inner.lock();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.active = false;
            c.open = false;
            c.fifo.clear();
        }
        if st.owner == Some(self.id) {
            st.owner = None;
        }
        maybe_close_output(&mut st);
        self.inner.wake.notify_all();
    }
}

impl Drop for SharedClient {
    fn drop(&mut self) {
        self.close();
        let mut st = self.inner.lock();
        st.clients.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::pcm::SampleFormat;

    /// Records what the shared output receives.
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl PcmPlayback for Capture {
        fn describe(&self) -> String {
            "test capture".into()
        }
        fn open(&mut self, _p: &PcmParams) -> Result<(), PcmError> {
            Ok(())
        }
        fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(())
        }
        fn close(&mut self) {}
    }

    fn params() -> PcmParams {
        PcmParams {
            format: SampleFormat::S16,
            rate: 48000,
            channels: 1,
            period_bytes: 96, // 1 ms
            buffer_bytes: 384,
        }
    }

    fn s16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn exclusive_refuses_a_second_guest_until_release() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let shared = SharedOutput::new(
            "spk",
            Box::new(Capture(out.clone())),
            params(),
            OutputPolicy::Exclusive,
        );
        let mut a = shared.client("vm0", 1.0);
        let mut b = shared.client("vm1", 1.0);
        a.open(&params()).unwrap();
        b.open(&params()).unwrap();
        a.start().unwrap();
        match b.start() {
            Err(PcmError::Busy { owner, .. }) => assert_eq!(owner, "vm0"),
            other => panic!("expected Busy, got {other:?}"),
        }
        a.write(&s16(&[100, -100])).unwrap();
        assert_eq!(*out.lock().unwrap(), s16(&[100, -100]));
        a.close();
        b.start().unwrap();
        assert_eq!(shared.owner().as_deref(), Some("vm1"));
    }

    #[test]
    fn exclusive_output_is_free_after_stop() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let shared = SharedOutput::new(
            "spk",
            Box::new(Capture(out)),
            params(),
            OutputPolicy::Exclusive,
        )
        .with_idle_timeout(Duration::from_secs(3600));
        let mut a = shared.client("vm0", 1.0);
        let mut b = shared.client("vm1", 1.0);
        a.open(&params()).unwrap();
        b.open(&params()).unwrap();
        a.start().unwrap();
        assert!(matches!(b.start(), Err(PcmError::Busy { .. })));
        a.stop();
        assert_eq!(shared.owner(), None);
        b.start().unwrap();
        assert_eq!(shared.owner().as_deref(), Some("vm1"));
        assert!(matches!(a.start(), Err(PcmError::Busy { .. })));
    }

    #[test]
    fn an_idle_exclusive_owner_loses_the_output_to_the_next_start() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let shared = SharedOutput::new(
            "spk",
            Box::new(Capture(out.clone())),
            params(),
            OutputPolicy::Exclusive,
        )
        .with_idle_timeout(Duration::from_millis(50));
        let mut a = shared.client("vm0", 1.0);
        let mut b = shared.client("vm1", 1.0);
        a.open(&params()).unwrap();
        b.open(&params()).unwrap();
        a.start().unwrap();
        a.write(&s16(&[1])).unwrap();
        std::thread::sleep(Duration::from_millis(120));
        b.start().unwrap();
        assert_eq!(shared.owner().as_deref(), Some("vm1"));
        assert!(matches!(a.write(&s16(&[2])), Err(PcmError::NotOpen)));
        b.write(&s16(&[3])).unwrap();
        assert_eq!(*out.lock().unwrap(), s16(&[1, 3]));
    }

    #[test]
    fn mixed_sums_with_gain_and_clips() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let shared = SharedOutput::new(
            "spk",
            Box::new(Capture(out.clone())),
            params(),
            OutputPolicy::Mixed,
        );
        let mut a = shared.client("vm0", 1.0);
        let mut b = shared.client("vm1", 0.5);
        for c in [&mut a, &mut b] {
            c.open(&params()).unwrap();
        }
        // Fill both FIFOs before the mixer's first tick (1 ms after start).
        let frames = 48;
        a.write(&s16(&vec![30000; frames])).unwrap();
        b.write(&s16(&vec![20000; frames])).unwrap();
        a.start().unwrap();
        b.start().unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while shared.mixed_periods() < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        a.stop();
        b.stop();
        let got = out.lock().unwrap().clone();
        assert!(got.len() >= 96, "mixer wrote {} bytes", got.len());
        // 30000 + 0.5 * 20000 = 40000 clips at 32767 instead of wrapping negative.
        assert_eq!(&got[..96], &s16(&vec![i16::MAX; frames])[..]);
    }

    /// Each write that reached the output, with when.
    type WriteLog = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

    /// Records when each write reached the output.
    struct Stamped(WriteLog);

    impl PcmPlayback for Stamped {
        fn describe(&self) -> String {
            "stamped".into()
        }
        fn open(&mut self, _p: &PcmParams) -> Result<(), PcmError> {
            Ok(())
        }
        fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
            self.0.lock().unwrap().push((Instant::now(), data.to_vec()));
            Ok(())
        }
        fn close(&mut self) {}
    }

    #[test]
    fn mixing_adds_at_most_one_period_of_latency() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut p = params();
        p.period_bytes = 960; // 10 ms mono S16
        let shared = SharedOutput::new(
            "spk",
            Box::new(Stamped(log.clone())),
            p,
            OutputPolicy::Mixed,
        );
        let mut a = shared.client("vm0", 1.0);
        a.open(&p).unwrap();
        a.start().unwrap();
        // Write a marked period at an arbitrary point between mixer ticks.
        std::thread::sleep(Duration::from_millis(23));
        let marked = s16(&vec![1234; 480]);
        let written = Instant::now();
        a.write(&marked).unwrap();
        let deadline = written + Duration::from_secs(2);
        let out_at = loop {
            let found = log
                .lock()
                .unwrap()
                .iter()
                .find(|(_, d)| d.windows(2).any(|w| w == 1234i16.to_le_bytes()))
                .map(|(t, _)| *t);
            if let Some(t) = found {
                break t;
            }
            assert!(Instant::now() < deadline, "marked audio never mixed");
            std::thread::sleep(Duration::from_millis(1));
        };
        let latency = out_at - written;
        // One period (10 ms) plus scheduling slack on a loaded machine.
        assert!(
            latency <= Duration::from_millis(10) + Duration::from_millis(5),
            "mixing delayed audio by {latency:?}"
        );
        a.stop();
    }

    #[test]
    fn mixed_refuses_foreign_formats() {
        let shared = SharedOutput::new(
            "spk",
            Box::new(Capture(Arc::new(Mutex::new(Vec::new())))),
            params(),
            OutputPolicy::Mixed,
        );
        let c = shared.client("vm0", 1.0);
        let mut p = params();
        p.rate = 44100;
        assert!(matches!(c.check(&p), Err(PcmError::Unsupported(_))));
    }
}
