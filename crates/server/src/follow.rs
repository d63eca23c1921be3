//! Keeps what this process holds in memory (reference data, validated
//! credentials) in step with changes other server processes make to the
//! same store. A process applies its own changes as it makes them; the
//! store's [`ChangeFeed`](citygrid_store::ChangeFeed) tells it of the others'.

use std::sync::Weak;

use citygrid_store::{Change, Store};
use tokio::sync::broadcast::error::RecvError;

use crate::app::{App, AppInner};

/// Follows the store's change feed until the app is dropped.
pub(crate) fn spawn<S: Store>(app: &App<S>) {
    let mut changes = app.store.changes();
    let weak: Weak<AppInner<S>> = app.downgrade();
    tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(c) => c,
                // Fell behind: some changes are lost, so reload everything.
                Err(RecvError::Lagged(_)) => Change::Resync,
                Err(RecvError::Closed) => return,
            };
            let Some(app) = App::upgrade(&weak) else { return };
            apply(&app, change).await;
        }
    });
}

async fn apply<S: Store>(app: &App<S>, change: Change) {
    let result = match &change {
        Change::Territory => app.reload_territory().await,
        Change::Zones => app.reload_zones().await,
        Change::Catalog => app.reload_catalog().await,
        Change::Principal(id) => {
            app.sessions.forget_principal(id);
            Ok(())
        }
        Change::Resync => {
            app.sessions.clear();
            let t = app.reload_territory().await;
            let z = app.reload_zones().await;
            let c = app.reload_catalog().await;
            t.and(z).and(c)
        }
    };
    match result {
        Ok(()) => tracing::info!(?change, "applied a change made by another server process"),
        // The old snapshot stays in use; the next change or resync tries again.
        Err(e) => tracing::warn!(?change, error = %e, "could not apply a change made by another process"),
    }
}
