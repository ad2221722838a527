//! Multi-step actions in local mode, with real processes, a real Git repository and a real
//! SQLite file: parallel branches, outputs passed on, a failure, `finally`, timeouts, retries,
//! refused outputs, a restart in the middle of a run, and `concurrency` between runs.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use herald_api::{RunPhase, reasons};
use herald_local::{Engine, FireRequest, Firing, SourceOutcome};
use herald_store::{EventKind, EventQuery, RunDetail, RunRecord, StepChange};
use support::{Manifests, TestRepo, engine_at, setup_with_action};

struct Fixture {
    repo: TestRepo,
    _manifests: Manifests,
    state: tempfile::TempDir,
    /// A folder outside every checkout that steps use to leave marks for the test.
    marks: PathBuf,
    engine: Engine,
}

/// The Action's spec, with `{marks}` replaced by the marks folder.
async fn fixture(action_spec: &str, extra: &str) -> Fixture {
    fixture_with(action_spec, extra, true).await
}

/// As [`fixture`]; without `onChangeOnly` every tick is its own run.
async fn fixture_with(action_spec: &str, extra: &str, on_change_only: bool) -> Fixture {
    let repo = TestRepo::new();
    let state = tempfile::tempdir().unwrap();
    let marks = state.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let action = action_spec.replace("{marks}", &marks.display().to_string());
    let manifests = Manifests::new();
    let yaml = setup_with_action(&repo.url(), &action, on_change_only, "1h");
    manifests.write("all.yaml", &format!("{yaml}---\n{extra}"));
    let engine = engine_at(&manifests, state.path()).await;
    Fixture {
        repo,
        _manifests: manifests,
        state,
        marks,
        engine,
    }
}

async fn fire(engine: &Engine) -> RunRecord {
    fire_at(engine, "t1").await
}

async fn fire_at(engine: &Engine, tick: &str) -> RunRecord {
    let request = FireRequest {
        kind: herald_api::TriggerKind::ScheduleTrigger,
        namespace: "default".into(),
        name: "every".into(),
        source: None,
        firing: Firing::Tick(tick.into()),
        pushes: None,
        listing_max_age: Duration::ZERO,
    };
    match engine.fire(&request).await.unwrap().as_slice() {
        [SourceOutcome::Created(run)] => run.clone(),
        other => panic!("expected one created run, got {other:?}"),
    }
}

async fn detail(engine: &Engine, run: &RunRecord) -> RunDetail {
    engine.store().get_run(run.id).await.unwrap().unwrap()
}

fn step<'a>(d: &'a RunDetail, name: &str) -> &'a herald_store::StepRecord {
    d.steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {:?}", d.steps))
}

/// `(step, attempt, from, to)` of every step transition, oldest first.
fn step_moves(d: &RunDetail) -> Vec<(String, u32, RunPhase, RunPhase)> {
    d.history
        .iter()
        .filter_map(|t| {
            Some((
                t.step.clone()?,
                t.attempt.unwrap_or_default(),
                t.from?,
                t.phase,
            ))
        })
        .collect()
}

/// build -> (test, lint) -> deploy, with `report` in finally. test and lint wait for each
/// other's mark, so they can only both succeed at meeting if they run at once; lint then fails.
const GRAPH: &str = r#"  steps:
  - name: build
    command: [sh, -c, 'echo "tag=v1-$HERALD_REVISION" >> "$HERALD_OUTPUT"; touch built; echo built']
    outputs: [tag]
  - name: test
    needs: [build]
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'touch "$MARKS/test"; for i in $(seq 100); do [ -e "$MARKS/lint" ] && break; sleep 0.1; done; [ -e "$MARKS/lint" ] || exit 9; [ ! -e built ] || exit 8; echo "got $HERALD_NEEDS_BUILD_TAG ($HERALD_NEEDS_BUILD_RESULT)"']
  - name: lint
    needs: [build]
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'touch "$MARKS/lint"; for i in $(seq 100); do [ -e "$MARKS/test" ] && break; sleep 0.1; done; echo "lint found problems"; exit 1']
  - name: deploy
    needs: [test, lint]
    command: [sh, -c, 'touch "$MARKS/deployed"']
  finally:
  - name: report
    needs: [lint]
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'echo "$HERALD_NEEDS_LINT_RESULT" > "$MARKS/report"']
"#;

