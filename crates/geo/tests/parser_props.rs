//! The territory readers take files from outside: fed anything, they answer
//! with features or a report and never panic, with or without repair; and
//! repair leaves clean input alone and, once applied, finds nothing more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid_geo::repair::{Format, check_territory, read_territory};
use citygrid_geo::{KnownUnits, TerritoryFeature, parse_divisions_csv, to_feature_collection};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every reader and the whole check, on one text.
fn read_everything(text: &str) {
    let _ = citygrid_geo::parse_territory_geojson(text);
    let _ = citygrid_geo::parse_territory_csv(text);
    let _ = parse_divisions_csv(text);
    for format in [Format::GeoJson, Format::Csv] {
        for repair in [false, true] {
            let _ = check_territory(text, format, &KnownUnits::default(), repair);
        }
    }
}

/// A coordinate: mostly on a small grid (so rings meet, cross and repeat),
/// sometimes anywhere, sometimes extreme.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (0i8..5).prop_map(f64::from),
        2 => -200.0f64..200.0,
        1 => prop_oneof![Just(1e300), Just(-1e300), Just(1e-300), Just(0.5e-7), Just(f64::MAX)],
    ]
}

fn position() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (number(), number()).prop_map(|(x, y)| json!([x, y])),
        1 => (number(), number(), number()).prop_map(|(x, y, z)| json!([x, y, z])),
        1 => prop_oneof![Just(json!([1])), Just(json!(["a", 0])), Just(json!(null)), Just(json!({}))],
    ]
}

fn ring() -> impl Strategy<Value = Value> {
    (proptest::collection::vec(position(), 0..9), any::<bool>()).prop_map(|(mut ps, close)| {
        if close && let Some(first) = ps.first().cloned() {
            ps.push(first);
        }
        Value::Array(ps)
    })
}

fn polygon() -> impl Strategy<Value = Value> {
    proptest::collection::vec(ring(), 0..3).prop_map(Value::Array)
}

fn geometry() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => polygon().prop_map(|p| json!({"type": "Polygon", "coordinates": p})),
        2 => proptest::collection::vec(polygon(), 0..3)
            .prop_map(|ps| json!({"type": "MultiPolygon", "coordinates": ps})),
        1 => prop_oneof![
            Just(json!(null)),
            Just(json!({"type": "Point", "coordinates": [0, 0]})),
            Just(json!({"type": "Polygon"})),
            Just(json!({"type": "MultiPolygon", "coordinates": [1, 2]})),
        ],
    ]
}

fn code() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec!["340200", "340202", "340207", "340202001", "340202002", "340207001"])
            .prop_map(Value::from),
        1 => prop_oneof![Just(json!("34020x")), Just(json!(340202)), Just(json!(-1)), Just(json!(null)), Just(json!(""))],
        1 => "[0-9]{0,19}".prop_map(Value::from),
    ]
}

fn feature() -> impl Strategy<Value = Value> {
    let props = (code(), prop::option::of("[a-z]{1,5}"), prop::option::of(code()), any::<bool>());
    (props, geometry()).prop_map(|((code, name, parent, synthetic), geometry)| {
        json!({"type": "Feature", "properties": {"code": code, "name": name, "parent": parent, "synthetic": synthetic},
               "geometry": geometry})
    })
}

fn collection() -> impl Strategy<Value = String> {
    proptest::collection::vec(feature(), 0..6)
        .prop_map(|fs| json!({"type": "FeatureCollection", "features": fs}).to_string())
}

/// WKT-ish text: real words and numbers in any order, often well formed.
fn wkt() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("POLYGON".to_owned()),
        Just("MULTIPOLYGON".to_owned()),
        Just("POINT".to_owned()),
        Just("EMPTY".to_owned()),
        Just(" Z".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(", ".to_owned()),
        Just("1e999".to_owned()),
        number().prop_map(|n| format!(" {n} ")),
    ];
    let shaped = proptest::collection::vec((0i8..4, 0i8..4), 0..8).prop_map(|pts| {
        let ring: Vec<String> = pts.iter().map(|(x, y)| format!("{x} {y}")).collect();
        format!("POLYGON(({}))", ring.join(", "))
    });
    prop_oneof![shaped, proptest::collection::vec(token, 0..16).prop_map(|t| t.concat())]
}

fn csv_text() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("code,name,wkt".to_owned()),
        Just("wkt,code,name,level,parent,valid_from,valid_to,synthetic".to_owned()),
        Just("\u{feff}Code , NAME,Wkt,colour".to_owned()),
        Just("code,name,level,parent_code".to_owned()),
    ];
    let row = (code(), "[a-z,\" ]{0,4}", wkt()).prop_map(|(code, name, wkt)| {
        let code = code.as_str().map(str::to_owned).unwrap_or_else(|| code.to_string());
        format!("{code},{name},\"{wkt}\"")
    });
    (header, proptest::collection::vec(row, 0..5)).prop_map(|(h, rows)| format!("{h}\n{}\n", rows.join("\n")))
}

