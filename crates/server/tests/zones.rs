//! Zones through the API: an administrator defines them, every user role
//! reads them, point queries respect validity and schedules, and bad input
//! is refused with the standard error shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use citygrid_store::AuditFilter;
use citygrid_store::prelude::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// A square of `half` degrees around `p`, as a GeoJSON Polygon.
fn square(p: (f64, f64), half: f64) -> Value {
    let (x, y) = p;
    json!({"type": "Polygon", "coordinates": [[
        [x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half], [x - half, y - half]
    ]]})
}

async fn put(s: &TestServer, token: &str, id: &str, body: Value) -> reqwest::Response {
    s.req(Method::PUT, &format!("/api/v1/zones/{id}"), token).json(&body).send().await.unwrap()
}

async fn put_ok(s: &TestServer, token: &str, zone: Value, geometry: Value) -> Value {
    let id = zone["id"].as_str().unwrap().to_owned();
    let r = put(s, token, &id, json!({"zone": zone, "geometry": geometry})).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|z| z["id"].as_str().unwrap()).collect()
}

/// Three zones: a key area around A1 (district A), a fishing ban around B1
/// (2021–2030, nights only), and a water section over both districts.
async fn fixture(s: &TestServer, admin: &str) {
    let key = put_ok(
        s,
        admin,
        json!({"id": "key-a1", "name": "A1 广场", "kind": "key_area", "valid_from": "2024-01-01", "territory": "340202",
               "note": "fixture"}),
        square(A1, 0.01),
    )
    .await;
    assert_eq!(key["kind"], "key_area");
    assert_eq!(key["active"], true);
    assert_eq!(key["territory"], "340202");
    assert!((key["bbox"][0].as_f64().unwrap() - (A1.0 - 0.01)).abs() < 1e-9, "{key}");
    put_ok(
        s,
        admin,
        json!({"id": "ban-b1", "name": "夜间禁捕", "kind": "fishing_ban_water", "valid_from": "2021-01-01",
               "valid_to": "2030-12-31", "territory": "340207",
               "schedule": {"hours": [{"from": "22:00", "to": "06:00"}]}}),
        square(B1, 0.01),
    )
    .await;
    put_ok(
        s,
        admin,
        json!({"id": "ws-1", "name": "断面 1", "kind": "water_section", "valid_from": "2024-01-01",
               "territory": "340200", "target_class": "II"}),
        json!({"type": "MultiPolygon", "coordinates": [square((118.15, 31.15), 0.11)["coordinates"].clone()]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_end_to_end() {
    let s = start().await;
    let admin = s.login("admin").await;
    let worker = s.login("grid.worker").await;
    let r = s.get("/api/v1/zones", &worker).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]), "a fresh store has no zones");
    fixture(&s, &admin).await;

    // Listing: by kind then id; filters by kind and by activity.
    let all: Value = s.get("/api/v1/zones", &worker).await.json().await.unwrap();
    assert_eq!(ids(&all), ["key-a1", "ban-b1", "ws-1"]);
    assert_eq!(all[2]["target_class"], "II");
    assert_eq!(all[1]["schedule"]["hours"][0]["from"], "22:00");
    let keys: Value = s.get("/api/v1/zones?kind=key_area", &worker).await.json().await.unwrap();
    assert_eq!(ids(&keys), ["key-a1"]);
    // Noon in Wuhu: the night ban is off; 23:00 it is on; in 2031 it has ended.
    let noon: Value = s.get("/api/v1/zones?at=2026-05-01T12:00:00%2B08:00", &worker).await.json().await.unwrap();
    assert_eq!(ids(&noon), ["key-a1", "ws-1"]);
    let night: Value = s.get("/api/v1/zones?at=2026-05-01T15:00:00Z", &worker).await.json().await.unwrap();
    assert_eq!(ids(&night), ["key-a1", "ban-b1", "ws-1"]);
    // An unencoded '+' arrives as a space and is still understood.
    let plus: Value = s.get("/api/v1/zones?at=2026-05-01T23:00:00+08:00", &worker).await.json().await.unwrap();
    assert_eq!(ids(&plus), ["key-a1", "ban-b1", "ws-1"]);
    let later: Value = s.get("/api/v1/zones?at=2031-01-01T23:00:00%2B08:00", &worker).await.json().await.unwrap();
    assert_eq!(ids(&later), ["key-a1", "ws-1"]);

    // Point queries.
    let at = |p: (f64, f64), when: &str| format!("/api/v1/zones/at?lon={}&lat={}&at={when}", p.0, p.1);
    let here: Value = s.get(&at(A1, "2026-05-01T04:00:00Z"), &worker).await.json().await.unwrap();
    assert_eq!(ids(&here["zones"]), ["key-a1", "ws-1"]);
    assert_eq!(here["point"], json!({"lon": A1.0, "lat": A1.1}));
    assert_eq!(here["at"], "2026-05-01T04:00:00Z");
    let b_noon: Value = s.get(&at(B1, "2026-05-01T04:00:00Z"), &worker).await.json().await.unwrap();
    assert_eq!(ids(&b_noon["zones"]), ["ws-1"]);
    let b_night: Value = s.get(&at(B1, "2026-05-01T16:30:00Z"), &worker).await.json().await.unwrap();
    assert_eq!(ids(&b_night["zones"]), ["ban-b1", "ws-1"]);
    assert_eq!(b_night["zones"][0]["active"], true);
    let nowhere: Value = s.get(&at(OUTSIDE, "2026-05-01T04:00:00Z"), &worker).await.json().await.unwrap();
    assert_eq!(nowhere["zones"], json!([]));
    // Without `at`, now.
    let now: Value = s.get(&format!("/api/v1/zones/at?lon={}&lat={}", A1.0, A1.1), &worker).await.json().await.unwrap();
    assert!(ids(&now["zones"]).contains(&"key-a1"), "{now}");

    // GeoJSON.
    let r = s.get("/api/v1/zones/geojson?kind=water_section", &worker).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let fc: Value = r.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["features"].as_array().unwrap().len(), 1);
    let f = &fc["features"][0];
    assert_eq!(f["geometry"]["type"], "MultiPolygon");
    for key in ["id", "name", "kind", "valid_from", "valid_to", "target_class", "schedule"] {
        assert!(f["properties"].get(key).is_some(), "property {key}: {f}");
    }
    assert_eq!(f["properties"]["target_class"], "II");
    let all_fc: Value = s.get("/api/v1/zones/geojson", &worker).await.json().await.unwrap();
    assert_eq!(all_fc["features"].as_array().unwrap().len(), 3);

    // Replacing a zone changes what point queries see, at once.
    put_ok(
        &s,
        &admin,
        json!({"id": "key-a1", "name": "A2 广场", "kind": "key_area", "valid_from": "2024-01-01", "territory": "340202"}),
        square(A2, 0.01),
    )
    .await;
    let moved: Value = s.get(&at(A1, "2026-05-01T04:00:00Z"), &worker).await.json().await.unwrap();
    assert_eq!(ids(&moved["zones"]), ["ws-1"]);
    let moved: Value = s.get(&at(A2, "2026-05-01T04:00:00Z"), &worker).await.json().await.unwrap();
    assert_eq!(ids(&moved["zones"]), ["key-a1", "ws-1"]);

    // Every change is audited, and the store holds what the API said.
    let trail =
        s.app.store.audit_records(AuditFilter { action: Some("zone.put".into()), ..Default::default() }).await.unwrap();
    assert_eq!(trail.len(), 4);
    assert_eq!(trail[3].event.resource, "zone/key-a1");
    assert_eq!(trail[3].event.actor, "admin");
    assert_eq!(s.app.store.zones().await.unwrap().len(), 3);

    // Documented.
    let doc: Value = s.http.get(format!("{}/api/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    for (path, method) in [
        ("/api/v1/zones", "get"),
        ("/api/v1/zones/geojson", "get"),
        ("/api/v1/zones/at", "get"),
        ("/api/v1/zones/{id}", "put"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not in the OpenAPI document");
    }
    for schema in ["Zone", "ZoneKind", "WaterClass", "Schedule", "ZoneView", "ZoneInput"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    assert!(doc["paths"]["/api/v1/zones/{id}"]["delete"].is_object());

    // Locating a point names the zones that apply there now, beside its chain.
    let loc: Value = s.get(&format!("/api/v1/locate?lon={}&lat={}", A2.0, A2.1), &worker).await.json().await.unwrap();
    assert_eq!(ids(&loc["zones"]), ["key-a1", "ws-1"], "{loc}");
    assert_eq!(loc["zones"][0]["kind"], "key_area");
    let batch = json!({"points": [[A2.0, A2.1], [OUTSIDE.0, OUTSIDE.1], [B1.0, B1.1]], "zones": true});
    let r: Value = s.post("/api/v1/locate", &worker, batch).await.json().await.unwrap();
    assert_eq!(r["results"][0]["zones"], json!(["key-a1", "ws-1"]), "{r}");
    assert_eq!(r["results"][1], Value::Null);
    assert!(r["results"][2]["chain"].as_array().is_some_and(|c| c.len() >= 2), "{r}");
    let plain: Value = s.post("/api/v1/locate", &worker, json!({"points": [[A2.0, A2.1]]})).await.json().await.unwrap();
    assert!(plain["results"][0].get("zones").is_none(), "zones only when asked for: {plain}");

    // Deleting: gone from the list and from point queries at once; audited; a second delete is 404.
    let del = |token: &str| s.req(Method::DELETE, "/api/v1/zones/key-a1", token).send();
    assert_eq!(del(&worker).await.unwrap().status(), 403);
    assert_eq!(del(&admin).await.unwrap().status(), 204);
    let r = del(&admin).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let loc: Value = s.get(&format!("/api/v1/locate?lon={}&lat={}", A2.0, A2.1), &worker).await.json().await.unwrap();
    assert_eq!(ids(&loc["zones"]), ["ws-1"]);
    assert_eq!(s.app.store.zones().await.unwrap().len(), 2);
    let trail = s
        .app
        .store
        .audit_records(AuditFilter { action: Some("zone.delete".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1, "one delete succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_zone_input_is_refused_and_changes_nothing() {
    let s = start().await;
    let admin = s.login("admin").await;
    fixture(&s, &admin).await;
    let zone = |id: &str| json!({"id": id, "name": "x", "kind": "key_area", "valid_from": "2024-01-01"});
    let with = |z: Value, g: Value| json!({"zone": z, "geometry": g});

    // The path and the body disagree.
    assert_error(put(&s, &admin, "other", with(zone("z1"), square(A1, 0.01))).await, 422, "validation_failed").await;
    // Domain rules: a water section needs its class, others may not have one; dates in order; hours non-empty.
    let mut ws = zone("z1");
    ws["kind"] = json!("water_section");
    assert_error(put(&s, &admin, "z1", with(ws, square(A1, 0.01))).await, 422, "validation_failed").await;
    let mut classy = zone("z1");
    classy["target_class"] = json!("III");
    assert_error(put(&s, &admin, "z1", with(classy, square(A1, 0.01))).await, 422, "validation_failed").await;
    let mut backwards = zone("z1");
    backwards["valid_to"] = json!("2020-01-01");
    assert_error(put(&s, &admin, "z1", with(backwards, square(A1, 0.01))).await, 422, "validation_failed").await;
    let mut empty_hours = zone("z1");
    empty_hours["schedule"] = json!({"hours": [{"from": "08:00", "to": "08:00"}]});
    assert_error(put(&s, &admin, "z1", with(empty_hours, square(A1, 0.01))).await, 422, "validation_failed").await;
    let bad_id = json!({"id": "no spaces", "name": "x", "kind": "key_area", "valid_from": "2024-01-01"});
    assert_error(put(&s, &admin, "no%20spaces", with(bad_id, square(A1, 0.01))).await, 422, "validation_failed").await;
    // Unknown kinds, malformed month-days and times are body errors.
    let mut kind = zone("z1");
    kind["kind"] = json!("swimming_pool");
    assert_error(put(&s, &admin, "z1", with(kind, square(A1, 0.01))).await, 422, "invalid_body").await;
    let mut season = zone("z1");
    season["schedule"] = json!({"seasons": [{"from": "02-30", "to": "06-30"}]});
    assert_error(put(&s, &admin, "z1", with(season, square(A1, 0.01))).await, 422, "invalid_body").await;
    // Geometry: not a polygon, self-intersecting, out of range, outside its territory.
    let line = json!({"type": "LineString", "coordinates": [[118.0, 31.0], [118.1, 31.1]]});
    assert_error(put(&s, &admin, "z1", with(zone("z1"), line)).await, 422, "invalid_geometry").await;
    let bowtie = json!({"type": "Polygon", "coordinates": [[[118.0, 31.0], [118.1, 31.1], [118.1, 31.0], [118.0, 31.1], [118.0, 31.0]]]});
    assert_error(put(&s, &admin, "z1", with(zone("z1"), bowtie)).await, 422, "invalid_geometry").await;
    assert_error(put(&s, &admin, "z1", with(zone("z1"), square((200.0, 31.0), 0.1))).await, 422, "invalid_geometry")
        .await;
    // Empty rings and too many positions (an empty ring once got stored and then could not be loaded).
    for empty in [
        json!({"type": "Polygon", "coordinates": [[]]}),
        json!({"type": "Polygon", "coordinates": []}),
        json!({"type": "MultiPolygon", "coordinates": [[[]]]}),
        json!({"type": "Polygon", "coordinates": [[[118.0, 31.0], [118.1, 31.0], [118.0, 31.0]]]}),
    ] {
        assert_error(put(&s, &admin, "z1", with(zone("z1"), empty)).await, 422, "invalid_geometry").await;
    }
    let n = 60_000;
    let big: Vec<Value> = (0..=n)
        .map(|k| {
            let a = std::f64::consts::TAU * f64::from(k % n) / f64::from(n);
            json!([118.1 + 0.01 * a.cos(), 31.1 + 0.01 * a.sin()])
        })
        .collect();
    let r = s
        .req(Method::PUT, "/api/v1/zones/z1", &admin)
        .json(&with(zone("z1"), json!({"type": "Polygon", "coordinates": [big]})))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 422 || r.status() == 413, "{}", r.status());
    let not_json = json!({"type": "Polygon", "coordinates": "nope"});
    assert_error(put(&s, &admin, "z1", with(zone("z1"), not_json)).await, 422, "invalid_geometry").await;
    let mut owned = zone("z1");
    owned["territory"] = json!("340207");
    assert_error(put(&s, &admin, "z1", with(owned.clone(), square(A1, 0.01))).await, 422, "invalid_geometry").await;
    owned["territory"] = json!("340299");
    assert_error(put(&s, &admin, "z1", with(owned, square(A1, 0.01))).await, 422, "validation_failed").await;
    // Transport-level errors keep the shape too.
    let r = s
        .req(Method::PUT, "/api/v1/zones/z1", &admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "malformed_json").await;
    // Non-administrators may not define zones.
    let op = s.login("city.op").await;
    assert_error(put(&s, &op, "z1", with(zone("z1"), square(A1, 0.01))).await, 403, "forbidden").await;

    // Bad queries.
    let worker = s.login("grid.worker").await;
    assert_error(s.get("/api/v1/zones?kind=lake", &worker).await, 400, "invalid_kind").await;
    assert_error(s.get("/api/v1/zones?at=yesterday", &worker).await, 400, "invalid_time").await;
    assert_error(s.get("/api/v1/zones/geojson?at=2026-13-01T00:00:00Z", &worker).await, 400, "invalid_time").await;
    assert_error(s.get("/api/v1/zones/at?lon=118.1", &worker).await, 400, "invalid_query").await;
    assert_error(s.get("/api/v1/zones/at?lon=218.1&lat=31.1", &worker).await, 400, "invalid_point").await;

    // Nothing of the above was stored, and zones can still be written.
    let stored: Vec<String> = s.app.store.zones().await.unwrap().into_iter().map(|z| z.zone.id).collect();
    assert_eq!(stored, ["ban-b1", "key-a1", "ws-1"]);
    put_ok(&s, &admin, zone("z2"), square(A1, 0.01)).await;
    let listed: Value = s.get("/api/v1/zones", &worker).await.json().await.unwrap();
    assert_eq!(ids(&listed), ["key-a1", "z2", "ban-b1", "ws-1"]);
}
