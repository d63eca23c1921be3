//! The live feed's hub: one poller per process turns the store's numbered
//! changes ([`FeedStore`]) into an ordered stream that any number of
//! watchers (the HTTP event stream, later others) follow, each able to
//! resume after a dropped connection from the last number it saw.
//!
//! # Order without loss
//!
//! Numbers are drawn inside the writing transactions, so on a store with
//! several writers a number can commit after a higher one. The poller
//! therefore never passes a gap at once: events above a missing number are
//! held back until the number appears or [`GAP_WAIT`] has passed (a rolled
//! back write leaves a number that never comes). Every watcher thus sees
//! every event in number order; an event whose transaction took longer than
//! [`GAP_WAIT`] to commit is still stored and is found by any watcher that
//! resumes from before it, but a live watcher gets it late or not at all —
//! [`GAP_WAIT`] is far above any commit this product makes.
//!
//! # Watchers that fall behind
//!
//! Live events go through one bounded broadcast channel. A watcher too slow
//! to keep up is not skipped silently: its stream ends with
//! [`Next::Lagged`], telling it the last number it got, and it resumes from
//! there, catching up from the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use citygrid_store::{FeedEvent, Store};
use tokio::sync::broadcast;

use crate::core::Core;
use crate::error::AppResult;

/// How long the poller waits for a missing number before passing it.
pub const GAP_WAIT: Duration = Duration::from_secs(2);

/// How often the poller asks the store for new events.
pub const POLL: Duration = Duration::from_millis(200);

/// Live events buffered for watchers before a slow one counts as behind.
const CAPACITY: usize = 4096;

/// Events read from the store per query.
const PAGE: usize = 500;

/// The hub: start it once per process, then [`FeedHub::watch`].
#[derive(Debug)]
pub struct FeedHub {
    live: broadcast::Sender<Arc<FeedEvent>>,
    /// The highest number passed to live watchers.
    passed: parking_lot::Mutex<u64>,
    poller: tokio::task::AbortHandle,
}

impl Drop for FeedHub {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// Where the poller stands.
#[derive(Debug, Default)]
struct Cursor {
    /// The highest number passed on.
    passed: u64,
    /// Since when the number after `passed` has been missing while a
    /// higher one was there.
    gap_since: Option<Instant>,
}

impl Cursor {
    /// Which of `events` (numbered above `passed`, ascending) may be passed
    /// on now; moves the cursor over them.
    fn admit(&mut self, events: Vec<FeedEvent>, now: Instant) -> Vec<FeedEvent> {
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            if e.seq != self.passed + 1 {
                let since = *self.gap_since.get_or_insert(now);
                if now.duration_since(since) < GAP_WAIT {
                    break;
                }
            }
            self.gap_since = None;
            self.passed = e.seq;
            out.push(e);
        }
        out
    }
}

impl FeedHub {
    /// Starts polling `store` from its newest event on.
    pub async fn start<S: Store>(core: Arc<Core<S>>) -> AppResult<Arc<FeedHub>> {
        let head = core.store.feed_bounds().await?.map_or(0, |(_, hi)| hi);
        let (live, _) = broadcast::channel(CAPACITY);
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<FeedHub>| {
            let weak = weak.clone();
            let poller = tokio::spawn(async move {
                let mut cursor = Cursor { passed: head, gap_since: None };
                loop {
                    tokio::time::sleep(POLL).await;
                    let Some(hub) = weak.upgrade() else { return };
                    match core.store.feed_after(cursor.passed, PAGE).await {
                        Ok(events) => {
                            for e in cursor.admit(events, Instant::now()) {
                                *hub.passed.lock() = e.seq;
                                // No receiver is no error: nobody watches.
                                let _ = hub.live.send(Arc::new(e));
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "the live feed cannot read the store; retrying"),
                    }
                }
            })
            .abort_handle();
            FeedHub { live, passed: parking_lot::Mutex::new(head), poller }
        }))
    }

    /// A watcher from now on, or resuming after number `after`.
    pub fn watch<S: Store>(self: &Arc<FeedHub>, core: Arc<Core<S>>, after: Option<u64>) -> Watcher<S> {
        // Subscribe before reading where live delivery stands, so that
        // nothing falls between catching up and following.
        let live = self.live.subscribe();
        let passed = *self.passed.lock();
        Watcher {
            core,
            live,
            cursor: after.unwrap_or(passed),
            catch_up_to: passed,
            backlog: Default::default(),
            started: after.is_none(),
        }
    }
}

