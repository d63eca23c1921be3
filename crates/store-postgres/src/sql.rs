//! SQL for every operation, as plain functions on a connection or a
//! transaction ([`GenericClient`]), so reads and writes share them.

use chrono::{DateTime, NaiveDate, Utc};
use citygrid_domain::case::{Case, CaseId, CaseState, TimelineEntry};
use citygrid_domain::{Category, Department, Level, Unit, UnitCode};
use citygrid_store::{
    AttachmentMeta, CaseFilter, CasePage, CaseRecord, CaseScope, DeviceRecord, NearbyCase, NearbyQuery, SealedContact,
    SessionRecord, StoreError, StoredUnit, StoredZone, UserRecord,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Statement};

use crate::error::{Fail, json_err, to_json};

/// A query's text and its arguments, built up clause by clause.
#[derive(Default)]
pub(crate) struct Query {
    pub(crate) sql: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    pub(crate) fn new(sql: &str) -> Query {
        Query { sql: sql.to_owned(), args: vec![] }
    }

    /// Adds an argument; returns its placeholder (`$n`).
    pub(crate) fn arg<T: ToSql + Sync + Send + 'static>(&mut self, v: T) -> String {
        self.args.push(Box::new(v));
        format!("${}", self.args.len())
    }

    pub(crate) fn args(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|a| &**a as &(dyn ToSql + Sync)).collect()
    }
}

/// A connection or transaction that can prepare a statement once and keep
/// it: the pool's connections (`deadpool_postgres`) cache every statement
/// they prepared, so the write path sends one round trip per statement
/// (bind, execute) instead of two (parse, then bind, execute) and the
/// server does not parse and plan it again. Plain `tokio_postgres` clients
/// prepare each time.
pub(crate) trait Cached: Sync {
    /// The client the statements run on.
    type Inner: GenericClient + Sync;
    /// That client.
    fn inner(&self) -> &Self::Inner;
    /// `sql`, prepared (from the cache where there is one).
    fn stmt(&self, sql: &str) -> impl Future<Output = Result<Statement, tokio_postgres::Error>> + Send;
}

impl<'a> Cached for deadpool_postgres::Transaction<'a> {
    type Inner = tokio_postgres::Transaction<'a>;
    fn inner(&self) -> &Self::Inner {
        self
    }
    fn stmt(&self, sql: &str) -> impl Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        self.prepare_cached(sql)
    }
}

impl<'a> Cached for tokio_postgres::Transaction<'a> {
    type Inner = tokio_postgres::Transaction<'a>;
    fn inner(&self) -> &Self::Inner {
        self
    }
    fn stmt(&self, sql: &str) -> impl Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        self.prepare(sql)
    }
}

impl Cached for deadpool_postgres::ClientWrapper {
    type Inner = tokio_postgres::Client;
    fn inner(&self) -> &Self::Inner {
        self
    }
    fn stmt(&self, sql: &str) -> impl Future<Output = Result<Statement, tokio_postgres::Error>> + Send {
        self.prepare_cached(sql)
    }
}

/// The exclusive upper bound of a digit-string prefix range (':' follows '9').
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}:")
}

fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(json_err)
}

/// Every row's first column, a JSON document, decoded.
pub(crate) async fn json_rows<C: GenericClient + Sync, T: serde::de::DeserializeOwned>(
    c: &C,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<T>, Fail> {
    let rows = c.query(sql, args).await?;
    Ok(rows.iter().map(|r| decode(r.get::<_, &str>(0))).collect::<Result<_, _>>()?)
}

/// The first row's JSON document, decoded, if there is a row.
pub(crate) async fn json_row<C: GenericClient + Sync, T: serde::de::DeserializeOwned>(
    c: &C,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Option<T>, Fail> {
    let row = c.query_opt(sql, args).await?;
    Ok(row.map(|r| decode(r.get::<_, &str>(0))).transpose()?)
}

// ---- meta ----

pub(crate) async fn set_meta<C: GenericClient + Sync>(c: &C, key: &str, value: &str) -> Result<(), Fail> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )
    .await?;
    Ok(())
}

// ---- territory ----

pub(crate) const UNIT_COLUMNS: &str = "code, name, level, parent, valid_from, valid_to, synthetic, geometry";

