//! Right after an open of the node: is a frontend VM already using this device? The 0xBC
//! driver hands the device to the hypervisor when the VM boots and keeps it there when the
//! backend closes the node, but a close forgets the DRIVER_OK ack and the ioeventfds, and
//! the node reports DRIVER_OK only when the driver sets it again: a driver that was
//! running across a backend restart is never reported, and its notifications stay parked
//! in the kernel, until it resets the device.

use log::{error, info};

use super::LabelDevice;
use crate::status::LinkState;
use crate::transport::gunyah::io::FeatureWord;

/// What an open finds on one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The node knows no frontend VM with this device: none has booted since the driver
    /// loaded, or its boot gave up waiting for the application (EINVAL from the driver's
    /// requests).
    NoGuest,
    /// A frontend VM has the device; no driver has queues set up.
    Idle,
    /// A driver set up queues before this open: it cannot be served until it resets.
    RunningDriver,
}

impl LabelDevice {
    /// Asks the node (GH_GET_DRIVER_FEATURES, GH_GET_QUEUE_INFO) what the frontend has set
    /// up, and reports a driver that cannot be served once, with what the operator must do.
    pub fn probe(&mut self, node: &str) -> Found {
        let Ok(io) = self.io() else {
            return Found::NoGuest;
        };
        if io
            .get_driver_features(self.label, FeatureWord::Low)
            .is_err()
        {
            return Found::NoGuest;
        }
        let running = (0..self.kicks.len())
            .any(|q| matches!(io.get_queue_info(self.label, q as u32), Ok(i) if i.ready));
        if !running {
            return Found::Idle;
        }
        if !self.stale_reported {
            self.stale_reported = true;
            let why = format!(
                "the guest's driver had this device running before drivervm opened {node}; \
                 the kernel will not report that driver again and holds its notifications, \
                 so the device stays silent until the guest resets it: reboot the guest VM \
                 (or unbind and rebind the device's driver in the guest)"
            );
            error!("{}: {why}", self.id);
            self.status.record_error(why);
            self.status.set_link(LinkState::Failed);
        } else {
            info!(
                "{}: the guest's driver from before the reopen is still running (reported)",
                self.id
            );
        }
        Found::RunningDriver
    }
}
