//! [`TransferStore`]: every table read out in key order and written back
//! verbatim, for moving an installation between backends.

use citygrid_domain::case::{Case, CaseId};
use citygrid_store::{CaseRecord, Change, Result, Row, StoreError, Table, TransferStore};
use tokio_postgres::GenericClient;

use crate::error::{Fail, write_tx};
use crate::replica::lagging_read;
use crate::{PgStore, audit, sql};

/// A numeric key as [`Row::key`] writes it (zero-padded digits).
fn numeric_key(after: Option<&str>) -> Result<i64> {
    match after {
        None => Ok(i64::MIN),
        Some(k) => k.parse().map_err(|_| StoreError::Invalid(format!("{k:?} is not a numeric row key"))),
    }
}

async fn export<C: GenericClient + Sync>(
    c: &C,
    table: Table,
    after: Option<String>,
    limit: usize,
) -> std::result::Result<Vec<Row>, Fail> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let after_text = after.clone().unwrap_or_default();
    // Text keys use the "C" collation, so this is byte order, as Row::key compares.
    let text_page = |cols: &str, from: &str, key: &str| {
        format!("SELECT {cols} FROM {from} WHERE {key} > $1 ORDER BY {key} LIMIT $2")
    };
    let rows = match table {
        Table::Meta => c
            .query(&text_page("key, value", "meta", "key"), &[&after_text, &limit])
            .await?
            .iter()
            .map(|r| Row::Meta { key: r.get(0), value: r.get(1) })
            .collect(),
        Table::Units => c
            .query(&text_page(sql::UNIT_COLUMNS, "units", "code"), &[&after_text, &limit])
            .await?
            .iter()
            .map(|r| sql::unit_from_row(r).map(Row::Unit))
            .collect::<Result<_>>()?,
        Table::Zones => c
            .query(&text_page("body, geometry", "zones", "id"), &[&after_text, &limit])
            .await?
            .iter()
            .map(|r| {
                let zone = serde_json::from_str(r.get::<_, &str>(0)).map_err(crate::error::json_err)?;
                Ok(Row::Zone(citygrid_store::StoredZone { zone, geometry: r.get(1) }))
            })
            .collect::<Result<_>>()?,
        Table::Categories => {
            let q = text_page("body", "categories", "code");
            sql::json_rows(c, &q, &[&after_text, &limit]).await?.into_iter().map(Row::Category).collect()
        }
        Table::Departments => {
            let q = text_page("body", "departments", "code");
            sql::json_rows(c, &q, &[&after_text, &limit]).await?.into_iter().map(Row::Department).collect()
        }
        Table::Users => {
            let q = text_page("body", "users", "id");
            sql::json_rows(c, &q, &[&after_text, &limit]).await?.into_iter().map(Row::User).collect()
        }
        Table::Sessions => c
            .query(&text_page(sql::SESSION_COLUMNS, "sessions", "token_hash"), &[&after_text, &limit])
            .await?
            .iter()
            .map(|r| Row::Session(sql::session_from_row(r)))
            .collect(),
        Table::Devices => {
            let q = text_page("body", "devices", "id");
            sql::json_rows(c, &q, &[&after_text, &limit]).await?.into_iter().map(Row::Device).collect()
        }
        Table::Attachments => c
            .query(&text_page(sql::ATTACHMENT_COLUMNS, "attachments", "sha256"), &[&after_text, &limit])
            .await?
            .iter()
            .map(|r| Row::Attachment(sql::attachment_from_row(r)))
            .collect(),
        Table::Blobs => c
            .query(&text_page("sha256, bytes", "blobs", "sha256"), &[&after_text, &limit])
            .await?
            .iter()
            .map(|r| Row::Blob { sha256: r.get(0), bytes: r.get(1) })
            .collect(),
        Table::Cases => {
            let after = numeric_key(after.as_deref())?;
            let ids: Vec<CaseId> = c
                .query("SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT $2", &[&after, &limit])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                // A case deleted between the two reads is simply not exported.
                if let Some(rec) = sql::case(c, id).await? {
                    out.push(Row::Case(Box::new(rec)));
                }
            }
            out
        }
        Table::Incidents => {
            let after = numeric_key(after.as_deref())?;
            crate::eyes::incidents_where(c, "WHERE id > $1 ORDER BY id LIMIT $2", &[&after, &limit])
                .await?
                .into_iter()
                .map(|r| Row::Incident(Box::new(r)))
                .collect()
        }
        Table::Detections => {
            let (device, source) = match after.as_deref() {
                Some(a) => citygrid_store::split_detection_key(a)
                    .map(|(d, s)| (d.to_owned(), s.to_owned()))
                    .ok_or_else(|| StoreError::Invalid(format!("{a:?} is not a detections key")))?,
                None => (String::new(), String::new()),
            };
            crate::eyes::detections_where(
                c,
                "WHERE (device, source_id) > ($1, $2) ORDER BY device, source_id LIMIT $3",
                &[&device, &source, &limit],
            )
            .await?
            .into_iter()
            .map(|d| Row::Detection(Box::new(d)))
            .collect()
        }
        Table::Audit => {
            let after = numeric_key(after.as_deref())?;
            c.query(
                &format!("SELECT {} FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", audit::COLUMNS),
                &[&after, &limit],
            )
            .await?
            .iter()
            .map(|r| Row::Audit(audit::from_row(r)))
            .collect()
        }
    };
    Ok(rows)
}

