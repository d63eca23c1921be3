//! `citygrid import` and `citygrid check`: reference data from files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use citygrid_app::world::Territory;
use citygrid_app::{AppError, catalog, territory};
use citygrid_geo::repair::{self, Change, Format, Parsed, Refused, render_check};
use citygrid_geo::{KnownUnits, Problem, TerritoryFeature};
use citygrid_store::Store;
use indicatif::ProgressBar;

use crate::bootstrap::{cli_event, ensure_categories};
use crate::reference;

/// What kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Territory units with boundaries: a GeoJSON FeatureCollection
    /// (`.geojson`, `.json`) or a CSV with WKT boundaries (`.csv`).
    Territory,
    /// Category table (CSV, as data/categories.csv).
    Categories,
    /// Department table (CSV, as data/departments.csv).
    Departments,
    /// A holiday year file (TOML, as data/calendar/2026.toml).
    Calendar,
}

/// How a territory file is written, told by its extension.
fn territory_format(path: &Path) -> Result<Format, String> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("geojson" | "json") => Ok(Format::GeoJson),
        Some("csv") => Ok(Format::Csv),
        _ => Err(format!(
            "{}: cannot tell the territory file's format from its name; use .geojson or .json for GeoJSON, \
             .csv for CSV with WKT boundaries",
            path.display()
        )),
    }
}

/// The repairs made and the warnings left, one a line, for an import's output.
fn changes_and_warnings(changes: &[Change], warnings: &[Problem], format: Format) -> String {
    let mut s = String::new();
    if !changes.is_empty() {
        s.push_str(&format!("{} repair(s):\n", changes.len()));
        changes.iter().for_each(|ch| s.push_str(&format!("  {}\n", format.change_line(ch))));
    }
    if !warnings.is_empty() {
        s.push_str(&format!("{} warning(s):\n", warnings.len()));
        warnings.iter().for_each(|p| s.push_str(&format!("  {}\n", format.problem_line(p))));
    }
    s
}

/// Why an import wrote nothing: every problem, and any repairs that were not enough.
fn refusal(r: Refused, format: Format) -> String {
    format!("{}\nnothing was imported", render_check(&Err(r), format))
}

/// A file read and checked as far as it can be without the store, so a
/// broken file is refused before any store is opened or created.
pub enum Prepared {
    /// Territory units, each checked on its own (and repaired, if asked).
    Territory {
        /// The file, for messages and the audit trail.
        path: PathBuf,
        /// How it is written.
        format: Format,
        /// Its features and the repairs made so far.
        parsed: Parsed,
        /// Whether `--repair` was given.
        repair: bool,
    },
    /// Any other kind, read but not yet parsed.
    Other {
        /// What it holds.
        kind: Kind,
        /// The file.
        path: PathBuf,
        /// Its text.
        text: String,
    },
}

/// Reads and checks a file for `citygrid import`. A territory file is
/// parsed and each unit checked (and repaired if `repair`); if there is no
/// store yet (`no_store`), nothing can be known beyond the file, so it is
/// validated in full here and a refused file leaves no store behind.
pub fn prepare(kind: Kind, path: &Path, repair: bool, no_store: bool) -> Result<Prepared, String> {
    preflight(kind, path)?;
    if repair && kind != Kind::Territory {
        return Err("--repair applies to territory files only".into());
    }
    let text = read(path)?;
    if kind != Kind::Territory {
        return Ok(Prepared::Other { kind, path: path.to_owned(), text });
    }
    let format = territory_format(path)?;
    let pb = spinner("parsing and checking boundaries");
    let parsed = repair::read_territory(&text, format, repair).map_err(|r| refusal(r, format))?;
    if no_store {
        parsed.clone().check(&KnownUnits::default(), repair).map_err(|r| refusal(r, format))?;
    }
    pb.finish_and_clear();
    Ok(Prepared::Territory { path: path.to_owned(), format, parsed, repair })
}

