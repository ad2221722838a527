//! A dry run: the update's edits on the checkout branch's tip as a unified diff, then the
//! clone put back as it was. Blocking.

use std::path::Path;

use git2::{DiffFormat, DiffOptions, Repository};

use crate::writer::edit::{Checked, edit_batch};
use crate::writer::error::WriteError;
use crate::writer::types::{Destination, Preview};

pub(crate) fn preview(
    clone_dir: &Path,
    destination: &Destination,
    checked: Checked,
) -> Result<Preview, WriteError> {
    let branch = destination.push_branch.as_str();
    herald_git::sync_clone(&destination.remote, &destination.checkout_branch, clone_dir)
        .map_err(|e| WriteError::git(branch, e))?;
    let edit = edit_batch(clone_dir, std::slice::from_ref(&checked))
        .map_err(|e| WriteError::io(branch, "reading the files to edit".to_owned(), e))?;
    for (file, bytes) in &edit.files {
        std::fs::write(clone_dir.join(file), bytes)
            .map_err(|e| WriteError::io(branch, format!("writing {file}"), e))?;
    }
    let diff = unified_diff(clone_dir, branch);
    let cleaned = herald_git::discard_changes(clone_dir).map_err(|e| WriteError::git(branch, e));
    let diff = diff?;
    cleaned?;
    let own = edit.per_update.into_iter().next().unwrap_or_default();
    Ok(Preview {
        changes: own.changes,
        skipped: own.skipped,
        unreadable: own.unreadable,
        diff,
    })
}

/// The working tree against the index, as `git diff` prints it.
fn unified_diff(clone_dir: &Path, branch: &str) -> Result<String, WriteError> {
    let failed = |step: &str, e: git2::Error| {
        WriteError::io(
            branch,
            step.to_owned(),
            std::io::Error::other(e.message().to_owned()),
        )
    };
    let repo = Repository::open(clone_dir).map_err(|e| failed("opening the clone", e))?;
    let mut options = DiffOptions::new();
    let diff = repo
        .diff_index_to_workdir(None, Some(&mut options))
        .map_err(|e| failed("computing the diff", e))?;
    let mut text = String::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            text.push(line.origin());
        }
        text.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .map_err(|e| failed("printing the diff", e))?;
    Ok(text)
}
