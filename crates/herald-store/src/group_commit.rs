//! Group commit: concurrent event writes share one transaction.
//!
//! Each call queues its events on a bounded channel (a full queue makes callers wait: memory
//! stays bounded) and waits for its answer. One writer task per store takes whatever is queued,
//! up to [`MAX_BATCH`] events, writes it in one transaction and answers every caller once it
//! has committed. Nothing waits for a batch to fill: under load the next batch queues while one
//! commits, so batches grow by themselves, and a durable commit (an fsync) is paid once per
//! batch rather than once per event.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::dialect::Backend;
use crate::error::StoreError;
use crate::event_rows::{self, EventRow};
use crate::events::EventRecorded;

/// Calls that may wait in the queue before callers are held back.
const QUEUE: usize = 4096;
/// The most events one transaction takes (a call's events are never split, so one call may go
/// over it).
const MAX_BATCH: usize = 1024;
/// What a failed write names in its error.
const OP: &str = "recording an event";

/// What the writer is sent.
#[derive(Debug)]
enum Msg {
    /// Write these events.
    Write(Job),
    /// Take nothing more; write what is queued, then stop.
    Close,
}

/// What one caller asked for, and where its answer goes.
#[derive(Debug)]
pub(crate) struct Job {
    rows: Vec<EventRow>,
    reply: oneshot::Sender<Result<Vec<EventRecorded>, StoreError>>,
}

/// The writer of one store: its queue and its task, started on first use.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    pool: AnyPool,
    backend: Backend,
    state: Mutex<State>,
}

#[derive(Debug)]
enum State {
    /// No writer yet.
    Idle,
    /// A writer is draining `queue`.
    Running {
        queue: mpsc::Sender<Msg>,
        writer: JoinHandle<()>,
    },
    /// [`GroupCommit::close`] was called: nothing more is taken.
    Closed,
}

impl GroupCommit {
    pub(crate) fn new(pool: AnyPool, backend: Backend) -> Self {
        Self {
            pool,
            backend,
            state: Mutex::new(State::Idle),
        }
    }

    /// Writes `rows` in one transaction (with whatever else is queued) and answers once it has
    /// committed: all of them recorded, or none and the error.
    pub(crate) async fn record(
        &self,
        rows: Vec<EventRow>,
    ) -> Result<Vec<EventRecorded>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue()?;
        if queue.send(Msg::Write(Job { rows, reply })).await.is_err() {
            // The writer no longer takes anything: the store was closed meanwhile, or the
            // runtime that ran the writer shut down.
            return Err(match *self.lock() {
                State::Closed => StoreError::Closed,
                _ => StoreError::WriterStopped,
            });
        }
        drop(queue);
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Stops taking events, then waits until every queued one is committed and answered.
    pub(crate) async fn close(&self) {
        let previous = std::mem::replace(&mut *self.lock(), State::Closed);
        if let State::Running { queue, writer } = previous {
            // Queued behind every event already sent; an error means the writer is gone.
            let _ = queue.send(Msg::Close).await;
            drop(queue);
            if let Err(e) = writer.await {
                if e.is_panic() {
                    tracing::error!("the store's event writer panicked");
                }
            }
        }
    }

    /// The queue, starting a writer on first use, and again when the runtime that ran the
    /// last one has shut down (a store opened in one runtime and used in another).
    fn queue(&self) -> Result<mpsc::Sender<Msg>, StoreError> {
        let mut state = self.lock();
        match &*state {
            State::Closed => return Err(StoreError::Closed),
            State::Running { queue, .. } if !queue.is_closed() => return Ok(queue.clone()),
            State::Running { .. } | State::Idle => {}
        }
        let (queue, jobs) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_queued(self.pool.clone(), self.backend, jobs));
        *state = State::Running {
            queue: queue.clone(),
            writer,
        };
        Ok(queue)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer: takes what is queued, commits it, answers, repeats; after [`Msg::Close`], only
/// until the queue is empty.
async fn write_queued(pool: AnyPool, backend: Backend, mut queue: mpsc::Receiver<Msg>) {
    while let Some(first) = queue.recv().await {
        let mut batch = Vec::new();
        let mut size = 0;
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Write(job) => {
                    size += job.rows.len();
                    batch.push(job);
                }
                // Later sends fail; what is already queued is still received.
                Msg::Close => queue.close(),
            }
            next = if size < MAX_BATCH {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            commit(&pool, backend, batch).await;
        }
    }
}

/// Writes `batch` in one transaction and answers each caller. When the database refuses a
/// statement, each call is written again in its own transaction, so one bad event fails only
/// its caller; any other error (the connection, the pool) fails every caller.
async fn commit(pool: &AnyPool, backend: Backend, batch: Vec<Job>) {
    let events: usize = batch.iter().map(|j| j.rows.len()).sum();
    let rows: Vec<&EventRow> = batch.iter().flat_map(|j| &j.rows).collect();
    match write(pool, backend, &rows).await {
        Ok(recorded) => {
            tracing::trace!(events, calls = batch.len(), "event batch committed");
            let mut recorded = recorded.into_iter();
            for job in batch {
                let answer = recorded.by_ref().take(job.rows.len()).collect();
                let _ = job.reply.send(Ok(answer));
            }
        }
        Err(e) if batch.len() > 1 && refused_statement(&e) => {
            tracing::debug!(events, error = %e, "event batch refused; writing each call alone");
            for job in batch {
                let rows: Vec<&EventRow> = job.rows.iter().collect();
                let answer = write(pool, backend, &rows).await;
                let _ = job.reply.send(answer);
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(job) = batch.into_iter().next() {
                let _ = job.reply.send(Err(e));
            }
        }
        Err(e) => {
            let source = Arc::new(e);
            for job in batch {
                let _ = job.reply.send(Err(StoreError::BatchFailed {
                    events,
                    source: Arc::clone(&source),
                }));
            }
        }
    }
}

/// Writes `rows` in one transaction, in order.
async fn write(
    pool: &AnyPool,
    backend: Backend,
    rows: &[&EventRow],
) -> Result<Vec<EventRecorded>, StoreError> {
    // SQLite: take the write lock first, waiting for other writers (runs) as long as the busy
    // timeout allows. A deferred transaction that reads (the delivery id lookup) and then
    // writes is refused at once ("database is locked") when another writer holds the lock.
    let tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    };
    let mut tx = tx.map_err(StoreError::query(OP))?;
    let recorded = event_rows::record_all(&mut tx, backend, rows, OP).await?;
    tx.commit().await.map_err(StoreError::query(OP))?;
    Ok(recorded)
}

/// Whether the database refused a statement (a constraint, a trigger, a value it cannot
/// store), which may be one event's fault, rather than the connection failing.
fn refused_statement(error: &StoreError) -> bool {
    match error {
        StoreError::Query { source, .. } => matches!(source, sqlx::Error::Database(_)),
        StoreError::Corrupt { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
