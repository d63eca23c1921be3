//! The Wuhu demo: the real city with its synthetic grids, Wuhu's departments,
//! one user per role, and a seeded history of cases across every state of
//! the loop, so the API and console are not empty on first start.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use citygrid_app::catalog::{write_categories, write_departments};
use citygrid_app::vault::Vault;
use citygrid_app::world::{geometry_to_json, stored_unit};
use citygrid_domain::access::Role;
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::{Action, DeadlinePolicy, DecideContext, NewCase, Source, decide, report};
use citygrid_domain::personal::{Contact, id_check_char};
use citygrid_domain::{Category, Department, Level, Point, UnitCode};
use citygrid_geo::TerritoryFeature;
use citygrid_server::auth::password::hash_password;
use citygrid_store::{AttachmentMeta, CaseRecord, SealedContact, Store, StoredUnit, StoredZone, UserRecord};
use geo::{BoundingRect, Contains};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bootstrap::cli_event;
use crate::reference;

/// The password every demo account shares (documented in the README).
pub const DEMO_PASSWORD: &str = "CityGrid-demo-2026";
/// Cases seeded.
pub const DEMO_CASES: usize = 3000;
/// Meta key marking a seeded store.
const SEEDED: &str = "demo_seeded";

/// The showcase township (镜湖区 first street), where the demo's township,
/// community and grid-level users work.
const TOWNSHIP: &str = "340202001";

/// One demo account.
pub struct DemoUser {
    /// Login name.
    pub username: &'static str,
    /// Role.
    pub role: Role,
    /// Territory binding.
    pub unit: Option<&'static str>,
    /// Department binding.
    pub department: Option<&'static str>,
    /// What it shows.
    pub about: &'static str,
}

/// The demo accounts.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser { username: "admin", role: Role::Admin, unit: None, department: None, about: "system administrator" },
    DemoUser {
        username: "city.operator",
        role: Role::Operator,
        unit: Some("340200"),
        department: None,
        about: "city command centre",
    },
    DemoUser {
        username: "jinghu.operator",
        role: Role::Operator,
        unit: Some("340202"),
        department: None,
        about: "镜湖区 district centre",
    },
    DemoUser {
        username: "township.operator",
        role: Role::Operator,
        unit: Some(TOWNSHIP),
        department: None,
        about: "one 镜湖区 street centre",
    },
    DemoUser {
        username: "grid.worker",
        role: Role::GridWorker,
        unit: Some("340202001001"),
        department: None,
        about: "grid worker in one community",
    },
    DemoUser {
        username: "dept.urban",
        role: Role::DepartmentHandler,
        unit: None,
        department: Some("D340202-UM"),
        about: "镜湖区城市管理局 handler",
    },
    DemoUser {
        username: "mediator",
        role: Role::Mediator,
        unit: Some("340202"),
        department: None,
        about: "镜湖区 mediator",
    },
    DemoUser { username: "citizen", role: Role::Citizen, unit: None, department: None, about: "a resident" },
    DemoUser { username: "auditor", role: Role::Auditor, unit: None, department: None, about: "read-only auditor" },
];

/// What seeding did.
pub struct DemoSummary {
    /// Units written.
    pub units: usize,
    /// Cases written.
    pub cases: usize,
    /// Time taken.
    pub seconds: f64,
}

/// Whether the store was already seeded.
pub async fn is_seeded<S: Store>(store: &S) -> Result<bool, String> {
    Ok(store.meta(SEEDED).await.map_err(|e| e.to_string())?.is_some())
}