pub(crate) fn unit_from_row(r: &tokio_postgres::Row) -> Result<StoredUnit, StoreError> {
    let code: String = r.get(0);
    let bad = |what: &str| StoreError::Backend(format!("unit {code}: stored {what} is invalid"));
    let level: String = r.get(2);
    let parent: Option<String> = r.get(3);
    let unit = Unit {
        code: UnitCode::parse(&code).map_err(|_| bad("code"))?,
        name: r.get(1),
        level: Level::parse(&level).ok_or_else(|| bad("level"))?,
        parent: parent.map(|p| UnitCode::parse(&p)).transpose().map_err(|_| bad("parent"))?,
        valid_from: r.get::<_, NaiveDate>(4),
        valid_to: r.get::<_, Option<NaiveDate>>(5),
        synthetic: r.get(6),
    };
    Ok(StoredUnit { unit, geometry: r.get(7) })
}

pub(crate) async fn territory<C: GenericClient + Sync>(c: &C) -> Result<Vec<StoredUnit>, Fail> {
    let rows = c.query(&format!("SELECT {UNIT_COLUMNS} FROM units ORDER BY code"), &[]).await?;
    Ok(rows.iter().map(unit_from_row).collect::<Result<_, _>>()?)
}

/// Writes units; `upsert` replaces existing ones, otherwise an existing code is a conflict.
pub(crate) async fn put_units<C: GenericClient + Sync>(c: &C, units: &[StoredUnit], upsert: bool) -> Result<(), Fail> {
    let on_conflict = if upsert {
        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, parent = excluded.parent,
           valid_from = excluded.valid_from, valid_to = excluded.valid_to, synthetic = excluded.synthetic,
           geometry = excluded.geometry"
    } else {
        ""
    };
    let st = c
        .prepare(&format!("INSERT INTO units ({UNIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8){on_conflict}"))
        .await?;
    for s in units {
        let u = &s.unit;
        c.execute(
            &st,
            &[
                &u.code.as_str(),
                &u.name,
                &u.level.as_str(),
                &u.parent.as_ref().map(|p| p.as_str()),
                &u.valid_from,
                &u.valid_to,
                &u.synthetic,
                &s.geometry,
            ],
        )
        .await?;
    }
    Ok(())
}

// ---- catalogue: categories and departments ----

pub(crate) async fn bodies<C: GenericClient + Sync, T: serde::de::DeserializeOwned>(
    c: &C,
    table: &str,
) -> Result<Vec<T>, Fail> {
    json_rows(c, &format!("SELECT body FROM {table} ORDER BY code"), &[]).await
}

async fn put_body<C: GenericClient + Sync>(
    c: &C,
    table: &str,
    code: &str,
    body: String,
    upsert: bool,
) -> Result<(), Fail> {
    let on_conflict = if upsert { " ON CONFLICT (code) DO UPDATE SET body = excluded.body" } else { "" };
    c.execute(&format!("INSERT INTO {table} (code, body) VALUES ($1, $2){on_conflict}"), &[&code, &body]).await?;
    Ok(())
}

pub(crate) async fn put_categories<C: GenericClient + Sync>(c: &C, cs: &[Category], upsert: bool) -> Result<(), Fail> {
    for cat in cs {
        put_body(c, "categories", cat.code.as_str(), to_json(cat)?, upsert).await?;
    }
    Ok(())
}

pub(crate) async fn put_departments<C: GenericClient + Sync>(
    c: &C,
    ds: &[Department],
    upsert: bool,
) -> Result<(), Fail> {
    for d in ds {
        put_body(c, "departments", &d.code, to_json(d)?, upsert).await?;
    }
    Ok(())
}

// ---- zones ----

pub(crate) async fn zones<C: GenericClient + Sync>(c: &C) -> Result<Vec<StoredZone>, Fail> {
    let rows = c.query("SELECT body, geometry FROM zones ORDER BY id", &[]).await?;
    Ok(rows
        .iter()
        .map(|r| Ok(StoredZone { zone: decode(r.get::<_, &str>(0))?, geometry: r.get(1) }))
        .collect::<Result<_, StoreError>>()?)
}

