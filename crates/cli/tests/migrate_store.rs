//! `citygrid migrate-store`: a filled SQLite store copied into an empty one,
//! checked table by table, refused into a store that holds anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid::migrate::{self, Checksum};
use citygrid_domain::audit::verify_chain;
use citygrid_store::conformance::{export_all, fill};
use citygrid_store::prelude::*;
use citygrid_store::{AuditFilter, Table};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

mod common;
use common::*;

fn open(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open_dir(dir, SqliteOptions::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_every_table_with_matching_checksums() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (source, target) = (open(a.path()), open(b.path()));
    fill(&source).await;
    // A small page, so every table takes several.
    let report = migrate::migrate(&source, &target, 2).await.unwrap();
    assert_eq!(report.tables.iter().map(|t| t.table).collect::<Vec<_>>(), Table::ALL.to_vec());
    for t in &report.tables {
        let rows = export_all(&source, t.table, 1000).await;
        assert!(!rows.is_empty(), "{:?}: the fill covers every table", t.table);
        assert_eq!((t.source_rows, t.target_rows), (rows.len() as u64, rows.len() as u64), "{:?}", t.table);
        let mut sum = Checksum::default();
        sum.add(&rows).unwrap();
        assert_eq!(sum.finish().1, t.source_sha256, "{:?}: the checksum covers the rows in key order", t.table);
        assert!(t.matches(), "{}", t.line());
        if t.table != Table::Audit {
            assert_eq!(export_all(&target, t.table, 1000).await, rows, "{:?}: copied exactly", t.table);
        }
    }
    assert!(report.audit.contains("chain verified"), "{}", report.audit);
    let rendered = report.render();
    assert!(rendered.lines().filter(|l| l.ends_with("ok")).count() == Table::ALL.len(), "{rendered}");

    // The target's trail: the source's, then the migration's own record.
    let copied = source.audit_records(AuditFilter::default()).await.unwrap();
    let trail = target.audit_records(AuditFilter::default()).await.unwrap();
    assert_eq!(trail.len(), copied.len() + 1);
    assert_eq!(trail[..copied.len()], copied[..]);
    let last = trail.last().unwrap();
    assert_eq!((last.event.action.as_str(), last.event.actor.as_str()), ("store.migrate", "cli"));
    assert!(last.event.detail.as_deref().unwrap().contains("\"cases\":8"), "{:?}", last.event.detail);
    assert_eq!(verify_chain(&trail), Ok(trail.len() as u64));

    // Into a store that holds anything: refused, and nothing changes.
    let err = migrate::migrate(&source, &target, 2).await.unwrap_err();
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(target.audit_records(AuditFilter::default()).await.unwrap(), trail);
    let c = tempfile::tempdir().unwrap();
    let partial = open(c.path());
    partial.set_meta("x", "y", citygrid::bootstrap::cli_event("meta.set", "x")).await.unwrap();
    let err = migrate::migrate(&source, &partial, 2).await.unwrap_err();
    assert!(err.contains("not empty") && err.contains("meta"), "{err}");
}

#[test]
fn the_command_copies_reports_and_refuses_a_second_run() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        fill(&open(a.path())).await;
    });
    let (from, to) = (a.path().to_str().unwrap(), b.path().join("copy"));
    let to = to.to_str().unwrap();
    let o = citygrid(&["migrate-store", "--from", from, "--to", to, "--page", "5"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for t in Table::ALL {
        assert!(out.lines().any(|l| l.starts_with(t.as_str()) && l.ends_with("ok")), "{t:?}: {out}");
    }
    assert!(out.contains("audit trail intact") && out.contains("chain verified"), "{out}");
    let o = citygrid(&["audit", "verify", "--data-dir", to]);
    assert!(o.status.success(), "{}", text(&o));

    let o = citygrid(&["migrate-store", "--from", from, "--to", to]);
    assert!(!o.status.success(), "a second run into the copy is refused");
    assert!(text(&o).contains("not empty"), "{}", text(&o));
    let missing = b.path().join("nothing-here");
    let o = citygrid(&["migrate-store", "--from", missing.to_str().unwrap(), "--to", to]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no CityGrid store"), "{}", text(&o));
}
