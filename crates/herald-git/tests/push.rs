//! Committing and pushing against real repositories: libgit2's local transport
//! (`file://`) and the real `git http-backend` (smart HTTP, where `receive-pack` runs the
//! bare repository's hooks and receives push options).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::Path;

use std::cell::Cell;
use std::time::Duration;

use herald_git::{
    Author, GitError, PushOptions, PushOutcome, Remote, RetryPolicy, WriteBackOutcome, commit_all,
    push, push_with_retry,
};
use herald_testkit::git_http::HttpBackend;
use support::{Fixture, git};

const MAIN: &str = "refs/heads/main";

fn author() -> Author {
    Author {
        name: "Herald Bot".into(),
        email: "herald-bot@example.invalid".into(),
    }
}

fn file_url(bare: &Path) -> String {
    format!("file://{}", bare.display())
}

/// Install `script` as the bare repository's `pre-receive` hook.
fn pre_receive(bare: &Path, script: &str) {
    let hook = bare.join("hooks").join("pre-receive");
    fs::write(&hook, script).unwrap();
    support::run("chmod", &["+x", hook.to_str().unwrap()], bare);
}

/// The bare repository served over smart HTTP with pushes allowed (http-backend
/// refuses anonymous pushes unless `http.receivepack` is set).
fn serve_for_push(fixture: &Fixture) -> Option<(HttpBackend, Remote)> {
    git(&fixture.bare, &["config", "http.receivepack", "true"]);
    let backend = HttpBackend::start(&fixture.root, true)?;
    let remote = Remote::anonymous(backend.url("project.git"));
    Some((backend, remote))
}

fn push_main(work: &Path, remote: &Remote) -> PushOutcome {
    push(work, remote, MAIN, MAIN, &PushOptions::default()).unwrap()
}

#[test]
fn a_commit_lands_in_the_bare_repository_and_an_unchanged_tree_commits_nothing() {
    let fixture = Fixture::new();
    let work = fixture.work_clone("work");
    fs::write(work.join("deploy.yaml"), "image: app:v2\n").unwrap();
    fs::remove_file(work.join("README.md")).unwrap();
    let commit = commit_all(&work, &author(), "Update app to v2")
        .unwrap()
        .expect("a change was made");
    let remote = Remote::anonymous(file_url(&fixture.bare));
    assert_eq!(push_main(&work, &remote), PushOutcome::Pushed);

    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), commit);
    let log = git(
        &fixture.bare,
        &["log", "-1", "--format=%an <%ae>|%s|%P", MAIN],
    );
    assert_eq!(
        log,
        format!(
            "Herald Bot <herald-bot@example.invalid>|Update app to v2|{}",
            fixture.c3
        )
    );
    let files = git(&fixture.bare, &["ls-tree", "--name-only", MAIN]);
    assert_eq!(
        files, "deploy.yaml",
        "the new file added, the deleted one gone"
    );

    assert_eq!(commit_all(&work, &author(), "nothing").unwrap(), None);
    assert_eq!(
        git(&work, &["rev-parse", "HEAD"]),
        commit,
        "no empty commit"
    );
}

#[test]
fn a_stale_push_is_not_fast_forward_and_leaves_the_remote_alone() {
    let fixture = Fixture::new();
    let remote = Remote::anonymous(file_url(&fixture.bare));
    let first = fixture.work_clone("first");
    let second = fixture.work_clone("second");
    fs::write(first.join("a.yaml"), "a: 1\n").unwrap();
    let landed = commit_all(&first, &author(), "a").unwrap().unwrap();
    assert_eq!(push_main(&first, &remote), PushOutcome::Pushed);

    fs::write(second.join("b.yaml"), "b: 1\n").unwrap();
    commit_all(&second, &author(), "b").unwrap().unwrap();
    assert_eq!(push_main(&second, &remote), PushOutcome::NotFastForward);
    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), landed);
}

