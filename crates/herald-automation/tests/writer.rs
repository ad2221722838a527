//! The batching writer against real bare repositories reached by path (libgit2's local
//! transport): batching, conflicts, unreadable files, previews, parallel destinations and
//! path checks. Hooks and push options need a served repository: see writer_http.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use herald_automation::writer::{WriteError, WriteOutcome, WriterConfig, Writers};
use herald_git::{Auth, SecretString};
use support::{Manifests, app_image, deployment, direct, git, set_tag, update};
use tokio::task::JoinSet;

/// A quiet window long enough for every request a test sends at once to join the batch on
/// a busy machine; tests wait for answers, never for the window.
fn config() -> WriterConfig {
    WriterConfig {
        quiet_window: Duration::from_millis(500),
        max_batch_wait: Duration::from_secs(30),
        ..WriterConfig::default()
    }
}

/// How long any test waits for an answer before failing.
const DEADLINE: Duration = Duration::from_secs(120);

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .expect("the writer answered within the deadline")
}

fn commit_of(outcome: &WriteOutcome) -> String {
    match outcome {
        WriteOutcome::Pushed { commit, .. } => commit.clone(),
        other => panic!("expected a pushed commit, got {other:?}"),
    }
}

#[tokio::test]
async fn twenty_concurrent_writes_land_as_one_commit_listing_every_change() {
    let repo = Manifests::with_apps(20);
    let before = repo.commit_count("main");
    let writers = Writers::new(repo.cache(), config());
    let destination = direct(&repo.path_url(), "main");
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let (writers, destination) = (writers.clone(), destination.clone());
        let update = update(
            &format!("apps/app{i}"),
            vec![set_tag(i, "2.0.0")],
            &["apps"],
        );
        tasks.spawn(async move { (i, writers.write(destination, update).await) });
    }
    let mut commits = Vec::new();
    while let Some(joined) = within(tasks.join_next()).await {
        let (i, written) = joined.unwrap();
        let written = written.unwrap();
        assert_eq!(written.batch_size, 20);
        assert_eq!(written.changes.len(), 1, "{written:?}");
        let change = &written.changes[0];
        assert_eq!(change.file, format!("apps/app{i}.yaml"));
        assert_eq!(change.change.new, format!("{}:2.0.0", app_image(i)));
        commits.push(commit_of(&written.outcome));
    }
    commits.dedup();
    assert_eq!(commits.len(), 1, "every requester got the same commit");
    assert_eq!(repo.rev("main"), commits[0]);
    assert_eq!(
        repo.commit_count("main"),
        before + 1,
        "one commit for 20 updates"
    );
    let message = repo.message("main");
    assert!(
        message.starts_with("Update images (20 changes)"),
        "{message}"
    );
    for i in 0..20 {
        let line = format!(
            "- apps/app{i}.yaml:11: {image}:1.0.0 -> {image}:2.0.0",
            image = app_image(i)
        );
        assert!(message.contains(&line), "{line} missing from:\n{message}");
        let expected = deployment(&format!("app{i}"), &format!("{}:2.0.0", app_image(i)));
        assert_eq!(
            repo.show("main", &format!("apps/app{i}.yaml")),
            expected.trim_end()
        );
    }
}

