//! The embedded store's read-only connections, each on a thread of its own.
//!
//! Why: on the writer's one connection, a long read (the assignment pass reads a site's whole
//! inbox every second; an agent's inbox page, a search, a visitor's history) held up every
//! message append queued behind it: the knee benchmark's p99 was 292–988 ms with the pass on,
//! 23–45 ms with it off. In WAL mode readers never block the writer nor it them, so these reads
//! go here and the writer only writes.
//!
//! What a read sees: each statement reads the last commit made before it began. Every writer
//! call answers only after its commit, so a read that follows a write (the `sync` after a
//! `welcome`, the inbox after an append) sees it; a read running beside a write sees the state
//! before or after it, whole.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Result, StoreError};

/// Reads that may run at once. Two lets an agent's page load beside the assignment pass; the
/// readers are idle threads otherwise.
pub const READERS: usize = 2;

type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The handle every clone of the broker holds; the threads end with the last one.
#[derive(Clone)]
pub struct Readers {
    jobs: mpsc::Sender<Job>,
}

impl Readers {
    /// Opens [`READERS`] read-only connections to the file the writer created (its schema
    /// must be in place: a read-only connection cannot create it).
    pub fn start(path: &Path) -> anyhow::Result<Readers> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..READERS {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.set_prepared_statement_cache_capacity(64);
            rusqlite::vtab::array::load_module(&conn)?;
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || loop {
                    // The lock is held only while taking a job, not while running it.
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panic drops the job's answer (its caller gets an error); the
                    // connection keeps serving.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn)));
                })?;
        }
        Ok(Readers { jobs })
    }

    /// Runs `f` on one of the read-only connections.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |c| {
                let _ = tx.send(f(c));
            }))
            .map_err(|_| StoreError::Backend("the store's readers have stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("the store call failed".into()))?
            .map_err(|e| StoreError::Backend(e.to_string()))
    }
}
