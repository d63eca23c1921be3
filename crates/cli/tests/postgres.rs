//! CityGrid on PostgreSQL, as operators run it: real `citygrid` processes,
//! two of them on one database, one riding out a database restart, and a
//! pilot's embedded store moved over with the same answers afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use citygrid_testpg::{Cluster, TestDatabase};
use serde_json::{Value, json};

const PASSWORD: &str = "CityGrid-demo-2026";

/// A `citygrid` server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Runs `citygrid ARGS --port 0` and waits until it says where it listens.
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_citygrid"))
            .args(args)
            // No simulated devices: the tests compare what they wrote.
            .args(["--port", "0", "--hj212-port", "0", "--no-simulate"])
            .env("RUST_LOG", "warn")
            .env_remove("CITYGRID_DATA_DIR")
            .env_remove("CITYGRID_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Their logs only when asked: the restart test makes many warnings on purpose.
            .stderr(if std::env::var_os("CITYGRID_TEST_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                let status = child.wait().unwrap();
                panic!("citygrid {args:?} exited ({status}) before serving");
            }
            if line.contains("CityGrid serving") {
                break;
            }
        }
        let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_owned();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in out.lines() {});
        Server { child, base: format!("http://{addr}") }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn login(c: &reqwest::Client, s: &Server, user: &str) -> String {
    let r = c.post(s.url("/api/v1/auth/login")).json(&json!({"username": user, "password": PASSWORD})).send().await;
    let v: Value = r.unwrap().json().await.unwrap();
    v["token"].as_str().unwrap_or_else(|| panic!("login {user}: {v}")).to_owned()
}

async fn get(c: &reqwest::Client, s: &Server, token: &str, path: &str) -> (u16, Value) {
    let r = c.get(s.url(path)).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn report(n: usize) -> Value {
    // Points inside 镜湖区, spread so that no two are duplicates of each other.
    json!({"category": "E0101", "description": format!("垃圾堆放 {n}"),
           "lon": 118.37 + (n % 40) as f64 * 0.0004, "lat": 31.33 + (n / 40) as f64 * 0.0004})
}

/// Reports a case; `Ok(id)` on 201, `Err((status, body))` otherwise.
async fn create(c: &reqwest::Client, s: &Server, token: &str, n: usize) -> Result<u64, (u16, Value)> {
    let r = c.post(s.url("/api/v1/cases")).bearer_auth(token).json(&report(n)).send().await;
    let r = r.map_err(|e| (0, json!(e.to_string())))?;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status == 201 { Ok(body["case"]["id"].as_u64().unwrap()) } else { Err((status, body)) }
}

/// Polls `check` until it holds, for at most `within`.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_database() {
    let db = TestDatabase::create().unwrap();
    // One data directory for the keyring both share; the data is in PostgreSQL.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let a = Server::start(&["demo", "--database", db.url(), "--data-dir", d]);
    let b = Server::start(&["serve", "--database", db.url(), "--data-dir", d]);
    let c = http();
    let (ta, tb) = (login(&c, &a, "city.operator").await, login(&c, &b, "city.operator").await);

    // Both write at once: every case gets its own id, the trail one verifiable whole.
    let on_a = async { futures_all((0..40).map(|n| create(&c, &a, &ta, n))).await };
    let on_b = async { futures_all((40..80).map(|n| create(&c, &b, &tb, n))).await };
    let (ra, rb) = tokio::join!(on_a, on_b);
    let ids: BTreeSet<u64> = ra.into_iter().chain(rb).map(|r| r.unwrap()).collect();
    assert_eq!(ids.len(), 80, "80 reports, 80 distinct ids");
    let (_, page) = get(&c, &a, &ta, "/api/v1/cases?limit=200").await;
    let listed: BTreeSet<u64> = page["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert!(ids.is_subset(&listed), "instance A lists what B created");
    let auditor = login(&c, &b, "auditor").await;
    let (_, verify) = get(&c, &b, &auditor, "/api/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");

    // An attachment uploaded through A is there for B.
    let png = b"\x89PNG\r\n\x1a\ntwo instances".to_vec();
    let up: Value = c
        .post(a.url("/api/v1/attachments"))
        .bearer_auth(&ta)
        .body(png.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sha = up["sha256"].as_str().unwrap();
    let r = c.get(b.url(&format!("/api/v1/attachments/{sha}"))).bearer_auth(&tb).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);

    // Reference data changed through A reaches B within seconds.
    let admin = login(&c, &a, "admin").await;
    let (_, zones) = get(&c, &b, &admin, "/api/v1/zones").await;
    let zone = zones["items"].as_array().or(zones.as_array()).unwrap()[0]["id"].as_str().unwrap().to_owned();
    let r = c.delete(a.url(&format!("/api/v1/zones/{zone}"))).bearer_auth(&admin).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let gone = eventually(Duration::from_secs(5), async || {
        let (_, z) = get(&c, &b, &admin, "/api/v1/zones").await;
        !z.to_string().contains(&format!("\"id\":\"{zone}\""))
    })
    .await;
    assert!(gone, "B still serves zone {zone} that A deleted");

    // Zones written through both at once: neither change is lost, on either.
    let put_zone = |s: &Server, id: &'static str, lon: f64| {
        let body = json!({
            "zone": {"id": id, "name": id, "kind": "key_area", "valid_from": "2024-01-01", "territory": "340202"},
            "geometry": {"type": "Polygon", "coordinates": [[
                [lon, 31.33], [lon + 0.005, 31.33], [lon + 0.005, 31.335], [lon, 31.335], [lon, 31.33]]]}
        });
        c.put(s.url(&format!("/api/v1/zones/{id}"))).bearer_auth(&admin).json(&body).send()
    };
    let (ra, rb) = tokio::join!(put_zone(&a, "both-a", 118.37), put_zone(&b, "both-b", 118.38));
    assert_eq!((ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()), (200, 200));
    for s in [&a, &b] {
        let both = eventually(Duration::from_secs(5), async || {
            let (_, z) = get(&c, s, &admin, "/api/v1/zones").await;
            let text = z.to_string();
            text.contains("\"id\":\"both-a\"") && text.contains("\"id\":\"both-b\"")
        })
        .await;
        assert!(both, "{} lost a zone written through the other instance", s.base);
    }

    // A session ended through A is refused by B at once (within seconds).
    assert_eq!(get(&c, &b, &ta, "/api/v1/auth/me").await.0, 200, "B accepts A's session");
    let r = c.post(a.url("/api/v1/auth/logout")).bearer_auth(&ta).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let refused = eventually(Duration::from_secs(5), async || get(&c, &b, &ta, "/api/v1/auth/me").await.0 == 401).await;
    assert!(refused, "B still accepts a session A ended");
}

