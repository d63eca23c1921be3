//! `GET /api/v1/territory/tiles` end to end, on a real server on port 0:
//! the fixture city plus a dense lattice of 2,116 grids over district B
//! (so there are enough units to need a viewport), with a wiggle on every
//! inner vertical border that only high zooms keep.
//!
//! The `#[ignore]`d `bench_demo_viewports` serves the Wuhu demo and prints
//! payload sizes and latencies for representative viewports:
//! `cargo test --release -p citygrid-server --test tiles -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use citygrid_store::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::{Level, Unit, UnitCode};
use citygrid_server::world::geometry_to_json;
use citygrid_store::StoredUnit;
use common::*;
use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};
use reqwest::StatusCode;
use serde_json::Value;

/// Cells per side of the lattice over district B (118.2–118.4, 31.0–31.2).
const N: usize = 46;
const X0: f64 = 118.2;
const Y0: f64 = 31.0;
const SPAN: f64 = 0.2;
/// Sideways offset of the midpoint of each inner vertical border (about
/// 2 m): below half a pixel at zoom 12, well above it at zoom 18.
const WIGGLE: f64 = 2e-5;

fn stored(code: &str, name: &str, geometry: &MultiPolygon<f64>) -> StoredUnit {
    let c = UnitCode::parse(code).unwrap();
    StoredUnit {
        unit: Unit { synthetic: true, ..Unit::new(c, name, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()) },
        geometry: geometry_to_json(geometry).unwrap(),
    }
}

/// The code of lattice cell `(i, j)` (column, row): 900 grids per community,
/// communities 340207001002–004.
fn cell_code(i: usize, j: usize) -> String {
    let k = j * N + i;
    format!("340207001{:03}{:03}", 2 + k / 900, k % 900 + 1)
}

/// Cell `(i, j)`: a square whose left and right borders bend through a
/// midpoint moved [`WIGGLE`] east (straight on the lattice's outline).
fn cell(i: usize, j: usize) -> MultiPolygon<f64> {
    let w = SPAN / N as f64;
    let (x0, x1, y0, y1) = (X0 + i as f64 * w, X0 + (i + 1) as f64 * w, Y0 + j as f64 * w, Y0 + (j + 1) as f64 * w);
    let bend = |line: usize| if line == 0 || line == N { 0.0 } else { WIGGLE };
    let ym = (y0 + y1) / 2.0;
    let ring = vec![
        Coord { x: x0, y: y0 },
        Coord { x: x1, y: y0 },
        Coord { x: x1 + bend(i + 1), y: ym },
        Coord { x: x1, y: y1 },
        Coord { x: x0, y: y1 },
        Coord { x: x0 + bend(i), y: ym },
        Coord { x: x0, y: y0 },
    ];
    MultiPolygon(vec![Polygon::new(LineString(ring), vec![])])
}

fn lattice_units() -> Vec<StoredUnit> {
    let whole = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![(X0, Y0), (X0 + SPAN, Y0), (X0 + SPAN, Y0 + SPAN), (X0, Y0 + SPAN), (X0, Y0)]),
        vec![],
    )]);
    let mut v: Vec<StoredUnit> =
        (2..=4).map(|c| stored(&format!("340207001{c:03}"), &format!("格子社区{c}"), &whole)).collect();
    for j in 0..N {
        for i in 0..N {
            v.push(stored(&cell_code(i, j), &format!("格{i}-{j}"), &cell(i, j)));
        }
    }
    v
}

/// The fixture server with the lattice added (and the territory reloaded).
async fn start_lattice() -> TestServer {
    let s = start().await;
    let ev = AuditEvent::ok(Utc::now(), "test", "admin", "fixture", "lattice");
    s.app.store.upsert_units(lattice_units(), ev).await.unwrap();
    s.app.reload_territory().await.unwrap();
    s
}

