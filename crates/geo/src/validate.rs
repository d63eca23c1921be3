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
use geo::orient::Direction;
use geo::{
    Area, BooleanOps, BoundingRect, Coord, CoordsIter, InteriorPoint, MultiPolygon, Orient, Polygon, Rect, unary_union,
};
use rstar::{AABB, RTree, RTreeObject};
use serde::Serialize;

use crate::TerritoryFeature;

/// Share of a child's area that may lie outside its parent before it is reported.
pub const OUTSIDE_PARENT_TOLERANCE: f64 = 0.01;
/// Share of a parent's area its children may leave uncovered before a gap is reported.
pub const COVERAGE_TOLERANCE: f64 = 0.01;
/// Share of the smaller sibling's area two siblings may overlap by before it is reported.
pub const OVERLAP_TOLERANCE: f64 = 0.01;
/// Most positions one ring may have; a longer ring is refused as `bad_geometry`.
pub const MAX_RING_POSITIONS: usize = 100_000;

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
    /// A position is not a longitude within ±180 and a latitude within ±90
    /// (latitude written first, or projected coordinates).
    CoordinateOutOfRange,
    /// A ring crosses or touches itself.
    SelfIntersection,
    /// Two polygons of one geometry overlap, a hole is not inside its
    /// exterior ring, or two holes of one polygon overlap: point location
    /// counts rings (even-odd), so such an overlap would read as a hole.
    OverlappingParts,
    /// More than 1% of the unit's area lies outside its parent.
    OutsideParent,
    /// Two children of one parent overlap by more than 1% of the smaller one's area.
    SiblingsOverlap,
    /// The unit's children leave more than 1% of it uncovered.
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
            ProblemKind::CoordinateOutOfRange => "coordinate_out_of_range",
            ProblemKind::SelfIntersection => "self_intersection",
            ProblemKind::OverlappingParts => "overlapping_parts",
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

/// A point, longitude and latitude in degrees: where a problem (or a repair) is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LonLat {
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

impl From<Coord<f64>> for LonLat {
    fn from(c: Coord<f64>) -> Self {
        Self { lon: c.x, lat: c.y }
    }
}

impl fmt::Display for LonLat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Six decimals is about 0.1 m: enough to find the spot, short enough to read.
        write!(f, "{:.6}, {:.6}", self.lon, self.lat)
    }
}

/// Writes ` [at lon, lat]` when there is a location: the suffix of every
/// rendered problem and change.
pub(crate) fn write_location(f: &mut fmt::Formatter<'_>, at: Option<LonLat>) -> fmt::Result {
    match at {
        Some(at) => write!(f, " [at {at}]"),
        None => Ok(()),
    }
}

/// One problem with one feature (or CSV row).
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Where: a point of the defect (the crossing, a point inside the
    /// overlap, gap or part outside the parent, the end of an unclosed
    /// ring), or for a problem with the feature's properties a point inside
    /// the feature. `None` when the feature has no usable geometry.
    pub location: Option<LonLat>,
}

impl Problem {
    pub(crate) fn new(feature: usize, code: Option<&str>, kind: ProblemKind, message: impl Into<String>) -> Self {
        Self { feature, code: code.map(str::to_owned), kind, message: message.into(), location: None }
    }

    /// The same problem located at `at`, when that is known.
    pub(crate) fn at(mut self, at: Option<Coord<f64>>) -> Self {
        self.location = at.map(LonLat::from);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "feature #{} ({code}): {}: {}", self.feature, self.kind, self.message)?,
            None => write!(f, "feature #{}: {}: {}", self.feature, self.kind, self.message)?,
        }
        write_location(f, self.location)
    }
}

/// Why an import was refused: every problem found, in input order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
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
            (_, ProblemKind::Document) => write!(f, "{}: {}", p.kind, p.message)?,
            (Some(code), _) => write!(f, "row {} ({code}): {}: {}", p.feature + 1, p.kind, p.message)?,
            (None, _) => write!(f, "row {}: {}: {}", p.feature + 1, p.kind, p.message)?,
        }
        write_location(f, p.location)
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
/// sorted by feature index. Every problem with a feature that has a usable
/// geometry carries a location.
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
    check_containment(&Family::new(features, sound.clone(), known), &mut problems);
    // Problems with properties or codes are located at the feature itself,
    // so a report can be read on a map like the geometric ones.
    for p in problems.iter_mut().filter(|p| p.location.is_none()) {
        if sound.get(p.feature) == Some(&true) {
            p.location = point_in(&features[p.feature].geometry).map(LonLat::from);
        }
    }
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
            | ProblemKind::CoordinateOutOfRange
            | ProblemKind::SelfIntersection
            | ProblemKind::OverlappingParts
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

/// Ring structure, finiteness and simplicity of one geometry, then, when
/// its rings pass, whether its parts overlap ([`part_overlaps`]).
pub(crate) fn check_geometry(i: usize, code: &str, mp: &MultiPolygon<f64>, out: &mut Vec<Problem>) {
    let problem = |kind: ProblemKind, message: String| Problem::new(i, Some(code), kind, message);
    let polygons: Vec<Vec<&[Coord<f64>]>> =
        mp.0.iter()
            .map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(|r| r.0.as_slice()).collect())
            .collect();
    let before = out.len();
    check_polygons(&polygons, &problem, out);
    if out.len() == before {
        for o in part_overlaps(mp) {
            out.push(problem(ProblemKind::OverlappingParts, o.defect.to_string()).at(o.at));
        }
    }
}

/// Overlap between the parts of one geometry that is more than rounding:
/// a share of the smaller part's (or hole's) area.
const PART_OVERLAP_EPSILON: f64 = 1e-9;

/// What overlaps within one geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartDefect {
    /// Polygons `.0` < `.1` overlap.
    Parts(usize, usize),
    /// Hole `.1` of polygon `.0` is not (wholly) inside its exterior ring.
    HoleOutside(usize, usize),
    /// Holes `.1` < `.2` of polygon `.0` overlap.
    Holes(usize, usize, usize),
}

impl fmt::Display for PartDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PartDefect::Parts(a, b) => {
                write!(f, "polygons {a} and {b} overlap; point location would take their overlap for a hole")
            }
            PartDefect::HoleOutside(p, h) => {
                write!(f, "hole {h} of polygon {p} is not inside the polygon's exterior ring")
            }
            PartDefect::Holes(p, a, b) => write!(f, "holes {a} and {b} of polygon {p} overlap"),
        }
    }
}

/// One overlap within a geometry and a point of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartOverlap {
    /// What overlaps.
    pub(crate) defect: PartDefect,
    /// A point inside the overlap (or inside the part of the hole outside).
    pub(crate) at: Option<Coord<f64>>,
}

