//! A real server per test: a fresh SQLite store in a temporary directory,
//! a small fixture city, one user per role, listening on port 0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use citygrid_store::prelude::*;
use std::net::SocketAddr;

use chrono::{NaiveDate, Utc};
use citygrid_domain::access::Role;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::calendar::{WorkingCalendar, default_periods};
use citygrid_domain::case::DeadlinePolicy;
use citygrid_domain::{Category, CategoryCode, Department, Level, TimeLimit, TimeLimits, Unit, UnitCode};
use citygrid_server::auth::password::hash_password;
use citygrid_server::vault::Vault;
use citygrid_server::world::geometry_to_json;
use citygrid_server::{App, AppParts, ServerConfig};
use citygrid_store::{StoredUnit, UserRecord};
use citygrid_store_sqlite::{SqliteOptions, SqliteStore};
use geo::{MultiPolygon, polygon};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// The password of every fixture user.
pub const PASSWORD: &str = "Fixture-Pass-2026";

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2,
    0, 0, 0, 0x90, 0x77, 0x53, 0xDE,
];

/// Fixture territory: city 340200 spans lon 118.0–118.4, lat 31.0–31.2.
/// District 340202 is the west half, 340207 the east half. Each district has
/// one township (…001), one community (…001001) with two grids (…001, …002)
/// splitting the community north/south. Points:
/// - `A1` = (118.05, 31.15) → grid 340202001001001
/// - `A2` = (118.05, 31.05) → grid 340202001001002
/// - `B1` = (118.25, 31.15) → grid 340207001001001
pub const A1: (f64, f64) = (118.05, 31.15);
/// Second grid of district A.
pub const A2: (f64, f64) = (118.05, 31.05);
/// First grid of district B.
pub const B1: (f64, f64) = (118.25, 31.15);
/// Outside the city.
pub const OUTSIDE: (f64, f64) = (119.5, 31.1);

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]])
}

fn unit(code: &str, name: &str, geom: MultiPolygon<f64>) -> StoredUnit {
    let c = UnitCode::parse(code).unwrap();
    StoredUnit {
        unit: Unit { synthetic: true, ..Unit::new(c, name, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()) },
        geometry: geometry_to_json(&geom).unwrap(),
    }
}

fn territory() -> Vec<StoredUnit> {
    let mut v = vec![unit("340200", "芜湖市", rect(118.0, 31.0, 118.4, 31.2))];
    for (d, x0) in [("340202", 118.0), ("340207", 118.2)] {
        let x1 = x0 + 0.2;
        v.push(unit(d, d, rect(x0, 31.0, x1, 31.2)));
        v.push(unit(&format!("{d}001"), "街道", rect(x0, 31.0, x1, 31.2)));
        v.push(unit(&format!("{d}001001"), "社区", rect(x0, 31.0, x1, 31.2)));
        v.push(unit(&format!("{d}001001001"), "网格1", rect(x0, 31.1, x1, 31.2)));
        v.push(unit(&format!("{d}001001002"), "网格2", rect(x0, 31.0, x1, 31.1)));
    }
    v
}

/// Two categories: E0101 (urban management) and E0701 (fisheries).
pub fn categories() -> Vec<Category> {
    let l = |n, u| TimeLimit { normal_minutes: n, urgent_minutes: u };
    let mk = |code: &str, name: &str, ty: &str| Category {
        code: CategoryCode::parse(code).unwrap(),
        major_name: "市容环境".into(),
        name: name.into(),
        department_type: ty.into(),
        limits: TimeLimits { register: l(30, 10), dispatch: l(30, 10), acknowledge: l(60, 15), handle: l(450, 240) },
        active: true,
    };
    vec![mk("E0101", "暴露垃圾", "urban_management"), mk("E0701", "非法捕捞", "agriculture_fisheries")]
}

fn departments() -> Vec<Department> {
    let d = |code: &str, ty: &str, t: &str| Department {
        code: code.into(),
        name: code.into(),
        department_type: ty.into(),
        territory: UnitCode::parse(t).unwrap(),
    };
    vec![
        d("D340202-UM", "urban_management", "340202"),
        d("D340207-UM", "urban_management", "340207"),
        d("D340200-AF", "agriculture_fisheries", "340200"),
        d("D340200-EE", "ecology_environment", "340200"),
    ]
}

