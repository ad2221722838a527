//! Moving runs through their phases against a real SQLite file.

mod common;

use herald_api::RunPhase;
use herald_store::{CREATED_REASON, RunOutcome, StoreError};

use common::{new_run, open};

#[tokio::test]
async fn transitions_are_recorded_in_order() {
    let t = open().await;
    let id = t
        .store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create")
        .record()
        .id;

    let running = t
        .store
        .transition(id, RunPhase::Running, "Started", Some("pid 42"))
        .await
        .expect("start");
    assert_eq!(running.phase, RunPhase::Running);
    assert_eq!(running.message.as_deref(), Some("pid 42"));
    let started = running.started_at.expect("started_at set");
    assert_eq!(running.finished_at, None);

    // Entering Running again keeps the first start time.
    let again = t
        .store
        .transition(id, RunPhase::Running, "Retrying", None)
        .await
        .expect("again");
    assert_eq!(again.started_at, Some(started));
    assert_eq!(again.message, None);

    let done = t
        .store
        .transition(id, RunPhase::Succeeded, "Completed", Some("ok"))
        .await
        .expect("finish");
    let finished = done.finished_at.expect("finished_at set");
    assert!(finished >= started);
    assert_eq!(done.started_at, Some(started));

    let detail = t.store.get_run(id).await.expect("get").expect("found");
    assert_eq!(detail.run, done);
    let steps: Vec<_> = detail
        .history
        .iter()
        .map(|h| (h.phase, h.reason.as_str(), h.message.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            (RunPhase::Pending, CREATED_REASON, None),
            (RunPhase::Running, "Started", Some("pid 42")),
            (RunPhase::Running, "Retrying", None),
            (RunPhase::Succeeded, "Completed", Some("ok")),
        ]
    );
    assert!(detail.history.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(detail.history[1].at, started);
    assert_eq!(detail.history[3].at, finished);
}

#[tokio::test]
async fn terminal_phase_cannot_be_left() {
    let t = open().await;
    let id = t
        .store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create")
        .record()
        .id;
    let skipped = t
        .store
        .transition(id, RunPhase::Skipped, "NoChange", None)
        .await
        .expect("skip");
    assert!(skipped.finished_at.is_some());
    assert_eq!(skipped.started_at, None);

    for to in [
        RunPhase::Running,
        RunPhase::Pending,
        RunPhase::Failed,
        RunPhase::Skipped,
    ] {
        let err = t
            .store
            .transition(id, to, "Again", None)
            .await
            .expect_err("terminal");
        assert!(
            matches!(err, StoreError::InvalidTransition { id: i, from: RunPhase::Skipped, to: t2 } if i == id && t2 == to),
            "{err:?}"
        );
        assert_eq!(err.category(), "invalid_transition");
    }
    let detail = t.store.get_run(id).await.expect("get").expect("found");
    assert_eq!(detail.run, skipped);
    assert_eq!(detail.history.len(), 2);

    let missing = t
        .store
        .transition(id + 100, RunPhase::Running, "Started", None)
        .await
        .expect_err("missing");
    assert!(
        matches!(missing, StoreError::NotFound(i) if i == id + 100),
        "{missing:?}"
    );
    assert_eq!(missing.category(), "not_found");
}

#[tokio::test]
async fn finish_run_stores_exit_code_and_output() {
    let t = open().await;
    let id = t
        .store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create")
        .record()
        .id;
    t.store
        .transition(id, RunPhase::Running, "Started", None)
        .await
        .expect("start");

    let not_terminal = RunOutcome {
        phase: RunPhase::Running,
        reason: "Oops".into(),
        message: None,
        exit_code: Some(0),
        output: None,
    };
    let err = t
        .store
        .finish_run(id, &not_terminal)
        .await
        .expect_err("not terminal");
    assert!(
        matches!(
            err,
            StoreError::NotTerminal {
                phase: RunPhase::Running,
                ..
            }
        ),
        "{err:?}"
    );

    let outcome = RunOutcome {
        phase: RunPhase::Failed,
        reason: "ExitCode".into(),
        message: Some("exited with 3".into()),
        exit_code: Some(3),
        output: Some("line 1\nline 2\n".into()),
    };
    let done = t.store.finish_run(id, &outcome).await.expect("finish");
    assert_eq!(done.phase, RunPhase::Failed);
    assert_eq!(done.exit_code, Some(3));
    assert_eq!(done.message.as_deref(), Some("exited with 3"));
    assert!(done.finished_at.is_some());

    let detail = t
        .store
        .get_run_by_name("r1")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(detail.run, done);
    assert_eq!(detail.output.as_deref(), Some("line 1\nline 2\n"));
    let last = detail.history.last().expect("history");
    assert_eq!(
        (last.phase, last.reason.as_str()),
        (RunPhase::Failed, "ExitCode")
    );

    // A second finish is refused and changes nothing.
    let second = RunOutcome {
        phase: RunPhase::Succeeded,
        exit_code: Some(0),
        output: Some("other".into()),
        ..outcome
    };
    let err = t
        .store
        .finish_run(id, &second)
        .await
        .expect_err("already finished");
    assert!(
        matches!(
            err,
            StoreError::InvalidTransition {
                from: RunPhase::Failed,
                ..
            }
        ),
        "{err:?}"
    );
    let after = t.store.get_run(id).await.expect("get").expect("found");
    assert_eq!(after, detail);
}
