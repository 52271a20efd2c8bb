//! DRIVER_OK: the driver's features, its queues checked against the shared window, and
//! the device started.

use log::{debug, error, info, warn};
use virtio_bindings::virtio_config::{VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1};
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestAddress;

use super::LabelDevice;
use crate::status::LinkState;
use crate::transport::gunyah::io::{FeatureWord, QueueInfo};

impl LabelDevice {
    /// Reads what the driver set up, starts the device and acknowledges DRIVER_OK.
    pub(super) fn driver_ok(&mut self) {
        if !self.queues.is_empty() {
            warn!("{}: DRIVER_OK again without a reset; restarting", self.id);
            self.teardown();
        }
        match self.negotiate() {
            Ok(features) => {
                info!("{}: driver acknowledged features {features:#x}", self.id);
                self.device.activate(features, self.waker.clone());
                self.setup_queues();
                self.status.set_features(features);
                self.status.set_link(LinkState::DriverOk);
            }
            Err(why) => {
                error!("{}: not starting the device: {why}", self.id);
                self.status
                    .record_error(format!("not starting the device: {why}"));
                self.status.set_link(LinkState::Failed);
                // No queue is used until the driver resets the device; an empty list would
                // read as "restarted driver" on its next kick.
                self.queues = self.kicks.iter().map(|_| None).collect();
            }
        }
        // Acknowledged even when the setup failed: the frontend's probe must not hang, and a
        // device without queues answers nothing until the driver resets it.
        match self.io().and_then(|io| io.ack_driver_ok(self.label)) {
            Ok(()) => self.driver_ok_acked = true,
            Err(e) => error!("{}: GH_ACK_DRIVER_OK: {e}", self.id),
        }
        // Kicks sent before the ack may have been lost in the kernel.
        self.scan_queues();
    }

    fn negotiate(&mut self) -> Result<u64, String> {
        let word = |w| {
            self.io()
                .and_then(|io| io.get_driver_features(self.label, w))
                .map_err(|e| format!("GH_GET_DRIVER_FEATURES: {e}"))
        };
        let raw = u64::from(word(FeatureWord::Low)?) | (u64::from(word(FeatureWord::High)?) << 32);
        if raw & !self.offered != 0 {
            warn!(
                "{}: driver accepted features never offered ({:#x}); ignoring them",
                self.id,
                raw & !self.offered
            );
        }
        let features = raw & self.offered;
        if features & (1 << VIRTIO_F_VERSION_1) == 0 {
            return Err(format!(
                "driver did not accept VIRTIO_F_VERSION_1 (features {raw:#x})"
            ));
        }
        if features & (1 << VIRTIO_F_ACCESS_PLATFORM) == 0 {
            return Err(format!(
                "driver did not accept VIRTIO_F_ACCESS_PLATFORM (features {raw:#x}), so its \
                 rings and buffers are in guest memory this VM cannot reach; the guest must \
                 give the device a restricted-DMA pool over the shared window (see \
                 docs/gunyah.md)"
            ));
        }
        self.event_idx = features & (1 << VIRTIO_RING_F_EVENT_IDX) != 0;
        let published = self.published_config();
        let mut config = vec![0u8; published.len()];
        match self
            .io()
            .and_then(|io| io.get_driver_config(self.label, &mut config))
        {
            Ok(()) if config != published => self.device.write_config(0, &config),
            Ok(()) => {}
            Err(e) => warn!("{}: GH_GET_DRIVER_CONFIG_DATA: {e}", self.id),
        }
        Ok(features)
    }

    fn setup_queues(&mut self) {
        let maxes = self.device.queue_max_sizes().to_vec();
        let mut queues = Vec::with_capacity(maxes.len());
        for (q, max) in maxes.into_iter().enumerate() {
            let info = self
                .io()
                .and_then(|io| io.get_queue_info(self.label, q as u32));
            let queue = match info {
                Ok(info) if !info.ready => {
                    debug!("{}: queue {q} not enabled by the driver", self.id);
                    None
                }
                Ok(info) => match self.build_queue(max, &info) {
                    Ok(queue) => Some(queue),
                    Err(why) => {
                        error!(
                            "{}: queue {q} refused ({why}): size {}, desc {:#x}, driver {:#x}, \
                             device {:#x}; it stays unused until the next reset",
                            self.id, info.num, info.desc, info.driver, info.device
                        );
                        None
                    }
                },
                Err(e) => {
                    error!("{}: GH_GET_QUEUE_INFO {q}: {e}", self.id);
                    None
                }
            };
            queues.push(queue);
        }
        self.queues = queues;
    }

    fn build_queue(&self, max: u16, info: &QueueInfo) -> Result<Queue, String> {
        let mut queue = Queue::new(max).map_err(|e| e.to_string())?;
        let size = u16::try_from(info.num).map_err(|_| "size above 65535".to_owned())?;
        queue.try_set_size(size).map_err(|e| e.to_string())?;
        queue
            .try_set_desc_table_address(GuestAddress(info.desc))
            .map_err(|e| e.to_string())?;
        queue
            .try_set_avail_ring_address(GuestAddress(info.driver))
            .map_err(|e| e.to_string())?;
        queue
            .try_set_used_ring_address(GuestAddress(info.device))
            .map_err(|e| e.to_string())?;
        queue.set_event_idx(self.event_idx);
        queue.set_ready(true);
        // Checks every ring lies inside the shared window (mapped at the window base).
        if !queue.is_valid(&self.mem) {
            return Err("rings outside the shared window".to_owned());
        }
        Ok(queue)
    }
}