/// Checks every zone before writing any, so a bad one leaves the table as it was.
pub(crate) fn validate_zones(zones: &[StoredZone]) -> Result<(), StoreError> {
    let mut ids = std::collections::HashSet::new();
    for z in zones {
        z.zone.validate().map_err(|e| StoreError::Invalid(format!("zone {:?}: {e}", z.zone.id)))?;
        if !ids.insert(z.zone.id.as_str()) {
            return Err(StoreError::Invalid(format!("zone {:?} is given twice", z.zone.id)));
        }
    }
    Ok(())
}

pub(crate) async fn put_zones<C: GenericClient + Sync>(c: &C, zones: &[StoredZone], upsert: bool) -> Result<(), Fail> {
    let on_conflict = if upsert {
        " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, body = excluded.body, geometry = excluded.geometry"
    } else {
        ""
    };
    let st = c
        .prepare(&format!("INSERT INTO zones (id, kind, body, geometry) VALUES ($1, $2, $3, $4){on_conflict}"))
        .await?;
    for z in zones {
        c.execute(&st, &[&z.zone.id, &z.zone.kind.as_str(), &to_json(&z.zone)?, &z.geometry]).await?;
    }
    Ok(())
}

// ---- cases ----

/// Writes the case projection: a new row, or the row at `expect_version`.
/// Returns how many rows it wrote.
pub(crate) async fn write_projection<C: Cached>(c: &C, case: &Case, expect_version: Option<i64>) -> Result<u64, Fail> {
    let row = ProjectionArgs::of(case)?;
    let common = row.params();
    let n = match expect_version {
        None => {
            let st = c.stmt(INSERT_CASE).await?;
            c.inner().execute(&st, &common).await?
        }
        Some(v) => {
            let mut args = common.to_vec();
            args.push(&v);
            let st = c
                .stmt(
                    "UPDATE cases SET state = $2, open = $3, category = $4, territory = $5, reporter = $6,
                       department = $7, reported_at = $8, deadline = $9, lon = $10, lat = $11, version = $12, body = $13
                     WHERE id = $1 AND version = $14",
                )
                .await?;
            c.inner().execute(&st, &args).await?
        }
    };
    Ok(n)
}

pub(crate) async fn insert_entry<C: Cached>(c: &C, case_id: CaseId, e: &TimelineEntry) -> Result<(), Fail> {
    let body = to_json(e)?;
    let st = c.stmt(INSERT_ENTRY).await?;
    c.inner().execute(&st, &[&case_id, &i64::from(e.seq), &e.at, &e.action.as_str(), &body]).await?;
    let departments = entry_departments(e);
    if !departments.is_empty() {
        let st = c.stmt(INSERT_DEPARTMENTS).await?;
        c.inner().execute(&st, &[&departments, &case_id]).await?;
    }
    Ok(())
}

/// Inserts a case's projection row.
pub(crate) const INSERT_CASE: &str = "INSERT INTO cases (id, state, open, category, territory, reporter, department,
    reported_at, deadline, lon, lat, version, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Inserts a timeline entry.
pub(crate) const INSERT_ENTRY: &str =
    "INSERT INTO timeline (case_id, seq, at, action, body) VALUES ($1, $2, $3, $4, $5)";

/// Links a case to the departments an entry names (`$1`, an array).
pub(crate) const INSERT_DEPARTMENTS: &str = "INSERT INTO case_departments (department, case_id)
    SELECT DISTINCT unnest($1::text[]), $2::bigint ON CONFLICT DO NOTHING";

/// Stores a case's sealed contact.
pub(crate) const INSERT_CONTACT: &str =
    "INSERT INTO case_contacts (case_id, ciphertext, phone_index, id_index) VALUES ($1, $2, $3, $4)";

/// Draws a case id.
pub(crate) const NEXT_CASE_ID: &str = "SELECT nextval('case_ids')";

/// The departments an entry links its case to: the lead and its assists.
pub(crate) fn entry_departments(e: &TimelineEntry) -> Vec<&str> {
    match &e.data.department {
        Some(d) => std::iter::once(d).chain(&e.data.assists).map(String::as_str).collect(),
        None => vec![],
    }
}

/// A case's projection row, its stored values computed once.
pub(crate) struct ProjectionArgs<'a> {
    case: &'a Case,
    state: &'static str,
    open: bool,
    category: &'a str,
    territory: &'a str,
    body: String,
    version: i64,
}

