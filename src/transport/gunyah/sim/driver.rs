//! A whole virtio-mmio guest driver for one label of a simulated node: initialises the
//! device as virtio 1.x §3.1.1 and §4.2.3 lay out, writes split rings and buffers where a
//! stock Linux guest would put them, and waits for the backend's interrupts; the [`Driver`]
//! the test suites run.
//!
//! Where Linux puts them: `vring_use_dma_api()` (drivers/virtio/virtio_ring.c) sends the
//! rings and buffers through the DMA API, and so into the device's restricted-DMA pool
//! (the shared window), only when VIRTIO_F_ACCESS_PLATFORM was negotiated; otherwise they
//! are ordinary guest RAM, which the backend VM cannot see.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::super::io::QueueInfo;
use super::frontend::SimFrontend;
use super::SimNode;
use crate::harness::hostile::{self, RingAttack};
use crate::harness::malformed::{self, Malformed};
use crate::harness::split_ring::{ChainLayout, Completion, Segment, SplitQueue};
use crate::harness::{
    Driver, Error, GuestMemfd, HarnessOptions, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX,
    VIRTIO_RING_F_INDIRECT_DESC,
};

struct DriverQueue {
    ring: SplitQueue,
    /// Completions collected while waiting for a different head.
    stash: Vec<Completion>,
}

/// Guest-physical base of the simulated guest's ordinary RAM (outside any window the
/// tests use), where a driver without VIRTIO_F_ACCESS_PLATFORM allocates.
pub const SIM_GUEST_RAM_BASE: u64 = 0x4000_0000;

/// Bytes of that RAM.
const SIM_GUEST_RAM_SIZE: usize = 1 << 20;

/// What kind of guest kernel the simulated driver behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimGuest {
    /// Accepts VIRTIO_F_ACCESS_PLATFORM when offered (Linux does: the virtio core keeps it
    /// as a transport feature). A guest that does not models a driver stack without it.
    pub accept_access_platform: bool,
    /// Notifies queue 0 right after setting DRIVER_OK, before the backend can have acked
    /// it (as drivers that post buffers in their probe do): the kernel parks that
    /// notification.
    pub notify_with_driver_ok: bool,
}

impl Default for SimGuest {
    /// A stock Linux guest.
    fn default() -> Self {
        Self {
            accept_access_platform: true,
            notify_with_driver_ok: false,
        }
    }
}

/// VIRTIO_F_ACCESS_PLATFORM.
const ACCESS_PLATFORM: u64 = 1 << 33;

/// The frontend VM's driver of one device on a simulated node.
pub struct SimDriver {
    fe: SimFrontend,
    mem: Arc<Mutex<GuestMemfd>>,
    queues: Vec<DriverQueue>,
    offered: u64,
    acked: u64,
    timeout: Duration,
}

fn os(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |cause| Error::Os { what, cause }
}

fn lock(mem: &Mutex<GuestMemfd>) -> MutexGuard<'_, GuestMemfd> {
    match mem.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl SimDriver {
    /// Probes label `label` of `node` as a stock Linux guest's virtio-mmio driver does
    /// ([`SimDriver::attach_as`] with [`SimGuest::default`]), booting the frontend VM first
    /// if it is not running.
    pub fn attach(
        node: &SimNode,
        label: u32,
        num_queues: usize,
        options: &HarnessOptions,
    ) -> Result<Self, Error> {
        Self::attach_as(node, label, num_queues, options, SimGuest::default())
    }

    /// Probes label `label` of `node` as `guest`'s virtio-mmio driver: reset, read the
    /// features, accept VERSION_1 (required) plus ACCESS_PLATFORM (as the guest does),
    /// EVENT_IDX / INDIRECT_DESC / `options.device_features` as offered and wanted, set up
    /// `num_queues` queues of `options.queue_size` (capped at QueueNumMax) in the shared
    /// window if ACCESS_PLATFORM was negotiated and in ordinary guest RAM otherwise, then
    /// DRIVER_OK.
    pub fn attach_as(
        node: &SimNode,
        label: u32,
        num_queues: usize,
        options: &HarnessOptions,
        guest: SimGuest,
    ) -> Result<Self, Error> {
        let fe = node.frontend(label, options.timeout);
        fe.wait_app_ready()
            .map_err(os("waiting for GH_SET_APP_READY"))?;
        fe.reset().map_err(os("resetting the device"))?;
        let offered = fe.device_features().map_err(os("reading DeviceFeatures"))?;
        if offered & (1 << VIRTIO_F_VERSION_1) == 0 {
            return Err(Error::NoVersion1 { offered });
        }
        let mut wanted = (1u64 << VIRTIO_F_VERSION_1) | options.device_features;
        if options.event_idx {
            wanted |= 1 << VIRTIO_RING_F_EVENT_IDX;
        }
        if options.indirect_desc {
            wanted |= 1 << VIRTIO_RING_F_INDIRECT_DESC;
        }
        if guest.accept_access_platform {
            wanted |= ACCESS_PLATFORM;
        }
        let acked = offered & wanted;
        fe.set_driver_features(acked)
            .map_err(os("writing DriverFeatures"))?;
        let event_idx = acked & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
        let mem = if acked & ACCESS_PLATFORM != 0 {
            // The DMA API over the restricted pool: the shared window.
            node.memory()
        } else {
            Arc::new(Mutex::new(GuestMemfd::new_at(
                SIM_GUEST_RAM_BASE,
                SIM_GUEST_RAM_SIZE,
            )?))
        };
        let mut queues: Vec<DriverQueue> = Vec::with_capacity(num_queues);
        let built = (|| {
            for index in 0..num_queues {
                let qi = u16::try_from(index).map_err(|_| Error::TooManyQueues {
                    wanted: num_queues,
                    max: u64::from(u16::MAX),
                })?;
                let max = fe
                    .queue_num_max(u32::from(qi))
                    .map_err(os("reading QueueNumMax"))?;
                if max == 0 {
                    return Err(Error::TooManyQueues {
                        wanted: num_queues,
                        max: index as u64,
                    });
                }
                let size = u32::from(options.queue_size).min(max) as u16;
                let ring = SplitQueue::new(qi, &mut lock(&mem), size, event_idx)?;
                let l = ring.layout();
                queues.push(DriverQueue {
                    ring,
                    stash: Vec::new(),
                });
                fe.set_queue(
                    u32::from(qi),
                    QueueInfo {
                        num: u32::from(size),
                        ready: true,
                        desc: l.desc_table,
                        driver: l.avail_ring,
                        device: l.used_ring,
                    },
                )
                .map_err(os("writing the queue registers"))?;
            }
            let early = (guest.notify_with_driver_ok && num_queues > 0).then_some(0);
            fe.driver_ok_then_notify(early)
                .map_err(os("setting DRIVER_OK"))
        })();
        if let Err(e) = built {
            let mut m = lock(&mem);
            for q in &mut queues {
                q.ring.free_all(&mut m);
            }
            return Err(e);
        }
        Ok(Self {
            fe,
            mem,
            queues,
            offered,
            acked,
            timeout: options.timeout,
        })
    }

    /// The register-level frontend, for tests that misbehave on purpose.
    pub fn frontend(&self) -> &SimFrontend {
        &self.fe
    }

    /// Sets FAILED in Status, as a driver that gives up on the device does; the driver's
    /// memory is given back.
    pub fn fail(self) -> Result<(), Error> {
        self.fe.fail().map_err(os("setting FAILED"))
    }

    /// The frontend VM disappears with buffers possibly in flight.
    pub fn vanish(self) -> Result<(), Error> {
        self.fe.vanish().map_err(os("exiting the frontend VM"))
    }

    fn queue_mut(&mut self, queue: u16) -> Result<&mut DriverQueue, Error> {
        let count = self.queues.len();
        self.queues
            .get_mut(usize::from(queue))
            .ok_or(Error::NoSuchQueue { queue, count })
    }
}

