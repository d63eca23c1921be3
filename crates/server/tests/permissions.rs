//! The permission matrix. Every endpoint of the registry
//! ([`citygrid_server::routes::endpoint_list`]) × every fixture user, an
//! anonymous caller and a device key × own scope (district A, 340202) and
//! other scope (district B, 340207) is sent as a real request, and the
//! outcome class — allowed (2xx), 401, 403 or 404 — is checked against the
//! rule table written below. An endpoint without a rule fails the test, and
//! so does a rule for an endpoint that no longer exists.
//!
//! How the requests are built:
//! - Requests are valid, so "allowed" means 2xx, never "some 4xx that is
//!   not an authz failure".
//! - `POST /cases/{id}/actions`: when the caller is expected to pass, a fresh
//!   case is driven into the state where the caller's role has a legitimate
//!   action (operators: `register` on a reported case; grid workers:
//!   `verify` on a handled one; departments: `acknowledge` on a case
//!   dispatched to the side's department; citizens: `evaluate` on their own
//!   closed case). Callers expected to be refused probe the shared case of
//!   that side with the same action; if authorization wrongly let them
//!   through they would get 2xx or 409, which fails the match as well.
//! - Cases on each side are visible to exactly the same callers: the shared
//!   read fixture of side A is reported by `citizen` at A1 and dispatched
//!   to D340202-UM (dept.a); side B's is reported by `citizen.b` at B1 and
//!   dispatched to D340207-UM (dept.b).
//! - Global resources (catalogue, audit, accounts) use an A-flavoured and a
//!   B-flavoured variant (unit 340202 vs 340207, category E0101 vs E0701,
//!   target user in A vs in B); for `/attachments/{sha}` own = the caller's
//!   upload, other = somebody else's.
//! - Creating a case at a place outside the caller's territory is 403, not
//!   404: a place is not a hidden resource. Out-of-scope *cases* are 404.
//!
//! After the matrix: list and read leak checks against the store's ground truth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use citygrid_store::prelude::*;
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use citygrid_domain::UnitCode;
use citygrid_domain::access::{CaseScope, Role};
use citygrid_server::auth::hash_secret;
use citygrid_server::routes::{Access, endpoint_list};
use citygrid_store::CaseFilter;
use citygrid_store_sqlite::SqliteStore;
use common::*;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

/// Every case created here carries this in its description, so that any
/// error body quoting a description is caught.
const MARKER: &str = "desc-marker";

/// An id no case has.
const GHOST_ID: i64 = 987_654_321;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// District A (340202): where every scoped fixture user but `district.op.b` / `dept.b` sits.
    Own,
    /// District B (340207).
    Other,
}

impl Side {
    fn idx(self) -> usize {
        match self {
            Side::Own => 0,
            Side::Other => 1,
        }
    }
    fn point(self) -> (f64, f64) {
        match self {
            Side::Own => A1,
            Side::Other => B1,
        }
    }
    fn district(self) -> &'static str {
        match self {
            Side::Own => "340202",
            Side::Other => "340207",
        }
    }
    fn dept(self) -> &'static str {
        match self {
            Side::Own => "D340202-UM",
            Side::Other => "D340207-UM",
        }
    }
    fn dept_user(self) -> &'static str {
        match self {
            Side::Own => "dept.a",
            Side::Other => "dept.b",
        }
    }
    fn citizen(self) -> &'static str {
        match self {
            Side::Own => "citizen",
            Side::Other => "citizen.b",
        }
    }
    fn category(self) -> &'static str {
        match self {
            Side::Own => "E0101",
            Side::Other => "E0701",
        }
    }
}

/// The outcome class a request must land in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 2xx.
    Allowed,
    /// 401.
    Unauthenticated,
    /// 403.
    Forbidden,
    /// 404, indistinguishable from a resource that does not exist.
    NotFound,
    /// 400: the request makes no sense for this kind of credential.
    BadRequest,
}

