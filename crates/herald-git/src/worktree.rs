//! A working tree per step: parallel steps of one run share the run's checkout (its objects)
//! but never one another's files.

use std::path::Path;

use git2::{Repository, WorktreeAddOptions};

use crate::error::GitError;

/// Adds a working tree at `dest` (which must not exist) to the repository `checkout`, at the
/// commit its HEAD is on, on a new branch `name` (a worktree needs one; it lives only in this
/// checkout). Blocking.
pub fn add_worktree(checkout: &Path, name: &str, dest: &Path) -> Result<(), GitError> {
    let io = |context: String, e: git2::Error| GitError::Io {
        context,
        source: std::io::Error::other(e.message().to_owned()),
    };
    let repo = Repository::open(checkout)
        .map_err(|e| io(format!("opening the checkout {}", checkout.display()), e))?;
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| io(format!("reading the HEAD of {}", checkout.display()), e))?;
    let branch = repo
        .branch(name, &head, false)
        .map_err(|e| io(format!("creating the branch {name} for a worktree"), e))?;
    let reference = branch.into_reference();
    let mut options = WorktreeAddOptions::new();
    options.reference(Some(&reference));
    repo.worktree(name, dest, Some(&options))
        .map_err(|e| io(format!("adding a worktree at {}", dest.display()), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn worktrees_hold_the_checkout_s_commit_and_keep_their_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::write(repo.join("file"), "one\n").unwrap();
        git(&repo, &["add", "file"]);
        git(&repo, &["commit", "-qm", "one"]);
        git(&repo, &["checkout", "-q", "--detach"]);
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        add_worktree(&repo, "step-a-1", &a).unwrap();
        add_worktree(&repo, "step-b-1", &b).unwrap();
        assert_eq!(std::fs::read_to_string(a.join("file")).unwrap(), "one\n");
        std::fs::write(a.join("file"), "changed by a\n").unwrap();
        assert_eq!(std::fs::read_to_string(b.join("file")).unwrap(), "one\n");
        let err = add_worktree(&repo, "step-a-1", &dir.path().join("c")).unwrap_err();
        assert!(err.to_string().contains("step-a-1"), "{err}");
        // A shallow checkout, as Herald's own over HTTP and SSH, takes worktrees too.
        let url = format!("file://{}", repo.display());
        git(
            dir.path(),
            &["clone", "-q", "--depth", "1", &url, "shallow"],
        );
        let shallow = dir.path().join("shallow");
        assert!(shallow.join(".git/shallow").exists());
        add_worktree(&shallow, "step-s-1", &dir.path().join("s")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("s/file")).unwrap(),
            "one\n"
        );
    }
}
