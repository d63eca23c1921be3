//! Background work that runs once across every server process sharing a
//! store.
//!
//! A [`Job`] says what to do and how often; a [`JobRunner`], which every
//! server process starts, runs each job on its interval, but only in the
//! process that holds the job's lease. At every tick a runner asks the
//! store for the lease `job:<name>` for its holder id (random per runner)
//! until a little after the next tick ([`lease_for`]:
//! one and a half intervals), through
//! [`LeaseStore::try_lease`](citygrid_store::LeaseStore::try_lease). The
//! process that wins runs the job and, by winning again at its next tick,
//! renews the lease; the others skip the tick. A process that stops or
//! dies stops renewing, its lease expires, and at its next tick another
//! process takes the lease and the job over. A job that fails is logged as
//! a warning and tried again at the next tick.
//!
//! Leases are timed with each process's own clock, so the clocks of the
//! processes must agree to well within half an interval (NTP does), and a
//! job should finish well within half its interval: a run that outlasts its
//! lease may overlap with the next holder's.
//!
//! | job | what | default interval |
//! |---|---|---|
//! | [`checkpoint::AuditCheckpoint`] | records every audit chain's head, so that a cut-off tail is found | 5 minutes |
//! | [`feed_prune::FeedPrune`] | forgets live-feed events older than the retention (3 days) | 1 hour |
//!
//! A runner stops when it is dropped (its tasks are aborted) and when the
//! [`Core`] it runs for is dropped (it holds only a weak reference).

pub mod checkpoint;
pub mod feed_prune;
mod runner;

use std::future::Future;
use std::time::Duration;

use citygrid_store::Store;

use crate::core::Core;
use crate::error::AppResult;

pub use runner::{JobRunner, lease_for, lease_name};

/// What one run of a job did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// It did something (logged at info).
    Done(String),
    /// There was nothing to do (logged at debug).
    Idle(String),
}

/// A piece of periodic background work.
pub trait Job: Send + Sync + 'static {
    /// A short stable name: the lease is `job:<name>`.
    fn name(&self) -> &str;

    /// How often it runs.
    fn interval(&self) -> Duration;

    /// Runs it once. Called only in the process holding the job's lease.
    fn run<S: Store>(&self, core: &Core<S>) -> impl Future<Output = AppResult<JobOutcome>> + Send;
}
