//! Validation of territory data: the checks behind `citygrid import` and
//! `citygrid check`.
//!
//! Every check runs on every feature and all problems are reported, so one
//! run of `check` lists everything to fix. The functions are pure: they see
//! only the features passed in and, optionally, the units already known
//! (for example, those in the store).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use citygrid_domain::{Unit, UnitCode};
use geo::{Area, BooleanOps, Coord, MultiPolygon};
use serde::Serialize;

use crate::TerritoryFeature;

/// Share of a child's area that may lie outside its parent before it is reported.
pub const OUTSIDE_PARENT_TOLERANCE: f64 = 0.01;
/// How far the summed area of a parent's children may exceed or fall short
/// of the parent's before overlap or gaps are reported.
pub const COVERAGE_TOLERANCE: f64 = 0.01;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The data must not be imported as is.
    Error,
    /// Worth fixing, but the data is usable (gaps between siblings).
    Warning,
}

/// What kind of problem a feature (or CSV row) has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The document as a whole is unreadable (bad JSON, not a FeatureCollection, bad CSV header).
    Document,
    /// A required property (`code`, `name`) is missing or of the wrong type.
    MissingProperty,
    /// An optional property has a bad value (unknown level, bad date, non-boolean `synthetic`).
    BadProperty,
    /// The code is not a valid territory code.
    MalformedCode,
    /// The declared level disagrees with the level the code implies.
    LevelMismatch,
    /// The declared parent is not the parent the code implies.
    ParentMismatch,
    /// Another feature earlier in the input has the same code.
    DuplicateCode,
    /// The parent is neither in the input nor among the known units.
    MissingParent,
    /// Geometry missing, of the wrong type, malformed or empty.
    BadGeometry,
    /// A ring's last position differs from its first.
    UnclosedRing,
    /// A ring has fewer than 4 positions.
    TooFewPositions,
    /// A coordinate is NaN or infinite.
    NonFiniteCoordinate,
    /// A ring crosses or touches itself.
    SelfIntersection,
    /// More than 1% of the unit's area lies outside its parent.
    OutsideParent,
    /// The unit's children together cover more than its area, so some overlap.
    SiblingsOverlap,
    /// The unit's children leave part of it uncovered.
    CoverageGap,
}

impl ProblemKind {
    /// The stable snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Document => "document",
            ProblemKind::MissingProperty => "missing_property",
            ProblemKind::BadProperty => "bad_property",
            ProblemKind::MalformedCode => "malformed_code",
            ProblemKind::LevelMismatch => "level_mismatch",
            ProblemKind::ParentMismatch => "parent_mismatch",
            ProblemKind::DuplicateCode => "duplicate_code",
            ProblemKind::MissingParent => "missing_parent",
            ProblemKind::BadGeometry => "bad_geometry",
            ProblemKind::UnclosedRing => "unclosed_ring",
            ProblemKind::TooFewPositions => "too_few_positions",
            ProblemKind::NonFiniteCoordinate => "non_finite_coordinate",
            ProblemKind::SelfIntersection => "self_intersection",
            ProblemKind::OutsideParent => "outside_parent",
            ProblemKind::SiblingsOverlap => "siblings_overlap",
            ProblemKind::CoverageGap => "coverage_gap",
        }
    }

    /// Gaps are reported but do not block an import; everything else does.
    pub fn severity(self) -> Severity {
        match self {
            ProblemKind::CoverageGap => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one feature (or CSV row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 0-based index of the feature (GeoJSON) or data row (CSV, header not
    /// counted) in the input; 0 for [`ProblemKind::Document`] problems.
    pub feature: usize,
    /// The feature's code as written, when it has one.
    pub code: Option<String>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// A human-readable explanation naming what is wrong.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(feature: usize, code: Option<&str>, kind: ProblemKind, message: impl Into<String>) -> Self {
        Self { feature, code: code.map(str::to_owned), kind, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "feature #{} ({code}): {}: {}", self.feature, self.kind, self.message),
            None => write!(f, "feature #{}: {}: {}", self.feature, self.kind, self.message),
        }
    }
}

/// Why an import was refused: every problem found, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ImportReport {
    /// The problems, sorted by feature index.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_report(f, &self.problems, |p, f| write!(f, "{p}"))
    }
}

