//! The process-wide handle: one writer task per destination, started on first use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::writer::edit::Checked;
use crate::writer::error::WriteError;
use crate::writer::files::normalise_paths;
use crate::writer::task::{self, CloneLock, Job, Request};
use crate::writer::types::{Destination, Preview, Update, WriterConfig, Written};

/// Every writer of a process. Cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Writers {
    shared: Arc<Shared>,
}

struct Shared {
    cache_dir: PathBuf,
    config: WriterConfig,
    /// The inbox of each running writer, by destination key.
    inboxes: Mutex<HashMap<String, mpsc::UnboundedSender<Request>>>,
    /// Each destination's clone lock, kept across writers: a writer that went idle may
    /// still be finishing its last batch when the next one starts.
    clone_locks: Mutex<HashMap<String, CloneLock>>,
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writers")
            .field("cache_dir", &self.shared.cache_dir)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Writers {
    /// Writers keeping their clones under `cache_dir`, one directory per destination.
    pub fn new(cache_dir: PathBuf, config: WriterConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                cache_dir,
                config,
                inboxes: Mutex::new(HashMap::new()),
                clone_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Write `update` to `destination`, batched with whatever else arrives for it close
    /// together. Answers once the batch is pushed (or refused, or failed).
    pub async fn write(
        &self,
        destination: Destination,
        update: Update,
    ) -> Result<Written, WriteError> {
        let checked = check(update)?;
        let branch = destination.push_branch.clone();
        let (reply, answer) = oneshot::channel();
        self.submit(Request {
            destination,
            job: Job::Write { checked, reply },
        });
        answer
            .await
            .map_err(|_| WriteError::WriterGone { branch })?
    }

    /// What `write` would change, as a diff; nothing is committed or pushed. Served by the
    /// destination's writer between batches, so it never sees a half-written clone.
    pub async fn preview(
        &self,
        destination: Destination,
        update: Update,
    ) -> Result<Preview, WriteError> {
        let checked = check(update)?;
        let branch = destination.push_branch.clone();
        let (reply, answer) = oneshot::channel();
        self.submit(Request {
            destination,
            job: Job::Preview { checked, reply },
        });
        answer
            .await
            .map_err(|_| WriteError::WriterGone { branch })?
    }

    /// How many writers are running (an idle writer ends; see
    /// [`WriterConfig::idle_timeout`]).
    pub fn running(&self) -> usize {
        self.shared
            .inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|inbox| !inbox.is_closed())
            .count()
    }

    /// Where the writer of `destination` keeps its clone.
    pub fn clone_dir(&self, destination: &Destination) -> PathBuf {
        self.shared.cache_dir.join(key(destination))
    }

    /// Hand `request` to its writer, starting one if none runs (or the last one ended).
    fn submit(&self, mut request: Request) {
        let key = key(&request.destination);
        let mut inboxes = self
            .shared
            .inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let inbox = inboxes
                .entry(key.clone())
                .or_insert_with(|| self.start(&key));
            match inbox.send(request) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => {
                    inboxes.remove(&key);
                    request = back;
                }
            }
        }
    }

    fn start(&self, key: &str) -> mpsc::UnboundedSender<Request> {
        let (inbox, requests) = mpsc::unbounded_channel();
        let clone_dir = self.shared.cache_dir.join(key);
        let lock = self
            .shared
            .clone_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone();
        let config = self.shared.config.clone();
        tokio::spawn(task::run(requests, clone_dir, lock, config));
        inbox
    }
}

fn check(update: Update) -> Result<Checked, WriteError> {
    let paths = normalise_paths(&update)?;
    Ok(Checked { update, paths })
}

/// The writer's identity and clone directory name: SHA-256 of the URL and push branch.
fn key(destination: &Destination) -> String {
    let mut digest = Sha256::new();
    digest.update(destination.remote.url.as_bytes());
    digest.update(b"\n");
    digest.update(destination.push_branch.as_bytes());
    hex::encode(digest.finalize())
}
