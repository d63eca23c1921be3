//! GeoJSON export and import of territory features.
//!
//! Import reads the JSON by hand rather than through `geojson`'s types so a
//! malformed feature is reported with its index and code instead of failing
//! the whole document, and so ring closure can be checked on the raw
//! positions (geo closes rings silently).

use std::borrow::Cow;

use citygrid_domain::UnitCode;
use geo::{Coord, LineString, MultiPolygon, Orient, Polygon, orient::Direction};
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, JsonValue, feature::Id};
use serde_json::Value;

use crate::TerritoryFeature;
pub use crate::record::DEFAULT_VALID_FROM;
use crate::record::{
    Batch, Raw, RawPolygons, RawProps, check_against_known, document_problems, geometry_from_rings, unit_from_props,
};
pub use crate::validate::{
    ImportReport, KnownUnits, Problem, ProblemKind, validate, validate_units, validate_with_known,
};
use crate::validate::{MakeProblem, ring_name};

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
    let doc: Value = serde_json::from_str(text).map_err(|e| document_problems([format!("not valid JSON: {e}")]))?;
    let is_fc = doc.get("type").and_then(Value::as_str) == Some("FeatureCollection");
    let Some(items) = doc.get("features").and_then(Value::as_array).filter(|_| is_fc) else {
        return Err(document_problems(["expected a GeoJSON FeatureCollection with a \"features\" array".to_owned()]));
    };
    let mut batch = Batch::new();
    for (i, item) in items.iter().enumerate() {
        let mark = batch.mark();
        let (code, feature) = parse_feature(i, item, &mut batch.problems);
        batch.record(i, mark, code, feature);
    }
    batch.finish(|j| format!("feature #{j}"))
}

/// Parses and fully validates a GeoJSON FeatureCollection against the units
/// already known: what `citygrid import` runs. Gaps between siblings are
/// warnings and do not refuse the import; every other problem does.
pub fn import_territory_geojson(text: &str, known: &KnownUnits<'_>) -> Result<Vec<TerritoryFeature>, ImportReport> {
    check_against_known(parse_territory_geojson(text)?, known)
}

/// One feature: its code when that parsed, and the feature when nothing
/// this function reported is wrong with it.
fn parse_feature(i: usize, item: &Value, out: &mut Vec<Problem>) -> (Option<UnitCode>, Option<TerritoryFeature>) {
    let empty = serde_json::Map::new();
    let props = match item.get("properties") {
        Some(Value::Object(m)) => m,
        _ => &empty,
    };
    let raw = RawProps {
        code: raw_code(props.get("code")),
        name: raw(props.get("name")),
        level: raw(props.get("level")),
        parent: raw_code(props.get("parent")),
        valid_from: raw(props.get("valid_from")),
        valid_to: raw(props.get("valid_to")),
        synthetic: match props.get("synthetic") {
            None | Some(Value::Null) => Raw::Absent,
            Some(Value::Bool(b)) => Raw::Bool(*b),
            Some(v) => Raw::Other(v.to_string()),
        },
    };
    let code_text = raw.code.text();
    let problem = |kind: ProblemKind, message: String| Problem::new(i, code_text, kind, message);
    if item.get("type").and_then(Value::as_str) != Some("Feature") {
        out.push(problem(ProblemKind::BadGeometry, "not a GeoJSON Feature (\"type\" must be \"Feature\")".into()));
    }
    let (code, unit) = unit_from_props(&raw, &problem, out);
    let geometry =
        raw_geometry(item.get("geometry"), &problem, out).and_then(|rings| geometry_from_rings(rings, &problem, out));
    (code, unit.zip(geometry).map(|(unit, geometry)| TerritoryFeature { unit, geometry }))
}

/// A property as given: strings trimmed, booleans, anything else as written.
fn raw(v: Option<&Value>) -> Raw<'_> {
    match v {
        None | Some(Value::Null) => Raw::Absent,
        Some(Value::String(s)) => Raw::Text(Cow::Borrowed(s.trim())),
        Some(Value::Bool(b)) => Raw::Bool(*b),
        Some(v) => Raw::Other(v.to_string()),
    }
}

/// A code as given: like [`raw`], but integers (codes written as JSON
/// numbers) count as their decimal digits. Codes fit in a u64, so no digit
/// is lost.
fn raw_code(v: Option<&Value>) -> Raw<'_> {
    match v {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => Raw::Text(Cow::Owned(n.to_string())),
            None => Raw::Other(n.to_string()),
        },
        v => raw(v),
    }
}

/// The rings of a Polygon or MultiPolygon as written; what is checked on
/// them is left to [`geometry_from_rings`].
fn raw_geometry(v: Option<&Value>, problem: MakeProblem<'_>, out: &mut Vec<Problem>) -> Option<RawPolygons> {
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
    let before = out.len();
    let mut polygons = Vec::with_capacity(polys.len());
    for (pi, rings) in polys.iter().enumerate() {
        let mut parsed = Vec::with_capacity(rings.len());
        for (ri, ring) in rings.iter().enumerate() {
            match parse_ring(ring) {
                Ok(cs) => parsed.push(cs),
                Err(m) => out.push(problem(ProblemKind::BadGeometry, format!("{}: {m}", ring_name(pi, ri)))),
            }
        }
        polygons.push(parsed);
    }
    (out.len() == before).then_some(polygons)
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
    use crate::validate::check_geometry;
    use chrono::NaiveDate;
    use citygrid_domain::{Level, Unit};
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
}
