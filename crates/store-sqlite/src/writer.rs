//! The single writer: one connection on one thread, group commit.
//!
//! SQLite allows one writer at a time, so rather than have every request
//! fight for the lock, requests queue here. The thread takes everything
//! waiting (up to a batch limit), runs each job in its own savepoint inside
//! one transaction, commits once, and only then answers every job. With
//! `synchronous = FULL` one fsync covers the whole batch: throughput grows
//! with concurrency while every acknowledged write is durable.
//!
//! The queue is bounded; a full queue is answered at once with
//! [`StoreError::Overloaded`] (back-pressure), never by dropping work.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

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
}

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

trait Job: Send {
    fn run(self: Box<Self>, ctx: &mut WriterCtx<'_>) -> Reply;
    fn fail(self: Box<Self>, e: StoreError);
}

struct TypedJob<F, R> {
    work: F,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<F, R> Job for TypedJob<F, R>
where
    F: FnOnce(&mut WriterCtx<'_>) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, ctx: &mut WriterCtx<'_>) -> Reply {
        let TypedJob { work, reply } = *self;
        let head_before = ctx.audit_head.clone();
        let result = match ctx.conn.execute_batch("SAVEPOINT job") {
            Ok(()) => {
                let r = work(ctx);
                let end = if r.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
                match ctx.conn.execute_batch(end) {
                    Ok(()) => r,
                    Err(e) => Err(backend(e)),
                }
            }
            Err(e) => Err(backend(e)),
        };
        if result.is_err() {
            *ctx.audit_head = head_before;
        }
        Box::new(move |commit: Result<(), StoreError>| {
            // The receiver may have gone (client hung up); the write stands.
            let _ = reply.send(commit.and(result));
        })
    }

    fn fail(self: Box<Self>, e: StoreError) {
        let _ = self.reply.send(Err(e));
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
        audit: bool,
        queue: usize,
        max_batch: usize,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = sync_channel::<Box<dyn Job>>(queue);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, head, audit, max_batch))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { tx })
    }

    /// Runs `work` in the next batch and waits until its batch is committed.
    pub async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut WriterCtx<'_>) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(TypedJob { work, reply });
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Overloaded,
            TrySendError::Disconnected(_) => StoreError::Backend("the writer has stopped".into()),
        })?;
        rx.await.map_err(|_| StoreError::Backend("the writer dropped the request".into()))?
    }
}

fn run(conn: Connection, rx: Receiver<Box<dyn Job>>, mut head: AuditHead, audit: bool, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for job in batch {
                job.fail(StoreError::Backend(msg.clone()));
            }
            continue;
        }
        let head_before = head.clone();
        let replies: Vec<Reply> = {
            let mut ctx = WriterCtx { conn: &conn, audit_head: &mut head, audit };
            batch.into_iter().map(|job| job.run(&mut ctx)).collect()
        };
        let commit = conn.execute_batch("COMMIT").map_err(backend);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            head = head_before;
        }
        for reply in replies {
            reply(match &commit {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            });
        }
    }
}
