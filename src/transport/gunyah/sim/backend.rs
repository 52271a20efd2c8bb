//! The backend's side of the simulated node: each [`GunyahBackendIo`] request acts on the
//! shared state as the modelled driver's ioctl handler does (sources in `state.rs`).

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use gunyah_bindings::virtio_backend::VirtioEvent;

use super::super::io::{
    BackendEvent, DeviceLabel, FeatureWord, GunyahBackendIo, Numbering, QueueInfo, SharedWindow,
};
use super::state::{invalid, Flavour, LabelState, NodeState, Shared, CONFIG_PAGE};

/// [`GunyahBackendIo`] on one open of a simulated node; the frontend is played by
/// [`super::SimFrontend`] / [`super::SimDriver`] on the same [`super::SimNode`]. Dropping
/// it closes the node, as closing the device node does.
pub struct SimBackend {
    pub(super) shared: Arc<Shared>,
    pub(super) window: File,
    pub(super) window_size: u64,
    /// The node's epoch at open: a killed backend's leftover handle fails.
    pub(super) epoch: u64,
}

impl Drop for SimBackend {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if st.epoch == self.epoch {
            release(&mut st);
        }
        drop(st);
        self.shared.notify();
    }
}

/// `virtio_backend_release` (0xBC): the node becomes inactive, the application unready,
/// and each label lets go of what the backend registered. The 0xB2 drivers have no
/// per-open state: their registrations outlive the fd.
pub(super) fn release(st: &mut NodeState) {
    st.open = false;
    if st.flavour == Flavour::DeviceNode {
        st.active = false;
        st.app_ready = false;
        for l in st.labels.values_mut() {
            l.release();
        }
    }
}

fn word(w: FeatureWord) -> usize {
    match w {
        FeatureWord::Low => 0,
        FeatureWord::High => 1,
    }
}

fn owned(fd: BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}

fn dead() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}

impl SimBackend {
    /// `vb_dev_get` and the checks before it: the open is alive, the node active (0xBC),
    /// the label known, the queue index under `MAX_QUEUES`.
    fn label<R>(
        &self,
        l: DeviceLabel,
        queue: Option<u32>,
        f: impl FnOnce(Flavour, &mut LabelState) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut st = self.shared.lock();
        if st.closed {
            return Err(super::state::closed_error());
        }
        if st.epoch != self.epoch {
            return Err(dead());
        }
        let flavour = st.flavour;
        if queue.is_some_and(|q| q >= flavour.max_queues()) {
            return Err(invalid("queue index past the driver's MAX_QUEUES"));
        }
        if flavour == Flavour::DeviceNode && !st.active {
            return Err(invalid("the node is not active (the frontend VM exited)"));
        }
        let s = st
            .labels
            .get_mut(&l.get())
            .ok_or_else(|| invalid("no such label"))?;
        let r = f(flavour, s);
        drop(st);
        self.shared.notify();
        r
    }
}

/// The 0xB2 drivers hand the value to the hypervisor at once, which needs the capability
/// `gh_virtio_mmio_init` stored at the VM's boot.
fn needs_boot(s: &LabelState) -> io::Result<()> {
    if s.booted {
        Ok(())
    } else {
        Err(invalid("the frontend VM has not booted with this device"))
    }
}

impl GunyahBackendIo for SimBackend {
    fn shared_memory_size(&self) -> io::Result<u64> {
        Ok(self.window_size)
    }

    fn map_shared_window(&self) -> io::Result<SharedWindow> {
        Ok(SharedWindow {
            file: self.window.try_clone()?,
            size: self.window_size,
        })
    }

    fn set_device_features(&self, l: DeviceLabel, w: FeatureWord, bits: u32) -> io::Result<()> {
        self.label(l, None, |f, s| {
            if f.pushes_at_once() {
                needs_boot(s)?;
                s.regs.device_features[word(w)] = bits;
            }
            s.features[word(w)] = bits;
            Ok(())
        })
    }

    fn set_queue_num_max(&self, l: DeviceLabel, queue: u32, max: u32) -> io::Result<()> {
        self.label(l, Some(queue), |f, s| {
            if f.pushes_at_once() {
                needs_boot(s)?;
                s.regs.queue_num_max.insert(queue, max);
            }
            s.queue_num_max.insert(queue, max);
            Ok(())
        })
    }

