//! Group commit: concurrent event writes share one transaction.
//!
//! Each call queues its events on a bounded channel (a full queue makes callers wait: memory
//! stays bounded) and waits for its answer. One writer per store takes whatever is queued, up
//! to [`MAX_BATCH`] events, writes it in one transaction and answers every caller once it has
//! committed. Nothing waits for a batch to fill: under load the next batch queues while one
//! commits, so batches grow by themselves, and a durable commit (an fsync) is paid once per
//! batch rather than once per event.
//!
//! PostgreSQL's writer is a task on the caller's runtime. SQLite's is a thread of its own with
//! its own connection (see `sqlite_writer`): a batch is then written without handing each
//! statement to a driver thread and back, and without waiting behind the runtime's other tasks.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::WriteGate;
use crate::error::StoreError;
use crate::event_rows::EventRow;
use crate::events::EventRecorded;
use crate::postgres_batch;
use crate::sqlite_writer::{self, SqliteWriter};

/// Calls that may wait in the queue before callers are held back.
const QUEUE: usize = 4096;
/// The most events one transaction takes (a call's events are never split, so one call may go
/// over it).
const MAX_BATCH: usize = 1024;
/// What a failed write names in its error.
pub(crate) const OP: &str = "recording an event";

/// What the writer is sent.
#[derive(Debug)]
pub(crate) enum Msg {
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

/// Where a store's events are written.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The SQLite file at `path`, by a thread of its own, taking turns with the store's other
    /// writers at `gate`.
    Sqlite { path: PathBuf, gate: WriteGate },
    /// PostgreSQL, through the store's pool, by a task.
    Postgres(AnyPool),
}

/// Told about every transaction of events a store commits, for metrics (the store cannot
/// see Herald's metrics: they live in the server, which depends on the store).
pub trait WriteObserver: Send + Sync + std::fmt::Debug {
    /// A transaction of `events` events ended (committed or failed) after `seconds`.
    fn batch_written(&self, events: usize, seconds: f64);
}

/// Where a store's writers find its observer, set once by whoever builds the metrics.
pub(crate) type Observer = Arc<OnceLock<Arc<dyn WriteObserver>>>;

/// Tell `observer`, if there is one, about a transaction of `events` events started at
/// `started`.
pub(crate) fn observe(observer: &Observer, events: usize, started: Instant) {
    if let Some(observer) = observer.get() {
        observer.batch_written(events, started.elapsed().as_secs_f64());
    }
}

/// The writer of one store: its queue and its writer (task or thread), started on first use.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    target: Target,
    state: Mutex<State>,
    pub(crate) observer: Observer,
}

#[derive(Debug)]
enum State {
    /// No writer yet.
    Idle,
    /// A writer is draining `queue`.
    Running {
        queue: mpsc::Sender<Msg>,
        writer: Writer,
    },
    /// [`GroupCommit::close`] was called: nothing more is taken.
    Closed,
}

/// A running writer, to wait for when the store closes.
#[derive(Debug)]
enum Writer {
    Task(JoinHandle<()>),
    /// Answered (or dropped, if the thread panicked) when the thread ends.
    Thread(oneshot::Receiver<()>),
}

impl Writer {
    /// Waits until the writer has ended, logging a panic.
    async fn finished(self) {
        let panicked = match self {
            Self::Task(task) => task.await.is_err_and(|e| e.is_panic()),
            Self::Thread(done) => done.await.is_err(),
        };
        if panicked {
            tracing::error!("the store's event writer panicked");
        }
    }
}

