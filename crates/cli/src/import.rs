//! `citygrid import` and `citygrid check`: reference data from files.

use std::path::Path;

use citygrid_geo::{ImportReport, KnownUnits, TerritoryFeature};
use citygrid_server::world::{geometry_from_json, geometry_to_json};
use citygrid_store::{Store, StoredUnit};
use indicatif::ProgressBar;

use crate::bootstrap::cli_event;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TerritoryFormat {
    GeoJson,
    Csv,
}

impl TerritoryFormat {
    fn of(path: &Path) -> Result<Self, String> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("geojson" | "json") => Ok(Self::GeoJson),
            Some("csv") => Ok(Self::Csv),
            _ => Err(format!(
                "{}: cannot tell the territory file's format from its name; use .geojson or .json for GeoJSON, \
                 .csv for CSV with WKT boundaries",
                path.display()
            )),
        }
    }

    /// Every problem, one a line; CSV problems name their row.
    fn report(self, r: &ImportReport) -> String {
        let mut s = format!("{} problem(s):\n", r.problems.len());
        for p in &r.problems {
            match self {
                Self::GeoJson => s.push_str(&format!("  {p}\n")),
                Self::Csv => s.push_str(&format!("  {}\n", p.by_row())),
            }
        }
        s
    }

    /// The file's features, checked on their own (plus duplicate codes).
    fn parse(self, text: &str) -> Result<Vec<TerritoryFeature>, String> {
        match self {
            Self::GeoJson => citygrid_geo::parse_territory_geojson(text),
            Self::Csv => citygrid_geo::parse_territory_csv(text),
        }
        .map_err(|r| self.report(&r))
    }

    /// The file's features, fully validated against the units already known.
    fn import(self, text: &str, known: &KnownUnits<'_>) -> Result<Vec<TerritoryFeature>, String> {
        match self {
            Self::GeoJson => citygrid_geo::import_territory_geojson(text, known),
            Self::Csv => citygrid_geo::import_territory_csv(text, known),
        }
        .map_err(|r| self.report(&r))
    }
}

/// Refuses a file that cannot be read as `kind` before anything is opened
/// or created (a territory file needs a known extension).
pub fn preflight(kind: Kind, path: &Path) -> Result<(), String> {
    match kind {
        Kind::Territory => TerritoryFormat::of(path).map(|_| ()),
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

/// Validates a file without touching any store; a summary on success.
pub fn check(kind: Kind, path: &Path) -> Result<String, String> {
    preflight(kind, path)?;
    let text = read(path)?;
    match kind {
        Kind::Territory => {
            let format = TerritoryFormat::of(path)?;
            let pb = spinner("parsing and validating boundaries");
            let features = format.parse(&text)?;
            let problems = citygrid_geo::validate(&features);
            pb.finish_and_clear();
            if problems.iter().any(|p| p.kind.severity() == citygrid_geo::Severity::Error) {
                return Err(format.report(&ImportReport { problems }));
            }
            let warnings = problems.len();
            Ok(format!("{} units, {warnings} warning(s)", features.len()))
        }
        Kind::Categories => reference::parse_categories(&text).map(|c| format!("{} categories", c.len())),
        Kind::Departments => reference::parse_departments(&text).map(|d| format!("{} departments", d.len())),
        Kind::Calendar => {
            let y = reference::parse_year(&text)?;
            citygrid_domain::calendar::WorkingCalendar::new(
                citygrid_domain::calendar::default_periods(),
                vec![y.clone()],
            )
            .map_err(|e| e.to_string())?;
            Ok(format!("{}: {} holidays, {} adjusted working days", y.year, y.holidays.len(), y.workdays.len()))
        }
    }
}

/// Validates a file against what the store holds and writes it, all or nothing.
pub async fn import<S: Store>(store: &S, kind: Kind, path: &Path) -> Result<String, String> {
    preflight(kind, path)?;
    let text = read(path)?;
    let err = |e: citygrid_store::StoreError| e.to_string();
    match kind {
        Kind::Territory => {
            let format = TerritoryFormat::of(path)?;
            let pb = spinner("reading the current territory");
            let existing = store.territory().await.map_err(err)?;
            let mut known_features = Vec::with_capacity(existing.len());
            for s in existing {
                let geometry = geometry_from_json(&s.geometry).map_err(|e| format!("stored unit {}: {e}", s.unit.code))?;
                known_features.push(TerritoryFeature { unit: s.unit, geometry });
            }
            pb.set_message(format!("validating {} against {} known units", path.display(), known_features.len()));
            let known = KnownUnits { codes: Default::default(), features: known_features.iter().collect() };
            let features = format.import(&text, &known)?;
            pb.set_message(format!("writing {} units", features.len()));
            let units: Vec<StoredUnit> = features
                .iter()
                .map(|f| StoredUnit { unit: f.unit.clone(), geometry: geometry_to_json(&f.geometry) })
                .collect();
            let n = store.upsert_units(units, cli_event("territory.import", &path.display().to_string())).await.map_err(err)?;
            pb.finish_and_clear();
            Ok(format!("imported {n} territory units"))
        }
        Kind::Categories => {
            let cats = reference::parse_categories(&text)?;
            let n = cats.len();
            store.put_categories(cats, cli_event("category.import", &path.display().to_string())).await.map_err(err)?;
            Ok(format!("imported {n} categories"))
        }
        Kind::Departments => {
            let depts = reference::parse_departments(&text)?;
            let units = store.territory().await.map_err(err)?;
            if let Some(d) = depts.iter().find(|d| !units.iter().any(|u| u.unit.code == d.territory)) {
                return Err(format!("department {} serves {}, which is not an imported unit", d.code, d.territory));
            }
            let n = depts.len();
            store.put_departments(depts, cli_event("department.import", &path.display().to_string())).await.map_err(err)?;
            Ok(format!("imported {n} departments"))
        }
        Kind::Calendar => Err("calendar year files are read from calendar_dir at start; use `citygrid check calendar FILE` to validate one".into()),
    }
}