fn tiles_path(bbox: [f64; 4], zoom: u8, level: Option<&str>) -> String {
    let [a, b, c, d] = bbox;
    let level = level.map_or(String::new(), |l| format!("&level={l}"));
    format!("/api/v1/territory/tiles?bbox={a},{b},{c},{d}&zoom={zoom}{level}")
}

/// A successful tiles response: headers checked, body parsed, size kept.
struct Tiles {
    body: Value,
    bytes: usize,
    etag: String,
}

impl Tiles {
    fn features(&self) -> &Vec<Value> {
        self.body["features"].as_array().unwrap()
    }
    fn codes(&self) -> BTreeSet<String> {
        self.features().iter().map(|f| f["properties"]["code"].as_str().unwrap().to_owned()).collect()
    }
    fn feature(&self, code: &str) -> &Value {
        self.features().iter().find(|f| f["properties"]["code"] == code).unwrap_or_else(|| panic!("no {code}"))
    }
}

async fn get_tiles(s: &TestServer, token: &str, path: &str) -> Tiles {
    let r = s.get(path, token).await;
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "application/geo+json");
    let cc = headers[reqwest::header::CACHE_CONTROL].to_str().unwrap();
    assert!(cc.contains("max-age=") && cc.contains("private"), "{cc}");
    let etag = headers[reqwest::header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["type"], "FeatureCollection");
    Tiles { body, bytes: text.len(), etag }
}

/// Outer rings of a feature's geometry (Polygon or MultiPolygon), as
/// `[lon, lat]` lists; every ring checked closed with at least 4 positions.
fn rings(f: &Value) -> Vec<Vec<[f64; 2]>> {
    let g = &f["geometry"];
    let polys: Vec<&Value> = match g["type"].as_str().unwrap() {
        "Polygon" => vec![&g["coordinates"]],
        "MultiPolygon" => g["coordinates"].as_array().unwrap().iter().collect(),
        other => panic!("geometry type {other}"),
    };
    let mut out = Vec::new();
    for p in polys {
        for r in p.as_array().unwrap() {
            let ring: Vec<[f64; 2]> =
                r.as_array().unwrap().iter().map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()]).collect();
            assert!(ring.len() >= 4, "{ring:?}");
            assert_eq!(ring.first(), ring.last());
            out.push(ring);
        }
    }
    out
}

/// Box of a unit as stored (the brute-force reference for the filter).
fn unit_boxes(s: &TestServer, level: Level) -> Vec<(String, [f64; 4])> {
    let t = s.app.world().territory;
    t.level(level)
        .into_iter()
        .map(|f| {
            let r = f.geometry.bounding_rect().unwrap();
            (f.unit.code.to_string(), [r.min().x, r.min().y, r.max().x, r.max().y])
        })
        .collect()
}

