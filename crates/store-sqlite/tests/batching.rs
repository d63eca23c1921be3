//! Group commit: a failing write in a batch fails alone and leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::Utc;
use citygrid_domain::access::Role;
use citygrid_domain::audit::{AuditEvent, verify_chain};
use citygrid_store::prelude::*;
use citygrid_store::{StoreError, UserRecord};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: name.into(),
        username: name.into(),
        display_name: name.into(),
        role: Role::Citizen,
        unit: None,
        department: None,
        password_hash: "x".into(),
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_writes_in_one_batch_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap());
    // 200 concurrent creations of 50 distinct names: each name wins exactly once.
    let mut tasks = vec![];
    for i in 0..200 {
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let name = format!("user-{}", i % 50);
            let ev = AuditEvent::ok(Utc::now(), "t", "admin", "user.create", format!("user/{name}"));
            s.create_user(user(&name), ev).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 50);
    assert_eq!(store.users().await.unwrap().len(), 50);
    let trail = store.audit_records(Default::default()).await.unwrap();
    assert_eq!(trail.len(), 50, "refused writes left no audit record behind");
    assert_eq!(verify_chain(&trail), Ok(50));
}
