//! Reads from a streaming replica, routed so that a process never shows an
//! older state than one it has acknowledged (see the crate docs).
//!
//! Two WAL positions decide where a read that tolerates lag goes:
//!
//! - the **high-water mark**: the highest primary position this process
//!   knows to cover every write it acknowledged, recorded after each commit
//!   on the committing connection, and after every change notice from
//!   another process;
//! - the replica's **replay position** (`pg_last_wal_replay_lsn()`), cached
//!   and refreshed by a background task every [`REFRESH`], and queried on
//!   the very connection about to be used when the cache is behind.
//!
//! A read goes to the replica only if its replay position is at or past the
//! mark; otherwise, and whenever the replica cannot answer, to the primary.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use citygrid_store::StoreError;
use deadpool_postgres::{Hook, HookError, Object, Pool, PoolError};
use tokio_postgres::Client;

use crate::error::{self, Fail};

/// How often the replica's replay position is refreshed while it answers.
pub(crate) const REFRESH: Duration = Duration::from_millis(20);

/// How often a replica that does not answer is tried again.
const RETRY: Duration = Duration::from_millis(250);

/// At most one warning about the replica per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The primary's WAL position after a commit on this session, covering the
/// commit record: with `synchronous_commit` on (or `local`, `remote_*`) the
/// commit waited for its WAL to be written, so the write position covers
/// it; with `off` it may not be written yet, so the insert position is
/// taken, which always covers it.
const COMMITTED_LSN: &str = "SELECT (CASE WHEN current_setting('synchronous_commit') = 'off'
     THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_lsn() END)::text";

/// The primary's WAL position now, from any session: covers every
/// transaction that committed before the query began.
const PRIMARY_LSN: &str = "SELECT pg_current_wal_insert_lsn()::text";

/// The replica's replay position (NULL if it never replayed anything).
const REPLAYED_LSN: &str = "SELECT pg_last_wal_replay_lsn()::text";

/// A WAL position as PostgreSQL prints it (`16/B374D848`: two hex halves)
/// as one number.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let half = |s: &str| {
        (!s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
    };
    Some((u64::from(half(hi)?) << 32) | u64::from(half(lo)?))
}

/// The first column of `sql`'s row as a WAL position; NULL is 0.
async fn lsn(c: &Client, sql: &str) -> std::result::Result<u64, Fail> {
    let text: Option<String> = c.query_one(sql, &[]).await?.get(0);
    match text {
        None => Ok(0),
        Some(t) => {
            parse_lsn(&t).ok_or_else(|| Fail::Store(StoreError::Backend(format!("{t:?} is not a WAL position"))))
        }
    }
}

/// A poisoned lock's data is still good here: every update is one store.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The replica's last known replay position, and how many times the
/// replica pool opened a connection or lost the replica: a position learnt
/// under an older generation may be from a server that has restarted since
/// (a restarted standby may open for reads behind where it was), so it is
/// not stored.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    generation: u64,
    lsn: u64,
}

/// Checks each new replica connection: the same database system as the
/// primary (`system_identifier`), still a hot standby. A new connection may
/// be to a restarted server, so it also forgets the cached replay position.
pub(crate) fn check_each_connection(system: i64, replayed: Arc<Mutex<Replayed>>) -> Hook {
    Hook::async_fn(move |client, _| {
        let replayed = replayed.clone();
        Box::pin(async move {
            let row = client
                .query_one("SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system())", &[])
                .await
                .map_err(HookError::Backend)?;
            let (standby, id): (bool, i64) = (row.get(0), row.get(1));
            if id != system {
                return Err(HookError::Message(
                    format!(
                        "it is a different database system (system identifier {id}; the primary's is {system}), \
                         not a replica of the primary"
                    )
                    .into(),
                ));
            }
            if !standby {
                return Err(HookError::Message(
                    "it is not a hot standby (pg_is_in_recovery() is false): a primary or a promoted replica".into(),
                ));
            }
            let mut r = lock(&replayed);
            r.generation += 1;
            r.lsn = 0;
            Ok(())
        })
    })
}

/// Where reads that tolerate lag go, and what decides it.
pub(crate) struct Routing {
    primary: Pool,
    replica: Pool,
    /// The replica, for messages (never the password).
    target: String,
    /// The high-water mark: a primary position covering every write this
    /// process acknowledged.
    written: AtomicU64,
    /// Acknowledged writes (or change notices) whose position is still
    /// being learnt; while any is, lagging reads go to the primary.
    unknown: AtomicU64,
    replayed: Arc<Mutex<Replayed>>,
    /// Whether the replica answered last time; if not, reads go straight to
    /// the primary until the background task reaches it again.
    up: AtomicBool,
    last_warning: Mutex<Option<Instant>>,
}

