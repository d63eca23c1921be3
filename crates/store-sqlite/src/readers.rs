//! A fixed pool of read-only connections used from blocking threads.
//! WAL mode lets them read while the writer writes. The pool is bounded by
//! a semaphore, so connections are opened once and reused, never churned.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use citygrid_store::StoreError;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::sql::backend;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub fn new(path: PathBuf, size: usize) -> Arc<Readers> {
        Arc::new(Readers { path, idle: Mutex::new(Vec::new()), permits: Semaphore::new(size.max(1)) })
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(backend)?;
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -16000; PRAGMA mmap_size = 268435456;")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs a short point read (one indexed row or a few) right here, on a
    /// connection owned by the calling thread. Handing a 20 µs read to the
    /// blocking pool costs more than the read; WAL readers never wait on the
    /// writer, so this cannot stall the thread.
    pub fn read_now<R>(&self, f: impl FnOnce(&Connection) -> Result<R, StoreError>) -> Result<R, StoreError> {
        thread_local! {
            static CONNS: std::cell::RefCell<Vec<(PathBuf, Connection)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        CONNS.with(|cell| {
            let mut conns = cell.borrow_mut();
            let i = match conns.iter().position(|(p, _)| *p == self.path) {
                Some(i) => i,
                None => {
                    conns.push((self.path.clone(), self.open()?));
                    conns.len() - 1
                }
            };
            f(&conns[i].1)
        })
    }

    /// Runs `f` on a pooled connection on a blocking thread.
    pub async fn read<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let pooled = me.idle.lock().ok().and_then(|mut v| v.pop());
            let conn = match pooled {
                Some(c) => c,
                None => me.open()?,
            };
            let r = f(&conn);
            if let Ok(mut v) = me.idle.lock() {
                v.push(conn);
            }
            r
        })
        .await
        .map_err(|e| {
            if e.is_cancelled() {
                // The runtime is shutting down: the caller may retry elsewhere.
                StoreError::Overloaded
            } else {
                StoreError::Backend(format!("reader task failed: {e}"))
            }
        })?
    }
}
