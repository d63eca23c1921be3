//! CityGrid's embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a single group-committing writer thread
//! ([`writer`]); reads use a pool of read-only connections on blocking
//! threads ([`readers`]). The schema is created and migrated on open.

mod blobs;
mod cache;
mod eyes;
mod feed;
mod local;
mod migrate;
mod nearby;
mod readers;
mod sql;
mod transfer;
mod water;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead};
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};
use citygrid_domain::{Category, Department};
use citygrid_store::prelude::*;
use citygrid_store::{
    AttachmentMeta, AuditFilter, CaseChange, CaseFilter, CasePage, CaseRecord, CaseScope, CreatedCase, DeviceRecord,
    FeedEvent, LoginOutcome, NearbyQuery, ReadingPage, ReadingQuery, Result, SealedContact, SessionRecord, StoreError,
    StoredUnit, StoredZone, UserRecord, WaterReading,
};
use rusqlite::Connection;

use crate::readers::Readers;
use crate::sql::backend;
use crate::writer::Writer;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "citygrid.db";

/// The attachment directory's name beside the database file.
pub const BLOBS_DIR: &str = "attachments";

/// How the store trades durability and memory.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `FULL` (default) fsyncs the log on every commit, so an acknowledged
    /// write survives power loss; `NORMAL` survives only process crashes.
    pub synchronous_full: bool,
    /// Writes that may wait for the writer before callers get `Overloaded`.
    pub queue: usize,
    /// Most writes committed together.
    pub max_batch: usize,
    /// Read-only connections (and concurrent reads).
    pub readers: usize,
    /// Cases kept in memory for reads.
    pub cached_cases: usize,
    /// Write the audit trail. Always on, except in the benchmark that
    /// measures the trail's own cost: the field exists only in builds with
    /// the `unaudited-baseline` feature, which only the benchmarks enable.
    #[cfg(feature = "unaudited-baseline")]
    pub audit_trail: bool,
}