impl Routing {
    /// The shared cache a replica pool's [`check_each_connection`] hook resets.
    pub(crate) fn new_cache() -> Arc<Mutex<Replayed>> {
        Arc::new(Mutex::new(Replayed::default()))
    }

    /// Routing between `primary` and `replica` (whose pool was built with
    /// [`check_each_connection`] on `replayed`). Checks the replica once:
    /// one that is not a standby of this primary is refused
    /// ([`StoreError::Invalid`]), as are bad credentials or a missing
    /// database; one that is merely unreachable is a warning, and reads go
    /// to the primary until it answers.
    pub(crate) async fn start(
        primary: Pool,
        replica: Pool,
        replayed: Arc<Mutex<Replayed>>,
        target: String,
    ) -> std::result::Result<(Arc<Routing>, tokio::task::AbortHandle), StoreError> {
        let routing = Arc::new(Routing {
            primary,
            replica,
            target,
            written: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            replayed,
            up: AtomicBool::new(false),
            last_warning: Mutex::new(None),
        });
        match routing.replica.get().await {
            Ok(conn) => {
                let generation = lock(&routing.replayed).generation;
                let at = lsn(&conn, REPLAYED_LSN).await.map_err(|f| {
                    let e = f.into_store();
                    StoreError::Backend(format!("replica at {}: cannot read its replay position: {e}", routing.target))
                })?;
                routing.note_replayed(generation, at);
                routing.up.store(true, Ordering::SeqCst);
            }
            Err(PoolError::PostCreateHook(HookError::Message(m))) => {
                return Err(StoreError::Invalid(format!(
                    "replica_url points at {}, which cannot serve as a read replica: {m}",
                    routing.target
                )));
            }
            Err(PoolError::PostCreateHook(HookError::Backend(e))) => {
                return Err(StoreError::Backend(format!(
                    "replica at {}: cannot check that it is a standby of the primary (pg_is_in_recovery(), \
                     pg_control_system()): {}",
                    routing.target,
                    error::explain(&e)
                )));
            }
            Err(e) => match error::pool(e) {
                StoreError::Unavailable(m) => {
                    routing.warn(&format!("replica at {} is unreachable: {m}", routing.target))
                }
                other => {
                    return Err(StoreError::Backend(format!(
                        "cannot connect to the replica at {}: {other}",
                        routing.target
                    )));
                }
            },
        }
        let refresher = tokio::spawn(refresh(Arc::downgrade(&routing))).abort_handle();
        Ok((routing, refresher))
    }

    /// A replica connection for a read that tolerates lag, if the replica
    /// is up and has replayed up to the high-water mark; `None` means: read
    /// from the primary.
    pub(crate) async fn replica_client(&self) -> Option<Object> {
        if !self.up.load(Ordering::SeqCst) || self.unknown.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let conn = match self.replica.get().await {
            Ok(c) => c,
            Err(e) => {
                self.lost(&error::pool(e).to_string());
                return None;
            }
        };
        // After the connection is in hand: if it is new, its hook has
        // already reset the cache.
        let mark = self.written.load(Ordering::SeqCst);
        let (generation, cached) = {
            let r = lock(&self.replayed);
            (r.generation, r.lsn)
        };
        if cached >= mark {
            return Some(conn);
        }
        match lsn(&conn, REPLAYED_LSN).await {
            Ok(at) => {
                self.note_replayed(generation, at);
                (at >= mark).then_some(conn)
            }
            Err(f) => {
                self.failed(f);
                None
            }
        }
    }

    /// A read on the replica failed: the primary answers it instead.
    pub(crate) fn failed(&self, f: Fail) {
        match f.into_store() {
            StoreError::Unavailable(m) => self.lost(&m),
            other => self.warn(&format!("a read failed on the replica at {}: {other}", self.target)),
        }
    }

    /// The replica is away: reads go to the primary until the background
    /// task reaches it again, and what was known of it is forgotten.
    fn lost(&self, why: &str) {
        self.up.store(false, Ordering::SeqCst);
        {
            let mut r = lock(&self.replayed);
            r.generation += 1;
            r.lsn = 0;
        }
        self.warn(&format!("replica at {} does not answer: {why}", self.target));
    }

