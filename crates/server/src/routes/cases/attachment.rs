//! `GET /api/v1/cases/{id}/attachments/{sha256}`: a photo cited by a case.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use citygrid_domain::access::Operation;
use citygrid_domain::case::CaseId;
use citygrid_domain::schema::ContentHash;
use citygrid_store::Store;

use super::load_for;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;

/// An attachment cited on the case's timeline, for anyone who may read the case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/attachments/{sha256}", tag = "cases",
    params(("id" = i64, Path, description = "Case id", minimum = 1),
           ("sha256" = ContentHash, Path, description = "Content hash of an attachment the case cites")),
    responses((status = 200, description = "The file"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn read_attachment<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath((id, sha)): ApiPath<(CaseId, String)>,
) -> ApiResult<Response> {
    let rec = load_for(&app, &caller, id, Operation::ReadCase).await?;
    if !rec.timeline.iter().any(|e| e.evidence.contains(&sha)) {
        return Err(ApiError::not_found(format!("attachment {sha} on case {id}")));
    }
    crate::routes::attachments::send(&app, &sha).await
}

impl IntoResponse for crate::routes::attachments::Blob {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, self.content_type), (header::CACHE_CONTROL, "private, max-age=86400".to_owned())],
            self.bytes,
        )
            .into_response()
    }
}
