//! The one error type every backend returns.

use thiserror::Error;

/// What can go wrong in a store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A concurrent change got there first, or a unique key is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request refers to something that makes it impossible.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The writer's queue is full; the caller should back off and retry.
    #[error("the store is overloaded; retry later")]
    Overloaded,
    /// The database cannot be reached right now (restarting, network);
    /// the same request may succeed once it is back.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error("storage backend: {0}")]
    Backend(String),
}