impl<'a> ProjectionArgs<'a> {
    /// The stored form of `case`.
    pub(crate) fn of(case: &'a Case) -> Result<ProjectionArgs<'a>, StoreError> {
        Ok(ProjectionArgs {
            case,
            state: case.state.as_str(),
            open: case.state.is_open(),
            category: case.category.as_str(),
            territory: case.territory.as_str(),
            body: to_json(case)?,
            version: i64::from(case.version),
        })
    }

    /// [`INSERT_CASE`]'s parameters (`$1`..`$13`).
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        let c = self.case;
        [
            &c.id,
            &self.state,
            &self.open,
            &self.category,
            &self.territory,
            &c.reporter,
            &c.department,
            &c.reported_at,
            &c.deadline,
            &c.location.lon,
            &c.location.lat,
            &self.version,
            &self.body,
        ]
    }
}

/// Inserts many cases' projection rows, one array per column of
/// [`INSERT_CASE`] (see [`CaseColumns`]).
pub(crate) const INSERT_CASES: &str = "INSERT INTO cases (id, state, open, category, territory, reporter, department,
    reported_at, deadline, lon, lat, version, body)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::timestamptz[], $9::timestamptz[], $10::float8[], $11::float8[], $12::bigint[], $13::text[])";

/// Many cases' projection rows as columns, for [`INSERT_CASES`]: built
/// from [`ProjectionArgs`] so both inserts store exactly the same values.
#[derive(Default)]
pub(crate) struct CaseColumns<'a> {
    id: Vec<CaseId>,
    state: Vec<&'static str>,
    open: Vec<bool>,
    category: Vec<&'a str>,
    territory: Vec<&'a str>,
    reporter: Vec<&'a str>,
    department: Vec<Option<&'a str>>,
    reported_at: Vec<DateTime<Utc>>,
    deadline: Vec<Option<DateTime<Utc>>>,
    lon: Vec<f64>,
    lat: Vec<f64>,
    version: Vec<i64>,
    body: Vec<String>,
}

impl<'a> CaseColumns<'a> {
    /// Adds one case's row.
    pub(crate) fn push(&mut self, row: ProjectionArgs<'a>) {
        let c = row.case;
        self.id.push(c.id);
        self.state.push(row.state);
        self.open.push(row.open);
        self.category.push(row.category);
        self.territory.push(row.territory);
        self.reporter.push(&c.reporter);
        self.department.push(c.department.as_deref());
        self.reported_at.push(c.reported_at);
        self.deadline.push(c.deadline);
        self.lon.push(c.location.lon);
        self.lat.push(c.location.lat);
        self.version.push(row.version);
        self.body.push(row.body);
    }

    /// [`INSERT_CASES`]'s parameters (`$1`..`$13`).
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 13] {
        [
            &self.id,
            &self.state,
            &self.open,
            &self.category,
            &self.territory,
            &self.reporter,
            &self.department,
            &self.reported_at,
            &self.deadline,
            &self.lon,
            &self.lat,
            &self.version,
            &self.body,
        ]
    }
}

/// Inserts a whole case: projection, timeline, contact.
pub(crate) async fn insert_case<C: Cached>(
    c: &C,
    case: &Case,
    timeline: &[TimelineEntry],
    contact: Option<&SealedContact>,
) -> Result<(), Fail> {
    write_projection(c, case, None).await?;
    for e in timeline {
        insert_entry(c, case.id, e).await?;
    }
    if let Some(sc) = contact {
        c.inner().execute(INSERT_CONTACT, &[&case.id, &sc.ciphertext, &sc.phone_index, &sc.id_index]).await?;
    }
    Ok(())
}

pub(crate) async fn next_case_id<C: Cached>(c: &C) -> Result<CaseId, Fail> {
    let st = c.stmt(NEXT_CASE_ID).await?;
    Ok(c.inner().query_one(&st, &[]).await?.get(0))
}

