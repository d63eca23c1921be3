//! GeoJSON export and import of territory features, and CSV division lists.
//!
//! Import reads the JSON by hand rather than through `geojson`'s types so a
//! malformed feature is reported with its index and code instead of failing
//! the whole document, and so ring closure can be checked on the raw
//! positions (geo closes rings silently).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use citygrid_domain::{Level, Unit, UnitCode};
use geo::{Coord, LineString, MultiPolygon, Orient, Polygon, orient::Direction};
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, JsonValue, feature::Id};
use serde_json::Value;

use crate::TerritoryFeature;
pub use crate::validate::{
    ImportReport, KnownUnits, Problem, ProblemKind, validate, validate_units, validate_with_known,
};
use crate::validate::{Severity, check_geometry, ring_name, sort};

/// `valid_from` for units whose input gives none (the demo's start date).
pub const DEFAULT_VALID_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2024, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// A GeoJSON FeatureCollection of the features, one Feature each, with
/// properties `code`, `name`, `level`, `parent`, `valid_from`, `valid_to`,
/// `synthetic` and the code as the feature id. Rings are written
/// counter-clockwise (holes clockwise) as RFC 7946 asks.
pub fn to_feature_collection(features: &[&TerritoryFeature]) -> FeatureCollection {
    FeatureCollection::new(features.iter().map(|f| to_feature(f)))
}

fn to_feature(f: &TerritoryFeature) -> Feature {
    let u = &f.unit;
    let mut props = JsonObject::new();
    props.insert("code".into(), u.code.as_str().into());
    props.insert("name".into(), u.name.clone().into());
    props.insert("level".into(), u.level.as_str().into());
    props.insert("parent".into(), u.parent.as_ref().map_or(JsonValue::Null, |p| p.as_str().into()));
    props.insert("valid_from".into(), u.valid_from.format("%Y-%m-%d").to_string().into());
    props.insert("valid_to".into(), u.valid_to.map_or(JsonValue::Null, |d| d.format("%Y-%m-%d").to_string().into()));
    props.insert("synthetic".into(), u.synthetic.into());
    let oriented = f.geometry.orient(Direction::Default);
    Feature {
        bbox: None,
        geometry: Some(Geometry::new(GeometryValue::from(&oriented))),
        id: Some(Id::String(u.code.as_str().to_owned())),
        properties: Some(props),
        foreign_members: None,
    }
}

/// Parses a GeoJSON FeatureCollection of territory features and runs the
/// checks that need nothing but each feature itself, plus duplicate codes.
///
/// Returns every problem found, or the features if there is none. Parents
/// and containment are not checked here because they may depend on units
/// outside the file; use [`import_territory_geojson`] or
/// [`validate_with_known`] for those.
pub fn parse_territory_geojson(text: &str) -> Result<Vec<TerritoryFeature>, ImportReport> {
    let (features, codes, mut problems) = parse_features(text);
    check_duplicates(&codes, &mut problems);
    sort(&mut problems);
    if problems.is_empty() { Ok(features) } else { Err(ImportReport { problems }) }
}

/// Parses and fully validates a GeoJSON FeatureCollection against the units
/// already known: what `citygrid import` runs. Gaps between siblings are
/// warnings and do not refuse the import; every other problem does.
pub fn import_territory_geojson(text: &str, known: &KnownUnits<'_>) -> Result<Vec<TerritoryFeature>, ImportReport> {
    let features = parse_territory_geojson(text)?;
    let problems: Vec<Problem> =
        validate_with_known(&features, known).into_iter().filter(|p| p.kind.severity() == Severity::Error).collect();
    if problems.is_empty() { Ok(features) } else { Err(ImportReport { problems }) }
}

