//! Importing boundaries into a running server: validated against what is
//! loaded, refused with every problem located and nothing changed, written
//! all or nothing, and located against at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use citygrid_store::AuditFilter;
use citygrid_store::prelude::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const IMPORT: &str = "/api/v1/territory/import";

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!([[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]])
}

fn grid(code: &str, ring: Value) -> Value {
    json!({"type": "Feature", "properties": {"code": code, "name": format!("网格 {code}")},
           "geometry": {"type": "Polygon", "coordinates": ring}})
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

async fn send(
    s: &TestServer,
    token: &str,
    query: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let r = s
        .req(Method::POST, &format!("{IMPORT}{query}"), token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn deepest(s: &TestServer, token: &str, p: (f64, f64)) -> String {
    let v: Value = s.get(&format!("/api/v1/locate?lon={}&lat={}", p.0, p.1), token).await.json().await.unwrap();
    v["chain"].as_array().unwrap().last().unwrap()["code"].as_str().unwrap().to_owned()
}

/// The fixture's community 340202001001 is split north/south into grids
/// 001 and 002; the file re-splits it west/east.
fn west_east() -> String {
    collection(vec![
        grid("340202001001001", square(118.0, 31.0, 118.1, 31.2)),
        grid("340202001001002", square(118.1, 31.0, 118.2, 31.2)),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_file_replaces_boundaries_and_locate_follows_at_once() {
    let s = start().await;
    let admin = s.login("admin").await;
    let op = s.login("city.op").await;
    let south_west = (118.05, 31.05);
    assert_eq!(deepest(&s, &op, south_west).await, "340202001001002", "south half before");

    // A dry run checks and changes nothing.
    let (status, body) = send(&s, &admin, "?dry_run=true", "application/geo+json", west_east()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["units"], 2);
    assert_eq!(body["imported"], 0);
    assert_eq!(deepest(&s, &op, south_west).await, "340202001001002");

    let (status, body) = send(&s, &admin, "", "application/geo+json", west_east()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2);
    assert_eq!(body["changes"], json!([]));
    // The next request locates against the new boundaries.
    assert_eq!(deepest(&s, &op, south_west).await, "340202001001001", "west half after");
    assert_eq!(deepest(&s, &op, (118.15, 31.15)).await, "340202001001002");
    let unit: Value = s.get("/api/v1/territory/units/340202001001001", &op).await.json().await.unwrap();
    assert_eq!(unit["unit"]["bbox"], json!([118.0, 31.0, 118.1, 31.2]), "{unit}");

    let trail = s
        .app
        .store
        .audit_records(AuditFilter { action: Some("territory.import".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1, "one write, one record; the dry run wrote none");
    assert_eq!(trail[0].event.actor, "admin");

    // CSV with WKT boundaries goes through the same path: back to north/south.
    let csv = "code,name,wkt\n\
        340202001001001,北,\"POLYGON((118.0 31.1,118.2 31.1,118.2 31.2,118.0 31.2,118.0 31.1))\"\n\
        340202001001002,南,\"POLYGON((118.0 31.0,118.2 31.0,118.2 31.1,118.0 31.1,118.0 31.0))\"\n";
    let (status, body) = send(&s, &admin, "", "text/csv; charset=utf-8", csv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(deepest(&s, &op, south_west).await, "340202001001002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_is_refused_with_located_problems_and_changes_nothing() {
    let s = start().await;
    let admin = s.login("admin").await;
    let before = s.app.store.territory().await.unwrap();

    // A new grid lying over both existing grids of its community, and a
    // grid far outside its parent.
    let file = collection(vec![
        grid("340202001001003", square(118.0, 31.05, 118.2, 31.15)),
        grid("340207001001003", square(118.6, 31.0, 118.7, 31.1)),
    ]);
    let (status, body) = send(&s, &admin, "", "application/geo+json", file).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_boundaries");
    let problems = body["problems"].as_array().unwrap();
    let kinds: Vec<&str> = problems.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"siblings_overlap"), "{body}");
    assert!(kinds.contains(&"outside_parent"), "{body}");
    for p in problems {
        assert!(p["location"].is_object() || p["location"].is_array(), "every problem is located: {p}");
    }
    assert_eq!(s.app.store.territory().await.unwrap(), before, "nothing written");

    // An unclosed ring: refused as written, accepted with repair, which says what it changed.
    let open = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "340202001001001", "name": "北"},
        "geometry": {"type": "Polygon", "coordinates": [[[118.0, 31.1], [118.2, 31.1], [118.2, 31.2], [118.0, 31.2]]]}
    }]})
    .to_string();
    let (status, body) = send(&s, &admin, "", "application/geo+json", open.clone()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["problems"][0]["kind"], "unclosed_ring", "{body}");
    let (status, body) = send(&s, &admin, "?repair=true", "application/geo+json", open).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 1);
    let change = body["changes"][0]["message"].as_str().unwrap();
    assert!(change.contains("closed"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let s = start().await;
    let admin = s.login("admin").await;
    let worker = s.login("grid.worker").await;

    let r = s.http.post(format!("{}{IMPORT}", s.base)).body(west_east()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (status, body) = send(&s, &worker, "", "application/geo+json", west_east()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = send(&s, &admin, "", "text/plain", west_east()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let (status, body) = send(&s, &admin, "", "application/geo+json", "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("empty_body")));
    let (status, body) = send(&s, &admin, "", "application/geo+json", vec![0xff, 0xfe, 0x00]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_encoding")));
    let (status, body) = send(&s, &admin, "", "application/geo+json", "{not json").await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_boundaries")));
    let (status, body) = send(&s, &admin, "?dry_run=maybe", "application/geo+json", west_east()).await;
    assert_eq!(status, 400, "{body}");
}
