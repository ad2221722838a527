//! The batching writer against a bare repository served by the real `git http-backend`,
//! where pushes run hooks and carry push options: the push race, a refused push, and a
//! review branch with push options.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use herald_automation::writer::{Destination, WriteOutcome, WriterConfig, Writers};
use herald_git::RetryPolicy;
use herald_testkit::git_http::HttpBackend;
use support::{Manifests, app_image, commit_to, deployment, direct, git, set_tag, update};
use tokio::task::JoinSet;

fn config() -> WriterConfig {
    WriterConfig {
        quiet_window: Duration::from_millis(500),
        max_batch_wait: Duration::from_secs(30),
        retry: RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        },
        ..WriterConfig::default()
    }
}

const DEADLINE: Duration = Duration::from_secs(120);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .expect("the writer answered within the deadline")
}

#[tokio::test]
async fn a_push_that_lost_the_race_is_reapplied_on_the_new_tip() {
    let repo = Manifests::with_apps(2);
    let (bare, scratch) = (repo.bare.clone(), repo.dir.path().to_owned());
    let outside = deployment("app1", &format!("{}:9.9.9", app_image(1)));
    let competitor = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let landed = std::sync::Arc::clone(&competitor);
    // Another writer lands its commit after this writer fetched and before it pushes.
    let before_push = Box::new(move || {
        *landed.lock().unwrap() = commit_to(&bare, &scratch, "main", "apps/app1.yaml", &outside);
    });
    let Some(server) = HttpBackend::start_with(&repo.root, Some(before_push)) else {
        return;
    };
    let writers = Writers::new(repo.cache(), config());
    let update = update("team/app0", vec![set_tag(0, "2.0.0")], &["apps"]);
    let written = within(writers.write(direct(&server.url("manifests.git"), "main"), update))
        .await
        .unwrap();
    let WriteOutcome::Pushed { commit, attempts } = &written.outcome else {
        panic!("expected a push, got {written:?}");
    };
    assert_eq!(*attempts, 2, "the first push was stale");
    assert_eq!(&repo.rev("main"), commit);
    let competitor = competitor.lock().unwrap().clone();
    assert_eq!(
        repo.rev("main^"),
        competitor,
        "built on the other writer's commit"
    );
    assert!(repo.show("main", "apps/app0.yaml").contains("app0:2.0.0"));
    assert!(repo.show("main", "apps/app1.yaml").contains("app1:9.9.9"));
}

#[tokio::test]
async fn a_push_refused_by_a_hook_is_rejected_for_every_requester() {
    let repo = Manifests::with_apps(2);
    let tip = repo.rev("main");
    repo.hook(
        "pre-receive",
        "#!/bin/sh\necho 'protected branch: open a merge request' >&2\nexit 1\n",
    );
    let Some(server) = HttpBackend::start(&repo.root, true) else {
        return;
    };
    let writers = Writers::new(repo.cache(), config());
    let destination = direct(&server.url("manifests.git"), "main");
    let mut tasks = JoinSet::new();
    for i in 0..2 {
        let (writers, destination) = (writers.clone(), destination.clone());
        let update = update(&format!("team/app{i}"), vec![set_tag(i, "2.0.0")], &["."]);
        tasks.spawn(async move { writers.write(destination, update).await });
    }
    while let Some(joined) = within(tasks.join_next()).await {
        let written = joined.unwrap().unwrap();
        assert_eq!(written.batch_size, 2);
        let WriteOutcome::Rejected { reason } = &written.outcome else {
            panic!("expected a rejection, got {written:?}");
        };
        assert!(
            reason.contains("protected branch: open a merge request"),
            "{reason}"
        );
    }
    assert_eq!(repo.rev("main"), tip, "nothing landed");

    repo.hook("pre-receive", "#!/bin/sh\nexit 0\n");
    let update = update("team/app1", vec![set_tag(1, "3.0.0")], &["."]);
    let written = within(writers.write(destination, update)).await.unwrap();
    assert!(
        matches!(written.outcome, WriteOutcome::Pushed { .. }),
        "{written:?}"
    );
    assert_eq!(
        repo.rev("main^"),
        tip,
        "the refused commit was not pushed later"
    );
    assert!(repo.show("main", "apps/app0.yaml").contains("app0:1.0.0"));
    assert!(repo.show("main", "apps/app1.yaml").contains("app1:3.0.0"));
}

