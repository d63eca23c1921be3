//! CSV import: territory units with WKT boundaries, and division lists
//! (units without boundaries).
//!
//! Rows are checked one by one with the same checks as GeoJSON features
//! (see [`parse_territory_geojson`](crate::parse_territory_geojson)), and
//! every problem names its row: [`Problem::feature`] is the 0-based data row
//! (the header not counted) and [`ImportReport::by_row`] words a report as
//! `row N (code)`. WKT rings are read as written, so an unclosed ring is
//! reported as such rather than closed silently.

use std::borrow::Cow;
use std::str::FromStr;

use citygrid_domain::Unit;
use csv::StringRecord;
use geo::{Coord, MultiPolygon};

use crate::TerritoryFeature;
use crate::record::{
    Batch, Raw, RawPolygons, RawProps, check_against_known, document_problems, geometry_from_rings, unit_from_props,
};
use crate::validate::{ImportReport, KnownUnits, MakeProblem, Problem, ProblemKind};

/// A column a CSV file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Code,
    Name,
    Wkt,
    Level,
    Parent,
    ValidFrom,
    ValidTo,
    Synthetic,
}

/// Header names and the column each stands for (`parent_code` is an alias).
const NAMES: [(&str, Col); 9] = [
    ("code", Col::Code),
    ("name", Col::Name),
    ("wkt", Col::Wkt),
    ("level", Col::Level),
    ("parent", Col::Parent),
    ("parent_code", Col::Parent),
    ("valid_from", Col::ValidFrom),
    ("valid_to", Col::ValidTo),
    ("synthetic", Col::Synthetic),
];

/// The columns one kind of CSV file must and may have.
struct Format {
    /// Columns that must be present.
    required: &'static [Col],
    /// Columns that may be present besides the required ones.
    optional: &'static [Col],
    /// Whether any other column is a problem (otherwise it is ignored).
    refuse_others: bool,
}

const TERRITORY: Format = Format {
    required: &[Col::Code, Col::Name, Col::Wkt],
    optional: &[Col::Level, Col::Parent, Col::ValidFrom, Col::ValidTo, Col::Synthetic],
    refuse_others: true,
};

const DIVISIONS: Format = Format {
    required: &[Col::Code, Col::Name, Col::Level, Col::Parent],
    optional: &[Col::ValidFrom, Col::ValidTo, Col::Synthetic],
    refuse_others: false,
};

impl Col {
    /// The column's name in messages (the first header name for it).
    fn name(self) -> &'static str {
        NAMES.iter().find(|(_, c)| *c == self).map_or("?", |(n, _)| n)
    }
}

impl Format {
    fn describe(&self) -> String {
        let list = |cols: &[Col]| {
            cols.iter()
                .map(|c| if *c == Col::Parent { "parent (or parent_code)" } else { c.name() })
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("required: {}; optional: {}", list(self.required), list(self.optional))
    }
}

/// Where each column is in a file.
struct Columns {
    at: Vec<(Col, usize)>,
    width: usize,
}

impl Columns {
    /// Maps the header, or says everything wrong with it: unknown, repeated
    /// or missing columns.
    fn from_header(headers: &StringRecord, format: &Format) -> Result<Columns, ImportReport> {
        let mut at: Vec<(Col, usize)> = Vec::new();
        let mut problems = Vec::new();
        for (k, h) in headers.iter().enumerate() {
            let h = h.trim_start_matches('\u{feff}').trim();
            let col = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(h)).map(|(_, c)| *c);
            let allowed = col.filter(|c| format.required.contains(c) || format.optional.contains(c));
            match allowed {
                Some(c) if at.iter().any(|(d, _)| *d == c) => {
                    problems.push(format!("column {} appears twice in the header (as {h:?})", c.name()));
                }
                Some(c) => at.push((c, k)),
                None if format.refuse_others => {
                    problems.push(format!("unknown column {h:?} in the header ({})", format.describe()));
                }
                None => {}
            }
        }
        for c in format.required {
            if !at.iter().any(|(d, _)| d == c) {
                problems.push(format!("the header has no {} column ({})", c.name(), format.describe()));
            }
        }
        if problems.is_empty() { Ok(Columns { at, width: headers.len() }) } else { Err(document_problems(problems)) }
    }
}

