//! The territory tree, boundaries and point location.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::named_schema;
use citygrid_domain::schema::{Latitude, LonLat, Longitude};
use citygrid_domain::{Level, Point, UnitCode, ZoneKind};
use citygrid_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::world::UnitView;

async fn may_read<S: Store>(app: &App<S>, caller: &Caller) -> ApiResult<()> {
    Ok(app.authorize(&caller.principal, caller.ip, Operation::ReadReference, &Scope::Global, "territory").await?)
}

fn parse_code(s: &str) -> ApiResult<UnitCode> {
    UnitCode::parse(s).map_err(|e| ApiError::bad_request("invalid_code", e.to_string()))
}

/// The top of the tree.
#[derive(Serialize, ToSchema)]
pub struct TreeResponse {
    /// Root units (the city).
    roots: Vec<UnitView>,
    /// Their children (districts).
    children: Vec<UnitView>,
    /// Units per level.
    counts: std::collections::BTreeMap<Level, usize>,
}

/// The city and its districts, with unit counts per level.
#[utoipa::path(get, path = "/api/v1/territory", tag = "territory", responses((status = 200, body = TreeResponse)))]
pub async fn tree<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<TreeResponse>> {
    may_read(&app, &caller).await?;
    let t = app.world().territory;
    let roots = t.roots();
    let children = roots.iter().flat_map(|r| t.children(&r.unit.code)).map(|f| t.view(f)).collect();
    Ok(Json(TreeResponse { roots: roots.iter().map(|f| t.view(f)).collect(), children, counts: t.counts() }))
}

/// One unit with its chain of ancestors.
#[derive(Serialize, ToSchema)]
pub struct UnitResponse {
    /// The unit.
    unit: UnitView,
    /// Ancestors from the city down, excluding the unit.
    ancestors: Vec<UnitView>,
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/territory/units/{code}", tag = "territory",
    params(("code" = UnitCode, Path, description = "Territory code")),
    responses((status = 200, body = UnitResponse), (status = 404, body = crate::error::ErrorBody)))]
pub async fn unit<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<UnitResponse>> {
    may_read(&app, &caller).await?;
    let code = parse_code(&code)?;
    let t = app.world().territory;
    let f = t.get(&code).ok_or_else(|| ApiError::not_found(format!("unit {code}")))?;
    let ancestors = code.chain().iter().filter(|c| **c != code).filter_map(|c| t.get(c)).map(|a| t.view(a)).collect();
    Ok(Json(UnitResponse { unit: t.view(f), ancestors }))
}

/// A unit's direct children.
#[utoipa::path(get, path = "/api/v1/territory/units/{code}/children", tag = "territory",
    params(("code" = UnitCode, Path, description = "Territory code")),
    responses((status = 200, body = Vec<UnitView>), (status = 404, body = crate::error::ErrorBody)))]
pub async fn children<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<Vec<UnitView>>> {
    may_read(&app, &caller).await?;
    let code = parse_code(&code)?;
    let t = app.world().territory;
    t.get(&code).ok_or_else(|| ApiError::not_found(format!("unit {code}")))?;
    Ok(Json(t.children(&code).into_iter().map(|f| t.view(f)).collect()))
}

/// Runs a GeoJSON export on the blocking pool: a cache miss serialises every
/// boundary of a level, which for grids is far too long for an async worker.
async fn off_workers(
    export: impl FnOnce() -> std::sync::Arc<String> + Send + 'static,
) -> ApiResult<std::sync::Arc<String>> {
    tokio::task::spawn_blocking(export).await.map_err(ApiError::internal)
}

fn geojson_response(body: std::sync::Arc<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/geo+json")], body.as_str().to_owned()).into_response()
}

/// A unit's children as a GeoJSON FeatureCollection.
#[utoipa::path(get, path = "/api/v1/territory/units/{code}/children/geojson", tag = "territory",
    params(("code" = UnitCode, Path, description = "Territory code")),
    responses((status = 200, content_type = "application/geo+json", description = "FeatureCollection")))]
pub async fn children_geojson<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Response> {
    may_read(&app, &caller).await?;
    let code = parse_code(&code)?;
    let t = app.world().territory;
    t.get(&code).ok_or_else(|| ApiError::not_found(format!("unit {code}")))?;
    let body = off_workers(move || t.geojson(&format!("children:{code}"), || t.children(&code))).await?;
    Ok(geojson_response(body))
}

/// Which level to export.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LevelQuery {
    /// `city`, `district`, `township`, `community`, `grid` or `micro_grid`.
    #[param(value_type = Level)]
    level: String,
}

/// Every unit of one level as a GeoJSON FeatureCollection. Synthetic
/// boundaries carry `"synthetic": true` in their properties.
#[utoipa::path(get, path = "/api/v1/territory/geojson", tag = "territory", params(LevelQuery),
    responses((status = 200, content_type = "application/geo+json", description = "FeatureCollection"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn level_geojson<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LevelQuery>,
) -> ApiResult<Response> {
    may_read(&app, &caller).await?;
    let level = Level::parse(&q.level).ok_or_else(|| {
        ApiError::bad_request("invalid_level", "level must be city, district, township, community, grid or micro_grid")
    })?;
    let t = app.world().territory;
    let body = off_workers(move || t.geojson(&format!("level:{level}"), || t.level(level))).await?;
    Ok(geojson_response(body))
}

/// A point.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocateQuery {
    /// Longitude.
    #[param(value_type = Longitude)]
    lon: f64,
    /// Latitude.
    #[param(value_type = Latitude)]
    lat: f64,
}

