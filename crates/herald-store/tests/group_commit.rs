//! Group commit seen from callers: concurrent `record_event` calls share transactions, yet
//! each gets its own answer. Every test runs on SQLite and on a real PostgreSQL.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

mod common;

use herald_store::{EventKind, EventRecorded, NewEvent, Store, StoreError};
use sqlx::{Connection, Executor};

/// Generates `sqlite::NAME` and `postgres::NAME` tests running `suite::NAME` on a fresh store.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
                    let store = Store::connect(&url).await.expect("open");
                    super::suite::$name(store, &url).await;
                }
            )*
            use herald_store::Store;
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(cluster) = herald_testkit::postgres::postgres() else { return };
                    let url = cluster.fresh_database().await;
                    let store = Store::connect(&url).await.expect("connect");
                    super::suite::$name(store, &url).await;
                }
            )*
            use herald_store::Store;
        }
    };
}

on_both_backends!(
    concurrent_callers_get_their_own_ids,
    duplicate_deliveries_are_stored_once,
    a_refused_event_fails_only_its_caller,
    close_commits_what_is_queued,
    events_and_runs_are_written_at_once,
);

fn hook(delivery: Option<String>, reason: &str) -> NewEvent {
    NewEvent {
        delivery_id: delivery,
        reason: Some(reason.to_owned()),
        source: Some("repo".into()),
        ..NewEvent::new(EventKind::HookDelivery)
    }
}

/// Runs raw SQL on the database behind `url`, beside the store.
async fn execute(url: &str, statements: &[&str]) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    for sql in statements {
        conn.execute(*sql).await.expect("execute");
    }
    conn.close().await.expect("close");
}

/// Makes the database itself refuse any event whose reason is `poison`.
async fn refuse_poison(url: &str) {
    if url.starts_with("sqlite:") {
        execute(
            url,
            &[
                "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.reason = 'poison' \
               BEGIN SELECT RAISE(ABORT, 'poisoned event'); END",
            ],
        )
        .await;
    } else {
        execute(
            url,
            &[
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poisoned event'; END IF; \
                 RETURN NEW; END $$",
                "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW \
                 EXECUTE FUNCTION poison()",
            ],
        )
        .await;
    }
}

