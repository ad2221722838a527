//! One behavioural suite, run against SQLite and against a real PostgreSQL.

mod common;

use std::time::Duration;

use herald_api::RunPhase;
use herald_store::{
    CREATED_REASON, Enqueue, EventKind, EventQuery, NewEvent, RunFilter, RunOutcome, Store,
    StoreError,
};
use jiff::Timestamp;

use common::{new_run, trigger};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const SHA2: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// Generates `sqlite::NAME` and `postgres::NAME` tests running `suite::NAME` on a fresh store.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
                    let store = herald_store::Store::connect(&url).await.expect("open");
                    assert_eq!(store.backend(), herald_store::Backend::Sqlite);
                    super::suite::$name(store, &url).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(cluster) = herald_testkit::postgres::postgres() else { return };
                    let url = cluster.fresh_database().await;
                    let store = herald_store::Store::connect(&url).await.expect("connect");
                    assert_eq!(store.backend(), herald_store::Backend::Postgres);
                    super::suite::$name(store, &url).await;
                }
            )*
        }
    };
}

on_both_backends!(
    runs_lifecycle,
    last_seen_and_idempotence,
    list_and_phases,
    transitions_append_events,
    events_filters,
    events_pagination,
    hook_deliveries_dedupe,
    retention,
    migrations_are_idempotent,
    steps_keep_every_attempt,
    notification_outbox,
    notification_cursor_is_taken_once,
);

fn event(kind: EventKind) -> NewEvent {
    NewEvent::new(kind)
}

fn flux(name: &str, revision: &str, reason: &str, severity: &str) -> NewEvent {
    NewEvent {
        namespace: Some("flux-system".into()),
        revision: Some(revision.into()),
        involved_kind: Some("Kustomization".into()),
        involved_namespace: Some("flux-system".into()),
        involved_name: Some(name.into()),
        reason: Some(reason.into()),
        severity: Some(severity.into()),
        message: Some(format!("{reason} {name}")),
        payload: Some(serde_json::json!({"reason": reason, "metadata": {"revision": revision}})),
        ..event(EventKind::FluxEvent)
    }
}

mod suite {
    use super::*;

    pub async fn runs_lifecycle(store: Store, _url: &str) {
        let run = store
            .create_run(&new_run("r1", "nightly", SHA))
            .await
            .expect("create")
            .into_record();
        assert_eq!(run.phase, RunPhase::Pending);
        let running = store
            .transition(run.id, RunPhase::Running, "Started", Some("go"))
            .await
            .expect("start");
        assert!(running.started_at.is_some());
        let done = store
            .finish_run(
                run.id,
                &RunOutcome {
                    phase: RunPhase::Failed,
                    reason: "ExitCode".into(),
                    message: Some("exit 3".into()),
                    exit_code: Some(3),
                    output: Some("boom\n".into()),
                },
            )
            .await
            .expect("finish");
        assert_eq!(done.exit_code, Some(3));
        assert!(done.finished_at.is_some());
        let err = store
            .transition(run.id, RunPhase::Running, "Again", None)
            .await
            .expect_err("terminal");
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
        let err = store
            .transition(9999, RunPhase::Running, "x", None)
            .await
            .expect_err("missing");
        assert!(matches!(err, StoreError::NotFound(9999)), "{err}");

        let detail = store.get_run(run.id).await.expect("get").expect("exists");
        let phases: Vec<_> = detail.history.iter().map(|t| t.phase).collect();
        assert_eq!(
            phases,
            [RunPhase::Pending, RunPhase::Running, RunPhase::Failed]
        );
        assert_eq!(detail.history[0].reason, CREATED_REASON);
        assert_eq!(detail.output.as_deref(), Some("boom\n"));
        let by_name = store
            .get_run_by_name("r1")
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(by_name, detail);
        assert!(store.get_run_by_name("nope").await.expect("get").is_none());
    }

