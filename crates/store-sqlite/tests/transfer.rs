//! Moving a whole store: SQLite to SQLite through the shared transfer check,
//! and what only the embedded store refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid_domain::audit::{AuditEvent, AuditRecord, ChainHead};
use citygrid_store::prelude::*;
use citygrid_store::{Row, StoreError, Table};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_copies_into_another_exactly() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    citygrid_store::conformance::transfer_between(&open(&a), &open(&b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_survives_reopening() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (from, to) = (open(&a), open(&b));
    citygrid_store::conformance::transfer_between(&from, &to).await;
    let mut before = vec![];
    for t in Table::ALL {
        before.push(citygrid_store::conformance::export_all(&to, t, 1000).await);
    }
    drop(to);
    let to = open(&b);
    for (t, rows) in Table::ALL.into_iter().zip(before) {
        assert_eq!(citygrid_store::conformance::export_all(&to, t, 1000).await, rows, "{t:?}");
    }
}

fn record(seq: u64, chain: u32, link: u64) -> AuditRecord {
    let ev = AuditEvent::ok(chrono::Utc::now(), "u", "admin", "x.y", "z");
    let mut head = ChainHead::genesis(chain);
    head.link = link - 1;
    AuditRecord::chain(ev, seq, &head)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_of_other_chains_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for rec in [record(1, 3, 1), record(5, 0, 2)] {
        let batch = vec![Row::Meta { key: "k".into(), value: "v".into() }, Row::Audit(rec)];
        let err = s.import_rows(batch).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(s.meta("k").await.unwrap(), None, "nothing of a refused batch is written");
    s.import_rows(vec![Row::Audit(record(1, 0, 1))]).await.unwrap();
    s.finish_import().await.unwrap();
    s.append_audit(AuditEvent::ok(chrono::Utc::now(), "u", "admin", "x.z", "z")).await.unwrap();
    let trail = s.audit_records(Default::default()).await.unwrap();
    assert_eq!(trail.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(citygrid_domain::audit::verify_chain(&trail), Ok(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_keys_must_be_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for t in [Table::Cases, Table::Audit] {
        let err = s.export_rows(t, Some("x".into()), 3).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}