/// Appends an entry if the stored case is still at `entry.seq - 1`.
pub(crate) async fn append_entry<C: Cached>(c: &C, case: &Case, e: &TimelineEntry) -> Result<(), Fail> {
    let conflict = |now: &str| {
        StoreError::Conflict(format!("case {} changed meanwhile (now at version {now}); reload and retry", case.id))
    };
    if case.version != e.seq || e.seq == 0 {
        return Err(StoreError::Conflict(format!(
            "case {}: entry {} does not make version {}; reload and retry",
            case.id, e.seq, case.version
        ))
        .into());
    }
    let expect = i64::from(e.seq) - 1;
    if write_projection(c, case, Some(expect)).await? == 0 {
        let stored = c.inner().query_opt("SELECT version FROM cases WHERE id = $1", &[&case.id]).await?;
        return Err(match stored {
            None => StoreError::NotFound(format!("case {}", case.id)),
            Some(r) => conflict(&r.get::<_, i64>(0).to_string()),
        }
        .into());
    }
    insert_entry(c, case.id, e).await
}

pub(crate) async fn contact<C: GenericClient + Sync>(c: &C, id: CaseId) -> Result<Option<SealedContact>, Fail> {
    let row =
        c.query_opt("SELECT ciphertext, phone_index, id_index FROM case_contacts WHERE case_id = $1", &[&id]).await?;
    Ok(row.map(|r| SealedContact { ciphertext: r.get(0), phone_index: r.get(1), id_index: r.get(2) }))
}

pub(crate) async fn case<C: GenericClient + Sync>(c: &C, id: CaseId) -> Result<Option<CaseRecord>, Fail> {
    let Some(case) = json_row::<_, Case>(c, "SELECT body FROM cases WHERE id = $1", &[&id]).await? else {
        return Ok(None);
    };
    let timeline = json_rows(c, "SELECT body FROM timeline WHERE case_id = $1 ORDER BY seq", &[&id]).await?;
    let contact = contact(c, id).await?;
    Ok(Some(CaseRecord { case, timeline, contact }))
}

/// Open cases of the case's category within the radius, nearest first.
///
/// PostgreSQL narrows the search to a bounding box (the `cases_open_place`
/// index); the distances are then measured here with
/// [`citygrid_domain::Point::distance_m`], the metric the embedded store's
/// index uses, so both backends give the same hints to the decimetre.
pub(crate) async fn nearby<C: Cached>(c: &C, case: &Case, q: NearbyQuery) -> Result<Vec<NearbyCase>, Fail> {
    if !searches(q) {
        return Ok(vec![]);
    }
    let b = case.location.bbox_around(q.radius_m);
    let st = c.stmt(NEARBY).await?;
    let rows = c.inner().query(&st, &[&case.category.as_str(), &b.min_lon, &b.max_lon, &b.min_lat, &b.max_lat]).await?;
    nearest(case, q, &rows, std::iter::empty())
}

/// Whether `q` asks for a search at all.
pub(crate) fn searches(q: NearbyQuery) -> bool {
    q.radius_m > 0.0 && q.limit > 0
}

/// The bounding-box search for open cases of a category (`$1`) within
/// longitudes `$2..$3` and latitudes `$4..$5`: body, longitude, latitude.
pub(crate) const NEARBY: &str = "SELECT body, lon, lat FROM cases WHERE open AND category = $1
    AND lon BETWEEN $2 AND $3 AND lat BETWEEN $4 AND $5";

/// What a duplicate hint needs of a stored case's body.
#[derive(serde::Deserialize)]
struct Hint {
    id: CaseId,
    state: CaseState,
    description: String,
}