#[tokio::test]
async fn a_review_branch_is_the_checkout_tip_plus_the_batch_with_push_options() {
    let repo = Manifests::with_apps(2);
    let log = repo.dir.path().join("push-options.log");
    repo.hook(
        "pre-receive",
        &format!(
            "#!/bin/sh\ni=0\nwhile [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n  eval \"echo \\$GIT_PUSH_OPTION_$i\" >> '{}'\n  i=$((i + 1))\ndone\n",
            log.display()
        ),
    );
    let Some(server) = HttpBackend::start(&repo.root, true) else {
        return;
    };
    let writers = Writers::new(repo.cache(), config());
    let destination = Destination {
        push_branch: "herald/images".into(),
        push_options: vec![
            "merge_request.create".into(),
            "merge_request.target=main".into(),
        ],
        ..direct(&server.url("manifests.git"), "main")
    };
    let main_tip = repo.rev("main");
    let first = update("team/app0", vec![set_tag(0, "2.0.0")], &["."]);
    let written = within(writers.write(destination.clone(), first))
        .await
        .unwrap();
    let WriteOutcome::Pushed { commit, .. } = &written.outcome else {
        panic!("expected a push, got {written:?}");
    };
    assert_eq!(&repo.rev("herald/images"), commit);
    assert_eq!(repo.rev("herald/images^"), main_tip);
    assert_eq!(
        repo.rev("main"),
        main_tip,
        "the checkout branch is untouched"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "merge_request.create\nmerge_request.target=main\n"
    );

    // The checkout branch moves on; the next change set is rebuilt on its new tip and
    // replaces the review branch.
    let moved = repo.commit_elsewhere("main", "README.md", "moved on\n");
    let second = update("team/app1", vec![set_tag(1, "2.0.0")], &["."]);
    let written = within(writers.write(destination, second)).await.unwrap();
    let WriteOutcome::Pushed { commit, .. } = &written.outcome else {
        panic!("expected a push, got {written:?}");
    };
    assert_eq!(&repo.rev("herald/images"), commit);
    assert_eq!(
        repo.rev("herald/images^"),
        moved,
        "force-updated from the new tip"
    );
    assert!(
        repo.show("herald/images", "apps/app1.yaml")
            .contains("app1:2.0.0")
    );
    assert!(
        repo.show("herald/images", "apps/app0.yaml")
            .contains("app0:1.0.0")
    );
    let options = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        options.matches("merge_request.create").count(),
        2,
        "{options}"
    );
    git(&repo.bare, &["fsck", "--no-progress"]);
}

/// Gitea's AGit flow: a push to `refs/for/<branch>` with a `topic` option opens a pull request
/// from the push itself. The served repository's hook records the ref and the options the
/// server received (http-backend keeps the ref where Gitea would turn it into a pull request).
#[tokio::test]
async fn a_review_push_to_a_full_ref_carries_its_options_for_agit() {
    let repo = Manifests::with_apps(1);
    let log = repo.dir.path().join("agit.log");
    repo.hook(
        "pre-receive",
        &format!(
            "#!/bin/sh\nwhile read old new ref; do echo \"ref $ref\" >> '{log}'; done\ni=0\nwhile [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n  eval \"echo option \\$GIT_PUSH_OPTION_$i\" >> '{log}'\n  i=$((i + 1))\ndone\n",
            log = log.display()
        ),
    );
    let Some(server) = HttpBackend::start(&repo.root, true) else {
        return;
    };
    let writers = Writers::new(repo.cache(), config());
    let destination = Destination {
        push_branch: "refs/for/main".into(),
        push_options: vec!["topic=herald-images".into()],
        ..direct(&server.url("manifests.git"), "main")
    };
    let main_tip = repo.rev("main");
    let change = update("team/app0", vec![set_tag(0, "3.0.0")], &["."]);
    let written = within(writers.write(destination, change)).await.unwrap();
    let WriteOutcome::Pushed { commit, .. } = &written.outcome else {
        panic!("expected a push, got {written:?}");
    };
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "ref refs/for/main\noption topic=herald-images\n"
    );
    assert_eq!(&repo.rev("refs/for/main"), commit);
    assert_eq!(repo.rev("main"), main_tip, "the branch itself is untouched");
}
