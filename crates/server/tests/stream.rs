//! The live feed over HTTP: Server-Sent Events within the caller's scope,
//! in order, resumable with `Last-Event-ID`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use reqwest::Response;
use serde_json::{Value, json};

/// One parsed event.
#[derive(Debug)]
struct Sse {
    id: Option<String>,
    event: String,
    data: Value,
}

/// Reads events off a streaming response.
struct Reader {
    resp: Response,
    buf: String,
}

impl Reader {
    async fn open(s: &TestServer, token: &str, last_event_id: Option<&str>) -> Reader {
        let mut rb = s.req(reqwest::Method::GET, "/api/v1/stream", token);
        if let Some(id) = last_event_id {
            rb = rb.header("last-event-id", id);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Reader { resp, buf: String::new() }
    }

    /// The next event (keep-alive comments skipped), or `None` if nothing
    /// comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(Sse { id, event, data: serde_json::from_str(&data).unwrap() });
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_see_their_scope_in_order_and_resume_where_they_left() {
    let s = start().await;
    let gw = s.login("grid.worker").await;
    let op_a = s.login("district.op").await;
    let op_b = s.login("district.op.b").await;
    let township = s.login("township.op").await;
    let citizen = s.login("citizen").await;

    let mut watch_a = Reader::open(&s, &op_a, None).await;
    let mut watch_b = Reader::open(&s, &op_b, None).await;

    let in_a = s.report(&gw, "E0101", A1).await;
    let in_b = s.report(&citizen, "E0101", B1).await;
    s.act_ok(&township, in_a, json!({"action": "register"})).await;

    let first = watch_a.next(WAIT).await.unwrap();
    assert_eq!((first.event.as_str(), first.data["case"].as_i64()), ("case", Some(in_a)));
    assert_eq!(first.data["action"], "report");
    assert_eq!(first.data["territory"], "340202001001001");
    assert!(first.data.get("reporter").is_none(), "who reported is not broadcast");
    let second = watch_a.next(WAIT).await.unwrap();
    assert_eq!((second.data["case"].as_i64(), second.data["action"].as_str()), (Some(in_a), Some("register")));
    assert_eq!(second.data["state"], "registered");
    let ids: Vec<u64> = [&first, &second].iter().map(|e| e.id.as_deref().unwrap().parse().unwrap()).collect();
    assert!(ids[0] < ids[1], "numbers rise: {ids:?}");
    assert!(watch_a.next(Duration::from_millis(800)).await.is_none(), "district B's case is not district A's");

    let only_b = watch_b.next(WAIT).await.unwrap();
    assert_eq!(only_b.data["case"].as_i64(), Some(in_b));
    assert!(watch_b.next(Duration::from_millis(800)).await.is_none(), "district A's changes are not B's");

    // A dropped connection resumes after the last event it saw: the rest
    // comes from the store, then live changes follow.
    drop(watch_a);
    let mut again = Reader::open(&s, &op_a, first.id.as_deref()).await;
    let resumed = again.next(WAIT).await.unwrap();
    assert_eq!(resumed.id, second.id, "the next event after the one it had");
    s.act_ok(&township, in_a, json!({"action": "dispatch"})).await;
    let live = again.next(WAIT).await.unwrap();
    assert_eq!(live.data["action"], "dispatch");

    // The citizen sees only their own report.
    let mut mine = Reader::open(&s, &citizen, Some("0")).await;
    let e = mine.next(WAIT).await.unwrap();
    assert_eq!(e.data["case"].as_i64(), Some(in_b));
    assert!(mine.next(Duration::from_millis(800)).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_the_store_never_gave_is_a_reset_and_bad_requests_are_refused() {
    let s = start().await;
    let op = s.login("district.op").await;
    let gw = s.login("grid.worker").await;
    s.report(&gw, "E0101", A1).await;

    let mut r = Reader::open(&s, &op, Some("999999")).await;
    let reset = r.next(WAIT).await.unwrap();
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.data["after"], 999_999);

    let bad =
        s.req(reqwest::Method::GET, "/api/v1/stream", &op).header("last-event-id", "yesterday").send().await.unwrap();
    assert_error(bad, 400, "invalid_last_event_id").await;
    let bad = s.get("/api/v1/stream?last_event_id=-1", &op).await;
    assert_eq!(bad.status(), 400);
    let mediator = s.login("mediator").await;
    assert_error(s.get("/api/v1/stream", &mediator).await, 403, "forbidden").await;
    let anonymous = s.http.get(format!("{}/api/v1/stream", s.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_are_followed_live_by_those_who_may_read_them() {
    let s = start_wuhu().await;
    let admin = s.login("admin").await;
    let (lon, lat) = point_in_the_ban(&s);
    let r = s
        .post(
            "/api/v1/devices",
            &admin,
            json!({"id": "cam-live-1", "name": "江面", "kind": "camera", "lon": lon, "lat": lat}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let key = r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned();
    let op = s.login("city.op").await;
    let citizen = s.login("citizen").await;
    let mut watch = Reader::open(&s, &op, None).await;
    let mut theirs = Reader::open(&s, &citizen, None).await;

    for (n, id) in ["live-1", "live-2"].iter().enumerate() {
        let at = chrono::Utc::now() - chrono::Duration::seconds(30 - n as i64);
        let body = json!({"detections": [{"id": id, "device": "cam-live-1", "at": at, "label": "fishing",
                                          "score": 0.9, "lon": lon, "lat": lat}]});
        let r = s.http.post(format!("{}/api/v1/detections", s.base)).header("x-api-key", &key).json(&body).send().await;
        assert_eq!(r.unwrap().status(), 200);
    }
    let opened = watch.next(WAIT).await.unwrap();
    assert_eq!(opened.event, "incident");
    assert_eq!((opened.data["kind"].as_str(), opened.data["count"].as_u64()), (Some("illegal_fishing"), Some(1)));
    let grew = watch.next(WAIT).await.unwrap();
    assert_eq!(
        (grew.data["incident"].clone(), grew.data["count"].as_u64()),
        (opened.data["incident"].clone(), Some(2))
    );
    assert!(theirs.next(Duration::from_millis(800)).await.is_none(), "citizens do not see incidents");
}