    fn warn(&self, what: &str) {
        {
            let mut last = lock(&self.last_warning);
            if last.is_some_and(|t| t.elapsed() < WARN_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        tracing::warn!("{what}; reads that may lag go to the primary meanwhile (at most one such warning a minute)");
    }

    fn note_replayed(&self, generation: u64, at: u64) {
        let mut r = lock(&self.replayed);
        if r.generation == generation {
            r.lsn = r.lsn.max(at);
        }
    }

    /// Records the high-water mark after a commit on `c` (before the write
    /// is acknowledged). If the position cannot be read (the connection
    /// broke right after the commit), lagging reads go to the primary until
    /// a later primary position is learnt.
    pub(crate) async fn committed(self: &Arc<Self>, c: &Client) {
        match lsn(c, COMMITTED_LSN).await {
            Ok(at) => {
                self.written.fetch_max(at, Ordering::SeqCst);
            }
            Err(_) => self.catch_up_with_primary(|| {}),
        }
    }

    /// Raises the mark to the primary's current position, which covers
    /// everything committed before this call, in the background; until it
    /// is known, lagging reads go to the primary. Runs `then` once it is
    /// known (not at all if the store is dropped first).
    pub(crate) fn catch_up_with_primary(self: &Arc<Self>, then: impl FnOnce() + Send + 'static) {
        self.unknown.fetch_add(1, Ordering::SeqCst);
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(50);
            loop {
                let Some(r) = weak.upgrade() else { return };
                let at = match r.primary.get().await {
                    Ok(c) => lsn(&c, PRIMARY_LSN).await.ok(),
                    Err(_) => None,
                };
                if let Some(at) = at {
                    r.written.fetch_max(at, Ordering::SeqCst);
                    r.unknown.fetch_sub(1, Ordering::SeqCst);
                    drop(r);
                    then();
                    return;
                }
                drop(r);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        });
    }

    /// One refresh of the cached replay position; whether the replica answered.
    async fn refresh_once(&self) -> bool {
        let conn = match self.replica.get().await {
            Ok(c) => c,
            Err(e) => {
                self.lost(&error::pool(e).to_string());
                return false;
            }
        };
        let generation = lock(&self.replayed).generation;
        match lsn(&conn, REPLAYED_LSN).await {
            Ok(at) => {
                self.note_replayed(generation, at);
                if !self.up.swap(true, Ordering::SeqCst) {
                    tracing::info!(replica = %self.target, "replica answers again; reads that may lag go to it");
                }
                true
            }
            Err(f) => {
                self.lost(&f.into_store().to_string());
                false
            }
        }
    }

    /// Closes the replica pool.
    pub(crate) fn close(&self) {
        self.replica.close();
    }
}

/// Refreshes the cached replay position until the store is gone.
async fn refresh(routing: Weak<Routing>) {
    loop {
        let Some(r) = routing.upgrade() else { return };
        let pause = if r.refresh_once().await { REFRESH } else { RETRY };
        drop(r);
        tokio::time::sleep(pause).await;
    }
}

/// Runs a read that tolerates lag: on the replica if [`Routing`] allows it
/// and it succeeds there, else on the primary. `$body` (using `$c`, a
/// `&tokio_postgres::Client`) is a future of `Result<T, Fail>`; it may run
/// twice, so it must only read. Evaluates to `Result<T, StoreError>`.
macro_rules! lagging_read {
    ($store:expr, |$c:ident| $body:expr) => {{
        let mut served = None;
        if let Some(conn) = $store.replica_client().await {
            let $c: &::tokio_postgres::Client = &conn;
            match $body.await {
                Ok(v) => served = Some(v),
                Err(f) => $store.replica_failed(f),
            }
        }
        match served {
            Some(v) => {
                ::metrics::counter!($crate::replica::READS, "target" => "replica").increment(1);
                Ok(v)
            }
            None => {
                ::metrics::counter!($crate::replica::READS, "target" => "primary").increment(1);
                let conn = $store.client().await?;
                let $c: &::tokio_postgres::Client = &conn;
                $crate::done($body.await)
            }
        }
    }};
}
pub(crate) use lagging_read;

/// The counter of reads that tolerate lag, by where they were served
/// (`target` = `replica` or `primary`).
pub(crate) const READS: &str = "citygrid_store_reads_total";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_parse_as_two_hex_halves() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("0/16B3748"), Some(0x016B_3748));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
        assert!(parse_lsn("1/2") < parse_lsn("2/1"));
        for bad in ["", "0", "/0", "0/", "x/1", "1/1/1", "+1/0", "100000000/0", " 1/0"] {
            assert_eq!(parse_lsn(bad), None, "{bad:?}");
        }
    }
}
