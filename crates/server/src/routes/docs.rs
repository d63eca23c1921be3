//! The OpenAPI document and its browsable UI (served from the binary).

use axum::Json;
use axum::extract::State;
use citygrid_domain::schema;
use citygrid_store::Store;
use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::ServerConfig;
use crate::app::App;
use crate::auth::PublicClient;

/// Adds the two ways to authenticate.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "CityGrid API", description = "City grid governance: territory, cases, accounts, audit. \
        Log in at /api/v1/auth/login and send `Authorization: Bearer <token>`. \
        Errors are always {\"error\":{\"code\",\"message\"}}."),
    modifiers(&Security),
    // Schemas only parameters refer to, which are not collected from the paths.
    components(schemas(
        citygrid_domain::UnitCode, citygrid_domain::CategoryCode, citygrid_domain::Level, citygrid_domain::ZoneKind,
        citygrid_domain::DeviceKind, citygrid_domain::ReadingKind, citygrid_domain::WaterClass,
        schema::Longitude, schema::Latitude, schema::BoundingBox, schema::ContentHash, schema::ZoneId,
        schema::DepartmentCode, schema::Phone, schema::ResidentId,
        super::tiles::Zoom, super::cases::list::CaseStates, super::cases::list::Cursor,
        super::cases::list::PageLimit, super::audit::AuditLimit,
    )),
    security(("bearer" = [])),
    paths(
        super::health::healthz,
        super::metrics::metrics,
        super::auth::login, super::auth::logout, super::auth::me,
        super::territory::tree, super::territory::level_geojson, super::territory::unit,
        super::territory::children, super::territory::children_geojson, super::territory::locate,
        super::tiles::tiles,
        super::territory::locate_batch, super::boundaries::import,
        super::catalog::list_categories, super::catalog::put_category,
        super::catalog::list_departments, super::catalog::put_department,
        super::cases::create::create, super::cases::list::list, super::cases::read::read,
        super::cases::act::act, super::cases::attachment::read_attachment,
        super::attachments::upload, super::attachments::read_own,
        super::stream::stream,
        super::audit::list, super::audit::verify,
        super::users::create, super::users::list, super::users::update, super::users::revoke_sessions,
        super::devices::create, super::devices::list, super::devices::me, super::devices::revoke,
        super::zones::list, super::zones::geojson, super::zones::at, super::zones::put, super::zones::delete,
        super::water::readings,
        super::detections::submit, super::gb28181::alarm,
        super::incidents::list::list, super::incidents::stats::stats, super::incidents::read::read,
        super::incidents::review::confirm, super::incidents::review::dismiss, super::incidents::review::merge,
        super::incidents::review::promote,
    ),
    tags(
        (name = "cases", description = "The case loop: report → register → dispatch → handle → verify → close → evaluate"),
        (name = "territory", description = "Divisions, grids and point location"),
        (name = "zones", description = "Geofences: prevention rings and river zones, with validity and schedules"),
        (name = "stream", description = "The live feed (Server-Sent Events), resumable with Last-Event-ID"),
        (name = "water", description = "Water-quality stations (HJ 212) and their readings, classed under GB 3838-2002"),
        (name = "eyes", description = "Smart eyes: detections from devices, grouped into incidents, reviewed and promoted to cases"),
    )
)]
pub struct ApiDoc;

/// The API description for a server with `config`: the limits a server
/// may be configured with are stated as configured.
pub fn document(config: &ServerConfig) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if let Some(d) = doc.info.description.as_mut() {
        d.push_str(&format!(
            " Request bodies: JSON up to {} bytes, attachments up to {} bytes, boundary files up to {} bytes, \
             detection batches up to {} bytes; larger ones get 413.",
            config.max_body_bytes, config.max_attachment_bytes, config.max_import_bytes, config.max_intake_bytes
        ));
    }
    let limit = doc.components.as_mut().and_then(|c| c.schemas.get_mut("PageLimit"));
    if let Some(RefOr::T(Schema::Object(o))) = limit {
        o.maximum = Some(config.max_page.into());
    }
    doc
}

/// The OpenAPI document.
pub async fn openapi_json<S: Store>(State(app): State<App<S>>, _c: PublicClient) -> Json<utoipa::openapi::OpenApi> {
    Json(document(&app.config))
}
