//! The frontend VM's virtio-mmio driver, register by register, for one label of a simulated
//! node: what a guest kernel's writes to Status, DriverFeatures, Queue* and QueueNotify turn
//! into on the backend side (events, register values, ioeventfd signals).

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use super::super::io::{EventSet, QueueInfo};
use super::state::{invalid, Shared};

/// One label's frontend driver at register level.
#[derive(Clone)]
pub struct SimFrontend {
    pub(super) shared: Arc<Shared>,
    pub(super) label: u32,
    pub(super) timeout: Duration,
}

impl SimFrontend {
    /// The label driven.
    pub fn label(&self) -> u32 {
        self.label
    }

    /// Waits until the backend declared itself ready (GH_SET_APP_READY): only then does the
    /// frontend VM see the device.
    pub fn wait_app_ready(&self) -> io::Result<()> {
        self.shared
            .wait_until(Some(self.timeout), |st| st.app_ready.then_some(()))
    }

    /// DeviceFeatures, both halves.
    pub fn device_features(&self) -> io::Result<u64> {
        self.shared.with_label(self.label, |s| {
            Ok(u64::from(s.device_features[0]) | (u64::from(s.device_features[1]) << 32))
        })
    }

    /// QueueNumMax of `queue` (0: the queue does not exist).
    pub fn queue_num_max(&self, queue: u32) -> io::Result<u32> {
        self.shared.with_label(self.label, |s| {
            Ok(s.queue_num_max.get(&queue).copied().unwrap_or(0))
        })
    }

    /// `len` bytes of the device config space at `offset` (zeros past its end).
    pub fn config(&self, offset: u32, len: u32) -> io::Result<Vec<u8>> {
        self.shared.with_label(self.label, |s| {
            let config = s.config.as_deref().unwrap_or_default();
            let mut out = vec![0u8; len as usize];
            for (i, b) in out.iter_mut().enumerate() {
                if let Some(&v) = config.get(offset as usize + i) {
                    *b = v;
                }
            }
            Ok(out)
        })
    }

    /// Bytes of config space the backend published (`None`: none yet).
    pub fn config_len(&self) -> io::Result<Option<usize>> {
        self.shared
            .with_label(self.label, |s| Ok(s.config.as_ref().map(Vec::len)))
    }

    /// Writes 0 to Status and waits for the backend's GH_ACK_RESET.
    pub fn reset(&self) -> io::Result<()> {
        let before = self.shared.with_label(self.label, |s| {
            s.driver_features = [0; 2];
            s.queues.clear();
            // A reset overrides a DRIVER_OK or FAILED the backend has not seen yet.
            s.pending = s
                .pending
                .difference(EventSet::DRIVER_OK | EventSet::DRIVER_FAILED);
            s.raise(EventSet::RESET_RQST);
            Ok(s.resets_acked)
        })?;
        self.wait_ack(|s| s.resets_acked > before)
    }

    /// Writes DriverFeatures (both halves).
    pub fn set_driver_features(&self, features: u64) -> io::Result<()> {
        self.shared.with_label(self.label, |s| {
            s.driver_features = [features as u32, (features >> 32) as u32];
            Ok(())
        })
    }

    /// Writes QueueNum, QueueDesc/Driver/Device and QueueReady of `queue`.
    pub fn set_queue(&self, queue: u32, info: QueueInfo) -> io::Result<()> {
        self.shared.with_label(self.label, |s| {
            if !s.queue_num_max.contains_key(&queue) {
                return Err(invalid("queue does not exist"));
            }
            s.queues.insert(queue, info);
            Ok(())
        })
    }

    /// Sets DRIVER_OK in Status and, the first time on this open of the node, waits for
    /// the backend's GH_ACK_DRIVER_OK. Later DRIVER_OKs (after a reset) are never reported
    /// to the backend by the 0xBC driver, so there is nothing to wait for: the backend has
    /// to notice the driver from its first notification.
    pub fn driver_ok(&self) -> io::Result<()> {
        let (before, swallowed) = self.shared.with_label(self.label, |s| {
            s.raise(EventSet::DRIVER_OK);
            Ok((s.driver_ok_acks, s.driver_ok_acked))
        })?;
        if swallowed {
            return Ok(());
        }
        self.wait_ack(|s| s.driver_ok_acks > before)
    }

    /// Sets FAILED in Status (the driver gave up on the device).
    pub fn fail(&self) -> io::Result<()> {
        self.shared.with_label(self.label, |s| {
            s.pending = s.pending.difference(EventSet::DRIVER_OK);
            s.raise(EventSet::DRIVER_FAILED);
            Ok(())
        })
    }

    /// The frontend VM is gone (crashed or powered off): as the 0xBC driver's VM-exit
    /// path, every label of the node gets VM_EXIT (reported as APP_EXIT until the backend
    /// closes the node), the driver's registers are forgotten and the application is no
    /// longer ready, so the next boot of the VM waits for the backend to open the node
    /// again and republish.
    pub fn vanish(&self) -> io::Result<()> {
        let mut st = self.shared.lock();
        if st.closed {
            return Err(super::state::closed_error());
        }
        st.app_ready = false;
        for s in st.labels.values_mut() {
            s.driver_features = [0; 2];
            s.queues.clear();
            s.raise(EventSet::VM_EXIT);
        }
        drop(st);
        self.shared.notify();
        Ok(())
    }

    /// Writes QueueNotify for `queue`: the backend's ioeventfd for it fires.
    pub fn notify(&self, queue: u32) -> io::Result<()> {
        self.shared.with_label(self.label, |s| {
            let mut efd = s
                .ioeventfds
                .get(&queue)
                .ok_or_else(|| invalid("no ioeventfd registered for the queue"))?;
            efd.write_all(&1u64.to_ne_bytes())
        })
    }

    /// A handle on the backend's irqfd, which it writes to interrupt this driver.
    pub fn irqfd(&self) -> io::Result<File> {
        self.shared.with_label(self.label, |s| {
            s.irqfd
                .as_ref()
                .ok_or_else(|| invalid("no irqfd registered"))?
                .try_clone()
        })
    }

    fn wait_ack(&self, acked: impl Fn(&super::state::LabelState) -> bool) -> io::Result<()> {
        let label = self.label;
        self.shared.wait_until(Some(self.timeout), |st| {
            st.labels.get(&label).filter(|s| acked(s)).map(|_| ())
        })
    }
}