    pub async fn last_seen_and_idempotence(store: Store, _url: &str) {
        let t = trigger("nightly");
        assert_eq!(store.last_seen(&t, "repo").await.expect("read"), None);
        let first = store
            .create_run(&new_run("a", "nightly", SHA))
            .await
            .expect("create");
        assert!(first.is_new());
        assert_eq!(
            store.last_seen(&t, "repo").await.expect("read").as_deref(),
            Some(SHA)
        );
        let again = store
            .create_run(&new_run("a", "nightly", SHA2))
            .await
            .expect("create again");
        assert!(!again.is_new());
        assert_eq!(again.record(), first.record());
        assert_eq!(
            store.last_seen(&t, "repo").await.expect("read").as_deref(),
            Some(SHA)
        );
        let mut manual = new_run("b", "nightly", SHA2);
        manual.record_last_seen = false;
        store.create_run(&manual).await.expect("manual");
        assert_eq!(
            store.last_seen(&t, "repo").await.expect("read").as_deref(),
            Some(SHA)
        );
        store
            .create_run(&new_run("c", "nightly", SHA2))
            .await
            .expect("create");
        assert_eq!(
            store.last_seen(&t, "repo").await.expect("read").as_deref(),
            Some(SHA2)
        );
        // Another run of a revision already seen detects nothing new.
        store
            .create_run(&new_run("d", "nightly", SHA2))
            .await
            .expect("create");
        let detected = EventQuery {
            kind: Some(EventKind::RevisionDetected),
            ..EventQuery::default()
        };
        let detected = store.query_events(&detected).await.expect("query").events;
        let revisions: Vec<_> = detected.iter().map(|e| e.revision.as_deref()).collect();
        assert_eq!(
            revisions,
            [Some(SHA2), Some(SHA)],
            "newest first, once each"
        );
        assert_eq!(detected[0].trigger.as_deref(), Some("nightly"));
        assert_eq!(detected[0].source.as_deref(), Some("repo"));
    }