async fn import_case<C: crate::sql::Cached>(c: &C, rec: &CaseRecord) -> std::result::Result<(), Fail> {
    let case: &Case = &rec.case;
    sql::insert_case(c, case, &rec.timeline, rec.contact.as_ref()).await
}

async fn import<C: GenericClient + crate::sql::Cached>(c: &C, row: &Row) -> std::result::Result<(), Fail> {
    match row {
        Row::Meta { key, value } => {
            c.execute("INSERT INTO meta (key, value) VALUES ($1, $2)", &[key, value]).await?;
        }
        Row::Unit(u) => sql::put_units(c, std::slice::from_ref(u), false).await?,
        Row::Zone(z) => sql::put_zones(c, std::slice::from_ref(z), false).await?,
        Row::Category(cat) => sql::put_categories(c, std::slice::from_ref(cat), false).await?,
        Row::Department(d) => sql::put_departments(c, std::slice::from_ref(d), false).await?,
        Row::User(u) => sql::put_user(c, u, true).await?,
        Row::Session(s) => sql::insert_session(c, s).await?,
        Row::Device(d) => sql::put_device(c, d, true).await?,
        Row::Attachment(a) => sql::put_attachment(c, a, false).await?,
        Row::Blob { sha256, bytes } => sql::put_blob(c, sha256, bytes, false).await?,
        Row::Case(rec) => import_case(c, rec).await?,
        Row::Incident(r) => crate::eyes::put_incident(c, r, true).await?,
        Row::Detection(d) => crate::eyes::import_detection(c, d).await?,
        Row::Audit(r) => audit::insert(c, r).await?,
    }
    Ok(())
}

impl TransferStore for PgStore {
    async fn export_rows(&self, table: Table, after: Option<String>, limit: usize) -> Result<Vec<Row>> {
        lagging_read!(self, |c| export(c, table, after.clone(), limit))
    }

    async fn import_rows(&self, rows: Vec<Row>) -> Result<()> {
        write_tx!(self, |tx| {
            for row in &rows {
                import(&*tx, row).await.map_err(|f| match f.into_store() {
                    StoreError::Conflict(m) => Fail::Store(StoreError::Conflict(format!(
                        "{} {:?} exists already: {m}",
                        row.table().as_str(),
                        row.key()
                    ))),
                    other => Fail::Store(other),
                })?;
            }
        })
    }

    async fn finish_import(&self) -> Result<()> {
        write_tx!(self, |tx| {
            // setval(…, false) makes the next nextval return exactly that value.
            tx.execute("SELECT setval('case_ids', (SELECT COALESCE(MAX(id), 0) + 1 FROM cases), false)", &[]).await?;
            tx.execute("SELECT setval('audit_seq', (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit), false)", &[]).await?;
            // Each chain goes on from its last imported record; chains with
            // none imported keep their heads.
            tx.execute(
                "INSERT INTO audit_chains (chain, link, hash)
                 SELECT DISTINCT ON (chain) chain, link, hash FROM audit ORDER BY chain, link DESC
                 ON CONFLICT (chain) DO UPDATE SET link = excluded.link, hash = excluded.hash",
                &[],
            )
            .await?;
            // Other processes reload everything they keep in memory.
            self.notify(&*tx, &Change::Resync).await?;
        })
    }
}
