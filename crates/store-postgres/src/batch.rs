//! Case creation in batches: many concurrent creations, one transaction.
//!
//! Every commit costs a WAL flush and a transaction's worth of work on a
//! server that, on small machines, shares the CPU with the application. So,
//! like the embedded store's writer, concurrent creations queue here, and a
//! few workers each take whatever is waiting (up to
//! [`crate::PgOptions::create_batch`]) and create it all in one transaction
//! in two pipelined round trips:
//!
//! 1. `BEGIN`, one duplicate search for the whole batch, the case ids (one
//!    `nextval` per job, given out ascending in job order), a free audit
//!    chain head (locked as `create.rs` does) and then, with the head held,
//!    the records' trail numbers.
//! 2. One multi-row insert per table (`unnest` of arrays): cases, report
//!    entries, departments, contacts, feed events in job order, and the
//!    audit records chained one after another on that head (hashed here, in
//!    job order) with the head moved once; then `COMMIT`.
//!
//! The results are those of creating the jobs one after another: a later
//! job's duplicate hints include the earlier jobs of its batch, chosen with
//! the filters and the metric of [`sql::nearby`].
//!
//! **Failures.** When the batch certainly did not commit (a statement failed
//! on the server, or `COMMIT` was never sent), every job is answered
//! [`Refusal::Alone`] and its caller runs it by itself through `create.rs`,
//! with the usual retries: a bad job gets its own error and the others
//! still commit. When the commit's fate is unknown (the connection broke
//! once `COMMIT` may have gone out), running the jobs again could create a
//! case twice, so every job gets the error instead.
//!
//! **Several processes** each batch their own creations: ids come from the
//! sequence and heads are taken with `SKIP LOCKED`, as for single creations.
//!
//! **Back-pressure.** The queue is bounded ([`crate::PgOptions::create_queue`]);
//! a full queue is answered at once with [`StoreError::Overloaded`].
//!
//! A worker keeps its pooled connection from batch to batch while creations
//! keep coming, and gives it back when the queue is empty.
//! Dropping the store ([`Batcher`]) stops the workers.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use citygrid_domain::audit::{AuditEvent, AuditRecord};
use citygrid_domain::case::{Case, CaseId, TimelineEntry};
use citygrid_store::{CaseChange, CreatedCase, NearbyQuery, SealedContact, StoreError};
use deadpool_postgres::{ClientWrapper, Object, Pool};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::audit;
use crate::create;
use crate::error::{self, Fail, to_json};
use crate::feed;
use crate::replica::Routing;
use crate::sql::{self, CaseColumns, ProjectionArgs};

/// One creation's inputs, as `CaseStore::create_case` received them.
pub(crate) struct Request {
    /// The new case (its id is drawn when it is created).
    pub(crate) case: Case,
    /// Its report, the first timeline entry.
    pub(crate) report: TimelineEntry,
    /// The reporter's sealed contact.
    pub(crate) contact: Option<SealedContact>,
    /// The duplicate search asked for.
    pub(crate) nearby: NearbyQuery,
    /// Its audit event (the resource is set to the new id).
    pub(crate) audit: AuditEvent,
}

/// Why a batch did not create a request.
pub(crate) enum Refusal {
    /// Its batch certainly did not commit: run it alone (`create.rs`).
    Alone(Box<Request>),
    /// The caller's answer.
    Failed(StoreError),
}

/// A queued request and where its answer goes.
struct Job {
    request: Request,
    reply: oneshot::Sender<Result<CreatedCase, Refusal>>,
}

/// The queue of creations and the workers emptying it.
pub(crate) struct Batcher {
    tx: mpsc::Sender<Job>,
    workers: Vec<tokio::task::AbortHandle>,
}

impl Drop for Batcher {
    fn drop(&mut self) {
        // No request can be waiting (each borrows the store), but a batch of
        // cancelled requests may still run: stop it too.
        for w in &self.workers {
            w.abort();
        }
    }
}