    pub async fn list_and_phases(store: Store, _url: &str) {
        for i in 0..5 {
            let trig = if i % 2 == 0 { "even" } else { "odd" };
            store
                .create_run(&new_run(&format!("r{i}"), trig, SHA))
                .await
                .expect("create");
        }
        let all = store.list_runs(&RunFilter::default()).await.expect("list");
        let names: Vec<_> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r4", "r3", "r2", "r1", "r0"]);
        let odd = store
            .list_runs(&RunFilter {
                trigger: Some("odd".into()),
                namespace: Some("default".into()),
                phase: Some(RunPhase::Pending),
                limit: Some(1),
                ..RunFilter::default()
            })
            .await
            .expect("list");
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].name, "r3");
        let trigger = |name: &str| herald_store::TriggerKey {
            kind: herald_api::TriggerKind::ScheduleTrigger,
            namespace: "default".into(),
            name: name.into(),
        };
        let asked = [trigger("even"), trigger("odd"), trigger("none")];
        let latest = store.latest_runs_of(&asked).await.expect("latest");
        let names: Vec<_> = latest.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r4", "r3"], "each trigger's newest, newest first");
        store
            .transition(all[0].id, RunPhase::Running, "Started", None)
            .await
            .expect("start");
        let pending = store
            .runs_in_phases(&[RunPhase::Pending])
            .await
            .expect("phases");
        assert_eq!(pending.len(), 4);
        assert_eq!(pending[0].name, "r0", "oldest first");
        let both = store
            .runs_in_phases(&[RunPhase::Pending, RunPhase::Running])
            .await
            .expect("phases");
        assert_eq!(both.len(), 5);
        assert!(store.runs_in_phases(&[]).await.expect("none").is_empty());
    }

    pub async fn steps_keep_every_attempt(store: Store, _url: &str) {
        use herald_store::StepChange;
        let run = store
            .create_run(&new_run("r1", "nightly", SHA))
            .await
            .expect("create")
            .into_record();
        let run = store
            .transition(run.id, RunPhase::Running, "Started", None)
            .await
            .expect("start");
        let change = |name, position, from, to, attempt, reason| StepChange {
            name,
            position,
            from,
            to,
            attempt,
            reason,
            message: None,
            exit_code: None,
            outputs: None,
            output: None,
        };
        use RunPhase::{Failed, Pending, Running, Skipped, Succeeded};
        let mut outputs = herald_api::StepOutputs::new();
        outputs.insert("tag".into(), "v1".into());
        let moves = [
            change("build", 0, Pending, Running, 1, "Started"),
            StepChange {
                exit_code: Some(2),
                output: Some("flaky\n"),
                ..change("build", 0, Running, Failed, 1, "Error")
            },
            change("build", 0, Failed, Running, 2, "Retrying"),
            // Declared after build, recorded before it finishes: kept in the action's order.
            change("docs", 1, Pending, Skipped, 0, "NeedFailed"),
            StepChange {
                exit_code: Some(0),
                outputs: Some(&outputs),
                ..change("build", 0, Running, Succeeded, 2, "Completed")
            },
        ];
        for m in &moves {
            store.record_step(&run, m).await.expect("record");
        }
        let detail = store.get_run(run.id).await.expect("get").expect("exists");
        let steps: Vec<_> = detail
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.phase, s.attempt, s.exit_code))
            .collect();
        assert_eq!(
            steps,
            [("build", Succeeded, 2, Some(0)), ("docs", Skipped, 0, None)]
        );
        let build = &detail.steps[0];
        assert_eq!((build.position, detail.steps[1].position), (0, 1));
        assert_eq!(build.outputs, outputs);
        // The second attempt's own record: the first one's output is not carried over.
        assert_eq!(build.output, None);
        assert!(build.started_at.is_some() && build.finished_at.is_some());
        let history: Vec<_> = detail
            .history
            .iter()
            .filter(|t| t.step.is_some())
            .filter_map(|t| Some((t.step.as_deref()?, t.attempt, t.from, t.phase)))
            .collect();
        assert_eq!(
            history,
            [
                ("build", Some(1), Some(Pending), Running),
                ("build", Some(1), Some(Running), Failed),
                ("build", Some(2), Some(Failed), Running),
                ("docs", Some(0), Some(Pending), Skipped),
                ("build", Some(2), Some(Running), Succeeded),
            ]
        );
        // Each move is an event about the run, found after the run is gone.
        let events = store
            .query_events(&EventQuery {
                involved_name: Some("r1".into()),
                kind: Some(EventKind::RunTransition),
                limit: Some(100),
                ..EventQuery::default()
            })
            .await
            .expect("events");
        let step_events = events
            .events
            .iter()
            .filter(|e| e.payload.as_ref().is_some_and(|p| p.get("step").is_some()))
            .count();
        assert_eq!(step_events, moves.len());
        // A finished run takes no more step moves, and a missing one none at all.
        store
            .finish_run(
                run.id,
                &RunOutcome {
                    phase: Succeeded,
                    reason: "Completed".into(),
                    message: None,
                    exit_code: None,
                    output: None,
                },
            )
            .await
            .expect("finish");
        let err = store
            .record_step(&run, &change("late", 2, Pending, Running, 1, "Started"))
            .await
            .expect_err("finished");
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
        let missing = herald_store::RunRecord { id: 9999, ..run };
        let err = store
            .record_step(&missing, &change("x", 0, Pending, Running, 1, "Started"))
            .await
            .expect_err("missing");
        assert!(matches!(err, StoreError::NotFound(9999)), "{err}");
    }

    pub async fn transitions_append_events(store: Store, _url: &str) {
        let run = store
            .create_run(&new_run("r1", "nightly", &format!("main@sha1:{SHA}")))
            .await
            .expect("create")
            .into_record();
        store
            .transition(run.id, RunPhase::Running, "Started", None)
            .await
            .expect("start");
        // A refused transition records nothing.
        store
            .finish_run(
                run.id,
                &RunOutcome {
                    phase: RunPhase::Succeeded,
                    reason: "ExitCode".into(),
                    message: None,
                    exit_code: Some(0),
                    output: None,
                },
            )
            .await
            .expect("finish");
        let _ = store
            .transition(run.id, RunPhase::Running, "Again", None)
            .await
            .expect_err("terminal");
        // Creating the same run again records nothing either.
        store
            .create_run(&new_run("r1", "nightly", SHA))
            .await
            .expect("again");
        let page = store
            .query_events(&EventQuery {
                kind: Some(EventKind::RunTransition),
                revision: Some(SHA.into()),
                ..EventQuery::default()
            })
            .await
            .expect("query");
        let reasons: Vec<_> = page
            .events
            .iter()
            .map(|e| e.reason.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(reasons, ["ExitCode", "Started", CREATED_REASON]);
        let last = &page.events[0];
        assert_eq!(last.involved_kind.as_deref(), Some("Run"));
        assert_eq!(last.involved_name.as_deref(), Some("r1"));
        assert_eq!(last.trigger.as_deref(), Some("nightly"));
        assert_eq!(last.source.as_deref(), Some("repo"));
        assert_eq!(last.revision.as_deref(), Some(SHA));
        let payload = last.payload.as_ref().expect("payload");
        assert_eq!(payload["phase"], "Succeeded");
        assert_eq!(payload["exitCode"], 0);
        assert_eq!(payload["runId"], run.id);
    }

    pub async fn events_filters(store: Store, _url: &str) {
        store
            .record_event(&flux(
                "apps",
                &format!("main@sha1:{SHA}"),
                "ReconciliationSucceeded",
                "info",
            ))
            .await
            .expect("record");
        store
            .record_event(&flux(
                "infra",
                &format!("main/{}", SHA.to_uppercase()),
                "BuildFailed",
                "error",
            ))
            .await
            .expect("record");
        store
            .record_event(&flux("apps", SHA2, "ReconciliationSucceeded", "info"))
            .await
            .expect("record");
        store
            .record_event(&NewEvent {
                source: Some("repo".into()),
                trigger: Some("push".into()),
                revision: Some("v1.2.3".into()),
                ..event(EventKind::RevisionDetected)
            })
            .await
            .expect("record");

        let count = |q: EventQuery| {
            let store = store.clone();
            async move { store.query_events(&q).await.expect("query").events.len() }
        };
        assert_eq!(count(EventQuery::default()).await, 4);
        // Every form of a revision finds the same events.
        for form in [
            SHA.to_owned(),
            format!("main@sha1:{SHA}"),
            format!("x/{SHA}"),
        ] {
            assert_eq!(
                count(EventQuery {
                    revision: Some(form),
                    ..Default::default()
                })
                .await,
                2
            );
        }
        assert_eq!(
            count(EventQuery {
                revision: Some("v1.2.3".into()),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            count(EventQuery {
                source: Some("repo".into()),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            count(EventQuery {
                trigger: Some("push".into()),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            count(EventQuery {
                involved_kind: Some("Kustomization".into()),
                involved_namespace: Some("flux-system".into()),
                involved_name: Some("apps".into()),
                ..Default::default()
            })
            .await,
            2
        );
        assert_eq!(
            count(EventQuery {
                severity: Some("error".into()),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            count(EventQuery {
                reason: Some("BuildFailed".into()),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            count(EventQuery {
                kind: Some(EventKind::FluxEvent),
                ..Default::default()
            })
            .await,
            3
        );

        let failed = store
            .query_events(&EventQuery {
                severity: Some("error".into()),
                ..Default::default()
            })
            .await
            .expect("query");
        let e = &failed.events[0];
        assert_eq!(e.revision.as_deref(), Some(SHA), "stored normalised");
        assert_eq!(e.kind, EventKind::FluxEvent);
        assert_eq!(
            e.payload.as_ref().expect("payload")["reason"],
            "BuildFailed"
        );

        // Time window.
        let old = Timestamp::from_second(1_000_000).expect("ts");
        store
            .record_event(&NewEvent {
                at: Some(old),
                ..event(EventKind::HookDelivery)
            })
            .await
            .expect("record");
        let window = EventQuery {
            since: Some(Timestamp::from_second(999_999).expect("ts")),
            until: Some(Timestamp::from_second(1_000_001).expect("ts")),
            ..Default::default()
        };
        let found = store.query_events(&window).await.expect("query");
        assert_eq!(found.events.len(), 1);
        assert_eq!(found.events[0].at, old);
        assert_eq!(
            count(EventQuery {
                since: Some(Timestamp::from_second(1_000_001).expect("ts")),
                ..Default::default()
            })
            .await,
            4
        );
    }

    pub async fn events_pagination(store: Store, _url: &str) {
        let mut ids = Vec::new();
        for i in 0..7 {
            let r = store
                .record_event(&NewEvent {
                    message: Some(format!("e{i}")),
                    ..event(EventKind::HookDelivery)
                })
                .await
                .expect("record");
            ids.push(r.id);
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store
                .query_events(&EventQuery {
                    cursor,
                    limit: Some(3),
                    ..Default::default()
                })
                .await
                .expect("page");
            pages += 1;
            seen.extend(page.events.iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        ids.reverse();
        assert_eq!(seen, ids, "newest first, each once");
        // An exact multiple of the limit has no dangling next page.
        let page = store
            .query_events(&EventQuery {
                limit: Some(7),
                ..Default::default()
            })
            .await
            .expect("page");
        assert_eq!(page.events.len(), 7);
        assert_eq!(page.next_cursor, None);
    }

    pub async fn hook_deliveries_dedupe(store: Store, _url: &str) {
        let hook = NewEvent {
            delivery_id: Some("d-1".into()),
            source: Some("repo".into()),
            payload: Some(serde_json::json!({"ref": "refs/heads/main"})),
            ..event(EventKind::HookDelivery)
        };
        let first = store.record_event(&hook).await.expect("first");
        assert!(!first.duplicate);
        let second = store.record_event(&hook).await.expect("second");
        assert!(second.duplicate);
        assert_eq!(second.id, first.id);
        // Events without a delivery id never collide.
        let a = store
            .record_event(&event(EventKind::HookDelivery))
            .await
            .expect("a");
        let b = store
            .record_event(&event(EventKind::HookDelivery))
            .await
            .expect("b");
        assert!(!a.duplicate && !b.duplicate && a.id != b.id);
        // Concurrent duplicates: exactly one is stored.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_event(&NewEvent {
                            delivery_id: Some("d-2".into()),
                            ..event(EventKind::HookDelivery)
                        })
                        .await
                        .expect("record")
                })
            })
            .collect();
        let mut fresh = 0;
        for t in tasks {
            if !t.await.expect("join").duplicate {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 1);
        let all = store
            .query_events(&EventQuery::default())
            .await
            .expect("all");
        assert_eq!(all.events.len(), 4);
    }

    pub async fn retention(store: Store, _url: &str) {
        let old = Timestamp::now() - jiff::SignedDuration::from_hours(48);
        for _ in 0..3 {
            store
                .record_event(&NewEvent {
                    at: Some(old),
                    ..event(EventKind::FluxEvent)
                })
                .await
                .expect("old");
        }
        let mut newest = 0;
        for _ in 0..5 {
            newest = store
                .record_event(&event(EventKind::FluxEvent))
                .await
                .expect("new")
                .id;
        }
        assert_eq!(store.prune_events(None, None).await.expect("noop"), 0);
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(store.prune_events(Some(day), None).await.expect("age"), 3);
        assert_eq!(
            store
                .prune_events(Some(day), None)
                .await
                .expect("age again"),
            0
        );
        assert_eq!(
            store
                .prune_events(None, Some(10))
                .await
                .expect("under count"),
            0
        );
        assert_eq!(store.prune_events(None, Some(2)).await.expect("count"), 3);
        let left = store
            .query_events(&EventQuery::default())
            .await
            .expect("left");
        assert_eq!(left.events.len(), 2);
        assert_eq!(left.events[0].id, newest);
        assert_eq!(store.prune_events(None, Some(0)).await.expect("all"), 2);
        assert!(
            store
                .query_events(&EventQuery::default())
                .await
                .expect("none")
                .events
                .is_empty()
        );
    }

    pub async fn migrations_are_idempotent(store: Store, url: &str) {
        store
            .create_run(&new_run("r1", "nightly", SHA))
            .await
            .expect("create");
        // Reconnecting runs the migrator again over an up-to-date schema.
        let again = Store::connect(url).await.expect("reconnect");
        assert_eq!(again.backend(), store.backend());
        let runs = again.list_runs(&RunFilter::default()).await.expect("list");
        assert_eq!(runs.len(), 1);
    }

    fn enqueue(fold_key: &str, window: Duration, event_id: i64) -> Enqueue {
        Enqueue {
            notifier: "team/chat".into(),
            fold_key: fold_key.into(),
            window,
            event_id,
            notice: serde_json::json!({"event": "run.failed", "id": event_id}),
        }
    }

    pub async fn notification_outbox(store: Store, _url: &str) {
        let first = store
            .record_event(&event(EventKind::RunTransition))
            .await
            .expect("event");
        // The cursor starts where the schema was created (a new store: before any event), so
        // an event recorded before any notifier looked is still a candidate.
        let cursor = store.notification_cursor().await.expect("cursor");
        assert_eq!(cursor, first.id - 1);
        assert_eq!(store.notification_cursor().await.expect("again"), cursor);

        let t0 = Timestamp::from_second(1_700_000_000).expect("t0");
        let ten_minutes = Duration::from_secs(600);
        let at = |s: i64| {
            t0.checked_add(jiff::SignedDuration::from_secs(s))
                .expect("time")
        };
        // Five identical failures in a window: the first is due at once, the other four fold
        // into one summary due when the window ends, counting all five.
        let items: Vec<_> = (1..=5)
            .map(|i| enqueue("run.failed/t/a", ten_minutes, i))
            .collect();
        store
            .enqueue_notifications(cursor, cursor + 5, &items[..1], t0)
            .await
            .expect("first");
        store
            .enqueue_notifications(cursor + 5, cursor + 6, &items[1..], at(60))
            .await
            .expect("rest");
        let due = store.due_notifications(at(61), 10).await.expect("due");
        assert_eq!(due.len(), 1, "{due:?}");
        assert!(!due[0].summary);
        assert_eq!((due[0].occurrences, due[0].event_id), (1, 1));
        store.notification_sent(due[0].id).await.expect("sent");
        assert!(
            store
                .due_notifications(at(599), 10)
                .await
                .expect("none")
                .is_empty()
        );
        assert_eq!(
            store.next_notification_due().await.expect("next"),
            Some(at(600))
        );
        let summary = store.due_notifications(at(600), 10).await.expect("summary");
        assert_eq!(summary.len(), 1, "{summary:?}");
        assert!(summary[0].summary);
        assert_eq!((summary[0].occurrences, summary[0].event_id), (5, 5));
        assert_eq!(summary[0].notice["id"], 5, "the latest notice is kept");

        // A retry moves it; giving up ends it.
        store
            .notification_retry(summary[0].id, at(700), "503")
            .await
            .expect("retry");
        assert!(
            store
                .due_notifications(at(699), 10)
                .await
                .expect("later")
                .is_empty()
        );
        let retried = store.due_notifications(at(700), 10).await.expect("retried");
        assert_eq!(retried[0].attempts, 1);
        store
            .notification_failed(retried[0].id, "503 again")
            .await
            .expect("failed");
        assert_eq!(store.next_notification_due().await.expect("none"), None);

        // After the window a new one is sent at once again; a notifier without a window
        // sends every one (its fold keys are unique).
        store
            .enqueue_notifications(
                cursor + 6,
                cursor + 7,
                &[
                    enqueue("run.failed/t/a", ten_minutes, 6),
                    enqueue("status/7", Duration::ZERO, 7),
                    enqueue("status/8", Duration::ZERO, 8),
                ],
                at(601),
            )
            .await
            .expect("later");
        let due = store.due_notifications(at(601), 10).await.expect("due");
        let ids: Vec<_> = due.iter().map(|d| (d.event_id, d.summary)).collect();
        assert_eq!(ids, [(6, false), (7, false), (8, false)]);
        for d in &due {
            store.notification_sent(d.id).await.expect("sent");
        }
        // Pruning keeps rows whose window is open: they decide what folds.
        let pruned = store
            .prune_notifications(
                Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_secs(1))
                    .expect("soon"),
            )
            .await
            .expect("prune");
        assert_eq!(pruned, 5);
    }

    pub async fn notification_cursor_is_taken_once(store: Store, _url: &str) {
        let cursor = store.notification_cursor().await.expect("cursor");
        let item = enqueue("k", Duration::ZERO, 1);
        store
            .enqueue_notifications(
                cursor,
                cursor + 1,
                std::slice::from_ref(&item),
                Timestamp::now(),
            )
            .await
            .expect("first");
        // A second process that read the cursor before the move is refused, and stores nothing.
        let error = store
            .enqueue_notifications(
                cursor,
                cursor + 1,
                &[enqueue("k2", Duration::ZERO, 2)],
                Timestamp::now(),
            )
            .await
            .expect_err("moved");
        assert!(matches!(error, StoreError::CursorMoved { .. }), "{error:?}");
        assert_eq!(
            store.notification_cursor().await.expect("cursor"),
            cursor + 1
        );
        let due = store
            .due_notifications(Timestamp::now(), 10)
            .await
            .expect("due");
        assert_eq!(due.len(), 1);
        let events = store.events_after(0, 10).await.expect("events");
        assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    }
}
