//! What the MQTT listener feeds: the application's one detection intake
//! ([`citygrid_app::eyes::Intake`]), with the sender checked as the HTTP
//! layer checks it.

use citygrid_app::AppError;
use citygrid_app::actor::Actor;
use citygrid_app::core::Core;
use citygrid_app::eyes::{Intake, IntakeSource};
use citygrid_domain::DeviceKind;
use citygrid_domain::access::{Principal, Role};
use citygrid_domain::eyes::Detection;
use citygrid_store::{DeviceRecord, Store};

use super::mqtt::{IntakeRefusal, MqttIntake, Sender};
use crate::auth::hash_secret;

/// The principal of a registered, unrevoked device.
fn principal(d: DeviceRecord) -> Option<Principal> {
    d.revoked_at.is_none().then_some(Principal { id: d.id, role: Role::Device, unit: d.unit, department: None })
}

impl<S: Store> MqttIntake for Core<S> {
    /// A Frigate camera is the registered camera whose id is its name.
    async fn camera(&self, name: &str) -> Option<(String, f64, f64)> {
        let d = self.store.device(name).await.ok()??;
        let p = d.position?;
        (d.kind == DeviceKind::Camera && d.revoked_at.is_none()).then_some((d.id, p.lon, p.lat))
    }

    async fn submit(&self, sender: Sender, detections: Vec<Detection>) -> Result<(), IntakeRefusal> {
        let device = match &sender {
            Sender::Key(key) => self.store.device_by_key_hash(&hash_secret(key)).await,
            Sender::Camera(id) => self.store.device(id).await,
        };
        let principal = match device {
            Ok(Some(d)) => principal(d),
            Ok(None) => None,
            Err(e) => return Err(IntakeRefusal::Retry(e.to_string())),
        }
        .ok_or_else(|| IntakeRefusal::Refused("unknown or revoked device key".into()))?;
        match Intake::submit(self, &Actor::new(principal, None), IntakeSource::Mqtt, detections).await {
            Ok(_) => Ok(()),
            Err(e @ (AppError::Overloaded | AppError::Unavailable(_))) => Err(IntakeRefusal::Retry(e.to_string())),
            Err(e) => Err(IntakeRefusal::Refused(e.to_string())),
        }
    }
}
