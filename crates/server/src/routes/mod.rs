//! Every endpoint, in one registry. The router is built from this list and
//! nothing else, so the permission-matrix test (which walks the same list)
//! fails for any endpoint that has no expectation written down.

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod boundaries;
pub mod cases;
pub mod catalog;
pub mod detections;
pub mod devices;
pub mod docs;
pub mod gb28181;
pub mod health;
pub mod incidents;
pub mod metrics;
pub mod stream;
pub mod territory;
pub mod tiles;
pub mod users;
pub mod water;
pub mod zones;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use citygrid_store::Store;

use crate::app::App;
use crate::config::ServerConfig;

/// Whether an endpoint needs a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (rate-limited per client).
    Public,
    /// A logged-in user or device; the handler applies the policy.
    Authenticated,
}

/// Which body limit an endpoint gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// JSON or nothing: `max_body_bytes`.
    Json,
    /// A file upload: `max_attachment_bytes`.
    Upload,
    /// A boundary file: `max_import_bytes`.
    Import,
    /// A detection batch: `max_intake_bytes`.
    Intake,
}

/// One endpoint.
pub struct Endpoint<S> {
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: &'static str,
    /// Who may call it at all.
    pub access: Access,
    /// Its body limit.
    pub body: Body,
    /// The handler.
    pub route: MethodRouter<App<S>>,
}

fn ep<S>(method: Method, path: &'static str, access: Access, route: MethodRouter<App<S>>) -> Endpoint<S> {
    Endpoint { method, path, access, body: Body::Json, route }
}

fn upload<S>(method: Method, path: &'static str, access: Access, route: MethodRouter<App<S>>) -> Endpoint<S> {
    Endpoint { method, path, access, body: Body::Upload, route }
}

