//! `git://` URLs against a real `git daemon` (smart protocol with shallow fetches).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use herald_git::{
    GitError, ListOptions, Remote, WireProtocol, checkout, list_refs, list_refs_matching,
    list_refs_with,
};
use support::{
    ChildGuard, Fixture, SilentServer, add_empty_commits, assert_checked_out,
    assert_matching_listings, assert_times_out, free_port, git, read,
};

/// A `git daemon` serving the fixture's repositories; killed on drop.
struct GitDaemon {
    _guard: ChildGuard,
    port: u16,
}

impl GitDaemon {
    fn start(fixture: &Fixture) -> Option<Self> {
        Self::start_with(fixture, false)
    }

    /// With `v0_only`, the daemon's upload-pack never sees `GIT_PROTOCOL` (see
    /// `support::v0_only_git_dir`): a real daemon that does not offer v2.
    fn start_with(fixture: &Fixture, v0_only: bool) -> Option<Self> {
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
        if v0_only {
            let wrapper = support::v0_only_git_dir(fixture.dir.path());
            command.env("PATH", support::path_with_first(&wrapper));
        }
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

#[test]
fn lists_only_the_watched_refs_over_protocol_v2() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let remote = Remote::anonymous(daemon.url());
    assert_matching_listings(&remote, &fixture, WireProtocol::V2);
    let all = list_refs_matching(&remote, &[]).unwrap();
    assert_eq!(all, list_refs(&remote).unwrap());
}

#[test]
fn a_daemon_without_v2_is_listed_through_v0() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start_with(&fixture, true) else {
        return;
    };
    assert_matching_listings(&Remote::anonymous(daemon.url()), &fixture, WireProtocol::V0);
}

#[test]
fn missing_repository_is_not_found_over_v2() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let url = format!("git://127.0.0.1:{}/missing.git", daemon.port);
    let err = list_refs_matching(&Remote::anonymous(url), &["refs/heads/".into()]).unwrap_err();
    assert!(
        matches!(err, GitError::RepositoryNotFound { .. }),
        "{err:?}"
    );
}

#[test]
fn closed_port_is_unreachable_over_v2() {
    let url = format!("git://127.0.0.1:{}/project.git", free_port());
    let err = list_refs_matching(&Remote::anonymous(url.clone()), &[]).unwrap_err();
    assert_eq!(err.category(), "unreachable", "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn a_silent_server_fails_the_listing_at_its_deadline() {
    let silent = SilentServer::start();
    let url = format!("git://127.0.0.1:{}/project.git", silent.port);
    assert_times_out(&Remote::anonymous(url));
}

#[test]
fn a_slow_server_slows_only_its_own_listing() {
    let fixture = Fixture::new();
    let Some(daemon) = GitDaemon::start(&fixture) else {
        return;
    };
    let silent = SilentServer::start();
    let hung = Remote::anonymous(format!("git://127.0.0.1:{}/project.git", silent.port));
    let (sender, hung_result) = mpsc::channel();
    let options = ListOptions::prefixes(["refs/heads/main"]).with_timeout(Duration::from_secs(20));
    std::thread::spawn(move || {
        let _ = sender.send(list_refs_with(&hung, &options));
    });
    let started = Instant::now();
    let refs = list_refs_matching(
        &Remote::anonymous(daemon.url()),
        &["refs/heads/main".into()],
    )
    .unwrap();
    assert_eq!(refs.len(), 1);
    assert!(
        hung_result.try_recv().is_err(),
        "the hung listing ended first, so the healthy one may have waited for it"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