impl Batcher {
    /// Starts `workers` workers on `pool`, each creating up to `batch`
    /// requests per transaction, behind a queue of `queue` requests.
    pub(crate) fn start(
        pool: &Pool,
        routing: Option<&Arc<Routing>>,
        workers: usize,
        batch: usize,
        queue: usize,
    ) -> Batcher {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..workers.max(1))
            .map(|_| tokio::spawn(work(rx.clone(), pool.clone(), routing.cloned(), batch.max(1))).abort_handle())
            .collect();
        Batcher { tx, workers }
    }

    /// Creates `request` in the next batch, answering once it committed.
    pub(crate) async fn create(&self, request: Request) -> Result<CreatedCase, Refusal> {
        let (reply, rx) = oneshot::channel();
        self.tx.try_send(Job { request, reply }).map_err(|e| match e {
            TrySendError::Full(_) => Refusal::Failed(StoreError::Overloaded),
            TrySendError::Closed(job) => Refusal::Alone(Box::new(job.request)),
        })?;
        // A worker stopped mid-batch may or may not have committed it.
        rx.await.map_err(|_| Refusal::Failed(StoreError::Backend("the creation worker stopped".into())))?
    }
}

/// A worker: waits for requests, takes every one queued (up to `max`) and
/// creates them together, until the queue closes.
async fn work(rx: Arc<Mutex<mpsc::Receiver<Job>>>, pool: Pool, routing: Option<Arc<Routing>>, max: usize) {
    let mut held: Option<Object> = None;
    let mut jobs = Vec::with_capacity(max);
    loop {
        if let Some(c) = held.take() {
            // Keep the connection only while there is more to do: an idle
            // worker must not keep one the pool could lend (with a small
            // pool, a creation run alone may need it). A locked queue means
            // another worker is waiting there: nothing is queued.
            if let Ok(mut queue) = rx.try_lock() {
                while jobs.len() < max {
                    match queue.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
            }
            if !jobs.is_empty() {
                held = Some(c);
            }
        }
        // One idle worker waits on the queue at a time; the others are busy
        // with their batches and take the next ones as they come back.
        if jobs.is_empty() && rx.lock().await.recv_many(&mut jobs, max).await == 0 {
            break;
        }
        let client = match held.take() {
            Some(c) if !c.is_closed() => c,
            _ => match pool.get().await {
                Ok(c) => c,
                Err(e) => {
                    let e = error::pool(e);
                    for job in jobs.drain(..) {
                        let _ = job.reply.send(Err(Refusal::Failed(copy(&e))));
                    }
                    continue;
                }
            },
        };
        let started = Instant::now();
        let requests: Vec<&Request> = jobs.iter().map(|j| &j.request).collect();
        let outcome = create_all(&client, &requests).await;
        metrics::histogram!("citygrid_store_create_batch_size").record(jobs.len() as f64);
        metrics::histogram!("citygrid_store_create_batch_seconds").record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(created) => {
                if let Some(r) = &routing {
                    r.committed(&client).await;
                }
                for (job, c) in jobs.drain(..).zip(created) {
                    // The caller may have gone; the creation stands.
                    let _ = job.reply.send(Ok(c));
                }
            }
            Err(failure) => {
                // Ends whatever the pipeline left open (a warning if
                // `COMMIT` already rolled it back); fails on a closed
                // connection, which is then given back to be discarded.
                let _ = client.batch_execute("ROLLBACK").await;
                if let Failure::RolledBack(why) = &failure {
                    tracing::debug!(error = %why, jobs = jobs.len(), "a creation batch failed; creating each alone");
                }
                for job in jobs.drain(..) {
                    let answer = match &failure {
                        Failure::RolledBack(_) => Refusal::Alone(Box::new(job.request)),
                        Failure::Unknown(e) => Refusal::Failed(copy(e)),
                    };
                    let _ = job.reply.send(Err(answer));
                }
            }
        }
        if !client.is_closed() {
            held = Some(client);
        }
    }
}