#[tokio::test]
async fn when_two_updates_of_a_batch_set_one_image_the_later_wins() {
    let repo = Manifests::with_apps(1);
    let writers = Writers::new(repo.cache(), config());
    let destination = direct(&repo.path_url(), "main");
    // The test runtime runs one task at a time, in spawn order: "early" arrives first.
    let early = tokio::spawn({
        let (writers, destination) = (writers.clone(), destination.clone());
        async move {
            let update = update("team/early", vec![set_tag(0, "2.0.0")], &["."]);
            writers.write(destination, update).await
        }
    });
    let late = tokio::spawn({
        let (writers, destination) = (writers.clone(), destination.clone());
        async move {
            let update = update("team/late", vec![set_tag(0, "3.0.0")], &["."]);
            writers.write(destination, update).await
        }
    });
    let early = within(early).await.unwrap().unwrap();
    let late = within(late).await.unwrap().unwrap();
    assert_eq!(early.batch_size, 2);
    assert_eq!(early.outcome, late.outcome);
    assert!(early.changes.is_empty(), "{early:?}");
    assert_eq!(early.superseded.len(), 1);
    assert_eq!(early.superseded[0].by, "team/late");
    assert_eq!(early.superseded[0].file, "apps/app0.yaml");
    assert_eq!(late.changes.len(), 1);
    assert_eq!(
        late.changes[0].change.new,
        format!("{}:3.0.0", app_image(0))
    );
    assert!(repo.show("main", "apps/app0.yaml").contains("app0:3.0.0"));
}

#[tokio::test]
async fn a_file_that_does_not_parse_is_left_alone_and_reported() {
    let broken = format!("image: {}:1.0.0\n  bad: [\n", app_image(0));
    let mut files = support::app_files(1);
    files.push(("apps/broken.yaml".into(), broken.clone()));
    let repo = Manifests::new(&files);
    let writers = Writers::new(repo.cache(), config());
    let update = update("team/app0", vec![set_tag(0, "2.0.0")], &["apps"]);
    let written = within(writers.write(direct(&repo.path_url(), "main"), update))
        .await
        .unwrap();
    commit_of(&written.outcome);
    assert_eq!(written.changes.len(), 1);
    assert_eq!(written.changes[0].file, "apps/app0.yaml");
    assert_eq!(written.unreadable.len(), 1, "{written:?}");
    assert_eq!(written.unreadable[0].0, "apps/broken.yaml");
    assert!(
        written.unreadable[0].1.contains("not valid YAML"),
        "{:?}",
        written.unreadable
    );
    assert_eq!(repo.show("main", "apps/broken.yaml"), broken.trim_end());
    assert!(repo.show("main", "apps/app0.yaml").contains("app0:2.0.0"));
}

#[tokio::test]
async fn a_preview_shows_the_diff_and_changes_nothing() {
    let repo = Manifests::with_apps(2);
    let tip = repo.rev("main");
    let writers = Writers::new(repo.cache(), config());
    let destination = direct(&repo.path_url(), "main");
    let update = update("team/app1", vec![set_tag(1, "2.0.0")], &["."]);
    let preview = within(writers.preview(destination.clone(), update))
        .await
        .unwrap();
    assert_eq!(preview.changes.len(), 1);
    let image = app_image(1);
    let expected_lines = [
        "diff --git a/apps/app1.yaml b/apps/app1.yaml\n".to_owned(),
        "--- a/apps/app1.yaml\n+++ b/apps/app1.yaml\n".to_owned(),
        format!("-          image: {image}:1.0.0 # the tag is automated\n"),
        format!("+          image: {image}:2.0.0 # the tag is automated\n"),
    ];
    for line in &expected_lines {
        assert!(
            preview.diff.contains(line),
            "{line:?} missing from:\n{}",
            preview.diff
        );
    }
    assert!(!preview.diff.contains("app0"), "{}", preview.diff);
    assert_eq!(repo.rev("main"), tip, "nothing pushed");
    let clone = writers.clone_dir(&destination);
    assert_eq!(
        git(&clone, &["status", "--porcelain"]),
        "",
        "clone left clean"
    );
    assert_eq!(
        git(&clone, &["rev-parse", "HEAD"]),
        tip,
        "nothing committed"
    );
}