impl Drop for SimDriver {
    fn drop(&mut self) {
        let mut m = lock(&self.mem);
        for q in &mut self.queues {
            q.ring.free_all(&mut m);
        }
    }
}

impl Driver for SimDriver {
    fn offered_features(&self) -> u64 {
        self.offered
    }

    fn acked_features(&self) -> u64 {
        self.acked
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn config(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, Error> {
        self.fe
            .config(offset, len)
            .map_err(os("reading the config space"))
    }

    fn add_chain(
        &mut self,
        queue: u16,
        segments: &[Segment<'_>],
        layout: ChainLayout,
    ) -> Result<u16, Error> {
        let mem = self.mem.clone();
        let q = self.queue_mut(queue)?;
        let head = q.ring.add(&mut lock(&mem), segments, layout)?;
        Ok(head)
    }

    fn add_malformed(
        &mut self,
        queue: u16,
        kind: Malformed,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error> {
        let mem = self.mem.clone();
        let q = self.queue_mut(queue)?;
        let head = malformed::add(&mut q.ring, &mut lock(&mem), kind, request, writable_len)?;
        self.kick(queue)?;
        Ok(head)
    }

    fn add_hostile(
        &mut self,
        queue: u16,
        attack: RingAttack,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error> {
        let mem = self.mem.clone();
        let q = self.queue_mut(queue)?;
        let head = hostile::add(&mut q.ring, &mut lock(&mem), attack, request, writable_len)?;
        self.notify(queue)?;
        Ok(head)
    }

    fn notify(&mut self, queue: u16) -> Result<(), Error> {
        self.fe
            .notify(u32::from(queue))
            .map_err(os("writing QueueNotify"))
    }

    fn kick(&mut self, queue: u16) -> Result<bool, Error> {
        let mem = self.mem.clone();
        let q = self.queue_mut(queue)?;
        if q.ring.needs_kick(&lock(&mem))? {
            self.fe
                .notify(u32::from(queue))
                .map_err(os("writing QueueNotify"))?;
            return Ok(true);
        }
        Ok(false)
    }

    fn poll_completions(&mut self, queue: u16) -> Result<Vec<Completion>, Error> {
        let mem = self.mem.clone();
        let q = self.queue_mut(queue)?;
        let mut out = std::mem::take(&mut q.stash);
        out.extend(q.ring.collect(&mut lock(&mem))?);
        Ok(out)
    }

    fn keep(&mut self, c: Completion) -> Result<(), Error> {
        self.queue_mut(c.queue)?.stash.push(c);
        Ok(())
    }

    fn wait_interrupt(&mut self, _queue: u16, timeout: Duration) -> Result<(), Error> {
        // The irqfd the backend registered now: a backend that reopened the node has
        // registered another one.
        let Some(mut irq) = self.fe.irqfd().map_err(os("finding the irqfd"))? else {
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
            return Ok(());
        };
        let mut fds = [libc::pollfd {
            fd: irq.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        crate::harness::poll::poll(&mut fds, timeout).map_err(os("poll"))?;
        if fds[0].revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 8];
            match irq.read(&mut buf) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(os("reading the irqfd")(e)),
            }
        }
        Ok(())
    }

    fn disconnect(self: Box<Self>) -> Result<(), Error> {
        // A guest driver unbinding a virtio-mmio device resets it.
        self.fe.reset().map_err(os("resetting the device"))
    }
}
