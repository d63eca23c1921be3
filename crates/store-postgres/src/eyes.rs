//! Detections and incidents ([`EyesStore`]).
//!
//! A batch is one transaction of few round trips, whatever its size: the
//! detections go in one multi-row statement over arrays (`unnest`) with
//! `ON CONFLICT (device, source_id) DO NOTHING RETURNING` telling which
//! were new, sent together (pipelined) with the incident writes; then the
//! audit record. Keys repeated inside a batch are settled before sending
//! (the first occurrence counts), and the rows go in key order, so two
//! batches with overlapping keys lock them in the same order and never
//! deadlock.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use citygrid_domain::UnitCode;
use citygrid_domain::access::CaseScope;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::eyes::{Detection, IncidentId};
use citygrid_store::{
    DetectionBatch, EyesStore, FalsePositiveStats, FalsePositives, FeedItem, IncidentChange, IncidentFilter,
    IncidentPage, IncidentRecord, MAX_DETECTION_BATCH, MAX_INCIDENT_PAGE, Recorded, Result, StoreError,
    StoredDetection,
};
use tokio_postgres::GenericClient;

use crate::error::{Fail, json_err, to_json, write_tx};
use crate::replica::lagging_read;
use crate::sql::{Cached, Query};
use crate::{PgStore, audit, done};

const INSERT_DETECTIONS: &str = "INSERT INTO detections
    (device, source_id, at, label, score, lon, lat, evidence, attributes, received_at, territory, rule, incident)
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::float8[], $6::float8[],
        $7::float8[], $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::int8[])
    ON CONFLICT (device, source_id) DO NOTHING
    RETURNING device, source_id";

const INSERT_INCIDENT: &str = "INSERT INTO incidents
    (id, kind, state, territory, rule, first_seen, last_seen, lon, lat, version, updated_at, body)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

const UPDATE_INCIDENT: &str = "UPDATE incidents SET kind = $2, state = $3, territory = $4, rule = $5,
    first_seen = $6, last_seen = $7, lon = $8, lat = $9, version = $10, updated_at = $11, body = $12
    WHERE id = $1 AND version = $10::bigint - 1";

const DETECTION_COLUMNS: &str =
    "device, source_id, at, label, score, lon, lat, evidence, attributes, received_at, territory, rule, incident";

const INCIDENT_COLUMNS: &str = "version, territory, rule, updated_at, body";

fn sql_id(id: IncidentId) -> std::result::Result<i64, Fail> {
    i64::try_from(id).map_err(|_| Fail::Store(StoreError::Invalid(format!("incident id {id} is out of range"))))
}

fn unit(column: &str, s: &str) -> std::result::Result<UnitCode, Fail> {
    UnitCode::parse(s)
        .map_err(|e| Fail::Store(StoreError::Backend(format!("stored {column} {s:?} is not a unit code: {e}"))))
}

/// The batch's detections as columns, first occurrences only, in key
/// order; and each item's position among them (`None`: a repeat).
struct Columns {
    device: Vec<String>,
    source_id: Vec<String>,
    at: Vec<DateTime<Utc>>,
    label: Vec<String>,
    score: Vec<f64>,
    lon: Vec<f64>,
    lat: Vec<f64>,
    evidence: Vec<Option<String>>,
    attributes: Vec<Option<String>>,
    received_at: Vec<DateTime<Utc>>,
    territory: Vec<String>,
    rule: Vec<Option<String>>,
    incident: Vec<Option<i64>>,
}

impl Columns {
    fn of(items: &[StoredDetection]) -> std::result::Result<(Columns, Vec<bool>), Fail> {
        let mut first = vec![false; items.len()];
        let mut seen = HashSet::with_capacity(items.len());
        let mut order: Vec<usize> = Vec::with_capacity(items.len());
        for (i, d) in items.iter().enumerate() {
            if seen.insert((d.detection.device.as_str(), d.detection.id.as_str())) {
                first[i] = true;
                order.push(i);
            }
        }
        order.sort_by(|a, b| {
            let (x, y) = (&items[*a].detection, &items[*b].detection);
            (&x.device, &x.id).cmp(&(&y.device, &y.id))
        });
        let n = order.len();
        let mut c = Columns {
            device: Vec::with_capacity(n),
            source_id: Vec::with_capacity(n),
            at: Vec::with_capacity(n),
            label: Vec::with_capacity(n),
            score: Vec::with_capacity(n),
            lon: Vec::with_capacity(n),
            lat: Vec::with_capacity(n),
            evidence: Vec::with_capacity(n),
            attributes: Vec::with_capacity(n),
            received_at: Vec::with_capacity(n),
            territory: Vec::with_capacity(n),
            rule: Vec::with_capacity(n),
            incident: Vec::with_capacity(n),
        };
        for i in order {
            let d = &items[i];
            let x = &d.detection;
            c.device.push(x.device.clone());
            c.source_id.push(x.id.clone());
            c.at.push(x.at);
            c.label.push(x.label.clone());
            c.score.push(x.score);
            c.lon.push(x.lon);
            c.lat.push(x.lat);
            c.evidence.push(if x.evidence.is_empty() { None } else { Some(to_json(&x.evidence)?) });
            c.attributes.push(x.attributes.as_ref().map(to_json).transpose()?);
            c.received_at.push(d.received_at);
            c.territory.push(d.territory.as_str().to_owned());
            c.rule.push(d.rule.clone());
            c.incident.push(d.incident.map(sql_id).transpose()?);
        }
        Ok((c, first))
    }