/// Where the parts of a geometry whose rings are each valid overlap:
/// holes not inside their exterior ring, holes of one polygon that overlap,
/// then polygons that overlap (leaving out polygons with a bad hole), each
/// in index order. Point location counts rings (even-odd), which agrees
/// with the polygons' union only when there is none of these. A single
/// polygon without holes has none and costs nothing.
///
/// Whether there is anything to find is decided by a few overlays of all
/// the holes or parts at once (their union against the sum of their areas,
/// the holes' union against the shell), so a clean geometry costs a few
/// unions however many parts it has; only then are the culprits sought,
/// pair by pair among those whose bounding boxes meet.
pub(crate) fn part_overlaps(mp: &MultiPolygon<f64>) -> Vec<PartOverlap> {
    let mut found = Vec::new();
    if mp.0.len() < 2 && mp.0.iter().all(|p| p.interiors().is_empty()) {
        return found;
    }
    let mut holes_ok = vec![true; mp.0.len()];
    for (pi, p) in mp.0.iter().enumerate() {
        if p.interiors().is_empty() {
            continue;
        }
        let shell = Polygon::new(p.exterior().clone(), vec![]);
        // Oriented alike, so that their union is their union whichever way each was written.
        let holes: Vec<Polygon<f64>> =
            p.interiors().iter().map(|r| Polygon::new(r.clone(), vec![]).orient(Direction::Default)).collect();
        let together = unary_union(&holes);
        let sum: f64 = holes.iter().map(Area::unsigned_area).sum();
        if together.difference(&shell).unsigned_area() > PART_OVERLAP_EPSILON * sum {
            for (h, hole) in holes.iter().enumerate() {
                let outside = hole.difference(&shell);
                if outside.unsigned_area() > PART_OVERLAP_EPSILON * hole.unsigned_area() {
                    found.push(PartOverlap { defect: PartDefect::HoleOutside(pi, h), at: point_in(&outside) });
                    holes_ok[pi] = false;
                }
            }
        }
        if holes.len() > 1 && sum - together.unsigned_area() > PART_OVERLAP_EPSILON * sum {
            for (a, b) in box_pairs(&holes) {
                if let Some(at) = overlap_of(&holes[a], &holes[b]) {
                    found.push(PartOverlap { defect: PartDefect::Holes(pi, a, b), at });
                    holes_ok[pi] = false;
                }
            }
        }
    }
    let parts: Vec<Polygon<f64>> = mp.0.iter().map(|p| p.orient(Direction::Default)).collect();
    let sound: Vec<&Polygon<f64>> = parts.iter().zip(&holes_ok).filter(|(_, ok)| **ok).map(|(p, _)| p).collect();
    if sound.len() > 1 {
        let sum: f64 = sound.iter().map(|p| p.unsigned_area()).sum();
        if sum - unary_union(sound).unsigned_area() > PART_OVERLAP_EPSILON * sum {
            for (a, b) in box_pairs(&parts) {
                if !(holes_ok[a] && holes_ok[b]) {
                    continue;
                }
                if let Some(at) = overlap_of(&parts[a], &parts[b]) {
                    found.push(PartOverlap { defect: PartDefect::Parts(a, b), at });
                }
            }
        }
    }
    found
}

/// A point inside the overlap of two polygons whose rings are valid (holes
/// inside their exterior and apart), when they overlap by more than rounding.
fn overlap_of(a: &Polygon<f64>, b: &Polygon<f64>) -> Option<Option<Coord<f64>>> {
    let shared = a.intersection(b);
    let smaller = a.unsigned_area().min(b.unsigned_area());
    (shared.unsigned_area() > PART_OVERLAP_EPSILON * smaller).then(|| point_in(&shared))
}

