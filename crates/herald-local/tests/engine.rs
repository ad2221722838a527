//! The local engine against real Git repositories and a real SQLite file.
#![allow(clippy::unwrap_used)]

mod support;

use herald_api::{RunCause, RunPhase, TriggerKind};
use herald_local::{Engine, FireRequest, Firing, SourceOutcome};
use support::{Manifests, TestRepo, engine_at, schedule_setup};

struct Fixture {
    repo: TestRepo,
    _manifests: Manifests,
    state: tempfile::TempDir,
    engine: Engine,
}

async fn fixture(script: &str, on_change_only: bool) -> Fixture {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write(
        "all.yaml",
        &schedule_setup(&repo.url(), script, on_change_only, "1h"),
    );
    let state = tempfile::tempdir().unwrap();
    let engine = engine_at(&manifests, state.path()).await;
    Fixture {
        repo,
        _manifests: manifests,
        state,
        engine,
    }
}

fn tick(at: &str) -> FireRequest {
    FireRequest {
        kind: TriggerKind::ScheduleTrigger,
        namespace: "default".into(),
        name: "every".into(),
        source: None,
        firing: Firing::Tick(at.into()),
        pushes: None,
        listing_max_age: std::time::Duration::ZERO,
    }
}

fn created(outcomes: Vec<SourceOutcome>) -> herald_store::RunRecord {
    match outcomes.as_slice() {
        [SourceOutcome::Created(run)] => run.clone(),
        other => panic!("expected one created run, got {other:?}"),
    }
}

#[tokio::test]
async fn a_run_checks_out_the_revision_and_records_its_output() {
    let f = fixture(
        r#"echo "rev=$HERALD_REVISION ref=$HERALD_REF cause=$HERALD_CAUSE"; cat README.md; pwd"#,
        true,
    )
    .await;
    let run = created(f.engine.fire(&tick("t1")).await.unwrap());
    assert_eq!(run.phase, RunPhase::Pending);
    assert_eq!(run.cause, RunCause::Change);
    assert_eq!(run.revision, f.repo.head());
    let done = f.engine.execute(run).await.unwrap();
    assert_eq!(done.phase, RunPhase::Succeeded, "{:?}", done.message);
    assert_eq!(done.exit_code, Some(0));
    let detail = f.engine.store().get_run(done.id).await.unwrap().unwrap();
    let output = detail.output.unwrap();
    assert!(
        output.contains(&format!(
            "rev={} ref=refs/heads/main cause=Change",
            f.repo.head()
        )),
        "{output}"
    );
    assert!(
        output.contains("hello"),
        "the checkout has the file: {output}"
    );
    assert!(
        output.contains(&f.state.path().join("work").display().to_string()),
        "runs in a temp checkout: {output}"
    );
    let phases = |step: Option<&str>| -> Vec<RunPhase> {
        (detail.history.iter())
            .filter(|t| t.step.as_deref() == step)
            .map(|t| t.phase)
            .collect()
    };
    assert_eq!(
        phases(None),
        [RunPhase::Pending, RunPhase::Running, RunPhase::Succeeded]
    );
    // An actionJob is one step, `main`, with its own transitions.
    assert_eq!(
        phases(Some("main")),
        [RunPhase::Running, RunPhase::Succeeded]
    );
    assert_eq!(detail.steps.len(), 1);
    assert_eq!(detail.steps[0].exit_code, Some(0));
    let leftovers = std::fs::read_dir(f.state.path().join("work"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "the checkout is removed after the run");
}

#[tokio::test]
async fn on_change_only_runs_once_per_revision_and_again_after_a_commit() {
    let f = fixture("true", true).await;
    let first = created(f.engine.fire(&tick("t1")).await.unwrap());
    let again = f.engine.fire(&tick("t2")).await.unwrap();
    assert!(
        matches!(again.as_slice(), [SourceOutcome::Skipped { .. }]),
        "{again:?}"
    );
    let next = f.repo.commit_file("b.txt", "b", "second");
    let second = created(f.engine.fire(&tick("t3")).await.unwrap());
    assert_eq!(second.revision, next);
    assert_ne!(first.name, second.name);
}

#[tokio::test]
async fn last_seen_survives_a_restart() {
    let f = fixture("true", true).await;
    created(f.engine.fire(&tick("t1")).await.unwrap());
    drop(f.engine);
    let manifests = Manifests::new();
    manifests.write(
        "all.yaml",
        &schedule_setup(&f.repo.url(), "true", true, "1h"),
    );
    let restarted = engine_at(&manifests, f.state.path()).await;
    let again = restarted.fire(&tick("t2")).await.unwrap();
    assert!(
        matches!(again.as_slice(), [SourceOutcome::Skipped { .. }]),
        "nothing runs twice: {again:?}"
    );
    f.repo.commit_file("c.txt", "c", "while stopped");
    created(restarted.fire(&tick("t3")).await.unwrap());
}

#[tokio::test]
async fn without_on_change_only_every_tick_runs() {
    let f = fixture("true", false).await;
    let a = created(f.engine.fire(&tick("t1")).await.unwrap());
    let b = created(f.engine.fire(&tick("t2")).await.unwrap());
    assert_eq!(a.cause, RunCause::Schedule);
    assert_ne!(a.name, b.name);
    let same = f.engine.fire(&tick("t2")).await.unwrap();
    assert!(
        matches!(same.as_slice(), [SourceOutcome::Existing(_)]),
        "the same tick is one run: {same:?}"
    );
}

#[tokio::test]
async fn a_failing_action_fails_the_run_with_its_exit_code_and_output() {
    let f = fixture("echo about to fail >&2; exit 3", true).await;
    let run = created(f.engine.fire(&tick("t1")).await.unwrap());
    let done = f.engine.execute(run).await.unwrap();
    assert_eq!(done.phase, RunPhase::Failed);
    assert_eq!(done.exit_code, Some(3));
    let detail = f.engine.store().get_run(done.id).await.unwrap().unwrap();
    assert!(
        detail.output.unwrap().contains("about to fail"),
        "stderr is captured"
    );
}

#[tokio::test]
async fn the_deadline_stops_the_action_and_its_children() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    let yaml = schedule_setup(&repo.url(), "echo started; sleep 30 & sleep 30", true, "1h")
        .replace("activeDeadlineSeconds: 20", "activeDeadlineSeconds: 1");
    manifests.write("all.yaml", &yaml);
    let state = tempfile::tempdir().unwrap();
    let engine = engine_at(&manifests, state.path()).await;
    let run = created(engine.fire(&tick("t1")).await.unwrap());
    let done = engine.execute(run).await.unwrap();
    assert_eq!(done.phase, RunPhase::Failed);
    let detail = engine.store().get_run(done.id).await.unwrap().unwrap();
    assert_eq!(detail.history.last().unwrap().reason, "DeadlineExceeded");
    assert!(detail.output.unwrap().contains("started"));
}