/// The hints for `case`: the stored cases [`NEARBY`] returned (`rows`) and
/// `unstored` ones (created earlier in the same transaction, so no query
/// saw them), kept if they pass the same filters (open, same category, in
/// the box, within the radius), nearest first, at most `q.limit`.
pub(crate) fn nearest<'a>(
    case: &Case,
    q: NearbyQuery,
    rows: &[tokio_postgres::Row],
    unstored: impl Iterator<Item = &'a Case>,
) -> Result<Vec<NearbyCase>, Fail> {
    let rounded = |d: f64| (d * 10.0).round() / 10.0;
    let mut hits = vec![];
    for r in rows {
        // Measured from the row's columns first, so that only the cases
        // within the radius are decoded, and only as far as a hint needs.
        let at = citygrid_domain::Point { lon: r.get(1), lat: r.get(2) };
        let d = case.location.distance_m(&at);
        if d <= q.radius_m {
            let h: Hint = decode(r.get::<_, &str>(0))?;
            hits.push(NearbyCase { id: h.id, state: h.state, distance_m: rounded(d), description: h.description });
        }
    }
    let b = case.location.bbox_around(q.radius_m);
    for other in unstored {
        let (lon, lat) = (other.location.lon, other.location.lat);
        // The filters the query applies to stored cases.
        let found = other.state.is_open()
            && other.category == case.category
            && (b.min_lon..=b.max_lon).contains(&lon)
            && (b.min_lat..=b.max_lat).contains(&lat);
        let d = case.location.distance_m(&other.location);
        if found && d <= q.radius_m {
            hits.push(NearbyCase {
                id: other.id,
                state: other.state,
                distance_m: rounded(d),
                description: other.description.clone(),
            });
        }
    }
    hits.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
    hits.truncate(q.limit);
    Ok(hits)
}

/// Appends the scope's condition.
fn scope_clause(scope: &CaseScope, q: &mut Query) {
    match scope {
        CaseScope::All => {}
        CaseScope::Territory(u) => {
            let p = u.subtree_prefix();
            let (a, b) = (q.arg(p.to_owned()), q.arg(prefix_end(p)));
            q.sql.push_str(&format!(" AND territory >= {a} AND territory < {b}"));
        }
        CaseScope::Department(d) => {
            let a = q.arg(d.clone());
            q.sql.push_str(&format!(" AND id IN (SELECT case_id FROM case_departments WHERE department = {a})"));
        }
        CaseScope::Reporter(r) => {
            let a = q.arg(r.clone());
            q.sql.push_str(&format!(" AND reporter = {a}"));
        }
        CaseScope::Nothing => q.sql.push_str(" AND false"),
    }
}

pub(crate) async fn list_cases<C: GenericClient + Sync>(c: &C, f: &CaseFilter) -> Result<CasePage, Fail> {
    let mut q = Query::new("SELECT body FROM cases WHERE true");
    scope_clause(&f.scope, &mut q);
    if !f.states.is_empty() {
        let a = q.arg(f.states.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        q.sql.push_str(&format!(" AND state = ANY({a})"));
    }
    if let Some(cat) = &f.category {
        let a = q.arg(cat.as_str().to_owned());
        q.sql.push_str(&format!(" AND category = {a}"));
    }
    if let Some(t) = &f.territory {
        let p = t.subtree_prefix();
        let (a, b) = (q.arg(p.to_owned()), q.arg(prefix_end(p)));
        q.sql.push_str(&format!(" AND territory >= {a} AND territory < {b}"));
    }
    if let Some(now) = f.overdue_at {
        let a = q.arg(now);
        q.sql.push_str(&format!(" AND deadline IS NOT NULL AND deadline < {a} AND state <> 'suspended'"));
    }
    if let Some(t) = f.reported_from {
        let a = q.arg(t);
        q.sql.push_str(&format!(" AND reported_at >= {a}"));
    }
    if let Some(t) = f.reported_to {
        let a = q.arg(t);
        q.sql.push_str(&format!(" AND reported_at < {a}"));
    }
    if let Some(b) = &f.bbox {
        let (w, e, s, n) = (q.arg(b.min_lon), q.arg(b.max_lon), q.arg(b.min_lat), q.arg(b.max_lat));
        q.sql.push_str(&format!(" AND lon BETWEEN {w} AND {e} AND lat BETWEEN {s} AND {n}"));
    }
    if let Some(ix) = &f.contact_index {
        let a = q.arg(ix.clone());
        q.sql.push_str(&format!(
            " AND id IN (SELECT case_id FROM case_contacts WHERE phone_index = {a} OR id_index = {a})"
        ));
    }
    if let Some(after) = f.after {
        let a = q.arg(after);
        q.sql.push_str(&format!(" AND id < {a}"));
    }
    let limit = f.limit.max(1);
    q.sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit + 1));
    let mut cases: Vec<Case> = json_rows(c, &q.sql, &q.args()).await?;
    let next_after = if cases.len() > limit {
        cases.truncate(limit);
        cases.last().map(|c| c.id)
    } else {
        None
    };
    Ok(CasePage { cases, next_after })
}

