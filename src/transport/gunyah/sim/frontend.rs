//! The frontend VM, for one label of a simulated node: its virtio-mmio driver register by
//! register (what a guest kernel's writes to Status, DriverFeatures, Queue* and QueueNotify
//! turn into on the backend side), and the VM's boot and exit as the resource manager and
//! the backend driver handle them.

use std::fs::File;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::super::io::{EventSet, QueueInfo};
use super::state::{invalid, Flavour, LabelState, Shared, VmPhase, BOOT_APP_READY_TIMEOUT};

/// One label's frontend driver at register level.
#[derive(Clone)]
pub struct SimFrontend {
    pub(super) shared: Arc<Shared>,
    pub(super) label: u32,
    pub(super) timeout: Duration,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} (ETIMEDOUT, os error {})", libc::ETIMEDOUT),
    )
}

/// `gh_virtio_mmio_init` for every label of the node (see [`super::SimNode::boot_vm`]).
pub(super) fn boot(shared: &Shared, timeout: Duration) -> io::Result<()> {
    let mut st = shared.lock();
    match st.vm {
        VmPhase::Running => return Ok(()),
        VmPhase::Booting { .. } => {}
        VmPhase::Off | VmPhase::Exiting => {
            let deadline = st.clock + BOOT_APP_READY_TIMEOUT;
            st.vm = VmPhase::Booting { deadline };
        }
    }
    let flavour = st.flavour;
    drop(st);
    shared.notify();
    if flavour == Flavour::DeviceNode {
        let ready = shared.wait_until(Some(timeout), |st| match st.vm {
            _ if st.app_ready => Some(true),
            VmPhase::Booting { deadline } if st.clock >= deadline => Some(false),
            VmPhase::Booting { .. } => None,
            // Another caller finished (or abandoned) this boot.
            _ => Some(st.app_ready),
        })?;
        if !ready {
            // "Timing out for app to become ready": the VM runs on without the devices.
            shared.lock().vm = VmPhase::Running;
            shared.notify();
            return Err(timed_out(
                "the backend application was not ready within 60 s of the frontend VM's boot",
            ));
        }
    }
    let mut st = shared.lock();
    for l in st.labels.values_mut() {
        match flavour {
            Flavour::DeviceNode => {
                // Without config data the device is refused ("Incorrect config_data").
                if l.config_data.is_none() {
                    continue;
                }
                l.push_published();
            }
            // The 0xB2 init only maps the config page and forgets old events; the backend
            // pushes everything itself afterwards.
            Flavour::VmFd | Flavour::VmFdResetDrops => {
                l.regs = Default::default();
                l.clear_events();
            }
        }
        l.booted = true;
    }
    if flavour.pushes_at_once() {
        st.fw_named = true;
    }
    st.vm = VmPhase::Running;
    drop(st);
    shared.notify();
    Ok(())
}

/// `gh_virtio_mmio_exit` up to its last step (see [`super::SimNode::begin_exit`]).
pub(super) fn begin_exit(shared: &Shared, timeout: Duration) -> io::Result<()> {
    let mut st = shared.lock();
    if st.closed {
        return Err(super::state::closed_error());
    }
    if st.flavour == Flavour::DeviceNode {
        st.active = false;
    }
    st.vm = VmPhase::Exiting;
    for l in st.labels.values_mut() {
        // The VM is gone: its device, registers and interrupt with it. (The 0xBC driver
        // keeps the capability id; calls on it for a VM that no longer exists are assumed
        // to fail, which is what `booted = false` makes them do.)
        l.booted = false;
        l.regs = Default::default();
        // `vdev_event = EVENT_VM_EXIT`: whatever was pending is overwritten.
        l.pending = EventSet::VM_EXIT;
        l.pending_data = 0;
        l.event_available = true;
        l.exits += 1;
        l.waiting_since_exit = l.waiting;
    }
    drop(st);
    shared.notify();
    // The handler waits, label by label, for the waits in progress to return.
    shared.wait_until(Some(timeout), |st| {
        st.labels
            .values()
            .all(|l| l.waiting_since_exit == 0)
            .then_some(())
    })?;
    Ok(())
}

impl SimFrontend {
    /// The label driven.
    pub fn label(&self) -> u32 {
        self.label
    }

