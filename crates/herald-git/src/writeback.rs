//! Write-back that never loses a race: edits are intents, re-applied on the new tip
//! when another writer pushed first.
//!
//! Tools that push once and give up on "not fast-forward" drop updates whenever two
//! writers meet; tools that rebase blindly can land a stale value. Re-running the
//! caller's edit on the fetched tip keeps both writers' changes and the newest intent.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::Duration;

use git2::build::CheckoutBuilder;
use git2::{AutotagOption, FetchOptions, Oid, RemoteRedirect, Repository, ResetType};

use crate::callbacks::remote_callbacks;
use crate::error::GitError;
use crate::push::{
    Author, PushOptions, PushOutcome, commit_all, head_commit, local_error, open, push,
};
use crate::remote::Remote;
use crate::session::{CallState, Session};

/// Where the fetched tip of the branch is kept between the fetch and the reset.
const FETCH_NAMESPACE: &str = "refs/herald-writeback/";

/// How often and how patiently [`push_with_retry`] tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all (at least 1), the first included.
    pub attempts: u32,
    /// Wait before the second try; doubled for every further try.
    pub base_delay: Duration,
    /// Upper bound of any single wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five tries, waiting about 0.1 s, 0.2 s, 0.4 s, 0.8 s: enough for a handful of
    /// writers racing on one branch without holding an update for long.
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

/// How a write-back ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBackOutcome {
    /// The change landed as `commit` on the branch, after `attempts` tries.
    Pushed {
        /// The pushed commit id.
        commit: String,
        /// Tries it took (1 when no other writer got in the way).
        attempts: u32,
    },
    /// The edits changed nothing (the branch already says what they want): no commit.
    UpToDate,
    /// The server refused the push (hook, protected branch); not retried, and the
    /// clone is reset to where it was so the refused commit is not pushed later.
    Rejected {
        /// The server's status and what it printed.
        reason: String,
    },
    /// Other writers kept moving the branch; every try was stale.
    GaveUp {
        /// Tries made.
        attempts: u32,
    },
}

/// Apply the edits in `clone_dir` (a clone made by the caller, with `branch` checked
/// out), commit them as `author`, and push to `refs/heads/<branch>` of `remote`.
///
/// `apply` makes the edits in the working tree and returns the commit message, or
/// `None` when there is nothing to change. When the push is not a fast-forward, the
/// branch is fetched, the clone hard-reset to the fetched tip (untracked files removed),
/// and after a jittered, growing wait `apply` runs again on the new tip. A refused push
/// is returned at once. Blocking (it sleeps between tries).
pub fn push_with_retry<F>(
    clone_dir: &Path,
    remote: &Remote,
    branch: &str,
    author: &Author,
    policy: &RetryPolicy,
    apply: F,
) -> Result<WriteBackOutcome, GitError>
where
    F: FnMut(&Path) -> Result<Option<String>, GitError>,
{
    let options = PushOptions::default();
    push_with_retry_options(clone_dir, remote, branch, author, policy, &options, apply)
}

