//! Moving a whole installation out of or into this store
//! ([`TransferStore`]): each table read a page at a time in key order, and
//! rows written verbatim in one writer transaction, without audit records of
//! their own. Attachment bytes live as files beside the database, so they
//! are listed and written there.

use std::collections::HashSet;
use std::sync::Arc;

use citygrid_domain::audit::AuditRecord;
use citygrid_store::{
    AttachmentMeta, AuditFilter, Result, Row, SessionRecord, StoreError, StoredUnit, StoredZone, Table, TransferStore,
    split_detection_key,
};
use rusqlite::{Connection, params};

use crate::SqliteStore;
use crate::sql::{self, backend};

impl TransferStore for SqliteStore {
    async fn export_rows(&self, table: Table, after: Option<String>, limit: usize) -> Result<Vec<Row>> {
        if limit == 0 {
            return Ok(vec![]);
        }
        if table == Table::Blobs {
            let mut rows = vec![];
            for sha256 in self.blobs.list_after(after, limit).await? {
                // Listed a moment ago; files are never removed while serving.
                if let Some(bytes) = self.blobs.get(&sha256).await? {
                    rows.push(Row::Blob { sha256, bytes });
                }
            }
            return Ok(rows);
        }
        self.readers.read(move |c| export(c, table, after.as_deref(), limit)).await
    }

    async fn import_rows(&self, rows: Vec<Row>) -> Result<()> {
        let (blobs, rows): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.table() == Table::Blobs);
        for r in &rows {
            if let Row::Audit(a) = r {
                check_audit(a)?;
            }
        }
        let blob_keys: Vec<String> = blobs.iter().map(Row::key).collect();
        self.check_blobs(&blob_keys).await?;
        // Files first: unlike committed rows, they can be taken back if the
        // rows are refused, so the batch stays all or nothing.
        let written = self.write_blobs(blobs).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let rows = Arc::new(rows);
        let job = Arc::clone(&rows);
        let stored = self
            .writer
            .write(move |w| {
                job.iter().try_for_each(|r| insert_row(w.conn, r))?;
                // The writer numbers and chains from what is stored now.
                *w.audit_head = sql::audit_head(w.conn)?;
                *w.next_case_id = (*w.next_case_id).max(sql::next_case_id(w.conn)?);
                Ok(())
            })
            .await;
        if let Err(e) = stored {
            self.remove_blobs(&written).await;
            return Err(e);
        }
        for r in rows.iter() {
            if let Row::Case(rec) = r {
                self.open.update(&rec.case);
            }
        }
        Ok(())
    }

    async fn finish_import(&self) -> Result<()> {
        let open = self
            .writer
            .write(|w| {
                *w.audit_head = sql::audit_head(w.conn)?;
                *w.next_case_id = (*w.next_case_id).max(sql::next_case_id(w.conn)?);
                sql::open_cases(w.conn)
            })
            .await?;
        self.open.reload(&open);
        self.cases.clear();
        Ok(())
    }
}

impl SqliteStore {
    /// Refuses blobs already stored, or given twice, before anything is written.
    async fn check_blobs(&self, keys: &[String]) -> Result<()> {
        let mut seen = HashSet::new();
        for sha in keys {
            if !seen.insert(sha.as_str()) || self.blobs.exists(sha).await? {
                return Err(StoreError::Conflict(format!("blobs row {sha} exists already")));
            }
        }
        Ok(())
    }

    /// Writes blob files, returning their hashes; if one fails, removes
    /// those this call wrote.
    async fn write_blobs(&self, blobs: Vec<Row>) -> Result<Vec<String>> {
        let mut written: Vec<String> = vec![];
        for row in blobs {
            let Row::Blob { sha256, bytes } = row else { continue };
            if let Err(e) = self.blobs.put(&sha256, bytes).await {
                self.remove_blobs(&written).await;
                return Err(e);
            }
            written.push(sha256);
        }
        Ok(written)
    }

    /// Takes back blob files an import wrote (best effort: it is already failing).
    async fn remove_blobs(&self, hashes: &[String]) {
        for sha in hashes {
            if let Err(e) = self.blobs.remove(sha).await {
                tracing::warn!(sha, error = %e, "cannot remove a blob file of a failed import");
            }
        }
    }
}

/// The embedded store keeps one chain, numbered by `seq`: anything else
/// could not be chained on after the import.
fn check_audit(a: &AuditRecord) -> Result<()> {
    if a.chain != 0 || a.link != a.seq {
        return Err(StoreError::Invalid(format!(
            "audit record {} is link {} of chain {}; this store keeps one chain (0) numbered by seq",
            a.seq, a.link, a.chain
        )));
    }
    Ok(())
}

