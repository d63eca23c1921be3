//! CityGrid's shared store: PostgreSQL, for several server processes on one
//! database.
//!
//! Nothing lives only in one process's memory: case ids come from a
//! sequence, appends are optimistic (`UPDATE cases … WHERE id = $1 AND
//! version = $2`; no row means someone else got there first), duplicate
//! hints are a query, leases and rate-limit buckets are rows, and there is
//! no case cache. What other processes keep in memory (territory, zones,
//! catalogue, credentials) they learn to drop through the change feed: a
//! writer sends `pg_notify('citygrid_changes', …)` inside its transaction,
//! so the notice goes out only if the change commits, and every store
//! LISTENs on a dedicated connection, ignores its own notices
//! and sends [`Change::Resync`] after it had to reconnect.
//!
//! # The audit trail: sixty-four chains
//!
//! Every write appends its audit record in the same transaction as the
//! change. One hash chain would make every write in every process queue on
//! one row lock (the chain's head) until its commit. Instead the trail is
//! 64 independent chains: a writer locks the first chain head no other
//! transaction holds, from its preferred chain on (`FOR UPDATE SKIP
//! LOCKED`), so it never waits for another writer's commit while a head is
//! free; it then inserts the record after that head, drawing `seq` from a
//! sequence, and moves the head in the same statement, then commits.
//!
//! What verification ([`citygrid_domain::audit::verify_chain`], reading the
//! trail in `seq` order) proves: within each chain, no record was altered,
//! removed, inserted or reordered, and no record moved between chains (the
//! chain number is hashed). Across chains it proves only the `seq` order.
//! A chain whose newest records were cut off still verifies on its own;
//! audit checkpoints (records naming every chain's head, from
//! [`AuditStore::audit_heads`], which reads `audit_chains`) let
//! [`citygrid_domain::audit::verify_trail`] find such a cut made before the
//! last checkpoint.
//! `seq` is unique and, within a chain, rises with the link (it is drawn
//! while the head is locked), but the trail may have gaps: a transaction
//! that rolls back after drawing its number leaves one. Gaps are not
//! tampering; a missing record shows as a break in its chain's links.
//! Records of different chains commit in any order, so a reader following
//! the trail with `after_seq` may meet a number before a smaller one of
//! another chain has committed; re-reading a short window behind the last
//! number seen catches those.
//!
//! # Duplicate hints
//!
//! `create_case` asks for open cases of the same category near the new one
//! in its own transaction, before inserting it: a bounding-box query on the
//! `cases_open_place` index, then the embedded store's distance metric.
//! Two reports committed at the same instant by different processes do not
//! see each other; every later one sees both. Within one creation batch
//! (`batch.rs`), a report also sees the earlier reports of its batch, as if
//! they had been created one after another.
//!
//! # Round trips
//!
//! Case creation, the busiest write, is batched and pipelined (see
//! `batch.rs`): concurrent creations queue, and a few workers
//! ([`PgOptions::create_workers`]) each create whatever is waiting in one
//! transaction: `BEGIN` with the duplicate searches, the case ids and the
//! chain head in one round trip, every insert (one multi-row statement per
//! table) with `COMMIT` in the next; one commit, one WAL flush, for the
//! whole batch. A batch that fails is run again one creation at a time
//! (`create.rs`, the same two round trips for one case), so one bad
//! creation never takes the others down. Statements are prepared once per
//! pooled connection.
//!
//! # Durability
//!
//! Commits are PostgreSQL's defaults (`synchronous_commit = on`): a write
//! that returned is on the server's disk.
//!
//! # Reading from a streaming replica
//!
//! With [`PgOptions::replica_url`] set, the store opens a second pool (same
//! size and timeouts) on a hot standby of the primary and sends it the reads
//! that tolerate lag: `list_cases`, `count_by_state`, `audit_records`,
//! `territory`, `zones`, `categories`, `departments`, `users`, `devices` and
//! `export_rows`. Everything that must see its own writes — `case`,
//! `session`, `user`, `user_by_username`, `device_by_key_hash`,
//! `attachment`, `missing_attachments`, `blob`, `meta`, leases, rate
//! buckets — and every write goes to the primary.
//!
//! **Read-your-writes, per process.** After every committed write, on the
//! committing connection and before the write is acknowledged, the store
//! reads the primary's WAL position (`pg_current_wal_lsn()`, or
//! `pg_current_wal_insert_lsn()` if the session has `synchronous_commit =
//! off`, whose commit record may not be written yet) and keeps the highest
//! as a high-water mark. A lagging read goes to the replica only if its
//! replay position (`pg_last_wal_replay_lsn()`) is at or past the mark: a
//! background task refreshes the known position every 20 ms; when that is
//! behind, the position is asked once more on the very replica connection
//! about to be used, and if it is still behind, the primary answers. Change
//! notices from other processes raise the mark too (to the primary's
//! position when the notice arrived) before they are passed on, so a
//! process reloading reference data on a notice never reloads the state
//! before it. So no process ever shows a client an older state than one it
//! has acknowledged, or told its subscribers about.
//!
//! The guarantee holds **within one process** (one [`PgStore`]): another
//! instance knows nothing of this one's writes. Behind a load balancer, keep
//! each client on one instance (sticky sessions), or pin the clients that
//! need it to one instance. Writes to rate buckets and leases, which no
//! replica read looks at, do not move the mark.
//!
//! **A replica that is away is never an error.** Connection failures, a
//! replica that restarted (its known position is forgotten, since a
//! restarted standby may open for reads behind where it was), or a query
//! failing there (for instance cancelled by a recovery conflict) send reads
//! to the primary; a warning is logged at most once a minute, and once the
//! background task reaches the replica again (it retries every 250 ms),
//! reads go back to it. A store may even start while its replica is
//! unreachable.
//!
//! **It must be a standby of this primary.** Every new replica connection is
//! checked: `pg_is_in_recovery()` must be true (not a primary, not a
//! promoted replica) and `system_identifier` from `pg_control_system()` must
//! be the primary's. At connect, a replica failing either check is refused
//! with [`StoreError::Invalid`]; later, a connection failing it counts as
//! the replica being away. `replica_url` must name one server, not a pool
//! of replicas behind one address: replay positions of different servers
//! do not compare.
//!
//! Reads that could go to the replica are counted in the `metrics` counter
//! `citygrid_store_reads_total`, labelled `target="replica"` or
//! `target="primary"` by where they were served.
//!
//! # Failures
//!
//! A database that cannot be reached, closes the connection or shuts down
//! (SQLSTATE class 08, 57P01..57P03), or a pool that has no connection in
//! [`PgOptions::wait_timeout`], is [`StoreError::Unavailable`]; the pool
//! checks each connection before lending it and opens new ones as needed,
//! so the store recovers by itself once the database is back. A unique
//! violation is [`StoreError::Conflict`]; a serialization failure or a
//! deadlock runs the transaction again a few times, then is a conflict.

