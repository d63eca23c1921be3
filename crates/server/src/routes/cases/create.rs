//! `POST /api/v1/cases`: report a problem.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use citygrid_domain::access::{Operation, Role, Scope};
use citygrid_domain::case::{DecideContext, NewCase, Source, report};
use citygrid_domain::personal::Contact;
use citygrid_domain::schema::{Evidence, Latitude, Longitude, RequiredText, Text};
use citygrid_domain::{CategoryCode, Point};
use citygrid_store::{NearbyQuery, SealedContact, Store};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CaseView, CreatedResponse, check_evidence};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::territory::outside;

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

fn source_for(role: Role, asked: Option<Source>) -> ApiResult<Source> {
    let fixed = match role {
        Role::GridWorker => Source::GridWorker,
        Role::Citizen => Source::Citizen,
        Role::DepartmentHandler => Source::Department,
        _ => return Ok(asked.unwrap_or(Source::Hotline)),
    };
    match asked {
        Some(s) if s != fixed => Err(ApiError::invalid(format!("your role reports as source {}", fixed.as_str()))),
        _ => Ok(fixed),
    }
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
    let who = &caller.principal;
    let world = app.world();
    let code = CategoryCode::parse(&req.category).map_err(|e| ApiError::invalid(e.to_string()))?;
    let category = world.catalog.categories.get(&code).ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_category", format!("no category {code}"))
    })?;
    let location =
        Point::new(req.lon, req.lat).ok_or_else(|| ApiError::bad_request("invalid_point", "lon/lat out of range"))?;
    let located = world.territory.locate(location).ok_or_else(outside)?;
    let territory = located.deepest().cloned().ok_or_else(outside)?;
    app.authorize(who, caller.ip, Operation::CreateCase, &Scope::Place(&territory), &format!("unit/{territory}"))
        .await?;
    let source = source_for(who.role, req.source)?;
    let contact = match req.contact.filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.normalized()
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_contact", e.to_string()))?,
        ),
        None => None,
    };
    check_evidence(&app, &req.evidence).await?;
    let now = crate::app::now();
    let ctx = DecideContext {
        now,
        actor: &who.id,
        actor_role: who.role.as_str(),
        calendar: &app.calendar,
        category,
        policy: &app.policy,
    };
    let new = NewCase {
        category: code,
        urgent: req.urgent,
        source,
        location,
        territory,
        description: req.description,
        address: req.address.filter(|a| !a.trim().is_empty()),
        evidence: req.evidence,
    };
    let (case, entry) = report(0, new, &ctx)?;
    let sealed = match &contact {
        Some(c) => Some(SealedContact {
            ciphertext: app.vault.seal(c).map_err(ApiError::internal)?,
            phone_index: c.phone.as_deref().map(|p| app.vault.blind_index("phone", p)),
            id_index: c.id_number.as_deref().map(|i| app.vault.blind_index("id", i)),
        }),
        None => None,
    };
    let nearby = NearbyQuery { radius_m: app.config.nearby_radius_m, limit: 5 };
    let audit = app.audit_event(who, caller.ip, "case.create", "case/?");
    let created = app.store.create_case(case, entry, sealed, nearby, audit).await?;
    let id = created.case.id;
    let body = CreatedResponse {
        case: CaseView::new(who, created.case, &[], contact.map(|c| c.masked())),
        timeline: vec![created.entry],
        possible_duplicates: created.nearby,
    };
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/api/v1/cases/{id}"))], Json(body)).into_response())
}
