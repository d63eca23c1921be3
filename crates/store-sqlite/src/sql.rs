//! SQL for every operation, as plain functions on a connection, so the same
//! code serves writer jobs and readers.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead, GENESIS_HASH, Outcome};
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};
use citygrid_domain::{Category, Department, Level, Unit, UnitCode};
use citygrid_store::{
    AttachmentMeta, AuditFilter, CaseFilter, CasePage, CaseRecord, CaseScope, DeviceRecord, LoginOutcome,
    SealedContact, SessionRecord, StoreError, StoredUnit, StoredZone, UserRecord,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::writer::{AuditHead, WriterCtx};

/// Maps a driver error to the store's error.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(e.to_string())
        }
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("stored JSON is unreadable: {e}"))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("cannot encode: {e}")))
}

/// Every row's first column, a JSON document, decoded.
pub(crate) fn json_rows<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    let rows = st.query_map(params, |r| r.get::<_, String>(0)).map_err(backend)?;
    let mut out = vec![];
    for r in rows {
        out.push(serde_json::from_str(&r.map_err(backend)?).map_err(json_err)?);
    }
    Ok(out)
}

/// The first row's JSON document, decoded, if there is a row.
fn json_row<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>, StoreError> {
    let body: Option<String> =
        conn.prepare_cached(sql).and_then(|mut st| st.query_row(params, |r| r.get(0)).optional()).map_err(backend)?;
    body.map(|b| serde_json::from_str(&b).map_err(json_err)).transpose()
}

/// An instant as stored: milliseconds since the epoch.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored microsecond timestamp; one out of chrono's range is corrupt data,
/// reported rather than read back as some other instant.
fn from_us(column: &str, us: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_micros(us)
        .single()
        .ok_or_else(|| StoreError::Backend(format!("stored {column} {us} is not a valid timestamp (microseconds)")))
}

/// The exclusive upper bound of a digit-string prefix range (':' follows '9').
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}:")
}

// ---- meta ----

pub(crate) fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(backend)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .map_err(backend)?;
    Ok(())
}

// ---- audit ----

pub(crate) fn audit_head(conn: &Connection) -> Result<AuditHead, StoreError> {
    let head = conn
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })
        .optional()
        .map_err(backend)?;
    Ok(head.unwrap_or((0, GENESIS_HASH.to_owned())))
}

/// Chains `event` after the writer's head and inserts it.
pub(crate) fn append_audit(ctx: &mut WriterCtx<'_>, event: &AuditEvent) -> Result<(), StoreError> {
    if !ctx.audit {
        return Ok(());
    }
    // One chain (0): the single writer orders every record, so a record's
    // place in the trail and in its chain are the same number.
    let (seq, prev) = ctx.audit_head.clone();
    let rec = AuditRecord::chain(event.clone(), seq + 1, &ChainHead { chain: 0, link: seq, hash: prev });
    insert_audit(ctx.conn, &rec)?;
    *ctx.audit_head = (rec.seq, rec.hash);
    Ok(())
}

/// Inserts one numbered, chained record as it is.
pub(crate) fn insert_audit(conn: &Connection, rec: &AuditRecord) -> Result<(), StoreError> {
    let e = &rec.event;
    conn.prepare_cached(
        "INSERT INTO audit (seq, at_us, actor, role, action, resource, outcome, source_ip, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut st| {
        st.execute(params![
            rec.seq as i64,
            e.at.timestamp_micros(),
            e.actor,
            e.role,
            e.action,
            e.resource,
            e.outcome.as_str(),
            e.source_ip,
            e.detail,
            rec.prev_hash,
            rec.hash
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn audit_records(conn: &Connection, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, at_us, actor, role, action, resource, outcome, source_ip, detail, prev_hash, hash FROM audit WHERE 1=1",
    );
    let mut args: Vec<Value> = vec![];
    if let Some(s) = f.after_seq {
        sql.push_str(" AND seq > ?");
        args.push(Value::Integer(s as i64));
    }
    for (col, v) in [("actor", &f.actor), ("action", &f.action), ("resource", &f.resource)] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(Value::Text(v.clone()));
        }
    }
    if let Some(t) = f.from {
        sql.push_str(" AND at_us >= ?");
        args.push(Value::Integer(t.timestamp_micros()));
    }
    if let Some(t) = f.to {
        sql.push_str(" AND at_us < ?");
        args.push(Value::Integer(t.timestamp_micros()));
    }
    sql.push_str(" ORDER BY seq");
    if f.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", f.limit));
    }
    let mut st = conn.prepare(&sql).map_err(backend)?;
    let rows = st
        .query_map(params_from_iter(args), |r| {
            let outcome: String = r.get(6)?;
            // A bad timestamp is a store error, not a driver one: the row
            // yields it as the inner result, flattened below.
            let at = match from_us("audit.at_us", r.get(1)?) {
                Ok(at) => at,
                Err(e) => return Ok(Err(e)),
            };
            let seq = r.get::<_, i64>(0)? as u64;
            Ok(Ok(AuditRecord {
                seq,
                chain: 0,
                link: seq,
                event: AuditEvent {
                    at,
                    actor: r.get(2)?,
                    role: r.get(3)?,
                    action: r.get(4)?,
                    resource: r.get(5)?,
                    // An unknown outcome string cannot hash like the original,
                    // so verification will flag the record; do not hide it here.
                    outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Failed),
                    source_ip: r.get(7)?,
                    detail: r.get(8)?,
                },
                prev_hash: r.get(9)?,
                hash: r.get(10)?,
            }))
        })
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(|rec| rec)).collect()
}

