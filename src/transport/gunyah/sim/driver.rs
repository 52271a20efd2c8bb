//! A whole virtio-mmio guest driver for one label of a simulated node: initialises the
//! device as virtio 1.x §3.1.1 and §4.2.3 lay out, writes split rings into the shared window
//! and waits for the backend's interrupts; the [`Driver`] the test suites run.

use std::fs::File;
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

/// The frontend VM's driver of one device on a simulated node.
pub struct SimDriver {
    fe: SimFrontend,
    mem: Arc<Mutex<GuestMemfd>>,
    queues: Vec<DriverQueue>,
    irq: File,
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
    /// Probes label `label` of `node` as a guest's virtio-mmio driver does: reset, read the
    /// features, accept VERSION_1 (required) plus EVENT_IDX / INDIRECT_DESC /
    /// `options.device_features` as offered and wanted, set up `num_queues` queues of
    /// `options.queue_size` (capped at QueueNumMax) in the shared window, then DRIVER_OK.
    pub fn attach(
        node: &SimNode,
        label: u32,
        num_queues: usize,
        options: &HarnessOptions,
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
        let acked = offered & wanted;
        fe.set_driver_features(acked)
            .map_err(os("writing DriverFeatures"))?;
        let event_idx = acked & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
        let mem = node.memory();
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
            fe.driver_ok().map_err(os("setting DRIVER_OK"))
        })();
        if let Err(e) = built {
            let mut m = lock(&mem);
            for q in &mut queues {
                q.ring.free_all(&mut m);
            }
            return Err(e);
        }
        let irq = fe.irqfd().map_err(os("finding the irqfd"))?;
        Ok(Self {
            fe,
            mem,
            queues,
            irq,
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
        let mut fds = [libc::pollfd {
            fd: self.irq.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        crate::harness::poll::poll(&mut fds, timeout).map_err(os("poll"))?;
        if fds[0].revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 8];
            match self.irq.read(&mut buf) {
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