#[tokio::test]
async fn different_branches_are_written_by_different_writers() {
    let repo = Manifests::with_apps(2);
    repo.branch("staging");
    let writers = Writers::new(repo.cache(), config());
    let main = direct(&repo.path_url(), "main");
    let staging = direct(&repo.path_url(), "staging");
    let to_main = writers.write(main.clone(), update("a", vec![set_tag(0, "2.0.0")], &["."]));
    let to_staging = writers.write(
        staging.clone(),
        update("b", vec![set_tag(1, "3.0.0")], &["."]),
    );
    let (on_main, on_staging) = within(async { tokio::join!(to_main, to_staging) }).await;
    let (on_main, on_staging) = (on_main.unwrap(), on_staging.unwrap());
    assert_eq!((on_main.batch_size, on_staging.batch_size), (1, 1));
    assert_eq!(repo.rev("main"), commit_of(&on_main.outcome));
    assert_eq!(repo.rev("staging"), commit_of(&on_staging.outcome));
    assert!(repo.show("main", "apps/app0.yaml").contains("app0:2.0.0"));
    assert!(repo.show("main", "apps/app1.yaml").contains("app1:1.0.0"));
    assert!(
        repo.show("staging", "apps/app1.yaml")
            .contains("app1:3.0.0")
    );
    assert!(
        repo.show("staging", "apps/app0.yaml")
            .contains("app0:1.0.0")
    );
    assert_ne!(writers.clone_dir(&main), writers.clone_dir(&staging));
}

#[tokio::test]
async fn an_update_already_applied_is_up_to_date() {
    let repo = Manifests::with_apps(1);
    let tip = repo.rev("main");
    let writers = Writers::new(repo.cache(), config());
    let update = update("team/app0", vec![set_tag(0, "1.0.0")], &["."]);
    let written = within(writers.write(direct(&repo.path_url(), "main"), update))
        .await
        .unwrap();
    assert_eq!(written.outcome, WriteOutcome::UpToDate);
    assert!(written.changes.is_empty());
    assert_eq!(repo.rev("main"), tip);
}

#[tokio::test]
async fn paths_outside_the_clone_are_refused() {
    let writers = Writers::new(std::env::temp_dir().join("never-used"), config());
    let mut destination = direct("https://git.example.invalid/manifests.git", "main");
    destination.remote.auth = Auth::Basic {
        username: "bot".into(),
        password: SecretString::from("s3cret-password".to_owned()),
    };
    for (path, says) in [
        ("../elsewhere", "'..'"),
        ("apps/../../elsewhere", "'..'"),
        ("/etc", "absolute"),
        (".git/hooks", ".git"),
    ] {
        let update = update("team/app0", vec![set_tag(0, "2.0.0")], &["apps", path]);
        let error = writers
            .write(destination.clone(), update)
            .await
            .unwrap_err();
        assert!(matches!(error, WriteError::InvalidPath { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains(path) && text.contains(says), "{text}");
    }
    let error = writers
        .preview(destination.clone(), update("x", vec![], &[]))
        .await
        .unwrap_err();
    assert!(matches!(error, WriteError::NoPaths { .. }), "{error:?}");
    assert!(!format!("{destination:?}").contains("s3cret-password"));
}

#[tokio::test]
async fn a_writer_that_went_idle_is_restarted_and_reuses_its_clone() {
    let repo = Manifests::with_apps(2);
    let config = WriterConfig {
        quiet_window: Duration::ZERO,
        idle_timeout: Duration::ZERO,
        ..config()
    };
    let writers = Writers::new(repo.cache(), config);
    let destination = direct(&repo.path_url(), "main");
    let first = update("a", vec![set_tag(0, "2.0.0")], &["."]);
    let written = within(writers.write(destination.clone(), first))
        .await
        .unwrap();
    commit_of(&written.outcome);
    within(async {
        // Polling interval, not synchronisation: the loop re-checks the condition.
        while writers.running() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let marker = writers.clone_dir(&destination).join(".git").join("kept");
    std::fs::write(&marker, "").unwrap();
    let second = update("b", vec![set_tag(1, "2.0.0")], &["."]);
    let written = within(writers.write(destination, second)).await.unwrap();
    assert_eq!(repo.rev("main"), commit_of(&written.outcome));
    assert!(marker.exists(), "the clone was reused, not made again");
    assert!(repo.show("main", "apps/app0.yaml").contains("app0:2.0.0"));
}
