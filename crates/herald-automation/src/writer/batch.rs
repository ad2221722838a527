//! Writing one batch: bring the clone to the checkout branch's tip, edit, commit once, push.
//! Blocking (libgit2): the writer task runs it on a blocking thread.

use std::path::Path;

use herald_git::{GitError, PushOptions, PushOutcome, WriteBackOutcome};

use crate::writer::edit::{BatchEdit, Checked, edit_batch};
use crate::writer::error::WriteError;
use crate::writer::message::render_message;
use crate::writer::types::{Destination, WriteOutcome};

/// The batch's outcome and each update's share of the edits (in arrival order).
#[derive(Debug)]
pub(crate) struct BatchResult {
    pub outcome: WriteOutcome,
    pub edit: BatchEdit,
}

/// Write `updates` (in arrival order; never empty) as one commit to `destination`.
pub(crate) fn write_batch(
    clone_dir: &Path,
    destination: &Destination,
    updates: &[Checked],
    retry: &herald_git::RetryPolicy,
) -> Result<BatchResult, WriteError> {
    let branch = destination.push_branch.as_str();
    herald_git::sync_clone(&destination.remote, &destination.checkout_branch, clone_dir)
        .map_err(|e| WriteError::git(branch, e))?;
    if destination.is_review() {
        return write_review(clone_dir, destination, updates);
    }
    let mut latest = BatchEdit::default();
    let mut failure = None;
    let options = PushOptions {
        push_options: destination.push_options.clone(),
        force: false,
    };
    let first = &updates[0].update;
    let result = herald_git::push_with_retry_options(
        clone_dir,
        &destination.remote,
        branch,
        &first.author,
        retry,
        &options,
        |dir| match edit_and_write(dir, updates, branch) {
            Ok((edit, message)) => {
                latest = edit;
                Ok(message)
            }
            Err(error) => {
                failure = Some(error);
                Err(GitError::Io {
                    context: "editing the batch's files".to_owned(),
                    source: std::io::Error::other("see the writer's error"),
                })
            }
        },
    );
    if let Some(error) = failure {
        return Err(error);
    }
    let outcome = result.map_err(|e| WriteError::git(branch, e))?;
    Ok(BatchResult {
        outcome: outcome_of(outcome),
        edit: latest,
    })
}

/// A review branch: the checkout tip plus the batch's commit, force-pushed. No race to
/// lose (the branch is Herald's), so no retry.
fn write_review(
    clone_dir: &Path,
    destination: &Destination,
    updates: &[Checked],
) -> Result<BatchResult, WriteError> {
    let branch = destination.push_branch.as_str();
    let (edit, message) = edit_and_write(clone_dir, updates, branch)?;
    let Some(message) = message else {
        return Ok(up_to_date(edit));
    };
    let author = &updates[0].update.author;
    let commit = herald_git::commit_all(clone_dir, author, &message)
        .map_err(|e| WriteError::git(branch, e))?;
    let Some(commit) = commit else {
        return Ok(up_to_date(edit));
    };
    let options = PushOptions {
        push_options: destination.push_options.clone(),
        force: true,
    };
    let pushed = herald_git::push(
        clone_dir,
        &destination.remote,
        "HEAD",
        &review_ref(branch),
        &options,
    )
    .map_err(|e| WriteError::git(branch, e))?;
    let outcome = match pushed {
        PushOutcome::Pushed => WriteOutcome::Pushed {
            commit,
            attempts: 1,
        },
        PushOutcome::Rejected { reason } => WriteOutcome::Rejected { reason },
        PushOutcome::NotFastForward => WriteOutcome::GaveUp { attempts: 1 },
    };
    Ok(BatchResult { outcome, edit })
}

fn up_to_date(edit: BatchEdit) -> BatchResult {
    BatchResult {
        outcome: WriteOutcome::UpToDate,
        edit,
    }
}

/// Edit the clone's files for the batch and write the changed ones; the commit message
/// when anything changed.
fn edit_and_write(
    dir: &Path,
    updates: &[Checked],
    branch: &str,
) -> Result<(BatchEdit, Option<String>), WriteError> {
    let edit = edit_batch(dir, updates)
        .map_err(|e| WriteError::io(branch, "reading the files to edit".to_owned(), e))?;
    for (file, bytes) in &edit.files {
        std::fs::write(dir.join(file), bytes)
            .map_err(|e| WriteError::io(branch, format!("writing {file}"), e))?;
    }
    let changes = edit.all_changes();
    if changes.is_empty() {
        return Ok((edit, None));
    }
    let ids: Vec<&str> = updates.iter().map(|c| c.update.id.as_str()).collect();
    let message = render_message(&updates[0].update.message_template, &changes, &ids);
    Ok((edit, Some(message)))
}

fn outcome_of(outcome: WriteBackOutcome) -> WriteOutcome {
    match outcome {
        WriteBackOutcome::Pushed { commit, attempts } => WriteOutcome::Pushed { commit, attempts },
        WriteBackOutcome::UpToDate => WriteOutcome::UpToDate,
        WriteBackOutcome::Rejected { reason } => WriteOutcome::Rejected { reason },
        WriteBackOutcome::GaveUp { attempts } => WriteOutcome::GaveUp { attempts },
    }
}

/// The ref a review push goes to: a branch, or a full ref as written (Gitea's AGit
/// `refs/for/<branch>`, which opens a pull request from the push itself).
fn review_ref(branch: &str) -> String {
    if branch.starts_with("refs/") {
        branch.to_owned()
    } else {
        format!("refs/heads/{branch}")
    }
}