/// One data row with the file's column map.
struct Row<'r> {
    cols: &'r Columns,
    rec: &'r StringRecord,
}

impl<'r> Row<'r> {
    /// The field of `col`; empty when the file has no such column.
    fn get(&self, col: Col) -> &'r str {
        self.cols.at.iter().find(|(c, _)| *c == col).and_then(|(_, k)| self.rec.get(*k)).unwrap_or("")
    }
}

/// Reads the rows of a CSV file in `format`: each row's properties are
/// checked into a unit, and `item` makes the row's item from it (checking
/// whatever else the row holds). Returns the items, or every problem.
fn parse_rows<T>(
    text: &str,
    format: &Format,
    item: impl Fn(Option<Unit>, &Row<'_>, MakeProblem<'_>, &mut Vec<Problem>) -> Option<T>,
) -> Result<Vec<T>, ImportReport> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| document_problems([format!("unreadable CSV header: {e}")]))?.clone();
    let cols = Columns::from_header(&headers, format)?;
    let mut batch = Batch::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                batch.problems.push(Problem::new(i, None, ProblemKind::BadProperty, format!("unreadable row: {e}")));
                continue;
            }
        };
        let fields = Row { cols: &cols, rec: &rec };
        let field = |c: Col| fields.get(c);
        let code_text = Some(field(Col::Code)).filter(|c| !c.is_empty());
        let problem = |kind: ProblemKind, message: String| Problem::new(i, code_text, kind, message);
        if rec.len() != cols.width {
            let (kind, hint) = if rec.len() < cols.width {
                (ProblemKind::MissingProperty, "")
            } else if format.required.contains(&Col::Wkt) {
                (ProblemKind::BadProperty, "; WKT holds commas, so the wkt field must be in double quotes")
            } else {
                (ProblemKind::BadProperty, "")
            };
            let message = format!("the row has {} fields but the header has {}{hint}", rec.len(), cols.width);
            batch.problems.push(problem(kind, message));
            continue;
        }
        let text = |c: Col| match field(c) {
            "" => Raw::Absent,
            s => Raw::Text(Cow::Borrowed(s)),
        };
        let raw = RawProps {
            code: text(Col::Code),
            name: text(Col::Name),
            level: text(Col::Level),
            parent: text(Col::Parent),
            valid_from: text(Col::ValidFrom),
            valid_to: text(Col::ValidTo),
            synthetic: text(Col::Synthetic),
        };
        let mark = batch.mark();
        let (code, unit) = unit_from_props(&raw, &problem, &mut batch.problems);
        let made = item(unit, &fields, &problem, &mut batch.problems);
        batch.record(i, mark, code, made);
    }
    batch.finish(|j| format!("row {}", j + 1))
}

/// Parses a territory CSV: one unit per row, columns `code`, `name`, `wkt`
/// (required) and `level`, `parent` (or `parent_code`), `valid_from`,
/// `valid_to`, `synthetic` (optional), in any order; any other column is a
/// problem. `wkt` is a POLYGON or MULTIPOLYGON in longitude/latitude order.
///
/// Runs the checks that need nothing but each row itself, plus duplicate
/// codes, and returns every problem found or the features if there is none.
/// Parents and containment are checked by [`import_territory_csv`] or
/// [`validate_with_known`](crate::validate_with_known).
pub fn parse_territory_csv(text: &str) -> Result<Vec<TerritoryFeature>, ImportReport> {
    parse_rows(text, &TERRITORY, |unit, row, problem, out| {
        let geometry = geometry_from_wkt(row.get(Col::Wkt), problem, out);
        Some(TerritoryFeature { unit: unit?, geometry: geometry? })
    })
}

/// Parses and fully validates a territory CSV against the units already
/// known: what `citygrid import` runs. Gaps between siblings are warnings
/// and do not refuse the import; every other problem does.
pub fn import_territory_csv(text: &str, known: &KnownUnits<'_>) -> Result<Vec<TerritoryFeature>, ImportReport> {
    check_against_known(parse_territory_csv(text)?, known)
}

/// Parses a division list with the columns `code`, `name`, `level`,
/// `parent_code` (or `parent`) and optionally `valid_from`, `valid_to` and
/// `synthetic` (like `data/wuhu/divisions.csv`); other columns are ignored.
/// Checks each row and duplicate codes; parents can be checked with
/// [`validate_units`](crate::validate_units).
pub fn parse_divisions_csv(text: &str) -> Result<Vec<Unit>, ImportReport> {
    parse_rows(text, &DIVISIONS, |unit, _, _, _| unit)
}