fn write_report(
    f: &mut fmt::Formatter<'_>,
    problems: &[Problem],
    line: impl Fn(&Problem, &mut fmt::Formatter<'_>) -> fmt::Result,
) -> fmt::Result {
    let n = problems.len();
    write!(f, "{n} problem{} found", if n == 1 { "" } else { "s" })?;
    for p in problems {
        f.write_str("\n  - ")?;
        line(p, f)?;
    }
    Ok(())
}

impl std::error::Error for ImportReport {}

impl ImportReport {
    /// The report worded for CSV input: `row N (code)`, counting data rows
    /// from 1 with the header not counted, instead of `feature #i (code)`.
    pub fn by_row(&self) -> impl fmt::Display + '_ {
        ByRow(self)
    }
}

struct ByRow<'a>(&'a ImportReport);

impl fmt::Display for ByRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_report(f, &self.0.problems, |p, f| write!(f, "{}", p.by_row()))
    }
}

impl Problem {
    /// The problem worded for CSV input: `row N (code): kind: message`, with
    /// rows counted from 1 (header not counted); document-level problems
    /// (the header, for instance) have no row.
    pub fn by_row(&self) -> impl fmt::Display + '_ {
        RowProblem(self)
    }
}

struct RowProblem<'a>(&'a Problem);

impl fmt::Display for RowProblem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        match (&p.code, p.kind) {
            (_, ProblemKind::Document) => write!(f, "{}: {}", p.kind, p.message),
            (Some(code), _) => write!(f, "row {} ({code}): {}: {}", p.feature + 1, p.kind, p.message),
            (None, _) => write!(f, "row {}: {}: {}", p.feature + 1, p.kind, p.message),
        }
    }
}

/// Units that already exist outside the input (for example in the store):
/// they satisfy parent references, and their geometry is used for the
/// inside-parent check.
#[derive(Debug, Clone, Default)]
pub struct KnownUnits<'a> {
    /// Codes of existing units whose geometry is not at hand.
    pub codes: BTreeSet<UnitCode>,
    /// Existing units with geometry.
    pub features: Vec<&'a TerritoryFeature>,
}

impl KnownUnits<'_> {
    fn has(&self, code: &UnitCode) -> bool {
        self.codes.contains(code) || self.features.iter().any(|f| &f.unit.code == code)
    }
}

/// Validates features on their own: every problem found, sorted by feature.
pub fn validate(features: &[TerritoryFeature]) -> Vec<Problem> {
    validate_with_known(features, &KnownUnits::default())
}

/// Validates features against the units already known: every problem found,
/// sorted by feature index.
pub fn validate_with_known(features: &[TerritoryFeature], known: &KnownUnits<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut sound = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let before = problems.len();
        check_unit_fields(i, &f.unit, &mut problems);
        check_geometry(i, f.unit.code.as_str(), &f.geometry, &mut problems);
        sound.push(problems[before..].iter().all(|p| !is_geometry_kind(p.kind)));
    }
    let units: Vec<&Unit> = features.iter().map(|f| &f.unit).collect();
    check_set(&units, known, &mut problems);
    check_containment(features, &sound, known, &mut problems);
    sort(&mut problems);
    problems
}

/// Validates a unit list without geometry (duplicates, missing parents, and
/// the code/level/parent agreement): every problem found, sorted by row.
pub fn validate_units(units: &[Unit], known: &KnownUnits<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, u) in units.iter().enumerate() {
        check_unit_fields(i, u, &mut problems);
    }
    let refs: Vec<&Unit> = units.iter().collect();
    check_set(&refs, known, &mut problems);
    sort(&mut problems);
    problems
}

pub(crate) fn sort(problems: &mut [Problem]) {
    // Stable: within a feature, problems keep the order they were found in.
    problems.sort_by_key(|p| p.feature);
}

