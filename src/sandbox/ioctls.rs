//! The ioctl request numbers each role may issue, one list per kernel uAPI. The numbers come
//! from the backends' own uAPI modules (each checked against the kernel headers by its
//! tests), so a backend and its filter cannot drift apart.

use crate::hw::jack::ctl_uapi;
use crate::hw::pcm::alsa::uapi as pcm_uapi;
use crate::hw::rpmb::{emmc, ufs};
use crate::hw::tuner::v4l2::uapi as v4l2_uapi;
use gunyah_bindings::secure_vm_loader::{LoaderRequest, LOADER_REQUESTS};
use gunyah_bindings::virtio_backend::{Numbering, BACKEND_REQUESTS};

/// `_IOC` as the generic (x86, arm64, riscv) encoding defines it.
const fn ioc(dir: u32, ty: u8, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr
}
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// What the Rust standard library issues on any descriptor: `set_nonblocking` (FIONBIO),
/// `set_cloexec` (FIOCLEX) and terminal checks (TCGETS, `IsTerminal`).
pub fn std_io() -> Vec<u32> {
    vec![
        libc::FIONBIO as u32,
        libc::FIOCLEX as u32,
        libc::TCGETS as u32,
    ]
}

/// A socket's queued bytes (SIOCINQ is FIONREAD, SIOCOUTQ is TIOCOUTQ), which rsbinder
/// reads on its connections.
pub fn socket_queues() -> Vec<u32> {
    vec![libc::FIONREAD as u32, libc::TIOCOUTQ as u32]
}

/// ALSA PCM (`/dev/snd/pcmC*D*`): the calls `hw::pcm::alsa` makes.
pub fn alsa_pcm() -> Vec<u32> {
    vec![
        pcm_uapi::PVERSION,
        pcm_uapi::HW_REFINE,
        pcm_uapi::HW_PARAMS,
        pcm_uapi::HW_FREE,
        pcm_uapi::SW_PARAMS,
        pcm_uapi::DELAY,
        pcm_uapi::PREPARE,
        pcm_uapi::START,
        pcm_uapi::DROP,
        pcm_uapi::DRAIN,
        pcm_uapi::WRITEI_FRAMES,
        pcm_uapi::READI_FRAMES,
    ]
}

/// ALSA control (`/dev/snd/controlC*`): jack detection in `hw::jack::alsa`.
pub fn alsa_ctl() -> Vec<u32> {
    vec![
        ctl_uapi::PVERSION,
        ctl_uapi::ELEM_LIST,
        ctl_uapi::ELEM_INFO,
        ctl_uapi::ELEM_READ,
        ctl_uapi::ELEM_WRITE,
        ctl_uapi::SUBSCRIBE_EVENTS,
        ctl_uapi::ELEM_ADD,
        ctl_uapi::ELEM_REMOVE,
    ]
}

/// V4L2 radio (`/dev/radioN`): `hw::tuner::v4l2`.
pub fn v4l2_radio() -> Vec<u32> {
    vec![
        v4l2_uapi::VIDIOC_QUERYCAP,
        v4l2_uapi::VIDIOC_QUERYCTRL,
        v4l2_uapi::VIDIOC_G_CTRL,
        v4l2_uapi::VIDIOC_S_CTRL,
        v4l2_uapi::VIDIOC_G_TUNER,
        v4l2_uapi::VIDIOC_S_TUNER,
        v4l2_uapi::VIDIOC_G_FREQUENCY,
        v4l2_uapi::VIDIOC_S_FREQUENCY,
        v4l2_uapi::VIDIOC_S_HW_FREQ_SEEK,
        v4l2_uapi::VIDIOC_ENUM_FREQ_BANDS,
    ]
}

/// eMMC RPMB (`/dev/mmcblkNrpmb`) and UFS RPMB (the RPMB LU's sg node).
pub fn rpmb() -> Vec<u32> {
    vec![emmc::MMC_IOC_CMD, emmc::MMC_IOC_MULTI_CMD, ufs::SG_IO]
}

/// Gunyah's virtio-backend node, in both published numberings.
pub fn gunyah() -> Vec<u32> {
    let mut out = Vec::new();
    for row in BACKEND_REQUESTS {
        for numbering in [Numbering::DeviceNode, Numbering::VmFd] {
            out.extend(row.request.code(numbering));
        }
    }
    // The 0xB2 VM fd is only published to once the VM's devices exist, which a nonempty
    // firmware name tells (transport/gunyah/vm_fd.rs).
    out.push(LOADER_REQUESTS[LoaderRequest::GetFwName as usize].code());
    out
}

/// Kernel binder (`/dev/binder`, binderfs): what rsbinder and libbinder issue.
pub fn binder() -> Vec<u32> {
    let b = b'b';
    vec![
        // BINDER_WRITE_READ: struct binder_write_read, six 64-bit words.
        ioc(IOC_READ | IOC_WRITE, b, 1, 48),
        // BINDER_SET_IDLE_TIMEOUT
        ioc(IOC_WRITE, b, 3, 8),
        // BINDER_SET_MAX_THREADS
        ioc(IOC_WRITE, b, 5, 4),
        // BINDER_SET_IDLE_PRIORITY
        ioc(IOC_WRITE, b, 6, 4),
        // BINDER_THREAD_EXIT
        ioc(IOC_WRITE, b, 8, 4),
        // BINDER_VERSION
        ioc(IOC_READ | IOC_WRITE, b, 9, 4),
        // BINDER_ENABLE_ONEWAY_SPAM_DETECTION
        ioc(IOC_WRITE, b, 16, 4),
        // BINDER_GET_EXTENDED_ERROR: struct binder_extended_error, three 32-bit words.
        ioc(IOC_READ | IOC_WRITE, b, 17, 12),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gunyah_request_is_listed_in_each_numbering_it_exists_in() {
        // 13 requests in the device-node numbering, 12 in the VM-fd one (no SET_APP_READY),
        // and the loader's GH_VM_GET_FW_NAME the VM-fd transport polls before publishing.
        assert_eq!(gunyah().len(), 26);
    }

    #[test]
    fn binder_write_read_is_the_kernel_number() {
        // include/uapi/linux/android/binder.h on a 64-bit kernel.
        assert_eq!(binder()[0], 0xc030_6201);
        assert_eq!(binder()[5], 0xc004_6209);
    }
}
