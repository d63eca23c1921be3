//! Authentication: who is calling. Sessions (bearer token or HttpOnly
//! cookie with a CSRF token for unsafe methods) for people, API keys for
//! devices. What the caller may do is decided by
//! [`citygrid_domain::access::authorize`] through [`crate::app::App::authorize`].

mod limiter;
pub mod password;
mod token;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use chrono::{DateTime, Utc};
use citygrid_domain::access::{Principal, Role};
use citygrid_store::Store;
use parking_lot::Mutex;

pub use limiter::RateLimiter;
pub use token::{DEVICE_PREFIX, SESSION_PREFIX, constant_time_eq, hash_secret, new_secret};

use crate::app::App;
use crate::error::ApiError;

/// The session cookie (HttpOnly).
pub const SESSION_COOKIE: &str = "citygrid_session";
/// The CSRF cookie (readable by the console's script).
pub const CSRF_COOKIE: &str = "citygrid_csrf";
/// The header carrying the CSRF token on unsafe cookie-authenticated requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The header a device may use for its API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// How long a validated credential is trusted before it is checked again.
/// Revocations in this process take effect at once; this bounds staleness
/// only across processes sharing one database.
const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 100_000;

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer cgs_…`.
    Bearer,
    /// The session cookie.
    Cookie,
    /// A device API key.
    DeviceKey,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// From where.
    pub ip: Option<IpAddr>,
    /// The session's token hash, for logout.
    pub token_hash: String,
    /// How.
    pub via: Via,
}

#[derive(Clone)]
struct Cached {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
    checked: Instant,
}

/// Recently validated credentials, by token hash.
#[derive(Default)]
pub struct SessionCache {
    map: Mutex<HashMap<String, Cached>>,
}

impl SessionCache {
    fn get(&self, hash: &str) -> Option<Cached> {
        let m = self.map.lock();
        let c = m.get(hash)?;
        let fresh = c.checked.elapsed() < CACHE_TTL && c.expires_at.is_none_or(|e| e > Utc::now());
        fresh.then(|| c.clone())
    }

    fn put(&self, hash: String, principal: Principal, expires_at: Option<DateTime<Utc>>) {
        let mut m = self.map.lock();
        if m.len() >= CACHE_MAX {
            m.clear();
        }
        m.insert(hash, Cached { principal, expires_at, checked: Instant::now() });
    }

    /// Forgets one credential.
    pub fn forget(&self, hash: &str) {
        self.map.lock().remove(hash);
    }

    /// Forgets every credential.
    pub fn clear(&self) {
        self.map.lock().clear();
    }

    /// Forgets every credential of one user or device.
    pub fn forget_principal(&self, id: &str) {
        self.map.lock().retain(|_, c| c.principal.id != id);
    }
}

/// The client's address, when the server was started with connect info.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// The value of a cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn credentials(headers: &HeaderMap) -> Result<(String, Via), ApiError> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
        let token = v
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthenticated("use Authorization: Bearer <token>"))?
            .trim();
        let via = if token.starts_with(DEVICE_PREFIX) { Via::DeviceKey } else { Via::Bearer };
        return Ok((token.to_owned(), via));
    }
    if let Some(v) = headers.get(API_KEY_HEADER) {
        let key = v.to_str().map_err(|_| ApiError::unauthenticated("malformed API key header"))?;
        return Ok((key.trim().to_owned(), Via::DeviceKey));
    }
    if let Some(v) = cookie(headers, SESSION_COOKIE) {
        return Ok((v.to_owned(), Via::Cookie));
    }
    Err(ApiError::unauthenticated("log in first: no session token, cookie or API key was sent"))
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl<S: Store> FromRequestParts<App<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App<S>) -> Result<Caller, ApiError> {
        let ip = client_ip(parts);
        let (secret, via) = credentials(&parts.headers)?;
        let hash = hash_secret(&secret);
        if via == Via::Cookie && unsafe_method(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !constant_time_eq(sent, &app.vault.csrf_token(&hash)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    format!("cookie-authenticated writes need the {CSRF_HEADER} header from login"),
                ));
            }
        }
        let principal = match app.sessions.get(&hash) {
            Some(c) => c.principal,
            None if via == Via::DeviceKey => {
                let dev = app
                    .store
                    .device_by_key_hash(&hash)
                    .await?
                    .filter(|d| d.revoked_at.is_none())
                    .ok_or_else(|| ApiError::unauthenticated("unknown or revoked API key"))?;
                let p = Principal { id: dev.id, role: Role::Device, unit: dev.unit, department: None };
                app.sessions.put(hash.clone(), p.clone(), None);
                p
            }
            None => {
                let s =
                    app.store.session(&hash).await?.ok_or_else(|| {
                        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "unknown session token")
                    })?;
                if s.revoked_at.is_some() {
                    return Err(ApiError::new(StatusCode::UNAUTHORIZED, "token_revoked", "the session was revoked"));
                }
                if s.expires_at <= Utc::now() {
                    return Err(ApiError::new(StatusCode::UNAUTHORIZED, "token_expired", "the session expired"));
                }
                let user = app.store.user(&s.user_id).await?.filter(|u| u.active).ok_or_else(|| {
                    ApiError::new(StatusCode::UNAUTHORIZED, "account_disabled", "the account is disabled")
                })?;
                let p = Principal { id: user.id, role: user.role, unit: user.unit, department: user.department };
                app.sessions.put(hash.clone(), p.clone(), Some(s.expires_at));
                p
            }
        };
        Ok(Caller { principal, ip, token_hash: hash, via })
    }
}

/// The client address of an unauthenticated request, rate-limited per client.
pub struct PublicClient(pub Option<IpAddr>);

impl<S: Store> FromRequestParts<App<S>> for PublicClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App<S>) -> Result<Self, ApiError> {
        let ip = client_ip(parts);
        if let Some(ip) = ip
            && !app.public_limiter.allow(&app.store, ip).await?
        {
            return Err(too_many());
        }
        Ok(PublicClient(ip))
    }
}

/// 429 `rate_limited`.
pub fn too_many() -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests from this client; slow down")
}
