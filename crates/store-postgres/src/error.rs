//! How driver and pool failures become [`StoreError`]s, and the retry loop
//! every write transaction runs in.

use citygrid_store::StoreError;
use tokio_postgres::error::SqlState;

/// How many times a transaction that lost a serialization race or a
/// deadlock is run again before the caller gets [`StoreError::Conflict`].
pub(crate) const RETRIES: u32 = 4;

/// A failure inside a transaction: a driver error (which may be worth a
/// retry) or a decision of the store's own.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The driver failed.
    Pg(tokio_postgres::Error),
    /// The store refused (not found, conflict, invalid…).
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl Fail {
    /// Whether running the same transaction again may succeed.
    pub(crate) fn retryable(&self) -> bool {
        matches!(self, Fail::Pg(e) if e.code().is_some_and(is_retryable))
    }

    /// The store's error, once retrying is over.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Fail::Pg(e) => pg(e),
            Fail::Store(e) => e,
        }
    }
}

fn is_retryable(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
}

/// Whether the server is going away or cannot be reached (class 08,
/// 57P01..57P03).
fn is_unavailable_code(code: &SqlState) -> bool {
    code.code().starts_with("08")
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
}

/// A driver error's whole story: the server's message and SQLSTATE, or the
/// chain of causes (`error connecting to server: Connection refused`).
pub(crate) fn explain(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            text.push_str(&format!(": {d}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        text.push_str(&format!(": {s}"));
        cur = s.source();
    }
    text
}

/// Maps a driver error to the store's error.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    let text = explain(&e);
    if let Some(code) = e.code() {
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(text);
        }
        if is_retryable(code) {
            return StoreError::Conflict(format!("{text}; concurrent writers kept colliding, retry"));
        }
        if is_unavailable_code(code) {
            return StoreError::Unavailable(text);
        }
        return StoreError::Backend(text);
    }
    if e.is_closed() || has_io_source(&e) {
        return StoreError::Unavailable(text);
    }
    if text.contains("error connecting") || text.contains("timeout") || text.contains("closed") {
        return StoreError::Unavailable(text);
    }
    StoreError::Backend(text)
}

fn has_io_source(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = e.source();
    while let Some(s) = cur {
        if s.is::<std::io::Error>() {
            return true;
        }
        cur = s.source();
    }
    false
}

/// Maps a pool failure (no connection in time, cannot connect) to the store's error.
pub(crate) fn pool(e: deadpool_postgres::PoolError) -> StoreError {
    use deadpool_postgres::PoolError;
    match e {
        // A connection that cannot be opened is the database being away
        // (down, starting, full, refusing connections), except when the
        // configuration is wrong: bad credentials (class 28) or no such
        // database (3D000), which waiting will not cure.
        PoolError::Backend(e) => {
            let misconfigured =
                e.code().is_some_and(|c| c.code().starts_with("28") || *c == SqlState::INVALID_CATALOG_NAME);
            match pg(e) {
                StoreError::Backend(m) if !misconfigured => StoreError::Unavailable(m),
                other => other,
            }
        }
        PoolError::Timeout(t) => StoreError::Unavailable(format!("no database connection in time ({t:?})")),
        PoolError::Closed => StoreError::Unavailable("the connection pool is closed".into()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// A stored JSON body that does not decode.
pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("stored JSON is unreadable: {e}"))
}

/// A value that does not encode as JSON.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("cannot encode: {e}")))
}

/// Runs `$body` in a transaction on a pooled connection (bound to `$tx`),
/// commits, and runs it all again when PostgreSQL reports a serialization
/// failure or a deadlock; evaluates to `Result<T, StoreError>`. After the
/// commit, on the same connection, it records the primary's WAL position
/// for routing reads (see `replica`), unless the form
/// `write_tx!(store, unrecorded |tx| …)` says the write is to tables no
/// read from a replica ever looks at.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        $crate::error::write_tx!(@run $store, true, |$tx| $body)
    };
    ($store:expr, unrecorded |$tx:ident| $body:block) => {
        $crate::error::write_tx!(@run $store, false, |$tx| $body)
    };
    (@run $store:expr, $record:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            let mut client = $store.client().await?;
            let outcome = async {
                let $tx = client.transaction().await?;
                let value = $body;
                $tx.commit().await?;
                Ok::<_, $crate::error::Fail>(value)
            }
            .await;
            match outcome {
                Ok(v) => {
                    if $record {
                        $store.committed(&client).await;
                    }
                    break Ok(v);
                }
                Err(f) if f.retryable() && attempt < $crate::error::RETRIES => {
                    attempt += 1;
                    drop(client);
                    ::tokio::time::sleep(::std::time::Duration::from_millis(5 << attempt)).await;
                }
                Err(f) => break Err(f.into_store()),
            }
        }
    }};
}
pub(crate) use write_tx;