// ---- territory ----

pub(crate) fn territory(conn: &Connection) -> Result<Vec<StoredUnit>, StoreError> {
    units_where(conn, "ORDER BY code", [])
}

/// Units selected by `tail` (whatever follows `FROM units`), decoded.
pub(crate) fn units_where(
    conn: &Connection,
    tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredUnit>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT code, name, level, parent, valid_from, valid_to, synthetic, geometry FROM units {tail}"
        ))
        .map_err(backend)?;
    let rows = st
        .query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, String>(7)?,
            ))
        })
        .map_err(backend)?;
    let mut out = vec![];
    for row in rows {
        let (code, name, level, parent, from, to, synthetic, geometry) = row.map_err(backend)?;
        let bad = |what: &str| StoreError::Backend(format!("unit {code}: stored {what} is invalid"));
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d");
        let unit = Unit {
            code: UnitCode::parse(&code).map_err(|_| bad("code"))?,
            name,
            level: Level::parse(&level).ok_or_else(|| bad("level"))?,
            parent: parent.map(|p| UnitCode::parse(&p)).transpose().map_err(|_| bad("parent"))?,
            valid_from: date(&from).map_err(|_| bad("valid_from"))?,
            valid_to: to.map(|t| date(&t)).transpose().map_err(|_| bad("valid_to"))?,
            synthetic,
        };
        out.push(StoredUnit { unit, geometry });
    }
    Ok(out)
}

pub(crate) fn upsert_units(conn: &Connection, units: &[StoredUnit]) -> Result<usize, StoreError> {
    let mut st = conn
        .prepare_cached(
            "INSERT INTO units (code, name, level, parent, valid_from, valid_to, synthetic, geometry)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, parent = excluded.parent,
               valid_from = excluded.valid_from, valid_to = excluded.valid_to, synthetic = excluded.synthetic,
               geometry = excluded.geometry",
        )
        .map_err(backend)?;
    for s in units {
        let u = &s.unit;
        st.execute(params![
            u.code.as_str(),
            u.name,
            u.level.as_str(),
            u.parent.as_ref().map(|p| p.as_str()),
            u.valid_from.to_string(),
            u.valid_to.map(|d| d.to_string()),
            u.synthetic,
            s.geometry
        ])
        .map_err(backend)?;
    }
    Ok(units.len())
}

// ---- catalogue: categories and departments ----

pub(crate) fn bodies<T: serde::de::DeserializeOwned>(conn: &Connection, table: &str) -> Result<Vec<T>, StoreError> {
    json_rows(conn, &format!("SELECT body FROM {table} ORDER BY code"), [])
}

fn put_body(conn: &Connection, table: &str, code: &str, body: String) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (code, body) VALUES (?1, ?2) ON CONFLICT (code) DO UPDATE SET body = excluded.body"
    ))
    .and_then(|mut st| st.execute(params![code, body]))
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn put_categories(conn: &Connection, cs: &[Category]) -> Result<(), StoreError> {
    cs.iter().try_for_each(|c| put_body(conn, "categories", c.code.as_str(), to_json(c)?))
}

