//! The live feed's table. Numbers come from a sequence drawn inside each
//! writing transaction, so with several writers a number can commit after
//! a higher one; the contract leaves ordering gaps to the reader.

use chrono::{DateTime, Utc};
use citygrid_store::{CaseChange, FeedEvent, FeedItem};
use tokio_postgres::GenericClient;

use crate::error::{Fail, json_err, to_json};

/// Records a case change.
pub(crate) const INSERT: &str = "INSERT INTO feed (at, body) VALUES ($1, $2)";

/// The stored body of a case change.
pub(crate) fn body(change: CaseChange) -> Result<String, Fail> {
    Ok(to_json(&FeedItem::Case(change))?)
}

/// Records a case change in the caller's transaction.
pub(crate) async fn record<C: GenericClient + Sync>(c: &C, at: DateTime<Utc>, change: CaseChange) -> Result<(), Fail> {
    record_item(c, at, &FeedItem::Case(change)).await
}

/// Records what changed in the caller's transaction.
pub(crate) async fn record_item<C: GenericClient + Sync>(
    c: &C,
    at: DateTime<Utc>,
    item: &FeedItem,
) -> Result<(), Fail> {
    c.execute(INSERT, &[&at, &to_json(item)?]).await?;
    Ok(())
}

/// Up to `limit` events above `after`, in number order.
pub(crate) async fn after<C: GenericClient + Sync>(c: &C, after: u64, limit: usize) -> Result<Vec<FeedEvent>, Fail> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows =
        c.query("SELECT seq, at, body FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &limit]).await?;
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        events.push(FeedEvent {
            seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            at: r.get(1),
            item: serde_json::from_str(r.get::<_, &str>(2)).map_err(json_err)?,
        });
    }
    Ok(events)
}

/// The lowest and highest number kept.
pub(crate) async fn bounds<C: GenericClient + Sync>(c: &C) -> Result<Option<(u64, u64)>, Fail> {
    let r = c.query_one("SELECT MIN(seq), MAX(seq) FROM feed", &[]).await?;
    Ok(match (r.get::<_, Option<i64>>(0), r.get::<_, Option<i64>>(1)) {
        (Some(lo), Some(hi)) => Some((u64::try_from(lo).unwrap_or(0), u64::try_from(hi).unwrap_or(0))),
        _ => None,
    })
}

/// Deletes events before `before`; returns how many.
pub(crate) async fn prune<C: GenericClient + Sync>(c: &C, before: DateTime<Utc>) -> Result<u64, Fail> {
    Ok(c.execute("DELETE FROM feed WHERE at < $1", &[&before]).await?)
}