mod audit;
mod batch;
mod create;
mod error;
mod eyes;
mod feed;
mod listen;
mod migrate;
mod replica;
mod sql;
mod transfer;
mod water;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead};
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};
use citygrid_domain::rate::Bucket;
use citygrid_domain::{Category, Department};
use citygrid_store::prelude::*;
use citygrid_store::{
    AttachmentMeta, AuditFilter, CaseFilter, CasePage, CaseRecord, CaseScope, Change, CreatedCase, DeviceRecord,
    LoginOutcome, NearbyQuery, ReadingPage, ReadingQuery, Result, SealedContact, SessionRecord, StoreError, StoredUnit,
    StoredZone, UserRecord, WaterReading,
};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{broadcast, oneshot};
use tokio_postgres::{Config, GenericClient, NoTls};

use crate::error::{Fail, write_tx};
use crate::replica::lagging_read;

/// How the store connects and how long it waits.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most pooled connections (and concurrent queries) per process; the
    /// change feed holds one more of its own.
    pub pool_size: usize,
    /// Longest wait to open a connection before giving up.
    pub connect_timeout: Duration,
    /// Longest wait for a pooled connection before a request fails with
    /// [`StoreError::Unavailable`] instead of hanging.
    pub wait_timeout: Duration,
    /// A streaming replica (hot standby) of the same database, for reads
    /// that tolerate lag; this process still never shows an older state
    /// than one it acknowledged (see the crate docs, "Reading from a
    /// streaming replica"). A URL that is not a standby of the primary is
    /// refused at connect; an unreachable one is not (reads go to the
    /// primary until it answers).
    pub replica_url: Option<String>,
    /// How many workers create cases in batches (see the crate docs, "Round
    /// trips"); each uses one pooled connection while it has work. 0 turns batching off: each
    /// creation is then its own transaction.
    pub create_workers: usize,
    /// Most creations one batch (one transaction) takes.
    pub create_batch: usize,
    /// Most creations waiting for a batch; beyond that, creation answers
    /// [`StoreError::Overloaded`] at once.
    pub create_queue: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            replica_url: None,
            create_workers: 2,
            create_batch: 64,
            create_queue: 10_000,
        }
    }
}

