//! The change feed: `pg_notify` inside writing transactions, and a
//! background task that LISTENs on a dedicated connection.

use std::sync::Arc;
use std::time::Duration;

use citygrid_store::Change;
use tokio::sync::{broadcast, oneshot};
use tokio_postgres::{AsyncMessage, Config, NoTls};

use crate::replica::Routing;

/// The notification channel every CityGrid process listens on.
pub(crate) const CHANNEL: &str = "citygrid_changes";

/// The payload for `change`, sent by instance `from`: `from:kind[:id]`.
pub(crate) fn payload(from: &str, change: &Change) -> String {
    match change {
        Change::Territory => format!("{from}:territory"),
        Change::Zones => format!("{from}:zones"),
        Change::Catalog => format!("{from}:catalog"),
        Change::Principal(id) => format!("{from}:principal:{id}"),
        Change::Resync => format!("{from}:resync"),
    }
}

/// The change in a payload, unless it came from `me` or is unreadable.
pub(crate) fn parse(me: &str, payload: &str) -> Option<Change> {
    let mut parts = payload.splitn(3, ':');
    let (from, kind) = (parts.next()?, parts.next()?);
    if from == me {
        return None;
    }
    match (kind, parts.next()) {
        ("territory", None) => Some(Change::Territory),
        ("zones", None) => Some(Change::Zones),
        ("catalog", None) => Some(Change::Catalog),
        ("principal", Some(id)) => Some(Change::Principal(id.to_owned())),
        ("resync", None) => Some(Change::Resync),
        _ => None,
    }
}

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Listens forever, reconnecting with backoff; after every reconnection
/// that follows a lost connection it sends [`Change::Resync`], since
/// notifications may have been missed meanwhile. `ready` fires once the
/// first LISTEN is in place. The task ends when it is aborted (the store
/// is dropped).
///
/// With a replica (`routing`), a change goes out only once the high-water
/// mark covers it (the primary's position when the notice arrived, which
/// is after the change committed), so whoever reloads on hearing it does
/// not read the state before it from a replica that is behind.
pub(crate) async fn run(
    config: Config,
    me: String,
    tx: broadcast::Sender<Change>,
    ready: oneshot::Sender<()>,
    routing: Option<Arc<Routing>>,
) {
    let mut ready = Some(ready);
    let mut listened_before = false;
    let mut backoff = Duration::from_millis(200);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (lost_tx, lost_rx) = oneshot::channel::<()>();
                let forward = tx.clone();
                let me2 = me.clone();
                let routing2 = routing.clone();
                // Drives the connection: notifications arrive as its messages.
                let poller = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                if let Some(change) = parse(&me2, n.payload()) {
                                    announce(&forward, change, routing2.as_ref());
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "change feed connection failed");
                                break;
                            }
                            None => break,
                        }
                    }
                    let _ = lost_tx.send(());
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        backoff = Duration::from_millis(200);
                        if listened_before {
                            tracing::info!("change feed reconnected; asking for a resync");
                            announce(&tx, Change::Resync, routing.as_ref());
                        }
                        listened_before = true;
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                        // Keeps `client` alive until the connection is lost.
                        let _ = lost_rx.await;
                        tracing::warn!("change feed connection lost; reconnecting");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed LISTEN failed");
                        poller.abort();
                    }
                }
                drop(client);
            }
            Err(e) => tracing::warn!(error = %e, "change feed cannot connect; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sends `change` to this process's subscribers; with a replica, once the
/// high-water mark covers it.
fn announce(tx: &broadcast::Sender<Change>, change: Change, routing: Option<&Arc<Routing>>) {
    match routing {
        // No receivers is fine: nobody is interested yet.
        None => {
            let _ = tx.send(change);
        }
        Some(r) => {
            let tx = tx.clone();
            r.catch_up_with_primary(move || {
                let _ = tx.send(change);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_own_ones_are_ignored() {
        for c in [Change::Territory, Change::Zones, Change::Catalog, Change::Principal("u:1".into()), Change::Resync] {
            assert_eq!(parse("me", &payload("other", &c)), Some(c.clone()));
            assert_eq!(parse("me", &payload("me", &c)), None);
        }
        assert_eq!(parse("me", "garbage"), None);
    }
}
