//! The live feed's table: one row per case change, numbered by the single
//! writer in commit order.

use chrono::{DateTime, Utc};
use citygrid_store::{CaseChange, FeedEvent, FeedItem, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::sql::{backend, from_ms, json_err, ms, to_json};

/// Records a case change in the writer's transaction.
pub(crate) fn record(conn: &Connection, at: DateTime<Utc>, change: CaseChange) -> Result<(), StoreError> {
    record_item(conn, at, &FeedItem::Case(change))
}

/// Records what changed in the writer's transaction.
pub(crate) fn record_item(conn: &Connection, at: DateTime<Utc>, item: &FeedItem) -> Result<(), StoreError> {
    let body = to_json(item)?;
    conn.prepare_cached("INSERT INTO feed (at, body) VALUES (?1, ?2)")
        .and_then(|mut st| st.execute(params![ms(at), body]))
        .map_err(backend)?;
    Ok(())
}

/// Up to `limit` events above `after`, in order.
pub(crate) fn after(conn: &Connection, after: u64, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st =
        conn.prepare_cached("SELECT seq, at, body FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2").map_err(backend)?;
    let rows = st
        .query_map(params![after, limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
        .map_err(backend)?;
    let mut events = vec![];
    for row in rows {
        let (seq, at, body) = row.map_err(backend)?;
        events.push(FeedEvent {
            seq: u64::try_from(seq).unwrap_or(0),
            at: from_ms("feed.at", at)?,
            item: serde_json::from_str(&body).map_err(json_err)?,
        });
    }
    Ok(events)
}

/// The lowest and highest number kept.
pub(crate) fn bounds(conn: &Connection) -> Result<Option<(u64, u64)>, StoreError> {
    let row: Option<(Option<i64>, Option<i64>)> = conn
        .query_row("SELECT MIN(seq), MAX(seq) FROM feed", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)?;
    Ok(match row {
        Some((Some(lo), Some(hi))) => Some((u64::try_from(lo).unwrap_or(0), u64::try_from(hi).unwrap_or(0))),
        _ => None,
    })
}

/// Deletes events before `before`; returns how many.
pub(crate) fn prune(conn: &Connection, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let n = conn.execute("DELETE FROM feed WHERE at < ?1", [ms(before)]).map_err(backend)?;
    Ok(n as u64)
}
