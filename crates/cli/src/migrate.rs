//! `citygrid migrate-store`: copy a whole installation into another, empty
//! store, table by table in pages, and prove the copy. Generic over both
//! stores, so any pair of backends works; the target is named the way
//! `--database` names a store ([`target`]).
//!
//! For each table the rows are read from the source a page at a time, fed to
//! a SHA-256 over their canonical JSON, and written to the target; once all
//! are in, the target is read back the same way and the two checksums must
//! match. Then one `store.migrate` audit record is appended on the target
//! and its audit chain verified.

use std::io::Write;
use std::path::Path;

use citygrid_store::{Row, Store, Table};
use sha2::{Digest, Sha256};

use crate::admin::verify_audit;
use crate::bootstrap::cli_event;
use crate::database::{Database, OpenOptions, StoreJob, with_store};
use crate::settings::Settings;

/// Rows per page, for every table but the blobs.
pub const PAGE: usize = 1_000;

/// Blobs per page: each is a whole file (photos run to megabytes).
pub const BLOB_PAGE: usize = 16;

/// The store a migration writes into: a `postgres://` URL, or else a data
/// directory for the embedded store.
pub fn target(to: &str) -> Result<Database, String> {
    if to.contains("://") { Database::choose(Some(to), None, Path::new("")) } else { Ok(Database::Embedded(to.into())) }
}

/// One table's copy: how many rows each side holds, and their checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table.
    pub table: Table,
    /// Rows read from the source.
    pub source_rows: u64,
    /// Rows read back from the target.
    pub target_rows: u64,
    /// The source rows' checksum (see [`Checksum`]).
    pub source_sha256: String,
    /// The target rows' checksum.
    pub target_sha256: String,
}

impl TableReport {
    /// Whether both sides hold the same rows.
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_sha256 == self.target_sha256
    }

    /// One line for people.
    pub fn line(&self) -> String {
        if self.matches() {
            format!("{:<12} {:>9} rows  sha256 {}  ok", self.table.as_str(), self.source_rows, self.source_sha256)
        } else {
            format!(
                "{:<12} MISMATCH: source {} rows sha256 {}, target {} rows sha256 {}",
                self.table.as_str(),
                self.source_rows,
                self.source_sha256,
                self.target_rows,
                self.target_sha256
            )
        }
    }
}

/// What a successful migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every table, in copy order.
    pub tables: Vec<TableReport>,
    /// The target's audit verification, as `citygrid audit verify` says it.
    pub audit: String,
}

impl Report {
    /// The report for people: a line per table, then the audit check.
    pub fn render(&self) -> String {
        let mut out: Vec<String> = self.tables.iter().map(TableReport::line).collect();
        out.push(self.audit.clone());
        out.join("\n")
    }
}

/// A SHA-256 over rows in key order, each as its canonical JSON (the
/// fields in declaration order, no whitespace, as serde writes them)
/// followed by a newline; with how many rows went in. The one computation
/// both sides of a migration are checked with.
#[derive(Default)]
pub struct Checksum {
    hash: Sha256,
    rows: u64,
}

/// Lets serde write JSON straight into the hash, with no copy of the row.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Checksum {
    /// Adds a page of rows, in order.
    pub fn add(&mut self, rows: &[Row]) -> Result<(), String> {
        for row in rows {
            serde_json::to_writer(HashWriter(&mut self.hash), row)
                .map_err(|e| format!("cannot encode {} row {}: {e}", row.table().as_str(), row.key()))?;
            self.hash.update(b"\n");
            self.rows += 1;
        }
        Ok(())
    }

    /// The row count and the hex digest.
    pub fn finish(self) -> (u64, String) {
        (self.rows, hex::encode(self.hash.finalize()))
    }
}

/// The page size for `table`.
fn page_for(table: Table, page: usize) -> usize {
    if table == Table::Blobs { page.clamp(1, BLOB_PAGE) } else { page.max(1) }
}

/// Every row of `table` in `store`, a page at a time, through `each`
/// (which has each page before the next is read); with the checksum.
async fn stream<S: Store>(
    store: &S,
    table: Table,
    page: usize,
    mut each: impl AsyncFnMut(Vec<Row>) -> Result<(), String>,
) -> Result<(u64, String), String> {
    let page = page_for(table, page);
    let mut sum = Checksum::default();
    let mut after = None;
    loop {
        let rows = store
            .export_rows(table, after.take(), page)
            .await
            .map_err(|e| format!("cannot read the {} table: {e}", table.as_str()))?;
        let Some(last) = rows.last() else { break };
        after = Some(last.key());
        sum.add(&rows)?;
        each(rows).await?;
    }
    Ok(sum.finish())
}