/// A numeric key (case id, audit seq) to continue after.
fn numeric<T: std::str::FromStr>(table: Table, after: Option<&str>) -> Result<Option<T>> {
    after
        .map(|a| {
            a.parse::<T>().map_err(|_| StoreError::Invalid(format!("{a:?} is not a {} key (a number)", table.as_str())))
        })
        .transpose()
}

/// One page of a table kept in the database.
fn export(c: &Connection, table: Table, after: Option<&str>, limit: usize) -> Result<Vec<Row>> {
    let n = i64::try_from(limit).unwrap_or(i64::MAX);
    let body =
        |t: &str, key: &str| format!("SELECT body FROM {t} WHERE (?1 IS NULL OR {key} > ?1) ORDER BY {key} LIMIT ?2");
    Ok(match table {
        Table::Meta => {
            let mut st = c
                .prepare_cached("SELECT key, value FROM meta WHERE (?1 IS NULL OR key > ?1) ORDER BY key LIMIT ?2")
                .map_err(backend)?;
            let rows = st
                .query_map(params![after, n], |r| Ok(Row::Meta { key: r.get(0)?, value: r.get(1)? }))
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<_>>().map_err(backend)?
        }
        Table::Units => {
            let units: Vec<StoredUnit> =
                sql::units_where(c, "WHERE (?1 IS NULL OR code > ?1) ORDER BY code LIMIT ?2", params![after, n])?;
            units.into_iter().map(Row::Unit).collect()
        }
        Table::Zones => {
            let mut st = c
                .prepare_cached("SELECT body, geometry FROM zones WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2")
                .map_err(backend)?;
            let rows = st
                .query_map(params![after, n], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(backend)?;
            let mut out = vec![];
            for row in rows {
                let (zone, geometry) = row.map_err(backend)?;
                out.push(Row::Zone(StoredZone { zone: serde_json::from_str(&zone).map_err(sql::json_err)?, geometry }));
            }
            out
        }
        Table::Categories => {
            sql::json_rows(c, &body("categories", "code"), params![after, n])?.into_iter().map(Row::Category).collect()
        }
        Table::Departments => sql::json_rows(c, &body("departments", "code"), params![after, n])?
            .into_iter()
            .map(Row::Department)
            .collect(),
        Table::Users => {
            sql::json_rows(c, &body("users", "id"), params![after, n])?.into_iter().map(Row::User).collect()
        }
        Table::Devices => {
            sql::json_rows(c, &body("devices", "id"), params![after, n])?.into_iter().map(Row::Device).collect()
        }
        Table::Sessions => sessions(c, after, n)?.into_iter().map(Row::Session).collect(),
        Table::Attachments => attachments(c, after, n)?.into_iter().map(Row::Attachment).collect(),
        Table::Cases => {
            let after = numeric::<i64>(table, after)?.unwrap_or(i64::MIN);
            let mut st =
                c.prepare_cached("SELECT id FROM cases WHERE id > ?1 ORDER BY id LIMIT ?2").map_err(backend)?;
            let ids = st
                .query_map(params![after, n], |r| r.get::<_, i64>(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(rec) = sql::case(c, id)? {
                    out.push(Row::Case(Box::new(rec)));
                }
            }
            out
        }
        Table::Incidents => {
            let after = numeric::<i64>(table, after)?.unwrap_or(i64::MIN);
            let args = vec![rusqlite::types::Value::Integer(after), rusqlite::types::Value::Integer(n)];
            crate::eyes::incidents_where(c, "WHERE id > ? ORDER BY id LIMIT ?", args)?
                .into_iter()
                .map(|r| Row::Incident(Box::new(r)))
                .collect()
        }
        Table::Detections => {
            let (device, source) = match after {
                Some(a) => split_detection_key(a)
                    .ok_or_else(|| StoreError::Invalid(format!("{a:?} is not a detections key")))?,
                None => ("", ""),
            };
            crate::eyes::detections_where(
                c,
                "WHERE (device, source_id) > (?1, ?2) ORDER BY device, source_id LIMIT ?3",
                params![device, source, n],
            )?
            .into_iter()
            .map(|d| Row::Detection(Box::new(d)))
            .collect()
        }
        Table::Audit => {
            let filter = AuditFilter { after_seq: numeric::<u64>(table, after)?, limit, ..AuditFilter::default() };
            sql::audit_records(c, &filter)?.into_iter().map(Row::Audit).collect()
        }
        Table::Blobs => return Err(StoreError::Invalid("blobs are files, not rows of the database".into())),
    })
}

fn sessions(c: &Connection, after: Option<&str>, n: i64) -> Result<Vec<SessionRecord>> {
    let mut st = c
        .prepare_cached(
            "SELECT token_hash, user_id, created_at, expires_at, revoked_at FROM sessions
             WHERE (?1 IS NULL OR token_hash > ?1) ORDER BY token_hash LIMIT ?2",
        )
        .map_err(backend)?;
    let rows = st
        .query_map(params![after, n], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })
        .map_err(backend)?;
    let mut out = vec![];
    for row in rows {
        let (token_hash, user_id, created, expires, revoked) = row.map_err(backend)?;
        out.push(SessionRecord {
            token_hash,
            user_id,
            created_at: sql::from_ms("sessions.created_at", created)?,
            expires_at: sql::from_ms("sessions.expires_at", expires)?,
            revoked_at: revoked.map(|v| sql::from_ms("sessions.revoked_at", v)).transpose()?,
        });
    }
    Ok(out)
}

fn attachments(c: &Connection, after: Option<&str>, n: i64) -> Result<Vec<AttachmentMeta>> {
    let mut st = c
        .prepare_cached(
            "SELECT sha256, size, content_type, uploaded_by, uploaded_at FROM attachments
             WHERE (?1 IS NULL OR sha256 > ?1) ORDER BY sha256 LIMIT ?2",
        )
        .map_err(backend)?;
    let rows = st
        .query_map(params![after, n], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(backend)?;
    let mut out = vec![];
    for row in rows {
        let (sha256, size, content_type, uploaded_by, at) = row.map_err(backend)?;
        out.push(AttachmentMeta {
            sha256,
            size: size as u64,
            content_type,
            uploaded_by,
            uploaded_at: sql::from_ms("attachments.uploaded_at", at)?,
        });
    }
    Ok(out)
}

/// Runs one insert; a taken key is a conflict naming the row.
fn insert(c: &Connection, row: &Row, sql: &str, params: impl rusqlite::Params) -> Result<()> {
    c.prepare_cached(sql).and_then(|mut st| st.execute(params)).map_err(backend).map_err(|e| conflict(row, e))?;
    Ok(())
}

fn conflict(row: &Row, e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("{} row {} exists already", row.table().as_str(), row.key()))
        }
        other => other,
    }
}