/// Refuses a file that cannot be read as `kind` before anything is opened
/// or created (a territory file needs a known extension).
pub fn preflight(kind: Kind, path: &Path) -> Result<(), String> {
    match kind {
        Kind::Territory => territory_format(path).map(|_| ()),
        Kind::Categories | Kind::Departments | Kind::Calendar => Ok(()),
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(std::time::Duration::from_millis(100));
    pb
}

/// Validates a file without touching any store: the report, as the
/// success message or the error. `repair` (territory files only) repairs
/// what can be repaired, lists the changes and checks the result; nothing
/// is written.
pub fn check(kind: Kind, path: &Path, repair: bool, write: Option<&Path>) -> Result<String, String> {
    preflight(kind, path)?;
    if repair && kind != Kind::Territory {
        return Err("--repair applies to territory files only".into());
    }
    let text = read(path)?;
    let ok = |summary: String| format!("{}: OK, {summary}", path.display());
    match kind {
        Kind::Territory => {
            let format = territory_format(path)?;
            let pb = spinner("parsing and validating boundaries");
            let result = repair::check_territory(&text, format, &KnownUnits::default(), repair);
            pb.finish_and_clear();
            let report = render_check(&result, format);
            match (&result, write) {
                (Ok(checked), Some(out)) => {
                    let features: Vec<&TerritoryFeature> = checked.features.iter().collect();
                    let json = citygrid_geo::to_feature_collection(&features).to_string();
                    std::fs::write(out, json).map_err(|e| format!("{}: {e}", out.display()))?;
                    Ok(format!(
                        "{report}
wrote {} units to {}",
                        features.len(),
                        out.display()
                    ))
                }
                (Ok(_), None) => Ok(report),
                (Err(_), _) => Err(report),
            }
        }
        Kind::Categories => reference::parse_categories(&text).map(|c| ok(format!("{} categories", c.len()))),
        Kind::Departments => reference::parse_departments(&text).map(|d| ok(format!("{} departments", d.len()))),
        Kind::Calendar => {
            let y = reference::parse_year(&text)?;
            citygrid_domain::calendar::WorkingCalendar::new(
                citygrid_domain::calendar::default_periods(),
                vec![y.clone()],
            )
            .map_err(|e| e.to_string())?;
            Ok(ok(format!("{}: {} holidays, {} adjusted working days", y.year, y.holidays.len(), y.workdays.len())))
        }
    }
}

/// Validates a prepared file against what the store holds and writes it,
/// all or nothing: one transaction, so a refused file or a failed write
/// leaves the store as it was. The rules are the application layer's
/// ([`citygrid_app::territory`], [`citygrid_app::catalog`]), the same as a
/// running server applies.
pub async fn import<S: Store>(store: &S, prepared: Prepared) -> Result<String, String> {
    let err = |e: citygrid_store::StoreError| e.to_string();
    let (kind, path, text) = match prepared {
        Prepared::Territory { path, format, parsed, repair } => {
            let pb = spinner("reading the current territory");
            let units = store.territory().await.map_err(err)?;
            let current = tokio::task::spawn_blocking(move || Territory::from_stored(units))
                .await
                .map_err(|e| e.to_string())??;
            pb.set_message(format!("validating {} against {} known units", path.display(), current.len()));
            let audit = cli_event("territory.import", &path.display().to_string());
            let (outcome, _) = territory::import_parsed(store, Arc::new(current), parsed, repair, false, audit)
                .await
                .map_err(|e| match e {
                AppError::InvalidBoundaries(r) => refusal(*r, format),
                e => format!("{e}\nnothing was imported"),
            })?;
            pb.finish_and_clear();
            // Only once the units are in: a refused file must leave a new store as empty as it found it.
            ensure_categories(store).await?;
            let notes = changes_and_warnings(&outcome.changes, &outcome.warnings, format);
            return Ok(format!("{notes}imported {} territory units", outcome.imported));
        }
        Prepared::Other { kind, path, text } => (kind, path, text),
    };
    ensure_categories(store).await?;
    let audit = |action: &str| cli_event(action, &path.display().to_string());
    match kind {
        Kind::Territory => Err("internal error: a territory file was not prepared".into()),
        Kind::Categories => {
            let cats = reference::parse_categories(&text)?;
            let n = catalog::write_categories(store, cats, audit("category.import")).await.map_err(|e| e.to_string())?;
            Ok(format!("imported {n} categories"))
        }
        Kind::Departments => {
            let depts = reference::parse_departments(&text)?;
            let n =
                catalog::write_departments(store, depts, audit("department.import")).await.map_err(|e| e.to_string())?;
            Ok(format!("imported {n} departments"))
        }
        Kind::Calendar => Err("calendar year files are read from calendar_dir at start; use `citygrid check calendar FILE` to validate one".into()),
    }
}
