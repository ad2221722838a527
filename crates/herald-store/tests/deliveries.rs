//! `Store::delivery_event`, the lookup asked before firing a hook delivery: it finds every
//! delivery whose `record_event` was answered, and nothing else. Every test runs on SQLite and
//! on a real PostgreSQL.

use herald_store::{EventKind, NewEvent, Store};

/// Generates `sqlite::NAME` and `postgres::NAME` tests running `suite::NAME` on a fresh store.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = Store::open(&dir.path().join("herald.db")).await.expect("open");
                    super::suite::$name(store).await;
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
                    super::suite::$name(store).await;
                }
            )*
            use herald_store::Store;
        }
    };
}

on_both_backends!(
    a_recorded_delivery_is_found_once_answered,
    concurrent_callers_find_their_own_deliveries,
    lookups_fail_after_close,
);

fn hook(delivery: &str) -> NewEvent {
    NewEvent {
        delivery_id: Some(delivery.to_owned()),
        ..NewEvent::new(EventKind::HookDelivery)
    }
}

mod suite {
    use super::*;

    pub async fn a_recorded_delivery_is_found_once_answered(store: Store) {
        assert_eq!(store.delivery_event("d-1").await.expect("lookup"), None);
        // Lookups and records alternate: each lookup sees the record answered just before it.
        for i in 0..20 {
            let delivery = format!("d-{i}");
            let recorded = store.record_event(&hook(&delivery)).await.expect("record");
            let found = store.delivery_event(&delivery).await.expect("lookup");
            assert_eq!(found, Some(recorded.id), "{delivery}");
            let next = format!("d-{}", i + 1);
            assert_eq!(store.delivery_event(&next).await.expect("lookup"), None);
        }
        // A duplicate names the stored event; ids are matched exactly, not by prefix or case.
        let again = store.record_event(&hook("d-3")).await.expect("again");
        assert!(again.duplicate);
        assert_eq!(
            store.delivery_event("d-3").await.expect("lookup"),
            Some(again.id)
        );
        for unknown in ["d-", "D-3", "d-3 ", "", "unknown"] {
            assert_eq!(store.delivery_event(unknown).await.expect("lookup"), None);
        }
        // An event without a delivery id is not found under any.
        store
            .record_event(&NewEvent::new(EventKind::HookDelivery))
            .await
            .expect("record");
        assert_eq!(store.delivery_event("").await.expect("lookup"), None);
    }

    pub async fn concurrent_callers_find_their_own_deliveries(store: Store) {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let delivery = format!("c-{i}");
                    let recorded = store.record_event(&hook(&delivery)).await?;
                    let found = store.delivery_event(&delivery).await?;
                    Ok::<_, herald_store::StoreError>((recorded.id, found))
                })
            })
            .collect();
        for task in tasks {
            let (id, found) = task.await.expect("join").expect("record and look up");
            assert_eq!(found, Some(id));
        }
    }

    pub async fn lookups_fail_after_close(store: Store) {
        store.record_event(&hook("d-1")).await.expect("record");
        assert!(store.delivery_event("d-1").await.expect("lookup").is_some());
        store.close().await;
        assert!(store.delivery_event("d-1").await.is_err());
    }
}

/// SQLite keeps the ids it may hold in memory: reopened, the store still finds every one.
#[tokio::test]
async fn a_reopened_sqlite_store_still_finds_its_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = Store::open(&path).await.unwrap();
    let recorded = store.record_event(&hook("before-restart")).await.unwrap();
    store.close().await;
    let reopened = Store::open(&path).await.unwrap();
    assert_eq!(
        reopened.delivery_event("before-restart").await.unwrap(),
        Some(recorded.id)
    );
    assert_eq!(reopened.delivery_event("never-sent").await.unwrap(), None);
    let again = reopened.record_event(&hook("after-restart")).await.unwrap();
    assert_eq!(
        reopened.delivery_event("after-restart").await.unwrap(),
        Some(again.id)
    );
}
