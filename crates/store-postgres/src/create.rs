//! Case creation, the busiest write, in two pipelined round trips.
//!
//! tokio-postgres sends a query when its future is first polled, so futures
//! joined together go out back to back on one connection and PostgreSQL
//! answers them in order. Creation uses that: `BEGIN`, the duplicate
//! search, the case id and the audit chain head go out together; then the
//! case row, its report, its contact, its feed event, its audit record and `COMMIT`. Every
//! statement is prepared (from the connection's cache) before the first is
//! sent, so no statement waits for a parse in between and `COMMIT` can never
//! overtake one.
//!
//! If a statement fails on the server, the transaction is aborted and the
//! `COMMIT` already on its way rolls it back. If one fails before it was
//! sent (a parameter that does not encode), `COMMIT` is not sent at all:
//! every statement future records its failure before the `COMMIT` future
//! is first polled. Either way the caller sends `ROLLBACK` afterwards.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use citygrid_domain::audit::AuditEvent;
use citygrid_domain::case::{Case, TimelineEntry};
use citygrid_store::{CaseChange, CreatedCase, NearbyQuery, SealedContact, StoreError};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::Statement;

use crate::audit::{self, CHAINS};
use crate::error::{Fail, to_json};
use crate::feed;
use crate::sql::{self, ProjectionArgs};

/// The statements of one creation, prepared on the connection.
struct Statements {
    next_id: Statement,
    free_head: Statement,
    insert_case: Statement,
    insert_entry: Statement,
    insert_departments: Statement,
    insert_contact: Statement,
    link: Statement,
    feed: Statement,
}

impl Statements {
    async fn prepare(c: &ClientWrapper) -> Result<Statements, tokio_postgres::Error> {
        let (next_id, free_head, insert_case, insert_entry, insert_departments, insert_contact, link, feed) = tokio::try_join!(
            c.prepare_cached(sql::NEXT_CASE_ID),
            c.prepare_cached(&audit::FREE_HEAD),
            c.prepare_cached(sql::INSERT_CASE),
            c.prepare_cached(sql::INSERT_ENTRY),
            c.prepare_cached(sql::INSERT_DEPARTMENTS),
            c.prepare_cached(sql::INSERT_CONTACT),
            c.prepare_cached(&audit::LINK),
            c.prepare_cached(feed::INSERT),
        )?;
        Ok(Statements { next_id, free_head, insert_case, insert_entry, insert_departments, insert_contact, link, feed })
    }
}

/// The chain a creation prefers: successive creations of this process
/// spread over the chains, so concurrent ones rarely meet on a head.
pub(crate) fn spread() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    (NEXT.fetch_add(1, Ordering::Relaxed).wrapping_add(std::process::id())) % CHAINS
}

/// Creates `case` (its id drawn here) with its report entry, contact and
/// audit record in one transaction on `c`, committed when this returns `Ok`.
/// On `Err` the transaction did not commit and `c` is out of it (or closed).
pub(crate) async fn create_case(
    c: &ClientWrapper,
    case: &Case,
    report: &TimelineEntry,
    contact: Option<&SealedContact>,
    nearby: NearbyQuery,
    audit: &AuditEvent,
) -> Result<CreatedCase, Fail> {
    let outcome = pipelined(c, case, report, contact, nearby, audit).await;
    if outcome.is_err() {
        // Ends whatever the pipeline left open; a warning if `COMMIT`
        // already rolled it back. A closed connection fails here too and
        // the pool discards it.
        let _ = c.batch_execute("ROLLBACK").await;
    }
    outcome
}

async fn pipelined(
    c: &ClientWrapper,
    case: &Case,
    report: &TimelineEntry,
    contact: Option<&SealedContact>,
    nearby: NearbyQuery,
    audit: &AuditEvent,
) -> Result<CreatedCase, Fail> {
    let st = Statements::prepare(c).await?;

    // First round trip: open the transaction and read what the writes need.
    let preferred = spread() as i32;
    let head = async {
        match c.query_opt(&st.free_head, &[&preferred]).await? {
            Some(row) => Ok(row),
            // Every head is locked: wait for the preferred one.
            None => c.query_one(audit::PREFERRED_HEAD, &[&preferred]).await,
        }
    };
    let (_, near, id, head) = tokio::try_join!(
        async { c.batch_execute("BEGIN").await.map_err(Fail::from) },
        sql::nearby(c, case, nearby),
        async { Ok::<_, Fail>(c.query_one(&st.next_id, &[]).await?.get::<_, i64>(0)) },
        async { head.await.map_err(Fail::from) },
    )?;
    let head = audit::head_of(&head);

    let mut case = case.clone();
    case.id = id;
    let mut entry = report.clone();
    entry.seq = 1;
    let mut event = audit.clone();
    event.resource = format!("case/{id}");
    let (_, link) = audit::linked(&event, &head)?;
    let row = ProjectionArgs::of(&case)?;
    let entry_body = to_json(&entry)?;
    let seq = 1i64;
    let action = entry.action.as_str();
    let departments = sql::entry_departments(&entry);
    let change = feed::body(CaseChange::of(&case, &entry))?;

    // Second round trip: every write, then `COMMIT`.
    let failed = AtomicBool::new(false);
    let watch = |r: Result<u64, tokio_postgres::Error>| {
        if r.is_err() {
            failed.store(true, Ordering::SeqCst);
        }
        r
    };
    let (projection, timeline, linked, contact, feed_row, audit_row, commit) = tokio::join!(
        async { watch(c.execute(&st.insert_case, &row.params()).await) },
        async { watch(c.execute(&st.insert_entry, &[&id, &seq, &entry.at, &action, &entry_body]).await) },
        async {
            if departments.is_empty() {
                return Ok(0);
            }
            watch(c.execute(&st.insert_departments, &[&departments, &id]).await)
        },
        async {
            match contact {
                Some(sc) => {
                    watch(c.execute(&st.insert_contact, &[&id, &sc.ciphertext, &sc.phone_index, &sc.id_index]).await)
                }
                None => Ok(0),
            }
        },
        async { watch(c.execute(&st.feed, &[&entry.at, &change]).await) },
        async {
            let r = c.query_one(&st.link, &link.params()).await;
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            r
        },
        async {
            if failed.load(Ordering::SeqCst) {
                return Err(Fail::Store(StoreError::Backend(
                    "a statement of the case creation failed before it was sent; not committing".into(),
                )));
            }
            c.batch_execute("COMMIT").await.map_err(Fail::from)
        },
    );
    // A server-side failure of any write aborted the transaction, and the
    // `COMMIT` answered for a rollback: report the write's error first.
    projection?;
    timeline?;
    linked?;
    contact?;
    feed_row?;
    audit_row?;
    commit?;
    Ok(CreatedCase { case, entry, nearby: near })
}