/// Fixture users: `(username, role, unit, department)`. Every scoped role
/// is bound inside district A (340202).
pub const USERS: &[(&str, Role, Option<&str>, Option<&str>)] = &[
    ("admin", Role::Admin, None, None),
    ("city.op", Role::Operator, Some("340200"), None),
    ("district.op", Role::Operator, Some("340202"), None),
    ("district.op.b", Role::Operator, Some("340207"), None),
    ("township.op", Role::Operator, Some("340202001"), None),
    ("grid.worker", Role::GridWorker, Some("340202001001"), None),
    ("dept.a", Role::DepartmentHandler, None, Some("D340202-UM")),
    ("dept.b", Role::DepartmentHandler, None, Some("D340207-UM")),
    ("mediator", Role::Mediator, Some("340202"), None),
    ("citizen", Role::Citizen, None, None),
    ("citizen.b", Role::Citizen, None, None),
    ("auditor", Role::Auditor, None, None),
];

/// A running test server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP client (no cookie store).
    pub http: Client,
    /// Where its data lives.
    pub dir: tempfile::TempDir,
    /// The app, for direct store access in assertions.
    pub app: App<SqliteStore>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Starts a server with default settings.
pub async fn start() -> TestServer {
    start_with(|c| c).await
}

/// Starts a server with adjusted settings.
pub async fn start_with(cfg: impl FnOnce(ServerConfig) -> ServerConfig) -> TestServer {
    start_on(territory(), vec![], cfg).await
}

/// Starts a server on the Wuhu demo's real city and district boundaries
/// and its demo zones (the Yangtze's fishing ban, sand-mining ban,
/// shoreline, rings…), with the fixture's categories, departments and
/// users (districts 340202 镜湖区 and 340207 鸠江区 are real Wuhu districts).
pub async fn start_wuhu() -> TestServer {
    use citygrid_domain::Level;
    let features: Vec<_> =
        citygrid_geo::wuhu_demo(0).unwrap().into_iter().filter(|f| f.unit.level <= Level::District).collect();
    let units = features.iter().map(|f| citygrid_server::world::stored_unit(f).unwrap()).collect();
    let zones = citygrid_geo::wuhu_demo_zones(&features)
        .unwrap()
        .into_iter()
        .map(|(zone, g)| citygrid_store::StoredZone { zone, geometry: geometry_to_json(&g).unwrap() })
        .collect();
    start_on(units, zones, |c| c).await
}