/// Buckets are swept of idle (hence full) ones once every this many takes.
const SWEEP_EVERY: u64 = 4096;

/// The PostgreSQL-backed [`Store`].
pub struct PgStore {
    pool: Pool,
    /// This store's id in change notices, so it can skip its own.
    instance: String,
    changes: broadcast::Sender<Change>,
    listener: tokio::task::AbortHandle,
    takes: AtomicU64,
    /// Where reads that tolerate lag go, when there is a replica.
    routing: Option<Arc<replica::Routing>>,
    /// The task refreshing the replica's replay position.
    refresher: Option<tokio::task::AbortHandle>,
    /// Where concurrent creations are batched, unless batching is off.
    batcher: Option<batch::Batcher>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("instance", &self.instance).finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
        if let Some(r) = &self.refresher {
            r.abort();
        }
        if let Some(r) = &self.routing {
            r.close();
        }
        self.pool.close();
    }
}

/// Where a configuration points, for messages: never the password.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "host {} port {}, database {:?}, user {:?}",
        if hosts.is_empty() { "(default)".to_owned() } else { hosts.join(",") },
        if ports.is_empty() { "5432".to_owned() } else { ports.join(",") },
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
    )
}

/// `text` with every occurrence of `secret` blanked out.
fn scrub(text: String, secret: Option<&[u8]>) -> String {
    match secret.and_then(|s| std::str::from_utf8(s).ok()).filter(|s| !s.is_empty()) {
        Some(s) => text.replace(s, "***"),
        None => text,
    }
}

/// The configuration, pool, description (for messages) and password (to
/// scrub from messages) for `url`; `post_create` checks each new connection.
fn open_pool(
    url: &str,
    options: &PgOptions,
    post_create: Option<deadpool_postgres::Hook>,
) -> Result<(Config, Pool, String, Option<Vec<u8>>)> {
    let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
        // The URL did not parse, so its password cannot be told apart:
        // say only what was wrong with it.
        let text = error::explain(&e);
        let text = match url.split_once("://").and_then(|(_, rest)| rest.split_once('@')) {
            Some((userinfo, _)) => {
                userinfo.split_once(':').map_or(text.clone(), |(_, pw)| scrub(text.clone(), Some(pw.as_bytes())))
            }
            None => text,
        };
        StoreError::Backend(format!("not a valid PostgreSQL URL: {text}"))
    })?;
    config.connect_timeout(options.connect_timeout);
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("citygrid");
    }
    let target = describe(&config);
    let password = config.get_password().map(<[u8]>::to_vec);
    let manager =
        Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Verified });
    let mut builder = Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .runtime(Runtime::Tokio1);
    if let Some(hook) = post_create {
        builder = builder.post_create(hook);
    }
    let pool = builder.build().map_err(|e| StoreError::Backend(format!("cannot build the connection pool: {e}")))?;
    Ok((config, pool, target, password))
}