pub(crate) fn put_departments(conn: &Connection, ds: &[Department]) -> Result<(), StoreError> {
    ds.iter().try_for_each(|d| put_body(conn, "departments", &d.code, to_json(d)?))
}

// ---- cases ----

fn write_projection(conn: &Connection, case: &Case, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO cases (id, state, open, category, territory, reporter, department, reported_at, deadline, lon, lat, version, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    } else {
        "UPDATE cases SET state = ?2, open = ?3, category = ?4, territory = ?5, reporter = ?6, department = ?7,
           reported_at = ?8, deadline = ?9, lon = ?10, lat = ?11, version = ?12, body = ?13 WHERE id = ?1"
    };
    let body = to_json(case)?;
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(params![
                case.id,
                case.state.as_str(),
                case.state.is_open(),
                case.category.as_str(),
                case.territory.as_str(),
                case.reporter,
                case.department,
                ms(case.reported_at),
                case.deadline.map(ms),
                case.location.lon,
                case.location.lat,
                case.version,
                body
            ])
        })
        .map_err(backend)?;
    Ok(())
}

fn insert_entry(conn: &Connection, case_id: CaseId, e: &TimelineEntry) -> Result<(), StoreError> {
    let body = to_json(e)?;
    conn.prepare_cached("INSERT INTO timeline (case_id, seq, at, action, body) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut st| st.execute(params![case_id, e.seq, ms(e.at), e.action.as_str(), body]))
        .map_err(backend)?;
    if let Some(d) = &e.data.department {
        let mut st = conn
            .prepare_cached("INSERT OR IGNORE INTO case_departments (department, case_id) VALUES (?1, ?2)")
            .map_err(backend)?;
        for dept in std::iter::once(d).chain(&e.data.assists) {
            st.execute(params![dept, case_id]).map_err(backend)?;
        }
    }
    Ok(())
}

/// Every open case, for the in-memory duplicate index.
pub(crate) fn open_cases(conn: &Connection) -> Result<Vec<Case>, StoreError> {
    json_rows(conn, "SELECT body FROM cases WHERE open = 1", [])
}

pub(crate) fn next_case_id(conn: &Connection) -> Result<CaseId, StoreError> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM cases", [], |r| r.get(0)).map_err(backend)
}

pub(crate) fn insert_case(conn: &Connection, case: &Case, timeline: &[TimelineEntry]) -> Result<(), StoreError> {
    write_projection(conn, case, true)?;
    timeline.iter().try_for_each(|e| insert_entry(conn, case.id, e))
}

pub(crate) fn append_entry(conn: &Connection, case: &Case, e: &TimelineEntry) -> Result<(), StoreError> {
    let stored: Option<u32> = conn
        .prepare_cached("SELECT version FROM cases WHERE id = ?1")
        .and_then(|mut st| st.query_row([case.id], |r| r.get(0)).optional())
        .map_err(backend)?;
    match stored {
        None => return Err(StoreError::NotFound(format!("case {}", case.id))),
        Some(v) if v + 1 != e.seq || case.version != e.seq => {
            return Err(StoreError::Conflict(format!(
                "case {} changed meanwhile (now at version {v}); reload and retry",
                case.id
            )));
        }
        Some(_) => {}
    }
    insert_entry(conn, case.id, e)?;
    write_projection(conn, case, false)
}

