//! Schema migrations, applied in order on open and tracked in `user_version`.

use citygrid_store::StoreError;
use rusqlite::Connection;

use crate::sql::backend;

/// Every migration, in order; index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_zones.sql"),
    include_str!("../migrations/0003_feed.sql"),
    include_str!("../migrations/0004_water.sql"),
    include_str!("../migrations/0005_eyes.sql"),
];

/// Brings the schema up to date, each step in its own transaction.
pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(backend)?.try_into().unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this build knows ({}); upgrade CityGrid",
            MIGRATIONS.len()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i + 1;
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {step}\nPRAGMA user_version = {version}; COMMIT;")).map_err(
            |e| {
                let _ = conn.execute_batch("ROLLBACK");
                StoreError::Backend(format!("migration {version} failed: {e}"))
            },
        )?;
    }
    Ok(())
}
