//! A case driven from report to close over HTTP, through every side path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_to_close_with_return_rework_extension_and_suspension() {
    let s = start().await;
    let gw = s.login("grid.worker").await;
    let op = s.login("township.op").await;
    let dept = s.login("dept.a").await;
    let citizen = s.login("citizen").await;

    // Report with a photo: located to the grid, deadline set, timeline started.
    let photo = s.upload_photo(&gw).await;
    let r = s
        .post(
            "/api/v1/cases",
            &gw,
            json!({"category": "E0101", "description": "绿化带垃圾堆放", "lon": A1.0, "lat": A1.1, "evidence": [photo]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/api/v1/cases/"));
    let created: Value = r.json().await.unwrap();
    let id = created["case"]["id"].as_i64().unwrap();
    assert_eq!(created["case"]["territory"], "340202001001001");
    assert_eq!(created["case"]["source"], "grid_worker");
    assert_eq!(created["case"]["state"], "reported");
    assert_eq!(created["case"]["node"], "register");
    assert!(created["case"]["deadline"].is_string());

    // A second report nearby is flagged as a possible duplicate.
    let dup = s
        .post(
            "/api/v1/cases",
            &gw,
            json!({"category": "E0101", "description": "同一处垃圾", "lon": A1.0 + 0.0005, "lat": A1.1}),
        )
        .await;
    let dup: Value = dup.json().await.unwrap();
    assert_eq!(dup["possible_duplicates"][0]["id"], id);
    let dup_id = dup["case"]["id"].as_i64().unwrap();
    let merged = s.act_ok(&op, dup_id, json!({"action": "merge", "into": id})).await;
    assert_eq!((merged["state"].as_str(), merged["merged_into"].as_i64()), (Some("merged"), Some(id)));

    // Register, dispatch (department chosen from the category), return, re-dispatch.
    let c = s.act_ok(&op, id, json!({"action": "register"})).await;
    assert_eq!(c["state"], "registered");
    let c = s.act_ok(&op, id, json!({"action": "dispatch"})).await;
    assert_eq!((c["state"].as_str(), c["department"].as_str()), (Some("dispatched"), Some("D340202-UM")));
    let r = s.act(&dept, id, json!({"action": "return"})).await;
    assert_error(r, 422, "invalid_body").await;
    let c = s.act_ok(&dept, id, json!({"action": "return", "reason": "需要园林部门协同"})).await;
    assert_eq!((c["state"].as_str(), c["returns"].as_u64()), (Some("returned"), Some(1)));
    let c =
        s.act_ok(&op, id, json!({"action": "dispatch", "department": "D340202-UM", "assists": ["D340200-EE"]})).await;
    assert_eq!(c["assists"], json!(["D340200-EE"]));

    // Acknowledge, suspend (clock paused), resume, extend.
    let c = s.act_ok(&dept, id, json!({"action": "acknowledge"})).await;
    assert_eq!(c["state"], "handling");
    let c = s.act_ok(&op, id, json!({"action": "suspend", "reason": "等待产权单位确认"})).await;
    assert_eq!(c["state"], "suspended");
    assert!(c.get("deadline").is_none(), "a suspended case has no running deadline");
    assert!(c["paused_minutes"].as_i64().unwrap() > 0);
    let c = s.act_ok(&op, id, json!({"action": "resume"})).await;
    assert_eq!(c["state"], "handling");
    let deadline: chrono::DateTime<chrono::Utc> = c["deadline"].as_str().unwrap().parse().unwrap();
    let until = (deadline + chrono::Duration::days(3)).to_rfc3339();
    let c = s.act_ok(&op, id, json!({"action": "extend", "until": until, "reason": "需要大型机械"})).await;
    assert_eq!(c["extensions"], 1);
    assert_eq!(
        c["deadline"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
        until.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );

    // Handle with evidence, verification fails → rework, handle again, verify, close.
    let evidence = s.upload_photo(&dept).await;
    let c = s.act_ok(&dept, id, json!({"action": "handle", "note": "已清运", "evidence": [evidence]})).await;
    assert_eq!(c["state"], "handled");
    let c = s.act_ok(&gw, id, json!({"action": "verify", "passed": false, "note": "仍有残留"})).await;
    assert_eq!((c["state"].as_str(), c["reworks"].as_u64()), (Some("rework"), Some(1)));
    s.act_ok(&dept, id, json!({"action": "handle", "note": "已彻底清理", "evidence": [evidence]})).await;
    s.act_ok(&gw, id, json!({"action": "verify", "passed": true})).await;
    let c = s.act_ok(&op, id, json!({"action": "close", "note": "结案"})).await;
    assert_eq!(c["state"], "closed");
    assert!(c["closed_at"].is_string());
    assert!(c.get("deadline").is_none());

    // Once closed, only evaluation is possible — and not by the department.
    let r = s.act(&dept, id, json!({"action": "handle", "note": "x", "evidence": [evidence]})).await;
    assert!(r.status() == 403 || r.status() == 409, "{}", r.status());

    // The full timeline, in order, with who did what.
    let detail: Value = s.get(&format!("/api/v1/cases/{id}"), &op).await.json().await.unwrap();
    let actions: Vec<&str> =
        detail["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "report",
            "register",
            "dispatch",
            "return",
            "dispatch",
            "acknowledge",
            "suspend",
            "resume",
            "extend",
            "handle",
            "verify",
            "handle",
            "verify",
            "close"
        ]
    );
    let seqs: Vec<u64> = detail["timeline"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=14).collect::<Vec<u64>>());
    assert_eq!(detail["timeline"][3]["note"], "需要园林部门协同");
    assert_eq!(detail["timeline"][3]["actor"], "dept.a");
    assert_eq!(detail["case"]["allowed_actions"], json!(["evaluate"]));

    // The photo is readable through the case by those who see the case.
    let r = s.get(&format!("/api/v1/cases/{id}/attachments/{photo}"), &op).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);

    // The citizen did not report this one, so cannot rate it; a citizen's own case can be rated.
    let r = s.act(&citizen, id, json!({"action": "evaluate", "rating": 5})).await;
    assert_error(r, 404, "not_found").await;
    let own = s.report(&citizen, "E0101", A2).await;
    s.act_ok(&op, own, json!({"action": "register"})).await;
    s.act_ok(&op, own, json!({"action": "dispatch"})).await;
    s.act_ok(&dept, own, json!({"action": "acknowledge"})).await;
    s.act_ok(&dept, own, json!({"action": "handle", "note": "ok", "evidence": [evidence]})).await;
    s.act_ok(&gw, own, json!({"action": "verify", "passed": true})).await;
    s.act_ok(&op, own, json!({"action": "close"})).await;
    let c = s.act_ok(&citizen, own, json!({"action": "evaluate", "rating": 4, "comment": "处理及时"})).await;
    assert_eq!((c["state"].as_str(), c["rating"].as_u64()), (Some("evaluated"), Some(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_handled_reject_and_void_paths() {
    let s = start().await;
    let gw = s.login("grid.worker").await;
    let op = s.login("district.op").await;
    let photo = s.upload_photo(&gw).await;

    let id = s.report(&gw, "E0101", A2).await;
    let c = s.act_ok(&gw, id, json!({"action": "self_handle", "note": "现场已清理", "evidence": [photo]})).await;
    assert_eq!((c["state"].as_str(), c["self_handled"].as_bool()), (Some("verified"), Some(true)));
    assert_eq!(s.act_ok(&op, id, json!({"action": "close"})).await["state"], "closed");

    let id = s.report(&gw, "E0101", A1).await;
    assert_eq!(s.act_ok(&op, id, json!({"action": "reject", "reason": "不属于受理范围"})).await["state"], "rejected");
    let r = s.act(&op, id, json!({"action": "register"})).await;
    let body = assert_error(r, 409, "invalid_transition").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("rejected") && msg.contains("none"), "{msg}");

    let id = s.report(&op, "E0701", A1).await;
    s.act_ok(&op, id, json!({"action": "register", "category": "E0101", "urgent": true})).await;
    let detail: Value = s.get(&format!("/api/v1/cases/{id}"), &op).await.json().await.unwrap();
    assert_eq!((detail["case"]["category"].as_str(), detail["case"]["urgent"].as_bool()), (Some("E0101"), Some(true)));
    assert_eq!(s.act_ok(&op, id, json!({"action": "void", "reason": "误报"})).await["state"], "voided");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_page_within_scope() {
    let s = start().await;
    let op = s.login("city.op").await;
    let mut ids = vec![];
    for p in [A1, A2, B1, A1, B1] {
        ids.push(s.report(&op, "E0101", p).await);
    }
    let fish = s.report(&op, "E0701", A2).await;
    s.act_ok(&op, ids[0], json!({"action": "register"})).await;

    let list = |q: &'static str| {
        let s = &s;
        let op = op.clone();
        async move {
            let v: Value = s.get(&format!("/api/v1/cases{q}"), &op).await.json().await.unwrap();
            v["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(list("?state=registered").await, vec![ids[0]]);
    assert_eq!(list("?category=E0701").await, vec![fish]);
    assert_eq!(list("?territory=340207").await, vec![ids[4], ids[2]]);
    assert_eq!(list("?territory=340202001001002").await, vec![fish, ids[1]]);
    assert_eq!(list("?bbox=118.2,31.0,118.4,31.2").await, vec![ids[4], ids[2]]);
    assert_eq!(list("?overdue=true").await, Vec::<i64>::new());
    assert_eq!(list("?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z").await, Vec::<i64>::new());

    // Cursor pagination visits every case once, newest first.
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/cases?limit=2&cursor={c}"),
            None => "/api/v1/cases?limit=2".to_owned(),
        };
        let v: Value = s.get(&q, &op).await.json().await.unwrap();
        seen.extend(v["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut all = ids.clone();
    all.push(fish);
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, all);

    // A district operator sees only its district, whatever it asks for.
    let dop = s.login("district.op").await;
    let v: Value = s.get("/api/v1/cases?territory=340207", &dop).await.json().await.unwrap();
    assert_eq!(v["items"], json!([]));
    let v: Value = s.get("/api/v1/cases?limit=100", &dop).await.json().await.unwrap();
    assert!(v["items"].as_array().unwrap().iter().all(|c| c["territory"].as_str().unwrap().starts_with("340202")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_data_and_metrics_are_served() {
    let s = start().await;
    let op = s.login("city.op").await;
    let v: Value = s.get(&format!("/api/v1/locate?lon={}&lat={}", B1.0, B1.1), &op).await.json().await.unwrap();
    let chain: Vec<&str> = v["chain"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap()).collect();
    assert_eq!(chain, ["340200", "340207", "340207001", "340207001001", "340207001001001"]);
    let v: Value = s.get("/api/v1/territory", &op).await.json().await.unwrap();
    assert_eq!(v["roots"][0]["code"], "340200");
    assert_eq!(v["children"].as_array().unwrap().len(), 2);
    let v: Value = s.get("/api/v1/territory/units/340202001001", &op).await.json().await.unwrap();
    assert_eq!(v["unit"]["children"], 2);
    assert_eq!(v["ancestors"].as_array().unwrap().len(), 3);
    let r = s.get("/api/v1/territory/geojson?level=grid", &op).await;
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let fc: Value = r.json().await.unwrap();
    assert_eq!(fc["features"].as_array().unwrap().len(), 4);
    assert_eq!(fc["features"][0]["properties"]["synthetic"], true);
    let fc: Value = s.get("/api/v1/territory/units/340202001001/children/geojson", &op).await.json().await.unwrap();
    assert_eq!(fc["features"].as_array().unwrap().len(), 2);
    let cats: Value = s.get("/api/v1/categories", &op).await.json().await.unwrap();
    assert_eq!(cats.as_array().unwrap().len(), 2);

    s.report(&op, "E0101", A1).await;
    let r = s.http.get(format!("{}/metrics", s.base)).bearer_auth("scrape-token-for-tests").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("citygrid_cases{state=\"reported\"} 1"), "{text}");
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");

    let doc: Value = s.http.get(format!("{}/api/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/cases/{id}/actions"]["post"].is_object());
    let ui = s.http.get(format!("{}/api/docs/", s.base)).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
}