/// Duplicates among all features (or rows) whose code parsed, whatever else
/// is wrong with them.
fn check_duplicates(codes: &[(usize, UnitCode)], problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<&UnitCode, usize> = BTreeMap::new();
    for (i, code) in codes {
        if let Some(j) = seen.get(code) {
            problems.push(Problem::new(
                *i,
                Some(code.as_str()),
                ProblemKind::DuplicateCode,
                format!("code {code} already used by feature #{j}"),
            ));
        } else {
            seen.insert(code, *i);
        }
    }
}

/// The features that parsed cleanly, every valid code with its feature
/// index, and every problem.
type Parsed = (Vec<TerritoryFeature>, Vec<(usize, UnitCode)>, Vec<Problem>);

fn parse_features(text: &str) -> Parsed {
    let mut problems = Vec::new();
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(Problem::new(0, None, ProblemKind::Document, format!("not valid JSON: {e}")));
            return (Vec::new(), Vec::new(), problems);
        }
    };
    let is_fc = doc.get("type").and_then(Value::as_str) == Some("FeatureCollection");
    let Some(items) = doc.get("features").and_then(Value::as_array).filter(|_| is_fc) else {
        problems.push(Problem::new(
            0,
            None,
            ProblemKind::Document,
            "expected a GeoJSON FeatureCollection with a \"features\" array",
        ));
        return (Vec::new(), Vec::new(), problems);
    };
    let mut features = Vec::with_capacity(items.len());
    let mut codes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let before = problems.len();
        let parsed = parse_feature(i, item, &mut problems);
        let code = code_text(item.get("properties").and_then(|p| p.get("code")));
        if let Some(c) = code.and_then(|c| UnitCode::parse(&c).ok()) {
            codes.push((i, c));
        }
        if let Some(f) = parsed
            && problems.len() == before
        {
            features.push(f);
        }
    }
    (features, codes, problems)
}

fn parse_feature(i: usize, item: &Value, out: &mut Vec<Problem>) -> Option<TerritoryFeature> {
    let empty = serde_json::Map::new();
    let props = match item.get("properties") {
        Some(Value::Object(m)) => m,
        _ => &empty,
    };
    let raw_code = code_text(props.get("code"));
    let code_str = raw_code.as_deref();
    let problem = |kind: ProblemKind, message: String| Problem::new(i, code_str, kind, message);
    if item.get("type").and_then(Value::as_str) != Some("Feature") {
        out.push(problem(ProblemKind::BadGeometry, "not a GeoJSON Feature (\"type\" must be \"Feature\")".into()));
    }

    let code = match &raw_code {
        None => {
            out.push(problem(ProblemKind::MissingProperty, "property \"code\" is missing or not a string".into()));
            None
        }
        Some(s) => match UnitCode::parse(s) {
            Ok(c) => Some(c),
            Err(e) => {
                out.push(problem(ProblemKind::MalformedCode, e.to_string()));
                None
            }
        },
    };
    let name = match props.get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() => Some(n.to_owned()),
        _ => {
            out.push(problem(ProblemKind::MissingProperty, "property \"name\" is missing or empty".into()));
            None
        }
    };
    let level = match props.get("level") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(Level::parse) {
            Some(l) => Some(l),
            None => {
                out.push(problem(ProblemKind::BadProperty, format!("unknown level {v}")));
                None
            }
        },
    };
    if let (Some(c), Some(l)) = (&code, level)
        && c.level() != l
    {
        out.push(problem(ProblemKind::LevelMismatch, format!("level is {l} but code {c} is a {} code", c.level())));
    }
    if let Some(c) = &code {
        check_declared_parent(c, code_text(props.get("parent")).as_deref(), &problem, out);
    }
    let valid_from = date_prop(props, "valid_from", &problem, out).unwrap_or(DEFAULT_VALID_FROM);
    let valid_to = date_prop(props, "valid_to", &problem, out);
    if let Some(end) = valid_to
        && end < valid_from
    {
        out.push(problem(ProblemKind::BadProperty, format!("valid_to {end} is before valid_from {valid_from}")));
    }
    let synthetic = match props.get("synthetic") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            out.push(problem(ProblemKind::BadProperty, format!("\"synthetic\" must be true or false, not {v}")));
            false
        }
    };
    let geometry = parse_geometry(item.get("geometry"), &problem, out);
    if let (Some(g), Some(c)) = (&geometry, &code) {
        check_geometry(i, c.as_str(), g, out);
    }
    let code = code?;
    Some(TerritoryFeature {
        unit: Unit { level: code.level(), parent: code.parent(), code, name: name?, valid_from, valid_to, synthetic },
        geometry: geometry?,
    })
}

