//! `GET /metrics`: Prometheus text format.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use citygrid_domain::access::{CaseScope, Operation, Scope};
use citygrid_domain::case::CaseState;
use citygrid_store::Store;

use crate::app::App;
use crate::auth::{Caller, constant_time_eq, hash_secret};
use crate::error::{ApiError, ApiResult};

fn scraper_token_ok<S>(app: &App<S>, headers: &HeaderMap) -> bool {
    let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match (&app.metrics_token_hash, sent) {
        (Some(expected), Some(token)) => constant_time_eq(expected, &hash_secret(token.trim())),
        _ => false,
    }
}

/// Metrics for Prometheus: `http_requests_total`, `http_request_duration_seconds`
/// and `citygrid_cases{state}`. Readable by administrators, auditors and
/// operators, or with the configured scraper token.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "text/plain", description = "Prometheus exposition")))]
pub async fn metrics<S: Store>(
    State(app): State<App<S>>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> ApiResult<Response> {
    if !scraper_token_ok(&app, &headers) {
        let caller = caller?;
        app.authorize(&caller.principal, caller.ip, Operation::ReadMetrics, &Scope::Global, "metrics").await?;
    }
    let counts = app.store.count_by_state(CaseScope::All).await?;
    for state in CaseState::ALL {
        let n = counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
        metrics::gauge!("citygrid_cases", "state" => state.as_str()).set(n as f64);
    }
    let body = crate::metrics::handle().map(|h| h.render()).unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