#[tokio::test]
async fn a_graph_runs_branches_at_once_passes_outputs_and_runs_finally_after_a_failure() {
    let f = fixture(GRAPH, "").await;
    let run = fire(&f.engine).await;
    let done = f.engine.execute(run.clone()).await.unwrap();
    let d = detail(&f.engine, &run).await;
    assert_eq!(done.phase, RunPhase::Failed, "{:?}", d.steps);
    assert_eq!(
        done.message.as_deref(),
        Some("step lint failed: exited with code 1")
    );
    assert_eq!(done.exit_code, Some(1));
    assert!(d.output.as_deref().unwrap().contains("lint found problems"));

    let phases: Vec<(&str, RunPhase)> = d.steps.iter().map(|s| (&*s.name, s.phase)).collect();
    assert_eq!(
        phases,
        [
            ("build", RunPhase::Succeeded),
            ("test", RunPhase::Succeeded),
            ("lint", RunPhase::Failed),
            ("deploy", RunPhase::Skipped),
            ("report", RunPhase::Succeeded),
        ]
    );
    // Outputs: declared, stored, and passed to the step that needs build.
    let tag = format!("v1-{}", f.repo.head());
    assert_eq!(step(&d, "build").outputs["tag"], tag);
    let test_output = step(&d, "test").output.clone().unwrap();
    assert!(
        test_output.contains(&format!("got {tag} (success)")),
        "{test_output}"
    );
    // The skip names the step that caused it; finally saw lint's result.
    let deploy = step(&d, "deploy");
    assert_eq!(deploy.reason.as_deref(), Some(reasons::STEP_NEED_FAILED));
    assert_eq!(deploy.message.as_deref(), Some("skipped: lint failed"));
    assert!(!f.marks.join("deployed").exists());
    assert_eq!(
        std::fs::read_to_string(f.marks.join("report")).unwrap(),
        "failure\n"
    );
    // Every transition of every step, in the run's history and in the events.
    let moves = step_moves(&d);
    assert_eq!(moves.len(), 9, "{moves:?}");
    assert!(moves.contains(&("deploy".into(), 0, RunPhase::Pending, RunPhase::Skipped)));
    let events = f
        .engine
        .store()
        .query_events(&EventQuery {
            involved_name: Some(run.name.clone()),
            kind: Some(EventKind::RunTransition),
            limit: Some(100),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let step_events = (events.events.iter())
        .filter(|e| e.payload.as_ref().is_some_and(|p| p.get("step").is_some()))
        .count();
    assert_eq!(step_events, moves.len());
    let leftovers = std::fs::read_dir(f.state.path().join("work"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "the run's checkout and worktrees are removed");
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried_and_the_action_timeout_cancels_the_graph() {
    let spec = r#"  timeout: 3s
  steps:
  - name: flaky
    timeout: 1s
    retries: {limit: 1, backoff: 100ms}
    command: [sh, -c, 'if [ "$HERALD_STEP_ATTEMPT" = 1 ]; then sleep 30; fi; echo second']
  - name: stuck
    needs: [flaky]
    command: [sleep, "30"]
  - name: never
    needs: [stuck]
    command: ["true"]
  finally:
  - name: cleanup
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'touch "$MARKS/cleaned"']
"#;
    let f = fixture(spec, "").await;
    let run = fire(&f.engine).await;
    let done = f.engine.execute(run.clone()).await.unwrap();
    let d = detail(&f.engine, &run).await;
    assert_eq!(done.phase, RunPhase::Failed);
    assert_eq!(
        d.history.last().unwrap().reason,
        reasons::RUN_DEADLINE_EXCEEDED
    );
    let flaky = step(&d, "flaky");
    assert_eq!((flaky.phase, flaky.attempt), (RunPhase::Succeeded, 2));
    let moves = step_moves(&d);
    assert!(
        moves.contains(&("flaky".into(), 1, RunPhase::Running, RunPhase::TimedOut)),
        "{moves:?}"
    );
    assert!(moves.contains(&("flaky".into(), 2, RunPhase::TimedOut, RunPhase::Running)));
    for name in ["stuck", "never"] {
        let s = step(&d, name);
        assert_eq!(s.phase, RunPhase::Cancelled, "{name}");
        assert_eq!(s.reason.as_deref(), Some(reasons::STEP_ACTION_TIMED_OUT));
    }
    assert_eq!(step(&d, "cleanup").phase, RunPhase::Succeeded);
    assert!(f.marks.join("cleaned").exists());
}

#[tokio::test]
async fn bad_outputs_fail_the_step_with_a_reason_and_secrets_never_leave_it() {
    let spec = r#"  steps:
  - name: undeclared
    command: [sh, -c, 'echo "other=1" >> "$HERALD_OUTPUT"']
    outputs: [tag]
    continueOnError: true
  - name: leaky
    env:
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: token}}
    command: [sh, -c, 'echo "tag=$TOKEN" >> "$HERALD_OUTPUT"']
    outputs: [tag]
"#;
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: s3cr3t-value-42}\n";
    let f = fixture(spec, secret).await;
    let run = fire(&f.engine).await;
    let done = f.engine.execute(run.clone()).await.unwrap();
    let d = detail(&f.engine, &run).await;
    let undeclared = step(&d, "undeclared");
    assert_eq!(undeclared.phase, RunPhase::Failed);
    assert_eq!(
        undeclared.reason.as_deref(),
        Some(reasons::STEP_OUTPUT_UNDECLARED)
    );
    let leaky = step(&d, "leaky");
    assert_eq!(leaky.reason.as_deref(), Some(reasons::STEP_OUTPUT_SECRET));
    assert!(leaky.outputs.is_empty());
    // The run fails for leaky (undeclared continues on error).
    assert_eq!(done.phase, RunPhase::Failed);
    assert!(done.message.unwrap().starts_with("step leaky failed"));
    let stored = serde_json::to_string(&d).unwrap();
    assert!(!stored.contains("s3cr3t-value-42"), "{stored}");
}