/// [`push_with_retry`] with server-side push options (`git push -o`), sent with every
/// try. `options.force` is refused: a forced push never needs a retry, and forcing the
/// branch being written back would drop the other writer's commit this function exists
/// to keep.
pub fn push_with_retry_options<F>(
    clone_dir: &Path,
    remote: &Remote,
    branch: &str,
    author: &Author,
    policy: &RetryPolicy,
    options: &PushOptions,
    mut apply: F,
) -> Result<WriteBackOutcome, GitError>
where
    F: FnMut(&Path) -> Result<Option<String>, GitError>,
{
    let session = Session::new(remote)?;
    let remote_ref = format!("refs/heads/{branch}");
    if policy.attempts == 0 || !git2::Reference::is_valid_name(&remote_ref) {
        return Err(session.invalid(format!(
            "a write-back needs a valid branch name (got {branch:?}) and at least one attempt"
        )));
    }
    if options.force {
        return Err(session.invalid(
            "a write-back with retries never forces the push (it would drop other writers' commits)",
        ));
    }
    for attempt in 1..=policy.attempts {
        if attempt > 1 {
            std::thread::sleep(backoff(policy, attempt - 1, jitter_seed()));
            reset_to_remote(&session, clone_dir, branch)?;
        }
        let start = current_head(clone_dir)?;
        let Some(message) = apply(clone_dir)? else {
            return Ok(WriteBackOutcome::UpToDate);
        };
        let Some(commit) = commit_all(clone_dir, author, &message)? else {
            return Ok(WriteBackOutcome::UpToDate);
        };
        match push(clone_dir, remote, "HEAD", &remote_ref, options)? {
            PushOutcome::Pushed => {
                return Ok(WriteBackOutcome::Pushed {
                    commit,
                    attempts: attempt,
                });
            }
            PushOutcome::Rejected { reason } => {
                if let Some(start) = start {
                    hard_reset(clone_dir, start)?;
                }
                return Ok(WriteBackOutcome::Rejected { reason });
            }
            PushOutcome::NotFastForward => {
                tracing::debug!(url = %session.display_url, %branch, attempt, "push was not a fast-forward; re-applying on the new tip");
            }
        }
    }
    Ok(WriteBackOutcome::GaveUp {
        attempts: policy.attempts,
    })
}

/// Bring the cached clone in `clone_dir` to the tip of `branch` of `remote`: the
/// repository is created on first use (a full fetch of that one branch: libgit2 cannot
/// push from a shallow repository), fetched afterwards, and the local `branch` checked
/// out and hard-reset to the fetched tip with untracked files removed, so nothing a
/// previous (failed, refused or previewed) write left behind survives. A directory that
/// is not a usable repository is replaced. Returns the tip's commit id. Blocking.
pub fn sync_clone(remote: &Remote, branch: &str, clone_dir: &Path) -> Result<String, GitError> {
    let session = Session::new(remote)?;
    let local_ref = format!("refs/heads/{branch}");
    if !git2::Reference::is_valid_name(&local_ref) {
        return Err(session.invalid(format!("{branch:?} is not a valid branch name")));
    }
    let repo = open_or_init(clone_dir)?;
    let scratch = format!("{FETCH_NAMESPACE}{branch}");
    let refspec = format!("+{local_ref}:{scratch}");
    fetch(&session, &repo, &refspec, &format!("fetching {local_ref}"))?;
    let tip = repo
        .refname_to_id(&scratch)
        .map_err(|_| GitError::RevisionNotFound {
            url: session.display_url.clone(),
            revision: local_ref.clone(),
            detail: "the remote has no such branch".to_owned(),
        })?;
    let local = |step: &str, e: git2::Error| local_error(clone_dir, step, &e);
    repo.reference(&local_ref, tip, true, "herald: sync with the remote")
        .map_err(|e| local("moving the local branch", e))?;
    repo.set_head(&local_ref)
        .map_err(|e| local("checking out the branch", e))?;
    hard_reset(clone_dir, tip)?;
    Ok(tip.to_string())
}

/// Throw away every change in the working tree and index of `clone_dir` (untracked
/// files included), back to its HEAD commit: what a dry run leaves behind. Blocking.
pub fn discard_changes(clone_dir: &Path) -> Result<(), GitError> {
    match current_head(clone_dir)? {
        Some(head) => hard_reset(clone_dir, head),
        None => Ok(()),
    }
}

