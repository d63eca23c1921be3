//! Devices and their API keys. A key is shown once, stored only as a hash,
//! and can be revoked; a device sees only itself. A water station's HJ 212
//! password is taken once and never shown (the store keeps it sealed).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use citygrid_app::devices::RegisterDevice;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::{DeviceKind, Point, UnitCode};
use citygrid_domain::{named_schema, schema};
use citygrid_store::{DeviceRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::{Caller, DEVICE_PREFIX, hash_secret, new_secret};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

pub use citygrid_app::devices::{DEVICE_ID_LEN, valid_device_id};

/// The characters of a device id.
pub const DEVICE_ID_PATTERN: &str = "^[a-z0-9._-]+$";

named_schema!(
    /// A device id.
    DeviceId => schema::matching(DEVICE_ID_PATTERN, "cam-jinghu-001")
        .min_length(Some(DEVICE_ID_LEN.0))
        .max_length(Some(DEVICE_ID_LEN.1))
);

/// A device as the API shows it (never the key, its hash or a station's password).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Id.
    id: String,
    /// Name.
    name: String,
    /// Kind.
    kind: DeviceKind,
    /// Where it stands: the deepest unit containing its position.
    unit: Option<UnitCode>,
    /// Longitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    lon: Option<f64>,
    /// Latitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
    /// Zones it watches.
    zones: Vec<String>,
    /// Water stations: the HJ 212 station code.
    #[serde(skip_serializing_if = "Option::is_none")]
    mn: Option<String>,
    /// Water stations: the `water_section` zone sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    water_section: Option<String>,
    /// The gateway it is registered under.
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    /// Expected seconds between reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_interval_secs: Option<u32>,
    /// When it last reported (updated at most once a minute).
    last_seen: Option<DateTime<Utc>>,
    /// Registered.
    created_at: DateTime<Utc>,
    /// Key revoked.
    revoked_at: Option<DateTime<Utc>>,
}

impl From<DeviceRecord> for DeviceView {
    fn from(d: DeviceRecord) -> Self {
        let (mn, water_section) = match d.station {
            Some(s) => (Some(s.mn), Some(s.water_section)),
            None => (None, None),
        };
        DeviceView {
            id: d.id,
            name: d.name,
            kind: d.kind,
            unit: d.unit,
            lon: d.position.map(|p: Point| p.lon),
            lat: d.position.map(|p: Point| p.lat),
            zones: d.zones,
            mn,
            water_section,
            gateway: d.gateway,
            report_interval_secs: d.report_interval_secs,
            last_seen: d.last_seen,
            created_at: d.created_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// A device to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Id: 3–64 of a–z, 0–9, `.`, `_`, `-`.
    #[schema(value_type = DeviceId)]
    id: String,
    /// Name.
    name: String,
    /// camera, radar, water_station, checkpoint, sensor or gateway.
    kind: DeviceKind,
    /// Longitude of its position (with `lat`); the unit is located from it.
    #[serde(default)]
    lon: Option<f64>,
    /// Latitude of its position.
    #[serde(default)]
    lat: Option<f64>,
    /// Where it stands, when no position is given: a known unit.
    #[serde(default)]
    unit: Option<UnitCode>,
    /// Zones it watches (ids of existing zones).
    #[serde(default)]
    zones: Vec<String>,
    /// Water stations: the HJ 212 station code (`MN`), unique.
    #[serde(default)]
    mn: Option<String>,
    /// Water stations: the HJ 212 access password (`PW`); stored sealed, never shown.
    #[serde(default)]
    pw: Option<String>,
    /// Water stations: the `water_section` zone it samples.
    #[serde(default)]
    water_section: Option<String>,
    /// The id of a gateway device it is registered under.
    #[serde(default)]
    gateway: Option<String>,
    /// Expected seconds between two reports (at most a week).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800)]
    report_interval_secs: Option<u32>,
}

/// A registered device with its key.
#[derive(Serialize, ToSchema)]
pub struct NewDeviceResponse {
    /// The device.
    device: DeviceView,
    /// The API key: shown this once, stored only as a hash.
    api_key: String,
}

/// Registers a device and issues its API key (administrators).
#[utoipa::path(post, path = "/api/v1/devices", tag = "accounts", request_body = NewDevice,
    responses((status = 201, body = NewDeviceResponse), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiJson(n): ApiJson<NewDevice>,
) -> ApiResult<Response> {
    let api_key = new_secret(DEVICE_PREFIX);
    let req = RegisterDevice {
        id: n.id,
        name: n.name,
        kind: n.kind,
        lon: n.lon,
        lat: n.lat,
        unit: n.unit,
        zones: n.zones,
        mn: n.mn,
        pw: n.pw,
        water_section: n.water_section,
        gateway: n.gateway,
        report_interval_secs: n.report_interval_secs,
    };
    let rec = app.register_device(&caller.actor(), req, hash_secret(&api_key)).await?;
    Ok((StatusCode::CREATED, Json(NewDeviceResponse { device: rec.into(), api_key })).into_response())
}

/// Every device (administrators).
#[utoipa::path(get, path = "/api/v1/devices", tag = "accounts", responses((status = 200, body = Vec<DeviceView>)))]
pub async fn list<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<Vec<DeviceView>>> {
    app.authorize(&caller.principal, caller.ip, Operation::ManageAccounts, &Scope::Global, "devices").await?;
    Ok(Json(app.store.devices().await?.into_iter().map(DeviceView::from).collect()))
}

/// Revokes a device's key (administrators).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Device id", example = "cam-jinghu-001")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let resource = format!("device/{id}");
    app.authorize(&caller.principal, caller.ip, Operation::ManageAccounts, &Scope::Global, &resource).await?;
    let ev = app.audit_event(&caller.principal, caller.ip, "device.revoke", &resource);
    app.store.revoke_device(&id, Utc::now(), ev).await?;
    app.sessions.forget_principal(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// The calling device itself: the one resource a device key can read.
#[utoipa::path(get, path = "/api/v1/devices/me", tag = "accounts", responses((status = 200, body = DeviceView)))]
pub async fn me<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<DeviceView>> {
    let resource = format!("device/{}", caller.principal.id);
    app.authorize(&caller.principal, caller.ip, Operation::ReadOwnDevice, &Scope::Global, &resource).await?;
    let d = app.store.device(&caller.principal.id).await?.ok_or_else(|| ApiError::not_found("device"))?;
    Ok(Json(d.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_id_is_the_checked_one() {
        let re = regex::Regex::new(DEVICE_ID_PATTERN).unwrap();
        let documented =
            |id: &str| re.is_match(id) && (DEVICE_ID_LEN.0..=DEVICE_ID_LEN.1).contains(&id.chars().count());
        let long = "a".repeat(65);
        for id in ["cam-jinghu-001", "ab", "abc", "a.b_c-d", "Cam-1", "cam 1", "相机一号", long.as_str(), &long[1..]]
        {
            assert_eq!(documented(id), valid_device_id(id), "{id}");
        }
    }
}