    /// Inserts them; the keys that were new.
    async fn insert<C: Cached>(&self, c: &C) -> std::result::Result<HashSet<(String, String)>, Fail> {
        let st = c.stmt(INSERT_DETECTIONS).await?;
        let rows = c
            .inner()
            .query(
                &st,
                &[
                    &self.device,
                    &self.source_id,
                    &self.at,
                    &self.label,
                    &self.score,
                    &self.lon,
                    &self.lat,
                    &self.evidence,
                    &self.attributes,
                    &self.received_at,
                    &self.territory,
                    &self.rule,
                    &self.incident,
                ],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect())
    }
}

/// Writes an incident: inserted as it is (`insert`, or version 1) or as the
/// next version of the stored one; a stale version is a conflict.
pub(crate) async fn put_incident<C: Cached>(c: &C, r: &IncidentRecord, insert: bool) -> std::result::Result<(), Fail> {
    let i = &r.incident;
    let body = to_json(i)?;
    let id = sql_id(i.id)?;
    let version = i64::try_from(r.version)
        .map_err(|_| Fail::Store(StoreError::Invalid("incident version out of range".into())))?;
    let sql = if insert || r.version <= 1 { INSERT_INCIDENT } else { UPDATE_INCIDENT };
    let st = c.stmt(sql).await?;
    let n = c
        .inner()
        .execute(
            &st,
            &[
                &id,
                &i.kind.as_str(),
                &i.state.as_str(),
                &r.territory.as_str(),
                &r.rule,
                &i.first_seen,
                &i.last_seen,
                &i.centroid.lon,
                &i.centroid.lat,
                &version,
                &r.updated_at,
                &body,
            ],
        )
        .await
        .map_err(|e| {
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                Fail::Store(StoreError::Conflict(format!("incident {} exists already", i.id)))
            } else {
                Fail::Pg(e)
            }
        })?;
    if n == 0 {
        return Err(Fail::Store(StoreError::Conflict(format!(
            "incident {} is not at version {}; another change got there first",
            i.id,
            r.version.saturating_sub(1)
        ))));
    }
    Ok(())
}

/// Inserts one detection as it is (moving between backends); a taken key is a conflict.
pub(crate) async fn import_detection<C: Cached>(c: &C, d: &StoredDetection) -> std::result::Result<(), Fail> {
    let (cols, _) = Columns::of(std::slice::from_ref(d))?;
    if cols.insert(c).await?.is_empty() {
        return Err(Fail::Store(StoreError::Conflict(format!(
            "detection {}/{} exists already",
            d.detection.device, d.detection.id
        ))));
    }
    Ok(())
}

fn detection_from_row(r: &tokio_postgres::Row) -> std::result::Result<StoredDetection, Fail> {
    let evidence: Option<String> = r.get(7);
    let attributes: Option<String> = r.get(8);
    let incident: Option<i64> = r.get(12);
    Ok(StoredDetection {
        detection: Detection {
            device: r.get(0),
            id: r.get(1),
            at: r.get(2),
            label: r.get(3),
            score: r.get(4),
            lon: r.get(5),
            lat: r.get(6),
            evidence: evidence
                .map(|e| serde_json::from_str(&e))
                .transpose()
                .map_err(|e| Fail::Store(json_err(e)))?
                .unwrap_or_default(),
            attributes: attributes
                .map(|a| serde_json::from_str(&a))
                .transpose()
                .map_err(|e| Fail::Store(json_err(e)))?,
        },
        received_at: r.get(9),
        territory: unit("detections.territory", r.get::<_, &str>(10))?,
        rule: r.get(11),
        incident: incident.and_then(|i| u64::try_from(i).ok()),
    })
}