/// libgit2 refuses a stale push itself when it can tell; here only the server can (a
/// forced push to a repository with `receive.denyNonFastForwards`), so the
/// `non-fast-forward` status from `receive-pack` must give the same outcome.
#[test]
fn the_servers_non_fast_forward_status_is_not_fast_forward() {
    let fixture = Fixture::new();
    git(
        &fixture.bare,
        &["config", "receive.denyNonFastForwards", "true"],
    );
    let Some((_backend, remote)) = serve_for_push(&fixture) else {
        return;
    };
    let first = fixture.work_clone("first");
    let second = fixture.work_clone("second");
    fs::write(first.join("a.yaml"), "a: 1\n").unwrap();
    let landed = commit_all(&first, &author(), "a").unwrap().unwrap();
    assert_eq!(push_main(&first, &remote), PushOutcome::Pushed);

    fs::write(second.join("b.yaml"), "b: 1\n").unwrap();
    commit_all(&second, &author(), "b").unwrap().unwrap();
    let force = PushOptions {
        force: true,
        ..PushOptions::default()
    };
    assert_eq!(
        push(&second, &remote, MAIN, MAIN, &force).unwrap(),
        PushOutcome::NotFastForward
    );
    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), landed);
}

#[test]
fn a_force_push_replaces_a_review_branch() {
    let fixture = Fixture::new();
    let remote = Remote::anonymous(file_url(&fixture.bare));
    let work = fixture.work_clone("work");
    let review = "refs/heads/herald/update-app";
    fs::write(work.join("a.yaml"), "a: 1\n").unwrap();
    commit_all(&work, &author(), "a").unwrap().unwrap();
    let options = PushOptions::default();
    assert_eq!(
        push(&work, &remote, MAIN, review, &options).unwrap(),
        PushOutcome::Pushed
    );
    git(&work, &["reset", "-q", "--hard", &fixture.c3]);
    fs::write(work.join("a.yaml"), "a: 2\n").unwrap();
    let rewritten = commit_all(&work, &author(), "a again").unwrap().unwrap();
    assert_eq!(
        push(&work, &remote, MAIN, review, &options).unwrap(),
        PushOutcome::NotFastForward
    );
    let force = PushOptions {
        force: true,
        ..PushOptions::default()
    };
    assert_eq!(
        push(&work, &remote, MAIN, review, &force).unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(git(&fixture.bare, &["rev-parse", review]), rewritten);
}

#[test]
fn a_push_refused_by_a_pre_receive_hook_is_rejected_with_its_reason() {
    let fixture = Fixture::new();
    pre_receive(
        &fixture.bare,
        "#!/bin/sh\necho 'main is protected: open a merge request' >&2\nexit 1\n",
    );
    let Some((_backend, remote)) = serve_for_push(&fixture) else {
        return;
    };
    let work = fixture.work_clone("work");
    fs::write(work.join("deploy.yaml"), "image: app:v2\n").unwrap();
    commit_all(&work, &author(), "Update app").unwrap().unwrap();

    let outcome = push_main(&work, &remote);
    let PushOutcome::Rejected { reason } = outcome else {
        panic!("a refused ref must be rejected, got {outcome:?}");
    };
    assert!(reason.contains("pre-receive hook declined"), "{reason}");
    assert!(
        reason.contains("main is protected: open a merge request"),
        "{reason}"
    );
    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), fixture.c3);
}

#[test]
fn push_options_reach_the_server_hook() {
    let fixture = Fixture::new();
    git(
        &fixture.bare,
        &["config", "receive.advertisePushOptions", "true"],
    );
    let record = fixture.dir.path().join("push-options.txt");
    pre_receive(
        &fixture.bare,
        &format!(
            "#!/bin/sh\n{{\n echo \"count=$GIT_PUSH_OPTION_COUNT\"\n i=0\n \
             while [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n  \
             eval \"echo \\\"$i=\\$GIT_PUSH_OPTION_$i\\\"\"\n  i=$((i + 1))\n done\n}} > '{}'\n",
            record.display()
        ),
    );
    let Some((_backend, remote)) = serve_for_push(&fixture) else {
        return;
    };
    let work = fixture.work_clone("work");
    fs::write(work.join("deploy.yaml"), "image: app:v2\n").unwrap();
    let commit = commit_all(&work, &author(), "Update app").unwrap().unwrap();
    let options = PushOptions {
        push_options: vec![
            "merge_request.create".into(),
            "merge_request.target=main".into(),
        ],
        force: false,
    };
    let review = "refs/heads/herald/update-app";
    assert_eq!(
        push(&work, &remote, MAIN, review, &options).unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        "count=2\n0=merge_request.create\n1=merge_request.target=main\n"
    );
    assert_eq!(git(&fixture.bare, &["rev-parse", review]), commit);
}

