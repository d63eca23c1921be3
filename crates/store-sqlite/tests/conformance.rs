//! The shared storage contract, run against a fresh SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    citygrid_store::conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_data_and_the_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
        citygrid_store::conformance::run_all(&store).await;
    }
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    use citygrid_store::Store;
    let before = store.audit_records(Default::default()).await.unwrap().len();
    store
        .append_audit(citygrid_domain::audit::AuditEvent::ok(chrono::Utc::now(), "u", "admin", "x.y", "z"))
        .await
        .unwrap();
    let all = store.audit_records(Default::default()).await.unwrap();
    assert_eq!(all.len(), before + 1);
    assert_eq!(citygrid_domain::audit::verify_chain(&all), Ok(all.len() as u64));
}