pub(crate) async fn count_by_state<C: GenericClient + Sync>(
    c: &C,
    scope: &CaseScope,
) -> Result<Vec<(CaseState, u64)>, Fail> {
    let mut q = Query::new("SELECT state, COUNT(*) FROM cases WHERE true");
    scope_clause(scope, &mut q);
    q.sql.push_str(" GROUP BY state ORDER BY state");
    let rows = c.query(&q.sql, &q.args()).await?;
    let mut out = vec![];
    for r in rows {
        let (s, n): (String, i64) = (r.get(0), r.get(1));
        let state = CaseState::parse(&s)
            .ok_or_else(|| StoreError::Backend(format!("cases.state {s:?} is not a known case state ({n} cases)")))?;
        out.push((state, u64::try_from(n).unwrap_or(0)));
    }
    Ok(out)
}

// ---- attachments ----

pub(crate) const ATTACHMENT_COLUMNS: &str = "sha256, size, content_type, uploaded_by, uploaded_at";

pub(crate) fn attachment_from_row(r: &tokio_postgres::Row) -> AttachmentMeta {
    AttachmentMeta {
        sha256: r.get(0),
        size: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
        content_type: r.get(2),
        uploaded_by: r.get(3),
        uploaded_at: r.get(4),
    }
}

pub(crate) async fn put_attachment<C: GenericClient + Sync>(
    c: &C,
    a: &AttachmentMeta,
    idempotent: bool,
) -> Result<(), Fail> {
    let size = i64::try_from(a.size).map_err(|_| StoreError::Invalid(format!("attachment size {}", a.size)))?;
    let on_conflict = if idempotent { " ON CONFLICT (sha256) DO NOTHING" } else { "" };
    c.execute(
        &format!("INSERT INTO attachments ({ATTACHMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5){on_conflict}"),
        &[&a.sha256, &size, &a.content_type, &a.uploaded_by, &a.uploaded_at],
    )
    .await?;
    Ok(())
}

pub(crate) async fn attachment<C: GenericClient + Sync>(c: &C, sha: &str) -> Result<Option<AttachmentMeta>, Fail> {
    let row = c.query_opt(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE sha256 = $1"), &[&sha]).await?;
    Ok(row.as_ref().map(attachment_from_row))
}

pub(crate) async fn missing_attachments<C: GenericClient + Sync>(
    c: &C,
    hashes: &[String],
) -> Result<Vec<String>, Fail> {
    let rows = c.query("SELECT sha256 FROM attachments WHERE sha256 = ANY($1)", &[&hashes]).await?;
    let known: std::collections::HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(hashes.iter().filter(|h| !known.contains(*h)).cloned().collect())
}

// ---- accounts ----

pub(crate) async fn put_user<C: GenericClient + Sync>(c: &C, u: &UserRecord, insert: bool) -> Result<(), Fail> {
    let body = to_json(u)?;
    let sql = if insert {
        "INSERT INTO users (id, username, body) VALUES ($1, $2, $3)"
    } else {
        "UPDATE users SET username = $2, body = $3 WHERE id = $1"
    };
    let n = match c.execute(sql, &[&u.id, &u.username, &body]).await {
        Ok(n) => n,
        Err(e) => {
            return Err(match crate::error::pg(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("username {:?} or id {:?} is taken", u.username, u.id)).into()
                }
                other => other.into(),
            });
        }
    };
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {}", u.id)).into());
    }
    Ok(())
}

pub(crate) async fn user_where<C: GenericClient + Sync>(
    c: &C,
    column: &str,
    value: &str,
    lock: bool,
) -> Result<Option<UserRecord>, Fail> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    json_row(c, &format!("SELECT body FROM users WHERE {column} = $1{lock}"), &[&value]).await
}

pub(crate) const SESSION_COLUMNS: &str = "token_hash, user_id, created_at, expires_at, revoked_at";

pub(crate) fn session_from_row(r: &tokio_postgres::Row) -> SessionRecord {
    SessionRecord {
        token_hash: r.get(0),
        user_id: r.get(1),
        created_at: r.get(2),
        expires_at: r.get(3),
        revoked_at: r.get(4),
    }
}

