//! User accounts, managed by administrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use citygrid_domain::access::{Operation, Principal, Role, Scope};
use citygrid_domain::schema::{self, DepartmentCode};
use citygrid_domain::{UnitCode, named_schema};
use citygrid_store::{Store, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use crate::app::App;
use crate::auth::Caller;
use crate::auth::password::{self, Password, check_strength};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id (= username).
    id: String,
    /// Name shown in timelines.
    display_name: String,
    /// Role.
    role: Role,
    /// Territory binding.
    unit: Option<UnitCode>,
    /// Department binding.
    department: Option<String>,
    /// Whether the account may log in.
    active: bool,
    /// Locked after failed logins until.
    locked_until: Option<DateTime<Utc>>,
    /// Created.
    created_at: DateTime<Utc>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            id: u.id,
            display_name: u.display_name,
            role: u.role,
            unit: u.unit,
            department: u.department,
            active: u.active,
            locked_until: u.locked_until,
            created_at: u.created_at,
        }
    }
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: 3–32 of a–z, 0–9, `.`, `_`, `-`.
    #[schema(value_type = Username)]
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role. Operators, grid workers and mediators need `unit` (operators
    /// at community level or above, grid workers at community level or
    /// below); department handlers need `department`.
    #[schema(value_type = UserRole)]
    pub role: Role,
    /// Territory binding (operators, grid workers, mediators): a known unit.
    #[serde(default)]
    pub unit: Option<UnitCode>,
    /// Department binding (department handlers): a known department.
    #[serde(default)]
    #[schema(value_type = Option<DepartmentCode>)]
    pub department: Option<String>,
    /// Initial password.
    #[schema(value_type = Password)]
    pub password: String,
}

/// What [`check_username`] accepts.
pub const USERNAME_PATTERN: &str = "^[a-z0-9._-]{3,32}$";

named_schema!(
    /// A login name.
    Username => schema::matching(USERNAME_PATTERN, "jinghu.operator")
);

named_schema!(
    /// The roles an account may have: every one but `device`, which is registered under `/api/v1/devices`.
    UserRole => ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(Role::ALL.into_iter().filter(|r| *r != Role::Device).map(Role::as_str)))
);

/// Checks a username's shape.
pub fn check_username(u: &str) -> Result<(), String> {
    let ok = (3..=32).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err("username must be 3–32 characters of a–z, 0–9, '.', '_' or '-'".into()) }
}

/// Validates a new user against the reference data and builds its record.
pub async fn build_user<S: Store>(app: &App<S>, n: NewUser) -> ApiResult<UserRecord> {
    check_username(&n.username).map_err(ApiError::invalid)?;
    check_strength(&n.password).map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", m))?;
    if n.role == Role::Device {
        return Err(ApiError::invalid("devices are registered under /api/v1/devices"));
    }
    let p = Principal { id: n.username.clone(), role: n.role, unit: n.unit.clone(), department: n.department.clone() };
    p.check_binding().map_err(|e| ApiError::invalid(e.to_string()))?;
    let world = app.world();
    if let Some(u) = &n.unit
        && world.territory.get(u).is_none()
    {
        return Err(ApiError::invalid(format!("no territory unit {u}")));
    }
    if let Some(d) = &n.department
        && !world.catalog.departments.contains_key(d)
    {
        return Err(ApiError::invalid(format!("no department {d}")));
    }
    let password_hash = password::hash(n.password).await.map_err(ApiError::internal)?;
    Ok(UserRecord {
        id: n.username.clone(),
        username: n.username,
        display_name: n.display_name,
        role: n.role,
        unit: n.unit,
        department: n.department,
        password_hash,
        active: true,
        failed_logins: 0,
        locked_until: None,
        created_at: Utc::now(),
    })
}

/// Creates an account (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
pub async fn create<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiJson(n): ApiJson<NewUser>,
) -> ApiResult<Response> {
    let resource = format!("user/{}", n.username);
    app.authorize(&caller.principal, caller.ip, Operation::ManageAccounts, &Scope::Global, &resource).await?;
    let user = build_user(&app, n).await?;
    let ev = app.audit_event(&caller.principal, caller.ip, "user.create", &resource);
    app.store.create_user(user.clone(), ev).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(user))).into_response())
}

/// Every account (administrators and auditors).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", responses((status = 200, body = Vec<UserView>)))]
pub async fn list<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    let op = if caller.principal.role == Role::Auditor { Operation::ReadAudit } else { Operation::ManageAccounts };
    app.authorize(&caller.principal, caller.ip, op, &Scope::Global, "users").await?;
    Ok(Json(app.store.users().await?.into_iter().map(UserView::from).collect()))
}

/// Changes to an account; absent fields stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Enable or disable (disabling revokes every session).
    #[serde(default)]
    active: Option<bool>,
    /// New password (revokes every session).
    #[serde(default)]
    #[schema(value_type = Option<Password>)]
    password: Option<String>,
    /// New display name.
    #[serde(default)]
    display_name: Option<String>,
    /// Clear a lockout.
    #[serde(default)]
    unlock: bool,
}

/// Updates an account (administrators).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "accounts", request_body = UserPatch,
    params(("id" = String, Path, description = "User id", example = "grid.worker")),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn update<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(p): ApiJson<UserPatch>,
) -> ApiResult<Json<UserView>> {
    let resource = format!("user/{id}");
    app.authorize(&caller.principal, caller.ip, Operation::ManageAccounts, &Scope::Global, &resource).await?;
    let mut u = app.store.user(&id).await?.ok_or_else(|| ApiError::not_found(resource.clone()))?;
    let mut revoke = false;
    if let Some(a) = p.active {
        revoke |= !a;
        u.active = a;
    }
    if let Some(pw) = &p.password {
        check_strength(pw).map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", m))?;
        u.password_hash = password::hash(pw.clone()).await.map_err(ApiError::internal)?;
        revoke = true;
    }
    if let Some(d) = p.display_name {
        u.display_name = d;
    }
    if p.unlock {
        u.failed_logins = 0;
        u.locked_until = None;
    }
    let ev = app.audit_event(&caller.principal, caller.ip, "user.update", &resource);
    app.store.update_user(u.clone(), ev).await?;
    if revoke {
        let ev = app.audit_event(&caller.principal, caller.ip, "user.revoke_sessions", &resource);
        app.store.revoke_sessions(&u.id, None, Utc::now(), ev).await?;
        app.sessions.forget_principal(&u.id);
    }
    Ok(Json(UserView::from(u)))
}

/// Revokes every session of an account (administrators).
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "accounts",
    params(("id" = String, Path, description = "User id", example = "grid.worker")), responses((status = 204)))]
pub async fn revoke_sessions<S: Store>(
    State(app): State<App<S>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let resource = format!("user/{id}");
    app.authorize(&caller.principal, caller.ip, Operation::ManageAccounts, &Scope::Global, &resource).await?;
    app.store.user(&id).await?.ok_or_else(|| ApiError::not_found(resource.clone()))?;
    let ev = app.audit_event(&caller.principal, caller.ip, "user.revoke_sessions", &resource);
    app.store.revoke_sessions(&id, None, Utc::now(), ev).await?;
    app.sessions.forget_principal(&id);
    Ok(StatusCode::NO_CONTENT)
}