#[tokio::test]
async fn a_step_running_at_a_restart_is_interrupted_and_tried_again_only_with_retries_left() {
    let spec = r#"  steps:
  - name: once
    command: ["true"]
  - name: again
    retries: {limit: 1, backoff: 100ms}
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'echo "$HERALD_STEP_ATTEMPT" > "$MARKS/again"']
  - name: after
    needs: [once, again]
    command: ["true"]
"#;
    let f = fixture(spec, "").await;
    let run = fire(&f.engine).await;
    // Herald stops with both first steps running: what the store holds is all that is left.
    let store = f.engine.store().clone();
    let run = store
        .transition(run.id, RunPhase::Running, "Started", None)
        .await
        .unwrap();
    for (position, name) in [(0, "once"), (1, "again")] {
        let change = StepChange {
            name,
            position,
            from: RunPhase::Pending,
            to: RunPhase::Running,
            attempt: 1,
            reason: "Started",
            message: None,
            exit_code: None,
            outputs: None,
            output: None,
        };
        store.record_step(&run, &change).await.unwrap();
    }
    assert_eq!(f.engine.recover().await.unwrap(), 1);
    let finished = support::wait_for("the resumed run to finish", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            let d = store.get_run(run.id).await.unwrap().unwrap();
            d.run.phase.is_terminal().then_some(d)
        }
    })
    .await;
    let once = step(&finished, "once");
    assert_eq!(
        (once.phase, once.attempt, once.reason.as_deref()),
        (RunPhase::Failed, 1, Some(reasons::RUN_INTERRUPTED))
    );
    let again = step(&finished, "again");
    assert_eq!((again.phase, again.attempt), (RunPhase::Succeeded, 2));
    // Attempt 2 ran as a new, recorded attempt; attempt 1 never ran again.
    assert_eq!(
        std::fs::read_to_string(f.marks.join("again")).unwrap(),
        "2\n"
    );
    assert_eq!(step(&finished, "after").phase, RunPhase::Skipped);
    assert_eq!(finished.run.phase, RunPhase::Failed);
    assert_eq!(
        finished.history.last().unwrap().reason,
        reasons::RUN_INTERRUPTED
    );
}

/// A step that marks it started, then waits (up to 20 s) for the test to release it.
const HELD: &str = r#"  concurrency: {max: 1, policy: POLICY}
  steps:
  - name: work
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'touch "$MARKS/started-$HERALD_RUN"; for i in $(seq 200); do [ -e "$MARKS/release" ] && exit 0; sleep 0.1; done; exit 1']
  finally:
  - name: cleanup
    env: [{name: MARKS, value: "{marks}"}]
    command: [sh, -c, 'touch "$MARKS/cleaned-$HERALD_RUN"']
"#;

