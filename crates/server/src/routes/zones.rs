//! Zones (geofences): the prevention rings and river zones. Read by every
//! user role, edited by administrators. See `docs/zones.md`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::named_schema;
use citygrid_domain::schema::{Latitude, LonLat, Longitude, ZoneId};
use citygrid_domain::{Point, Zone, ZoneKind};
use citygrid_store::Store;

use geo::{BoundingRect, MultiPolygon};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

async fn may_read<S: Store>(app: &App<S>, caller: &Caller) -> ApiResult<()> {
    Ok(app.authorize(&caller.principal, caller.ip, Operation::ReadReference, &Scope::Global, "zones").await?)
}

/// Parses an RFC 3339 instant. A `+` that a query string turned into a
/// space (`…T12:00:00 08:00`) is read as the `+` it was.
fn parse_at(s: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|e| if s.contains(' ') { DateTime::parse_from_rfc3339(&s.replace(' ', "+")) } else { Err(e) })
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_time",
                format!("at must be an RFC 3339 instant such as 2026-05-01T22:30:00+08:00: {e}"),
            )
        })
        .and_then(|t| ApiError::check_instant("at", t))
}

fn parse_kind(s: &str) -> ApiResult<ZoneKind> {
    ZoneKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = ZoneKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::bad_request("invalid_kind", format!("kind must be one of {}", all.join(", ")))
    })
}

/// A zone as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneView {
    /// The zone.
    #[serde(flatten)]
    pub zone: Zone,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    /// Whether it applies at the instant asked about (now by default).
    pub active: bool,
}

fn view(zone: &Zone, geometry: &MultiPolygon<f64>, at: DateTime<Utc>) -> ZoneView {
    ZoneView {
        zone: zone.clone(),
        bbox: geometry.bounding_rect().map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]),
        active: zone.active_at(at),
    }
}

/// Which zones to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ZoneQuery {
    /// Only zones of this kind: `ring_city`, `ring_district`, `key_area`,
    /// `fishing_ban_water`, `no_sand_mining`, `shoreline` or `water_section`.
    #[param(value_type = Option<ZoneKind>)]
    kind: Option<String>,
    /// Only zones active at this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    at: Option<String>,
}

impl ZoneQuery {
    /// `(kind filter, instant, whether to keep only active zones)`.
    fn parse(&self) -> ApiResult<(Option<ZoneKind>, DateTime<Utc>, bool)> {
        let kind = self.kind.as_deref().map(parse_kind).transpose()?;
        let at = self.at.as_deref().map(parse_at).transpose()?;
        Ok((kind, at.unwrap_or_else(Utc::now), at.is_some()))
    }
}

/// Every zone, by kind then id; `?kind=` keeps one kind, `?at=` only the
/// zones active at that instant. `active` says whether each applies at `at`
/// (or now).
#[utoipa::path(get, path = "/api/v1/zones", tag = "zones", params(ZoneQuery),
    responses((status = 200, body = Vec<ZoneView>), (status = 400, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ZoneQuery>,
) -> ApiResult<Json<Vec<ZoneView>>> {
    may_read(&app, &caller).await?;
    let (kind, at, only_active) = q.parse()?;
    let zones = app.world().zones;
    let out = zones
        .iter()
        .filter(|(z, _)| kind.is_none_or(|k| z.kind == k))
        .map(|(z, g)| view(z, g, at))
        .filter(|v| !only_active || v.active)
        .collect();
    Ok(Json(out))
}

/// The zones as a GeoJSON FeatureCollection (same filters as the list).
/// Properties: `id`, `name`, `kind`, `valid_from`, `valid_to`,
/// `target_class`, `schedule`, `territory`, `note`.
#[utoipa::path(get, path = "/api/v1/zones/geojson", tag = "zones", params(ZoneQuery),
    responses((status = 200, content_type = "application/geo+json", description = "FeatureCollection"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn geojson<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ZoneQuery>,
) -> ApiResult<Response> {
    may_read(&app, &caller).await?;
    let (kind, at, only_active) = q.parse()?;
    let zones = app.world().zones;
    let mut features = Vec::new();
    for (z, g) in zones.iter() {
        if kind.is_some_and(|k| z.kind != k) || (only_active && !z.active_at(at)) {
            continue;
        }
        let properties = match serde_json::to_value(z) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => serde_json::Map::new(),
            Err(e) => return Err(ApiError::internal(e)),
        };
        features.push(geojson::Feature {
            bbox: None,
            geometry: Some(geojson::Geometry::from(g)),
            id: Some(geojson::feature::Id::String(z.id.clone())),
            properties: Some(properties),
            foreign_members: None,
        });
    }
    let fc = geojson::FeatureCollection { bbox: None, features, foreign_members: None };
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], fc.to_string()).into_response())
}

