//! Detections and incidents ([`EyesStore`]): the intake's batch written in
//! the writer's transaction with cached statements, one row at a time
//! (SQLite's per-row cost inside one transaction is a few microseconds, so
//! multi-row statements would buy little and cost a statement per size).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use citygrid_domain::UnitCode;
use citygrid_domain::access::CaseScope;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::eyes::{Detection, IncidentId};
use citygrid_store::prelude::*;
use citygrid_store::{
    DetectionBatch, FalsePositiveStats, FalsePositives, FeedItem, IncidentChange, IncidentFilter, IncidentPage,
    IncidentRecord, MAX_DETECTION_BATCH, MAX_INCIDENT_PAGE, Recorded, Result, StoreError, StoredDetection,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::SqliteStore;
use crate::sql::{backend, json_err, to_json};
use crate::writer::WriterCtx;

/// Microseconds since the epoch, the precision eyes columns keep.
pub(crate) fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_us(column: &str, v: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_micros(v)
        .single()
        .ok_or_else(|| StoreError::Backend(format!("stored {column} {v} is not a valid timestamp (microseconds)")))
}

/// The exclusive upper bound of a digit-string prefix range (':' follows '9').
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}:")
}

fn unit(column: &str, s: &str) -> Result<UnitCode> {
    UnitCode::parse(s).map_err(|e| StoreError::Backend(format!("stored {column} {s:?} is not a unit code: {e}")))
}

fn id_of(v: i64) -> IncidentId {
    u64::try_from(v).unwrap_or(0)
}

fn sql_id(id: IncidentId) -> Result<i64> {
    i64::try_from(id).map_err(|_| StoreError::Invalid(format!("incident id {id} is out of range")))
}

const INSERT_DETECTION: &str = "INSERT INTO detections
    (device, source_id, at, label, score, lon, lat, evidence, attributes, received_at, territory, rule, incident)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
    ON CONFLICT (device, source_id) DO NOTHING";

const INSERT_INCIDENT: &str = "INSERT INTO incidents
    (id, kind, state, territory, rule, first_seen, last_seen, lon, lat, version, updated_at, body)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

const UPDATE_INCIDENT: &str = "UPDATE incidents SET kind = ?2, state = ?3, territory = ?4, rule = ?5,
    first_seen = ?6, last_seen = ?7, lon = ?8, lat = ?9, version = ?10, updated_at = ?11, body = ?12
    WHERE id = ?1 AND version = ?10 - 1";

const DETECTION_COLUMNS: &str =
    "device, source_id, at, label, score, lon, lat, evidence, attributes, received_at, territory, rule, incident";

/// Inserts one detection unless its key is stored; whether it was new.
pub(crate) fn insert_detection(conn: &Connection, d: &StoredDetection) -> Result<Recorded> {
    let x = &d.detection;
    let evidence = if x.evidence.is_empty() { None } else { Some(to_json(&x.evidence)?) };
    let attributes = x.attributes.as_ref().map(to_json).transpose()?;
    let incident = d.incident.map(sql_id).transpose()?;
    let n = conn
        .prepare_cached(INSERT_DETECTION)
        .and_then(|mut st| {
            st.execute(params![
                x.device,
                x.id,
                us(x.at),
                x.label,
                x.score,
                x.lon,
                x.lat,
                evidence,
                attributes,
                us(d.received_at),
                d.territory.as_str(),
                d.rule,
                incident,
            ])
        })
        .map_err(backend)?;
    Ok(if n == 1 { Recorded::Inserted } else { Recorded::Duplicate })
}

/// Writes an incident: a new one (version 1) or the next version of a
/// stored one; anything else is a conflict. `insert` inserts it as it is,
/// whatever its version (moving between backends).
pub(crate) fn put_incident(conn: &Connection, r: &IncidentRecord, insert: bool) -> Result<()> {
    let i = &r.incident;
    let body = to_json(i)?;
    let sql = if insert || r.version <= 1 { INSERT_INCIDENT } else { UPDATE_INCIDENT };
    let version = i64::try_from(r.version).map_err(|_| StoreError::Invalid("incident version out of range".into()))?;
    let id = sql_id(i.id)?;
    let n = conn
        .prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(params![
                id,
                i.kind.as_str(),
                i.state.as_str(),
                r.territory.as_str(),
                r.rule,
                us(i.first_seen),
                us(i.last_seen),
                i.centroid.lon,
                i.centroid.lat,
                version,
                us(r.updated_at),
                body,
            ])
        })
        .map_err(|e| match backend(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("incident {} exists already", i.id)),
            other => other,
        })?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "incident {} is not at version {}; another change got there first",
            i.id,
            r.version.saturating_sub(1)
        )));
    }
    Ok(())
}

/// The intake's batch, in the writer's transaction.
fn record(w: &mut WriterCtx<'_>, batch: &DetectionBatch) -> Result<Vec<Recorded>> {
    let mut out = Vec::with_capacity(batch.detections.len());
    for d in &batch.detections {
        out.push(insert_detection(w.conn, d)?);
    }
    for r in &batch.incidents {
        put_incident(w.conn, r, false)?;
    }
    crate::sql::append_audit(w, &batch.audit)?;
    Ok(out)
}

