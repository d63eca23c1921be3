//! The OpenAPI document promises no more than the server accepts.
//!
//! Every operation of `/api/openapi.json` is sent requests built from the
//! document alone: each parameter and body field from its `example`, else
//! generated from its type, enum, format, range and length. Each operation
//! gets two: one with only the required fields and one with every field.
//! The caller has a role allowed to call it (see [`CALLS`]), and the answer
//! must be 2xx or one of the statuses listed there; never 400 or 422, which
//! would mean the server refuses what the document calls valid.
//!
//! The document cannot know the server's data, so these are resolved
//! against the fixture, explicitly:
//! - an id in a path may name nothing: 404 where [`CALLS`] lists it;
//! - case actions go one `oneOf` variant at a time to a fresh case brought
//!   into a state that accepts the action, by a role that may take it
//!   (otherwise 409 or 403 would hide whether the body is accepted);
//! - the documented example content hash is replaced by the hash of a
//!   fixture PNG uploaded first, since evidence must name an upload;
//! - the two bodies that are files (an attachment, a boundary import) are
//!   written here;
//! - the fields in [`CONDITIONAL`], valid only depending on another field,
//!   are left out of the every-field request.
//!
//! Before any request: the document is OpenAPI 3.1, every example in it
//! validates against its own schema, and every `pattern` has an example.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use citygrid_geo::tiles::parse_zoom;
use citygrid_server::ServerConfig;
use citygrid_server::blobs::is_sha256;
use citygrid_server::routes::users::check_username;
use common::*;
use regex::Regex;
use reqwest::Method;
use serde_json::{Map, Value, json};

/// No credentials.
const ANONYMOUS: &str = "";
/// The device registered during setup, by its API key.
const DEVICE: &str = "device";
/// Case actions: the caller depends on the action, see [`actor`].
const PER_ACTION: &str = "per-action";

/// `(method, path, caller, statuses accepted besides 2xx)` for every
/// operation in the document; an operation missing here fails the test.
const CALLS: &[(&str, &str, &str, &[u16])] = &[
    ("GET", "/healthz", ANONYMOUS, &[]),
    ("GET", "/metrics", "admin", &[]),
    // The documented credentials are no fixture account.
    ("POST", "/api/v1/auth/login", ANONYMOUS, &[401]),
    ("POST", "/api/v1/auth/logout", "citizen", &[]),
    ("GET", "/api/v1/auth/me", "citizen", &[]),
    ("GET", "/api/v1/territory", "citizen", &[]),
    ("GET", "/api/v1/territory/geojson", "citizen", &[]),
    ("GET", "/api/v1/territory/units/{code}", "citizen", &[404]),
    ("GET", "/api/v1/territory/units/{code}/children", "citizen", &[404]),
    ("GET", "/api/v1/territory/units/{code}/children/geojson", "citizen", &[404]),
    ("GET", "/api/v1/territory/tiles", "citizen", &[]),
    ("GET", "/api/v1/locate", "citizen", &[]),
    ("POST", "/api/v1/locate", "citizen", &[]),
    ("POST", "/api/v1/territory/import", "admin", &[]),
    ("GET", "/api/v1/categories", "citizen", &[]),
    ("PUT", "/api/v1/categories/{code}", "admin", &[]),
    ("GET", "/api/v1/departments", "citizen", &[]),
    ("PUT", "/api/v1/departments/{code}", "admin", &[]),
    ("POST", "/api/v1/cases", "city.op", &[]),
    ("GET", "/api/v1/cases", "city.op", &[]),
    ("GET", "/api/v1/cases/{id}", "city.op", &[404]),
    ("POST", "/api/v1/cases/{id}/actions", PER_ACTION, &[]),
    // The fixture case does not cite the upload.
    ("GET", "/api/v1/cases/{id}/attachments/{sha256}", "city.op", &[404]),
    ("POST", "/api/v1/attachments", "citizen", &[]),
    ("GET", "/api/v1/attachments/{sha256}", "citizen", &[404]),
    ("GET", "/api/v1/stream", "district.op", &[]),
    ("GET", "/api/v1/audit", "auditor", &[]),
    ("GET", "/api/v1/audit/verify", "auditor", &[]),
    // The second request creates the same username again.
    ("POST", "/api/v1/users", "admin", &[409]),
    ("GET", "/api/v1/users", "admin", &[]),
    ("PATCH", "/api/v1/users/{id}", "admin", &[404]),
    ("DELETE", "/api/v1/users/{id}/sessions", "admin", &[404]),
    ("POST", "/api/v1/devices", "admin", &[409]),
    ("GET", "/api/v1/devices", "admin", &[]),
    ("GET", "/api/v1/devices/me", DEVICE, &[]),
    ("DELETE", "/api/v1/devices/{id}", "admin", &[404]),
    ("GET", "/api/v1/zones", "citizen", &[]),
    ("GET", "/api/v1/zones/geojson", "citizen", &[]),
    ("GET", "/api/v1/zones/at", "citizen", &[]),
    ("PUT", "/api/v1/zones/{id}", "admin", &[]),
    ("DELETE", "/api/v1/zones/{id}", "admin", &[404]),
    // The documented station id names no fixture station.
    ("GET", "/api/v1/water/readings", "admin", &[404]),
    // Items the document describes may still be refused one by one (another
    // device's id, an old `at`): the batch itself is answered 200.
    ("POST", "/api/v1/detections", DEVICE, &[]),
    ("POST", "/api/v1/intake/gb28181", DEVICE, &[]),
    ("GET", "/api/v1/incidents", "city.op", &[]),
    ("GET", "/api/v1/incidents/stats", "city.op", &[]),
    ("GET", "/api/v1/incidents/{id}", "city.op", &[404]),
    ("POST", "/api/v1/incidents/{id}/confirm", "city.op", &[404]),
    ("POST", "/api/v1/incidents/{id}/dismiss", "city.op", &[404]),
    ("POST", "/api/v1/incidents/{id}/merge", "city.op", &[404]),
    ("POST", "/api/v1/incidents/{id}/promote", "city.op", &[404]),
];