impl PgStore {
    /// Connects a pool to `url` (`postgres://user:password@host:port/db`),
    /// applies pending migrations and starts listening for other processes'
    /// changes. An unreachable server is [`StoreError::Unavailable`] naming
    /// host and database (never the password); a schema newer than this
    /// build is [`StoreError::Backend`]. With [`PgOptions::replica_url`], it
    /// also opens a pool on the replica; one that is not a hot standby of
    /// this primary is [`StoreError::Invalid`].
    pub async fn connect(url: &str, options: PgOptions) -> Result<PgStore> {
        let (config, pool, target, password) = open_pool(url, &options, None)?;
        let mut client = pool.get().await.map_err(|e| {
            let (kind, text) = match error::pool(e) {
                StoreError::Unavailable(m) => (true, m),
                StoreError::Backend(m) | StoreError::Conflict(m) | StoreError::Invalid(m) | StoreError::NotFound(m) => {
                    (false, m)
                }
                other => (false, other.to_string()),
            };
            let text = scrub(format!("cannot connect to PostgreSQL at {target}: {text}"), password.as_deref());
            if kind { StoreError::Unavailable(text) } else { StoreError::Backend(text) }
        })?;
        migrate::migrate(&mut client).await?;

        let (routing, refresher) = match &options.replica_url {
            None => (None, None),
            Some(replica_url) => {
                let row =
                    client.query_one("SELECT system_identifier FROM pg_control_system()", &[]).await.map_err(|e| {
                        StoreError::Backend(format!(
                            "cannot read the primary's system identifier (pg_control_system()), needed to check \
                             the replica: {}",
                            error::explain(&e)
                        ))
                    })?;
                let system: i64 = row.get(0);
                let replayed = replica::Routing::new_cache();
                let hook = replica::check_each_connection(system, replayed.clone());
                let (_, replica_pool, replica_target, replica_password) = open_pool(replica_url, &options, Some(hook))?;
                let (routing, refresher) =
                    replica::Routing::start(pool.clone(), replica_pool, replayed, replica_target).await.map_err(
                        |e| match e {
                            StoreError::Invalid(m) => StoreError::Invalid(scrub(m, replica_password.as_deref())),
                            StoreError::Backend(m) => StoreError::Backend(scrub(m, replica_password.as_deref())),
                            other => other,
                        },
                    )?;
                (Some(routing), Some(refresher))
            }
        };
        drop(client);

        let instance = format!("{:016x}", rand::random::<u64>());
        let (changes, _) = broadcast::channel(256);
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = tokio::spawn(listen::run(config, instance.clone(), changes.clone(), ready_tx, routing.clone()))
            .abort_handle();
        // Start listening before the first write, so a caller that writes
        // through another store next hears about it; if the LISTEN is slow,
        // the feed catches up by itself.
        let _ = tokio::time::timeout(options.connect_timeout, ready_rx).await;
        let batcher = (options.create_workers > 0).then(|| {
            batch::Batcher::start(
                &pool,
                routing.as_ref(),
                options.create_workers,
                options.create_batch,
                options.create_queue,
            )
        });
        Ok(PgStore { pool, instance, changes, listener, takes: AtomicU64::new(0), routing, refresher, batcher })
    }

    /// A pooled connection, or [`StoreError::Unavailable`].
    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(error::pool)
    }

    /// A replica connection for a read that tolerates lag, or `None`: read
    /// from the primary (no replica, it is away, or it is behind this
    /// store's writes).
    async fn replica_client(&self) -> Option<Object> {
        match &self.routing {
            Some(r) => r.replica_client().await,
            None => None,
        }
    }

    /// A read failed on the replica; it runs again on the primary.
    fn replica_failed(&self, f: Fail) {
        if let Some(r) = &self.routing {
            r.failed(f);
        }
    }

    /// Records the primary's WAL position after a commit on `c`, before the
    /// write is acknowledged, so later reads do not go to a replica that has
    /// not replayed it. Nothing to do without a replica.
    async fn committed(&self, c: &tokio_postgres::Client) {
        if let Some(r) = &self.routing {
            r.committed(c).await;
        }
    }

    /// Tells other processes about `change` once the transaction commits.
    async fn notify<C: GenericClient + Sync>(&self, c: &C, change: &Change) -> std::result::Result<(), Fail> {
        let payload = listen::payload(&self.instance, change);
        c.execute("SELECT pg_notify($1, $2)", &[&listen::CHANNEL, &payload]).await?;
        Ok(())
    }
}

/// A read's result as the store's.
fn done<T>(r: std::result::Result<T, Fail>) -> Result<T> {
    r.map_err(Fail::into_store)
}

impl MetaStore for PgStore {
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        let c = self.client().await?;
        let row = c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key]).await.map_err(error::pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn set_meta(&self, key: &str, value: &str, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::set_meta(&*tx, key, value).await?;
            audit::append(&tx, &audit).await?;
        })
    }
}

impl ReferenceStore for PgStore {
    async fn territory(&self) -> Result<Vec<StoredUnit>> {
        lagging_read!(self, |c| sql::territory(c))
    }