/// A code as text: strings as they are, integers (codes written as JSON
/// numbers) in decimal. Codes fit in a u64, so no digit is lost.
fn code_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// A declared parent must be the one the code implies. A city may name its
/// province (two digits, as in `divisions.csv`) or nothing.
fn check_declared_parent(
    code: &UnitCode,
    declared: Option<&str>,
    problem: &dyn Fn(ProblemKind, String) -> Problem,
    out: &mut Vec<Problem>,
) {
    let Some(declared) = declared.filter(|d| !d.is_empty()) else {
        return;
    };
    match code.parent() {
        None => {
            if !code.as_str().starts_with(declared) || declared.len() > 2 {
                out.push(problem(
                    ProblemKind::ParentMismatch,
                    format!("city {code} has no parent unit, but parent {declared} is given"),
                ));
            }
        }
        Some(implied) if implied.as_str() == declared => {}
        Some(implied) => {
            let kind = if UnitCode::parse(declared).is_err() {
                ProblemKind::MalformedCode
            } else {
                ProblemKind::ParentMismatch
            };
            out.push(problem(kind, format!("parent is {declared} but code {code} implies {implied}")));
        }
    }
}

fn date_prop(
    props: &serde_json::Map<String, Value>,
    key: &str,
    problem: &dyn Fn(ProblemKind, String) -> Problem,
    out: &mut Vec<Problem>,
) -> Option<NaiveDate> {
    match props.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let parsed = v.as_str().and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok());
            if parsed.is_none() {
                out.push(problem(ProblemKind::BadProperty, format!("{key} {v} is not a YYYY-MM-DD date")));
            }
            parsed
        }
    }
}

/// Parses a Polygon or MultiPolygon, checking ring structure on the raw positions.
fn parse_geometry(
    v: Option<&Value>,
    problem: &dyn Fn(ProblemKind, String) -> Problem,
    out: &mut Vec<Problem>,
) -> Option<MultiPolygon<f64>> {
    let bad = |out: &mut Vec<Problem>, m: String| {
        out.push(problem(ProblemKind::BadGeometry, m));
        None
    };
    let Some(g) = v.filter(|g| !g.is_null()) else {
        return bad(out, "geometry is missing".into());
    };
    let coords = g.get("coordinates").and_then(Value::as_array);
    let polys: Vec<&Vec<Value>> = match (g.get("type").and_then(Value::as_str), coords) {
        (Some("Polygon"), Some(c)) => vec![c],
        (Some("MultiPolygon"), Some(c)) => {
            let mut ps = Vec::with_capacity(c.len());
            for p in c {
                match p.as_array() {
                    Some(p) => ps.push(p),
                    None => return bad(out, "MultiPolygon coordinates must be arrays of polygons".into()),
                }
            }
            ps
        }
        (Some(t @ ("Polygon" | "MultiPolygon")), None) => return bad(out, format!("{t} has no coordinates array")),
        (Some(t), _) => return bad(out, format!("geometry type {t} is not Polygon or MultiPolygon")),
        (None, _) => return bad(out, "geometry has no type".into()),
    };
    if polys.is_empty() {
        return bad(out, "geometry has no polygon".into());
    }
    let before = out.len();
    let mut polygons = Vec::with_capacity(polys.len());
    for (pi, rings) in polys.iter().enumerate() {
        if rings.is_empty() {
            out.push(problem(ProblemKind::BadGeometry, format!("polygon {pi} has no ring")));
            continue;
        }
        let mut parsed: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
        for (ri, ring) in rings.iter().enumerate() {
            let what = ring_name(pi, ri);
            match parse_ring(ring) {
                Err(m) => out.push(problem(ProblemKind::BadGeometry, format!("{what}: {m}"))),
                Ok(cs) => {
                    if let Some(c) = cs.iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
                        out.push(problem(
                            ProblemKind::NonFiniteCoordinate,
                            format!("{what} has a non-finite coordinate ({}, {})", c.x, c.y),
                        ));
                    } else if cs.len() < 4 {
                        out.push(problem(
                            ProblemKind::TooFewPositions,
                            format!("{what} has {} positions; a ring needs at least 4", cs.len()),
                        ));
                    } else if cs.first() != cs.last() {
                        out.push(problem(
                            ProblemKind::UnclosedRing,
                            format!("{what} is not closed: its last position differs from its first"),
                        ));
                    }
                    parsed.push(LineString::new(cs));
                }
            }
        }
        let mut it = parsed.into_iter();
        if let Some(ext) = it.next() {
            polygons.push(Polygon::new(ext, it.collect()));
        }
    }
    (out.len() == before).then(|| MultiPolygon::new(polygons))
}

