//! `GET /healthz`: liveness, unauthenticated.

use axum::Json;
use axum::extract::State;
use citygrid_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::PublicClient;

/// Liveness answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
    /// The build's version.
    version: &'static str,
    /// Units in the loaded territory.
    territory_units: usize,
}

/// Is the server up?
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub async fn healthz<S: Store>(State(app): State<App<S>>, _c: PublicClient) -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION"), territory_units: app.world().territory.len() })
}