fn meets(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewport_levels_filter_and_simplification() {
    let s = start_lattice().await;
    let token = s.login("grid.worker").await;

    // City-wide at a low zoom: the districts and nothing else, small.
    let city = get_tiles(&s, &token, &tiles_path([117.9, 30.9, 118.5, 31.3], 8, None)).await;
    assert_eq!(city.codes(), BTreeSet::from(["340202".to_owned(), "340207".to_owned()]));
    assert!(city.features().iter().all(|f| f["properties"]["level"] == "district"));
    assert_eq!(city.body["zoom"], 8);
    assert_eq!(city.body["level"], "district");
    assert!(city.bytes < 2_000, "{} bytes for two districts", city.bytes);
    let d = city.feature("340207");
    assert_eq!(d["id"], "340207");
    assert_eq!(d["properties"]["name"], "340207");
    assert_eq!(d["properties"]["parent"], "340200");

    // Zoomed in: the grids whose boxes meet the viewport, exactly (a scan
    // over every stored grid is the reference), and nothing far outside.
    let view = [118.300, 31.100, 118.312, 31.108];
    let near = get_tiles(&s, &token, &tiles_path(view, 16, None)).await;
    assert_eq!(near.body["level"], "grid");
    let want: BTreeSet<String> =
        unit_boxes(&s, Level::Grid).into_iter().filter(|(_, b)| meets(b, &view)).map(|(c, _)| c).collect();
    assert!(want.len() >= 9, "{want:?}");
    assert_eq!(near.codes(), want);
    assert!(near.features().iter().all(|f| f["properties"]["level"] == "grid"));
    let cell = SPAN / N as f64;
    for f in near.features().iter().filter(|f| f["properties"]["parent"] != "340207001001") {
        for ring in rings(f) {
            for [x, y] in ring {
                assert!(x >= view[0] - 1.01 * cell && x <= view[2] + 1.01 * cell, "{x} far outside");
                assert!(y >= view[1] - 1.01 * cell && y <= view[3] + 1.01 * cell, "{y} far outside");
            }
        }
    }

    // Simplified for the zoom: at 12 the 2 m wiggles go (5 positions per
    // cell, ≤ 5 decimals); at 18 they stay (7 positions, ≤ 7 decimals).
    let inner = cell_code(23, 23);
    for (zoom, positions, decimals) in [(12u8, 5usize, 5i32), (18, 7, 7)] {
        let t = get_tiles(&s, &token, &tiles_path(view, zoom, Some("grid"))).await;
        assert_eq!(t.body["level"], "grid");
        let r = rings(t.feature(&inner));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].len(), positions, "zoom {zoom}: {:?}", r[0]);
        let scale = 10f64.powi(decimals);
        for f in t.features() {
            for ring in rings(f) {
                for [x, y] in ring {
                    assert_eq!((x * scale).round() / scale, x, "zoom {zoom}: {x} has more than {decimals} decimals");
                    assert_eq!((y * scale).round() / scale, y);
                }
            }
        }
        // Neighbours share borders exactly: every segment of a lattice cell
        // whose four neighbours came too is the reverse of a neighbour's
        // (of two, where the fixture's big grids overlap the lattice).
        let mut segments: HashMap<([u64; 2], [u64; 2]), usize> = HashMap::new();
        let key = |p: [f64; 2]| [p[0].to_bits(), p[1].to_bits()];
        for f in t.features() {
            for ring in rings(f) {
                for w in ring.windows(2) {
                    *segments.entry((key(w[0]), key(w[1]))).or_default() += 1;
                }
            }
        }
        let codes = t.codes();
        let mut checked = 0;
        for j in 1..N - 1 {
            for i in 1..N - 1 {
                let around = [(i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1), (i, j)];
                if !around.iter().all(|&(a, b)| codes.contains(&cell_code(a, b))) {
                    continue;
                }
                checked += 1;
                for ring in rings(t.feature(&cell_code(i, j))) {
                    for w in ring.windows(2) {
                        let back = segments.get(&(key(w[1]), key(w[0]))).copied().unwrap_or(0);
                        assert!(back >= 1, "zoom {zoom}: {w:?} unmatched");
                    }
                }
            }
        }
        assert!(checked >= 1, "zoom {zoom}: no inner cell with all neighbours");
    }

    // An explicit level wins over the zoom.
    let towns = get_tiles(&s, &token, &tiles_path(view, 16, Some("township"))).await;
    assert_eq!(towns.codes(), BTreeSet::from(["340207001".to_owned()]));
    assert_eq!(towns.body["level"], "township");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_limits_and_access() {
    let s = start_lattice().await;
    let token = s.login("city.op").await;
    let base = "/api/v1/territory/tiles";
    let cases: &[(&str, &str)] = &[
        ("?zoom=10", "invalid_bbox"),
        ("?bbox=abc&zoom=10", "invalid_bbox"),
        ("?bbox=118,31,118.4&zoom=10", "invalid_bbox"),
        ("?bbox=118,31,118.4,31.2,5&zoom=10", "invalid_bbox"),
        ("?bbox=118,31,NaN,31.2&zoom=10", "invalid_bbox"),
        ("?bbox=200,31,201,31.2&zoom=10", "invalid_bbox"),
        ("?bbox=118,-95,118.4,31.2&zoom=10", "invalid_bbox"),
        ("?bbox=118.4,31,118,31.2&zoom=10", "invalid_bbox"),
        ("?bbox=118,31.2,118.4,31&zoom=10", "invalid_bbox"),
        ("?bbox=118,31,118,31.2&zoom=10", "invalid_bbox"),
        ("?bbox=118,31,118.4,31.2", "invalid_zoom"),
        ("?bbox=118,31,118.4,31.2&zoom=23", "invalid_zoom"),
        ("?bbox=118,31,118.4,31.2&zoom=-1", "invalid_zoom"),
        ("?bbox=118,31,118.4,31.2&zoom=1.5", "invalid_zoom"),
        ("?bbox=118,31,118.4,31.2&zoom=ten", "invalid_zoom"),
        ("?bbox=118,31,118.4,31.2&zoom=10&level=borough", "invalid_level"),
        // The whole lattice is more than one response may carry, whether
        // the grid level is asked for or follows from the zoom.
        ("?bbox=118,31,118.4,31.2&zoom=10&level=grid", "too_many_features"),
        ("?bbox=118,31,118.4,31.2&zoom=14", "too_many_features"),
    ];
    for (query, code) in cases {
        let r = s.get(&format!("{base}{query}"), &token).await;
        let v = assert_error(r, 400, code).await;
        if *code == "too_many_features" {
            let m = v["error"]["message"].as_str().unwrap();
            assert!(m.contains("zoom in") && m.contains("smaller bbox"), "{m}");
        }
    }
    // Just under the cap is fine: three quarters of the lattice.
    let half = get_tiles(&s, &token, &tiles_path([118.205, 31.05, 118.395, 31.195], 14, None)).await;
    assert!(half.features().len() > 1_000 && half.features().len() <= 2_000, "{}", half.features().len());

    // Authentication: none or a bad token is 401; every user role reads.
    let path = tiles_path([118.0, 31.0, 118.4, 31.2], 8, None);
    let r = s.http.get(format!("{}{path}", s.base)).send().await.unwrap();
    assert_error(r, 401, "unauthenticated").await;
    let r = s.get(&path, "cg_not_a_real_token").await;
    assert_error(r, 401, "invalid_token").await;
    let citizen = s.login("citizen").await;
    get_tiles(&s, &citizen, &path).await;

    // Documented, with its parameters and error codes.
    let doc: Value = s.http.get(format!("{}/api/openapi.json", s.base)).send().await.unwrap().json().await.unwrap();
    let op = &doc["paths"]["/api/v1/territory/tiles"]["get"];
    let params: BTreeSet<&str> =
        op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, BTreeSet::from(["bbox", "zoom", "level"]));
    let text = op.to_string();
    for word in ["too_many_features", "invalid_bbox", "invalid_zoom", "application/geo+json", "ETag"] {
        assert!(text.contains(word), "{word} not documented: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_and_new_boundaries() {
    let s = start_lattice().await;
    let token = s.login("district.op").await;
    let view = [118.300, 31.100, 118.312, 31.108];
    let path = tiles_path(view, 15, None);
    let first = get_tiles(&s, &token, &path).await;
    let again = get_tiles(&s, &token, &path).await;
    assert_eq!(first.etag, again.etag);
    assert_eq!(first.body, again.body);

    // Gzipped when the client accepts it (and only then), with the same ETag.
    let r = s.req(reqwest::Method::GET, &path, &token).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()[reqwest::header::ETAG].to_str().unwrap(), first.etag);
    let gz = r.bytes().await.unwrap();
    assert!(gz.starts_with(&[0x1f, 0x8b]) && gz.len() < first.bytes, "{} gzipped vs {}", gz.len(), first.bytes);

    // Revalidation: the ETag gets 304 with no body; a stale one gets 200.
    let r = s
        .req(reqwest::Method::GET, &path, &token)
        .header(reqwest::header::IF_NONE_MATCH, &first.etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()[reqwest::header::ETAG].to_str().unwrap(), first.etag);
    assert!(r.headers()[reqwest::header::CACHE_CONTROL].to_str().unwrap().contains("max-age"));
    assert!(r.bytes().await.unwrap().is_empty());
    let r = s
        .req(reqwest::Method::GET, &path, &token)
        .header(reqwest::header::IF_NONE_MATCH, "\"0000000000000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Another viewport, another zoom: another ETag.
    let other = get_tiles(&s, &token, &tiles_path([118.32, 31.12, 118.33, 31.13], 15, None)).await;
    assert_ne!(other.etag, first.etag);
    let coarser = get_tiles(&s, &token, &tiles_path(view, 13, None)).await;
    assert_ne!(coarser.etag, first.etag);

    // New boundaries replace the territory and with it the cached layers:
    // the same request now shows the new shape under a new ETag.
    let code = cell_code(23, 23);
    let w = SPAN / N as f64;
    let (x, y) = (X0 + 23.0 * w, Y0 + 23.0 * w);
    let moved = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![(x, y), (x + w, y), (x + w, y + w), (x + 0.5 * w, y + 1.2 * w), (x, y + w), (x, y)]),
        vec![],
    )]);
    let ev = AuditEvent::ok(Utc::now(), "test", "admin", "fixture", "reshape");
    s.app.store.upsert_units(vec![stored(&code, "改过的格", &moved)], ev).await.unwrap();
    s.app.reload_territory().await.unwrap();
    let after = get_tiles(&s, &token, &path).await;
    assert_ne!(after.etag, first.etag);
    let f = after.feature(&code);
    assert_eq!(f["properties"]["name"], "改过的格");
    let top = rings(f)[0].iter().map(|p| p[1]).fold(f64::MIN, f64::max);
    assert!(top > y + 1.1 * w, "the new peak is served: {top}");
}