/// Records `events` from one task each, all at once; answers in the order of `events`.
async fn record_concurrently(
    store: &Store,
    events: Vec<NewEvent>,
) -> Vec<Result<EventRecorded, StoreError>> {
    let tasks: Vec<_> = events
        .into_iter()
        .map(|event| {
            let store = store.clone();
            tokio::spawn(async move { store.record_event(&event).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("join"));
    }
    answers
}

mod suite {
    use super::*;

    pub async fn concurrent_callers_get_their_own_ids(store: Store, _url: &str) {
        let n = 500;
        let events = (0..n)
            .map(|i| hook(Some(format!("d-{i}")), "push"))
            .collect();
        let answers = record_concurrently(&store, events).await;
        let stored = common::delivery_ids(&store).await;
        assert_eq!(stored.len(), n);
        let mut ids = HashSet::new();
        for (i, answer) in answers.into_iter().enumerate() {
            let recorded = answer.expect("recorded");
            assert!(!recorded.duplicate);
            assert!(ids.insert(recorded.id), "id {} answered twice", recorded.id);
            // The id answered is the row holding this caller's event.
            assert_eq!(stored[&recorded.id], Some(format!("d-{i}")));
        }
        // A batch call answers in order, with increasing ids.
        let many: Vec<_> = (0..50)
            .map(|i| hook(Some(format!("m-{i}")), "push"))
            .collect();
        let recorded = store.record_events(&many).await.expect("batch");
        assert_eq!(recorded.len(), 50);
        assert!(recorded.windows(2).all(|w| w[0].id < w[1].id));
        let stored = common::delivery_ids(&store).await;
        for (i, r) in recorded.iter().enumerate() {
            assert_eq!(stored[&r.id], Some(format!("m-{i}")));
        }
        assert!(store.record_events(&[]).await.expect("empty").is_empty());
    }

    pub async fn duplicate_deliveries_are_stored_once(store: Store, _url: &str) {
        // Within one call (one transaction)...
        let recorded = store
            .record_events(&[
                hook(Some("d-1".into()), "push"),
                hook(None, "push"),
                hook(Some("d-1".into()), "push"),
            ])
            .await
            .expect("batch");
        assert!(!recorded[0].duplicate && !recorded[1].duplicate);
        assert_eq!(
            recorded[2],
            EventRecorded {
                id: recorded[0].id,
                duplicate: true
            }
        );
        // ...across calls...
        let again = store
            .record_event(&hook(Some("d-1".into()), "push"))
            .await
            .expect("again");
        assert_eq!(again, recorded[2]);
        // ...and among concurrent callers, likely in one batch: one is new, all get its id.
        let answers = record_concurrently(
            &store,
            (0..64).map(|_| hook(Some("d-2".into()), "push")).collect(),
        )
        .await;
        let answers: Vec<_> = answers.into_iter().map(|a| a.expect("recorded")).collect();
        assert_eq!(answers.iter().filter(|a| !a.duplicate).count(), 1);
        assert!(answers.iter().all(|a| a.id == answers[0].id));
        assert_eq!(common::delivery_ids(&store).await.len(), 3);
    }

    pub async fn a_refused_event_fails_only_its_caller(store: Store, url: &str) {
        refuse_poison(url).await;
        let events = (0..300)
            .map(|i| match i % 30 {
                7 => hook(None, "poison"),
                _ => hook(Some(format!("d-{i}")), "push"),
            })
            .collect();
        let answers = record_concurrently(&store, events).await;
        let mut good = 0;
        for (i, answer) in answers.into_iter().enumerate() {
            if i % 30 == 7 {
                let err = answer.expect_err("poison is refused");
                let cause = std::error::Error::source(&err).map(ToString::to_string);
                assert!(
                    cause
                        .as_deref()
                        .unwrap_or_default()
                        .contains("poisoned event"),
                    "{err}: {cause:?}"
                );
            } else {
                answer.expect("a good event is recorded");
                good += 1;
            }
        }
        assert_eq!(common::delivery_ids(&store).await.len(), good);
        // A call's events are written together: all, or none.
        let err = store
            .record_events(&[hook(Some("x-1".into()), "push"), hook(None, "poison")])
            .await
            .expect_err("refused");
        assert!(
            matches!(err, StoreError::Query { .. } | StoreError::Sqlite { .. }),
            "{err}"
        );
        assert!(
            !common::delivery_ids(&store)
                .await
                .values()
                .any(|d| d.as_deref() == Some("x-1"))
        );
    }

    pub async fn events_and_runs_are_written_at_once(store: Store, _url: &str) {
        // Runs are written in their own transactions, beside the event writer's.
        let runs: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let run = common::new_run(&format!("r{i}"), "nightly", &format!("{i:040x}"));
                    store.create_run(&run).await
                })
            })
            .collect();
        let events = (0..400)
            .map(|i| hook(Some(format!("d-{i}")), "push"))
            .collect();
        for answer in record_concurrently(&store, events).await {
            answer.expect("an event is recorded beside runs");
        }
        for run in runs {
            run.await
                .expect("join")
                .expect("a run is created beside events");
        }
    }

    pub async fn close_commits_what_is_queued(store: Store, url: &str) {
        let events: Vec<_> = (0..200)
            .map(|i| hook(Some(format!("d-{i}")), "push"))
            .collect();
        type Call<'a> = Pin<Box<dyn Future<Output = Result<EventRecorded, StoreError>> + 'a>>;
        let mut calls: Vec<Call<'_>> = events
            .iter()
            .map(|e| Box::pin(store.record_event(e)) as Call<'_>)
            .collect();
        // One poll queues each call's event (the queue has room) without waiting for it;
        // unconstrained, or tokio's cooperative budget would hold back the later sends.
        let early: Vec<Option<_>> = tokio::task::unconstrained(std::future::poll_fn(|_| {
            let mut cx = Context::from_waker(Waker::noop());
            Poll::Ready(
                calls
                    .iter_mut()
                    .map(|c| match c.as_mut().poll(&mut cx) {
                        Poll::Ready(answer) => Some(answer),
                        Poll::Pending => None,
                    })
                    .collect(),
            )
        }))
        .await;
        store.close().await;
        for (call, early) in calls.into_iter().zip(early) {
            let answer = match early {
                Some(answer) => answer,
                None => call.await,
            };
            assert!(!answer.expect("queued before close").duplicate);
        }
        let err = store
            .record_event(&hook(None, "late"))
            .await
            .expect_err("closed");
        assert!(matches!(err, StoreError::Closed), "{err}");
        let reopened = Store::connect(url).await.expect("reopen");
        assert_eq!(common::delivery_ids(&reopened).await.len(), 200);
        reopened.close().await;
    }
}

/// A store opened in one runtime keeps recording in another: the writer restarts there.
#[test]
fn a_store_outlives_the_runtime_that_opened_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("herald.db");
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let store = runtime().block_on(async {
        let store = Store::open(&path).await.expect("open");
        store
            .record_event(&hook(None, "first"))
            .await
            .expect("first");
        store
    });
    let second = runtime().block_on(async {
        store
            .record_event(&hook(None, "second"))
            .await
            .expect("second")
    });
    assert!(!second.duplicate);
}