/// The same error again, for each job of a batch.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Invalid(m) => StoreError::Invalid(m.clone()),
        StoreError::Overloaded => StoreError::Overloaded,
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
    }
}

/// How a batch failed.
enum Failure {
    /// Nothing was committed: the jobs may run again. Why, for the log.
    RolledBack(String),
    /// The commit may have happened: the jobs must not run again.
    Unknown(StoreError),
}

impl From<Fail> for Failure {
    /// A failure before `COMMIT` was sent.
    fn from(f: Fail) -> Self {
        Failure::RolledBack(f.into_store().to_string())
    }
}

impl From<StoreError> for Failure {
    /// A failure before `COMMIT` was sent.
    fn from(e: StoreError) -> Self {
        Failure::RolledBack(e.to_string())
    }
}

impl From<tokio_postgres::Error> for Failure {
    /// A failure before `COMMIT` was sent.
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::RolledBack(error::explain(&e))
    }
}

/// Draws `$1` case ids.
const NEXT_IDS: &str = "SELECT nextval('case_ids') FROM generate_series(1, $1::int)";

/// Draws `$1` trail numbers.
const NEXT_SEQS: &str = "SELECT nextval('audit_seq') FROM generate_series(1, $1::int)";

/// Every job's duplicate search at once: job `$1[i]` looks for open cases
/// of category `$2[i]` within longitudes `$3[i]..$4[i]` and latitudes
/// `$5[i]..$6[i]`, as [`sql::NEARBY`] does for one (its columns, then the job).
const SEARCH: &str = "SELECT c.body, c.lon, c.lat, u.job FROM unnest($1::int[], $2::text[], $3::float8[], $4::float8[],
        $5::float8[], $6::float8[]) AS u(job, category, w, e, s, n)
    JOIN LATERAL (SELECT body, lon, lat FROM cases WHERE open AND category = u.category COLLATE \"C\"
        AND lon BETWEEN u.w AND u.e AND lat BETWEEN u.s AND u.n) c ON true";

/// Inserts report entries (always the case's first, `seq` 1).
const INSERT_ENTRIES: &str = "INSERT INTO timeline (case_id, seq, at, action, body)
    SELECT id, 1, at, action, body FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[])
        AS u(id, at, action, body)";

/// Links cases to departments: pairs of `$1[i]`, `$2[i]`.
const INSERT_DEPARTMENTS: &str = "INSERT INTO case_departments (department, case_id)
    SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING";

/// Stores sealed contacts.
const INSERT_CONTACTS: &str = "INSERT INTO case_contacts (case_id, ciphertext, phone_index, id_index)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])";

/// Records feed events, numbered in array order.
const INSERT_FEED: &str = "INSERT INTO feed (at, body)
    SELECT at, body FROM unnest($1::timestamptz[], $2::text[]) WITH ORDINALITY AS u(at, body, n) ORDER BY n";

/// Inserts records chained one after another on chain `$1`'s locked head
/// and moves the head to the last (`$14`, `$15`), in one statement.
static LINK_MANY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH rec AS (INSERT INTO audit ({})
             SELECT seq, $1::int, link, at, actor, role, action, resource, outcome, source_ip, detail, prev_hash, hash
             FROM unnest($2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
                 $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
                 AS u(seq, link, at, actor, role, action, resource, outcome, source_ip, detail, prev_hash, hash))
         UPDATE audit_chains SET link = $14, hash = $15 WHERE chain = $1",
        audit::COLUMNS
    )
});

/// The statements of a batch, prepared on the connection.
struct Statements {
    search: Statement,
    next_ids: Statement,
    free_head: Statement,
    preferred_head: Statement,
    next_seqs: Statement,
    insert_cases: Statement,
    insert_entries: Statement,
    insert_departments: Statement,
    insert_contacts: Statement,
    insert_feed: Statement,
    link: Statement,
}

