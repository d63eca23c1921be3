//! Smart eyes end to end over HTTP, on the Wuhu demo's real river zones:
//! devices post detections, rules and grouping make incidents, an operator
//! promotes one to a case. Plus what every new endpoint refuses, and how.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use chrono::{Duration, Utc};
use citygrid_store::AuditFilter;
use citygrid_store::prelude::*;
use common::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// Registers a device; its API key.
async fn device(s: &TestServer, admin: &str, id: &str) -> String {
    let r = s.post("/api/v1/devices", admin, json!({"id": id, "name": id, "kind": "camera"})).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned()
}

fn item(device: &str, id: &str, label: &str, (lon, lat): (f64, f64)) -> Value {
    json!({"id": id, "device": device, "at": Utc::now() - Duration::seconds(20), "label": label,
           "score": 0.93, "lon": lon, "lat": lat, "attributes": {"sub_label": "rod"}})
}

async fn post_detections(s: &TestServer, key: &str, body: &Value) -> Response {
    s.http.post(format!("{}/api/v1/detections", s.base)).header("x-api-key", key).json(body).send().await.unwrap()
}

async fn ok_json(r: Response) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn statuses(v: &Value) -> Vec<&str> {
    v["items"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fishing_seen_by_two_cameras_becomes_one_incident_and_then_a_case() {
    let s = start_wuhu().await;
    let admin = s.login("admin").await;
    let (cam_a, cam_b) = (device(&s, &admin, "cam-a").await, device(&s, &admin, "cam-b").await);
    let p = point_in_the_ban(&s);
    let q = (p.0 + 0.001, p.1 + 0.001);

    // One batch: two good sightings, bad items beside them.
    let batch = json!({"detections": [
        item("cam-a", "a-1", "fishing", p),
        item("cam-a", "a-2", "fishing", q),
        {"id": "a-3", "device": "cam-a", "at": Utc::now(), "label": "fishing", "score": 2.0, "lon": p.0, "lat": p.1},
        {"id": "a-4", "device": "cam-a", "score": "high"},
        item("cam-b", "stolen", "fishing", p),
        item("cam-a", "a-5", "fishing", (119.9, 29.0)),
        item("cam-a", "a-6", "Fishing", p),
        item("cam-a", "a-7", "vessel", p),
    ]});
    let v = ok_json(post_detections(&s, &cam_a, &batch).await).await;
    assert_eq!(
        statuses(&v),
        ["accepted", "accepted", "rejected", "rejected", "rejected", "rejected", "rejected", "accepted"],
        "{v}"
    );
    let items = &v["items"];
    let reasons: Vec<&str> = (2..=6).map(|i| items[i]["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("score:"), "{reasons:?}");
    assert!(reasons[1].starts_with("unreadable item"), "{reasons:?}");
    assert!(reasons[2].contains("cam-b"), "a key submits for its own device only: {reasons:?}");
    assert!(reasons[3].contains("outside"), "{reasons:?}");
    assert!(reasons[4].starts_with("label:"), "{reasons:?}");
    assert_eq!(items[3]["id"], "a-4", "an unreadable item is still named");
    assert_eq!((v["accepted"].as_u64(), v["rejected"].as_u64()), (Some(3), Some(5)));
    let incident = items[0]["incident"].as_u64().expect("fishing in the ban is an incident");
    assert_eq!(items[1]["incident"].as_u64(), Some(incident), "100 m apart, one incident");
    assert!(items[7].get("incident").is_none(), "a vessel raises nothing here, but is stored");

    // The second camera, across devices: the same incident.
    let v =
        ok_json(post_detections(&s, &cam_b, &json!({"detections": [item("cam-b", "b-1", "fishing", p)]})).await).await;
    assert_eq!(v["items"][0]["incident"].as_u64(), Some(incident));

    // Sent again: duplicates, nothing counted twice.
    let v = ok_json(post_detections(&s, &cam_a, &batch).await).await;
    assert_eq!(
        statuses(&v),
        ["duplicate", "duplicate", "rejected", "rejected", "rejected", "rejected", "rejected", "duplicate"]
    );

    let op = s.login("district.op").await;
    let detail: Value = ok_json(s.get(&format!("/api/v1/incidents/{incident}"), &op).await).await;
    let inc = &detail["incident"];
    assert_eq!(inc["kind"], "illegal_fishing");
    assert_eq!(inc["state"], "open");
    assert_eq!(inc["count"], 3, "{detail}");
    assert_eq!(inc["devices"], json!(["cam-a", "cam-b"]));
    assert_eq!(inc["territory"].as_str().unwrap().get(..6), Some("340202"));
    let ids: Vec<&str> = detail["detections"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&"a-1") && ids.contains(&"a-2") && ids.contains(&"b-1"));
    assert_eq!(detail["detections"][0]["attributes"]["sub_label"], "rod");

    let list = ok_json(s.get("/api/v1/incidents?type=illegal_fishing&state=open", &op).await).await;
    assert!(list["items"].as_array().unwrap().iter().any(|i| i["id"].as_u64() == Some(incident)));
    let other = ok_json(s.get("/api/v1/incidents?type=illegal_sand_mining", &op).await).await;
    assert!(other["items"].as_array().unwrap().is_empty());
    let bbox = format!("/api/v1/incidents?bbox={},{},{},{}", p.0 - 0.01, p.1 - 0.01, p.0 + 0.01, p.1 + 0.01);
    assert_eq!(ok_json(s.get(&bbox, &op).await).await["items"].as_array().unwrap().len(), 1);

    // Out of scope, another device, a citizen: refused.
    let op_b = s.login("district.op.b").await;
    assert_error(s.get(&format!("/api/v1/incidents/{incident}"), &op_b).await, 404, "not_found").await;
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{incident}/promote"), &op_b).send().await.unwrap();
    assert_error(r, 404, "not_found").await;
    let hidden = ok_json(s.get("/api/v1/incidents", &op_b).await).await;
    assert!(hidden["items"].as_array().unwrap().iter().all(|i| i["id"].as_u64() != Some(incident)));
    let as_device = |path: &str| s.http.get(format!("{}{path}", s.base)).header("x-api-key", &cam_a).send();
    assert_error(as_device("/api/v1/incidents").await.unwrap(), 403, "forbidden").await;
    assert_error(as_device(&format!("/api/v1/incidents/{incident}")).await.unwrap(), 404, "not_found").await;
    assert_error(as_device("/api/v1/cases").await.unwrap(), 403, "forbidden").await;
    // A missing incident answers exactly like one out of sight.
    assert_error(as_device("/api/v1/incidents/999999").await.unwrap(), 404, "not_found").await;
    let theirs = s.get(&format!("/api/v1/incidents/{incident}"), &op_b).await.text().await.unwrap();
    let ghost = s.get("/api/v1/incidents/999999", &op_b).await.text().await.unwrap();
    assert_eq!(theirs.replace(&incident.to_string(), "N"), ghost.replace("999999", "N"));
    let grid = s.login("grid.worker").await;
    let r = s.req(Method::POST, "/api/v1/incidents/999999/dismiss", &grid).send().await.unwrap();
    assert_error(r, 404, "not_found").await;
    let citizen = s.login("citizen").await;
    let r = s.post("/api/v1/detections", &citizen, json!({"detections": [item("citizen", "c", "fishing", p)]})).await;
    assert_error(r, 403, "forbidden").await;

    // Promotion: a case of the fishing category at the incident, naming it.
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{incident}/promote"), &op).send().await.unwrap();
    let promoted = ok_json(r).await;
    assert_eq!(promoted["incident"]["state"], "promoted");
    let case_id = promoted["case"]["id"].as_i64().unwrap();
    assert_eq!(promoted["incident"]["case_id"].as_i64(), Some(case_id));
    let case: Value = ok_json(s.get(&format!("/api/v1/cases/{case_id}"), &op).await).await;
    assert_eq!(case["case"]["category"], "E0701");
    assert_eq!(case["case"]["source"], "alert");
    assert!(case["case"]["description"].as_str().unwrap().contains(&format!("Incident #{incident}")));
    let cases = ok_json(s.get("/api/v1/cases?category=E0701", &op).await).await;
    assert!(cases["items"].as_array().unwrap().iter().any(|c| c["id"].as_i64() == Some(case_id)));
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{incident}/promote"), &op).send().await.unwrap();
    assert_error(r, 409, "invalid_transition").await;

    // The promoted incident is closed for joining: a new sighting starts another.
    let v =
        ok_json(post_detections(&s, &cam_a, &json!({"detections": [item("cam-a", "a-9", "fishing", p)]})).await).await;
    let next = v["items"][0]["incident"].as_u64().unwrap();
    assert_ne!(next, incident);

    // Dismiss it: the rates count it as a false positive of cam-a and its rule.
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{next}/dismiss"), &op).send().await.unwrap();
    assert_eq!(ok_json(r).await["incident"]["state"], "dismissed");
    let stats = ok_json(s.get("/api/v1/incidents/stats", &op).await).await;
    let cam = stats["devices"].as_array().unwrap().iter().find(|d| d["key"] == "cam-a").unwrap().clone();
    assert_eq!((cam["total"].as_u64(), cam["dismissed"].as_u64()), (Some(3), Some(1)), "{stats}");
    assert!((cam["rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);

    // One audit record per batch that stored something.
    let f = AuditFilter { action: Some("detections.record".into()), ..AuditFilter::default() };
    assert_eq!(s.app.store.audit_records(f).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_out_of_bounds_requests_get_their_codes() {
    let s = start_with(|c| citygrid_server::ServerConfig { max_intake_bytes: 64 * 1024, ..c }).await;
    let admin = s.login("admin").await;
    let key = device(&s, &admin, "cam-x").await;
    let post_raw = |body: String| {
        s.http
            .post(format!("{}/api/v1/detections", s.base))
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(post_raw("{".into()).await.unwrap(), 400, "malformed_json").await;
    assert_error(post_raw("{}".into()).await.unwrap(), 422, "invalid_body").await;
    assert_error(post_raw(r#"{"detections":[],"x":1}"#.into()).await.unwrap(), 422, "invalid_body").await;
    assert_error(post_raw(r#"{"detections":[]}"#.into()).await.unwrap(), 422, "no_detections").await;
    let many: Vec<Value> = (0..1001).map(|i| json!({"id": i})).collect();
    let body = json!({ "detections": many }).to_string();
    assert!(body.len() < 64 * 1024);
    assert_error(post_raw(body).await.unwrap(), 422, "too_many_detections").await;
    let big = json!({"detections": [{"id": "x".repeat(70 * 1024)}]}).to_string();
    assert_error(post_raw(big).await.unwrap(), 413, "payload_too_large").await;
    let r = s.http.post(format!("{}/api/v1/detections", s.base)).json(&json!({"detections": []})).send().await;
    assert_error(r.unwrap(), 401, "unauthenticated").await;

    // One item per bound: each rejected alone, with the field named.
    let at = Utc::now();
    let good =
        json!({"id": "g", "device": "cam-x", "at": at, "label": "smoke", "score": 0.8, "lon": A1.0, "lat": A1.1});
    let with = |k: &str, v: Value| {
        let mut x = good.clone();
        x["id"] = json!(format!("bad-{k}"));
        x[k] = v;
        x
    };
    let body = json!({"detections": [
        good.clone(),
        with("at", json!(at + Duration::hours(1))),
        with("at", json!(at - Duration::days(31))),
        with("lon", json!(200.0)),
        with("evidence", json!(["nothex"])),
        with("attributes", json!([1, 2])),
        with("device", json!("X!")),
        with("id", json!("")),
    ]});
    let v = ok_json(post_detections(&s, &key, &body).await).await;
    let reasons: Vec<String> = v["items"].as_array().unwrap()[1..]
        .iter()
        .map(|i| {
            assert_eq!(i["status"], "rejected", "{i}");
            i["reason"].as_str().unwrap().to_owned()
        })
        .collect();
    let fields: Vec<&str> = reasons.iter().map(|r| r.split(':').next().unwrap()).collect();
    assert_eq!(fields, ["at", "at", "lon/lat", "evidence[0]", "attributes", "device", "id"], "{reasons:?}");
    assert_eq!(v["items"][0]["status"], "accepted");
    let smoke = v["items"][0]["incident"].as_u64().unwrap();

    let op = s.login("district.op").await;
    for (path, code) in [
        ("/api/v1/incidents?limit=0", "invalid_limit"),
        ("/api/v1/incidents?limit=501", "invalid_limit"),
        ("/api/v1/incidents?type=fishing", "invalid_type"),
        ("/api/v1/incidents?state=closed", "invalid_state"),
        ("/api/v1/incidents?bbox=1,2,3", "invalid_bbox"),
        ("/api/v1/incidents?cursor=bogus", "invalid_cursor"),
        ("/api/v1/incidents?from=yesterday", "invalid_query"),
        ("/api/v1/incidents?colour=red", "invalid_query"),
        ("/api/v1/incidents/abc", "invalid_path"),
        ("/api/v1/incidents/-1", "invalid_path"),
    ] {
        assert_error(s.get(path, &op).await, 400, code).await;
    }
    assert_error(s.get("/api/v1/incidents/999999", &op).await, 404, "not_found").await;
    assert_error(s.get("/api/v1/incidents/18446744073709551615", &op).await, 404, "not_found").await;
    let merge =
        |id: u64, body: Value| s.req(Method::POST, &format!("/api/v1/incidents/{id}/merge"), &op).json(&body).send();
    assert_error(merge(smoke, json!({"into": smoke})).await.unwrap(), 409, "invalid_transition").await;
    assert_error(merge(smoke, json!({"into": 999_999})).await.unwrap(), 404, "not_found").await;
    assert_error(merge(smoke, json!({"into": "one"})).await.unwrap(), 422, "invalid_body").await;
    // Air pollution has no promotion category in the fixture's catalogue.
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{smoke}/promote"), &op).send().await.unwrap();
    assert_error(r, 422, "unknown_category").await;
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{smoke}/confirm"), &op).send().await.unwrap();
    assert_eq!(ok_json(r).await["incident"]["state"], "confirmed");
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{smoke}/confirm"), &op).send().await.unwrap();
    assert_error(r, 409, "invalid_transition").await;
    let grid = s.login("grid.worker").await;
    let r = s.req(Method::POST, &format!("/api/v1/incidents/{smoke}/dismiss"), &grid).send().await.unwrap();
    assert_error(r, 403, "forbidden").await;

    let doc = ok_json(s.http.get(format!("{}/api/openapi.json", s.base)).send().await.unwrap()).await;
    for path in ["/api/v1/detections", "/api/v1/incidents", "/api/v1/incidents/{id}", "/api/v1/incidents/stats"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}

/// A GB/T 28181 alarm posted over HTTP is one detection of the key's
/// device, kept once however often it is sent; what is not an alarm, or
/// comes with no place, is refused with its code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gb28181_alarms_over_http_are_detections_kept_once() {
    let s = start_wuhu().await;
    let admin = s.login("admin").await;
    let (lon, lat) = point_in_the_ban(&s);
    let r = s
        .post(
            "/api/v1/devices",
            &admin,
            json!({"id": "gb-cam-1", "name": "卡口 1", "kind": "camera", "lon": lon, "lat": lat}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned();
    let bare = device(&s, &admin, "gb-cam-2").await;
    let post = |key: &str, body: String| {
        s.http
            .post(format!("{}/api/v1/intake/gb28181", s.base))
            .header("x-api-key", key)
            .header("content-type", "application/xml")
            .body(body)
            .send()
    };
    // The documented alarm, fired a minute ago (detections older than 30 days are refused).
    let fired = (Utc::now() - Duration::minutes(1)).with_timezone(&citygrid_domain::calendar::cst()).naive_local();
    let stamp = fired.format("%Y-%m-%dT%H:%M:%S").to_string();
    let example = citygrid_server::routes::gb28181::EXAMPLE.replace("2026-12-02T12:00:00", &stamp);
    let example = example.as_str();
    let here = example.replace("118.37", &lon.to_string()).replace("31.33", &lat.to_string());
    let first = ok_json(post(&key, here.clone()).await.unwrap()).await;
    assert_eq!((first["status"].as_str(), first["device"].as_str()), (Some("accepted"), Some("gb-cam-1")), "{first}");
    assert_eq!(first["id"], format!("17430-{}", fired.format("%Y%m%dT%H%M%S")));
    let again = ok_json(post(&key, here).await.unwrap()).await;
    assert_eq!(again["status"], "duplicate");

    // Without coordinates the registered position is used; a device without one is refused.
    let nowhere =
        example.replace("<Longitude>118.37</Longitude><Latitude>31.33</Latitude>", "").replace("17430", "17431");
    assert_eq!(ok_json(post(&key, nowhere.clone()).await.unwrap()).await["status"], "accepted");
    assert_error(post(&bare, nowhere).await.unwrap(), 422, "no_position").await;

    assert_error(post(&key, "<Notify><CmdType>Catalog</CmdType></Notify>".into()).await.unwrap(), 400, "invalid_alarm")
        .await;
    assert_error(post(&key, "<!DOCTYPE x [<!ENTITY a \"b\">]><Notify/>".into()).await.unwrap(), 400, "invalid_alarm")
        .await;
    let op = s.login("city.op").await;
    let as_user = s
        .http
        .post(format!("{}/api/v1/intake/gb28181", s.base))
        .bearer_auth(&op)
        .body(example.to_owned())
        .send()
        .await
        .unwrap();
    assert_error(as_user, 403, "forbidden").await;
}