/// Who may call an endpoint.
#[derive(Debug)]
enum Rule {
    /// Anyone, even without credentials.
    Public,
    /// Any authenticated caller, devices included (about the caller itself).
    AnySession,
    /// Any logged-in user; a device key is not a session and gets 400.
    UserSession,
    /// Reference data: every user role; devices are refused.
    Reference,
    /// Exactly these roles; everyone else authenticated gets 403.
    Roles(&'static [Role]),
    /// Report at a place: operators and grid workers inside their territory
    /// (403 outside), citizens and departments anywhere, nobody else.
    ReportAt,
    /// A case: 2xx where the caller sees it, else 404 (mediators and
    /// devices see none).
    ReadCase,
    /// Act on a case: admins and auditors 403 (they see it but may not act),
    /// otherwise like [`Rule::ReadCase`] with the role's own action.
    ActOnCase,
    /// An upload: only one's own (2xx); anybody else's is 404.
    OwnUpload,
    /// The device itself: devices only.
    DeviceSelf,
    /// A water station's readings: administrators and auditors anywhere,
    /// operators and grid workers inside their territory (404 outside),
    /// every other role and device keys 403.
    ReadReadings,
    /// An incident: administrators and auditors everywhere, operators and
    /// grid workers in their territory; 404 for everyone else.
    ReadIncident,
    /// A review decision: operators in their territory; callers who see the
    /// incident but may not decide get 403, the rest 404.
    ReviewIncident,
}

fn is_event_stream(r: &reqwest::Response) -> bool {
    r.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

const INCIDENT_READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Operator, Role::GridWorker];
const UPLOADERS: &[Role] = &[Role::Operator, Role::GridWorker, Role::Citizen, Role::DepartmentHandler];
const CASE_READERS: &[Role] =
    &[Role::Admin, Role::Operator, Role::GridWorker, Role::DepartmentHandler, Role::Citizen, Role::Auditor];

/// The rule for every endpoint. A new endpoint needs a line here.
const RULES: &[(&str, &str, Rule)] = &[
    ("GET", "/healthz", Rule::Public),
    ("GET", "/api/openapi.json", Rule::Public),
    ("GET", "/metrics", Rule::Roles(&[Role::Admin, Role::Auditor, Role::Operator])),
    ("POST", "/api/v1/auth/login", Rule::Public),
    ("POST", "/api/v1/auth/logout", Rule::UserSession),
    ("GET", "/api/v1/auth/me", Rule::AnySession),
    ("GET", "/api/v1/territory", Rule::Reference),
    ("GET", "/api/v1/territory/geojson", Rule::Reference),
    ("GET", "/api/v1/territory/units/{code}", Rule::Reference),
    ("GET", "/api/v1/territory/units/{code}/children", Rule::Reference),
    ("GET", "/api/v1/territory/units/{code}/children/geojson", Rule::Reference),
    ("GET", "/api/v1/territory/tiles", Rule::Reference),
    ("GET", "/api/v1/locate", Rule::Reference),
    ("POST", "/api/v1/locate", Rule::Reference),
    ("POST", "/api/v1/territory/import", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/categories", Rule::Reference),
    ("PUT", "/api/v1/categories/{code}", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/departments", Rule::Reference),
    ("PUT", "/api/v1/departments/{code}", Rule::Roles(&[Role::Admin])),
    ("POST", "/api/v1/cases", Rule::ReportAt),
    ("GET", "/api/v1/cases", Rule::Roles(CASE_READERS)),
    ("GET", "/api/v1/cases/{id}", Rule::ReadCase),
    ("POST", "/api/v1/cases/{id}/actions", Rule::ActOnCase),
    ("GET", "/api/v1/cases/{id}/attachments/{sha256}", Rule::ReadCase),
    ("POST", "/api/v1/attachments", Rule::Roles(UPLOADERS)),
    ("GET", "/api/v1/attachments/{sha256}", Rule::OwnUpload),
    ("GET", "/api/v1/stream", Rule::Roles(CASE_READERS)),
    ("GET", "/api/v1/audit", Rule::Roles(&[Role::Admin, Role::Auditor])),
    ("GET", "/api/v1/audit/verify", Rule::Roles(&[Role::Admin, Role::Auditor])),
    ("POST", "/api/v1/users", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/users", Rule::Roles(&[Role::Admin, Role::Auditor])),
    ("PATCH", "/api/v1/users/{id}", Rule::Roles(&[Role::Admin])),
    ("DELETE", "/api/v1/users/{id}/sessions", Rule::Roles(&[Role::Admin])),
    ("POST", "/api/v1/devices", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/devices", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/devices/me", Rule::DeviceSelf),
    ("DELETE", "/api/v1/devices/{id}", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/zones", Rule::Reference),
    ("GET", "/api/v1/zones/geojson", Rule::Reference),
    ("GET", "/api/v1/zones/at", Rule::Reference),
    ("PUT", "/api/v1/zones/{id}", Rule::Roles(&[Role::Admin])),
    ("DELETE", "/api/v1/zones/{id}", Rule::Roles(&[Role::Admin])),
    ("GET", "/api/v1/water/readings", Rule::ReadReadings),
    ("POST", "/api/v1/detections", Rule::DeviceSelf),
    ("POST", "/api/v1/intake/gb28181", Rule::DeviceSelf),
    ("GET", "/api/v1/incidents", Rule::Roles(INCIDENT_READERS)),
    ("GET", "/api/v1/incidents/stats", Rule::Roles(INCIDENT_READERS)),
    ("GET", "/api/v1/incidents/{id}", Rule::ReadIncident),
    ("POST", "/api/v1/incidents/{id}/confirm", Rule::ReviewIncident),
    ("POST", "/api/v1/incidents/{id}/dismiss", Rule::ReviewIncident),
    ("POST", "/api/v1/incidents/{id}/merge", Rule::ReviewIncident),
    ("POST", "/api/v1/incidents/{id}/promote", Rule::ReviewIncident),
];

/// A caller: `covers` = its territory contains side A / B (operators and
/// grid workers); `sees` = it may read the side's case fixtures. Written by
/// hand from PRODUCT.md, not computed from the policy under test.
struct Who {
    name: &'static str,
    role: Option<Role>,
    covers: [bool; 2],
    sees: [bool; 2],
}

const T: bool = true;
const F: bool = false;
const ANONYMOUS: &str = "anonymous";
const DEVICE: &str = "device";

const CALLERS: &[Who] = &[
    Who { name: "admin", role: Some(Role::Admin), covers: [F, F], sees: [T, T] },
    Who { name: "city.op", role: Some(Role::Operator), covers: [T, T], sees: [T, T] },
    Who { name: "district.op", role: Some(Role::Operator), covers: [T, F], sees: [T, F] },
    Who { name: "district.op.b", role: Some(Role::Operator), covers: [F, T], sees: [F, T] },
    Who { name: "township.op", role: Some(Role::Operator), covers: [T, F], sees: [T, F] },
    Who { name: "grid.worker", role: Some(Role::GridWorker), covers: [T, F], sees: [T, F] },
    Who { name: "dept.a", role: Some(Role::DepartmentHandler), covers: [F, F], sees: [T, F] },
    Who { name: "dept.b", role: Some(Role::DepartmentHandler), covers: [F, F], sees: [F, T] },
    Who { name: "mediator", role: Some(Role::Mediator), covers: [F, F], sees: [F, F] },
    Who { name: "citizen", role: Some(Role::Citizen), covers: [F, F], sees: [T, F] },
    Who { name: "citizen.b", role: Some(Role::Citizen), covers: [F, F], sees: [F, T] },
    Who { name: "auditor", role: Some(Role::Auditor), covers: [F, F], sees: [T, T] },
    Who { name: ANONYMOUS, role: None, covers: [F, F], sees: [F, F] },
    Who { name: DEVICE, role: Some(Role::Device), covers: [F, F], sees: [F, F] },
];

fn expected(rule: &Rule, who: &Who, side: Side) -> Expect {
    use Expect::*;
    let Some(role) = who.role else {
        return if matches!(rule, Rule::Public) { Allowed } else { Unauthenticated };
    };
    let sees = who.sees[side.idx()];
    match rule {
        Rule::Public | Rule::AnySession => Allowed,
        Rule::UserSession if role == Role::Device => BadRequest,
        Rule::UserSession => Allowed,
        Rule::Reference if role == Role::Device => Forbidden,
        Rule::Reference => Allowed,
        Rule::Roles(roles) if roles.contains(&role) => Allowed,
        Rule::Roles(_) => Forbidden,
        Rule::ReportAt => match role {
            Role::Operator | Role::GridWorker if who.covers[side.idx()] => Allowed,
            Role::Citizen | Role::DepartmentHandler => Allowed,
            _ => Forbidden,
        },
        Rule::ReadCase if sees => Allowed,
        Rule::ReadCase => NotFound,
        Rule::ActOnCase => match role {
            Role::Admin | Role::Auditor => Forbidden,
            _ if sees => Allowed,
            _ => NotFound,
        },
        Rule::OwnUpload if side == Side::Own && UPLOADERS.contains(&role) => Allowed,
        Rule::OwnUpload => NotFound,
        Rule::DeviceSelf if role == Role::Device => Allowed,
        Rule::DeviceSelf => Forbidden,
        Rule::ReadReadings => match role {
            Role::Admin | Role::Auditor => Allowed,
            Role::Operator | Role::GridWorker if who.covers[side.idx()] => Allowed,
            Role::Operator | Role::GridWorker => NotFound,
            _ => Forbidden,
        },
        Rule::ReadIncident => match role {
            Role::Admin | Role::Auditor => Allowed,
            Role::Operator | Role::GridWorker if who.covers[side.idx()] => Allowed,
            _ => NotFound,
        },
        Rule::ReviewIncident => match role {
            Role::Operator if who.covers[side.idx()] => Allowed,
            Role::Admin | Role::Auditor => Forbidden,
            Role::GridWorker if who.covers[side.idx()] => Forbidden,
            _ => NotFound,
        },
    }
}

fn class_matches(e: Expect, status: u16) -> bool {
    match e {
        Expect::Allowed => (200..300).contains(&status),
        Expect::Unauthenticated => status == 401,
        Expect::Forbidden => status == 403,
        Expect::NotFound => status == 404,
        Expect::BadRequest => status == 400,
    }
}

/// How far a fresh case is driven.
#[derive(Clone, Copy, Debug)]
enum Stage {
    Reported,
    Dispatched,
    Handled,
    Closed,
}

#[derive(Clone)]
enum Body {
    Empty,
    Json(Value),
    Bytes(Vec<u8>),
}

#[derive(Clone)]
struct Req {
    method: Method,
    path: String,
    body: Body,
    /// Replaces the caller's credential (logout spends a throwaway session).
    token: Option<String>,
    /// The case in the path, for comparing a 404 with a non-existent case's.
    case: Option<i64>,
    /// The attachment in the path of `/attachments/{sha}`, likewise.
    sha: Option<String>,
}

impl Req {
    fn new(method: Method, path: impl Into<String>) -> Req {
        Req { method, path: path.into(), body: Body::Empty, token: None, case: None, sha: None }
    }
    fn json(mut self, v: Value) -> Req {
        self.body = Body::Json(v);
        self
    }
}

struct World {
    s: TestServer,
    tokens: HashMap<&'static str, String>,
    device_key: String,
    /// The shared case of each side (see the module docs).
    read_case: [i64; 2],
    /// The photo cited on it.
    read_sha: [String; 2],
    /// One upload per uploading user, each different bytes.
    uploads: HashMap<&'static str, String>,
    categories: Vec<Value>,
    departments: Vec<Value>,
    /// The shared incident of each side (bank displacement at the side's point).
    read_incident: [u64; 2],
    n: Cell<u64>,
}

impl World {
    fn tok(&self, name: &str) -> &str {
        self.tokens.get(name).unwrap_or_else(|| panic!("no token for {name}"))
    }

    fn next(&self) -> u64 {
        self.n.set(self.n.get() + 1);
        self.n.get()
    }

    fn with_cred(&self, rb: RequestBuilder, who: &str, token: Option<&str>) -> RequestBuilder {
        match (who, token) {
            (ANONYMOUS, _) => rb,
            (DEVICE, _) => rb.header("x-api-key", &self.device_key),
            (_, Some(t)) => rb.bearer_auth(t),
            (name, None) => rb.bearer_auth(self.tok(name)),
        }
    }

    async fn send(&self, who: &str, req: &Req) -> (u16, String) {
        let rb = self.s.http.request(req.method.clone(), format!("{}{}", self.s.base, req.path));
        let rb = self.with_cred(rb, who, req.token.as_deref());
        let rb = match &req.body {
            Body::Empty => rb,
            Body::Json(v) => rb.json(v),
            Body::Bytes(b) => rb.body(b.clone()),
        };
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        if is_event_stream(&r) {
            // A live feed never ends; its status is the answer.
            return (status, String::new());
        }
        (status, r.text().await.unwrap())
    }

    async fn upload(&self, who: &str) -> String {
        let mut bytes = PNG.to_vec();
        bytes.extend_from_slice(format!("{who}-{}", self.next()).as_bytes());
        let r = self.s.req(Method::POST, "/api/v1/attachments", self.tok(who)).body(bytes).send().await.unwrap();
        assert_eq!(r.status(), 201, "upload as {who}: {}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["sha256"].as_str().unwrap().to_owned()
    }

    async fn new_case(&self, reporter: &str, side: Side, evidence: &[String]) -> i64 {
        let (lon, lat) = side.point();
        let body = json!({
            "category": "E0101", "lon": lon, "lat": lat, "evidence": evidence,
            "description": format!("{MARKER}-{} reported by {reporter}", self.next()),
        });
        let r = self.s.post("/api/v1/cases", self.tok(reporter), body).await;
        assert_eq!(r.status(), 201, "report as {reporter}: {}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["case"]["id"].as_i64().unwrap()
    }

    async fn act(&self, who: &str, id: i64, action: Value) -> Value {
        self.s.act_ok(self.tok(who), id, action).await
    }

    /// A fresh case reported by `reporter` on `side`, driven to `stage`
    /// through the side's department.
    async fn staged(&self, reporter: &str, side: Side, stage: Stage) -> i64 {
        let id = self.new_case(reporter, side, &[]).await;
        if matches!(stage, Stage::Reported) {
            return id;
        }
        self.act("city.op", id, json!({"action": "register"})).await;
        self.act("city.op", id, json!({"action": "dispatch", "department": side.dept()})).await;
        if matches!(stage, Stage::Dispatched) {
            return id;
        }
        let dept = side.dept_user();
        self.act(dept, id, json!({"action": "acknowledge"})).await;
        let photo = self.uploads[dept].clone();
        self.act(dept, id, json!({"action": "handle", "note": "清理完毕", "evidence": [photo]})).await;
        if matches!(stage, Stage::Handled) {
            return id;
        }
        self.act("city.op", id, json!({"action": "verify", "passed": true})).await;
        self.act("city.op", id, json!({"action": "close"})).await;
        id
    }

    async fn mint_session(&self, user: &str) -> String {
        self.s.mint_session(user).await
    }

    /// Posts one detection as the probe device; the incident it joined.
    async fn detect(&self, label: &str, lon: f64, lat: f64) -> u64 {
        let body = json!({"detections": [{
            "id": format!("probe-{}", self.next()), "device": "probe-device", "at": chrono::Utc::now(),
            "label": label, "score": 0.9, "lon": lon, "lat": lat,
        }]});
        let r = self.s.http.post(format!("{}/api/v1/detections", self.s.base)).header("x-api-key", &self.device_key);
        let r = r.json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["items"][0]["incident"].as_u64().unwrap_or_else(|| panic!("no incident: {v}"))
    }

    /// A fresh air-pollution incident on `side`, over 2 km (its grouping
    /// radius) from every other one.
    async fn fresh_incident(&self, side: Side) -> u64 {
        let k = self.next();
        let x0 = [118.005, 118.205][side.idx()];
        let (lon, lat) = (x0 + (k % 8) as f64 * 0.024, 31.005 + ((k / 8) % 8) as f64 * 0.024);
        self.detect("smoke", lon, lat).await
    }

    fn foreign_upload(&self, who: &str) -> String {
        let other = if who == "citizen.b" { "citizen" } else { "citizen.b" };
        self.uploads[other].clone()
    }

    /// The request that probes `method template` as `who` on `side`.
    async fn prepare(&self, method: &Method, template: &str, who: &Who, side: Side, exp: Expect) -> Req {
        let m = method.clone();
        let i = side.idx();
        let d = side.district();
        match (method.as_str(), template) {
            ("GET", "/healthz" | "/api/openapi.json" | "/metrics" | "/api/v1/auth/me" | "/api/v1/territory")
            | ("GET", "/api/v1/categories" | "/api/v1/departments" | "/api/v1/audit/verify")
            | ("GET", "/api/v1/users" | "/api/v1/devices" | "/api/v1/devices/me") => Req::new(m, template),
            ("POST", "/api/v1/auth/login") => {
                Req::new(m, template).json(json!({"username": "login.probe", "password": PASSWORD}))
            }
            ("POST", "/api/v1/auth/logout") => {
                let mut r = Req::new(m, template);
                if who.name != ANONYMOUS && who.name != DEVICE {
                    r.token = Some(self.mint_session(who.name).await);
                }
                r
            }
            ("GET", "/api/v1/territory/geojson") => {
                Req::new(m, format!("{template}?level={}", ["district", "grid"][i]))
            }
            ("GET", "/api/v1/territory/units/{code}")
            | ("GET", "/api/v1/territory/units/{code}/children")
            | ("GET", "/api/v1/territory/units/{code}/children/geojson") => Req::new(m, template.replace("{code}", d)),
            ("GET", "/api/v1/territory/tiles") => {
                let (lon, lat) = side.point();
                let bbox = format!("{},{},{},{}", lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01);
                Req::new(m, format!("{template}?bbox={bbox}&zoom={}", [14, 8][i]))
            }
            ("GET", "/api/v1/locate") => {
                let (lon, lat) = side.point();
                Req::new(m, format!("{template}?lon={lon}&lat={lat}"))
            }
            ("POST", "/api/v1/locate") => {
                let (lon, lat) = side.point();
                Req::new(m, template).json(json!({"points": [[lon, lat], [lon + 10.0, lat]]}))
            }
            ("PUT", "/api/v1/categories/{code}") => {
                let code = side.category();
                let body = self.categories.iter().find(|c| c["code"] == code).unwrap().clone();
                Req::new(m, template.replace("{code}", code)).json(body)
            }
            ("PUT", "/api/v1/departments/{code}") => {
                let code = side.dept();
                let body = self.departments.iter().find(|c| c["code"] == code).unwrap().clone();
                Req::new(m, template.replace("{code}", code)).json(body)
            }
            ("POST", "/api/v1/cases") => {
                let (lon, lat) = side.point();
                let description = format!("{MARKER}-{} probe by {}", self.next(), who.name);
                Req::new(m, template)
                    .json(json!({"category": "E0101", "description": description, "lon": lon, "lat": lat}))
            }
            ("GET", "/api/v1/cases") => Req::new(m, format!("{template}?territory={d}")),
            ("GET", "/api/v1/cases/{id}") => {
                let id = self.read_case[i];
                let mut r = Req::new(m, template.replace("{id}", &id.to_string()));
                r.case = Some(id);
                r
            }
            ("GET", "/api/v1/cases/{id}/attachments/{sha256}") => {
                let id = self.read_case[i];
                let path = template.replace("{id}", &id.to_string()).replace("{sha256}", &self.read_sha[i]);
                let mut r = Req::new(m, path);
                r.case = Some(id);
                r
            }
            ("POST", "/api/v1/cases/{id}/actions") => {
                let role = who.role.unwrap_or(Role::Admin);
                let (stage, reporter, action) = match role {
                    Role::GridWorker => (Stage::Handled, "city.op", json!({"action": "verify", "passed": true})),
                    Role::DepartmentHandler => (Stage::Dispatched, "city.op", json!({"action": "acknowledge"})),
                    Role::Citizen => (Stage::Closed, side.citizen(), json!({"action": "evaluate", "rating": 5})),
                    _ => (Stage::Reported, "city.op", json!({"action": "register"})),
                };
                let id =
                    if exp == Expect::Allowed { self.staged(reporter, side, stage).await } else { self.read_case[i] };
                let mut r = Req::new(m, template.replace("{id}", &id.to_string())).json(action);
                r.case = Some(id);
                r
            }
            ("POST", "/api/v1/attachments") => {
                let mut bytes = PNG.to_vec();
                bytes.extend_from_slice(format!("probe-{}", self.next()).as_bytes());
                let mut r = Req::new(m, template);
                r.body = Body::Bytes(bytes);
                r
            }
            ("GET", "/api/v1/attachments/{sha256}") => {
                let sha = match (side, self.uploads.get(who.name)) {
                    (Side::Own, Some(mine)) => mine.clone(),
                    _ => self.foreign_upload(who.name),
                };
                let mut r = Req::new(m, template.replace("{sha256}", &sha));
                r.sha = Some(sha);
                r
            }
            ("GET", "/api/v1/audit") => Req::new(m, format!("{template}?limit=5")),
            ("GET", "/api/v1/stream") => Req::new(m, template),
            ("POST", "/api/v1/users") => Req::new(m, template).json(json!({
                "username": format!("probe.user{}", self.next()), "display_name": "probe", "role": "operator",
                "unit": d, "password": PASSWORD,
            })),
            ("PATCH", "/api/v1/users/{id}") => {
                let target = ["target.a", "target.b"][i];
                Req::new(m, template.replace("{id}", target))
                    .json(json!({"display_name": format!("renamed {}", self.next())}))
            }
            ("DELETE", "/api/v1/users/{id}/sessions") => {
                Req::new(m, template.replace("{id}", ["target.a", "target.b"][i]))
            }
            ("POST", "/api/v1/devices") => Req::new(m, template).json(json!({
                "id": format!("probe-dev-{}", self.next()), "name": "camera", "kind": "camera", "unit": d,
            })),
            ("DELETE", "/api/v1/devices/{id}") => {
                let id = if exp == Expect::Allowed {
                    let id = format!("doomed-dev-{}", self.next());
                    let body = json!({"id": id, "name": "doomed", "kind": "radar", "unit": d});
                    let r = self.s.post("/api/v1/devices", self.tok("admin"), body).await;
                    assert_eq!(r.status(), 201);
                    id
                } else {
                    ["target-dev-a", "target-dev-b"][i].to_owned()
                };
                Req::new(m, template.replace("{id}", &id))
            }
            ("GET", "/api/v1/water/readings") => {
                Req::new(m, format!("{template}?station={}", ["station-a", "station-b"][i]))
            }
            ("GET", "/api/v1/zones") => Req::new(m, format!("{template}?kind=key_area")),
            ("GET", "/api/v1/zones/geojson") => {
                Req::new(m, format!("{template}?kind={}", ["key_area", "shoreline"][i]))
            }
            ("GET", "/api/v1/zones/at") => {
                let (lon, lat) = side.point();
                Req::new(m, format!("{template}?lon={lon}&lat={lat}&at=2026-05-01T12:00:00Z"))
            }
            ("PUT", "/api/v1/zones/{id}") => {
                let id = format!("probe-zone-{}-{}", d, self.next());
                let (lon, lat) = side.point();
                let ring = json!([[
                    [lon - 0.01, lat - 0.01],
                    [lon + 0.01, lat - 0.01],
                    [lon + 0.01, lat + 0.01],
                    [lon - 0.01, lat + 0.01],
                    [lon - 0.01, lat - 0.01]
                ]]);
                Req::new(m, template.replace("{id}", &id)).json(json!({
                    "zone": {"id": id, "name": "probe", "kind": "key_area", "valid_from": "2024-01-01", "territory": d},
                    "geometry": {"type": "Polygon", "coordinates": ring},
                }))
            }
            ("POST", "/api/v1/territory/import") => {
                // The fixture's grid as it is: a valid file, checked only.
                let ring = json!([[[118.0, 31.1], [118.2, 31.1], [118.2, 31.2], [118.0, 31.2], [118.0, 31.1]]]);
                Req::new(m, format!("{template}?dry_run=true")).json(json!({
                    "type": "FeatureCollection",
                    "features": [{"type": "Feature", "properties": {"code": "340202001001001", "name": "网格1"},
                                  "geometry": {"type": "Polygon", "coordinates": ring}}],
                }))
            }
            ("DELETE", "/api/v1/zones/{id}") => {
                let id = if exp == Expect::Allowed {
                    let id = format!("doomed-zone-{}", self.next());
                    let (lon, lat) = side.point();
                    let ring = json!([[[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat]]]);
                    let body = json!({
                        "zone": {"id": id, "name": "doomed", "kind": "key_area", "valid_from": "2024-01-01"},
                        "geometry": {"type": "Polygon", "coordinates": ring},
                    });
                    let path = format!("/api/v1/zones/{id}");
                    let r = self.s.req(Method::PUT, &path, self.tok("admin")).json(&body).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    id
                } else {
                    ["target-zone-a", "target-zone-b"][i].to_owned()
                };
                Req::new(m, template.replace("{id}", &id))
            }
            ("POST", "/api/v1/detections") => {
                let (lon, lat) = side.point();
                Req::new(m, template).json(json!({"detections": [{
                    "id": format!("matrix-{}", self.next()), "device": "probe-device", "at": chrono::Utc::now(),
                    "label": "vessel", "score": 0.5, "lon": lon, "lat": lat,
                }]}))
            }
            ("POST", "/api/v1/intake/gb28181") => {
                let (lon, lat) = side.point();
                let xml = citygrid_server::routes::gb28181::EXAMPLE
                    .replace("<SN>17430</SN>", &format!("<SN>{}</SN>", self.next()))
                    .replace("118.37", &lon.to_string())
                    .replace("31.33", &lat.to_string());
                let mut r = Req::new(m, template);
                r.body = Body::Bytes(xml.into_bytes());
                r
            }
            ("GET", "/api/v1/incidents") => Req::new(m, format!("{template}?state=open&limit=10")),
            ("GET", "/api/v1/incidents/stats") => Req::new(m, template),
            ("GET", "/api/v1/incidents/{id}") => {
                Req::new(m, template.replace("{id}", &self.read_incident[i].to_string()))
            }
            ("POST", "/api/v1/incidents/{id}/confirm")
            | ("POST", "/api/v1/incidents/{id}/dismiss")
            | ("POST", "/api/v1/incidents/{id}/promote")
            | ("POST", "/api/v1/incidents/{id}/merge") => {
                let id = if exp == Expect::Allowed { self.fresh_incident(side).await } else { self.read_incident[i] };
                let r = Req::new(m, template.replace("{id}", &id.to_string()));
                if template.ends_with("/merge") {
                    let into = if exp == Expect::Allowed { self.fresh_incident(side).await } else { id + 1 };
                    r.json(json!({"into": into}))
                } else {
                    r
                }
            }
            _ => panic!("no request recipe for {method} {template}: add one to prepare()"),
        }
    }
}

async fn setup() -> World {
    let s = start().await;
    let mut tokens = HashMap::new();
    for (name, ..) in USERS {
        tokens.insert(*name, s.login(name).await);
    }
    let mut w = World {
        s,
        tokens,
        device_key: String::new(),
        read_case: [0, 0],
        read_sha: [String::new(), String::new()],
        uploads: HashMap::new(),
        categories: vec![],
        departments: vec![],
        read_incident: [0, 0],
        n: Cell::new(0),
    };
    for (name, role, ..) in USERS {
        if UPLOADERS.contains(role) {
            let sha = w.upload(name).await;
            w.uploads.insert(*name, sha);
        }
    }
    let admin = w.tok("admin").to_owned();
    // Targets for account endpoints, and the login probe's user.
    for (user, unit) in [("target.a", Some("340202")), ("target.b", Some("340207")), ("login.probe", None)] {
        let role = if unit.is_some() { "operator" } else { "citizen" };
        let body = json!({"username": user, "display_name": user, "role": role, "unit": unit, "password": PASSWORD});
        let r = w.s.post("/api/v1/users", &admin, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    for (id, unit) in [("probe-device", "340202"), ("target-dev-a", "340202"), ("target-dev-b", "340207")] {
        let r =
            w.s.post("/api/v1/devices", &admin, json!({"id": id, "name": id, "kind": "camera", "unit": unit})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        if id == "probe-device" {
            w.device_key = r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned();
        }
    }
    // A water section over the city, and a water station on each side.
    let ring = json!([[[118.0, 31.0], [118.4, 31.0], [118.4, 31.2], [118.0, 31.2], [118.0, 31.0]]]);
    let section = json!({
        "zone": {"id": "ws-city", "name": "section", "kind": "water_section", "valid_from": "2024-01-01", "target_class": "III"},
        "geometry": {"type": "Polygon", "coordinates": ring},
    });
    let r = w.s.req(Method::PUT, "/api/v1/zones/ws-city", &admin).json(&section).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for (id, mn, (lon, lat)) in [("station-a", "MN-A", A1), ("station-b", "MN-B", B1)] {
        let body = json!({"id": id, "name": id, "kind": "water_station", "lon": lon, "lat": lat,
                          "mn": mn, "pw": "123456", "water_section": "ws-city"});
        let r = w.s.post("/api/v1/devices", &admin, body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // Promoted air-pollution incidents become E0703 cases.
    let mut air = w.s.get("/api/v1/categories", &admin).await.json::<Vec<Value>>().await.unwrap()[0].clone();
    air["code"] = json!("E0703");
    air["name"] = json!("大气污染");
    let r = w.s.req(Method::PUT, "/api/v1/categories/E0703", &admin).json(&air).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for side in [Side::Own, Side::Other] {
        let (lon, lat) = side.point();
        w.read_incident[side.idx()] = w.detect("bank_crack", lon, lat).await;
    }
    w.categories = w.s.get("/api/v1/categories", &admin).await.json().await.unwrap();
    w.departments = w.s.get("/api/v1/departments", &admin).await.json().await.unwrap();
    // The shared case of each side: a citizen's report with a photo, dispatched to the side's department.
    for side in [Side::Own, Side::Other] {
        let citizen = side.citizen();
        let sha = w.uploads[citizen].clone();
        let id = w.new_case(citizen, side, std::slice::from_ref(&sha)).await;
        w.act("city.op", id, json!({"action": "register"})).await;
        w.act("city.op", id, json!({"action": "dispatch", "department": side.dept()})).await;
        w.read_case[side.idx()] = id;
        w.read_sha[side.idx()] = sha;
    }
    w
}

fn check_error_shape(context: &str, status: u16, body: &str, failures: &mut Vec<String>) {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => {
            failures.push(format!("{context}: {status} body is not JSON: {body}"));
            return;
        }
    };
    let code = v["error"]["code"].as_str().unwrap_or("");
    let message = v["error"]["message"].as_str().unwrap_or("");
    if code.is_empty() || message.is_empty() {
        failures.push(format!("{context}: {status} body lacks error.code/message: {body}"));
    }
    let want = match status {
        403 => Some("forbidden"),
        404 => Some("not_found"),
        _ => None,
    };
    if want.is_some_and(|w| w != code) {
        failures.push(format!("{context}: {status} with code {code:?}: {body}"));
    }
    if body.contains(MARKER) {
        failures.push(format!("{context}: an error quotes a case description: {body}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_endpoint_every_role_every_scope() {
    let t0 = Instant::now();
    let w = setup().await;
    let t_setup = t0.elapsed();

    // Every caller in the matrix is a fixture user, or anonymous, or the device.
    let names: BTreeSet<&str> = CALLERS.iter().map(|c| c.name).collect();
    for (name, role, ..) in USERS {
        assert!(names.contains(name), "fixture user {name} has no row in CALLERS");
        let who = CALLERS.iter().find(|c| c.name == *name).unwrap();
        assert_eq!(who.role, Some(*role), "CALLERS row for {name} has the wrong role");
    }

    let mut failures = Vec::new();
    let endpoints = endpoint_list::<SqliteStore>();
    for (method, path, _) in RULES {
        if !endpoints.iter().any(|(m, p, _)| m.as_str() == *method && p == path) {
            failures.push(format!("rule for {method} {path}, which is no longer an endpoint"));
        }
    }
    let mut requests = 0;
    for (method, path, access) in &endpoints {
        let Some((_, _, rule)) = RULES.iter().find(|(m, p, _)| *m == method.as_str() && p == path) else {
            failures.push(format!("endpoint {method} {path} has no rule in the permission table"));
            continue;
        };
        if (*access == Access::Public) != matches!(rule, Rule::Public) {
            failures.push(format!("{method} {path}: registry says {access:?}, table says {rule:?}"));
        }
        for who in CALLERS {
            for side in [Side::Own, Side::Other] {
                let exp = expected(rule, who, side);
                let req = w.prepare(method, path, who, side, exp).await;
                let (status, body) = w.send(who.name, &req).await;
                requests += 1;
                let context = format!("{method} {} as {} ({side:?})", req.path, who.name);
                if !class_matches(exp, status) {
                    failures.push(format!("{context}: expected {exp:?}, got {status}: {body}"));
                }
                if status >= 400 {
                    check_error_shape(&context, status, &body, &mut failures);
                }
                if status != 404 {
                    continue;
                }
                // A hidden resource answers exactly like one that does not exist.
                let (ghost, ours, theirs) = match (req.case, &req.sha) {
                    (Some(id), _) => {
                        let mut g = req.clone();
                        g.path = req.path.replacen(&format!("/cases/{id}"), &format!("/cases/{GHOST_ID}"), 1);
                        (g, format!("case/{id}"), format!("case/{GHOST_ID}"))
                    }
                    (None, Some(sha)) => {
                        let fake = hash_secret("no such attachment");
                        let mut g = req.clone();
                        g.path = req.path.replace(sha.as_str(), &fake);
                        (g, sha.clone(), fake)
                    }
                    _ => continue,
                };
                let (gs, gbody) = w.send(who.name, &ghost).await;
                requests += 1;
                if gs != 404 || gbody.replace(&theirs, "X") != body.replace(&ours, "X") {
                    failures.push(format!("{context}: 404 differs from a missing resource's: {body} vs {gs} {gbody}"));
                }
            }
        }
    }
    let t_matrix = t0.elapsed() - t_setup;
    assert!(failures.is_empty(), "{} permission failures:\n{}", failures.len(), failures.join("\n"));

    in_scope_but_not_this_action(&w).await;
    lists_never_leak(&w).await;
    eprintln!(
        "permission matrix: {} endpoints × {} callers × 2 scopes = {requests} requests; \
         setup {t_setup:?}, matrix {t_matrix:?}, total {:?}",
        endpoints.len(),
        CALLERS.len(),
        t0.elapsed()
    );
}

/// Roles that see a case but may not take a given action get 403, not 404.
async fn in_scope_but_not_this_action(w: &World) {
    let forbidden = |who: &'static str, id: i64, action: Value| async move {
        let r = w.s.act(w.tok(who), id, action.clone()).await;
        assert_error(r, 403, "forbidden").await;
    };
    let reported = w.staged("city.op", Side::Own, Stage::Reported).await;
    forbidden("grid.worker", reported, json!({"action": "register"})).await;
    let photo = w.uploads["grid.worker"].clone();
    // Grid workers fix on the spot only what they reported themselves.
    forbidden("grid.worker", reported, json!({"action": "self_handle", "note": "修好了", "evidence": [photo]})).await;
    let dispatched = w.staged("city.op", Side::Own, Stage::Dispatched).await;
    forbidden("dept.a", dispatched, json!({"action": "dispatch", "department": "D340202-UM"})).await;
    forbidden("district.op", dispatched, json!({"action": "acknowledge"})).await;
    let own = w.read_case[0];
    forbidden("citizen", own, json!({"action": "void", "reason": "不想要了"})).await;

    // Citing an attachment that does not exist changes nothing: out of scope stays 404, not a 422 that
    // would tell which attachments exist.
    let handle = json!({"action": "handle", "note": "x", "evidence": [hash_secret("never uploaded")]});
    for token in [w.tok("district.op"), w.tok("dept.a"), w.tok("mediator"), w.device_key.as_str()] {
        let r = w.s.act(token, w.read_case[1], handle.clone()).await;
        assert_error(r, 404, "not_found").await;
    }

    // A department that no longer leads a case still sees it but may not act on it.
    let id = w.staged("city.op", Side::Own, Stage::Reported).await;
    w.act("city.op", id, json!({"action": "register"})).await;
    w.act("city.op", id, json!({"action": "dispatch", "department": "D340207-UM"})).await;
    w.act("dept.b", id, json!({"action": "return", "reason": "不属于本部门辖区"})).await;
    w.act("city.op", id, json!({"action": "dispatch", "department": "D340202-UM"})).await;
    let r = w.s.get(&format!("/api/v1/cases/{id}"), w.tok("dept.b")).await;
    assert_eq!(r.status(), 200, "a department sees what was once dispatched to it");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["case"]["allowed_actions"], json!([]), "{v}");
    forbidden("dept.b", id, json!({"action": "acknowledge"})).await;
    w.act("dept.a", id, json!({"action": "acknowledge"})).await;
}

/// Every case, with what the policy needs: `(id, territory, reporter, departments ever)`.
async fn ground_truth(w: &World) -> Vec<(i64, UnitCode, String, Vec<String>)> {
    let store = &w.s.app.store;
    let all = store.list_cases(CaseFilter::scoped(CaseScope::All, 100_000)).await.unwrap();
    assert!(all.next_after.is_none());
    let mut out = Vec::new();
    for c in all.cases {
        let rec = store.case(c.id).await.unwrap().unwrap();
        let mut depts: Vec<String> =
            rec.timeline.iter().flat_map(|e| e.data.department.iter().chain(e.data.assists.iter()).cloned()).collect();
        depts.sort();
        depts.dedup();
        out.push((c.id, c.territory, c.reporter, depts));
    }
    out
}

/// Every case id a list returns, following cursors.
async fn list_ids(w: &World, who: &str, query: &str) -> Result<Vec<Value>, u16> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/cases?limit=40{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = w.s.get(&path, w.tok(who)).await;
        if r.status() != 200 {
            return Err(r.status().as_u16());
        }
        let v: Value = r.json().await.unwrap();
        items.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(items),
        }
    }
}

async fn lists_never_leak(w: &World) {
    // A case with a contact on each side, to search by phone.
    let phone = "13912345678";
    let mut by_phone = Vec::new();
    for side in [Side::Own, Side::Other] {
        let (lon, lat) = side.point();
        let body = json!({"category": "E0101", "description": format!("{MARKER} contact case"), "lon": lon, "lat": lat,
            "contact": {"name": "李四", "phone": phone}});
        let r = w.s.post("/api/v1/cases", w.tok("city.op"), body).await;
        assert_eq!(r.status(), 201);
        by_phone.push(r.json::<Value>().await.unwrap()["case"]["id"].as_i64().unwrap());
    }

    let truth = ground_truth(w).await;
    assert!(truth.len() > 20, "the matrix should have left plenty of cases: {}", truth.len());
    for (name, role, unit, dept) in USERS {
        let unit = unit.map(|u| UnitCode::parse(u).unwrap());
        let visible = |territory: &UnitCode, reporter: &str, depts: &[String]| match role {
            Role::Admin | Role::Auditor => true,
            Role::Operator | Role::GridWorker => unit.as_ref().is_some_and(|u| u.contains(territory)),
            Role::DepartmentHandler => dept.is_some_and(|d| depts.iter().any(|x| x == d)),
            Role::Citizen => reporter == *name,
            Role::Mediator | Role::Device => false,
        };
        let got = list_ids(w, name, "").await;
        if *role == Role::Mediator {
            assert_eq!(got.err(), Some(403), "mediators list no cases");
            continue;
        }
        let items = got.unwrap_or_else(|s| panic!("{name} lists cases: {s}"));
        let mut seen = BTreeSet::new();
        for item in &items {
            let id = item["id"].as_i64().unwrap();
            assert!(seen.insert(id), "{name}: case {id} listed twice");
            let (_, territory, reporter, depts) =
                truth.iter().find(|t| t.0 == id).unwrap_or_else(|| panic!("{name}: listed unknown case {id}"));
            assert_eq!(item["territory"], territory.to_string());
            assert_eq!(item["reporter"], reporter.as_str());
            assert!(visible(territory, reporter, depts), "{name} ({role}) sees case {id} outside its scope: {item}");
            assert!(item.get("contact").is_none(), "lists carry no contact: {item}");
        }
        let want: BTreeSet<i64> = truth.iter().filter(|t| visible(&t.1, &t.2, &t.3)).map(|t| t.0).collect();
        assert_eq!(seen, want, "{name} lists exactly the cases in its scope");
        assert!(!want.is_empty(), "{name} should see some case");
        if !matches!(role, Role::Admin | Role::Auditor) && *name != "city.op" {
            assert!(want.len() < truth.len(), "{name} should not see everything");
        }
    }

    // A device key may not list cases, whichever header carries it.
    let r = w.s.get("/api/v1/cases", &w.device_key).await;
    assert_error(r, 403, "forbidden").await;
    let r = w.s.http.get(format!("{}/api/v1/cases", w.s.base)).header("x-api-key", &w.device_key).send().await.unwrap();
    assert_error(r, 403, "forbidden").await;

    // A filter outside one's territory is an empty page, not an error.
    for who in ["district.op", "township.op", "grid.worker", "dept.a"] {
        let items = list_ids(w, who, "&territory=340207").await.unwrap();
        assert!(items.is_empty(), "{who} with ?territory=340207 must see nothing: {items:?}");
        let items = list_ids(w, who, "&territory=340207&state=dispatched,reported").await.unwrap();
        assert!(items.is_empty(), "{who}: {items:?}");
    }
    let items = list_ids(w, "city.op", "&territory=340207").await.unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["territory"].as_str().unwrap().starts_with("340207")));

    // Searching by phone stays inside the scope too.
    let search = format!("&phone={phone}");
    let ids = |items: Vec<Value>| items.iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(list_ids(w, "district.op", &search).await.unwrap()), vec![by_phone[0]]);
    assert_eq!(ids(list_ids(w, "district.op.b", &search).await.unwrap()), vec![by_phone[1]]);
    assert_eq!(ids(list_ids(w, "city.op", &search).await.unwrap()), vec![by_phone[1], by_phone[0]]);
    assert_eq!(list_ids(w, "citizen", &search).await.err(), Some(403));

    // An out-of-scope case reads exactly like one that does not exist.
    let b_case = w.read_case[1];
    for who in ["district.op", "township.op", "grid.worker", "dept.a", "citizen", "mediator"] {
        let hidden = w.s.get(&format!("/api/v1/cases/{b_case}"), w.tok(who)).await;
        let hidden_status = hidden.status();
        let hidden = hidden.text().await.unwrap();
        let ghost = w.s.get(&format!("/api/v1/cases/{GHOST_ID}"), w.tok(who)).await;
        let ghost_status = ghost.status();
        let ghost = ghost.text().await.unwrap();
        assert_eq!((hidden_status.as_u16(), ghost_status.as_u16()), (404, 404), "{who}: {hidden} / {ghost}");
        assert_eq!(
            hidden.replace(&format!("case/{b_case}"), "X"),
            ghost.replace(&format!("case/{GHOST_ID}"), "X"),
            "{who}"
        );
        assert!(!hidden.contains(MARKER) && !hidden.contains("340207"), "{who}: {hidden}");
        // Unmasking changes nothing about that.
        let r = w.s.get(&format!("/api/v1/cases/{b_case}?unmask=true"), w.tok(who)).await;
        assert_error(r, 404, "not_found").await;
    }
}