fn is_geometry_kind(kind: ProblemKind) -> bool {
    matches!(
        kind,
        ProblemKind::BadGeometry
            | ProblemKind::UnclosedRing
            | ProblemKind::TooFewPositions
            | ProblemKind::NonFiniteCoordinate
            | ProblemKind::SelfIntersection
    )
}

fn check_unit_fields(i: usize, u: &Unit, out: &mut Vec<Problem>) {
    let code = u.code.as_str();
    if u.level != u.code.level() {
        out.push(Problem::new(
            i,
            Some(code),
            ProblemKind::LevelMismatch,
            format!("level is {} but code {code} is a {} code", u.level, u.code.level()),
        ));
    }
    let implied = u.code.parent();
    if u.parent != implied {
        let show = |c: &Option<UnitCode>| c.as_ref().map_or_else(|| "none".to_owned(), |c| c.to_string());
        out.push(Problem::new(
            i,
            Some(code),
            ProblemKind::ParentMismatch,
            format!("parent is {} but code {code} implies {}", show(&u.parent), show(&implied)),
        ));
    }
    if let Some(end) = u.valid_to
        && end < u.valid_from
    {
        out.push(Problem::new(
            i,
            Some(code),
            ProblemKind::BadProperty,
            format!("valid_to {end} is before valid_from {}", u.valid_from),
        ));
    }
}

/// Duplicate codes and parents that exist nowhere.
fn check_set(units: &[&Unit], known: &KnownUnits<'_>, out: &mut Vec<Problem>) {
    let mut first: BTreeMap<&UnitCode, usize> = BTreeMap::new();
    for (i, u) in units.iter().enumerate() {
        if let Some(&j) = first.get(&u.code) {
            out.push(Problem::new(
                i,
                Some(u.code.as_str()),
                ProblemKind::DuplicateCode,
                format!("code {} already used by feature #{j}", u.code),
            ));
        } else {
            first.insert(&u.code, i);
        }
    }
    for (i, u) in units.iter().enumerate() {
        if let Some(p) = &u.parent
            && !first.contains_key(p)
            && !known.has(p)
        {
            out.push(Problem::new(
                i,
                Some(u.code.as_str()),
                ProblemKind::MissingParent,
                format!("parent {p} of {} is neither in the input nor already known", u.code),
            ));
        }
    }
}

/// Makes a [`Problem`] for one feature or row from a kind and a message.
pub(crate) type MakeProblem<'a> = &'a dyn Fn(ProblemKind, String) -> Problem;

/// Ring structure, finiteness and simplicity of one geometry.
pub(crate) fn check_geometry(i: usize, code: &str, mp: &MultiPolygon<f64>, out: &mut Vec<Problem>) {
    let problem = |kind: ProblemKind, message: String| Problem::new(i, Some(code), kind, message);
    let polygons: Vec<Vec<&[Coord<f64>]>> =
        mp.0.iter()
            .map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(|r| r.0.as_slice()).collect())
            .collect();
    check_polygons(&polygons, &problem, out);
}

/// The structural checks of polygons given as rings of positions (exterior
/// first), as written in the input or as held by geo: at least one polygon,
/// at least one ring each, and [`check_ring`] on every ring.
pub(crate) fn check_polygons<R: AsRef<[Coord<f64>]>>(
    polygons: &[Vec<R>],
    problem: MakeProblem<'_>,
    out: &mut Vec<Problem>,
) {
    if polygons.is_empty() {
        out.push(problem(ProblemKind::BadGeometry, "geometry has no polygon".into()));
        return;
    }
    for (pi, rings) in polygons.iter().enumerate() {
        if rings.is_empty() {
            out.push(problem(ProblemKind::BadGeometry, format!("polygon {pi} has no ring")));
        }
        for (ri, ring) in rings.iter().enumerate() {
            check_ring(&ring_name(pi, ri), ring.as_ref(), problem, out);
        }
    }
}