fn parse_ring(ring: &Value) -> Result<Vec<Coord<f64>>, String> {
    let positions = ring.as_array().ok_or("a ring must be an array of positions")?;
    positions
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let xy = p.as_array().filter(|a| a.len() >= 2);
            match xy.map(|a| (a[0].as_f64(), a[1].as_f64())) {
                Some((Some(x), Some(y))) => Ok(Coord { x, y }),
                _ => Err(format!("position {k} is not [longitude, latitude]")),
            }
        })
        .collect()
}

/// Parses a division list with the header `code,name,level,parent_code`
/// (like `data/wuhu/divisions.csv`); optional columns `valid_from`,
/// `valid_to` and `synthetic`. Checks each row and duplicate codes; parents
/// can be checked with [`validate_units`]. `feature` in a
/// problem is the 0-based data row.
pub fn parse_divisions_csv(text: &str) -> Result<Vec<Unit>, ImportReport> {
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.push(Problem::new(0, None, ProblemKind::Document, format!("unreadable CSV header: {e}")));
            return Err(ImportReport { problems });
        }
    };
    let col = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let (Some(c_code), Some(c_name), Some(c_level), Some(c_parent)) =
        (col("code"), col("name"), col("level"), col("parent_code"))
    else {
        problems.push(Problem::new(
            0,
            None,
            ProblemKind::Document,
            format!(
                "CSV header must have code,name,level,parent_code; found {}",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
        return Err(ImportReport { problems });
    };
    let (c_from, c_to, c_syn) = (col("valid_from"), col("valid_to"), col("synthetic"));
    let mut units = Vec::new();
    let mut codes: Vec<(usize, UnitCode)> = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::new(i, None, ProblemKind::Document, format!("row {}: {e}", i + 1)));
                continue;
            }
        };
        let field = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("");
        let raw = field(Some(c_code));
        let code_opt = (!raw.is_empty()).then_some(raw);
        let problem = |kind: ProblemKind, message: String| Problem::new(i, code_opt, kind, message);
        let before = problems.len();
        let code = match UnitCode::parse(raw) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(problem(ProblemKind::MalformedCode, format!("row {}: {e}", i + 1)));
                None
            }
        };
        let name = field(Some(c_name));
        if name.is_empty() {
            problems.push(problem(ProblemKind::MissingProperty, format!("row {}: name is empty", i + 1)));
        }
        let level_text = field(Some(c_level));
        match (Level::parse(level_text), &code) {
            (None, _) if !level_text.is_empty() => {
                problems.push(problem(ProblemKind::BadProperty, format!("row {}: unknown level {level_text:?}", i + 1)))
            }
            (Some(l), Some(c)) if l != c.level() => problems.push(problem(
                ProblemKind::LevelMismatch,
                format!("row {}: level is {l} but code {c} is a {} code", i + 1, c.level()),
            )),
            _ => {}
        }
        if let Some(c) = &code {
            check_declared_parent(c, Some(field(Some(c_parent))), &problem, &mut problems);
        }
        let date = |c: Option<usize>, key: &str, problems: &mut Vec<Problem>| -> Option<NaiveDate> {
            let s = field(c);
            if s.is_empty() {
                return None;
            }
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            if d.is_none() {
                problems.push(problem(
                    ProblemKind::BadProperty,
                    format!("row {}: {key} {s:?} is not a YYYY-MM-DD date", i + 1),
                ));
            }
            d
        };
        let valid_from = date(c_from, "valid_from", &mut problems).unwrap_or(DEFAULT_VALID_FROM);
        let valid_to = date(c_to, "valid_to", &mut problems);
        let synthetic = match field(c_syn) {
            "" | "false" | "0" => false,
            "true" | "1" => true,
            other => {
                problems.push(problem(
                    ProblemKind::BadProperty,
                    format!("row {}: synthetic {other:?} must be true or false", i + 1),
                ));
                false
            }
        };
        if let Some(c) = &code {
            codes.push((i, c.clone()));
        }
        if let Some(code) = code
            && problems.len() == before
        {
            units.push(Unit {
                level: code.level(),
                parent: code.parent(),
                code,
                name: name.to_owned(),
                valid_from,
                valid_to,
                synthetic,
            });
        }
    }
    let mut seen: BTreeMap<&UnitCode, usize> = BTreeMap::new();
    for (i, code) in &codes {
        if let Some(j) = seen.get(code) {
            problems.push(Problem::new(
                *i,
                Some(code.as_str()),
                ProblemKind::DuplicateCode,
                format!("row {}: code {code} already used on row {}", i + 1, j + 1),
            ));
        } else {
            seen.insert(code, *i);
        }
    }
    sort(&mut problems);
    if problems.is_empty() { Ok(units) } else { Err(ImportReport { problems }) }
}