/// One typical defect, or none.
#[derive(Debug, Clone, Copy)]
enum Defect {
    None,
    Unclosed,
    Repeat,
    Spike,
    BowTie,
}

fn defect() -> impl Strategy<Value = Defect> {
    prop::sample::select(vec![
        Defect::None,
        Defect::None,
        Defect::Unclosed,
        Defect::Repeat,
        Defect::Spike,
        Defect::BowTie,
    ])
}

/// A rectangle's ring, closed, with `defect` written into it.
fn rect(x0: f64, x1: f64, defect: Defect) -> Value {
    let (y0, y1) = (31.0, 32.0);
    let mut ring = vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
    match defect {
        Defect::None => {}
        Defect::Unclosed => {
            ring.pop();
        }
        Defect::Repeat => ring.insert(2, [x1, y0]),
        Defect::Spike => ring.splice(2..2, [[x1 + 0.01, y0], [x1, y0]]).for_each(drop),
        Defect::BowTie => ring.swap(1, 2),
    }
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// A city and two districts that tile it, or nearly: the border between
/// them may overlap or gap a little, the east one may stick out, and each
/// ring may carry a typical defect.
fn family() -> impl Strategy<Value = String> {
    let overlap = prop_oneof![Just(0.0), -0.05f64..0.05];
    let out = prop_oneof![Just(0.0), 0.0f64..0.08];
    (118.2f64..118.8, overlap, out, defect(), defect()).prop_map(
        |(split, overlap, out, west, east)| {
            let feature = |code: &str, geometry: Value| {
                json!({"type": "Feature", "properties": {"code": code, "name": code}, "geometry": geometry})
            };
            json!({"type": "FeatureCollection", "features": [
                feature("340200", rect(118.0, 119.0, Defect::None)),
                feature("340202", rect(118.0, split + overlap.max(0.0), west)),
                feature("340207", rect(split + overlap.min(0.0), 119.0 + out, east)),
            ]})
            .to_string()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn repairing_a_family_is_idempotent_and_leaves_clean_ones_alone(text in family()) {
        let known = KnownUnits::default();
        let plain = check_territory(&text, Format::GeoJson, &known, false);
        let repaired = check_territory(&text, Format::GeoJson, &known, true);
        if let Ok(clean) = &plain {
            let repaired = repaired.as_ref().unwrap();
            prop_assert!(repaired.changes.is_empty(), "{:?}", repaired.changes);
            prop_assert_eq!(&repaired.features, &clean.features);
        }
        match &repaired {
            Ok(fixed) => {
                let refs: Vec<&TerritoryFeature> = fixed.features.iter().collect();
                let again = to_feature_collection(&refs).to_string();
                let twice = check_territory(&again, Format::GeoJson, &known, true).unwrap();
                prop_assert!(twice.changes.is_empty(), "{:?} after {:?}", twice.changes, fixed.changes);
            }
            // Whatever is refused after repair was refused before it.
            Err(refused) => prop_assert!(plain.is_err(), "{}", refused),
        }
    }

    #[test]
    fn any_text_is_answered_without_panic(text in ".{0,200}") {
        read_everything(&text);
    }

    #[test]
    fn any_json_like_text_is_answered_without_panic(text in r#"[\[\]{}",:0-9a-zA-Z. -]{0,120}"#) {
        read_everything(&text);
    }

    #[test]
    fn any_feature_collection_is_answered_without_panic(text in collection()) {
        read_everything(&text);
    }

    #[test]
    fn any_csv_is_answered_without_panic(text in csv_text()) {
        read_everything(&text);
    }

    #[test]
    fn repair_leaves_clean_input_alone_and_finds_nothing_after_itself(text in collection()) {
        let known = KnownUnits::default();
        if let Ok(clean) = check_territory(&text, Format::GeoJson, &known, false) {
            let repaired = check_territory(&text, Format::GeoJson, &known, true).unwrap();
            prop_assert!(repaired.changes.is_empty(), "{:?}", repaired.changes);
            prop_assert_eq!(repaired.features, clean.features);
        }
        if let Ok(fixed) = check_territory(&text, Format::GeoJson, &known, true) {
            let refs: Vec<&TerritoryFeature> = fixed.features.iter().collect();
            let again = to_feature_collection(&refs).to_string();
            let twice = check_territory(&again, Format::GeoJson, &known, true).unwrap();
            prop_assert!(twice.changes.is_empty(), "{:?} after {:?}", twice.changes, fixed.changes);
        }
    }

    #[test]
    fn csv_repair_finds_nothing_after_itself(text in csv_text()) {
        if let Ok(parsed) = read_territory(&text, Format::Csv, true) {
            let refs: Vec<&TerritoryFeature> = parsed.features.iter().collect();
            let again = to_feature_collection(&refs).to_string();
            let twice = read_territory(&again, Format::GeoJson, true).unwrap();
            prop_assert!(twice.changes.is_empty(), "{:?}", twice.changes);
        }
    }
}
