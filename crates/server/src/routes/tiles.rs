//! The grid layer for a map console: the units in a viewport at a zoom
//! level, simplified for that zoom, so a browser never downloads every grid
//! at once. The geometry work is in [`citygrid_geo::tiles`]; this is the
//! HTTP side (the per-territory cache of simplified layers lives with the
//! territory, in [`citygrid_app::tiles`]).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citygrid_domain::Level;
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::named_schema;
use citygrid_domain::schema::BoundingBox;
use citygrid_geo::tiles::{Bbox, LayerKind, MAX_ZOOM, TileError, default_level, fnv1a, fnv1a_more, parse_zoom};
use citygrid_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// Most units one response may carry; more asks the console to zoom in or
/// narrow the box. A full-HD screen at zoom 14 over the demo's densest
/// district shows about 400 grids (a 4K screen four times that); the whole
/// demo has about 7,000.
pub const MAX_FEATURES: usize = 2_000;

/// How long a browser may reuse a response without asking again; after
/// that it revalidates with the ETag (a 304 costs no body). Boundaries
/// change only by an import, so five minutes of staleness is harmless.
const CACHE_CONTROL: &str = "private, max-age=300";

pub use citygrid_app::tiles::TileCache;

named_schema!(
    /// A zoom level [`parse_zoom`] accepts.
    Zoom => ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .minimum(Some(0))
        .maximum(Some(MAX_ZOOM))
        .examples([14])
);

/// A viewport and a zoom level. Both are required: their absence is
/// reported as `invalid_bbox` or `invalid_zoom` like a malformed value.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TilesQuery {
    /// `min_lon,min_lat,max_lon,max_lat` in degrees (MapLibre:
    /// `map.getBounds().toArray().flat()`), west below east and south below
    /// north. A box across the antimeridian is not supported.
    #[param(required = true, value_type = BoundingBox, example = "118.30,31.30,118.42,31.38")]
    bbox: Option<String>,
    /// Whole zoom level 0–22 of Web Mercator with 256-pixel tiles: Leaflet's
    /// `map.getZoom()`; with MapLibre, whose zoom counts 512-pixel tiles,
    /// `Math.floor(map.getZoom()) + 1`.
    #[param(required = true, value_type = Zoom)]
    zoom: Option<String>,
    /// `city`, `district`, `township`, `community`, `grid` or `micro_grid`:
    /// exactly that level. Without it, the level follows the zoom.
    #[param(value_type = Option<Level>)]
    level: Option<String>,
}

fn bad_tile_input(e: TileError) -> ApiError {
    let code = match e {
        TileError::MalformedBbox(_) | TileError::BboxOutOfRange | TileError::InvertedBbox => "invalid_bbox",
        TileError::InvalidZoom(_) => "invalid_zoom",
    };
    ApiError::bad_request(code, e.to_string())
}

/// Whether an `If-None-Match` header names `etag` (or is `*`), by the weak
/// comparison RFC 9110 prescribes for it.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_owned();
    let want = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|t| t == "*" || opaque(t) == want))
}

