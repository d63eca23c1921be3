//! The audit checkpoint: every few minutes, an `audit.checkpoint` record
//! naming every audit chain's head, so that verification
//! ([`citygrid_domain::audit::verify_trail`]) finds records cut off the end
//! of a chain before it. See the domain's `audit` module for what that
//! proves and what only an exported copy of the last checkpoint does.
//!
//! Nothing is written while the trail has not changed since the latest
//! checkpoint (whichever process wrote it): then the heads are exactly the
//! ones that checkpoint names, with its own chain's head moved on to the
//! checkpoint record itself.

use std::time::Duration;

use citygrid_domain::audit::{AuditRecord, CHECKPOINT_ACTION, ChainHead, Checkpoint};
use citygrid_store::{AuditFilter, Store};
use parking_lot::Mutex;

use super::{Job, JobOutcome};
use crate::core::{Core, now};
use crate::error::AppResult;

/// How often a checkpoint is written by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The audit checkpoint job.
#[derive(Debug)]
pub struct AuditCheckpoint {
    interval: Duration,
    /// The latest checkpoint record seen, so each run reads only newer ones.
    latest: Mutex<Option<AuditRecord>>,
}

impl Default for AuditCheckpoint {
    fn default() -> Self {
        AuditCheckpoint::every(DEFAULT_INTERVAL)
    }
}

impl AuditCheckpoint {
    /// A checkpoint every `interval`.
    pub fn every(interval: Duration) -> AuditCheckpoint {
        AuditCheckpoint { interval, latest: Mutex::new(None) }
    }

    /// The newest checkpoint record in the trail, if any.
    async fn latest<S: Store>(&self, store: &S) -> AppResult<Option<AuditRecord>> {
        let known = self.latest.lock().clone();
        let filter = AuditFilter {
            after_seq: known.as_ref().map(|r| r.seq),
            action: Some(CHECKPOINT_ACTION.to_owned()),
            resource: Some("audit".to_owned()),
            ..AuditFilter::default()
        };
        let newer = store.audit_records(filter).await?.pop();
        if newer.is_some() {
            self.latest.lock().clone_from(&newer);
        }
        Ok(newer.or(known))
    }
}

/// Whether `heads` are what the trail's heads were right after `checkpoint`
/// was written, i.e. nothing was written since.
fn unchanged_since(checkpoint: &AuditRecord, heads: &[ChainHead]) -> bool {
    let Some(Ok(cp)) = checkpoint.event.detail.as_deref().map(Checkpoint::parse) else { return false };
    let mut after: Vec<ChainHead> = cp.heads.into_iter().filter(|h| h.chain != checkpoint.chain).collect();
    after.push(checkpoint.head());
    Checkpoint::of(&after).heads == heads
}

impl Job for AuditCheckpoint {
    fn name(&self) -> &str {
        "audit-checkpoint"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn run<S: Store>(&self, core: &Core<S>) -> AppResult<JobOutcome> {
        let heads = Checkpoint::of(&core.store.audit_heads().await?);
        if heads.heads.is_empty() {
            return Ok(JobOutcome::Idle("the audit trail is empty: no checkpoint".into()));
        }
        if let Some(latest) = self.latest(&core.store).await?
            && unchanged_since(&latest, &heads.heads)
        {
            return Ok(JobOutcome::Idle(format!(
                "the audit trail has not changed since the checkpoint at seq {}",
                latest.seq
            )));
        }
        let detail = heads.detail();
        core.store.append_audit(heads.event(now())).await?;
        // The hashes go to the log too, so that a copy exists off the machine.
        Ok(JobOutcome::Done(format!("audit checkpoint written: {detail}")))
    }
}