/// What a watcher gets next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// An event, in number order.
    Event(Arc<FeedEvent>),
    /// The watcher asked to resume after `after`, but the events after it
    /// up to `oldest - 1` are no longer kept (or `after` is a number this
    /// store never gave): its view must be reloaded. Events from `oldest`
    /// on follow.
    Reset {
        /// The number it asked to resume after.
        after: u64,
        /// The oldest number still kept.
        oldest: u64,
    },
    /// The watcher fell too far behind; it should resume after `last`.
    /// Nothing follows.
    Lagged {
        /// The last number it got.
        last: u64,
    },
}

/// One watcher's position: catching up from the store, then following the
/// hub's live events.
pub struct Watcher<S> {
    core: Arc<Core<S>>,
    live: broadcast::Receiver<Arc<FeedEvent>>,
    /// The last number handed out.
    cursor: u64,
    /// Until this number, events come from the store.
    catch_up_to: u64,
    backlog: std::collections::VecDeque<FeedEvent>,
    /// Whether the check for pruned events was made.
    started: bool,
}

impl<S: Store> Watcher<S> {
    /// The number of the last event handed out.
    pub fn position(&self) -> u64 {
        self.cursor
    }

    /// The next event (waiting for one), a reset, or the news that this
    /// watcher fell behind (after which it returns `Lagged` again).
    pub async fn next(&mut self) -> AppResult<Next> {
        if !self.started {
            self.started = true;
            let bounds = self.core.store.feed_bounds().await?;
            let newest = bounds.map_or(self.catch_up_to, |(_, hi)| hi.max(self.catch_up_to));
            let after = self.cursor;
            if after > newest {
                // A number this store never gave (another installation, a
                // restored backup): the watcher's view is of something else.
                self.cursor = self.catch_up_to;
                return Ok(Next::Reset { after, oldest: self.cursor + 1 });
            }
            if let Some((oldest, _)) = bounds
                && oldest > after + 1
            {
                self.cursor = oldest - 1;
                return Ok(Next::Reset { after, oldest });
            }
        }
        while self.cursor < self.catch_up_to {
            if let Some(e) = self.backlog.pop_front() {
                self.cursor = e.seq;
                return Ok(Next::Event(Arc::new(e)));
            }
            let page = self.core.store.feed_after(self.cursor, PAGE).await?;
            let page: Vec<_> = page.into_iter().filter(|e| e.seq <= self.catch_up_to).collect();
            if page.is_empty() {
                // The rest up to the live position were gaps.
                self.cursor = self.catch_up_to;
                break;
            }
            self.backlog.extend(page);
        }
        loop {
            match self.live.recv().await {
                Ok(e) if e.seq <= self.cursor => continue,
                Ok(e) => {
                    self.cursor = e.seq;
                    return Ok(Next::Event(e));
                }
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => {
                    return Ok(Next::Lagged { last: self.cursor });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::{TimeZone, Utc};
    use citygrid_domain::UnitCode;
    use citygrid_domain::case::{ActionKind, CaseState};
    use citygrid_store::{CaseChange, FeedItem};

    use super::*;

    fn event(seq: u64) -> FeedEvent {
        FeedEvent {
            seq,
            at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            item: FeedItem::Case(CaseChange {
                id: seq as i64,
                version: 1,
                action: ActionKind::Report,
                state: CaseState::Reported,
                territory: UnitCode::parse("340202").unwrap(),
                lon: 118.4,
                lat: 31.3,
                reporter: "u".into(),
                department: None,
                assists: vec![],
                deadline: None,
            }),
        }
    }

    fn seqs(v: &[FeedEvent]) -> Vec<u64> {
        v.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_gap_holds_back_what_follows_until_filled_or_given_up() {
        let t = Instant::now();
        let mut c = Cursor { passed: 10, gap_since: None };
        assert_eq!(seqs(&c.admit(vec![event(11), event(13), event(14)], t)), vec![11]);
        assert_eq!(c.passed, 11);
        // 12 arrives late: everything goes, in order.
        assert_eq!(
            seqs(&c.admit(vec![event(12), event(13), event(14)], t + Duration::from_millis(300))),
            vec![12, 13, 14]
        );
        assert_eq!(c.gap_since, None);
        // 15 never comes (rolled back): 16 waits, then passes.
        assert!(c.admit(vec![event(16)], t + Duration::from_secs(1)).is_empty());
        assert!(c.admit(vec![event(16)], t + Duration::from_secs(2)).is_empty());
        assert_eq!(seqs(&c.admit(vec![event(16), event(17)], t + Duration::from_secs(3) + GAP_WAIT)), vec![16, 17]);
        assert_eq!(c.passed, 17);
    }
}