fn detection_from_row(r: &rusqlite::Row<'_>) -> Result<StoredDetection> {
    let get = |e: rusqlite::Error| backend(e);
    let evidence: Option<String> = r.get(7).map_err(get)?;
    let attributes: Option<String> = r.get(8).map_err(get)?;
    let territory: String = r.get(10).map_err(get)?;
    let incident: Option<i64> = r.get(12).map_err(get)?;
    Ok(StoredDetection {
        detection: Detection {
            device: r.get(0).map_err(get)?,
            id: r.get(1).map_err(get)?,
            at: from_us("detections.at", r.get(2).map_err(get)?)?,
            label: r.get(3).map_err(get)?,
            score: r.get(4).map_err(get)?,
            lon: r.get(5).map_err(get)?,
            lat: r.get(6).map_err(get)?,
            evidence: evidence.map(|e| serde_json::from_str(&e)).transpose().map_err(json_err)?.unwrap_or_default(),
            attributes: attributes.map(|a| serde_json::from_str(&a)).transpose().map_err(json_err)?,
        },
        received_at: from_us("detections.received_at", r.get(9).map_err(get)?)?,
        territory: unit("detections.territory", &territory)?,
        rule: r.get(11).map_err(get)?,
        incident: incident.map(id_of),
    })
}

/// Detections from a query whose columns are [`DETECTION_COLUMNS`].
pub(crate) fn detections_where(
    conn: &Connection,
    tail: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<StoredDetection>> {
    let sql = format!("SELECT {DETECTION_COLUMNS} FROM detections {tail}");
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let mut rows = st.query(args).map_err(backend)?;
    let mut out = vec![];
    while let Some(r) = rows.next().map_err(backend)? {
        out.push(detection_from_row(r)?);
    }
    Ok(out)
}

fn incident_from_row(r: &rusqlite::Row<'_>) -> Result<IncidentRecord> {
    let get = |e: rusqlite::Error| backend(e);
    let version: i64 = r.get(0).map_err(get)?;
    let territory: String = r.get(1).map_err(get)?;
    let body: String = r.get(4).map_err(get)?;
    Ok(IncidentRecord {
        incident: serde_json::from_str(&body).map_err(json_err)?,
        version: u64::try_from(version).unwrap_or(0),
        territory: unit("incidents.territory", &territory)?,
        rule: r.get(2).map_err(get)?,
        updated_at: from_us("incidents.updated_at", r.get(3).map_err(get)?)?,
    })
}

/// Incidents from a query on `incidents` (its columns chosen here).
pub(crate) fn incidents_where(conn: &Connection, tail: &str, args: Vec<Value>) -> Result<Vec<IncidentRecord>> {
    let sql = format!("SELECT version, territory, rule, updated_at, body FROM incidents {tail}");
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let mut rows = st.query(params_from_iter(args)).map_err(backend)?;
    let mut out = vec![];
    while let Some(r) = rows.next().map_err(backend)? {
        out.push(incident_from_row(r)?);
    }
    Ok(out)
}

/// The scope's condition on `incidents` (or on a join naming it `i`).
fn scope_clause(scope: &CaseScope, column: &str, sql: &mut String, args: &mut Vec<Value>) {
    match scope {
        CaseScope::All => {}
        CaseScope::Territory(u) => {
            let p = u.subtree_prefix();
            sql.push_str(&format!(" AND {column} >= ? AND {column} < ?"));
            args.push(Value::Text(p.to_owned()));
            args.push(Value::Text(prefix_end(p)));
        }
        CaseScope::Department(_) | CaseScope::Reporter(_) | CaseScope::Nothing => sql.push_str(" AND 0"),
    }
}

fn list(conn: &Connection, f: &IncidentFilter) -> Result<IncidentPage> {
    let mut sql = String::from("WHERE 1=1");
    let mut args: Vec<Value> = vec![];
    scope_clause(&f.scope, "territory", &mut sql, &mut args);
    if !f.kinds.is_empty() {
        sql.push_str(&format!(" AND kind IN ({})", vec!["?"; f.kinds.len()].join(",")));
        args.extend(f.kinds.iter().map(|k| Value::Text(k.as_str().to_owned())));
    }
    if !f.states.is_empty() {
        sql.push_str(&format!(" AND state IN ({})", vec!["?"; f.states.len()].join(",")));
        args.extend(f.states.iter().map(|s| Value::Text(s.as_str().to_owned())));
    }
    if let Some(b) = &f.bbox {
        sql.push_str(" AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?");
        args.extend([b.min_lon, b.max_lon, b.min_lat, b.max_lat].map(Value::Real));
    }
    if let Some(t) = f.from {
        sql.push_str(" AND last_seen >= ?");
        args.push(Value::Integer(us(t)));
    }
    if let Some(t) = f.to {
        sql.push_str(" AND first_seen < ?");
        args.push(Value::Integer(us(t)));
    }
    if let Some(a) = f.after {
        sql.push_str(" AND id < ?");
        args.push(Value::Integer(sql_id(a)?));
    }
    let limit = f.limit.clamp(1, MAX_INCIDENT_PAGE);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit + 1));
    let mut incidents = incidents_where(conn, &sql, args)?;
    let next_after = if incidents.len() > limit {
        incidents.truncate(limit);
        incidents.last().map(|r| r.incident.id)
    } else {
        None
    };
    Ok(IncidentPage { incidents, next_after })
}

