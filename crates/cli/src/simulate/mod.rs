//! `citygrid simulate`: drives a running server over its real protocols —
//! cameras, radars and checkpoints along the river posting detection
//! batches over HTTP (real events seen by several devices at once, repeats
//! and false positives), and water stations sending HJ 212 packets over TCP
//! with a pollution episode on a schedule — at a chosen rate. It registers
//! its own devices (with an administrator's login), so it needs nothing
//! but the server's address. `citygrid demo` runs it gently by default.

pub mod api;
pub mod cameras;
pub mod scene;
pub mod stations;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::api::Api;
use self::cameras::{Camera, Mix};
use self::scene::Placed;
use self::stations::Station;

/// What to simulate and how hard.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The server's address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An administrator, to register the simulated devices.
    #[arg(long, default_value = "admin")]
    pub admin: String,
    /// That administrator's password (the demo's by default).
    #[arg(long, env = "CITYGRID_SIMULATE_PASSWORD", hide_env_values = true, default_value = crate::demo::DEMO_PASSWORD)]
    pub password: String,
    /// The HJ 212 listener (`host:port`); stations are skipped without it.
    #[arg(long)]
    pub hj212: Option<String>,
    /// Detections per second, all devices together.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds between a station's packets.
    #[arg(long, default_value_t = 30)]
    pub station_interval: u64,
    /// Stop after this many seconds (runs until interrupted otherwise).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Seed of the random choices (the same seed places the same devices).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// Running totals, logged every ten seconds.
#[derive(Debug, Default)]
struct Totals {
    accepted: AtomicU64,
    duplicate: AtomicU64,
    rejected: AtomicU64,
    failed_batches: AtomicU64,
    packets: AtomicU64,
    replies: AtomicU64,
}

/// A failure that stops the simulation before it starts.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The API refused or could not be reached.
    #[error(transparent)]
    Api(#[from] api::ApiError),
    /// The server has no zones to place devices in.
    #[error("the server has no river or ring zones to place simulated devices in")]
    NoZones,
}

/// Registers the simulated devices, then drives them until `duration` ends.
pub async fn run(args: SimulateArgs) -> Result<(), SimulateError> {
    let api = Api::new(&args.server);
    let token = api.login(&args.admin, &args.password).await?;
    let zones = scene::zones(&api.zones(&token).await?);
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    // A fresh prefix per run: device ids are never reused.
    let prefix = format!("sim{:04x}", rand::rng().random::<u16>());
    let placed = scene::place(&mut rng, &zones, &prefix);
    if placed.is_empty() {
        return Err(SimulateError::NoZones);
    }
    let (mut cameras, mut stations) = (vec![], vec![]);
    for (i, p) in placed.into_iter().enumerate() {
        if p.kind == "water_station" {
            if args.hj212.is_none() {
                continue;
            }
            let mn = format!("88{:012}", u64::from(rng.random::<u32>()) * 100 + i as u64);
            let pw = format!("{:06}", rng.random_range(0..1_000_000));
            api.register(&token, &p, Some((&mn, &pw))).await?;
            stations.push(Station { place: p, mn, pw });
        } else {
            let key = api.register(&token, &p, None).await?;
            cameras.push((Camera::new(p), key));
        }
    }
    tracing::info!(cameras = cameras.len(), stations = stations.len(), prefix, "simulated devices registered");

    let totals = Arc::new(Totals::default());
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = &args.hj212 {
        for s in stations {
            tasks.spawn(drive_station(s, addr.clone(), args.station_interval, Arc::clone(&totals), args.seed));
        }
    }
    tasks.spawn(drive_cameras(api, cameras, args.rate, Arc::clone(&totals), args.seed));
    tasks.spawn(report(Arc::clone(&totals)));
    // Runs until the time is up, or until every driver has stopped (the
    // reporter alone does not count).
    let drivers = async {
        while tasks.len() > 1 {
            if tasks.join_next().await.is_none() {
                break;
            }
        }
    };
    match args.duration {
        Some(s) => {
            let _ = tokio::time::timeout(Duration::from_secs(s), drivers).await;
        }
        None => drivers.await,
    }
    tasks.abort_all();
    log_totals(&totals);
    Ok(())
}