#[test]
fn bad_ref_names_are_invalid_input() {
    let fixture = Fixture::new();
    let work = fixture.work_clone("work");
    let remote = Remote::anonymous(file_url(&fixture.bare));
    let err = push(&work, &remote, MAIN, "main", &PushOptions::default()).unwrap_err();
    assert_eq!(err.category(), "invalid", "{err}");
    let err = push(&work, &remote, "main", MAIN, &PushOptions::default()).unwrap_err();
    assert_eq!(err.category(), "invalid", "{err}");
}

/// Quick retries: the waits are the library's backoff, not test synchronisation.
fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

const MANIFEST: &str = "deploy.yaml";

/// An intent: set `app`'s image line in the shared manifest to `tag`, whatever else the
/// file holds (so re-applying it on another writer's tip keeps that writer's change).
fn set_image(dir: &Path, app: &str, tag: &str) -> Result<Option<String>, GitError> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).unwrap();
    let wanted = format!("{app}: {tag}");
    let updated: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with(&format!("{app}:")) {
                wanted.clone()
            } else {
                line.to_owned()
            }
        })
        .collect();
    let updated = updated.join("\n") + "\n";
    if updated == text {
        return Ok(None);
    }
    fs::write(&path, updated).unwrap();
    Ok(Some(format!("Set {app} to {tag}")))
}

/// The fixture with a manifest naming two apps on `main`.
fn fixture_with_manifest() -> Fixture {
    let fixture = Fixture::new();
    let seed = fixture.work_clone("seed");
    fs::write(seed.join(MANIFEST), "# images\napp-a: v1\napp-b: v1\n").unwrap();
    commit_all(&seed, &author(), "manifest").unwrap().unwrap();
    let remote = Remote::anonymous(file_url(&fixture.bare));
    assert_eq!(push_main(&seed, &remote), PushOutcome::Pushed);
    fixture
}

#[test]
fn racing_writers_both_land_when_the_stale_one_re_applies_its_intent() {
    let fixture = fixture_with_manifest();
    let remote = Remote::anonymous(file_url(&fixture.bare));
    let first = fixture.work_clone("first");
    let second = fixture.work_clone("second");

    let outcome = push_with_retry(
        &first,
        &remote,
        "main",
        &author(),
        &quick_retries(3),
        |dir| set_image(dir, "app-a", "v2"),
    )
    .unwrap();
    assert!(
        matches!(outcome, WriteBackOutcome::Pushed { attempts: 1, .. }),
        "{outcome:?}"
    );

    let calls = Cell::new(0);
    let outcome = push_with_retry(
        &second,
        &remote,
        "main",
        &author(),
        &quick_retries(3),
        |dir| {
            calls.set(calls.get() + 1);
            set_image(dir, "app-b", "v7")
        },
    )
    .unwrap();
    let WriteBackOutcome::Pushed { commit, attempts } = outcome else {
        panic!("the stale writer must land after re-applying, got {outcome:?}");
    };
    assert_eq!(
        (attempts, calls.get()),
        (2, 2),
        "one stale push, one re-apply"
    );
    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), commit);
    assert_eq!(
        git(&fixture.bare, &["show", &format!("{MAIN}:{MANIFEST}")]),
        "# images\napp-a: v2\napp-b: v7",
        "both writers' edits are in the final tip"
    );
    let subjects = git(&fixture.bare, &["log", "-2", "--format=%s", MAIN]);
    assert_eq!(subjects, "Set app-b to v7\nSet app-a to v2");
    assert_eq!(git(&second, &["status", "--porcelain"]), "", "clean clone");
}