/// Runs futures concurrently and collects their results in order.
async fn futures_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::with_capacity(set.len());
    // Eight at a time, in order: concurrent enough to interleave both instances.
    let mut rest = set.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<F> = rest.by_ref().take(8).collect();
        out.extend(join_all(chunk).await);
    }
    out
}

async fn join_all<F: Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = fs.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    done.into_iter().map(|v| v.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_loses_nothing_acknowledged() {
    let cluster = Cluster::start_primary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&["demo", "--database", &cluster.url(), "--data-dir", dir.path().to_str().unwrap()]);
    let c = http();
    let token = login(&c, &s, "city.operator").await;

    let mut acknowledged = vec![];
    let mut unavailable = 0;
    let mut n = 0;
    let mut stopped_at = None;
    let mut restarted = false;
    let started = Instant::now();
    // Report continuously; a second in, stop the database for three seconds.
    while started.elapsed() < Duration::from_secs(120) {
        n += 1;
        match create(&c, &s, &token, n).await {
            Ok(id) => acknowledged.push(id),
            Err((503, body)) => {
                assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
                unavailable += 1;
            }
            Err(other) => panic!("while the database restarts, only 201 or 503: {other:?}"),
        }
        if stopped_at.is_none() && acknowledged.len() >= 20 {
            cluster.stop().unwrap();
            stopped_at = Some(Instant::now());
        }
        if let Some(at) = stopped_at
            && !restarted
            && at.elapsed() > Duration::from_secs(3)
        {
            cluster.start().unwrap();
            restarted = true;
        }
        if restarted && acknowledged.len() >= 60 {
            break;
        }
        if stopped_at.is_some() && !restarted {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(restarted && unavailable > 0, "the outage was seen: {unavailable} refusals");
    assert!(acknowledged.len() >= 60, "writes resumed without a restart of CityGrid: {}", acknowledged.len());
    for id in &acknowledged {
        let (status, body) = get(&c, &s, &token, &format!("/api/v1/cases/{id}")).await;
        assert_eq!(status, 200, "acknowledged case {id} is there: {body}");
    }
    let auditor = login(&c, &s, "auditor").await;
    assert_eq!(get(&c, &s, &auditor, "/api/v1/audit/verify").await.1["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_moved_to_postgres_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("pilot");
    let d = d.to_str().unwrap();
    let city = "340202";
    let samples = [
        "/api/v1/cases?limit=100".to_owned(),
        format!("/api/v1/cases?territory={city}&state=dispatched&limit=20"),
        "/api/v1/cases/17".to_owned(),
        "/api/v1/cases/2999".to_owned(),
        "/api/v1/locate?lon=118.38&lat=31.33".to_owned(),
        "/api/v1/zones".to_owned(),
        "/api/v1/categories".to_owned(),
        "/api/v1/departments".to_owned(),
        "/api/v1/territory/units/340202".to_owned(),
        "/api/v1/territory/units/340202/children".to_owned(),
        "/api/v1/users".to_owned(),
        "/api/v1/audit?limit=50".to_owned(),
        "/api/v1/audit/verify".to_owned(),
    ];
    let users = ["city.operator", "jinghu.operator", "auditor", "admin"];
    let before = {
        let pilot = Server::start(&["demo", "--data-dir", d]);
        answers(&pilot, &users, &samples).await
    };

    let db = TestDatabase::create().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_citygrid"))
        .args(["migrate-store", "--from", d, "--to", db.url()])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{printed}");
    for table in ["cases", "audit", "units", "blobs"] {
        assert!(printed.lines().any(|l| l.contains(table) && l.ends_with("ok")), "{table}: {printed}");
    }
    let verify = Command::new(env!("CARGO_BIN_EXE_citygrid"))
        .args(["audit", "verify", "--database", db.url()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));

    // The same keyring, the data now in PostgreSQL.
    let moved = Server::start(&["serve", "--database", db.url(), "--data-dir", d]);
    let after = answers(&moved, &users, &samples).await;
    for path in &samples {
        let served = before.iter().any(|(_, p, (status, body))| p == path && *status == 200 && !body.is_null());
        let statuses: Vec<(&str, u16)> =
            before.iter().filter(|(_, p, _)| p == path).map(|(w, _, (st, _))| (w.as_str(), *st)).collect();
        assert!(served, "some demo account can read {path}: {statuses:?}");
    }
    for ((who, path, a), (_, _, b)) in before.iter().zip(&after) {
        if path.starts_with("/api/v1/audit") {
            continue;
        }
        assert_eq!(a, b, "{who} GET {path} differs after the move");
    }
    // The trail holds the move and the logins since; everything before is identical.
    let audit = |v: &[(String, String, (u16, Value))]| -> Vec<Value> {
        let page = &v.iter().find(|(w, p, _)| w == "auditor" && p.starts_with("/api/v1/audit?")).unwrap().2.1;
        page["items"].as_array().or(page.as_array()).unwrap().clone()
    };
    let (a, b) = (audit(&before), audit(&after));
    assert_eq!(a[..], b[..a.len()], "the copied trail is the pilot's, record for record");
}

/// Each user's answer to each path, as (user, path, (status, body)).
async fn answers(s: &Server, users: &[&str], paths: &[String]) -> Vec<(String, String, (u16, Value))> {
    let c = http();
    let mut out = vec![];
    for user in users {
        let token = login(&c, s, user).await;
        for p in paths {
            out.push((user.to_string(), p.clone(), get(&c, s, &token, p).await));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_from_a_replica_never_lose_a_clients_own_write() {
    let primary = Cluster::start_primary().unwrap();
    let replica = primary.start_replica().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let s =
        Server::start(&["demo", "--database", &primary.url(), "--database-replica", &replica.url(), "--data-dir", d]);
    let c = http();
    let token = login(&c, &s, "city.operator").await;
    for n in 0..100 {
        let id = create(&c, &s, &token, n).await.unwrap();
        // The list is a replica read: it must still show the case just made.
        let (status, page) = get(&c, &s, &token, "/api/v1/cases?limit=5").await;
        assert_eq!(status, 200);
        let ids: Vec<u64> = page["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
        assert!(ids.contains(&id), "round {n}: case {id} vanished from the list {ids:?}");
        assert_eq!(get(&c, &s, &token, &format!("/api/v1/cases/{id}")).await.0, 200, "round {n}");
    }
    // And the replica did serve reads (not everything fell back to the primary).
    let metrics = c.get(s.url("/metrics")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    let replica_reads: f64 = metrics
        .lines()
        .find(|l| l.starts_with("citygrid_store_reads_total") && l.contains("target=\"replica\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(replica_reads > 0.0, "no read reached the replica:\n{metrics}");
}
