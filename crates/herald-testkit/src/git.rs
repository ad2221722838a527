//! Real Git repositories for tests, built with the `git` CLI in temporary folders.

use std::path::Path;
use std::process::Command;

/// Run `git` in `dir` (a work tree or a bare repository) with a fixed identity, `main` as the
/// default branch and none of the developer's configuration; panics with its stderr on
/// failure; the trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let result = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Herald Test",
            "-c",
            "user.email=herald-test@example.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
    assert!(
        result.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    String::from_utf8_lossy(&result.stdout).trim().to_owned()
}

/// A repository on branch `main` with one commit (`README.md`), removed when dropped.
#[derive(Debug)]
pub struct TestRepo {
    dir: tempfile::TempDir,
}

impl TestRepo {
    /// Panics when `git` is missing or fails: a test cannot go on without its repository.
    pub fn new() -> Self {
        let dir =
            tempfile::tempdir().unwrap_or_else(|e| panic!("a temp dir for a repository: {e}"));
        let repo = Self { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit_file("README.md", "hello\n", "first");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `file://` URL of the repository.
    pub fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    /// Run `git` in the repository and return its trimmed standard output.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .current_dir(self.path())
            .output()
            .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Write a file, commit it, and return the new commit id.
    pub fn commit_file(&self, file: &str, content: &str, message: &str) -> String {
        std::fs::write(self.path().join(file), content)
            .unwrap_or_else(|e| panic!("writing {file}: {e}"));
        self.git(&["add", file]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    /// An empty commit; returns its id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}
