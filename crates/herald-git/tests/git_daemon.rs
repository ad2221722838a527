//! `git://` URLs against a real `git daemon` (smart protocol with shallow fetches).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use herald_git::{GitError, Remote, checkout, list_refs};
use support::{ChildGuard, Fixture, add_empty_commits, assert_checked_out, free_port, git, read};

/// A `git daemon` serving the fixture's repositories; killed on drop.
struct GitDaemon {
    _guard: ChildGuard,
    port: u16,
}

impl GitDaemon {
    fn start(fixture: &Fixture) -> Option<Self> {
        let Some(git_daemon) = support::git_helper("daemon") else {
            support::require_tool("git daemon", false);
            return None;
        };
        let port = free_port();
        let root = fixture.root.to_str().unwrap();
        let mut command = Command::new(git_daemon);
        command.args([
            "--export-all",
            "--reuseaddr",
            "--informative-errors",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={root}"),
            root,
        ]);
        let log = fixture.dir.path().join("git-daemon.log");
        let mut guard = ChildGuard::spawn("git daemon", &mut command, &log);
        support::wait_for_port(&mut guard, port);
        Some(Self {
            _guard: guard,
            port,
        })
    }

    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/project.git", self.port)
    }
}

fn is_shallow(dest: &std::path::Path) -> bool {
    dest.join(".git").join("shallow").exists()
}

#[test]
fn lists_refs_over_git_protocol() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let refs = list_refs(&Remote::anonymous(daemon.url())).unwrap();
    let pairs: Vec<(&str, &str)> = refs
        .iter()
        .map(|r| (r.name.as_str(), r.commit.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("refs/heads/feature", fixture.f1.as_str()),
            ("refs/heads/main", fixture.c3.as_str()),
            ("refs/tags/light", fixture.c1.as_str()),
            ("refs/tags/v1", fixture.c2.as_str()),
        ]
    );
}

#[test]
fn checks_out_the_tip_shallowly() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let dest = fixture.dest("tip");
    checkout(
        &Remote::anonymous(daemon.url()),
        Some("refs/heads/main"),
        &fixture.c3,
        &dest,
    )
    .unwrap();
    assert_checked_out(&dest, &fixture.c3);
    assert!(is_shallow(&dest), "a tip checkout should be shallow");
    assert_eq!(git(&dest, &["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn checks_out_an_annotated_tag_by_its_commit() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let dest = fixture.dest("tag");
    checkout(
        &Remote::anonymous(daemon.url()),
        Some("refs/tags/v1"),
        &fixture.c2,
        &dest,
    )
    .unwrap();
    assert_checked_out(&dest, &fixture.c2);
    assert_eq!(read(&dest, "README.md"), "two\n");
}

#[test]
fn older_commit_falls_back_to_a_deeper_fetch() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let dest = fixture.dest("older");
    checkout(
        &Remote::anonymous(daemon.url()),
        Some("refs/heads/main"),
        &fixture.c1,
        &dest,
    )
    .unwrap();
    assert_checked_out(&dest, &fixture.c1);
    assert_eq!(read(&dest, "README.md"), "one\n");
}

#[test]
fn commit_far_behind_the_tip_falls_back_to_full_history() {
    let fixture = Fixture::new();
    add_empty_commits(&fixture.bare, "refs/heads/main", 60);
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let dest = fixture.dest("far");
    checkout(
        &Remote::anonymous(daemon.url()),
        Some("refs/heads/main"),
        &fixture.c1,
        &dest,
    )
    .unwrap();
    assert_checked_out(&dest, &fixture.c1);
}

#[test]
fn fetches_the_commit_id_directly_when_the_server_allows_it() {
    let fixture = Fixture::new();
    git(
        &fixture.bare,
        &["config", "uploadpack.allowReachableSHA1InWant", "true"],
    );
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let dest = fixture.dest("by-id");
    checkout(&Remote::anonymous(daemon.url()), None, &fixture.c2, &dest).unwrap();
    assert_checked_out(&dest, &fixture.c2);
    assert!(is_shallow(&dest), "fetching by id should stay shallow");
}

#[test]
fn checkout_without_ref_name_falls_back_to_all_branches() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let dest = fixture.dest("no-ref");
    checkout(&Remote::anonymous(daemon.url()), None, &fixture.f1, &dest).unwrap();
    assert_checked_out(&dest, &fixture.f1);
}

#[test]
fn bogus_revision_is_not_found() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let bogus = "0123456789abcdef0123456789abcdef01234567";
    let err = checkout(
        &Remote::anonymous(daemon.url()),
        Some("refs/heads/main"),
        bogus,
        &fixture.dest("bogus"),
    )
    .unwrap_err();
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err:?}");
}

#[test]
fn missing_repository_on_the_server() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let url = format!("git://127.0.0.1:{}/missing.git", daemon.port);
    let err = list_refs(&Remote::anonymous(url)).unwrap_err();
    assert_eq!(err.category(), "not_found", "{err:?}");
}

#[test]
fn closed_port_is_unreachable() {
    let url = format!("git://127.0.0.1:{}/project.git", free_port());
    let err = list_refs(&Remote::anonymous(url.clone())).unwrap_err();
    assert_eq!(err.category(), "unreachable", "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn missing_ref_name_means_revision_not_found() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let err = checkout(
        &Remote::anonymous(daemon.url()),
        Some("refs/heads/does-not-exist"),
        &fixture.c3,
        &fixture.dest("missing-ref"),
    )
    .unwrap_err();
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("refs/heads/does-not-exist"),
        "{err}"
    );
}
