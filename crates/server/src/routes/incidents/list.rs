//! `GET /api/v1/incidents`: filtered, paged, and always within the caller's
//! territory (the scope is part of the store's query).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use citygrid_domain::BBox;
use citygrid_domain::access::CaseScope;
use citygrid_domain::eyes::{AlertType, IncidentState};
use citygrid_domain::schema::BoundingBox;
use citygrid_store::{IncidentFilter, MAX_INCIDENT_PAGE, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::IncidentView;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::routes::cases::list::{Cursor, decode_cursor, encode_cursor};

/// List filters; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// Comma-separated alert types, e.g. `illegal_fishing,illegal_dumping`.
    #[serde(rename = "type")]
    #[param(example = "illegal_fishing")]
    kind: Option<String>,
    /// Comma-separated states, e.g. `open,confirmed`.
    #[param(example = "open")]
    state: Option<String>,
    /// `min_lon,min_lat,max_lon,max_lat`: centroid inside.
    #[param(value_type = Option<BoundingBox>)]
    bbox: Option<String>,
    /// Last seen at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// First seen before (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Opaque cursor from the previous page's `next_cursor`.
    #[param(value_type = Option<Cursor>)]
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// One page.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    /// Newest first.
    items: Vec<IncidentView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Parses a comma-separated list with `parse`, naming the bad value.
fn list_of<T>(s: &str, what: &'static str, parse: impl Fn(&str) -> Option<T>) -> ApiResult<Vec<T>> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| parse(v).ok_or_else(|| ApiError::bad_request(what, format!("no such value {v:?}"))))
        .collect()
}

/// Incidents visible to the caller, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "eyes", params(IncidentQuery),
    responses((status = 200, body = IncidentList), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub async fn list<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> ApiResult<Json<IncidentList>> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_INCIDENT_PAGE.min(app.config.max_page) {
        let max = MAX_INCIDENT_PAGE.min(app.config.max_page);
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be 1–{max}")));
    }
    // The scope is set by the use case from the caller.
    let mut f = IncidentFilter::scoped(CaseScope::Nothing, limit);
    if let Some(t) = &q.kind {
        f.kinds = list_of(t, "invalid_type", AlertType::parse)?;
    }
    if let Some(s) = &q.state {
        f.states = list_of(s, "invalid_state", IncidentState::parse)?;
    }
    if let Some(b) = &q.bbox {
        f.bbox = Some(BBox::parse(b).ok_or_else(|| {
            ApiError::bad_request("invalid_bbox", "bbox must be min_lon,min_lat,max_lon,max_lat within range")
        })?);
    }
    f.from = q.from.map(|t| ApiError::check_instant("from", t)).transpose()?;
    f.to = q.to.map(|t| ApiError::check_instant("to", t)).transpose()?;
    if let Some(c) = &q.cursor {
        let after = decode_cursor(c)?;
        f.after = Some(
            u64::try_from(after)
                .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))?,
        );
    }
    let page = app.list_incidents(&caller.actor(), f).await?;
    let next_cursor = page.next_after.and_then(|a| i64::try_from(a).ok()).map(encode_cursor);
    Ok(Json(IncidentList { items: page.incidents.into_iter().map(IncidentView::from).collect(), next_cursor }))
}