fn counts(conn: &Connection, column: &str, scope: &CaseScope) -> Result<Vec<FalsePositives>> {
    let mut sql = format!(
        "SELECT d.{column}, COUNT(*), SUM(CASE WHEN i.state = 'dismissed' THEN 1 ELSE 0 END)
         FROM detections d JOIN incidents i ON i.id = d.incident WHERE d.{column} IS NOT NULL"
    );
    let mut args = vec![];
    scope_clause(scope, "i.territory", &mut sql, &mut args);
    sql.push_str(&format!(" GROUP BY d.{column} ORDER BY d.{column}"));
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = st
        .query_map(params_from_iter(args), |r| {
            Ok(FalsePositives {
                key: r.get(0)?,
                total: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                dismissed: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            })
        })
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend)).collect()
}

impl EyesStore for SqliteStore {
    async fn record_detections(&self, batch: DetectionBatch) -> Result<Vec<Recorded>> {
        if batch.detections.len() > MAX_DETECTION_BATCH {
            return Err(StoreError::Invalid(format!("at most {MAX_DETECTION_BATCH} detections per batch")));
        }
        // The job may run twice (see the writer); it reads the batch, never takes it.
        let batch = Arc::new(batch);
        self.writer
            .write(move |w| {
                let recorded = record(w, &batch)?;
                for r in &batch.incidents {
                    crate::feed::record_item(w.conn, r.updated_at, &FeedItem::Incident(IncidentChange::of(r)))?;
                }
                Ok(recorded)
            })
            .await
    }

    async fn detections_known(&self, keys: Vec<(String, String)>) -> Result<Vec<bool>> {
        self.readers
            .read(move |c| {
                let mut st = c
                    .prepare_cached("SELECT 1 FROM detections WHERE device = ?1 AND source_id = ?2")
                    .map_err(backend)?;
                keys.iter().map(|(d, s)| st.exists(params![d, s]).map_err(backend)).collect()
            })
            .await
    }

    async fn incident(&self, id: IncidentId) -> Result<Option<IncidentRecord>> {
        let id = sql_id(id)?;
        self.readers.read_now(|c| Ok(incidents_where(c, "WHERE id = ?", vec![Value::Integer(id)])?.pop()))
    }

    async fn incident_detections(&self, id: IncidentId, limit: usize) -> Result<Vec<StoredDetection>> {
        let (id, limit) = (sql_id(id)?, i64::try_from(limit).unwrap_or(i64::MAX));
        self.readers
            .read(move |c| {
                detections_where(c, "WHERE incident = ?1 ORDER BY at, device, source_id LIMIT ?2", params![id, limit])
            })
            .await
    }

    async fn list_incidents(&self, filter: IncidentFilter) -> Result<IncidentPage> {
        self.readers.read(move |c| list(c, &filter)).await
    }

    async fn open_incidents(&self, since: DateTime<Utc>) -> Result<Vec<IncidentRecord>> {
        self.readers
            .read(move |c| {
                incidents_where(
                    c,
                    "WHERE state IN ('open', 'confirmed') AND last_seen >= ? ORDER BY id",
                    vec![Value::Integer(us(since))],
                )
            })
            .await
    }

    async fn max_incident_id(&self) -> Result<IncidentId> {
        self.readers
            .read(|c| {
                let max: Option<i64> = c
                    .query_row("SELECT MAX(id) FROM incidents", [], |r| r.get(0))
                    .optional()
                    .map_err(backend)?
                    .flatten();
                Ok(max.map_or(0, id_of))
            })
            .await
    }

    async fn update_incident(&self, record: IncidentRecord, audit: AuditEvent) -> Result<()> {
        if record.version < 2 {
            return Err(StoreError::Invalid("an update writes version 2 or later".into()));
        }
        self.writer
            .write(move |w| {
                let id = sql_id(record.incident.id)?;
                let exists =
                    w.conn.prepare_cached("SELECT 1 FROM incidents WHERE id = ?1").and_then(|mut st| st.exists([id]));
                if !exists.map_err(backend)? {
                    return Err(StoreError::NotFound(format!("incident/{}", record.incident.id)));
                }
                put_incident(w.conn, &record, false)?;
                crate::feed::record_item(w.conn, record.updated_at, &FeedItem::Incident(IncidentChange::of(&record)))?;
                crate::sql::append_audit(w, &audit)
            })
            .await
    }

    async fn false_positives(&self, scope: CaseScope) -> Result<FalsePositiveStats> {
        self.readers
            .read(move |c| {
                Ok(FalsePositiveStats { devices: counts(c, "device", &scope)?, rules: counts(c, "rule", &scope)? })
            })
            .await
    }
}