/// A Polygon/MultiPolygon GeoJSON geometry as a geo MultiPolygon, for trusted
/// embedded data.
pub(crate) fn multipolygon_from_value(v: &GeometryValue) -> Option<MultiPolygon<f64>> {
    let ring = |r: &Vec<geojson::Position>| -> Option<LineString<f64>> {
        r.iter()
            .map(|p| match p.as_slice() {
                [x, y, ..] => Some(Coord { x: *x, y: *y }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(LineString::new)
    };
    let poly = |rings: &Vec<Vec<geojson::Position>>| -> Option<Polygon<f64>> {
        let mut it = rings.iter();
        let ext = ring(it.next()?)?;
        let holes = it.map(ring).collect::<Option<Vec<_>>>()?;
        Some(Polygon::new(ext, holes))
    };
    match v {
        GeometryValue::Polygon { coordinates } => Some(MultiPolygon::new(vec![poly(coordinates)?])),
        GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter().map(poly).collect::<Option<Vec<_>>>().map(MultiPolygon::new)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fc(features: Vec<Value>) -> String {
        json!({"type": "FeatureCollection", "features": features}).to_string()
    }

    fn square(x: f64, y: f64, s: f64) -> Value {
        json!({"type": "Polygon", "coordinates": [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]})
    }

    fn feat(props: Value, geometry: Value) -> Value {
        json!({"type": "Feature", "properties": props, "geometry": geometry})
    }

    fn kinds(r: &ImportReport) -> Vec<(usize, ProblemKind)> {
        r.problems.iter().map(|p| (p.feature, p.kind)).collect()
    }

    #[test]
    fn round_trip() {
        let text = fc(vec![
            feat(json!({"code": "340202", "name": "镜湖区", "level": "district"}), square(0.0, 0.0, 2.0)),
            feat(
                json!({"code": "340202001", "name": "A", "parent": "340202", "valid_from": "2025-02-03",
                       "valid_to": "2026-01-01", "synthetic": true}),
                square(0.0, 0.0, 1.0),
            ),
        ]);
        let fs = parse_territory_geojson(&text).unwrap();
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[1].unit.valid_from, NaiveDate::from_ymd_opt(2025, 2, 3).unwrap());
        assert_eq!(fs[0].unit.valid_from, DEFAULT_VALID_FROM);
        assert!(fs[1].unit.synthetic);
        let refs: Vec<&TerritoryFeature> = fs.iter().collect();
        let out = to_feature_collection(&refs).to_string();
        let back = parse_territory_geojson(&out).unwrap();
        assert_eq!(back.iter().map(|f| &f.unit).collect::<Vec<_>>(), fs.iter().map(|f| &f.unit).collect::<Vec<_>>());
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["features"][1]["properties"]["parent"], "340202");
        assert_eq!(v["features"][0]["properties"]["parent"], "340200");
        assert_eq!(v["features"][0]["properties"]["level"], "district");
        assert_eq!(v["features"][0]["id"], "340202");
        // The city is not in the file: the import needs it known.
        let r = import_territory_geojson(&out, &KnownUnits::default()).unwrap_err();
        assert_eq!(kinds(&r), vec![(0, ProblemKind::MissingParent)]);
        let known = KnownUnits { codes: [UnitCode::parse("340200").unwrap()].into(), features: vec![] };
        assert_eq!(import_territory_geojson(&out, &known).unwrap().len(), 2);
    }

    #[test]
    fn malformed_code_and_missing_properties() {
        let text = fc(vec![
            feat(json!({"code": "34020x", "name": "bad"}), square(0.0, 0.0, 1.0)),
            feat(json!({"name": "no code"}), square(0.0, 0.0, 1.0)),
            feat(json!({"code": "340202"}), square(0.0, 0.0, 1.0)),
        ]);
        let r = parse_territory_geojson(&text).unwrap_err();
        assert_eq!(
            kinds(&r),
            vec![(0, ProblemKind::MalformedCode), (1, ProblemKind::MissingProperty), (2, ProblemKind::MissingProperty)]
        );
        assert_eq!(r.problems[0].code.as_deref(), Some("34020x"));
    }

    #[test]
    fn level_mismatch_and_bad_properties() {
        let text = fc(vec![feat(
            json!({"code": "340202001", "name": "x", "level": "community", "valid_from": "2024/01/01",
                   "synthetic": "yes", "parent": "340207"}),
            square(0.0, 0.0, 1.0),
        )]);
        let r = parse_territory_geojson(&text).unwrap_err();
        let k = kinds(&r);
        assert!(k.contains(&(0, ProblemKind::LevelMismatch)), "{r}");
        assert!(k.contains(&(0, ProblemKind::ParentMismatch)), "{r}");
        assert_eq!(k.iter().filter(|k| k.1 == ProblemKind::BadProperty).count(), 2, "{r}");
    }

    #[test]
    fn duplicates_in_file() {
        let text = fc(vec![
            feat(json!({"code": "340202", "name": "a"}), square(0.0, 0.0, 1.0)),
            feat(json!({"code": "340202", "name": "b"}), square(0.0, 0.0, 1.0)),
        ]);
        let r = parse_territory_geojson(&text).unwrap_err();
        assert_eq!(kinds(&r), vec![(1, ProblemKind::DuplicateCode)]);
        assert!(r.to_string().contains("already used by feature #0"), "{r}");
    }

    #[test]
    fn raw_ring_problems() {
        let unclosed = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]});
        let short = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]});
        let bow = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]});
        let point = json!({"type": "Point", "coordinates": [0, 0]});
        let junk = json!({"type": "Polygon", "coordinates": [[[0, 0], ["a", 0], [1, 1], [0, 0]]]});
        let text = fc(vec![
            feat(json!({"code": "340202", "name": "a"}), unclosed),
            feat(json!({"code": "340207", "name": "b"}), short),
            feat(json!({"code": "340209", "name": "c"}), bow),
            feat(json!({"code": "340210", "name": "d"}), point),
            feat(json!({"code": "340212", "name": "e"}), junk),
            json!({"type": "Feature", "properties": {"code": "340223", "name": "f"}, "geometry": null}),
        ]);
        let r = parse_territory_geojson(&text).unwrap_err();
        assert_eq!(
            kinds(&r),
            vec![
                (0, ProblemKind::UnclosedRing),
                (1, ProblemKind::TooFewPositions),
                (2, ProblemKind::SelfIntersection),
                (3, ProblemKind::BadGeometry),
                (4, ProblemKind::BadGeometry),
                (5, ProblemKind::BadGeometry),
            ],
            "{r}"
        );
        assert!(r.problems[0].message.contains("exterior ring of polygon 0"));
    }

    #[test]
    fn non_finite_coordinates() {
        // JSON cannot carry NaN, so the check runs on geo values too.
        let f = TerritoryFeature {
            unit: Unit {
                code: UnitCode::parse("340202").unwrap(),
                name: "a".into(),
                level: Level::District,
                parent: None,
                valid_from: DEFAULT_VALID_FROM,
                valid_to: None,
                synthetic: false,
            },
            geometry: MultiPolygon::new(vec![Polygon::new(
                LineString::from(vec![(0.0, 0.0), (f64::INFINITY, 0.0), (1.0, 1.0), (0.0, 0.0)]),
                vec![],
            )]),
        };
        let mut out = Vec::new();
        check_geometry(0, "340202", &f.geometry, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, ProblemKind::NonFiniteCoordinate);
    }

    #[test]
    fn import_checks_parents_and_containment() {
        let text = fc(vec![
            feat(json!({"code": "340202", "name": "a"}), square(0.0, 0.0, 1.0)),
            feat(json!({"code": "340202001", "name": "b"}), square(0.5, 0.0, 1.0)),
            feat(json!({"code": "340207001", "name": "c"}), square(5.0, 5.0, 1.0)),
        ]);
        let r = import_territory_geojson(&text, &KnownUnits::default()).unwrap_err();
        assert!(kinds(&r).contains(&(1, ProblemKind::OutsideParent)), "{r}");
        assert!(kinds(&r).contains(&(2, ProblemKind::MissingParent)), "{r}");
        // Not a JSON document at all.
        let r = parse_territory_geojson("{").unwrap_err();
        assert_eq!(kinds(&r), vec![(0, ProblemKind::Document)]);
        let r = parse_territory_geojson("{\"type\": \"Feature\"}").unwrap_err();
        assert_eq!(kinds(&r), vec![(0, ProblemKind::Document)]);
    }

    #[test]
    fn csv_division_list() {
        let units = parse_divisions_csv(include_str!("../../../data/wuhu/divisions.csv")).unwrap();
        assert_eq!(units.len(), 1 + 9 + 79 + 950);
        assert_eq!(units[0].parent, None);
        assert!(!units[0].synthetic);
        let p = validate_units(&units, &KnownUnits::default());
        assert_eq!(p, vec![]);

        let bad = "code,name,level,parent_code\n340200,芜湖市,city,34\n34020x,a,district,340200\n\
                   340202,b,township,340200\n340202001,c,township,340207\n340202,d,district,340200\n";
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
        assert_eq!(kinds(&r), vec![(0, ProblemKind::Document)]);
    }
}
