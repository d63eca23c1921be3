//! Authentication over HTTP: credentials, lockout, expiry and revocation,
//! cookies with CSRF, device keys, login rate limiting, the audit trail of
//! it all, and the headers every response carries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use citygrid_server::auth::hash_secret;
use common::*;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response};
use serde_json::{Value, json};

async fn login_raw(s: &TestServer, user: &str, password: &str) -> Response {
    s.http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me(s: &TestServer, token: &str) -> Response {
    s.get("/api/v1/auth/me", token).await
}

async fn patch_user(s: &TestServer, admin: &str, id: &str, body: Value) -> Value {
    let r = s.req(Method::PATCH, &format!("/api/v1/users/{id}"), admin).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// `(status, code, message)` of an error response, checking its shape.
async fn error_parts(r: Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    let code = v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error.code: {v}")).to_owned();
    let message = v["error"]["message"].as_str().unwrap_or_else(|| panic!("no error.message: {v}")).to_owned();
    (status, code, message)
}

#[tokio::test]
async fn bad_credentials_look_the_same_and_repeated_failures_lock_the_account() {
    let s = start_with(|c| citygrid_server::ServerConfig { lockout_after: 3, ..c }).await;
    let unknown = error_parts(login_raw(&s, "nobody.here", PASSWORD).await).await;
    let wrong = error_parts(login_raw(&s, "citizen", "Wrong-Pass-2026").await).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown.1, "bad_credentials");
    assert_eq!(unknown, wrong, "an unknown user and a wrong password must be indistinguishable");
    let empty = error_parts(login_raw(&s, "citizen", "").await).await;
    assert_eq!(empty, wrong);

    for _ in 0..3 {
        let r = login_raw(&s, "grid.worker", "Wrong-Pass-2026").await;
        assert_error(r, 401, "bad_credentials").await;
    }
    // Locked: even the right password is refused.
    let r = login_raw(&s, "grid.worker", PASSWORD).await;
    assert_error(r, 429, "account_locked").await;
    let r = login_raw(&s, "grid.worker", "Wrong-Pass-2026").await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After says when the lock ends: {retry}");
    assert_error(r, 429, "account_locked").await;

    // A name that does not exist locks the same way, so a lockout reveals nothing.
    for _ in 0..3 {
        assert_error(login_raw(&s, "ghost.user", "Wrong-Pass-2026").await, 401, "bad_credentials").await;
    }
    assert_error(login_raw(&s, "ghost.user", "Wrong-Pass-2026").await, 429, "account_locked").await;

    let admin = s.login("admin").await;
    let users: Value = s.get("/api/v1/users", &admin).await.json().await.unwrap();
    let gw = users.as_array().unwrap().iter().find(|u| u["id"] == "grid.worker").unwrap();
    assert!(gw["locked_until"].is_string(), "{gw}");
    assert!(gw.get("password_hash").is_none() && !users.to_string().contains("argon2"), "{users}");

    // Only an administrator may unlock.
    let citizen = s.login("citizen").await;
    let r = s
        .req(Method::PATCH, "/api/v1/users/grid.worker", &citizen)
        .json(&json!({"unlock": true}))
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "forbidden").await;
    let v = patch_user(&s, &admin, "grid.worker", json!({"unlock": true})).await;
    assert!(v["locked_until"].is_null(), "{v}");
    let token = s.login("grid.worker").await;
    assert_eq!(me(&s, &token).await.status(), 200);
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let s = start_with(|c| citygrid_server::ServerConfig { session_minutes: 0, ..c }).await;
    let r = login_raw(&s, "city.op", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let r = me(&s, &token).await;
    assert!(r.headers().contains_key("www-authenticate"));
    assert_error(r, 401, "token_expired").await;
    let r = s.get("/api/v1/cases", &token).await;
    assert_error(r, 401, "token_expired").await;
}

#[tokio::test]
async fn logout_revocation_and_disabling_end_sessions() {
    let s = start().await;
    let admin = s.login("admin").await;

    // Logout ends this session only.
    let t1 = s.login("citizen").await;
    let t2 = s.login("citizen").await;
    assert_eq!(me(&s, &t1).await.status(), 200);
    let r = s.post("/api/v1/auth/logout", &t1, json!({})).await;
    assert_eq!(r.status(), 204);
    assert_error(me(&s, &t1).await, 401, "token_revoked").await;
    assert_error(s.post("/api/v1/auth/logout", &t1, json!({})).await, 401, "token_revoked").await;
    assert_eq!(me(&s, &t2).await.status(), 200);

    // An administrator revokes every session of a user at once.
    let d1 = s.login("dept.a").await;
    let d2 = s.login("dept.a").await;
    assert_eq!(me(&s, &d1).await.status(), 200);
    assert_eq!(me(&s, &d2).await.status(), 200);
    let r = s.req(Method::DELETE, "/api/v1/users/dept.a/sessions", &admin).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_error(me(&s, &d1).await, 401, "token_revoked").await;
    assert_error(s.get("/api/v1/cases", &d2).await, 401, "token_revoked").await;
    let r = s.req(Method::DELETE, "/api/v1/users/no.such.user/sessions", &admin).send().await.unwrap();
    assert_error(r, 404, "not_found").await;
    // Other users are untouched.
    assert_eq!(me(&s, &t2).await.status(), 200);

    // Disabling an account ends its sessions and refuses new logins like a wrong password would.
    let g = s.login("grid.worker").await;
    assert_eq!(me(&s, &g).await.status(), 200);
    let v = patch_user(&s, &admin, "grid.worker", json!({"active": false})).await;
    assert_eq!(v["active"], false);
    let (status, ..) = error_parts(me(&s, &g).await).await;
    assert_eq!(status, 401);
    let disabled = error_parts(login_raw(&s, "grid.worker", PASSWORD).await).await;
    let wrong = error_parts(login_raw(&s, "township.op", "Wrong-Pass-2026").await).await;
    assert_eq!(disabled, wrong);
    patch_user(&s, &admin, "grid.worker", json!({"active": true})).await;
    let g = s.login("grid.worker").await;
    assert_eq!(me(&s, &g).await.status(), 200);

    // A password change by the administrator also ends sessions.
    let op = s.login("township.op").await;
    patch_user(&s, &admin, "township.op", json!({"password": "Another-Pass-2027"})).await;
    assert_error(me(&s, &op).await, 401, "token_revoked").await;
    assert_error(login_raw(&s, "township.op", PASSWORD).await, 401, "bad_credentials").await;
    assert_eq!(login_raw(&s, "township.op", "Another-Pass-2027").await.status(), 200);
}

#[tokio::test]
async fn forged_and_garbage_credentials_get_401_with_the_error_shape() {
    let s = start().await;
    let url = format!("{}/api/v1/auth/me", s.base);
    let forged = format!("citygrid_session={}", citygrid_server::auth::new_secret("cgs_"));
    let r = s.http.get(&url).header("cookie", forged).send().await.unwrap();
    assert_error(r, 401, "invalid_token").await;
    let r = s.http.get(&url).bearer_auth("cgs_not-a-real-token").send().await.unwrap();
    assert_error(r, 401, "invalid_token").await;
    let r = s.http.get(&url).send().await.unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    assert_error(r, 401, "unauthenticated").await;
    let garbages: [&[u8]; 5] =
        [b"Basic Y2l0eS5vcDpGaXh0dXJlLVBhc3MtMjAyNg==", b"garbage", b"Bearer", b"Bearer \xff\xfe", b"bearer cgs_x"];
    for garbage in garbages {
        let r =
            s.http.get(&url).header("authorization", HeaderValue::from_bytes(garbage).unwrap()).send().await.unwrap();
        let (status, code, _) = error_parts(r).await;
        assert_eq!(status, 401, "{garbage:?}");
        assert!(["unauthenticated", "invalid_token"].contains(&code.as_str()), "{garbage:?}: {code}");
    }
    let r = s.http.get(&url).header("x-api-key", "cgk_forged").send().await.unwrap();
    assert_error(r, 401, "unauthenticated").await;
    // A forged cookie on a write is refused too (CSRF or session, never accepted).
    let r = s
        .http
        .post(format!("{}/api/v1/cases", s.base))
        .header("cookie", "citygrid_session=cgs_forged")
        .header("x-csrf-token", "whatever")
        .json(&json!({"category": "E0101", "description": "x", "lon": A1.0, "lat": A1.1}))
        .send()
        .await
        .unwrap();
    let (status, ..) = error_parts(r).await;
    assert!(status == 401 || status == 403, "{status}");
}

/// The `name=value` of a `Set-Cookie` header for `name`, and its attributes.
fn set_cookie(headers: &HeaderMap, name: &str) -> (String, String) {
    let raw = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {headers:?}"));
    let (pair, attrs) = raw.split_once(';').unwrap_or((&raw, ""));
    (pair.to_owned(), attrs.to_owned())
}

#[tokio::test]
async fn cookie_sessions_read_freely_but_write_only_with_the_csrf_token() {
    let s = start().await;
    let r = login_raw(&s, "city.op", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let (session, attrs) = set_cookie(r.headers(), "citygrid_session");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"), "{attrs}");
    let (csrf_cookie, csrf_attrs) = set_cookie(r.headers(), "citygrid_csrf");
    assert!(!csrf_attrs.contains("HttpOnly"), "the console's script must read the CSRF cookie");
    let body: Value = r.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf_cookie, format!("citygrid_csrf={csrf}"));
    assert_eq!(session, format!("citygrid_session={}", body["token"].as_str().unwrap()));

    let get = |path: &str| s.http.get(format!("{}{path}", s.base)).header("cookie", &session);
    let r = get("/api/v1/auth/me").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], "city.op");
    assert_eq!(get("/api/v1/cases").send().await.unwrap().status(), 200);

    let report = json!({"category": "E0101", "description": "cookie report", "lon": A1.0, "lat": A1.1});
    let post = || s.http.post(format!("{}/api/v1/cases", s.base)).header("cookie", &session).json(&report);
    assert_error(post().send().await.unwrap(), 403, "csrf_failed").await;
    assert_error(post().header("x-csrf-token", "forged").send().await.unwrap(), 403, "csrf_failed").await;
    // Another session's CSRF token does not fit this session.
    let other: Value = login_raw(&s, "city.op", PASSWORD).await.json().await.unwrap();
    let other_csrf = other["csrf_token"].as_str().unwrap();
    assert_ne!(other_csrf, csrf);
    assert_error(post().header("x-csrf-token", other_csrf).send().await.unwrap(), 403, "csrf_failed").await;
    // Sending both cookies does not help without the header.
    let both = format!("{session}; {csrf_cookie}");
    let r = s.http.post(format!("{}/api/v1/cases", s.base)).header("cookie", both).json(&report).send().await.unwrap();
    assert_error(r, 403, "csrf_failed").await;
    let r = post().header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // No case was created by the refused attempts.
    let list: Value = get("/api/v1/cases").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    // Logout by cookie needs the token as well, and clears the cookies.
    let logout = || s.http.post(format!("{}/api/v1/auth/logout", s.base)).header("cookie", &session);
    assert_error(logout().send().await.unwrap(), 403, "csrf_failed").await;
    let r = logout().header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (cleared, attrs) = set_cookie(r.headers(), "citygrid_session");
    assert_eq!(cleared, "citygrid_session=");
    assert!(attrs.contains("Max-Age=0"), "{attrs}");
    assert_error(get("/api/v1/auth/me").send().await.unwrap(), 401, "token_revoked").await;
}