/// Seeds everything into an empty store.
pub async fn seed<S: Store>(
    store: &S,
    vault: &Vault,
    calendar: &WorkingCalendar,
    progress: &indicatif::MultiProgress,
) -> Result<DemoSummary, String> {
    let started = Instant::now();
    let err = |e: citygrid_store::StoreError| e.to_string();
    let step = |msg: &str| {
        let pb = progress.add(indicatif::ProgressBar::new_spinner());
        pb.set_message(msg.to_owned());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        pb
    };

    let pb = step("generating the Wuhu territory (real districts, synthetic grids)");
    let territory = tokio::task::spawn_blocking(|| citygrid_geo::wuhu_demo(0))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let stored: Vec<StoredUnit> =
        territory.iter().map(stored_unit).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let units = stored.len();
    // Zones need only the city and district boundaries; drawing them (a few
    // hundred milliseconds of buffering) overlaps the rest of the seeding.
    let districts: Vec<TerritoryFeature> =
        territory.iter().filter(|f| f.unit.level <= Level::District).cloned().collect();
    let zones = tokio::task::spawn_blocking(move || citygrid_geo::wuhu_demo_zones(&districts));
    store.upsert_units(stored, cli_event("territory.import", "demo/wuhu")).await.map_err(err)?;
    pb.finish_with_message(format!("territory: {units} units"));

    let categories = reference::parse_categories(reference::CATEGORIES_CSV)?;
    let departments = reference::parse_departments(reference::DEPARTMENTS_CSV)?;
    let app_err = |e: citygrid_app::AppError| e.to_string();
    write_categories(store, categories.clone(), cli_event("category.seed", "demo")).await.map_err(app_err)?;
    write_departments(store, departments.clone(), cli_event("department.seed", "demo")).await.map_err(app_err)?;

    let pb = step("creating one demo account per role");
    let hashes = tokio::task::spawn_blocking(|| {
        DEMO_USERS.iter().map(|_| hash_password(DEMO_PASSWORD)).collect::<Result<Vec<_>, _>>()
    });
    let photos = demo_photos(store).await?;
    let hashes = hashes.await.map_err(|e| e.to_string())??;
    for (u, password_hash) in DEMO_USERS.iter().zip(hashes) {
        let rec = UserRecord {
            id: u.username.to_owned(),
            username: u.username.to_owned(),
            display_name: u.about.to_owned(),
            role: u.role,
            unit: u.unit.map(UnitCode::parse).transpose().map_err(|e| e.to_string())?,
            department: u.department.map(str::to_owned),
            password_hash,
            active: true,
            failed_logins: 0,
            locked_until: None,
            created_at: Utc::now(),
        };
        store.create_user(rec, cli_event("user.create", &format!("user/{}", u.username))).await.map_err(err)?;
    }
    pb.finish_with_message(format!("accounts: {} (password {DEMO_PASSWORD})", DEMO_USERS.len()));

    let pb = step("drawing the zones (prevention rings, Yangtze zones)");
    let zones: Vec<StoredZone> = zones
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(zone, g)| {
            let geometry = geometry_to_json(&g).map_err(|e| format!("zone {}: {e}", zone.id))?;
            Ok::<_, String>(StoredZone { zone, geometry })
        })
        .collect::<Result<_, _>>()?;
    let zone_count = zones.len();
    store.put_zones(zones, cli_event("zone.seed", "demo/wuhu")).await.map_err(err)?;
    pb.finish_with_message(format!("zones: {zone_count}"));

    let pb = progress.add(indicatif::ProgressBar::new(DEMO_CASES as u64));
    pb.set_message("seeding case history");
    let world = World { calendar, categories: &categories, departments: &departments, photos: &photos };
    let records = world.cases(&territory, vault, Utc::now(), DEMO_CASES)?;
    let cases = records.len();
    for chunk in records.chunks(500) {
        store
            .import_cases(chunk.to_vec(), cli_event("case.import", &format!("cases/{}", chunk.len())))
            .await
            .map_err(err)?;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_with_message(format!("cases: {cases}"));
    store.set_meta(SEEDED, &Utc::now().to_rfc3339(), cli_event("meta.set", SEEDED)).await.map_err(err)?;
    Ok(DemoSummary { units, cases, seconds: started.elapsed().as_secs_f64() })
}

/// Four tiny PNG "photos" (solid colours), stored as attachments.
async fn demo_photos<S: Store>(store: &S) -> Result<Vec<String>, String> {
    let mut out = vec![];
    for rgb in [[0x4c, 0xaf, 0x50], [0x21, 0x96, 0xf3], [0xff, 0x98, 0x00], [0x9e, 0x9e, 0x9e]] {
        let png = tiny_png(rgb);
        let size = png.len() as u64;
        let sha = citygrid_server::blobs::content_hash(png.clone().into()).await;
        store.put_blob(&sha, png).await.map_err(|e| e.to_string())?;
        let meta = AttachmentMeta {
            sha256: sha.clone(),
            size,
            content_type: "image/png".into(),
            uploaded_by: "demo".into(),
            uploaded_at: Utc::now(),
        };
        store
            .put_attachment(meta, cli_event("attachment.upload", &format!("attachment/{sha}")))
            .await
            .map_err(|e| e.to_string())?;
        out.push(sha);
    }
    Ok(out)
}