/// One ring: finite coordinates, at least 4 positions, closed (checked on
/// the positions as given, since geo closes rings silently), and simple.
/// Stops at the first problem, since the later checks assume the earlier.
fn check_ring(what: &str, coords: &[Coord<f64>], problem: MakeProblem<'_>, out: &mut Vec<Problem>) {
    if let Some(c) = coords.iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
        out.push(problem(
            ProblemKind::NonFiniteCoordinate,
            format!("{what} has a non-finite coordinate ({}, {})", c.x, c.y),
        ));
    } else if coords.len() < 4 {
        out.push(problem(
            ProblemKind::TooFewPositions,
            format!("{what} has {} positions; a ring needs at least 4", coords.len()),
        ));
    } else if coords.first() != coords.last() {
        out.push(problem(
            ProblemKind::UnclosedRing,
            format!("{what} is not closed: its last position differs from its first"),
        ));
    } else if let Some(at) = self_intersection(coords) {
        out.push(problem(
            ProblemKind::SelfIntersection,
            format!("{what} intersects itself near ({:.6}, {:.6})", at.x, at.y),
        ));
    }
}

pub(crate) fn ring_name(polygon: usize, ring: usize) -> String {
    if ring == 0 {
        format!("exterior ring of polygon {polygon}")
    } else {
        format!("hole {} of polygon {polygon}", ring - 1)
    }
}

/// Children outside their parents, and siblings that overlap or leave gaps.
/// Only geometries without structural problems take part, since overlay on a
/// broken ring would report noise.
fn check_containment(features: &[TerritoryFeature], sound: &[bool], known: &KnownUnits<'_>, out: &mut Vec<Problem>) {
    let mut index: BTreeMap<&UnitCode, usize> = BTreeMap::new();
    for (i, f) in features.iter().enumerate() {
        index.entry(&f.unit.code).or_insert(i);
    }
    // Per parent in the input: (parent index, summed child area inside it).
    let mut covered: BTreeMap<usize, f64> = BTreeMap::new();
    let mut child_broken: BTreeSet<usize> = BTreeSet::new();
    for (i, f) in features.iter().enumerate() {
        let Some(pcode) = &f.unit.parent else { continue };
        let parent_local = index.get(pcode).copied();
        let parent_geom = match parent_local {
            Some(j) if sound[j] => Some(&features[j].geometry),
            Some(_) => None,
            None => known.features.iter().find(|k| &k.unit.code == pcode).map(|k| &k.geometry),
        };
        let Some(parent_geom) = parent_geom else { continue };
        if !sound[i] || index.get(&f.unit.code) != Some(&i) {
            if let Some(j) = parent_local {
                child_broken.insert(j);
            }
            continue;
        }
        let area = f.geometry.unsigned_area();
        let outside = if area > 0.0 { f.geometry.difference(parent_geom).unsigned_area() } else { 0.0 };
        if area > 0.0 && outside > area * OUTSIDE_PARENT_TOLERANCE {
            out.push(Problem::new(
                i,
                Some(f.unit.code.as_str()),
                ProblemKind::OutsideParent,
                format!("{:.1}% of {}'s area lies outside its parent {pcode}", outside / area * 100.0, f.unit.code),
            ));
        }
        if let Some(j) = parent_local {
            *covered.entry(j).or_insert(0.0) += area - outside;
        }
    }
    for (j, inside) in covered {
        if child_broken.contains(&j) {
            // Some child could not be measured; a coverage figure would mislead.
            continue;
        }
        let parent = &features[j];
        let area = parent.geometry.unsigned_area();
        if area <= 0.0 {
            continue;
        }
        let share = inside / area;
        let code = parent.unit.code.as_str();
        if share > 1.0 + COVERAGE_TOLERANCE {
            out.push(Problem::new(
                j,
                Some(code),
                ProblemKind::SiblingsOverlap,
                format!("{code}'s children cover {:.1}% of its area, so some of them overlap", share * 100.0),
            ));
        } else if share < 1.0 - COVERAGE_TOLERANCE {
            out.push(Problem::new(
                j,
                Some(code),
                ProblemKind::CoverageGap,
                format!("{code}'s children cover only {:.1}% of its area", share * 100.0),
            ));
        }
    }
}

