//! The embedded store's one connection, on a thread of its own, with group commit.
//!
//! Every store call is a job sent to this thread. Most run as they come, each in its own
//! transaction (or none). A message append is a *batched* job: every append waiting when the
//! thread gets to them — up to [`MAX_BATCH`] — runs inside one transaction, each in a savepoint
//! of its own (a failing append rolls back only itself), and the transaction commits once, one
//! WAL commit for the lot; only then does each caller get its answer. Nobody waits for a batch
//! to fill: the thread takes what is queued and commits, so at a low rate every batch is one
//! append and the latency is a single commit's, and under load the appends that queued behind
//! one commit share the next.
//!
//! Why a thread and not `spawn_blocking` behind an async lock (the earlier design): a commit per
//! message on one connection was the ceiling of the embedded relay (~200 µs of CPU and a
//! blocking-thread hop per message; it fell behind at about 4,700 messages/s), and batching needs
//! one place that sees every waiting append.
//!
//! Ordering and idempotency are the callers' as before: a conversation's appends are serialized
//! by the hub's ordering lock (so one batch holds at most one append per conversation stripe),
//! and the duplicate check of a `(sender, client_id)` runs inside the batch's transaction, so it
//! sees every append committed or earlier in the same batch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use rusqlite::Connection;

use super::{Result, StoreError};

/// Most appends in one transaction: bounds how long the first of them waits for the commit.
pub const MAX_BATCH: usize = 256;

/// What a batched job leaves to be done once its transaction is over: `Ok` after the commit,
/// `Err` (the reason) when the commit failed, so nothing of it is stored.
type Done = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// A job run inside the batch's transaction: whether to keep its savepoint, and its answer.
type InBatch = Box<dyn FnOnce(&Connection) -> (bool, Done) + Send>;

enum Job {
    /// Runs alone, with the connection to itself.
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Runs inside the current batch's transaction; `false` rolls back its savepoint.
    Batched(InBatch),
}

/// The handle every clone of the broker holds; the thread ends with the last one.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(conn: Connection) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queue))?;
        Ok(Writer { jobs })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Backend("the store's writer has stopped".into()))
    }

    /// Runs `f` on the connection, alone.
    pub async fn alone<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Alone(Box::new(move |c| {
            let _ = tx.send(f(c));
        })))?;
        answer(rx.await)
    }

    /// Runs `f` inside a transaction shared with the other batched jobs waiting beside it, and
    /// answers only after that transaction committed. `f` must not begin or end transactions.
    pub async fn batched<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Batched(Box::new(move |c| {
            let out = f(c);
            let ok = out.is_ok();
            let done: Done = Box::new(move |committed| {
                let _ = tx.send(committed.map_err(rusqlite_error).and(out));
            });
            (ok, done)
        })))?;
        answer(rx.await)
    }
}

fn rusqlite_error(reason: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(reason.into())
}

fn answer<T>(
    got: std::result::Result<rusqlite::Result<T>, tokio::sync::oneshot::error::RecvError>,
) -> Result<T> {
    got.map_err(|_| StoreError::Backend("the store call failed".into()))?
        .map_err(|e| StoreError::Backend(e.to_string()))
}

fn run(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Batched(f) => batch.push(f),
                Job::Alone(f) => {
                    // What queued before it goes first.
                    commit(&mut conn, &mut batch);
                    // A panic drops the job's answer (its caller gets an error); the
                    // transaction it had open, if any, is rolled back below.
                    let _ = catch_unwind(AssertUnwindSafe(|| f(&mut conn)));
                    rollback_if_open(&conn);
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        commit(&mut conn, &mut batch);
    }
}

/// Runs the batched jobs in one transaction and answers each after its commit.
fn commit(conn: &mut Connection, batch: &mut Vec<InBatch>) {
    if batch.is_empty() {
        return;
    }
    let mut dones = Vec::with_capacity(batch.len());
    let outcome = (|| -> rusqlite::Result<()> {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for f in batch.drain(..) {
            let mut sp = tx.savepoint()?;
            // A panicking job loses its own answer and its savepoint (rolled back on drop).
            if let Ok((ok, done)) = catch_unwind(AssertUnwindSafe(|| f(&sp))) {
                if !ok {
                    sp.rollback()?;
                }
                sp.commit()?;
                dones.push(done);
            }
        }
        tx.commit()
    })();
    // Jobs never reached (the transaction failed first) are dropped, and so are their answers.
    batch.clear();
    let committed = outcome.map_err(|e| e.to_string());
    for done in dones {
        done(committed.clone());
    }
    rollback_if_open(conn);
}

fn rollback_if_open(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}