/// Refuses a target holding anything at all.
async fn ensure_empty<T: Store>(target: &T) -> Result<(), String> {
    for table in Table::ALL {
        let rows = target.export_rows(table, None, 1).await.map_err(|e| format!("cannot read the target: {e}"))?;
        if let Some(row) = rows.first() {
            return Err(format!(
                "the target is not empty: its {} table has rows (first: {}); migrate-store only copies into an empty store",
                table.as_str(),
                row.key()
            ));
        }
    }
    Ok(())
}

/// Copies every table of `source` into the empty `target`, `page` rows at a
/// time, and checks the copy: per table the rows and checksum read back from
/// the target must equal those read from the source, and the target's audit
/// chain (with the `store.migrate` record appended) must verify. An error
/// names the first table that differs.
pub async fn migrate<S: Store, T: Store>(source: &S, target: &T, page: usize) -> Result<Report, String> {
    ensure_empty(target).await?;
    let mut copied = vec![];
    for table in Table::ALL {
        let import = async |rows| {
            target.import_rows(rows).await.map_err(|e| format!("cannot write the {} table: {e}", table.as_str()))
        };
        let sum = stream(source, table, page, import).await?;
        copied.push((table, sum));
    }
    target.finish_import().await.map_err(|e| format!("cannot finish the import: {e}"))?;
    let mut tables = vec![];
    for (table, (source_rows, source_sha256)) in copied {
        let (target_rows, target_sha256) = stream(target, table, page, async |_| Ok(())).await?;
        tables.push(TableReport { table, source_rows, target_rows, source_sha256, target_sha256 });
    }
    if let Some(bad) = tables.iter().find(|t| !t.matches()) {
        let lines: Vec<String> = tables.iter().map(TableReport::line).collect();
        return Err(format!("{}\nthe copy differs from the source in table {}", lines.join("\n"), bad.table.as_str()));
    }
    let counts: serde_json::Map<String, serde_json::Value> =
        tables.iter().map(|t| (t.table.as_str().to_owned(), t.source_rows.into())).collect();
    let mut event = cli_event("store.migrate", "store");
    event.detail = Some(serde_json::json!({ "rows": counts }).to_string());
    target.append_audit(event).await.map_err(|e| format!("cannot record the migration: {e}"))?;
    let audit = match verify_audit(target).await {
        Ok(msg) => msg,
        Err(msg) => {
            let lines: Vec<String> = tables.iter().map(TableReport::line).collect();
            return Err(format!("{}\non the target: {msg}", lines.join("\n")));
        }
    };
    Ok(Report { tables, audit })
}

/// `citygrid migrate-store --from DATA_DIR --to URL_OR_DIR`.
pub async fn run(from: &Path, to: &str, page: usize) -> Result<String, String> {
    let source = Database::Embedded(from.to_owned());
    let target = target(to)?;
    if source == target {
        return Err("--from and --to name the same store".into());
    }
    let report = with_store(&source, OpenOptions::existing(), FromSource { target: &target, page }).await?;
    let mut out = format!("{}\nmigrated {} into the {target}", report.render(), from.display());
    for note in outside_the_store(from) {
        out.push_str(&format!("\nnote: {note}"));
    }
    Ok(out)
}

/// With the source open, opens the target.
struct FromSource<'a> {
    target: &'a Database,
    page: usize,
}

impl StoreJob for FromSource<'_> {
    type Output = Report;
    async fn run<S: Store>(self, source: S) -> Result<Report, String> {
        with_store(self.target, OpenOptions::default(), IntoTarget { source, page: self.page }).await
    }
}

/// With both open, copies.
struct IntoTarget<S> {
    source: S,
    page: usize,
}

impl<S: Store> StoreJob for IntoTarget<S> {
    type Output = Report;
    async fn run<T: Store>(self, target: T) -> Result<Report, String> {
        migrate(&self.source, &target, self.page).await
    }
}

/// What the data directory holds beside the store, which a migration does
/// not carry and the operator must move by hand.
fn outside_the_store(from: &Path) -> Vec<String> {
    let s = Settings::for_data_dir(from);
    let mut notes = vec![];
    if s.key_file.exists() {
        notes.push(format!(
            "the personal-data keyring {} is not in the store; the copied contacts need it: move it with the data",
            s.key_file.display()
        ));
    }
    notes
}
