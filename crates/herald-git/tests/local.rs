//! `file://` URLs and plain paths (libgit2's local transport).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use herald_git::{
    GitError, Remote, RemoteRef, WireProtocol, checkout, list_refs, list_refs_matching,
};
use support::{Fixture, assert_checked_out, assert_matching_listings, read};

fn file_url(fixture: &Fixture) -> String {
    format!("file://{}", fixture.bare.display())
}

#[test]
fn lists_branches_and_tags_with_annotated_tags_peeled() {
    let fixture = Fixture::new();
    let refs = list_refs(&Remote::anonymous(file_url(&fixture))).unwrap();
    let expected = vec![
        RemoteRef {
            name: "refs/heads/feature".into(),
            commit: fixture.f1.clone(),
        },
        RemoteRef {
            name: "refs/heads/main".into(),
            commit: fixture.c3.clone(),
        },
        RemoteRef {
            name: "refs/tags/light".into(),
            commit: fixture.c1.clone(),
        },
        RemoteRef {
            name: "refs/tags/v1".into(),
            commit: fixture.c2.clone(),
        },
    ];
    assert_eq!(refs, expected);
    assert_ne!(
        fixture.v1_tag_object, fixture.c2,
        "v1 must be an annotated tag"
    );
}

#[test]
fn plain_paths_work_like_file_urls() {
    let fixture = Fixture::new();
    let url = fixture.bare.to_str().unwrap().to_owned();
    let refs = list_refs(&Remote::anonymous(url.clone())).unwrap();
    assert_eq!(refs.len(), 4);
    let dest = fixture.dest("plain");
    checkout(
        &Remote::anonymous(url),
        Some("refs/heads/main"),
        &fixture.c3,
        &dest,
    )
    .unwrap();
    assert_checked_out(&dest, &fixture.c3);
}

#[test]
fn checks_out_the_branch_tip() {
    let fixture = Fixture::new();
    let dest = fixture.dest("tip");
    let remote = Remote::anonymous(file_url(&fixture));
    checkout(&remote, Some("refs/heads/main"), &fixture.c3, &dest).unwrap();
    assert_checked_out(&dest, &fixture.c3);
    assert_eq!(read(&dest, "README.md"), "three\n");
}

#[test]
fn checks_out_an_older_commit_of_the_branch() {
    let fixture = Fixture::new();
    let dest = fixture.dest("older");
    let remote = Remote::anonymous(file_url(&fixture));
    checkout(&remote, Some("refs/heads/main"), &fixture.c1, &dest).unwrap();
    assert_checked_out(&dest, &fixture.c1);
    assert_eq!(read(&dest, "README.md"), "one\n");
}

#[test]
fn checks_out_a_commit_without_a_ref_name() {
    let fixture = Fixture::new();
    let dest = fixture.dest("no-ref");
    let remote = Remote::anonymous(file_url(&fixture));
    checkout(&remote, None, &fixture.f1, &dest).unwrap();
    assert_checked_out(&dest, &fixture.f1);
    assert_eq!(read(&dest, "feature.txt"), "feature\n");
}

#[test]
fn bogus_revision_is_not_found() {
    let fixture = Fixture::new();
    let remote = Remote::anonymous(file_url(&fixture));
    let bogus = "0123456789abcdef0123456789abcdef01234567";
    let err = checkout(
        &remote,
        Some("refs/heads/main"),
        bogus,
        &fixture.dest("bogus"),
    )
    .expect_err("a commit that does not exist");
    assert!(matches!(err, GitError::RevisionNotFound { .. }), "{err:?}");
    assert_eq!(err.category(), "not_found");
    assert!(err.to_string().contains(bogus), "{err}");
}

#[test]
fn rejects_abbreviated_revisions_and_bad_ref_names() {
    let fixture = Fixture::new();
    let remote = Remote::anonymous(file_url(&fixture));
    let err = checkout(&remote, None, &fixture.c3[..12], &fixture.dest("short")).unwrap_err();
    assert_eq!(err.category(), "invalid", "{err}");
    let err = checkout(&remote, Some("main"), &fixture.c3, &fixture.dest("badref")).unwrap_err();
    assert_eq!(err.category(), "invalid", "{err}");
}

#[test]
fn refuses_a_non_empty_destination() {
    let fixture = Fixture::new();
    let dest = fixture.dest("busy");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep.txt"), "mine").unwrap();
    let remote = Remote::anonymous(file_url(&fixture));
    let err = checkout(&remote, Some("refs/heads/main"), &fixture.c3, &dest).unwrap_err();
    assert!(matches!(err, GitError::Io { .. }), "{err:?}");
    assert_eq!(read(&dest, "keep.txt"), "mine");
}

#[test]
fn missing_repository_is_reported() {
    let fixture = Fixture::new();
    let url = format!("file://{}", fixture.dir.path().join("nope.git").display());
    let err = list_refs(&Remote::anonymous(url)).unwrap_err();
    assert_eq!(err.category(), "not_found", "{err:?}");
}

#[test]
fn rejects_credentials_of_the_wrong_kind() {
    let fixture = Fixture::new();
    let remote = Remote {
        url: file_url(&fixture),
        auth: herald_git::Auth::Basic {
            username: "alice".into(),
            password: "pw".into(),
        },
        tls: Default::default(),
    };
    let err = list_refs(&remote).unwrap_err();
    assert_eq!(err.category(), "invalid", "{err}");
}

#[test]
fn matching_listings_of_local_repositories_use_libgit2() {
    let fixture = Fixture::new();
    assert_matching_listings(
        &Remote::anonymous(file_url(&fixture)),
        &fixture,
        WireProtocol::Local,
    );
    let plain = Remote::anonymous(fixture.bare.to_str().unwrap());
    assert_matching_listings(&plain, &fixture, WireProtocol::Local);
    let url = format!("file://{}", fixture.dir.path().join("nope.git").display());
    let err = list_refs_matching(&Remote::anonymous(url), &[]).unwrap_err();
    assert_eq!(err.category(), "not_found", "{err:?}");
}
