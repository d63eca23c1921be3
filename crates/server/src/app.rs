//! The shared state every handler receives.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use citygrid_domain::access::{Denial, Operation, Principal, Scope, authorize};
use citygrid_domain::audit::{AuditEvent, Outcome};
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::DeadlinePolicy;
use citygrid_store::Store;
use parking_lot::RwLock;

use crate::auth::{RateLimiter, SessionCache};
use crate::config::ServerConfig;
use crate::error::{ApiError, ApiResult};
use crate::vault::Vault;
use crate::world::{Catalog, Territory, World, zones_from_stored};
use citygrid_geo::ZoneIndex;

/// Everything a handler needs; cheap to clone.
pub struct App<S> {
    inner: Arc<AppInner<S>>,
}

impl<S> Clone for App<S> {
    fn clone(&self) -> Self {
        App { inner: Arc::clone(&self.inner) }
    }
}

impl<S> App<S> {
    /// A handle that does not keep the app alive (for background tasks).
    pub(crate) fn downgrade(&self) -> std::sync::Weak<AppInner<S>> {
        Arc::downgrade(&self.inner)
    }

    /// The app behind a [`App::downgrade`] handle, while it lives.
    pub(crate) fn upgrade(weak: &std::sync::Weak<AppInner<S>>) -> Option<App<S>> {
        weak.upgrade().map(|inner| App { inner })
    }
}

impl<S> std::ops::Deref for App<S> {
    type Target = AppInner<S>;
    fn deref(&self) -> &AppInner<S> {
        &self.inner
    }
}

/// The state behind [`App`].
pub struct AppInner<S> {
    /// The store.
    pub store: S,
    /// Reference data, replaced whole on change.
    world: RwLock<World>,
    /// Working calendar for deadlines.
    pub calendar: WorkingCalendar,
    /// Verify/close limits.
    pub policy: DeadlinePolicy,
    /// Personal-data keys.
    pub vault: Vault,
    /// Settings.
    pub config: ServerConfig,
    /// Validated sessions and device keys.
    pub sessions: SessionCache,
    /// Login attempts per client.
    pub login_limiter: RateLimiter,
    /// Unauthenticated requests per client.
    pub public_limiter: RateLimiter,
    /// A static bearer token that may read `/metrics` (for scrapers), hashed.
    pub metrics_token_hash: Option<String>,
    /// Skip every policy check: see [`App::load_unchecked`]. The field, and
    /// the switch, exist only in builds with the `unchecked-baseline` feature,
    /// which only the benchmarks enable.
    #[cfg(feature = "unchecked-baseline")]
    unchecked_baseline: bool,
    /// Failed logins under names that do not exist.
    pub unknown_logins: parking_lot::Mutex<std::collections::HashMap<String, FailedLogins>>,
    /// Held while reference data (territory, zones) is checked, written and
    /// swapped, so changes run one at a time and none is lost.
    pub reference_lock: tokio::sync::Mutex<()>,
}

/// Consecutive failed logins and the lock they caused, if any.
pub type FailedLogins = (u32, Option<chrono::DateTime<Utc>>);

/// The parts an [`App`] is assembled from.
pub struct AppParts<S> {
    /// The store.
    pub store: S,
    /// Working calendar.
    pub calendar: WorkingCalendar,
    /// Verify/close limits.
    pub policy: DeadlinePolicy,
    /// Keys.
    pub vault: Vault,
    /// Settings.
    pub config: ServerConfig,
    /// A static bearer token for `/metrics`, if any.
    pub metrics_token: Option<String>,
}

impl<S: Store> App<S> {
    /// Loads reference data from the store and assembles the state.
    pub async fn load(parts: AppParts<S>) -> Result<App<S>, String> {
        let world = load_world(&parts.store).await?;
        let c = &parts.config;
        let inner = AppInner {
            world: RwLock::new(world),
            calendar: parts.calendar,
            policy: parts.policy,
            vault: parts.vault,
            sessions: SessionCache::default(),
            login_limiter: RateLimiter::new("login", c.login_per_minute),
            public_limiter: RateLimiter::new("public", c.public_per_minute),
            metrics_token_hash: parts.metrics_token.as_deref().map(crate::auth::hash_secret),
            #[cfg(feature = "unchecked-baseline")]
            unchecked_baseline: false,
            unknown_logins: parking_lot::Mutex::new(std::collections::HashMap::new()),
            reference_lock: tokio::sync::Mutex::new(()),
            config: parts.config,
            store: parts.store,
        };
        let app = App { inner: Arc::new(inner) };
        crate::follow::spawn(&app);
        Ok(app)
    }

