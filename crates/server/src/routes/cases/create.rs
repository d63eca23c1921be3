//! `POST /api/v1/cases`: report a problem.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use citygrid_app::report::{ReportCase, Reported};
use citygrid_domain::CategoryCode;
use citygrid_domain::case::Source;
use citygrid_domain::personal::Contact;
use citygrid_domain::schema::{Evidence, Latitude, Longitude, RequiredText, Text};
use citygrid_store::Store;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CaseView, CreatedResponse};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;

/// A new report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    /// Category code, e.g. `E0101`, of an active category.
    #[schema(value_type = CategoryCode)]
    category: String,
    /// What was seen.
    #[schema(value_type = RequiredText)]
    description: String,
    /// Longitude; the point must lie in the territory (and in the caller's, for scoped roles).
    #[schema(value_type = Longitude)]
    lon: f64,
    /// Latitude.
    #[schema(value_type = Latitude)]
    lat: f64,
    /// Urgent cases run on natural time.
    #[serde(default)]
    urgent: bool,
    /// Channel; fixed by role except for operators (default `hotline`).
    #[serde(default)]
    source: Option<Source>,
    /// Street address.
    #[serde(default)]
    #[schema(value_type = Option<Text>)]
    address: Option<String>,
    /// The reporter's contact, stored encrypted.
    #[serde(default)]
    contact: Option<Contact>,
    /// Photos: hashes of uploaded attachments.
    #[serde(default)]
    #[schema(value_type = Evidence)]
    evidence: Vec<String>,
}

/// Reports a case. The point is located in the territory, the report
/// becomes the first timeline entry with its registration deadline, the
/// contact is encrypted, and open cases of the same category nearby are
/// listed as possible duplicates.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = CreateCase,
    responses((status = 201, body = CreatedResponse), (status = 400, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateCase>,
) -> ApiResult<Response> {
    let category = CategoryCode::parse(&req.category).map_err(|e| ApiError::invalid(e.to_string()))?;
    let report = ReportCase {
        category,
        description: req.description,
        lon: req.lon,
        lat: req.lat,
        urgent: req.urgent,
        source: req.source,
        address: req.address,
        contact: req.contact,
        evidence: req.evidence,
    };
    let Reported { created, contact } = app.report(&caller.actor(), report).await?;
    let id = created.case.id;
    let body = CreatedResponse {
        case: CaseView::new(&caller.principal, created.case, &[], contact),
        timeline: vec![created.entry],
        possible_duplicates: created.nearby,
    };
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/api/v1/cases/{id}"))], Json(body)).into_response())
}