pub(crate) fn case_open(conn: &Connection, id: CaseId) -> Result<Option<bool>, StoreError> {
    conn.prepare_cached("SELECT open FROM cases WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
        .map_err(backend)
}

pub(crate) fn case(conn: &Connection, id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
    let Some(case) = json_row::<Case>(conn, "SELECT body FROM cases WHERE id = ?1", [id])? else { return Ok(None) };
    let timeline = json_rows(conn, "SELECT body FROM timeline WHERE case_id = ?1 ORDER BY seq", [id])?;
    let contact = self::contact(conn, id)?;
    Ok(Some(CaseRecord { case, timeline, contact }))
}

/// Appends the scope's condition to `sql`.
fn scope_clause(scope: &CaseScope, sql: &mut String, args: &mut Vec<Value>) {
    match scope {
        CaseScope::All => {}
        CaseScope::Territory(u) => {
            let p = u.subtree_prefix();
            sql.push_str(" AND territory >= ? AND territory < ?");
            args.push(Value::Text(p.to_owned()));
            args.push(Value::Text(prefix_end(p)));
        }
        CaseScope::Department(d) => {
            sql.push_str(" AND id IN (SELECT case_id FROM case_departments WHERE department = ?)");
            args.push(Value::Text(d.clone()));
        }
        CaseScope::Reporter(r) => {
            sql.push_str(" AND reporter = ?");
            args.push(Value::Text(r.clone()));
        }
        CaseScope::Nothing => sql.push_str(" AND 0"),
    }
}

pub(crate) fn list_cases(conn: &Connection, f: &CaseFilter) -> Result<CasePage, StoreError> {
    let mut sql = String::from("SELECT body FROM cases WHERE 1=1");
    let mut args: Vec<Value> = vec![];
    scope_clause(&f.scope, &mut sql, &mut args);
    if !f.states.is_empty() {
        sql.push_str(&format!(" AND state IN ({})", vec!["?"; f.states.len()].join(",")));
        args.extend(f.states.iter().map(|s| Value::Text(s.as_str().to_owned())));
    }
    if let Some(c) = &f.category {
        sql.push_str(" AND category = ?");
        args.push(Value::Text(c.as_str().to_owned()));
    }
    if let Some(t) = &f.territory {
        let p = t.subtree_prefix();
        sql.push_str(" AND territory >= ? AND territory < ?");
        args.push(Value::Text(p.to_owned()));
        args.push(Value::Text(prefix_end(p)));
    }
    if let Some(now) = f.overdue_at {
        sql.push_str(" AND deadline IS NOT NULL AND deadline < ? AND state != 'suspended'");
        args.push(Value::Integer(ms(now)));
    }
    if let Some(t) = f.reported_from {
        sql.push_str(" AND reported_at >= ?");
        args.push(Value::Integer(ms(t)));
    }
    if let Some(t) = f.reported_to {
        sql.push_str(" AND reported_at < ?");
        args.push(Value::Integer(ms(t)));
    }
    if let Some(b) = &f.bbox {
        sql.push_str(" AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?");
        args.extend([b.min_lon, b.max_lon, b.min_lat, b.max_lat].map(Value::Real));
    }
    if let Some(ix) = &f.contact_index {
        sql.push_str(" AND id IN (SELECT case_id FROM case_contacts WHERE phone_index = ? OR id_index = ?)");
        args.push(Value::Text(ix.clone()));
        args.push(Value::Text(ix.clone()));
    }
    if let Some(a) = f.after {
        sql.push_str(" AND id < ?");
        args.push(Value::Integer(a));
    }
    let limit = f.limit.max(1);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit + 1));
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = st.query_map(params_from_iter(args), |r| r.get::<_, String>(0)).map_err(backend)?;
    let mut cases = vec![];
    for r in rows {
        cases.push(serde_json::from_str::<Case>(&r.map_err(backend)?).map_err(json_err)?);
    }
    let next_after = if cases.len() > limit {
        cases.truncate(limit);
        cases.last().map(|c| c.id)
    } else {
        None
    };
    Ok(CasePage { cases, next_after })
}

pub(crate) fn count_by_state(conn: &Connection, scope: &CaseScope) -> Result<Vec<(CaseState, u64)>, StoreError> {
    let mut sql = String::from("SELECT state, COUNT(*) FROM cases WHERE 1=1");
    let mut args = vec![];
    scope_clause(scope, &mut sql, &mut args);
    sql.push_str(" GROUP BY state ORDER BY state");
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let rows =
        st.query_map(params_from_iter(args), |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(backend)?;
    let mut out = vec![];
    for r in rows {
        let (s, n) = r.map_err(backend)?;
        // Dropping an unknown state would make the counts quietly disagree
        // with the cases listed; the row is corrupt or from a newer build.
        let state = CaseState::parse(&s)
            .ok_or_else(|| StoreError::Backend(format!("cases.state {s:?} is not a known case state ({n} cases)")))?;
        out.push((state, n as u64));
    }
    Ok(out)
}

// ---- attachments ----

pub(crate) fn put_attachment(conn: &Connection, a: &AttachmentMeta) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO attachments (sha256, size, content_type, uploaded_by, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sha256) DO NOTHING",
    )
    .and_then(|mut st| st.execute(params![a.sha256, a.size as i64, a.content_type, a.uploaded_by, ms(a.uploaded_at)]))
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn attachment(conn: &Connection, sha: &str) -> Result<Option<AttachmentMeta>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT sha256, size, content_type, uploaded_by, uploaded_at FROM attachments WHERE sha256 = ?1",
        )
        .and_then(|mut st| {
            st.query_row([sha], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()
        })
        .map_err(backend)?;
    row.map(|(sha256, size, content_type, uploaded_by, at)| {
        Ok(AttachmentMeta {
            sha256,
            size: size as u64,
            content_type,
            uploaded_by,
            uploaded_at: from_ms("attachments.uploaded_at", at)?,
        })
    })
    .transpose()
}