/// Serves the Wuhu demo and prints, per representative viewport, the
/// feature count, payload size and latency (first request, which builds
/// the layer, and the median of 50 warm ones). Numbers only, no assertions
/// on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_demo_viewports() {
    use citygrid_domain::access::Role;
    use citygrid_domain::calendar::{WorkingCalendar, default_periods};
    use citygrid_domain::case::DeadlinePolicy;
    use citygrid_server::auth::password::hash_password;
    use citygrid_server::vault::Vault;
    use citygrid_server::{App, AppParts, ServerConfig};
    use citygrid_store::UserRecord;
    use citygrid_store_sqlite::{SqliteOptions, SqliteStore};

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), SqliteOptions::default()).unwrap();
    let ev = || AuditEvent::ok(Utc::now(), "bench", "admin", "demo", "demo");
    let demo = citygrid_geo::wuhu_demo(0).unwrap();
    let units: Vec<StoredUnit> = demo
        .iter()
        .map(|f| StoredUnit { unit: f.unit.clone(), geometry: geometry_to_json(&f.geometry).unwrap() })
        .collect();
    store.upsert_units(units, ev()).await.unwrap();
    store
        .create_user(
            UserRecord {
                id: "op".into(),
                username: "op".into(),
                display_name: "op".into(),
                role: Role::Operator,
                unit: Some(UnitCode::parse("340200").unwrap()),
                department: None,
                password_hash: hash_password(PASSWORD).unwrap(),
                active: true,
                failed_logins: 0,
                locked_until: None,
                created_at: Utc::now(),
            },
            ev(),
        )
        .await
        .unwrap();
    let app = App::load(AppParts {
        store,
        calendar: WorkingCalendar::new(default_periods(), vec![]).unwrap(),
        policy: DeadlinePolicy::default(),
        vault: Vault::ephemeral(),
        config: ServerConfig { login_per_minute: 10_000, public_per_minute: 100_000, ..ServerConfig::default() },
        metrics_token: None,
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(citygrid_server::serve(listener, app, async {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "op", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    // A 1920×1080 screen centred on a point, in 256-pixel zoom levels.
    let screen = |lon: f64, lat: f64, zoom: u8| -> [f64; 4] {
        let dpp = 360.0 / (256.0 * f64::from(1u32 << zoom));
        let (hw, hh) = (960.0 * dpp, 540.0 * dpp * lat.to_radians().cos());
        [lon - hw, lat - hh, lon + hw, lat + hh]
    };
    let (jinghu, wanzhi, showcase) = ((118.38, 31.345), (118.52, 31.15), (118.372, 31.357));
    let views: Vec<(&str, [f64; 4], u8, Option<&str>)> = vec![
        ("whole city, z9 (districts)", [117.6, 30.6, 118.8, 31.7], 9, None),
        ("whole city, z9, level=township", [117.6, 30.6, 118.8, 31.7], 9, Some("township")),
        ("1080p 镜湖 z11 (townships)", screen(jinghu.0, jinghu.1, 11), 11, None),
        ("1080p 镜湖 z12 (communities)", screen(jinghu.0, jinghu.1, 12), 12, None),
        ("1080p 镜湖 z13 (communities)", screen(jinghu.0, jinghu.1, 13), 13, None),
        ("1080p 镜湖 z14 (grids)", screen(jinghu.0, jinghu.1, 14), 14, None),
        ("1080p 湾沚 z14 (grids)", screen(wanzhi.0, wanzhi.1, 14), 14, None),
        ("1080p 镜湖 z16 (grids)", screen(jinghu.0, jinghu.1, 16), 16, None),
        ("1080p 方村 z17 (micro-grids)", screen(showcase.0, showcase.1, 17), 17, None),
        ("whole city, z14 (refused)", [117.6, 30.6, 118.8, 31.7], 14, None),
    ];
    // For comparison: the whole grid layer, unsimplified, as the console
    // would otherwise have to load it.
    let t0 = Instant::now();
    let r = http.get(format!("{base}/api/v1/territory/geojson?level=grid")).bearer_auth(&token).send().await.unwrap();
    let whole = r.text().await.unwrap();
    println!(
        "GET /api/v1/territory/geojson?level=grid: {} bytes, first request {:.1} ms",
        whole.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    if let Ok(dir) = std::env::var("TILES_BENCH_DUMP") {
        std::fs::write(format!("{dir}/whole_grid_layer.geojson"), &whole).unwrap();
    }
    println!("| viewport | bbox | units | bytes | first ms | warm p50 ms | warm max ms |");
    println!("|---|---|---|---|---|---|---|");
    for (name, b, zoom, level) in views {
        let url = format!("{base}{}", tiles_path(b, zoom, level));
        let t0 = Instant::now();
        let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let first = t0.elapsed().as_secs_f64() * 1e3;
        let mut warm = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            warm.push(t.elapsed().as_secs_f64() * 1e3);
        }
        warm.sort_by(f64::total_cmp);
        let units = if status == 200 {
            let v: Value = serde_json::from_str(&text).unwrap();
            v["features"].as_array().unwrap().len().to_string()
        } else {
            format!("{status}")
        };
        if let Ok(dir) = std::env::var("TILES_BENCH_DUMP") {
            let file = name.split_whitespace().collect::<Vec<_>>().join("_").replace(['(', ')', ',', '='], "");
            std::fs::write(format!("{dir}/{file}.json"), &text).unwrap();
        }
        println!(
            "| {name} | {:.3},{:.3},{:.3},{:.3} | {units} | {} | {first:.1} | {:.2} | {:.2} |",
            b[0],
            b[1],
            b[2],
            b[3],
            text.len(),
            warm[warm.len() / 2],
            warm[warm.len() - 1]
        );
    }
}
