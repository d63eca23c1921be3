//! Leases, so that background work runs in one process at a time however
//! many share the store.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::Result;

/// Named, expiring leases.
pub trait LeaseStore: Send + Sync {
    /// Takes the lease `name` for `holder` until `until`, or renews it if
    /// `holder` has it; `false` while another holder's lease has not expired
    /// at `now`.
    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Gives the lease up early if `holder` has it.
    fn release_lease(&self, name: &str, holder: &str) -> impl Future<Output = Result<()>> + Send;
}
