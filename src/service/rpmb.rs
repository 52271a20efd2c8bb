//! Builds RPMB devices from config: opens the shared physical stores (once, for every
//! guest that has a slot in them), the guests' own images, and the face each guest sees.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{
    Backend, Config, DeviceConfig, GuestConfig, RpmbConfig, RpmbInterface, RpmbStorageConfig,
    RpmbStoreConfig,
};
use crate::control::iface::{DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::Status;
use crate::devices::rpmb::console::RpmbConsole;
use crate::devices::rpmb::device::RpmbDevice;
use crate::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use crate::devices::rpmb::physical::{random_bytes, PhysicalGeometry, PhysicalRpmb};
use crate::devices::rpmb::virtual_rpmb::{SharedPhysical, VirtualRpmb, VirtualSlot};
use crate::devices::VirtioDevice;
use crate::hw::rpmb::emmc::EmmcRpmb;
use crate::hw::rpmb::file::FileRpmb;
use crate::hw::rpmb::frames::RpmbFrameDevice;
use crate::hw::rpmb::owner::FileOwner;
use crate::hw::rpmb::ufs::UfsRpmb;
use crate::hw::rpmb::{key_file, RpmbKey, RpmbStorage};
use crate::kind::DeviceKind;
use crate::status::{DeviceDetail, RpmbCell};
use crate::transport::rpmb_dev_socket;

use super::kind::{BuildContext, Built, DetailView, KindService, Served};
use super::ServiceError;

#[path = "rpmb/detail.rs"]
mod detail;

/// A guest's RPMB storage, whichever backend holds it.
pub type GuestRpmb = Box<dyn RpmbStorage>;

/// The virtio-rpmb entry of the registry (virtio-rpmb, the console face, or `rpmb_dev`).
pub struct RpmbKind;

impl KindService for RpmbKind {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Rpmb
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_>,
        guest: &GuestConfig,
        device: &DeviceConfig,
    ) -> Result<Built, ServiceError> {
        let config = cx.config;
        let stores = cx.shared(|cx| {
            let allow_shared = cx.config.service.allow_shared_dirs;
            prepare_state_dir(cx.state_dir, allow_shared)?;
            Ok(RpmbStores::new(
                cx.state_dir,
                state_file_owner(allow_shared),
            ))
        })?;
        Ok(match build_rpmb(config, guest, device, stores)? {
            RpmbServed::Virtio(d, cell) => Built {
                served: Served::Virtio(d),
                detail: Some(cell),
            },
            RpmbServed::RpmbDevSocket(engine, cell) => {
                let name = device.id.clone();
                let peers = device.peers.clone();
                Built {
                    served: Served::OwnSocket(Box::new(move |listener| {
                        rpmb_dev_socket::serve_peers(&name, *engine, listener, &peers)
                    })),
                    detail: Some(cell),
                }
            }
        })
    }

    fn to_aidl(&self, detail: &DeviceDetail) -> Option<Arm> {
        detail::to_aidl(detail)
    }

    fn view(&self, arm: &Arm) -> Option<Box<dyn DetailView>> {
        detail::view(arm)
    }

    fn view_v1(
        &self,
        svc: &dyn IDriverVm,
        id: &str,
    ) -> Option<Result<Box<dyn DetailView>, Status>> {
        Some(detail::view_v1(svc, id))
    }
}

/// Why an RPMB device or store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {why}")]
pub struct RpmbSetupError {
    /// The device id or `rpmb_store "<name>"`.
    pub what: String,
    /// What failed.
    pub why: String,
}

/// How an RPMB device is served, with the status cell its engine keeps up to date.
pub enum RpmbServed {
    /// A virtio device (virtio-rpmb or the virtio-console face) for a virtio transport.
    Virtio(Box<dyn VirtioDevice>, Arc<RpmbCell>),
    /// The engine behind an `rpmb_dev` unix socket.
    RpmbDevSocket(Box<RpmbEngine<GuestRpmb>>, Arc<RpmbCell>),
}