/// Pairs `(i, j)`, `i < j`, of polygons whose bounding boxes meet (edges
/// included), in order, found with an R-tree so that many parts side by
/// side (a stack of thin strips, say) are not compared pair by pair.
fn box_pairs(polygons: &[Polygon<f64>]) -> Vec<(usize, usize)> {
    let boxes: Vec<RankedBox> = polygons
        .iter()
        .enumerate()
        .filter_map(|(rank, p)| {
            let r = p.bounding_rect()?;
            Some(RankedBox { envelope: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), rank })
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    let mut pairs: Vec<(usize, usize)> = tree
        .iter()
        .flat_map(|a| {
            tree.locate_in_envelope_intersecting(&a.envelope).filter(|b| b.rank > a.rank).map(|b| (a.rank, b.rank))
        })
        .collect();
    pairs.sort_unstable();
    pairs
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

/// One ring: at most [`MAX_RING_POSITIONS`] positions, finite coordinates,
/// at least 4 positions, closed (checked on the positions as given, since
/// geo closes rings silently), and simple.
/// Stops at the first problem, since the later checks assume the earlier.
fn check_ring(what: &str, coords: &[Coord<f64>], problem: MakeProblem<'_>, out: &mut Vec<Problem>) {
    if let Some(kind) = ring_problem(coords) {
        let (message, at) = match kind {
            ProblemKind::NonFiniteCoordinate => {
                let k = coords.iter().position(|c| !is_finite(c)).unwrap_or_default();
                let c = coords.get(k).copied().unwrap_or_default();
                // The nearest usable position before it (or after it) is where to look.
                let near = coords[..k].iter().rev().chain(coords.iter().skip(k + 1)).find(|c| in_range(c));
                (format!("{what} has a non-finite coordinate ({}, {}) at position {k}", c.x, c.y), near.copied())
            }
            ProblemKind::CoordinateOutOfRange => {
                let k = coords.iter().position(|c| !in_range(c)).unwrap_or_default();
                let c = coords.get(k).copied().unwrap_or_default();
                let near = coords[..k].iter().rev().chain(coords.iter().skip(k + 1)).find(|c| in_range(c));
                let message = format!(
                    "{what} has position {k} at ({}, {}), which is not longitude, latitude in degrees \
                     (longitude within ±180, latitude within ±90)",
                    c.x, c.y
                );
                (message, near.copied())
            }
            ProblemKind::TooFewPositions => {
                (format!("{what} has {} positions; a ring needs at least 4", coords.len()), coords.first().copied())
            }
            ProblemKind::UnclosedRing => {
                (format!("{what} is not closed: its last position differs from its first"), coords.last().copied())
            }
            ProblemKind::BadGeometry => (
                format!(
                    "{what} has {} positions; a ring may have at most {MAX_RING_POSITIONS} \
                     (simplify the boundary or split it into parts)",
                    coords.len()
                ),
                coords.iter().find(|c| in_range(c)).copied(),
            ),
            _ => (format!("{what} crosses or touches itself"), self_intersection(coords)),
        };
        out.push(problem(kind, message).at(at));
    }
}

/// What is wrong with one ring as written, checked in the order
/// [`check_ring`] reports: the first problem only.
pub(crate) fn ring_problem(coords: &[Coord<f64>]) -> Option<ProblemKind> {
    if coords.len() > MAX_RING_POSITIONS {
        Some(ProblemKind::BadGeometry)
    } else if !coords.iter().all(is_finite) {
        Some(ProblemKind::NonFiniteCoordinate)
    } else if !coords.iter().all(in_range) {
        Some(ProblemKind::CoordinateOutOfRange)
    } else if coords.len() < 4 {
        Some(ProblemKind::TooFewPositions)
    } else if coords.first() != coords.last() {
        Some(ProblemKind::UnclosedRing)
    } else if self_intersection(coords).is_some() {
        Some(ProblemKind::SelfIntersection)
    } else {
        None
    }
}

pub(crate) fn is_finite(c: &Coord<f64>) -> bool {
    c.x.is_finite() && c.y.is_finite()
}

/// Whether a position can be longitude, latitude. Beyond telling a swapped
/// or projected file, this keeps overlay arithmetic (which scales the
/// bounding box to integers) away from values it cannot handle.
pub(crate) fn in_range(c: &Coord<f64>) -> bool {
    (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y)
}

pub(crate) fn ring_name(polygon: usize, ring: usize) -> String {
    if ring == 0 {
        format!("exterior ring of polygon {polygon}")
    } else {
        format!("hole {} of polygon {polygon}", ring - 1)
    }
}

/// What the checks across features (and the repairs of them) need to know
/// about the input: which features take part, and where parents are.
pub(crate) struct Family<'a> {
    /// The features.
    pub(crate) features: &'a [TerritoryFeature],
    /// Index of the first feature with each code.
    index: BTreeMap<&'a UnitCode, usize>,
    /// Whether each feature's geometry passed the ring checks.
    sound: Vec<bool>,
    /// Known units with geometry, by code.
    known: BTreeMap<&'a UnitCode, &'a MultiPolygon<f64>>,
    /// Known units with geometry that the input does not replace.
    known_only: Vec<&'a TerritoryFeature>,
}

/// A unit taking part in the sibling checks: from the input, or already known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Member<'a> {
    /// Feature `.0` of the input.
    Input(usize),
    /// A known unit with a code the input does not have.
    Known(&'a TerritoryFeature),
}

/// Where a feature's parent geometry is, if anywhere.
pub(crate) enum ParentGeometry<'a> {
    /// The parent is feature `.0` of the input, with a sound geometry.
    Input(usize, &'a MultiPolygon<f64>),
    /// The parent is a known unit.
    Known(&'a MultiPolygon<f64>),
    /// The parent is in the input but its geometry is broken, or the feature has no parent anywhere.
    Unusable,
}

impl<'a> ParentGeometry<'a> {
    pub(crate) fn geometry(&self) -> Option<&'a MultiPolygon<f64>> {
        match self {
            ParentGeometry::Input(_, g) | ParentGeometry::Known(g) => Some(g),
            ParentGeometry::Unusable => None,
        }
    }
}

impl<'a> Family<'a> {
    /// The family of `features`; `sound[i]` says whether feature `i`'s rings passed.
    pub(crate) fn new(features: &'a [TerritoryFeature], sound: Vec<bool>, known: &KnownUnits<'a>) -> Self {
        let mut index: BTreeMap<&UnitCode, usize> = BTreeMap::new();
        for (i, f) in features.iter().enumerate() {
            index.entry(&f.unit.code).or_insert(i);
        }
        let mut by_code = BTreeMap::new();
        let mut known_only = Vec::new();
        for k in &known.features {
            // Units stored before positions were range-checked must not reach the overlay either.
            if !k.geometry.coords_iter().all(|c| in_range(&c)) {
                continue;
            }
            if by_code.insert(&k.unit.code, &k.geometry).is_none() && !index.contains_key(&k.unit.code) {
                known_only.push(*k);
            }
        }
        Self { features, index, sound, known: by_code, known_only }
    }

    /// The family of `features`, working out which are sound.
    pub(crate) fn of(features: &'a [TerritoryFeature], known: &KnownUnits<'a>) -> Self {
        let sound = features
            .iter()
            .map(|f| {
                let mut out = Vec::new();
                check_geometry(0, "", &f.geometry, &mut out);
                out.is_empty()
            })
            .collect();
        Self::new(features, sound, known)
    }

    /// Whether feature `i` takes part in the checks across features: its
    /// rings are sound and no earlier feature has its code.
    pub(crate) fn eligible(&self, i: usize) -> bool {
        self.sound.get(i) == Some(&true) && self.features.get(i).and_then(|f| self.index.get(&f.unit.code)) == Some(&i)
    }

    /// The index of the input feature with this code.
    pub(crate) fn position(&self, code: &UnitCode) -> Option<usize> {
        self.index.get(code).copied()
    }

    /// Feature `i`'s parent geometry.
    pub(crate) fn parent_of(&self, i: usize) -> ParentGeometry<'a> {
        let Some(pcode) = self.features.get(i).and_then(|f| f.unit.parent.as_ref()) else {
            return ParentGeometry::Unusable;
        };
        match self.index.get(pcode) {
            Some(&j) if self.sound.get(j) == Some(&true) => ParentGeometry::Input(j, &self.features[j].geometry),
            Some(_) => ParentGeometry::Unusable,
            None => self.known.get(pcode).map_or(ParentGeometry::Unusable, |g| ParentGeometry::Known(g)),
        }
    }

    /// The unit a member stands for.
    pub(crate) fn unit_of(&self, m: Member<'a>) -> &'a TerritoryFeature {
        match m {
            Member::Input(i) => &self.features[i],
            Member::Known(f) => f,
        }
    }

    /// Eligible input features and known units the input does not replace,
    /// grouped by parent code; units without a parent (cities) form one
    /// more group, under `None`. Only groups with a member from the input.
    fn sibling_groups(&self) -> BTreeMap<Option<&'a UnitCode>, Vec<Member<'a>>> {
        let mut groups: BTreeMap<Option<&UnitCode>, Vec<Member<'a>>> = BTreeMap::new();
        for (i, f) in self.features.iter().enumerate() {
            if self.eligible(i) {
                groups.entry(f.unit.parent.as_ref()).or_default().push(Member::Input(i));
            }
        }
        for k in &self.known_only {
            if let Some(group) = groups.get_mut(&k.unit.parent.as_ref()) {
                group.push(Member::Known(k));
            }
        }
        groups
    }

    /// Every pair of siblings (units with one parent, or both without a
    /// parent), at least one of them from the input, whose interiors
    /// overlap, in order of their codes. Pairs are found by a
    /// sweep over bounding boxes, so only neighbours are intersected.
    pub(crate) fn overlaps(&self) -> Vec<Overlap<'a>> {
        let mut found = Vec::new();
        for (_, group) in self.sibling_groups() {
            let mut boxed: Vec<(Member<'a>, Rect<f64>)> =
                group.into_iter().filter_map(|m| Some((m, self.unit_of(m).geometry.bounding_rect()?))).collect();
            boxed.sort_by(|a, b| a.1.min().x.total_cmp(&b.1.min().x));
            for (k, &(a, ra)) in boxed.iter().enumerate() {
                for &(b, rb) in &boxed[k + 1..] {
                    if rb.min().x > ra.max().x {
                        break;
                    }
                    if rb.min().y > ra.max().y || rb.max().y < ra.min().y {
                        continue;
                    }
                    if matches!((a, b), (Member::Known(_), Member::Known(_))) {
                        continue;
                    }
                    let (fa, fb) = (self.unit_of(a), self.unit_of(b));
                    let shared = fa.geometry.intersection(&fb.geometry);
                    let area = shared.unsigned_area();
                    if area > 0.0 {
                        let smaller = fa.geometry.unsigned_area().min(fb.geometry.unsigned_area());
                        let (a, b) = if fa.unit.code < fb.unit.code { (a, b) } else { (b, a) };
                        found.push(Overlap { a, b, area, share: area / smaller, at: point_in(&shared) });
                    }
                }
            }
        }
        found.sort_by(|x, y| {
            let code = |m: Member<'a>| &self.unit_of(m).unit.code;
            code(x.a).cmp(code(y.a)).then(code(x.b).cmp(code(y.b)))
        });
        found
    }

    /// How a member is named in messages: `code (feature #i)` or `code (already imported)`.
    fn name(&self, m: Member<'a>) -> String {
        match m {
            Member::Input(i) => format!("{} (feature #{i})", self.features[i].unit.code),
            Member::Known(f) => format!("{} (already imported)", f.unit.code),
        }
    }
}

/// Two siblings whose interiors overlap.
pub(crate) struct Overlap<'a> {
    /// The sibling with the smaller code (which keeps the overlap on repair).
    pub(crate) a: Member<'a>,
    /// The sibling with the larger code.
    pub(crate) b: Member<'a>,
    /// The overlap's area.
    pub(crate) area: f64,
    /// The overlap's area as a share of the smaller sibling's area.
    pub(crate) share: f64,
    /// A point inside the overlap.
    pub(crate) at: Option<Coord<f64>>,
}

