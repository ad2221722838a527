//! The batch writer on hand-made batches, so that what shares a transaction is certain (the
//! integration tests in `tests/group_commit.rs` drive it through concurrent callers). Each test
//! runs on SQLite and, when its binaries are there, on a real PostgreSQL.

use sqlx::Executor;
use tempfile::TempDir;

use super::*;
use crate::event_rows;
use crate::events::{EventKind, NewEvent};
use crate::sqlite_writer::SqliteWriter;
use crate::{Backend, Store};

/// A fresh SQLite store in `dir`.
async fn sqlite_store(dir: &TempDir) -> Store {
    Store::open(&dir.path().join("herald.db"))
        .await
        .expect("open sqlite")
}

/// A fresh store per backend; the temp dir keeps the SQLite file alive.
async fn stores() -> (TempDir, Vec<Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut stores = vec![sqlite_store(&dir).await];
    if let Some(cluster) = herald_testkit::postgres::postgres() {
        let url = cluster.fresh_database().await;
        stores.push(Store::connect(&url).await.expect("connect postgres"));
    }
    (dir, stores)
}

fn hook(delivery: Option<&str>, reason: &str) -> EventRow {
    EventRow::new(&NewEvent {
        delivery_id: delivery.map(str::to_owned),
        reason: Some(reason.to_owned()),
        ..NewEvent::new(EventKind::HookDelivery)
    })
}

/// Writes `jobs` as one batch with `store`'s kind of writer.
async fn commit_on(store: &Store, jobs: Vec<Job>) {
    match &store.writer.target {
        Target::Sqlite { path, gate } => commit_sqlite(path.clone(), gate, jobs).await,
        Target::Postgres(pool) => commit(pool, jobs, &Observer::default()).await,
    }
}

/// Writes `jobs` as one batch with a SQLite writer of the file at `path` (off the runtime, as
/// the writer blocks).
async fn commit_sqlite(path: PathBuf, gate: &WriteGate, jobs: Vec<Job>) {
    let mut writer = SqliteWriter::new(path, Arc::clone(gate), Observer::default());
    tokio::task::spawn_blocking(move || writer.commit(jobs))
        .await
        .expect("writer");
}

/// An error of a statement (or of its connection), whichever the backend.
fn is_statement_error(err: &StoreError) -> bool {
    matches!(err, StoreError::Query { .. } | StoreError::Sqlite { .. })
}

type Answer = oneshot::Receiver<Result<Vec<EventRecorded>, StoreError>>;

/// One job per element of `calls`, and where each answer arrives.
fn batch(calls: Vec<Vec<EventRow>>) -> (Vec<Job>, Vec<Answer>) {
    calls
        .into_iter()
        .map(|rows| {
            let (reply, answer) = oneshot::channel();
            (Job { rows, reply }, answer)
        })
        .unzip()
}

async fn answers(answers: Vec<Answer>) -> Vec<Result<Vec<EventRecorded>, StoreError>> {
    let mut out = Vec::new();
    for a in answers {
        out.push(a.await.expect("every caller is answered"));
    }
    out
}

/// Makes the database itself refuse any event whose reason is `poison`.
async fn refuse_poison(store: &Store) {
    let statements: &[&str] = match store.backend() {
        Backend::Sqlite => &["CREATE TRIGGER poison BEFORE INSERT ON events \
              WHEN NEW.reason = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned event'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poisoned event'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW \
             EXECUTE FUNCTION poison()",
        ],
    };
    for sql in statements {
        store.pool.execute(*sql).await.expect("install trigger");
    }
}

async fn count(store: &Store) -> i64 {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&store.pool)
        .await
        .expect("count");
    crate::rows::get(&row, "n").expect("n")
}

#[tokio::test]
async fn duplicates_within_one_transaction_answer_the_first_id() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let (jobs, rx) = batch(vec![
            vec![hook(Some("d-1"), "a")],
            vec![hook(Some("d-1"), "again"), hook(None, "b")],
            vec![hook(Some("d-1"), "third")],
        ]);
        commit_on(&store, jobs).await;
        let got: Vec<Vec<EventRecorded>> = answers(rx)
            .await
            .into_iter()
            .map(|a| a.expect("recorded"))
            .collect();
        let first = got[0][0];
        assert!(!first.duplicate, "{:?}", store.backend());
        assert_eq!(
            got[1][0],
            EventRecorded {
                id: first.id,
                duplicate: true
            }
        );
        assert!(!got[1][1].duplicate && got[1][1].id > first.id);
        assert_eq!(got[2][0], got[1][0]);
        assert_eq!(count(&store).await, 2);
    }
}

