//! [`JobRunner`]: runs jobs on their intervals, each in whichever process
//! holds its lease.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use citygrid_store::Store;
use tokio::task::JoinHandle;

use super::{Job, JobOutcome};
use crate::core::Core;

/// The lease a job runs under: `job:<name>`.
pub fn lease_name(job: &str) -> String {
    format!("job:{job}")
}

/// How long a lease taken at one tick lasts: one and a half intervals, so
/// the holder renews it at its next tick before it runs out, and others
/// take over within about two intervals once the holder stops.
pub fn lease_for(interval: Duration) -> Duration {
    interval.saturating_add(interval / 2)
}

/// Runs [`Job`]s, one task each, for one process. Dropping it stops them.
pub struct JobRunner<S> {
    core: Weak<Core<S>>,
    holder: String,
    tasks: Vec<JoinHandle<()>>,
}

impl<S> std::fmt::Debug for JobRunner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner").field("holder", &self.holder).field("jobs", &self.tasks.len()).finish()
    }
}

impl<S: Store> JobRunner<S> {
    /// A runner for `core` with a random holder id (process id and 64
    /// random bits), running nothing yet.
    pub fn new(core: &Arc<Core<S>>) -> JobRunner<S> {
        JobRunner::with_holder(core, format!("{}-{:016x}", std::process::id(), rand::random::<u64>()))
    }

    /// A runner for `core` holding leases as `holder`, which must be unique
    /// among the processes sharing the store.
    pub fn with_holder(core: &Arc<Core<S>>, holder: impl Into<String>) -> JobRunner<S> {
        JobRunner { core: Arc::downgrade(core), holder: holder.into(), tasks: vec![] }
    }

    /// The holder id its leases are taken for.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Starts running `job` on its interval, the first tick at once. Must be
    /// called inside a Tokio runtime.
    pub fn spawn<J: Job>(&mut self, job: J) {
        let (core, holder) = (Weak::clone(&self.core), self.holder.clone());
        tracing::info!(job = job.name(), holder = %holder, every_s = job.interval().as_secs_f64(), "job scheduled");
        self.tasks.push(tokio::spawn(run_forever(core, holder, job)));
    }
}

impl<S> Drop for JobRunner<S> {
    fn drop(&mut self) {
        // The leases lapse by themselves; another process takes over then.
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// `now` plus `d`, saturating.
fn plus(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(d).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

async fn run_forever<S: Store, J: Job>(core: Weak<Core<S>>, holder: String, job: J) {
    let interval = job.interval().max(Duration::from_millis(1));
    let lease = lease_name(job.name());
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(core) = core.upgrade() else { return };
        let now = Utc::now();
        match core.store.try_lease(&lease, &holder, now, plus(now, lease_for(interval))).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(job = job.name(), "another process holds the job's lease");
                continue;
            }
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "cannot take the job's lease; trying again next time");
                continue;
            }
        }
        let started = std::time::Instant::now();
        let took = || started.elapsed().as_secs_f64();
        match job.run(&core).await {
            Ok(JobOutcome::Done(what)) => tracing::info!(job = job.name(), took_s = took(), "{what}"),
            Ok(JobOutcome::Idle(why)) => tracing::debug!(job = job.name(), took_s = took(), "{why}"),
            Err(e) => tracing::warn!(job = job.name(), error = %e, "job failed; trying again next time"),
        }
    }
}