/// A point where the closed ring `coords` touches or crosses itself, if any.
/// Sweep over x: segments are sorted by their west end and only compared with
/// segments whose x-range is still open, which is near-linear for real rings.
pub(crate) fn self_intersection(coords: &[Coord<f64>]) -> Option<Coord<f64>> {
    // Drop repeated consecutive positions: they are harmless, not crossings.
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(coords.len());
    for c in coords {
        if pts.last() != Some(c) {
            pts.push(*c);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    let n = pts.len();
    if n < 3 {
        return (n > 0).then(|| pts[0]);
    }
    let seg = |k: usize| (pts[k], pts[(k + 1) % n]);
    let mut order: Vec<usize> = (0..n).collect();
    let min_x = |k: usize| {
        let (a, b) = seg(k);
        a.x.min(b.x)
    };
    let max_x = |k: usize| {
        let (a, b) = seg(k);
        a.x.max(b.x)
    };
    order.sort_by(|&a, &b| min_x(a).total_cmp(&min_x(b)).then(a.cmp(&b)));
    let mut active: Vec<usize> = Vec::new();
    for &k in &order {
        let x0 = min_x(k);
        active.retain(|&j| max_x(j) >= x0);
        let (a, b) = seg(k);
        for &j in &active {
            let (c, d) = seg(j);
            let adjacent = (k + 1) % n == j || (j + 1) % n == k;
            if adjacent {
                // Neighbours share one endpoint; they are bad only if they fold back on each other.
                if let Some(p) = folded(a, b, c, d) {
                    return Some(p);
                }
            } else if let Some(p) = segments_touch(a, b, c, d) {
                return Some(p);
            }
        }
        active.push(k);
    }
    None
}

fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn on_segment(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

/// Where segments `ab` and `cd` meet, if they do (touching counts).
fn segments_touch(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> Option<Coord<f64>> {
    let (o1, o2, o3, o4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
    if ((o1 > 0.0 && o2 < 0.0) || (o1 < 0.0 && o2 > 0.0)) && ((o3 > 0.0 && o4 < 0.0) || (o3 < 0.0 && o4 > 0.0)) {
        let t = o3 / (o3 - o4);
        return Some(Coord { x: a.x + t * (b.x - a.x), y: a.y + t * (b.y - a.y) });
    }
    if o1 == 0.0 && on_segment(a, b, c) {
        return Some(c);
    }
    if o2 == 0.0 && on_segment(a, b, d) {
        return Some(d);
    }
    if o3 == 0.0 && on_segment(c, d, a) {
        return Some(a);
    }
    if o4 == 0.0 && on_segment(c, d, b) {
        return Some(b);
    }
    None
}

/// Adjacent segments `ab`, `cd` (sharing one endpoint) that overlap along a
/// stretch, i.e. the ring doubles back on itself (a spike).
fn folded(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> Option<Coord<f64>> {
    // The endpoints not shared; if either lies on the other segment, they overlap.
    let (p, q, r, s) = if b == c {
        (a, b, c, d)
    } else if d == a {
        (c, d, a, b)
    } else {
        return None;
    };
    // Segments p→q and r→s with q == r.
    if orient(p, q, s) != 0.0 {
        return None;
    }
    let back = (q.x - p.x) * (s.x - r.x) + (q.y - p.y) * (s.y - r.y) < 0.0;
    back.then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use citygrid_domain::Level;
    use geo::{LineString, Polygon};

    fn unit(code: &str) -> Unit {
        let code = UnitCode::parse(code).unwrap();
        Unit {
            level: code.level(),
            parent: code.parent(),
            code,
            name: "t".into(),
            valid_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            valid_to: None,
            synthetic: false,
        }
    }

    fn square(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
        ring_mp(&[(x0, y0), (x0 + s, y0), (x0 + s, y0 + s), (x0, y0 + s), (x0, y0)])
    }

    fn ring_mp(pts: &[(f64, f64)]) -> MultiPolygon<f64> {
        let ls = LineString::new(pts.iter().map(|&(x, y)| Coord { x, y }).collect());
        MultiPolygon::new(vec![Polygon::new(ls, vec![])])
    }

    fn feature(code: &str, geometry: MultiPolygon<f64>) -> TerritoryFeature {
        TerritoryFeature { unit: unit(code), geometry }
    }

    /// Validates with the city known, as a store holding it would.
    fn v(features: &[TerritoryFeature]) -> Vec<Problem> {
        let known = KnownUnits { codes: [UnitCode::parse("340200").unwrap()].into(), features: vec![] };
        validate_with_known(features, &known)
    }

    fn kinds(problems: &[Problem]) -> Vec<(usize, ProblemKind)> {
        problems.iter().map(|p| (p.feature, p.kind)).collect()
    }

    fn family() -> Vec<TerritoryFeature> {
        vec![
            feature("340202", square(0.0, 0.0, 2.0)),
            feature("340202001", square(0.0, 0.0, 1.0)),
            feature("340202002", square(1.0, 0.0, 1.0)),
            feature("340202003", ring_mp(&[(0.0, 1.0), (2.0, 1.0), (2.0, 2.0), (0.0, 2.0), (0.0, 1.0)])),
        ]
    }

    #[test]
    fn a_clean_family_has_no_problem() {
        assert_eq!(v(&family()), vec![]);
    }

    #[test]
    fn level_mismatch() {
        let mut f = family();
        f[1].unit.level = Level::Community;
        let p = v(&f);
        assert_eq!(kinds(&p), vec![(1, ProblemKind::LevelMismatch)]);
        assert!(p[0].message.contains("340202001"), "{}", p[0].message);
    }

    #[test]
    fn parent_mismatch() {
        let mut f = family();
        f[1].unit.parent = Some(UnitCode::parse("340207").unwrap());
        assert!(kinds(&v(&f)).contains(&(1, ProblemKind::ParentMismatch)));
    }

    #[test]
    fn duplicate_code() {
        let mut f = family();
        f.push(feature("340202001", square(0.0, 0.0, 1.0)));
        let p = v(&f);
        assert!(kinds(&p).contains(&(4, ProblemKind::DuplicateCode)), "{p:?}");
        assert!(p.iter().any(|p| p.message.contains("#1")));
    }

    #[test]
    fn missing_parent_unless_known() {
        let f = vec![feature("340202001001", square(0.0, 0.0, 1.0))];
        let p = validate(&f);
        assert_eq!(kinds(&p), vec![(0, ProblemKind::MissingParent)]);
        assert!(p[0].message.contains("340202001"));
        let known = KnownUnits { codes: [UnitCode::parse("340202001").unwrap()].into(), features: vec![] };
        assert_eq!(validate_with_known(&f, &known), vec![]);
    }

    #[test]
    fn unclosed_rings_cannot_reach_validate() {
        // geo closes rings on construction; raw GeoJSON is checked for closure
        // on import (see geojson_io tests). An empty ring is caught as too short.
        let mut f = family();
        f[3].geometry = MultiPolygon::new(vec![Polygon::new(LineString::new(vec![]), vec![])]);
        assert_eq!(kinds(&v(&f)), vec![(3, ProblemKind::TooFewPositions)]);
    }

    #[test]
    fn too_few_positions() {
        let mut f = family();
        f[3].geometry = ring_mp(&[(0.0, 1.0), (2.0, 1.0), (0.0, 1.0)]);
        assert_eq!(kinds(&v(&f)), vec![(3, ProblemKind::TooFewPositions)]);
    }

    #[test]
    fn non_finite_coordinate() {
        let mut f = family();
        f[3].geometry = ring_mp(&[(0.0, 1.0), (f64::NAN, 1.0), (2.0, 2.0), (0.0, 1.0)]);
        assert_eq!(kinds(&v(&f)), vec![(3, ProblemKind::NonFiniteCoordinate)]);
    }

    #[test]
    fn self_intersecting_ring() {
        let mut f = family();
        // A bow tie.
        f[3].geometry = ring_mp(&[(0.0, 1.0), (2.0, 2.0), (2.0, 1.0), (0.0, 2.0), (0.0, 1.0)]);
        let p = v(&f);
        assert!(kinds(&p).contains(&(3, ProblemKind::SelfIntersection)), "{p:?}");
        assert!(p.iter().any(|p| p.message.contains("(1.000000, 1.500000)")), "{p:?}");
    }

    #[test]
    fn self_intersection_cases() {
        let c = |pts: &[(f64, f64)]| pts.iter().map(|&(x, y)| Coord { x, y }).collect::<Vec<_>>();
        assert!(self_intersection(&c(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)])).is_none());
        // Repeated points are not crossings.
        assert!(
            self_intersection(&c(&[(0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)])).is_none()
        );
        // A ring touching itself at a vertex.
        let touch = c(&[(0.0, 0.0), (2.0, 0.0), (1.0, 1.0), (2.0, 2.0), (0.0, 2.0), (1.0, 1.0), (0.0, 0.0)]);
        assert!(self_intersection(&touch).is_some());
        // A spike that doubles back along itself.
        let spike = c(&[(0.0, 0.0), (2.0, 0.0), (3.0, 0.0), (2.0, 0.0), (2.0, 1.0), (0.0, 1.0), (0.0, 0.0)]);
        assert!(self_intersection(&spike).is_some());
    }

    #[test]
    fn child_outside_parent() {
        let mut f = family();
        f[2].geometry = square(1.5, 0.0, 1.0);
        let p = v(&f);
        assert!(kinds(&p).contains(&(2, ProblemKind::OutsideParent)), "{p:?}");
        assert!(p.iter().any(|p| p.message.contains("50.0%")), "{p:?}");
        // The parent's coverage drops by the part outside: a gap is reported too.
        assert!(kinds(&p).contains(&(0, ProblemKind::CoverageGap)), "{p:?}");
    }

    #[test]
    fn a_sliver_outside_is_tolerated() {
        let mut f = family();
        f[2].geometry = ring_mp(&[(1.0, 0.0), (2.001, 0.0), (2.001, 1.0), (1.0, 1.0), (1.0, 0.0)]);
        assert_eq!(v(&f), vec![]);
    }

    #[test]
    fn overlapping_siblings_and_gaps() {
        let mut f = family();
        f[2].geometry = square(0.5, 0.0, 1.5);
        assert!(kinds(&v(&f)).contains(&(0, ProblemKind::SiblingsOverlap)));
        let mut f = family();
        f.remove(3);
        let p = v(&f);
        assert_eq!(kinds(&p), vec![(0, ProblemKind::CoverageGap)]);
        assert_eq!(p[0].kind.severity(), Severity::Warning);
    }

    #[test]
    fn every_problem_is_reported() {
        let mut f = family();
        f[1].unit.level = Level::Grid;
        f[2].geometry = ring_mp(&[(1.0, 0.0), (2.0, 0.0), (1.0, 0.0)]);
        f[3].geometry = ring_mp(&[(0.0, 1.0), (2.0, 2.0), (2.0, 1.0), (0.0, 2.0), (0.0, 1.0)]);
        let p = v(&f);
        let k = kinds(&p);
        assert!(k.contains(&(1, ProblemKind::LevelMismatch)));
        assert!(k.contains(&(2, ProblemKind::TooFewPositions)));
        assert!(k.contains(&(3, ProblemKind::SelfIntersection)));
        let report = ImportReport { problems: p };
        let text = report.to_string();
        assert!(text.contains("340202003") && text.contains("self_intersection"), "{text}");
    }

    #[test]
    fn units_without_geometry() {
        let mut a = unit("340202001");
        let b = unit("340202001");
        a.valid_to = NaiveDate::from_ymd_opt(2023, 1, 1);
        let p = validate_units(&[a, b], &KnownUnits::default());
        let k = kinds(&p);
        assert!(k.contains(&(0, ProblemKind::BadProperty)));
        assert!(k.contains(&(0, ProblemKind::MissingParent)));
        assert!(k.contains(&(1, ProblemKind::DuplicateCode)));
    }
}