    /// Like [`App::load`], but every policy check passes: the baseline the
    /// benchmarks measure the checks against. Only in builds with the
    /// `unchecked-baseline` feature; the product never enables it.
    #[cfg(feature = "unchecked-baseline")]
    pub async fn load_unchecked(parts: AppParts<S>) -> Result<App<S>, String> {
        let app = App::load(parts).await?;
        let mut inner = Arc::try_unwrap(app.inner).map_err(|_| "the app is already shared".to_owned())?;
        inner.unchecked_baseline = true;
        let app = App { inner: Arc::new(inner) };
        crate::follow::spawn(&app);
        Ok(app)
    }

    /// The reference data as of now.
    pub fn world(&self) -> World {
        self.world.read().clone()
    }

    /// Reloads the territory from the store.
    pub async fn reload_territory(&self) -> ApiResult<()> {
        let units = self.store.territory().await?;
        // Parsing every boundary and building the index is seconds of CPU.
        let t = tokio::task::spawn_blocking(|| Territory::from_stored(units))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        self.world.write().territory = Arc::new(t);
        Ok(())
    }

    /// Reloads categories and departments from the store.
    pub async fn reload_catalog(&self) -> ApiResult<()> {
        let cat = Catalog::new(self.store.categories().await?, self.store.departments().await?);
        self.world.write().catalog = Arc::new(cat);
        Ok(())
    }

    /// Reloads the zones from the store.
    pub async fn reload_zones(&self) -> ApiResult<()> {
        let zones = self.store.zones().await?;
        let index = tokio::task::spawn_blocking(|| zones_from_stored(zones))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        self.set_zones(index);
        Ok(())
    }

    /// Swaps in a new zone index (built from what was just stored).
    pub fn set_zones(&self, zones: ZoneIndex) {
        self.world.write().zones = Arc::new(zones);
    }

    /// Swaps in a new territory (built from what was just stored).
    pub fn set_territory(&self, territory: Territory) {
        self.world.write().territory = Arc::new(territory);
    }

    /// Applies the policy; a denial is audited and becomes 403, or 404 when
    /// the resource is outside the caller's scope (its existence is not revealed).
    pub async fn authorize(
        &self,
        who: &Principal,
        ip: Option<IpAddr>,
        op: Operation,
        scope: &Scope<'_>,
        resource: &str,
    ) -> ApiResult<()> {
        #[cfg(feature = "unchecked-baseline")]
        if self.unchecked_baseline {
            return Ok(());
        }
        match authorize(who, op, scope) {
            Ok(()) => Ok(()),
            Err(denial) => {
                let mut ev = self.audit_event(who, ip, &format!("denied.{}", op_name(op)), resource);
                ev.outcome = Outcome::Denied;
                self.store.append_audit(ev).await?;
                Err(match denial {
                    Denial::Forbidden => ApiError::forbidden(),
                    Denial::OutOfScope => ApiError::not_found(resource.to_owned()),
                })
            }
        }
    }

    /// An audit event by `who`, now.
    pub fn audit_event(&self, who: &Principal, ip: Option<IpAddr>, action: &str, resource: &str) -> AuditEvent {
        let mut ev = AuditEvent::ok(Utc::now(), &who.id, who.role.as_str(), action, resource);
        ev.source_ip = ip.map(|i| i.to_string());
        ev
    }
}

/// The current time at millisecond precision: what timelines record (and
/// what keeps their JSON short).
pub fn now() -> chrono::DateTime<Utc> {
    let t = Utc::now();
    chrono::DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

async fn load_world<S: Store>(store: &S) -> Result<World, String> {
    let units = store.territory().await.map_err(|e| e.to_string())?;
    let territory = Territory::from_stored(units)?;
    let catalog = Catalog::new(
        store.categories().await.map_err(|e| e.to_string())?,
        store.departments().await.map_err(|e| e.to_string())?,
    );
    let zones = zones_from_stored(store.zones().await.map_err(|e| e.to_string())?)?;
    Ok(World { territory: Arc::new(territory), catalog: Arc::new(catalog), zones: Arc::new(zones) })
}

/// A short name for an operation in audit records.
pub fn op_name(op: Operation) -> String {
    match op {
        Operation::ReadReference => "read_reference".into(),
        Operation::ManageReference => "manage_reference".into(),
        Operation::ManageAccounts => "manage_accounts".into(),
        Operation::CreateCase => "create_case".into(),
        Operation::ReadCase => "read_case".into(),
        Operation::UnmaskCase => "unmask_case".into(),
        Operation::ActOnCase(a) => format!("case_{a}"),
        Operation::UploadAttachment => "upload_attachment".into(),
        Operation::ReadAudit => "read_audit".into(),
        Operation::ReadMetrics => "read_metrics".into(),
        Operation::ReadOwnDevice => "read_own_device".into(),
    }
}