impl Statements {
    /// Prepares them all (from the connection's cache after the first batch).
    async fn prepare(c: &ClientWrapper) -> Result<Statements, tokio_postgres::Error> {
        let (search, next_ids, free_head, preferred_head, next_seqs, insert_cases) = tokio::try_join!(
            c.prepare_cached(SEARCH),
            c.prepare_cached(NEXT_IDS),
            c.prepare_cached(&audit::FREE_HEAD),
            c.prepare_cached(audit::PREFERRED_HEAD),
            c.prepare_cached(NEXT_SEQS),
            c.prepare_cached(sql::INSERT_CASES),
        )?;
        let (insert_entries, insert_departments, insert_contacts, insert_feed, link) = tokio::try_join!(
            c.prepare_cached(INSERT_ENTRIES),
            c.prepare_cached(INSERT_DEPARTMENTS),
            c.prepare_cached(INSERT_CONTACTS),
            c.prepare_cached(INSERT_FEED),
            c.prepare_cached(&LINK_MANY),
        )?;
        Ok(Statements {
            search,
            next_ids,
            free_head,
            preferred_head,
            next_seqs,
            insert_cases,
            insert_entries,
            insert_departments,
            insert_contacts,
            insert_feed,
            link,
        })
    }
}

/// The arguments of [`SEARCH`]: the jobs that search, and their boxes.
#[derive(Default)]
struct Searches<'a> {
    job: Vec<i32>,
    category: Vec<&'a str>,
    w: Vec<f64>,
    e: Vec<f64>,
    s: Vec<f64>,
    n: Vec<f64>,
}

impl<'a> Searches<'a> {
    /// The searches `requests` ask for.
    fn of(requests: &[&'a Request]) -> Searches<'a> {
        let mut q = Searches::default();
        for (i, r) in requests.iter().enumerate() {
            if !sql::searches(r.nearby) {
                continue;
            }
            let b = r.case.location.bbox_around(r.nearby.radius_m);
            q.job.push(i32::try_from(i).unwrap_or(i32::MAX));
            q.category.push(r.case.category.as_str());
            q.w.push(b.min_lon);
            q.e.push(b.max_lon);
            q.s.push(b.min_lat);
            q.n.push(b.max_lat);
        }
        q
    }

    /// As [`SEARCH`]'s parameters.
    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [&self.job, &self.category, &self.w, &self.e, &self.s, &self.n]
    }
}

/// The audit records of a batch as [`LINK_MANY`]'s columns.
#[derive(Default)]
struct Trail<'a> {
    seq: Vec<i64>,
    link: Vec<i64>,
    at: Vec<DateTime<Utc>>,
    actor: Vec<&'a str>,
    role: Vec<&'a str>,
    action: Vec<&'a str>,
    resource: Vec<&'a str>,
    outcome: Vec<&'static str>,
    source_ip: Vec<Option<&'a str>>,
    detail: Vec<Option<&'a str>>,
    prev_hash: Vec<&'a str>,
    hash: Vec<&'a str>,
}

impl<'a> Trail<'a> {
    /// Adds `rec`, numbered `seq` in the trail.
    fn push(&mut self, seq: i64, rec: &'a AuditRecord) -> Result<(), Fail> {
        let e = &rec.event;
        self.seq.push(seq);
        self.link.push(i64::try_from(rec.link).map_err(|_| StoreError::Invalid(format!("audit link {}", rec.link)))?);
        self.at.push(e.at);
        self.actor.push(&e.actor);
        self.role.push(&e.role);
        self.action.push(&e.action);
        self.resource.push(&e.resource);
        self.outcome.push(e.outcome.as_str());
        self.source_ip.push(e.source_ip.as_deref());
        self.detail.push(e.detail.as_deref());
        self.prev_hash.push(&rec.prev_hash);
        self.hash.push(&rec.hash);
        Ok(())
    }
}