/// A WKT POLYGON or MULTIPOLYGON, its rings checked as written.
fn geometry_from_wkt(text: &str, problem: MakeProblem<'_>, out: &mut Vec<Problem>) -> Option<MultiPolygon<f64>> {
    let mut bad = |message: String| {
        out.push(problem(ProblemKind::BadGeometry, message));
        None
    };
    if text.is_empty() {
        return bad("geometry is missing: the wkt field is empty".into());
    }
    if let Some(rest) = after_geometry(text) {
        let shown: String = rest.chars().take(40).collect();
        return bad(format!("unexpected text after the WKT geometry: {shown:?}"));
    }
    if let Some(message) = wkt_shape_problem(text) {
        return bad(message);
    }
    let parsed = match wkt::Wkt::<f64>::from_str(text) {
        Ok(w) => w,
        Err(e) => {
            return bad(match not_a_number(text) {
                Some(word) => format!("unreadable WKT: {word:?} is not a number"),
                None => format!("unreadable WKT: {e}"),
            });
        }
    };
    let ring = |r: &wkt::types::LineString<f64>| -> Vec<Coord<f64>> {
        r.coords().iter().map(|c| Coord { x: c.x, y: c.y }).collect()
    };
    let polygon = |p: &wkt::types::Polygon<f64>| -> Vec<Vec<Coord<f64>>> { p.rings().iter().map(ring).collect() };
    let polygons: RawPolygons = match &parsed {
        // `POLYGON EMPTY` has no ring, so no polygon.
        wkt::Wkt::Polygon(p) if p.rings().is_empty() => Vec::new(),
        wkt::Wkt::Polygon(p) => vec![polygon(p)],
        wkt::Wkt::MultiPolygon(mp) => mp.polygons().iter().map(polygon).collect(),
        _ => {
            let kind = text.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or_default();
            return bad(format!("WKT type {} is not POLYGON or MULTIPOLYGON", kind.to_ascii_uppercase()));
        }
    };
    geometry_from_rings(polygons, problem, out)
}

/// The WKT words a boundary may start with: POLYGON or MULTIPOLYGON, with
/// Z, M or ZM written on to them (`POLYGON Z` is read as `POLYGON`, then `Z`).
const POLYGON_WORDS: [&str; 8] = [
    "POLYGON",
    "POLYGONZ",
    "POLYGONM",
    "POLYGONZM",
    "MULTIPOLYGON",
    "MULTIPOLYGONZ",
    "MULTIPOLYGONM",
    "MULTIPOLYGONZM",
];

/// Deepest parenthesis nesting a boundary needs: a MULTIPOLYGON's.
const MAX_WKT_NESTING: usize = 3;

/// Why a WKT text is refused before the WKT reader sees it: it is not a
/// POLYGON or MULTIPOLYGON, or its parentheses nest deeper than a
/// MULTIPOLYGON's. The reader recurses once per parenthesis, so deep
/// nesting (`GEOMETRYCOLLECTION(` five thousand times) would exhaust the
/// stack and abort the process.
pub(crate) fn wkt_shape_problem(text: &str) -> Option<String> {
    let text = text.trim_start();
    let end = text.find(|c: char| matches!(c, '(' | ')' | ',') || c.is_whitespace()).unwrap_or(text.len());
    let word = &text[..end];
    if word.is_empty() {
        return Some("unreadable WKT: it must start with POLYGON or MULTIPOLYGON".into());
    }
    if !POLYGON_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
        let shown: String = word.chars().take(40).collect();
        return Some(format!("WKT type {} is not POLYGON or MULTIPOLYGON", shown.to_ascii_uppercase()));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (deepest > MAX_WKT_NESTING).then(|| {
        format!(
            "unreadable WKT: parentheses nest {deepest} deep, but a MULTIPOLYGON needs only {MAX_WKT_NESTING} \
             (and a POLYGON 2)"
        )
    })
}