pub(crate) async fn insert_session<C: GenericClient + Sync>(c: &C, s: &SessionRecord) -> Result<(), Fail> {
    c.execute(
        &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
        &[&s.token_hash, &s.user_id, &s.created_at, &s.expires_at, &s.revoked_at],
    )
    .await?;
    Ok(())
}

pub(crate) async fn session<C: GenericClient + Sync>(c: &C, token_hash: &str) -> Result<Option<SessionRecord>, Fail> {
    let row =
        c.query_opt(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"), &[&token_hash]).await?;
    Ok(row.as_ref().map(session_from_row))
}

pub(crate) async fn revoke_sessions<C: GenericClient + Sync>(
    c: &C,
    user_id: &str,
    token_hash: Option<&str>,
    at: DateTime<Utc>,
) -> Result<u64, Fail> {
    Ok(match token_hash {
        Some(h) => {
            c.execute(
                "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND user_id = $3 AND revoked_at IS NULL",
                &[&at, &h, &user_id],
            )
            .await?
        }
        None => {
            c.execute("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL", &[&at, &user_id])
                .await?
        }
    })
}

// ---- devices ----

pub(crate) async fn put_device<C: GenericClient + Sync>(c: &C, d: &DeviceRecord, insert: bool) -> Result<(), Fail> {
    let body = to_json(d)?;
    let sql = if insert {
        "INSERT INTO devices (id, key_hash, body, mn) VALUES ($1, $2, $3, $4)"
    } else {
        "UPDATE devices SET key_hash = $2, body = $3, mn = $4 WHERE id = $1"
    };
    let n = match c.execute(sql, &[&d.id, &d.key_hash, &body, &d.mn()]).await {
        Ok(n) => n,
        Err(e) => {
            let on_mn = e.as_db_error().and_then(|db| db.constraint()) == Some("devices_mn");
            return Err(match crate::error::pg(e) {
                StoreError::Conflict(_) if on_mn => StoreError::Conflict(format!(
                    "station code {:?} is already registered to another device",
                    d.mn().unwrap_or_default()
                ))
                .into(),
                StoreError::Conflict(_) => StoreError::Conflict(format!("device {:?} already exists", d.id)).into(),
                other => other.into(),
            });
        }
    };
    if n == 0 {
        return Err(StoreError::NotFound(format!("device {}", d.id)).into());
    }
    Ok(())
}

/// Moves `last_seen` forward for each known device, in id order (so that
/// two touches never wait on each other's locks in a cycle).
pub(crate) async fn touch_devices<C: GenericClient + Sync>(
    c: &C,
    seen: &[(String, DateTime<Utc>)],
) -> Result<(), Fail> {
    let mut sorted: Vec<&(String, DateTime<Utc>)> = seen.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, at) in sorted {
        let Some(mut d) = device_where(c, "id", id, true).await? else { continue };
        if d.last_seen.is_some_and(|t| t >= *at) {
            continue;
        }
        d.last_seen = Some(*at);
        let body = to_json(&d)?;
        c.execute("UPDATE devices SET body = $2 WHERE id = $1", &[id, &body]).await?;
    }
    Ok(())
}

pub(crate) async fn device_where<C: GenericClient + Sync>(
    c: &C,
    column: &str,
    value: &str,
    lock: bool,
) -> Result<Option<DeviceRecord>, Fail> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    json_row(c, &format!("SELECT body FROM devices WHERE {column} = $1{lock}"), &[&value]).await
}

// ---- blobs ----

/// Whether `s` is a lowercase hex SHA-256.
pub(crate) fn check_sha256(s: &str) -> Result<(), StoreError> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!("{s:?} is not a content hash (64 lowercase hex digits)")))
    }
}

pub(crate) async fn put_blob<C: GenericClient + Sync>(
    c: &C,
    sha: &str,
    bytes: &[u8],
    idempotent: bool,
) -> Result<(), Fail> {
    check_sha256(sha)?;
    let on_conflict = if idempotent { " ON CONFLICT (sha256) DO NOTHING" } else { "" };
    c.execute(&format!("INSERT INTO blobs (sha256, bytes) VALUES ($1, $2){on_conflict}"), &[&sha, &bytes]).await?;
    Ok(())
}
