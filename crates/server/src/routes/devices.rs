//! Devices and their API keys. A key is shown once, stored only as a hash,
//! and can be revoked; a device sees only itself.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use citygrid_domain::UnitCode;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::{named_schema, schema};
use citygrid_store::{DeviceRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use crate::app::App;
use crate::auth::{Caller, DEVICE_PREFIX, hash_secret, new_secret};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// Device kinds accepted.
pub const DEVICE_KINDS: &[&str] = &["camera", "radar", "water_station", "checkpoint", "sensor"];

/// Shortest and longest device id.
pub const DEVICE_ID_LEN: (usize, usize) = (3, 64);

/// The characters of a device id.
pub const DEVICE_ID_PATTERN: &str = "^[a-z0-9._-]+$";

/// Whether `id` is a valid device id: [`DEVICE_ID_LEN`] characters matching [`DEVICE_ID_PATTERN`].
pub fn valid_device_id(id: &str) -> bool {
    (DEVICE_ID_LEN.0..=DEVICE_ID_LEN.1).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

named_schema!(
    /// A device id.
    DeviceId => schema::matching(DEVICE_ID_PATTERN, "cam-jinghu-001")
        .min_length(Some(DEVICE_ID_LEN.0))
        .max_length(Some(DEVICE_ID_LEN.1))
);

named_schema!(
    /// A device kind.
    DeviceKind => ObjectBuilder::new().schema_type(SchemaType::new(Type::String)).enum_values(Some(DEVICE_KINDS.iter().copied()))
);

/// A device as the API shows it (never the key or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Id.
    id: String,
    /// Name.
    name: String,
    /// Kind.
    kind: String,
    /// Where it stands.
    unit: Option<UnitCode>,
    /// Registered.
    created_at: DateTime<Utc>,
    /// Key revoked.
    revoked_at: Option<DateTime<Utc>>,
}

impl From<DeviceRecord> for DeviceView {
    fn from(d: DeviceRecord) -> Self {
        DeviceView {
            id: d.id,
            name: d.name,
            kind: d.kind,
            unit: d.unit,
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
    /// camera, radar, water_station, checkpoint or sensor.
    #[schema(value_type = DeviceKind)]
    kind: String,
    /// Where it stands: a known unit.
    #[serde(default)]
    unit: Option<UnitCode>,
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
    let resource = format!("device/{}", n.id);
    app.authorize(&caller.principal, caller.ip, Operation::ManageAccounts, &Scope::Global, &resource).await?;
    if !valid_device_id(&n.id) {
        return Err(ApiError::invalid("device id must be 3–64 characters of a–z, 0–9, '.', '_' or '-'"));
    }
    if !DEVICE_KINDS.contains(&n.kind.as_str()) {
        return Err(ApiError::invalid(format!("kind must be one of {}", DEVICE_KINDS.join(", "))));
    }
    if let Some(u) = &n.unit
        && app.world().territory.get(u).is_none()
    {
        return Err(ApiError::invalid(format!("no territory unit {u}")));
    }
    let api_key = new_secret(DEVICE_PREFIX);
    let rec = DeviceRecord {
        id: n.id,
        name: n.name,
        kind: n.kind,
        key_hash: hash_secret(&api_key),
        unit: n.unit,
        created_at: Utc::now(),
        revoked_at: None,
    };
    let ev = app.audit_event(&caller.principal, caller.ip, "device.create", &resource);
    app.store.create_device(rec.clone(), ev).await?;
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
    let d = app
        .store
        .devices()
        .await?
        .into_iter()
        .find(|d| d.id == caller.principal.id)
        .ok_or_else(|| ApiError::not_found("device"))?;
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
