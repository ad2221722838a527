//! The writer of one destination: a task that gathers requests into batches and works its
//! cached clone on a blocking thread, one batch at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use crate::writer::batch::{BatchResult, write_batch};
use crate::writer::edit::{Checked, UpdateEdit};
use crate::writer::error::WriteError;
use crate::writer::preview::preview;
use crate::writer::types::{Destination, Preview, WriterConfig, Written};

/// What a requester asks of a writer, with where to send the answer.
pub(crate) enum Job {
    Write {
        checked: Checked,
        reply: oneshot::Sender<Result<Written, WriteError>>,
    },
    Preview {
        checked: Checked,
        reply: oneshot::Sender<Result<Preview, WriteError>>,
    },
}

/// Held while a batch or preview works the clone.
pub(crate) type CloneLock = Arc<tokio::sync::Mutex<()>>;

pub(crate) struct Request {
    pub destination: Destination,
    pub job: Job,
}

type WriteReply = (
    Destination,
    Checked,
    oneshot::Sender<Result<Written, WriteError>>,
);

/// Serve the inbox until it has been idle for `config.idle_timeout` (then the inbox is
/// closed, what was already queued is still written, and the task ends; the clone stays).
pub(crate) async fn run(
    mut inbox: mpsc::UnboundedReceiver<Request>,
    clone_dir: PathBuf,
    lock: CloneLock,
    config: WriterConfig,
) {
    while let Some(first) = next_request(&mut inbox, config.idle_timeout).await {
        let batch = collect(first, &mut inbox, &config).await;
        let _clone = lock.lock().await;
        handle(batch, &clone_dir, &config).await;
    }
}

async fn next_request(
    inbox: &mut mpsc::UnboundedReceiver<Request>,
    idle: Duration,
) -> Option<Request> {
    match timeout(idle, inbox.recv()).await {
        Ok(request) => request,
        Err(_) => {
            inbox.close();
            inbox.recv().await
        }
    }
}

/// After the first request, keep taking requests until none came for the quiet window or
/// the batch has waited its longest.
async fn collect(
    first: Request,
    inbox: &mut mpsc::UnboundedReceiver<Request>,
    config: &WriterConfig,
) -> Vec<Request> {
    let deadline = Instant::now() + config.max_batch_wait;
    let mut batch = vec![first];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(config.quiet_window.min(left), inbox.recv()).await {
            Ok(Some(request)) => batch.push(request),
            Ok(None) | Err(_) => return batch,
        }
    }
}

/// Writes first (as one commit), then each preview on the tip they left.
async fn handle(batch: Vec<Request>, clone_dir: &Path, config: &WriterConfig) {
    let mut writes = Vec::new();
    let mut previews = Vec::new();
    for request in batch {
        match request.job {
            Job::Write { checked, reply } => writes.push((request.destination, checked, reply)),
            Job::Preview { checked, reply } => previews.push((request.destination, checked, reply)),
        }
    }
    if !writes.is_empty() {
        write(writes, clone_dir, config).await;
    }
    for (destination, checked, reply) in previews {
        let branch = destination.push_branch.clone();
        let dir = clone_dir.to_owned();
        let work = move || preview(&dir, &destination, checked);
        let (result, leftover) = bounded(config.git_timeout, &branch, work).await;
        let _ = reply.send(result);
        finish(leftover).await;
    }
}

async fn write(writes: Vec<WriteReply>, clone_dir: &Path, config: &WriterConfig) {
    let destination = writes[0].0.clone();
    let branch = destination.push_branch.clone();
    let checked: Vec<Checked> = writes
        .iter()
        .map(|(_, checked, _)| checked.clone())
        .collect();
    let (dir, retry) = (clone_dir.to_owned(), config.retry.clone());
    let work = move || write_batch(&dir, &destination, &checked, &retry);
    let (result, leftover) = bounded(config.git_timeout, &branch, work).await;
    let batch_size = writes.len();
    match result {
        Ok(BatchResult { outcome, edit }) => {
            tracing::info!(%branch, batch_size, ?outcome, "image write-back batch done");
            let mut shares = edit.per_update;
            shares.resize_with(batch_size, UpdateEdit::default);
            for ((_, _, reply), own) in writes.into_iter().zip(shares) {
                let _ = reply.send(Ok(Written {
                    outcome: outcome.clone(),
                    changes: own.changes,
                    skipped: own.skipped,
                    superseded: own.superseded,
                    unreadable: own.unreadable,
                    batch_size,
                }));
            }
        }
        Err(error) => {
            tracing::warn!(%branch, batch_size, %error, "image write-back batch failed");
            for (_, _, reply) in writes {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
    finish(leftover).await;
}

type Leftover<T> = Option<JoinHandle<Result<T, WriteError>>>;

/// Run `work` on a blocking thread; give up waiting after `limit`. The still-running
/// work is handed back so the writer can let it end before touching the clone again.
async fn bounded<T: Send + 'static>(
    limit: Duration,
    branch: &str,
    work: impl FnOnce() -> Result<T, WriteError> + Send + 'static,
) -> (Result<T, WriteError>, Leftover<T>) {
    let mut handle = tokio::task::spawn_blocking(work);
    match timeout(limit, &mut handle).await {
        Ok(Ok(result)) => (result, None),
        Ok(Err(_panicked)) => (
            Err(WriteError::WriterGone {
                branch: branch.to_owned(),
            }),
            None,
        ),
        Err(_) => (
            Err(WriteError::Timeout {
                branch: branch.to_owned(),
                limit,
            }),
            Some(handle),
        ),
    }
}

async fn finish<T>(leftover: Leftover<T>) {
    if let Some(handle) = leftover {
        let _ = handle.await;
    }
}