/// Every endpoint of the API.
pub fn endpoints<S: Store>() -> Vec<Endpoint<S>> {
    use Access::{Authenticated as A, Public as P};
    use Method as M;
    vec![
        ep(M::GET, "/healthz", P, get(health::healthz::<S>)),
        ep(M::GET, "/api/openapi.json", P, get(docs::openapi_json::<S>)),
        ep(M::GET, "/metrics", A, get(metrics::metrics::<S>)),
        ep(M::POST, "/api/v1/auth/login", P, post(auth::login::<S>)),
        ep(M::POST, "/api/v1/auth/logout", A, post(auth::logout::<S>)),
        ep(M::GET, "/api/v1/auth/me", A, get(auth::me::<S>)),
        ep(M::GET, "/api/v1/territory", A, get(territory::tree::<S>)),
        ep(M::GET, "/api/v1/territory/geojson", A, get(territory::level_geojson::<S>)),
        ep(M::GET, "/api/v1/territory/units/{code}", A, get(territory::unit::<S>)),
        ep(M::GET, "/api/v1/territory/units/{code}/children", A, get(territory::children::<S>)),
        ep(M::GET, "/api/v1/territory/units/{code}/children/geojson", A, get(territory::children_geojson::<S>)),
        ep(M::GET, "/api/v1/territory/tiles", A, get(tiles::tiles::<S>)),
        ep(M::GET, "/api/v1/locate", A, get(territory::locate::<S>)),
        ep(M::POST, "/api/v1/locate", A, post(territory::locate_batch::<S>)),
        Endpoint {
            method: M::POST,
            path: "/api/v1/territory/import",
            access: A,
            body: Body::Import,
            route: post(boundaries::import::<S>),
        },
        ep(M::GET, "/api/v1/categories", A, get(catalog::list_categories::<S>)),
        ep(M::PUT, "/api/v1/categories/{code}", A, put(catalog::put_category::<S>)),
        ep(M::GET, "/api/v1/departments", A, get(catalog::list_departments::<S>)),
        ep(M::PUT, "/api/v1/departments/{code}", A, put(catalog::put_department::<S>)),
        ep(M::POST, "/api/v1/cases", A, post(cases::create::create::<S>)),
        ep(M::GET, "/api/v1/cases", A, get(cases::list::list::<S>)),
        ep(M::GET, "/api/v1/cases/{id}", A, get(cases::read::read::<S>)),
        ep(M::POST, "/api/v1/cases/{id}/actions", A, post(cases::act::act::<S>)),
        ep(M::GET, "/api/v1/cases/{id}/attachments/{sha256}", A, get(cases::attachment::read_attachment::<S>)),
        upload(M::POST, "/api/v1/attachments", A, post(attachments::upload::<S>)),
        ep(M::GET, "/api/v1/attachments/{sha256}", A, get(attachments::read_own::<S>)),
        ep(M::GET, "/api/v1/stream", A, get(stream::stream::<S>)),
        ep(M::GET, "/api/v1/audit", A, get(audit::list::<S>)),
        ep(M::GET, "/api/v1/audit/verify", A, get(audit::verify::<S>)),
        ep(M::POST, "/api/v1/users", A, post(users::create::<S>)),
        ep(M::GET, "/api/v1/users", A, get(users::list::<S>)),
        ep(M::PATCH, "/api/v1/users/{id}", A, patch(users::update::<S>)),
        ep(M::DELETE, "/api/v1/users/{id}/sessions", A, delete(users::revoke_sessions::<S>)),
        ep(M::POST, "/api/v1/devices", A, post(devices::create::<S>)),
        ep(M::GET, "/api/v1/devices", A, get(devices::list::<S>)),
        ep(M::GET, "/api/v1/devices/me", A, get(devices::me::<S>)),
        ep(M::DELETE, "/api/v1/devices/{id}", A, delete(devices::revoke::<S>)),
        ep(M::GET, "/api/v1/zones", A, get(zones::list::<S>)),
        ep(M::GET, "/api/v1/zones/geojson", A, get(zones::geojson::<S>)),
        ep(M::GET, "/api/v1/zones/at", A, get(zones::at::<S>)),
        ep(M::PUT, "/api/v1/zones/{id}", A, put(zones::put::<S>)),
        ep(M::DELETE, "/api/v1/zones/{id}", A, delete(zones::delete::<S>)),
        ep(M::GET, "/api/v1/water/readings", A, get(water::readings::<S>)),
        Endpoint {
            method: M::POST,
            path: "/api/v1/detections",
            access: A,
            body: Body::Intake,
            route: post(detections::submit::<S>),
        },
        ep(M::POST, "/api/v1/intake/gb28181", A, post(gb28181::alarm::<S>)),
        ep(M::GET, "/api/v1/incidents", A, get(incidents::list::list::<S>)),
        ep(M::GET, "/api/v1/incidents/stats", A, get(incidents::stats::stats::<S>)),
        ep(M::GET, "/api/v1/incidents/{id}", A, get(incidents::read::read::<S>)),
        ep(M::POST, "/api/v1/incidents/{id}/confirm", A, post(incidents::review::confirm::<S>)),
        ep(M::POST, "/api/v1/incidents/{id}/dismiss", A, post(incidents::review::dismiss::<S>)),
        ep(M::POST, "/api/v1/incidents/{id}/merge", A, post(incidents::review::merge::<S>)),
        ep(M::POST, "/api/v1/incidents/{id}/promote", A, post(incidents::review::promote::<S>)),
    ]
}

/// `(method, path, access)` of every endpoint, for tests and docs.
pub fn endpoint_list<S: Store>() -> Vec<(Method, &'static str, Access)> {
    endpoints::<S>().into_iter().map(|e| (e.method, e.path, e.access)).collect()
}

/// The API routes, each with its body limit (no other middleware).
pub fn api_routes<S: Store>(config: &ServerConfig) -> Router<App<S>> {
    endpoints::<S>().into_iter().fold(Router::new(), |r, e| {
        let limit = match e.body {
            Body::Json => config.max_body_bytes,
            Body::Upload => config.max_attachment_bytes,
            Body::Import => config.max_import_bytes,
            Body::Intake => config.max_intake_bytes,
        };
        r.route(e.path, e.route.layer(DefaultBodyLimit::max(limit)))
    })
}
