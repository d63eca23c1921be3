//! The audit trail, for auditors and administrators.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use citygrid_domain::access::{Operation, Scope};
use citygrid_domain::audit::{AuditRecord, TrailSummary, verify_trail};
use citygrid_domain::named_schema;
use citygrid_store::{AuditFilter, Store};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// Most records one `GET /api/v1/audit` returns.
pub const MAX_AUDIT_PAGE: usize = 1000;

named_schema!(
    /// A page size for the audit trail.
    AuditLimit => ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .minimum(Some(1))
        .maximum(Some(MAX_AUDIT_PAGE))
);

/// Audit filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records after this sequence number.
    after_seq: Option<u64>,
    /// By this actor.
    actor: Option<String>,
    /// With this action, e.g. `case.unmask`.
    action: Option<String>,
    /// About this resource, e.g. `case/42`.
    resource: Option<String>,
    /// At or after.
    from: Option<DateTime<Utc>>,
    /// Before.
    to: Option<DateTime<Utc>>,
    /// At most (default 100, max 1000).
    #[param(value_type = Option<AuditLimit>)]
    limit: Option<usize>,
}

/// Audit records in chain order.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditRecord>)))]
pub async fn list<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    app.authorize(&caller.principal, caller.ip, Operation::ReadAudit, &Scope::Global, "audit").await?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(ApiError::bad_request("invalid_limit", format!("limit must be 1–{MAX_AUDIT_PAGE}")));
    }
    let f = AuditFilter {
        after_seq: q.after_seq,
        actor: q.actor,
        action: q.action,
        resource: q.resource,
        from: q.from.map(|t| ApiError::check_instant("from", t)).transpose()?,
        to: q.to.map(|t| ApiError::check_instant("to", t)).transpose()?,
        limit,
    };
    Ok(Json(app.store.audit_records(f).await?))
}

/// The result of checking the whole chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// Whether every record is intact and in place.
    ok: bool,
    /// Records checked.
    records: u64,
    /// Audit checkpoints among them whose every named chain head is still
    /// in the trail (0 when the trail is broken).
    checkpoints: u64,
    /// The first broken record, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_bad_seq: Option<u64>,
    /// What is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Verifies the whole trail: every hash chain, then every checkpoint (the
/// chain heads it names must still be in the trail, so a chain whose newest
/// records were cut off before a checkpoint is found).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = VerifyResponse)))]
pub async fn verify<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<VerifyResponse>> {
    app.authorize(&caller.principal, caller.ip, Operation::ReadAudit, &Scope::Global, "audit").await?;
    let all = app.store.audit_records(AuditFilter::default()).await?;
    // One SHA-256 per record of the whole trail: too long for an async worker.
    let checked = tokio::task::spawn_blocking(move || verify_trail(&all).map_err(|b| (b, all.len())))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(match checked {
        Ok(TrailSummary { records, checkpoints }) => {
            VerifyResponse { ok: true, records, checkpoints, first_bad_seq: None, reason: None }
        }
        Err((b, records)) => VerifyResponse {
            ok: false,
            records: records as u64,
            checkpoints: 0,
            first_bad_seq: Some(b.seq),
            reason: Some(b.reason),
        },
    }))
}