/// The first word inside the parentheses that is not a number (nor
/// `EMPTY`), to say more than the WKT reader's own message does.
fn not_a_number(text: &str) -> Option<&str> {
    let inside = &text[text.find('(')?..];
    inside
        .split(|c: char| matches!(c, '(' | ')' | ',') || c.is_whitespace())
        .find(|w| !w.is_empty() && !w.eq_ignore_ascii_case("EMPTY") && w.parse::<f64>().is_err())
}

/// Text after the parenthesis that closes the first one, if there is any:
/// the WKT reader stops there and would silently ignore it.
fn after_geometry(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (k, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    let rest = text[k + 1..].trim();
                    return (!rest.is_empty()).then_some(rest);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{validate, validate_with_known};
    use citygrid_domain::{Level, UnitCode};
    use geo::Area;
    use wkt::ToWkt;

    const SQUARE: &str = "\"POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))\"";

    fn kinds(r: &ImportReport) -> Vec<(usize, ProblemKind)> {
        r.problems.iter().map(|p| (p.feature, p.kind)).collect()
    }

    /// A file with the given header and rows, one string each.
    fn csv(header: &str, rows: &[&str]) -> String {
        let mut s = format!("{header}\n");
        for r in rows {
            s.push_str(r);
            s.push('\n');
        }
        s
    }

    fn the_city() -> KnownUnits<'static> {
        KnownUnits { codes: [UnitCode::parse("340200").unwrap()].into(), features: vec![] }
    }

    #[test]
    fn a_good_file_parses_with_every_column() {
        let text = csv(
            "wkt,code,name,level,parent_code,valid_from,valid_to,synthetic",
            &[
                &format!("{SQUARE},340202,镜湖区,district,340200,,,"),
                "\"MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)),((1 0,2 0,2 2,1 2,1 0)))\",340202001,A,township,340202,\
                 2025-02-03,2026-01-01,TRUE",
                "\"POLYGON ((0 1, 1 1, 1 2, 0 2, 0 1), (0.2 1.2, 0.2 1.4, 0.4 1.4, 0.2 1.2))\",340202002,B,,,,,0",
            ],
        );
        let fs = parse_territory_csv(&text).unwrap();
        assert_eq!(fs.len(), 3);
        assert_eq!(fs[0].unit.name, "镜湖区");
        assert_eq!(fs[0].unit.level, Level::District);
        assert_eq!(fs[0].unit.valid_from, crate::DEFAULT_VALID_FROM);
        assert_eq!(fs[1].unit.valid_to, chrono::NaiveDate::from_ymd_opt(2026, 1, 1));
        assert!(fs[1].unit.synthetic && !fs[2].unit.synthetic);
        assert_eq!(fs[1].geometry.0.len(), 2);
        assert_eq!(fs[2].geometry.0[0].interiors().len(), 1);
        // The two townships tile the district but for a hole of 0.5%, within
        // tolerance: nothing to report once the city is known.
        assert_eq!(validate_with_known(&fs, &the_city()), vec![]);
        assert_eq!(import_territory_csv(&text, &the_city()).unwrap(), fs);
    }

    #[test]
    fn header_problems_are_all_reported() {
        let r = parse_territory_csv("code,name,colour,parent,parent_code,code\n").unwrap_err();
        let msgs: Vec<&str> = r.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(kinds(&r), vec![(0, ProblemKind::Document); 4], "{r}");
        assert!(msgs[0].contains("unknown column \"colour\""), "{r}");
        assert!(msgs[1].contains("parent appears twice"), "{r}");
        assert!(msgs[2].contains("code appears twice"), "{r}");
        assert!(msgs[3].contains("no wkt column"), "{r}");
        // Header names are matched without regard to case, a BOM or spaces.
        let ok = format!("\u{feff}Code , NAME,Wkt\n340202,a,{SQUARE}\n");
        assert_eq!(parse_territory_csv(&ok).unwrap().len(), 1);
        let r = parse_territory_csv("").unwrap_err();
        assert_eq!(r.problems.len(), 3, "{r}");
        // A header alone is an empty, valid file.
        assert_eq!(parse_territory_csv("code,name,wkt\n").unwrap(), vec![]);
    }

    #[test]
    fn property_problems_name_the_row_and_code() {
        let text = csv(
            "code,name,level,parent,valid_from,valid_to,synthetic,wkt",
            &[
                &format!("34020x,bad code,,,,,,{SQUARE}"),
                &format!(",no code,,,,,,{SQUARE}"),
                &format!("340207,,,,,,,{SQUARE}"),
                &format!("340209001,level,community,,,,,{SQUARE}"),
                &format!("340210001,parent,,340207,,,,{SQUARE}"),
                &format!("340212,dates,,,2024/01/01,,yes,{SQUARE}"),
                &format!("340223,backwards,,,2025-01-01,2024-01-01,,{SQUARE}"),
                &format!("340225,level,county?,,,,,{SQUARE}"),
            ],
        );
        let r = parse_territory_csv(&text).unwrap_err();
        assert_eq!(
            kinds(&r),
            vec![
                (0, ProblemKind::MalformedCode),
                (1, ProblemKind::MissingProperty),
                (2, ProblemKind::MissingProperty),
                (3, ProblemKind::LevelMismatch),
                (4, ProblemKind::ParentMismatch),
                (5, ProblemKind::BadProperty),
                (5, ProblemKind::BadProperty),
                (6, ProblemKind::BadProperty),
                (7, ProblemKind::BadProperty),
            ],
            "{r}"
        );
        assert_eq!(r.problems[0].code.as_deref(), Some("34020x"));
        assert_eq!(r.problems[1].code, None);
        let text = r.by_row().to_string();
        assert!(text.starts_with("9 problems found"), "{text}");
        assert!(text.contains("row 1 (34020x): malformed_code"), "{text}");
        assert!(text.contains("row 2: missing_property: \"code\" is missing"), "{text}");
        assert!(text.contains("row 4 (340209001): level_mismatch"), "{text}");
        assert!(
            text.contains("row 6 (340212): bad_property: \"synthetic\" must be true or false, not \"yes\""),
            "{text}"
        );
        assert!(text.contains("row 8 (340225): bad_property: unknown level \"county?\""), "{text}");
    }

    #[test]
    fn duplicate_codes() {
        let text = csv("code,name,wkt", &[&format!("340202,a,{SQUARE}"), &format!("340202,b,{SQUARE}")]);
        let r = parse_territory_csv(&text).unwrap_err();
        assert_eq!(kinds(&r), vec![(1, ProblemKind::DuplicateCode)]);
        assert!(r.by_row().to_string().contains("row 2 (340202): duplicate_code: code 340202 already used by row 1"));
    }

    #[test]
    fn geometry_problems() {
        let rows = [
            "340202,unclosed,\"POLYGON((0 0, 1 0, 1 1, 0 1))\"",
            "340203,short,\"POLYGON((0 0, 1 0, 0 0))\"",
            "340204,bow tie,\"POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))\"",
            "340205,huge,\"POLYGON((0 0, 1e999 0, 1 1, 0 0))\"",
            "340206,point,POINT(1 2)",
            "340207,junk,\"POLYGON((0 0, a 0, 1 1, 0 0))\"",
            "340208,empty,",
            "340209,open paren,\"POLYGON((0 0, 1 0, 1 1, 0 0)\"",
            "340210,trailing,\"POLYGON((0 0, 1 0, 1 1, 0 0)) oops\"",
            "340211,nothing,POLYGON EMPTY",
            "340212,open hole,\"MULTIPOLYGON(((0 0,2 0,2 2,0 2,0 0)),((5 5,6 5,6 6,5 6,5 5),(5.2 5.2,5.4 5.2,5.4 5.4,5.3 5.5)))\"",
        ];
        let r = parse_territory_csv(&csv("code,name,wkt", &rows)).unwrap_err();
        assert_eq!(
            kinds(&r),
            vec![
                (0, ProblemKind::UnclosedRing),
                (1, ProblemKind::TooFewPositions),
                (2, ProblemKind::SelfIntersection),
                (3, ProblemKind::NonFiniteCoordinate),
                (4, ProblemKind::BadGeometry),
                (5, ProblemKind::BadGeometry),
                (6, ProblemKind::BadGeometry),
                (7, ProblemKind::BadGeometry),
                (8, ProblemKind::BadGeometry),
                (9, ProblemKind::BadGeometry),
                (10, ProblemKind::UnclosedRing),
            ],
            "{r}"
        );
        let msg = |k: usize| r.problems[k].message.as_str();
        assert!(msg(0).contains("exterior ring of polygon 0 is not closed"), "{r}");
        assert!(msg(4).contains("WKT type POINT is not POLYGON or MULTIPOLYGON"), "{r}");
        assert!(msg(5).contains("\"a\" is not a number"), "{r}");
        assert!(msg(7).contains("Missing closing parenthesis"), "{r}");
        assert!(msg(8).contains("unexpected text after the WKT geometry: \"oops\""), "{r}");
        assert!(msg(9).contains("no polygon"), "{r}");
        assert!(msg(10).contains("hole 0 of polygon 1 is not closed"), "{r}");
    }

    #[test]
    fn deeply_nested_wkt_is_refused_before_it_is_read() {
        // Each would overflow the WKT reader's stack and abort the process.
        let deep = |head: &str, n: usize| format!("\"{head}{}\"", "(".repeat(n));
        let rows = [
            format!("340202,collection,{}", deep("GEOMETRYCOLLECTION", 5_000)),
            format!("340203,nested collections,\"{}\"", "GEOMETRYCOLLECTION(".repeat(5_000)),
            format!("340204,deep polygon,{}", deep("MULTIPOLYGON", 5_000)),
            format!("340205,deep and closed,\"POLYGON{}0 0{}\"", "(".repeat(5_000), ")".repeat(5_000)),
            "340206,no type,\"((0 0, 1 0, 1 1, 0 0))\"".to_owned(),
        ];
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let r = parse_territory_csv(&csv("code,name,wkt", &rows)).unwrap_err();
        assert_eq!(kinds(&r), (0..5).map(|i| (i, ProblemKind::BadGeometry)).collect::<Vec<_>>(), "{r}");
        let msg = |k: usize| r.problems[k].message.as_str();
        assert_eq!(msg(0), "WKT type GEOMETRYCOLLECTION is not POLYGON or MULTIPOLYGON");
        assert_eq!(msg(1), "WKT type GEOMETRYCOLLECTION is not POLYGON or MULTIPOLYGON");
        assert!(msg(2).contains("parentheses nest 5000 deep"), "{r}");
        assert!(msg(3).contains("parentheses nest 5000 deep"), "{r}");
        assert!(msg(4).contains("must start with POLYGON or MULTIPOLYGON"), "{r}");
    }

    #[test]
    fn polygon_wkt_in_any_case_and_dimension_still_reads() {
        for wkt in [
            "polygon ((0 0, 1 0, 1 1, 0 0))",
            "  Polygon Z ((0 0 5, 1 0 5, 1 1 5, 0 0 5))",
            "POLYGONM((0 0 5, 1 0 5, 1 1 5, 0 0 5))",
            "POLYGON ZM ((0 0 5 6, 1 0 5 6, 1 1 5 6, 0 0 5 6))",
            "multipolygon (((0 0, 1 0, 1 1, 0 0)), ((2 2, 3 2, 3 3, 2 2)))",
            "MULTIPOLYGONZ (((0 0 1, 1 0 1, 1 1 1, 0 0 1)))",
            "MULTIPOLYGON ZM (((0 0 1 2, 1 0 1 2, 1 1 1 2, 0 0 1 2)))",
            "POLYGON EMPTY",
        ] {
            assert_eq!(wkt_shape_problem(wkt), None, "{wkt}");
        }
        let text = csv("code,name,wkt", &["340202,z,\"  Polygon Z ((0 0 5, 1 0 5, 1 1 5, 0 0 5))\""]);
        assert_eq!(parse_territory_csv(&text).unwrap()[0].geometry.0.len(), 1);
        assert!(wkt_shape_problem("POLYGON(((0 0, 1 0, 1 1, 0 0)))").is_none(), "3 deep is a MULTIPOLYGON's depth");
        assert!(wkt_shape_problem("POLYGON((((0 0, 1 0, 1 1, 0 0))))").is_some());
        assert!(wkt_shape_problem("LINESTRING(0 0, 1 1)").is_some());
    }

    #[test]
    fn rows_of_the_wrong_width() {
        let text = csv("code,name,wkt", &["340202,unquoted,POLYGON((0 0, 1 0, 1 1, 0 0))", "340207,short"]);
        let r = parse_territory_csv(&text).unwrap_err();
        assert_eq!(kinds(&r), vec![(0, ProblemKind::BadProperty), (1, ProblemKind::MissingProperty)], "{r}");
        assert!(r.problems[0].message.contains("must be in double quotes"), "{r}");
        assert_eq!(r.problems[1].code.as_deref(), Some("340207"));
    }

    #[test]
    fn import_checks_parents_containment_and_overlaps() {
        let text = csv(
            "code,name,wkt",
            &[
                "340202,a,\"POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))\"",
                // Half outside its parent.
                "340202001,b,\"POLYGON((1 0, 3 0, 3 1, 1 1, 1 0))\"",
                // Overlaps b.
                "340202002,c,\"POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))\"",
                // No parent anywhere.
                "340207001,d,\"POLYGON((5 5, 6 5, 6 6, 5 6, 5 5))\"",
            ],
        );
        assert_eq!(parse_territory_csv(&text).unwrap().len(), 4);
        let r = import_territory_csv(&text, &the_city()).unwrap_err();
        assert_eq!(
            kinds(&r),
            vec![(0, ProblemKind::SiblingsOverlap), (1, ProblemKind::OutsideParent), (3, ProblemKind::MissingParent)],
            "{r}"
        );
        // A gap is only a warning: the import goes ahead.
        let gap = csv(
            "code,name,wkt",
            &["340202,a,\"POLYGON((0 0, 2 0, 2 2, 0 2, 0 0))\"", "340202001,b,\"POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))\""],
        );
        assert_eq!(import_territory_csv(&gap, &the_city()).unwrap().len(), 2);
        assert!(validate(&parse_territory_csv(&gap).unwrap()).iter().any(|p| p.kind == ProblemKind::CoverageGap));
        // Without the city known, the district's parent is missing.
        let r = import_territory_csv(&gap, &KnownUnits::default()).unwrap_err();
        assert_eq!(kinds(&r), vec![(0, ProblemKind::MissingParent)]);
    }

    #[test]
    fn wuhu_districts_round_trip_through_csv() {
        let demo = crate::wuhu_demo(0).unwrap();
        let districts: Vec<&TerritoryFeature> =
            demo.iter().filter(|f| matches!(f.unit.level, Level::City | Level::District)).collect();
        assert_eq!(districts.len(), 10);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["code", "name", "level", "parent", "valid_from", "valid_to", "synthetic", "wkt"]).unwrap();
        for f in &districts {
            let u = &f.unit;
            w.write_record([
                u.code.as_str(),
                &u.name,
                u.level.as_str(),
                u.parent.as_ref().map_or("", |p| p.as_str()),
                &u.valid_from.to_string(),
                &u.valid_to.map(|d| d.to_string()).unwrap_or_default(),
                &u.synthetic.to_string(),
                &f.geometry.wkt_string(),
            ])
            .unwrap();
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let back = import_territory_csv(&text, &KnownUnits::default()).unwrap();
        assert_eq!(back.len(), districts.len());
        for (a, b) in back.iter().zip(&districts) {
            assert_eq!(a.unit, b.unit);
            let (x, y) = (a.geometry.unsigned_area(), b.geometry.unsigned_area());
            assert!((x - y).abs() <= 1e-9 * y, "{}: {x} vs {y}", a.unit.code);
        }
    }

    #[test]
    fn division_lists() {
        let units = parse_divisions_csv(include_str!("../../../data/wuhu/divisions.csv")).unwrap();
        assert_eq!(units.len(), 1 + 9 + 79 + 950);
        assert_eq!(units[0].parent, None);
        assert!(!units[0].synthetic);
        assert_eq!(crate::validate_units(&units, &KnownUnits::default()), vec![]);

        let bad = "code,name,level,parent_code,note\n340200,芜湖市,city,34,\n34020x,a,district,340200,\n\
                   340202,b,township,340200,\n340202001,c,township,340207,\n340202,d,district,340200,x\n";
        let r = parse_divisions_csv(bad).unwrap_err();
        assert_eq!(
            kinds(&r),
            vec![
                (1, ProblemKind::MalformedCode),
                (2, ProblemKind::LevelMismatch),
                (3, ProblemKind::ParentMismatch),
                (4, ProblemKind::DuplicateCode),
            ],
            "{r}"
        );
        let r = parse_divisions_csv("id,name\n1,a\n").unwrap_err();
        assert!(r.problems.iter().all(|p| p.kind == ProblemKind::Document), "{r}");
    }
}