fn log_totals(t: &Totals) {
    tracing::info!(
        accepted = t.accepted.load(Ordering::Relaxed),
        duplicate = t.duplicate.load(Ordering::Relaxed),
        rejected = t.rejected.load(Ordering::Relaxed),
        failed_batches = t.failed_batches.load(Ordering::Relaxed),
        hj212_packets = t.packets.load(Ordering::Relaxed),
        hj212_replies = t.replies.load(Ordering::Relaxed),
        "simulation so far"
    );
}

async fn report(t: Arc<Totals>) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        log_totals(&t);
    }
}

/// Which spot a real event is at now, per zone: every two minutes one zone
/// has something going on for a minute, seen by all its devices.
fn event_for(place: &Placed, now: chrono::DateTime<Utc>, zones: &[String]) -> Option<(f64, f64)> {
    let slot = now.timestamp().div_euclid(120);
    let active = zones.get(slot.rem_euclid(zones.len().max(1) as i64) as usize)?;
    let live = now.timestamp().rem_euclid(120) < 60;
    // The spot is the first device's of the zone, nudged per slot.
    (live && *active == place.zone).then_some((place.lon + 0.0005 * (slot % 3) as f64, place.lat))
}

async fn drive_cameras(api: Api, mut cameras: Vec<(Camera, String)>, rate: f64, totals: Arc<Totals>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xca);
    let mut zones: Vec<String> = cameras.iter().map(|(c, _)| c.place.zone.clone()).collect();
    zones.dedup();
    // The first device of a zone marks where its events happen.
    let anchors: std::collections::HashMap<String, Placed> =
        cameras.iter().rev().map(|(c, _)| (c.place.zone.clone(), c.place.clone())).collect();
    let per_tick = (rate.max(0.0) / cameras.len().max(1) as f64).max(0.0);
    let mut owed = 0.0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        owed += per_tick;
        let n = owed.floor() as usize;
        owed -= n as f64;
        if n == 0 {
            continue;
        }
        let now = Utc::now();
        for (cam, key) in cameras.iter_mut() {
            let event = anchors.get(&cam.place.zone).and_then(|a| event_for(a, now, &zones));
            let batch = cam.detections(&mut rng, n.min(1000), now, event, Mix::default());
            match api.detections(key, batch).await {
                Ok(t) => {
                    totals.accepted.fetch_add(t.accepted, Ordering::Relaxed);
                    totals.duplicate.fetch_add(t.duplicate, Ordering::Relaxed);
                    totals.rejected.fetch_add(t.rejected, Ordering::Relaxed);
                }
                Err(api::ApiError::Refused { status: reqwest::StatusCode::NOT_FOUND, .. }) => {
                    tracing::warn!("the server takes no detections (no POST /api/v1/detections): cameras stop");
                    return;
                }
                Err(e) => {
                    totals.failed_batches.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, device = cam.place.id, "a detection batch failed");
                }
            }
        }
    }
}

async fn drive_station(s: Station, addr: String, every: u64, totals: Arc<Totals>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ s.mn.len() as u64 ^ u64::from(s.mn.as_bytes()[s.mn.len() - 1]));
    let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
    let mut conn: Option<tokio::net::TcpStream> = None;
    loop {
        tick.tick().await;
        // An episode every half hour, ten minutes long.
        let level = stations::pollution(Utc::now(), 1800, 600);
        let frame = stations::packet(&s, &mut rng, Utc::now(), level);
        if conn.is_none() {
            conn = tokio::net::TcpStream::connect(&addr).await.ok();
        }
        let Some(c) = conn.as_mut() else {
            tracing::warn!(addr, station = s.place.id, "cannot reach the HJ 212 listener");
            continue;
        };
        if c.write_all(&frame).await.is_err() {
            conn = None;
            continue;
        }
        totals.packets.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                totals.replies.fetch_add(1, Ordering::Relaxed);
            }
            _ => conn = None,
        }
    }
}