#[tokio::test]
async fn a_refused_event_fails_only_its_caller() {
    let (_dir, stores) = stores().await;
    for store in stores {
        refuse_poison(&store).await;
        let (jobs, rx) = batch(vec![
            vec![hook(Some("d-1"), "ok")],
            vec![hook(None, "poison")],
            // A call's events stand or fall together.
            vec![hook(Some("d-2"), "ok"), hook(None, "poison")],
            vec![hook(Some("d-1"), "redelivered")],
            vec![hook(None, "ok")],
        ]);
        commit_on(&store, jobs).await;
        let got = answers(rx).await;
        let first = got[0].as_ref().expect("first call")[0];
        assert!(!first.duplicate);
        for refused in [&got[1], &got[2]] {
            let err = refused.as_ref().expect_err("refused");
            assert!(is_statement_error(err), "{err}");
            let cause = std::error::Error::source(err).map(ToString::to_string);
            assert!(
                cause
                    .as_deref()
                    .unwrap_or_default()
                    .contains("poisoned event"),
                "{cause:?}"
            );
        }
        let redelivered = got[3].as_ref().expect("redelivery")[0];
        assert_eq!(
            redelivered,
            EventRecorded {
                id: first.id,
                duplicate: true
            }
        );
        assert!(!got[4].as_ref().expect("last call")[0].duplicate);
        assert_eq!(count(&store).await, 2, "{:?}", store.backend());
    }
}

#[tokio::test]
async fn a_failed_connection_fails_every_caller() {
    let (dir, stores) = stores().await;
    for store in stores {
        let (jobs, rx) = batch(vec![vec![hook(None, "a")], vec![hook(None, "b")]]);
        match &store.writer.target {
            // A file that cannot be opened: the writer never creates one.
            Target::Sqlite { gate, .. } => {
                let path = dir.path().join("missing/herald.db");
                commit_sqlite(path, gate, jobs).await;
            }
            Target::Postgres(pool) => {
                pool.close().await;
                commit(pool, jobs, &Observer::default()).await;
            }
        }
        for answer in answers(rx).await {
            let err = answer.expect_err("no connection");
            assert!(
                matches!(&err, StoreError::BatchFailed { events: 2, source }
                    if is_statement_error(source)),
                "{err:?}"
            );
        }
    }
}

/// Another writer (another replica) is storing a delivery id when the batch inserts it: the
/// insert waits for that writer, and once it has committed the row is answered as a duplicate
/// of its event, not refused.
#[tokio::test]
async fn a_delivery_stored_meanwhile_elsewhere_is_a_duplicate() {
    let Some(cluster) = herald_testkit::postgres::postgres() else {
        return;
    };
    let store = Store::connect(&cluster.fresh_database().await)
        .await
        .expect("connect");
    let mut other = store.pool.begin().await.expect("other transaction");
    let theirs = event_rows::insert(&mut other, &hook(Some("race"), "theirs"), "test")
        .await
        .expect("insert")
        .expect("new");
    let (jobs, rx) = batch(vec![
        vec![hook(Some("race"), "ours")],
        vec![hook(None, "other")],
    ]);
    let pool = store.pool.clone();
    let writer = tokio::spawn(async move { commit(&pool, jobs, &Observer::default()).await });
    // The batch's insert waits on the uncommitted row's unique key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND datname = current_database()",
        )
        .fetch_one(&store.pool)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the batch never waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    other.commit().await.expect("commit theirs");
    writer.await.expect("writer");
    let got = answers(rx).await;
    assert_eq!(
        got[0].as_ref().expect("ours")[..],
        [EventRecorded {
            id: theirs,
            duplicate: true
        }]
    );
    assert!(!got[1].as_ref().expect("other")[0].duplicate);
    assert_eq!(count(&store).await, 2);
}

