//! Opening a data directory and starting the server on it.

use std::net::SocketAddr;

use chrono::Utc;
use citygrid_app::vault::Vault;
use citygrid_domain::audit::AuditEvent;
use citygrid_domain::case::DeadlinePolicy;
use citygrid_server::{App, AppParts};
use citygrid_store::prelude::*;

use crate::reference;
use crate::settings::Settings;

/// An audit event for something the CLI itself does.
pub fn cli_event(action: &str, resource: &str) -> AuditEvent {
    AuditEvent::ok(Utc::now(), "cli", "admin", action, resource)
}

/// Seeds the standard category table into a store that has none.
pub async fn ensure_categories<S: Store>(store: &S) -> Result<(), String> {
    if store.categories().await.map_err(|e| e.to_string())?.is_empty() {
        let cats = reference::parse_categories(reference::CATEGORIES_CSV)?;
        let n = cats.len();
        citygrid_app::catalog::write_categories(store, cats, cli_event("category.seed", &format!("categories/{n}")))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Everything needed to serve a data directory.
pub async fn assemble<S: Store>(s: &Settings, store: S) -> Result<App<S>, String> {
    ensure_categories(&store).await?;
    let calendar = reference::calendar(s.calendar_dir.as_deref())?;
    let year = chrono::Datelike::year(&Utc::now());
    for y in [year, year + 1] {
        if !calendar.covers(y) {
            tracing::warn!(
                year = y,
                "no holiday file for this year: deadlines count weekends only; add data/calendar/{y}.toml"
            );
        }
    }
    let vault = Vault::open_or_create(&s.key_file).map_err(|e| e.to_string())?;
    let parts = AppParts {
        store,
        calendar,
        policy: DeadlinePolicy::default(),
        vault,
        config: s.server.clone(),
        metrics_token: s.metrics_token.clone(),
    };
    App::load(parts).await
}

/// Binds and serves until Ctrl-C, printing where.
pub async fn run<S: Store>(s: &Settings, app: App<S>, started: std::time::Instant) -> Result<(), String> {
    let addr = SocketAddr::new(s.bind, s.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let users = app.store.users().await.map_err(|e| e.to_string())?;
    if !users.iter().any(|u| u.role == citygrid_domain::access::Role::Admin) {
        tracing::warn!("no administrator yet: create one with `citygrid admin create` on {}", s.database);
    }
    let t = app.world().territory;
    if t.is_empty() {
        tracing::warn!("no territory loaded: import one with `citygrid import territory FILE`, or run `citygrid demo`");
    }
    announce(format_args!(
        "CityGrid serving http://{local}  (API docs: http://{local}/api/docs, data: {}, {} territory units, ready in {:.2}s)",
        s.database,
        t.len(),
        started.elapsed().as_secs_f64()
    ));
    let mut hj212_addr = None;
    if let Some(port) = s.hj212_port {
        let addr = SocketAddr::new(s.bind, port);
        let hj212 = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for HJ 212 on {addr}: {e}"))?;
        let local = hj212.local_addr().map_err(|e| e.to_string())?;
        announce(format_args!("CityGrid HJ 212 listening on tcp://{local}  (water stations)"));
        let intake = std::sync::Arc::clone(app.core());
        let options = app.config.hj212_options();
        tokio::spawn(citygrid_server::listeners::hj212::serve(hj212, intake, options, async {
            let _ = tokio::signal::ctrl_c().await;
        }));
        hj212_addr = Some(local.to_string());
    }
    if let Some(url) = &s.mqtt_url {
        let settings = citygrid_server::listeners::mqtt::MqttSettings {
            url: url.clone(),
            client_id: s.mqtt_client_id.clone(),
            topic_prefix: String::new(),
        };
        // Checked now, so a bad URL stops the start instead of a log line later.
        citygrid_server::listeners::mqtt::options(&settings).map_err(|e| e.to_string())?;
        announce(format_args!("CityGrid reading detections from {url} (MQTT, client id {})", s.mqtt_client_id));
        tokio::spawn(citygrid_server::listeners::mqtt::serve(settings, std::sync::Arc::clone(app.core()), async {
            let _ = tokio::signal::ctrl_c().await;
        }));
    }
    if s.simulate {
        // Gently: a few detections a second and a packet per station every
        // half minute keep the demo alive without loading it.
        let args = crate::simulate::SimulateArgs {
            server: format!("http://{local}"),
            admin: "admin".into(),
            password: crate::demo::DEMO_PASSWORD.into(),
            hj212: hj212_addr,
            rate: 3.0,
            station_interval: 30,
            duration: None,
            seed: 2026,
        };
        announce(format_args!("CityGrid demo simulator running (turn it off with --no-simulate)"));
        tokio::spawn(async move {
            if let Err(e) = crate::simulate::run(args).await {
                tracing::warn!(error = %e, "the demo simulator stopped");
            }
        });
    }
    // Background work (audit checkpoints), once across every process on
    // this database.
    app.start_jobs();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    citygrid_server::serve(listener, app, shutdown).await.map_err(|e| e.to_string())
}

/// Prints a line for whoever started the server. A closed stdout (the
/// reader went away) must not take the server down, as `println!` would.
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
