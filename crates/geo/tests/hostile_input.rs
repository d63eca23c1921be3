//! Input built to hurt the reader: nesting deep enough to exhaust a
//! recursive parser's stack must be refused as a problem, with and without
//! `--repair`, never abort the process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid_geo::repair::{Format, check_territory, render_check};
use citygrid_geo::{KnownUnits, ProblemKind};

fn refused(text: &str, format: Format) -> Vec<String> {
    let mut out = Vec::new();
    for repair in [false, true] {
        let result = check_territory(text, format, &KnownUnits::default(), repair);
        let r = result.as_ref().expect_err("refused");
        out.push(render_check(&result, format));
        assert!(r.changes.is_empty(), "{r}");
    }
    out
}

#[test]
fn five_thousand_nested_geometry_collections_in_csv_are_a_bad_geometry() {
    let deep = format!("GEOMETRYCOLLECTION({}", "GEOMETRYCOLLECTION(".repeat(4_999));
    let text = format!(
        "code,name,wkt\n340200,city,\"POLYGON((118 31, 119 31, 119 32, 118 32, 118 31))\"\n340202,deep,\"{deep}\"\n"
    );
    for report in refused(&text, Format::Csv) {
        assert_eq!(
            report,
            "1 problem(s):\n  row 2 (340202): bad_geometry: WKT type GEOMETRYCOLLECTION is not POLYGON or MULTIPOLYGON"
        );
    }
    let closed = format!("{deep}{}", ")".repeat(5_000));
    let text = format!("code,name,wkt\n340202,deep,\"{closed}\"\n");
    for report in refused(&text, Format::Csv) {
        assert!(report.contains("row 1 (340202): bad_geometry"), "{report}");
    }
}

#[test]
fn a_polygon_nested_five_thousand_deep_is_a_bad_geometry() {
    let text = format!("code,name,wkt\n340202,deep,\"MULTIPOLYGON{}0 0{}\"\n", "(".repeat(5_000), ")".repeat(5_000));
    for report in refused(&text, Format::Csv) {
        assert!(report.contains("bad_geometry: unreadable WKT: parentheses nest 5000 deep"), "{report}");
    }
}

#[test]
fn deeply_nested_geojson_is_an_unreadable_document() {
    let text = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    for report in refused(&text, Format::GeoJson) {
        assert!(report.contains(ProblemKind::Document.as_str()), "{report}");
    }
    let coords = format!("{}0, 0{}", "[".repeat(5_000), "]".repeat(5_000));
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"340202","name":"x"}},
        "geometry":{{"type":"Polygon","coordinates":{coords}}}}}]}}"#
    );
    for report in refused(&text, Format::GeoJson) {
        assert!(report.contains("problem(s)"), "{report}");
    }
}
