//! The shared storage contract, one test per check, each on a fresh SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid_store::prelude::*;
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

/// A store in a temporary directory, removed when dropped.
struct Fresh {
    store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Fresh {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    Fresh { store, _dir: dir }
}

citygrid_store::conformance_tests!(fresh);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_data_and_the_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
        citygrid_store::conformance::audit_chain_verifies_and_filters(&store).await;
    }
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    let before = store.audit_records(Default::default()).await.unwrap().len();
    store
        .append_audit(citygrid_domain::audit::AuditEvent::ok(chrono::Utc::now(), "u", "admin", "x.y", "z"))
        .await
        .unwrap();
    let all = store.audit_records(Default::default()).await.unwrap();
    assert_eq!(all.len(), before + 1);
    assert_eq!(citygrid_domain::audit::verify_chain(&all), Ok(all.len() as u64));
    assert_eq!(
        store
            .list_cases(citygrid_store::CaseFilter::scoped(citygrid_store::CaseScope::All, 10))
            .await
            .unwrap()
            .cases
            .len(),
        3
    );
}