/// `(schema or "METHOD path", field)`: fields whose validity depends on
/// another one, so a request with every field leaves them out. Each is
/// described in the document.
const CONDITIONAL: &[(&str, &str)] = &[
    // Only on `water_section` zones, which need it; the example kind is another.
    ("Zone", "target_class"),
    // A position must lie in the city; station fields only on a water
    // station; zones and gateways must exist.
    ("NewDevice", "lon"),
    ("NewDevice", "lat"),
    ("NewDevice", "mn"),
    ("NewDevice", "pw"),
    ("NewDevice", "water_section"),
    ("NewDevice", "gateway"),
    ("NewDevice", "zones"),
    // `from` must come before `to`; a cursor comes from a previous page.
    ("GET /api/v1/water/readings", "from"),
    ("GET /api/v1/water/readings", "to"),
    ("GET /api/v1/water/readings", "cursor"),
    // Contact search is by phone or by ID number, not both.
    ("GET /api/v1/cases", "id_number"),
];

/// Who takes a case action, and the state the case must be in for it.
fn actor(action: &str) -> (&'static str, &'static str) {
    match action {
        "register" | "reject" | "merge" | "suspend" | "void" => ("city.op", "reported"),
        // Grid workers fix only what they reported themselves.
        "self_handle" => ("grid.worker", "reported"),
        "dispatch" => ("city.op", "registered"),
        "acknowledge" | "return" => ("dept.a", "dispatched"),
        "extend" => ("city.op", "dispatched"),
        "handle" => ("dept.a", "handling"),
        "verify" => ("grid.worker", "handled"),
        "close" => ("city.op", "verified"),
        "resume" => ("city.op", "suspended"),
        "evaluate" => ("citizen", "closed"),
        other => panic!("no actor for action {other:?}: add one"),
    }
}

/// A boundary file: one fixture grid with its own boundary, imported again.
const IMPORT: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
  "properties":{"code":"340202001001001","name":"网格1"},
  "geometry":{"type":"Polygon","coordinates":[[[118.0,31.1],[118.2,31.1],[118.2,31.2],[118.0,31.2],[118.0,31.1]]]}}]}"#;

/// The OpenAPI document, read as JSON Schema 2020-12 (the subset utoipa writes).
struct Doc {
    v: Value,
}

fn example_of(s: &Value) -> Option<&Value> {
    s.get("example").or_else(|| s.get("examples").and_then(Value::as_array).and_then(|e| e.first()))
}