    async fn upsert_units(&self, units: Vec<StoredUnit>, audit: AuditEvent) -> Result<usize> {
        write_tx!(self, |tx| {
            sql::put_units(&*tx, &units, true).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Territory).await?;
            units.len()
        })
    }

    async fn zones(&self) -> Result<Vec<StoredZone>> {
        lagging_read!(self, |c| sql::zones(c))
    }

    async fn put_zones(&self, zones: Vec<StoredZone>, audit: AuditEvent) -> Result<()> {
        sql::validate_zones(&zones)?;
        write_tx!(self, |tx| {
            sql::put_zones(&*tx, &zones, true).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Zones).await?;
        })
    }

    async fn delete_zone(&self, id: &str, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            if tx.execute("DELETE FROM zones WHERE id = $1", &[&id]).await? == 0 {
                return Err(Fail::Store(StoreError::NotFound(format!("zone {id}"))));
            }
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Zones).await?;
        })
    }

    async fn categories(&self) -> Result<Vec<Category>> {
        lagging_read!(self, |c| sql::bodies(c, "categories"))
    }

    async fn put_categories(&self, categories: Vec<Category>, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::put_categories(&*tx, &categories, true).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Catalog).await?;
        })
    }

    async fn departments(&self) -> Result<Vec<Department>> {
        lagging_read!(self, |c| sql::bodies(c, "departments"))
    }

    async fn put_departments(&self, departments: Vec<Department>, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::put_departments(&*tx, &departments, true).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Catalog).await?;
        })
    }
}

impl CaseStore for PgStore {
    async fn create_case(
        &self,
        case: Case,
        report: TimelineEntry,
        contact: Option<SealedContact>,
        nearby: NearbyQuery,
        audit: AuditEvent,
    ) -> Result<CreatedCase> {
        let (case, report, contact, nearby, audit) = match &self.batcher {
            None => (case, report, contact, nearby, audit),
            Some(b) => match b.create(batch::Request { case, report, contact, nearby, audit }).await {
                Ok(created) => return Ok(created),
                Err(batch::Refusal::Failed(e)) => return Err(e),
                // Its batch did not commit: alone, it gets its own answer.
                Err(batch::Refusal::Alone(r)) => (r.case, r.report, r.contact, r.nearby, r.audit),
            },
        };
        let mut attempt = 0u32;
        loop {
            let client = self.client().await?;
            match create::create_case(&client, &case, &report, contact.as_ref(), nearby, &audit).await {
                Ok(created) => {
                    self.committed(&client).await;
                    break Ok(created);
                }
                Err(f) if f.retryable() && attempt < error::RETRIES => {
                    attempt += 1;
                    drop(client);
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                }
                Err(f) => break Err(f.into_store()),
            }
        }
    }

    async fn append_entry(&self, case: Case, entry: TimelineEntry, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            if let Some(target) = entry.data.merged_into {
                let open = tx.query_opt("SELECT open FROM cases WHERE id = $1 FOR SHARE", &[&target]).await?;
                if !open.is_some_and(|r| r.get::<_, bool>(0)) {
                    return Err(Fail::Store(StoreError::Invalid(format!(
                        "case {target} does not exist or is no longer open; a duplicate can only be merged into an open case"
                    ))));
                }
            }
            sql::append_entry(&tx, &case, &entry).await?;
            audit::append(&tx, &audit).await?;
            feed::record(&*tx, entry.at, citygrid_store::CaseChange::of(&case, &entry)).await?;
        })
    }

    async fn case(&self, id: CaseId) -> Result<Option<std::sync::Arc<CaseRecord>>> {
        Ok(done(sql::case(&**self.client().await?, id).await)?.map(std::sync::Arc::new))
    }

    async fn list_cases(&self, filter: CaseFilter) -> Result<CasePage> {
        lagging_read!(self, |c| sql::list_cases(c, &filter))
    }

    async fn count_by_state(&self, scope: CaseScope) -> Result<Vec<(CaseState, u64)>> {
        lagging_read!(self, |c| sql::count_by_state(c, &scope))
    }

    async fn import_cases(&self, cases: Vec<CaseRecord>, audit: AuditEvent) -> Result<Vec<CaseId>> {
        write_tx!(self, |tx| {
            let mut ids = Vec::with_capacity(cases.len());
            for rec in &cases {
                let mut case = rec.case.clone();
                case.id = sql::next_case_id(&tx).await?;
                sql::insert_case(&tx, &case, &rec.timeline, rec.contact.as_ref()).await?;
                ids.push(case.id);
            }
            audit::append(&tx, &audit).await?;
            ids
        })
    }
}

