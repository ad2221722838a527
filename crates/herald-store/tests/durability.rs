//! What survives closing and reopening the file, and what a damaged file reads as.

mod common;

use herald_api::RunPhase;
use herald_store::{RunFilter, RunOutcome, Store, StoreError};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use common::{new_run, open, trigger};

#[tokio::test]
async fn everything_survives_a_restart() {
    let t = open().await;
    let path = t.path();
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
    let outcome = RunOutcome {
        phase: RunPhase::Succeeded,
        reason: "ExitCode".into(),
        message: None,
        exit_code: Some(0),
        output: Some("done\n".into()),
    };
    t.store.finish_run(id, &outcome).await.expect("finish");
    let pending = t
        .store
        .create_run(&new_run("r2", "nightly", "bbb"))
        .await
        .expect("r2");
    let before = t.store.get_run(id).await.expect("get").expect("found");
    let listed = t
        .store
        .list_runs(&RunFilter::default())
        .await
        .expect("list");
    drop(t.store);

    let reopened = Store::open(&path).await.expect("reopen");
    assert_eq!(
        reopened.get_run(id).await.expect("get"),
        Some(before.clone())
    );
    assert_eq!(
        reopened
            .list_runs(&RunFilter::default())
            .await
            .expect("list"),
        listed
    );
    assert_eq!(
        reopened
            .runs_in_phases(&[RunPhase::Pending])
            .await
            .expect("pending"),
        [pending.record().clone()]
    );
    let seen = reopened
        .last_seen(&trigger("nightly"), "repo")
        .await
        .expect("seen");
    assert_eq!(seen.as_deref(), Some("bbb"));
    // Names stay unique across restarts.
    let again = reopened
        .create_run(&new_run("r1", "nightly", "ccc"))
        .await
        .expect("again");
    assert!(!again.is_new());
    reopened.close().await;

    // A third open after a clean close, migrations already applied.
    let third = Store::open(&path).await.expect("third open");
    assert_eq!(third.get_run(id).await.expect("get"), Some(before));
}

#[tokio::test]
async fn file_is_in_wal_mode() {
    let t = open().await;
    t.store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create");
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", t.path().display()))
        .await
        .expect("raw connect");
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("pragma");
    assert_eq!(mode.to_lowercase(), "wal");
}

#[tokio::test]
async fn unknown_stored_values_are_corrupt_not_panics() {
    let t = open().await;
    let id = t
        .store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create")
        .record()
        .id;
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", t.path().display()))
        .await
        .expect("raw connect");
    sqlx::query("UPDATE runs SET phase = 'Exploded' WHERE id = ?")
        .bind(id)
        .execute(&mut conn)
        .await
        .expect("damage");
    conn.close().await.expect("close");

    let err = t.store.get_run(id).await.expect_err("corrupt");
    assert!(
        matches!(&err, StoreError::Corrupt { what } if what.contains("Exploded")),
        "{err:?}"
    );
    assert_eq!(err.category(), "corrupt");
    let err = t
        .store
        .list_runs(&RunFilter::default())
        .await
        .expect_err("corrupt");
    assert_eq!(err.category(), "corrupt");
}

#[tokio::test]
async fn open_fails_with_the_path_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory where the file should be.
    let path = dir.path().join("db");
    std::fs::create_dir(&path).expect("mkdir");
    let err = Store::open(&path)
        .await
        .expect_err("cannot open a directory");
    assert_eq!(err.category(), "open");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}