/// The physical stores, opened on first use and shared by every guest with a slot.
pub struct RpmbStores {
    state_dir: PathBuf,
    /// Whom the images and key files in the state dir belong to.
    owner: FileOwner,
    open: HashMap<String, SharedPhysical>,
}

impl RpmbStores {
    /// Stores whose relative paths are relative to `state_dir`, whose files are `owner`'s.
    pub fn new(state_dir: &Path, owner: FileOwner) -> Self {
        Self {
            state_dir: state_dir.to_owned(),
            owner,
            open: HashMap::new(),
        }
    }

    fn get(&mut self, cfg: &RpmbStoreConfig) -> Result<SharedPhysical, RpmbSetupError> {
        if let Some(p) = self.open.get(&cfg.name) {
            return Ok(p.clone());
        }
        let err = |why: String| RpmbSetupError {
            what: format!("rpmb_store \"{}\"", cfg.name),
            why,
        };
        let path = self.state_dir.join(&cfg.path);
        let key =
            load_or_create_key(&self.state_dir.join(&cfg.key_file), &self.owner).map_err(err)?;
        let limits = EngineLimits {
            max_write_blocks: cfg.max_wr_cnt,
            max_read_blocks: cfg.max_rd_cnt,
        };
        let dev: Box<dyn RpmbFrameDevice> = match cfg.backend {
            Backend::Emmc => Box::new(
                EmmcRpmb::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?,
            ),
            Backend::Ufs => {
                Box::new(UfsRpmb::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?)
            }
            _ => {
                let file = FileRpmb::open_or_create_for(&path, cfg.capacity_blocks, &self.owner)
                    .map_err(|e| err(format!("{}: {e}", path.display())))?;
                Box::new(RpmbEngine::new(file, limits).map_err(|e| err(e.to_string()))?)
            }
        };
        let geometry = PhysicalGeometry {
            capacity_blocks: cfg.capacity_blocks,
            max_write_blocks: u16::from(cfg.max_wr_cnt),
            max_read_blocks: u16::from(cfg.max_rd_cnt),
        };
        let phys = PhysicalRpmb::open(dev, key, geometry).map_err(|e| err(e.to_string()))?;
        log::info!(
            "rpmb_store \"{}\": {} RPMB at {}, write counter {}",
            cfg.name,
            cfg.backend.name(),
            path.display(),
            phys.write_counter()
        );
        let shared = Arc::new(Mutex::new(phys));
        self.open.insert(cfg.name.clone(), shared.clone());
        Ok(shared)
    }
}

/// Whom the state files the service creates (images, key files) are given to, and whether
/// existing ones may belong to someone else: the user the service runs as after start-up
/// (see [`crate::service::dirs::service_user`]), others' files accepted only with
/// `service.allow_shared_dirs`, which accepts others writing the state dir itself.
pub fn state_file_owner(allow_shared: bool) -> FileOwner {
    let user = crate::service::dirs::service_user();
    FileOwner {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        accept_others: allow_shared,
    }
}

/// Reads the 32-byte device key at `path`, or creates it from the kernel CSPRNG (mode 0600,
/// `owner`'s).
///
/// A created key is durable (see [`crate::hw::rpmb::key_file`]) before it is returned, so
/// before it can be programmed into a blank part, which on real hardware is permanent:
/// keep the key file with the device.
fn load_or_create_key(path: &Path, owner: &FileOwner) -> Result<RpmbKey, String> {
    let fresh = || {
        let mut raw = [0u8; 32];
        random_bytes(&mut raw).map_err(|e| e.to_string())?;
        Ok(raw)
    };
    let (key, created) = key_file::load_or_create(path, owner, fresh).map_err(|e| e.to_string())?;
    if created {
        log::info!("created device key file {}", path.display());
    }
    Ok(key)
}

