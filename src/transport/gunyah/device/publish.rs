//! What a label tells the node before the frontend VM sees the device: features, queue
//! maximums, config space, and the fds for notifications and interrupts.

use super::{fd, LabelDevice, MAX_CONFIG_PUBLISHED};
use crate::transport::gunyah::io::FeatureWord;
use crate::transport::gunyah::GunyahError;
use log::info;

impl LabelDevice {
    /// Publishes features, queue maximums and config space, and registers the ioeventfds and
    /// the irqfd. SET_APP_READY is the caller's, once every label of the node is published.
    pub fn publish(&self) -> Result<(), GunyahError> {
        let l = self.label;
        let io = self.io().map_err(|source| GunyahError::Request {
            device: self.id.clone(),
            what: "publishing",
            source,
        })?;
        let step = |what: &'static str| {
            let id = self.id.clone();
            move |source: std::io::Error| GunyahError::Request {
                device: id,
                what,
                source,
            }
        };
        io.set_device_features(l, FeatureWord::Low, self.offered as u32)
            .map_err(step("GH_SET_DEVICE_FEATURES"))?;
        io.set_device_features(l, FeatureWord::High, (self.offered >> 32) as u32)
            .map_err(step("GH_SET_DEVICE_FEATURES"))?;
        for (q, &max) in self.device.queue_max_sizes().iter().enumerate() {
            io.set_queue_num_max(l, q as u32, u32::from(max))
                .map_err(step("GH_SET_QUEUE_NUM_MAX"))?;
        }
        let config = self.published_config();
        io.set_device_config(l, &config)
            .map_err(step("GH_SET_DEVICE_CONFIG_DATA"))?;
        for (q, kick) in self.kicks.iter().enumerate() {
            io.register_ioeventfd(l, q as u32, fd(kick))
                .map_err(step("GH_IOEVENTFD"))?;
        }
        io.register_irqfd(l, fd(&self.irqfd))
            .map_err(step("GH_IRQFD"))?;
        info!(
            "{}: published on label {} (features {:#x}, {} queues, {} config bytes)",
            self.id,
            l.get(),
            self.offered,
            self.kicks.len(),
            config.len()
        );
        Ok(())
    }

    /// The config space as published: the device's bytes up to its last nonzero one (the
    /// frontend reads zeros past what is published, as the device model does too), in whole
    /// 32-bit words and at least one, because the 0xBC driver copies the config into the
    /// frontend's register page word by word and refuses to start a device without one.
    pub(super) fn published_config(&self) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_CONFIG_PUBLISHED];
        self.device.read_config(0, &mut buf);
        let used = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        buf.truncate(used.next_multiple_of(4).max(4));
        buf
    }
}