/// A point inside the largest polygon of `mp`: where to look for a piece of
/// overlap, gap or outside part, or for a feature as a whole.
pub(crate) fn point_in(mp: &MultiPolygon<f64>) -> Option<Coord<f64>> {
    let largest = mp.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?;
    largest.interior_point().map(|p| p.0)
}

/// Children outside their parents, siblings that overlap, and parents their
/// children leave gaps in. Only geometries without structural problems take
/// part, since overlay on a broken ring would report noise.
fn check_containment(family: &Family<'_>, out: &mut Vec<Problem>) {
    let features = family.features;
    // Per parent in the input: summed child area inside it.
    let mut covered: BTreeMap<usize, f64> = BTreeMap::new();
    let mut child_broken: BTreeSet<usize> = BTreeSet::new();
    for (i, f) in features.iter().enumerate() {
        let Some(pcode) = &f.unit.parent else { continue };
        let parent = family.parent_of(i);
        let Some(parent_geom) = parent.geometry() else { continue };
        let parent_local = match parent {
            ParentGeometry::Input(j, _) => Some(j),
            _ => None,
        };
        if !family.eligible(i) {
            if let Some(j) = parent_local {
                child_broken.insert(j);
            }
            continue;
        }
        let area = f.geometry.unsigned_area();
        let (outside, at) = if area > 0.0 {
            let part = f.geometry.difference(parent_geom);
            (part.unsigned_area(), point_in(&part))
        } else {
            (0.0, None)
        };
        if area > 0.0 && outside > area * OUTSIDE_PARENT_TOLERANCE {
            out.push(
                Problem::new(
                    i,
                    Some(f.unit.code.as_str()),
                    ProblemKind::OutsideParent,
                    format!("{:.1}% of {}'s area lies outside its parent {pcode}", outside / area * 100.0, f.unit.code),
                )
                .at(at),
            );
        }
        if let Some(j) = parent_local {
            *covered.entry(j).or_insert(0.0) += area - outside;
        }
    }
    // Children already known, of a parent the input brings anew: they must
    // lie inside its new boundary, and they count towards its coverage (or
    // importing some of its children would report the rest as a gap).
    for k in &family.known_only {
        let Some(j) = k.unit.parent.as_ref().and_then(|p| family.position(p)) else { continue };
        if !family.eligible(j) {
            continue;
        }
        let area = k.geometry.unsigned_area();
        if area <= 0.0 {
            continue;
        }
        let part = k.geometry.difference(&features[j].geometry);
        let outside = part.unsigned_area();
        if outside > area * OUTSIDE_PARENT_TOLERANCE {
            let code = features[j].unit.code.as_str();
            out.push(
                Problem::new(
                    j,
                    Some(code),
                    ProblemKind::OutsideParent,
                    format!(
                        "{:.1}% of {} (already imported) would lie outside {code}'s new boundary",
                        outside / area * 100.0,
                        k.unit.code
                    ),
                )
                .at(point_in(&part)),
            );
        }
        if !child_broken.contains(&j) {
            *covered.entry(j).or_insert(0.0) += area - outside;
        }
    }
    // Overlap between siblings, pair by pair: reported on the parent when it
    // is in the input (beside its coverage), otherwise on the later sibling
    // from the input.
    let mut overlapped: BTreeMap<usize, f64> = BTreeMap::new();
    for o in family.overlaps() {
        let parent = family.unit_of(o.a).unit.parent.as_ref().and_then(|p| family.position(p));
        if let Some(j) = parent {
            *overlapped.entry(j).or_insert(0.0) += o.area;
        }
        if o.share <= OVERLAP_TOLERANCE {
            continue;
        }
        let pct = o.share * 100.0;
        // Units without a parent (cities) are siblings of one another.
        let root = family.unit_of(o.a).unit.parent.is_none();
        let other = |m: Member<'_>| {
            if root {
                format!("{}, another unit without a parent,", family.name(m))
            } else {
                format!("its sibling {}", family.name(m))
            }
        };
        let (on, message) = match (parent, o.a, o.b) {
            (Some(j), a, b) => (
                j,
                format!(
                    "children {} and {} overlap by {pct:.1}% of the smaller one's area",
                    family.name(a),
                    family.name(b)
                ),
            ),
            (None, Member::Input(i), Member::Input(k)) => {
                let (later, earlier) = if i > k { (i, o.b) } else { (k, o.a) };
                (later, format!("overlaps {} by {pct:.1}% of the smaller one's area", other(earlier)))
            }
            (None, Member::Input(i), m) | (None, m, Member::Input(i)) => {
                (i, format!("overlaps {} by {pct:.1}% of the smaller one's area", other(m)))
            }
            (None, Member::Known(_), Member::Known(_)) => continue,
        };
        out.push(
            Problem::new(on, Some(features[on].unit.code.as_str()), ProblemKind::SiblingsOverlap, message).at(o.at),
        );
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
        // The children's areas inside the parent less their pairwise
        // overlaps is a lower bound of what they cover together; only when
        // it falls short is the union worth computing.
        let lower = inside - overlapped.get(&j).copied().unwrap_or(0.0);
        if lower >= area * (1.0 - COVERAGE_TOLERANCE) {
            continue;
        }
        let children: Vec<MultiPolygon<f64>> = family
            .sibling_groups()
            .remove(&Some(&parent.unit.code))
            .unwrap_or_default()
            .into_iter()
            // The union's fill rule follows ring orientation, which input may mix.
            .map(|m| family.unit_of(m).geometry.orient(Direction::Default))
            .collect();
        let gap = parent.geometry.difference(&unary_union(&children));
        let missing = gap.unsigned_area();
        if missing > area * COVERAGE_TOLERANCE {
            let code = parent.unit.code.as_str();
            out.push(
                Problem::new(
                    j,
                    Some(code),
                    ProblemKind::CoverageGap,
                    format!("{code}'s children cover only {:.1}% of its area", (1.0 - missing / area) * 100.0),
                )
                .at(point_in(&gap)),
            );
        }
    }
}

