//! The audit trail as [`CHAINS`] hash chains (see the crate docs).

use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead, Outcome};
use citygrid_store::{AuditFilter, StoreError};
use tokio_postgres::GenericClient;

use crate::error::Fail;
use crate::sql::Query;

/// How many chains the trail is split into.
pub(crate) const CHAINS: u32 = 16;

/// The chain a resource's records go to: FNV-1a of its bytes, modulo
/// [`CHAINS`], so one resource's history stays in one chain and the choice
/// never changes between builds or processes.
pub(crate) fn chain_of(resource: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in resource.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(CHAINS)) as u32
}

/// Numbers, chains and inserts `event` inside the caller's transaction.
///
/// The chain's head row is locked first and the trail number drawn after,
/// so within one chain `seq` rises with `link`: reading the trail by `seq`
/// meets every chain's records in chain order. Callers do this last, so the
/// head stays locked only until their commit.
pub(crate) async fn append<C: GenericClient + Sync>(c: &C, event: &AuditEvent) -> Result<AuditRecord, Fail> {
    let chain = chain_of(&event.resource);
    let chain_i = chain as i32;
    let head = c.query_one("SELECT link, hash FROM audit_chains WHERE chain = $1 FOR UPDATE", &[&chain_i]).await?;
    let link: i64 = head.get(0);
    let head = ChainHead { chain, link: u64::try_from(link).unwrap_or(0), hash: head.get(1) };
    let seq: i64 = c.query_one("SELECT nextval('audit_seq')", &[]).await?.get(0);
    let rec = AuditRecord::chain(event.clone(), u64::try_from(seq).unwrap_or(0), &head);
    insert(c, &rec).await?;
    c.execute(
        "UPDATE audit_chains SET link = $2, hash = $3 WHERE chain = $1",
        &[&chain_i, &(rec.link as i64), &rec.hash],
    )
    .await?;
    Ok(rec)
}

/// Inserts a record exactly as given.
pub(crate) async fn insert<C: GenericClient + Sync>(c: &C, rec: &AuditRecord) -> Result<(), Fail> {
    let e = &rec.event;
    let seq = i64::try_from(rec.seq).map_err(|_| StoreError::Invalid(format!("audit seq {}", rec.seq)))?;
    let link = i64::try_from(rec.link).map_err(|_| StoreError::Invalid(format!("audit link {}", rec.link)))?;
    let chain = i32::try_from(rec.chain).map_err(|_| StoreError::Invalid(format!("audit chain {}", rec.chain)))?;
    c.execute(
        "INSERT INTO audit (seq, chain, link, at, actor, role, action, resource, outcome, source_ip, detail,
           prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
        let used: std::collections::HashSet<u32> = (0..200).map(|i| chain_of(&format!("case/{i}"))).collect();
        assert_eq!(used.len(), CHAINS as usize);
        assert!(used.iter().all(|c| *c < CHAINS));
    }
}
