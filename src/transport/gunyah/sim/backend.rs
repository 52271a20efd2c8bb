//! The backend's side of the simulated node: each [`GunyahBackendIo`] request acts on the
//! shared state as the kernel driver would (unknown labels and queues are `EINVAL`, the
//! config can be set once, waits block until the frontend raises an event).

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use gunyah_bindings::virtio_backend::VirtioEvent;

use super::super::io::{
    BackendEvent, DeviceLabel, FeatureWord, GunyahBackendIo, QueueInfo, SharedWindow,
};
use super::state::{invalid, Shared, SIM_MAX_QUEUES};

/// [`GunyahBackendIo`] on one open of a simulated node; the frontend is played by
/// [`super::SimFrontend`] / [`super::SimDriver`] on the same [`super::SimNode`]. Dropping
/// it closes the node, releasing what was registered, as closing the device node does.
pub struct SimBackend {
    pub(super) shared: Arc<Shared>,
    pub(super) window: File,
    pub(super) window_size: u64,
}

impl Drop for SimBackend {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.open = false;
        st.app_ready = false;
        for l in st.labels.values_mut() {
            l.release();
        }
        drop(st);
        self.shared.notify();
    }
}

fn check_queue(queue: u32) -> io::Result<()> {
    if queue >= SIM_MAX_QUEUES {
        return Err(invalid("queue index past the node's maximum"));
    }
    Ok(())
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
        self.shared.with_label(l.get(), |s| {
            s.device_features[word(w)] = bits;
            Ok(())
        })
    }

    fn set_queue_num_max(&self, l: DeviceLabel, queue: u32, max: u32) -> io::Result<()> {
        check_queue(queue)?;
        self.shared.with_label(l.get(), |s| {
            s.queue_num_max.insert(queue, max);
            Ok(())
        })
    }

    fn set_device_config(&self, l: DeviceLabel, data: &[u8]) -> io::Result<()> {
        if data.is_empty() || data.len() > 4096 {
            return Err(invalid("config size"));
        }
        self.shared.with_label(l.get(), |s| {
            if s.config.is_some() {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            s.config = Some(data.to_vec());
            Ok(())
        })
    }

    fn get_driver_config(&self, l: DeviceLabel, buf: &mut [u8]) -> io::Result<()> {
        self.shared.with_label(l.get(), |s| {
            let config = s.config.as_deref().unwrap_or_default();
            buf.fill(0);
            let n = buf.len().min(config.len());
            buf[..n].copy_from_slice(&config[..n]);
            Ok(())
        })
    }

    fn register_ioeventfd(
        &self,
        l: DeviceLabel,
        queue: u32,
        efd: BorrowedFd<'_>,
    ) -> io::Result<()> {
        check_queue(queue)?;
        let file = owned(efd)?;
        self.shared.with_label(l.get(), |s| {
            s.ioeventfds.insert(queue, file);
            Ok(())
        })
    }

    fn register_irqfd(&self, l: DeviceLabel, efd: BorrowedFd<'_>) -> io::Result<()> {
        let file = owned(efd)?;
        self.shared.with_label(l.get(), |s| {
            s.irqfd = Some(file);
            Ok(())
        })
    }

    fn set_app_ready(&self) -> io::Result<()> {
        self.shared.lock().app_ready = true;
        self.shared.notify();
        Ok(())
    }

    fn wait_for_event(&self, l: DeviceLabel) -> io::Result<BackendEvent> {
        let label = l.get();
        self.shared.wait_until(None, |st| {
            let Some(s) = st.labels.get_mut(&label) else {
                return Some(Err(invalid("no such label")));
            };
            let bits = s.take_event()?.bits();
            Some(Ok(BackendEvent::from_raw(&VirtioEvent {
                label,
                event: bits,
                event_data: 0,
                reserved: 0,
            })))
        })?
    }

    fn get_driver_features(&self, l: DeviceLabel, w: FeatureWord) -> io::Result<u32> {
        self.shared
            .with_label(l.get(), |s| Ok(s.driver_features[word(w)]))
    }

    fn get_queue_info(&self, l: DeviceLabel, queue: u32) -> io::Result<QueueInfo> {
        check_queue(queue)?;
        self.shared.with_label(l.get(), |s| {
            Ok(s.queues.get(&queue).copied().unwrap_or(QueueInfo {
                num: 0,
                ready: false,
                desc: 0,
                driver: 0,
                device: 0,
            }))
        })
    }

    fn ack_driver_ok(&self, l: DeviceLabel) -> io::Result<()> {
        self.shared.with_label(l.get(), |s| {
            s.driver_ok_acked = true;
            s.driver_ok_acks += 1;
            Ok(())
        })
    }

    fn ack_reset(&self, l: DeviceLabel) -> io::Result<()> {
        self.shared.with_label(l.get(), |s| {
            s.resets_acked += 1;
            Ok(())
        })
    }
}
