//! Importing boundaries into a running server: the same checks and repair
//! as `citygrid import territory`, then the territory index is rebuilt and
//! swapped in whole, so the next request locates against the new
//! boundaries and none sees half of them.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citygrid_domain::access::{Operation, Scope};
use citygrid_geo::KnownUnits;
use citygrid_geo::Problem;
use citygrid_geo::repair::{self, Change, Format, Refused};
use citygrid_store::{Store, StoredUnit};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorDetail};
use crate::extract::ApiQuery;
use crate::world::stored_unit;

/// How to import.
#[derive(Debug, Deserialize, IntoParams)]
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
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let resource = "territory";
    app.authorize(&caller.principal, caller.ip, Operation::ManageReference, &Scope::Global, resource).await?;
    let format = format_of(&headers)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(app.config.max_import_bytes)
        } else {
            ApiError::bad_request("bad_body", e.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_body", "send the file as the request body"));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("invalid_encoding", "the file must be UTF-8 text"))?;

    // One import at a time: each is checked against the territory the
    // previous one left, so two files cannot each pass against the old one.
    let _turn = app.import_lock.lock().await;
    let territory = Arc::clone(&app.world().territory);
    let repair = q.repair;
    let checked = tokio::task::spawn_blocking(move || {
        let known = KnownUnits { codes: Default::default(), features: territory.features().iter().collect() };
        repair::check_territory(&text, format, &known, repair)
    })
    .await
    .map_err(ApiError::internal)?;
    let checked = match checked {
        Ok(c) => c,
        Err(r) => return Ok(refused(r)),
    };
    let units = checked.features.len();
    let mut imported = 0;
    if !q.dry_run {
        let stored: Vec<StoredUnit> = checked.features.iter().map(stored_unit).collect();
        let ev = app.audit_event(&caller.principal, caller.ip, "territory.import", resource);
        imported = app.store.upsert_units(stored, ev).await?;
        app.reload_territory().await?;
    }
    let outcome =
        ImportOutcome { dry_run: q.dry_run, units, imported, changes: checked.changes, warnings: checked.warnings };
    Ok(Json(outcome).into_response())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the file is larger than {limit} bytes (max_import_bytes)"),
    )
}