pub(crate) fn missing_attachments(conn: &Connection, hashes: &[String]) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare_cached("SELECT 1 FROM attachments WHERE sha256 = ?1").map_err(backend)?;
    let mut missing = vec![];
    for h in hashes {
        if !st.exists([h]).map_err(backend)? {
            missing.push(h.clone());
        }
    }
    Ok(missing)
}

// ---- personal data ----

pub(crate) fn put_contact(conn: &Connection, case_id: CaseId, c: &SealedContact) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO case_contacts (case_id, ciphertext, phone_index, id_index) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut st| st.execute(params![case_id, c.ciphertext, c.phone_index, c.id_index]))
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn contact(conn: &Connection, case_id: CaseId) -> Result<Option<SealedContact>, StoreError> {
    conn.prepare_cached("SELECT ciphertext, phone_index, id_index FROM case_contacts WHERE case_id = ?1")
        .and_then(|mut st| {
            st.query_row([case_id], |r| {
                Ok(SealedContact { ciphertext: r.get(0)?, phone_index: r.get(1)?, id_index: r.get(2)? })
            })
            .optional()
        })
        .map_err(backend)
}

// ---- accounts ----

pub(crate) fn put_user(conn: &Connection, u: &UserRecord, insert: bool) -> Result<(), StoreError> {
    let body = to_json(u)?;
    let sql = if insert {
        "INSERT INTO users (id, username, body) VALUES (?1, ?2, ?3)"
    } else {
        "UPDATE users SET username = ?2, body = ?3 WHERE id = ?1"
    };
    let n = conn.prepare_cached(sql).and_then(|mut st| st.execute(params![u.id, u.username, body])).map_err(|e| {
        match backend(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("username {:?} or id {:?} is taken", u.username, u.id))
            }
            other => other,
        }
    })?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {}", u.id)));
    }
    Ok(())
}

pub(crate) fn user_where(conn: &Connection, column: &str, value: &str) -> Result<Option<UserRecord>, StoreError> {
    json_row(conn, &format!("SELECT body FROM users WHERE {column} = ?1"), [value])
}

pub(crate) fn users(conn: &Connection) -> Result<Vec<UserRecord>, StoreError> {
    json_rows(conn, "SELECT body FROM users ORDER BY username", [])
}

pub(crate) fn record_login(conn: &Connection, o: &LoginOutcome) -> Result<(), StoreError> {
    let Some(mut u) = user_where(conn, "id", &o.user_id)? else {
        return Err(StoreError::NotFound(format!("user {}", o.user_id)));
    };
    u.failed_logins = o.failed_logins;
    u.locked_until = o.locked_until;
    put_user(conn, &u, false)?;
    if let Some(s) = &o.session {
        conn.prepare_cached(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut st| {
            st.execute(params![s.token_hash, s.user_id, ms(s.created_at), ms(s.expires_at), s.revoked_at.map(ms)])
        })
        .map_err(backend)?;
    }
    Ok(())
}

/// A stored millisecond timestamp; one out of chrono's range is corrupt data,
/// reported rather than read back as the epoch.
pub(crate) fn from_ms(column: &str, v: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(v)
        .single()
        .ok_or_else(|| StoreError::Backend(format!("stored {column} {v} is not a valid timestamp (milliseconds)")))
}

pub(crate) fn session(conn: &Connection, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT token_hash, user_id, created_at, expires_at, revoked_at FROM sessions WHERE token_hash = ?1",
        )
        .and_then(|mut st| {
            st.query_row([token_hash], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .optional()
        })
        .map_err(backend)?;
    row.map(|(token_hash, user_id, created, expires, revoked)| {
        Ok(SessionRecord {
            token_hash,
            user_id,
            created_at: from_ms("sessions.created_at", created)?,
            expires_at: from_ms("sessions.expires_at", expires)?,
            revoked_at: revoked.map(|v| from_ms("sessions.revoked_at", v)).transpose()?,
        })
    })
    .transpose()
}