/// Detections from a query whose columns are [`DETECTION_COLUMNS`].
pub(crate) async fn detections_where<C: GenericClient + Sync>(
    c: &C,
    tail: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> std::result::Result<Vec<StoredDetection>, Fail> {
    let rows = c.query(&format!("SELECT {DETECTION_COLUMNS} FROM detections {tail}"), args).await?;
    rows.iter().map(detection_from_row).collect()
}

fn incident_from_row(r: &tokio_postgres::Row) -> std::result::Result<IncidentRecord, Fail> {
    Ok(IncidentRecord {
        version: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        territory: unit("incidents.territory", r.get::<_, &str>(1))?,
        rule: r.get(2),
        updated_at: r.get(3),
        incident: serde_json::from_str(r.get::<_, &str>(4)).map_err(|e| Fail::Store(json_err(e)))?,
    })
}

/// Incidents from a query on `incidents`.
pub(crate) async fn incidents_where<C: GenericClient + Sync>(
    c: &C,
    tail: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> std::result::Result<Vec<IncidentRecord>, Fail> {
    let rows = c.query(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents {tail}"), args).await?;
    rows.iter().map(incident_from_row).collect()
}

fn scope_clause(scope: &CaseScope, column: &str, q: &mut Query) {
    match scope {
        CaseScope::All => {}
        CaseScope::Territory(u) => {
            let p = u.subtree_prefix();
            let (a, b) = (q.arg(p.to_owned()), q.arg(format!("{p}:")));
            q.sql.push_str(&format!(" AND {column} >= {a} AND {column} < {b}"));
        }
        CaseScope::Department(_) | CaseScope::Reporter(_) | CaseScope::Nothing => q.sql.push_str(" AND false"),
    }
}

async fn list<C: GenericClient + Sync>(c: &C, f: &IncidentFilter) -> std::result::Result<IncidentPage, Fail> {
    let mut q = Query::new(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE true"));
    scope_clause(&f.scope, "territory", &mut q);
    if !f.kinds.is_empty() {
        let a = q.arg(f.kinds.iter().map(|k| k.as_str().to_owned()).collect::<Vec<_>>());
        q.sql.push_str(&format!(" AND kind = ANY({a})"));
    }
    if !f.states.is_empty() {
        let a = q.arg(f.states.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        q.sql.push_str(&format!(" AND state = ANY({a})"));
    }
    if let Some(b) = &f.bbox {
        let (x0, x1, y0, y1) = (q.arg(b.min_lon), q.arg(b.max_lon), q.arg(b.min_lat), q.arg(b.max_lat));
        q.sql.push_str(&format!(" AND lon BETWEEN {x0} AND {x1} AND lat BETWEEN {y0} AND {y1}"));
    }
    if let Some(t) = f.from {
        let a = q.arg(t);
        q.sql.push_str(&format!(" AND last_seen >= {a}"));
    }
    if let Some(t) = f.to {
        let a = q.arg(t);
        q.sql.push_str(&format!(" AND first_seen < {a}"));
    }
    if let Some(after) = f.after {
        let a = q.arg(sql_id(after)?);
        q.sql.push_str(&format!(" AND id < {a}"));
    }
    let limit = f.limit.clamp(1, MAX_INCIDENT_PAGE);
    q.sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit + 1));
    let rows = c.query(&q.sql, &q.args()).await?;
    let mut incidents = rows.iter().map(incident_from_row).collect::<std::result::Result<Vec<_>, _>>()?;
    let next_after = if incidents.len() > limit {
        incidents.truncate(limit);
        incidents.last().map(|r| r.incident.id)
    } else {
        None
    };
    Ok(IncidentPage { incidents, next_after })
}

async fn counts<C: GenericClient + Sync>(
    c: &C,
    column: &str,
    scope: &CaseScope,
) -> std::result::Result<Vec<FalsePositives>, Fail> {
    let mut q = Query::new(&format!(
        "SELECT d.{column}, COUNT(*), COUNT(*) FILTER (WHERE i.state = 'dismissed')
         FROM detections d JOIN incidents i ON i.id = d.incident WHERE d.{column} IS NOT NULL"
    ));
    scope_clause(scope, "i.territory", &mut q);
    q.sql.push_str(&format!(" GROUP BY d.{column} ORDER BY d.{column} COLLATE \"C\""));
    let rows = c.query(&q.sql, &q.args()).await?;
    Ok(rows
        .iter()
        .map(|r| FalsePositives {
            key: r.get(0),
            total: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
            dismissed: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
        })
        .collect())
}

impl EyesStore for PgStore {
    async fn record_detections(&self, batch: DetectionBatch) -> Result<Vec<Recorded>> {
        if batch.detections.len() > MAX_DETECTION_BATCH {
            return Err(StoreError::Invalid(format!("at most {MAX_DETECTION_BATCH} detections per batch")));
        }
        let (cols, first) = Columns::of(&batch.detections).map_err(Fail::into_store)?;
        let inserted = write_tx!(self, |tx| {
            // Detections and incidents go out together; the audit record
            // last, so its chain head is locked only until the commit.
            let incidents = async {
                for r in &batch.incidents {
                    put_incident(&tx, r, false).await?;
                }
                Ok::<_, Fail>(())
            };
            let (inserted, ()) = tokio::try_join!(cols.insert(&tx), incidents)?;
            for r in &batch.incidents {
                crate::feed::record_item(&*tx, r.updated_at, &FeedItem::Incident(IncidentChange::of(r))).await?;
            }
            audit::append(&tx, &batch.audit).await?;
            inserted
        })?;
        Ok(batch
            .detections
            .iter()
            .zip(first)
            .map(|(d, first)| {
                let key = (d.detection.device.clone(), d.detection.id.clone());
                if first && inserted.contains(&key) { Recorded::Inserted } else { Recorded::Duplicate }
            })
            .collect())
    }

    async fn detections_known(&self, keys: Vec<(String, String)>) -> Result<Vec<bool>> {
        let (devices, ids): (Vec<String>, Vec<String>) = keys.iter().cloned().unzip();
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT k.device, k.source_id FROM unnest($1::text[], $2::text[]) AS k(device, source_id)
                 JOIN detections d ON d.device = k.device AND d.source_id = k.source_id",
                &[&devices, &ids],
            )
            .await
            .map_err(crate::error::pg)?;
        let known: HashSet<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(keys.iter().map(|k| known.contains(k)).collect())
    }

    async fn incident(&self, id: IncidentId) -> Result<Option<IncidentRecord>> {
        let id = sql_id(id).map_err(Fail::into_store)?;
        let c = self.client().await?;
        Ok(done(incidents_where(&**c, "WHERE id = $1", &[&id]).await)?.pop())
    }

    async fn incident_detections(&self, id: IncidentId, limit: usize) -> Result<Vec<StoredDetection>> {
        let id = sql_id(id).map_err(Fail::into_store)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        lagging_read!(self, |c| detections_where(
            c,
            "WHERE incident = $1 ORDER BY at, device, source_id LIMIT $2",
            &[&id, &limit]
        ))
    }

    async fn list_incidents(&self, filter: IncidentFilter) -> Result<IncidentPage> {
        lagging_read!(self, |c| list(c, &filter))
    }

    async fn open_incidents(&self, since: DateTime<Utc>) -> Result<Vec<IncidentRecord>> {
        // From the primary: the grouper must start from the newest state.
        let c = self.client().await?;
        done(
            incidents_where(&**c, "WHERE state IN ('open', 'confirmed') AND last_seen >= $1 ORDER BY id", &[&since])
                .await,
        )
    }

    async fn max_incident_id(&self) -> Result<IncidentId> {
        let c = self.client().await?;
        let row = c.query_one("SELECT COALESCE(MAX(id), 0) FROM incidents", &[]).await.map_err(crate::error::pg)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    async fn update_incident(&self, record: IncidentRecord, audit_event: AuditEvent) -> Result<()> {
        if record.version < 2 {
            return Err(StoreError::Invalid("an update writes version 2 or later".into()));
        }
        let id = sql_id(record.incident.id).map_err(Fail::into_store)?;
        write_tx!(self, |tx| {
            if tx.query_opt("SELECT 1 FROM incidents WHERE id = $1", &[&id]).await?.is_none() {
                return Err(Fail::Store(StoreError::NotFound(format!("incident/{}", record.incident.id))));
            }
            put_incident(&tx, &record, false).await?;
            crate::feed::record_item(&*tx, record.updated_at, &FeedItem::Incident(IncidentChange::of(&record))).await?;
            audit::append(&tx, &audit_event).await?;
        })
    }

    async fn false_positives(&self, scope: CaseScope) -> Result<FalsePositiveStats> {
        lagging_read!(self, |c| async {
            Ok::<_, Fail>(FalsePositiveStats {
                devices: counts(c, "device", &scope).await?,
                rules: counts(c, "rule", &scope).await?,
            })
        })
    }
}
