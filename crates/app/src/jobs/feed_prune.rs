//! Forgets live-feed events older than the retention: the feed is for
//! watchers catching up after a dropped connection, not a history (the
//! timelines and the audit trail are that).

use std::time::Duration;

use citygrid_domain::audit::AuditEvent;
use citygrid_store::Store;

use super::{Job, JobOutcome};
use crate::core::{Core, now};
use crate::error::AppResult;

/// How long events are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3 * 24 * 3600);

/// The feed-pruning job.
#[derive(Debug, Clone)]
pub struct FeedPrune {
    /// How long events are kept.
    pub retention: Duration,
    /// How often it runs.
    pub every: Duration,
}

impl Default for FeedPrune {
    fn default() -> Self {
        FeedPrune { retention: DEFAULT_RETENTION, every: Duration::from_secs(3600) }
    }
}

impl Job for FeedPrune {
    fn name(&self) -> &str {
        "feed-prune"
    }

    fn interval(&self) -> Duration {
        self.every
    }

    async fn run<S: Store>(&self, core: &Core<S>) -> AppResult<JobOutcome> {
        let at = now();
        let keep = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(3));
        let before = at - keep;
        // Look first, so that a quiet feed costs no write and no audit record.
        let Some((oldest, _)) = core.store.feed_bounds().await? else {
            return Ok(JobOutcome::Idle("the feed is empty".into()));
        };
        let first = core.store.feed_after(oldest.saturating_sub(1), 1).await?;
        if first.first().is_none_or(|e| e.at >= before) {
            return Ok(JobOutcome::Idle(format!("no feed event before {before}")));
        }
        let mut event = AuditEvent::ok(at, "system", "system", "feed.prune", "feed");
        event.detail = Some(format!("before {}", before.to_rfc3339()));
        let n = core.store.prune_feed(before, event).await?;
        Ok(JobOutcome::Done(format!("forgot {n} feed events before {before}")))
    }
}
