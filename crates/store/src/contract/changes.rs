//! Changes made by other processes sharing the store, so that each process
//! can drop or reload what it keeps in memory.

use tokio::sync::broadcast;

/// Something another process changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Territory units were written.
    Territory,
    /// Zones were written or deleted.
    Zones,
    /// Categories or departments were written.
    Catalog,
    /// A user or device changed (role, binding, disabled, sessions or key
    /// revoked): drop every credential of this id.
    Principal(String),
    /// Changes may have been missed (the feed reconnected): reload everything.
    Resync,
}

/// Notice of changes made by *other* processes; a backend used by one process
/// only never sends any.
pub trait ChangeFeed: Send + Sync {
    /// A receiver of every change from now on.
    fn changes(&self) -> broadcast::Receiver<Change>;
}