/// A valid 1×1 PNG of one colour (stored uncompressed in a zlib stream).
fn tiny_png(rgb: [u8; 3]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
        }
        !c
    }
    fn adler32(bytes: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in bytes {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    let raw = [0, rgb[0], rgb[1], rgb[2]];
    let mut z = vec![0x78, 0x01, 0x01, 4, 0, !4, 0xFF];
    z.extend_from_slice(&raw);
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

struct World<'a> {
    calendar: &'a WorkingCalendar,
    categories: &'a [Category],
    departments: &'a [Department],
    photos: &'a [String],
}

/// Where a seeded case's story stops.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ending {
    Reported,
    Registered,
    Dispatched,
    Handling,
    Handled,
    Verified,
    Closed,
    Evaluated,
    Rejected,
    Merged,
    Voided,
    Suspended,
    Returned,
    Rework,
    SelfHandled,
}

const ENDINGS: &[(Ending, u32)] = &[
    (Ending::Evaluated, 30),
    (Ending::Closed, 18),
    (Ending::SelfHandled, 8),
    (Ending::Handling, 9),
    (Ending::Dispatched, 5),
    (Ending::Registered, 4),
    (Ending::Reported, 4),
    (Ending::Handled, 3),
    (Ending::Verified, 2),
    (Ending::Rejected, 3),
    (Ending::Merged, 2),
    (Ending::Voided, 2),
    (Ending::Suspended, 3),
    (Ending::Returned, 3),
    (Ending::Rework, 2),
];

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明"];

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if pick < *w {
            return *item;
        }
        pick -= w;
    }
    items[0].0
}

fn random_contact(rng: &mut ChaCha8Rng) -> Contact {
    let name = format!("{}{}", SURNAMES.choose(rng).unwrap_or(&"王"), GIVEN.choose(rng).unwrap_or(&"伟"));
    let phone = format!("1{}{:09}", rng.random_range(3..=9), rng.random_range(0..1_000_000_000u64));
    let id_number = rng.random_bool(0.4).then(|| {
        let body = format!(
            "340202{}{:02}{:02}{:03}",
            rng.random_range(1950..2005),
            rng.random_range(1..=12),
            rng.random_range(1..=28),
            rng.random_range(0..1000)
        );
        let check = id_check_char(body.as_bytes()) as char;
        format!("{body}{check}")
    });
    Contact { name: Some(name), phone: Some(phone), id_number }
}