/// Consecutive distinct positions of a closed ring, without the closing one.
pub(crate) fn open_ring(coords: &[Coord<f64>]) -> Vec<Coord<f64>> {
    // Repeated consecutive positions are harmless, not crossings.
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(coords.len());
    for c in coords {
        if pts.last() != Some(c) {
            pts.push(*c);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts
}

/// A point where the closed ring `coords` touches or crosses itself, if any.
pub(crate) fn self_intersection(coords: &[Coord<f64>]) -> Option<Coord<f64>> {
    let pts = open_ring(coords);
    if pts.len() < 3 {
        return pts.first().copied();
    }
    first_crossing(&pts).map(|c| c.at)
}

/// Where a ring meets itself: segments `first` < `second` (segment `k` runs
/// from position `k` to the next) meet at `at`.
pub(crate) struct Crossing {
    pub(crate) first: usize,
    pub(crate) second: usize,
    pub(crate) at: Coord<f64>,
    /// The two segments are neighbours folding back on each other.
    pub(crate) adjacent: bool,
}

/// Rings with fewer segments than this are searched by the plain sweep,
/// which is quicker than building an R-tree for them.
const SWEEP_MAX_SEGMENTS: usize = 256;

/// The first place (in sweep order) where the ring through `pts` (at least
/// 3 distinct consecutive positions, not repeated at the end) touches or
/// crosses itself.
///
/// Segments are ranked by their west end (then by index), and each is
/// compared, in rank order, with the earlier-ranked segments whose bounding
/// boxes meet its own: the first pair that meets is the answer. Small rings
/// do this with a sweep over x; larger ones look the candidates up in an
/// R-tree, so a ring whose segments all overlap in x (a comb of long
/// horizontal teeth) does not cost a comparison per pair. Both give the
/// same crossing.
pub(crate) fn first_crossing(pts: &[Coord<f64>]) -> Option<Crossing> {
    if pts.len() < SWEEP_MAX_SEGMENTS || !pts.iter().all(is_finite) {
        sweep_crossing(pts)
    } else {
        indexed_crossing(pts)
    }
}

/// Segment `k` of the ring through `pts`: from position `k` to the next.
fn segment(pts: &[Coord<f64>], k: usize) -> (Coord<f64>, Coord<f64>) {
    (pts[k], pts[(k + 1) % pts.len()])
}

/// The segments of the ring through `pts` in rank order: by west end, then by index.
fn ranked_segments(pts: &[Coord<f64>]) -> Vec<usize> {
    let min_x = |k: usize| {
        let (a, b) = segment(pts, k);
        a.x.min(b.x)
    };
    let mut order: Vec<usize> = (0..pts.len()).collect();
    order.sort_by(|&a, &b| min_x(a).total_cmp(&min_x(b)).then(a.cmp(&b)));
    order
}

/// Where segments `k` and `j` of the ring through `pts` meet, if they do:
/// neighbours share one endpoint and are bad only if they fold back on each
/// other; any other two are bad if they touch at all.
fn segments_meet(pts: &[Coord<f64>], k: usize, j: usize) -> Option<Crossing> {
    let n = pts.len();
    let ((a, b), (c, d)) = (segment(pts, k), segment(pts, j));
    let adjacent = (k + 1) % n == j || (j + 1) % n == k;
    let met = if adjacent { folded(a, b, c, d) } else { segments_touch(a, b, c, d) };
    met.map(|at| Crossing { first: k.min(j), second: k.max(j), at, adjacent })
}

/// [`first_crossing`] by a sweep over x: segments are taken in rank order
/// and compared with the earlier ones whose x-range is still open.
pub(crate) fn sweep_crossing(pts: &[Coord<f64>]) -> Option<Crossing> {
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let min_x = |k: usize| {
        let (a, b) = segment(pts, k);
        a.x.min(b.x)
    };
    let max_x = |k: usize| {
        let (a, b) = segment(pts, k);
        a.x.max(b.x)
    };
    // Earlier-ranked segments still open, in rank order.
    let mut active: Vec<usize> = Vec::new();
    for k in ranked_segments(pts) {
        let x0 = min_x(k);
        active.retain(|&j| max_x(j) >= x0);
        for &j in &active {
            if let Some(c) = segments_meet(pts, k, j) {
                return Some(c);
            }
        }
        active.push(k);
    }
    None
}

/// A bounding box in an R-tree, with the rank (or index) of what it bounds.
struct RankedBox {
    envelope: AABB<[f64; 2]>,
    rank: usize,
}

impl RTreeObject for RankedBox {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// [`first_crossing`] with an R-tree over the segments' bounding boxes:
/// for each segment in rank order, the earlier-ranked segments whose boxes
/// meet its own (edges included) are compared with it in rank order. These
/// are the sweep's candidates less those with a y-range apart, which
/// cannot meet it, so the first hit is the sweep's.
pub(crate) fn indexed_crossing(pts: &[Coord<f64>]) -> Option<Crossing> {
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let envelope = |k: usize| {
        let (a, b) = segment(pts, k);
        AABB::from_corners([a.x, a.y], [b.x, b.y])
    };
    let order = ranked_segments(pts);
    let tree = RTree::bulk_load(
        order.iter().enumerate().map(|(rank, &k)| RankedBox { envelope: envelope(k), rank }).collect(),
    );
    let mut earlier: Vec<usize> = Vec::new();
    for (rank, &k) in order.iter().enumerate() {
        earlier.clear();
        earlier.extend(tree.locate_in_envelope_intersecting(&envelope(k)).map(|b| b.rank).filter(|&r| r < rank));
        earlier.sort_unstable();
        for &r in &earlier {
            if let Some(c) = segments_meet(pts, k, order[r]) {
                return Some(c);
            }
        }
    }
    None
}

pub(crate) fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn on_segment(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

/// Where segments `ab` and `cd` meet, if they do (touching counts).
fn segments_touch(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> Option<Coord<f64>> {
    // Segments whose bounding boxes are apart cannot meet; deciding that
    // first keeps rounding in the orientations below from claiming they do.
    if a.x.max(b.x) < c.x.min(d.x)
        || c.x.max(d.x) < a.x.min(b.x)
        || a.y.max(b.y) < c.y.min(d.y)
        || c.y.max(d.y) < a.y.min(b.y)
    {
        return None;
    }
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
    use geo::LineString;
    use proptest::prelude::*;

    fn unit(code: &str) -> Unit {
        let code = UnitCode::parse(code).unwrap();
        Unit::new(code, "t", NaiveDate::from_ymd_opt(2024, 1, 1).unwrap())
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
    fn a_reimported_parent_must_still_hold_its_stored_children() {
        // The store holds the district's townships; a new district boundary
        // that leaves one of them half outside is refused on the district,
        // and one that leaves room beside them is a gap (a warning).
        let stored = family();
        let known =
            KnownUnits { codes: [UnitCode::parse("340200").unwrap()].into(), features: stored.iter().collect() };
        let shrunk = vec![feature("340202", ring_mp(&[(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (0.0, 1.0), (0.0, 0.0)]))];
        let p = validate_with_known(&shrunk, &known);
        assert_eq!(kinds(&p), vec![(0, ProblemKind::OutsideParent)], "{p:?}");
        assert!(p[0].message.contains("340202003 (already imported)"), "{}", p[0].message);
        let at = p[0].location.unwrap();
        assert!(at.lat > 1.0 && at.lat < 2.0, "located in the part left outside: {at:?}");

        let grown = vec![feature("340202", square(0.0, 0.0, 3.0))];
        let p = validate_with_known(&grown, &known);
        assert_eq!(kinds(&p), vec![(0, ProblemKind::CoverageGap)], "{p:?}");
        assert_eq!(validate_with_known(&[feature("340202", square(0.0, 0.0, 2.0))], &known), vec![]);
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
        assert!(p.iter().any(|p| p.to_string().ends_with("[at 1.000000, 1.500000]")), "{p:?}");
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

    fn at(p: &Problem) -> (f64, f64) {
        let l = p.location.unwrap_or_else(|| panic!("{p} has no location"));
        (l.lon, l.lat)
    }

    #[test]
    fn geometric_problems_are_located_in_the_defect() {
        let mut f = family();
        // Sticks out east of the district by half its area.
        f[2].geometry = square(1.5, 0.0, 1.0);
        let p = v(&f);
        let outside = p.iter().find(|p| p.kind == ProblemKind::OutsideParent).unwrap();
        let (x, y) = at(outside);
        assert!(x > 2.0 && x < 2.5 && y > 0.0 && y < 1.0, "{outside}");
        let gap = p.iter().find(|p| p.kind == ProblemKind::CoverageGap).unwrap();
        let (x, y) = at(gap);
        assert!((1.0..1.5).contains(&x) && (0.0..1.0).contains(&y), "{gap}");
        assert!(gap.message.contains("87.5%"), "{gap}");
        // Problems with properties point inside the feature.
        let mut f = family();
        f[1].unit.level = Level::Grid;
        assert_eq!(at(&v(&f)[0]), (0.5, 0.5));
    }

    #[test]
    fn overlapping_siblings_are_named_and_located() {
        let mut f = family();
        f[2].geometry = square(0.5, 0.0, 1.5);
        let p = v(&f);
        let o = p.iter().find(|p| p.kind == ProblemKind::SiblingsOverlap).unwrap();
        assert_eq!(o.feature, 0, "reported on the parent, which is in the input");
        assert!(o.message.contains("340202001 (feature #1) and 340202002 (feature #2)"), "{o}");
        assert!(o.message.contains("overlap by 50.0%"), "{o}");
        let (x, y) = at(o);
        assert!((0.5..1.0).contains(&x) && (0.0..1.0).contains(&y), "{o}");
        // Without the parent in the input, the later sibling carries it.
        let known = KnownUnits { codes: [UnitCode::parse("340202").unwrap()].into(), features: vec![] };
        let p = validate_with_known(&f[1..], &known);
        assert_eq!(kinds(&p), vec![(1, ProblemKind::SiblingsOverlap), (2, ProblemKind::SiblingsOverlap)], "{p:#?}");
        assert!(p[0].message.starts_with("overlaps its sibling 340202001 (feature #0) by 50.0%"), "{}", p[0]);
    }

    #[test]
    fn siblings_already_imported_count() {
        let f = family();
        let district = feature("340202", square(0.0, 0.0, 2.0));
        let stored = [district.clone(), f[1].clone(), f[3].clone()];
        let known =
            KnownUnits { codes: [UnitCode::parse("340200").unwrap()].into(), features: stored.iter().collect() };
        // The third township alone fits between the stored ones.
        assert_eq!(validate_with_known(&f[2..3], &known), vec![]);
        // Re-importing the district with one township: the stored ones still cover the rest.
        assert_eq!(validate_with_known(&[district.clone(), f[2].clone()], &known), vec![]);
        // A township overlapping a stored one is reported, naming it.
        let over = [feature("340202002", square(0.5, 0.0, 1.0))];
        let p = validate_with_known(&over, &known);
        assert_eq!(kinds(&p), vec![(0, ProblemKind::SiblingsOverlap)], "{p:#?}");
        assert!(p[0].message.contains("340202001 (already imported) by 50.0%"), "{}", p[0]);
    }

    #[test]
    fn positions_must_be_longitude_latitude() {
        let mut f = family();
        // Latitude first, as a GPS app writes it.
        f[3].geometry = ring_mp(&[(31.3, 118.4), (31.4, 118.4), (31.4, 118.5), (31.3, 118.4)]);
        let p = v(&f);
        assert_eq!(kinds(&p), vec![(3, ProblemKind::CoordinateOutOfRange)]);
        assert!(p[0].message.contains("position 0 at (31.3, 118.4)"), "{}", p[0]);
        assert_eq!(p[0].location, None, "no position of it is a longitude, latitude");
        // A single bad position is located at its neighbour.
        f[3].geometry = ring_mp(&[(0.0, 1.0), (2.0, 1.0), (2.0, 1e300), (0.0, 2.0), (0.0, 1.0)]);
        let p = v(&f);
        assert_eq!(at(&p[0]), (2.0, 1.0), "{}", p[0]);
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

    // ---- ring crossings: the sweep and the R-tree agree ----

    fn coords(pts: &[(f64, f64)]) -> Vec<Coord<f64>> {
        pts.iter().map(|&(x, y)| Coord { x, y }).collect()
    }

    type Found = Option<(usize, usize, (u64, u64), bool)>;

    fn found(c: Option<Crossing>) -> Found {
        c.map(|c| (c.first, c.second, (c.at.x.to_bits(), c.at.y.to_bits()), c.adjacent))
    }

    /// A closed comb of `teeth` long horizontal teeth: simple, and every
    /// segment overlaps every other in x.
    fn comb(teeth: usize) -> Vec<Coord<f64>> {
        let d = 1.0 / teeth as f64;
        let mut pts = vec![Coord { x: 118.0, y: 31.0 }];
        for i in 0..teeth {
            let y0 = 31.0 + i as f64 * d;
            let y1 = y0 + d / 2.0;
            pts.extend(coords(&[(119.0, y0), (119.0, y1), (118.001, y1), (118.001, y0 + d)]));
        }
        pts.extend(coords(&[(118.0, 31.0 + teeth as f64 * d), (118.0, 31.0)]));
        pts
    }

    #[test]
    fn a_comb_is_searched_by_the_index_and_its_crossings_are_the_sweeps() {
        let ring = comb(500);
        assert!(open_ring(&ring).len() >= SWEEP_MAX_SEGMENTS, "large enough for the R-tree");
        assert!(first_crossing(&open_ring(&ring)).is_none());
        assert_eq!(ring_problem(&ring), None);
        // A tooth bent down onto the one below, and a tooth pushed through the spine.
        for (k, p) in [(202, Coord { x: 119.0, y: 31.0 }), (403, Coord { x: 117.5, y: 31.5 })] {
            let mut bent = open_ring(&ring);
            bent[k] = p;
            let (sweep, index) = (sweep_crossing(&bent), indexed_crossing(&bent));
            assert!(sweep.is_some());
            assert_eq!(found(index), found(sweep));
            assert_eq!(found(first_crossing(&bent)), found(sweep_crossing(&bent)));
        }
    }

    #[test]
    fn a_ring_longer_than_the_limit_is_refused() {
        // A closed ring of MAX_RING_POSITIONS + 1 positions round a circle.
        let n = MAX_RING_POSITIONS;
        let mut ring: Vec<Coord<f64>> = (0..n)
            .map(|k| {
                let t = k as f64 / n as f64 * std::f64::consts::TAU;
                Coord { x: 118.5 + 0.4 * t.cos(), y: 31.5 + 0.4 * t.sin() }
            })
            .collect();
        ring.push(ring[0]);
        assert_eq!(
            crate::repair::repair_ring("r", &ring),
            crate::repair::RingRepair::Unrepairable("it has more positions than a ring may have")
        );
        let mp = MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])]);
        let mut f = family();
        f[0].geometry = mp;
        let p = v(&f);
        assert_eq!(kinds(&p)[0], (0, ProblemKind::BadGeometry), "{p:?}");
        assert!(p[0].message.contains("has 100001 positions; a ring may have at most 100000"), "{}", p[0]);
        assert!(p[0].location.is_some(), "{}", p[0]);
    }

    /// Random rings: on a coarse grid (many crossings, touches and collinear
    /// overlaps), and star-shaped simple ones, as they are, with one position
    /// moved anywhere (sometimes still simple), or with a spike.
    fn rings() -> impl Strategy<Value = Vec<Coord<f64>>> {
        let grid = prop::collection::vec((0u8..24, 0u8..24), 3..700)
            .prop_map(|v| v.into_iter().map(|(x, y)| Coord { x: f64::from(x) / 8.0, y: f64::from(y) / 8.0 }).collect());
        let star =
            (prop::collection::vec((0.0f64..1.0, 0.2f64..1.0), 3..700), any::<usize>(), (-1.0f64..1.0, -1.0f64..1.0))
                .prop_map(|(mut v, k, (x, y))| {
                    v.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let mut pts: Vec<Coord<f64>> = v
                        .into_iter()
                        .map(|(a, r)| {
                            let t = a * std::f64::consts::TAU;
                            Coord { x: r * t.cos(), y: r * t.sin() }
                        })
                        .collect();
                    let (mode, k) = (k % 3, k / 3 % pts.len());
                    let p = Coord { x, y };
                    match mode {
                        // Moved anywhere.
                        1 => pts[k] = p,
                        // A spike: out to p and straight back.
                        2 => pts.splice(k + 1..k + 1, [p, pts[k]]).for_each(drop),
                        _ => {}
                    }
                    pts
                });
        prop_oneof![grid, star].prop_map(|pts| open_ring(&pts))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn the_index_finds_the_crossing_the_sweep_finds(pts in rings()) {
            prop_assume!(pts.len() >= 3);
            let sweep = sweep_crossing(&pts);
            prop_assert_eq!(found(indexed_crossing(&pts)), found(sweep));
            prop_assert_eq!(found(first_crossing(&pts)), found(sweep_crossing(&pts)));
        }
    }

    // ---- parts of one geometry ----

    fn polygon(pts: &[(f64, f64)], holes: &[&[(f64, f64)]]) -> Polygon<f64> {
        Polygon::new(LineString::new(coords(pts)), holes.iter().map(|h| LineString::new(coords(h))).collect())
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
        vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    }

    #[test]
    fn overlapping_parts_are_found_and_located() {
        let mut f = family();
        // Two halves of the township that overlap in the band 0.4..0.6.
        f[1].geometry =
            MultiPolygon::new(vec![polygon(&rect(0.0, 0.0, 1.0, 0.6), &[]), polygon(&rect(0.0, 0.4, 1.0, 1.0), &[])]);
        let p = v(&f);
        assert_eq!(kinds(&p), vec![(1, ProblemKind::OverlappingParts)], "{p:?}");
        assert!(p[0].message.starts_with("polygons 0 and 1 overlap"), "{}", p[0]);
        let (x, y) = at(&p[0]);
        assert!((0.0..=1.0).contains(&x) && (0.4..=0.6).contains(&y), "{}", p[0]);
        assert_eq!(ProblemKind::OverlappingParts.as_str(), "overlapping_parts");
        assert_eq!(ProblemKind::OverlappingParts.severity(), Severity::Error);
    }

    #[test]
    fn holes_outside_their_shell_or_overlapping_are_found() {
        let mut f = family();
        let outside = rect(0.8, 0.4, 1.2, 0.6);
        f[1].geometry = MultiPolygon::new(vec![polygon(&rect(0.0, 0.0, 1.0, 1.0), &[&outside])]);
        let p = v(&f);
        assert_eq!(kinds(&p), vec![(1, ProblemKind::OverlappingParts)], "{p:?}");
        assert!(p[0].message.contains("hole 0 of polygon 0 is not inside"), "{}", p[0]);
        let (x, _) = at(&p[0]);
        assert!(x > 1.0, "located in the part of the hole outside: {}", p[0]);

        let (a, b) = (rect(0.2, 0.2, 0.6, 0.6), rect(0.4, 0.4, 0.8, 0.8));
        f[1].geometry = MultiPolygon::new(vec![polygon(&rect(0.0, 0.0, 1.0, 1.0), &[&a, &b])]);
        let p = v(&f);
        assert_eq!(kinds(&p), vec![(1, ProblemKind::OverlappingParts)], "{p:?}");
        assert!(p[0].message.contains("holes 0 and 1 of polygon 0 overlap"), "{}", p[0]);
    }

    #[test]
    fn parts_that_only_touch_and_islands_in_lakes_are_fine() {
        let lake = rect(0.2, 0.2, 0.8, 0.8);
        let shapes = [
            // Two halves sharing an edge, and parts meeting at a corner.
            vec![polygon(&rect(0.0, 0.0, 1.0, 0.5), &[]), polygon(&rect(0.0, 0.5, 1.0, 1.0), &[])],
            vec![polygon(&rect(0.0, 0.0, 0.5, 0.5), &[]), polygon(&rect(0.5, 0.5, 1.0, 1.0), &[])],
            // An island in a lake, and a hole touching the shell at a corner.
            vec![polygon(&rect(0.0, 0.0, 1.0, 1.0), &[&lake]), polygon(&rect(0.4, 0.4, 0.6, 0.6), &[])],
            vec![polygon(&rect(0.0, 0.0, 1.0, 1.0), &[&[(0.0, 0.0), (0.5, 0.2), (0.2, 0.5), (0.0, 0.0)]])],
        ];
        for shape in shapes {
            let mp = MultiPolygon::new(shape);
            assert_eq!(part_overlaps(&mp), vec![], "{mp:?}");
        }
    }

    #[test]
    fn overlaps_are_found_however_the_rings_run_and_among_many_parts() {
        let hole = rect(0.2, 0.2, 0.4, 0.4);
        let reversed: Vec<(f64, f64)> = rect(0.6, 0.6, 0.8, 0.8).into_iter().rev().collect();
        let shell = rect(0.0, 0.0, 1.0, 1.0);
        let mp = MultiPolygon::new(vec![polygon(&shell, &[&hole, &reversed])]);
        assert_eq!(part_overlaps(&mp), vec![], "holes written either way round");
        let twice = MultiPolygon::new(vec![polygon(&shell, &[&hole, &reversed, &hole])]);
        let found: Vec<PartDefect> = part_overlaps(&twice).into_iter().map(|o| o.defect).collect();
        assert_eq!(found, vec![PartDefect::Holes(0, 0, 2)]);
        // The same part twice, inside a third: covered three times over, never twice.
        let small = polygon(&rect(0.2, 0.2, 0.4, 0.4), &[]);
        let mp = MultiPolygon::new(vec![polygon(&shell, &[]), small.clone(), small]);
        let found: Vec<PartDefect> = part_overlaps(&mp).into_iter().map(|o| o.defect).collect();
        assert_eq!(found, vec![PartDefect::Parts(0, 1), PartDefect::Parts(0, 2), PartDefect::Parts(1, 2)]);
        // A stack of 2,000 strips, each meeting the next along an edge: clean;
        // then one strip widened into its neighbour.
        let strip = |k: usize, h: f64| polygon(&rect(0.0, k as f64 * 1e-3, 1.0, k as f64 * 1e-3 + h), &[]);
        let mut strips: Vec<Polygon<f64>> = (0..2_000).map(|k| strip(k, 1e-3)).collect();
        assert_eq!(part_overlaps(&MultiPolygon::new(strips.clone())), vec![]);
        strips[1_234] = strip(1_234, 1.5e-3);
        let found = part_overlaps(&MultiPolygon::new(strips));
        assert_eq!(found.iter().map(|o| o.defect).collect::<Vec<_>>(), vec![PartDefect::Parts(1_234, 1_235)]);
        let at = found[0].at.unwrap();
        assert!(at.y > 1.235 && at.y < 1.2355, "{at:?}");
    }

    // ---- units without a parent ----

    #[test]
    fn cities_are_siblings_of_one_another() {
        let city = feature("340200", square(118.0, 31.0, 1.0));
        let known = KnownUnits { codes: BTreeSet::new(), features: vec![&city] };
        // A second city covering the first would take every point in it.
        let world = [feature(
            "110100",
            ring_mp(&[(-180.0, -90.0), (180.0, -90.0), (180.0, 90.0), (-180.0, 90.0), (-180.0, -90.0)]),
        )];
        let p = validate_with_known(&world, &known);
        assert_eq!(kinds(&p), vec![(0, ProblemKind::SiblingsOverlap)], "{p:#?}");
        assert!(
            p[0].message.starts_with("overlaps 340200 (already imported), another unit without a parent, by 100.0%"),
            "{}",
            p[0]
        );
        let (x, y) = at(&p[0]);
        assert!((118.0..=119.0).contains(&x) && (31.0..=32.0).contains(&y), "{}", p[0]);
        // A city beside it is fine, and so is the city itself, re-imported.
        assert_eq!(validate_with_known(&[feature("110100", square(116.0, 39.0, 1.0))], &known), vec![]);
        assert_eq!(validate_with_known(&[feature("340200", square(118.0, 31.0, 1.5))], &known), vec![]);
        // Two cities in one file: the later one carries it.
        let both = [city.clone(), feature("110100", square(118.5, 31.0, 1.0))];
        let p = validate(&both);
        assert_eq!(kinds(&p), vec![(1, ProblemKind::SiblingsOverlap)], "{p:#?}");
        assert!(p[0].message.contains("340200 (feature #0), another unit without a parent, by 50.0%"), "{}", p[0]);
    }
}