#[tokio::test]
async fn an_unreachable_source_fails_that_source_only() {
    let f = fixture("true", true).await;
    std::fs::remove_dir_all(f.repo.path().join(".git")).unwrap();
    let outcomes = f.engine.fire(&tick("t1")).await.unwrap();
    match outcomes.as_slice() {
        [SourceOutcome::Failed { source, error }] => {
            assert_eq!(source, "repo");
            assert!(
                error.starts_with("GitRepo repo: ") && error.contains("listing refs"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn recovery_fails_interrupted_runs_and_resumes_pending_ones() {
    let f = fixture("echo resumed", true).await;
    let interrupted = created(f.engine.fire(&tick("t1")).await.unwrap());
    f.engine
        .store()
        .transition(interrupted.id, RunPhase::Running, "Started", None)
        .await
        .unwrap();
    f.repo.commit_file("d.txt", "d", "another");
    let pending = created(f.engine.fire(&tick("t2")).await.unwrap());
    assert_eq!(f.engine.recover().await.unwrap(), 1);
    let store = f.engine.store().clone();
    let failed = store.get_run(interrupted.id).await.unwrap().unwrap();
    assert_eq!(failed.run.phase, RunPhase::Failed);
    assert_eq!(failed.history.last().unwrap().reason, "Interrupted");
    support::wait_for(
        "the pending run to finish",
        std::time::Duration::from_secs(20),
        || {
            let store = store.clone();
            async move {
                let run = store.get_run(pending.id).await.unwrap().unwrap().run;
                (run.phase == RunPhase::Succeeded).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn manual_firing_always_runs_and_does_not_hide_a_change() {
    let f = fixture("true", true).await;
    let manual = FireRequest {
        firing: Firing::Manual("m1".into()),
        ..tick("")
    };
    let run = created(f.engine.fire(&manual).await.unwrap());
    assert_eq!(run.cause, RunCause::Manual);
    created(
        f.engine
            .fire(&FireRequest {
                firing: Firing::Manual("m2".into()),
                ..tick("")
            })
            .await
            .unwrap(),
    );
    // The schedule still sees the revision as new: a hand firing is not a change.
    created(f.engine.fire(&tick("t1")).await.unwrap());
}
