//! The single writer: one connection on one thread, group commit.
//!
//! SQLite allows one writer at a time, so rather than have every request
//! fight for the lock, requests queue here. The thread takes everything
//! waiting (up to a batch limit), runs the jobs in one transaction, commits
//! once, and only then answers every job. With `synchronous = FULL` one
//! fsync covers the whole batch: throughput grows with concurrency while
//! every acknowledged write is durable.
//!
//! Jobs are re-runnable (`FnMut`, idempotent). When one fails, the batch is
//! rolled back and each job runs again in its own transaction, so a failing
//! job never takes others down with it and never leaves half its writes
//! behind. This costs less than a savepoint per job, which would copy every
//! page a job touches into SQLite's statement journal.
//!
//! The queue is bounded; a full queue is answered at once with
//! [`StoreError::Overloaded`] (back-pressure), never by dropping work.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use citygrid_domain::case::CaseId;
use citygrid_store::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::sql::backend;

/// The newest audit record's `(seq, hash)`, kept by the writer so that
/// chaining needs no read per record.
pub(crate) type AuditHead = (u64, String);

/// What a job gets to work with.
pub(crate) struct WriterCtx<'c> {
    /// The writer's connection, inside the batch transaction.
    pub conn: &'c Connection,
    /// The audit chain's head.
    pub audit_head: &'c mut AuditHead,
    /// Whether audit records are written (off only for a benchmark baseline).
    pub audit: bool,
    /// The id the next new case gets.
    pub next_case_id: &'c mut CaseId,
}

trait Job: Send {
    /// Runs the work; `false` if it failed (its result is kept for the reply).
    fn run(&mut self, ctx: &mut WriterCtx<'_>) -> bool;
    /// Answers the caller: the work's result if the commit succeeded.
    fn reply(self: Box<Self>, commit: Result<(), StoreError>);
}

struct TypedJob<F, R> {
    work: F,
    result: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> Job for TypedJob<F, R>
where
    F: FnMut(&mut WriterCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    fn run(&mut self, ctx: &mut WriterCtx<'_>) -> bool {
        let r = (self.work)(ctx);
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn reply(self: Box<Self>, commit: Result<(), StoreError>) {
        let result = match (commit, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(StoreError::Backend("the job never ran".into())),
        };
        // The receiver may have gone (client hung up); the write stands.
        let _ = self.reply.send(result);
    }
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    tx: SyncSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the thread on `conn`.
    pub fn start(
        conn: Connection,
        head: AuditHead,
        next_case_id: CaseId,
        audit: bool,
        queue: usize,
        max_batch: usize,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = sync_channel::<Box<dyn Job>>(queue);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || Batcher { conn, head, next_case_id, audit }.run(rx, max_batch))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { tx })
    }

    /// Runs `work` in the next batch and waits until its batch is committed.
    /// `work` may run more than once and must give the same writes each time.
    pub async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        F: FnMut(&mut WriterCtx<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(TypedJob { work, result: None, reply });
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Overloaded,
            TrySendError::Disconnected(_) => StoreError::Backend("the writer has stopped".into()),
        })?;
        rx.await.map_err(|_| StoreError::Backend("the writer dropped the request".into()))?
    }
}

struct Batcher {
    conn: Connection,
    head: AuditHead,
    next_case_id: CaseId,
    audit: bool,
}

impl Batcher {
    fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.prepare_cached(sql).and_then(|mut st| st.execute([])).map(|_| ()).map_err(backend)
    }

    /// Runs `jobs` in one transaction; on failure everything is rolled back.
    fn transaction(&mut self, jobs: &mut [Box<dyn Job>]) -> Result<(), (Option<usize>, StoreError)> {
        let (head_before, id_before) = (self.head.clone(), self.next_case_id);
        self.exec("BEGIN IMMEDIATE").map_err(|e| (None, e))?;
        let mut ctx = WriterCtx {
            conn: &self.conn,
            audit_head: &mut self.head,
            audit: self.audit,
            next_case_id: &mut self.next_case_id,
        };
        let failed = jobs.iter_mut().position(|j| !j.run(&mut ctx));
        let outcome = match failed {
            Some(i) => Err((Some(i), StoreError::Backend("a job failed".into()))),
            None => self.exec("COMMIT").map_err(|e| (None, e)),
        };
        if outcome.is_err() {
            let _ = self.exec("ROLLBACK");
            self.head = head_before;
            self.next_case_id = id_before;
        }
        outcome
    }

    fn run(mut self, rx: Receiver<Box<dyn Job>>, max_batch: usize) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let started = std::time::Instant::now();
            let outcome = self.transaction(&mut batch);
            metrics::histogram!("citygrid_store_batch_size").record(batch.len() as f64);
            metrics::histogram!("citygrid_store_batch_seconds").record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(()) => batch.into_iter().for_each(|j| j.reply(Ok(()))),
                Err((Some(_), _)) if batch.len() > 1 => {
                    // Isolate the failure: each job alone, in order.
                    for mut job in batch {
                        let outcome = self.transaction(std::slice::from_mut(&mut job));
                        job.reply(match outcome {
                            // The job's own error is in its result.
                            Ok(()) | Err((Some(_), _)) => Ok(()),
                            Err((None, e)) => Err(e),
                        });
                    }
                }
                Err((Some(_), _)) => batch.into_iter().for_each(|j| j.reply(Ok(()))),
                Err((None, e)) => {
                    let msg = e.to_string();
                    batch.into_iter().for_each(|j| j.reply(Err(StoreError::Backend(msg.clone()))));
                }
            }
        }
    }
}