fn type_matches(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

fn types(s: &Value) -> Vec<&str> {
    match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

impl Doc {
    /// The schema a `$ref` points at (and its component name), or `s` itself.
    fn resolve<'a>(&'a self, s: &'a Value) -> (&'a Value, Option<&'a str>) {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
                let target = &self.v["components"]["schemas"][name];
                assert!(target.is_object(), "dangling $ref {r}");
                (self.resolve(target).0, Some(name))
            }
            None => (s, None),
        }
    }

    /// Appends to `errs` every way `v` breaks schema `s`.
    fn check(&self, v: &Value, s: &Value, at: &str, errs: &mut Vec<String>) {
        let s = self.resolve(s).0;
        match s {
            Value::Bool(true) => return,
            Value::Bool(false) => return errs.push(format!("{at}: nothing is allowed here, got {v}")),
            _ => {}
        }
        let ts = types(s);
        if !ts.is_empty() && !ts.iter().any(|t| type_matches(v, t)) {
            return errs.push(format!("{at}: {v} is not of type {ts:?}"));
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errs.push(format!("{at}: {v} is not one of {e:?}"));
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            errs.push(format!("{at}: {v} is not {c}"));
        }
        if let Some(x) = v.as_str() {
            let n = x.chars().count() as u64;
            if s["minLength"].as_u64().is_some_and(|m| n < m) || s["maxLength"].as_u64().is_some_and(|m| n > m) {
                errs.push(format!("{at}: {x:?} has a length outside minLength/maxLength"));
            }
            if let Some(p) = s["pattern"].as_str() {
                match Regex::new(p) {
                    Ok(re) if re.is_match(x) => {}
                    Ok(_) => errs.push(format!("{at}: {x:?} does not match {p:?}")),
                    Err(e) => errs.push(format!("{at}: pattern {p:?} does not compile: {e}")),
                }
            }
            let format_ok = match s["format"].as_str() {
                Some("date-time") => DateTime::parse_from_rfc3339(x).is_ok(),
                Some("date") => NaiveDate::parse_from_str(x, "%Y-%m-%d").is_ok(),
                _ => true,
            };
            if !format_ok {
                errs.push(format!("{at}: {x:?} is not a {}", s["format"]));
            }
        }
        if let Some(x) = v.as_f64() {
            let below = |k: &str| s[k].as_f64().is_some_and(|m| x < m);
            let above = |k: &str| s[k].as_f64().is_some_and(|m| x > m);
            let exclusive = s["exclusiveMinimum"].as_f64().is_some_and(|m| x <= m)
                || s["exclusiveMaximum"].as_f64().is_some_and(|m| x >= m);
            if below("minimum") || above("maximum") || exclusive {
                errs.push(format!("{at}: {x} is out of range"));
            }
        }
        if let Some(a) = v.as_array() {
            let n = a.len() as u64;
            if s["minItems"].as_u64().is_some_and(|m| n < m) || s["maxItems"].as_u64().is_some_and(|m| n > m) {
                errs.push(format!("{at}: {n} items is outside minItems/maxItems"));
            }
            let prefix = s["prefixItems"].as_array().map(Vec::as_slice).unwrap_or_default();
            for (i, item) in a.iter().enumerate() {
                match (prefix.get(i), s.get("items")) {
                    (Some(p), _) | (None, Some(p)) => self.check(item, p, &format!("{at}[{i}]"), errs),
                    (None, None) => {}
                }
            }
        }
        if let Some(o) = v.as_object() {
            for r in s["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !o.contains_key(r) {
                    errs.push(format!("{at}: required field {r} is missing"));
                }
            }
            let props = s["properties"].as_object();
            for (k, fv) in o {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.check(fv, ps, &format!("{at}.{k}"), errs),
                    None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errs.push(format!("{at}: unknown field {k}"));
                    }
                    None => {}
                }
            }
        }
        for sub in s["allOf"].as_array().into_iter().flatten() {
            self.check(v, sub, at, errs);
        }
        for (key, want_one) in [("anyOf", false), ("oneOf", true)] {
            if let Some(alts) = s[key].as_array() {
                let passing = alts
                    .iter()
                    .filter(|alt| {
                        let mut e = vec![];
                        self.check(v, alt, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if passing == 0 || (want_one && passing > 1) {
                    errs.push(format!("{at}: {v} matches {passing} of the {key} alternatives"));
                }
            }
        }
    }

    /// A value for schema `s`: its example, else one made from its
    /// constraints. `owner` names the object schema (for [`CONDITIONAL`]);
    /// `every` asks for every optional field too.
    fn generate(&self, s: &Value, owner: &str, every: bool) -> Value {
        let (s, name) = self.resolve(s);
        let owner = name.unwrap_or(owner);
        if let Some(e) = example_of(s) {
            return e.clone();
        }
        if let Some(c) = s.get("const") {
            return c.clone();
        }
        if let Some(e) = s["enum"].as_array().and_then(|e| e.iter().find(|v| !v.is_null())) {
            return e.clone();
        }
        if let Some(all) = s["allOf"].as_array() {
            let mut merged = Map::new();
            for sub in all {
                if let Value::Object(o) = self.generate(sub, owner, every) {
                    merged.extend(o);
                }
            }
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = s[key].as_array() {
                let alt = alts.iter().find(|a| types(a) != ["null"]).unwrap_or(&alts[0]);
                return self.generate(alt, owner, every);
            }
        }
        let ty = types(s).into_iter().find(|t| *t != "null");
        match ty {
            Some("object") | None if s.get("properties").is_some() => {
                let required: BTreeSet<&str> =
                    s["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                let mut o = Map::new();
                for (k, p) in s["properties"].as_object().into_iter().flatten() {
                    let wanted =
                        required.contains(k.as_str()) || (every && !CONDITIONAL.contains(&(owner, k.as_str())));
                    if wanted {
                        o.insert(k.clone(), self.generate(p, owner, every));
                    }
                }
                Value::Object(o)
            }
            Some("object") => json!({}),
            Some("array") => {
                let min = s["minItems"].as_u64().unwrap_or(0);
                let n = if every { min.max(1) } else { min };
                let n = s["maxItems"].as_u64().map_or(n, |m| n.min(m));
                let prefix = s["prefixItems"].as_array().map(Vec::as_slice).unwrap_or_default();
                (0..n as usize)
                    .map(|i| match prefix.get(i) {
                        Some(p) => self.generate(p, owner, every),
                        None => self.generate(&s["items"], owner, every),
                    })
                    .collect()
            }
            Some("string") => match s["format"].as_str() {
                Some("date-time") => json!((Utc::now() + Duration::days(7)).to_rfc3339()),
                Some("date") => json!(Utc::now().date_naive().to_string()),
                _ => {
                    assert!(s.get("pattern").is_none(), "a pattern without an example: {s}");
                    let min = s["minLength"].as_u64().unwrap_or(1).max(1);
                    json!("x".repeat(min as usize))
                }
            },
            Some(t @ ("integer" | "number")) => {
                let lo = s["minimum"].as_f64().or_else(|| s["exclusiveMinimum"].as_f64().map(|m| m + 1.0));
                let x = lo.unwrap_or(0.0);
                let x = s["maximum"].as_f64().map_or(x, |m| x.min(m));
                if t == "integer" { json!(x as i64) } else { json!(x) }
            }
            Some("boolean") => json!(true),
            _ => Value::Null,
        }
    }

    /// Checks every example against its schema, and that every pattern has
    /// an example, below `v` (a schema or any other part of the document).
    fn audit_examples(&self, v: &Value, at: &str, covered: bool, errs: &mut Vec<String>) {
        match v {
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.audit_examples(x, &format!("{at}/{i}"), covered, errs);
                }
            }
            Value::Object(o) => {
                // A parameter's example speaks for its schema.
                let param_example = o.get("in").and(o.get("example"));
                if let (Some(ex), Some(schema)) = (param_example, o.get("schema")) {
                    self.check(ex, schema, &format!("{at} (parameter example)"), errs);
                }
                let is_schema =
                    ["type", "pattern", "$ref", "allOf", "anyOf", "oneOf"].iter().any(|k| o.contains_key(*k));
                let own = is_schema.then(|| example_of(v)).flatten();
                if let Some(ex) = own
                    && !o.contains_key("in")
                {
                    self.check(ex, v, &format!("{at} (example)"), errs);
                }
                if o.get("pattern").is_some_and(Value::is_string) && own.is_none() && !covered {
                    errs.push(format!("{at}: pattern {} has no example", o["pattern"]));
                }
                for (k, x) in o {
                    if matches!(k.as_str(), "example" | "examples") {
                        continue;
                    }
                    // The example of a composite covers its parts; a parameter's covers its schema.
                    let covers = match k.as_str() {
                        "allOf" | "anyOf" | "oneOf" => covered || own.is_some(),
                        "schema" => param_example.is_some(),
                        _ => false,
                    };
                    self.audit_examples(x, &format!("{at}/{k}"), covers, errs);
                }
            }
            _ => {}
        }
    }
}