/// SQLite's event writer takes its turn with the store's other writers: while another holds
/// the turn, no batch is written (and so none holds SQLite's lock for long before a run can
/// be created); once it is released, the batch is.
#[tokio::test]
async fn the_sqlite_writer_waits_for_its_turn() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let turn = store.write_turn().await.expect("SQLite has a gate");
    let event = NewEvent {
        delivery_id: Some("turn-1".into()),
        ..NewEvent::new(EventKind::HookDelivery)
    };
    let record = tokio::spawn({
        let store = store.clone();
        async move { store.record_event(&event).await }
    });
    let waited = tokio::time::timeout(std::time::Duration::from_millis(200), async {
        while count(&store).await == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        waited.is_err(),
        "an event was written while the turn was held"
    );
    drop(turn);
    let recorded = record.await.expect("task").expect("recorded");
    assert!(!recorded.duplicate);
    assert_eq!(count(&store).await, 1);
}

/// An insert that stores nothing without a stored delivery to point at (a trigger that
/// ignores the row) is an error for its caller, never a made-up id.
#[tokio::test]
async fn an_event_silently_not_inserted_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let ignore = "CREATE TRIGGER ignore BEFORE INSERT ON events \
                  WHEN NEW.reason = 'ignored' BEGIN SELECT RAISE(IGNORE); END";
    store.pool.execute(ignore).await.expect("install trigger");
    let (jobs, rx) = batch(vec![vec![hook(None, "ok")], vec![hook(None, "ignored")]]);
    commit_on(&store, jobs).await;
    let got = answers(rx).await;
    assert!(!got[0].as_ref().expect("first call")[0].duplicate);
    let err = got[1].as_ref().expect_err("nothing stored");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(count(&store).await, 1);
}

/// A stored delivery the insert was refused for, deleted before it could be looked up (here
/// by a trigger after the insert; in life by pruning, from another connection): the event is
/// inserted again, and is new.
#[tokio::test]
async fn a_delivery_deleted_after_refusing_the_insert_is_inserted_again() {
    let Some(cluster) = herald_testkit::postgres::postgres() else {
        return;
    };
    let store = Store::connect(&cluster.fresh_database().await)
        .await
        .expect("connect");
    let (jobs, rx) = batch(vec![vec![hook(Some("gone"), "theirs")]]);
    commit_on(&store, jobs).await;
    let theirs = answers(rx).await.remove(0).expect("theirs")[0];
    for sql in [
        "CREATE FUNCTION vanish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         DELETE FROM events WHERE reason = 'theirs'; RETURN NULL; END $$",
        "CREATE TRIGGER vanish AFTER INSERT ON events FOR EACH STATEMENT \
         EXECUTE FUNCTION vanish()",
    ] {
        store.pool.execute(sql).await.expect("install trigger");
    }
    let (jobs, rx) = batch(vec![
        vec![hook(Some("gone"), "ours")],
        vec![hook(Some("gone"), "ours again")],
    ]);
    commit_on(&store, jobs).await;
    let got: Vec<EventRecorded> = answers(rx)
        .await
        .into_iter()
        .map(|a| a.expect("recorded")[0])
        .collect();
    assert!(!got[0].duplicate && got[0].id != theirs.id, "{got:?}");
    assert_eq!(
        got[1],
        EventRecorded {
            id: got[0].id,
            duplicate: true
        }
    );
    assert_eq!(count(&store).await, 1);
}

/// What an observer saw: (events, seconds) per transaction.
#[derive(Debug, Default)]
struct Seen(std::sync::Mutex<Vec<(usize, f64)>>);

impl WriteObserver for Seen {
    fn batch_written(&self, events: usize, seconds: f64) {
        self.0.lock().expect("lock").push((events, seconds));
    }
}

#[tokio::test]
async fn an_observer_is_told_each_transaction_and_its_events() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let seen = Arc::new(Seen::default());
        store.observe_writes(seen.clone());
        let events: Vec<NewEvent> = (0..3)
            .map(|i| NewEvent {
                reason: Some(format!("r{i}")),
                ..NewEvent::new(EventKind::RevisionDetected)
            })
            .collect();
        store.record_events(&events).await.expect("recorded");
        store.record_event(&events[0]).await.expect("recorded");
        let seen = seen.0.lock().expect("lock").clone();
        let total: usize = seen.iter().map(|(events, _)| events).sum();
        assert_eq!(total, 4, "{:?}: {seen:?}", store.backend());
        assert!(
            seen.iter()
                .all(|(events, seconds)| *events > 0 && *seconds >= 0.0)
        );
    }
}
