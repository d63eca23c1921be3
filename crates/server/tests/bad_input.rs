//! Every kind of bad input gets a 4xx with the error shape, and nothing is written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn case_count(s: &TestServer, token: &str) -> usize {
    let v: Value = s.get("/api/v1/cases?limit=500", token).await.json().await.unwrap();
    v["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_error_shape() {
    let s = start_with(|mut c| {
        c.max_attachment_bytes = 1024;
        c
    })
    .await;
    let op = s.login("city.op").await;
    let body = |v: Value| v.to_string();

    // Malformed JSON.
    let r = s
        .req(Method::POST, "/api/v1/cases", &op)
        .header("content-type", "application/json")
        .body("{\"category\":")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "malformed_json").await;
    // Wrong content type.
    let r = s.req(Method::POST, "/api/v1/cases", &op).body(body(json!({}))).send().await.unwrap();
    assert_error(r, 415, "unsupported_media_type").await;
    // Missing and unknown fields, wrong types.
    assert_error(s.post("/api/v1/cases", &op, json!({"category": "E0101"})).await, 422, "invalid_body").await;
    let extra = json!({"category": "E0101", "description": "x", "lon": A1.0, "lat": A1.1, "colour": "red"});
    assert_error(s.post("/api/v1/cases", &op, extra).await, 422, "invalid_body").await;
    let typed = json!({"category": "E0101", "description": "x", "lon": "east", "lat": A1.1});
    assert_error(s.post("/api/v1/cases", &op, typed).await, 422, "invalid_body").await;
    // Unknown and malformed categories.
    let unknown = json!({"category": "E0999", "description": "x", "lon": A1.0, "lat": A1.1});
    assert_error(s.post("/api/v1/cases", &op, unknown).await, 422, "unknown_category").await;
    let malformed = json!({"category": "0101", "description": "x", "lon": A1.0, "lat": A1.1});
    assert_error(s.post("/api/v1/cases", &op, malformed).await, 422, "validation_failed").await;
    // A point outside the city, and one off the globe.
    let outside = json!({"category": "E0101", "description": "x", "lon": OUTSIDE.0, "lat": OUTSIDE.1});
    assert_error(s.post("/api/v1/cases", &op, outside).await, 422, "outside_territory").await;
    let off = json!({"category": "E0101", "description": "x", "lon": 200.0, "lat": 31.0});
    assert_error(s.post("/api/v1/cases", &op, off).await, 400, "invalid_point").await;
    assert_error(
        s.get(&format!("/api/v1/locate?lon={}&lat={}", OUTSIDE.0, OUTSIDE.1), &op).await,
        422,
        "outside_territory",
    )
    .await;
    assert_error(s.get("/api/v1/locate?lon=abc&lat=1", &op).await, 400, "invalid_query").await;
    // Empty description, invalid contact, unknown attachment.
    let empty = json!({"category": "E0101", "description": "  ", "lon": A1.0, "lat": A1.1});
    assert_error(s.post("/api/v1/cases", &op, empty).await, 422, "validation_failed").await;
    let bad_phone =
        json!({"category": "E0101", "description": "x", "lon": A1.0, "lat": A1.1, "contact": {"phone": "12"}});
    assert_error(s.post("/api/v1/cases", &op, bad_phone).await, 422, "invalid_contact").await;
    let bad_id = json!({"category": "E0101", "description": "x", "lon": A1.0, "lat": A1.1, "contact": {"id_number": "110105194912310021"}});
    assert_error(s.post("/api/v1/cases", &op, bad_id).await, 422, "invalid_contact").await;
    let ghost = "0".repeat(64);
    let no_photo = json!({"category": "E0101", "description": "x", "lon": A1.0, "lat": A1.1, "evidence": [ghost]});
    assert_error(s.post("/api/v1/cases", &op, no_photo).await, 422, "unknown_attachment").await;
    assert_eq!(case_count(&s, &op).await, 0, "nothing refused was written");

    // Bad territory codes.
    assert_error(s.get("/api/v1/territory/units/34x202", &op).await, 400, "invalid_code").await;
    assert_error(s.get("/api/v1/territory/units/3402021", &op).await, 400, "invalid_code").await;
    assert_error(s.get("/api/v1/territory/units/340299", &op).await, 404, "not_found").await;
    assert_error(s.get("/api/v1/cases?territory=12", &op).await, 400, "invalid_code").await;
    assert_error(s.get("/api/v1/territory/geojson?level=planet", &op).await, 400, "invalid_level").await;
    // Bad list parameters.
    assert_error(s.get("/api/v1/cases?state=lost", &op).await, 400, "invalid_state").await;
    assert_error(s.get("/api/v1/cases?bbox=1,2,3", &op).await, 400, "invalid_bbox").await;
    assert_error(s.get("/api/v1/cases?cursor=xyz", &op).await, 400, "invalid_cursor").await;
    assert_error(s.get("/api/v1/cases?limit=0", &op).await, 400, "invalid_limit").await;
    assert_error(s.get("/api/v1/cases?from=yesterday", &op).await, 400, "invalid_query").await;
    assert_error(s.get("/api/v1/cases/abc", &op).await, 400, "invalid_path").await;
    assert_error(s.get("/api/v1/cases/999999", &op).await, 404, "not_found").await;
    assert_error(s.get("/api/v1/no/such/route", &op).await, 404, "not_found").await;

    // Attachments: oversized, wrong type, empty.
    let big = {
        let mut b = PNG.to_vec();
        b.resize(4096, 0);
        b
    };
    let r = s.req(Method::POST, "/api/v1/attachments", &op).body(big).send().await.unwrap();
    assert_error(r, 413, "payload_too_large").await;
    let r = s.req(Method::POST, "/api/v1/attachments", &op).body("<html>hi</html>").send().await.unwrap();
    assert_error(r, 415, "unsupported_media_type").await;
    let r = s.req(Method::POST, "/api/v1/attachments", &op).send().await.unwrap();
    assert_error(r, 400, "empty_body").await;
    // An oversized JSON body.
    let huge = json!({"category": "E0101", "description": "x".repeat(2 * 1024 * 1024), "lon": A1.0, "lat": A1.1});
    assert_error(s.post("/api/v1/cases", &op, huge).await, 413, "payload_too_large").await;

    // Forbidden transitions and invalid actions.
    let id = s.report(&op, "E0101", A1).await;
    let body = assert_error(s.act(&op, id, json!({"action": "close"})).await, 409, "invalid_transition").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("reported") && msg.contains("register"), "{msg}");
    assert_error(s.act(&op, id, json!({"action": "teleport"})).await, 422, "invalid_body").await;
    assert_error(s.act(&op, id, json!({"action": "reject", "reason": ""})).await, 422, "validation_failed").await;
    assert_error(s.act(&op, id, json!({"action": "merge", "into": id})).await, 422, "validation_failed").await;
    assert_error(s.act(&op, id, json!({"action": "merge", "into": 424242})).await, 404, "not_found").await;
    // A case in another district is as invisible as one that does not exist.
    let elsewhere = s.report(&op, "E0101", B1).await;
    let dop = s.login("district.op").await;
    let a_case = s.report(&dop, "E0101", A2).await;
    let hidden =
        assert_error(s.act(&dop, a_case, json!({"action": "merge", "into": elsewhere})).await, 404, "not_found").await;
    let missing =
        assert_error(s.act(&dop, a_case, json!({"action": "merge", "into": 424242})).await, 404, "not_found").await;
    assert_eq!(
        hidden["error"]["message"].as_str().unwrap().replace(&elsewhere.to_string(), "N"),
        missing["error"]["message"].as_str().unwrap().replace("424242", "N")
    );
    s.act_ok(&op, id, json!({"action": "register"})).await;
    let r = s.act(&op, id, json!({"action": "dispatch", "department": "D-NOPE"})).await;
    assert_error(r, 422, "validation_failed").await;
    let r = s.act(&op, id, json!({"action": "evaluate", "rating": 9})).await;
    assert_error(r, 409, "invalid_transition").await;
    let detail: Value = s.get(&format!("/api/v1/cases/{id}"), &op).await.json().await.unwrap();
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 2, "refused actions leave no trace on the timeline");

    // Administrative writes validate too.
    let admin = s.login("admin").await;
    let r =
        s.req(Method::PUT, "/api/v1/categories/E0101", &admin).json(&json!({"code": "E0102"})).send().await.unwrap();
    assert_error(r, 422, "invalid_body").await;
    let weak = json!({"username": "new.user", "display_name": "x", "role": "citizen", "password": "short"});
    assert_error(s.post("/api/v1/users", &admin, weak).await, 422, "weak_password").await;
    let unbound =
        json!({"username": "new.op", "display_name": "x", "role": "operator", "password": "Long-Enough-2026"});
    assert_error(s.post("/api/v1/users", &admin, unbound).await, 422, "validation_failed").await;
    let taken = json!({"username": "city.op", "display_name": "x", "role": "citizen", "password": "Long-Enough-2026"});
    assert_error(s.post("/api/v1/users", &admin, taken).await, 409, "conflict").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_get_their_own_limit_above_the_json_limit() {
    let s = start().await;
    let op = s.login("city.op").await;
    let mut photo = PNG.to_vec();
    photo.resize(3 * 1024 * 1024, 7);
    let r = s.req(Method::POST, "/api/v1/attachments", &op).body(photo).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // The server answers before the body is in; a raw client reads that
    // answer even though its own writing is cut off.
    let mut huge = PNG.to_vec();
    huge.resize(11 * 1024 * 1024, 7);
    let addr = s.base.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST /api/v1/attachments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {op}\r\nContent-Length: {}\r\n\r\n",
            huge.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        let _ = huge.chunks(64 * 1024).try_for_each(|b| c.write_all(b));
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"code\":\"payload_too_large\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_past_the_horizon_are_refused_and_nearer_ones_suspend() {
    // Issue 15: an extension to a far-future date followed by a suspension
    // crashed the request worker inside the calendar.
    let s = start().await;
    let op = s.login("city.op").await;
    let dept = s.login("dept.a").await;
    let id = s.report(&op, "E0101", A1).await;
    s.act_ok(&op, id, json!({"action": "register"})).await;
    s.act_ok(&op, id, json!({"action": "dispatch"})).await;
    s.act_ok(&dept, id, json!({"action": "acknowledge"})).await;
    let past_horizon = (chrono::Utc::now() + chrono::Duration::days(10 * 366)).to_rfc3339();
    for until in ["+262000-01-01T00:00:00Z", "+262142-12-31T23:00:00Z", &past_horizon, "1999-01-01T00:00:00Z"] {
        let r = s.act(&op, id, json!({"action": "extend", "until": until, "reason": "需要大型机械"})).await;
        let body = assert_error(r, 422, "date_out_of_range").await;
        assert!(body["error"]["message"].as_str().unwrap().starts_with("extend: "), "{body}");
        // The worker survived: suspending still works, and is then undone.
        s.act_ok(&op, id, json!({"action": "suspend", "reason": "等待许可"})).await;
        s.act_ok(&op, id, json!({"action": "resume"})).await;
    }
    let detail: Value = s.get(&format!("/api/v1/cases/{id}"), &op).await.json().await.unwrap();
    let actions: Vec<&str> =
        detail["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(!actions.contains(&"extend"), "refused extensions leave no trace: {actions:?}");

    // Nine years ahead is within the horizon: extending and suspending succeed.
    let until = (chrono::Utc::now() + chrono::Duration::days(9 * 365)).to_rfc3339();
    let c = s.act_ok(&op, id, json!({"action": "extend", "until": until, "reason": "需要大型机械"})).await;
    assert_eq!(c["extensions"], 1);
    let c = s.act_ok(&op, id, json!({"action": "suspend", "reason": "等待许可"})).await;
    assert_eq!(c["state"], "suspended");
    // Nine years of working days, 7.5 hours each, give or take the holidays.
    let paused = c["paused_handle_minutes"].as_i64().unwrap();
    assert!((9 * 240 * 450..9 * 262 * 450).contains(&paused), "{paused}");
    let c = s.act_ok(&op, id, json!({"action": "resume"})).await;
    assert_eq!(c["state"], "handling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_instants_outside_the_horizon_are_refused() {
    let s = start().await;
    let op = s.login("city.op").await;
    let auditor = s.login("auditor").await;
    let far = "9999-12-31T00:00:00Z";
    for (path, token) in [
        (format!("/api/v1/cases?from={far}"), &op),
        ("/api/v1/cases?to=1899-01-01T00:00:00Z".to_owned(), &op),
        (format!("/api/v1/audit?to={far}"), &auditor),
        (format!("/api/v1/zones?at={far}"), &op),
        (format!("/api/v1/zones/at?lon={}&lat={}&at={far}", A1.0, A1.1), &op),
    ] {
        assert_error(s.get(&path, token).await, 422, "date_out_of_range").await;
    }
    // Instants inside the horizon are still filters like any other.
    assert_eq!(s.get("/api/v1/cases?from=2026-01-01T00:00:00Z", &op).await.status(), 200);
    assert_eq!(s.get("/api/v1/audit?from=2026-01-01T00:00:00Z", &auditor).await.status(), 200);
}
