//! One reference-data change (territory import, zone edit) at a time, across
//! every process that shares the store: a local lock orders this process's
//! own changes, a lease in the store orders the processes. Inside the turn
//! the current state is read from the store, not from this process's
//! snapshot, which may not yet hold a change another process just made.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use citygrid_store::Store;

use crate::core::Core;
use crate::error::{AppError, AppResult};

/// The lease every reference-data change holds.
const LEASE: &str = "reference-data";
/// Longest a turn may hold the lease if its process dies mid-change.
const HOLD: Duration = Duration::from_secs(120);
/// Longest a change waits for another process's turn before giving up.
const WAIT: Duration = Duration::from_secs(15);

/// This process's name as a lease holder: random, fixed for its lifetime.
pub fn process_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{:016x}-{}", rand::random::<u64>(), std::process::id()))
}

impl<S: Store> Core<S> {
    /// Runs `work` in the reference-data turn; a busy turn that does not
    /// come free within seconds is a [`AppError::Conflict`] to retry.
    pub(crate) async fn reference_turn<T>(&self, work: impl AsyncFnOnce() -> AppResult<T>) -> AppResult<T> {
        let _local = self.reference_lock.lock().await;
        let started = tokio::time::Instant::now();
        loop {
            let now = Utc::now();
            let until = now + chrono::Duration::from_std(HOLD).unwrap_or(chrono::Duration::MAX);
            if self.store.try_lease(LEASE, process_id(), now, until).await? {
                break;
            }
            if started.elapsed() > WAIT {
                return Err(AppError::Conflict(
                    "another reference-data change is running on another server; retry shortly".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let result = work().await;
        // A failed release only delays the next change until the lease expires.
        if let Err(e) = self.store.release_lease(LEASE, process_id()).await {
            tracing::warn!(error = %e, "could not release the reference-data lease");
        }
        result
    }
}
