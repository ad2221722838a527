//! The writer's public data: what to write where, and what came of it.

use std::time::Duration;

use herald_git::{Author, Remote, RetryPolicy};
use herald_image::{Change, Intent, Skipped};

/// Where updates are written: one writer per (remote URL, push branch).
#[derive(Debug, Clone)]
pub struct Destination {
    /// URL, credentials and trust settings (SSH host keys are verified by herald-git).
    pub remote: Remote,
    /// The branch every batch starts from, e.g. "main".
    pub checkout_branch: String,
    /// Equal to `checkout_branch`: a direct push (retried when another writer got in
    /// first). Otherwise a review branch, force-updated to the checkout branch's tip plus
    /// the batch's commit.
    pub push_branch: String,
    /// Server-side push options (`git push -o`), e.g. GitLab's `merge_request.create`.
    pub push_options: Vec<String>,
}

impl Destination {
    /// Whether the batch is pushed to a review branch rather than the checkout branch.
    pub fn is_review(&self) -> bool {
        self.push_branch != self.checkout_branch
    }
}

/// One requester's change set.
#[derive(Debug, Clone)]
pub struct Update {
    /// Who asks, e.g. an ImageUpdate's "namespace/name": for logs and the message.
    pub id: String,
    /// What to set.
    pub intents: Vec<Intent>,
    /// Repository-relative files or directories to look in ("." is the whole repository).
    /// Never outside the clone: `..` and absolute paths are refused.
    pub paths: Vec<String>,
    /// The commit's author (the first request of a batch decides).
    pub author: Author,
    /// The commit message template (the first request of a batch decides).
    pub message_template: String,
}

/// One value changed in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Repository-relative path, `/`-separated.
    pub file: String,
    pub change: Change,
}

/// A target an intent named but that was left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSkipped {
    pub file: String,
    pub skipped: Skipped,
}

/// An intent dropped for one file because a later request of the same batch set the same
/// target (later wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    pub file: String,
    /// This requester's intent that was not applied there.
    pub intent: Intent,
    /// The id of the later update whose intent was applied instead.
    pub by: String,
}

/// How a batch's write ended (the same for every requester of the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The batch landed as `commit` after `attempts` pushes.
    Pushed { commit: String, attempts: u32 },
    /// Nothing to change: the branch already says what the batch wants. No commit.
    UpToDate,
    /// The server refused the push (a pre-receive hook, a protected branch). Not retried;
    /// the refused commit is never pushed later (every batch starts from the remote tip).
    Rejected { reason: String },
    /// Other writers kept moving the branch; every try was stale.
    GaveUp { attempts: u32 },
}

/// What one `write` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The batch's outcome and commit.
    pub outcome: WriteOutcome,
    /// This update's own changes, in file order (empty when the branch was up to date).
    pub changes: Vec<FileChange>,
    /// Targets of this update's intents that were left alone (a digest pin, a block scalar).
    pub skipped: Vec<FileSkipped>,
    /// This update's intents that a later request of the batch overrode.
    pub superseded: Vec<Superseded>,
    /// Files under this update's paths that might hold its targets but could not be edited
    /// (not YAML, not UTF-8, or an edit that would not verify): left alone, with the error.
    pub unreadable: Vec<(String, String)>,
    /// How many requests the batch held (this one included).
    pub batch_size: usize,
}

/// What a dry run would do: nothing committed or pushed, the clone left clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub changes: Vec<FileChange>,
    pub skipped: Vec<FileSkipped>,
    pub unreadable: Vec<(String, String)>,
    /// A unified diff (git's format) of the files the update would change; empty when
    /// nothing would.
    pub diff: String,
}

/// How the writers batch, retry and wait.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// A batch closes when no request arrived for this long (default 250 ms).
    pub quiet_window: Duration,
    /// A batch closes at the latest this long after its first request (default 5 s), so a
    /// steady trickle of updates cannot hold the first one forever.
    pub max_batch_wait: Duration,
    /// Pushes of a direct write that lost a race.
    pub retry: RetryPolicy,
    /// Bound on one batch's Git work (fetch, edit, commit, push and retries), as seen by
    /// the requesters (default 60 s); libgit2 itself has no timeouts here.
    pub git_timeout: Duration,
    /// A writer with no request for this long ends (default 10 min); its clone stays on
    /// disk and the next writer for the destination reuses it.
    pub idle_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            quiet_window: Duration::from_millis(250),
            max_batch_wait: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            git_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(600),
        }
    }
}