impl citygrid_store::FeedStore for PgStore {
    async fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<citygrid_store::FeedEvent>> {
        // From the primary: a watcher must not miss what it was just told about.
        done(feed::after(&**self.client().await?, after, limit).await)
    }

    async fn feed_bounds(&self) -> Result<Option<(u64, u64)>> {
        done(feed::bounds(&**self.client().await?).await)
    }

    async fn prune_feed(&self, before: DateTime<Utc>, audit: AuditEvent) -> Result<u64> {
        write_tx!(
            self,
            unrecorded | tx | {
                let n = feed::prune(&*tx, before).await?;
                audit::append(&tx, &audit).await?;
                n
            }
        )
    }
}

impl AttachmentStore for PgStore {
    async fn put_attachment(&self, meta: AttachmentMeta, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::put_attachment(&*tx, &meta, true).await?;
            audit::append(&tx, &audit).await?;
        })
    }

    async fn attachment(&self, sha256: &str) -> Result<Option<AttachmentMeta>> {
        done(sql::attachment(&**self.client().await?, sha256).await)
    }

    async fn missing_attachments(&self, hashes: Vec<String>) -> Result<Vec<String>> {
        done(sql::missing_attachments(&**self.client().await?, &hashes).await)
    }
}

impl AuditStore for PgStore {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            audit::append(&tx, &event).await?;
        })
    }

    async fn audit_records(&self, filter: AuditFilter) -> Result<Vec<AuditRecord>> {
        lagging_read!(self, |c| audit::records(c, &filter))
    }

    async fn audit_heads(&self) -> Result<Vec<ChainHead>> {
        // From the primary: a checkpoint names heads as committed there.
        done(audit::heads(&**self.client().await?).await)
    }
}

impl AccountStore for PgStore {
    async fn create_user(&self, user: UserRecord, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::put_user(&*tx, &user, true).await?;
            audit::append(&tx, &audit).await?;
        })
    }

    async fn update_user(&self, user: UserRecord, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::put_user(&*tx, &user, false).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Principal(user.id.clone())).await?;
        })
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        done(sql::user_where(&**self.client().await?, "username", username, false).await)
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        done(sql::user_where(&**self.client().await?, "id", id, false).await)
    }

    async fn users(&self) -> Result<Vec<UserRecord>> {
        lagging_read!(self, |c| sql::json_rows(c, "SELECT body FROM users ORDER BY username", &[]))
    }

    async fn record_login(&self, outcome: LoginOutcome, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            let Some(mut u) = sql::user_where(&*tx, "id", &outcome.user_id, true).await? else {
                return Err(Fail::Store(StoreError::NotFound(format!("user {}", outcome.user_id))));
            };
            u.failed_logins = outcome.failed_logins;
            u.locked_until = outcome.locked_until;
            sql::put_user(&*tx, &u, false).await?;
            if let Some(s) = &outcome.session {
                sql::insert_session(&*tx, s).await?;
            }
            audit::append(&tx, &audit).await?;
        })
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        done(sql::session(&**self.client().await?, token_hash).await)
    }

    async fn revoke_sessions(
        &self,
        user_id: &str,
        token_hash: Option<String>,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<u64> {
        write_tx!(self, |tx| {
            let n = sql::revoke_sessions(&*tx, user_id, token_hash.as_deref(), at).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Principal(user_id.to_owned())).await?;
            n
        })
    }
}

impl DeviceStore for PgStore {
    async fn create_device(&self, device: DeviceRecord, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            sql::put_device(&*tx, &device, true).await?;
            audit::append(&tx, &audit).await?;
        })
    }

    async fn device_by_key_hash(&self, key_hash: &str) -> Result<Option<DeviceRecord>> {
        done(sql::device_where(&**self.client().await?, "key_hash", key_hash, false).await)
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceRecord>> {
        done(sql::device_where(&**self.client().await?, "id", id, false).await)
    }

    async fn device_by_mn(&self, mn: &str) -> Result<Option<DeviceRecord>> {
        done(sql::device_where(&**self.client().await?, "mn", mn, false).await)
    }

    async fn devices(&self) -> Result<Vec<DeviceRecord>> {
        lagging_read!(self, |c| sql::json_rows(c, "SELECT body FROM devices ORDER BY id", &[]))
    }

    async fn touch_devices(&self, seen: Vec<(String, DateTime<Utc>)>) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            sql::touch_devices(&*tx, &seen).await?;
        })
    }

    async fn revoke_device(&self, id: &str, at: DateTime<Utc>, audit: AuditEvent) -> Result<()> {
        write_tx!(self, |tx| {
            let Some(mut d) = sql::device_where(&*tx, "id", id, true).await? else {
                return Err(Fail::Store(StoreError::NotFound(format!("device {id}"))));
            };
            d.revoked_at.get_or_insert(at);
            sql::put_device(&*tx, &d, false).await?;
            audit::append(&tx, &audit).await?;
            self.notify(&*tx, &Change::Principal(id.to_owned())).await?;
        })
    }
}