#[test]
fn an_intent_another_writer_already_landed_is_up_to_date() {
    let fixture = fixture_with_manifest();
    let remote = Remote::anonymous(file_url(&fixture.bare));
    let first = fixture.work_clone("first");
    let second = fixture.work_clone("second");
    let set = |dir: &Path| set_image(dir, "app-a", "v2");
    let policy = quick_retries(3);
    // Another message, so the two writers' commits differ (the same edit, parent, author,
    // message and second would be the very same commit, and the push a no-op).
    let first_writer = |dir: &Path| Ok(set(dir)?.map(|message| format!("{message} (first)")));
    let outcome =
        push_with_retry(&first, &remote, "main", &author(), &policy, first_writer).unwrap();
    assert!(
        matches!(outcome, WriteBackOutcome::Pushed { .. }),
        "{outcome:?}"
    );
    let tip = git(&fixture.bare, &["rev-parse", MAIN]);
    let outcome = push_with_retry(&second, &remote, "main", &author(), &policy, set).unwrap();
    // The second writer's first commit is stale; on the new tip its edit changes nothing.
    assert_eq!(outcome, WriteBackOutcome::UpToDate);
    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), tip);
}

#[test]
fn a_writer_that_is_always_stale_gives_up_after_its_attempts() {
    let fixture = fixture_with_manifest();
    let remote = Remote::anonymous(file_url(&fixture.bare));
    let work = fixture.work_clone("work");
    let rival = fixture.work_clone("rival");
    let calls = Cell::new(0);
    let outcome = push_with_retry(
        &work,
        &remote,
        "main",
        &author(),
        &quick_retries(3),
        |dir| {
            calls.set(calls.get() + 1);
            // Another writer lands a commit every time this one is about to push.
            git(&rival, &["pull", "-q", "--ff-only"]);
            fs::write(rival.join(format!("rival-{}.txt", calls.get())), "x\n").unwrap();
            git(&rival, &["add", "."]);
            git(&rival, &["commit", "-q", "-m", "rival"]);
            git(&rival, &["push", "-q", "origin", "main"]);
            set_image(dir, "app-a", &format!("v{}", 10 + calls.get()))
        },
    )
    .unwrap();
    assert_eq!(outcome, WriteBackOutcome::GaveUp { attempts: 3 });
    assert_eq!(calls.get(), 3, "applied once per attempt, never more");
    assert_eq!(
        git(&fixture.bare, &["log", "-1", "--format=%s", MAIN]),
        "rival",
        "none of the stale commits landed"
    );
}

#[test]
fn a_refused_write_back_is_rejected_at_once_and_the_clone_reset() {
    let fixture = fixture_with_manifest();
    pre_receive(
        &fixture.bare,
        "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n",
    );
    let Some((_backend, remote)) = serve_for_push(&fixture) else {
        return;
    };
    let work = fixture.work_clone("work");
    let before = git(&work, &["rev-parse", "HEAD"]);
    let calls = Cell::new(0);
    let outcome = push_with_retry(
        &work,
        &remote,
        "main",
        &author(),
        &quick_retries(5),
        |dir| {
            calls.set(calls.get() + 1);
            set_image(dir, "app-a", "v2")
        },
    )
    .unwrap();
    let WriteBackOutcome::Rejected { reason } = outcome else {
        panic!("a refused push must be rejected, got {outcome:?}");
    };
    assert!(reason.contains("main is protected"), "{reason}");
    assert_eq!(calls.get(), 1, "a refusal is not retried");
    assert_eq!(git(&fixture.bare, &["rev-parse", MAIN]), before);
    assert_eq!(
        git(&work, &["rev-parse", "HEAD"]),
        before,
        "refused commit dropped"
    );
    assert_eq!(git(&work, &["status", "--porcelain"]), "");
}
