//! Shared fixtures for the writer's tests and benchmark: a real bare manifests repository
//! built with the `git` CLI, served by path or by the real `git http-backend` (through
//! herald-testkit's `git_http`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each user takes a subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use herald_automation::writer::{DEFAULT_MESSAGE_TEMPLATE, Destination, Update};
use herald_git::{Author, Remote};
use herald_image::{Intent, Repository};
use tempfile::TempDir;

pub use herald_testkit::git;

/// A Deployment with one container running `image`.
pub fn deployment(name: &str, image: &str) -> String {
    format!(
        "# {name}, kept by hand\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: {image} # the tag is automated\n"
    )
}

/// The image repository of test application `index`.
pub fn app_image(index: usize) -> String {
    format!("registry.example/team/app{index}")
}

/// Set application `index`'s image to `tag`.
pub fn set_tag(index: usize, tag: &str) -> Intent {
    Intent::Tag {
        repository: Repository::parse(&app_image(index)).unwrap(),
        tag: tag.to_owned(),
    }
}

pub fn update(id: &str, intents: Vec<Intent>, paths: &[&str]) -> Update {
    Update {
        id: id.to_owned(),
        intents,
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        author: Author {
            name: "Herald".into(),
            email: "herald@example.invalid".into(),
        },
        message_template: DEFAULT_MESSAGE_TEMPLATE.to_owned(),
    }
}

/// Push straight to `branch` of `url`.
pub fn direct(url: &str, branch: &str) -> Destination {
    Destination {
        remote: Remote::anonymous(url),
        checkout_branch: branch.to_owned(),
        push_branch: branch.to_owned(),
        push_options: Vec::new(),
    }
}

/// A bare manifests repository (`<root>/manifests.git`, branch `main`) with the given
/// files, pushable over `git http-backend`.
pub struct Manifests {
    pub dir: TempDir,
    /// The directory holding the bare repository (the http-backend's project root).
    pub root: PathBuf,
    pub bare: PathBuf,
}

impl Manifests {
    pub fn new(files: &[(String, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("seed");
        for (file, content) in files {
            let path = work.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        git(&work, &["init", "-q"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "seed"]);
        let root = dir.path().join("repos");
        fs::create_dir(&root).unwrap();
        let bare = root.join("manifests.git");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        git(&bare, &["config", "http.receivepack", "true"]);
        git(&bare, &["config", "receive.advertisePushOptions", "true"]);
        Self { dir, root, bare }
    }

    /// `count` applications, `apps/app<i>.yaml` each running `app<i>:1.0.0`.
    pub fn with_apps(count: usize) -> Self {
        Self::new(&app_files(count))
    }

    /// The bare repository's path, as a remote URL (libgit2's local transport: no hooks).
    pub fn path_url(&self) -> String {
        self.bare.to_str().unwrap().to_owned()
    }

    /// Where the writers keep their clones.
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn rev(&self, revision: &str) -> String {
        git(&self.bare, &["rev-parse", revision])
    }

    pub fn show(&self, revision: &str, file: &str) -> String {
        git(&self.bare, &["show", &format!("{revision}:{file}")])
    }

    pub fn message(&self, revision: &str) -> String {
        git(&self.bare, &["log", "-1", "--format=%B", revision])
    }

    pub fn commit_count(&self, revision: &str) -> usize {
        git(&self.bare, &["rev-list", "--count", revision])
            .parse()
            .unwrap()
    }

    /// Install `script` as the bare repository's hook `name`.
    pub fn hook(&self, name: &str, script: &str) {
        let path = self.bare.join("hooks").join(name);
        fs::write(&path, script).unwrap();
        Command::new("chmod")
            .args(["+x", path.to_str().unwrap()])
            .status()
            .unwrap();
    }

    /// Another writer's commit on `branch`, setting `file` to `content`, pushed by path
    /// (no hooks run). Returns the new tip.
    pub fn commit_elsewhere(&self, branch: &str, file: &str, content: &str) -> String {
        commit_to(&self.bare, self.dir.path(), branch, file, content)
    }

    /// A new branch `name` at `main`'s tip.
    pub fn branch(&self, name: &str) {
        git(&self.bare, &["branch", name, "main"]);
    }
}

/// Clone `bare` into a fresh directory under `scratch`, commit `file` on `branch`, push.
pub fn commit_to(bare: &Path, scratch: &Path, branch: &str, file: &str, content: &str) -> String {
    let work = tempfile::tempdir_in(scratch).unwrap();
    let (from, to) = (bare.to_str().unwrap(), work.path().to_str().unwrap());
    git(scratch, &["clone", "-q", "-b", branch, from, to]);
    let path = work.path().join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    git(work.path(), &["add", "-A"]);
    git(
        work.path(),
        &["commit", "-q", "-m", &format!("outside change to {file}")],
    );
    git(work.path(), &["push", "-q", "origin", branch]);
    git(work.path(), &["rev-parse", "HEAD"])
}

pub fn app_files(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let image = format!("{}:1.0.0", app_image(i));
            (
                format!("apps/app{i}.yaml"),
                deployment(&format!("app{i}"), &image),
            )
        })
        .collect()
}