/// Where a point is.
#[derive(Serialize, ToSchema)]
pub struct LocateResponse {
    /// The point.
    point: Point,
    /// Units containing it, from the city down to the deepest.
    chain: Vec<UnitView>,
    /// Zones containing it that apply now (validity and schedule), by kind then id.
    zones: Vec<ZoneRef>,
}

/// A zone containing a point.
#[derive(Serialize, ToSchema)]
pub struct ZoneRef {
    /// The zone's id.
    id: String,
    /// Its name.
    name: String,
    /// Its kind (`ring_city`, `fishing_ban_water`, …).
    kind: ZoneKind,
}

/// Locates a point: the chain of units from the city down to the grid (or
/// the smallest unit containing it where there is no grid), and the zones
/// that contain it and apply now.
#[utoipa::path(get, path = "/api/v1/locate", tag = "territory", params(LocateQuery),
    responses((status = 200, body = LocateResponse), (status = 422, body = crate::error::ErrorBody)))]
pub async fn locate<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LocateQuery>,
) -> ApiResult<Json<LocateResponse>> {
    may_read(&app, &caller).await?;
    let point =
        Point::new(q.lon, q.lat).ok_or_else(|| ApiError::bad_request("invalid_point", "lon/lat out of range"))?;
    let world = app.world();
    let t = &world.territory;
    let loc = t.locate(point).ok_or_else(outside)?;
    let chain = loc.chain.iter().filter_map(|c| t.get(c)).map(|f| t.view(f)).collect();
    let zones = world
        .zones
        .zones_at(point, Utc::now())
        .into_iter()
        .map(|z| ZoneRef { id: z.id.clone(), name: z.name.clone(), kind: z.kind })
        .collect();
    Ok(Json(LocateResponse { point, chain, zones }))
}

/// Most points one `POST /api/v1/locate` may carry.
pub const MAX_BATCH_POINTS: usize = 10_000;

named_schema!(
    /// The points of one batch.
    BatchPoints => ArrayBuilder::new()
        .items(LonLat::schema())
        .max_items(Some(MAX_BATCH_POINTS))
        .examples([json!([[118.385, 31.345], [118.2, 31.1]])])
);

/// Points to locate.
#[derive(Deserialize, ToSchema)]
pub struct LocateBatchRequest {
    /// `[lon, lat]` pairs, at most 10,000.
    #[schema(value_type = BatchPoints)]
    points: Vec<[f64; 2]>,
    /// Also list, per point, the ids of the zones containing it that apply now.
    #[serde(default)]
    zones: bool,
}

/// Where one point is.
#[derive(Serialize, ToSchema)]
pub struct BatchLocation<'a> {
    /// Codes of the units containing the point, from the city down to the
    /// deepest (grid or micro-grid where there is one).
    #[schema(value_type = Vec<String>, example = json!(["340200", "340202", "340202001", "340202001001", "340202001001001"]))]
    chain: Vec<&'a str>,
    /// Ids of the zones containing the point that apply now; only when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    zones: Option<Vec<&'a str>>,
}

/// One answer per point, in the order sent.
#[derive(Serialize, ToSchema)]
pub struct LocateBatchResponse<'a> {
    /// The point's chain, or `null` outside the territory.
    results: Vec<Option<BatchLocation<'a>>>,
}

/// Locates many points at once (up to 10,000): for each, the codes of the
/// units containing it from the city down, or `null` outside the
/// territory, in input order. The same rule as `GET /api/v1/locate`: a point
/// on a shared border goes to the sibling with the smallest code.
#[utoipa::path(post, path = "/api/v1/locate", tag = "territory", request_body = LocateBatchRequest,
    responses((status = 200, body = LocateBatchResponse),
              (status = 400, description = "A coordinate out of range (`invalid_point`) or malformed JSON", body = crate::error::ErrorBody),
              (status = 413, description = "More than 10,000 points (`too_many_points`)", body = crate::error::ErrorBody),
              (status = 422, description = "Not a list of [lon, lat] pairs", body = crate::error::ErrorBody)))]
pub async fn locate_batch<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiJson(req): ApiJson<LocateBatchRequest>,
) -> ApiResult<Response> {
    may_read(&app, &caller).await?;
    if req.points.len() > MAX_BATCH_POINTS {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_points",
            format!("{} points sent; at most {MAX_BATCH_POINTS} per request", req.points.len()),
        ));
    }
    let mut points = Vec::with_capacity(req.points.len());
    for (i, &[lon, lat]) in req.points.iter().enumerate() {
        let p = Point::new(lon, lat)
            .ok_or_else(|| ApiError::bad_request("invalid_point", format!("points[{i}]: lon/lat out of range")))?;
        points.push(p);
    }
    let world = app.world();
    let index = world.territory.index();
    let now = Utc::now();
    let results = points
        .iter()
        .map(|&p| {
            index.locate_chain(p).map(|c| BatchLocation {
                chain: c.codes().map(UnitCode::as_str).collect(),
                zones: req.zones.then(|| world.zones.zones_at(p, now).into_iter().map(|z| z.id.as_str()).collect()),
            })
        })
        .collect();
    // Serialised here, while the territory the codes borrow from is held.
    Ok(Json(LocateBatchResponse { results }).into_response())
}

/// 422 `outside_territory`.
pub fn outside() -> ApiError {
    citygrid_app::AppError::outside_territory().into()
}