pub(crate) fn revoke_sessions(
    conn: &Connection,
    user_id: &str,
    token_hash: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let n = match token_hash {
        Some(h) => conn.execute(
            "UPDATE sessions SET revoked_at = ?1 WHERE token_hash = ?2 AND user_id = ?3 AND revoked_at IS NULL",
            params![ms(at), h, user_id],
        ),
        None => conn.execute(
            "UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
            params![ms(at), user_id],
        ),
    }
    .map_err(backend)?;
    Ok(n as u64)
}

pub(crate) fn put_device(conn: &Connection, d: &DeviceRecord, insert: bool) -> Result<(), StoreError> {
    let body = to_json(d)?;
    if let Some(mn) = d.mn() {
        let taken: Option<String> = conn
            .prepare_cached("SELECT id FROM devices WHERE mn = ?1 AND id <> ?2")
            .and_then(|mut st| st.query_row(params![mn, d.id], |r| r.get(0)).optional())
            .map_err(backend)?;
        if let Some(other) = taken {
            return Err(StoreError::Conflict(format!("station code {mn:?} is already registered to device {other:?}")));
        }
    }
    let sql = if insert {
        "INSERT INTO devices (id, key_hash, body, mn) VALUES (?1, ?2, ?3, ?4)"
    } else {
        "UPDATE devices SET key_hash = ?2, body = ?3, mn = ?4 WHERE id = ?1"
    };
    let n = conn.prepare_cached(sql).and_then(|mut st| st.execute(params![d.id, d.key_hash, body, d.mn()])).map_err(
        |e| match backend(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("device {:?} already exists", d.id)),
            other => other,
        },
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("device {}", d.id)));
    }
    Ok(())
}