    fn set_device_config(&self, l: DeviceLabel, data: &[u8]) -> io::Result<()> {
        if data.is_empty() || data.len() > CONFIG_PAGE {
            return Err(invalid("config size"));
        }
        self.label(l, None, |f, s| {
            if f.pushes_at_once() {
                needs_boot(s)?;
            }
            if s.config_data.is_some() {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            s.config_data = Some(data.to_vec());
            if f.pushes_at_once() {
                s.write_config_page(data);
            }
            Ok(())
        })
    }

    fn get_driver_config(&self, l: DeviceLabel, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() || buf.len() > CONFIG_PAGE {
            return Err(invalid("config size"));
        }
        self.label(l, None, |_, s| {
            // The config page is mapped only while the frontend VM runs with the device.
            needs_boot(s)?;
            buf.fill(0);
            let n = buf.len().min(s.regs.config.len());
            buf[..n].copy_from_slice(&s.regs.config[..n]);
            Ok(())
        })
    }

    fn register_ioeventfd(
        &self,
        l: DeviceLabel,
        queue: u32,
        efd: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let file = owned(efd)?;
        self.label(l, Some(queue), |_, s| {
            if s.ioeventfds.contains_key(&queue) {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            s.ioeventfds.insert(queue, file);
            Ok(())
        })
    }

    fn register_irqfd(&self, l: DeviceLabel, efd: BorrowedFd<'_>) -> io::Result<()> {
        let file = owned(efd)?;
        self.label(l, None, |_, s| {
            if s.irqfd.is_some() {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            s.irqfd = Some(file);
            Ok(())
        })
    }

    fn numbering(&self) -> Numbering {
        match self.shared.lock().flavour {
            Flavour::DeviceNode => Numbering::DeviceNode,
            Flavour::VmFd | Flavour::VmFdResetDrops => Numbering::VmFd,
        }
    }

    /// 0xB2: `GH_VM_GET_FW_NAME` answers a nonempty name (see `NodeState::fw_named`).
    fn vm_resources_ready(&self) -> io::Result<bool> {
        let st = self.shared.lock();
        if st.closed {
            return Err(super::state::closed_error());
        }
        if st.epoch != self.epoch {
            return Err(dead());
        }
        Ok(st.flavour == Flavour::DeviceNode || st.fw_named)
    }

    fn set_app_ready(&self) -> io::Result<()> {
        let mut st = self.shared.lock();
        if st.epoch != self.epoch {
            return Err(dead());
        }
        if st.flavour != Flavour::DeviceNode {
            // No 0xB2 header defines GH_SET_APP_READY; gunyah-bindings refuses it too.
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        // No `state` check: the request works even while the node is inactive.
        st.app_ready = true;
        drop(st);
        self.shared.notify();
        Ok(())
    }

    fn wait_for_event(&self, l: DeviceLabel) -> io::Result<BackendEvent> {
        let label = l.get();
        // vb_dev_get: the checks happen once, at the start; the wait itself then holds a
        // reference the VM-exit handler waits for.
        let started = self.label(l, None, |_, s| {
            s.waiting += 1;
            Ok(s.exits)
        })?;
        let epoch = self.epoch;
        let r = self.shared.wait_until(None, |st| {
            if st.epoch != epoch {
                return Some(Err(dead()));
            }
            let s = st.labels.get_mut(&label)?;
            let (events, data) = s.take_event()?;
            Some(Ok(BackendEvent::from_raw(&VirtioEvent {
                label,
                event: events.bits(),
                event_data: data,
                reserved: 0,
            })))
        });
        if let Some(s) = self.shared.lock().labels.get_mut(&label) {
            s.waiting = s.waiting.saturating_sub(1);
            if s.exits != started {
                s.waiting_since_exit = s.waiting_since_exit.saturating_sub(1);
            }
        }
        self.shared.notify();
        r?
    }

    fn get_driver_features(&self, l: DeviceLabel, w: FeatureWord) -> io::Result<u32> {
        self.label(l, None, |_, s| {
            needs_boot(s)?;
            Ok(s.regs.driver_features[word(w)])
        })
    }

    fn get_queue_info(&self, l: DeviceLabel, queue: u32) -> io::Result<QueueInfo> {
        self.label(l, Some(queue), |_, s| {
            needs_boot(s)?;
            Ok(s.regs.queues.get(&queue).copied().unwrap_or(QueueInfo {
                num: 0,
                ready: false,
                desc: 0,
                driver: 0,
                device: 0,
            }))
        })
    }

    fn ack_driver_ok(&self, l: DeviceLabel) -> io::Result<()> {
        self.label(l, None, |_, s| {
            s.ack_driver_ok = true;
            s.driver_ok_acks += 1;
            Ok(())
        })
    }

    fn ack_reset(&self, l: DeviceLabel) -> io::Result<()> {
        self.label(l, None, |f, s| {
            needs_boot(s)?;
            s.resets_acked += 1;
            if f == Flavour::VmFdResetDrops {
                s.ack_driver_ok = false;
                s.ioeventfds.clear();
            }
            Ok(())
        })
    }
}
