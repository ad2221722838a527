//! Committing a working tree and pushing it, with the server's verdict on every ref
//! checked: libgit2 reports success for a push whose ref the server refused unless the
//! `push_update_reference` callback's status is looked at, and a write-back that calls a
//! refused push "done" silently loses the update.

use std::cell::RefCell;
use std::path::Path;

use git2::{ErrorCode, IndexAddOption, RemoteRedirect, Repository, Signature};

use crate::callbacks::remote_callbacks;
use crate::error::GitError;
use crate::remote::Remote;
use crate::session::{CallState, Session};

/// Who a commit is written by (also used as its committer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// How to push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOptions {
    /// Server-side push options (`git push -o`), e.g. GitLab's `merge_request.create`.
    /// The server must advertise `push-options`; libgit2's local (`file://`) transport
    /// runs no server and ignores them.
    pub push_options: Vec<String>,
    /// Replace the remote ref even when that is not a fast-forward (a review branch
    /// that is rewritten for every change set).
    pub force: bool,
}

/// What the server made of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote ref now points at the pushed commit.
    Pushed,
    /// The server refused the ref (a pre-receive hook, a protected branch, ...).
    /// Retrying the same push will not help.
    Rejected {
        /// The server's status for the ref, followed by what it printed (hook output).
        reason: String,
    },
    /// The remote ref moved on: fetch, rebuild the change on the new tip, push again.
    NotFastForward,
}

/// Stage every change in the working tree of `workdir` (new, modified and deleted files,
/// honouring `.gitignore`) and commit it on the checked-out branch.
///
/// Returns the new commit id, or `None` when the tree is unchanged: an empty commit would
/// be pushed and announced as an update that changed nothing. Blocking.
pub fn commit_all(
    workdir: &Path,
    author: &Author,
    message: &str,
) -> Result<Option<String>, GitError> {
    let repo = open(workdir)?;
    let local = |step: &str, e: git2::Error| local_error(workdir, step, &e);
    let mut index = repo.index().map_err(|e| local("reading the index", e))?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(|e| local("staging changes", e))?;
    index
        .update_all(["*"], None)
        .map_err(|e| local("staging deletions", e))?;
    index.write().map_err(|e| local("writing the index", e))?;
    let tree_id = index
        .write_tree()
        .map_err(|e| local("writing the tree", e))?;
    let parent = head_commit(&repo, workdir)?;
    if parent.as_ref().map(|c| c.tree_id()) == Some(tree_id) {
        return Ok(None);
    }
    let tree = repo
        .find_tree(tree_id)
        .map_err(|e| local("reading the tree", e))?;
    let signature =
        Signature::now(&author.name, &author.email).map_err(|e| local("signing the commit", e))?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = repo
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .map_err(|e| local("committing", e))?;
    Ok(Some(oid.to_string()))
}

/// Push `local_ref` (a full ref name, or `HEAD`) of the repository at `repo_path` to
/// `remote_ref` (a full ref name) of `remote`. Blocking.
///
/// A ref the server refuses is [`PushOutcome::Rejected`] (or
/// [`PushOutcome::NotFastForward`] when it refused because the ref moved on), never
/// `Ok(Pushed)`. Transport and authentication failures are errors.
///
/// libgit2's local transport (`file://`, a path) writes the refs itself: no server runs,
/// so no hooks and no push options. Use a served URL where those matter.
pub fn push(
    repo_path: &Path,
    remote: &Remote,
    local_ref: &str,
    remote_ref: &str,
    options: &PushOptions,
) -> Result<PushOutcome, GitError> {
    let session = Session::new(remote)?;
    check_push_refs(&session, local_ref, remote_ref)?;
    let repo = open(repo_path)?;
    let force = if options.force { "+" } else { "" };
    let refspec = format!("{force}{local_ref}:{remote_ref}");
    let step = format!("pushing {local_ref} to {remote_ref}");
    let state = RefCell::new(CallState::default());
    let verdict = RefCell::new(Verdict::default());
    let mut callbacks = remote_callbacks(&session, &state, &step);
    callbacks.push_update_reference(|refname, status| {
        verdict.borrow_mut().record(refname, status);
        Ok(())
    });
    callbacks.sideband_progress(|text| {
        verdict
            .borrow_mut()
            .remote_text
            .push_str(&String::from_utf8_lossy(text));
        true
    });
    let push_options: Vec<&str> = options.push_options.iter().map(String::as_str).collect();
    let mut git_options = git2::PushOptions::new();
    git_options
        .remote_callbacks(callbacks)
        .follow_redirects(RemoteRedirect::Initial)
        .remote_push_options(&push_options);
    let mut git_remote = repo
        .remote_anonymous(&session.remote.url)
        .map_err(|e| session.error(&e, &state, &step))?;
    let result = git_remote.push(&[refspec.as_str()], Some(&mut git_options));
    drop(git_options);
    match result {
        Err(e) if e.code() == ErrorCode::NotFastForward => Ok(PushOutcome::NotFastForward),
        Err(e) => Err(session.error(&e, &state, &step)),
        Ok(()) => Ok(verdict.into_inner().outcome(remote_ref)),
    }
}

