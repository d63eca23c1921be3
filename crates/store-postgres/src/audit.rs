//! The audit trail as [`CHAINS`] hash chains (see the crate docs).

use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead, Outcome};
use citygrid_store::{AuditFilter, StoreError};
use tokio_postgres::{GenericClient, Statement};

use crate::error::Fail;
use crate::sql::{Cached, Query};

/// How many chains the trail is split into.
pub(crate) const CHAINS: u32 = 64;

/// The chain a resource's records prefer: FNV-1a of its bytes, modulo
/// [`CHAINS`]. A writer takes the first free head from there on, so records
/// of one resource usually share a chain; verification never depends on it.
pub(crate) fn chain_of(resource: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in resource.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(CHAINS)) as u32
}

/// Numbers, chains and inserts `event` inside the caller's transaction, in
/// two round trips.
///
/// The writer locks the first chain head no other transaction holds, from
/// its preferred chain on (`FOR UPDATE SKIP LOCKED`), so it never waits for
/// another writer's commit while a head is free; only when all are taken
/// does it wait for its preferred one. The trail number is drawn in the
/// insert, after the head is locked, so within one chain `seq` rises with
/// `link`: reading the trail by `seq` meets every chain's records in chain
/// order. Callers do this last, so a head stays locked only until their commit.
pub(crate) async fn append<C: Cached>(c: &C, event: &AuditEvent) -> Result<AuditRecord, Fail> {
    let head = lock_head(c, chain_of(&event.resource)).await?;
    let st = c.stmt(&LINK).await?;
    let (mut rec, args) = linked(event, &head)?;
    let row = c.inner().query_one(&st, &args.params()).await?;
    rec.seq = seq_of(&row);
    Ok(rec)
}

/// Locks the first chain head no other transaction holds, from `preferred`
/// on; when every head is taken, waits for `preferred`.
pub(crate) async fn lock_head<C: Cached>(c: &C, preferred: u32) -> Result<ChainHead, Fail> {
    let preferred = preferred as i32;
    let st = c.stmt(&FREE_HEAD).await?;
    let head = match c.inner().query_opt(&st, &[&preferred]).await? {
        Some(row) => row,
        None => {
            let st = c.stmt(PREFERRED_HEAD).await?;
            c.inner().query_one(&st, &[&preferred]).await?
        }
    };
    Ok(head_of(&head))
}

/// Locks chain `$1`'s head, waiting for it.
pub(crate) const PREFERRED_HEAD: &str = "SELECT chain, link, hash FROM audit_chains WHERE chain = $1 FOR UPDATE";

/// A head as [`FREE_HEAD`] or [`PREFERRED_HEAD`] returned it.
pub(crate) fn head_of(row: &tokio_postgres::Row) -> ChainHead {
    ChainHead {
        chain: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        link: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
        hash: row.get(2),
    }
}

/// Selects the first free chain head from `$1` on, locking it.
pub(crate) static FREE_HEAD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT chain, link, hash FROM audit_chains ORDER BY (chain - $1 + {CHAINS}) % {CHAINS}
         LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
});

/// Inserts a record after its chain's locked head, draws its `seq` and moves
/// the head, in one statement; returns the `seq`.
pub(crate) static LINK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH rec AS (INSERT INTO audit ({COLUMNS})
             VALUES (nextval('audit_seq'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq)
         UPDATE audit_chains SET link = $2, hash = $12 WHERE chain = $1 RETURNING (SELECT seq FROM rec)"
    )
});

/// The arguments of [`LINK`] for one record.
pub(crate) struct LinkArgs {
    chain: i32,
    link: i64,
    event: AuditEvent,
    outcome: &'static str,
    prev_hash: String,
    hash: String,
}

impl LinkArgs {
    /// As statement parameters, in [`LINK`]'s order.
    pub(crate) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 12] {
        let e = &self.event;
        [
            &self.chain,
            &self.link,
            &e.at,
            &e.actor,
            &e.role,
            &e.action,
            &e.resource,
            &self.outcome,
            &e.source_ip,
            &e.detail,
            &self.prev_hash,
            &self.hash,
        ]
    }
}

/// `event` chained after `head` (its `seq` still 0: the insert draws it),
/// and the arguments that insert it.
pub(crate) fn linked(event: &AuditEvent, head: &ChainHead) -> Result<(AuditRecord, LinkArgs), Fail> {
    let rec = AuditRecord::chain(event.clone(), 0, head);
    let link = i64::try_from(rec.link).map_err(|_| StoreError::Invalid(format!("audit link {}", rec.link)))?;
    let args = LinkArgs {
        chain: rec.chain as i32,
        link,
        event: rec.event.clone(),
        outcome: rec.event.outcome.as_str(),
        prev_hash: rec.prev_hash.clone(),
        hash: rec.hash.clone(),
    };
    Ok((rec, args))
}