/// Starts a server on this territory and these zones, with the fixture's
/// categories, departments and users.
pub async fn start_on(
    units: Vec<StoredUnit>,
    zones: Vec<citygrid_store::StoredZone>,
    cfg: impl FnOnce(ServerConfig) -> ServerConfig,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    let ev = || AuditEvent::ok(Utc::now(), "test", "admin", "fixture", "fixture");
    store.upsert_units(units, ev()).await.unwrap();
    if !zones.is_empty() {
        store.put_zones(zones, ev()).await.unwrap();
    }
    store.put_categories(categories(), ev()).await.unwrap();
    store.put_departments(departments(), ev()).await.unwrap();
    // One hash for all users keeps start-up fast; Argon2 is slow by design.
    let hash = hash_password(PASSWORD).unwrap();
    for (name, role, unit, dept) in USERS {
        let u = UserRecord {
            id: (*name).into(),
            username: (*name).into(),
            display_name: (*name).into(),
            role: *role,
            unit: unit.map(|u| UnitCode::parse(u).unwrap()),
            department: dept.map(str::to_owned),
            password_hash: hash.clone(),
            active: true,
            failed_logins: 0,
            locked_until: None,
            created_at: Utc::now(),
        };
        store.create_user(u, ev()).await.unwrap();
    }
    let config = cfg(ServerConfig { login_per_minute: 10_000, public_per_minute: 100_000, ..ServerConfig::default() });
    let app = App::load(AppParts {
        store,
        calendar: WorkingCalendar::new(default_periods(), vec![]).unwrap(),
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        config,
        metrics_token: Some("scrape-token-for-tests".into()),
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    tokio::spawn(async move {
        citygrid_server::serve(listener, served, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer { base: format!("http://{addr}"), http: Client::new(), dir, app, _shutdown: tx }
}

/// The level of a code, for readability in tests.
pub fn level(code: &str) -> Level {
    UnitCode::parse(code).unwrap().level()
}

impl TestServer {
    /// A session for `user` made directly in the store: cheaper than a
    /// login, and unaffected by password changes and revocations.
    pub async fn mint_session(&self, user: &str) -> String {
        use citygrid_server::auth::{SESSION_PREFIX, hash_secret, new_secret};
        let token = new_secret(SESSION_PREFIX);
        let now = Utc::now();
        let session = citygrid_store::SessionRecord {
            token_hash: hash_secret(&token),
            user_id: user.into(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            revoked_at: None,
        };
        let outcome = citygrid_store::LoginOutcome {
            user_id: user.into(),
            failed_logins: 0,
            locked_until: None,
            session: Some(session),
        };
        let ev = AuditEvent::ok(now, user, "test", "auth.login", format!("user/{user}"));
        self.app.store.record_login(outcome, ev).await.unwrap();
        token
    }

    /// Logs in; returns the bearer token.
    pub async fn login(&self, user: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {user}: {}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// A request with a bearer token.
    pub fn req(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token)
    }

    /// GET as `token`.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path, token).send().await.unwrap()
    }

    /// POST JSON as `token`.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.req(Method::POST, path, token).json(&body).send().await.unwrap()
    }

    /// Reports a case at `p` in category `cat`; returns its id.
    pub async fn report(&self, token: &str, cat: &str, p: (f64, f64)) -> i64 {
        let r = self
            .post("/api/v1/cases", token, json!({"category": cat, "description": "堆放垃圾", "lon": p.0, "lat": p.1}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["case"]["id"].as_i64().unwrap()
    }

    /// Performs an action; returns the response.
    pub async fn act(&self, token: &str, id: i64, action: Value) -> Response {
        self.post(&format!("/api/v1/cases/{id}/actions"), token, action).await
    }

    /// Performs an action that must succeed; returns the case JSON.
    pub async fn act_ok(&self, token: &str, id: i64, action: Value) -> Value {
        let r = self.act(token, id, action.clone()).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{action}: {body}");
        body["case"].clone()
    }

    /// Uploads the fixture PNG; returns its hash.
    pub async fn upload_photo(&self, token: &str) -> String {
        let r = self.req(Method::POST, "/api/v1/attachments", token).body(PNG.to_vec()).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["sha256"].as_str().unwrap().to_owned()
    }
}

/// Asserts a response is an error with the standard shape and `code`.
pub async fn assert_error(r: Response, status: u16, code: &str) -> Value {
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(v["error"]["code"], code, "body: {text}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {text}");
    v
}

/// A point on the Yangtze inside the demo's fishing ban and inside district
/// 340202 (镜湖区), found from the seeded zones.
pub fn point_in_the_ban(s: &TestServer) -> (f64, f64) {
    let world = s.app.world();
    let now = chrono::Utc::now();
    let river = citygrid_geo::wuhu_yangtze();
    let mut candidates = vec![];
    for w in river.0.windows(2) {
        for k in 0..8 {
            let t = f64::from(k) / 8.0;
            candidates.push((w[0].x + (w[1].x - w[0].x) * t, w[0].y + (w[1].y - w[0].y) * t));
        }
    }
    for (lon, lat) in candidates {
        let p = citygrid_domain::Point { lon, lat };
        let in_ban = world.zones.zones_at(p, now).iter().any(|z| z.kind == citygrid_domain::ZoneKind::FishingBanWater);
        // 100 m to the north-east must still be in it (the second camera's sighting).
        let q = citygrid_domain::Point { lon: lon + 0.001, lat: lat + 0.001 };
        let q_in_ban =
            world.zones.zones_at(q, now).iter().any(|z| z.kind == citygrid_domain::ZoneKind::FishingBanWater);
        let district = |p| world.territory.locate(p).and_then(|l| l.chain.get(1).map(|c| c.as_str().to_owned()));
        if in_ban && q_in_ban && district(p).as_deref() == Some("340202") && district(q).as_deref() == Some("340202") {
            return (lon, lat);
        }
    }
    panic!("no point of the Yangtze lies in the fishing ban inside 340202");
}
