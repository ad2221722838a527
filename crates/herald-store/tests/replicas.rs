//! Two Herald replicas sharing one PostgreSQL store: each has its own `Store` (its own pool and
//! group-commit writer), and the same delivery reaching both at once is stored once and
//! answered as a duplicate everywhere else, never as an error.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use herald_store::{EventKind, EventRecorded, NewEvent, Store, StoreError};
use tokio::sync::Barrier;

/// Delivery ids raced per round.
const DELIVERIES: usize = 50;
/// Tasks per replica; each records every delivery id of the round. Few, so that batches stay
/// small and both writers keep inserting the same new ids at the same time, rather than one
/// large first batch storing them all.
const TASKS: usize = 4;
const ROUNDS: usize = 3;

fn hook(delivery: &str, replica: usize) -> NewEvent {
    NewEvent {
        delivery_id: Some(delivery.to_owned()),
        reason: Some(format!("replica-{replica}")),
        ..NewEvent::new(EventKind::HookDelivery)
    }
}

type Answers = HashMap<String, Vec<Result<EventRecorded, StoreError>>>;

/// Every task records every delivery id through its replica's store, one after the other,
/// each task starting at its own offset: both replicas then keep writing batches that hold
/// ids new to the store, the same ones at about the same time. All tasks are released at
/// once by one barrier. Answers by delivery id.
async fn race(replicas: &[Store], deliveries: &[String]) -> Answers {
    let tasks = replicas.len() * TASKS;
    let start = Arc::new(Barrier::new(tasks));
    let mut handles = Vec::with_capacity(tasks);
    for (r, store) in replicas.iter().enumerate() {
        for t in 0..TASKS {
            let (store, start) = (store.clone(), Arc::clone(&start));
            let mut mine = deliveries.to_vec();
            mine.rotate_left(t * deliveries.len() / TASKS);
            handles.push(tokio::spawn(async move {
                start.wait().await;
                let mut answers = Vec::with_capacity(mine.len());
                for delivery in mine {
                    let answer = store.record_event(&hook(&delivery, r)).await;
                    answers.push((delivery, answer));
                }
                answers
            }));
        }
    }
    let mut answers = Answers::new();
    for handle in handles {
        for (delivery, answer) in handle.await.expect("join") {
            answers.entry(delivery).or_default().push(answer);
        }
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_answer_a_duplicate_as_a_duplicate() {
    let Some(cluster) = herald_testkit::postgres::postgres() else {
        return;
    };
    let url = cluster.fresh_database().await;
    let replicas = [
        Store::connect(&url).await.expect("connect replica 0"),
        Store::connect(&url).await.expect("connect replica 1"),
    ];
    for round in 0..ROUNDS {
        let deliveries: Vec<String> = (0..DELIVERIES)
            .map(|i| format!("round-{round}/d-{i}"))
            .collect();
        let answers = race(&replicas, &deliveries).await;
        let stored = common::delivery_ids(&replicas[0]).await;
        for delivery in &deliveries {
            let rows: Vec<i64> = stored
                .iter()
                .filter(|(_, d)| d.as_deref() == Some(delivery.as_str()))
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(rows.len(), 1, "round {round}: {delivery} stored {rows:?}");
            let answers: Vec<EventRecorded> = answers[delivery]
                .iter()
                .map(|a| match a {
                    Ok(recorded) => *recorded,
                    Err(e) => panic!("round {round}: {delivery}: {e}: {:?}", e),
                })
                .collect();
            assert_eq!(answers.len(), replicas.len() * TASKS);
            assert!(
                answers.iter().all(|a| a.id == rows[0]),
                "round {round}: {delivery}: {answers:?} should all name event {}",
                rows[0]
            );
            let new = answers.iter().filter(|a| !a.duplicate).count();
            assert_eq!(new, 1, "round {round}: {delivery}: {answers:?}");
        }
        assert_eq!(
            stored.len(),
            (round + 1) * DELIVERIES,
            "nothing else stored"
        );
    }
    for store in &replicas {
        store.close().await;
    }
}

/// Each replica records the same delivery ids in one call (one transaction), in opposite
/// orders: neither waits for the other in a cycle (a deadlock, which PostgreSQL would break by
/// failing one of them), and the ids of each call follow its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_of_the_same_deliveries_in_opposite_orders_both_succeed() {
    let Some(cluster) = herald_testkit::postgres::postgres() else {
        return;
    };
    let url = cluster.fresh_database().await;
    let replicas = [
        Store::connect(&url).await.expect("connect replica 0"),
        Store::connect(&url).await.expect("connect replica 1"),
    ];
    for round in 0..ROUNDS {
        let forward: Vec<NewEvent> = (0..DELIVERIES)
            .map(|i| hook(&format!("round-{round}/d-{i}"), 0))
            .collect();
        let backward: Vec<NewEvent> = forward.iter().rev().cloned().collect();
        let start = Arc::new(Barrier::new(2));
        let calls = [(0, forward), (1, backward)].map(|(r, events)| {
            let (store, start) = (replicas[r].clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                store.record_events(&events).await
            })
        });
        let mut answers = Vec::new();
        for call in calls {
            let recorded = call.await.expect("join").expect("recorded");
            let new: Vec<i64> = recorded
                .iter()
                .filter(|a| !a.duplicate)
                .map(|a| a.id)
                .collect();
            assert!(new.windows(2).all(|w| w[0] < w[1]), "{recorded:?}");
            answers.push(recorded);
        }
        let stored = common::delivery_ids(&replicas[1]).await;
        assert_eq!(stored.len(), (round + 1) * DELIVERIES);
        // The same delivery is one event to both calls, new to exactly one of them.
        for (a, b) in answers[0].iter().zip(answers[1].iter().rev()) {
            assert_eq!(a.id, b.id, "round {round}");
            assert!(a.duplicate != b.duplicate, "round {round}: {a:?} {b:?}");
        }
    }
}
