//! The harness proper: a vhost-user frontend session with guest memory and driver-side
//! virtqueues, from feature negotiation to completions.

use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use vhost::vhost_user::message::{VhostUserConfigFlags, VhostUserHeaderFlag};
use vhost::vhost_user::{
    Frontend, VhostUserFrontend, VhostUserProtocolFeatures, VhostUserVirtioFeatures,
};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use vm_memory::{GuestAddress, GuestMemoryBackend};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use super::driver::Driver;
use super::hostile::{self, RingAttack};
use super::malformed::{self, Malformed};
use super::memory::{GuestMemfd, DEFAULT_MEMORY_SIZE};
use super::split_ring::{ChainLayout, Completion, RingLayout, Segment, SplitQueue};
use super::{Error, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};

/// How the harness sets up a session.
#[derive(Clone, Debug)]
pub struct HarnessOptions {
    /// Bytes of guest memory (rings, buffers, indirect tables).
    pub memory_size: usize,
    /// Entries per queue (a power of two).
    pub queue_size: u16,
    /// Negotiate VIRTIO_RING_F_EVENT_IDX if the backend offers it.
    pub event_idx: bool,
    /// Negotiate VIRTIO_RING_F_INDIRECT_DESC if the backend offers it.
    pub indirect_desc: bool,
    /// Device-specific feature bits to accept when offered.
    pub device_features: u64,
    /// How long [`Harness::request`] waits for its buffer to come back.
    pub timeout: Duration,
    /// How long to keep retrying while the socket is missing or refuses connections (a
    /// backend that is starting or re-listening after a previous session); zero tries once.
    pub connect_timeout: Duration,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        Self {
            memory_size: DEFAULT_MEMORY_SIZE,
            queue_size: 256,
            event_idx: true,
            indirect_desc: true,
            device_features: 0,
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::ZERO,
        }
    }
}

struct Queue {
    ring: SplitQueue,
    kick: EventFd,
    call: EventFd,
    /// Completions collected while waiting for a different head.
    stash: Vec<Completion>,
}

/// A live vhost-user session, acting as VMM and guest driver.
pub struct Harness {
    frontend: Frontend,
    mem: GuestMemfd,
    queues: Vec<Queue>,
    offered_features: u64,
    acked_features: u64,
    protocol_features: u64,
    timeout: Duration,
}

fn step(step: &'static str) -> impl FnOnce(vhost::Error) -> Error {
    move |cause| Error::Protocol { step, cause }
}

fn os(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |cause| Error::Os { what, cause }
}

