//! The shared state every handler receives: the application layer's
//! [`Core`] (store, reference data, calendar, policy, keys; every use case)
//! plus what only HTTP needs (sessions, rate limits, attachment files,
//! settings). [`App`] derefs to [`AppInner`], which derefs to [`Core`], so
//! `app.store`, `app.world()` and `app.authorize(…)` read as before.

use std::sync::Arc;

use chrono::Utc;
use citygrid_app::feed::FeedHub;
use citygrid_app::jobs::JobRunner;
use citygrid_app::jobs::checkpoint::AuditCheckpoint;
use citygrid_app::jobs::feed_prune::FeedPrune;
use citygrid_app::{Actor, Core, CoreParts};
use citygrid_domain::calendar::WorkingCalendar;
use citygrid_domain::case::DeadlinePolicy;
use citygrid_store::Store;

use crate::auth::{Caller, RateLimiter, SessionCache};
use crate::config::ServerConfig;
use crate::vault::Vault;

pub use citygrid_app::{now, op_name};

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

/// The state behind [`App`]: the HTTP concerns, and the shared [`Core`].
pub struct AppInner<S> {
    /// The application layer: store, reference data, use cases.
    core: Arc<Core<S>>,
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
    /// Failed logins under names that do not exist.
    pub unknown_logins: parking_lot::Mutex<std::collections::HashMap<String, FailedLogins>>,
    /// The background jobs, once [`App::start_jobs`] started them; they stop
    /// with the app.
    jobs: parking_lot::Mutex<Option<JobRunner<S>>>,
    /// The live feed's hub, started by the first watcher.
    feed: tokio::sync::OnceCell<Arc<FeedHub>>,
}

impl<S> std::ops::Deref for AppInner<S> {
    type Target = Core<S>;
    fn deref(&self) -> &Core<S> {
        &self.core
    }
}

impl<S> AppInner<S> {
    /// The application layer, to share with listeners and schedulers that
    /// run beside the server (they then see the same reference data).
    pub fn core(&self) -> &Arc<Core<S>> {
        &self.core
    }
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
        let (core, rest) = Self::core_of(parts).await?;
        Ok(Self::with_core(Arc::new(core), rest))
    }

    /// Like [`App::load`], but every policy check passes: the baseline the
    /// benchmarks measure the checks against. Only in builds with the
    /// `unchecked-baseline` feature; the product never enables it.
    #[cfg(feature = "unchecked-baseline")]
    pub async fn load_unchecked(parts: AppParts<S>) -> Result<App<S>, String> {
        let (core, rest) = Self::core_of(parts).await?;
        Ok(Self::with_core(Arc::new(core.skip_policy_checks()), rest))
    }

    async fn core_of(parts: AppParts<S>) -> Result<(Core<S>, HttpParts), String> {
        let AppParts { store, calendar, policy, vault, config, metrics_token } = parts;
        let nearby_radius_m = config.nearby_radius_m;
        let core = Core::load(CoreParts { store, calendar, policy, vault, nearby_radius_m })
            .await
            .map_err(|e| e.to_string())?;
        Ok((core, HttpParts { config, metrics_token }))
    }

    /// The HTTP layer around an existing [`Core`] (one shared with other callers).
    fn with_core(core: Arc<Core<S>>, rest: HttpParts) -> App<S> {
        let HttpParts { config, metrics_token } = rest;
        let inner = AppInner {
            core,
            sessions: SessionCache::default(),
            login_limiter: RateLimiter::new("login", config.login_per_minute),
            public_limiter: RateLimiter::new("public", config.public_per_minute),
            metrics_token_hash: metrics_token.as_deref().map(crate::auth::hash_secret),
            unknown_logins: parking_lot::Mutex::new(std::collections::HashMap::new()),
            jobs: parking_lot::Mutex::new(None),
            feed: tokio::sync::OnceCell::new(),
            config,
        };
        let app = App { inner: Arc::new(inner) };
        crate::follow::spawn(&app);
        app
    }
}

impl<S: Store> App<S> {
    /// The live feed's hub, started on first use.
    pub async fn feed_hub(&self) -> Result<Arc<FeedHub>, citygrid_app::AppError> {
        let hub = self.feed.get_or_try_init(|| FeedHub::start(Arc::clone(self.core()))).await?;
        Ok(Arc::clone(hub))
    }

    /// Starts the background jobs ([`citygrid_app::jobs`]: the audit
    /// checkpoint every `audit_checkpoint_secs`), each run once across all
    /// processes sharing the store. `citygrid serve` and `demo` call this;
    /// in-process test servers do only if they want the jobs. Calling it
    /// again does nothing. The jobs stop when the app is dropped.
    pub fn start_jobs(&self) {
        let mut jobs = self.jobs.lock();
        if jobs.is_some() {
            return;
        }
        let mut runner = JobRunner::new(self.core());
        if self.config.audit_checkpoint_secs > 0 {
            runner.spawn(AuditCheckpoint::every(std::time::Duration::from_secs(self.config.audit_checkpoint_secs)));
        }
        runner.spawn(FeedPrune::default());
        *jobs = Some(runner);
    }
}

/// What the HTTP layer owns beside the [`Core`].
struct HttpParts {
    config: ServerConfig,
    metrics_token: Option<String>,
}

impl Caller {
    /// The actor a use case runs for: this caller's principal and address.
    pub fn actor(&self) -> Actor {
        Actor::new(self.principal.clone(), self.ip)
    }
}