/// What the server said about the pushed refs, gathered by the callbacks.
#[derive(Debug, Default)]
struct Verdict {
    /// The first refused ref and the server's status for it.
    refused: Option<(String, String)>,
    /// Whether the server acknowledged any ref at all.
    acknowledged: bool,
    /// Side-band text ("remote: ..." lines): where hooks explain a refusal.
    remote_text: String,
}

impl Verdict {
    fn record(&mut self, refname: &str, status: Option<&str>) {
        self.acknowledged = true;
        if let (None, Some(status)) = (&self.refused, status) {
            self.refused = Some((refname.to_owned(), status.to_owned()));
        }
    }

    fn outcome(self, remote_ref: &str) -> PushOutcome {
        let Some((refname, status)) = self.refused else {
            if !self.acknowledged {
                tracing::debug!(%remote_ref, "the server reported no status for the pushed ref");
            }
            return PushOutcome::Pushed;
        };
        if is_not_fast_forward(&status) {
            return PushOutcome::NotFastForward;
        }
        let said = self.remote_text.trim();
        let reason = if said.is_empty() {
            format!("{refname}: {status}")
        } else {
            format!("{refname}: {status}; the server said: {said}")
        };
        PushOutcome::Rejected { reason }
    }
}

/// The statuses `git receive-pack` gives a ref that moved on since it was advertised.
fn is_not_fast_forward(status: &str) -> bool {
    let lower = status.to_ascii_lowercase();
    ["non-fast-forward", "fetch first", "stale info"]
        .iter()
        .any(|needle| lower.contains(needle))
}

fn check_push_refs(
    session: &Session<'_>,
    local_ref: &str,
    remote_ref: &str,
) -> Result<(), GitError> {
    let is_full = |name: &str| name.starts_with("refs/") && git2::Reference::is_valid_name(name);
    if local_ref != "HEAD" && !is_full(local_ref) {
        return Err(session.invalid(format!(
            "{local_ref:?} is not HEAD or a full ref name (like refs/heads/main)"
        )));
    }
    if !is_full(remote_ref) {
        return Err(session.invalid(format!(
            "{remote_ref:?} is not a full ref name (like refs/heads/main)"
        )));
    }
    Ok(())
}

pub(crate) fn open(path: &Path) -> Result<Repository, GitError> {
    Repository::open(path).map_err(|e| local_error(path, "opening the repository", &e))
}

/// The commit HEAD points at, or `None` on an unborn branch.
pub(crate) fn head_commit<'r>(
    repo: &'r Repository,
    path: &Path,
) -> Result<Option<git2::Commit<'r>>, GitError> {
    match repo.head() {
        Ok(head) => head
            .peel_to_commit()
            .map(Some)
            .map_err(|e| local_error(path, "reading HEAD", &e)),
        Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(local_error(path, "reading HEAD", &e)),
    }
}

/// A failure of a local repository operation (no remote, so no URL to name).
pub(crate) fn local_error(path: &Path, step: &str, e: &git2::Error) -> GitError {
    GitError::Io {
        context: format!("{step} in {}", path.display()),
        source: std::io::Error::other(e.message().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_ref_the_status_and_the_hook_output() {
        let mut verdict = Verdict::default();
        verdict.record("refs/heads/main", Some("pre-receive hook declined"));
        verdict.remote_text.push_str("protected branch\n");
        assert_eq!(
            verdict.outcome("refs/heads/main"),
            PushOutcome::Rejected {
                reason:
                    "refs/heads/main: pre-receive hook declined; the server said: protected branch"
                        .into()
            }
        );
    }

    #[test]
    fn a_ref_that_moved_on_is_not_fast_forward() {
        for status in ["non-fast-forward", "fetch first", "stale info"] {
            let mut verdict = Verdict::default();
            verdict.record("refs/heads/main", Some(status));
            assert_eq!(
                verdict.outcome("refs/heads/main"),
                PushOutcome::NotFastForward
            );
        }
    }

    #[test]
    fn accepted_refs_are_pushed() {
        let mut verdict = Verdict::default();
        verdict.record("refs/heads/main", None);
        assert_eq!(verdict.outcome("refs/heads/main"), PushOutcome::Pushed);
    }
}