impl SqliteOptions {
    /// Whether the audit trail is written: always, outside benchmark builds.
    fn audit_trail(&self) -> bool {
        #[cfg(feature = "unaudited-baseline")]
        return self.audit_trail;
        #[cfg(not(feature = "unaudited-baseline"))]
        true
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous_full: true,
            queue: 20_000,
            max_batch: 1_000,
            readers: 4,
            cached_cases: 100_000,
            #[cfg(feature = "unaudited-baseline")]
            audit_trail: true,
        }
    }
}

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Arc<Readers>,
    cases: cache::CaseCache,
    open: nearby::NearbyIndex,
    blobs: blobs::BlobDir,
    local: local::Local,
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store in `dir`.
    pub fn open_dir(dir: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create data directory {}: {e}", dir.display())))?;
        SqliteStore::open(&dir.join(DB_FILE), options)
    }

    /// Opens (creating and migrating as needed) the database file at `path`.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let conn = Connection::open(path).map_err(backend)?;
        let sync = if options.synchronous_full { "FULL" } else { "NORMAL" };
        // The writer checkpoints itself once the log passes 32 MiB: a checkpoint
        // running beside a busy writer can never finish, and the log would grow
        // without bound; between batches it always completes.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 8000;"
        ))
        .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
        // Every query the writer runs stays prepared; the default 16 thrashes.
        conn.set_prepared_statement_cache_capacity(256);
        migrate::migrate(&conn)?;
        let head = sql::audit_head(&conn)?;
        let next_case_id = sql::next_case_id(&conn)?;
        let open = nearby::NearbyIndex::default();
        for c in sql::open_cases(&conn)? {
            open.update(&c);
        }
        let writer = Writer::start(
            conn,
            head,
            next_case_id,
            options.audit_trail(),
            options.queue.max(1),
            options.max_batch.max(1),
        )?;
        Ok(SqliteStore {
            path: path.to_owned(),
            writer,
            readers: Readers::new(path.to_owned(), options.readers),
            cases: cache::CaseCache::new(options.cached_cases),
            open,
            blobs: blobs::BlobDir::new(path.parent().unwrap_or(Path::new(".")).join(BLOBS_DIR)),
            local: local::Local::new(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl MetaStore for SqliteStore {
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.readers.read(move |c| sql::meta(c, &key)).await
    }

    async fn set_meta(&self, key: &str, value: &str, audit: AuditEvent) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.writer
            .write(move |w| {
                sql::set_meta(w.conn, &key, &value)?;
                sql::append_audit(w, &audit)
            })
            .await
    }
}

impl ReferenceStore for SqliteStore {
    async fn territory(&self) -> Result<Vec<StoredUnit>> {
        self.readers.read(sql::territory).await
    }

    async fn upsert_units(&self, units: Vec<StoredUnit>, audit: AuditEvent) -> Result<usize> {
        self.writer
            .write(move |w| {
                let n = sql::upsert_units(w.conn, &units)?;
                sql::append_audit(w, &audit)?;
                Ok(n)
            })
            .await
    }

    async fn zones(&self) -> Result<Vec<StoredZone>> {
        self.readers.read(sql::zones).await
    }

    async fn put_zones(&self, zones: Vec<StoredZone>, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_zones(w.conn, &zones)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn delete_zone(&self, id: &str, audit: AuditEvent) -> Result<()> {
        let id = id.to_owned();
        self.writer
            .write(move |w| {
                sql::delete_zone(w.conn, &id)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn categories(&self) -> Result<Vec<Category>> {
        self.readers.read(|c| sql::bodies(c, "categories")).await
    }

    async fn put_categories(&self, categories: Vec<Category>, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_categories(w.conn, &categories)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn departments(&self) -> Result<Vec<Department>> {
        self.readers.read(|c| sql::bodies(c, "departments")).await
    }

    async fn put_departments(&self, departments: Vec<Department>, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_departments(w.conn, &departments)?;
                sql::append_audit(w, &audit)
            })
            .await
    }
}

impl CaseStore for SqliteStore {
    async fn create_case(
        &self,
        mut case: Case,
        mut report: TimelineEntry,
        contact: Option<SealedContact>,
        nearby: NearbyQuery,
        mut audit: AuditEvent,
    ) -> Result<CreatedCase> {
        let sealed = contact.clone();
        let near = self.open.near(&case.category, &case.location, nearby);
        let (case, entry) = self
            .writer
            .write(move |w| {
                case.id = *w.next_case_id;
                report.seq = 1;
                sql::insert_case(w.conn, &case, std::slice::from_ref(&report))?;
                if let Some(c) = &contact {
                    sql::put_contact(w.conn, case.id, c)?;
                }
                audit.resource = format!("case/{}", case.id);
                sql::append_audit(w, &audit)?;
                feed::record(w.conn, report.at, CaseChange::of(&case, &report))?;
                *w.next_case_id += 1;
                Ok((case.clone(), report.clone()))
            })
            .await?;
        self.open.update(&case);
        let created = CreatedCase { case, entry, nearby: near };
        // New cases are the ones most read next (the centre's live view).
        let rec = CaseRecord { case: created.case.clone(), timeline: vec![created.entry.clone()], contact: sealed };
        self.cases.put(Arc::new(rec));
        Ok(created)
    }

    async fn append_entry(&self, case: Case, entry: TimelineEntry, audit: AuditEvent) -> Result<()> {
        let (after, appended) = (case.clone(), entry.clone());
        self.writer
            .write(move |w| {
                if let Some(target) = entry.data.merged_into
                    && sql::case_open(w.conn, target)? != Some(true)
                {
                    return Err(StoreError::Invalid(format!(
                        "case {target} does not exist or is no longer open; a duplicate can only be merged into an open case"
                    )));
                }
                sql::append_entry(w.conn, &case, &entry)?;
                sql::append_audit(w, &audit)?;
                feed::record(w.conn, entry.at, CaseChange::of(&case, &entry))
            })
            .await?;
        self.cases.advance(&after, &appended);
        self.open.update(&after);
        Ok(())
    }

    async fn case(&self, id: CaseId) -> Result<Option<Arc<CaseRecord>>> {
        if let Some(hit) = self.cases.get(id) {
            return Ok(Some(hit));
        }
        let rec = self.readers.read_now(|c| sql::case(c, id))?.map(Arc::new);
        if let Some(r) = &rec {
            self.cases.put(Arc::clone(r));
        }
        Ok(rec)
    }

    async fn list_cases(&self, filter: CaseFilter) -> Result<CasePage> {
        self.readers.read(move |c| sql::list_cases(c, &filter)).await
    }

    async fn count_by_state(&self, scope: CaseScope) -> Result<Vec<(CaseState, u64)>> {
        self.readers.read(move |c| sql::count_by_state(c, &scope)).await
    }

    async fn import_cases(&self, cases: Vec<CaseRecord>, audit: AuditEvent) -> Result<Vec<CaseId>> {
        let stored = self
            .writer
            .write(move |w| {
                let mut stored = Vec::with_capacity(cases.len());
                for rec in &cases {
                    let mut case = rec.case.clone();
                    case.id = *w.next_case_id;
                    sql::insert_case(w.conn, &case, &rec.timeline)?;
                    if let Some(c) = &rec.contact {
                        sql::put_contact(w.conn, case.id, c)?;
                    }
                    *w.next_case_id += 1;
                    stored.push(case);
                }
                sql::append_audit(w, &audit)?;
                Ok(stored)
            })
            .await?;
        stored.iter().for_each(|c| self.open.update(c));
        Ok(stored.into_iter().map(|c| c.id).collect())
    }
}

impl AttachmentStore for SqliteStore {
    async fn put_attachment(&self, meta: AttachmentMeta, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_attachment(w.conn, &meta)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn attachment(&self, sha256: &str) -> Result<Option<AttachmentMeta>> {
        let sha = sha256.to_owned();
        self.readers.read(move |c| sql::attachment(c, &sha)).await
    }

    async fn missing_attachments(&self, hashes: Vec<String>) -> Result<Vec<String>> {
        self.readers.read(move |c| sql::missing_attachments(c, &hashes)).await
    }
}

impl AuditStore for SqliteStore {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        self.writer.write(move |w| sql::append_audit(w, &event)).await
    }

    async fn audit_records(&self, filter: AuditFilter) -> Result<Vec<AuditRecord>> {
        self.readers.read(move |c| sql::audit_records(c, &filter)).await
    }

    async fn audit_heads(&self) -> Result<Vec<ChainHead>> {
        // One chain (0), whose links are the trail's numbers.
        let (link, hash) = self.readers.read(sql::audit_head).await?;
        Ok(vec![ChainHead { chain: 0, link, hash }])
    }
}

impl AccountStore for SqliteStore {
    async fn create_user(&self, user: UserRecord, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_user(w.conn, &user, true)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn update_user(&self, user: UserRecord, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_user(w.conn, &user, false)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let name = username.to_owned();
        self.readers.read(move |c| sql::user_where(c, "username", &name)).await
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        let id = id.to_owned();
        self.readers.read(move |c| sql::user_where(c, "id", &id)).await
    }

    async fn users(&self) -> Result<Vec<UserRecord>> {
        self.readers.read(sql::users).await
    }

    async fn record_login(&self, outcome: LoginOutcome, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::record_login(w.conn, &outcome)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        let h = token_hash.to_owned();
        self.readers.read(move |c| sql::session(c, &h)).await
    }

    async fn revoke_sessions(
        &self,
        user_id: &str,
        token_hash: Option<String>,
        at: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<u64> {
        let user_id = user_id.to_owned();
        self.writer
            .write(move |w| {
                let n = sql::revoke_sessions(w.conn, &user_id, token_hash.as_deref(), at)?;
                sql::append_audit(w, &audit)?;
                Ok(n)
            })
            .await
    }
}

impl DeviceStore for SqliteStore {
    async fn create_device(&self, device: DeviceRecord, audit: AuditEvent) -> Result<()> {
        self.writer
            .write(move |w| {
                sql::put_device(w.conn, &device, true)?;
                sql::append_audit(w, &audit)
            })
            .await
    }

    async fn device_by_key_hash(&self, key_hash: &str) -> Result<Option<DeviceRecord>> {
        let h = key_hash.to_owned();
        self.readers.read(move |c| sql::device_where(c, "key_hash", &h)).await
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceRecord>> {
        let id = id.to_owned();
        self.readers.read(move |c| sql::device_where(c, "id", &id)).await
    }

    async fn device_by_mn(&self, mn: &str) -> Result<Option<DeviceRecord>> {
        let mn = mn.to_owned();
        self.readers.read(move |c| sql::device_where(c, "mn", &mn)).await
    }

    async fn devices(&self) -> Result<Vec<DeviceRecord>> {
        self.readers.read(sql::devices).await
    }

    async fn touch_devices(&self, seen: Vec<(String, DateTime<Utc>)>) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        self.writer.write(move |w| sql::touch_devices(w.conn, &seen)).await
    }

    async fn revoke_device(&self, id: &str, at: DateTime<Utc>, audit: AuditEvent) -> Result<()> {
        let id = id.to_owned();
        self.writer
            .write(move |w| {
                let Some(mut d) = sql::device_where(w.conn, "id", &id)? else {
                    return Err(StoreError::NotFound(format!("device {id}")));
                };
                d.revoked_at.get_or_insert(at);
                sql::put_device(w.conn, &d, false)?;
                sql::append_audit(w, &audit)
            })
            .await
    }
}

impl FeedStore for SqliteStore {
    async fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<FeedEvent>> {
        self.readers.read(move |c| feed::after(c, after, limit)).await
    }

    async fn feed_bounds(&self) -> Result<Option<(u64, u64)>> {
        self.readers.read(feed::bounds).await
    }

    async fn prune_feed(&self, before: DateTime<Utc>, audit: AuditEvent) -> Result<u64> {
        self.writer
            .write(move |w| {
                let n = feed::prune(w.conn, before)?;
                sql::append_audit(w, &audit)?;
                Ok(n)
            })
            .await
    }
}

impl WaterStore for SqliteStore {
    async fn append_readings(&self, readings: Vec<WaterReading>, audit: AuditEvent) -> Result<u64> {
        citygrid_store::water::check_values(&readings)?;
        if readings.is_empty() {
            return Ok(0);
        }
        self.writer
            .write(move |w| {
                let n = water::append(w.conn, &readings)?;
                if n > 0 {
                    sql::append_audit(w, &audit)?;
                }
                Ok(n)
            })
            .await
    }

    async fn readings(&self, query: ReadingQuery) -> Result<ReadingPage> {
        self.readers.read(move |c| water::page(c, &query)).await
    }
}

impl BlobStore for SqliteStore {
    async fn put_blob(&self, sha256: &str, bytes: Vec<u8>) -> Result<()> {
        self.blobs.put(sha256, bytes).await
    }

    async fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.blobs.get(sha256).await
    }
}

impl LeaseStore for SqliteStore {
    async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        Ok(self.local.try_lease(name, holder, now, until))
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.local.release_lease(name, holder);
        Ok(())
    }
}

impl RateStore for SqliteStore {
    async fn take_token(&self, key: &str, per_minute: u32, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.local.take_token(key, per_minute, now))
    }
}

impl ChangeFeed for SqliteStore {
    fn changes(&self) -> tokio::sync::broadcast::Receiver<citygrid_store::Change> {
        self.local.changes()
    }
}