impl World<'_> {
    fn cases(
        &self,
        territory: &[TerritoryFeature],
        vault: &Vault,
        now: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<CaseRecord>, String> {
        let mut rng = ChaCha8Rng::seed_from_u64(2026);
        let grids: Vec<&TerritoryFeature> = territory.iter().filter(|f| f.unit.level == Level::Grid).collect();
        let showcase: Vec<&TerritoryFeature> =
            grids.iter().copied().filter(|f| f.unit.code.as_str().starts_with(TOWNSHIP)).collect();
        if grids.is_empty() || self.categories.is_empty() {
            return Err("the demo needs grids and categories".into());
        }
        let policy = DeadlinePolicy::default();
        let mut out: Vec<CaseRecord> = Vec::with_capacity(n);
        for i in 0..n {
            // A third of the history happens in the showcase township, so the
            // township and grid-level demo users have plenty to see.
            let pool = if rng.random_bool(0.33) && !showcase.is_empty() { &showcase } else { &grids };
            let grid = pool.choose(&mut rng).copied().unwrap_or(grids[0]);
            let Some(location) = random_point_in(&mut rng, grid) else { continue };
            let cat = &self.categories[rng.random_range(0..self.categories.len())];
            let reported_at = now - Duration::minutes(rng.random_range(30..60 * 24 * 45));
            let source = weighted(
                &mut rng,
                &[(Source::GridWorker, 50), (Source::Citizen, 20), (Source::Hotline, 25), (Source::Department, 5)],
            );
            let reporter = match source {
                Source::GridWorker if grid.unit.code.as_str().starts_with("340202001001") => "grid.worker".to_owned(),
                Source::GridWorker => format!("gw-{}", &grid.unit.code.as_str()[..12]),
                Source::Citizen if rng.random_bool(0.2) => "citizen".to_owned(),
                Source::Citizen => format!("resident-{}", rng.random_range(1000..9999)),
                Source::Hotline => "hotline-12345".to_owned(),
                _ => "dept-reporter".to_owned(),
            };
            let contact = matches!(source, Source::Citizen | Source::Hotline).then(|| random_contact(&mut rng));
            let urgent = rng.random_bool(0.08);
            let ctx = |t, actor: &'static str, role: &'static str| DecideContext {
                now: t,
                actor,
                actor_role: role,
                calendar: self.calendar,
                category: cat,
                policy: &policy,
            };
            let new = NewCase {
                category: cat.code.clone(),
                urgent,
                source,
                location,
                territory: grid.unit.code.clone(),
                description: format!("{}：{}附近", cat.name, grid.unit.name),
                address: None,
                evidence: if source == Source::GridWorker {
                    vec![self.photos[i % self.photos.len()].clone()]
                } else {
                    vec![]
                },
            };
            let reporter_role = match source {
                Source::GridWorker => "grid_worker",
                Source::Citizen => "citizen",
                Source::Department => "department_handler",
                _ => "operator",
            };
            let rctx = DecideContext { actor: &reporter, actor_role: reporter_role, ..ctx(reported_at, "", "") };
            let (mut case, first) = report(0, new, &rctx).map_err(|e| e.to_string())?;
            let mut timeline = vec![first];
            let ending = weighted(&mut rng, ENDINGS);
            let dept = citygrid_domain::department::default_department(
                self.departments,
                &cat.department_type,
                &grid.unit.code,
            )
            .map_or_else(|| "D340200-UM".to_owned(), |d| d.code.clone());
            let merge_target = (i > 0).then(|| rng.random_range(1..=i as i64));
            let script = script(ending, &dept, self.photos, merge_target, &mut rng);
            let mut t = reported_at;
            for (delay, actor, role, action) in script {
                t += Duration::minutes(delay);
                if t >= now {
                    break;
                }
                let Ok(e) = decide(&case, &action, &ctx(t, actor, role)) else { break };
                case.apply(&e);
                timeline.push(e);
            }
            let sealed = match contact {
                Some(c) => Some(SealedContact {
                    ciphertext: vault.seal(&c).map_err(|e| e.to_string())?,
                    phone_index: c.phone.as_deref().map(|p| vault.blind_index("phone", p)),
                    id_index: c.id_number.as_deref().map(|v| vault.blind_index("id", v)),
                }),
                None => None,
            };
            out.push(CaseRecord { case, timeline, contact: sealed });
        }
        Ok(out)
    }
}

fn random_point_in(rng: &mut ChaCha8Rng, f: &TerritoryFeature) -> Option<Point> {
    let r = f.geometry.bounding_rect()?;
    for _ in 0..50 {
        let x = rng.random_range(r.min().x..=r.max().x);
        let y = rng.random_range(r.min().y..=r.max().y);
        if f.geometry.contains(&geo::Point::new(x, y)) {
            return Point::new(x, y);
        }
    }
    None
}

type Step = (i64, &'static str, &'static str, Action);