/// Creates every request in one transaction on `c`, committed when this
/// returns `Ok` (the results in request order). On `Err` the transaction
/// is still to be ended by the caller (`ROLLBACK`).
async fn create_all(c: &ClientWrapper, requests: &[&Request]) -> Result<Vec<CreatedCase>, Failure> {
    let st = Statements::prepare(c).await?;
    let count = i32::try_from(requests.len())
        .map_err(|_| Failure::RolledBack(format!("a batch of {} creations is too large", requests.len())))?;
    let searches = Searches::of(requests);

    // First round trip: open the transaction and read what the writes need.
    // The trail numbers are drawn after the head is locked, so that within
    // a chain they rise with the link (see `audit::append`).
    let preferred = create::spread() as i32;
    let head = async {
        let (free, seqs) = tokio::try_join!(async { c.query_opt(&st.free_head, &[&preferred]).await }, async {
            c.query(&st.next_seqs, &[&count]).await
        })?;
        let drawn: Result<(Row, Vec<Row>), tokio_postgres::Error> = match free {
            Some(row) => Ok((row, seqs)),
            // Every head is locked: wait for the preferred one, then draw
            // the numbers again (gaps in the trail are allowed).
            None => {
                let row = c.query_one(&st.preferred_head, &[&preferred]).await?;
                Ok((row, c.query(&st.next_seqs, &[&count]).await?))
            }
        };
        drawn
    };
    let (_, found, ids, (head, seqs)) = tokio::try_join!(
        c.batch_execute("BEGIN"),
        async {
            if searches.job.is_empty() {
                return Ok(vec![]);
            }
            c.query(&st.search, &searches.params()).await
        },
        async { c.query(&st.next_ids, &[&count]).await },
        head,
    )?;

    let ids = ascending(&ids, requests.len())?;
    let seqs = ascending(&seqs, requests.len())?;
    let mut head = audit::head_of(&head);
    let mut near: Vec<Vec<Row>> = requests.iter().map(|_| vec![]).collect();
    for row in found {
        let job = usize::try_from(row.get::<_, i32>(3)).unwrap_or(usize::MAX);
        if let Some(rows) = near.get_mut(job) {
            rows.push(row);
        }
    }

    let mut created: Vec<CreatedCase> = Vec::with_capacity(requests.len());
    let mut records = Vec::with_capacity(requests.len());
    for ((r, id), rows) in requests.iter().zip(&ids).zip(&near) {
        let mut case = r.case.clone();
        case.id = *id;
        let mut entry = r.report.clone();
        entry.seq = 1;
        let nearby = if sql::searches(r.nearby) {
            sql::nearest(&case, r.nearby, rows, created.iter().map(|c| &c.case))?
        } else {
            vec![]
        };
        let mut event = r.audit.clone();
        event.resource = format!("case/{id}");
        let rec = AuditRecord::chain(event, 0, &head);
        head = rec.head();
        records.push(rec);
        created.push(CreatedCase { case, entry, nearby });
    }

    let mut cases = CaseColumns::default();
    let (mut entry_ids, mut entry_at, mut entry_action, mut entry_body) = (vec![], vec![], vec![], vec![]);
    let (mut dept_names, mut dept_cases) = (vec![], vec![]);
    let (mut contact_ids, mut ciphertexts, mut phones, mut id_indexes) = (vec![], vec![], vec![], vec![]);
    let (mut feed_at, mut feed_body) = (vec![], vec![]);
    let mut trail = Trail::default();
    for ((c, r), (rec, seq)) in created.iter().zip(requests).zip(records.iter().zip(&seqs)) {
        let id: CaseId = c.case.id;
        cases.push(ProjectionArgs::of(&c.case)?);
        entry_ids.push(id);
        entry_at.push(c.entry.at);
        entry_action.push(c.entry.action.as_str());
        entry_body.push(to_json(&c.entry)?);
        for d in sql::entry_departments(&c.entry) {
            dept_names.push(d);
            dept_cases.push(id);
        }
        if let Some(sc) = &r.contact {
            contact_ids.push(id);
            ciphertexts.push(sc.ciphertext.as_str());
            phones.push(sc.phone_index.as_deref());
            id_indexes.push(sc.id_index.as_deref());
        }
        feed_at.push(c.entry.at);
        feed_body.push(feed::body(CaseChange::of(&c.case, &c.entry))?);
        trail.push(*seq, rec)?;
    }
    let chain = i32::try_from(head.chain).map_err(|_| StoreError::Invalid(format!("audit chain {}", head.chain)))?;
    let last_link = i64::try_from(head.link).map_err(|_| StoreError::Invalid(format!("audit link {}", head.link)))?;

    // Second round trip: every write, then `COMMIT` (see `create.rs` for
    // why a statement that fails before it is sent keeps `COMMIT` back).
    let failed = std::sync::atomic::AtomicBool::new(false);
    let watch = |r: Result<u64, tokio_postgres::Error>| {
        if r.is_err() {
            failed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        r
    };
    let t = &trail;
    let link_params: [&(dyn ToSql + Sync); 15] = [
        &chain,
        &t.seq,
        &t.link,
        &t.at,
        &t.actor,
        &t.role,
        &t.action,
        &t.resource,
        &t.outcome,
        &t.source_ip,
        &t.detail,
        &t.prev_hash,
        &t.hash,
        &last_link,
        &head.hash,
    ];
    let (r_cases, r_entries, r_depts, r_contacts, r_feed, r_link, commit) = tokio::join!(
        async { watch(c.execute(&st.insert_cases, &cases.params()).await) },
        async { watch(c.execute(&st.insert_entries, &[&entry_ids, &entry_at, &entry_action, &entry_body]).await) },
        async {
            if dept_names.is_empty() {
                return Ok(0);
            }
            watch(c.execute(&st.insert_departments, &[&dept_names, &dept_cases]).await)
        },
        async {
            if contact_ids.is_empty() {
                return Ok(0);
            }
            watch(c.execute(&st.insert_contacts, &[&contact_ids, &ciphertexts, &phones, &id_indexes]).await)
        },
        async { watch(c.execute(&st.insert_feed, &[&feed_at, &feed_body]).await) },
        async { watch(c.execute(&st.link, &link_params).await) },
        async {
            if failed.load(std::sync::atomic::Ordering::SeqCst) {
                // Not sent: nothing can have committed.
                return Ok(false);
            }
            c.batch_execute("COMMIT").await.map(|()| true)
        },
    );
    let errors: Vec<tokio_postgres::Error> =
        [r_cases, r_entries, r_depts, r_contacts, r_feed, r_link].into_iter().filter_map(Result::err).collect();
    // The server refused a statement: the transaction was aborted, and the
    // `COMMIT` behind it (if sent) answered for a rollback.
    if let Some(e) = errors.iter().find(|e| e.as_db_error().is_some()) {
        return Err(Failure::RolledBack(error::explain(e)));
    }
    match commit {
        Ok(true) if errors.is_empty() => Ok(created),
        Ok(false) => Err(Failure::RolledBack("a statement failed before it was sent; COMMIT was not sent".into())),
        Err(e) if e.as_db_error().is_some() => Err(Failure::RolledBack(error::explain(&e))),
        // The connection failed: `COMMIT` may have been carried out.
        Err(e) => Err(Failure::Unknown(error::pg(e))),
        Ok(true) => Err(Failure::Unknown(
            errors.into_iter().next().map_or_else(|| StoreError::Backend("a creation batch failed".into()), error::pg),
        )),
    }
}

/// `rows`' first column (numbers drawn from a sequence) in ascending order,
/// checked to be `n` of them.
fn ascending(rows: &[Row], n: usize) -> Result<Vec<i64>, Failure> {
    let mut v: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    if v.len() != n {
        return Err(Failure::RolledBack(format!("drew {} numbers for {n} creations", v.len())));
    }
    v.sort_unstable();
    Ok(v)
}
