//! Why a write or preview failed. Cloneable, because one batch's failure is every one of
//! its requesters' answer. Messages name branches, files and steps, never credentials
//! (herald-git's errors redact URLs and never hold secrets).

use std::sync::Arc;
use std::time::Duration;

use herald_git::GitError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// An update's path could escape the clone or is unusable.
    #[error("update {update}: path {path:?} is refused: {reason}")]
    InvalidPath {
        update: String,
        path: String,
        reason: &'static str,
    },
    /// An update without any path to look in.
    #[error("update {update}: no paths to look in (use \".\" for the whole repository)")]
    NoPaths { update: String },
    /// Talking to the remote or working the clone failed.
    #[error("writing to branch {branch}: {source}")]
    Git {
        branch: String,
        #[source]
        source: Arc<GitError>,
    },
    /// Reading or writing a file of the clone failed.
    #[error("writing to branch {branch}: {context}: {source}")]
    Io {
        branch: String,
        context: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The batch's Git work did not finish in time; the writer waits for it to end before
    /// starting the next batch, so the clone is never worked on twice at once.
    #[error("writing to branch {branch} took longer than {limit:?}")]
    Timeout { branch: String, limit: Duration },
    /// The writer's blocking work panicked or the writer ended without an answer.
    #[error("the writer of branch {branch} ended without an answer")]
    WriterGone { branch: String },
}

impl WriteError {
    pub(crate) fn git(branch: &str, source: GitError) -> Self {
        Self::Git {
            branch: branch.to_owned(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn io(branch: &str, context: String, source: std::io::Error) -> Self {
        Self::Io {
            branch: branch.to_owned(),
            context,
            source: Arc::new(source),
        }
    }
}