/// The actions that take a case to `ending`, with realistic delays (minutes).
fn script(ending: Ending, dept: &str, photos: &[String], merge_into: Option<i64>, rng: &mut ChaCha8Rng) -> Vec<Step> {
    const OP: (&str, &str) = ("city.operator", "operator");
    const DH: (&str, &str) = ("dept.handler", "department_handler");
    const GW: (&str, &str) = ("grid.worker", "grid_worker");
    let photo = || vec![photos[0].clone()];
    let rating = [5, 5, 5, 4, 4, 3, 2][rng.random_range(0..7)];
    let mut d = |lo: i64, hi: i64| rng.random_range(lo..hi);
    let mut step = |(lo, hi): (i64, i64), who: (&'static str, &'static str), a: Action| (d(lo, hi), who.0, who.1, a);
    let register = step((3, 40), OP, Action::Register { category: None, urgent: None, note: None });
    let dispatch =
        step((5, 90), OP, Action::Dispatch { department: Some(dept.to_owned()), assists: vec![], note: None });
    let acknowledge = step((5, 120), DH, Action::Acknowledge { note: None });
    let handle = step((60, 2400), DH, Action::Handle { note: "已处置完毕".into(), evidence: photo() });
    match ending {
        Ending::Reported => vec![],
        Ending::Rejected => vec![step((5, 60), OP, Action::Reject { reason: "不属于受理范围".into() })],
        Ending::Merged => merge_into
            .map(|into| step((5, 60), OP, Action::Merge { into, note: Some("重复上报".into()) }))
            .into_iter()
            .collect(),
        Ending::SelfHandled => vec![
            step((5, 30), GW, Action::SelfHandle { note: "现场已处置".into(), evidence: photo() }),
            step((10, 90), OP, Action::Close { note: None }),
            step((60, 3000), ("citizen", "citizen"), Action::Evaluate { rating: 5, comment: None }),
        ],
        Ending::Voided => vec![register, step((30, 600), OP, Action::Void { reason: "经核实情况不存在".into() })],
        Ending::Returned => {
            vec![register, dispatch, step((10, 240), DH, Action::Return { reason: "非本部门职责".into() })]
        }
        Ending::Suspended => {
            vec![
                register,
                dispatch,
                acknowledge,
                step((30, 600), OP, Action::Suspend { reason: "等待产权单位确认".into() }),
            ]
        }
        Ending::Rework => {
            let fail = Action::Verify { passed: false, note: Some("现场仍未清理".into()), evidence: vec![] };
            vec![register, dispatch, acknowledge, handle, step((30, 300), GW, fail)]
        }
        _ => {
            let mut full = vec![
                register,
                dispatch,
                acknowledge,
                handle,
                step((30, 300), GW, Action::Verify { passed: true, note: None, evidence: photo() }),
                step((10, 120), OP, Action::Close { note: None }),
                step((60, 3000), ("citizen", "citizen"), Action::Evaluate { rating, comment: None }),
            ];
            full.truncate(match ending {
                Ending::Registered => 1,
                Ending::Dispatched => 2,
                Ending::Handling => 3,
                Ending::Handled => 4,
                Ending::Verified => 5,
                Ending::Closed => 6,
                _ => 7,
            });
            full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citygrid_domain::case::CaseState;

    #[test]
    fn the_tiny_png_is_a_png() {
        let p = tiny_png([1, 2, 3]);
        assert_eq!(citygrid_server::blobs::sniff(&p), Some("image/png"));
    }

    #[test]
    fn seeded_history_reaches_every_state() {
        let territory = citygrid_geo::wuhu_demo(0).unwrap();
        let cats = reference::parse_categories(reference::CATEGORIES_CSV).unwrap();
        let depts = reference::parse_departments(reference::DEPARTMENTS_CSV).unwrap();
        let cal = reference::calendar(None).unwrap();
        let photos = vec!["ab".repeat(32)];
        let w = World { calendar: &cal, categories: &cats, departments: &depts, photos: &photos };
        let cases = w.cases(&territory, &Vault::ephemeral(), Utc::now(), 600).unwrap();
        let states: std::collections::BTreeSet<CaseState> = cases.iter().map(|r| r.case.state).collect();
        for s in CaseState::ALL {
            assert!(states.contains(&s), "no seeded case ends {s}");
        }
        for r in &cases {
            assert_eq!(r.timeline.len() as u32, r.case.version);
            assert!(r.timeline.iter().enumerate().all(|(i, e)| e.seq == i as u32 + 1));
            assert_eq!(r.timeline.last().map(|e| e.to), Some(r.case.state));
        }
        assert!(cases.iter().any(|r| r.contact.is_some()));
    }
}