/// A request made from the document.
#[derive(Debug)]
struct Call {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Body>,
    caller: &'static str,
    /// The action, for case actions.
    action: Option<String>,
}

#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

fn as_param(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Replaces the documented example hash with a real upload's.
fn substitute(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s == from => *s = to.to_owned(),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, from, to)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, from, to)),
        _ => {}
    }
}

struct World {
    s: TestServer,
    device_key: String,
    upload: String,
}

impl World {
    async fn session(&self, user: &str) -> String {
        self.s.mint_session(user).await
    }

    async fn act(&self, user: &str, id: i64, body: Value) {
        let token = self.session(user).await;
        self.s.act_ok(&token, id, body).await;
    }

    /// A case reported at A1 by `reporter` and driven into `state`.
    async fn case_in(&self, reporter: &str, state: &str) -> i64 {
        let token = self.session(reporter).await;
        let id = self.s.report(&token, "E0101", A1).await;
        let steps: &[(&str, Value)] = &[
            ("city.op", json!({"action": "register"})),
            ("city.op", json!({"action": "dispatch"})),
            ("dept.a", json!({"action": "acknowledge"})),
            ("dept.a", json!({"action": "handle", "note": "清理完毕", "evidence": [self.upload]})),
            ("grid.worker", json!({"action": "verify", "passed": true})),
            ("city.op", json!({"action": "close"})),
        ];
        let order = ["reported", "registered", "dispatched", "handling", "handled", "verified", "closed"];
        if state == "suspended" {
            self.act("city.op", id, json!({"action": "suspend", "reason": "等待天气好转"})).await;
            return id;
        }
        let n = order.iter().position(|s| *s == state).unwrap_or_else(|| panic!("no way to {state}"));
        for (user, body) in &steps[..n] {
            self.act(user, id, body.clone()).await;
        }
        id
    }

