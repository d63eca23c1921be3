//! What the GeoJSON and CSV readers share: one feature's (or row's)
//! properties checked into a [`Unit`], its rings as written checked into a
//! geometry, duplicate codes across the input, and the import-time
//! validation against the units already known.
//!
//! A reader only turns its own syntax into [`RawProps`] and [`RawPolygons`]
//! and reports what is wrong with that syntax; every check on the values is
//! here, so both formats report the same problems in the same words.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use citygrid_domain::{Level, Unit, UnitCode};
use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::TerritoryFeature;
use crate::validate::{
    ImportReport, KnownUnits, MakeProblem, Problem, ProblemKind, Severity, check_polygons, sort, validate_with_known,
};

/// `valid_from` for units whose input gives none (the demo's start date).
pub const DEFAULT_VALID_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2024, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// One property value as the input gave it.
pub(crate) enum Raw<'a> {
    /// Not given: absent, JSON `null`, or an empty CSV field.
    Absent,
    /// Text, trimmed (a code written as a JSON integer comes as its digits).
    Text(Cow<'a, str>),
    /// A JSON boolean.
    Bool(bool),
    /// Any other JSON value, as written.
    Other(String),
}

impl Raw<'_> {
    /// Non-empty text, if that is what it is.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Raw::Text(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// The value as quoted in messages.
    fn shown(&self) -> String {
        match self {
            Raw::Absent => "nothing".into(),
            Raw::Text(s) => format!("{s:?}"),
            Raw::Bool(b) => b.to_string(),
            Raw::Other(v) => v.clone(),
        }
    }
}

/// The properties of one feature or row, as the input gave them.
pub(crate) struct RawProps<'a> {
    pub(crate) code: Raw<'a>,
    pub(crate) name: Raw<'a>,
    pub(crate) level: Raw<'a>,
    pub(crate) parent: Raw<'a>,
    pub(crate) valid_from: Raw<'a>,
    pub(crate) valid_to: Raw<'a>,
    pub(crate) synthetic: Raw<'a>,
}

/// A geometry as written: polygons, each a list of rings (exterior first),
/// each a list of positions, before geo closes any ring.
pub(crate) type RawPolygons = Vec<Vec<Vec<Coord<f64>>>>;

/// Checks one feature's properties. Returns its code when that parsed (for
/// the duplicate check, whatever else is wrong) and the unit when nothing is.
pub(crate) fn unit_from_props(
    p: &RawProps<'_>,
    problem: MakeProblem<'_>,
    out: &mut Vec<Problem>,
) -> (Option<UnitCode>, Option<Unit>) {
    let before = out.len();
    let mut report = |kind: ProblemKind, message: String| out.push(problem(kind, message));
    let code = match (&p.code, p.code.text()) {
        (_, Some(s)) => UnitCode::parse(s).map_err(|e| report(ProblemKind::MalformedCode, e.to_string())).ok(),
        (Raw::Absent | Raw::Text(_), None) => {
            report(ProblemKind::MissingProperty, "\"code\" is missing or empty".into());
            None
        }
        (other, None) => {
            report(ProblemKind::MissingProperty, format!("\"code\" must be a string, not {}", other.shown()));
            None
        }
    };
    let name = match (&p.name, p.name.text()) {
        (_, Some(s)) => Some(s.to_owned()),
        (Raw::Absent | Raw::Text(_), None) => {
            report(ProblemKind::MissingProperty, "\"name\" is missing or empty".into());
            None
        }
        (other, None) => {
            report(ProblemKind::MissingProperty, format!("\"name\" must be a string, not {}", other.shown()));
            None
        }
    };
    let level = match &p.level {
        Raw::Absent => None,
        v => {
            let level = v.text().and_then(Level::parse);
            if level.is_none() {
                report(ProblemKind::BadProperty, format!("unknown level {}", v.shown()));
            }
            level
        }
    };
    if let (Some(c), Some(l)) = (&code, level)
        && c.level() != l
    {
        report(ProblemKind::LevelMismatch, format!("level is {l} but code {c} is a {} code", c.level()));
    }
    match (&code, &p.parent) {
        (_, Raw::Absent) => {}
        (Some(c), Raw::Text(declared)) => check_declared_parent(c, declared, &mut report),
        (None, Raw::Text(_)) => {}
        (_, other) => report(ProblemKind::BadProperty, format!("\"parent\" must be a code, not {}", other.shown())),
    }
    let mut date = |v: &Raw<'_>, key: &str| -> Option<NaiveDate> {
        if matches!(v, Raw::Absent) {
            return None;
        }
        let parsed = v.text().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        if parsed.is_none() {
            report(ProblemKind::BadProperty, format!("{key} {} is not a YYYY-MM-DD date", v.shown()));
        }
        parsed
    };
    let valid_from = date(&p.valid_from, "valid_from").unwrap_or(DEFAULT_VALID_FROM);
    let valid_to = date(&p.valid_to, "valid_to");
    if let Some(end) = valid_to
        && end < valid_from
    {
        report(ProblemKind::BadProperty, format!("valid_to {end} is before valid_from {valid_from}"));
    }
    let synthetic = match (&p.synthetic, p.synthetic.text()) {
        (Raw::Absent, _) => false,
        (Raw::Bool(b), _) => *b,
        (_, Some(s)) if s.eq_ignore_ascii_case("true") || s == "1" => true,
        (_, Some(s)) if s.eq_ignore_ascii_case("false") || s == "0" => false,
        (other, _) => {
            report(ProblemKind::BadProperty, format!("\"synthetic\" must be true or false, not {}", other.shown()));
            false
        }
    };
    let unit = match (&code, name) {
        (Some(code), Some(name)) if out.len() == before => Some(Unit {
            level: code.level(),
            parent: code.parent(),
            code: code.clone(),
            name,
            valid_from,
            valid_to,
            synthetic,
        }),
        _ => None,
    };
    (code, unit)
}

