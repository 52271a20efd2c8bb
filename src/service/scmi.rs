//! Builds virtio-scmi devices: one SCMI agent per guest over the shared platform hardware.

use crate::config::{DeviceConfig, GuestConfig};
use crate::control::iface::{DeviceDetail::DeviceDetail as Arm, IDriverVm::IDriverVm};
use crate::control::Status;
use crate::devices::scmi::{AgentView, ScmiDevice};
use crate::kind::DeviceKind;
use crate::platform::{scmi_agents, ScmiPlatform};
use crate::status::{DetailSource, DeviceDetail};

use super::kind::{BuildContext, Built, DetailView, KindService, Served};
use super::ServiceError;

#[path = "scmi/detail.rs"]
mod detail;

/// The virtio-scmi entry of the registry.
pub struct ScmiKind;

impl KindService for ScmiKind {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Scmi
    }

    fn build(
        &self,
        cx: &mut BuildContext<'_>,
        guest: &GuestConfig,
        device: &DeviceConfig,
    ) -> Result<Built, ServiceError> {
        let config = cx.config;
        let platform = cx.shared(|cx| Ok(ScmiPlatform::build(cx.config)?))?;
        let agents = scmi_agents(config);
        let agent_id = agents
            .iter()
            .position(|a| *a == guest.name)
            .map_or(0, |i| i as u32 + 1);
        let view = AgentView {
            device: device.id.clone(),
            agents,
            agent_id,
            max_message_len: guest.policy.max_request_bytes,
        };
        let protocols = platform.protocols(device, agent_id)?;
        let detail: std::sync::Arc<dyn DetailSource> = platform.clock_detail(device);
        Ok(Built {
            served: Served::Virtio(Box::new(ScmiDevice::new(
                config.soc.identity.clone(),
                view,
                protocols,
            ))),
            detail: Some(detail),
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
