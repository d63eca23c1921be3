//! Nothing secret or personal reaches the logs. This binary holds a single
//! test because it installs a process-wide subscriber that records every
//! event and span at TRACE level (server tasks run on other threads, so a
//! thread-local default would miss them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};
use tracing_subscriber::fmt::format::FmtSpan;

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_secrets_or_personal_data() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();

    let s = start().await;
    let phone = "13812345678";
    let id_number = "11010519491231002X";
    let name = "张三";
    let wrong_password = "Wrong-Pass-2026";

    // Password logins, one failing.
    let r = s
        .http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"username": "city.op", "password": wrong_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"username": "city.op", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let login: Value = r.json().await.unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let csrf = login["csrf_token"].as_str().unwrap().to_owned();

    // A case with a contact, read unmasked, searched by phone and by ID number.
    let contact = json!({"name": name, "phone": phone, "id_number": id_number});
    let r = s
        .post(
            "/api/v1/cases",
            &token,
            json!({"category": "E0101", "description": "占道经营", "lon": A1.0, "lat": A1.1, "contact": contact}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["case"]["id"].as_i64().unwrap();
    let v: Value = s.get(&format!("/api/v1/cases/{id}?unmask=true"), &token).await.json().await.unwrap();
    assert_eq!(v["case"]["contact"]["phone"], phone);
    let v: Value = s.get(&format!("/api/v1/cases?phone={phone}"), &token).await.json().await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    let v: Value = s.get(&format!("/api/v1/cases?id_number={id_number}"), &token).await.json().await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    // A malformed search term must not echo it into logs either.
    let r = s.get(&format!("/api/v1/cases?phone={phone}x"), &token).await;
    assert_eq!(r.status(), 400);

    // A cookie-authenticated write, a bad bearer token and a forged cookie.
    let r = s
        .http
        .post(format!("{}/api/v1/cases", s.base))
        .header("cookie", format!("citygrid_session={token}"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"category": "E0101", "description": "x", "lon": A1.0, "lat": A1.1, "contact": {"phone": phone}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let forged = citygrid_server::auth::new_secret("cgs_");
    assert_eq!(s.get("/api/v1/cases", &forged).await.status(), 401);
    let r = s
        .http
        .get(format!("{}/api/v1/auth/me", s.base))
        .header("cookie", format!("citygrid_session={forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A device key, issued and used.
    let admin = s.login("admin").await;
    let r = s.post("/api/v1/devices", &admin, json!({"id": "cam-9", "name": "cam", "kind": "camera"})).await;
    let key = r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned();
    let r = s.http.get(format!("{}/api/v1/devices/me", s.base)).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.post("/api/v1/auth/logout", &token, json!({})).await;

    // Let the last responses' events land.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let text = log.text();
    // The capture works: every request is there, with its route and outcome.
    for expected in ["/api/v1/auth/login", "/api/v1/cases", "finished processing request", "status=401", "TRACE"] {
        assert!(text.contains(expected), "the log lacks {expected:?}:\n{text}");
    }
    let secrets = [
        ("the password", PASSWORD),
        ("a wrong password", wrong_password),
        ("the session token", token.as_str()),
        ("the CSRF token", csrf.as_str()),
        ("a forged token", forged.as_str()),
        ("the device key", key.as_str()),
        ("the phone number", phone),
        ("the ID number", id_number),
        ("the name", name),
    ];
    let leaks: Vec<String> = secrets
        .iter()
        .filter(|(_, secret)| text.contains(secret))
        .map(|(what, secret)| {
            let line = text.lines().find(|l| l.contains(secret)).unwrap_or_default();
            format!("{what} appears in the log: {line}")
        })
        .collect();
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