#[tokio::test]
async fn device_keys_are_shown_once_read_only_themselves_and_can_be_revoked() {
    let s = start().await;
    let admin = s.login("admin").await;
    let r = s
        .post(
            "/api/v1/devices",
            &admin,
            json!({"id": "cam-01", "name": "东门摄像头", "kind": "camera", "unit": "340202"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("cgk_") && key.len() > 40, "{key}");
    let key_hash = hash_secret(&key);
    assert!(!created["device"].to_string().contains(&key_hash), "{created}");

    let with_key =
        |method: Method, path: &str| s.http.request(method, format!("{}{path}", s.base)).header("x-api-key", &key);
    let r = with_key(Method::GET, "/api/v1/devices/me").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["id"], "cam-01");
    assert!(!me.to_string().contains(&key) && !me.to_string().contains(&key_hash), "{me}");
    // The key also works as a bearer token.
    assert_eq!(s.get("/api/v1/devices/me", &key).await.status(), 200);

    // A device sees no cases: the list is refused, a case is as if absent.
    let op = s.login("city.op").await;
    let case = s.report(&op, "E0101", A1).await;
    assert_error(with_key(Method::GET, "/api/v1/cases").send().await.unwrap(), 403, "forbidden").await;
    assert_error(with_key(Method::GET, &format!("/api/v1/cases/{case}")).send().await.unwrap(), 404, "not_found").await;
    assert_error(with_key(Method::GET, "/api/v1/devices").send().await.unwrap(), 403, "forbidden").await;
    assert_error(with_key(Method::GET, "/api/v1/categories").send().await.unwrap(), 403, "forbidden").await;
    // Users are not devices.
    assert_error(s.get("/api/v1/devices/me", &op).await, 403, "forbidden").await;

    // The list never shows a key or its hash.
    let list = s.get("/api/v1/devices", &admin).await.text().await.unwrap();
    assert!(list.contains("cam-01"));
    assert!(!list.contains(&key) && !list.contains(&key_hash), "{list}");
    assert!(!list.contains("api_key") && !list.contains("key_hash"), "{list}");

    let r = s.req(Method::DELETE, "/api/v1/devices/cam-01", &admin).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_error(with_key(Method::GET, "/api/v1/devices/me").send().await.unwrap(), 401, "unauthenticated").await;
    assert_eq!(s.get("/api/v1/devices/me", &key).await.status(), 401);
    let list: Value = s.get("/api/v1/devices", &admin).await.json().await.unwrap();
    assert!(list[0]["revoked_at"].is_string(), "{list}");
    let r = s.req(Method::DELETE, "/api/v1/devices/no-such-device", &admin).send().await.unwrap();
    assert_error(r, 404, "not_found").await;
}

/// Argon2 runs on a bounded pool off the async workers: a burst of logins
/// (right passwords, wrong ones, unknown names) gets every answer right
/// while authenticated reads are served alongside. Only correctness is
/// checked here; how long things take belongs to the benchmarks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_is_answered_correctly_while_reads_are_served() {
    let s = std::sync::Arc::new(start_with(|c| citygrid_server::ServerConfig { lockout_after: 1000, ..c }).await);
    let reader = s.login("auditor").await;
    const N: usize = 24;
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..N {
        let (user, password, expect) = match i % 3 {
            0 => (USERS[i % USERS.len()].0.to_owned(), PASSWORD, 200),
            1 => ("citizen".to_owned(), "Wrong-Pass-2026", 401),
            _ => (format!("nobody.{i}"), PASSWORD, 401),
        };
        let s = std::sync::Arc::clone(&s);
        logins.spawn(async move {
            let r = login_raw(&s, &user, password).await;
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (user, expect, status, body)
        });
    }
    let reads = {
        let s = std::sync::Arc::clone(&s);
        tokio::spawn(async move {
            let mut statuses = vec![];
            for _ in 0..N {
                statuses.push(me(&s, &reader).await.status().as_u16());
            }
            statuses
        })
    };
    let mut answered = 0;
    while let Some(done) = logins.join_next().await {
        let (user, expect, status, body) = done.unwrap();
        assert_eq!(status, expect, "login {user}: {body}");
        if expect == 200 {
            let token = body["token"].as_str().unwrap();
            let who: Value = me(&s, token).await.json().await.unwrap();
            assert_eq!(who["id"], user.as_str());
        } else {
            assert_eq!(body["error"]["code"], "bad_credentials", "login {user}: {body}");
        }
        answered += 1;
    }
    assert_eq!(answered, N);
    assert_eq!(reads.await.unwrap(), vec![200; N]);
}