impl WaterStore for PgStore {
    async fn append_readings(&self, readings: Vec<WaterReading>, audit: AuditEvent) -> Result<u64> {
        citygrid_store::water::check_values(&readings)?;
        if readings.is_empty() {
            return Ok(0);
        }
        write_tx!(self, |tx| {
            let n = water::append(&*tx, &readings).await?;
            if n > 0 {
                audit::append(&tx, &audit).await?;
            }
            n
        })
    }

    async fn readings(&self, query: ReadingQuery) -> Result<ReadingPage> {
        lagging_read!(self, |c| water::page(c, &query))
    }
}

impl BlobStore for PgStore {
    async fn put_blob(&self, sha256: &str, bytes: Vec<u8>) -> Result<()> {
        sql::check_sha256(sha256)?;
        let c = self.client().await?;
        done(sql::put_blob(&**c, sha256, &bytes, true).await)?;
        // Blobs are exported (from the replica, when there is one).
        self.committed(&c).await;
        Ok(())
    }

    async fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        sql::check_sha256(sha256)?;
        let c = self.client().await?;
        let row = c.query_opt("SELECT bytes FROM blobs WHERE sha256 = $1", &[&sha256]).await.map_err(error::pg)?;
        Ok(row.map(|r| r.get(0)))
    }
}

impl LeaseStore for PgStore {
    async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $4)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE leases.holder = excluded.holder OR leases.until <= $3
                 RETURNING holder",
                &[&name, &holder, &now, &until],
            )
            .await
            .map_err(error::pg)?;
        Ok(row.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let c = self.client().await?;
        c.execute("DELETE FROM leases WHERE name = $1 AND holder = $2", &[&name, &holder]).await.map_err(error::pg)?;
        Ok(())
    }
}

impl RateStore for PgStore {
    async fn take_token(&self, key: &str, per_minute: u32, now: DateTime<Utc>) -> Result<bool> {
        if self.takes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // A bucket untouched for over a minute has refilled: forgetting
            // it changes nothing, as it comes back full.
            let c = self.client().await?;
            let idle = now - chrono::Duration::minutes(2);
            c.execute("DELETE FROM rate_buckets WHERE at < $1", &[&idle]).await.map_err(error::pg)?;
        }
        // Buckets are never read from the replica nor exported: no need to
        // raise the high-water mark (and spend a round trip) for them.
        write_tx!(
            self,
            unrecorded | tx | {
                let full = Bucket::full(per_minute, now);
                tx.execute(
                    "INSERT INTO rate_buckets (key, tokens, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                    &[&key, &full.tokens, &full.at],
                )
                .await?;
                let row =
                    tx.query_one("SELECT tokens, at FROM rate_buckets WHERE key = $1 FOR UPDATE", &[&key]).await?;
                let mut bucket = Bucket { tokens: row.get(0), at: row.get(1) };
                let took = bucket.take(per_minute, now);
                tx.execute(
                    "UPDATE rate_buckets SET tokens = $2, at = $3 WHERE key = $1",
                    &[&key, &bucket.tokens, &bucket.at],
                )
                .await?;
                took
            }
        )
    }
}

impl ChangeFeed for PgStore {
    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_target_but_never_the_password() {
        let config: Config = "postgres://app:pa55word@db.example:6543/city".parse().unwrap();
        let d = describe(&config);
        assert!(
            d.contains("db.example") && d.contains("6543") && d.contains("\"city\"") && d.contains("\"app\""),
            "{d}"
        );
        assert!(!d.contains("pa55word"));
        assert_eq!(scrub("auth for pa55word failed".into(), config.get_password()), "auth for *** failed");
        assert_eq!(scrub("nothing to hide".into(), None), "nothing to hide");
    }
}