impl GroupCommit {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            state: Mutex::new(State::Idle),
            observer: Observer::default(),
        }
    }

    /// The gate SQLite's writers take turns at; PostgreSQL has none.
    pub(crate) fn gate(&self) -> Option<&WriteGate> {
        match &self.target {
            Target::Sqlite { gate, .. } => Some(gate),
            Target::Postgres(_) => None,
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
            writer.finished().await;
        }
    }

    /// The queue, starting a writer on first use, and again when the last one has stopped
    /// (a task whose runtime shut down: a store opened in one runtime and used in another).
    fn queue(&self) -> Result<mpsc::Sender<Msg>, StoreError> {
        let mut state = self.lock();
        match &*state {
            State::Closed => return Err(StoreError::Closed),
            State::Running { queue, .. } if !queue.is_closed() => return Ok(queue.clone()),
            State::Running { .. } | State::Idle => {}
        }
        let (queue, jobs) = mpsc::channel(QUEUE);
        let writer = match &self.target {
            Target::Sqlite { path, gate } => {
                let observer = Arc::clone(&self.observer);
                let writer = SqliteWriter::new(path.clone(), Arc::clone(gate), observer);
                Writer::Thread(sqlite_writer::start(writer, jobs)?)
            }
            Target::Postgres(pool) => {
                let observer = Arc::clone(&self.observer);
                Writer::Task(tokio::spawn(write_queued(pool.clone(), jobs, observer)))
            }
        };
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

/// The calls queued after `first`, up to [`MAX_BATCH`] events (a call's events are never
/// split). [`Msg::Close`] closes the queue: later sends fail, what is queued is still taken.
pub(crate) fn gather(first: Msg, queue: &mut mpsc::Receiver<Msg>) -> Vec<Job> {
    let mut batch = Vec::new();
    let mut size = 0;
    let mut next = Some(first);
    while let Some(msg) = next {
        match msg {
            Msg::Write(job) => {
                size += job.rows.len();
                batch.push(job);
            }
            Msg::Close => queue.close(),
        }
        next = if size < MAX_BATCH {
            queue.try_recv().ok()
        } else {
            None
        };
    }
    batch
}

/// Answers the callers of `batch` from `written`, its write in one transaction; returns the
/// calls to write again, each in its own transaction. When the database refused a statement,
/// that may be one event's fault, so each call is written alone and one bad event fails only
/// its caller; any other error (the connection, the pool) fails every caller.
pub(crate) fn settle(batch: Vec<Job>, written: Result<Vec<EventRecorded>, StoreError>) -> Vec<Job> {
    let events: usize = batch.iter().map(|j| j.rows.len()).sum();
    match written {
        Ok(recorded) => {
            tracing::trace!(events, calls = batch.len(), "event batch committed");
            let mut recorded = recorded.into_iter();
            for job in batch {
                let answer = recorded.by_ref().take(job.rows.len()).collect();
                let _ = job.reply.send(Ok(answer));
            }
            Vec::new()
        }
        Err(e) if batch.len() > 1 && refused_statement(&e) => {
            tracing::debug!(events, error = %e, "event batch refused; writing each call alone");
            batch
        }
        Err(e) if batch.len() == 1 => {
            if let Some(job) = batch.into_iter().next() {
                let _ = job.reply.send(Err(e));
            }
            Vec::new()
        }
        Err(e) => {
            let source = Arc::new(e);
            for job in batch {
                let _ = job.reply.send(Err(StoreError::BatchFailed {
                    events,
                    source: Arc::clone(&source),
                }));
            }
            Vec::new()
        }
    }
}

impl Job {
    /// The call's events, in order.
    pub(crate) fn rows(&self) -> Vec<&EventRow> {
        self.rows.iter().collect()
    }

    /// Answers the caller.
    pub(crate) fn answer(self, answer: Result<Vec<EventRecorded>, StoreError>) {
        let _ = self.reply.send(answer);
    }
}

/// All the events of `batch`, in order.
pub(crate) fn batch_rows(batch: &[Job]) -> Vec<&EventRow> {
    batch.iter().flat_map(|j| &j.rows).collect()
}

/// The PostgreSQL writer: takes what is queued, commits it, answers, repeats; after
/// [`Msg::Close`], only until the queue is empty.
async fn write_queued(pool: AnyPool, mut queue: mpsc::Receiver<Msg>, observer: Observer) {
    while let Some(first) = queue.recv().await {
        let batch = gather(first, &mut queue);
        if !batch.is_empty() {
            commit(&pool, batch, &observer).await;
        }
    }
}

/// Writes `batch` in one transaction and answers each caller (see [`settle`]).
async fn commit(pool: &AnyPool, batch: Vec<Job>, observer: &Observer) {
    let rows = batch_rows(&batch);
    let started = Instant::now();
    let written = write(pool, &rows).await;
    observe(observer, rows.len(), started);
    for job in settle(batch, written) {
        let answer = write(pool, &job.rows()).await;
        job.answer(answer);
    }
}

/// Writes `rows` in one transaction, in order.
async fn write(pool: &AnyPool, rows: &[&EventRow]) -> Result<Vec<EventRecorded>, StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::query(OP))?;
    let recorded = postgres_batch::record_all(&mut tx, rows, OP).await?;
    tx.commit().await.map_err(StoreError::query(OP))?;
    Ok(recorded)
}

/// Whether the database refused a statement (a constraint, a trigger, a value it cannot
/// store), which may be one event's fault, rather than the connection failing.
fn refused_statement(error: &StoreError) -> bool {
    match error {
        StoreError::Query { source, .. } => matches!(source, sqlx::Error::Database(_)),
        StoreError::Sqlite { source, .. } => sqlite_writer::refused(source),
        StoreError::Corrupt { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
