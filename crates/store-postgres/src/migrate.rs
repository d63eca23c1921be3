//! Schema migrations from `migrations/NNNN_*.sql`, applied on connect and
//! tracked in `schema_version`.
//!
//! Everything runs in one transaction under a transaction-scoped advisory
//! lock (`pg_advisory_xact_lock`): several processes starting at once queue
//! on the lock, and the later ones find the schema already current. The
//! transaction-scoped form is released by the commit or by any failure, so a
//! pooled connection never keeps it.

use citygrid_store::StoreError;
use tokio_postgres::Client;

use crate::error::pg;

/// Every migration, in order; index + 1 is the schema version it produces.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_more_chains.sql"),
    include_str!("../migrations/0003_feed.sql"),
    include_str!("../migrations/0004_water.sql"),
    include_str!("../migrations/0005_eyes.sql"),
];

/// The advisory lock key migrations are taken under ("citygrid" in ASCII).
const LOCK_KEY: i64 = 0x6369_7479_6772_6964;

/// Brings the schema up to date; refuses a schema newer than this build.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg)?;
    let current: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[]).await.map_err(pg)?.get(0);
    let known = MIGRATIONS.len();
    let current = usize::try_from(current).unwrap_or(0);
    if current > known {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this build knows ({known}); upgrade CityGrid"
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.batch_execute(step).await.map_err(|e| StoreError::Backend(format!("migration {version} failed: {e}")))?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&version]).await.map_err(pg)?;
    }
    tx.commit().await.map_err(pg)
}
