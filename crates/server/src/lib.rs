//! CityGrid's HTTP API.
//!
//! [`build_router`] assembles every endpoint of [`routes::endpoints`] with
//! the middleware every request passes through (body limits, security
//! headers, metrics, tracing, CORS when configured); [`serve`] runs it.
//! Handlers are generic over the [`citygrid_store::Store`] backend. They
//! parse a request, call a use case of [`citygrid_app`] through the
//! [`App`]'s [`citygrid_app::Core`], and map its [`citygrid_app::AppError`]
//! to the one error shape ([`error::ApiError`]).

pub mod app;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod error;
pub mod extract;
mod follow;
pub mod listeners;
pub mod metrics;
pub mod routes;

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use citygrid_store::Store;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use app::{App, AppParts};
/// The personal-data keyring and the reference data live in the application
/// layer; re-exported under their old paths.
pub use citygrid_app::{vault, world};
pub use config::ServerConfig;

/// The full application router.
pub fn build_router<S: Store>(app: App<S>) -> Router {
    let cfg = app.config.clone();
    // Install the recorder before the first request is counted.
    let _ = metrics::handle();
    let api = routes::api_routes::<S>(&cfg).fallback(|| async { error::ApiError::not_found("route") }).with_state(app);
    let docs = SwaggerUi::new("/api/docs").url("/api/docs/openapi.json", routes::docs::document(&cfg));
    let mut router = Router::new()
        .merge(docs)
        .merge(api)
        // Only when the client asks (Accept-Encoding); images are left alone.
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(axum::middleware::from_fn(security_headers));
    if !cfg.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = cfg.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static(auth::CSRF_HEADER),
                ])
                .allow_credentials(true),
        );
    }
    router
}

/// The span of one request: method and path, never the query string, which
/// may carry personal data (`?phone=`, `?id_number=`).
fn request_span(req: &axum::extract::Request) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), version = ?req.version())
}

/// Security headers on every response, unless a handler set its own.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    const HEADERS: [(HeaderName, &str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in HEADERS {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    res
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve<S: Store>(
    listener: tokio::net::TcpListener,
    app: App<S>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = build_router(app);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
