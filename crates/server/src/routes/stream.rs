//! `GET /api/v1/stream`: the live feed as Server-Sent Events, each change a
//! case visible to the caller, resumable with `Last-Event-ID`.
//!
//! Event types: `case` (a case was reported or acted on; the data is the
//! change), `incident` (an incident was opened, grew or was reviewed; seen
//! by those who may read incidents in its territory), `reset` (the requested position is no longer kept: reload the
//! view, then keep following) and `lagged` (this connection fell behind;
//! the stream ends and the client reconnects with its `Last-Event-ID`,
//! which browsers' `EventSource` does by itself). Nothing is skipped
//! silently.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use citygrid_app::feed::{FeedHub, Next, Watcher};
use citygrid_domain::access::{CaseFacts, Operation, Principal, Scope, authorize};
use citygrid_store::{FeedItem, Store};
use futures_util::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

/// Where to resume, for clients that cannot send `Last-Event-ID`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Resume after this event number (the `Last-Event-ID` header wins).
    last_event_id: Option<u64>,
}

/// The live feed of case and incident changes within the caller's scope.
#[utoipa::path(get, path = "/api/v1/stream", tag = "stream", params(StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event number")),
    responses((status = 200, content_type = "text/event-stream",
        description = "`case` and `incident` events (data: the change), `reset`, `lagged`")))]
pub async fn stream<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    app.authorize(&caller.principal, caller.ip, Operation::ReadCase, &Scope::Global, "stream").await?;
    let after =
        match headers.get("last-event-id") {
            Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
                ApiError::bad_request("invalid_last_event_id", "Last-Event-ID must be an event number")
            })?),
            None => q.last_event_id,
        };
    let hub = app.feed_hub().await?;
    let watcher = hub.watch(Arc::clone(app.core()), after);
    let state = Watching { watcher: Some(watcher), who: caller.principal, _hub: hub };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        let event = s.next_visible().await?;
        Some((Ok(event), s))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One connection's watcher and whose eyes it watches with.
struct Watching<S> {
    /// `None` once the stream has ended.
    watcher: Option<Watcher<S>>,
    who: Principal,
    /// Keeps the hub (and its poller) alive while anyone watches.
    _hub: Arc<FeedHub>,
}

impl<S: Store> Watching<S> {
    /// The next event this caller may see, or `None` when the stream ends.
    async fn next_visible(&mut self) -> Option<Event> {
        let watcher = self.watcher.as_mut()?;
        loop {
            let next = match watcher.next().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "live feed watcher failed");
                    let last = watcher.position();
                    self.watcher = None;
                    return Some(lagged(last));
                }
            };
            match next {
                Next::Event(e) => match &e.item {
                    FeedItem::Case(c) => {
                        let mut departments: Vec<String> = c.assists.clone();
                        departments.extend(c.department.clone());
                        let facts = CaseFacts {
                            territory: &c.territory,
                            reporter: &c.reporter,
                            department: c.department.as_deref(),
                            departments_ever: &departments,
                        };
                        if authorize(&self.who, Operation::ReadCase, &Scope::Case(facts)).is_err() {
                            continue;
                        }
                        let data = serde_json::json!({
                            "seq": e.seq,
                            "at": e.at,
                            "case": c.id,
                            "version": c.version,
                            "action": c.action,
                            "state": c.state,
                            "territory": c.territory,
                            "lon": c.lon,
                            "lat": c.lat,
                            "department": c.department,
                            "assists": c.assists,
                            "deadline": c.deadline,
                        });
                        return Some(Event::default().id(e.seq.to_string()).event("case").data(data.to_string()));
                    }
                    FeedItem::Incident(i) => {
                        let scope = Scope::Incident(Some(&i.territory));
                        if authorize(&self.who, Operation::ReadIncident, &scope).is_err() {
                            continue;
                        }
                        let data = serde_json::json!({
                            "seq": e.seq,
                            "at": e.at,
                            "incident": i.id,
                            "version": i.version,
                            "kind": i.kind,
                            "state": i.state,
                            "severity": i.severity,
                            "count": i.count,
                            "territory": i.territory,
                            "lon": i.lon,
                            "lat": i.lat,
                            "case": i.case,
                        });
                        return Some(Event::default().id(e.seq.to_string()).event("incident").data(data.to_string()));
                    }
                },
                Next::Reset { after, oldest } => {
                    let data = serde_json::json!({ "after": after, "oldest": oldest });
                    // The id moves the client's Last-Event-ID past the lost part.
                    let id = oldest.saturating_sub(1).to_string();
                    return Some(Event::default().id(id).event("reset").data(data.to_string()));
                }
                Next::Lagged { last } => {
                    self.watcher = None;
                    return Some(lagged(last));
                }
            }
        }
    }
}

/// The last event of a stream that fell behind.
fn lagged(last: u64) -> Event {
    let data = serde_json::json!({ "last": last, "resume": "reconnect with Last-Event-ID" });
    Event::default().event("lagged").data(data.to_string())
}
