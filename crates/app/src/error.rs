//! The one error every use case returns. Each variant says what went wrong
//! in the application's words; the HTTP layer turns each into its status
//! and stable code in one place (`citygrid_server::error`), and other
//! callers (CLI, listeners, schedulers) match on the variants or print them.

use citygrid_domain::case::CaseError;
use citygrid_geo::repair::Refused;
use citygrid_store::StoreError;

/// Why a use case did not happen. Nothing was written unless the variant says so.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The resource does not exist (`what` names it, e.g. `case/7`).
    #[error("{0} not found")]
    NotFound(String),
    /// The resource exists but lies outside the actor's scope; callers
    /// facing the outside world report it exactly like [`AppError::NotFound`],
    /// so its existence is not revealed. The denial has been audited.
    #[error("{0} not found")]
    OutOfScope(String),
    /// The actor's role may not do this here. The denial has been audited.
    #[error("your role may not do this here")]
    Forbidden,
    /// The credentials that came with the input (a station's HJ 212 `PW`,
    /// a revoked registration) do not admit it. Nothing was written.
    #[error("{0}")]
    Unauthenticated(String),
    /// The input cannot be read at all (e.g. a coordinate out of range):
    /// `code` is a stable snake_case name such as `invalid_point`.
    #[error("{message}")]
    Malformed {
        /// Stable machine-readable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// The input is readable but breaks a rule: `code` is a stable
    /// snake_case name such as `validation_failed`, `unknown_category`,
    /// `outside_territory`, `invalid_geometry`.
    #[error("{message}")]
    Invalid {
        /// Stable machine-readable code.
        code: &'static str,
        /// Explanation.
        message: String,
    },
    /// A territory file with problems: every problem, located, and the
    /// repairs that were not enough. Nothing was written.
    #[error("{} problem(s) found; nothing was imported", .0.report.problems.len())]
    InvalidBoundaries(Box<Refused>),
    /// A concurrent change won, or the write collides with existing data.
    #[error("{0}")]
    Conflict(String),
    /// The case's state does not allow the action (names the state and the
    /// actions allowed).
    #[error("{0}")]
    InvalidTransition(String),
    /// An instant outside 2000-01-01 … ten years ahead.
    #[error("{0}")]
    DateOutOfRange(String),
    /// The database cannot be reached; the cause is for the log only.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The store is saturated; retry shortly.
    #[error("the store is saturated; nothing was written, retry shortly")]
    Overloaded,
    /// A bug or an environment failure; the cause is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for use cases.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// `Invalid` with the generic code `validation_failed`.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid { code: "validation_failed", message: message.into() }
    }

    /// `Invalid` with a specific code.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid { code, message: message.into() }
    }

    /// `Internal` from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// 422 `outside_territory` in HTTP terms: the point lies outside the city.
    pub fn outside_territory() -> Self {
        AppError::rule("outside_territory", "the point is outside the city's territory")
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(m) => AppError::invalid(m),
            StoreError::Overloaded => AppError::Overloaded,
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Backend(m) => AppError::Internal(m),
        }
    }
}

impl From<CaseError> for AppError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::Forbidden { .. } => AppError::InvalidTransition(e.to_string()),
            CaseError::Invalid { .. } => AppError::invalid(e.to_string()),
            CaseError::DateOutOfRange { .. } => AppError::DateOutOfRange(e.to_string()),
        }
    }
}

impl From<crate::vault::VaultError> for AppError {
    fn from(e: crate::vault::VaultError) -> Self {
        AppError::internal(e)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::internal(e)
    }
}