async fn wait_phase(engine: &Engine, run: &RunRecord, phase: RunPhase) -> RunDetail {
    let store = engine.store().clone();
    let id = run.id;
    support::wait_for(
        &format!("run {id} {phase}"),
        Duration::from_secs(20),
        || {
            let store = store.clone();
            async move {
                let d = store.get_run(id).await.unwrap().unwrap();
                (d.run.phase == phase).then_some(d)
            }
        },
    )
    .await
}

async fn wait_mark(path: PathBuf) {
    support::wait_for(
        &format!("{}", path.display()),
        Duration::from_secs(20),
        || {
            let path = path.clone();
            async move { path.exists().then_some(()) }
        },
    )
    .await;
}

#[tokio::test]
async fn queued_runs_wait_their_turn_in_creation_order() {
    let f = fixture_with(&HELD.replace("POLICY", "Queue"), "", false).await;
    let first = fire_at(&f.engine, "t1").await;
    let second = fire_at(&f.engine, "t2").await;
    f.engine.spawn(first.clone());
    f.engine.spawn(second.clone());
    wait_mark(f.marks.join(format!("started-{}", first.name))).await;
    // The second waits, recorded as queued, and has not started.
    let queued = support::wait_for("the second run queued", Duration::from_secs(20), || {
        let store = f.engine.store().clone();
        let id = second.id;
        async move {
            let d = store.get_run(id).await.unwrap().unwrap();
            d.history
                .iter()
                .any(|t| t.reason == reasons::RUN_QUEUED)
                .then_some(d)
        }
    })
    .await;
    assert_eq!(queued.run.phase, RunPhase::Pending);
    assert!(!f.marks.join(format!("started-{}", second.name)).exists());
    std::fs::write(f.marks.join("release"), "").unwrap();
    let one = wait_phase(&f.engine, &first, RunPhase::Succeeded).await;
    let two = wait_phase(&f.engine, &second, RunPhase::Succeeded).await;
    assert!(two.run.started_at.unwrap() >= one.run.finished_at.unwrap());
}

#[tokio::test]
async fn forbid_skips_a_run_while_another_executes() {
    let f = fixture_with(&HELD.replace("POLICY", "Forbid"), "", false).await;
    let first = fire_at(&f.engine, "t1").await;
    f.engine.spawn(first.clone());
    wait_mark(f.marks.join(format!("started-{}", first.name))).await;
    let second = fire_at(&f.engine, "t2").await;
    let skipped = f.engine.execute(second.clone()).await.unwrap();
    assert_eq!(skipped.phase, RunPhase::Skipped);
    let d = detail(&f.engine, &second).await;
    assert_eq!(
        d.history.last().unwrap().reason,
        reasons::RUN_CONCURRENCY_LIMIT
    );
    assert!(d.steps.is_empty(), "nothing of it ran");
    std::fs::write(f.marks.join("release"), "").unwrap();
    wait_phase(&f.engine, &first, RunPhase::Succeeded).await;
}

#[tokio::test]
async fn replace_cancels_the_oldest_run_which_still_runs_its_finally() {
    let f = fixture_with(&HELD.replace("POLICY", "Replace"), "", false).await;
    let first = fire_at(&f.engine, "t1").await;
    f.engine.spawn(first.clone());
    wait_mark(f.marks.join(format!("started-{}", first.name))).await;
    let second = fire_at(&f.engine, "t2").await;
    f.engine.spawn(second.clone());
    let old = wait_phase(&f.engine, &first, RunPhase::Cancelled).await;
    assert_eq!(old.history.last().unwrap().reason, reasons::RUN_REPLACED);
    assert_eq!(step(&old, "work").phase, RunPhase::Cancelled);
    assert_eq!(
        step(&old, "work").reason.as_deref(),
        Some(reasons::STEP_RUN_CANCELLED)
    );
    assert_eq!(step(&old, "cleanup").phase, RunPhase::Succeeded);
    assert!(f.marks.join(format!("cleaned-{}", first.name)).exists());
    // The new run started once the old one had finished, and runs to its end.
    wait_mark(f.marks.join(format!("started-{}", second.name))).await;
    std::fs::write(f.marks.join("release"), "").unwrap();
    let new = wait_phase(&f.engine, &second, RunPhase::Succeeded).await;
    assert!(new.run.started_at.unwrap() >= old.run.finished_at.unwrap());
}