/// The repository in `dir`, or a new one when there is none (or what is there is not a
/// repository: a clone interrupted half-way is started again).
fn open_or_init(dir: &Path) -> Result<Repository, GitError> {
    if let Ok(repo) = Repository::open(dir) {
        return Ok(repo);
    }
    let io_error = |context: &str, source| GitError::Io {
        context: format!("{context} {}", dir.display()),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io_error("removing the unusable clone", e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error("creating", e))?;
    Repository::init(dir).map_err(|e| local_error(dir, "initialising a repository", &e))
}

/// The wait before retry number `retry` (1-based): `base * 2^(retry-1)`, capped at
/// `max_delay`, then scaled into its upper half by `seed` so that writers that collided
/// once do not collide again in lock-step.
fn backoff(policy: &RetryPolicy, retry: u32, seed: u64) -> Duration {
    let factor = 1u32 << retry.saturating_sub(1).min(16);
    let full = policy
        .base_delay
        .saturating_mul(factor)
        .min(policy.max_delay);
    let half = full / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = if spread == 0 { 0 } else { seed % (spread + 1) };
    half + Duration::from_nanos(extra)
}

/// Randomness without a dependency: std seeds every `RandomState` afresh.
fn jitter_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

fn current_head(clone_dir: &Path) -> Result<Option<Oid>, GitError> {
    let repo = open(clone_dir)?;
    Ok(head_commit(&repo, clone_dir)?.map(|c| c.id()))
}

/// Fetch `branch` and move the checked-out branch, index and working tree to its tip.
fn reset_to_remote(session: &Session<'_>, clone_dir: &Path, branch: &str) -> Result<(), GitError> {
    let repo = open(clone_dir)?;
    let scratch = format!("{FETCH_NAMESPACE}{branch}");
    let refspec = format!("+refs/heads/{branch}:{scratch}");
    let step = format!("fetching refs/heads/{branch} after a stale push");
    fetch(session, &repo, &refspec, &step)?;
    let tip = repo
        .refname_to_id(&scratch)
        .map_err(|e| local_error(clone_dir, "reading the fetched tip", &e))?;
    hard_reset(clone_dir, tip)
}

fn fetch(
    session: &Session<'_>,
    repo: &Repository,
    refspec: &str,
    step: &str,
) -> Result<(), GitError> {
    let state = RefCell::new(CallState::default());
    let mut git_remote = repo
        .remote_anonymous(&session.remote.url)
        .map_err(|e| session.error(&e, &state, step))?;
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(remote_callbacks(session, &state, step))
        .download_tags(AutotagOption::None)
        .update_fetchhead(false)
        .follow_redirects(RemoteRedirect::Initial);
    git_remote
        .fetch(&[refspec], Some(&mut options), None)
        .map_err(|e| session.error(&e, &state, step))
}

/// Discard every local change, including untracked files an earlier `apply` created, so
/// the edits are re-applied to exactly `target`.
fn hard_reset(clone_dir: &Path, target: Oid) -> Result<(), GitError> {
    let repo = open(clone_dir)?;
    let object = repo
        .find_object(target, None)
        .map_err(|e| local_error(clone_dir, "finding the reset target", &e))?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().remove_untracked(true);
    repo.reset(&object, ResetType::Hard, Some(&mut checkout))
        .map_err(|e| local_error(clone_dir, "resetting the working tree", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        }
    }

    #[test]
    fn waits_grow_and_stay_in_the_upper_half_of_their_cap() {
        let policy = policy();
        for (retry, full) in [(1, 100), (2, 200), (3, 300), (4, 300), (30, 300)] {
            let full = Duration::from_millis(full);
            for seed in [0, 1, 12_345, u64::MAX] {
                let wait = backoff(&policy, retry, seed);
                assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let policy = policy();
        let waits: std::collections::HashSet<Duration> = (0..16)
            .map(|_| backoff(&policy, 2, jitter_seed()))
            .collect();
        assert!(waits.len() > 1, "{waits:?}");
    }

    #[test]
    fn a_retried_write_back_never_forces_the_push() {
        let remote = Remote::anonymous("/nonexistent/manifests.git");
        let author = Author {
            name: "Herald".into(),
            email: "herald@example.invalid".into(),
        };
        let options = PushOptions {
            push_options: Vec::new(),
            force: true,
        };
        let error = push_with_retry_options(
            Path::new("/nonexistent"),
            &remote,
            "main",
            &author,
            &policy(),
            &options,
            |_| Ok(None),
        )
        .expect_err("a forced write-back is refused");
        assert!(error.to_string().contains("never forces"), "{error}");
    }

    #[test]
    fn no_delay_means_no_wait() {
        let policy = RetryPolicy {
            base_delay: Duration::ZERO,
            ..policy()
        };
        assert_eq!(backoff(&policy, 3, 99), Duration::ZERO);
    }
}