/// Writes one row exactly as given.
fn insert_row(c: &Connection, row: &Row) -> Result<()> {
    match row {
        Row::Meta { key, value } => {
            insert(c, row, "INSERT INTO meta (key, value) VALUES (?1, ?2)", params![key, value])
        }
        Row::Unit(s) => {
            let u = &s.unit;
            insert(
                c,
                row,
                "INSERT INTO units (code, name, level, parent, valid_from, valid_to, synthetic, geometry)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    u.code.as_str(),
                    u.name,
                    u.level.as_str(),
                    u.parent.as_ref().map(|p| p.as_str()),
                    u.valid_from.to_string(),
                    u.valid_to.map(|d| d.to_string()),
                    u.synthetic,
                    s.geometry
                ],
            )
        }
        Row::Zone(z) => insert(
            c,
            row,
            "INSERT INTO zones (id, kind, body, geometry) VALUES (?1, ?2, ?3, ?4)",
            params![z.zone.id, z.zone.kind.as_str(), sql::to_json(&z.zone)?, z.geometry],
        ),
        Row::Category(cat) => insert(
            c,
            row,
            "INSERT INTO categories (code, body) VALUES (?1, ?2)",
            params![cat.code.as_str(), sql::to_json(cat)?],
        ),
        Row::Department(d) => {
            insert(c, row, "INSERT INTO departments (code, body) VALUES (?1, ?2)", params![d.code, sql::to_json(d)?])
        }
        Row::User(u) => sql::put_user(c, u, true).map_err(|e| conflict(row, e)),
        Row::Session(s) => insert(
            c,
            row,
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.token_hash, s.user_id, sql::ms(s.created_at), sql::ms(s.expires_at), s.revoked_at.map(sql::ms)],
        ),
        Row::Device(d) => sql::put_device(c, d, true).map_err(|e| conflict(row, e)),
        Row::Attachment(a) => insert(
            c,
            row,
            "INSERT INTO attachments (sha256, size, content_type, uploaded_by, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.sha256, a.size as i64, a.content_type, a.uploaded_by, sql::ms(a.uploaded_at)],
        ),
        Row::Case(rec) => {
            sql::insert_case(c, &rec.case, &rec.timeline).map_err(|e| conflict(row, e))?;
            match &rec.contact {
                Some(contact) => sql::put_contact(c, rec.case.id, contact).map_err(|e| conflict(row, e)),
                None => Ok(()),
            }
        }
        Row::Incident(r) => crate::eyes::put_incident(c, r, true).map_err(|e| conflict(row, e)),
        Row::Detection(d) => match crate::eyes::insert_detection(c, d)? {
            citygrid_store::Recorded::Inserted => Ok(()),
            citygrid_store::Recorded::Duplicate => Err(conflict(row, StoreError::Conflict(String::new()))),
        },
        Row::Audit(a) => sql::insert_audit(c, a).map_err(|e| conflict(row, e)),
        Row::Blob { .. } => Err(StoreError::Invalid("blobs are files, not rows of the database".into())),
    }
}