#[tokio::test]
async fn logins_are_rate_limited_per_client() {
    let s = start_with(|c| citygrid_server::ServerConfig { login_per_minute: 3, ..c }).await;
    for user in ["citizen", "nobody.here", "citizen"] {
        let r = login_raw(&s, user, PASSWORD).await;
        assert_ne!(r.status(), 429, "{user}");
    }
    let r = login_raw(&s, "citizen", PASSWORD).await;
    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    assert_error(r, 429, "rate_limited").await;
    let retry: u64 = retry.expect("Retry-After on 429").parse().unwrap();
    assert!(retry >= 1);
    // Only logins are throttled; other endpoints still answer.
    assert_eq!(s.http.get(format!("{}/healthz", s.base)).send().await.unwrap().status(), 200);
}

async fn audit(s: &TestServer, auditor: &str, query: &str) -> Vec<Value> {
    let r = s.get(&format!("/api/v1/audit?limit=1000{query}"), auditor).await;
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().await.unwrap()
}

fn has(records: &[Value], actor: &str, action: &str, resource: &str, outcome: &str) -> bool {
    records
        .iter()
        .any(|r| r["actor"] == actor && r["action"] == action && r["outcome"] == outcome && r["resource"] == resource)
}

#[tokio::test]
async fn the_audit_trail_records_logins_denials_and_unmasked_reads() {
    let s = start().await;
    let op = s.login("city.op").await;
    assert_eq!(login_raw(&s, "citizen", "Wrong-Pass-2026").await.status(), 401);
    assert_eq!(login_raw(&s, "nobody.here", PASSWORD).await.status(), 401);
    let citizen = s.login("citizen").await;
    let admin = s.login("admin").await;
    let auditor = s.login("auditor").await;

    // A denial.
    assert_error(s.get("/api/v1/audit", &citizen).await, 403, "forbidden").await;

    // A case with a contact: masked by default, clear only for operators on request.
    let contact = json!({"name": "张三", "phone": "13812345678", "id_number": "11010519491231002X"});
    let r = s
        .post(
            "/api/v1/cases",
            &op,
            json!({"category": "E0101", "description": "噪音扰民", "lon": A1.0, "lat": A1.1, "contact": contact}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["case"]["id"].as_i64().unwrap();
    assert_eq!(created["case"]["contact"]["phone"], "138****5678");
    let v: Value = s.get(&format!("/api/v1/cases/{id}"), &op).await.json().await.unwrap();
    assert_eq!(v["case"]["contact"]["phone"], "138****5678", "{v}");
    assert_eq!(v["case"]["contact"]["id_number"], "1101**********002X", "{v}");
    assert_eq!(v["case"]["contact"]["name"], "张*", "{v}");
    assert!(!v.to_string().contains("13812345678") && !v.to_string().contains("张三"), "{v}");
    let v: Value = s.get(&format!("/api/v1/cases/{id}?unmask=true"), &op).await.json().await.unwrap();
    assert_eq!(v["case"]["contact"], contact, "{v}");
    // Administrators see cases but never personal data.
    let r = s.get(&format!("/api/v1/cases/{id}"), &admin).await;
    let text = r.text().await.unwrap();
    assert!(text.contains("138****5678") && !text.contains("13812345678"), "{text}");
    assert_error(s.get(&format!("/api/v1/cases/{id}?unmask=true"), &admin).await, 403, "forbidden").await;
    assert_error(s.get(&format!("/api/v1/cases/{id}?unmask=true"), &auditor).await, 403, "forbidden").await;

    // A citizen may not unmask even their own report.
    let r = s
        .post(
            "/api/v1/cases",
            &citizen,
            json!({"category": "E0101", "description": "楼道堆物", "lon": A2.0, "lat": A2.1, "contact": contact}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let own = r.json::<Value>().await.unwrap()["case"]["id"].as_i64().unwrap();
    let v: Value = s.get(&format!("/api/v1/cases/{own}"), &citizen).await.json().await.unwrap();
    assert_eq!(v["case"]["contact"]["phone"], "138****5678", "{v}");
    assert_error(s.get(&format!("/api/v1/cases/{own}?unmask=true"), &citizen).await, 403, "forbidden").await;

    let all = audit(&s, &auditor, "").await;
    assert!(has(&all, "city.op", "auth.login", "user/city.op", "ok"));
    assert!(has(&all, "citizen", "auth.login", "user/citizen", "failed"));
    assert!(has(&all, "anonymous", "auth.login", "user/?", "failed"));
    assert!(has(&all, "citizen", "auth.login", "user/citizen", "ok"));
    assert!(has(&all, "citizen", "denied.read_audit", "audit", "denied"));
    assert!(has(&all, "city.op", "case.unmask", &format!("case/{id}/contact"), "ok"));
    assert!(has(&all, "admin", "denied.unmask_case", &format!("case/{id}/contact"), "denied"));
    assert!(has(&all, "auditor", "denied.unmask_case", &format!("case/{id}/contact"), "denied"));
    assert!(has(&all, "citizen", "denied.unmask_case", &format!("case/{own}/contact"), "denied"));
    // Only the one unmasked read is recorded as one.
    let unmasks = audit(&s, &auditor, "&action=case.unmask").await;
    assert_eq!(unmasks.len(), 1, "{unmasks:?}");
    assert_eq!(unmasks[0]["role"], "operator");
    assert!(unmasks[0]["source_ip"].as_str().is_some_and(|ip| ip == "127.0.0.1"), "{:?}", unmasks[0]);
    // Filters work and records carry their chain.
    let fails = audit(&s, &auditor, "&action=auth.login&actor=citizen").await;
    assert_eq!(fails.len(), 2, "{fails:?}");
    assert!(fails.iter().all(|r| r["hash"].is_string() && r["prev_hash"].is_string() && r["seq"].is_u64()));

    // The trail holds no secrets or personal data.
    let text = serde_json::to_string(&all).unwrap();
    for secret in [PASSWORD, "Wrong-Pass-2026", "13812345678", "11010519491231002X", "张三", op.as_str()] {
        assert!(!text.contains(secret), "the audit trail contains {secret}");
    }

    let v: Value = s.get("/api/v1/audit/verify", &auditor).await.json().await.unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["records"].as_u64().unwrap() >= all.len() as u64, "{v}");
    assert_error(s.get("/api/v1/audit/verify", &op).await, 403, "forbidden").await;
}

#[tokio::test]
async fn started_jobs_write_audit_checkpoints_that_verification_confirms() {
    use citygrid_store::prelude::*;
    let s = start_with(|c| citygrid_server::ServerConfig { audit_checkpoint_secs: 1, ..c }).await;
    let auditor = s.login("auditor").await;
    let checkpoints = || async {
        let f = citygrid_store::AuditFilter { action: Some("audit.checkpoint".into()), ..Default::default() };
        s.app.store.audit_records(f).await.unwrap()
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(checkpoints().await.is_empty(), "no jobs until they are started");
    s.app.start_jobs();
    s.app.start_jobs();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while checkpoints().await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let written = checkpoints().await;
    assert_eq!(written.len(), 1, "one checkpoint: {written:?}");
    assert_eq!((written[0].event.actor.as_str(), written[0].event.resource.as_str()), ("system", "audit"));
    let v: Value = s.get("/api/v1/audit/verify", &auditor).await.json().await.unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["checkpoints"].as_u64().unwrap() >= 1, "{v}");
}

#[tokio::test]
async fn responses_carry_security_headers_and_no_cors_by_default() {
    let s = start().await;
    let token = s.login("city.op").await;
    let evil = "https://evil.example";
    let responses = [
        s.http.get(format!("{}/healthz", s.base)).header("origin", evil).send().await.unwrap(),
        s.http.get(format!("{}/api/v1/auth/me", s.base)).header("origin", evil).send().await.unwrap(),
        s.req(Method::GET, "/api/v1/cases", &token).header("origin", evil).send().await.unwrap(),
        s.req(Method::GET, "/api/v1/no/such/route", &token).header("origin", evil).send().await.unwrap(),
        s.http
            .request(Method::OPTIONS, format!("{}/api/v1/cases", s.base))
            .header("origin", evil)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
            .await
            .unwrap(),
    ];
    for r in responses {
        let h = r.headers();
        let url = r.url().to_string();
        assert_eq!(h["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(h["x-frame-options"], "DENY", "{url}");
        assert!(h.get("content-security-policy").is_some_and(|v| !v.is_empty()), "{url}");
        let cors: Vec<_> = h.keys().filter(|k| k.as_str().starts_with("access-control-")).collect();
        assert!(cors.is_empty(), "{url}: CORS headers without configured origins: {cors:?}");
    }

    // With an allowed origin configured, only that origin is let in.
    let console = "https://console.example";
    let s = start_with(|c| citygrid_server::ServerConfig { cors_origins: vec![console.into()], ..c }).await;
    let r = s.http.get(format!("{}/healthz", s.base)).header("origin", console).send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], console);
    let r = s.http.get(format!("{}/healthz", s.base)).header("origin", evil).send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