/// A declared parent must be the one the code implies. A city may name its
/// province (two digits, as in `divisions.csv`) or nothing.
fn check_declared_parent(code: &UnitCode, declared: &str, report: &mut dyn FnMut(ProblemKind, String)) {
    if declared.is_empty() {
        return;
    }
    match code.parent() {
        None => {
            if !code.as_str().starts_with(declared) || declared.len() > 2 {
                report(
                    ProblemKind::ParentMismatch,
                    format!("city {code} has no parent unit, but parent {declared} is given"),
                );
            }
        }
        Some(implied) if implied.as_str() == declared => {}
        Some(implied) => {
            let kind = if UnitCode::parse(declared).is_err() {
                ProblemKind::MalformedCode
            } else {
                ProblemKind::ParentMismatch
            };
            report(kind, format!("parent is {declared} but code {code} implies {implied}"));
        }
    }
}

/// Checks rings as written (finite, at least 4 positions, closed, simple;
/// at least one polygon, each with a ring) and builds the geometry when all
/// of them pass.
pub(crate) fn geometry_from_rings(
    polygons: RawPolygons,
    problem: MakeProblem<'_>,
    out: &mut Vec<Problem>,
) -> Option<MultiPolygon<f64>> {
    let before = out.len();
    check_polygons(&polygons, problem, out);
    if out.len() != before {
        return None;
    }
    let polygons = polygons.into_iter().filter_map(|rings| {
        let mut rings = rings.into_iter().map(LineString::new);
        let exterior = rings.next()?;
        Some(Polygon::new(exterior, rings.collect()))
    });
    Some(MultiPolygon::new(polygons.collect()))
}

/// The items (features, or units) of one input as they are checked: those
/// without problems, the codes seen so far, and every problem.
pub(crate) struct Batch<T> {
    items: Vec<T>,
    codes: Vec<(usize, UnitCode)>,
    /// Every problem so far.
    pub(crate) problems: Vec<Problem>,
}

impl<T> Batch<T> {
    pub(crate) fn new() -> Self {
        Self { items: Vec::new(), codes: Vec::new(), problems: Vec::new() }
    }

    /// How many problems so far: pass it to [`Batch::record`] to tell
    /// whether the item in between got any.
    pub(crate) fn mark(&self) -> usize {
        self.problems.len()
    }

    /// Records item `i`: its code, when that parsed, for the duplicate
    /// check, and the item itself when no problem was reported since `mark`.
    pub(crate) fn record(&mut self, i: usize, mark: usize, code: Option<UnitCode>, item: Option<T>) {
        if let Some(c) = code {
            self.codes.push((i, c));
        }
        if let Some(item) = item
            && self.problems.len() == mark
        {
            self.items.push(item);
        }
    }

    /// Adds duplicate codes (`earlier` names the item that used a code
    /// first) and returns the items, or every problem sorted by item.
    pub(crate) fn finish(mut self, earlier: impl Fn(usize) -> String) -> Result<Vec<T>, ImportReport> {
        let mut seen: BTreeMap<&UnitCode, usize> = BTreeMap::new();
        for (i, code) in &self.codes {
            if let Some(&j) = seen.get(code) {
                self.problems.push(Problem::new(
                    *i,
                    Some(code.as_str()),
                    ProblemKind::DuplicateCode,
                    format!("code {code} already used by {}", earlier(j)),
                ));
            } else {
                seen.insert(code, *i);
            }
        }
        sort(&mut self.problems);
        if self.problems.is_empty() { Ok(self.items) } else { Err(ImportReport { problems: self.problems }) }
    }
}

/// A report of one problem with the whole input (unreadable, wrong shape, bad header).
pub(crate) fn document_problems(messages: impl IntoIterator<Item = String>) -> ImportReport {
    ImportReport { problems: messages.into_iter().map(|m| Problem::new(0, None, ProblemKind::Document, m)).collect() }
}

/// What an import runs once the input parsed: full validation against the
/// units already known (parents, containment, overlaps, gaps). Gaps are
/// warnings and do not refuse the import; every other problem does.
pub(crate) fn check_against_known(
    features: Vec<TerritoryFeature>,
    known: &KnownUnits<'_>,
) -> Result<Vec<TerritoryFeature>, ImportReport> {
    let problems: Vec<Problem> =
        validate_with_known(&features, known).into_iter().filter(|p| p.kind.severity() == Severity::Error).collect();
    if problems.is_empty() { Ok(features) } else { Err(ImportReport { problems }) }
}