    /// The requests for one operation: one per body variant, each with
    /// only required fields, then with every field.
    fn calls(
        &self,
        doc: &Doc,
        (method, template, op): (&str, &str, &Value),
        caller: &'static str,
        problems: &mut Vec<String>,
    ) -> Vec<Call> {
        let key = format!("{method} {template}");
        let sha_example = example_of(&doc.v["components"]["schemas"]["ContentHash"]).and_then(Value::as_str);
        let mut out = vec![];
        for every in [false, true] {
            let mut path = template.to_owned();
            let mut query = vec![];
            let mut headers: Vec<(String, String)> = vec![];
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let required = p["required"].as_bool().unwrap_or(false);
                let wanted = required || (every && !CONDITIONAL.contains(&(key.as_str(), name)));
                if !wanted {
                    continue;
                }
                let mut v = p.get("example").cloned().unwrap_or_else(|| doc.generate(&p["schema"], &key, every));
                if let Some(sha) = sha_example {
                    substitute(&mut v, sha, &self.upload);
                }
                match p["in"].as_str() {
                    Some("path") if template.contains(&format!("{{{name}}}")) => {
                        path = path.replace(&format!("{{{name}}}"), &as_param(&v));
                    }
                    Some("path") if !every => problems.push(format!("{key}: path parameter {name} is not in the path")),
                    Some("path") => {}
                    Some("query") => query.push((name.to_owned(), as_param(&v))),
                    Some("header") => headers.push((name.to_owned(), as_param(&v))),
                    other => panic!("{key}: parameter {name} in {other:?}"),
                }
            }
            let content = op["requestBody"]["content"].as_object();
            let bodies: Vec<(Option<Body>, Option<String>)> = match content.map(|c| c.keys().next().unwrap().as_str()) {
                None => vec![(None, None)],
                Some("application/octet-stream") => {
                    vec![(Some(Body::Raw("application/octet-stream", PNG.to_vec())), None)]
                }
                Some("application/xml") => {
                    let example = op["requestBody"]["content"]["application/xml"]["example"].as_str();
                    let xml = example.unwrap_or_else(|| panic!("{key}: an XML body needs its example"));
                    vec![(Some(Body::Raw("application/xml", xml.as_bytes().to_vec())), None)]
                }
                Some("application/geo+json") => {
                    vec![(Some(Body::Raw("application/geo+json", IMPORT.as_bytes().to_vec())), None)]
                }
                Some("application/json") => {
                    let schema = &content.unwrap()["application/json"]["schema"];
                    let (resolved, name) = doc.resolve(schema);
                    let owner = name.unwrap_or(&key);
                    let variants: Vec<&Value> = match resolved["oneOf"].as_array() {
                        Some(alts) => alts.iter().collect(),
                        None => vec![schema],
                    };
                    variants
                        .into_iter()
                        .map(|s| {
                            let mut v = doc.generate(s, owner, every);
                            if let Some(sha) = sha_example {
                                substitute(&mut v, sha, &self.upload);
                            }
                            let mut errs = vec![];
                            doc.check(&v, s, &key, &mut errs);
                            assert!(errs.is_empty(), "the generator broke the schema: {errs:#?}");
                            let action = v["action"].as_str().map(str::to_owned);
                            (Some(Body::Json(v)), action)
                        })
                        .collect()
                }
                Some(other) => panic!("{key}: no body for {other}"),
            };
            for (body, action) in bodies {
                out.push(Call {
                    method: Method::from_bytes(method.as_bytes()).unwrap(),
                    path: path.clone(),
                    query: query.clone(),
                    headers: headers.clone(),
                    body,
                    caller,
                    action,
                });
            }
        }
        out
    }

    /// Sends a call; returns the status and the body.
    async fn send(&self, call: &Call) -> (u16, String) {
        let url = format!("{}{}", self.s.base, call.path);
        let mut rb = self.s.http.request(call.method.clone(), url).query(&call.query);
        for (name, value) in &call.headers {
            rb = rb.header(name, value);
        }
        rb = match call.caller {
            ANONYMOUS => rb,
            DEVICE => rb.header("x-api-key", &self.device_key),
            user => rb.bearer_auth(self.session(user).await),
        };
        rb = match &call.body {
            Some(Body::Json(v)) => rb.json(v),
            Some(Body::Raw(ct, bytes)) => rb.header("content-type", *ct).body(bytes.clone()),
            None => rb,
        };
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        if r.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")) {
            // A live feed never ends; its status is the answer.
            return (status, String::new());
        }
        (status, r.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_request_is_accepted() {
    let s = start().await;
    let doc: Value = s.http.get(format!("{}/api/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "not OpenAPI 3.1: {}", doc["openapi"]);
    let doc = Doc { v: doc };

    let mut errs = vec![];
    doc.audit_examples(&doc.v, "#", false, &mut errs);
    let mut failures: Vec<String> = errs.into_iter().map(|e| format!("document: {e}")).collect();

    // Setup: case 1 (the default path id and merge target), an upload, a device.
    let admin = s.login("admin").await;
    let citizen = s.login("citizen").await;
    assert_eq!(s.report(&citizen, "E0101", A1).await, 1);
    let upload = s.upload_photo(&citizen).await;
    let r = s.post("/api/v1/devices", &admin, json!({"id": "probe-device", "name": "探头", "kind": "camera"})).await;
    assert_eq!(r.status(), 201);
    let device_key = r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_owned();
    let w = World { s, device_key, upload };

    let mut seen = BTreeSet::new();
    for (template, item) in doc.v["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                continue;
            }
            let method = method.to_uppercase();
            let Some(&(_, _, caller, accepted)) = CALLS.iter().find(|c| c.0 == method && c.1 == template) else {
                failures.push(format!("{method} {template}: not in CALLS; say who calls it and what it may answer"));
                continue;
            };
            seen.insert((method.clone(), template.clone()));
            for mut call in w.calls(&doc, (&method, template, op), caller, &mut failures) {
                if let Some(action) = &call.action {
                    let (user, state) = actor(action);
                    let reporter = if action == "self_handle" { user } else { "citizen" };
                    call.caller = user;
                    call.path = format!("/api/v1/cases/{}/actions", w.case_in(reporter, state).await);
                }
                let (status, body) = w.send(&call).await;
                if !((200..300).contains(&status) || accepted.contains(&status)) {
                    failures.push(format!(
                        "{method} {template} as {} with {:?} {:?}: {status} {body}",
                        call.caller, call.query, call.body
                    ));
                }
            }
        }
    }
    for (m, p, ..) in CALLS {
        if !seen.contains(&((*m).to_owned(), (*p).to_owned())) {
            failures.push(format!("{m} {p}: in CALLS but not in the document"));
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

/// The rules a handler checks by hand are the ones the document states,
/// and limits a server is configured with are documented as configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_rules_are_the_checked_ones() {
    let s = start_with(|c| ServerConfig { max_page: 123, ..c }).await;
    let doc: Value = s.http.get(format!("{}/api/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let pattern = |name: &str| Regex::new(schema(name)["pattern"].as_str().unwrap()).unwrap();

    let username = pattern("Username");
    let long = "a".repeat(33);
    for u in ["jinghu.operator", "ab", "abc", "a_b-c.9", "Admin", "user name", "用户名", &long, &long[1..]] {
        assert_eq!(username.is_match(u), check_username(u).is_ok(), "{u}");
    }
    let hash = pattern("ContentHash");
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for h in [hex.to_owned(), hex.to_uppercase(), hex[1..].to_owned(), format!("{hex}0"), hex.replace('e', "g")] {
        assert_eq!(hash.is_match(&h), is_sha256(&h), "{h}");
    }
    let zoom = schema("Zoom");
    let (lo, hi) = (zoom["minimum"].as_i64().unwrap(), zoom["maximum"].as_i64().unwrap());
    for z in -1..=30 {
        assert_eq!((lo..=hi).contains(&z), parse_zoom(&z.to_string()).is_ok(), "zoom {z}");
    }

    // The page limit is the configured one, and the server holds to it.
    assert_eq!(schema("PageLimit")["maximum"], 123);
    let op = s.login("city.op").await;
    assert_eq!(s.get("/api/v1/cases?limit=123", &op).await.status(), 200);
    assert_error(s.get("/api/v1/cases?limit=124", &op).await, 400, "invalid_limit").await;
    let audit = schema("AuditLimit")["maximum"].as_u64().unwrap();
    let auditor = s.login("auditor").await;
    assert_eq!(s.get(&format!("/api/v1/audit?limit={audit}"), &auditor).await.status(), 200);
    assert_error(s.get(&format!("/api/v1/audit?limit={}", audit + 1), &auditor).await, 400, "invalid_limit").await;
    // So is the largest batch of points.
    let most = schema("BatchPoints")["maxItems"].as_u64().unwrap();
    let points = |n: u64| json!({"points": vec![[A1.0, A1.1]; n as usize]});
    assert_eq!(s.post("/api/v1/locate", &op, points(most)).await.status(), 200);
    assert_error(s.post("/api/v1/locate", &op, points(most + 1)).await, 413, "too_many_points").await;
}

/// The document checks catch what they are for.
#[test]
fn the_document_checks_catch_bad_examples() {
    let doc = Doc {
        v: json!({"components": {"schemas": {
            "Code": {"type": "string", "pattern": "^[0-9]{3}$", "examples": ["123"]},
            "Bare": {"type": "string", "pattern": "^[a-z]+$"},
            "Wrong": {"type": "string", "pattern": "^[a-z]+$", "examples": ["ABC"]},
            "Strong": {"allOf": [{"type": "string", "minLength": 4}, {"anyOf": [{"pattern": "[0-9]"}, {"pattern": "[A-Z]"}]}],
                       "examples": ["abcD"]},
            "Pair": {"type": "array", "prefixItems": [{"$ref": "#/components/schemas/Code"}, {"type": "number", "maximum": 5}],
                     "items": false, "examples": [["123", 6]]},
        }}}),
    };
    let mut errs = vec![];
    doc.audit_examples(&doc.v, "#", false, &mut errs);
    let flagged: BTreeSet<&str> =
        errs.iter().filter_map(|e| e.split('/').nth(3)).map(|s| s.split([':', ' ']).next().unwrap()).collect();
    assert_eq!(flagged, BTreeSet::from(["Bare", "Pair", "Wrong"]), "{errs:#?}");
}