/// The `seq` [`LINK`] returned.
pub(crate) fn seq_of(row: &tokio_postgres::Row) -> u64 {
    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
}

/// Inserts a record exactly as given.
pub(crate) async fn insert<C: GenericClient + Sync>(c: &C, rec: &AuditRecord) -> Result<(), Fail> {
    let st = c
        .prepare(&format!(
            "INSERT INTO audit ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .await?;
    insert_with(c, &st, rec).await
}

/// Inserts a record exactly as given, with `st` (the insert, prepared).
async fn insert_with<C: GenericClient + Sync>(c: &C, st: &Statement, rec: &AuditRecord) -> Result<(), Fail> {
    let e = &rec.event;
    let seq = i64::try_from(rec.seq).map_err(|_| StoreError::Invalid(format!("audit seq {}", rec.seq)))?;
    let link = i64::try_from(rec.link).map_err(|_| StoreError::Invalid(format!("audit link {}", rec.link)))?;
    let chain = i32::try_from(rec.chain).map_err(|_| StoreError::Invalid(format!("audit chain {}", rec.chain)))?;
    c.execute(
        st,
        &[
            &seq,
            &chain,
            &link,
            &e.at,
            &e.actor,
            &e.role,
            &e.action,
            &e.resource,
            &e.outcome.as_str(),
            &e.source_ip,
            &e.detail,
            &rec.prev_hash,
            &rec.hash,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) const COLUMNS: &str =
    "seq, chain, link, at, actor, role, action, resource, outcome, source_ip, detail, prev_hash, hash";

pub(crate) fn from_row(r: &tokio_postgres::Row) -> AuditRecord {
    let outcome: String = r.get(8);
    AuditRecord {
        seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        chain: u32::try_from(r.get::<_, i32>(1)).unwrap_or(0),
        link: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
        event: AuditEvent {
            at: r.get(3),
            actor: r.get(4),
            role: r.get(5),
            action: r.get(6),
            resource: r.get(7),
            // An unknown outcome cannot hash like the original, so
            // verification flags the record; do not hide it here.
            outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Failed),
            source_ip: r.get(9),
            detail: r.get(10),
        },
        prev_hash: r.get(11),
        hash: r.get(12),
    }
}

pub(crate) async fn records<C: GenericClient + Sync>(c: &C, f: &AuditFilter) -> Result<Vec<AuditRecord>, Fail> {
    let mut q = Query::new(&format!("SELECT {COLUMNS} FROM audit WHERE true"));
    if let Some(s) = f.after_seq {
        let a = q.arg(i64::try_from(s).unwrap_or(i64::MAX));
        q.sql.push_str(&format!(" AND seq > {a}"));
    }
    for (col, v) in [("actor", &f.actor), ("action", &f.action), ("resource", &f.resource)] {
        if let Some(v) = v {
            let a = q.arg(v.clone());
            q.sql.push_str(&format!(" AND {col} = {a}"));
        }
    }
    if let Some(t) = f.from {
        let a = q.arg(t);
        q.sql.push_str(&format!(" AND at >= {a}"));
    }
    if let Some(t) = f.to {
        let a = q.arg(t);
        q.sql.push_str(&format!(" AND at < {a}"));
    }
    q.sql.push_str(" ORDER BY seq");
    if f.limit > 0 {
        q.sql.push_str(&format!(" LIMIT {}", f.limit));
    }
    let rows = c.query(&q.sql, &q.args()).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Every chain's head that has a record (`link > 0`), by chain.
pub(crate) async fn heads<C: GenericClient + Sync>(c: &C) -> Result<Vec<ChainHead>, Fail> {
    let rows = c.query("SELECT chain, link, hash FROM audit_chains WHERE link > 0 ORDER BY chain", &[]).await?;
    Ok(rows
        .iter()
        .map(|r| ChainHead {
            chain: u32::try_from(r.get::<_, i32>(0)).unwrap_or(0),
            link: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
            hash: r.get(2),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_stable_and_spread() {
        assert_eq!(chain_of("case/1"), chain_of("case/1"));
        let used: std::collections::HashSet<u32> = (0..2000).map(|i| chain_of(&format!("case/{i}"))).collect();
        assert_eq!(used.len(), CHAINS as usize);
        assert!(used.iter().all(|c| *c < CHAINS));
    }
}