/// The units in a viewport, simplified for a zoom level, as GeoJSON.
///
/// Meant for a map console: on every `moveend`, fetch this with the map's
/// bounds and floored zoom and `setData` the result on a GeoJSON source.
///
/// - **Which units**: those whose bounding box meets `bbox`. Without
///   `level`, the level follows the zoom: districts up to 9, townships at
///   10–11, communities at 12–13, unit grids at 14–16, micro-grids from 17;
///   where a unit has no children at that level (a community without
///   grids, a grid without micro-grids) the unit itself is returned, so the
///   layer covers the territory wherever the data is complete (a community
///   whose grids leave a gap, which import reports as a warning, shows that
///   gap). With `level`, exactly that level.
/// - **Geometry**: simplified with a tolerance of half a screen pixel at
///   the zoom (Web Mercator, 256-pixel tiles), border by border: each
///   border shared by two units is simplified once, so neighbours keep
///   identical borders (no slivers or overlaps); rings that shrink below
///   that are dropped, and a unit that vanishes entirely is left out.
///   Coordinates are rounded to about a fifth of a pixel (1–7 decimals).
///   Rings are counter-clockwise, holes clockwise (RFC 7946).
/// - **Feature**: `id` and properties `code`, `name`, `level`, `parent`.
///   The collection carries `zoom` and `level` (the level asked for or
///   chosen) as foreign members.
/// - **Limits**: at most 2,000 units per response; more is refused with
///   400 `too_many_features`: zoom in, or send a smaller box.
/// - **Caching**: `Cache-Control: private, max-age=300` and a strong
///   `ETag` (a hash of the content); `If-None-Match` gets 304. Snapping the
///   box outward to a coarse grid makes repeated requests hit the cache.
#[utoipa::path(get, path = "/api/v1/territory/tiles", tag = "territory", params(TilesQuery),
    responses(
        (status = 200, content_type = "application/geo+json", description = "FeatureCollection"),
        (status = 304, description = "Not modified (`If-None-Match` matched the ETag)"),
        (status = 400, description = "`invalid_bbox`, `invalid_zoom`, `invalid_level`, or `too_many_features`", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody)))]
pub async fn tiles<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TilesQuery>,
) -> ApiResult<Response> {
    app.authorize(&caller.principal, caller.ip, Operation::ReadReference, &Scope::Global, "territory").await?;
    let bbox = q
        .bbox
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("invalid_bbox", "bbox=min_lon,min_lat,max_lon,max_lat is required"))
        .and_then(|b| Bbox::parse(b).map_err(bad_tile_input))?;
    let zoom = q
        .zoom
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("invalid_zoom", "zoom (0 to 22) is required"))
        .and_then(|z| parse_zoom(z).map_err(bad_tile_input))?;
    let kind = match q.level.as_deref() {
        Some(l) => LayerKind::Level(Level::parse(l).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_level",
                "level must be city, district, township, community, grid or micro_grid",
            )
        })?),
        None => LayerKind::Finest(default_level(zoom)),
    };

    let territory = app.world().territory;
    let layer = match territory.tiles().cached(kind, zoom) {
        Some(layer) => layer,
        None => {
            let t = Arc::clone(&territory);
            tokio::task::spawn_blocking(move || t.tiles().layer(t.features(), kind, zoom))
                .await
                .map_err(ApiError::internal)?
        }
    };
    let hits = layer.query(&bbox);
    let level = kind.level();
    if hits.len() > MAX_FEATURES {
        return Err(ApiError::bad_request(
            "too_many_features",
            format!(
                "{} units of level {level} meet this bbox at zoom {zoom}; at most {MAX_FEATURES} per response: \
                 zoom in or send a smaller bbox",
                hits.len()
            ),
        ));
    }

    // The ETag hashes what the body is made of, so it changes exactly when
    // the body does (new boundaries included) and survives restarts.
    let mut tag = fnv1a(format!("{level}/{zoom}").as_bytes());
    for f in &hits {
        tag = fnv1a_more(tag, &f.digest.to_le_bytes());
    }
    // Weak: the same features whether or not the response is gzipped on the way.
    let etag = format!("W/\"{tag:016x}\"");
    let cache_headers = |mut res: Response| {
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
        res
    };
    if not_modified(&headers, &etag) {
        return Ok(cache_headers(StatusCode::NOT_MODIFIED.into_response()));
    }
    let mut body = String::with_capacity(96 + hits.iter().map(|f| f.json.len() + 1).sum::<usize>());
    let _ = write!(body, r#"{{"type":"FeatureCollection","zoom":{zoom},"level":"{level}","features":["#);
    for (i, f) in hits.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&f.json);
    }
    body.push_str("]}");
    Ok(cache_headers(([(header::CONTENT_TYPE, "application/geo+json")], body).into_response()))
}
