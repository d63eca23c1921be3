//! The one error shape every endpoint returns:
//! `{"error":{"code":"…","message":"…"}}` with a 4xx/5xx status.
//! Codes are stable snake_case strings clients can match on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use citygrid_app::AppError;
use citygrid_domain::case::CaseError;
use citygrid_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation; never carries secrets or personal data.
    pub message: String,
    /// Seconds the client should wait before retrying (429, 503).
    pub retry_after: Option<u64>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_transition`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// The same error, telling the client when to retry.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `not_found`; also what out-of-scope resources look like.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{} not found", what.into()))
    }

    /// 403 `forbidden`.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "your role may not do this here")
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 422 `validation_failed`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
    }

    /// 422 `date_out_of_range` unless `at` lies between 2000-01-01 and the
    /// date horizon (ten years from now): every instant a client sends is
    /// bounded, so none reaches calendar or storage arithmetic unchecked.
    pub fn check_instant(what: &str, at: chrono::DateTime<chrono::Utc>) -> Result<chrono::DateTime<chrono::Utc>, Self> {
        use citygrid_domain::calendar;
        let now = chrono::Utc::now();
        if calendar::within_bounds(now, at) {
            Ok(at)
        } else {
            Err(Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "date_out_of_range",
                format!(
                    "{what} {at} is outside {} … {}",
                    calendar::earliest().to_rfc3339(),
                    calendar::horizon(now).to_rfc3339()
                ),
            ))
        }
    }

    /// 500 `internal`, logging the cause server-side only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred; it has been logged")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = match (self.retry_after, self.status) {
            (Some(s), _) => Some(s),
            (None, StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS) => Some(1),
            _ => None,
        };
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(v) = retry.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<AppError> for ApiError {
    /// The one place a use case's error becomes a status and a stable code.
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(what) | AppError::OutOfScope(what) => ApiError::not_found(what),
            AppError::Forbidden => ApiError::forbidden(),
            AppError::Unauthenticated(m) => ApiError::unauthenticated(m),
            AppError::Malformed { code, message } => ApiError::bad_request(code, message),
            AppError::Invalid { code, message } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            e @ AppError::InvalidBoundaries(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_boundaries", e.to_string())
            }
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            AppError::InvalidTransition(m) => ApiError::new(StatusCode::CONFLICT, "invalid_transition", m),
            AppError::DateOutOfRange(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "date_out_of_range", m),
            AppError::Overloaded => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the store is saturated; nothing was written, retry shortly",
            ),
            AppError::Unavailable(m) => {
                // The cause (host, driver message) goes to the log, not the client.
                tracing::warn!(cause = %m, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable; nothing was written, retry shortly",
                )
                .retry_after(2)
            }
            AppError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        AppError::from(e).into()
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_error_keeps_its_status_and_code() {
        let cases: Vec<(AppError, StatusCode, &str)> = vec![
            (AppError::NotFound("case/1".into()), StatusCode::NOT_FOUND, "not_found"),
            (AppError::OutOfScope("case/1".into()), StatusCode::NOT_FOUND, "not_found"),
            (AppError::Forbidden, StatusCode::FORBIDDEN, "forbidden"),
            (
                AppError::Malformed { code: "invalid_point", message: "m".into() },
                StatusCode::BAD_REQUEST,
                "invalid_point",
            ),
            (AppError::rule("unknown_category", "m"), StatusCode::UNPROCESSABLE_ENTITY, "unknown_category"),
            (AppError::invalid("m"), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (AppError::Conflict("m".into()), StatusCode::CONFLICT, "conflict"),
            (AppError::InvalidTransition("m".into()), StatusCode::CONFLICT, "invalid_transition"),
            (AppError::DateOutOfRange("m".into()), StatusCode::UNPROCESSABLE_ENTITY, "date_out_of_range"),
            (AppError::Unavailable("host".into()), StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            (AppError::Overloaded, StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            (AppError::Internal("boom".into()), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        ];
        for (e, status, code) in cases {
            let api = ApiError::from(e);
            assert_eq!((api.status, api.code), (status, code));
            assert!(!api.message.contains("host") && !api.message.contains("boom"), "causes stay in the log");
        }
        let api = ApiError::from(AppError::NotFound("case/1".into()));
        assert_eq!(api.message, "case/1 not found");
        assert_eq!(ApiError::from(AppError::Unavailable("h".into())).retry_after, Some(2));
    }

    #[test]
    fn a_saturated_store_tells_the_client_when_to_retry() {
        let res = ApiError::from(AppError::Overloaded).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    }
}