/// Creates the state dir (0700) if needed and refuses one others could write, unless
/// `allow_shared` (see [`crate::service::dirs`]).
pub fn prepare_state_dir(
    dir: &Path,
    allow_shared: bool,
) -> Result<(), crate::service::dirs::DirError> {
    crate::service::dirs::prepare(
        "state dir",
        dir,
        0o700,
        &crate::service::dirs::service_owners(),
        allow_shared,
    )
}

/// Builds the RPMB device `device` of `guest` describes.
pub fn build_rpmb(
    config: &Config,
    guest: &GuestConfig,
    device: &DeviceConfig,
    stores: &mut RpmbStores,
) -> Result<RpmbServed, RpmbSetupError> {
    let err = |why: String| RpmbSetupError {
        what: device.id.clone(),
        why,
    };
    let crate::config::DeviceSpec::Rpmb(rpmb) = &device.spec else {
        return Err(err(
            "no rpmb options (config validation should have set them)".into(),
        ));
    };
    let storage = open_storage(config, guest, rpmb, stores).map_err(|e| match e {
        Open::Store(e) => e,
        Open::Other(why) => err(why),
    })?;
    let limits = EngineLimits {
        max_write_blocks: rpmb.max_wr_cnt,
        max_read_blocks: rpmb.max_rd_cnt,
    };
    log::info!(
        "{}: RPMB of {} blocks, counter {}, key {}, as {}",
        device.id,
        storage.capacity_blocks(),
        storage.write_counter(),
        if storage.key_programmed() {
            "programmed"
        } else {
            "not programmed"
        },
        rpmb.interface.name()
    );
    let engine = RpmbEngine::new(storage, limits).map_err(|e| err(e.to_string()))?;
    let status = engine.status();
    Ok(match rpmb.interface {
        RpmbInterface::VirtioRpmb => RpmbServed::Virtio(
            Box::new(RpmbDevice::from_engine(engine).map_err(|e| err(e.to_string()))?),
            status,
        ),
        RpmbInterface::VirtioConsole => {
            RpmbServed::Virtio(Box::new(RpmbConsole::new(engine)), status)
        }
        RpmbInterface::RpmbDevSocket => RpmbServed::RpmbDevSocket(Box::new(engine), status),
    })
}

enum Open {
    Store(RpmbSetupError),
    Other(String),
}

fn open_storage(
    config: &Config,
    guest: &GuestConfig,
    rpmb: &RpmbConfig,
    stores: &mut RpmbStores,
) -> Result<GuestRpmb, Open> {
    match &rpmb.storage {
        RpmbStorageConfig::Image { path } => {
            let path = stores.state_dir.join(path);
            let file = FileRpmb::open_or_create_for(&path, rpmb.capacity_blocks, &stores.owner)
                .map_err(|e| Open::Other(format!("{}: {e}", path.display())))?;
            if let crate::hw::rpmb::file::Recovery::Replayed { write_counter } = file.recovery() {
                log::warn!(
                    "{}: completed a write torn by a crash (counter {write_counter})",
                    path.display()
                );
            }
            Ok(Box::new(file))
        }
        RpmbStorageConfig::Shared { store, offset } => {
            let Some(cfg) = config.rpmb_stores.iter().find(|s| &s.name == store) else {
                return Err(Open::Other(format!("no rpmb_store \"{store}\"")));
            };
            let phys = stores.get(cfg).map_err(Open::Store)?;
            let slot = VirtualSlot {
                guest: guest.name.clone(),
                offset: *offset,
                capacity_blocks: rpmb.capacity_blocks,
                journal_blocks: u16::from(rpmb.max_wr_cnt),
            };
            let v = VirtualRpmb::open(phys, slot)
                .map_err(|e| Open::Other(e.to_string()))?
                .with_write_budget(cfg.guest_writes_per_minute);
            Ok(Box::new(v))
        }
    }
}