/// Moves `last_seen` forward for each known device.
pub(crate) fn touch_devices(conn: &Connection, seen: &[(String, DateTime<Utc>)]) -> Result<(), StoreError> {
    for (id, at) in seen {
        let Some(mut d) = device_where(conn, "id", id)? else { continue };
        if d.last_seen.is_some_and(|t| t >= *at) {
            continue;
        }
        d.last_seen = Some(*at);
        let body = to_json(&d)?;
        conn.prepare_cached("UPDATE devices SET body = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![id, body]))
            .map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn device_where(conn: &Connection, column: &str, value: &str) -> Result<Option<DeviceRecord>, StoreError> {
    json_row(conn, &format!("SELECT body FROM devices WHERE {column} = ?1"), [value])
}

pub(crate) fn devices(conn: &Connection) -> Result<Vec<DeviceRecord>, StoreError> {
    json_rows(conn, "SELECT body FROM devices ORDER BY id", [])
}

// ---- zones ----

pub(crate) fn zones(conn: &Connection) -> Result<Vec<StoredZone>, StoreError> {
    let mut st = conn.prepare_cached("SELECT body, geometry FROM zones ORDER BY id").map_err(backend)?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(backend)?;
    let mut out = vec![];
    for row in rows {
        let (body, geometry) = row.map_err(backend)?;
        out.push(StoredZone { zone: serde_json::from_str(&body).map_err(json_err)?, geometry });
    }
    Ok(out)
}

/// Checks every zone before writing any, so a bad one leaves the table as it was.
pub(crate) fn put_zones(conn: &Connection, zones: &[StoredZone]) -> Result<(), StoreError> {
    let mut ids = std::collections::HashSet::new();
    for z in zones {
        z.zone.validate().map_err(|e| StoreError::Invalid(format!("zone {:?}: {e}", z.zone.id)))?;
        if !ids.insert(z.zone.id.as_str()) {
            return Err(StoreError::Invalid(format!("zone {:?} is given twice", z.zone.id)));
        }
    }
    let mut st = conn
        .prepare_cached(
            "INSERT INTO zones (id, kind, body, geometry) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, body = excluded.body, geometry = excluded.geometry",
        )
        .map_err(backend)?;
    for z in zones {
        st.execute(params![z.zone.id, z.zone.kind.as_str(), to_json(&z.zone)?, z.geometry]).map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn delete_zone(conn: &Connection, id: &str) -> Result<(), StoreError> {
    let n =
        conn.prepare_cached("DELETE FROM zones WHERE id = ?1").and_then(|mut st| st.execute([id])).map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("zone {id}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated in-memory database, for planting rows the API never writes.
    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        crate::migrate::migrate(&conn).unwrap();
        conn
    }

    #[test]
    fn devices_registered_before_the_device_extension_read_back_with_defaults() {
        let conn = db();
        conn.execute(
            "INSERT INTO devices (id, key_hash, body) VALUES ('cam-old', 'kh', ?1)",
            [r#"{"id":"cam-old","name":"旧","kind":"camera","key_hash":"kh","unit":"340202","created_at":"2025-01-01T00:00:00Z","revoked_at":null}"#],
        )
        .unwrap();
        let d = device_where(&conn, "id", "cam-old").unwrap().unwrap();
        assert_eq!(d.kind, citygrid_domain::DeviceKind::Camera);
        assert_eq!(d.unit.as_ref().map(UnitCode::as_str), Some("340202"));
        assert!(d.position.is_none() && d.zones.is_empty() && d.station.is_none() && d.last_seen.is_none());
        assert_eq!(devices(&conn).unwrap().len(), 1);
    }

    fn backend_message(r: Result<impl std::fmt::Debug, StoreError>) -> String {
        match r {
            Err(StoreError::Backend(m)) => m,
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[test]
    fn out_of_range_session_timestamp_is_an_error_not_the_epoch() {
        let conn = db();
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ('t', 'u', 0, ?1)",
            [i64::MAX],
        )
        .unwrap();
        let m = backend_message(session(&conn, "t"));
        assert!(m.contains("sessions.expires_at") && m.contains(&i64::MAX.to_string()), "{m}");
    }

    #[test]
    fn out_of_range_revocation_timestamp_is_an_error() {
        let conn = db();
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at) VALUES ('t', 'u', 0, 0, ?1)",
            [i64::MIN],
        )
        .unwrap();
        assert!(backend_message(session(&conn, "t")).contains("sessions.revoked_at"));
    }

    #[test]
    fn valid_session_timestamps_read_back() {
        let conn = db();
        conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ('t', 'u', 1000, 2000)",
            [],
        )
        .unwrap();
        let s = session(&conn, "t").unwrap().unwrap();
        assert_eq!((s.created_at.timestamp_millis(), s.expires_at.timestamp_millis()), (1000, 2000));
        assert_eq!(s.revoked_at, None);
        assert!(session(&conn, "missing").unwrap().is_none());
    }

    #[test]
    fn out_of_range_attachment_timestamp_is_an_error() {
        let conn = db();
        conn.execute(
            "INSERT INTO attachments (sha256, size, content_type, uploaded_by, uploaded_at)
             VALUES ('abc', 1, 'image/png', 'u', ?1)",
            [i64::MAX],
        )
        .unwrap();
        assert!(backend_message(attachment(&conn, "abc")).contains("attachments.uploaded_at"));
    }

    #[test]
    fn out_of_range_audit_timestamp_is_an_error() {
        let conn = db();
        conn.execute(
            "INSERT INTO audit (seq, at_us, actor, role, action, resource, outcome, prev_hash, hash)
             VALUES (1, ?1, 'a', 'r', 'x', 'y', 'ok', 'p', 'h')",
            [i64::MAX],
        )
        .unwrap();
        assert!(backend_message(audit_records(&conn, &AuditFilter::default())).contains("audit.at_us"));
    }

    #[test]
    fn count_by_state_reports_an_unknown_state() {
        let conn = db();
        let insert = |id: i64, state: &str| {
            conn.execute(
                "INSERT INTO cases (id, state, open, category, territory, reporter, reported_at, lon, lat, version, body)
                 VALUES (?1, ?2, 1, 'c', '110101', 'r', 0, 0, 0, 1, '{}')",
                params![id, state],
            )
            .unwrap();
        };
        insert(1, CaseState::Reported.as_str());
        assert_eq!(count_by_state(&conn, &CaseScope::All).unwrap(), vec![(CaseState::Reported, 1)]);
        insert(2, "teleported");
        assert!(backend_message(count_by_state(&conn, &CaseScope::All)).contains("teleported"));
    }
}