/// A point, and optionally when.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// Longitude.
    #[param(value_type = Longitude)]
    lon: f64,
    /// Latitude.
    #[param(value_type = Latitude)]
    lat: f64,
    /// The instant (RFC 3339); now if absent.
    #[param(value_type = Option<DateTime<Utc>>)]
    at: Option<String>,
}

/// The zones at a point.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZonesAtResponse {
    /// The point.
    point: Point,
    /// The instant.
    at: DateTime<Utc>,
    /// Zones containing the point (boundary included) and active at `at`, by kind then id.
    zones: Vec<ZoneView>,
}

/// Which zones contain a point and apply at an instant (now by default).
#[utoipa::path(get, path = "/api/v1/zones/at", tag = "zones", params(AtQuery),
    responses((status = 200, body = ZonesAtResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn at<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AtQuery>,
) -> ApiResult<Json<ZonesAtResponse>> {
    may_read(&app, &caller).await?;
    let point =
        Point::new(q.lon, q.lat).ok_or_else(|| ApiError::bad_request("invalid_point", "lon/lat out of range"))?;
    let at = q.at.as_deref().map(parse_at).transpose()?.unwrap_or_else(Utc::now);
    let zones = app.world().zones;
    let found =
        zones.zones_at(point, at).into_iter().filter_map(|z| zones.get(&z.id)).map(|(z, g)| view(z, g, at)).collect();
    Ok(Json(ZonesAtResponse { point, at, zones: found }))
}

/// A zone and its area, for `PUT /api/v1/zones/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ZoneInput {
    /// The zone; its `id` must match the path.
    pub zone: Zone,
    /// A GeoJSON `Polygon` or `MultiPolygon` geometry object, lon/lat.
    #[schema(value_type = ZoneGeometry)]
    pub geometry: serde_json::Value,
}

pub use citygrid_app::zones::MAX_ZONE_POSITIONS;

/// A GeoJSON geometry of `kind` whose coordinates are `coordinates`.
fn geometry_of(kind: &str, coordinates: ArrayBuilder) -> ObjectBuilder {
    ObjectBuilder::new()
        .property("type", ObjectBuilder::new().schema_type(SchemaType::new(Type::String)).enum_values(Some([kind])))
        .required("type")
        .property("coordinates", coordinates.min_items(Some(1)))
        .required("coordinates")
}

named_schema!(
    /// What [`citygrid_app::zones::checked_geometry`] accepts, as far as a schema can say.
    ZoneGeometry => {
        // A closed ring: the last position equals the first.
        let ring = || ArrayBuilder::new().items(LonLat::schema()).min_items(Some(4));
        let polygon = || ArrayBuilder::new().items(ring()).min_items(Some(1));
        OneOfBuilder::new()
            .item(geometry_of("Polygon", polygon()))
            .item(geometry_of("MultiPolygon", ArrayBuilder::new().items(polygon())))
            .description(Some(format!(
                "A GeoJSON Polygon or MultiPolygon in lon/lat: every ring closed (at least four positions, the last \
                 equal to the first), the polygon valid (no self-intersection), at most {MAX_ZONE_POSITIONS} \
                 positions in all, and touching the zone's territory if it names one."
            )))
            .examples([json!({
                "type": "Polygon",
                "coordinates": [[[118.37, 31.17], [118.39, 31.17], [118.39, 31.19], [118.37, 31.19], [118.37, 31.17]]]
            })])
    }
);

/// Creates or replaces one zone (administrators). The zone is validated
/// (id, name, dates, schedule, target class only on water sections), the
/// owning territory must exist and the area must touch it.
#[utoipa::path(put, path = "/api/v1/zones/{id}", tag = "zones", request_body = ZoneInput,
    params(("id" = ZoneId, Path, description = "Zone id; the body's `zone.id` must be the same")),
    responses((status = 200, body = ZoneView), (status = 422, body = crate::error::ErrorBody)))]
pub async fn put<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ZoneInput>,
) -> ApiResult<Json<ZoneView>> {
    let resource = format!("zone/{id}");
    app.authorize(&caller.principal, caller.ip, Operation::ManageReference, &Scope::Global, &resource).await?;
    if input.zone.id != id {
        return Err(ApiError::invalid("the body's zone id must match the path"));
    }
    let (zone, geometry) = app.put_zone(&caller.actor(), input.zone, input.geometry).await?;
    Ok(Json(view(&zone, &geometry, Utc::now())))
}

/// Deletes one zone (administrators). 404 `not_found` when there is none.
#[utoipa::path(delete, path = "/api/v1/zones/{id}", tag = "zones",
    params(("id" = ZoneId, Path, description = "Zone id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    app.delete_zone(&caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
