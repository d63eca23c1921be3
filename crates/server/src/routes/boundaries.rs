//! Importing boundaries into a running server: the HTTP side of
//! [`citygrid_app::territory`], the same rule set as `citygrid import
//! territory`; the territory index is rebuilt and swapped in whole, so the
//! next request locates against the new boundaries and none sees half of
//! them.

use std::sync::Arc;

use axum::Json;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citygrid_app::AppError;
use citygrid_app::territory::ImportTerritory;
use citygrid_domain::access::{Operation, Scope};
use citygrid_geo::Problem;
use citygrid_geo::repair::{Change, Format, Refused};
use citygrid_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::extract::ApiQuery;

/// How to import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check (and repair, if asked) but write nothing.
    #[serde(default)]
    dry_run: bool,
    /// Repair what can be repaired unambiguously and list every change
    /// (closing rings, removing spikes, splitting bow-ties, trimming small
    /// overlaps and overhangs); see docs/import.md.
    #[serde(default)]
    repair: bool,
}

/// An accepted file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOutcome {
    /// Whether this was only a check.
    dry_run: bool,
    /// Units in the file.
    units: usize,
    /// Units written (0 on a dry run).
    imported: usize,
    /// Repairs made, by feature.
    #[schema(value_type = Vec<Object>)]
    changes: Vec<Change>,
    /// Problems that do not block the import (gaps between siblings).
    #[schema(value_type = Vec<Object>)]
    warnings: Vec<Problem>,
}

/// A refused file: the standard error, plus every problem and any repairs
/// that were not enough.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRefusal {
    /// `invalid_boundaries`.
    error: ErrorDetail,
    /// Every problem, by feature, each with its kind, message and location.
    #[schema(value_type = Vec<Object>)]
    problems: Vec<Problem>,
    /// Repairs made before the problems were found; nothing was written.
    #[schema(value_type = Vec<Object>)]
    changes: Vec<Change>,
}

fn format_of(headers: &HeaderMap) -> ApiResult<Format> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/geo+json" | "application/json" => Ok(Format::GeoJson),
        "text/csv" => Ok(Format::Csv),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a GeoJSON FeatureCollection as application/geo+json, or CSV with WKT boundaries as text/csv",
        )),
    }
}

fn refused(r: Refused) -> Response {
    let n = r.report.problems.len();
    let body = ImportRefusal {
        error: ErrorDetail {
            code: "invalid_boundaries".into(),
            message: format!("{n} problem(s) found; nothing was imported"),
        },
        problems: r.report.problems,
        changes: r.changes,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Imports territory units with boundaries (administrators): a GeoJSON
/// FeatureCollection (`application/geo+json`) or CSV with WKT boundaries
/// (`text/csv`), any level, as `citygrid import territory` reads them.
/// Validated against the units already loaded (codes and parents, ring
/// validity, sibling overlaps and gaps, children outside their parent); a
/// file with any error is refused with every problem located and nothing
/// changes. Accepted units are written in one transaction (new codes added,
/// existing codes replaced) and the point-location index is rebuilt and
/// swapped in atomically.
#[utoipa::path(post, path = "/api/v1/territory/import", tag = "territory", params(ImportQuery),
    request_body(content = String, content_type = "application/geo+json",
        description = "GeoJSON FeatureCollection, or text/csv with WKT boundaries"),
    responses((status = 200, body = ImportOutcome),
              (status = 413, description = "Larger than `max_import_bytes`", body = crate::error::ErrorBody),
              (status = 415, description = "Neither GeoJSON nor CSV", body = crate::error::ErrorBody),
              (status = 422, description = "`invalid_boundaries`: every problem, located", body = ImportRefusal)))]
pub async fn import<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let resource = "territory";
    // Before the body is read: nobody else gets to make the server hold a large upload.
    app.authorize(&caller.principal, caller.ip, Operation::ManageReference, &Scope::Global, resource).await?;
    let format = format_of(&headers)?;
    let limit = app.config.max_import_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| too_large(limit))?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_body", "send the file as the request body"));
    }
    let text = String::from_utf8(Vec::from(body))
        .map_err(|_| ApiError::bad_request("invalid_encoding", "the file must be UTF-8 text"))?;
    let req = ImportTerritory { text, format, repair: q.repair, dry_run: q.dry_run };
    // Run to the end even if the client goes away: a check or a write that
    // has started holds the lock until it is done, and a stored import is
    // always swapped in.
    let (core, actor) = (Arc::clone(app.core()), caller.actor());
    let task = tokio::spawn(async move { core.import_territory(&actor, req).await });
    match task.await.map_err(ApiError::internal)? {
        Ok(done) => Ok(Json(ImportOutcome {
            dry_run: done.dry_run,
            units: done.units,
            imported: done.imported,
            changes: done.changes,
            warnings: done.warnings,
        })
        .into_response()),
        Err(AppError::InvalidBoundaries(r)) => Ok(refused(*r)),
        Err(e) => Err(e.into()),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than {limit} bytes (max_import_bytes)"),
    )
}
