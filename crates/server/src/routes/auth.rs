//! Login, logout and "who am I".

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use citygrid_domain::access::Principal;
use citygrid_domain::audit::{AuditEvent, Outcome};
use citygrid_store::{LoginOutcome, SessionRecord, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::password;
use crate::auth::{
    CSRF_COOKIE, Caller, PublicClient, SESSION_COOKIE, SESSION_PREFIX, hash_secret, new_secret, too_many,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    username: String,
    /// Password.
    password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for API clients (`Authorization: Bearer …`); shown once.
    token: String,
    /// CSRF token to send as `X-CSRF-Token` on cookie-authenticated writes.
    csrf_token: String,
    /// When the session ends.
    expires_at: chrono::DateTime<Utc>,
    /// Who logged in.
    principal: Principal,
}

/// Caps consecutive-failure backoff at one hour.
const MAX_LOCK_SECS: i64 = 3600;

/// After `failures` consecutive failures: locked for 30 s once the limit is
/// reached, doubling with each further failure, at most an hour.
fn lock_until(failures: u32, lockout_after: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let over = failures.checked_sub(lockout_after)?;
    Some(now + Duration::seconds((30i64 << over.min(7)).min(MAX_LOCK_SECS)))
}

/// Logs in with a username and password.
///
/// Returns a bearer token and also sets an HttpOnly `SameSite=Strict`
/// session cookie plus a readable CSRF cookie for the console. After
/// `lockout_after` consecutive failures the account is locked with
/// exponential backoff (30 s, 60 s, … up to 1 h); attempts are also
/// rate-limited per client address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn login<S: Store>(
    State(app): State<App<S>>,
    PublicClient(ip): PublicClient,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    if let Some(ip) = ip
        && !app.login_limiter.allow(&app.store, ip).await?
    {
        return Err(too_many().retry_after(app.login_limiter.wait_secs()));
    }
    let now = Utc::now();
    let user = app.store.user_by_username(&req.username).await?;
    let failed = |actor: &str, resource: String, detail: &str| {
        let mut ev = AuditEvent::ok(now, actor, "anonymous", "auth.login", resource);
        ev.outcome = Outcome::Failed;
        ev.source_ip = ip.map(|i| i.to_string());
        ev.detail = Some(detail.to_owned());
        ev
    };
    let bad_credentials = || ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong username or password");
    let locked = |until: DateTime<Utc>| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "account_locked",
            format!("too many failed logins; try again after {}", until.to_rfc3339()),
        )
        .retry_after(u64::try_from((until - now).num_seconds()).unwrap_or(1))
    };
    let lockout_after = app.config.lockout_after;
    let Some(user) = user else {
        // Unknown names are locked out like real ones, and cost the same
        // Argon2 work, so neither answers nor timing reveal which names exist.
        let until = app.unknown_logins.lock().get(&req.username).and_then(|f| f.1).filter(|u| *u > now);
        if let Some(until) = until {
            app.store.append_audit(failed("anonymous", "user/?".into(), "account locked")).await?;
            return Err(locked(until));
        }
        password::burn_decoy(req.password).await.map_err(ApiError::internal)?;
        {
            let mut m = app.unknown_logins.lock();
            if m.len() >= 10_000 {
                m.clear();
            }
            let f = m.entry(req.username.clone()).or_default();
            f.0 += 1;
            f.1 = lock_until(f.0, lockout_after, now);
        }
        app.store.append_audit(failed("anonymous", "user/?".into(), "unknown username")).await?;
        return Err(bad_credentials());
    };
    let resource = format!("user/{}", user.id);
    if let Some(until) = user.locked_until.filter(|u| *u > now) {
        app.store.append_audit(failed(&user.id, resource, "account locked")).await?;
        return Err(locked(until));
    }
    let ok = password::verify(req.password, user.password_hash.clone()).await.map_err(ApiError::internal)?;
    if !ok || !user.active {
        let failures = user.failed_logins + u32::from(!ok);
        let locked_until = if ok { None } else { lock_until(failures, lockout_after, now) };
        let outcome = LoginOutcome { user_id: user.id.clone(), failed_logins: failures, locked_until, session: None };
        let why = if ok { "account disabled" } else { "wrong password" };
        app.store.record_login(outcome, failed(&user.id, resource, why)).await?;
        return Err(bad_credentials());
    }
    let token = new_secret(SESSION_PREFIX);
    let token_hash = hash_secret(&token);
    let expires_at = now + Duration::minutes(app.config.session_minutes);
    let session = SessionRecord {
        token_hash: token_hash.clone(),
        user_id: user.id.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    let principal = Principal { id: user.id.clone(), role: user.role, unit: user.unit, department: user.department };
    let ev = app.audit_event(&principal, ip, "auth.login", &resource);
    let outcome = LoginOutcome { user_id: user.id, failed_logins: 0, locked_until: None, session: Some(session) };
    app.store.record_login(outcome, ev).await?;
    let csrf_token = app.vault.csrf_token(&token_hash);
    let max_age = app.config.session_minutes * 60;
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    let mut headers = HeaderMap::new();
    let cookies = [
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"),
        format!("{CSRF_COOKIE}={csrf_token}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}"),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    let body = LoginResponse { token, csrf_token, expires_at, principal };
    Ok((headers, Json(body)).into_response())
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout<S: Store>(State(app): State<App<S>>, caller: Caller) -> ApiResult<Response> {
    if caller.via == crate::auth::Via::DeviceKey {
        return Err(ApiError::bad_request("not_a_session", "API keys are revoked by an administrator, not logged out"));
    }
    let ev = app.audit_event(&caller.principal, caller.ip, "auth.logout", &format!("user/{}", caller.principal.id));
    app.store.revoke_sessions(&caller.principal.id, Some(caller.token_hash.clone()), Utc::now(), ev).await?;
    app.sessions.forget(&caller.token_hash);
    let mut headers = HeaderMap::new();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) = HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0; SameSite=Strict")) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = Principal)))]
pub async fn me<S: Store>(State(_app): State<App<S>>, caller: Caller) -> Json<Principal> {
    Json(caller.principal)
}