    /// Boots the frontend VM if it is not running (the boot waits for GH_SET_APP_READY),
    /// then checks that this label's device exists in it.
    pub fn wait_app_ready(&self) -> io::Result<()> {
        boot(&self.shared, self.timeout)?;
        self.regs(|_, s| {
            if s.booted {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the frontend VM has no device on this label (its boot did not set it up)",
                ))
            }
        })
    }

    fn regs<R>(&self, f: impl FnOnce(Flavour, &mut LabelState) -> io::Result<R>) -> io::Result<R> {
        self.shared.with_label(self.label, f)
    }

    /// DeviceFeatures, both halves.
    pub fn device_features(&self) -> io::Result<u64> {
        self.regs(|_, s| {
            let f = s.regs.device_features;
            Ok(u64::from(f[0]) | (u64::from(f[1]) << 32))
        })
    }

    /// QueueNumMax of `queue` (0: the queue does not exist).
    pub fn queue_num_max(&self, queue: u32) -> io::Result<u32> {
        self.regs(|_, s| Ok(s.regs.queue_num_max.get(&queue).copied().unwrap_or(0)))
    }

    /// `len` bytes of the device config space at `offset` (zeros past its end).
    pub fn config(&self, offset: u32, len: u32) -> io::Result<Vec<u8>> {
        self.regs(|_, s| {
            let mut out = vec![0u8; len as usize];
            for (i, b) in out.iter_mut().enumerate() {
                if let Some(&v) = s.regs.config.get(offset as usize + i) {
                    *b = v;
                }
            }
            Ok(out)
        })
    }

    /// Bytes of config space the hypervisor got (`None`: the device is not set up).
    pub fn config_len(&self) -> io::Result<Option<usize>> {
        self.regs(|_, s| Ok(s.booted.then_some(s.regs.config.len())))
    }

    /// Writes 0 to Status and waits for the backend's GH_ACK_RESET.
    pub fn reset(&self) -> io::Result<()> {
        let before = self.regs(|f, s| {
            s.regs.driver_features = [0; 2];
            s.regs.queues.clear();
            s.interrupt(f, EventSet::RESET_RQST, 0);
            Ok(s.resets_acked)
        })?;
        self.wait_ack(|s| s.resets_acked > before)
    }

    /// Writes DriverFeatures (both halves).
    pub fn set_driver_features(&self, features: u64) -> io::Result<()> {
        self.regs(|_, s| {
            s.regs.driver_features = [features as u32, (features >> 32) as u32];
            Ok(())
        })
    }

    /// Writes QueueNum, QueueDesc/Driver/Device and QueueReady of `queue`.
    pub fn set_queue(&self, queue: u32, info: QueueInfo) -> io::Result<()> {
        self.regs(|_, s| {
            if !s.regs.queue_num_max.contains_key(&queue) {
                return Err(invalid("queue does not exist"));
            }
            s.regs.queues.insert(queue, info);
            Ok(())
        })
    }

    /// Sets DRIVER_OK in Status and, if the driver will report it (its ack is not yet
    /// given on this open, or was cleared by a reset on the newer 0xB2 driver), waits for
    /// the backend's GH_ACK_DRIVER_OK. Otherwise there is nothing to wait for: the backend
    /// has to notice the driver from its first notification.
    pub fn driver_ok(&self) -> io::Result<()> {
        self.driver_ok_then_notify(None)
    }

    /// [`SimFrontend::driver_ok`], with QueueNotify of `queue` written right after
    /// DRIVER_OK, before the backend can have answered.
    pub fn driver_ok_then_notify(&self, queue: Option<u32>) -> io::Result<()> {
        let (before, swallowed) = self.regs(|f, s| {
            s.interrupt(f, EventSet::DRIVER_OK, 0);
            let acked = s.ack_driver_ok;
            if let Some(q) = queue {
                let bit = 1u32.checked_shl(q).ok_or_else(|| invalid("queue index"))?;
                s.interrupt(f, EventSet::NEW_BUFFER, bit);
            }
            Ok((s.driver_ok_acks, acked))
        })?;
        if swallowed {
            return Ok(());
        }
        self.wait_ack(|s| s.driver_ok_acks > before)
    }

    /// Raises `event` as the hypervisor would, for tests of the node itself.
    #[cfg(test)]
    pub(super) fn interrupt_for_test(&self, event: EventSet) {
        let _ = self.regs(|f, s| {
            s.interrupt(f, event, 0);
            Ok(())
        });
    }

    /// Sets FAILED in Status (the driver gave up on the device). The drivers report it
    /// only together with a notification parked before the DRIVER_OK ack.
    pub fn fail(&self) -> io::Result<()> {
        self.regs(|f, s| {
            s.interrupt(f, EventSet::DRIVER_FAILED, 0);
            Ok(())
        })
    }

    /// The frontend VM is gone (crashed or powered off), exit handler run to its end.
    pub fn vanish(&self) -> io::Result<()> {
        begin_exit(&self.shared, self.timeout)?;
        drop(super::ExitInProgress {
            shared: self.shared.clone(),
            done: false,
        });
        Ok(())
    }

    /// Writes QueueNotify for `queue`: the hypervisor raises NEW_BUFFER with the queue's
    /// bit, which reaches the backend's ioeventfd after the DRIVER_OK ack and is parked
    /// before it.
    pub fn notify(&self, queue: u32) -> io::Result<()> {
        self.shared.with_label_quiet(self.label, |f, s| {
            if !s.booted {
                return Err(invalid("the device is not set up in the frontend VM"));
            }
            let bit = 1u32
                .checked_shl(queue)
                .ok_or_else(|| invalid("queue index"))?;
            Ok(((), s.interrupt(f, EventSet::NEW_BUFFER, bit)))
        })
    }

    /// A handle on the irqfd the backend registered now (it changes when the backend
    /// reopens the node); `None` while none is registered.
    pub fn irqfd(&self) -> io::Result<Option<File>> {
        self.regs(|_, s| s.irqfd.as_ref().map(File::try_clone).transpose())
    }

    fn wait_ack(&self, acked: impl Fn(&LabelState) -> bool) -> io::Result<()> {
        let label = self.label;
        self.shared.wait_until(Some(self.timeout), |st| {
            st.labels.get(&label).filter(|s| acked(s)).map(|_| ())
        })
    }
}