impl Harness {
    /// Connects to the backend at `path` and sets up `num_queues` queues, ready for requests.
    ///
    /// Sends SET_OWNER, negotiates features (VERSION_1 required; EVENT_IDX, INDIRECT_DESC and
    /// `options.device_features` when offered) and protocol features (MQ, CONFIG, REPLY_ACK
    /// when offered), shares the guest memory, then per queue sets NUM, ADDR, BASE, CALL,
    /// KICK and enables it.
    pub fn connect(
        path: impl AsRef<Path>,
        num_queues: usize,
        options: &HarnessOptions,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let deadline = Instant::now() + options.connect_timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                    ) && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(cause) => {
                    return Err(Error::Connect {
                        path: path.to_path_buf(),
                        cause,
                    })
                }
            }
        };
        let mut frontend = Frontend::from_stream(stream, num_queues as u64);
        frontend.set_owner().map_err(step("SET_OWNER"))?;
        let offered = frontend.get_features().map_err(step("GET_FEATURES"))?;
        if offered & (1 << VIRTIO_F_VERSION_1) == 0 {
            return Err(Error::NoVersion1 { offered });
        }
        let mut wanted = (1u64 << VIRTIO_F_VERSION_1)
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
            | options.device_features;
        if options.event_idx {
            wanted |= 1 << VIRTIO_RING_F_EVENT_IDX;
        }
        if options.indirect_desc {
            wanted |= 1 << VIRTIO_RING_F_INDIRECT_DESC;
        }
        let acked = offered & wanted;

        let mut protocol = VhostUserProtocolFeatures::empty();
        if acked & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits() != 0 {
            let offered_pf = frontend
                .get_protocol_features()
                .map_err(step("GET_PROTOCOL_FEATURES"))?;
            protocol = offered_pf
                & (VhostUserProtocolFeatures::MQ
                    | VhostUserProtocolFeatures::CONFIG
                    | VhostUserProtocolFeatures::REPLY_ACK);
            frontend
                .set_protocol_features(protocol)
                .map_err(step("SET_PROTOCOL_FEATURES"))?;
            if protocol.contains(VhostUserProtocolFeatures::MQ) {
                let max = frontend.get_queue_num().map_err(step("GET_QUEUE_NUM"))?;
                if num_queues as u64 > max {
                    return Err(Error::TooManyQueues {
                        wanted: num_queues,
                        max,
                    });
                }
            }
        }
        frontend.set_features(acked).map_err(step("SET_FEATURES"))?;
        if protocol.contains(VhostUserProtocolFeatures::REPLY_ACK) {
            // Every later message then waits for the backend's verdict.
            frontend.set_hdr_flags(VhostUserHeaderFlag::NEED_REPLY);
        }

        let mem = GuestMemfd::new(options.memory_size)?;
        frontend
            .set_mem_table(&[region_info(&mem)?])
            .map_err(step("SET_MEM_TABLE"))?;
        let mut harness = Self {
            frontend,
            mem,
            queues: Vec::with_capacity(num_queues),
            offered_features: offered,
            acked_features: acked,
            protocol_features: protocol.bits(),
            timeout: options.timeout,
        };
        harness.start_queues(&vec![options.queue_size; num_queues])?;
        Ok(harness)
    }

    /// Sets up queue `i` afresh with `sizes[i]` entries (replacing the one there, if any)
    /// and enables them all.
    fn start_queues(&mut self, sizes: &[u16]) -> Result<(), Error> {
        let event_idx = self.acked_features & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
        for (index, &size) in sizes.iter().enumerate() {
            let q = start_queue(&mut self.frontend, &mut self.mem, index, size, event_idx)?;
            match self.queues.get_mut(index) {
                Some(old) => *old = q,
                None => self.queues.push(q),
            }
        }
        if self.acked_features & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits() != 0 {
            // With protocol features negotiated rings start disabled.
            for index in 0..sizes.len() {
                self.frontend
                    .set_vring_enable(index, true)
                    .map_err(step("SET_VRING_ENABLE"))?;
            }
        }
        Ok(())
    }

    /// GET_VRING_BASE on every queue: what a VMM sends to stop the device's rings.
    fn stop_queues(&self) -> Result<(), Error> {
        for index in 0..self.queues.len() {
            self.frontend
                .get_vring_base(index)
                .map_err(step("GET_VRING_BASE"))?;
        }
        Ok(())
    }

    /// Feature bits the backend offered (GET_FEATURES).
    pub fn offered_features(&self) -> u64 {
        self.offered_features
    }

    /// Feature bits the harness acknowledged (SET_FEATURES).
    pub fn acked_features(&self) -> u64 {
        self.acked_features
    }

    /// Protocol feature bits in use (SET_PROTOCOL_FEATURES).
    pub fn protocol_features(&self) -> u64 {
        self.protocol_features
    }

    /// The guest memory, for tests that inspect or corrupt it directly.
    pub fn guest_memory(&self) -> &GuestMemfd {
        &self.mem
    }

    /// Where queue `queue` lives in guest memory.
    pub fn queue_layout(&self, queue: u16) -> Result<RingLayout, Error> {
        Ok(self.queue_ref(queue)?.ring.layout())
    }

    /// Chains on `queue` made available and not yet returned (stashed ones excluded).
    pub fn in_flight(&self, queue: u16) -> Result<usize, Error> {
        Ok(self.queue_ref(queue)?.ring.in_flight())
    }

    /// Descriptor-table entries on `queue` not held by an in-flight chain.
    pub fn free_descriptors(&self, queue: u16) -> Result<usize, Error> {
        Ok(self.queue_ref(queue)?.ring.free_descriptors())
    }

    /// Reads `len` bytes of the device configuration space at `offset` (GET_CONFIG).
    pub fn get_config(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, Error> {
        if self.protocol_features & VhostUserProtocolFeatures::CONFIG.bits() == 0 {
            return Err(Error::NoConfigSpace);
        }
        let buf = vec![0u8; len as usize];
        let (_, payload) = self
            .frontend
            .get_config(offset, len, VhostUserConfigFlags::empty(), &buf)
            .map_err(step("GET_CONFIG"))?;
        Ok(payload)
    }

    fn queue_ref(&self, queue: u16) -> Result<&Queue, Error> {
        let count = self.queues.len();
        self.queues
            .get(usize::from(queue))
            .ok_or(Error::NoSuchQueue { queue, count })
    }

    fn queue_mut(&mut self, queue: u16) -> Result<&mut Queue, Error> {
        Ok(self.queue_and_mem(queue)?.0)
    }

    /// Queue `queue` together with the guest memory its ring lives in.
    fn queue_and_mem(&mut self, queue: u16) -> Result<(&mut Queue, &mut GuestMemfd), Error> {
        let count = self.queues.len();
        let q = self
            .queues
            .get_mut(usize::from(queue))
            .ok_or(Error::NoSuchQueue { queue, count })?;
        Ok((q, &mut self.mem))
    }

    /// Makes a chain of `segments` available on `queue` without kicking; returns its head.
    pub fn add_chain(
        &mut self,
        queue: u16,
        segments: &[Segment<'_>],
        layout: ChainLayout,
    ) -> Result<u16, Error> {
        let (q, mem) = self.queue_and_mem(queue)?;
        q.ring.add(mem, segments, layout)
    }

    /// Notifies the device of new buffers on `queue` unless it suppressed notifications;
    /// returns whether the kick eventfd was written.
    pub fn kick(&mut self, queue: u16) -> Result<bool, Error> {
        let (q, mem) = self.queue_and_mem(queue)?;
        if q.ring.needs_kick(mem)? {
            q.kick.write(1).map_err(os("writing kick eventfd"))?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Makes `readable` plus a `writable_len`-byte response buffer available on `queue` as
    /// direct descriptors and kicks; returns the head.
    pub fn submit(&mut self, queue: u16, readable: &[u8], writable_len: u32) -> Result<u16, Error> {
        Driver::submit(self, queue, readable, writable_len)
    }

    /// Makes a deliberately malformed chain (built around `request` and a `writable_len`
    /// response buffer) available on `queue`, kicks, and returns the head the device sees.
    ///
    /// For [`Malformed::HeadOutOfRange`] the head is the queue size and nothing is tracked.
    pub fn add_malformed(
        &mut self,
        queue: u16,
        kind: Malformed,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error> {
        let (q, mem) = self.queue_and_mem(queue)?;
        let head = malformed::add(&mut q.ring, mem, kind, request, writable_len)?;
        self.kick(queue)?;
        Ok(head)
    }

    /// Makes `readable` plus writable descriptors placed by the caller (guest address,
    /// length; they may overlap anything, as a hostile driver's do) available on `queue` and
    /// kicks; returns the head. Its completion carries the used length but no data.
    pub fn add_raw_writable(
        &mut self,
        queue: u16,
        readable: &[u8],
        writable: &[(u64, u32)],
    ) -> Result<u16, Error> {
        let (q, mem) = self.queue_and_mem(queue)?;
        let head = super::raw_writable::add(&mut q.ring, mem, readable, writable)?;
        self.kick(queue)?;
        Ok(head)
    }

    /// Returns the completions available on `queue` now, without waiting.
    pub fn poll_completions(&mut self, queue: u16) -> Result<Vec<Completion>, Error> {
        let (q, mem) = self.queue_and_mem(queue)?;
        let mut out = std::mem::take(&mut q.stash);
        out.extend(q.ring.collect(mem)?);
        Ok(out)
    }

    /// Waits up to `timeout` for the device to return at least one buffer on `queue`, then
    /// returns all that are available.
    pub fn wait_completions(
        &mut self,
        queue: u16,
        timeout: Duration,
    ) -> Result<Vec<Completion>, Error> {
        Driver::wait_completions(self, queue, timeout)
    }

    /// Waits up to `timeout` for `head` to come back on `queue`; other completions seen
    /// meanwhile are kept for the next [`Harness::poll_completions`] or
    /// [`Harness::wait_completions`].
    pub fn wait_for(
        &mut self,
        queue: u16,
        head: u16,
        timeout: Duration,
    ) -> Result<Completion, Error> {
        Driver::wait_for(self, queue, head, timeout)
    }

    /// One round trip: sends `readable`, waits for the reply (up to the configured timeout)
    /// and returns the bytes the device wrote.
    pub fn request(
        &mut self,
        queue: u16,
        readable: &[u8],
        writable_len: u32,
    ) -> Result<Vec<u8>, Error> {
        Driver::request(self, queue, readable, writable_len)
    }

    /// Blocks until `queue`'s call eventfd fires, the socket hangs up or `timeout` passes.
    fn wait_call(&mut self, queue: u16, timeout: Duration) -> Result<(), Error> {
        let call_fd = self.queue_ref(queue)?.call.as_raw_fd();
        let mut fds = [
            libc::pollfd {
                fd: call_fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.frontend.as_raw_fd(),
                events: libc::POLLRDHUP,
                revents: 0,
            },
        ];
        super::poll::poll(&mut fds, timeout).map_err(|cause| Error::Os {
            what: "poll",
            cause,
        })?;
        if fds[1].revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0 {
            return Err(Error::Disconnected);
        }
        if fds[0].revents & libc::POLLIN != 0 {
            match self.queue_ref(queue)?.call.read() {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(os("reading call eventfd")(e)),
            }
        }
        Ok(())
    }

    /// What a VMM sends when the guest driver resets the device and starts it again on the
    /// same connection (QEMU's vhost_dev_stop and vhost_dev_start): every queue stopped
    /// (GET_VRING_BASE), SET_FEATURES again, then fresh rings set up and enabled as at
    /// connect. Buffers in flight are forgotten.
    pub fn restart_device(&mut self) -> Result<(), Error> {
        self.stop_queues()?;
        self.frontend
            .set_features(self.acked_features)
            .map_err(step("SET_FEATURES"))?;
        let sizes: Vec<u16> = self.queues.iter().map(|q| q.ring.layout().size).collect();
        self.start_queues(&sizes)
    }

    /// Stops every queue (GET_VRING_BASE, as a VMM does before tearing down) and closes the
    /// session.
    pub fn disconnect(self) -> Result<(), Error> {
        self.stop_queues()
    }

    /// Cuts the connection at once, with buffers possibly still in flight, as a crashing VMM
    /// would.
    pub fn disconnect_abruptly(self) {
        // Shutting down both directions makes the backend see EOF even if another handle to
        // the socket were still open; errors mean it is already gone.
        let _ =
            nix::sys::socket::shutdown(self.frontend.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }
}

/// The guest memory as SET_MEM_TABLE describes it (one region).
fn region_info(mem: &GuestMemfd) -> Result<VhostUserMemoryRegionInfo, Error> {
    let region = mem
        .memory()
        .find_region(GuestAddress(mem.base()))
        .ok_or_else(|| Error::Memory("guest memory has no region".into()))?;
    VhostUserMemoryRegionInfo::from_guest_region(region).map_err(step("describing guest memory"))
}

/// Allocates queue `index`'s ring (`size` entries) in `mem` and sets it up on the backend:
/// NUM, ADDR, BASE 0, CALL and KICK with fresh eventfds.
fn start_queue(
    frontend: &mut Frontend,
    mem: &mut GuestMemfd,
    index: usize,
    size: u16,
    event_idx: bool,
) -> Result<Queue, Error> {
    let info = region_info(mem)?;
    // vhost-user ring addresses are in the frontend's address space, not guest-physical.
    let to_vmm = |gpa: u64| info.userspace_addr + (gpa - info.guest_phys_addr);
    let qi = u16::try_from(index).map_err(|_| Error::TooManyQueues {
        wanted: index + 1,
        max: u64::from(u16::MAX),
    })?;
    let ring = SplitQueue::new(qi, mem, size, event_idx)?;
    let layout = ring.layout();
    let kick = EventFd::new(EFD_NONBLOCK).map_err(os("eventfd"))?;
    let call = EventFd::new(EFD_NONBLOCK).map_err(os("eventfd"))?;
    frontend
        .set_vring_num(index, layout.size)
        .map_err(step("SET_VRING_NUM"))?;
    let addrs = VringConfigData {
        queue_max_size: layout.size,
        queue_size: layout.size,
        flags: 0,
        desc_table_addr: to_vmm(layout.desc_table),
        used_ring_addr: to_vmm(layout.used_ring),
        avail_ring_addr: to_vmm(layout.avail_ring),
        log_addr: None,
    };
    frontend
        .set_vring_addr(index, &addrs)
        .map_err(step("SET_VRING_ADDR"))?;
    frontend
        .set_vring_base(index, 0)
        .map_err(step("SET_VRING_BASE"))?;
    frontend
        .set_vring_call(index, &call)
        .map_err(step("SET_VRING_CALL"))?;
    frontend
        .set_vring_kick(index, &kick)
        .map_err(step("SET_VRING_KICK"))?;
    Ok(Queue {
        ring,
        kick,
        call,
        stash: Vec::new(),
    })
}

impl Driver for Harness {
    fn offered_features(&self) -> u64 {
        self.offered_features
    }

    fn acked_features(&self) -> u64 {
        self.acked_features
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn config(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, Error> {
        self.get_config(offset, len)
    }

    fn add_chain(
        &mut self,
        queue: u16,
        segments: &[Segment<'_>],
        layout: ChainLayout,
    ) -> Result<u16, Error> {
        Harness::add_chain(self, queue, segments, layout)
    }

    fn add_malformed(
        &mut self,
        queue: u16,
        kind: Malformed,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error> {
        Harness::add_malformed(self, queue, kind, request, writable_len)
    }

    fn add_hostile(
        &mut self,
        queue: u16,
        attack: RingAttack,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error> {
        let (q, mem) = self.queue_and_mem(queue)?;
        let head = hostile::add(&mut q.ring, mem, attack, request, writable_len)?;
        Driver::notify(self, queue)?;
        Ok(head)
    }

    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        self.queue_ref(queue)?
            .kick
            .write(1)
            .map_err(os("writing kick eventfd"))
    }

    fn kick(&mut self, queue: u16) -> Result<bool, Error> {
        Harness::kick(self, queue)
    }

    fn poll_completions(&mut self, queue: u16) -> Result<Vec<Completion>, Error> {
        Harness::poll_completions(self, queue)
    }

    fn keep(&mut self, c: Completion) -> Result<(), Error> {
        self.queue_mut(c.queue)?.stash.push(c);
        Ok(())
    }

    fn wait_interrupt(&mut self, queue: u16, timeout: Duration) -> Result<(), Error> {
        self.wait_call(queue, timeout)
    }

    fn disconnect(self: Box<Self>) -> Result<(), Error> {
        Harness::disconnect(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Harness>();
    }
}
